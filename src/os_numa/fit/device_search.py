"""The device part of the placement search: which host cells can serve the PCI requests.

The PCI device *model* (devices, pools, requests) lives in ``os_numa.pci``;
this module is the search over it, run by :mod:`os_numa.fit.fit` as part of
the fit. Why a search failed is worded by :mod:`os_numa.fit.device_reasons`.

Devices are part of the fit, not a filter after it. Given the guest-cell x
host-cell feasibility of the CPU/memory fit (``feasible(g, h)``) and the
preference order of host cells, this module finds Nova's first assignment
(guest cell 0 on the earliest host cell that still allows a complete
assignment, then guest cell 1, ...) *among the assignments whose host cells
can serve every PCI request under its NUMA policy*, and picks the devices.

**Policies.** For a set S of host cells the guest uses, request r may take
devices from: ``required``: cells of S; ``legacy``: cells of S, or devices
with no NUMA information; ``socket``: cells of S and every cell sharing a
(known) socket with a cell of S; ``preferred``: first as ``required``; only
when *no* assignment serves every request that way, as ``legacy`` (Nova's
second tier: devices without NUMA information too); only when none serves
them that way either, from any cell. So one preferred alias does not lose its
locality because another preferred alias has no NUMA information.

**Coupling.** Whether S can serve the requests is a transportation problem
(requests -> pools of free devices per cell) solved by max-flow; it is
monotone: a larger S never serves less. Two exact ways turn it into rules for
the fit's own search (:func:`os_numa.fit.search.find_assignment` with
:class:`~os_numa.fit.search.Coverage` rules), keeping the earliest assignment:

*Minimal witnesses* (proven bound). S serves the requests exactly when it
contains a *witness*: a minimal set T of host cells that serves them by
itself. Every device of a feasible flow is justified by one cell of S (its own
cell, or a same-socket cell), so a minimal witness has at most min(C, k)
cells (C = devices requested, k = guest cells). Witnesses are drawn from the m
cells that hold (or share a socket with) a matching device: at most
sum_{i<=min(C,k)} binom(m, i) max-flow checks. For each witness T the search
with one rule "use every cell of T" is exact and polynomial (Mendelsohn-
Dulmage: a matching covering all guest cells and all of T exists iff one
covering each does), and the earliest of these assignments is the first
assignment overall that serves the devices.

*Hall rules* (used when that bound exceeds :data:`WITNESS_BUDGET`). By Hall's
theorem the flow exists iff, for every set R' of requests sharing devices,
the devices R' may use number at least R''s total count; with the sockets the
guest touches fixed (one rule list per set Q of sockets, plus a rule "touch
each socket of Q"), each inequality is additive over the chosen cells: one
weighted coverage rule. The search handles several rules exactly, pruning with
each rule's best completion; it is usually the faster method but has no
polynomial bound.

Some exponent is unavoidable: with one device per request and devices spread
over cells, choosing k cells that serve every request is set cover, which is
NP-hard; the witness method's exponent is the device count, which
:mod:`os_numa.pci.request` caps.

**Devices.** Once S is fixed, a min-cost flow gives each request its devices,
nearest first (on S, then same socket, then no NUMA information, then
elsewhere), lowest addresses first within a pool. Whole PFs are picked before
VFs, those whose free VFs are fewest first, so that a guest asking for both a
PF and VFs never gets a PF together with its own VFs; if the flow's per-pool
counts leave no such choice, that assignment is skipped (the one case where a
placement may be missed).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence

from os_numa import objects
from os_numa.fit.search import Coverage, find_assignment
from os_numa.fit.transport import min_cost_transport
from os_numa.pci import request as pci_request
from os_numa.pci.devices import TYPE_PF, PciDevice
from os_numa.pci.request import PciRequest
from os_numa.pci.stats import PciDeviceStats, PciPool

#: The witness enumeration runs when it tests at most this many host-cell sets;
#: beyond, Hall's condition as coverage rules is used (exact, usually faster).
WITNESS_BUDGET = 64
#: Most requests sharing devices whose subsets the Hall rules enumerate.
MAX_HALL_GROUP = 8

#: Locality ranks of a device relative to the chosen host cells (lower is nearer).
LOCAL, SAME_SOCKET, NO_NUMA_INFO, REMOTE = 0, 1, 2, 3

#: How far ``preferred`` requests are relaxed, tried in this order: local
#: devices only; also devices without NUMA information; any device.
STRICT, NO_NUMA_OK, ANYWHERE = 0, 1, 2
_PREFERRED_ALLOWED = {
    STRICT: (LOCAL,),
    NO_NUMA_OK: (LOCAL, NO_NUMA_INFO),
    ANYWHERE: (LOCAL, SAME_SOCKET, NO_NUMA_INFO, REMOTE),
}

FindAssignment = Callable[..., "tuple[int, ...] | None"]


@dataclasses.dataclass(frozen=True)
class HostCellInfo:
    """What the device search needs of a host cell: its NUMA id and socket."""

    id: int
    socket: int | None = None


@dataclasses.dataclass(frozen=True)
class AssignedDevice:
    """A device given to the guest for ``alias``.

    ``host_index`` is the index of the device's host cell (None: no NUMA
    information, or a node the host topology does not have); ``guest_cell`` is
    the guest cell local to it (same host cell, else same socket), or None.
    """

    alias: str
    device: PciDevice
    host_index: int | None
    guest_cell: int | None
    locality: int


@dataclasses.dataclass(frozen=True)
class PciFit:
    """An assignment (host cell index per guest cell) and the devices it gets.

    ``relaxed`` is how far ``preferred`` requests had to be relaxed:
    :data:`STRICT`, :data:`NO_NUMA_OK` or :data:`ANYWHERE`.
    """

    assignment: tuple[int, ...]
    devices: tuple[AssignedDevice, ...]
    relaxed: int = STRICT


@dataclasses.dataclass(frozen=True)
class Model:
    """The requests against the host's pools, with each pool's host cell index."""

    requests: tuple[PciRequest, ...]
    pools: tuple[PciPool, ...]
    pool_host: tuple[int | None, ...]
    hosts: tuple[HostCellInfo, ...]
    matches: tuple[tuple[int, ...], ...]  # pools each request may use at all

    def socket_mates(self, chosen: frozenset[int]) -> frozenset[int]:
        sockets = {self.hosts[h].socket for h in chosen} - {None}
        return chosen | {h for h, cell in enumerate(self.hosts) if cell.socket in sockets}

    def rank(
        self, r: int, pool: int, chosen: frozenset[int], mates: frozenset[int], relaxed: int
    ) -> int | None:
        """Locality rank of pool for request r given the chosen cells, or None if forbidden."""
        host = self.pool_host[pool]
        if host is not None and host in chosen:
            rank = LOCAL
        elif host is not None and host in mates:
            rank = SAME_SOCKET
        elif self.pools[pool].numa_node is None:
            rank = NO_NUMA_INFO
        else:
            rank = REMOTE
        policy = self.requests[r].policy
        allowed = {
            pci_request.REQUIRED: (LOCAL,),
            pci_request.LEGACY: (LOCAL, NO_NUMA_INFO),
            pci_request.SOCKET: (LOCAL, SAME_SOCKET),
            pci_request.PREFERRED: _PREFERRED_ALLOWED[relaxed],
        }[policy]
        return rank if rank in allowed else None

    def flow(self, chosen: frozenset[int], relaxed: int) -> dict[tuple[int, int], int] | None:
        """Units per (request, pool), nearest first; None when the requests cannot be served."""
        mates = self.socket_mates(chosen)
        edges = {}
        for r, pools in enumerate(self.matches):
            for pool in pools:
                rank = self.rank(r, pool, chosen, mates, relaxed)
                if rank is not None:
                    edges[(r, pool)] = rank
        demand = [req.count for req in self.requests]
        supply = [pool.count for pool in self.pools]
        return min_cost_transport(demand, supply, edges)


def build_model(
    requests: Sequence[PciRequest], stats: PciDeviceStats, hosts: Sequence[HostCellInfo]
) -> Model:
    pools = tuple(stats.pools())
    index_of = {cell.id: i for i, cell in enumerate(hosts)}
    pool_host = tuple(index_of.get(p.numa_node) if p.numa_node is not None else None for p in pools)
    matches = tuple(
        tuple(i for i, pool in enumerate(pools) if req.matches(pool.devices[0])) for req in requests
    )
    return Model(tuple(requests), pools, pool_host, tuple(hosts), matches)


def _relevant_hosts(model: Model, relaxed: int) -> list[int]:
    """Host cells whose presence in S can make a device usable."""
    holders = {
        host
        for r, pools in enumerate(model.matches)
        if not (relaxed == ANYWHERE and model.requests[r].policy == pci_request.PREFERRED)
        for p in pools
        if (host := model.pool_host[p]) is not None
    }
    if any(req.policy == pci_request.SOCKET for req in model.requests):
        holders = set(model.socket_mates(frozenset(holders)))
    return sorted(holders)


def _witnesses(model: Model, k: int, order_rank: dict[int, int], relaxed: int):
    """Minimal host-cell sets that can serve every request alone, smallest first."""
    every = frozenset(range(len(model.hosts)))
    if model.flow(every, relaxed) is None:
        return []
    if model.flow(frozenset(), relaxed) is not None:
        return [frozenset()]
    relevant = sorted(_relevant_hosts(model, relaxed), key=order_rank.__getitem__)
    bound = min(sum(req.count for req in model.requests), k, len(relevant))
    found: list[frozenset[int]] = []
    for size in range(1, bound + 1):
        for combo in itertools.combinations(relevant, size):
            chosen = frozenset(combo)
            if any(w <= chosen for w in found):
                continue
            if model.flow(chosen, relaxed) is not None:
                found.append(chosen)
    return found


def _witness_bound(model: Model, k: int, relaxed: int) -> int:
    """How many host-cell sets the witness enumeration may test: sum of binom(m, i), i <= b."""
    m = len(_relevant_hosts(model, relaxed))
    b = min(sum(req.count for req in model.requests), k, m)
    return sum(math.comb(m, i) for i in range(1, b + 1))


def _components(model: Model) -> list[list[int]]:
    """Requests grouped by shared pools (two requests that can use the same device)."""
    groups: list[tuple[set[int], list[int]]] = []
    for r, pools in enumerate(model.matches):
        pools_r, members = set(pools), [r]
        for group in [g for g in groups if g[0] & pools_r]:
            groups.remove(group)
            pools_r |= group[0]
            members = sorted(members + group[1])
        groups.append((pools_r, members))
    return sorted((members for _pools, members in groups), key=min)


def _constant_pools(model: Model, r: int, relaxed: int, sockets: frozenset) -> set[int]:
    """Pools request r may use whatever host cells the guest takes (given touched sockets)."""
    policy, pools = model.requests[r].policy, model.matches[r]
    if policy == pci_request.PREFERRED and relaxed == ANYWHERE:
        return set(pools)
    if policy == pci_request.LEGACY or (policy == pci_request.PREFERRED and relaxed == NO_NUMA_OK):
        return {p for p in pools if model.pools[p].numa_node is None}
    if policy == pci_request.SOCKET:
        return {
            p
            for p in pools
            if (host := model.pool_host[p]) is not None and model.hosts[host].socket in sockets
        }
    return set()


def _hall_rules(model: Model, relaxed: int, sockets: frozenset, groups) -> list | None:
    """Hall's condition as coverage rules: for every set R' of requests sharing devices,
    the devices R' may use (on the chosen cells, or usable anyway) must number at least
    R''s total count. None when some R' cannot be served even on every cell."""
    rules: dict[tuple, int] = {}
    for group in groups:
        for size in range(1, len(group) + 1):
            for subset in itertools.combinations(group, size):
                pools = set().union(*(model.matches[r] for r in subset))
                fixed = set().union(*(_constant_pools(model, r, relaxed, sockets) for r in subset))
                need = sum(model.requests[r].count for r in subset)
                need -= sum(model.pools[p].count for p in fixed)
                if need <= 0:
                    continue
                weights: dict[int, int] = {}
                for p in pools - fixed:
                    host = model.pool_host[p]
                    if host is not None:
                        weights[host] = weights.get(host, 0) + model.pools[p].count
                if sum(weights.values()) < need:
                    return None
                key = tuple(sorted(weights.items()))
                rules[key] = max(rules.get(key, 0), need)
    return [Coverage(dict(key), need, label="pci") for key, need in sorted(rules.items())]


