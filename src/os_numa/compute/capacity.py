"""Host-wide capacity: the driver's overhead counts like any other usage.

The fit checks each host cell for the guest's own vCPUs, memory and pages; the
driver's overhead (``estimate_instance_overhead``) is known only once the
placement is, and a guest without a NUMA request has no cell to check at all.
:func:`check` closes both gaps with host-wide sums over every claim:

- memory: flavor memory plus overhead memory of every claim, against the host's
  memory (the sum of its cells) times ``ram_allocation_ratio`` (1 without limits);
- pCPUs: the pinned pCPUs of the host cells (vCPUs, emulator pCPUs, siblings
  ``isolate`` takes) plus the overhead vCPUs of pinned guests that no reserved
  emulator pCPU stands for, against the pCPUs of the dedicated set;
- floating vCPUs (only with limits, as the fit): floating vCPUs of NUMA guests,
  the vCPUs of guests without one, and the overhead vCPUs of guests that pin
  nothing, against the shared CPUs times ``cpu_allocation_ratio``.

Pure functions of their arguments; the tracker adds the lock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from os_numa import exception
from os_numa.compute.claims import Claim
from os_numa.objects import NUMATopology, NUMATopologyLimits


@dataclass(frozen=True)
class Capacity:
    """What a host offers in all: MiB of memory, pCPUs, floating vCPUs (None: unbounded)."""

    memory_mb: int
    pcpus: int
    floating_vcpus: int | None
    ram_allocation_ratio: float = 1.0

    @classmethod
    def of(cls, host: NUMATopology, limits: NUMATopologyLimits | None = None) -> Capacity:
        """The capacity of ``host`` (its cells before any usage) under ``limits``."""
        ram_ratio = 1.0 if limits is None else float(limits.ram_allocation_ratio)
        pcpus = set().union(*(set(cell.pcpuset) for cell in host.cells))
        shared = set().union(*(set(cell.cpuset) for cell in host.cells))
        return cls(
            memory_mb=math.floor(sum(cell.memory for cell in host.cells) * ram_ratio),
            pcpus=len(pcpus),
            floating_vcpus=(
                None
                if limits is None
                else math.floor(len(shared) * float(limits.cpu_allocation_ratio))
            ),
            ram_allocation_ratio=ram_ratio,
        )


def _pins(claim: Claim) -> bool:
    return claim.pins


def unbacked_overhead_vcpus(claim: Claim) -> int:
    """The claim's overhead vCPUs that no reserved emulator pCPU of its placement stands for."""
    return claim.unbacked_overhead_vcpus


def _floating_vcpus(claim: Claim) -> int:
    """Floating vCPUs the claim adds host-wide that no host cell counts."""
    if claim.placement is None:
        return claim.resources.vcpus + claim.overhead.vcpus
    return 0 if _pins(claim) else unbacked_overhead_vcpus(claim)


def _refuse(claim: Claim, driver: Any, what: str, own: str, total: int, capacity: str) -> None:
    name = type(driver).__name__
    raise exception.InsufficientHostCapacity(
        instance=claim.instance_uuid,
        reason=f"{what}: it needs {own} ({name}.estimate_instance_overhead); with it the host "
        f"would use {total} of {capacity}",
    )


def check(
    host: NUMATopology,
    claims: Sequence[Claim],
    capacity: Capacity,
    newest: Claim,
    driver: Any = None,
) -> None:
    """Refuse ``newest`` when ``claims`` (``newest`` among them) exceed ``capacity``.

    ``host`` is the host topology with every claim applied.

    :raises InsufficientHostCapacity: memory, pCPUs or floating vCPUs are short;
        the message names the instance, its flavor share and its driver overhead.
    """
    memory = sum(claim.total.memory_mb for claim in claims)
    if memory > capacity.memory_mb:
        _refuse(
            newest,
            driver,
            "memory",
            f"{newest.resources.memory_mb} MiB + {newest.overhead.memory_mb} MiB of driver "
            "overhead",
            memory,
            f"{capacity.memory_mb} MiB (ram_allocation_ratio {capacity.ram_allocation_ratio:g})",
        )
    pinned = sum(len(cell.pinned_cpus) for cell in host.cells)
    pinned += sum(unbacked_overhead_vcpus(claim) for claim in claims if _pins(claim))
    if pinned > capacity.pcpus:
        _refuse(
            newest,
            driver,
            "pCPUs",
            f"{unbacked_overhead_vcpus(newest)} pCPU(s) of driver overhead beyond its pinned ones",
            pinned,
            f"{capacity.pcpus} pCPUs (cpu_dedicated_set)",
        )
    if capacity.floating_vcpus is None:
        return
    floating = sum(cell.cpu_usage for cell in host.cells)
    floating += sum(_floating_vcpus(claim) for claim in claims)
    if floating > capacity.floating_vcpus:
        _refuse(
            newest,
            driver,
            "floating vCPUs",
            f"{newest.resources.vcpus} vCPU(s) + {newest.overhead.vcpus} vCPU(s) of driver "
            "overhead",
            floating,
            f"{capacity.floating_vcpus} vCPUs (cpu_shared_set x cpu_allocation_ratio)",
        )
