"""The policy fields of a placement made elsewhere, filled from its flavor and image.

:func:`~os_numa.constraints.topology.numa_get_constraints` puts into the
request everything the libvirt XML stage needs beyond the CPUs and memory
(``realtime_vcpus``, ``realtime_priority``, ``locked_memory``,
``memory_policy``), and the fit copies it into the placement, so the XML stage
reads the placement alone. A placement that did not come from os-numa's
constraints lacks them: one converted from Nova's objects (:mod:`os_numa.nova`),
or one stored by an os-numa older than InstanceNUMATopology 1.9. The edge that
has the flavor calls :func:`with_flavor_policy` once, before the XML stage.
"""

from __future__ import annotations

from typing import Any, overload

from os_numa import objects
from os_numa.constraints import memory_policy, pages, realtime, source

#: The InstanceNUMATopology fields :func:`flavor_policy` fills.
POLICY_FIELDS = ("realtime_vcpus", "realtime_priority", "locked_memory", "memory_policy")


def flavor_policy(flavor: Any, image_meta: Any) -> dict[str, Any]:
    """``{field: value}`` of :data:`POLICY_FIELDS` as the flavor and image ask.

    :raises RealtimeConfigurationInvalid, RealtimeMaskNotFoundOrInvalid,
        InvalidRealtimePriority, InvalidExtraSpecValue, LockMemoryForbidden,
        FlavorImageLockedMemoryConflict, InvalidNUMAMemoryPolicy,
        ImageNUMAMemoryPolicyForbidden: what the ``get_*_constraint`` helpers raise.
    """
    flavor_v = source.flavor_view(flavor)
    image_v = source.image_view(image_meta)
    realtime_cpus = realtime.get_realtime_cpu_constraint(flavor_v, image_v)
    return {
        "realtime_vcpus": None if realtime_cpus is None else set(realtime_cpus),
        "realtime_priority": realtime.get_realtime_priority_constraint(flavor_v),
        "locked_memory": pages.get_locked_memory_constraint(flavor_v, image_v),
        "memory_policy": memory_policy.get_numa_memory_policy_constraint(flavor_v, image_v),
    }


@overload
def with_flavor_policy(
    placement: objects.InstanceNUMATopology, flavor: Any, image_meta: Any
) -> objects.InstanceNUMATopology: ...


@overload
def with_flavor_policy(placement: None, flavor: Any, image_meta: Any) -> None: ...


def with_flavor_policy(
    placement: objects.InstanceNUMATopology | None, flavor: Any, image_meta: Any
) -> objects.InstanceNUMATopology | None:
    """A copy of ``placement`` whose policy fields are the flavor's and image's.

    ``placement`` itself is not modified; None stays None.
    """
    if placement is None:
        return None
    filled = placement.obj_clone()
    for name, value in flavor_policy(flavor, image_meta).items():
        setattr(filled, name, value)
    return filled
