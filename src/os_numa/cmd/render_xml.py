"""``os-numa place --format xml``: the names and comments around the domain.

The domain itself is :func:`os_numa.virt.libvirt.driver.build_guest`'s, the
library's one domain builder: the NUMA elements (``<vcpu cpuset>``,
``<cputune>``, ``<numatune>``, ``<cpu><numa>``, ``<memoryBacking>``) in the
smallest ``<domain>`` libvirt accepts, so the output parses as one document,
validates against libvirt's domain schema, and can be defined as is; a driver
merges the NUMA elements into its own domain. This module gives it a valid
``<name>`` (:func:`domain_name`) and writes what does not fit as a comment.
"""

from __future__ import annotations

import re

#: Domain name used when the flavor has none.
DEFAULT_NAME = "os-numa-guest"

# What XML 1.0 cannot hold at all (most C0 controls, surrogates, U+FFFE/U+FFFF),
# plus the C1 controls and DEL, which it can but a terminal would obey.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# libvirt's domain.rng allows any name without a newline; the QEMU driver
# also refuses '/', which it uses in file names.
_NOT_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff/]")


def _escaped(match: re.Match) -> str:
    return f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100 else "\\ufffd"


def comment(text: str) -> str:
    """``<!-- text -->``, well formed whatever ``text`` holds.

    XML forbids ``--`` inside a comment and ``-`` at its end, and most control
    characters anywhere: every ``-`` followed by another gets a space after it
    (``a---b`` -> ``a- - -b``), and control characters are written as escapes.
    """
    body = re.sub("-(?=-)", "- ", _NOT_XML.sub(_escaped, text))
    # The blank or newline before "-->" keeps a trailing "-" from touching it;
    # a comment of several lines ends on a line of its own.
    return f"<!-- {body}\n-->" if "\n" in body else f"<!-- {body} -->"


def domain_name(name: str | None) -> str:
    """The ``<name>`` for a flavor name: valid for libvirt's schema and drivers.

    Newlines, control characters and ``/`` become ``_``; no name, or one that
    is only blanks, gives :data:`DEFAULT_NAME`.
    """
    if not name or not name.strip():
        return DEFAULT_NAME
    return _NOT_IN_NAME.sub("_", name)
