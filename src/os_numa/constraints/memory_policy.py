"""The guest's NUMA memory policy: ``hw:numa_memory_policy`` (image ``hw_numa_memory_policy``).

libvirt's ``<numatune>`` modes, as oVirt's "NUMA tune mode" offers them:

* ``strict`` (the default, Nova's only mode): a guest cell's memory comes from
  its host cell and nowhere else; allocation fails rather than spill over;
* ``preferred``: from its host cell while it has room, then from any cell;
* ``interleave``: page by page over every host cell the guest occupies (memory
  bandwidth over latency);
* ``restrictive``: like ``strict`` but enforced only through cgroups
  (``cpuset.mems``), so the kernel may move the memory later.

The fit and the claim count each guest cell's memory on its host cell whatever
the mode, so the accounting never promises memory a cell lacks.
"""

from __future__ import annotations

from typing import Any

from os_numa import exception
from os_numa.constraints import source

STRICT = "strict"
PREFERRED = "preferred"
INTERLEAVE = "interleave"
RESTRICTIVE = "restrictive"
ALL = (STRICT, PREFERRED, INTERLEAVE, RESTRICTIVE)


def get_numa_memory_policy_constraint(flavor: Any, image_meta: Any) -> str | None:
    """The requested memory policy, or None when neither flavor nor image sets one.

    The flavor's value wins; the image's is used when the flavor sets none, and
    may not contradict a flavor value.

    :raises InvalidNUMAMemoryPolicy: an unknown value (case-sensitive).
    :raises ImageNUMAMemoryPolicyForbidden: the image sets another value than the flavor.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    raw_flavor, raw_image = source.flavor_image_values("numa_memory_policy", flavor_v, props)
    values: list[str | None] = []
    for raw, where in ((raw_flavor, "hw:numa_memory_policy"), (raw_image, "hw_numa_memory_policy")):
        if raw in (None, ""):
            values.append(None)
            continue
        if raw not in ALL:
            raise exception.InvalidNUMAMemoryPolicy(
                source=where, requested=raw, available=", ".join(repr(v) for v in ALL)
            )
        values.append(raw)
    flavor_policy, image_policy = values
    if flavor_policy and image_policy and flavor_policy != image_policy:
        raise exception.ImageNUMAMemoryPolicyForbidden(image=image_policy, flavor=flavor_policy)
    return flavor_policy or image_policy


def check_needs_numa(policy: str | None, wants_numa: bool) -> None:
    """A mode other than ``strict`` needs a guest NUMA topology to apply to.

    :raises InvalidNUMAMemoryPolicy: naming what would give the guest one.
    """
    if policy in (None, STRICT) or wants_numa:
        return
    raise exception.InvalidNUMAMemoryPolicy(
        message=(
            f"hw:numa_memory_policy={policy!r} applies to a guest NUMA topology, and this "
            "flavor asks for none: add hw:numa_nodes, hw:mem_page_size or "
            "hw:cpu_policy=dedicated/mixed"
        ),
        source="hw:numa_memory_policy",
        requested=policy,
        available=", ".join(repr(v) for v in ALL),
    )
