"""Translate a flavor and image into what a scheduler asks a placement service for.

This follows Nova's ``ResourceRequest`` (nova/scheduler/utils.py): pinned
vCPUs become ``PCPU``, floating ones ``VCPU``, an isolated emulator thread one
more ``PCPU``, and thread policies the ``HW_CPU_HYPERTHREADING`` trait. The
emulator pCPU appears here *and* in the compute host's usage
(:mod:`os_numa.compute`), so placement's inventory and the host agree.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from os_numa import constraints, exception
from os_numa.compute.instance import flavor_resources
from os_numa.constraints import source
from os_numa.objects import InstanceNUMATopology, fields

HW_CPU_HYPERTHREADING = "HW_CPU_HYPERTHREADING"

_PINNED = (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)
_THREAD_TRAIT: dict[str | None, str] = {
    fields.CPUThreadAllocationPolicy.REQUIRE: "required",
    fields.CPUThreadAllocationPolicy.ISOLATE: "forbidden",
}


@dataclass(frozen=True)
class ResourceRequest:
    """Resource amounts and traits for one placement query (granular groups merged).

    ``resources`` maps a resource class to a positive amount (zero amounts are
    dropped, as Nova does); it is read-only.
    """

    resources: Mapping[str, int]
    required_traits: frozenset[str] = field(default_factory=frozenset)
    forbidden_traits: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        frozen = types.MappingProxyType(dict(sorted(self.resources.items())))
        object.__setattr__(self, "resources", frozen)


def emulator_pcpus(topology: InstanceNUMATopology | None) -> int:
    """Dedicated pCPUs the guest's emulator threads take: 0, or the isolate count (1 by default).

    ``pool`` and ``share`` take none: their pCPUs are outside the PCPU inventory.
    """
    if topology is None or not topology.emulator_threads_isolated:
        return 0
    return getattr(topology, "emulator_threads_count", None) or 1


def iothread_pcpus(topology: InstanceNUMATopology | None) -> int:
    """Dedicated pCPUs of ``hw:iothreads_policy=isolate`` I/O threads (one each), else 0."""
    return 0 if topology is None else getattr(topology, "iothread_pcpus", 0)


def resources_from_request(flavor: Any, image_meta: Any = None) -> ResourceRequest:
    """What to ask placement for to boot ``flavor`` with ``image_meta``.

    - ``hw:cpu_policy=dedicated``: ``PCPU`` = vCPUs; ``mixed``: ``PCPU`` = the
      pinned vCPUs and ``VCPU`` = the floating ones; otherwise ``VCPU`` = vCPUs.
    - ``hw:emulator_threads_policy=isolate`` adds the emulator pCPU(s) to ``PCPU``,
      ``hw:iothreads_policy=isolate`` one per I/O thread.
    - ``hw:cpu_thread_policy=require`` requires ``HW_CPU_HYPERTHREADING``,
      ``isolate`` forbids it.
    - ``MEMORY_MB`` = the flavor's memory; ``DISK_GB`` = root + ephemeral +
      swap when the flavor has those fields.
    - Explicit ``resources[N]:<CLASS>=<amount>`` and ``trait[N]:<NAME>=required|forbidden``
      (``[N]``: none, a group number, or ``_<name>`` for a named group)
      extra specs are honoured (an explicit ``VCPU``/``PCPU`` replaces the
      translation); the image's ``traits_required`` are required.

    Every extra spec and image property is validated first, with the typed
    errors of :func:`os_numa.hardware.numa_get_constraints`.

    :raises InvalidRequest: the explicit form contradicts the flavor (for
        example ``resources:PCPU`` is not vCPUs + 1 with emulator ``isolate``,
        or it is combined with ``hw:cpu_policy``).
    :raises InvalidExtraSpecValue: a resource amount or trait value is malformed.
    """
    topology = constraints.numa_get_constraints(flavor, image_meta)
    flavor_v = source.flavor_view(flavor)
    explicit = source.explicit_resources(flavor_v)
    required, forbidden = _explicit_traits(flavor_v)
    required |= set(source.image_properties(image_meta).get("traits_required") or ())

    resources = dict(explicit)
    if "VCPU" not in explicit and "PCPU" not in explicit:
        resources.update(_cpu_resources(flavor_v.vcpus, topology))
    if topology is not None and topology.cells:
        trait = _THREAD_TRAIT.get(topology.cells[0].cpu_thread_policy)
        if trait == "required":
            required.add(HW_CPU_HYPERTHREADING)
        elif trait == "forbidden":
            forbidden.add(HW_CPU_HYPERTHREADING)
    own = flavor_resources(flavor)
    resources.setdefault("MEMORY_MB", own.memory_mb)
    resources.setdefault("DISK_GB", own.disk_gb)

    both = required & forbidden
    if both:
        raise exception.InvalidRequest(
            reason=f"trait(s) {sorted(both)} are both required and forbidden"
        )
    return ResourceRequest(
        resources={rc: amount for rc, amount in resources.items() if amount},
        required_traits=frozenset(required),
        forbidden_traits=frozenset(forbidden),
    )


def _cpu_resources(vcpus: int, topology: InstanceNUMATopology | None) -> dict[str, int]:
    if topology is None or topology.cpu_policy not in _PINNED:
        return {"VCPU": vcpus}
    pinned = sum(len(cell.pcpuset) for cell in topology.cells)
    floating = sum(len(cell.cpuset) for cell in topology.cells)
    return {"PCPU": pinned + emulator_pcpus(topology) + iothread_pcpus(topology), "VCPU": floating}


def _explicit_traits(flavor: source.FlavorView) -> tuple[set[str], set[str]]:
    required: set[str] = set()
    forbidden: set[str] = set()
    for key, value in sorted(flavor.extra_specs.items()):
        match = source.TRAIT_KEY.fullmatch(key)
        if not match:
            continue
        if value == "required":
            required.add(match.group(1))
        elif value == "forbidden":
            forbidden.add(match.group(1))
        else:
            raise exception.InvalidExtraSpecValue(
                key=key, value=value, reason="a trait must be 'required' or 'forbidden'"
            )
    return required, forbidden
