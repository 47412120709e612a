"""The host capabilities elements: ``<capabilities><host>`` with its ``<cpu>`` and
NUMA ``<topology>`` (cells, their memory, page pools, distances and CPUs).

Read from ``virConnect.getCapabilities()`` by :mod:`os_numa.virt.libvirt.host`
and written by the fake host of :mod:`os_numa.testing.fake`. What these classes
do not declare (``<guest>`` blocks, ``<secmodel>``, CPU features...) is kept
as unknown children, so a document survives a round trip.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import ClassVar

from lxml import etree

from os_numa import exception
from os_numa.virt.libvirt.config_base import (
    CPUS,
    INT,
    KIB,
    MAX_MEMORY_KIB,
    TEXT,
    Attr,
    Child,
    Children,
    Count,
    Element,
    Entries,
    LibvirtConfigObject,
    Node,
    Text,
    cpu_topology,
)


@dataclasses.dataclass
class LibvirtConfigCapsNUMAPages(LibvirtConfigObject):
    """``<pages unit='KiB' size='N'>total</pages>``: one page-size pool of a host cell.

    ``total`` is the pool size in pages (None when libvirt wrote no count).
    """

    root_name: ClassVar[str] = "pages"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("unit", const="KiB"),
        Attr("size", kind=KIB, required=True),
        Text("total", INT, blank=None),
    )

    size: int = 4
    total: int | None = None

    def _after_parse(self, el: etree._Element) -> None:
        # A bound across two fields: the pool's pages times their size.
        if self.total is not None and self.total * max(self.size, 1) > MAX_MEMORY_KIB:
            raise exception.InvalidXML(
                reason=f"<pages size='{self.size}'> counts {self.total} pages; a pool holds "
                f"at most {MAX_MEMORY_KIB} KiB (4 PiB)"
            )


@dataclasses.dataclass
class LibvirtConfigCapsNUMACPU(LibvirtConfigObject):
    """``<cpu id socket_id die_id core_id siblings/>``: one online host CPU of a cell."""

    root_name: ClassVar[str] = "cpu"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("id", kind=INT, required=True),
        Attr("socket_id", kind=INT),
        Attr("die_id", kind=INT),
        Attr("core_id", kind=INT),
        Attr("siblings", kind=CPUS),
    )

    id: int = 0
    socket_id: int | None = None
    die_id: int | None = None
    core_id: int | None = None
    siblings: set[int] | None = None


@dataclasses.dataclass
class LibvirtConfigCapsNUMACell(LibvirtConfigObject):
    """A host ``<cell>``: memory (KiB), page pools, distances, online CPUs.

    A cell without CPUs (a memory-only node) may come with ``<cpus num='0'/>``
    or with no ``<cpus>`` at all; both parse to ``cpus == []`` and render as
    ``<cpus num='0'/>``, as libvirt writes it. ``distances`` maps a cell id
    to its distance; ``memory`` is None when the document gives none.
    """

    root_name: ClassVar[str] = "cell"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("id", kind=INT, required=True),
        Element("memory", Text("memory", KIB)),
        Children("mempages", LibvirtConfigCapsNUMAPages),
        Element("distances", Entries("sibling", "distances", key="id", value="value")),
        Element("cpus", Count("num", of="cpus"), Children("cpus", LibvirtConfigCapsNUMACPU)),
    )

    id: int = 0
    memory: int | None = None
    mempages: list[LibvirtConfigCapsNUMAPages] = field(default_factory=list)
    distances: dict[int, int] = field(default_factory=dict)
    cpus: list[LibvirtConfigCapsNUMACPU] = field(default_factory=list)

    @property
    def cpu_ids(self) -> set[int]:
        """The ids of the cell's online CPUs."""
        return {cpu.id for cpu in self.cpus}


@dataclasses.dataclass
class LibvirtConfigCapsNUMATopology(LibvirtConfigObject):
    """The host ``<topology><cells num='N'>...</cells></topology>``."""

    root_name: ClassVar[str] = "topology"
    layout: ClassVar[tuple[Node, ...]] = (
        Element("cells", Count("num", of="cells"), Children("cells", LibvirtConfigCapsNUMACell)),
    )

    cells: list[LibvirtConfigCapsNUMACell] = field(default_factory=list)


@dataclasses.dataclass
class LibvirtConfigCapsHostCPU(LibvirtConfigObject):
    """The host ``<cpu>``: arch, model, vendor and ``<topology>`` (sockets, dies,
    cores, threads per NUMA node, as libvirt reports them). Features and the
    rest are kept as unknown children."""

    root_name: ClassVar[str] = "cpu"
    layout: ClassVar[tuple[Node, ...]] = (
        *(Element(name, Text(name, TEXT)) for name in ("arch", "model", "vendor")),
        cpu_topology(),
    )

    arch: str | None = None
    model: str | None = None
    vendor: str | None = None
    sockets: int | None = None
    dies: int | None = None
    cores: int | None = None
    threads: int | None = None


@dataclasses.dataclass
class LibvirtConfigCapsHost(LibvirtConfigObject):
    """The capabilities ``<host>``: uuid, cpu, NUMA topology; the rest is kept as is."""

    root_name: ClassVar[str] = "host"
    layout: ClassVar[tuple[Node, ...]] = (
        Element("uuid", Text("uuid")),
        Child("cpu", LibvirtConfigCapsHostCPU),
        Child("topology", LibvirtConfigCapsNUMATopology),
    )

    uuid: str | None = None
    cpu: LibvirtConfigCapsHostCPU | None = None
    topology: LibvirtConfigCapsNUMATopology | None = None


@dataclasses.dataclass
class LibvirtConfigCaps(LibvirtConfigObject):
    """A ``<capabilities>`` document: the ``<host>``; ``<guest>`` blocks are kept as is."""

    root_name: ClassVar[str] = "capabilities"
    layout: ClassVar[tuple[Node, ...]] = (Child("host", LibvirtConfigCapsHost),)

    host: LibvirtConfigCapsHost | None = None

    @property
    def cells(self) -> list[LibvirtConfigCapsNUMACell]:
        """The host's NUMA cells (empty when the document has no topology)."""
        if self.host is None or self.host.topology is None:
            return []
        return list(self.host.topology.cells)
