"""The Nova half of benchmarks/moves.py, run by the Python of a Nova 34 environment.

Reads one JSON object on standard input: a domain XML and the destination's pins in the
form Nova's live migration carries them (``LibvirtLiveMigrateNUMAInfo``: cpu_pins,
cell_pins, emulator_pins, sched_vcpus, sched_priority). Times Nova's own
``nova.virt.libvirt.migration._update_numa_xml`` on it, with the parse and the
serialisation Nova's ``get_updated_guest_xml`` does around it, and answers one JSON line:
``{"median_us": ..., "min_us": ..., "xml": ...}``. Imports nothing of os-numa.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")
warnings.simplefilter("ignore")

from lxml import etree  # noqa: E402
from nova.virt.libvirt import migration  # noqa: E402

from nova import objects  # noqa: E402

objects.register_all()
logging.disable(logging.CRITICAL)


def main() -> None:
    job = json.loads(sys.stdin.readline())
    info = objects.LibvirtLiveMigrateNUMAInfo(
        cpu_pins={k: set(v) for k, v in job["cpu_pins"].items()},
        cell_pins={k: set(v) for k, v in job["cell_pins"].items()},
        emulator_pins=set(job["emulator_pins"]),
    )
    if job.get("sched_vcpus"):
        info.sched_vcpus = set(job["sched_vcpus"])
        info.sched_priority = job["sched_priority"]
    data = objects.LibvirtLiveMigrateData(dst_numa_info=info)

    def run() -> str:
        doc = etree.fromstring(job["xml"])
        return etree.tostring(migration._update_numa_xml(doc, data), encoding="unicode")

    out = run()
    samples = []
    for _ in range(job.get("repeat", 500)):
        start = time.perf_counter_ns()
        run()
        samples.append(time.perf_counter_ns() - start)
    print(
        json.dumps(
            {
                "median_us": statistics.median(samples) / 1e3,
                "min_us": min(samples) / 1e3,
                "xml": out,
            }
        )
    )


if __name__ == "__main__":
    main()
