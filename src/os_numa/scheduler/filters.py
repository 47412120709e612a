"""A NUMA host filter: does a guest's NUMA request fit on a candidate host?

:func:`host_passes` is the decision Nova's ``NUMATopologyFilter`` makes, plus
the reason when the answer is no (:func:`os_numa.hardware.explain_fit`), so a
scheduler can tell its user why no host was found.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from os_numa import explain
from os_numa.compute.instance import flavor_and_image, requested_topology
from os_numa.fit import device_reasons, devices, fit
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits
from os_numa.pci import request as pci_request


@dataclass(frozen=True)
class HostPassResult:
    """The filter's verdict for one host.

    ``placement`` is the fitted topology when the host passes with a NUMA
    request (None without one); ``explanation`` is the
    :class:`~os_numa.hardware.FitReport` when it fails (None when it passes),
    or, for a guest without a NUMA request that the host's PCI devices cannot
    serve, the sentence naming each alias short of devices.
    """

    passed: bool
    placement: InstanceNUMATopology | None = None
    explanation: Any = None

    def __bool__(self) -> bool:
        return self.passed


def requested_pci(request: Any, conf: Any = None) -> list:
    """The PCI requests of ``request``'s flavor (and image policy); [] without a flavor.

    Aliases come from ``[pci] alias`` of ``conf`` (None: the global ``CONF``).
    A bare :class:`InstanceNUMATopology` carries no flavor, hence no requests.
    """
    if request is None or isinstance(request, InstanceNUMATopology):
        return []
    flavor, image_meta = flavor_and_image(request)
    aliases = pci_request.aliases_from_conf(conf)
    return pci_request.get_pci_requests(flavor, image_meta, aliases)


def host_passes(
    host_topology: NUMATopology | None,
    request: Any,
    limits: NUMATopologyLimits | None = None,
    conf: Any = None,
    *,
    pci_stats: Any = None,
    pci_requests: Any = None,
    host_cells: Collection[int] | None = None,
    cell_mapping: Sequence[int] | None = None,
) -> HostPassResult:
    """Decide whether ``request`` fits on ``host_topology`` as it is used now.

    A request without NUMA needs passes every host; one with NUMA needs fails
    a host that reports no NUMA topology, and otherwise passes exactly when
    :func:`os_numa.hardware.numa_fit_instance_to_host` finds a placement.
    ``limits`` are the allocation ratios for shared cells; ``conf`` the
    options the fit reads (None: the global ``CONF``).

    PCI devices are checked when ``pci_stats`` (the host's
    :class:`~os_numa.pci.stats.PciDeviceStats`) is given: the requests are
    ``pci_requests``, or else the flavor's ``pci_passthrough:alias``
    (:func:`requested_pci`). They are part of the fit, under their NUMA
    policies; a guest without a NUMA request passes when any free matching
    devices serve it.

    ``host_cells`` / ``cell_mapping`` keep the guest cells on the host cells
    a placement service already chose (for example an allocation candidate's
    NUMA providers): see :func:`os_numa.hardware.numa_fit_instance_to_host`.

    :raises Invalid: the flavor or image in ``request`` is invalid, or its PCI
        alias request (a bad request is not a host failure).
    """
    wanted = requested_topology(request)
    pci = None
    if pci_stats is not None:
        pci = requested_pci(request, conf) if pci_requests is None else list(pci_requests)
    if wanted is None:
        if not pci:
            return HostPassResult(passed=True)
        if devices.assign_without_numa(pci, pci_stats, host_topology) is not None:
            return HostPassResult(passed=True)
        reason = device_reasons.without_numa_reason(pci, pci_stats, host_topology)
        return HostPassResult(passed=False, explanation=reason)
    extra: dict[str, Any] = {"pci_requests": pci or None, "pci_stats": pci_stats}
    cells: dict[str, Any] = {"host_cells": host_cells, "cell_mapping": cell_mapping}
    if host_topology is None or not host_topology.cells:
        report = explain.explain_fit(
            host_topology, wanted, limits=limits, conf=conf, **extra, **cells
        )
        return HostPassResult(passed=False, explanation=report)
    problem = fit.make_problem(host_topology, wanted, limits, conf, **cells)
    placement = fit.solve(problem, host_topology, wanted, **extra)
    if placement is not None:
        return HostPassResult(passed=True, placement=placement)
    # Only a failure is explained, from the answers the search already cached.
    report = explain.explain_problem(problem, host_topology, wanted, **extra)
    return HostPassResult(passed=False, explanation=report)
