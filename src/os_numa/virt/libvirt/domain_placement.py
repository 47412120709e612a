"""A libvirt domain's XML read back into the placement it enforces.

:func:`read_domain` is the inverse of :func:`os_numa.virt.libvirt.driver.build_guest`
for everything the host accounts: ``<cpu><numa>`` gives the guest cells, ``<numatune>``
the host cell of each, ``<cputune>`` which vCPUs are pinned to one pCPU of the
dedicated set (``cpu_dedicated_set``) and which float over a cell's shared CPUs,
``<emulatorpin>`` the emulator policy (an isolated pCPU, a pool pCPU, the shared
set, or the vCPUs' own pCPUs), ``<vcpusched>`` the realtime vCPUs, ``<memoryBacking>``
the page size of each cell, and ``<hostdev>`` the PCI devices. The result is an
:class:`~os_numa.objects.InstanceNUMATopology` a resource tracker can account, so
the truth on the host, not a database, is the source after a restart.

Whatever the domain shows that os-numa would not have written (a vCPU without a
pin, a pin to a CPU outside the dedicated set, a guest cell spread over host
cells, memory not bound to the vCPUs' cell, emulator threads on a dedicated pCPU
the domain does not own, a page size the host cell lacks...) is reported as
:class:`Drift`, one record per finding, naming the domain. Drift between domains
(two domains on one pCPU, one PCI device twice) needs every domain at once; see
:mod:`os_numa.virt.libvirt.recovery`.

The XML cannot say everything a placement holds: thread policy ``isolate``
(whose claim also holds the pinned pCPUs' siblings) and ``hw:emulator_threads_mask``
leave no trace of their own in it. Those come back as ``prefer`` and the plain
emulator rule, unless the domain carries :func:`placement_metadata` in its
``<metadata>``; a checkpoint (:mod:`os_numa.compute.checkpoint`) restores them too.

Everything here is pure: it reads its arguments only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lxml import etree

from os_numa import cpuset as cpuset_mod
from os_numa import exception, objects, xmlutil
from os_numa.cpuset import describe_cpus
from os_numa.objects import fields
from os_numa.pci.devices import PciAddress
from os_numa.virt.libvirt import config, config_devices

#: The largest domain document read (libvirt's own domains are a few KiB).
MAX_DOMAIN_XML_BYTES = 1024 * 1024

#: ``<vcpusched>`` schedulers that make a vCPU realtime.
REALTIME_SCHEDULERS = ("fifo", "rr")

#: ``<numatune>`` modes os-numa writes (``hw:numa_memory_policy``).
MEMORY_MODES = ("strict", "restrictive", "preferred", "interleave")
INTERLEAVE = "interleave"

_EMULATOR = fields.CPUEmulatorThreadsPolicy
_POLICY = fields.CPUAllocationPolicy


# Drift rules: stable names, printed by ``os-numa audit`` and kept in its JSON.
UNPINNED_VCPU = "unpinned-vcpu"
OUTSIDE_DEDICATED_SET = "outside-dedicated-set"
OUTSIDE_SHARED_SET = "outside-shared-set"
RUNS_ON_DEDICATED = "runs-on-dedicated"
VCPUS_SHARE_PCPU = "vcpus-share-pcpu"
CELL_SPANS_HOST_CELLS = "cell-spans-host-cells"
MEMORY_NOT_BOUND = "memory-not-bound"
MEMORY_ELSEWHERE = "memory-elsewhere"
UNKNOWN_HOST_CELL = "unknown-host-cell"
EMULATOR_PIN = "emulator-pin"
REALTIME_FLOATING = "realtime-floating"
PAGE_SIZE = "page-size"
VCPU_COUNT = "vcpu-count"
UNREADABLE = "unreadable"
METADATA = "metadata"
# Between domains (os_numa.virt.libvirt.recovery).
PCPU_OVERLAP = "pcpu-overlap"
PCI_SHARED = "pci-shared"
# Against a tracker or checkpoint (os_numa.virt.libvirt.recovery).
NOT_ACCOUNTED = "not-accounted"
NOT_ON_HOST = "not-on-host"
PLACEMENT_DIFFERS = "placement-differs"
ACCOUNTING = "accounting"


@dataclass(frozen=True, order=True)
class Drift:
    """One thing a domain shows that os-numa would not have placed.

    ``domain`` is the domain's name, ``uuid`` its uuid, ``rule`` one of this
    module's rule names (``outside-dedicated-set``...), ``detail`` the sentence
    that says what and where.
    """

    domain: str
    rule: str
    detail: str
    uuid: str = ""

    def __str__(self) -> str:
        return f"{self.domain}: {self.rule}: {self.detail}"


@dataclass(frozen=True)
class DomainPlacement:
    """What one domain holds on the host, as read from its XML.

    ``placement`` is the guest's NUMA placement (guest cell ids are host cell
    ids, as after a fit), or None for a domain without ``<cpu><numa>`` or one
    whose cells cannot be placed on a host cell at all (see ``drift``).
    ``exclusive_cpus`` are the host CPUs only this domain may use (pinned vCPUs,
    isolated emulator pCPUs); ``shared_cpus`` every other host CPU its threads
    may run on (floating vCPUs, emulator and I/O threads), or None when nothing
    restricts them (every host CPU). ``realtime_vcpus`` carry a realtime
    scheduler; ``pci_addresses`` are the host PCI functions given to it.
    ``active`` says whether it runs (None: not known).
    """

    name: str
    uuid: str
    vcpus: int
    memory_mb: int
    placement: objects.InstanceNUMATopology | None
    exclusive_cpus: frozenset[int]
    shared_cpus: frozenset[int] | None
    emulator_cpus: frozenset[int] | None
    realtime_vcpus: frozenset[int] = frozenset()
    pci_addresses: tuple[str, ...] = ()
    drift: tuple[Drift, ...] = ()
    active: bool | None = None

    @property
    def numa(self) -> bool:
        """True when the domain has guest NUMA cells (``<cpu><numa>``)."""
        return self.placement is not None


@dataclass(frozen=True)
class _Host:
    """What the reader needs of the host topology, copied once."""

    pcpus: Mapping[int, frozenset[int]]  # host cell -> pCPUs (cpu_dedicated_set)
    shared: Mapping[int, frozenset[int]]  # host cell -> shared CPUs (cpu_shared_set)
    pool: Mapping[int, frozenset[int]]  # host cell -> emulator pool CPUs
    pages: Mapping[int, frozenset[int]]  # host cell -> page sizes (KiB)
    cores: Mapping[int, frozenset[int]]  # host CPU -> the CPUs of its core (SMT siblings)

    @classmethod
    def of(cls, topology: objects.NUMATopology) -> _Host:
        return cls(
            pcpus={c.id: frozenset(c.pcpuset) for c in topology.cells},
            shared={c.id: frozenset(c.cpuset) for c in topology.cells},
            pool={
                c.id: frozenset(getattr(c, "emulator_pool_cpus", None) or ())
                for c in topology.cells
            },
            pages={c.id: frozenset(p.size_kb for p in c.mempages) for c in topology.cells},
            cores={
                cpu: frozenset(core)
                for c in topology.cells
                for core in c.siblings or ()
                for cpu in core
            },
        )

    @property
    def all_pcpus(self) -> frozenset[int]:
        return frozenset().union(*self.pcpus.values())

    @property
    def all_shared(self) -> frozenset[int]:
        return frozenset().union(*self.shared.values())

    @property
    def dedicated_only(self) -> frozenset[int]:
        """pCPUs that no floating vCPU may use (empty when both sets are every CPU)."""
        return self.all_pcpus - self.all_shared

    def cell_of_pcpu(self, cpu: int) -> int | None:
        return next((cell for cell, cpus in self.pcpus.items() if cpu in cpus), None)


@dataclass
class _Reading:
    """The findings of one domain while it is read."""

    name: str
    uuid: str
    drift: list[Drift] = field(default_factory=list)

    def add(self, rule: str, detail: str) -> None:
        self.drift.append(Drift(self.name, rule, detail, self.uuid))


def read_domain(
    xml: str | bytes | etree._Element,
    host_topology: objects.NUMATopology,
    active: bool | None = None,
) -> DomainPlacement:
    """Read the placement ``xml`` (a domain's ``XMLDesc()``) enforces on ``host_topology``.

    ``host_topology`` is the host as os-numa sees it, with its ``[compute]``
    CPU sets (:func:`~os_numa.virt.libvirt.host.host_topology_from_capabilities`);
    its usage is not read. ``active`` is recorded as given.

    :raises InvalidXML: the document is not a domain, is larger than
        :data:`MAX_DOMAIN_XML_BYTES`, or has malformed elements (a pin that is
        not a CPU set...).
    :raises UnsafeXML: the document declares entities or references outside itself.
    """
    root = xml if isinstance(xml, etree._Element) else xmlutil.parse(xml, MAX_DOMAIN_XML_BYTES)
    guest = config.LibvirtConfigGuest.parse_dom(root)
    host = _Host.of(host_topology)
    reading = _Reading(guest.name, guest.uuid or "")
    if guest.vcpus < 1:
        reading.add(VCPU_COUNT, f"<vcpu> is {guest.vcpus}; a guest has at least one vCPU")
    pins = _vcpu_pins(guest)
    realtime = _realtime_vcpus(guest)
    numa_cells = guest.cpu.numa.cells if guest.cpu is not None and guest.cpu.numa else []
    if numa_cells:
        cells, exclusive, floating = _numa_cells(guest, numa_cells, pins, host, reading)
    else:
        cells, exclusive, floating = None, set(), _non_numa_footprint(guest, pins)
    floating_pins = [pins[v] for c in cells or () for v in sorted(c.cpuset) if v in pins]
    emulator = _emulator(guest, cells, exclusive, floating_pins, host, reading)
    if cells is not None:
        for vcpu in sorted(realtime - exclusive_vcpus(cells)):
            reading.add(
                REALTIME_FLOATING,
                f"realtime vCPU {vcpu} is not pinned to a pCPU of its own; a SCHED_FIFO "
                "vCPU on shared CPUs starves whatever else runs there",
            )
    io_reserved, io_footprint = _iothreads(guest, cells, exclusive, emulator, host, reading)
    exclusive |= emulator.reserved | io_reserved
    shared = None if floating is None or emulator.cpus is None else floating | emulator.footprint
    if shared is not None:
        shared |= io_footprint
    _check_runs_on_dedicated(shared, exclusive, host, reading, numa=cells is not None)
    placement = None
    if cells is not None:
        placement = objects.InstanceNUMATopology(
            cells=cells,
            emulator_threads_policy=emulator.policy,
            emulator_threads_count=len(emulator.reserved) if len(emulator.reserved) > 1 else None,
            realtime_vcpus=set(realtime) or None,
            emulator_pool_cpu=emulator.pool_cpu,
            iothreads=guest.iothreads if guest.iothreads > 1 else None,
            iothreads_policy="isolate" if io_reserved else None,
            **_xml_policy(guest, realtime),
        )
        exclusive |= _apply_hints(root, placement, host, reading)
    return DomainPlacement(
        name=guest.name,
        uuid=guest.uuid or "",
        vcpus=guest.vcpus,
        memory_mb=-(-guest.memory // 1024),
        placement=placement,
        exclusive_cpus=frozenset(exclusive),
        shared_cpus=None if shared is None else frozenset(shared - exclusive),
        emulator_cpus=None if emulator.cpus is None else frozenset(emulator.cpus),
        realtime_vcpus=frozenset(realtime),
        pci_addresses=_pci_addresses(root),
        drift=tuple(reading.drift),
        active=active,
    )


def unreadable(name: str, uuid: str, reason: str, active: bool | None = None) -> DomainPlacement:
    """A domain whose XML could not be read: nothing known, one ``unreadable`` finding."""
    return DomainPlacement(
        name=name,
        uuid=uuid,
        vcpus=0,
        memory_mb=0,
        placement=None,
        exclusive_cpus=frozenset(),
        shared_cpus=frozenset(),
        emulator_cpus=None,
        drift=(Drift(name, UNREADABLE, f"its XML cannot be read: {reason}", uuid),),
        active=active,
    )


def exclusive_vcpus(cells: Iterable[objects.InstanceNUMACell]) -> set[int]:
    """The vCPUs of ``cells`` that are pinned to a pCPU each."""
    return {vcpu for cell in cells for vcpu in (cell.cpu_pinning or {})}


def _vcpu_pins(guest: config.LibvirtConfigGuest) -> dict[int, frozenset[int]]:
    """Each vCPU's host CPUs: its ``<vcpupin>``, else ``<vcpu cpuset>`` (libvirt's default)."""
    default = None if guest.cpuset is None else frozenset(guest.cpuset)
    pins: dict[int, frozenset[int]] = {}
    if default is not None:
        pins = dict.fromkeys(range(guest.vcpus), default)
    for pin in guest.cputune.vcpupin if guest.cputune is not None else ():
        pins[pin.id] = frozenset(pin.cpuset)
    return pins


def _realtime_vcpus(guest: config.LibvirtConfigGuest) -> set[int]:
    scheds = guest.cputune.vcpusched if guest.cputune is not None else ()
    return {v for s in scheds if (s.scheduler or "") in REALTIME_SCHEDULERS for v in s.vcpus}


def _xml_policy(guest: config.LibvirtConfigGuest, realtime: set[int]) -> dict[str, object]:
    """The placement's XML policy fields as the domain shows them: the realtime
    priority, locked memory (beyond what realtime locks) and the memory mode
    (None for ``strict``, the default), so the XML built from the placement read
    back is the domain's own."""
    scheds = guest.cputune.vcpusched if guest.cputune is not None else ()
    priorities = [
        s.priority
        for s in scheds
        if (s.scheduler or "") in REALTIME_SCHEDULERS and s.priority is not None
    ]
    backing = guest.membacking
    numatune = guest.numatune
    mode = numatune.memory.mode if numatune is not None and numatune.memory is not None else None
    return {
        "realtime_priority": priorities[0] if realtime and priorities else None,
        "locked_memory": True if backing is not None and backing.locked and not realtime else None,
        "memory_policy": mode if mode in MEMORY_MODES and mode != "strict" else None,
    }


