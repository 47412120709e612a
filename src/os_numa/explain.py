"""``explain_fit``: the fit's own search, plus why it failed, per host cell and guest cell.

Nova only logs "does not fit". The report here is built from the fit's own
result (:class:`~os_numa.fit.fit.FitAttempt`: the stage that refused the guest,
the assignment chosen, the device search's result) and the per-pair answers its
:class:`~os_numa.fit.fit.Problem` cached (computing the missing ones), so the
explanation cannot disagree with the fit and never runs its steps again.
:func:`os_numa.verdict.fit_or_explain` is the verb callers use to fit and, on
failure only, explain.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from oslo_config import cfg

from os_numa import cpuset, objects
from os_numa.fit import affinity, device_reasons, device_search, fit, search
from os_numa.fit.outcome import Shortfall
from os_numa.pci.request import PciRequest
from os_numa.pci.stats import PciDeviceStats


@dataclass(frozen=True)
class CellVerdict:
    """Guest cell ``guest_cell`` (its index) on host cell ``host_cell`` (its id)."""

    guest_cell: int
    host_cell: int
    shortfall: Shortfall | None

    @property
    def fits(self) -> bool:
        return self.shortfall is None

    def __str__(self) -> str:
        what = "fits" if self.shortfall is None else self.shortfall.text
        return f"guest cell {self.guest_cell} on host cell {self.host_cell}: {what}"


@dataclass(frozen=True)
class FitReport:
    """Whether a request fits a host, where, and if not, why.

    ``verdicts`` holds every guest cell x host cell pair (guest cells in order,
    host cells in the order the search offers them, ``host_order``), each with
    the first constraint that failed. ``unplaceable`` lists guest cells that fit
    no host cell; ``obstacle`` is ``(guest cells, host cell ids)`` when every
    guest cell fits somewhere but those guest cells together fit fewer host cells
    than they are; ``reason`` is set when the shapes alone rule a fit out.
    """

    fits: bool
    placement: objects.InstanceNUMATopology | None
    host_order: tuple[int, ...] = ()
    verdicts: tuple[CellVerdict, ...] = ()
    unplaceable: tuple[int, ...] = ()
    obstacle: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    reason: str | None = None
    #: With ``[os_numa] prefer_closest_numa_cells``: the summed pairwise NUMA distance
    #: of the host cells chosen (None otherwise).
    distance: int | None = None

    def verdicts_for(self, guest_cell: int) -> tuple[CellVerdict, ...]:
        return tuple(v for v in self.verdicts if v.guest_cell == guest_cell)

    def summary(self) -> str:
        """One paragraph for a person: where it went, or what stood in the way."""
        if self.fits:
            if self.placement is None:
                return "Fits: nothing asks for NUMA placement."
            pool_cpu = getattr(self.placement, "emulator_pool_cpu", None)
            pool = "" if pool_cpu is None else f"; emulator threads on pool pCPU {pool_cpu}"
            closest = (
                ""
                if self.distance is None
                else f"; the closest host cells that fit: NUMA distance {self.distance}"
            )
            return (
                "Fits: "
                + "; ".join(_placed(i, c) for i, c in enumerate(self.placement.cells))
                + pool
                + closest
                + "."
            )
        if self.reason is not None:
            return f"Does not fit: {self.reason}."
        if self.unplaceable:
            parts = []
            for guest in self.unplaceable:
                why = "; ".join(
                    f"{_host_cells(cells)}: {text}"
                    for text, cells in _group_by_reason(self.verdicts_for(guest))
                )
                parts.append(f"guest cell {guest} fits no host cell ({why})")
            return "Does not fit: " + "; ".join(parts) + "."
        guests, hosts = self.obstacle or ((), ())
        return (
            "Does not fit: every guest cell fits some host cell, but not all at once: "
            f"guest cells {_names(guests)} fit only host cell{'s' if len(hosts) != 1 else ''} "
            f"{_names(hosts)}, and each guest cell needs a host cell of its own."
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        if not self.fits:
            lines.extend(f"  {v}" for v in self.verdicts)
        return "\n".join(lines)


#: The report when the host or the request has no NUMA topology to fit.
NO_TOPOLOGY_REPORT = FitReport(
    fits=False,
    placement=None,
    reason="fitting needs both a host NUMA topology and a requested one",
)


def explain_fit(
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
) -> FitReport:
    """Run the fit of :func:`~os_numa.fit.fit.numa_fit_instance_to_host` and explain it.

    Same arguments and errors as the fit. A host cell that ``host_cells`` or
    ``cell_mapping`` rules out for a guest cell has the verdict "only host
    cell(s) ... allowed" (constraint ``host_cells``). When only the PCI requests stand in
    the way, ``reason`` names each failing alias with its free devices per cell.
    When a ``pool`` guest finds the emulator pool full (or absent), ``reason``
    says so with its numbers ("emulator pool full: 4 pCPUs x overcommit 2 = 8
    guests, 8 placed"). When the guest's networks (``network_metadata``) rule
    out every set of host cells that fits, ``reason`` names the network and the
    host cells local to it; with ``[os_numa] prefer_closest_numa_cells``,
    ``distance`` holds the NUMA distance of the cells chosen.
    """
    if host_topology is None or instance_topology is None:
        return NO_TOPOLOGY_REPORT
    problem = fit.make_problem(
        host_topology,
        instance_topology,
        limits,
        conf,
        host_cells=host_cells,
        cell_mapping=cell_mapping,
        network_metadata=network_metadata,
    )
    return report(fit.attempt(problem, host_topology, instance_topology, pci_requests, pci_stats))


def report(attempt: fit.FitAttempt) -> FitReport:
    """The :class:`FitReport` of a fit already run (:func:`os_numa.fit.fit.attempt`).

    Built from the attempt alone: its stage, its assignment or the facts of its
    failure, and the per-cell answers its problem cached (the verdicts of pairs
    the search never needed are worked out here, once). Nothing is fitted again.
    """
    problem = attempt.problem
    k, n = len(problem.guests), len(problem.hosts)
    host_ids = tuple(problem.hosts[h].id for h in problem.order)
    if attempt.stage == fit.POOL:
        return FitReport(
            fits=False, placement=None, host_order=host_ids, reason=attempt.pool_reason
        )
    if attempt.stage == fit.CELLS:
        return FitReport(
            fits=False,
            placement=None,
            host_order=host_ids,
            reason=(
                f"the guest asks for {k} NUMA cells but the host has {n}; "
                "each guest cell needs a host cell of its own"
            ),
        )
    verdicts = tuple(_verdicts(problem))
    if attempt.stage == fit.DEVICES:
        # With the per-cell verdicts that show where the guest cells could go instead.
        return FitReport(
            fits=False,
            placement=None,
            host_order=host_ids,
            verdicts=verdicts,
            reason=device_reasons.devices_reason(
                device_search.host_infos(attempt.host_topology),
                attempt.cpu_assignment,
                attempt.pci_requests,
                attempt.pci_stats,
            ),
        )
    if attempt.assignment is not None:
        return FitReport(
            fits=True,
            placement=attempt.placement,
            host_order=host_ids,
            verdicts=verdicts,
            distance=(
                None
                if problem.distances is None
                else affinity.set_distance(attempt.assignment, problem.distances) // 2
            ),
        )
    unplaceable = tuple(
        g for g in range(k) if not any(problem.feasible(g, h) for h in problem.order)
    )
    obstacle = None
    if not unplaceable:
        found = search.matching_obstacle(k, problem.order, problem.feasible)
        if found is not None:
            guests, hosts = found
            obstacle = (guests, tuple(problem.hosts[h].id for h in hosts))
    reason = None
    if not unplaceable and obstacle is None and problem.coverage:
        reason = affinity.coverage_reason(
            problem.coverage, [h.id for h in problem.hosts], problem.order, problem.feasible, k
        )
    return FitReport(
        fits=False,
        placement=None,
        host_order=host_ids,
        verdicts=verdicts,
        unplaceable=unplaceable,
        obstacle=obstacle,
        reason=reason,
    )


def _verdicts(problem: fit.Problem):
    """Every guest cell on every host cell, guest cells in order, host cells in search order."""
    for guest in range(len(problem.guests)):
        for host in problem.order:
            outcome = problem.outcome(guest, host)
            shortfall = outcome if isinstance(outcome, Shortfall) else None
            yield CellVerdict(guest, problem.hosts[host].id, shortfall)


def _group_by_reason(verdicts) -> list[tuple[str, list[int]]]:
    """Host cells that failed for the same reason, grouped; first-seen order kept.

    On a 16-cell host the summary then reads "host cells 0-15: ..." once
    instead of repeating the same sentence sixteen times.
    """
    groups: dict[str, list[int]] = {}
    for verdict in verdicts:
        groups.setdefault(verdict.shortfall.text, []).append(verdict.host_cell)
    return list(groups.items())


def _host_cells(cells: list[int]) -> str:
    if len(cells) == 1:
        return f"host cell {cells[0]}"
    return f"host cells {cpuset.format_cpu_spec(cells)}"


def _names(values) -> str:
    values = [str(v) for v in values]
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def _placed(index: int, cell) -> str:
    text = f"guest cell {index} on host cell {cell.id}"
    if cell.cpu_pinning:
        pins = ", ".join(f"{v}->{p}" for v, p in sorted(cell.cpu_pinning.items()))
        text += f" (vCPU->pCPU {pins}"
        if cell.cpuset_reserved:
            text += f"; emulator pCPU {_names(sorted(cell.cpuset_reserved))}"
        text += ")"
    return text