def _hall_rule_sets(model: Model, relaxed: int) -> list[list] | None:
    """One rule list per set Q of sockets the guest must touch (for ``socket`` requests).

    S serves the requests iff, for Q = the sockets S touches, S satisfies the Hall
    rules with Q's devices usable anyway; so the union over every Q is exact. None
    when a group of requests sharing devices is too large to enumerate its subsets.
    """
    groups = _components(model)
    if any(len(group) > MAX_HALL_GROUP for group in groups):
        return None
    sockets = sorted(
        {
            socket
            for r, req in enumerate(model.requests)
            if req.policy == pci_request.SOCKET
            for p in model.matches[r]
            if (host := model.pool_host[p]) is not None
            and (socket := model.hosts[host].socket) is not None
        }
    )
    result = []
    for size in range(len(sockets) + 1):
        for touched in itertools.combinations(sockets, size):
            rules = _hall_rules(model, relaxed, frozenset(touched), groups)
            if rules is None:
                continue
            touch = [
                Coverage(
                    {h: 1 for h, cell in enumerate(model.hosts) if cell.socket == socket},
                    1,
                    label=f"socket {socket}",
                )
                for socket in touched
            ]
            result.append(touch + rules)
    return result


def _coverage_rules(model: Model, k: int, rank: dict[int, int], relaxed: int):
    """Coverage rule lists for the search; the answer is the earliest of their assignments.

    Minimal witnesses when their proven bound is small (at most
    :data:`WITNESS_BUDGET` sets to test); otherwise Hall's condition as weighted
    rules, which the search handles exactly but without a polynomial bound.
    """
    if _witness_bound(model, k, relaxed) > WITNESS_BUDGET:
        hall = _hall_rule_sets(model, relaxed)
        if hall is not None:
            return hall
    return [
        [Coverage({h: 1 for h in witness}, len(witness), label="pci")] if witness else []
        for witness in _witnesses(model, k, rank, relaxed)
    ]


