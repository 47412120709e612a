"""Many hosts and a sequence of guests: what ``os-numa fleet`` and ``benchmarks/fleet.py`` run.

:func:`register_fleet` reports each host to Placement (``nested`` or Nova's
``flat`` model); :func:`place_sequence` schedules guests one after another
through :class:`~os_numa.placement.scheduler.Scheduler` and totals the
outcome in a :class:`FleetResult`. :func:`mixed_sequence` is the benchmark's
mix of latency-sensitive flavors.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from os_numa.objects import Flavor, NUMATopology
from os_numa.placement import tree as tree_mod
from os_numa.placement.client import PlacementClient
from os_numa.placement.scheduler import Decision, FleetHost, Scheduler, Stats, register_host

_ISOLATE = {"hw:emulator_threads_policy": "isolate"}

#: The benchmark's flavors, cycled: dedicated, isolate, realtime, multi-cell, huge pages.
#: Every one pins its vCPUs (``hw:cpu_policy=dedicated``).
MIXED_FLAVORS: tuple[Flavor, ...] = tuple(
    Flavor(
        vcpus=vcpus,
        memory_mb=memory_mb,
        name=name,
        extra_specs={"hw:cpu_policy": "dedicated", **specs},
    )
    for name, vcpus, memory_mb, specs in (
        ("dedicated-4", 4, 4096, {}),
        ("isolate-2", 2, 2048, _ISOLATE),
        (
            "realtime-4",
            4,
            2048,
            {
                "hw:cpu_realtime": "yes",
                "hw:cpu_realtime_mask": "^0",
                **_ISOLATE,
                "hw:mem_page_size": "2048",
            },
        ),
        ("multicell-8", 8, 8192, {"hw:numa_nodes": "2"}),
        ("isolate-6", 6, 6144, _ISOLATE),
    )
)


def mixed_sequence(count: int, flavors: Sequence[Flavor] = MIXED_FLAVORS) -> list[Flavor]:
    """``count`` flavors: ``flavors`` repeated in order."""
    return list(itertools.islice(itertools.cycle(flavors), count))


@dataclass(frozen=True)
class FleetResult:
    """The outcome of a sequence: every decision, the totals, and the time it took."""

    model: str
    hosts: tuple[str, ...]
    decisions: tuple[Decision, ...]
    stats: Stats
    seconds: float

    @property
    def per_host(self) -> dict[str, int]:
        """Guests placed per host, every host listed (0 for empty ones), in host order."""
        placed = Counter(d.host for d in self.decisions if d.placed)
        return {host: placed.get(host, 0) for host in self.hosts}

    @property
    def decisions_per_second(self) -> float:
        return len(self.decisions) / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``os-numa fleet --format json``)."""
        stats = self.stats
        return {
            "model": self.model,
            "hosts": len(self.hosts),
            "requests": stats.decisions,
            "placed": stats.placed,
            "failed": stats.decisions - stats.placed,
            "candidates": stats.candidates,
            "rejected_by_fit": stats.rejected,
            "rejected_share": round(stats.rejected_share, 4),
            "claim_failures": stats.claim_failures,
            "retries": stats.retries,
            "seconds": round(self.seconds, 3),
            "decisions_per_second": round(self.decisions_per_second, 2),
            "per_host": self.per_host,
            "guests": [
                {
                    "instance": d.instance_uuid,
                    "host": d.host,
                    "host_cells": list(d.host_cells),
                    "candidates": d.candidates,
                    "rejected": [
                        {"host": r.host, "host_cells": list(r.host_cells), "reason": r.reason}
                        for r in d.rejected
                    ],
                    "retries": d.retries,
                    "reason": d.reason,
                }
                for d in self.decisions
            ],
        }


def register_fleet(
    client: PlacementClient,
    hosts: Iterable[tuple[str, NUMATopology]],
    conf: Any = None,
    *,
    model: str = tree_mod.NESTED,
) -> list[FleetHost]:
    """Report every ``(name, topology)`` host to Placement; returns them with their trackers."""
    return [register_host(client, name, topology, conf, model=model)[0] for name, topology in hosts]


def place_sequence(
    scheduler: Scheduler,
    flavors: Iterable[Flavor],
    *,
    uuids: Iterable[str] | None = None,
) -> FleetResult:
    """Schedule each flavor in turn (no image properties); never stops at a failure."""
    decisions = []
    started = time.perf_counter()
    names = iter(uuids) if uuids is not None else None
    for flavor in flavors:
        uuid = None if names is None else next(names)
        decisions.append(scheduler.schedule(flavor, instance_uuid=uuid))
    seconds = time.perf_counter() - started
    stats = Stats()
    for decision in decisions:
        stats.add(decision)
    return FleetResult(
        scheduler.model,
        tuple(host.name for host in scheduler.hosts.values()),
        tuple(decisions),
        stats,
        seconds,
    )
