"""Min-cost transport: serve every request's demand from pools of limited supply.

The device search (:mod:`os_numa.fit.device_search`) asks one question many times:
can these host cells serve the PCI requests, and if so with which pools,
nearest first? That is a small transportation problem (requests -> pools,
each edge priced by the pool's locality rank), solved here exactly by
successive shortest paths. Pure and deterministic: ties are broken by node
order, so the same inputs always give the same units.
"""

from __future__ import annotations

from collections.abc import Sequence


def min_cost_transport(
    demand: Sequence[int], supply: Sequence[int], edges: dict[tuple[int, int], int]
) -> dict[tuple[int, int], int] | None:
    """Send every request's demand to pools within supply at least total rank.

    Successive shortest paths (Bellman-Ford, ties broken by node order) on a
    graph of a few dozen nodes: deterministic. None when demand cannot be met.
    """
    nr, npools = len(demand), len(supply)
    source, sink = nr + npools, nr + npools + 1
    size = sink + 1
    cap: dict[tuple[int, int], int] = {}
    cost: dict[tuple[int, int], int] = {}
    adj: list[list[int]] = [[] for _ in range(size)]

    def add(u: int, v: int, c: int, w: int) -> None:
        cap[(u, v)] = c
        cap.setdefault((v, u), 0)
        cost[(u, v)], cost[(v, u)] = w, -w
        adj[u].append(v)
        adj[v].append(u)

    for r, units in enumerate(demand):
        add(source, r, units, 0)
    for (r, pool), rank in sorted(edges.items()):
        add(r, nr + pool, demand[r], rank)
    for pool, units in enumerate(supply):
        add(nr + pool, sink, units, 0)
    needed = sum(demand)
    sent = 0
    while sent < needed:
        dist: list[float] = [float("inf")] * size
        prev: list[int | None] = [None] * size
        dist[source] = 0
        for _ in range(size):
            changed = False
            for u in range(size):
                if dist[u] == float("inf"):
                    continue
                for v in adj[u]:
                    if cap[(u, v)] > 0 and dist[u] + cost[(u, v)] < dist[v]:
                        dist[v], prev[v] = dist[u] + cost[(u, v)], u
                        changed = True
            if not changed:
                break
        if prev[sink] is None:
            return None
        path, v = [], sink
        while v != source:
            back = prev[v]
            assert back is not None  # the sink was reached: each node on its path has one
            path.append((back, v))
            v = back
        push = min(cap[e] for e in path)
        for u, v in path:
            cap[(u, v)] -= push
            cap[(v, u)] += push
        sent += push
    return {(r, pool): cap[(nr + pool, r)] for (r, pool) in edges if cap[(nr + pool, r)] > 0}


__all__ = ["min_cost_transport"]