def _pick(
    model: Model, units: dict[tuple[int, int], int], assignment: tuple[int, ...], relaxed: int
) -> tuple[AssignedDevice, ...] | None:
    chosen = frozenset(assignment)
    mates = model.socket_mates(chosen)
    guest_on = {h: g for g, h in enumerate(assignment)}
    taken: set = set()
    picked: list[AssignedDevice] = []
    available = {d.address for pool in model.pools for d in pool.devices}

    def family_cost(device: PciDevice) -> tuple[int, object]:
        # A PF takes its free VFs with it: give the PFs that cost the fewest VFs first.
        return (sum(1 for vf in device.virt_functions if vf in available), device.address)

    # Whole PFs first, so the VFs picked after them avoid the chosen PFs' families.
    for (r, pool), count in sorted(
        units.items(), key=lambda item: (model.pools[item[0][1]].dev_type != TYPE_PF, item[0])
    ):
        rank = model.rank(r, pool, chosen, mates, relaxed)
        assert rank is not None  # flow() routes units over allowed (ranked) edges only
        host = model.pool_host[pool]
        guest = None if host is None else guest_on.get(host)
        if guest is None and rank == SAME_SOCKET and host is not None:
            socket = model.hosts[host].socket
            guest = min(g for g, h in enumerate(assignment) if model.hosts[h].socket == socket)
        free = sorted(
            (
                d
                for d in model.pools[pool].devices
                if d.address not in taken
                and (d.parent is None or d.parent not in taken)
                and not any(vf in taken for vf in d.virt_functions)
            ),
            key=family_cost,
        )
        if len(free) < count:
            return None
        for device in free[:count]:
            taken.add(device.address)
            picked.append(AssignedDevice(model.requests[r].alias, device, host, guest, rank))
    order = {req.alias: i for i, req in enumerate(model.requests)}
    return tuple(sorted(picked, key=lambda a: (order[a.alias], a.device.address)))


