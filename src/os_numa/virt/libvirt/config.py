"""libvirt XML elements as plain data classes, one class per element.

Each class holds the data of one element, with Nova's attribute names, and no
policy: :func:`os_numa.virt.libvirt.driver` decides *what* to pin, these
classes only say *how* it is written. Every class

- renders with :meth:`~LibvirtConfigObject.format_dom` (an lxml element) and
  :meth:`~LibvirtConfigObject.to_xml` (pretty, deterministic text);
- parses with the class methods :meth:`~LibvirtConfigObject.parse_dom` and
  :meth:`~LibvirtConfigObject.parse_str` into an object equal (``==``) to the
  one that was rendered;
- keeps attributes and child elements it does not know (``extra_attrs``,
  ``extra_children``) and writes them back where they were, so a document
  read from libvirt survives a round trip through these classes.

This module is the one to import; the classes live in
:mod:`~os_numa.virt.libvirt.config_base` (the declarative machinery: each
class declares its attributes and child elements in a ``layout``, and the
base writes and reads them), :mod:`~os_numa.virt.libvirt.config_guest` (the
guest's elements and the ``<domain>``) and
:mod:`~os_numa.virt.libvirt.config_caps` (the host capabilities).

CPU sets are Python sets of ints, written with
:func:`os_numa.cpuset.format_cpu_spec` (``"0-3,8"``) and read with
:func:`os_numa.cpuset.parse_cpu_spec`. Memory sizes are KiB, as in libvirt;
sizes written with another ``unit`` are converted to KiB when parsed.
"""

from __future__ import annotations

from os_numa.virt.libvirt.config_base import MAX_INT_DIGITS, MAX_MEMORY_KIB, LibvirtConfigObject
from os_numa.virt.libvirt.config_caps import (
    LibvirtConfigCaps,
    LibvirtConfigCapsHost,
    LibvirtConfigCapsHostCPU,
    LibvirtConfigCapsNUMACell,
    LibvirtConfigCapsNUMACPU,
    LibvirtConfigCapsNUMAPages,
    LibvirtConfigCapsNUMATopology,
)
from os_numa.virt.libvirt.config_guest import (
    LibvirtConfigGuest,
    LibvirtConfigGuestCPU,
    LibvirtConfigGuestCPUNUMA,
    LibvirtConfigGuestCPUNUMACell,
    LibvirtConfigGuestCPUTune,
    LibvirtConfigGuestCPUTuneEmulatorPin,
    LibvirtConfigGuestCPUTuneIOThreadPin,
    LibvirtConfigGuestCPUTuneVCPUPin,
    LibvirtConfigGuestCPUTuneVCPUSched,
    LibvirtConfigGuestMemoryBacking,
    LibvirtConfigGuestMemoryBackingPage,
    LibvirtConfigGuestNUMATune,
    LibvirtConfigGuestNUMATuneMemNode,
    LibvirtConfigGuestNUMATuneMemory,
)

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_MEMORY_KIB",
    "LibvirtConfigCaps",
    "LibvirtConfigCapsHost",
    "LibvirtConfigCapsHostCPU",
    "LibvirtConfigCapsNUMACPU",
    "LibvirtConfigCapsNUMACell",
    "LibvirtConfigCapsNUMAPages",
    "LibvirtConfigCapsNUMATopology",
    "LibvirtConfigGuest",
    "LibvirtConfigGuestCPU",
    "LibvirtConfigGuestCPUNUMA",
    "LibvirtConfigGuestCPUNUMACell",
    "LibvirtConfigGuestCPUTune",
    "LibvirtConfigGuestCPUTuneEmulatorPin",
    "LibvirtConfigGuestCPUTuneIOThreadPin",
    "LibvirtConfigGuestCPUTuneVCPUPin",
    "LibvirtConfigGuestCPUTuneVCPUSched",
    "LibvirtConfigGuestMemoryBacking",
    "LibvirtConfigGuestMemoryBackingPage",
    "LibvirtConfigGuestNUMATune",
    "LibvirtConfigGuestNUMATuneMemNode",
    "LibvirtConfigGuestNUMATuneMemory",
    "LibvirtConfigObject",
]
