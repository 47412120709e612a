"""ResourceTracker under concurrent claims and drops from many threads."""

from __future__ import annotations

import contextlib
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


def _pinned_vm(uuid: str, vcpus: int = 2) -> Instance:
    return Instance(
        uuid=uuid,
        flavor=Flavor(vcpus=vcpus, memory_mb=512, extra_specs={"hw:cpu_policy": "dedicated"}),
    )


def _claim_in_thread(tracker, vm, inside, release, errors):
    """Hold ``vm``'s claim open (the guest being built) until ``release`` is set."""
    try:
        with tracker.instance_claim(vm):
            inside.set()
            assert release.wait(10)
    except BaseException as exc:  # surfaced by the main thread
        errors.append(exc)
        inside.set()


@contextlib.contextmanager
def held_open(tracker, vm):
    """Run ``vm``'s claim in another thread and keep its ``with`` block open meanwhile."""
    inside, release, errors = threading.Event(), threading.Event(), []
    thread = threading.Thread(target=_claim_in_thread, args=(tracker, vm, inside, release, errors))
    thread.start()
    try:
        assert inside.wait(10)
        yield
    finally:
        release.set()
        thread.join()
    assert errors == []


def test_a_rebuild_during_an_in_flight_claim_keeps_it(driver):
    """Issue 10 defect 5: update_available_resource while a claim's block runs must
    not forget the claim, or the next claim takes the same pCPUs."""
    tracker = ResourceTracker(driver, ft.host(1, 4))
    building = _pinned_vm("building")
    with held_open(tracker, building):
        held = set(building.numa_topology.cpu_pinning)
        # The periodic task runs with the instances the database lists: the new guest
        # is not there yet.
        usage = tracker.update_available_resource([])
        assert usage.instances == {"building"}
        assert usage.cell(0).pinned_cpus == held
        second = _pinned_vm("second")
        with tracker.instance_claim(second):
            pass
        assert not held & set(second.numa_topology.cpu_pinning)
        with pytest.raises(exception.ComputeResourcesUnavailable):
            with tracker.instance_claim(_pinned_vm("third")):
                pass
    assert tracker.usage.instances == {"building", "second"}


def test_a_rebuild_listing_the_in_flight_instance_accounts_it_once(driver):
    tracker = ResourceTracker(driver, ft.host(1, 4))
    building = _pinned_vm("building")
    with held_open(tracker, building):
        usage = tracker.update_available_resource([building])
        assert usage.instances == {"building"}
        assert len(usage.cell(0).pinned_cpus) == 2


def test_an_in_flight_claim_that_fails_after_a_rebuild_is_undone(driver):
    tracker = ResourceTracker(driver, ft.host(1, 4))
    building = _pinned_vm("building", vcpus=4)
    inside, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def build():
        try:
            with tracker.instance_claim(building):
                inside.set()
                release.wait(10)
                raise RuntimeError("spawn failed")
        except RuntimeError as exc:
            failed.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    assert inside.wait(10)
    tracker.update_available_resource([])
    release.set()
    thread.join()
    assert len(failed) == 1
    assert tracker.usage.instances == frozenset()
    assert tracker.usage.cell(0).pinned_cpus == frozenset()
    with tracker.instance_claim(_pinned_vm("next", vcpus=4)):
        pass
