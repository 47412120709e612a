"""The guest's elements: ``<cputune>``, ``<numatune>``, ``<cpu><numa>``,
``<memoryBacking>`` and a minimal ``<domain>`` around them.

Each class holds the data of one element, with Nova's attribute names, and no
policy: :mod:`os_numa.virt.libvirt.driver` decides *what* to pin, these
classes only say *how* it is written, in a :attr:`layout` read and written by
:class:`~os_numa.virt.libvirt.config_base.LibvirtConfigObject`. CPU sets are
Python sets of ints, written as CPU specs (``"0-3,8"``); memory sizes are KiB,
as in libvirt, and sizes written with another ``unit`` are converted to KiB
when parsed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any, ClassVar

from lxml import etree

from os_numa.virt.libvirt.config_base import (
    CPUS,
    INT,
    KIB,
    STR,
    TEXT_OR_NONE,
    Attr,
    Child,
    Children,
    Element,
    Flag,
    LibvirtConfigObject,
    Node,
    Raw,
    Text,
    cpu_topology,
    serialize,
)

# --- <cputune> -------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneVCPUPin(LibvirtConfigObject):
    """``<vcpupin vcpu='id' cpuset='...'/>``: the host CPUs one vCPU may run on."""

    root_name: ClassVar[str] = "vcpupin"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("vcpu", "id", INT, required=True),
        Attr("cpuset", kind=CPUS, required=True),
    )

    id: int = 0
    cpuset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneEmulatorPin(LibvirtConfigObject):
    """``<emulatorpin cpuset='...'/>``: the host CPUs of QEMU's emulator threads."""

    root_name: ClassVar[str] = "emulatorpin"
    layout: ClassVar[tuple[Node, ...]] = (Attr("cpuset", kind=CPUS, required=True),)

    cpuset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneIOThreadPin(LibvirtConfigObject):
    """``<iothreadpin iothread='N' cpuset='...'/>``: the host CPUs of one I/O thread."""

    root_name: ClassVar[str] = "iothreadpin"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("iothread", kind=INT, required=True),
        Attr("cpuset", kind=CPUS, required=True),
    )

    iothread: int = 1
    cpuset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneVCPUSched(LibvirtConfigObject):
    """``<vcpusched vcpus='...' scheduler='fifo' priority='N'/>``: a scheduler for vCPUs."""

    root_name: ClassVar[str] = "vcpusched"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("vcpus", kind=CPUS, required=True),
        Attr("scheduler"),
        Attr("priority", kind=INT),
    )

    vcpus: set[int] = field(default_factory=set)
    scheduler: str | None = None
    priority: int | None = None


@dataclasses.dataclass
class LibvirtConfigGuestCPUTune(LibvirtConfigObject):
    """``<cputune>``.

    Children are written in the order libvirt itself writes them (its
    ``XMLDesc()``): ``shares``, ``period``, ``quota``, every ``vcpupin``,
    ``emulatorpin``, every ``iothreadpin``, every ``vcpusched``. The schema
    accepts any order; a fixed one keeps the text deterministic.
    """

    root_name: ClassVar[str] = "cputune"
    layout: ClassVar[tuple[Node, ...]] = (
        *(Element(name, Text(name, INT)) for name in ("shares", "period", "quota")),
        Children("vcpupin", LibvirtConfigGuestCPUTuneVCPUPin),
        Child("emulatorpin", LibvirtConfigGuestCPUTuneEmulatorPin),
        Children("iothreadpin", LibvirtConfigGuestCPUTuneIOThreadPin),
        Children("vcpusched", LibvirtConfigGuestCPUTuneVCPUSched),
    )

    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    vcpupin: list[LibvirtConfigGuestCPUTuneVCPUPin] = field(default_factory=list)
    emulatorpin: LibvirtConfigGuestCPUTuneEmulatorPin | None = None
    iothreadpin: list[LibvirtConfigGuestCPUTuneIOThreadPin] = field(default_factory=list)
    vcpusched: list[LibvirtConfigGuestCPUTuneVCPUSched] = field(default_factory=list)


# --- <numatune> ------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestNUMATuneMemory(LibvirtConfigObject):
    """``<memory mode='strict' nodeset='...'/>``: host nodes for all guest memory."""

    root_name: ClassVar[str] = "memory"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("mode"),
        Attr("nodeset", kind=CPUS, required=True),
    )

    mode: str = "strict"
    nodeset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestNUMATuneMemNode(LibvirtConfigObject):
    """``<memnode cellid='N' mode='strict' nodeset='...'/>``: host nodes of one guest cell."""

    root_name: ClassVar[str] = "memnode"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("cellid", kind=INT, required=True),
        Attr("mode"),
        Attr("nodeset", kind=CPUS, required=True),
    )

    cellid: int = 0
    mode: str = "strict"
    nodeset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestNUMATune(LibvirtConfigObject):
    """``<numatune>``: one ``<memory>`` and a ``<memnode>`` per guest cell."""

    root_name: ClassVar[str] = "numatune"
    layout: ClassVar[tuple[Node, ...]] = (
        Child("memory", LibvirtConfigGuestNUMATuneMemory),
        Children("memnodes", LibvirtConfigGuestNUMATuneMemNode),
    )

    memory: LibvirtConfigGuestNUMATuneMemory | None = None
    memnodes: list[LibvirtConfigGuestNUMATuneMemNode] = field(default_factory=list)


# --- <cpu> with <numa> -------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestCPUNUMACell(LibvirtConfigObject):
    """``<cell id='N' cpus='...' memory='KiB' [memAccess='shared']/>``: one guest cell."""

    root_name: ClassVar[str] = "cell"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("id", kind=INT, required=True),
        Attr("cpus", kind=CPUS, required=True),
        Attr("memory", kind=KIB, required=True),
        Attr("memAccess"),
    )

    id: int = 0
    cpus: set[int] = field(default_factory=set)
    memory: int = 0
    memAccess: str | None = None  # noqa: N815 - libvirt's and Nova's spelling


