"""Benchmark the reference resource tracker: microseconds per claim + drop, and a rebuild.

Run from the repository root: ``.venv/bin/python benchmarks/tracker.py``. Prints one
line per scenario with the median and minimum over the repeats:

- claim+drop on a 2 x 16 x 2 host half full of guests (the fit, the usage update, the
  driver's overhead estimate and the bookkeeping, then their undoing);
- the same from 8 threads at once (throughput, claims per second: the median and
  best of 5 runs of 800 claims, with the CPU each claim+drop took and the share of a
  CPU the process had, which a busy machine lowers);
- update_available_resource from 32 guests (a compute service restart);
- reading the usage snapshot with 32 guests claimed;
- claim+drop when the tracker keeps a checkpoint file (two atomic, fsync-ed
  rewrites per claim and drop).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402
from tests import fixtures_topology as ft  # noqa: E402

from os_numa.compute import Instance, ResourceTracker  # noqa: E402
from os_numa.objects import Flavor  # noqa: E402
from os_numa.virt.libvirt.driver import LibvirtDriver  # noqa: E402

ISOLATE = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"}


def guest(uuid: str, vcpus: int = 2) -> Instance:
    return Instance(uuid, Flavor(vcpus=vcpus, memory_mb=1024, extra_specs=ISOLATE))


def half_full() -> tuple[ResourceTracker, list[Instance]]:
    """A 2 x 16 x 2 host with 10 isolate guests of 2 vCPUs (30 of 64 pCPUs)."""
    tracker = ResourceTracker(LibvirtDriver(), ft.host(2, 16, 2, memory=65536))
    guests = [guest(f"resident-{i}") for i in range(10)]
    for vm in guests:
        with tracker.instance_claim(vm):
            pass
    return tracker, guests


def claim_and_drop(tracker: ResourceTracker):
    def run():
        vm = guest("probe", 4)
        with tracker.instance_claim(vm):
            pass
        tracker.drop(vm)

    return run


def threaded_run(threads: int = 8, per_thread: int = 50) -> tuple[float, float, float]:
    """(claims per second, CPU microseconds per claim+drop, the share of one CPU the
    process had) for ``threads`` threads claiming and dropping on one tracker.

    On a shared machine the wall-clock rate falls with the CPU the process gets; the
    CPU per claim+drop does not, and 1e6 / it is the rate with a CPU to itself.
    """
    tracker, _ = half_full()
    start = threading.Barrier(threads + 1)

    def work(index: int) -> None:
        start.wait()
        for n in range(per_thread):
            vm = guest(f"t{index}-{n}", 1)
            with tracker.instance_claim(vm):
                pass
            tracker.drop(vm)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    claims = threads * per_thread
    return claims / wall, cpu / claims * 1e6, cpu / wall


def main() -> None:
    tracker, _ = half_full()
    median, best = timings(claim_and_drop(tracker), 300, unit="us")
    print(f"claim+drop, 2x16x2 host half full:   median {median:8.0f} us   min {best:8.0f} us")

    runs = sorted(threaded_run(8, 100) for _ in range(5))
    rate, cpu_us, share = runs[len(runs) // 2]
    print(
        f"claim+drop from 8 threads:           median {rate:8.0f} claims/s   "
        f"best {runs[-1][0]:8.0f} claims/s"
    )
    print(
        f"  (median run: {cpu_us:.0f} us of CPU per claim+drop, the process had "
        f"{share:.0%} of a CPU; {1e6 / cpu_us:.0f} claims/s with a CPU to itself)"
    )

    crowd = ResourceTracker(LibvirtDriver(), ft.host(2, 16, 2, memory=65536))
    residents = [guest(f"r{i}", 1) for i in range(32)]
    for vm in residents:
        with crowd.instance_claim(vm):
            pass
    restarted = ResourceTracker(LibvirtDriver(), ft.host(2, 16, 2, memory=65536))
    median, best = timings(lambda: restarted.update_available_resource(residents), 50, unit="us")
    print(f"rebuild from 32 guests:              median {median:8.0f} us   min {best:8.0f} us")

    median, best = timings(lambda: crowd.usage, 300, unit="us")
    print(f"usage snapshot, 32 guests:           median {median:8.0f} us   min {best:8.0f} us")

    with tempfile.TemporaryDirectory() as tmp:
        saved = ResourceTracker(
            LibvirtDriver(), ft.host(2, 16, 2, memory=65536), checkpoint_path=Path(tmp) / "t.json"
        )
        for vm in residents[:10]:
            with saved.instance_claim(vm):
                pass
        median, best = timings(claim_and_drop(saved), 30, unit="us")
    print(f"claim+drop with a checkpoint file:   median {median:8.0f} us   min {best:8.0f} us")


if __name__ == "__main__":
    main()
