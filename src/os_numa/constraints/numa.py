"""Guest NUMA nodes: ``hw:numa_nodes``, ``hw:numa_cpus.N`` and ``hw:numa_mem.N``.

Each key has an image twin (``hw_numa_nodes``, ``hw_numa_cpus.N``,
``hw_numa_mem.N``); setting a key in both the flavor and the image is an
error. Without ``.N`` keys the vCPUs and memory are split evenly over the
nodes; with them, the split is exactly what they say (memory in MB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from os_numa import cpuset, exception
from os_numa.constraints import source


@dataclass(frozen=True)
class NodeSplit:
    """One guest node's vCPUs and memory (MB), before pinning is applied."""

    vcpus: frozenset[int]
    memory_mb: int


def get_numa_nodes_constraint(flavor: Any, image_meta: Any) -> int | None:
    """The guest NUMA node count (``hw:numa_nodes`` or ``hw_numa_nodes``), or None.

    :raises ImageNUMATopologyForbidden: both the flavor and the image set it.
    :raises InvalidNUMANodesNumber: not an integer from 1 to the vCPU count
        (and at most :data:`~os_numa.constraints.source.MAX_NUMA_NODES`).
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    flavor_nodes, image_nodes = source.flavor_image_values("numa_nodes", flavor_v, props)
    if flavor_nodes not in (None, "") and image_nodes is not None:
        raise exception.ImageNUMATopologyForbidden(name="hw_numa_nodes")
    raw = flavor_nodes if flavor_nodes not in (None, "") else image_nodes
    if raw is None:
        return None
    nodes = source.parse_int(raw)
    upper = min(flavor_v.vcpus, source.MAX_NUMA_NODES)
    if nodes is None or not 1 <= nodes <= upper:
        key = "hw:numa_nodes" if flavor_nodes not in (None, "") else "image property hw_numa_nodes"
        # Nova finds too many nodes only when it splits them evenly.
        even_split = nodes is not None and nodes > upper and not _has_manual_split(flavor_v, props)
        error = exception.NUMANodesExceedVCPUs if even_split else exception.InvalidNUMANodesNumber
        raise error(
            message=(
                f"{key}={raw!r} is invalid: the NUMA node count must be an integer from 1 "
                f"to {upper} (the flavor has {flavor_v.vcpus} vCPUs; at most "
                f"{source.MAX_NUMA_NODES} nodes)"
            ),
            nodes=raw,
            vcpus=flavor_v.vcpus,
        )
    return nodes


def _has_manual_split(flavor: source.FlavorView, props: source.Properties) -> bool:
    """Whether any ``numa_cpus``/``numa_mem`` key is set, valid or not."""
    prefixes = ("hw:numa_cpus.", "hw:numa_mem.")
    return any(key.startswith(prefixes) for key in flavor.extra_specs) or any(
        props.get(name) is not None for name in ("hw_numa_cpus", "hw_numa_mem")
    )


def _flavor_or_image_list(
    flavor: source.FlavorView, props: source.Properties, name: str
) -> tuple[list[Any] | None, str]:
    flavor_list = source.indexed_specs(flavor, f"hw:{name}")
    image_list = props.get(f"hw_{name}")
    if flavor_list is not None and image_list is not None:
        raise exception.ImageNUMATopologyForbidden(name=f"hw_{name}")
    if flavor_list is not None:
        return flavor_list, f"hw:{name}"
    if image_list is not None:
        image_list = list(image_list)
        if len(image_list) > source.MAX_NUMA_NODES:
            raise exception.ImageNUMATopologyIncomplete(
                reason=f"hw_{name} lists {len(image_list)} nodes; at most "
                f"{source.MAX_NUMA_NODES} are allowed"
            )
        return image_list, f"image property hw_{name}"
    return None, f"hw:{name}"


def _cell_cpus(value: Any, key: str) -> set[int]:
    if isinstance(value, str):
        try:
            return cpuset.parse_cpu_spec(value)
        except exception.InvalidCPUSpec as exc:
            raise exception.ImageNUMATopologyIncomplete(
                reason=f"{key}={value!r} is not a vCPU spec ({exc})"
            ) from exc
    return set(value)


def _cell_memory(value: Any, key: str, memory_mb: int) -> int:
    memory = source.parse_int(value)
    if memory is None or not 1 <= memory <= memory_mb:
        raise exception.ImageNUMATopologyMemoryOutOfRange(
            message=(
                f"{key}={value!r} is invalid: a node's memory is an integer number of MB "
                f"from 1 to the flavor's memory_mb ({memory_mb})"
            ),
            memsize=memory if memory is not None else -1,
            memtotal=memory_mb,
        )
    return memory


def _split_auto(flavor: source.FlavorView, nodes: int) -> list[NodeSplit]:
    if flavor.vcpus % nodes or flavor.memory_mb % nodes:
        raise exception.ImageNUMATopologyAsymmetric(
            vcpus=flavor.vcpus, memory=flavor.memory_mb, nodes=nodes
        )
    per_node = flavor.vcpus // nodes
    memory = flavor.memory_mb // nodes
    return [
        NodeSplit(frozenset(range(i * per_node, (i + 1) * per_node)), memory) for i in range(nodes)
    ]


def _split_manual(
    flavor: source.FlavorView,
    nodes: int,
    cpu_list: list[Any],
    cpu_key: str,
    mem_list: list[Any],
    mem_key: str,
) -> list[NodeSplit]:
    unassigned = set(range(flavor.vcpus))
    node_cpus = []
    for node in range(nodes):
        cpus = _cell_cpus(cpu_list[node], f"{cpu_key}.{node}")
        if not cpus:
            raise exception.ImageNUMATopologyIncomplete(
                reason=f"{cpu_key}.{node} names no vCPU; every guest node needs at least one"
            )
        for vcpu in sorted(cpus):
            if vcpu >= flavor.vcpus:
                raise exception.ImageNUMATopologyCPUOutOfRange(cpunum=vcpu, cpumax=flavor.vcpus - 1)
            if vcpu not in unassigned:
                raise exception.ImageNUMATopologyCPUDuplicates(cpunum=vcpu)
            unassigned.discard(vcpu)
        node_cpus.append(cpus)
    if unassigned:
        raise exception.ImageNUMATopologyCPUsUnassigned(cpuset=cpuset.format_cpu_spec(unassigned))
    # Memory after the vCPUs, as Nova checks it.
    splits = [
        NodeSplit(
            frozenset(cpus),
            _cell_memory(mem_list[node], f"{mem_key}.{node}", flavor.memory_mb),
        )
        for node, cpus in enumerate(node_cpus)
    ]
    total = sum(split.memory_mb for split in splits)
    if total != flavor.memory_mb:
        raise exception.ImageNUMATopologyMemoryOutOfRange(memsize=total, memtotal=flavor.memory_mb)
    return splits


def split_nodes(flavor: Any, image_meta: Any, nodes: int) -> list[NodeSplit]:
    """Split the flavor's vCPUs and memory over ``nodes`` guest nodes.

    Without ``hw:numa_cpus.N``/``hw:numa_mem.N`` (or their image twins), node i
    gets the consecutive vCPUs ``i*c .. i*c+c-1`` (c = vcpus / nodes) and an
    equal share of memory. With them, both lists must have one entry per node,
    cover every vCPU exactly once and sum to ``memory_mb``.

    :raises ImageNUMATopologyAsymmetric: an even split is not exact.
    :raises ImageNUMATopologyIncomplete: only one list, or a count != nodes.
    :raises ImageNUMATopologyForbidden: a list set in both flavor and image.
    :raises ImageNUMATopologyCPUOutOfRange: a vCPU the flavor does not have.
    :raises ImageNUMATopologyCPUDuplicates: a vCPU in two nodes.
    :raises ImageNUMATopologyCPUsUnassigned: a vCPU in no node.
    :raises ImageNUMATopologyMemoryOutOfRange: the memory does not sum to memory_mb.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    cpu_list, cpu_key = _flavor_or_image_list(flavor_v, props, "numa_cpus")
    mem_list, mem_key = _flavor_or_image_list(flavor_v, props, "numa_mem")
    if cpu_list is None and mem_list is None:
        return _split_auto(flavor_v, nodes)
    if cpu_list is None or mem_list is None:
        given, missing = (cpu_key, "numa_mem") if mem_list is None else (mem_key, "numa_cpus")
        raise exception.ImageNUMATopologyIncomplete(
            reason=f"{given}.N is set but hw:{missing}.N is not; set both for every node"
        )
    for values, key in ((cpu_list, cpu_key), (mem_list, mem_key)):
        if len(values) != nodes:
            raise exception.ImageNUMATopologyIncomplete(
                reason=(
                    f"{key}.N is set for {len(values)} node(s) but the guest has {nodes} "
                    f"(hw:numa_nodes); set {key}.0 to {key}.{nodes - 1}"
                )
            )
    return _split_manual(flavor_v, nodes, cpu_list, cpu_key, mem_list, mem_key)
