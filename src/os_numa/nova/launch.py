"""``os-numa-nova SERVICE [options]``: run a Nova service with os-numa installed.

``SERVICE`` is ``compute``, ``scheduler`` or ``conductor``; the options are the service's
own (``--config-file /etc/nova/nova.conf`` ...). The service module is imported first (it
sets up Nova's concurrency mode), then :func:`os_numa.nova.install` replaces Nova's NUMA
functions, then Nova's ``main()`` runs. For the API, whose ``numa_get_constraints`` checks
flavors and images on create, resize and rebuild, serve :mod:`os_numa.nova.wsgi` instead of
``nova.wsgi.osapi_compute``.
"""

from __future__ import annotations

import importlib
import sys

from os_numa import nova

SERVICES = ("compute", "scheduler", "conductor")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SERVICES:
        print(f"usage: os-numa-nova {{{','.join(SERVICES)}}} [nova options]", file=sys.stderr)
        return 2
    # Nova (the extra os-numa[nova]): the service module is named on the command line.
    service = importlib.import_module(f"nova.cmd.{argv[0]}")
    nova.install()
    sys.argv = [f"nova-{argv[0]}", *argv[1:]]
    return service.main() or 0
