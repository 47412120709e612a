"""Immutable plain-data views of the host and the request, built once per fit.

The versioned objects are slow to read and mutable; the search reads these
instead and builds objects only for its final answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from os_numa import exception, smt
from os_numa.fit.layout import Layout, free_cores, layout_of
from os_numa.objects import fields
from os_numa.objects.fast import FieldReader

_PINNED_POLICIES = frozenset(
    (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)
)


#: Field readers as plain functions (FieldReader.read), bound once.
_HOST_CELL = FieldReader(
    "id", "cpuset", "pcpuset", "pinned_cpus", "cpu_usage", "memory", "memory_usage"
).read
_SIBLINGS = FieldReader("siblings").read
_BANKS = FieldReader("cache_banks", optional=True).read
_MEMPAGES = FieldReader("mempages").read
_PAGES = FieldReader("size_kb", "total", "used", "reserved").read
_CELLS = FieldReader("cells").read
_EMULATOR = FieldReader(
    "emulator_threads_policy",
    "emulator_threads_count",
    "realtime_vcpus",
    "iothreads",
    "iothreads_policy",
    optional=True,
).read
_GUEST_CELL = FieldReader(
    "cpu_policy", "cpu_thread_policy", "pcpuset", "cpuset", "memory", "pagesize"
).read


class Pages(NamedTuple):
    """One page-size pool of a host cell; ``usable`` = ``total`` minus the host's reserve."""

    size_kb: int
    total: int
    free: int
    usable: int


#: HostCell's attributes, named here because a compiled class (the compiled build, see
#: doc/source/install.rst) does not expose ``__slots__`` to its own methods.
_HOST_CELL_SLOTS = (
    "index",
    "id",
    "cpuset_size",
    "pcpuset",
    "free",
    "new_style",
    "cpu_usage",
    "memory",
    "memory_usage",
    "avail_memory",
    "_cell",
    "_layout",
    "_cores",
    "_free",
    "_split",
    "_threads",
    "_pages",
    "_banks",
)


