"""ResourceTracker under concurrent claims and drops from many threads."""

from __future__ import annotations

import random
import sys
import threading

import pytest

from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from tests import fixtures_topology as ft

THREADS = 8
CLAIMS_PER_THREAD = 25
FLAVORS = [
    {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
    {"hw:cpu_policy": "dedicated"},
    {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"},
    {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2"},
]


@pytest.fixture
def fast_switching():
    """Switch threads far more often than the default 5 ms, to interleave claims."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def worker(tracker, index, start, outcome, errors):
    rng = random.Random(index)
    mine = []
    start.wait()
    try:
        for n in range(CLAIMS_PER_THREAD):
            specs = FLAVORS[rng.randrange(len(FLAVORS))]
            vm = Instance(
                uuid=f"t{index}-{n}",
                flavor=Flavor(vcpus=rng.choice((2, 4)), memory_mb=512, extra_specs=specs),
            )
            try:
                with tracker.instance_claim(vm):
                    pass
            except exception.ComputeResourcesUnavailable:
                outcome["full"][index] += 1
                continue
            outcome["claimed"][index] += 1
            mine.append(vm)
            if rng.random() < 0.4:
                tracker.drop(mine.pop(rng.randrange(len(mine))))
                outcome["dropped"][index] += 1
    except BaseException as exc:  # surfaced by the main thread
        errors.append(exc)
    outcome["alive"][index] = mine


def test_concurrent_claims_never_share_a_pcpu_and_never_get_lost(driver, fast_switching):
    tracker = ResourceTracker(driver, ft.host(2, 16, 2, memory=65536))
    start = threading.Barrier(THREADS)
    outcome = {key: [0] * THREADS for key in ("claimed", "dropped", "full", "alive")}
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=worker, args=(tracker, i, start, outcome, errors))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    alive = [vm for vms in outcome["alive"] for vm in vms]
    usage = tracker.usage
    # Every successful claim that was not dropped is recorded, and nothing else.
    assert sum(outcome["claimed"]) - sum(outcome["dropped"]) == len(alive)
    assert usage.instances == {vm.uuid for vm in alive}
    # The host filled up: some claims had to fail, so threads really competed.
    assert sum(outcome["full"]) > 0
    # No pCPU is in two placements.
    owners: dict[int, str] = {}
    for vm in alive:
        topology = vm.numa_topology
        for pcpu in topology.cpu_pinning | topology.cpuset_reserved:
            assert pcpu not in owners, f"pCPU {pcpu} held by {owners[pcpu]} and {vm.uuid}"
            owners[pcpu] = vm.uuid
    assert set(owners) <= set().union(*(c.pinned_cpus for c in usage.cells))
    # The usage equals a rebuild from the survivors, as after a restart.
    rebuilt = ResourceTracker(driver, ft.host(2, 16, 2, memory=65536))
    assert rebuilt.update_available_resource(alive) == usage
    isolated = sum(vm.numa_topology.emulator_threads_isolated for vm in alive)
    assert usage.overhead.vcpus == isolated
