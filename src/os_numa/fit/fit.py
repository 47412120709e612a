"""``numa_fit_instance_to_host``: guest cells onto host cells, vCPUs onto pCPUs.

:func:`make_problem` snapshots the inputs, :func:`attempt` runs the fit's
stages on that :class:`Problem` and returns a :class:`FitAttempt` (the
assignment, or the stage that refused the guest with the facts of the failure);
the versioned placement is built from it only when asked for.
:func:`os_numa.explain.report` words a failure from the same attempt, and
:func:`os_numa.verdict.fit_or_explain` is the verb that does both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, cast

from oslo_config import cfg

from os_numa import conf as os_numa_conf
from os_numa import objects
from os_numa.fit import affinity, device_search, restrict, search
from os_numa.fit.cellfit import cell_fit
from os_numa.fit.order import host_order
from os_numa.fit.outcome import CellFit, Shortfall
from os_numa.fit.pool import EmulatorPool, emulator_pool
from os_numa.fit.snapshot import (
    GuestCell,
    HostCell,
    Limits,
    emulator_request,
    emulator_reserve,
    guest_cells,
    limits_of,
)
from os_numa.fit.snapshot import host_cells as snapshot_host_cells
from os_numa.objects import fields
from os_numa.objects.fast import derive
from os_numa.pci.request import PciRequest
from os_numa.pci.stats import PciDeviceStats


@dataclass(slots=True)
class Problem:
    """One fit question on snapshots, with the per-pair answers cached.

    The cache key is (guest index, host index): both are positions that never
    change, unlike the guest cell ``id`` Nova keyed on (defects 1 and 2).
    """

    hosts: tuple[HostCell, ...]
    guests: tuple[GuestCell, ...]
    reserve: int
    limits: Limits | None
    order: tuple[int, ...]
    realtime: frozenset[int] = frozenset()
    smt_aware: bool = False
    #: The host's emulator pool, for a ``pool`` guest only (see :mod:`os_numa.fit.pool`).
    pool: EmulatorPool | None = None
    #: Per guest cell, the host cell ids it may take (None: any); see :mod:`os_numa.fit.restrict`.
    allowed: restrict.Allowed | None = None
    #: Network affinity rules on the chosen set of host cells (:mod:`os_numa.fit.affinity`).
    coverage: tuple[search.Coverage[int], ...] = ()
    #: Distance matrix by host index, with ``[os_numa] prefer_closest_numa_cells`` only.
    distances: tuple[tuple[int, ...], ...] | None = None
    #: ``[os_numa] align_cpus_by_cache`` of this ConfigOpts (pins in as few cache banks
    #: as possible), read only when a host cell has two banks or more (None: never).
    cache_conf: Any = None
    _cache_aware: bool | None = None
    _outcomes: dict[tuple[int, int], CellFit | Shortfall] = field(default_factory=dict)

    def cache_aware(self, host: int) -> bool:
        """Whether host cell index ``host`` is packed by cache bank (it has several and
        the option is on; the option is read once, and only for such a cell)."""
        if self.cache_conf is None or len(self.hosts[host].cache_banks) < 2:
            return False
        if self._cache_aware is None:
            self._cache_aware = bool(_option(self.cache_conf, "os_numa", "align_cpus_by_cache"))
        return self._cache_aware

    def outcome(self, guest: int, host: int) -> CellFit | Shortfall:
        """Guest cell ``guest`` on host cell index ``host``; the emulator reserve is guest 0's."""
        key = (guest, host)
        result = self._outcomes.get(key)
        if result is None:
            result = self._outcomes[key] = self._cell_fit(guest, host)
        return result

    def _cell_fit(self, guest: int, host: int) -> CellFit | Shortfall:
        cell = self.hosts[host]
        if self.allowed is not None:
            barred = restrict.outside(self.allowed[guest], cell.id)
            if barred is not None:
                return barred
        if guest == 0 and self.reserve:
            return cell_fit(
                cell,
                self.guests[0],
                self.reserve,
                self.limits,
                self.realtime,
                self.smt_aware,
                self.cache_aware(host),
            )
        return cell_fit(
            cell, self.guests[guest], 0, self.limits, cache_aware=self.cache_aware(host)
        )

    def feasible(self, guest: int, host: int) -> bool:
        return isinstance(self.outcome(guest, host), CellFit)

    def assignment(self) -> tuple[int, ...] | None:
        """Host cell index per guest cell, Nova's first choice, or None."""
        if not self.coverage and self.distances is None:
            # The common answer, without the matching's set-up (pairs tested are cached).
            found = search.greedy(len(self.guests), self.order, self.feasible)
            if found is not None:
                return found
        found = self.find(len(self.guests), self.order, self.feasible)
        return None if found is None else tuple(map(int, found))

    def find(self, k, order, feasible, rules=None):
        """:func:`os_numa.fit.search.find_assignment` with this problem's network rules
        added and, with a distance matrix, on the closest set of host cells."""
        rules = tuple(rules or ()) + self.coverage
        if self.distances is None:
            return search.find_assignment(k, order, feasible, rules or None)
        return affinity.closest_assignment(k, order, feasible, rules, self.distances)