class HostCell:
    """A host cell: ``index`` is its position in ``NUMATopology.cells``, ``id`` its NUMA id.

    What every cell needs for ordering is read at once; the cores and page pools
    are read on first use, so a fit reads them only for the cells it tries.
    Nothing here changes after it is read.
    """

    __slots__ = _HOST_CELL_SLOTS

    def __init__(self, index: int, cell) -> None:
        cell_id, cpuset, pcpuset, pinned, cpu_usage, memory, memory_usage = _HOST_CELL(cell)
        pcpuset = frozenset(pcpuset)
        self.index = index
        self.id: int = cell_id
        self.cpuset_size = len(cpuset)
        self.pcpuset = pcpuset
        self.free = pcpuset.difference(pinned)
        self.new_style = pcpuset != cpuset
        self.cpu_usage: int = cpu_usage
        self.memory: int = memory
        self.memory_usage: int = memory_usage
        self.avail_memory: int = memory - memory_usage
        self._cell = cell
        self._layout: Layout | None = None
        self._cores: tuple[smt.Core, ...] | None = None
        self._free: smt.FreeCores | None = None
        self._split: frozenset[smt.Core] = frozenset()
        self._threads = 0
        self._pages: tuple[Pages, ...] | None = None
        self._banks: tuple[frozenset[int], ...] | None = None

    @property
    def cache_banks(self) -> tuple[frozenset[int], ...]:
        """The cell's last-level cache banks (CPU sets), read on demand; () when unknown."""
        banks = self._banks
        if banks is None:
            (read,) = _BANKS(self._cell)
            banks = self._banks = tuple(map(frozenset, read)) if read else ()
        return banks

    def restricted(self, cpus: frozenset[int]) -> HostCell:
        """This cell with only ``cpus`` free (the rest as if pinned), for a search that
        must stay inside some CPUs (a cache bank); cores and pages are shared."""
        copy = HostCell(self.index, self._cell)  # compiled, a class has no bare __new__
        for name in _HOST_CELL_SLOTS:
            setattr(copy, name, getattr(self, name))
        copy.free = self.free & cpus
        copy._free = None
        return copy

    @property
    def cores(self) -> tuple[smt.Core, ...]:
        """Sibling groups within ``pcpuset``, sorted by lowest pCPU."""
        cores = self._cores
        if cores is None:
            cores = self._read_cores()
        return cores

    def _read_cores(self) -> tuple[smt.Core, ...]:
        (siblings,) = _SIBLINGS(self._cell)
        # Threads of the real cores, shared CPUs included (as Nova counts them):
        # a pCPU whose sibling is a shared CPU is on a two-thread core.
        # (Derived once per distinct siblings and pcpuset: see os_numa.fit.layout.)
        layout = self._layout = layout_of(siblings, self.pcpuset)
        cores = self._cores = layout.cores
        self._split = layout.split
        self._threads = layout.threads
        return cores

    @property
    def layout(self) -> Layout:
        """The cell's core layout (:func:`os_numa.fit.layout.layout_of`), read on first use."""
        layout = self._layout
        if layout is None:
            self._read_cores()
            layout = self._layout
            assert layout is not None
        return layout

    @property
    def core_of(self) -> Mapping[int, smt.Core]:
        """The core of each pCPU of ``pcpuset``."""
        layout = self._layout
        if layout is None:
            self._read_cores()
            layout = self._layout
            assert layout is not None
        return layout.core_of

    @property
    def split_cores(self) -> frozenset[smt.Core]:
        """Cores (their pCPUs) with a thread outside ``pcpuset``: never whole."""
        if self._cores is None:
            self._read_cores()
        return self._split

    @property
    def free_parts(self) -> tuple[tuple[smt.Core, bool], ...]:
        """Each core's free pCPUs and whether the whole core is free, in core order.

        A core with a thread outside ``pcpuset`` (a shared CPU) is never whole.
        """
        return (self._free or self._read_free()).parts

    @property
    def free_cores(self) -> tuple[smt.Core, ...]:
        """Each core's free pCPUs, for cores with any, in core order."""
        return (self._free or self._read_free()).cores

    @property
    def whole_cores(self) -> tuple[smt.Core, ...]:
        """Cores every thread of which is free, in core order."""
        return (self._free or self._read_free()).whole

    def _read_free(self) -> smt.FreeCores:
        if self._layout is None:
            self._read_cores()
        layout = self._layout
        assert layout is not None
        if len(self.free) == len(self.pcpuset):  # nothing pinned: the layout knows
            result = self._free = layout.all_free
        else:
            result = self._free = free_cores(layout, self.free)
        return result

    @property
    def threads(self) -> int:
        """Threads of the largest real core (1 without SMT), shared CPUs included."""
        if self._cores is None:
            self._read_cores()
        return self._threads

    @property
    def pages(self) -> tuple[Pages, ...]:
        """Page pools, smallest size first."""
        pages = self._pages
        if pages is None:
            pools = []
            for pool in _MEMPAGES(self._cell)[0]:
                size_kb, total, used, reserved = _PAGES(pool)
                pools.append(Pages(size_kb, total, total - used - reserved, total - reserved))
            if len(pools) > 1:
                pools.sort()
            pages = self._pages = tuple(pools)
        return pages


class GuestCell(NamedTuple):
    """A requested guest cell: ``pinned`` are the vCPU ids to pin, sorted."""

    index: int  # type: ignore[assignment]  # shadows tuple.index; the field wins at run time
    policy: str | None
    thread_policy: str | None
    pinned: tuple[int, ...]
    floating_vcpus: frozenset[int]
    memory: int
    pagesize: int | None
    #: How many floating vCPUs (``len(floating_vcpus)``).
    floating: int
    #: Whether the cell pins vCPUs (policy ``dedicated`` or ``mixed``).
    pinning: bool


class Limits(NamedTuple):
    cpu_allocation_ratio: float
    ram_allocation_ratio: float


def host_cells(host_topology) -> tuple[HostCell, ...]:
    """Snapshot every cell of a ``NUMATopology``."""
    (cells,) = _CELLS(host_topology)
    return tuple(map(HostCell, range(len(cells)), cells))


