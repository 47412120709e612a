"""os-numa and Nova 34 side by side on the same scenarios, in one run.

Run from the repository root::

    .venv/bin/python benchmarks/compare_nova.py [--nova-python PATH] [--rounds N]

``--nova-python`` (default: ``$OS_NUMA_OPENSTACK_PYTHON``) is the Python of an
environment with ``nova==34.0.0`` (``tools/dev.sh`` builds one). Nova runs in that
process (benchmarks/nova_side.py), os-numa in this one; both get the same hosts and
flavors, described as plain data, and go through their own ``numa_get_constraints``
first. Rounds alternate A B A B so that machine noise hits both alike. Nova's fit
writes into its request, so every call of either library gets a fresh request made
outside the timer.

Printed per scenario: each side's median in microseconds (over all rounds) and
the ratio Nova / os-numa of the medians, with the goal from issue 13 (claim at
least 5x, fit at least 4x). os-numa's fits are timed twice: warm, on the host
state the previous fits saw (a scheduler filtering one fleet for request after
request), and cold, with the memos by host state (free cores,
:func:`os_numa.fit.layout.free_cores`, and pins, :func:`os_numa.fit.packing.pack`)
cleared before every call, outside the timer (a host state never seen, as the
tracker's after every claim); both ratios are printed, each against the same
Nova median (Nova keeps no such memo). Both sides' placements are printed when
they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from os_numa import objects  # noqa: E402
from os_numa.fit import layout, packing  # noqa: E402
from os_numa.hardware import (  # noqa: E402
    numa_fit_instance_to_host,
    numa_get_constraints,
    numa_usage_from_instance_numa,
)

HERE = Path(__file__).resolve().parent
DEDICATED = {"hw:cpu_policy": "dedicated"}


def host_spec(cells: int, cores: int, threads: int, pinned_cores: int, memory: int) -> dict:
    """``cells`` x ``cores`` x ``threads`` numbered as Linux does on many servers (thread t
    of core c is ``t * total_cores + c``); the first ``pinned_cores`` cores of each cell
    fully pinned; 4 KiB pages for all memory."""
    total = cells * cores
    result = []
    for cell in range(cells):
        groups = [
            [t * total + core for t in range(threads)]
            for core in range(cell * cores, (cell + 1) * cores)
        ]
        pinned = [cpu for group in groups[:pinned_cores] for cpu in group]
        result.append(
            {
                "id": cell,
                "cpus": sorted(cpu for group in groups for cpu in group),
                "siblings": groups,
                "pinned": pinned,
                "memory": memory,
                "pages": [[4, memory * 256]],
            }
        )
    return {"cells": result}


def scenarios() -> list[dict]:
    typical = host_spec(2, 16, 2, 8, 65536)
    flavor = {"vcpus": 4, "memory_mb": 4096}
    isolate = dict(DEDICATED, **{"hw:emulator_threads_policy": "isolate"})
    return [
        {
            "name": "fit: typical (2x16x2 half pinned, 4 vCPUs, emulator isolate)",
            "op": "fit",
            "goal": 4,
            "repeat": 500,
            "host": typical,
            "flavor": dict(flavor, extra_specs=isolate),
        },
        {
            "name": "fit: multi-cell (8x8x2, 16 vCPUs in 4 cells, isolate)",
            "op": "fit",
            "goal": 4,
            "repeat": 200,
            "host": host_spec(8, 8, 2, 0, 16384),
            "flavor": {
                "vcpus": 16,
                "memory_mb": 8192,
                "extra_specs": dict(isolate, **{"hw:numa_nodes": "4"}),
            },
        },
        {
            "name": "fit: thread isolate (2x16x2 half pinned, 4 vCPUs)",
            "op": "fit",
            "goal": 4,
            "repeat": 500,
            "host": typical,
            "flavor": dict(
                flavor, extra_specs=dict(DEDICATED, **{"hw:cpu_thread_policy": "isolate"})
            ),
        },
        {
            "name": "fit: realtime (2x16x2 half pinned, 4 vCPUs, mask ^0, isolate)",
            "op": "fit",
            "goal": 4,
            "repeat": 500,
            "host": typical,
            "flavor": dict(
                flavor,
                extra_specs=dict(
                    isolate, **{"hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"}
                ),
            ),
        },
        {
            "name": "claim: numa_usage_from_instance_numa (typical)",
            "op": "claim",
            "goal": 5,
            "repeat": 500,
            "host": typical,
            "flavor": dict(flavor, extra_specs=isolate),
        },
    ]


# --- os-numa's side ---------------------------------------------------------------------


def build_host(spec: dict) -> objects.NUMATopology:
    return objects.NUMATopology(
        cells=[
            objects.NUMACell(
                id=cell["id"],
                cpuset=set(),
                pcpuset=set(cell["cpus"]),
                memory=cell["memory"],
                pinned_cpus=set(cell["pinned"]),
                siblings=[set(group) for group in cell["siblings"]],
                mempages=[
                    objects.NUMAPagesTopology(size_kb=size, total=total)
                    for size, total in cell["pages"]
                ],
                socket=cell["id"],
            )
            for cell in spec["cells"]
        ]
    )


def request(flavor: dict):
    return numa_get_constraints(
        objects.Flavor(
            vcpus=flavor["vcpus"], memory_mb=flavor["memory_mb"], extra_specs=flavor["extra_specs"]
        ),
        None,
    )


def summary(placement) -> list | None:
    if placement is None:
        return None
    return [
        {
            "host_cell": c.id,
            "pinning": sorted([list(p) for p in (c.cpu_pinning or {}).items()]),
            "reserved": sorted(c.cpuset_reserved or ()),
        }
        for c in placement.cells
    ]


def run_os_numa(scenario: dict) -> dict:
    host = build_host(scenario["host"])
    samples = []
    if scenario["op"] == "fit":
        fresh = [request(scenario["flavor"]) for _ in range(scenario["repeat"] + 1)]
        result = summary(numa_fit_instance_to_host(host, fresh.pop()))
        for inst in fresh:
            start = time.perf_counter_ns()
            numa_fit_instance_to_host(host, inst)
            samples.append(time.perf_counter_ns() - start)
        cold = []
        for inst in [request(scenario["flavor"]) for _ in range(scenario["repeat"])]:
            # A host state never seen (the tracker's after a claim): nothing remembered.
            layout.clear_free_cores()
            packing.clear()
            start = time.perf_counter_ns()
            numa_fit_instance_to_host(host, inst)
            cold.append(time.perf_counter_ns() - start)
        return {"samples": samples, "cold": cold, "result": result}
    else:
        placement = numa_fit_instance_to_host(host, request(scenario["flavor"]))
        result = summary(placement)
        for _ in range(scenario["repeat"]):
            start = time.perf_counter_ns()
            numa_usage_from_instance_numa(host, placement)
            samples.append(time.perf_counter_ns() - start)
    return {"samples": samples, "result": result}


# --- the run ----------------------------------------------------------------------------


class NovaSide:
    """A long-lived Nova process answering one scenario per line."""

    def __init__(self, python: str) -> None:
        env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING="1")
        self.proc = subprocess.Popen(
            [python, str(HERE / "nova_side.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self, scenario: dict) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(scenario) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the Nova side stopped (see its error above)")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nova-python", default=os.environ.get("OS_NUMA_OPENSTACK_PYTHON"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not args.nova_python:
        parser.error("no Nova environment: give --nova-python or set OS_NUMA_OPENSTACK_PYTHON")
    nova = NovaSide(args.nova_python)
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    results: dict[str, tuple] = {}
    for _ in range(args.rounds):
        for scenario in scenarios():
            a = run_os_numa(scenario)
            b = nova.run(scenario)
            ours.setdefault(scenario["name"], []).extend(s / 1e3 for s in a["samples"])
            if "cold" in a:
                ours.setdefault(scenario["name"] + " cold", []).extend(s / 1e3 for s in a["cold"])
            # The Nova side reports medians only: weight each round equally.
            theirs.setdefault(scenario["name"], []).append(b["median_us"])
            theirs.setdefault(scenario["name"] + " min", []).append(b["min_us"])
            results[scenario["name"]] = (a["result"], b["result"])
    nova.close()
    print(f"{'scenario':64} {'os-numa us':>11} {'Nova us':>9} {'ratio':>6} {'goal':>5}")
    ok = True
    for scenario in scenarios():
        name = scenario["name"]
        nova_median = statistics.median(theirs[name])
        # A fit is timed twice: warm, on a host state seen before (a scheduler filtering
        # one fleet for request after request), and cold, the host-state memos cleared
        # before each call (a host state never seen: the tracker after a claim).
        rows = [(name, ours[name])]
        if name + " cold" in ours:
            print(name)
            rows = [("  warm", ours[name]), ("  cold", ours[name + " cold"])]
        for shown, samples in rows:
            mine = statistics.median(samples)
            ratio = nova_median / mine
            met = ratio >= scenario["goal"]
            ok &= met
            print(
                f"{shown:64} {mine:11.1f} {nova_median:9.1f} {ratio:5.1f}x "
                f"{scenario['goal']:4d}x{'' if met else '  below goal'}"
            )
        a, b = results[name]
        if a != b:
            print(f"    placements differ: os-numa {a}\n                       Nova    {b}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