@dataclasses.dataclass
class LibvirtConfigGuestCPUNUMA(LibvirtConfigObject):
    """``<numa>`` inside the guest ``<cpu>``: the guest's NUMA cells."""

    root_name: ClassVar[str] = "numa"
    layout: ClassVar[tuple[Node, ...]] = (Children("cells", LibvirtConfigGuestCPUNUMACell),)

    cells: list[LibvirtConfigGuestCPUNUMACell] = field(default_factory=list)


@dataclasses.dataclass
class LibvirtConfigGuestCPU(LibvirtConfigObject):
    """The guest ``<cpu>``: mode/match/check, ``<model>``, ``<topology>``, ``<numa>``.

    CPU features and other children are kept as unknown children.
    """

    root_name: ClassVar[str] = "cpu"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("mode"),
        Attr("match"),
        Attr("check"),
        Element("model", Text("model", TEXT_OR_NONE)),
        cpu_topology(),
        Child("numa", LibvirtConfigGuestCPUNUMA),
    )

    mode: str | None = None
    match: str | None = None
    check: str | None = None
    model: str | None = None
    sockets: int | None = None
    dies: int | None = None
    cores: int | None = None
    threads: int | None = None
    numa: LibvirtConfigGuestCPUNUMA | None = None


# --- <memoryBacking> ---------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestMemoryBackingPage(LibvirtConfigObject):
    """``<page size='KiB' unit='KiB' [nodeset='...']/>``: huge pages for some guest
    cells (all cells when ``nodeset`` is empty)."""

    root_name: ClassVar[str] = "page"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("size", "size_kb", KIB, required=True),
        Attr("nodeset", kind=CPUS),
    )

    size_kb: int = 0
    nodeset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestMemoryBacking(LibvirtConfigObject):
    """``<memoryBacking>``: ``<hugepages>``, ``<nosharepages/>``, ``<locked/>``.

    ``hugepages`` lists the page pools; an empty list writes no ``<hugepages>``
    (a bare ``<hugepages/>`` read from a document is kept as an unknown child).
    ``sharedpages=False`` writes ``<nosharepages/>`` (KSM off), ``locked=True``
    writes ``<locked/>``.
    """

    root_name: ClassVar[str] = "memoryBacking"
    layout: ClassVar[tuple[Node, ...]] = (
        Element("hugepages", Children("hugepages", LibvirtConfigGuestMemoryBackingPage)),
        Flag("nosharepages", "sharedpages", invert=True),
        Flag("locked", "locked"),
    )

    hugepages: list[LibvirtConfigGuestMemoryBackingPage] = field(default_factory=list)
    sharedpages: bool = True
    locked: bool = False

    def _after_parse(self, el: etree._Element) -> None:
        # A bare <hugepages/> (huge pages of the default size for every cell) has no
        # <page> to hold; it is kept as written rather than dropped.
        if not self.hugepages:
            bare = el.find("hugepages")
            if bare is not None:
                self.extra_children.append((None, serialize(bare)))

    @property
    def nosharepages(self) -> bool:
        """True when ``<nosharepages/>`` is written (the inverse of ``sharedpages``)."""
        return not self.sharedpages


# --- a whole <domain> --------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuest(LibvirtConfigObject):
    """A minimal ``<domain>``: enough to define a guest that carries the NUMA elements.

    Children are written in libvirt's order: name, uuid, memory, memoryBacking,
    vcpu, iothreads, cputune, numatune, os, cpu, devices. ``<os>`` children
    other than ``<type>`` (``<boot>``...) are kept in ``os_extra_children``. ``devices`` is the
    extension point: a list of element objects, lxml elements or XML strings
    (parsing gives XML strings). Everything else libvirt adds (clock, on_*,
    features...) is kept as unknown children.
    """

    root_name: ClassVar[str] = "domain"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("type", "virt_type", required=True),
        Element("name", Text("name", missing="")),
        Element("uuid", Text("uuid")),
        Element("memory", Text("memory", KIB, missing=0)),
        Child("membacking", LibvirtConfigGuestMemoryBacking),
        Element(
            "vcpu",
            Attr("placement", const="static"),
            Attr("cpuset", kind=CPUS),
            Text("vcpus", INT),
        ),
        Element("iothreads", Text("iothreads", INT, omit=(0,))),
        Child("cputune", LibvirtConfigGuestCPUTune),
        Child("numatune", LibvirtConfigGuestNUMATune),
        Element(
            "os",
            Element(
                "type", Attr("arch", "os_arch", STR), Attr("machine", "os_machine"), Text("os_type")
            ),
            Raw("os_extra_children"),
        ),
        Child("cpu", LibvirtConfigGuestCPU),
        Element("devices", Raw("devices"), always=True),
    )

    virt_type: str = "kvm"
    name: str = "guest"
    uuid: str | None = None
    memory: int = 1024 * 1024
    vcpus: int = 1
    cpuset: set[int] | None = None
    iothreads: int = 0
    os_type: str = "hvm"
    os_arch: str | None = None
    os_machine: str | None = None
    os_extra_children: list[str] = field(default_factory=list)
    membacking: LibvirtConfigGuestMemoryBacking | None = None
    cputune: LibvirtConfigGuestCPUTune | None = None
    numatune: LibvirtConfigGuestNUMATune | None = None
    cpu: LibvirtConfigGuestCPU | None = None
    devices: list[Any] = field(default_factory=list)
