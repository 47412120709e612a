"""The Nova half of benchmarks/compare_nova.py, run by the Python of a Nova 34 environment.

It reads one JSON scenario per line on standard input, times Nova's own function on it
and answers one JSON line: ``{"median_us": ..., "min_us": ..., "result": ...}``. It imports
nothing of os-numa, so it runs in a virtual environment that has only Nova.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")
warnings.simplefilter("ignore")

from nova.virt import hardware  # noqa: E402

from nova import objects  # noqa: E402

objects.register_all()
logging.disable(logging.CRITICAL)  # Nova warns per fit on SMT hosts (bug 1889633)


def build_host(spec: dict) -> objects.NUMATopology:
    cells = []
    for cell in spec["cells"]:
        cpus = set(cell["cpus"])
        cells.append(
            objects.NUMACell(
                id=cell["id"],
                cpuset=set() if cell.get("dedicated_only", True) else cpus,
                pcpuset=cpus,
                memory=cell["memory"],
                cpu_usage=0,
                memory_usage=0,
                pinned_cpus=set(cell["pinned"]),
                siblings=[set(group) for group in cell["siblings"]],
                mempages=[
                    objects.NUMAPagesTopology(size_kb=size, total=total, used=0)
                    for size, total in cell["pages"]
                ],
                network_metadata=objects.NetworkMetadata(physnets=set(), tunneled=False),
                socket=cell["id"],
            )
        )
    return objects.NUMATopology(cells=cells)


def request(flavor: dict):
    return hardware.numa_get_constraints(
        objects.Flavor(
            vcpus=flavor["vcpus"], memory_mb=flavor["memory_mb"], extra_specs=flavor["extra_specs"]
        ),
        objects.ImageMeta.from_dict({"properties": {}}),
    )


def summary(placement) -> list | None:
    if placement is None:
        return None
    return [
        {
            "host_cell": c.id,
            "pinning": sorted((c.cpu_pinning or {}).items()),
            "reserved": sorted(c.cpuset_reserved or ()),
        }
        for c in placement.cells
    ]


def run(scenario: dict) -> dict:
    host = build_host(scenario["host"])
    repeat = scenario["repeat"]
    samples = []
    result = None
    if scenario["op"] == "fit":
        # Nova's fit writes into the request: each call gets a fresh one, made untimed.
        fresh = [request(scenario["flavor"]) for _ in range(repeat + 1)]
        result = summary(hardware.numa_fit_instance_to_host(host, fresh.pop(), None))
        for inst in fresh:
            start = time.perf_counter_ns()
            hardware.numa_fit_instance_to_host(host, inst, None)
            samples.append(time.perf_counter_ns() - start)
    elif scenario["op"] == "claim":
        placement = hardware.numa_fit_instance_to_host(host, request(scenario["flavor"]), None)
        result = summary(placement)
        for _ in range(repeat):
            start = time.perf_counter_ns()
            hardware.numa_usage_from_instance_numa(host, placement)
            samples.append(time.perf_counter_ns() - start)
    elif scenario["op"] == "copy":
        inst = request(scenario["flavor"])
        for _ in range(repeat):
            start = time.perf_counter_ns()
            copy.deepcopy(inst)
            samples.append(time.perf_counter_ns() - start)
    else:
        raise ValueError(scenario["op"])
    return {
        "median_us": statistics.median(samples) / 1e3,
        "min_us": min(samples) / 1e3,
        "result": result,
    }


def main() -> int:
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
