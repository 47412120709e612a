"""Immutable plain-data views of the host and the request, built once per fit.

The versioned objects are slow to read and mutable; the search reads these
instead and builds objects only for its final answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from os_numa import exception, topology
from os_numa.objects import fields

_PINNED_POLICIES = (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)


class Pages(NamedTuple):
    """One page-size pool of a host cell."""

    size_kb: int
    total: int
    free: int


@dataclass(frozen=True, slots=True)
class HostCell:
    """A host cell: ``index`` is its position in ``NUMATopology.cells``, ``id`` its NUMA id."""

    index: int
    id: int
    cpuset_size: int
    pcpuset: frozenset[int]
    free: frozenset[int]
    cores: tuple[topology.Core, ...]
    threads: int
    new_style: bool
    cpu_usage: int
    memory: int
    memory_usage: int
    pages: tuple[Pages, ...]

    @property
    def avail_memory(self) -> int:
        return self.memory - self.memory_usage


@dataclass(frozen=True, slots=True)
class GuestCell:
    """A requested guest cell: ``pinned`` are the vCPU ids to pin, sorted."""

    index: int
    policy: str | None
    thread_policy: str | None
    pinned: tuple[int, ...]
    floating: int
    memory: int
    pagesize: int | None

    @property
    def pinning(self) -> bool:
        return self.policy in _PINNED_POLICIES


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_allocation_ratio: float
    ram_allocation_ratio: float


def host_cells(host_topology) -> tuple[HostCell, ...]:
    """Snapshot every cell of a ``NUMATopology``."""
    cells = []
    for index, cell in enumerate(host_topology.cells):
        pcpuset = frozenset(cell.pcpuset)
        cpuset = frozenset(cell.cpuset)
        cores = topology.cores_of(cell.siblings, pcpuset)
        pages = tuple(
            sorted(Pages(p.size_kb, p.total, p.total - p.used - p.reserved) for p in cell.mempages)
        )
        cells.append(
            HostCell(
                index=index,
                id=cell.id,
                cpuset_size=len(cpuset),
                pcpuset=pcpuset,
                free=pcpuset - frozenset(cell.pinned_cpus),
                cores=cores,
                threads=topology.threads_per_core(cores),
                new_style=pcpuset != cpuset,
                cpu_usage=cell.cpu_usage,
                memory=cell.memory,
                memory_usage=cell.memory_usage,
                pages=pages,
            )
        )
    return tuple(cells)


def guest_cells(instance_topology) -> tuple[GuestCell, ...]:
    """Snapshot every cell of a requested ``InstanceNUMATopology``.

    :raises InvalidRequest: a cell's vCPU sets contradict its CPU policy.
    """
    cells = []
    for index, cell in enumerate(instance_topology.cells):
        policy = cell.cpu_policy
        pinned = tuple(sorted(cell.pcpuset))
        floating = len(cell.cpuset)
        if policy not in _PINNED_POLICIES and pinned:
            raise exception.InvalidRequest(
                reason=f"guest cell {index} has pinned vCPUs {list(pinned)} but cpu_policy "
                f"{policy!r}; only 'dedicated' or 'mixed' cells may have pinned vCPUs"
            )
        if policy == fields.CPUAllocationPolicy.DEDICATED and floating:
            raise exception.InvalidRequest(
                reason=f"guest cell {index} has cpu_policy 'dedicated' but floating vCPUs "
                f"{sorted(cell.cpuset)}; a dedicated cell lists its vCPUs in pcpuset"
            )
        cells.append(
            GuestCell(
                index=index,
                policy=policy,
                thread_policy=cell.cpu_thread_policy,
                pinned=pinned,
                floating=floating,
                memory=cell.memory,
                pagesize=cell.pagesize,
            )
        )
    return tuple(cells)


def emulator_reserve(instance_topology, guests: tuple[GuestCell, ...]) -> int:
    """pCPUs to reserve for emulator threads next to guest cell 0: 0, or 1 (or the count).

    :raises BadRequirementEmulatorThreadsPolicy: ``isolate`` but guest cell 0 pins nothing.
    """
    if not instance_topology.emulator_threads_isolated:
        return 0
    if guests and not guests[0].pinning:
        raise exception.BadRequirementEmulatorThreadsPolicy(
            policy="isolate", cpu_policy=guests[0].policy
        )
    count = 1
    if "emulator_threads_count" in instance_topology.fields and instance_topology.obj_attr_is_set(
        "emulator_threads_count"
    ):
        count = instance_topology.emulator_threads_count or 1
    return count


def limits_of(limits) -> Limits | None:
    """Snapshot ``NUMATopologyLimits`` (or any object with the two ratios)."""
    if limits is None:
        return None
    return Limits(float(limits.cpu_allocation_ratio), float(limits.ram_allocation_ratio))
