"""The one verb for "fit, or say why not": :func:`fit_or_explain`.

The command (``os-numa place``), the scheduler filter
(:func:`os_numa.scheduler.host_passes`), the resource tracker's claims
(:func:`os_numa.compute.claims.fit_and_apply`), the fleet scheduler
(:mod:`os_numa.placement.scheduler`) and the Nova scheduler filter
(:func:`os_numa.nova.hardware.fit_or_explain`) all ask one question of a host: does this
guest fit here now, and if not, why? Each calls :func:`fit_or_explain`, which
runs the fit once (:func:`os_numa.fit.fit.attempt`) and keeps its result. The
versioned placement and the explanation are built from that result only when a
caller asks for them, so a filter pass over many hosts pays for neither on a
host that passes, and an explanation can never disagree with the fit it explains.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oslo_config import cfg

from os_numa import explain, objects
from os_numa.fit import device_reasons, device_search, fit
from os_numa.pci.request import PciRequest
from os_numa.pci.stats import PciDeviceStats


@dataclass(slots=True, eq=False)
class FitVerdict:
    """Whether a guest fits a host, with its placement or the reason it does not.

    ``attempt`` is the fit's own result (None for a guest without a NUMA
    request, or a host without a NUMA topology). A guest without a NUMA request
    fits when its PCI requests (if any) are served by any free matching devices
    (``unplaced_devices``; None when too few are free).

    Truthy when the guest fits (``passed`` is ``fits``: the filter's name).
    Read-only by convention (slots, not frozen: a scheduler filter makes one per
    host, and a frozen dataclass costs three times as much to make).
    """

    attempt: fit.FitAttempt | None = None
    host_topology: objects.NUMATopology | None = None
    request: objects.InstanceNUMATopology | None = None
    pci_requests: tuple[PciRequest, ...] = ()
    pci_stats: PciDeviceStats | None = None
    unplaced_devices: tuple[objects.InstancePCIDevice, ...] | None = ()
    _explanation: explain.FitReport | str | None = field(default=None, init=False, repr=False)

    @property
    def fits(self) -> bool:
        if self.attempt is not None:
            return self.attempt.fits
        # No NUMA request: fits when its devices are served. No host topology: never.
        return self.request is None and self.unplaced_devices is not None

    @property
    def passed(self) -> bool:
        return self.fits

    def __bool__(self) -> bool:
        return self.fits

    @property
    def placement(self) -> objects.InstanceNUMATopology | None:
        """The placement (built on first use), or None: no fit, or no NUMA request."""
        return None if self.attempt is None else self.attempt.placement

    @property
    def pci_devices(self) -> list[objects.InstancePCIDevice]:
        """The host PCI devices the guest gets (``InstancePCIDevice``), [] without requests."""
        if not self.fits or not self.pci_requests:
            return []
        placement = self.placement
        if placement is not None:
            return list(placement.pci_devices)
        return list(self.unplaced_devices or ())

    @property
    def explanation(self) -> explain.FitReport | str | None:
        """None when the guest fits; otherwise the :class:`~os_numa.explain.FitReport`
        of the fit, or, for a guest without a NUMA request that the host's devices
        cannot serve, the sentence naming each alias short of devices (built once)."""
        if self._explanation is None and not self.fits:
            if self.attempt is not None:
                self._explanation = explain.report(self.attempt)
            elif self.request is None:
                self._explanation = device_reasons.without_numa_reason(
                    self.pci_requests, self.pci_stats, self.host_topology
                )
            else:
                self._explanation = explain.NO_TOPOLOGY_REPORT
        return self._explanation

    @property
    def reason(self) -> str | None:
        """The explanation as one paragraph (a report's summary), None when it fits."""
        explanation = self.explanation
        if isinstance(explanation, explain.FitReport):
            return explanation.summary()
        return explanation


def fit_or_explain(
    host_topology: objects.NUMATopology | None,
    request: objects.InstanceNUMATopology | None,
    limits: objects.NUMATopologyLimits | None = None,
    pci_requests: Sequence[PciRequest] | None = None,
    pci_stats: PciDeviceStats | None = None,
    conf: cfg.ConfigOpts | None = None,
    *,
    host_cells: Collection[int] | None = None,
    cell_mapping: Sequence[int] | None = None,
    network_metadata: Any = None,
    pci_devices: Mapping[int, int] | None = None,
    pci_requested: bool = False,
) -> FitVerdict:
    """Fit ``request`` on ``host_topology`` as it is used now, or say why not.

    The arguments are :func:`os_numa.fit.fit.numa_fit_instance_to_host`'s, with
    one difference: ``request`` None (the flavor asks for no NUMA placement)
    fits any host, and its ``pci_requests`` are served by any free matching
    devices, as in Nova (no guest cells to be local to). A request with NUMA
    needs does not fit a host without a NUMA topology. ``pci_devices`` and
    ``pci_requested`` order the host cells by their free PCI devices when the
    devices themselves are judged elsewhere (Nova's pools, in
    :mod:`os_numa.nova.hardware`; see :func:`os_numa.fit.fit.make_problem`).
    Nothing is mutated.

    :raises InvalidRequest, BadRequirementEmulatorThreadsPolicy: as the fit.
    """
    requests = tuple(pci_requests or ())
    if request is None:
        found = (
            device_search.assign_without_numa(requests, pci_stats, host_topology)
            if requests
            else []
        )
        return FitVerdict(
            host_topology=host_topology,
            pci_requests=requests,
            pci_stats=pci_stats,
            unplaced_devices=None if found is None else tuple(found),
        )
    if host_topology is None:
        return FitVerdict(request=request, pci_requests=requests, pci_stats=pci_stats)
    problem = fit.make_problem(
        host_topology,
        request,
        limits,
        conf,
        host_cells=host_cells,
        cell_mapping=cell_mapping,
        network_metadata=network_metadata,
        pci_devices=pci_devices,
        pci_requested=pci_requested,
    )
    return FitVerdict(
        attempt=fit.attempt(problem, host_topology, request, requests, pci_stats),
        host_topology=host_topology,
        request=request,
        pci_requests=requests,
        pci_stats=pci_stats,
    )


__all__ = ["FitVerdict", "fit_or_explain"]
