"""ResourceTracker as a state machine: random claims, failed claims and drops.

After every step the usage must equal a from-scratch rebuild from the surviving
instances, the overhead vCPUs must equal the emulator pCPUs of the guests whose
emulator threads are isolated, and the emulator pool's load must count exactly
the pool guests.
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
POOL = {"hw:emulator_threads_policy": "pool"}
CATALOGUE = [
    (2, DED | ISO),
    (1, DED),
    (1, DED | ISO | {"hw:cpu_thread_policy": "isolate"}),
    (2, DED | {"hw:cpu_thread_policy": "require"}),
    (4, DED | ISO | {"hw:numa_nodes": "2"}),
    (3, ISO | {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"}),
    (1, {"hw:numa_nodes": "1"}),
    (2, {}),
    (2, DED | {"hw:mem_page_size": "2MB"}),
    (1, DED | POOL),
    (2, DED | ISO | {"hw:emulator_threads_count": "2"}),
]


def make_host(memory: int = 2048):
    """2 cells x 3 cores x 2 threads, small so that it fills up; 2 GiB per cell (or
    ``memory`` MiB), 512 MiB in 2 MiB pages. Per cell, core 0 gives one thread to the
    emulator pool (2 guests per pCPU) and one to floating vCPUs; the other cores are
    pinnable."""
    return ft.host(
        2,
        3,
        2,
        memory=memory,
        huge_2m=256,
        shared={1, 7},
        dedicated={2, 3, 4, 5, 8, 9, 10, 11},
        pool={0, 6},
        pool_overcommit=2,
    )


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
        topology = vm.numa_topology
        event(f"claim fitted, emulator {topology.emulator_threads_policy if topology else None}")
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
    def overhead_is_one_vcpu_per_isolated_emulator_pcpu(self):
        isolated = sum(
            vm.numa_topology.emulator_threads_count or 1
            for vm in self.alive.values()
            if vm.numa_topology is not None and vm.numa_topology.emulator_threads_isolated
        )
        usage = self.tracker.usage
        assert usage.overhead.vcpus == isolated
        assert sum(len(c.emulator_cpus) for c in usage.cells) == isolated

    @invariant()
    def pool_load_counts_pool_guests(self):
        pooled = sorted(
            vm.numa_topology.emulator_pool_cpu
            for vm in self.alive.values()
            if vm.numa_topology is not None and vm.numa_topology.emulator_threads_policy == "pool"
        )
        load = sorted(
            cpu
            for cell in self.tracker.usage.cells
            for cpu, n in cell.emulator_pool
            for _ in range(n)
        )
        assert load == pooled

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