_PINNING = attrgetter("pinning")


def make_problem(
    host_topology: objects.NUMATopology,
    instance_topology: objects.InstanceNUMATopology,
    limits: objects.NUMATopologyLimits | None = None,
    conf: cfg.ConfigOpts | None = None,
    *,
    host_cells: Collection[int] | None = None,
    cell_mapping: Sequence[int] | None = None,
    network_metadata: Any = None,
    pci_devices: Mapping[int, int] | None = None,
    pci_requested: bool = False,
) -> Problem:
    """Snapshot the inputs and order the host cells.

    ``network_metadata`` (Nova's ``NetworkMetadata``, a mapping with ``physnets``
    and ``tunneled``, or None: ``limits.network_metadata`` when the limits carry
    one) adds the network affinity rules of :mod:`os_numa.fit.affinity`;
    ``[os_numa] prefer_closest_numa_cells`` the distance preference.

    ``pci_devices`` (free PCI devices per host cell id) and ``pci_requested`` order
    device-local cells first for guests requesting devices and last for the others,
    as Nova does when it is given the host's PCI stats (:func:`os_numa.fit.order.host_order`).

    ``host_cells`` and ``cell_mapping`` restrict where guest cells may go
    (:func:`os_numa.fit.restrict.allowed_cells`). Reads ``[compute]
    packing_host_numa_cells_allocation_strategy`` and, for ``isolate``
    guests, ``[os_numa] emulator_threads_smt_aware``.
    """
    conf = os_numa_conf.CONF if conf is None else conf
    hosts = snapshot_host_cells(host_topology)
    guests = guest_cells(instance_topology)
    # Only a host with more cells than the guest needs an order (and the option).
    pack = len(hosts) > len(guests) and bool(
        _option(conf, "compute", "packing_host_numa_cells_allocation_strategy")
    )
    pinning = any(map(_PINNING, guests))
    emulator = emulator_request(instance_topology)
    reserve = emulator_reserve(emulator, guests)
    smt_aware = bool(reserve) and bool(_option(conf, "os_numa", "emulator_threads_smt_aware"))
    if network_metadata is None:
        network_metadata = getattr(limits, "network_metadata", None)
    network = affinity.network_request(network_metadata)
    closest = (
        len(guests) > 1
        and len(hosts) > len(guests)
        and bool(_option(conf, "os_numa", "prefer_closest_numa_cells"))
    )
    return Problem(
        hosts=hosts,
        guests=guests,
        reserve=reserve,
        limits=limits_of(limits),
        order=host_order(hosts, len(guests), pinning, pack, pci_devices, pci_requested),
        realtime=emulator.realtime if reserve else frozenset(),
        smt_aware=smt_aware,
        allowed=restrict.allowed_cells(len(guests), host_cells, cell_mapping),
        coverage=_network_rules(host_topology, network) if network is not None else (),
        distances=_distance_matrix(host_topology) if closest else None,
        cache_conf=conf if pinning else None,
        pool=(
            emulator_pool(host_topology)
            if emulator.policy == fields.CPUEmulatorThreadsPolicy.POOL
            else None
        ),
    )


def _option(conf: Any, group: str, name: str) -> Any:
    """``conf[group][name]``; for a ``ConfigOpts``, straight through its cached lookup,
    which that expression reaches after two wrapper layers (a few per cent of a fit)."""
    if isinstance(conf, cfg.ConfigOpts):
        return conf._get(name, group)
    return conf[group][name]


def _network_rules(host_topology, network: affinity.NetworkRequest):
    cells = host_topology.cells
    return affinity.network_coverage(
        network,
        [getattr(cell, "physnets", None) or () for cell in cells],
        [bool(getattr(cell, "tunneled", False)) for cell in cells],
    )


def _distance_matrix(host_topology) -> tuple[tuple[int, ...], ...] | None:
    """Distances by host index, or None when a cell reports none (no preference then)."""
    cells = host_topology.cells
    rows = []
    for cell in cells:
        known = getattr(cell, "distances", None) or {}
        row = tuple(known.get(str(other.id)) for other in cells)
        if None in row:
            return None
        rows.append(cast(tuple[int, ...], row))  # no None left in it
    return tuple(rows)


def pool_shortfall(problem: Problem) -> str | None:
    """Why a ``pool`` guest cannot get an emulator pool pCPU, or None (also for other guests)."""
    return None if problem.pool is None else problem.pool.shortfall()