def find_device_assignment(
    k: int,
    hosts: Sequence[HostCellInfo],
    order: Sequence[int],
    feasible: Callable[[int, int], bool],
    requests: Sequence[PciRequest],
    stats: PciDeviceStats | None,
    search: FindAssignment | None = None,
) -> PciFit | None:
    """Nova's first assignment of ``k`` guest cells whose host cells serve ``requests``,
    with the devices each request gets (a :class:`PciFit`); None when there is none.

    ``hosts`` lists the host cells by index, ``order`` is the search's
    preference order of host indices, ``feasible(g, h)`` the CPU/memory fit of
    guest cell g on host index h. ``stats`` None means the host has no devices.
    ``search`` finds an assignment under coverage rules (default:
    :func:`os_numa.fit.search.find_assignment`; the fit passes its
    :meth:`~os_numa.fit.fit.Problem.find`). Nothing is mutated.
    """
    search = find_assignment if search is None else search
    stats = stats if stats is not None else PciDeviceStats(())
    model = build_model(requests, stats, hosts)
    rank = {h: i for i, h in enumerate(order)}
    phases = [STRICT]
    preferred = [r for r, req in enumerate(model.requests) if req.policy == pci_request.PREFERRED]
    if any(model.pools[p].numa_node is None for r in preferred for p in model.matches[r]):
        phases.append(NO_NUMA_OK)
    if preferred:
        phases.append(ANYWHERE)
    for relaxed in phases:
        best: tuple[int, ...] | None = None
        for rules in _coverage_rules(model, k, rank, relaxed):
            found = search(k, tuple(order), feasible, rules)
            if found is None:
                continue
            candidate = tuple(int(h) for h in found)
            if best is None or [rank[h] for h in candidate] < [rank[h] for h in best]:
                best = candidate
        if best is None:
            continue
        units = model.flow(frozenset(best), relaxed)
        devices = None if units is None else _pick(model, units, best, relaxed)
        if devices is not None:
            return PciFit(best, devices, relaxed)
    return None


