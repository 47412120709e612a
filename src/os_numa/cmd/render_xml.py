"""``os-numa place --format xml``: the placement as a minimal libvirt domain.

The NUMA elements (``<vcpu cpuset>``, ``<cputune>``, ``<numatune>``,
``<cpu><numa>``, ``<memoryBacking>``) sit in the smallest ``<domain>`` libvirt
accepts, so the output parses as one document, validates against libvirt's
domain schema, and can be defined as is; a driver merges the NUMA elements
into its own domain.
"""

from __future__ import annotations

import re
from typing import Any

from os_numa.objects.flavor import Flavor
from os_numa.virt.libvirt import config
from os_numa.virt.libvirt.guest_pci import get_guest_pci_config

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


def build_domain(
    flavor: Flavor,
    numa_config: Any,
    memory_backing: Any,
    placement: Any = None,
    cpu_topology: Any = None,
) -> config.LibvirtConfigGuest:
    """A :class:`LibvirtConfigGuest` carrying the guest NUMA configuration.

    PCI devices the placement holds become ``<hostdev>`` elements behind a
    ``pcie-expander-bus`` per guest cell (see :mod:`os_numa.virt.libvirt.guest_pci`),
    which needs the q35 machine type.
    """
    devices = list(getattr(placement, "pci_devices", None) or [])
    pci = get_guest_pci_config(devices, guest_cells=len(placement.cells)) if devices else None
    cputune = numa_config.cputune
    iothreads = len(cputune.iothreadpin) if cputune is not None else 0
    cpu = None
    sizes = {}
    if cpu_topology is not None:
        sizes = {n: getattr(cpu_topology, n) for n in ("sockets", "cores", "threads")}
    if numa_config.numaconfig is not None or sizes:
        cpu = config.LibvirtConfigGuestCPU(numa=numa_config.numaconfig, **sizes)
    has_backing = memory_backing is not None and (
        memory_backing.hugepages or memory_backing.locked or not memory_backing.sharedpages
    )
    return config.LibvirtConfigGuest(
        name=domain_name(flavor.name),
        memory=flavor.memory_mb * 1024,
        vcpus=flavor.vcpus,
        cpuset=numa_config.cpuset,
        iothreads=iothreads,
        membacking=memory_backing if has_backing else None,
        cputune=cputune,
        numatune=numa_config.numatune,
        cpu=cpu,
        os_machine="q35" if pci is not None else None,
        devices=pci.devices if pci is not None else [],
    )


def domain_xml(
    flavor: Flavor,
    numa_config: Any,
    memory_backing: Any,
    placement: Any = None,
    cpu_topology: Any = None,
) -> str:
    """The domain document as pretty-printed text (``cpu_topology``: a VirtCPUTopology
    for ``<cpu><topology>``, or None)."""
    return build_domain(flavor, numa_config, memory_backing, placement, cpu_topology).to_xml()
