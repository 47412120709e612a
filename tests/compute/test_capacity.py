"""Issue 10 defect 7: the driver's overhead counts against the host's capacity."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.compute import Instance, Resources, ResourceTracker
from os_numa.compute.capacity import Capacity
from os_numa.objects import Flavor, NUMATopologyLimits
from tests import fixtures_topology as ft

DED = {"hw:cpu_policy": "dedicated"}


class OverheadDriver:
    """A driver whose every guest costs ``overhead`` on top of its flavor."""

    def __init__(self, **overhead):
        self.overhead = overhead

    def estimate_instance_overhead(self, instance):
        return dict(self.overhead)


def vm(uuid, vcpus=2, memory_mb=1024, **specs):
    return Instance(uuid=uuid, flavor=Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs))


def big_host():
    """2 cells x 8 cores, 64 GiB each: 128 GiB in all."""
    return ft.host(2, 8, memory=65536)


def test_ten_million_mib_of_overhead_is_refused_naming_it():
    tracker = ResourceTracker(OverheadDriver(memory_mb=10_000_000), big_host())
    guest = vm("huge-overhead", **DED)
    with pytest.raises(exception.InsufficientHostCapacity) as raised:
        with tracker.instance_claim(guest):
            pytest.fail("the block must not run")
    message = str(raised.value)
    assert "huge-overhead" in message
    assert "10000000 MiB of driver overhead" in message
    assert "OverheadDriver.estimate_instance_overhead" in message
    assert "131072 MiB" in message
    assert isinstance(raised.value, exception.ComputeResourcesUnavailable)
    assert tracker.usage.instances == frozenset()
    assert guest.numa_topology is None


def test_overhead_fills_the_host_then_the_next_claim_fails():
    host = ft.host(1, 8, memory=4096)
    tracker = ResourceTracker(OverheadDriver(memory_mb=1024), host)
    for uuid in ("a", "b"):
        with tracker.instance_claim(vm(uuid, vcpus=1, **DED)):
            pass
    assert tracker.usage.memory_mb == 4096  # 2 x (1024 + 1024 overhead)
    # Cell memory alone would take a third 1024 MiB guest; its overhead does not fit.
    with pytest.raises(exception.InsufficientHostCapacity, match="memory"):
        with tracker.instance_claim(vm("c", vcpus=1, **DED)):
            pass
    assert tracker.usage.instances == {"a", "b"}


def test_guest_without_numa_request_counts_against_host_memory():
    tracker = ResourceTracker(OverheadDriver(), ft.host(1, 4, memory=4096))
    with pytest.raises(exception.InsufficientHostCapacity, match="5000 MiB"):
        with tracker.instance_claim(vm("plain", memory_mb=5000)):
            pass


def test_unbacked_overhead_vcpus_of_a_pinned_guest_need_a_pcpu():
    tracker = ResourceTracker(OverheadDriver(vcpus=1), ft.host(1, 4))
    with pytest.raises(exception.InsufficientHostCapacity, match="pCPU"):
        with tracker.instance_claim(vm("four", vcpus=4, **DED)):
            pass
    with tracker.instance_claim(vm("three", vcpus=3, **DED)):
        pass
    assert tracker.usage.vcpus == 4


def test_isolated_emulator_overhead_is_the_reserved_pcpu_not_another(driver):
    tracker = ResourceTracker(driver, ft.host(1, 4))
    with tracker.instance_claim(
        vm("iso", vcpus=3, **DED, **{"hw:emulator_threads_policy": "isolate"})
    ):
        pass
    assert tracker.usage.overhead == Resources(vcpus=1)


def test_floating_overhead_vcpus_count_with_limits():
    limits = NUMATopologyLimits(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
    tracker = ResourceTracker(OverheadDriver(vcpus=1), ft.host(1, 4), limits=limits)
    with pytest.raises(exception.InsufficientHostCapacity, match="floating vCPUs"):
        with tracker.instance_claim(vm("plain", vcpus=4)):
            pass
    with tracker.instance_claim(vm("plain3", vcpus=3)):
        pass


def test_ram_allocation_ratio_scales_memory_capacity():
    limits = NUMATopologyLimits(cpu_allocation_ratio=16.0, ram_allocation_ratio=2.0)
    assert Capacity.of(ft.host(1, 4, memory=4096), limits).memory_mb == 8192
    assert Capacity.of(ft.host(1, 4, memory=4096)).floating_vcpus is None


def test_a_rebuild_whose_overhead_exceeds_the_host_names_the_instance():
    host = ft.host(1, 8, memory=4096)
    tracker = ResourceTracker(OverheadDriver(memory_mb=1024), host)
    guests = [vm(uuid, vcpus=1, **DED) for uuid in ("a", "b")]
    for guest in guests:
        with tracker.instance_claim(guest):
            pass
    before = tracker.usage
    heavy = ResourceTracker(OverheadDriver(memory_mb=3000), host)
    heavy.update_available_resource(guests[:1])
    with pytest.raises(exception.InstanceUsageConflict, match="instance b") as raised:
        heavy.update_available_resource(guests)
    assert "driver overhead" in str(raised.value)
    assert heavy.usage.instances == {"a"}
    assert tracker.usage == before


def test_host_versions_the_tracker_shares_are_never_changed():
    # The tracker's host topologies share the cells and CPU sets a claim leaves alone
    # (numa_usage_from_instance_numa(share=True)): a claim refused after its fit, a
    # failed block, a claim and the drops must leave every earlier version as it was.
    host = ft.host(2, 8, memory=4096, huge_2m=512)
    tracker = ResourceTracker(OverheadDriver(memory_mb=3000), host)  # 8192 MiB in all
    with tracker.instance_claim(vm("a", vcpus=2, **DED)):
        pass
    versions = [tracker._host]
    states = [ft.host_state(tracker._host)]
    # Its cell has room; with the overhead the host does not (4024 + 6072 MiB).
    with pytest.raises(exception.InsufficientHostCapacity):
        with tracker.instance_claim(vm("too-big", vcpus=1, memory_mb=3072, **DED)):
            pass
    assert tracker._host is versions[0]
    with pytest.raises(RuntimeError):
        with tracker.instance_claim(vm("c", vcpus=3, **DED)):
            raise RuntimeError("spawn failed")
    with tracker.instance_claim(vm("b", vcpus=1, **{**DED, "hw:mem_page_size": "2048"})):
        pass
    versions.append(tracker._host)
    states.append(ft.host_state(tracker._host))
    tracker.drop("b")
    tracker.drop("a")
    assert [ft.host_state(version) for version in versions] == states
    assert ft.host_state(tracker._host) == ft.host_state(host)
    # Shared indeed: "b" took one cell, the other is the same object in both versions.
    assert any(new is old for new, old in zip(versions[1].cells, versions[0].cells, strict=True))
