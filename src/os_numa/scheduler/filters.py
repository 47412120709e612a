"""A NUMA host filter: does a guest's NUMA request fit on a candidate host?

:func:`host_passes` is the decision Nova's ``NUMATopologyFilter`` makes, plus
the reason when the answer is no (:func:`os_numa.hardware.explain_fit`), so a
scheduler can tell its user why no host was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from os_numa import hardware
from os_numa.compute.instance import requested_topology as instance_requested_topology
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits


@dataclass(frozen=True)
class HostPassResult:
    """The filter's verdict for one host.

    ``placement`` is the fitted topology when the host passes with a NUMA
    request (None without one); ``explanation`` is the
    :class:`~os_numa.hardware.FitReport` when it fails (None when it passes).
    """

    passed: bool
    placement: InstanceNUMATopology | None = None
    explanation: Any = None

    def __bool__(self) -> bool:
        return self.passed


def requested_topology(request: Any) -> InstanceNUMATopology | None:
    """The NUMA request in ``request``, or None when it asks for no NUMA placement.

    ``request`` is an :class:`InstanceNUMATopology`, a ``(flavor, image_meta)``
    pair, a flavor alone, or an instance or Nova RequestSpec (its
    ``numa_topology`` if set, else its ``flavor`` and ``image_meta``/``image``).
    """
    if request is None or isinstance(request, InstanceNUMATopology):
        return request
    if isinstance(request, tuple):
        flavor, image_meta = request
        return hardware.numa_get_constraints(flavor, image_meta)
    if hasattr(request, "flavor"):
        return instance_requested_topology(request)
    return hardware.numa_get_constraints(request, None)


def host_passes(
    host_topology: NUMATopology | None,
    request: Any,
    limits: NUMATopologyLimits | None = None,
    conf: Any = None,
) -> HostPassResult:
    """Decide whether ``request`` fits on ``host_topology`` as it is used now.

    A request without NUMA needs passes every host; one with NUMA needs fails
    a host that reports no NUMA topology, and otherwise passes exactly when
    :func:`os_numa.hardware.numa_fit_instance_to_host` finds a placement.
    ``limits`` are the allocation ratios for shared cells; ``conf`` the
    options the fit reads (None: the global ``CONF``).

    :raises Invalid: the flavor or image in ``request`` is invalid (a bad
        request is not a host failure).
    """
    wanted = requested_topology(request)
    if wanted is None:
        return HostPassResult(passed=True)
    if host_topology is not None and host_topology.cells:
        placement = hardware.numa_fit_instance_to_host(
            host_topology, wanted, limits=limits, conf=conf
        )
        if placement is not None:
            return HostPassResult(passed=True, placement=placement)
    # The explanation runs the same search again; only failures pay for it.
    report = hardware.explain_fit(host_topology, wanted, limits=limits, conf=conf)
    return HostPassResult(passed=False, explanation=report)
