"""Benchmark the scheduler filter: one pass over 1,000 candidate hosts.

Run from the repository root: ``.venv/bin/python benchmarks/scheduler.py``. A
scheduler asks the same question of every candidate host: does this guest fit
there now? The hosts are 2 x 16 x 2 servers, each with a different, fixed share
of its cores already pinned (0 to 15 of 16 per cell, so some hosts are full);
the guest is the typical 4-vCPU dedicated guest with emulator isolate, its
request built once, as a scheduler builds it once per boot. Printed: the median
and minimum time of a whole pass (wall clock, then the process's CPU time, which
other processes on a shared machine do not inflate), how many hosts passed, and
the goal (issue 13: under 50 ms).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402
from tests import fixtures_topology as ft  # noqa: E402

from os_numa import hardware  # noqa: E402
from os_numa.objects import Flavor  # noqa: E402
from os_numa.scheduler.filters import host_passes  # noqa: E402

HOSTS = 1000
GOAL_MS = 50
FLAVOR = Flavor(
    vcpus=4,
    memory_mb=4096,
    extra_specs={"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
)


def fleet(count: int, seed: int = 7):
    rng = random.Random(seed)
    hosts = []
    for _ in range(count):
        host = ft.host(2, 16, 2, memory=65536, layout="split")
        for cell in host.cells:
            groups = sorted(cell.siblings, key=min)
            cell.pinned_cpus = set().union(*groups[: rng.randrange(16)])
        hosts.append(host)
    return hosts


def main() -> int:
    hosts = fleet(HOSTS)
    request = hardware.numa_get_constraints(FLAVOR, None)

    def one_pass() -> int:
        return sum(1 for host in hosts if host_passes(host, request))

    passed = one_pass()
    median, least = timings(one_pass, 10, unit="ms")
    # CPU time of the process too: on a shared machine the wall clock also counts the
    # time other processes held the CPU, which says nothing about the filter.
    cpu = []
    for _ in range(10):
        start = time.process_time()
        one_pass()
        cpu.append((time.process_time() - start) * 1000)
    flag = "" if median < GOAL_MS else "  MISSED"
    print(
        f"filter pass over {HOSTS} hosts (2x16x2, typical 4-vCPU isolate guest): "
        f"median {median:.1f} ms, min {least:.1f} ms (CPU time: median "
        f"{statistics.median(cpu):.1f} ms, min {min(cpu):.1f} ms), {passed} passed, "
        f"goal < {GOAL_MS} ms{flag}"
    )
    return 0 if median < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
