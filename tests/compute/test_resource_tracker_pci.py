"""ResourceTracker with PCI devices: claim marks them used, drop frees, rebuild recounts."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.conf import make_conf
from os_numa.objects import Flavor
from os_numa.pci.devices import PciAddress
from os_numa.virt.libvirt.driver import LibvirtDriver
from tests.fixtures_topology import sample_host
from tests.pci.builders import sample_devices

ALIASES = [
    '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}',
    '{"name": "pf", "vendor_id": "8086", "product_id": "1572", "device_type": "type-PF"}',
    '{"name": "t4", "vendor_id": "10de", "product_id": "1eb8"}',
]
CELL0_VFS = ["0000:19:02.0", "0000:19:02.1", "0000:19:02.2", "0000:19:02.3"]
CELL1_VFS = ["0000:b0:02.0", "0000:b0:02.1", "0000:b0:02.2", "0000:b0:02.3"]


def _tracker(devices="sample"):
    conf = make_conf(**{"pci.alias": ALIASES})
    devs = sample_devices() if devices == "sample" else devices
    return ResourceTracker(LibvirtDriver(), sample_host(), conf=conf, pci_devices=devs)


def _instance(uuid, numa=True, **specs):
    extra = {"hw:cpu_policy": "dedicated"} if numa else {}
    flavor = Flavor(vcpus=2, memory_mb=1024, extra_specs={**extra, **specs})
    return Instance(uuid=uuid, flavor=flavor)


def _used(tracker):
    return sorted(str(a) for a in tracker.pci_stats.used)


def _claim(tracker, instance):
    with tracker.instance_claim(instance) as claim:
        return claim


def test_claim_marks_devices_used_and_drop_frees_them():
    tracker = _tracker()
    first = _instance("a", **{"pci_passthrough:alias": "vf:2"})
    claim = _claim(tracker, first)
    assert [d.address for d in first.numa_topology.pci_devices] == CELL0_VFS[:2]
    assert [d.address for d in claim.pci_devices] == CELL0_VFS[:2]
    assert _used(tracker) == CELL0_VFS[:2]
    # Spread: the next guest goes to the emptier cell 1, and gets two of its VFs.
    second = _instance("b", **{"pci_passthrough:alias": "vf:2"})
    _claim(tracker, second)
    assert [c.id for c in second.numa_topology.cells] == [1]
    assert [d.address for d in second.numa_topology.pci_devices] == CELL1_VFS[:2]
    # Two VFs free per cell: three on one guest cell fit nowhere until a guest leaves.
    third = _instance("c", **{"pci_passthrough:alias": "vf:3"})
    with pytest.raises(exception.ComputeResourcesUnavailable, match="alias vf: 3 devices"):
        _claim(tracker, third)
    tracker.drop("a")
    assert _used(tracker) == CELL1_VFS[:2]
    _claim(tracker, third)
    assert [c.id for c in third.numa_topology.cells] == [0]
    assert [d.address for d in third.numa_topology.pci_devices] == CELL0_VFS[:3]
    tracker.drop(second)
    tracker.drop(third)
    assert _used(tracker) == []


def test_the_tracker_keeps_its_own_record_of_the_devices():
    tracker = _tracker()
    numa = _instance("a", **{"pci_passthrough:alias": "vf:1"})
    plain = _instance("b", numa=False, **{"pci_passthrough:alias": "t4:1"})
    _claim(tracker, numa)
    _claim(tracker, plain)
    numa.numa_topology.pci_devices[0].address = "0000:b0:02.3"
    plain.pci_devices[0].address = "0000:b0:02.2"
    tracker.drop(numa)
    tracker.drop(plain)
    assert _used(tracker) == []


def test_a_claim_without_enough_devices_changes_nothing():
    tracker = _tracker()
    _claim(tracker, _instance("a", **{"pci_passthrough:alias": "vf:4"}))
    before, usage = _used(tracker), tracker.usage
    greedy = _instance(
        "b", **{"pci_passthrough:alias": "vf:5", "hw:pci_numa_affinity_policy": "required"}
    )
    with pytest.raises(exception.ComputeResourcesUnavailable, match="alias vf: 5 devices"):
        _claim(tracker, greedy)
    assert _used(tracker) == before and tracker.usage == usage
    assert greedy.numa_topology is None


def test_a_failing_claim_block_releases_the_devices():
    tracker = _tracker()
    instance = _instance("a", **{"pci_passthrough:alias": "pf:1"})
    with pytest.raises(RuntimeError), tracker.instance_claim(instance):
        assert _used(tracker) == ["0000:18:00.0"]
        raise RuntimeError("guest build failed")
    assert _used(tracker) == [] and instance.numa_topology is None


def test_guest_without_numa_request_records_devices_on_the_instance():
    tracker = _tracker()
    plain = _instance("a", numa=False, **{"pci_passthrough:alias": "t4:1"})
    claim = _claim(tracker, plain)
    assert plain.numa_topology is None and claim.placement is None
    assert [(d.address, d.guest_cell) for d in plain.pci_devices] == [("0000:3b:00.0", None)]
    with pytest.raises(exception.ComputeResourcesUnavailable, match="alias t4: 1 device"):
        _claim(tracker, _instance("b", numa=False, **{"pci_passthrough:alias": "t4:1"}))
    tracker.drop(plain)
    assert _used(tracker) == []


def test_rebuild_recounts_devices_from_the_recorded_placements():
    tracker = _tracker()
    numa = _instance("a", **{"pci_passthrough:alias": "vf:2"})
    plain = _instance("b", numa=False, **{"pci_passthrough:alias": "t4:1"})
    _claim(tracker, numa)
    _claim(tracker, plain)
    expected = _used(tracker)
    fresh = _tracker()  # a restarted compute service
    fresh.update_available_resource([numa, plain])
    assert _used(fresh) == expected == [*CELL0_VFS[:2], "0000:3b:00.0"]
    fresh.drop(numa)
    assert _used(fresh) == ["0000:3b:00.0"]


def test_rebuild_with_a_device_held_twice_is_a_conflict_and_keeps_the_old_usage():
    tracker = _tracker()
    first = _instance("a", **{"pci_passthrough:alias": "vf:1"})
    _claim(tracker, first)
    twin = _instance("b", numa=False)
    twin.pci_devices = list(first.numa_topology.pci_devices)
    with pytest.raises(exception.InstanceUsageConflict, match="0000:19:02.0 is in use"):
        tracker.update_available_resource([first, twin])
    assert _used(tracker) == ["0000:19:02.0"]


def test_claiming_a_used_device_through_the_stats_snapshot_does_not_reach_the_tracker():
    tracker = _tracker()
    snapshot = tracker.pci_stats
    snapshot.claim([PciAddress.parse("0000:19:02.0")])
    assert _used(tracker) == []


def test_without_pci_devices_the_tracker_leaves_pci_requests_to_the_caller():
    tracker = ResourceTracker(LibvirtDriver(), sample_host(), conf=make_conf())
    instance = _instance("a", **{"pci_passthrough:alias": "undefined:1"})
    _claim(tracker, instance)
    assert tracker.pci_stats is None and list(instance.numa_topology.pci_devices) == []


def test_with_no_devices_a_pci_request_does_not_fit_and_bad_requests_are_typed():
    tracker = _tracker(devices=[])
    with pytest.raises(exception.ComputeResourcesUnavailable, match="alias vf"):
        _claim(tracker, _instance("a", **{"pci_passthrough:alias": "vf:1"}))
    with pytest.raises(exception.PciRequestAliasNotDefined, match="nic"):
        _claim(tracker, _instance("b", **{"pci_passthrough:alias": "nic:1"}))
    assert tracker.usage.instances == frozenset()


# --- state machine: random claims and drops keep devices and records in step ---------------

CATALOGUE = [
    (True, {"pci_passthrough:alias": "vf:1"}),
    (True, {"pci_passthrough:alias": "vf:3", "hw:pci_numa_affinity_policy": "required"}),
    (True, {"pci_passthrough:alias": "vf:2,t4:1", "hw:pci_numa_affinity_policy": "preferred"}),
    (True, {"pci_passthrough:alias": "pf:1", "hw:pci_numa_affinity_policy": "socket"}),
    (True, {"pci_passthrough:alias": "vf:2", "hw:numa_nodes": "2"}),
    (True, {}),
    (False, {"pci_passthrough:alias": "vf:2"}),
]


class PciTrackerMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.tracker = _tracker()
        self.alive: dict[str, Instance] = {}
        self.serial = 0

    @rule(choice=st.integers(0, len(CATALOGUE) - 1))
    def claim(self, choice):
        numa, specs = CATALOGUE[choice]
        self.serial += 1
        instance = _instance(f"vm-{self.serial}", numa=numa, **specs)
        before = _used(self.tracker)
        try:
            _claim(self.tracker, instance)
        except exception.ComputeResourcesUnavailable:
            assert _used(self.tracker) == before
            return
        self.alive[instance.uuid] = instance

    @precondition(lambda self: self.alive)
    @rule(data=st.data())
    def drop(self, data):
        uuid = data.draw(st.sampled_from(sorted(self.alive)))
        self.tracker.drop(self.alive.pop(uuid))

    @invariant()
    def devices_match_the_records(self):
        held = []
        for instance in self.alive.values():
            records = instance.numa_topology.pci_devices if instance.numa_topology else []
            held += [d.address for d in [*records, *instance.pci_devices]]
        assert len(held) == len(set(held)) and sorted(held) == _used(self.tracker)
        stats = self.tracker.pci_stats
        for device in stats.devices:  # never a PF together with one of its VFs
            if device.address in stats.used:
                assert not stats.used & set(device.virt_functions)
        fresh = _tracker()
        fresh.update_available_resource(self.alive.values())
        assert _used(fresh) == _used(self.tracker)


PciTrackerMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=12, deadline=None
)
test_pci_tracker_state_machine = PciTrackerMachine.TestCase
