"""ResourceTracker: claims, rollback, drops and rebuilds on named hosts."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from os_numa import exception
from os_numa.compute import Instance, Resources, ResourceTracker
from os_numa.conf import make_conf
from os_numa.objects import Flavor, InstanceNUMATopology, NUMATopologyLimits
from os_numa.scheduler import host_passes, resources_from_request
from os_numa.virt.driver import ComputeDriver
from tests import fixtures_topology as ft

HOSTS = {
    "A1": ft.a1_host,  # 2 cells x 4 cores, no SMT, cpu_dedicated_set=0-7
    "2x4": lambda: ft.host(2, 4),  # the same CPUs, legacy configuration (pin or float)
    "A3": ft.a3_host,  # 2 cells x 4 cores x 2 threads
    "C1": ft.c1_host,  # 2 cells x 8 cores, shared 0-1,8-9
    "2x4-huge": lambda: ft.host(2, 4, memory=4096, huge_2m=512),
}
DED = {"hw:cpu_policy": "dedicated"}
ISO = {"hw:emulator_threads_policy": "isolate"}


def instance(uuid, vcpus=4, memory_mb=2048, image=None, **extra_specs):
    flavor = Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=extra_specs)
    return Instance(uuid=uuid, flavor=flavor, image_meta=image)


def cells(usage):
    """{cell id: (pinned, emulator, floating vCPUs, memory)} of a usage snapshot."""
    return {
        c.id: (set(c.pinned_cpus), set(c.emulator_cpus), c.cpu_usage, c.memory_mb)
        for c in usage.cells
    }


# (name, host, flavor kwargs, expected cells, expected overhead vCPUs)
CLAIMS = [
    (
        "A1 isolate over 2 nodes",
        "A1",
        dict(**DED, **ISO, **{"hw:numa_nodes": "2"}),
        {0: ({0, 1, 2}, {2}, 0, 1024), 1: ({4, 5}, set(), 0, 1024)},
        1,
    ),
    (
        "A3 isolate: emulator on the next core",
        "A3",
        dict(**DED, **ISO),
        {0: ({0, 1, 2, 3, 4}, {4}, 0, 2048), 1: (set(), set(), 0, 0)},
        1,
    ),
    (
        "A3 thread isolate + emulator isolate take whole cores",
        "A3",
        dict(vcpus=2, **DED, **ISO, **{"hw:cpu_thread_policy": "isolate"}),
        {0: ({0, 1, 2, 3, 4, 5}, {4}, 0, 2048), 1: (set(), set(), 0, 0)},
        1,
    ),
    (
        "C1 share: no emulator pCPU, no overhead",
        "C1",
        dict(**DED, **{"hw:emulator_threads_policy": "share"}),
        {0: ({2, 3, 4, 5}, set(), 0, 2048), 1: (set(), set(), 0, 0)},
        0,
    ),
    (
        "C1 mixed + isolate: floating vCPUs counted, pinned ones pinned",
        "C1",
        dict(**ISO, **{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "2-3"}),
        {0: ({2, 3, 4}, {4}, 2, 2048), 1: (set(), set(), 0, 0)},
        1,
    ),
    (
        "shared guest over 2 nodes floats",
        "2x4",
        {"hw:numa_nodes": "2"},
        {0: (set(), set(), 2, 1024), 1: (set(), set(), 2, 1024)},
        0,
    ),
    (
        "no NUMA request leaves the cells alone",
        "A1",
        {},
        {0: (set(), set(), 0, 0), 1: (set(), set(), 0, 0)},
        0,
    ),
]


@pytest.mark.parametrize(
    "host_name, specs, expected, overhead_vcpus",
    [case[1:] for case in CLAIMS],
    ids=[case[0] for case in CLAIMS],
)
def test_claim(driver, host_name, specs, expected, overhead_vcpus):
    tracker = ResourceTracker(driver, HOSTS[host_name]())
    vm = instance("vm-1", **specs)
    with tracker.instance_claim(vm) as claim:
        assert claim.instance_uuid == "vm-1"
        assert claim.placement is vm.numa_topology
    usage = tracker.usage
    assert cells(usage) == expected
    assert usage.instances == {"vm-1"}
    assert usage.overhead == Resources(vcpus=overhead_vcpus)
    assert usage.vcpus == vm.flavor.vcpus + overhead_vcpus
    assert usage.memory_mb == 2048
    # The recorded placement is what the usage holds: pins + emulator pCPUs.
    if vm.numa_topology is not None:
        placed = vm.numa_topology.cpu_pinning | vm.numa_topology.cpuset_reserved
        pinned = set().union(*(c.pinned_cpus for c in usage.cells))
        assert placed <= pinned


def test_huge_pages_are_counted_per_size(driver):
    tracker = ResourceTracker(driver, HOSTS["2x4-huge"]())
    with tracker.instance_claim(
        instance("vm", memory_mb=512, **DED, **{"hw:mem_page_size": "2MB"})
    ):
        pass
    cell = tracker.usage.cell(0)
    assert cell.pages_used_of(2048) == 256
    assert cell.pages_used_of(4) == 0
    assert cell.pages_used_of(1048576) == 0


def test_second_claim_avoids_the_first(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    first, second = instance("a", vcpus=2, **DED, **ISO), instance("b", vcpus=2, **DED, **ISO)
    with tracker.instance_claim(first):
        pass
    with tracker.instance_claim(second):
        pass
    mine = first.numa_topology.cpu_pinning | first.numa_topology.cpuset_reserved
    theirs = second.numa_topology.cpu_pinning | second.numa_topology.cpuset_reserved
    assert len(mine) == len(theirs) == 3
    assert not mine & theirs
    assert tracker.usage.overhead.vcpus == 2
    assert tracker.usage.vcpus == 6


def test_no_fit_raises_with_the_explanation_and_changes_nothing(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    vm = instance("too-big", **DED, **ISO)  # 4 vCPUs + 1 emulator in a 4-pCPU cell
    before = tracker.usage
    with pytest.raises(exception.ComputeResourcesUnavailable) as info:
        with tracker.instance_claim(vm):
            pytest.fail("the block must not run")
    message = str(info.value)
    assert "5 pCPUs needed (4 vCPUs + 1 emulator)" in message
    assert "host cells 0-1: 5 pCPUs needed" in message
    assert tracker.usage == before
    assert vm.numa_topology is None


class Boom(Exception):
    pass


def test_block_failure_rolls_everything_back(driver):
    tracker = ResourceTracker(driver, ft.a3_host())
    keeper = instance("keeper", vcpus=2, **DED, **ISO)
    with tracker.instance_claim(keeper):
        pass
    before = tracker.usage
    vm = instance("spawn-fails", **DED, **ISO)
    with pytest.raises(Boom):
        with tracker.instance_claim(vm):
            assert tracker.usage.overhead.vcpus == 2
            assert "spawn-fails" in tracker.usage.instances
            raise Boom
    assert tracker.usage == before
    assert vm.numa_topology is None
    # Everything it held is free again: the same claim succeeds afterwards.
    with tracker.instance_claim(vm):
        pass
    assert tracker.usage.instances == {"keeper", "spawn-fails"}


def test_block_failure_keeps_a_preset_request(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    request = ft.guest([2], emulator="isolate")
    vm = Instance(uuid="preset", flavor=Flavor(vcpus=2, memory_mb=1024), numa_topology=request)
    with pytest.raises(Boom):
        with tracker.instance_claim(vm):
            assert vm.numa_topology is not request
            assert vm.numa_topology.cpuset_reserved == {2}
            raise Boom
    assert vm.numa_topology is request
    assert request.cells[0].cpu_pinning is None  # the request itself is never mutated


def test_preset_request_wins_over_the_flavor(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    request = ft.guest([1, 1], memory_per_cell=512)  # two dedicated cells
    vm = Instance(uuid="preset", flavor=Flavor(vcpus=2, memory_mb=1024), numa_topology=request)
    with tracker.instance_claim(vm):
        pass
    assert sorted(c.id for c in vm.numa_topology.cells) == [0, 1]
    assert cells(tracker.usage) == {0: ({0}, set(), 0, 512), 1: ({4}, set(), 0, 512)}


def test_claiming_twice_is_refused(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    vm = instance("vm", vcpus=1, **DED)
    with tracker.instance_claim(vm):
        pass
    before = tracker.usage
    with pytest.raises(exception.InstanceAlreadyClaimed, match="vm"):
        with tracker.instance_claim(vm):
            pass
    assert tracker.usage == before


class FailingDriver:
    def estimate_instance_overhead(self, instance):
        raise RuntimeError("driver broke")


class BadEstimateDriver:
    def __init__(self, estimate):
        self.estimate = estimate

    def estimate_instance_overhead(self, instance):
        return self.estimate


@pytest.mark.parametrize(
    "driver_under_test, error, needle",
    [
        (FailingDriver(), RuntimeError, "driver broke"),
        (BadEstimateDriver({"vcpus": -1}), exception.Invalid, "vcpus=-1"),
        (BadEstimateDriver({"memory_mb": "lots"}), exception.Invalid, "memory_mb='lots'"),
        (BadEstimateDriver(None), exception.Invalid, "a dict with"),
    ],
    ids=["raises", "negative", "not an int", "not a dict"],
)
def test_overhead_failure_undoes_the_claim(driver_under_test, error, needle):
    tracker = ResourceTracker(driver_under_test, ft.a1_host())
    vm = instance("vm", vcpus=2, **DED, **ISO)
    before = tracker.usage
    with pytest.raises(error, match=needle):
        with tracker.instance_claim(vm):
            pytest.fail("the block must not run")
    assert tracker.usage == before
    assert vm.numa_topology is None


def test_missing_overhead_keys_count_as_zero():
    tracker = ResourceTracker(BadEstimateDriver({"memory_mb": 64}), ft.a1_host())
    with tracker.instance_claim(instance("vm", vcpus=2, **DED)):
        pass
    assert tracker.usage.overhead == Resources(memory_mb=64)
    assert tracker.usage.memory_mb == 2048 + 64


def test_invalid_flavor_is_refused_before_any_change(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    vm = instance("vm", **{"hw:cpu_policy": "pinned"})
    with pytest.raises(exception.InvalidCPUAllocationPolicy):
        with tracker.instance_claim(vm):
            pass
    assert tracker.usage.instances == frozenset()


def test_drop_releases_usage_and_overhead(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    empty = tracker.usage
    a, b = instance("a", vcpus=2, **DED, **ISO), instance("b", vcpus=1, **DED)
    for vm in (a, b):
        with tracker.instance_claim(vm):
            pass
    with_b_only = ResourceTracker(driver, ft.a1_host()).update_available_resource([b])
    tracker.drop(a)
    assert tracker.usage == with_b_only
    tracker.drop("b")  # a uuid works too
    assert tracker.usage == empty


def test_dropping_an_unclaimed_instance_is_a_typed_error(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    with tracker.instance_claim(instance("a", vcpus=1, **DED)):
        pass
    before = tracker.usage
    with pytest.raises(exception.InstanceNotClaimed, match="ghost"):
        tracker.drop(instance("ghost"))
    assert tracker.usage == before
    tracker.drop("a")
    with pytest.raises(exception.InstanceNotClaimed, match="a"):
        tracker.drop("a")


def test_rebuild_matches_incremental_usage(driver):
    tracker = ResourceTracker(driver, ft.a3_host())
    vms = [
        instance("a", vcpus=2, **DED, **ISO),
        instance("b", vcpus=2, **DED, **{"hw:cpu_thread_policy": "isolate"}),
        instance("c", vcpus=2, **{"hw:numa_nodes": "2"}),
        instance("d", vcpus=2),
    ]
    for vm in vms:
        with tracker.instance_claim(vm):
            pass
    restarted = ResourceTracker(driver, ft.a3_host())
    assert restarted.update_available_resource(vms) == tracker.usage
    assert restarted.usage == tracker.usage
    # A rebuild replaces what was there: rebuilding from fewer instances forgets the rest.
    assert tracker.update_available_resource(vms[:1]).instances == {"a"}


def placed(uuid, cpu_pinning, reserved=None, host_cell=0):
    cell = ft.cell(pinned=cpu_pinning, memory=1024)
    cell.id = host_cell
    cell.cpu_pinning = cpu_pinning
    cell.cpuset_reserved = reserved
    topology = InstanceNUMATopology(
        cells=[cell], emulator_threads_policy="isolate" if reserved else None
    )
    flavor = Flavor(vcpus=len(cpu_pinning), memory_mb=1024)
    return Instance(uuid=uuid, flavor=flavor, numa_topology=topology)


@pytest.mark.parametrize(
    "survivors, culprit, needle",
    [
        ([placed("a", {0: 0, 1: 1}), placed("b", {0: 1})], "b", "pCPU 1"),
        ([placed("a", {0: 0}, reserved={1}), placed("b", {0: 1})], "b", "pCPU 1"),
        ([placed("a", {0: 0}), placed("a", {0: 1})], "a", "more than once"),
        ([placed("a", {0: 99})], "a", "99"),
        ([placed("a", {0: 0}, host_cell=7)], "a", "7"),
        (
            [Instance("req", Flavor(vcpus=2, memory_mb=1024), numa_topology=ft.guest([2]))],
            "req",
            "not a placement",
        ),
    ],
    ids=[
        "pCPU twice",
        "emulator pCPU reused",
        "duplicate uuid",
        "unknown pCPU",
        "unknown cell",
        "a request",
    ],
)
def test_rebuild_conflicts_name_the_instance_and_keep_the_old_usage(
    driver, survivors, culprit, needle
):
    tracker = ResourceTracker(driver, ft.a1_host())
    with tracker.instance_claim(instance("old", vcpus=1, **DED)):
        pass
    before = tracker.usage
    with pytest.raises(exception.InstanceUsageConflict) as info:
        tracker.update_available_resource(survivors)
    assert f"Instance {culprit} " in str(info.value)
    assert needle in str(info.value)
    assert tracker.usage == before


def _restored(uuid, flavor_vcpus, cells, emulator=None):
    topology = InstanceNUMATopology(cells=cells, emulator_threads_policy=emulator)
    return Instance(
        uuid=uuid, flavor=Flavor(vcpus=flavor_vcpus, memory_mb=1024), numa_topology=topology
    )


def _pinned_cell(pinning, reserved=None, host_cell=0, memory=1024, **extra):
    cell = ft.cell(pinned=pinning, memory=memory, **extra)
    cell.id = host_cell
    cell.cpu_pinning = pinning
    cell.cpuset_reserved = reserved
    return cell


@pytest.mark.parametrize(
    "restored, rule",
    [
        (_restored("two-on-one", 2, [_pinned_cell({0: 0, 1: 0})]), "one-vcpu-per-pcpu"),
        (
            _restored("own-emulator", 2, [_pinned_cell({0: 0, 1: 1}, reserved={1})], "isolate"),
            "emulator",
        ),
        (_restored("no-reserved", 1, [_pinned_cell({0: 0})], "isolate"), "emulator"),
        (_restored("four-pins", 1, [_pinned_cell({0: 0, 1: 1, 2: 2, 3: 3})]), "vcpus"),
        (
            _restored(
                "cells-share",
                2,
                [_pinned_cell({0: 0}, memory=512), _pinned_cell({1: 1}, memory=512, index=1)],
            ),
            "distinct-cells",
        ),
        (_restored("ten-times", 1, [_pinned_cell({0: 0}, memory=40960)]), "memory"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.uuid,
)
def test_rebuild_refuses_what_a_fresh_claim_could_not_make(driver, restored, rule):
    """Issue 10, defect 6: the error names the instance and the broken rule."""
    tracker = ResourceTracker(driver, ft.a1_host())
    before = tracker.usage
    with pytest.raises(exception.PlacementInvalid) as info:
        tracker.update_available_resource([restored])
    assert info.value.instance == restored.uuid and info.value.rule == rule
    assert f"Instance {restored.uuid} " in str(info.value) and f"'{rule}'" in str(info.value)
    assert tracker.usage == before


def test_usage_is_an_immutable_snapshot(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    snapshot = tracker.usage
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.vcpus = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.cells[0].memory_mb = 3
    with tracker.instance_claim(instance("a", vcpus=1, **DED)):
        pass
    assert snapshot.instances == frozenset()
    assert snapshot.cell(0).pinned_cpus == frozenset()
    with pytest.raises(KeyError):
        snapshot.cell(5)


def test_host_topology_given_is_not_mutated(driver):
    host = ft.a1_host()
    tracker = ResourceTracker(driver, host)
    with tracker.instance_claim(instance("a", vcpus=2, **DED, **ISO)):
        pass
    assert all(not cell.pinned_cpus for cell in host.cells)
    assert tracker.host_topology.cells[0].pinned_cpus == {0, 1, 2}


def test_limits_cap_floating_vcpus(driver):
    shared = {"hw:numa_nodes": "1"}
    strict = ResourceTracker(
        driver,
        ft.host(2, 4),
        limits=NUMATopologyLimits(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0),
    )
    loose = ResourceTracker(
        driver,
        ft.host(2, 4),
        limits=NUMATopologyLimits(cpu_allocation_ratio=2.0, ram_allocation_ratio=1.0),
    )
    for tracker in (strict, loose):
        for uuid in ("a", "b"):
            with tracker.instance_claim(instance(uuid, memory_mb=1024, **shared)):
                pass
    with pytest.raises(exception.ComputeResourcesUnavailable):
        with strict.instance_claim(instance("c", memory_mb=1024, **shared)):
            pass
    with loose.instance_claim(instance("c", memory_mb=1024, **shared)):
        pass
    assert sum(c.cpu_usage for c in loose.usage.cells) == 12


def test_conf_packing_strategy_reaches_the_fit(driver):
    dedicated = {"hw:cpu_policy": "dedicated"}
    spread = ResourceTracker(driver, ft.a1_host(), conf=make_conf())
    pack = ResourceTracker(
        driver,
        ft.a1_host(),
        conf=make_conf(**{"compute.packing_host_numa_cells_allocation_strategy": True}),
    )
    for tracker in (spread, pack):
        for uuid in ("a", "b"):
            with tracker.instance_claim(instance(uuid, vcpus=1, memory_mb=512, **dedicated)):
                pass
    assert [len(c.pinned_cpus) for c in spread.usage.cells] == [1, 1]
    assert [len(c.pinned_cpus) for c in pack.usage.cells] == [2, 0]


def test_nova_like_instance_is_duck_typed(driver):
    flavor = SimpleNamespace(
        vcpus=2,
        memory_mb=1024,
        root_gb=10,
        ephemeral_gb=1,
        swap=512,
        extra_specs={"hw:cpu_policy": "dedicated"},
    )
    vm = SimpleNamespace(
        uuid="nova-1",
        flavor=flavor,
        numa_topology=None,
        image_meta={"properties": {"hw_cpu_thread_policy": "isolate"}},
    )
    tracker = ResourceTracker(driver, ft.a3_host())
    with tracker.instance_claim(vm):
        pass
    assert vm.numa_topology.cells[0].cpu_thread_policy == "isolate"
    assert tracker.usage.disk_gb == 12
    assert tracker.usage.cell(0).pinned_cpus == {0, 1, 2, 3}


def test_instance_without_uuid_is_refused(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    with pytest.raises(exception.Invalid, match="uuid"):
        with tracker.instance_claim(Instance(uuid="", flavor=Flavor(vcpus=1, memory_mb=1))):
            pass


def test_base_driver_reports_no_overhead():
    tracker = ResourceTracker(ComputeDriver(), ft.a1_host())
    with tracker.instance_claim(instance("vm", vcpus=2, **DED, **ISO)):
        pass
    assert tracker.usage.overhead == Resources()
    assert tracker.usage.vcpus == 2
    assert tracker.usage.cell(0).emulator_cpus == {2}  # the fit still reserves it


AGREEMENT_FLAVORS = {
    "dedicated": (2, DED),
    "isolate": (3, DED | ISO),
    "isolate, 2 nodes": (4, DED | ISO | {"hw:numa_nodes": "2"}),
    "mixed isolate": (3, ISO | {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "1-2"}),
    "share": (2, DED | {"hw:emulator_threads_policy": "share"}),
    "thread require": (2, DED | ISO | {"hw:cpu_thread_policy": "require"}),
    "thread isolate": (2, DED | ISO | {"hw:cpu_thread_policy": "isolate"}),
    "2 emulator pCPUs": (2, DED | ISO | {"hw:emulator_threads_count": "2"}),
}
# Host and flavor pairs that do not fit: no shared CPUs for a mixed guest on A1, no SMT
# siblings for thread policy require on A1, C1 and 2x4.
NO_FIT = {
    ("A1", "mixed isolate"),
    ("A1", "thread require"),
    ("C1", "thread require"),
    ("2x4", "thread require"),
}


@pytest.mark.parametrize("flavor_name", sorted(AGREEMENT_FLAVORS))
@pytest.mark.parametrize("host_name", ["A1", "A3", "C1", "2x4"])
def test_placement_request_matches_what_the_claim_takes(driver, host_name, flavor_name):
    """PCPU asked of placement == pCPUs the claim pins; VCPU == floating vCPUs counted;
    overhead == emulator pCPUs. This is the loop Nova never closed: the emulator pCPU is
    in both numbers. The filter and the claim agree on whether and where it fits.
    """
    vcpus, specs = AGREEMENT_FLAVORS[flavor_name]
    asked = resources_from_request(Flavor(vcpus=vcpus, memory_mb=1024, extra_specs=specs), None)
    tracker = ResourceTracker(driver, HOSTS[host_name]())
    verdict = host_passes(tracker.host_topology, instance("probe", vcpus, 1024, **specs))
    vm = instance("vm", vcpus, 1024, **specs)
    if (host_name, flavor_name) in NO_FIT:
        assert not verdict.passed
        with pytest.raises(exception.ComputeResourcesUnavailable):
            with tracker.instance_claim(vm):
                pass
        return
    with tracker.instance_claim(vm):
        pass
    assert verdict.passed
    assert verdict.placement.obj_to_primitive() == vm.numa_topology.obj_to_primitive()
    usage = tracker.usage
    pinned = sum(len(c.pinned_cpus) for c in usage.cells)
    emulator = int(specs.get("hw:emulator_threads_count", 1)) if ISO.items() <= specs.items() else 0
    if flavor_name == "thread isolate" and host_name == "A3":
        # Whole cores are consumed on an SMT host, which is why placement must
        # forbid HW_CPU_HYPERTHREADING for such guests.
        assert pinned == 2 * asked.resources["PCPU"]
        assert "HW_CPU_HYPERTHREADING" in asked.forbidden_traits
    else:
        assert pinned == asked.resources.get("PCPU", 0)
    assert sum(c.cpu_usage for c in usage.cells) == asked.resources.get("VCPU", 0)
    assert sum(len(c.emulator_cpus) for c in usage.cells) == emulator
    assert usage.overhead.vcpus == emulator
    assert usage.vcpus == vcpus + emulator


def test_a_dropped_instance_can_be_claimed_again_elsewhere(driver):
    tracker = ResourceTracker(driver, ft.a1_host())
    first = instance("first", vcpus=2, **DED, **ISO)
    second = instance("second", vcpus=2, **DED, **ISO)
    with tracker.instance_claim(first):
        pass
    tracker.drop(first)
    with tracker.instance_claim(second):
        pass
    # first's old placement (now taken by second) is only a request: it is fitted anew.
    with tracker.instance_claim(first):
        pass
    assert first.numa_topology.cells[0].cpu_pinning == {0: 4, 1: 5}
    assert first.numa_topology.cells[0].cpuset_reserved == {6}
    assert [set(c.emulator_cpus) for c in tracker.usage.cells] == [{2}, {6}]


# --- issue 6: the emulator pool and several isolated emulator pCPUs --------------------------

POOL = {"hw:emulator_threads_policy": "pool"}


def pool_host():
    """A1 with [os_numa] emulator_pin_set=0,4 (overcommit 2) and cpu_dedicated_set the rest."""
    return ft.host(2, 4, dedicated={1, 2, 3, 5, 6, 7}, pool={0, 4}, pool_overcommit=2)


def test_pool_guests_are_counted_until_the_pool_is_full_and_drops_free_them(driver):
    tracker = ResourceTracker(driver, pool_host())
    vms = [instance(f"vm-{i}", vcpus=1, memory_mb=256, **DED, **POOL) for i in range(5)]
    for vm in vms[:4]:
        with tracker.instance_claim(vm) as claim:
            assert claim.overhead == Resources()  # the pool takes no PCPU
        request = resources_from_request(vm.flavor)
        assert request.resources["PCPU"] == 1
    assert ft.pool_loads(tracker.host_topology) == {0: 2, 4: 2}
    assert [vm.numa_topology.emulator_pool_cpu for vm in vms[:4]] == [0, 4, 0, 4]
    with pytest.raises(exception.ComputeResourcesUnavailable) as info:
        with tracker.instance_claim(vms[4]):
            pass
    assert "emulator pool full: 2 pCPUs x overcommit 2 = 4 guests, 4 placed" in str(info.value)
    assert host_passes(tracker.host_topology, vms[4]).passed is False
    tracker.drop(vms[1])
    assert ft.pool_loads(tracker.host_topology) == {0: 2, 4: 1}
    with tracker.instance_claim(vms[4]):
        pass
    assert vms[4].numa_topology.emulator_pool_cpu == 4
    for vm in (vms[0], vms[2], vms[3], vms[4]):
        tracker.drop(vm)
    assert ft.pool_loads(tracker.host_topology) == {0: 0, 4: 0}
    assert tracker.usage.instances == frozenset()


def test_several_isolated_emulator_pcpus_are_pinned_and_counted(driver):
    tracker = ResourceTracker(driver, HOSTS["A1"]())
    specs = {**DED, **ISO, "hw:numa_nodes": "2", "hw:emulator_threads_count": "2"}
    vm = instance("vm", **specs)
    with tracker.instance_claim(vm):
        pass
    usage = tracker.usage
    assert cells(usage) == {0: ({0, 1, 2, 3}, {2, 3}, 0, 1024), 1: ({4, 5}, set(), 0, 1024)}
    assert usage.overhead == Resources(vcpus=2)
    assert resources_from_request(vm.flavor).resources["PCPU"] == 4 + 2


def test_pool_usage_is_rebuilt_and_an_overfull_pool_is_a_conflict(driver):
    tracker = ResourceTracker(driver, pool_host())
    vms = [instance(f"vm-{i}", vcpus=1, memory_mb=256, **DED, **POOL) for i in range(3)]
    for vm in vms:
        with tracker.instance_claim(vm):
            pass
    assert [c.emulator_pool for c in tracker.usage.cells] == [((0, 2),), ((4, 1),)]
    restarted = ResourceTracker(driver, pool_host())
    assert restarted.update_available_resource(vms) == tracker.usage
    # A third guest recorded on the full pool pCPU 0 (say, after the overcommit was lowered).
    intruder = instance("intruder", vcpus=1, memory_mb=256, **DED, **POOL)
    intruder.numa_topology = vms[0].numa_topology.obj_clone()
    intruder.numa_topology.cells[0].cpu_pinning = {0: 3}
    before = restarted.usage
    with pytest.raises(exception.InstanceUsageConflict) as info:
        restarted.update_available_resource([*vms, intruder])
    assert "Instance intruder " in str(info.value)
    assert "pool" in str(info.value)
    assert restarted.usage == before


def test_rebuild_refuses_non_ascii_pinning_keys(driver):
    """Issue 10, defect 6: a stored pinning keyed '١' (ARABIC-INDIC DIGIT ONE) would
    read as vCPU 1; the rebuild refuses it, naming the instance and the rule."""
    cell = _pinned_cell({0: 0, 1: 1})
    cell.cpu_pinning_raw = {"0": 0, "\u0661": 1}
    restored = _restored("arabic", 2, [cell])
    tracker = ResourceTracker(driver, ft.a1_host())
    with pytest.raises(exception.PlacementInvalid) as info:
        tracker.update_available_resource([restored])
    assert info.value.rule == "vcpus" and "arabic" in str(info.value)


def _pinned_then_shared(driver):
    """A 4-pCPU cell with 1536 MiB of small pages: three pinned guests take every small
    page, then a shared guest (held only to the cell's total, as in Nova) takes 512 MiB
    more of them. Claimed in that order, every claim passes a fresh claim's rules."""
    host = ft.host(1, 4, memory=2048, huge_2m=256)
    tracker = ResourceTracker(driver, host)
    pinned = [
        instance(f"pinned-{i}", vcpus=1, memory_mb=512, **{"hw:cpu_policy": "dedicated"})
        for i in range(3)
    ]
    shared = [instance("shared", vcpus=1, memory_mb=512, **{"hw:numa_nodes": "1"})]
    claims = []
    for vm in pinned + shared:
        with tracker.instance_claim(vm) as claim:
            claims.append(claim)
    return host, tracker, pinned + shared, claims


def test_rebuild_accepts_claims_listed_in_another_order_than_they_were_made(driver):
    host, tracker, guests, _ = _pinned_then_shared(driver)
    assert tracker.usage.cells[0].pages_used[0] == (4, 2048 * 256)  # 1536 MiB exist
    rebuilt = ResourceTracker(driver, host)
    # Listed shared first, the pinned guests would see no free small page.
    usage = rebuilt.update_available_resource(list(reversed(guests)))
    assert usage == tracker.usage


def test_restore_accepts_claims_listed_in_another_order_than_they_were_made(driver):
    host, tracker, _, claims = _pinned_then_shared(driver)
    saved = list(reversed(claims))
    restored = ResourceTracker(driver, host)
    assert restored.restore(saved) == tracker.usage
