"""os-numa inside a real Nova (Nova 34): ``pip install os-numa[nova]``.

* :mod:`os_numa.nova.primitives`: Nova's stored NUMA objects <-> os-numa's, without Nova.
* :mod:`os_numa.nova.objects`: the same for live Nova objects (imports Nova).
* :mod:`os_numa.nova.hardware`: Nova's ``nova.virt.hardware`` NUMA functions, by os-numa.
* :mod:`os_numa.nova.filters`: ``NUMATopologyFilter`` for Nova's scheduler.
* :func:`install` / :func:`uninstall`: put os-numa's functions in Nova's place and back.

Nothing else in os-numa imports Nova; this package imports it only in the modules that
need it, so ``os_numa.nova.primitives`` works where Nova is not installed. See
doc/source/nova.rst.
"""

from __future__ import annotations


def install() -> list[str]:
    """Make Nova use os-numa for constraints, fitting and usage; see :mod:`os_numa.nova.patch`."""
    return _patch().install()


def uninstall() -> None:
    """Restore Nova's own functions."""
    _patch().uninstall()


def _patch():
    # Nova (the extra os-numa[nova]): os_numa.nova.patch imports it, and this package
    # must import without it (os_numa.nova.primitives needs no Nova).
    from os_numa.nova import patch

    return patch


__all__ = ["install", "uninstall"]
