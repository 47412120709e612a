"""``numa_get_constraints``: from a flavor and an image to the requested guest topology."""

from __future__ import annotations

from typing import Any

from os_numa import exception, objects
from os_numa.constraints import (
    cpu,
    cpu_topology,
    emulator,
    iothreads,
    memory_policy,
    numa,
    pages,
    realtime,
    source,
)
from os_numa.objects import fields
from os_numa.objects.fast import new_object

_POLICY = fields.CPUAllocationPolicy


def _pinned_vcpus(
    flavor: source.FlavorView,
    props: source.Properties,
    policies: cpu.CPUPolicies,
    realtime_cpus: set[int] | None,
) -> set[int]:
    """Which vCPUs are pinned: all (dedicated), the mask's (mixed) or none."""
    if policies.cpu_policy == _POLICY.DEDICATED:
        return set(range(flavor.vcpus))
    if policies.cpu_policy != _POLICY.MIXED:
        return set()
    has_mask = bool(flavor.spec("hw:cpu_dedicated_mask"))
    if has_mask and realtime_cpus is not None:
        raise exception.RequiredMixedOrRealtimeCPUMask(
            reason=(
                "both hw:cpu_dedicated_mask and hw:cpu_realtime are set; with "
                "hw:cpu_policy=mixed the realtime vCPUs are the pinned ones, so use one or "
                "the other"
            )
        )
    if not has_mask and realtime_cpus is None:
        raise exception.RequiredMixedOrRealtimeCPUMask(
            reason=(
                "neither is set; say which vCPUs are pinned with hw:cpu_dedicated_mask "
                "(e.g. '^0' = all but vCPU 0)"
            )
        )
    if realtime_cpus is not None:
        return set(realtime_cpus)
    return cpu.get_dedicated_cpu_constraint(flavor) or set()


