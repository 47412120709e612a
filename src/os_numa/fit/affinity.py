"""Rules on the *set* of host cells a guest takes: NUMA distance and network affinity.

**Network affinity** (Nova's ``_numa_cells_support_network_metadata``): every
requested physnet that is local to some host cell (``[neutron_physnet_NAME]
numa_nodes``) must be local to at least one of the guest's host cells; the same
for tunneled networks (``[neutron_tunnel] numa_nodes``). A network local to no
host cell asks for nothing. These are :class:`~os_numa.fit.search.Coverage`
rules, so the search stays polynomial.

**Closest cells** (``[os_numa] prefer_closest_numa_cells``, Kubernetes'
``prefer-closest-numa-nodes``): among the sets of k host cells that fit, the one
with the smallest sum of pairwise distances; equal sums keep the search's order
(the set whose cells come earliest in it). Sets are tried by increasing
distance, each with the ordinary search restricted to it, so the answer within a
set is still Nova's. At most :data:`MAX_SETS` sets are ranked; beyond that the
ordinary first fit is kept (and said so in the docs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from math import comb
from typing import Any, NamedTuple

from os_numa.fit import search

#: Most host-cell sets ranked by distance (C(16, 8) = 12870 fits).
MAX_SETS = 20000


class NetworkRequest(NamedTuple):
    """What a guest's ports need: physnet names, and whether a tunneled network is used."""

    physnets: frozenset[str]
    tunneled: bool


def network_request(network_metadata: Any) -> NetworkRequest | None:
    """Read Nova's ``NetworkMetadata`` (``physnets``, ``tunneled``), a mapping of the same
    keys, or None."""
    if network_metadata is None:
        return None
    if isinstance(network_metadata, Mapping):
        physnets = network_metadata.get("physnets") or ()
        tunneled = network_metadata.get("tunneled") or False
    else:
        physnets = getattr(network_metadata, "physnets", None) or ()
        tunneled = getattr(network_metadata, "tunneled", None) or False
    if isinstance(physnets, str):
        physnets = (physnets,)
    request = NetworkRequest(frozenset(str(p) for p in physnets), bool(tunneled))
    return request if request.physnets or request.tunneled else None


def network_coverage(
    request: NetworkRequest | None, physnets: Sequence[Sequence[str]], tunneled: Sequence[bool]
) -> tuple[search.Coverage[int], ...]:
    """One coverage rule per requested network local to some host cell (by host index)."""
    if request is None:
        return ()
    rules = []
    for name in sorted(request.physnets):
        local = {h: 1 for h, names in enumerate(physnets) if name in names}
        if local:
            rules.append(search.Coverage(local, 1, label=f"physnet {name}"))
    if request.tunneled:
        local = {h: 1 for h, flag in enumerate(tunneled) if flag}
        if local:
            rules.append(search.Coverage(local, 1, label="tunneled networks"))
    return tuple(rules)


def set_distance(hosts: Sequence[int], distances: Sequence[Sequence[int]]) -> int:
    """Sum over pairs of the two-way distance between host indices ``hosts``."""
    return sum(distances[a][b] + distances[b][a] for a, b in combinations(hosts, 2))


def closest_assignment(
    k: int,
    order: Sequence[int],
    feasible: Callable[[int, int], bool],
    rules: Sequence[search.Coverage[int]],
    distances: Sequence[Sequence[int]],
) -> tuple[int, ...] | None:
    """The search's assignment on the closest set of k hosts that admits one, or None.

    ``distances[a][b]`` is indexed by the hosts named in ``order`` (host indices).
    """
    n = len(order)
    if k < 2 or k >= n or comb(n, k) > MAX_SETS:
        return search.find_assignment(k, order, feasible, rules or None)
    # Hosts no guest cell fits cannot be in the answer: drop them first.
    usable = [h for h in order if any(feasible(g, h) for g in range(k))]
    if len(usable) < k:
        return None
    ranked = sorted(
        combinations(range(len(usable)), k),
        key=lambda picks: (set_distance([usable[p] for p in picks], distances), picks),
    )
    for picks in ranked:
        found = search.find_assignment(k, tuple(usable[p] for p in picks), feasible, rules or None)
        if found is not None:
            return found
    return None


def coverage_reason(
    rules: Sequence[search.Coverage[int]],
    host_ids: Sequence[int],
    order: Sequence[int],
    feasible: Callable[[int, int], bool],
    k: int,
) -> str:
    """Why the guest's networks rule out every set of host cells that fits: each network
    with the host cells local to it and whether a guest cell fits any of them."""
    parts = []
    for rule in rules:
        local = sorted(h for h, weight in rule.weights.items() if weight)
        ids = ", ".join(str(host_ids[h]) for h in local)
        fitting = [h for h in local if h in order and any(feasible(g, h) for g in range(k))]
        if fitting:
            detail = "a guest cell fits one of them, but not together with the other guest cells"
        else:
            detail = "no guest cell fits any of them"
        parts.append(f"{rule.label} is local to host cell(s) {ids} and {detail}")
    return (
        "the guest's networks need host cells local to them ([neutron] NUMA affinity): "
        + "; ".join(parts)
    )
