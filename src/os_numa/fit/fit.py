"""``numa_fit_instance_to_host``: guest cells onto host cells, vCPUs onto pCPUs."""

from __future__ import annotations

from dataclasses import dataclass, field

from os_numa import conf as os_numa_conf
from os_numa import objects
from os_numa.fit import search
from os_numa.fit.cellfit import cell_fit
from os_numa.fit.order import host_order
from os_numa.fit.outcome import CellFit, Shortfall
from os_numa.fit.snapshot import (
    GuestCell,
    HostCell,
    Limits,
    emulator_reserve,
    guest_cells,
    host_cells,
    limits_of,
)


@dataclass
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
    _outcomes: dict[tuple[int, int], CellFit | Shortfall] = field(default_factory=dict)

    def outcome(self, guest: int, host: int) -> CellFit | Shortfall:
        """Guest cell ``guest`` on host cell index ``host``; the emulator reserve is guest 0's."""
        key = (guest, host)
        result = self._outcomes.get(key)
        if result is None:
            result = self._outcomes[key] = cell_fit(
                self.hosts[host],
                self.guests[guest],
                self.reserve if guest == 0 else 0,
                self.limits,
            )
        return result

    def feasible(self, guest: int, host: int) -> bool:
        return isinstance(self.outcome(guest, host), CellFit)

    def assignment(self) -> tuple[int, ...] | None:
        """Host cell index per guest cell, Nova's first choice, or None."""
        found = search.find_assignment(len(self.guests), self.order, self.feasible)
        return None if found is None else tuple(int(h) for h in found)


def make_problem(host_topology, instance_topology, limits=None, conf=None) -> Problem:
    """Snapshot the inputs and order the host cells (``[compute] packing_...``)."""
    conf = os_numa_conf.CONF if conf is None else conf
    hosts = host_cells(host_topology)
    guests = guest_cells(instance_topology)
    pack = bool(conf.compute.packing_host_numa_cells_allocation_strategy)
    pinning = any(g.pinning for g in guests)
    return Problem(
        hosts=hosts,
        guests=guests,
        reserve=emulator_reserve(instance_topology, guests),
        limits=limits_of(limits),
        order=host_order(hosts, len(guests), pinning, pack),
    )


def numa_fit_instance_to_host(
    host_topology,
    instance_topology,
    limits=None,
    pci_requests=None,
    pci_stats=None,
    conf=None,
) -> objects.InstanceNUMATopology | None:
    """Place ``instance_topology`` on ``host_topology``, or None when it does not fit.

    Each guest cell lands on a distinct host cell; the first complete assignment
    in Nova's order wins (see :mod:`os_numa.fit.search`). The result is a new
    topology: every cell's ``id`` is its host cell id, pinned cells carry
    ``cpu_pinning``, guest cell 0 of an ``isolate`` guest carries
    ``cpuset_reserved``, and a requested page size is resolved. Neither argument
    is mutated. ``pci_requests``/``pci_stats`` are accepted for Nova's signature
    and not used yet.

    :raises InvalidRequest: a guest cell's vCPU sets contradict its CPU policy.
    :raises BadRequirementEmulatorThreadsPolicy: ``isolate`` without pinned vCPUs.
    """
    if host_topology is None or instance_topology is None:
        return None
    problem = make_problem(host_topology, instance_topology, limits, conf)
    assignment = problem.assignment()
    if assignment is None:
        return None
    return build_placement(instance_topology, problem, assignment)


def build_placement(
    instance_topology, problem: Problem, assignment: tuple[int, ...]
) -> objects.InstanceNUMATopology:
    """The versioned answer: copies of the request's cells with the choices filled in."""
    cells = []
    for index, (cell, host) in enumerate(zip(instance_topology.cells, assignment, strict=True)):
        fit = problem.outcome(index, host)
        assert isinstance(fit, CellFit)
        values = _copied_fields(cell, skip=("id", "cpu_pinning_raw", "cpuset_reserved", "pagesize"))
        cells.append(
            objects.InstanceNUMACell(
                id=problem.hosts[host].id,
                cpu_pinning=dict(fit.pinning) if problem.guests[index].pinning else None,
                cpuset_reserved=set(fit.reserved) if fit.reserved else None,
                pagesize=fit.pagesize if fit.pagesize is not None else cell.pagesize,
                **values,
            )
        )
    values = _copied_fields(instance_topology, skip=("cells",))
    return objects.InstanceNUMATopology(cells=cells, **values)


def _copied_fields(obj, skip: tuple[str, ...]) -> dict:
    """Every set field of ``obj`` but ``skip``, containers copied one level deep."""
    values = {}
    for name in obj.fields:
        if name in skip or not obj.obj_attr_is_set(name):
            continue
        value = getattr(obj, name)
        if isinstance(value, (set, frozenset, dict, list)):
            value = type(value)(value)
        values[name] = value
    return values
