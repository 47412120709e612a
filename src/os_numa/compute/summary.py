"""Immutable snapshots of a host's usage, as the resource tracker reports it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from os_numa.compute.claims import Claim
from os_numa.compute.instance import Resources
from os_numa.objects import NUMACell, NUMATopology


@dataclass(frozen=True)
class CellUsage:
    """One host cell's usage.

    ``pinned_cpus`` holds every pinned pCPU (vCPUs, emulator pCPUs, and the
    siblings thread policy ``isolate`` consumes); ``emulator_cpus`` the subset
    reserved for emulator threads; ``cpu_usage`` counts floating vCPUs;
    ``pages_used`` pairs each page size (KiB) with the pages used, smallest first.
    """

    id: int
    pinned_cpus: frozenset[int]
    emulator_cpus: frozenset[int]
    memory_mb: int
    pages_used: tuple[tuple[int, int], ...]
    cpu_usage: int
    emulator_pool: tuple[tuple[int, int], ...] = ()

    def pages_used_of(self, size_kb: int) -> int:
        """Pages of ``size_kb`` in use (0 for a size the cell does not have)."""
        return dict(self.pages_used).get(size_kb, 0)


@dataclass(frozen=True)
class Usage:
    """A host's usage at one moment.

    ``vcpus``, ``memory_mb`` and ``disk_gb`` are host-wide totals *including*
    ``overhead`` (what the driver's ``estimate_instance_overhead`` added);
    ``instances`` the uuids holding a claim (an instance claim or a move
    claim), ``incoming`` those holding a move claim; ``cells`` the per-cell usage,
    sorted by cell id.
    """

    instances: frozenset[str]
    vcpus: int
    memory_mb: int
    disk_gb: int
    overhead: Resources
    cells: tuple[CellUsage, ...]
    incoming: frozenset[str] = frozenset()

    def cell(self, cell_id: int) -> CellUsage:
        """The usage of host cell ``cell_id``.

        :raises KeyError: no such cell.
        """
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise KeyError(cell_id)


def summarize(host: NUMATopology, claims: Iterable[Claim], moves: Iterable[Claim] = ()) -> Usage:
    """The usage snapshot of ``host`` (already carrying ``claims`` and the move claims
    ``moves``) and the claims' totals."""
    moves = list(moves)
    claims = [*claims, *moves]
    total = sum((claim.total for claim in claims), Resources())
    overhead = sum((claim.overhead for claim in claims), Resources())
    emulator: dict[int, set[int]] = {}
    for claim in claims:
        for cell in claim.placement.cells if claim.placement is not None else ():
            emulator.setdefault(cell.id, set()).update(cell.cpuset_reserved or ())
    cells = tuple(
        CellUsage(
            id=cell.id,
            pinned_cpus=frozenset(cell.pinned_cpus),
            emulator_cpus=frozenset(emulator.get(cell.id, ())),
            memory_mb=cell.memory_usage,
            pages_used=tuple(sorted((pages.size_kb, pages.used) for pages in cell.mempages)),
            cpu_usage=cell.cpu_usage,
            emulator_pool=_pool_load(cell),
        )
        for cell in sorted(host.cells, key=lambda c: c.id)
    )
    return Usage(
        instances=frozenset(claim.instance_uuid for claim in claims),
        vcpus=total.vcpus,
        memory_mb=total.memory_mb,
        disk_gb=total.disk_gb,
        overhead=overhead,
        cells=cells,
        incoming=frozenset(claim.instance_uuid for claim in moves),
    )


def _pool_load(cell: NUMACell) -> tuple[tuple[int, int], ...]:
    # Nova's NUMACell has no emulator pool; neither has a cell from an older primitive.
    cpus = getattr(cell, "emulator_pool_cpus", None) or ()
    return tuple((cpu, cell.emulator_pool_load(cpu)) for cpu in sorted(cpus))
