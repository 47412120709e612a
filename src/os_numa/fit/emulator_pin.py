"""Where a placed guest's emulator threads run: the one home of that decision.

:func:`emulator_cpus` turns what the placement holds (the emulator-threads
policy, the CPUs the fit reserved or chose, the mask, the realtime vCPUs and
every vCPU's pins) and what the host holds (its shared CPUs) into the host
CPUs of ``<emulatorpin>``. The fit makes the choices that need a search
(``isolate``'s reserved pCPUs, ``pool``'s pool pCPU) and records them in the
placement; this module reads them, so the libvirt XML stage
(:func:`os_numa.virt.libvirt.driver.get_guest_numa_config`) has one rule to ask
and nothing to re-read from the flavor.

Nova's rule (``_get_guest_numa_config``) is :func:`nova_rule`: ``isolate``, the
reserved pCPUs; ``share`` with ``[compute] cpu_shared_set``, that set;
otherwise the pCPUs of the non-realtime vCPUs. Beyond Nova, what the blueprints
and the 2017 mailing-list thread asked for and Nova never built:

- ``hw:emulator_threads_mask``: the pCPUs of the named vCPUs only (for a
  floating vCPU, its host cell's shared CPUs; :func:`mask_cpus`);
- ``[os_numa] emulator_share_locality = numa``: ``share`` keeps to the shared
  CPUs of the host cells the guest occupies (Nova's ``TODO(berrange)`` about
  cross-node memory traffic), the whole set only when those cells have none
  (:func:`local_shared_cpus`);
- ``hw:emulator_threads_policy=pool``: the one pool pCPU the fit chose
  (:func:`pool_cpus`).

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
    """What these rules read of a placed guest cell
    (:class:`os_numa.virt.libvirt.driver.PlacedCell`), read-only."""

    @property
    def host_cell(self) -> int: ...

    @property
    def pins(self) -> Mapping[int, frozenset[int]]: ...

    @property
    def reserved(self) -> frozenset[int]: ...


def emulator_cpus(
    placed: Sequence[Placed],
    topology: objects.InstanceNUMATopology,
    shared_cpus: set[int] | None,
    host_topology: objects.NUMATopology | None = None,
    locality: str = LOCALITY_NUMA,
) -> set[int]:
    """The host CPUs of the emulator threads (and of I/O threads that share them).

    ``placed`` are the placement's cells with every vCPU's host CPUs,
    ``topology`` the placement itself (its ``emulator_threads_policy``,
    ``emulator_threads_mask``, ``emulator_pool_cpu`` and ``realtime_vcpus``);
    ``shared_cpus`` the host's online ``[compute] cpu_shared_set`` (None:
    unset), ``host_topology`` the host (its cells' shared CPUs for
    ``locality``, its emulator pool), ``locality`` ``[os_numa]
    emulator_share_locality``.

    :raises InvalidGuestPlacement: see :func:`emulator_override`.
    :raises EmulatorPinEmpty: see :func:`nova_rule` and :func:`pool_cpus`.
    """
    realtime = set(topology.realtime_vcpus or ())
    override = emulator_override(placed, topology, realtime, host_topology)
    if override is not None:
        return override
    policy = topology.emulator_threads_policy
    if policy == _EMULATOR.SHARE and shared_cpus is not None:
        shared_cpus = local_shared_cpus(shared_cpus, placed, host_topology, locality)
    return nova_rule(placed, policy, realtime, shared_cpus)


def nova_rule(
    placed: Sequence[Placed],
    emulator_policy: str | None,
    realtime_vcpus: set[int],
    shared_cpus: set[int] | None,
) -> set[int]:
    """Nova's rule: the host CPUs of the emulator threads without mask or pool.

    ``isolate``: the pCPU(s) reserved with guest cell 0. ``share`` with
    ``cpu_shared_set``: ``shared_cpus``. Otherwise: the CPUs of every
    non-realtime vCPU's ``<vcpupin>``.

    :raises EmulatorPinEmpty: isolate without a reserved pCPU in guest cell 0,
        or every vCPU realtime with nowhere else to go (realtime + share
        without ``cpu_shared_set``); Nova writes ``cpuset=""`` for both.
    """
    if emulator_policy == _EMULATOR.ISOLATE:
        if not placed or not placed[0].reserved:
            raise exception.EmulatorPinEmpty(
                reason="hw:emulator_threads_policy=isolate, but guest cell 0 has no "
                "cpuset_reserved; pass the placement numa_fit_instance_to_host returned"
            )
        return set().union(*(cell.reserved for cell in placed))
    if emulator_policy == _EMULATOR.SHARE and shared_cpus is not None:
        return set(shared_cpus)
    cpus = {
        cpu
        for cell in placed
        for vcpu, pin in cell.pins.items()
        if vcpu not in realtime_vcpus
        for cpu in pin
    }
    if not cpus:
        raise exception.EmulatorPinEmpty(
            reason="every vCPU is realtime and hw:emulator_threads_policy="
            f"{emulator_policy or 'unset'} has no [compute] cpu_shared_set to send the "
            "emulator threads to; set cpu_shared_set, use hw:emulator_threads_policy="
            "isolate, or leave a vCPU out of hw:cpu_realtime_mask"
        )
    return cpus


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
            reason=f"emulator_threads_mask names vCPU(s) {describe_cpus(missing)}, which the "
            f"placement does not have (its vCPUs are {describe_cpus(pins)})"
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