def numa_get_constraints(flavor: Any, image_meta: Any) -> objects.InstanceNUMATopology | None:
    """The guest NUMA topology a flavor and image ask for, or None.

    A topology is returned when ``hw:numa_nodes``, ``hw:mem_page_size`` or a
    pinning CPU policy (``dedicated``, ``mixed``, or ``resources:PCPU``) asks
    for one. Guest cell i has ``id`` i, its floating vCPUs in ``cpuset`` and
    its pinned vCPUs in ``pcpuset``; ``pagesize``, ``cpu_policy`` and
    ``cpu_thread_policy`` are the same in every cell, and the topology carries
    ``emulator_threads_policy``, ``emulator_threads_count`` (set only by
    ``hw:emulator_threads_count``) and ``emulator_threads_mask`` (the guest
    vCPUs named by ``hw:emulator_threads_mask``, or None), and what the guest XML
    needs beyond the placement's CPUs: ``realtime_vcpus``
    (:func:`~os_numa.constraints.realtime.get_realtime_cpu_constraint`),
    ``realtime_priority``, ``locked_memory``, ``memory_policy``, ``iothreads`` and
    ``iothreads_policy``. The fit copies them into the placement, which is then the
    libvirt XML stage's only policy input.

    The guest CPU topology keys (``hw:cpu_sockets`` ..., see
    :mod:`~os_numa.constraints.cpu_topology`) are checked first, as Nova's API
    does, and once the cells are known a topology must exist whose cores each
    lie in one guest cell.

    Then checks run in Nova's order, so code that catches Nova's classes sees
    the error Nova would raise: the CPU policy, the thread policy, the realtime
    mask, the dedicated mask, the emulator-threads policy, the Placement form,
    the policy combinations, then NUMA nodes, pages and the node split. Two
    deliberate differences (design/API.md): right after the
    CPU policy, a non-boolean ``hw:cpu_realtime`` raises
    :class:`InvalidExtraSpecValue` and realtime without pinning raises
    :class:`RealtimeConfigurationInvalid` (Nova checks the mask first); and more
    NUMA nodes than vCPUs raises :class:`InvalidNUMANodesNumber` when the nodes
    are counted. os-numa's own keys (``hw:emulator_threads_count``,
    ``hw:emulator_threads_mask``, ``hw:cpu_realtime_priority``) are checked
    after the policies they depend on.

    Inputs are never modified. Every error is a subclass of
    :class:`~os_numa.exception.Invalid` or :class:`~os_numa.exception.Forbidden`
    naming the key, its value and what would be valid; the individual classes
    are listed by the ``get_*_constraint`` helpers and ``doc/source/extra-specs.rst``.
    """
    flavor_v = source.flavor_view(flavor)
    image_v = source.image_view(image_meta)
    props = image_v.properties
    # Nova's API checks the guest CPU topology before the NUMA constraints.
    topology_keys = cpu_topology.topology_requested(flavor_v, image_v)
    if topology_keys:
        cpu_topology.get_cpu_topology_constraints(flavor_v, image_v)

    cpu_policy = cpu.get_cpu_policy_constraint(flavor_v, image_v)
    rt_enabled = realtime.is_realtime_enabled(flavor_v)
    if rt_enabled:
        realtime.check_realtime_policy(cpu.requested_cpu_policy(flavor_v, cpu_policy))
    thread_policy = cpu.get_cpu_thread_policy_constraint(flavor_v, image_v)
    realtime_cpus = realtime.realtime_set(flavor_v, props) if rt_enabled else None
    cpu.get_dedicated_cpu_constraint(flavor_v)
    policies = cpu.fold_placement_form(flavor_v, image_v, cpu_policy, thread_policy)
    cpu.check_pinning_required(policies, flavor_v, realtime_cpus)
    pinned = _pinned_vcpus(flavor_v, props, policies, realtime_cpus)
    emulator_mask = emulator.emulator_mask_set(flavor_v, props, policies, pinned, realtime_cpus)
    priority = realtime.get_realtime_priority_constraint(flavor_v)
    io = iothreads.get_iothreads_constraint(flavor_v)
    iothreads.check_iothreads_pinning(io, bool(pinned), policies.cpu_policy)

    nodes = numa.get_numa_nodes_constraint(flavor_v, image_v)
    pagesize = pages.get_mem_page_size_constraint(flavor_v, image_v)
    locked = pages.get_locked_memory_constraint(flavor_v, image_v)
    mem_policy = memory_policy.get_numa_memory_policy_constraint(flavor_v, image_v)

    wants_numa = (
        nodes is not None
        or pagesize is not None
        # Persistent memory (hw:pmem=LABEL,...) is NUMA-placed too, as in Nova.
        or bool((flavor_v.spec("hw:pmem") or "").strip())
        or policies.cpu_policy in (_POLICY.DEDICATED, _POLICY.MIXED)
    )
    memory_policy.check_needs_numa(mem_policy, wants_numa)
    if not wants_numa:
        if topology_keys:
            cpu_topology.desirable_cpu_topologies(flavor_v, image_v)
        return None

    # Built without the setters' coercion (objects.fast): every value here is already
    # what the field holds (sets of ints, ints, validated policy strings).
    cells = [
        new_object(
            objects.InstanceNUMACell,
            {
                "id": index,
                "cpuset": set(split.vcpus - pinned),
                "pcpuset": set(split.vcpus & pinned),
                "memory": split.memory_mb,
                "pagesize": pagesize,
                "cpu_policy": policies.cpu_policy,
                "cpu_thread_policy": policies.cpu_thread_policy,
            },
        )
        for index, split in enumerate(numa.split_nodes(flavor_v, image_v, nodes or 1))
    ]
    requested = new_object(
        objects.InstanceNUMATopology,
        {
            "cells": cells,
            "emulator_threads_policy": policies.emulator_threads_policy,
            "emulator_threads_count": policies.emulator_threads_count,
            "emulator_threads_mask": emulator_mask,
            "realtime_vcpus": set(realtime_cpus) if realtime_cpus is not None else None,
            "iothreads": io.count,
            "iothreads_policy": io.policy,
            "realtime_priority": priority,
            "locked_memory": locked,
            "memory_policy": mem_policy,
        },
    )
    if topology_keys:
        # Refuse now, not when the XML is built, a topology the limits cannot give.
        cpu_topology.desirable_cpu_topologies(flavor_v, image_v, numa_topology=requested)
    return requested


def get_emulator_threads_mask_constraint(flavor: Any, image_meta: Any) -> set[int] | None:
    """The guest vCPUs the emulator threads run beside, or None without a mask.

    Everything :func:`numa_get_constraints` checks is checked.
    ``hw:emulator_threads_mask`` (flavor) or ``hw_emulator_threads_mask``
    (image; the image wins) is a vCPU mask: ``0`` means "beside vCPU 0", the
    ``^`` form starts from every vCPU. It needs pinned vCPUs and no
    emulator-threads policy, and may name only pinned, non-realtime vCPUs.

    :raises InvalidEmulatorThreadsMask: see
        :func:`~os_numa.constraints.emulator.emulator_mask_set`; plus
        every error of the CPU policy and realtime helpers it relies on.
    """
    flavor_v = source.flavor_view(flavor)
    image_v = source.image_view(image_meta)
    if emulator.mask_and_key(flavor_v, image_v.properties)[0] is None:
        return None
    requested = numa_get_constraints(flavor_v, image_v)
    return None if requested is None else set(requested.emulator_threads_mask or ())