def _memnodes(
    guest: config.LibvirtConfigGuest,
) -> dict[int, config.LibvirtConfigGuestNUMATuneMemNode]:
    if guest.numatune is None:
        return {}
    return {node.cellid: node for node in guest.numatune.memnodes}


def _page_sizes(guest: config.LibvirtConfigGuest) -> dict[int | None, int]:
    """``{guest cell id: page size KiB}``; key None: the size for cells not named."""
    sizes: dict[int | None, int] = {}
    for page in guest.membacking.hugepages if guest.membacking is not None else ():
        for cell in sorted(page.nodeset) if page.nodeset else (None,):
            sizes[cell] = page.size_kb
    return sizes


def _pins_cells(vcpu_pins: dict[int, frozenset[int]], host: _Host) -> list[int]:
    """The host cells a guest cell's vCPU pins point at: a pinned vCPU's pCPU, or a
    floating vCPU's pin that is exactly one cell's shared CPUs."""
    cells = {host.cell_of_pcpu(next(iter(p))) for p in vcpu_pins.values() if len(p) == 1}
    cells |= {c for c, shared in host.shared.items() if shared and shared in vcpu_pins.values()}
    return sorted(cell for cell in cells if cell is not None)


def _host_cell_of(
    index: int,
    memnode: config.LibvirtConfigGuestNUMATuneMemNode | None,
    vcpu_pins: dict[int, frozenset[int]],
    host: _Host,
    reading: _Reading,
) -> int | None:
    """The host cell guest cell ``index`` sits on: its memory's node, else its pins' cell.

    Every ``hw:numa_memory_policy`` os-numa writes is read: ``strict``,
    ``restrictive`` and ``preferred`` name the cell's own node; ``interleave``
    names all the guest's nodes, and the vCPUs' pins say which is the cell's.
    """
    pinned_cells = _pins_cells(vcpu_pins, host)
    if memnode is None:
        reading.add(
            MEMORY_NOT_BOUND,
            f"guest cell {index} has no <numatune><memnode>: its memory may come from any "
            "host NUMA cell",
        )
        return pinned_cells[0] if pinned_cells else None
    if memnode.mode not in MEMORY_MODES:
        reading.add(
            MEMORY_NOT_BOUND,
            f"guest cell {index}'s memory is in mode {memnode.mode!r}, which os-numa never "
            f"writes (it writes {', '.join(MEMORY_MODES)})",
        )
    unknown = set(memnode.nodeset) - set(host.pcpus)
    if unknown:
        reading.add(
            UNKNOWN_HOST_CELL,
            f"guest cell {index}'s memory is bound to host node(s) {describe_cpus(unknown)}, which "
            f"the host does not have (its cells: {describe_cpus(host.pcpus)})",
        )
        return None
    if memnode.mode == INTERLEAVE:
        inside = [c for c in pinned_cells if c in memnode.nodeset]
        if len(pinned_cells) != 1 or not inside:
            reading.add(
                MEMORY_ELSEWHERE,
                f"guest cell {index}'s memory is interleaved over host nodes "
                f"{describe_cpus(memnode.nodeset)}, but its vCPUs are on host cell(s) "
                f"{describe_cpus(pinned_cells)}",
            )
        return inside[0] if inside else (pinned_cells[0] if pinned_cells else None)
    if len(memnode.nodeset) != 1:
        reading.add(
            MEMORY_NOT_BOUND,
            f"guest cell {index}'s memory spans host nodes {describe_cpus(memnode.nodeset)}; "
            f"os-numa binds each guest cell to one host cell (mode {memnode.mode!r})",
        )
        return pinned_cells[0] if pinned_cells else None
    node = next(iter(memnode.nodeset))
    others = [c for c in pinned_cells if c != node]
    if others:
        reading.add(
            MEMORY_ELSEWHERE,
            f"guest cell {index}'s memory is on host cell {node} but its vCPUs run on host "
            f"cell(s) {describe_cpus(others)}",
        )
    return node


