"""A NUMA host filter: does a guest's NUMA request fit on a candidate host?

:func:`host_passes` is the decision Nova's ``NUMATopologyFilter`` makes, plus
the reason when the answer is no, so a scheduler can tell its user why no host
was found. It is :func:`os_numa.verdict.fit_or_explain` on the request the
filter reads from a flavor, an instance or a request spec: the fit runs once,
and neither the placement nor the explanation is built unless asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from os_numa.compute.instance import flavor_and_image, requested_topology
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits
from os_numa.pci import request as pci_request
from os_numa.verdict import FitVerdict, fit_or_explain

#: The filter's verdict for one host: the verb's :class:`~os_numa.verdict.FitVerdict`.
#: ``passed`` (also its truth value); ``placement``, the fitted topology when the host
#: passes with a NUMA request (None without one), built only when read; ``explanation``,
#: None when it passes, else the :class:`~os_numa.explain.FitReport`, or, for a guest
#: without a NUMA request that the host's PCI devices cannot serve, the sentence naming
#: each alias short of devices.
HostPassResult = FitVerdict


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
    pci = None
    if pci_stats is not None:
        pci = requested_pci(request, conf) if pci_requests is None else pci_requests
    return fit_or_explain(
        host_topology,
        requested_topology(request),
        limits,
        pci,
        pci_stats,
        conf,
        host_cells=host_cells,
        cell_mapping=cell_mapping,
    )
