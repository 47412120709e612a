"""``NUMATopologyFilter``: a Nova scheduler filter deciding with os-numa's fit.

Enable it in ``nova.conf`` of the scheduler::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = os_numa.nova.filters.NUMATopologyFilter
    enabled_filters = ...,os_numa.nova.filters.NUMATopologyFilter

in place of Nova's ``NUMATopologyFilter`` (both have the same name; Nova matches
``enabled_filters`` against class names, so list only one of them as available). It does
what Nova's filter does, per allocation candidate of the host (honouring the candidate's
provider mapping for PCI devices), with :func:`os_numa.nova.hardware.numa_fit_instance_to_host`,
and when a host fails it logs os-numa's explanation (per host cell, per constraint), worded
from the fit's own result (:func:`os_numa.nova.hardware.fit_or_explain`).
"""

from __future__ import annotations

from nova.scheduler.filters import numa_topology_filter
from oslo_log import log as logging

from nova import objects as nova_objects
from os_numa.nova import hardware

LOG = logging.getLogger(__name__)


class NUMATopologyFilter(numa_topology_filter.NUMATopologyFilter):
    """Nova's NUMA filter with os-numa's fit (whether or not :func:`install` ran).

    Same contract as Nova's: a host without a NUMA topology passes a guest without one
    and fails a guest with one; ``hw:cpu_thread_policy=require`` needs an SMT host; the
    guest must fit for at least one of the host's allocation candidates, whose
    ``limits['numa_topology']`` is then set for the claim on the compute host.
    """

    def host_passes(self, host_state, spec_obj):
        request = spec_obj.numa_topology
        host = host_state.numa_topology
        image_props = spec_obj.image.properties
        if not self._satisfies_cpu_policy(host_state, spec_obj.flavor.extra_specs, image_props):
            return False
        if not request:
            return True
        if not host:
            LOG.debug(
                "%s, %s fails NUMA topology requirements: the host has no NUMA topology",
                host_state.host,
                host_state.nodename,
            )
            return False
        limits = nova_objects.NUMATopologyLimits(
            cpu_allocation_ratio=host_state.cpu_allocation_ratio,
            ram_allocation_ratio=host_state.ram_allocation_ratio,
        )
        if "network_metadata" in spec_obj and spec_obj.network_metadata:
            limits.network_metadata = spec_obj.network_metadata
        pci_requests = spec_obj.pci_requests.requests if spec_obj.pci_requests else None

        last: list[hardware.NovaFit] = []  # the last candidate's answer

        def fits(candidate) -> bool:
            # os-numa never writes into the request, so no clone is needed.
            answer = hardware.fit_or_explain(
                host,
                request,
                candidate["mappings"],
                limits=limits,
                pci_requests=pci_requests,
                pci_stats=host_state.pci_stats,
            )
            last[:] = [answer]
            return answer.placement is not None

        if not self.filter_candidates(host_state, fits):
            LOG.debug(
                "%s, %s fails NUMA topology requirements: %s",
                host_state.host,
                host_state.nodename,
                _Reason(last),
            )
            return False
        host_state.limits["numa_topology"] = limits
        return True


class _Reason:
    """The last candidate's reason, worded only when the debug line is written: the fit's
    own result (:func:`os_numa.nova.hardware.fit_or_explain`), never a second fit."""

    __slots__ = ("last",)

    def __init__(self, last: list[hardware.NovaFit]) -> None:
        self.last = last

    def __str__(self) -> str:
        if not self.last:
            return "the host has no allocation candidate left"
        try:
            return str(self.last[0].reason)
        except Exception as error:  # noqa: BLE001 - an explanation must never fail the filter
            return f"no explanation ({error})"