def _numa_cells(
    guest: config.LibvirtConfigGuest,
    numa_cells: list[config.LibvirtConfigGuestCPUNUMACell],
    pins: dict[int, frozenset[int]],
    host: _Host,
    reading: _Reading,
) -> tuple[list[objects.InstanceNUMACell] | None, set[int], set[int] | None]:
    """The placed cells, the pinned pCPUs, and the CPUs floating vCPUs may use."""
    memnodes = _memnodes(guest)
    sizes = _page_sizes(guest)
    cells: list[objects.InstanceNUMACell] = []
    exclusive: set[int] = set()
    floating: set[int] | None = set()
    owners: dict[int, int] = {}
    placeable = True
    for numa_cell in sorted(numa_cells, key=lambda c: c.id):
        index = numa_cell.id
        vcpu_pins = {v: pins[v] for v in sorted(numa_cell.cpus) if v in pins}
        host_cell = _host_cell_of(index, memnodes.get(index), vcpu_pins, host, reading)
        if host_cell is None:
            placeable = False
            if index not in memnodes or not vcpu_pins:
                reading.add(
                    UNKNOWN_HOST_CELL,
                    f"guest cell {index} is on no host cell: neither its memory nor its "
                    "vCPUs are bound to one",
                )
        pinning: dict[int, int] = {}
        floats: set[int] = set()
        for vcpu in sorted(numa_cell.cpus):
            cpus = pins.get(vcpu)
            if cpus is None:
                reading.add(
                    UNPINNED_VCPU,
                    f"vCPU {vcpu} (guest cell {index}) has no <vcpupin> and no <vcpu "
                    "cpuset>: it may run on any host CPU",
                )
                floating = None
                floats.add(vcpu)
                continue
            kind = _classify_vcpu(vcpu, index, cpus, host_cell, host, reading)
            if kind == "pinned":
                pcpu = next(iter(cpus))
                if pcpu in owners:
                    reading.add(
                        VCPUS_SHARE_PCPU,
                        f"vCPUs {owners[pcpu]} and {vcpu} are both pinned to pCPU {pcpu}",
                    )
                owners.setdefault(pcpu, vcpu)
                pinning[vcpu] = pcpu
                exclusive.add(pcpu)
            else:
                floats.add(vcpu)
                if floating is not None:
                    floating |= cpus
        if host_cell is None:
            continue
        pagesize = sizes.get(index, sizes.get(None))
        if pagesize is not None and pagesize not in host.pages.get(host_cell, ()):
            reading.add(
                PAGE_SIZE,
                f"guest cell {index} is backed by {pagesize} KiB pages, which host cell "
                f"{host_cell} does not have "
                f"(it has {describe_cpus(host.pages.get(host_cell, ()))})",
            )
            pagesize = None
        policy = _POLICY.DEDICATED if pinning and not floats else _POLICY.MIXED if pinning else None
        cells.append(
            objects.InstanceNUMACell(
                id=host_cell,
                cpuset=floats,
                pcpuset=set(pinning),
                memory=-(-numa_cell.memory // 1024),
                pagesize=pagesize,
                cpu_pinning=pinning if pinning else None,
                cpu_policy=policy,
                cpu_thread_policy=(
                    fields.CPUThreadAllocationPolicy.PREFER if policy is not None else None
                ),
            )
        )
    by_host: dict[int, int] = {}
    for cell_index, cell in enumerate(cells):
        if cell.id in by_host:
            reading.add(
                CELL_SPANS_HOST_CELLS,
                f"guest cells {by_host[cell.id]} and {cell_index} are both on host cell "
                f"{cell.id}; os-numa puts each guest cell on a host cell of its own",
            )
            placeable = False
        by_host.setdefault(cell.id, cell_index)
    declared = {v for c in numa_cells for v in c.cpus}
    if declared != set(range(guest.vcpus)):
        reading.add(
            VCPU_COUNT,
            f"the guest cells hold vCPUs {describe_cpus(declared)}, the domain has {guest.vcpus}",
        )
    return (cells if placeable else None), exclusive, floating


def _classify_vcpu(
    vcpu: int,
    index: int,
    cpus: frozenset[int],
    host_cell: int | None,
    host: _Host,
    reading: _Reading,
) -> str:
    """``"pinned"`` (one pCPU of the dedicated set) or ``"floating"``; drift is recorded."""
    shared = host.shared.get(host_cell, frozenset()) if host_cell is not None else frozenset()
    if len(cpus) == 1 and not (shared and cpus == shared):
        pcpu = next(iter(cpus))
        owner = host.cell_of_pcpu(pcpu)
        if owner is None:
            reading.add(
                OUTSIDE_DEDICATED_SET,
                f"vCPU {vcpu} is pinned to host CPU {pcpu}, which is not in "
                f"cpu_dedicated_set ({describe_cpus(host.all_pcpus)})",
            )
            return "floating"
        if host_cell is not None and owner != host_cell:
            reading.add(
                CELL_SPANS_HOST_CELLS,
                f"vCPU {vcpu} of guest cell {index} is pinned to pCPU {pcpu} of host cell "
                f"{owner}, but the guest cell is on host cell {host_cell}",
            )
        return "pinned"
    if host_cell is not None and cpus == shared:
        return "floating"
    outside = cpus - host.all_shared
    if outside:
        reading.add(
            OUTSIDE_SHARED_SET,
            f"vCPU {vcpu} floats over host CPUs {describe_cpus(cpus)}, "
            f"of which {describe_cpus(outside)} are not in cpu_shared_set "
            f"({describe_cpus(host.all_shared)})",
        )
    elif host_cell is not None:
        reading.add(
            CELL_SPANS_HOST_CELLS,
            f"vCPU {vcpu} of guest cell {index} floats over {describe_cpus(cpus)}, "
            f"not over its host cell {host_cell}'s shared CPUs ({describe_cpus(shared)})",
        )
    return "floating"


def _non_numa_footprint(
    guest: config.LibvirtConfigGuest, pins: dict[int, frozenset[int]]
) -> set[int] | None:
    """The CPUs a guest without NUMA cells may run on (None: any)."""
    if len(pins) < guest.vcpus:
        return None
    return set().union(*pins.values()) if pins else set()


@dataclass(frozen=True)
class _Emulator:
    policy: str | None = None
    cpus: frozenset[int] | None = None  # where the emulator threads may run (None: anywhere)
    reserved: frozenset[int] = frozenset()  # pCPUs isolated for them
    pool_cpu: int | None = None

    @property
    def footprint(self) -> frozenset[int]:
        """The emulator CPUs that are not isolated pCPUs."""
        return frozenset(self.cpus or ()) - self.reserved


def _emulator(
    guest: config.LibvirtConfigGuest,
    cells: list[objects.InstanceNUMACell] | None,
    exclusive: set[int],
    floating_pins: list[frozenset[int]],
    host: _Host,
    reading: _Reading,
) -> _Emulator:
    """Which emulator policy ``<emulatorpin>`` shows; isolated pCPUs go into ``cells``.

    The vCPUs' own CPUs (the default rule, or ``hw:emulator_threads_mask``): a pinned
    vCPU's pCPU, or all of a floating vCPU's CPUs. Otherwise, off every pinned pCPU:
    the one pool pCPU, the shared set, or isolated pCPUs. On a host with neither
    ``[compute]`` set a floating vCPU's CPUs include every pCPU of its cell, so an
    isolated pCPU is recognised by covering no floating vCPU's CPUs.
    """
    pin = guest.cputune.emulatorpin if guest.cputune is not None else None
    if pin is None:
        default = None if guest.cpuset is None else frozenset(guest.cpuset)
        if default is None and cells is not None:
            reading.add(
                EMULATOR_PIN,
                "the domain has no <emulatorpin> and no <vcpu cpuset>: its emulator "
                "threads may run on any host CPU",
            )
        return _Emulator(cpus=default)
    cpus = frozenset(pin.cpuset)
    vcpu_cpus = exclusive | set().union(*floating_pins)
    if cells is None:
        return _Emulator(cpus=cpus)
    if cpus <= vcpu_cpus and (cpus & exclusive or any(p <= cpus for p in floating_pins)):
        return _Emulator(cpus=cpus)
    if cpus & exclusive:
        reading.add(
            EMULATOR_PIN,
            f"<emulatorpin> {describe_cpus(cpus)} mixes the vCPUs' CPUs "
            f"({describe_cpus(cpus & exclusive)}) with others ({describe_cpus(cpus - vcpu_cpus)})",
        )
        return _Emulator(cpus=cpus)
    pool = frozenset().union(*host.pool.values())
    if len(cpus) == 1 and cpus <= pool:
        return _Emulator(_EMULATOR.POOL, cpus, pool_cpu=next(iter(cpus)))
    # With neither [compute] set, every CPU is both a pCPU and a shared CPU; emulator
    # threads off the vCPUs' pCPUs are then isolated (share would use the vCPUs' own).
    if cpus <= host.all_shared and host.all_shared != host.all_pcpus:
        return _Emulator(_EMULATOR.SHARE, cpus)
    if cpus <= host.all_pcpus:
        _reserve(cpus, cells, host, reading, "the emulator threads")
        return _Emulator(_EMULATOR.ISOLATE, cpus, reserved=cpus)
    reading.add(
        EMULATOR_PIN,
        f"<emulatorpin> {describe_cpus(cpus)} is neither the vCPUs' CPUs, nor pCPUs of "
        f"cpu_dedicated_set, nor the emulator pool, nor cpu_shared_set",
    )
    return _Emulator(cpus=cpus)


def _reserve(
    cpus: frozenset[int],
    cells: list[objects.InstanceNUMACell],
    host: _Host,
    reading: _Reading,
    what: str,
) -> None:
    """Add pCPUs isolated for ``what`` to the reserved pCPUs of the guest cell on their
    host cell."""
    remaining = set(cpus)
    for cell in cells:
        mine = remaining & host.pcpus.get(cell.id, frozenset())
        if mine and cell.cpu_policy is None:
            reading.add(
                EMULATOR_PIN,
                f"{what} are isolated on pCPU(s) {describe_cpus(mine)}, "
                "but no vCPU of the guest is pinned; os-numa isolates them only for pinned guests",
            )
        elif mine:
            cell.cpuset_reserved = set(cell.cpuset_reserved or ()) | mine
        remaining -= mine
    if remaining:
        reading.add(
            EMULATOR_PIN,
            f"the pCPU(s) {describe_cpus(remaining)} of {what} are on a host cell none of the "
            "guest's cells is on",
        )


def _iothreads(
    guest: config.LibvirtConfigGuest,
    cells: list[objects.InstanceNUMACell] | None,
    exclusive: set[int],
    emulator: _Emulator,
    host: _Host,
    reading: _Reading,
) -> tuple[frozenset[int], frozenset[int]]:
    """(pCPUs isolated for I/O threads, other CPUs I/O threads may run on).

    ``hw:iothreads_policy=isolate`` pins each I/O thread on a pCPU of its own, away
    from the vCPUs and the emulator threads; those are recorded in ``cells``.
    """
    pins = guest.cputune.iothreadpin if guest.cputune is not None else []
    cpus = frozenset().union(*(frozenset(p.cpuset) for p in pins))
    own = {next(iter(p.cpuset)) for p in pins if len(p.cpuset) == 1}
    isolated = (
        cells is not None
        and pins
        and len(own) == len(pins)
        and own <= host.all_pcpus
        and not own & exclusive
        and not own & (emulator.cpus or frozenset())
        and not (own <= host.all_shared and host.all_shared != host.all_pcpus)
    )
    if not isolated or cells is None:
        return frozenset(), cpus
    _reserve(frozenset(own), cells, host, reading, "the I/O threads")
    return frozenset(own), frozenset()


def _check_runs_on_dedicated(
    shared: set[int] | None,
    exclusive: set[int],
    host: _Host,
    reading: _Reading,
    numa: bool,
) -> None:
    """Drift when threads other than pinned vCPUs may run on dedicated pCPUs."""
    if shared is None:
        if host.dedicated_only:
            reading.add(
                RUNS_ON_DEDICATED,
                "some of its vCPU or emulator threads are confined to no CPU set, so they "
                f"may run on the dedicated pCPUs {describe_cpus(host.dedicated_only)}",
            )
        return
    on_dedicated = (shared & host.dedicated_only) - exclusive
    if on_dedicated:
        what = "threads" if numa else "vCPUs and emulator threads (no guest NUMA cells)"
        reading.add(
            RUNS_ON_DEDICATED,
            f"its {what} may run on pCPU(s) {describe_cpus(on_dedicated)} of cpu_dedicated_set, "
            "which os-numa does not account to it",
        )
    unknown = shared - host.all_shared - host.all_pcpus
    if unknown and not numa:
        reading.add(
            OUTSIDE_SHARED_SET,
            f"its vCPUs may run on host CPU(s) {describe_cpus(unknown)}, outside cpu_shared_set "
            f"({describe_cpus(host.all_shared)})",
        )


def _pci_addresses(root: etree._Element) -> tuple[str, ...]:
    """The host addresses (``0000:18:00.0``) of the domain's PCI ``<hostdev>`` functions."""
    from_devices = root.find("devices")
    addresses = []
    for el in from_devices.iter("hostdev") if from_devices is not None else ():
        if (el.get("mode"), el.get("type")) != ("subsystem", "pci"):
            continue
        dev = config_devices.LibvirtConfigGuestHostdevPCI.parse_dom(el)
        addresses.append(
            str(PciAddress(domain=dev.domain, bus=dev.bus, slot=dev.slot, function=dev.function))
        )
    return tuple(addresses)


#: Page sizes below this many KiB are a host's small pages (4 KiB on x86, 64 KiB on
#: some ARM and POWER hosts); a placement's small-page size leaves no trace in the XML.
SMALL_PAGE_LIMIT_KB = 1024


@dataclass(frozen=True)
class EnforcedCell:
    """What libvirt's XML shows of one placed guest cell."""

    host_cell: int
    pinning: tuple[tuple[int, int], ...]  # (vCPU, pCPU), by vCPU
    floating: frozenset[int]
    memory_mb: int
    huge_page_kb: int | None
    emulator_pcpus: frozenset[int]


def enforced(placement: objects.InstanceNUMATopology | None) -> tuple:
    """The part of a placement libvirt enforces, comparable with ``==``.

    Thread policy, the emulator mask and small-page requests are left out: the
    domain XML cannot show them.
    """
    if placement is None:
        return ((), None)
    cells = tuple(
        EnforcedCell(
            host_cell=cell.id,
            pinning=tuple(sorted((cell.cpu_pinning or {}).items())),
            floating=frozenset(cell.cpuset),
            memory_mb=cell.memory,
            huge_page_kb=(
                cell.pagesize if cell.pagesize and cell.pagesize >= SMALL_PAGE_LIMIT_KB else None
            ),
            emulator_pcpus=frozenset(cell.cpuset_reserved or ()),
        )
        for cell in placement.cells
    )
    return (cells, getattr(placement, "emulator_pool_cpu", None))


def differences(
    claimed: objects.InstanceNUMATopology | None, found: objects.InstanceNUMATopology | None
) -> list[str]:
    """Sentences naming where a claimed placement and one read from a domain differ
    (in what libvirt enforces); empty when they agree."""
    (ours, our_pool), (theirs, their_pool) = enforced(claimed), enforced(found)
    if (ours, our_pool) == (theirs, their_pool):
        return []
    if len(ours) != len(theirs) or [c.host_cell for c in ours] != [c.host_cell for c in theirs]:
        return [
            f"guest cells on host cells: claimed {[c.host_cell for c in ours]}, libvirt has "
            f"{[c.host_cell for c in theirs]}"
        ]
    found_differences = []
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        for name in ("pinning", "floating", "memory_mb", "huge_page_kb", "emulator_pcpus"):
            a, b = getattr(mine, name), getattr(other, name)
            if a != b:
                shown = (
                    (dict(a), dict(b))
                    if name == "pinning"
                    else (describe_cpus(a), describe_cpus(b))
                    if isinstance(a, frozenset)
                    else (a, b)
                )
                found_differences.append(
                    f"guest cell {index} {name.replace('_', ' ')}: claimed {shown[0]}, "
                    f"libvirt has {shown[1]}"
                )
    if our_pool != their_pool:
        found_differences.append(
            f"emulator pool pCPU: claimed {our_pool}, libvirt has {their_pool}"
        )
    return found_differences


#: The XML namespace of :func:`placement_metadata`.
METADATA_NS = "urn:os-numa:placement:1"
_THREAD = fields.CPUThreadAllocationPolicy


def placement_metadata(placement: objects.InstanceNUMATopology) -> str:
    """A ``<metadata>`` child recording what the XML cannot show of ``placement``.

    Thread policy ``isolate`` holds the pinned pCPUs' SMT siblings, and
    ``hw:emulator_threads_mask`` picks the emulator's vCPUs; neither leaves a
    trace of its own in ``<cputune>``. A driver that adds this element to the
    domain's ``<metadata>`` lets :func:`read_domain` (and a restart from
    libvirt alone) restore them exactly::

        guest.extra_children.append(("uuid", f"<metadata>{placement_metadata(p)}</metadata>"))
    """
    root = etree.Element(f"{{{METADATA_NS}}}placement", nsmap={"osnuma": METADATA_NS})
    for index, cell in enumerate(placement.cells):
        child = etree.SubElement(root, f"{{{METADATA_NS}}}cell", {"index": str(index)})
        if cell.cpu_thread_policy:
            child.set("thread-policy", cell.cpu_thread_policy)
    mask = getattr(placement, "emulator_threads_mask", None)
    if mask:
        root.set("emulator-mask", cpuset_mod.format_cpu_spec(mask))
    return etree.tostring(root, encoding="unicode")


def _apply_hints(
    root: etree._Element,
    placement: objects.InstanceNUMATopology,
    host: _Host,
    reading: _Reading,
) -> set[int]:
    """Apply :func:`placement_metadata` found in the domain; returns the pCPUs it adds
    to the domain's hold (the siblings thread policy ``isolate`` keeps free)."""
    hints = root.find(f"metadata/{{{METADATA_NS}}}placement")
    if hints is None:
        return set()
    held: set[int] = set()
    for child in hints.findall(f"{{{METADATA_NS}}}cell"):
        index, policy = child.get("index", ""), child.get("thread-policy")
        if not index.isascii() or not index.isdigit() or int(index) >= len(placement.cells):
            reading.add(
                METADATA,
                f"its os-numa metadata names guest cell {index[:20]!r}, which it does not have",
            )
            continue
        cell = placement.cells[int(index)]
        if policy is None or cell.cpu_policy is None:
            continue
        if policy not in _THREAD.ALL:
            reading.add(METADATA, f"its os-numa metadata has thread policy {policy[:20]!r}")
            continue
        cell.cpu_thread_policy = policy
        if policy == _THREAD.ISOLATE:
            for pcpu in (cell.cpu_pinning or {}).values():
                held |= host.cores.get(pcpu, frozenset({pcpu}))
            for pcpu in cell.cpuset_reserved or ():
                held |= host.cores.get(pcpu, frozenset({pcpu}))
    mask = hints.get("emulator-mask")
    if mask:
        try:
            placement.emulator_threads_mask = cpuset_mod.parse_cpu_spec(mask)
        except exception.InvalidCPUSpec as exc:
            reading.add(METADATA, f"its os-numa metadata has a bad emulator mask: {exc}")
    return held
