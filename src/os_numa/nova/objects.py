"""Nova's objects <-> os-numa's objects (this module imports Nova).

Each conversion goes through the primitives of :mod:`os_numa.nova.primitives`, so a live
object and its stored form convert alike, field for field.
"""

from __future__ import annotations

import os
from typing import Any

from nova import objects as nova_objects
from os_numa import exception, objects
from os_numa.nova import primitives

nova_objects.register_all()


#: OS_NUMA_NOVA_BRIDGE_CHECK=1 (set by tools/nova_suites.py): every Nova topology read
#: through this module must come back unchanged from os-numa (an InternalError otherwise),
#: so Nova's own suites check the bridge on every primitive they produce.
CHECK_ROUND_TRIP = os.environ.get("OS_NUMA_NOVA_BRIDGE_CHECK") == "1"


def _primitive(obj: Any) -> dict:
    primitive = obj.obj_to_primitive()
    if CHECK_ROUND_TRIP and primitive.get(primitives.NAME) in (
        "InstanceNUMATopology",
        "NUMATopology",
    ):
        problems = primitives.round_trip_problems(primitive)
        if problems:
            raise exception.InternalError(err="bridge round trip: " + "; ".join(problems))
    return primitive


def instance_topology_from_nova(topology: Any) -> objects.InstanceNUMATopology | None:
    """os-numa's InstanceNUMATopology for Nova's (None stays None)."""
    if topology is None:
        return None
    return primitives.instance_topology_from_nova(_primitive(topology))


def instance_topology_to_nova(
    topology: objects.InstanceNUMATopology | None, base: Any = None
) -> Any:
    """Nova's InstanceNUMATopology for os-numa's; ``base`` (a Nova object) lends the fields
    os-numa does not hold."""
    if topology is None:
        return None
    prim = primitives.instance_topology_to_nova(
        topology, None if base is None else _primitive(base)
    )
    return nova_objects.InstanceNUMATopology.obj_from_primitive(prim)


def host_topology_from_nova(topology: Any) -> objects.NUMATopology | None:
    if topology is None:
        return None
    return primitives.host_topology_from_nova(_primitive(topology))


def host_topology_to_nova(topology: objects.NUMATopology | None, base: Any = None) -> Any:
    if topology is None:
        return None
    prim = primitives.host_topology_to_nova(topology, None if base is None else _primitive(base))
    return nova_objects.NUMATopology.obj_from_primitive(prim)


def limits_from_nova(limits: Any) -> objects.NUMATopologyLimits | None:
    """os-numa's limits (the two ratios) for Nova's ``NUMATopologyLimits``."""
    if limits is None:
        return None
    return objects.NUMATopologyLimits(
        cpu_allocation_ratio=float(limits.cpu_allocation_ratio),
        ram_allocation_ratio=float(limits.ram_allocation_ratio),
    )


def image_meta_from_nova(image_meta: Any) -> objects.ImageMeta:
    """os-numa's ImageMeta for Nova's ``ImageMeta`` (or a Glance dict, or None)."""
    if image_meta is None or isinstance(image_meta, dict):
        return objects.ImageMeta.from_dict(image_meta)
    return primitives.image_meta_from_nova(_primitive(image_meta))


def flavor_from_nova(flavor: Any) -> objects.Flavor:
    return primitives.flavor_from_nova(_primitive(flavor))
