"""Benchmark numa_get_constraints: median microseconds per call for named flavors.

Run from the repository root: ``.venv/bin/python benchmarks/constraints.py``.
Every boot, resize and scheduling pass reads the flavor once per request (Nova
also re-reads it per host in the filter), so this is the fixed cost in front of
each fit.
"""

from __future__ import annotations

import warnings

warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402

from os_numa import objects  # noqa: E402
from os_numa.constraints import numa_get_constraints  # noqa: E402

SCENARIOS = {
    "shared, no topology": (4, 4096, {}, None),
    "dedicated + isolate (4 vCPUs)": (
        4,
        4096,
        {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
        None,
    ),
    "realtime ^0, 2 nodes, 1GB pages (16 vCPUs)": (
        16,
        16384,
        {
            "hw:cpu_policy": "dedicated",
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
            "hw:numa_nodes": "2",
            "hw:mem_page_size": "1GB",
        },
        None,
    ),
    "mixed, manual 4-node split, image props (64 vCPUs)": (
        64,
        65536,
        {
            "hw:cpu_policy": "mixed",
            "hw:cpu_dedicated_mask": "^0-3",
            "hw:mem_page_size": "any",
            "hw:numa_nodes": "4",
            **{f"hw:numa_cpus.{i}": f"{16 * i}-{16 * i + 15}" for i in range(4)},
            **{f"hw:numa_mem.{i}": "16384" for i in range(4)},
        },
        {"properties": {"hw_cpu_thread_policy": "prefer", "hw_mem_page_size": "2MB"}},
    ),
}


def median_us(flavor, image_meta, repeat: int = 2000) -> float:
    """Median wall-clock microseconds of one numa_get_constraints call."""
    return timings(lambda: numa_get_constraints(flavor, image_meta), repeat, unit="us")[0]


def main() -> None:
    for name, (vcpus, memory_mb, specs, image) in SCENARIOS.items():
        flavor = objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs)
        image_meta = objects.ImageMeta.from_dict(image) if image else None
        print(f"{name:55s} {median_us(flavor, image_meta):8.1f} us")


if __name__ == "__main__":
    main()
