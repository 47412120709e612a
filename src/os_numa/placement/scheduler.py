"""Candidates -> fit -> allocation -> claim: placing guests across hosts with Placement.

For each guest, :meth:`Scheduler.schedule`

1. asks ``GET /allocation_candidates`` for each alternative of
   :func:`~os_numa.placement.request.placement_requests`;
2. fits the guest on each candidate's host in Placement's order, held to the
   host cells the candidate names for each guest cell (its ``mappings``: what
   Nova calls the ``provider_mapping``) with
   :func:`os_numa.verdict.fit_or_explain`; a candidate that the fit rejects
   after Placement said yes is counted, with the fit's explanation;
3. writes the candidate's allocation with ``PUT /allocations/{consumer}``
   (a new consumer: ``consumer_generation`` null), the ``pool`` unit moved to
   the cell whose pool pCPU the fit chose;
4. claims on the host's :class:`~os_numa.compute.ResourceTracker` with the
   same cell mapping. If the claim fails, the allocation is deleted and the
   next candidate tried.

A lost race (409: another scheduler took the capacity first) starts again
with fresh candidates, up to ``[placement] claim_retries`` times.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from os_numa import conf as os_numa_conf
from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits
from os_numa.placement import tree as tree_mod
from os_numa.placement.client import PlacementClient
from os_numa.placement.request import PlacementRequest, placement_requests
from os_numa.placement.sync import SyncResult, sync_tree
from os_numa.verdict import fit_or_explain
from os_numa.virt.driver import ComputeDriver

#: Project and user of the allocations os-numa writes when the caller names none.
DEFAULT_PROJECT = "os-numa"
DEFAULT_USER = "os-numa"


@dataclass
class FleetHost:
    """One compute host as the scheduler knows it: its providers and its tracker."""

    tree: tree_mod.HostTree
    tracker: ResourceTracker

    @property
    def name(self) -> str:
        return self.tree.host


@dataclass(frozen=True)
class Rejection:
    """A candidate Placement offered that the NUMA fit (or the host's claim) refused."""

    host: str
    host_cells: tuple[int, ...]
    reason: str
    stage: str = "fit"  # "fit": the scheduler's fit; "claim": the host's claim


@dataclass(frozen=True)
class Decision:
    """The outcome of scheduling one guest.

    ``host`` is None when no candidate fitted; ``reason`` then says why.
    ``candidates`` counts the candidates examined (all rounds), ``rejected``
    those the fit refused after Placement offered them, ``retries`` the
    rounds lost to another writer (409).
    """

    instance_uuid: str
    host: str | None
    placement: InstanceNUMATopology | None = None
    allocations: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    candidates: int = 0
    rejected: tuple[Rejection, ...] = ()
    retries: int = 0
    reason: str | None = None

    @property
    def placed(self) -> bool:
        return self.host is not None

    @property
    def host_cells(self) -> tuple[int, ...]:
        return () if self.placement is None else tuple(c.id for c in self.placement.cells)


@dataclass
class Stats:
    """Running totals over every decision of a scheduler."""

    decisions: int = 0
    placed: int = 0
    candidates: int = 0
    rejected: int = 0
    claim_failures: int = 0
    retries: int = 0
    no_candidates: int = 0

    def add(self, decision: Decision) -> None:
        self.decisions += 1
        self.placed += decision.placed
        self.candidates += decision.candidates
        self.rejected += sum(r.stage == "fit" for r in decision.rejected)
        self.claim_failures += sum(r.stage == "claim" for r in decision.rejected)
        self.retries += decision.retries
        self.no_candidates += decision.candidates == 0

    @property
    def rejected_share(self) -> float:
        """Rejected candidates / candidates examined (0 when none were examined)."""
        return self.rejected / self.candidates if self.candidates else 0.0


def limits_from_conf(conf: Any = None) -> NUMATopologyLimits:
    """The fit's limits for shared cells: ``[placement]`` allocation ratios, as reported."""
    conf = os_numa_conf.CONF if conf is None else conf
    return NUMATopologyLimits(
        cpu_allocation_ratio=conf.placement.cpu_allocation_ratio,
        ram_allocation_ratio=conf.placement.ram_allocation_ratio,
    )


def register_host(
    client: PlacementClient,
    name: str,
    topology: NUMATopology,
    conf: Any = None,
    *,
    model: str = tree_mod.NESTED,
    driver: Any = None,
    tracker: ResourceTracker | None = None,
) -> tuple[FleetHost, SyncResult]:
    """Report ``topology`` of host ``name`` to Placement and keep a tracker for it.

    ``tracker`` is the host's own when it has one (its host topology is what
    gets reported); otherwise one is made over ``topology`` with ``driver``
    (default: :class:`~os_numa.virt.driver.ComputeDriver`, no overhead).
    """
    if tracker is None:
        tracker = ResourceTracker(
            driver or ComputeDriver(), topology, conf, limits=limits_from_conf(conf)
        )
    host_tree = tree_mod.host_tree(name, tracker.host_topology, conf, model=model)
    return FleetHost(host_tree, tracker), sync_tree(client, host_tree)


class Scheduler:
    """Places guests on ``hosts`` through one Placement service.

    :param client: the Placement client.
    :param hosts: the hosts this scheduler may place on; candidates on other
        roots (providers it does not know) are skipped.
    :param conf: options (``[placement]`` and the fit's); None: the global ``CONF``.
    :param model: ``nested`` (os-numa's tree) or ``flat`` (Nova's), as the hosts were registered.
    """

    def __init__(
        self,
        client: PlacementClient,
        hosts: Iterable[FleetHost],
        conf: Any = None,
        *,
        model: str = tree_mod.NESTED,
        project_id: str = DEFAULT_PROJECT,
        user_id: str = DEFAULT_USER,
    ) -> None:
        self.client = client
        self.conf = os_numa_conf.CONF if conf is None else conf
        self.model = model
        self.project_id = project_id
        self.user_id = user_id
        self.hosts = {host.tree.root.uuid: host for host in hosts}
        self._by_provider = {
            provider.uuid: host for host in self.hosts.values() for provider in host.tree.providers
        }
        self.limits = limits_from_conf(self.conf)
        self.stats = Stats()
        self._page_sizes: tuple[int, ...] | None = None

    def page_sizes(self) -> tuple[int, ...]:
        """Huge page sizes (KiB) that have a resource class in Placement (read once)."""
        if self._page_sizes is None:
            sizes = (tree_mod.page_size_of(rc) for rc in self.client.resource_classes())
            self._page_sizes = tuple(sorted(s for s in sizes if s))
        return self._page_sizes

    def schedule(self, flavor: Any, image_meta: Any = None, *, instance_uuid: str | None = None):
        """Place one guest: returns a :class:`Decision` (its ``host`` None when nothing fits).

        :raises Invalid: the flavor or image is invalid (nothing is written).
        :raises PlacementError: Placement failed for another reason than a lost race.
        """
        uuid = instance_uuid or str(uuid_mod.uuid4())
        requests = placement_requests(
            flavor, image_meta, model=self.model, page_sizes=self.page_sizes()
        )
        retries = 0
        seen = 0
        rejected: list[Rejection] = []
        limit = self.conf.placement.max_candidates
        while True:
            lost = False
            for request in requests:
                answer = self.client.allocation_candidates(request.query(limit))
                for candidate in answer["allocation_requests"]:
                    host = self._host_of(candidate["allocations"])
                    if host is None:
                        continue
                    seen += 1
                    outcome = self._try(host, request, candidate, flavor, image_meta, uuid)
                    if isinstance(outcome, Rejection):
                        rejected.append(outcome)
                        continue
                    if outcome is None:  # lost the race on this candidate's providers
                        lost = True
                        break
                    placement, allocations = outcome
                    return self._record(
                        Decision(
                            uuid,
                            host.name,
                            placement,
                            allocations,
                            seen,
                            tuple(rejected),
                            retries,
                        )
                    )
                if lost:
                    break
            if not lost or retries >= self.conf.placement.claim_retries:
                break
            retries += 1
        if lost:
            reason = f"lost the race for capacity {retries + 1} times"
        elif not seen:
            reason = "Placement offered no candidate"
        else:
            reason = f"the NUMA fit refused all {seen} candidates Placement offered"
        return self._record(
            Decision(uuid, None, None, {}, seen, tuple(rejected), retries, reason=reason)
        )

    def delete(self, instance_uuid: str, host: str | None = None) -> None:
        """Free a placed guest: its allocations in Placement and its claim on the host."""
        self.client.delete_allocations(instance_uuid)
        for fleet_host in self.hosts.values():
            if host is not None and fleet_host.name != host:
                continue
            try:
                fleet_host.tracker.drop(instance_uuid)
            except exception.InstanceNotClaimed:
                continue

    # -- internals ----------------------------------------------------------------------

    def _record(self, decision: Decision) -> Decision:
        self.stats.add(decision)
        return decision

    def _host_of(self, allocations: Mapping[str, Any]) -> FleetHost | None:
        for provider_uuid in allocations:
            host = self._by_provider.get(provider_uuid)
            if host is not None:
                return host
        return None

    def _try(
        self,
        host: FleetHost,
        request: PlacementRequest,
        candidate: Mapping[str, Any],
        flavor: Any,
        image_meta: Any,
        uuid: str,
    ):
        """A (placement, allocations) pair, a :class:`Rejection`, or None when the PUT lost."""
        mapping, cells = _cells_of(host.tree, request, candidate)
        topology = host.tracker.host_topology
        verdict = fit_or_explain(
            topology,
            request.topology,
            self.limits,
            conf=self.conf,
            host_cells=cells if mapping is None else None,
            cell_mapping=mapping,
        )
        if not verdict.fits:
            return Rejection(host.name, _named(mapping, cells), str(verdict.reason))
        allocations = _allocations(host.tree, topology, candidate["allocations"], verdict.placement)
        try:
            self.client.put_allocations(
                uuid, allocations, project_id=self.project_id, user_id=self.user_id
            )
        except exception.PlacementConflict:
            return None
        instance = Instance(uuid=uuid, flavor=flavor, image_meta=image_meta)
        instance.numa_topology = request.topology
        claim_mapping = mapping
        if claim_mapping is None and verdict.placement is not None:
            claim_mapping = [cell.id for cell in verdict.placement.cells]
        try:
            with host.tracker.instance_claim(instance, cell_mapping=claim_mapping):
                pass
        except exception.ComputeResourcesUnavailable as exc:
            self.client.delete_allocations(uuid)
            return Rejection(host.name, _named(mapping, cells), str(exc), stage="claim")
        return instance.numa_topology, allocations


def _cells_of(
    host_tree: tree_mod.HostTree, request: PlacementRequest, candidate: Mapping[str, Any]
) -> tuple[list[int] | None, set[int] | None]:
    """(host cell per guest cell, or None; host cells the allocation names, or None).

    With cell groups, ``mappings`` names each group's provider: that is the
    cell mapping. Otherwise the fit may use any cell the allocation names
    (None: the allocation names none, e.g. Nova's flat model).
    """
    mappings = candidate.get("mappings") or {}
    if request.cell_groups and mappings:
        mapping = []
        for suffix in request.cell_groups:
            providers = mappings.get(suffix) or ()
            cell = next((host_tree.cell_of(p) for p in providers), None)
            if cell is None:
                break
            mapping.append(cell)
        else:
            return mapping, None
    named = {cell for p in candidate["allocations"] if (cell := host_tree.cell_of(p)) is not None}
    return None, (named or None)


def _allocations(
    host_tree: tree_mod.HostTree,
    topology: NUMATopology,
    offered: Mapping[str, Any],
    placement: InstanceNUMATopology | None,
) -> dict[str, dict[str, int]]:
    """The candidate's allocations, with the emulator pool unit on the fit's pool cell."""
    allocations = {rp: dict(body["resources"]) for rp, body in offered.items()}
    pool_cpu = None if placement is None else placement.emulator_pool_cpu
    if pool_cpu is None:
        return allocations
    holder = next((rp for rp, res in allocations.items() if tree_mod.EMULATOR_POOL in res), None)
    cell = next((c.id for c in topology.cells if pool_cpu in c.emulator_pool_cpus), None)
    provider = None if cell is None else host_tree.cell_provider(cell)
    target = None if provider is None else provider.uuid
    if holder is None or target is None or holder == target:
        return allocations
    amount = allocations[holder].pop(tree_mod.EMULATOR_POOL)
    if not allocations[holder]:
        del allocations[holder]
    allocations.setdefault(target, {})[tree_mod.EMULATOR_POOL] = amount
    return allocations


def _named(mapping: list[int] | None, cells: set[int] | None) -> tuple[int, ...]:
    if mapping is not None:
        return tuple(mapping)
    return tuple(sorted(cells or ()))


__all__ = [
    "Decision",
    "FleetHost",
    "Rejection",
    "Scheduler",
    "Stats",
    "limits_from_conf",
    "register_host",
]
