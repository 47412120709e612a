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

``--compiled DIR`` (default: ``$OS_NUMA_COMPILED_TREE``) also times os-numa's compiled
build (setup.py ``OS_NUMA_COMPILE=1``; ``bash tools/dev.sh compiled`` makes one and prints
DIR) in a third process that imports os-numa from DIR, in the same rounds: os-numa, its
compiled build, Nova, again and again. It is checked to have loaded every module of
setup.COMPILED from an extension.

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
import importlib
import importlib.machinery
import json
import os
import runpy
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


def build() -> str:
    """Which os-numa this process runs: "pure Python" or "compiled (N of M modules)"."""
    listed = runpy.run_path(str(HERE.parent / "setup.py"), run_name="setup")["COMPILED"]
    modules = [
        importlib.import_module(path.removeprefix("src/").removesuffix(".py").replace("/", "."))
        for path in listed
    ]
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    compiled = sum(str(module.__file__).endswith(suffixes) for module in modules)
    return f"compiled ({compiled} of {len(modules)} modules)" if compiled else "pure Python"


def serve() -> int:
    """Answer one scenario per line (the compiled build's process, see --compiled)."""
    print(json.dumps({"build": build()}), flush=True)
    for line in sys.stdin:
        print(json.dumps(run_os_numa(json.loads(line))), flush=True)
    return 0


# --- the run ----------------------------------------------------------------------------


class Side:
    """A long-lived process answering one scenario per line (Nova's, or os-numa's compiled)."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def run(self, scenario: dict) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(scenario) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("a side stopped (see its error above)")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nova-python", default=os.environ.get("OS_NUMA_OPENSTACK_PYTHON"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compiled", default=os.environ.get("OS_NUMA_COMPILED_TREE"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve()
    if not args.nova_python:
        parser.error("no Nova environment: give --nova-python or set OS_NUMA_OPENSTACK_PYTHON")
    nova = Side(
        [args.nova_python, str(HERE / "nova_side.py")],
        dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING="1"),
    )
    compiled = None
    print(f"os-numa: {build()}")
    if args.compiled:
        env = dict(os.environ, PYTHONPATH=args.compiled)
        compiled = Side([sys.executable, str(Path(__file__).resolve()), "--serve"], env)
        assert compiled.proc.stdout
        shown = json.loads(compiled.proc.stdout.readline())["build"]
        print(f"os-numa from {args.compiled}: {shown}")
        if not shown.startswith("compiled"):
            raise SystemExit(f"{args.compiled} holds no compiled os-numa")
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    results: dict[str, tuple] = {}
    for _ in range(args.rounds):
        for scenario in scenarios():
            a = run_os_numa(scenario)
            runs = [("", a)]
            if compiled is not None:
                runs.append((" compiled", compiled.run(scenario)))
            b = nova.run(scenario)
            for build_name, run in runs:
                name = scenario["name"] + build_name
                ours.setdefault(name, []).extend(s / 1e3 for s in run["samples"])
                if "cold" in run:
                    ours.setdefault(name + " cold", []).extend(s / 1e3 for s in run["cold"])
            # The Nova side reports medians only: weight each round equally.
            theirs.setdefault(scenario["name"], []).append(b["median_us"])
            theirs.setdefault(scenario["name"] + " min", []).append(b["min_us"])
            results[scenario["name"]] = (a["result"], b["result"])
            if len(runs) > 1 and runs[1][1]["result"] != a["result"]:
                raise SystemExit(f"{scenario['name']}: the compiled build placed differently")
    nova.close()
    if compiled is not None:
        compiled.close()
    print(f"{'scenario':64} {'os-numa us':>11} {'Nova us':>9} {'ratio':>6} {'goal':>5}")
    ok = True
    for scenario in scenarios():
        name = scenario["name"]
        nova_median = statistics.median(theirs[name])
        # A fit is timed twice: warm, on a host state seen before (a scheduler filtering
        # one fleet for request after request), and cold, the host-state memos cleared
        # before each call (a host state never seen: the tracker after a claim).
        rows = []
        for build_name in ("", " compiled"):
            if name + build_name not in ours:
                continue
            label = build_name.strip() or ("pure" if compiled is not None else "")
            prefix = f"  {label} " if label else "  "
            if name + build_name + " cold" in ours:
                rows += [
                    (prefix + "warm", ours[name + build_name]),
                    (prefix + "cold", ours[name + build_name + " cold"]),
                ]
            else:
                rows.append((prefix.rstrip() if label else name, ours[name + build_name]))
        if len(rows) > 1:
            print(name)
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
