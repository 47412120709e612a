"""Does one guest cell fit one host cell? Nova's per-cell checks, in Nova's order."""

from __future__ import annotations

from os_numa.fit import cache, memory, packing
from os_numa.fit.outcome import CellFit, Shortfall, pcpus_needed
from os_numa.fit.snapshot import GuestCell, HostCell, Limits
from os_numa.objects import fields


def cell_fit(
    host: HostCell,
    guest: GuestCell,
    reserve: int = 0,
    limits: Limits | None = None,
    realtime: frozenset[int] = frozenset(),
    smt_aware: bool = False,
    cache_aware: bool = False,
) -> CellFit | Shortfall:
    """Fit ``guest`` on ``host`` with ``reserve`` emulator pCPUs; pure and deterministic.

    ``realtime`` and ``smt_aware`` steer the emulator pCPUs off the cores of
    realtime vCPUs (:func:`os_numa.fit.packing.pack`); ``cache_aware`` keeps
    the pCPUs in as few last-level cache banks as possible (:mod:`os_numa.fit.cache`).

    Checks, first failure wins: memory and pages; pinned vCPUs + reserve against
    the cell's pinnable pCPUs; floating vCPUs against its shared CPUs; pinned
    vCPUs + reserve against its free pCPUs, then the thread policy's packing;
    for cells with floating vCPUs, the allocation-ratio ``limits``.
    """
    pagesize = memory.fit_memory(host, guest)
    if isinstance(pagesize, Shortfall):
        return pagesize
    vcpus = len(guest.pinned)
    needed = vcpus + reserve
    if guest.pinning and needed > len(host.pcpuset):
        return Shortfall(
            "pcpus",
            needed,
            len(host.pcpuset),
            f"{pcpus_needed(vcpus, reserve)}, the cell has {len(host.pcpuset)} pinnable pCPUs",
        )
    if guest.floating > host.cpuset_size:
        return Shortfall(
            "shared_cpus",
            guest.floating,
            host.cpuset_size,
            f"{guest.floating} floating vCPUs, the cell has {host.cpuset_size} shared CPUs",
        )
    pinning: packing.Pins = ()
    reserved: tuple[int, ...] = ()
    if guest.pinning:
        if needed > len(host.free):
            return Shortfall(
                "free_pcpus",
                needed,
                len(host.free),
                f"{pcpus_needed(vcpus, reserve)}, {len(host.free)} free",
            )
        packed = (
            cache.pack_in_banks(
                host,
                needed,
                lambda cell: packing.pack(
                    cell, guest.pinned, guest.thread_policy, reserve, realtime, smt_aware
                ),
            )
            if cache_aware
            else packing.pack(host, guest.pinned, guest.thread_policy, reserve, realtime, smt_aware)
        )
        if isinstance(packed, Shortfall):
            return packed
        pinning, reserved = packed
    if limits is not None and guest.policy != fields.CPUAllocationPolicy.DEDICATED:
        shortfall = _check_limits(host, guest, limits)
        if shortfall is not None:
            return shortfall
    return CellFit(pinning, reserved, pagesize)


def _check_limits(host: HostCell, guest: GuestCell, limits: Limits) -> Shortfall | None:
    cpu_limit = host.cpuset_size * limits.cpu_allocation_ratio
    cpu_after = host.cpu_usage + guest.floating
    if cpu_after > cpu_limit:
        return Shortfall(
            "cpu_limit",
            cpu_after,
            cpu_limit,
            f"{guest.floating} floating vCPUs on top of {host.cpu_usage} exceed the limit of "
            f"{cpu_limit:g} ({host.cpuset_size} shared CPUs x {limits.cpu_allocation_ratio:g})",
        )
    ram_limit = host.memory * limits.ram_allocation_ratio
    ram_after = host.memory_usage + guest.memory
    if ram_after > ram_limit:
        return Shortfall(
            "ram_limit",
            ram_after,
            ram_limit,
            f"{guest.memory} MiB on top of {host.memory_usage} MiB exceed the limit of "
            f"{ram_limit:g} MiB ({host.memory} MiB x {limits.ram_allocation_ratio:g})",
        )
    return None