def numa_fit_instance_to_host(
    host_topology: objects.NUMATopology | None,
    instance_topology: objects.InstanceNUMATopology | None,
    limits: objects.NUMATopologyLimits | None = None,
    pci_requests: Sequence[PciRequest] | None = None,
    pci_stats: PciDeviceStats | None = None,
    conf: cfg.ConfigOpts | None = None,
    *,
    host_cells: Collection[int] | None = None,
    cell_mapping: Sequence[int] | None = None,
    network_metadata: Any = None,
) -> objects.InstanceNUMATopology | None:
    """Place ``instance_topology`` on ``host_topology``, or None when it does not fit.

    Each guest cell lands on a distinct host cell; the first complete assignment
    in Nova's order wins (see :mod:`os_numa.fit.search`). The result is a new
    topology: every cell's ``id`` is its host cell id, pinned cells carry
    ``cpu_pinning``, guest cell 0 of an ``isolate`` guest carries
    ``cpuset_reserved`` (``emulator_threads_count`` pCPUs, one by default, off
    the cores of ``realtime_vcpus`` on SMT cells unless ``[os_numa]
    emulator_threads_smt_aware`` is false), a ``pool`` guest carries ``emulator_pool_cpu`` (the
    least loaded pool pCPU, nearest first: see :mod:`os_numa.fit.pool`; no fit
    when the pool is full or absent), and a requested page size is resolved.
    Neither argument is mutated. ``pci_requests`` (:class:`os_numa.pci.request.PciRequest` list)
    are served from ``pci_stats`` (:class:`os_numa.pci.stats.PciDeviceStats`;
    None: no devices) under their NUMA policies as part of the search, and the
    placement's ``pci_devices`` records the devices chosen (see :mod:`os_numa.fit.device_search`).

    ``host_cells`` (host cell ids) keeps every guest cell on those cells;
    ``cell_mapping`` (one host cell id per guest cell, in guest cell order)
    puts each guest cell on its own cell, for example the NUMA providers of a
    Placement allocation candidate (see :mod:`os_numa.fit.restrict`). The
    emulator pCPU of ``isolate`` stays with guest cell 0.

    ``network_metadata`` (or ``limits.network_metadata``, as Nova passes it)
    names the physnets and tunneled networks of the guest's ports; the host
    cells chosen must then include one local to each (``[neutron]``
    options). ``[os_numa] prefer_closest_numa_cells`` picks, among the sets of
    host cells that fit, the closest (see :mod:`os_numa.fit.affinity`).

    :raises InvalidRequest: a guest cell's vCPU sets contradict its CPU policy,
        or ``cell_mapping`` does not name one distinct host cell per guest cell.
    :raises BadRequirementEmulatorThreadsPolicy: ``isolate`` without pinned vCPUs.
    """
    if host_topology is None or instance_topology is None:
        return None
    problem = make_problem(
        host_topology,
        instance_topology,
        limits,
        conf,
        host_cells=host_cells,
        cell_mapping=cell_mapping,
        network_metadata=network_metadata,
    )
    return attempt(problem, host_topology, instance_topology, pci_requests, pci_stats).placement


#: The stages of a fit, in the order it runs them; :attr:`FitAttempt.stage` is the one
#: that refused the guest (or :data:`FITS`).
POOL, CELLS, ASSIGNMENT, DEVICES, FITS = "pool", "cells", "assignment", "devices", "fits"


@dataclass(slots=True, eq=False)
class FitAttempt:
    """What one fit came to: the assignment it chose, or the facts of its failure.

    ``stage`` is :data:`FITS`, or the stage that refused the guest:
    :data:`POOL` (a ``pool`` guest finds the emulator pool full or absent:
    ``pool_reason`` says so), :data:`CELLS` (more guest cells than host cells),
    :data:`ASSIGNMENT` (no host cell per guest cell fits), :data:`DEVICES` (the
    guest fits, ``cpu_assignment``, but no such set of host cells serves the
    PCI requests). ``assignment`` is the host cell index per guest cell chosen,
    ``device_fit`` the device search's result (with PCI requests). Every per-cell
    answer the search worked out stays cached in ``problem``, so an explanation
    (:func:`os_numa.explain.report`) reads them instead of fitting again.

    The versioned :attr:`placement` is built the first time a caller asks for
    it: a scheduler filter that only needs pass or fail never builds it. Treat
    an attempt as read-only (slots, not frozen: it is made once per host a
    scheduler filter checks, and a frozen dataclass costs three times as much to make).
    """

    problem: Problem
    host_topology: objects.NUMATopology
    instance_topology: objects.InstanceNUMATopology
    stage: str
    assignment: tuple[int, ...] | None = None
    cpu_assignment: tuple[int, ...] | None = None
    device_fit: device_search.PciFit | None = None
    pool_reason: str | None = None
    pci_requests: tuple[PciRequest, ...] = ()
    pci_stats: PciDeviceStats | None = None
    _placement: objects.InstanceNUMATopology | None = field(default=None, init=False, repr=False)

    @property
    def fits(self) -> bool:
        return self.stage == FITS

    @property
    def placement(self) -> objects.InstanceNUMATopology | None:
        """The placement (new objects, built once), or None when the guest does not fit."""
        if self._placement is None and self.assignment is not None:
            placement = build_placement(self.instance_topology, self.problem, self.assignment)
            if self.device_fit is not None:
                placement.pci_devices = device_search.device_objects(
                    self.device_fit, self.host_topology
                )
            self._placement = placement
        return self._placement


