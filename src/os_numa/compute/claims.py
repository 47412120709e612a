"""Claims: what one instance takes from a host, and the pure steps to take it.

Everything here is a pure function of its arguments; the
:class:`~os_numa.compute.resource_tracker.ResourceTracker` adds the state and
the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from os_numa import exception, hardware
from os_numa.compute.instance import Resources
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits, fields

_PINNED = (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)


@dataclass(frozen=True)
class Claim:
    """One instance's hold on a host.

    ``placement`` is the fitted topology (None for an instance without a NUMA
    request), ``resources`` what the flavor uses, ``overhead`` what the driver
    estimated on top (for example one vCPU for an isolated emulator thread).
    The tracker keeps its own copy of the placement; treat it as read-only.
    """

    instance_uuid: str
    placement: InstanceNUMATopology | None
    resources: Resources
    overhead: Resources

    @property
    def total(self) -> Resources:
        return self.resources + self.overhead


def fit_instance(
    host: NUMATopology,
    request: InstanceNUMATopology,
    limits: NUMATopologyLimits | None = None,
    conf: Any = None,
) -> InstanceNUMATopology:
    """Fit ``request`` on ``host`` as it is used now (``conf``: options, default ``CONF``).

    :raises ComputeResourcesUnavailable: nothing fits; the message is the
        human summary of :func:`os_numa.hardware.explain_fit`, which says
        which host cell lacked what.
    """
    placement = hardware.numa_fit_instance_to_host(host, request, limits=limits, conf=conf)
    if placement is None:
        report = hardware.explain_fit(host, request, limits=limits, conf=conf)
        raise exception.ComputeResourcesUnavailable(reason=report.summary())
    return placement


def check_placement(placement: InstanceNUMATopology) -> None:
    """Refuse a topology that was never fitted: pinned vCPUs without pins.

    :raises Invalid: a dedicated or mixed cell lacks a pCPU for some pinned vCPU.
    """
    for index, cell in enumerate(placement.cells):
        if cell.cpu_policy not in _PINNED:
            continue
        missing = set(cell.pcpuset) - set(cell.cpu_pinning or {})
        if missing:
            raise exception.Invalid(
                reason=(
                    f"guest cell {index} has no host pCPU recorded for pinned vCPU(s) "
                    f"{sorted(missing)}; it is a request, not a placement"
                )
            )


def apply_placement(
    host: NUMATopology, placement: InstanceNUMATopology | None, free: bool = False
) -> NUMATopology:
    """A new host topology with ``placement`` claimed (or released with ``free``).

    :raises CPUPinningInvalid, CPUPinningUnknown, CPUUnpinningInvalid,
        CPUUnpinningUnknown: from :func:`os_numa.hardware.numa_usage_from_instance_numa`;
        ``host`` is never changed.
    """
    if placement is None:
        return host
    return hardware.numa_usage_from_instance_numa(host, placement, free=free)
