"""Nova's ``nova.virt.hardware`` NUMA functions, answered by os-numa (this module imports Nova).

Each function has the signature and the Nova object types of the Nova 34 function of the
same name; :func:`os_numa.nova.install` puts them in place of Nova's. Inside, the arguments
are converted to os-numa's objects (:mod:`os_numa.nova.objects`), os-numa decides, and the
answer is converted back; os-numa's errors are raised as Nova's classes of the same name.

What stays Nova's: the PCI device pools (``PciDeviceStats.support_requests``) and the
physnet/tunnel check of ``NUMATopologyLimits.network_metadata``, which judge a complete
guest-to-host cell assignment; os-numa offers assignments in its order and Nova accepts or
refuses each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nova.virt import hardware as nova_hardware

from os_numa import hardware, objects
from os_numa import verdict as os_numa_verdict
from os_numa.constraints import realtime, source
from os_numa.fit import fit as os_numa_fit
from os_numa.nova import objects as bridge
from os_numa.nova.errors import as_nova, raises_nova
from os_numa.verdict import FitVerdict

LOG = logging.getLogger(__name__)


def _get(flavor: Any, name: str) -> Any:
    """A flavor field as Nova's helpers read it (``flavor.get``): None when unset; plain
    dictionaries (which Nova's own tests pass) work too."""
    if isinstance(flavor, Mapping):
        return flavor.get(name)
    is_set = getattr(flavor, "obj_attr_is_set", None)
    if is_set is not None and not is_set(name):
        return None
    return getattr(flavor, name)


def _specs(flavor: Any) -> dict[str, str]:
    return dict(_get(flavor, "extra_specs") or {})


def _policy_flavor(flavor: Any) -> objects.Flavor:
    """The flavor for helpers that, in Nova, read only ``extra_specs``.

    Nova builds flavors with only ``extra_specs`` set for them (reading ``vcpus`` of such
    a ``Flavor`` raises); os-numa's reader wants sizes, which these helpers do not use.
    """
    return objects.Flavor(
        vcpus=int(_get(flavor, "vcpus") or 1),
        memory_mb=int(_get(flavor, "memory_mb") or 1),
        extra_specs=_specs(flavor),
    )


def _flavor(flavor: Any) -> objects.Flavor:
    """os-numa's Flavor for Nova's; the sizes must be set (Nova reads them too)."""
    return objects.Flavor(
        vcpus=int(_get(flavor, "vcpus")),
        memory_mb=int(_get(flavor, "memory_mb")),
        extra_specs=_specs(flavor),
    )


@raises_nova
def get_cpu_policy_constraint(flavor, image_meta):
    return hardware.get_cpu_policy_constraint(
        _policy_flavor(flavor), bridge.image_meta_from_nova(image_meta)
    )


@raises_nova
def get_cpu_thread_policy_constraint(flavor, image_meta):
    return hardware.get_cpu_thread_policy_constraint(
        _policy_flavor(flavor), bridge.image_meta_from_nova(image_meta)
    )


@raises_nova
def get_emulator_thread_policy_constraint(flavor):
    return hardware.get_emulator_thread_policy_constraint(_policy_flavor(flavor))


@raises_nova
def is_realtime_enabled(flavor):
    return hardware.is_realtime_enabled(_policy_flavor(flavor))


@raises_nova
def get_realtime_cpu_constraint(flavor, image_meta):
    """The realtime vCPUs, as Nova's helper: the mask alone, without the CPU-policy check
    (Nova's ``numa_get_constraints`` makes that check; os-numa's does it first)."""
    if not hardware.is_realtime_enabled(_policy_flavor(flavor)):
        return None
    flavor_v = source.flavor_view(_flavor(flavor))
    props = source.image_properties(bridge.image_meta_from_nova(image_meta))
    return realtime.realtime_set(flavor_v, props)


@raises_nova
def get_dedicated_cpu_constraint(flavor):
    return hardware.get_dedicated_cpu_constraint(_flavor(flavor))


def numa_get_constraints(flavor, image_meta):
    """Nova's ``InstanceNUMATopology`` request for the flavor and image, or None."""
    with as_nova():
        topology = hardware.numa_get_constraints(
            _flavor(flavor), bridge.image_meta_from_nova(image_meta)
        )
        # A request Nova's objects cannot hold (policy 'pool') raises here, by name.
        return bridge.instance_topology_to_nova(topology)


def numa_fit_instance_to_host(
    host_topology,
    instance_topology,
    provider_mapping,
    limits=None,
    pci_requests=None,
    pci_stats=None,
):
    """Nova's signature; os-numa's search. The request is not modified (Nova writes into it).

    With PCI requests and the host's ``pci_stats``, or with ``limits.network_metadata``,
    every complete assignment os-numa finds, in its order, is offered to Nova's checks
    (``pci_stats.support_requests`` with ``provider_mapping``, and the physnet/tunnel
    affinity) and the first accepted wins, as in Nova.
    """
    return fit_or_explain(
        host_topology, instance_topology, provider_mapping, limits, pci_requests, pci_stats
    ).placement


@dataclass(frozen=True)
class NovaFit:
    """:func:`fit_or_explain`'s answer: Nova's placement, or None and why not.

    ``verdict`` is os-numa's :class:`~os_numa.verdict.FitVerdict` of the CPU and
    memory fit (None when the host or the request has no NUMA topology); when it
    fits but Nova's PCI pools or network affinity refuse every assignment,
    ``refused_by`` names which (``"PCI devices"``, ``"network affinity"``, or both).
    """

    placement: Any = None
    verdict: FitVerdict | None = None
    refused_by: str | None = None

    @property
    def reason(self) -> str | None:
        """Why the guest does not fit, from the fit's own result (os-numa's
        :class:`~os_numa.explain.FitReport` as text); None when it fits."""
        if self.placement is not None:
            return None
        if self.verdict is None:
            return "the host or the guest has no NUMA topology"
        if not self.verdict.fits:
            # The whole report (per host cell, per constraint): what an operator debugs with.
            return str(self.verdict.explanation)
        return f"no assignment of guest cells to host cells passes Nova's {self.refused_by} check"


def fit_or_explain(
    host_topology,
    instance_topology,
    provider_mapping,
    limits=None,
    pci_requests=None,
    pci_stats=None,
) -> NovaFit:
    """:func:`numa_fit_instance_to_host` (Nova's arguments and objects), with the reason
    when the guest does not fit (:attr:`NovaFit.reason`).

    The fit runs once, through :func:`os_numa.verdict.fit_or_explain`; the reason
    is built from its result, only when asked for (the scheduler filter's debug
    line). Nothing is mutated.
    """
    if not (host_topology and instance_topology):
        return NovaFit()
    host = bridge.host_topology_from_nova(host_topology)
    request = bridge.instance_topology_from_nova(instance_topology)
    assert host is not None and request is not None  # neither was None above
    network_metadata = None
    if limits is not None and "network_metadata" in limits:
        network_metadata = limits.network_metadata
    pci_devices = _pci_devices_per_cell(pci_stats) if pci_stats else None
    with as_nova():
        verdict = os_numa_verdict.fit_or_explain(
            host,
            request,
            bridge.limits_from_nova(limits),
            pci_devices=pci_devices,
            pci_requested=bool(pci_requests),
        )
        judged = [
            what
            for what, given in (
                ("PCI devices", pci_requests and pci_stats),
                ("network affinity", network_metadata),
            )
            if given
        ]
        if not judged or not verdict.fits:
            placement = verdict.placement
            _log_pinning(host, placement)
            nova_placement = bridge.instance_topology_to_nova(placement, base=instance_topology)
            return NovaFit(nova_placement, verdict)
        assert verdict.attempt is not None  # a request on a host with a topology
        problem = verdict.attempt.problem
        for assignment in _assignments(problem):
            placement = os_numa_fit.build_placement(request, problem, assignment)
            candidate = bridge.instance_topology_to_nova(placement, base=instance_topology)
            if (
                pci_requests
                and pci_stats
                and not pci_stats.support_requests(pci_requests, provider_mapping, candidate.cells)
            ):
                continue
            if network_metadata:
                chosen = [host_topology.cells[problem.hosts[i].index] for i in assignment]
                if not nova_hardware._numa_cells_support_network_metadata(
                    host_topology, chosen, network_metadata
                ):
                    continue
            _log_pinning(host, placement)
            return NovaFit(candidate, verdict)
    return NovaFit(None, verdict, " and ".join(judged))


def _log_pinning(host: objects.NUMATopology, placement) -> None:
    """Nova's log line for each pinned cell of a fit (operators and Nova's functional tests
    read it): the host cell's free pCPUs per core, then the vCPU -> pCPU pairs."""
    if placement is None:
        return
    cells = {cell.id: cell for cell in host.cells}
    for guest in placement.cells:
        pinning = guest.cpu_pinning
        if not pinning:
            continue
        cell = cells[guest.id]
        free = set(cell.pcpuset) - set(cell.pinned_cpus)
        cores = [sorted(core & free) for core in cell.siblings if core & free]
        alone = free.difference(*cell.siblings) if cell.siblings else free
        usable = sorted(cores + [[cpu] for cpu in alone])
        LOG.info(
            "Computed NUMA topology CPU pinning: usable pCPUs: %(usable_cores)s, "
            "vCPUs mapping: %(vcpus_pinning)s",
            {"usable_cores": usable, "vcpus_pinning": sorted(pinning.items())},
        )


def _pci_devices_per_cell(pci_stats) -> dict[int, int]:
    counts: dict[int, int] = {}
    for pool in pci_stats.pools:
        node = pool.get("numa_node")
        counts[node] = counts.get(node, 0) + pool["count"]
    return counts


def _assignments(problem) -> Iterator[tuple[int, ...]]:
    """Every complete assignment (host cell index per guest cell) in the problem's order.

    Only for requests Nova judges as a whole (PCI, physnets): like Nova's, this walks the
    ordered k-permutations, pruned at the first guest cell that does not fit; the per-cell
    answers are cached by (guest index, host index), so each pair is fitted once.
    """
    k = len(problem.guests)

    def walk(prefix: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        if len(prefix) == k:
            yield prefix
            return
        for host in problem.order:
            if host not in prefix and problem.feasible(len(prefix), host):
                yield from walk(prefix + (host,))

    yield from walk(())


def numa_usage_from_instance_numa(host_topology, instance_topology, free=False):
    """A new Nova ``NUMATopology`` with the instance claimed, or released with ``free``.

    os-numa's own function raises when a release would take memory, page or floating-CPU
    usage below zero; Nova clamps at zero, and Nova's callers (a resource tracker that
    frees twice after a failed move) rely on it, so here the usage is clamped and a
    warning logged. Releasing pCPUs that are not pinned still raises, as in Nova.
    """
    if not host_topology or not instance_topology:
        return host_topology
    host = bridge.host_topology_from_nova(host_topology)
    instance = bridge.instance_topology_from_nova(instance_topology)
    assert host is not None and instance is not None  # neither was None above
    if free:
        _raise_usage_to_release(host, instance)
    with as_nova():
        updated = hardware.numa_usage_from_instance_numa(host, instance, free=free)
    return bridge.host_topology_to_nova(updated, base=host_topology)


def _raise_usage_to_release(host: objects.NUMATopology, instance) -> None:
    """Lift usage that a release would take below zero up to what is released (so the
    release ends at zero: Nova's clamp). ``host`` is this module's private copy."""
    cells = {cell.id: cell for cell in host.cells}
    for guest in instance.cells:
        cell = cells.get(guest.id)
        if cell is None:
            continue
        floating = len(guest.cpuset) if guest.cpu_policy != "dedicated" else 0
        if cell.cpu_usage < floating:
            LOG.warning(
                "host cell %s: releasing %s vCPUs of %s used; clamped at 0",
                cell.id,
                floating,
                cell.cpu_usage,
            )
            cell.cpu_usage = floating
        if cell.memory_usage < guest.memory:
            LOG.warning(
                "host cell %s: releasing %s MiB of %s used; clamped at 0",
                cell.id,
                guest.memory,
                cell.memory_usage,
            )
            cell.memory_usage = guest.memory
        pages = None
        if guest.pagesize:
            pages = cell.pages_of_size(guest.pagesize)
        elif cell.mempages:
            pages = min(cell.mempages, key=lambda p: p.size_kb)
        if pages is not None:
            needed = guest.memory * 1024 // pages.size_kb
            if pages.used < needed:
                LOG.warning(
                    "host cell %s: releasing %s pages of %s KiB, %s used; clamped at 0",
                    cell.id,
                    needed,
                    pages.size_kb,
                    pages.used,
                )
                pages.used = needed


#: The functions :func:`os_numa.nova.install` puts into ``nova.virt.hardware``.
REPLACES = (
    "get_cpu_policy_constraint",
    "get_cpu_thread_policy_constraint",
    "get_emulator_thread_policy_constraint",
    "is_realtime_enabled",
    "get_realtime_cpu_constraint",
    "get_dedicated_cpu_constraint",
    "numa_get_constraints",
    "numa_fit_instance_to_host",
    "numa_usage_from_instance_numa",
)