def guest_cells(instance_topology) -> tuple[GuestCell, ...]:
    """Snapshot every cell of a requested ``InstanceNUMATopology``.

    :raises InvalidRequest: a cell's vCPU sets contradict its CPU policy.
    """
    cells = []
    for index, cell in enumerate(_CELLS(instance_topology)[0]):
        policy, thread_policy, pcpuset, cpuset, memory, pagesize = _GUEST_CELL(cell)
        pinned = tuple(sorted(pcpuset))
        floating = frozenset(cpuset)
        if policy not in _PINNED_POLICIES and pinned:
            raise exception.InvalidRequest(
                reason=f"guest cell {index} has pinned vCPUs {list(pinned)} but cpu_policy "
                f"{policy!r}; only 'dedicated' or 'mixed' cells may have pinned vCPUs"
            )
        if policy == fields.CPUAllocationPolicy.DEDICATED and floating:
            raise exception.InvalidRequest(
                reason=f"guest cell {index} has cpu_policy 'dedicated' but floating vCPUs "
                f"{sorted(floating)}; a dedicated cell lists its vCPUs in pcpuset"
            )
        cells.append(
            GuestCell(
                index,
                policy,
                thread_policy,
                pinned,
                floating,
                memory,
                pagesize,
                len(floating),
                policy in _PINNED_POLICIES,
            )
        )
    return tuple(cells)


class EmulatorRequest(NamedTuple):
    """What the request asks for its emulator threads (and its isolated I/O threads)."""

    policy: str | None
    count: int | None  # type: ignore[assignment]  # shadows tuple.count; the field wins at run time
    realtime: frozenset[int]
    #: pCPUs of ``hw:iothreads_policy=isolate`` I/O threads, reserved like emulator pCPUs.
    iothread_pcpus: int = 0


def emulator_request(instance_topology) -> EmulatorRequest:
    """The emulator policy, ``emulator_threads_count`` and ``realtime_vcpus`` of a request.

    Fields an older object lacks read as unset.
    """
    policy, count, realtime, iothreads, iothreads_policy = _EMULATOR(instance_topology)
    io = (iothreads or 1) if iothreads_policy == "isolate" else 0
    return EmulatorRequest(policy, count, frozenset(realtime or ()), io)


def emulator_reserve(emulator: EmulatorRequest, guests: tuple[GuestCell, ...]) -> int:
    """pCPUs to reserve for emulator threads beside guest cell 0.

    0 unless the policy is ``isolate``; then ``emulator_threads_count``
    (``hw:emulator_threads_count``), where None (unset) means Nova's one pCPU.
    Plus one pCPU per I/O thread under ``hw:iothreads_policy=isolate``.

    :raises BadRequirementEmulatorThreadsPolicy: ``isolate`` but guest cell 0 pins nothing.
    :raises InvalidEmulatorThreadsCount: a count below 1.
    """
    io = emulator.iothread_pcpus
    if io and guests and not guests[0].pinning:
        raise exception.InvalidIOThreadsPolicy(
            policy="isolate", reason=f"guest cell 0 pins no vCPU (cpu_policy {guests[0].policy!r})"
        )
    if emulator.policy != fields.CPUEmulatorThreadsPolicy.ISOLATE:
        return io
    if guests and not guests[0].pinning:
        raise exception.BadRequirementEmulatorThreadsPolicy(
            policy="isolate", cpu_policy=guests[0].policy
        )
    if emulator.count is None:
        return 1 + io
    if emulator.count < 1:
        raise exception.InvalidEmulatorThreadsCount(
            count=emulator.count, reason="at least 1 pCPU is reserved with isolate"
        )
    return emulator.count + io


def limits_of(limits) -> Limits | None:
    """Snapshot ``NUMATopologyLimits`` (or any object with the two ratios)."""
    if limits is None:
        return None
    return Limits(float(limits.cpu_allocation_ratio), float(limits.ram_allocation_ratio))