def attempt(
    problem: Problem,
    host_topology: objects.NUMATopology,
    instance_topology: objects.InstanceNUMATopology,
    pci_requests: Sequence[PciRequest] | None = None,
    pci_stats: PciDeviceStats | None = None,
) -> FitAttempt:
    """Run the fit of :func:`numa_fit_instance_to_host` on a problem already made from
    the same topologies (see :func:`make_problem`): its stages in order, the first that
    refuses the guest ending it. Nothing versioned is built (see :class:`FitAttempt`)."""
    requests = tuple(pci_requests or ())
    assignment = alone = served = None
    pool_reason = pool_shortfall(problem)
    if pool_reason is not None:
        stage = POOL
    elif len(problem.guests) > len(problem.hosts):
        stage = CELLS
    elif requests:
        # PCI devices couple the guest cells: fit.device_search searches with coverage rules.
        served = fit_devices(problem, host_topology, requests, pci_stats)
        if served is not None:
            stage, assignment = FITS, served.assignment
        else:
            # The devices refused the guest only if it fits without them.
            alone = problem.assignment()
            stage = ASSIGNMENT if alone is None else DEVICES
    else:
        assignment = alone = problem.assignment()
        stage = ASSIGNMENT if assignment is None else FITS
    return FitAttempt(
        problem,
        host_topology,
        instance_topology,
        stage,
        assignment,
        alone,
        served,
        pool_reason,
        requests,
        pci_stats,
    )


def solve(
    problem: Problem,
    host_topology: objects.NUMATopology,
    instance_topology: objects.InstanceNUMATopology,
    pci_requests: Sequence[PciRequest] | None = None,
    pci_stats: PciDeviceStats | None = None,
) -> objects.InstanceNUMATopology | None:
    """The placement of :func:`numa_fit_instance_to_host` for a problem already made
    from the same topologies (see :func:`make_problem`), or None: :func:`attempt`'s
    placement."""
    return attempt(problem, host_topology, instance_topology, pci_requests, pci_stats).placement


def fit_devices(
    problem: Problem,
    host_topology: objects.NUMATopology,
    pci_requests: Sequence[PciRequest],
    pci_stats: PciDeviceStats | None,
) -> device_search.PciFit | None:
    """:func:`os_numa.fit.device_search.find_device_assignment` on the problem (its order,
    cache and rules): the first assignment whose host cells serve ``pci_requests``, with
    its devices."""
    return device_search.find_device_assignment(
        len(problem.guests),
        device_search.host_infos(host_topology),
        problem.order,
        problem.feasible,
        pci_requests,
        pci_stats,
        search=problem.find,
    )


def build_placement(
    instance_topology: objects.InstanceNUMATopology, problem: Problem, assignment: tuple[int, ...]
) -> objects.InstanceNUMATopology:
    """The versioned answer: the request's cells with the choices filled in, new objects."""
    cells = []
    for index, (cell, host) in enumerate(zip(instance_topology.cells, assignment, strict=True)):
        fit = problem.outcome(index, host)
        assert isinstance(fit, CellFit)
        guest = problem.guests[index]
        choices = {
            "id": problem.hosts[host].id,
            "cpuset": set(guest.floating_vcpus),
            "pcpuset": set(guest.pinned),
            "memory": guest.memory,
            "pagesize": guest.pagesize if fit.pagesize is None else fit.pagesize,
            # None for a cell without pinned vCPUs (a mixed guest's), as in Nova.
            "cpu_pinning_raw": (
                {str(vcpu): pcpu for vcpu, pcpu in fit.pinning} if guest.pinned else None
            ),
            "cpuset_reserved": set(fit.reserved) if fit.reserved else None,
            "cpu_policy": guest.policy,
            "cpu_thread_policy": guest.thread_policy,
        }
        cells.append(derive(cell, choices))
    pool = (
        None
        if problem.pool is None
        else problem.pool.choose([problem.hosts[host].id for host in assignment])
    )
    return derive(instance_topology, {"cells": cells, "emulator_pool_cpu": pool})