def host_infos(host_topology) -> tuple[HostCellInfo, ...]:
    """(id, socket) of every cell of a host ``NUMATopology``, by index."""
    return tuple(
        HostCellInfo(cell.id, cell.socket if cell.obj_attr_is_set("socket") else None)
        for cell in host_topology.cells
    )


def device_objects(result: PciFit, host_topology) -> list:
    """The placement's ``pci_devices``: one InstancePCIDevice per assigned device."""
    return [
        objects.InstancePCIDevice(
            address=str(a.device.address),
            alias=a.alias,
            vendor_id=a.device.vendor_id,
            product_id=a.device.product_id,
            dev_type=a.device.dev_type,
            host_numa_node=a.device.numa_node,
            guest_cell=a.guest_cell,
        )
        for a in result.devices
    ]


def anywhere(requests: Sequence[PciRequest]) -> list[PciRequest]:
    """The requests of a guest with no NUMA cells: its policies cannot apply."""
    return [dataclasses.replace(r, policy=pci_request.PREFERRED) for r in requests]


def assign_without_numa(
    requests: Sequence[PciRequest], stats: PciDeviceStats | None, host_topology=None
) -> list | None:
    """Devices for a guest that asks for no NUMA placement, or None when there are too few.

    Such a guest has no cells to be local to, so, as in Nova, NUMA policies do
    not apply: any free matching device serves (lowest addresses first). Every
    device's ``guest_cell`` is None.
    """
    stats = stats if stats is not None else PciDeviceStats(())
    hosts = host_infos(host_topology) if host_topology is not None else ()
    model = build_model(anywhere(requests), stats, hosts)
    units = model.flow(frozenset(), relaxed=ANYWHERE)
    picked = None if units is None else _pick(model, units, (), relaxed=ANYWHERE)
    if picked is None:
        return None
    return device_objects(PciFit((), picked, relaxed=ANYWHERE), host_topology)


__all__ = [
    "ANYWHERE",
    "AssignedDevice",
    "HostCellInfo",
    "LOCAL",
    "Model",
    "NO_NUMA_INFO",
    "NO_NUMA_OK",
    "PciFit",
    "REMOTE",
    "SAME_SOCKET",
    "STRICT",
    "anywhere",
    "assign_without_numa",
    "build_model",
    "device_objects",
    "find_device_assignment",
    "host_infos",
]
