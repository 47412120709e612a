"""ResourceTracker as a state machine: random claims, failed claims and drops.

After every step the usage must equal a from-scratch rebuild from the surviving
instances, and the overhead vCPUs must equal the number of guests whose
emulator threads are isolated.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import event, settings, target
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from os_numa.virt.libvirt.driver import LibvirtDriver
from tests import fixtures_topology as ft

ISO = {"hw:emulator_threads_policy": "isolate"}
DED = {"hw:cpu_policy": "dedicated"}
CATALOGUE = [
    (2, DED | ISO),
    (1, DED),
    (1, DED | ISO | {"hw:cpu_thread_policy": "isolate"}),
    (2, DED | {"hw:cpu_thread_policy": "require"}),
    (4, DED | ISO | {"hw:numa_nodes": "2"}),
    (3, ISO | {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"}),
    (2, {"hw:numa_nodes": "1"}),
    (2, {}),
    (2, DED | {"hw:mem_page_size": "2MB"}),
]


def make_host():
    """2 cells x 3 cores x 2 threads (small, so it fills up), 2 GiB each, 512 MiB in 2 MiB pages."""
    return ft.host(2, 3, 2, memory=2048, huge_2m=256)


class TrackerMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.driver = LibvirtDriver()
        self.tracker = ResourceTracker(self.driver, make_host())
        self.alive: dict[str, Instance] = {}
        self.serial = 0
        self.peak = 0

    def teardown(self):
        # Steer generation towards full hosts, where claims compete for the last pCPUs.
        target(float(getattr(self, "peak", 0)), label="most instances alive at once")

    def _new_instance(self, index):
        vcpus, specs = CATALOGUE[index]
        self.serial += 1
        flavor = Flavor(vcpus=vcpus, memory_mb=512, extra_specs=specs)
        return Instance(uuid=f"vm-{self.serial}", flavor=flavor)

    @rule(index=st.integers(min_value=0, max_value=len(CATALOGUE) - 1))
    def claim(self, index):
        vm = self._new_instance(index)
        before = self.tracker.usage
        try:
            with self.tracker.instance_claim(vm):
                pass
        except exception.ComputeResourcesUnavailable:
            assert self.tracker.usage == before
            assert vm.numa_topology is None
            event("claim: no room")
            return
        event("claim: fitted")
        self.alive[vm.uuid] = vm
        self.peak = max(self.peak, len(self.alive))

    @rule(index=st.integers(min_value=0, max_value=len(CATALOGUE) - 1))
    def claim_then_fail(self, index):
        vm = self._new_instance(index)
        before = self.tracker.usage
        try:
            with self.tracker.instance_claim(vm):
                raise KeyError("spawn failed")
        except (KeyError, exception.ComputeResourcesUnavailable):
            pass
        assert self.tracker.usage == before
        assert vm.numa_topology is None

    @precondition(lambda self: self.alive)
    @rule(data=st.data())
    def drop(self, data):
        uuid = data.draw(st.sampled_from(sorted(self.alive)))
        self.tracker.drop(self.alive.pop(uuid))

    @rule()
    def drop_unclaimed(self):
        before = self.tracker.usage
        try:
            self.tracker.drop("never-claimed")
        except exception.InstanceNotClaimed:
            pass
        else:
            raise AssertionError("dropping an unclaimed instance must fail")
        assert self.tracker.usage == before

    @invariant()
    def usage_equals_a_rebuild_from_the_survivors(self):
        usage = self.tracker.usage
        rebuilt = ResourceTracker(self.driver, make_host())
        assert rebuilt.update_available_resource(list(self.alive.values())) == usage
        assert usage.instances == set(self.alive)

    @invariant()
    def overhead_is_one_vcpu_per_isolated_guest(self):
        isolated = sum(
            1
            for vm in self.alive.values()
            if vm.numa_topology is not None and vm.numa_topology.emulator_threads_isolated
        )
        assert self.tracker.usage.overhead.vcpus == isolated

    @invariant()
    def no_pcpu_is_held_twice(self):
        seen: set[int] = set()
        for vm in self.alive.values():
            if vm.numa_topology is None:
                continue
            held = vm.numa_topology.cpu_pinning | vm.numa_topology.cpuset_reserved
            assert not held & seen
            seen |= held


TrackerMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=20, deadline=None)
test_tracker_state_machine = TrackerMachine.TestCase
