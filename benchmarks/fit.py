"""Benchmark numa_fit_instance_to_host: median microseconds per fit, and a density run.

Run from the repository root: ``.venv/bin/python benchmarks/fit.py``. Prints one
line per scenario; the targets (this 2-core machine) are typical < 50 us,
multi-cell < 150 us, 16/8 no-fit < 20 ms, 32/16 no-fit < 200 ms.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402
from tests import fixtures_topology as ft  # noqa: E402

from os_numa import conf as os_numa_conf  # noqa: E402
from os_numa.fit import numa_fit_instance_to_host  # noqa: E402
from os_numa.fit.fit import build_placement, make_problem  # noqa: E402
from os_numa.usage import numa_usage_from_instance_numa  # noqa: E402


def half_pinned(cells: int, cores: int, threads: int):
    """The first half of each cell's cores pinned (all threads)."""
    host = ft.host(cells, cores, threads, layout="split")
    for cell in host.cells:
        groups = sorted(cell.siblings, key=min)
        cell.pinned_cpus = set().union(*groups[: len(groups) // 2])
    return host


def matching_no_fit(cells: int):
    """Every guest cell fits somewhere, but not all at once: 8 guest cells of 3 vCPUs for
    the few 4-pCPU host cells (Hall's condition fails only for the set of all)."""
    host = ft.host(cells, 4)
    for cell in host.cells[cells // 2 - 1 :]:
        cell.pinned_cpus = set(sorted(cell.pcpuset)[:2])
    return host, ft.guest([3] * (cells // 2))


def scenarios():
    typical = half_pinned(2, 16, 2)
    yield (
        "typical (2x16x2, half pinned, 4 vCPUs, isolate)",
        typical,
        ft.guest([4], emulator="isolate"),
        2000,
        50,
    )
    multi = ft.host(8, 8, 2, layout="split")
    yield (
        "multi-cell (8x8x2, 16 vCPUs in 4 cells, isolate)",
        multi,
        ft.guest([4, 4, 4, 4], emulator="isolate"),
        1000,
        150,
    )
    yield (
        "no-fit 16/8 (guest cell 0 needs 5 of 4)",
        ft.host(16, 4),
        ft.guest([5] + [1] * 7),
        200,
        20000,
    )
    yield (
        "no-fit 32/16 (guest cell 0 needs 5 of 4)",
        ft.host(32, 4),
        ft.guest([5] + [1] * 15),
        100,
        200000,
    )
    host, request = matching_no_fit(16)
    yield "no-fit 16/8 by matching (Hall)", host, request, 100, 20000
    host, request = matching_no_fit(32)
    yield "no-fit 32/16 by matching (Hall)", host, request, 50, 200000


DENSITY_SEQUENCE = [
    ft.guest([4], emulator="isolate"),
    ft.guest([2], thread="isolate", emulator="isolate"),
    ft.guest([4, 4], thread="prefer"),
    ft.guest([6], thread="require"),
    ft.guest([3], thread="isolate"),
    ft.guest([1], emulator="isolate"),
    ft.guest([5], emulator="isolate"),
]


def realtime_guest(vcpus: list[int], realtime: set[int]):
    request = ft.guest(vcpus, emulator="isolate")
    request.realtime_vcpus = realtime
    return request


#: Realtime guests (emulator isolate, realtime mask ^0 or all vCPUs) for the SMT-aware run.
REALTIME_SEQUENCE = [
    realtime_guest([4], {1, 2, 3}),
    realtime_guest([3], {0, 1, 2}),
    realtime_guest([2], {1}),
    realtime_guest([6], {1, 2, 3, 4, 5}),
    realtime_guest([5], {0, 1, 2, 3, 4}),
]


def emulator_on_realtime_cores(host, placement) -> int:
    """How many of the placement's emulator pCPUs share a core with a realtime vCPU."""
    count = 0
    for cell in placement.cells:
        if not cell.cpuset_reserved:
            continue
        siblings = host.cell_by_id(cell.id).siblings
        realtime = {
            pcpu for vcpu, pcpu in cell.cpu_pinning.items() if vcpu in placement.realtime_vcpus
        }
        for pcpu in cell.cpuset_reserved:
            core = next((group for group in siblings if pcpu in group), {pcpu})
            count += bool(core & realtime)
    return count


def first_fit(host, request, conf=None):
    """Naive first fit: host cells in id order, each guest cell on the first that fits,
    no look-ahead (same per-cell rules, so its placements are valid too)."""
    problem = make_problem(host, request, conf=conf)
    order = tuple(sorted(range(len(problem.hosts)), key=lambda i: problem.hosts[i].id))
    used: set[int] = set()
    chosen = []
    for guest in range(len(problem.guests)):
        found = next((h for h in order if h not in used and problem.feasible(guest, h)), None)
        if found is None:
            return None
        used.add(found)
        chosen.append(found)
    return build_placement(request, problem, tuple(chosen))


def density(placer, conf=None, sequence=DENSITY_SEQUENCE):
    """Guests placed, pCPUs pinned, pCPUs in all, emulator pCPUs on realtime cores."""
    # 96 GiB per cell, as on such a server: the pCPUs, not the memory, run out.
    host = ft.host(2, 24, 2, memory=96 * 1024, layout="split")
    placed = misses = index = noisy = 0
    while misses < len(sequence):
        request = sequence[index % len(sequence)]
        index += 1
        placement = placer(host, request, conf=conf)
        if placement is None:
            misses += 1
            continue
        misses = 0
        if placement.realtime_vcpus:
            noisy += emulator_on_realtime_cores(host, placement)
        host = numa_usage_from_instance_numa(host, placement)  # raises if unclaimable
        placed += 1
    pinned = sum(len(c.pinned_cpus) for c in host.cells)
    total = sum(len(c.pcpuset) for c in host.cells)
    return placed, pinned, total, noisy


def main() -> int:
    print(f"{'scenario':52} {'median us':>10} {'min us':>9} {'target us':>10}")
    ok = True
    for name, host, request, repeat, target in scenarios():
        median, least = timings(
            lambda h=host, r=request: numa_fit_instance_to_host(h, r), repeat, unit="us"
        )
        ok &= median < target
        flag = "" if median < target else "  MISSED"
        print(f"{name:52} {median:10.1f} {least:9.1f} {target:10d}{flag}")
    pack = os_numa_conf.make_conf(**{"compute.packing_host_numa_cells_allocation_strategy": True})
    print()
    print(
        "density: 2x24x2 host, a fixed mixed sequence of pinned guests until none fits; "
        "every placement is claimed with numa_usage_from_instance_numa (which raises if not)"
    )
    for label, placer, conf in (
        ("os-numa (spread, default)", numa_fit_instance_to_host, None),
        ("os-numa (pack)", numa_fit_instance_to_host, pack),
        ("naive first-fit (id order)", first_fit, None),
    ):
        placed, pinned, total, _ = density(placer, conf)
        print(f"  {label:32} guests placed {placed:3d}   pCPUs used {pinned:3d}/{total}")
    print()
    print(
        "SMT-aware emulator pCPU: the same host filled with realtime guests "
        "(emulator isolate, realtime mask ^0 or all vCPUs)"
    )
    nova = os_numa_conf.make_conf(**{"os_numa.emulator_threads_smt_aware": False})
    for label, conf in (("SMT-aware (default)", None), ("Nova's choice", nova)):
        placed, pinned, total, noisy = density(numa_fit_instance_to_host, conf, REALTIME_SEQUENCE)
        print(
            f"  {label:32} guests placed {placed:3d}   pCPUs used {pinned:3d}/{total}   "
            f"emulator pCPUs on a realtime vCPU's core {noisy}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
