"""The host-wide emulator pool: where a ``hw:emulator_threads_policy=pool`` guest's
emulator threads go.

The pool is ``[os_numa] emulator_pin_set`` (see
:func:`os_numa.virt.libvirt.host.host_topology_from_capabilities`); each host
cell carries its pool pCPUs, how many guests each already holds and how many
it may hold (``emulator_pool_overcommit``). The mailing list's
``rt_emulator_vcpu_pin_set`` / ``rt_emulator_overcommit_ratio`` idea, which
Nova never built.

The choice does not depend on which host cells the guest lands on for
*feasibility* (any pool pCPU with room will do), only for *preference*, so
the fit checks the pool once, before its search, and picks the pCPU after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from os_numa.objects.fast import read_fields


class PoolCPU(NamedTuple):
    """One pCPU of the emulator pool: its host cell, the guests it holds and may hold."""

    cpu: int
    cell: int
    load: int
    capacity: int

    @property
    def has_room(self) -> bool:
        return self.load < self.capacity


class EmulatorPool(NamedTuple):
    """Every pool pCPU of a host, by pCPU id."""

    cpus: tuple[PoolCPU, ...]

    @property
    def capacity(self) -> int:
        return sum(p.capacity for p in self.cpus)

    @property
    def placed(self) -> int:
        return sum(p.load for p in self.cpus)

    def shortfall(self) -> str | None:
        """Why no guest can join the pool now, or None when one can."""
        if not self.cpus:
            return (
                "no emulator pool: hw:emulator_threads_policy=pool needs pCPUs in "
                "[os_numa] emulator_pin_set, and this host has none"
            )
        if any(p.has_room for p in self.cpus):
            return None
        ratios = {p.capacity for p in self.cpus}
        size = len(self.cpus)
        pcpus = f"{size} pCPU{'s' if size != 1 else ''}"
        if len(ratios) == 1:
            holds = f"{pcpus} x overcommit {ratios.pop()} = {self.capacity} guests"
        else:
            holds = f"{pcpus} holding {self.capacity} guests"
        return f"emulator pool full: {holds}, {self.placed} placed"

    def choose(self, host_cells: Sequence[int]) -> int | None:
        """The pool pCPU for a guest whose guest cells sit on ``host_cells`` (in guest order).

        Among pCPUs with room: those of guest cell 0's host cell first, then
        those of the guest's other host cells, then any; within each, the least
        loaded; ties go to the lowest pCPU id. None when the pool is full.
        """
        first = host_cells[0] if host_cells else None
        occupied = set(host_cells)

        def rank(p: PoolCPU) -> tuple[int, int, int]:
            near = 0 if p.cell == first else 1 if p.cell in occupied else 2
            return (near, p.load, p.cpu)

        candidates = [p for p in self.cpus if p.has_room]
        return min(candidates, key=rank).cpu if candidates else None


def emulator_pool(host_topology) -> EmulatorPool:
    """Snapshot the pool of a host ``NUMATopology`` (empty for hosts without one).

    Cells from before the pool existed (no ``emulator_pool_cpus`` field) hold none.
    """
    cpus: list[PoolCPU] = []
    for cell in read_fields(host_topology, "cells")[0]:
        if "emulator_pool_cpus" not in cell.fields:
            continue
        cell_id, pool, guests, overcommit = read_fields(
            cell, "id", "emulator_pool_cpus", "emulator_pool_guests", "emulator_pool_overcommit"
        )
        cpus.extend(PoolCPU(cpu, cell_id, int(guests.get(str(cpu), 0)), overcommit) for cpu in pool)
    return EmulatorPool(tuple(sorted(cpus)))
