"""How many host pCPUs an instance's emulator threads take beyond its vCPUs.

A compute driver adds them to ``estimate_instance_overhead`` so that the
resource tracker counts an isolated emulator thread's pCPU(s). The instance
may be known only by its flavor (before the fit) or by a stored placement in
any of the forms Nova keeps one in (the object, its primitive, that primitive
as JSON text); this module reads all of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from os_numa import constraints, exception
from os_numa.constraints import iothreads
from os_numa.objects import fields

_EMULATOR = fields.CPUEmulatorThreadsPolicy


def _stored_emulator_count(count: Any) -> int:
    """A stored topology's ``emulator_threads_count``: None means 1, else a positive int."""
    if count is None:
        return 1
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise exception.Invalid(
            reason=f"numa_topology emulator_threads_count={count!r}: a positive integer "
            "or None (one pCPU) is required"
        )
    return count


def _topology_emulator_pcpus(topology: Any) -> int:
    """The pCPUs a stored instance NUMA topology reserves for its emulator threads.

    0 unless the policy is ``isolate``; then ``emulator_threads_count`` (None: 1).

    Accepts the object, its ``obj_to_primitive()`` (os-numa's or Nova's), that
    primitive as JSON text, a plain mapping with ``emulator_threads_policy``,
    or None.
    """
    if topology is None:
        return 0
    if isinstance(topology, str | bytes):
        try:
            topology = json.loads(topology)
        except ValueError as exc:
            raise exception.Invalid(
                reason=f"numa_topology is text but not JSON: {str(topology)[:60]!r}"
            ) from exc
    if isinstance(topology, Mapping):
        data = topology
        for namespace in ("os_numa_object", "nova_object"):
            if f"{namespace}.data" in topology:
                data = topology[f"{namespace}.data"]
                break
        io = _stored_iothreads(data.get("iothreads_policy"), data.get("iothreads"))
        if data.get("emulator_threads_policy") != _EMULATOR.ISOLATE:
            return io
        return _stored_emulator_count(data.get("emulator_threads_count")) + io
    if hasattr(topology, "emulator_threads_isolated"):
        io = _stored_iothreads(
            getattr(topology, "iothreads_policy", None), getattr(topology, "iothreads", None)
        )
        if not topology.emulator_threads_isolated:
            return io
        return _stored_emulator_count(getattr(topology, "emulator_threads_count", None)) + io
    raise exception.Invalid(
        reason=f"numa_topology must be an InstanceNUMATopology, its primitive or None, "
        f"not {type(topology).__name__}"
    )


def _flavor_emulator_pcpus(flavor: Any) -> int:
    count = constraints.get_emulator_threads_count_constraint(flavor)  # validates it, too
    io = iothreads.get_iothreads_constraint(flavor).dedicated_pcpus
    if constraints.get_emulator_thread_policy_constraint(flavor) != _EMULATOR.ISOLATE:
        return io
    return (count or 1) + io


def _stored_iothreads(policy: Any, count: Any) -> int:
    """A stored topology's isolated I/O thread pCPUs: ``iothreads`` (None: 1) under
    ``isolate``, else 0."""
    if policy != iothreads.ISOLATE:
        return 0
    if count is None:
        return 1
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise exception.Invalid(
            reason=f"numa_topology iothreads={count!r}: a positive integer or None is required"
        )
    return count


def emulator_overhead_vcpus(instance_info: Any) -> int:
    """Host pCPUs ``instance_info``'s emulator threads take beyond its vCPUs.

    A flavor (anything with ``extra_specs`` and no ``numa_topology``) counts
    ``hw:emulator_threads_count`` (default 1) when
    ``hw:emulator_threads_policy=isolate``; an instance or a dict with
    ``numa_topology`` counts that topology's ``emulator_threads_count`` (None:
    1) when it isolates the emulator threads, plus one per I/O thread under
    ``hw:iothreads_policy=isolate``. ``share``, ``pool`` and unset
    count 0 (their CPUs are outside the PCPU inventory). A dict with neither key
    counts nothing.

    :raises InvalidEmulatorThreadsPolicy: the flavor's policy value is invalid.
    :raises InvalidEmulatorThreadsCount: the flavor's count is invalid.
    :raises Invalid: ``instance_info`` is none of these.
    """
    if isinstance(instance_info, Mapping):
        if "numa_topology" in instance_info:
            return _topology_emulator_pcpus(instance_info["numa_topology"])
        if "extra_specs" in instance_info:
            return _flavor_emulator_pcpus(instance_info)
        return 0
    if hasattr(instance_info, "numa_topology"):
        return _topology_emulator_pcpus(instance_info.numa_topology)
    if hasattr(instance_info, "extra_specs"):
        return _flavor_emulator_pcpus(instance_info)
    raise exception.Invalid(
        reason="estimate_instance_overhead needs a flavor, an instance with numa_topology "
        f"or a dict with 'numa_topology', not {type(instance_info).__name__}"
    )
