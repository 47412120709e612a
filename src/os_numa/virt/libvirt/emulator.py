"""Where the emulator threads go beyond Nova's rule: the mask, NUMA-local share, the pool.

Nova's rule (isolate: the reserved pCPUs; share: all of ``cpu_shared_set``;
otherwise the non-realtime vCPUs' pCPUs) is
:func:`os_numa.virt.libvirt.driver.emulatorpin_cpuset`. This module adds what
the blueprints and the 2017 mailing-list thread asked for and Nova never built:

- ``hw:emulator_threads_mask``: the pCPUs of the named vCPUs only (for a
  floating vCPU, its host cell's shared CPUs);
- ``[os_numa] emulator_share_locality = numa``: ``share`` keeps to the shared
  CPUs of the host cells the guest occupies (Nova's ``TODO(berrange)`` about
  cross-node memory traffic), the whole set only when those cells have none;
- ``hw:emulator_threads_policy=pool``: the one pool pCPU the fit chose.

Every function is pure and reads only its arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from os_numa import exception, objects
from os_numa.cpuset import describe_cpus
from os_numa.objects import fields

_EMULATOR = fields.CPUEmulatorThreadsPolicy

#: ``[os_numa] emulator_share_locality`` values.
LOCALITY_NUMA = "numa"
LOCALITY_HOST = "host"


class Placed(Protocol):
    """What these rules read of a placed guest cell (``driver.PlacedCell``), read-only."""

    @property
    def host_cell(self) -> int: ...

    @property
    def pins(self) -> Mapping[int, frozenset[int]]: ...


def mask_cpus(placed: Iterable[Placed], mask: Iterable[int], realtime: Iterable[int]) -> set[int]:
    """The host CPUs of the vCPUs in ``mask``: a pinned vCPU's pCPU, or a floating
    vCPU's shared CPUs.

    :raises InvalidGuestPlacement: the mask names a vCPU the placement lacks,
        or a realtime vCPU (the emulator threads would preempt it).
    """
    mask = set(mask)
    pins = {vcpu: cpus for cell in placed for vcpu, cpus in cell.pins.items()}
    missing = mask - set(pins)
    if missing:
        raise exception.InvalidGuestPlacement(
            reason=f"emulator_threads_mask names vCPU(s) {describe_cpus(missing)}, "
            f"which the placement does not have (its vCPUs are {describe_cpus(pins)})"
        )
    realtime_named = mask & set(realtime)
    if realtime_named:
        raise exception.InvalidGuestPlacement(
            reason=f"emulator_threads_mask names realtime vCPU(s) {describe_cpus(realtime_named)}; "
            "the emulator threads must stay off realtime vCPUs"
        )
    return set().union(*(pins[vcpu] for vcpu in mask))


def local_shared_cpus(
    shared: set[int],
    placed: Iterable[Placed],
    host_topology: objects.NUMATopology | None,
    locality: str,
) -> set[int]:
    """``share``'s CPUs: with ``numa`` locality, ``shared`` restricted to the guest's
    host cells; all of ``shared`` for ``host`` locality, without a host topology,
    or when none of the guest's host cells has a shared CPU."""
    if locality != LOCALITY_NUMA or host_topology is None:
        return set(shared)
    occupied = {cell.host_cell for cell in placed}
    local = {
        cpu
        for cell in host_topology.cells
        if cell.id in occupied
        for cpu in set(cell.cpuset) & shared
    }
    return local or set(shared)


def pool_cpus(
    topology: objects.InstanceNUMATopology, host_topology: objects.NUMATopology | None
) -> set[int]:
    """``pool``: the pool pCPU the fit chose (``emulator_pool_cpu``).

    :raises EmulatorPinEmpty: the topology has no pool pCPU (a request, not a placement).
    :raises InvalidGuestPlacement: that pCPU is not in the host's emulator pool.
    """
    cpu = getattr(topology, "emulator_pool_cpu", None)
    if cpu is None:
        raise exception.EmulatorPinEmpty(
            reason="hw:emulator_threads_policy=pool, but the topology has no "
            "emulator_pool_cpu; pass the placement numa_fit_instance_to_host returned"
        )
    if host_topology is not None:
        pool = {c for cell in host_topology.cells for c in cell.emulator_pool_cpus}
        if cpu not in pool:
            raise exception.InvalidGuestPlacement(
                reason=f"emulator pool pCPU {cpu} is not in the host's emulator pool "
                f"([os_numa] emulator_pin_set: {describe_cpus(pool)})"
            )
    return {cpu}


def emulator_override(
    placed: Sequence[Placed],
    topology: objects.InstanceNUMATopology,
    realtime: set[int],
    host_topology: objects.NUMATopology | None,
) -> set[int] | None:
    """The emulator CPUs when a mask or the pool decides them, else None (Nova's rule applies).

    :raises InvalidGuestPlacement: a mask combined with an emulator-threads
        policy, or see :func:`mask_cpus` and :func:`pool_cpus`.
    :raises EmulatorPinEmpty: see :func:`pool_cpus`.
    """
    mask = getattr(topology, "emulator_threads_mask", None)
    policy = topology.emulator_threads_policy
    if mask:
        if policy:
            raise exception.InvalidGuestPlacement(
                reason=f"emulator_threads_mask {describe_cpus(mask)} and emulator_threads_policy "
                f"{policy!r} both say where the emulator threads go; keep one"
            )
        return mask_cpus(placed, mask, realtime)
    if policy == _EMULATOR.POOL:
        return pool_cpus(topology, host_topology)
    return None
