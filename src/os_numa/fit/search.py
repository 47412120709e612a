"""Which guest cell goes on which host cell: a bipartite matching problem.

Nova tries every ordered k-permutation of host cells and keeps the first one
whose every pair fits: the *lexicographically first* injective assignment of
guest cells (in order) to host cells (in preference order). That costs up to
n!/(n-k)! pair tests. The same answer follows from a polynomial method:

1. greedy: each guest cell takes the first free host cell it fits; when that
   completes it is the lexicographically first assignment (nothing earlier fits);
2. otherwise build the k x n feasibility matrix and a maximum matching
   (augmenting paths); fewer than k matched means no assignment (Hall's
   condition fails, and :func:`matching_obstacle` names the guest cells);
3. fix guest cells in order, each to the first host cell that still leaves a
   perfect matching of the rest: re-routing one cell is one augmenting-path
   search, O(k n), so the whole is O(k^2 n^2) pair lookups after at most k n
   pair tests.

The functions work on any ``feasible(guest, host)`` predicate, so callers with
more pair rules only change the predicate; rules that couple guest cells (the
chosen host cells must *together* hold something) go in ``must_cover``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: A host as ``host_order`` names it (a host cell index, or any hashable name).
H = TypeVar("H", bound=Hashable)

Feasible = Callable[[int, H], bool]


@dataclass(frozen=True)
class Coverage(Generic[H]):
    """A coupling rule: the chosen host cells must together carry ``minimum`` units.

    ``weights`` maps a host (as named in ``host_order``) to the units it carries,
    e.g. free PCI devices of one alias, or 1 for the host cells of a socket that
    must be touched. Missing hosts carry 0.
    """

    weights: Mapping[H, int]
    minimum: int
    label: str = field(default="", compare=False)


def find_assignment(
    k: int,
    host_order: Sequence[H],
    feasible: Feasible[H],
    must_cover: Sequence[Coverage[H]] | None = None,
) -> tuple[H, ...] | None:
    """The first assignment of guest cells ``0..k-1`` to distinct hosts, or None.

    "First" is Nova's order: guest 0 gets the earliest host of ``host_order``
    that leaves a complete assignment, then guest 1, and so on. Every rule of
    ``must_cover`` must hold for the chosen set of hosts. ``feasible`` is called
    at most once per pair. Polynomial with zero or one coverage rule; with more,
    each rule's best completion still prunes the search, which stays exact but
    may backtrack.
    """
    must_cover = tuple(must_cover or ())
    n = len(host_order)
    if k == 0 and not must_cover:
        return ()
    if k > n:
        return None
    test = _memo(host_order, feasible)
    if not must_cover:
        greedy = _greedy(k, n, test)
        if greedy is not None:
            return tuple(host_order[p] for p in greedy)
    adj = _matrix(k, n, test)
    if adj is None:
        return None
    if must_cover:
        positions = _covering(k, n, adj, host_order, must_cover)
    else:
        positions = _lexicographic(k, adj)
    if positions is None:
        return None
    return tuple(host_order[p] for p in positions)


def greedy(k: int, host_order: Sequence[H], feasible: Feasible[H]) -> tuple[H, ...] | None:
    """Step 1 alone: each guest cell takes the first free host it fits, or None when one
    fits none left. An answer is :func:`find_assignment`'s (without coverage rules);
    None means only that the matching steps must decide. ``feasible`` is called at
    most once per pair, so a caller that caches its answers can go on to
    :func:`find_assignment` without testing a pair twice."""
    taken: list[H] = []
    for g in range(k):
        for host in host_order:
            if host not in taken and feasible(g, host):
                taken.append(host)
                break
        else:
            return None
    return tuple(taken)


def feasibility(
    k: int, host_order: Sequence[H], feasible: Feasible[H]
) -> tuple[tuple[H, ...], ...]:
    """For each guest cell, the hosts it fits, in ``host_order``."""
    return tuple(tuple(h for h in host_order if feasible(g, h)) for g in range(k))


def matching_obstacle(
    k: int, host_order: Sequence[H], feasible: Feasible[H]
) -> tuple[tuple[int, ...], tuple[H, ...]] | None:
    """Guest cells that together fit fewer hosts than they are (Hall's condition), or None.

    Returns ``(guests, hosts)`` with ``len(hosts) < len(guests)``, where ``hosts``
    are all the hosts any of ``guests`` fits, or None when a complete assignment
    exists. Guests that fit nowhere are reported alone.
    """
    test = _memo(host_order, feasible)
    adj = [[p for p in range(len(host_order)) if test(g, p)] for g in range(k)]
    match_pos: dict[int, int] = {}
    for g in range(k):
        if not _augment(g, adj, match_pos, set(), frozenset()):
            guests, positions = _reachable(g, adj, match_pos)
            return guests, tuple(host_order[p] for p in positions)
    return None


def _memo(host_order: Sequence[H], feasible: Feasible[H]) -> Callable[[int, int], bool]:
    seen: dict[tuple[int, int], bool] = {}

    def test(g: int, p: int) -> bool:
        key = (g, p)
        result = seen.get(key)
        if result is None:
            result = seen[key] = bool(feasible(g, host_order[p]))
        return result

    return test


def _greedy(k: int, n: int, test: Callable[[int, int], bool]) -> list[int] | None:
    used: set[int] = set()
    chosen = []
    for g in range(k):
        for p in range(n):
            if p not in used and test(g, p):
                used.add(p)
                chosen.append(p)
                break
        else:
            return None
    return chosen


def _matrix(k: int, n: int, test: Callable[[int, int], bool]) -> list[list[int]] | None:
    """Each guest's feasible positions, ascending; None as soon as one guest fits nowhere."""
    adj = []
    for g in range(k):
        row = [p for p in range(n) if test(g, p)]
        if not row:
            return None
        adj.append(row)
    return adj


def _augment(
    g: int,
    adj: Sequence[Sequence[int]] | Mapping[int, Sequence[int]],
    match_pos: dict[int, int],
    seen: set[int],
    blocked,
) -> bool:
    """Kuhn's augmenting path from guest ``g``; updates ``match_pos`` only on success."""
    for p in adj[g]:
        if p in seen or p in blocked:
            continue
        seen.add(p)
        owner = match_pos.get(p)
        if owner is None or _augment(owner, adj, match_pos, seen, blocked):
            match_pos[p] = g
            return True
    return False


def _reachable(g: int, adj: list[list[int]], match_pos: dict[int, int]):
    """Guests and positions reachable from unmatched ``g`` by alternating paths."""
    guests = {g}
    positions: set[int] = set()
    queue = [g]
    while queue:
        current = queue.pop()
        for p in adj[current]:
            if p in positions:
                continue
            positions.add(p)
            owner = match_pos.get(p)
            if owner is not None and owner not in guests:
                guests.add(owner)
                queue.append(owner)
    return tuple(sorted(guests)), tuple(sorted(positions))


def _lexicographic(k: int, adj: list[list[int]]) -> list[int] | None:
    match_pos: dict[int, int] = {}
    for g in range(k):
        if not _augment(g, adj, match_pos, set(), frozenset()):
            return None
    guest_pos = {g: p for p, g in match_pos.items()}
    fixed: set[int] = set()
    for g in range(k):
        current = guest_pos[g]
        for p in adj[g]:
            if p == current:
                break
            if p in fixed:
                continue
            trial = dict(match_pos)
            del trial[current]
            owner = trial.get(p)
            trial[p] = g
            if owner is None or _augment(owner, adj, trial, set(), fixed | {p}):
                match_pos = trial
                guest_pos = {h: q for q, h in match_pos.items()}
                break
        fixed.add(guest_pos[g])
    return [guest_pos[g] for g in range(k)]


def _covering(
    k: int,
    n: int,
    adj: list[list[int]],
    host_order: Sequence[H],
    must_cover: Sequence[Coverage[H]],
) -> list[int] | None:
    weights = [[rule.weights.get(host_order[p], 0) for p in range(n)] for rule in must_cover]
    minimums = [rule.minimum for rule in must_cover]
    reverse = [[g for g in range(k) if p in set(adj[g])] for p in range(n)]

    def completable(start: int, used: frozenset[int], totals: list[int]) -> bool:
        rest = range(start, k)
        free = [p for p in range(n) if p not in used]
        for weight, total, minimum in zip(weights, totals, minimums, strict=True):
            best = _best_completion(rest, free, reverse, weight)
            if best is None or total + best < minimum:
                return False
        if not weights:
            return _best_completion(rest, free, reverse, [0] * n) is not None
        return True

    def search(g: int, used: frozenset[int], totals: list[int]) -> list[int] | None:
        if g == k:
            return []
        for p in adj[g]:
            if p in used:
                continue
            after = [t + w[p] for t, w in zip(totals, weights, strict=True)]
            if not completable(g + 1, used | {p}, after):
                continue
            rest = search(g + 1, used | {p}, after)
            if rest is not None:
                return [p, *rest]
        return None

    start = [0] * len(must_cover)
    if not completable(0, frozenset(), start):
        return None
    return search(0, frozenset(), start)


def _best_completion(
    guests: range, free: list[int], reverse: list[list[int]], weight: list[int]
) -> int | None:
    """Most weight a set of ``free`` positions matching every guest can carry, or None.

    The position sets that can be matched into the guests form a transversal
    matroid, so taking positions heaviest first whenever they still match is optimal.
    """
    wanted = set(guests)
    guest_adj = {p: [g for g in reverse[p] if g in wanted] for p in free}
    match_guest: dict[int, int] = {}
    total = 0
    for p in sorted(free, key=lambda q: (-weight[q], q)):
        if len(match_guest) == len(wanted):
            break
        if _augment(p, guest_adj, match_guest, set(), frozenset()):
            total += weight[p]
    if len(match_guest) < len(wanted):
        return None
    return total
