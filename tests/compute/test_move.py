"""Move claims: live migration, resize (also to the same host), revert, confirm, evacuation."""

from __future__ import annotations

import threading

import pytest

from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.compute.move import shape_request
from os_numa.conf import make_conf
from os_numa.objects import Flavor, MigrationContext
from os_numa.virt.libvirt.driver import LibvirtDriver
from tests import fixtures_topology as ft
from tests.pci.builders import sample_devices

DED = {"hw:cpu_policy": "dedicated"}
ISO = {"hw:emulator_threads_policy": "isolate"}


def _tracker(host=None, **kwargs):
    return ResourceTracker(LibvirtDriver(), host if host is not None else ft.a1_host(), **kwargs)


def _vm(uuid="vm", vcpus=2, memory_mb=1024, **specs):
    return Instance(uuid=uuid, flavor=Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs))


def _boot(tracker, vm):
    with tracker.instance_claim(vm):
        pass
    return vm


def _rebuilt(tracker_host, instances, incoming=()):
    return _tracker(tracker_host).update_available_resource(instances, incoming=incoming)


def _primitive(obj):
    return None if obj is None else obj.obj_to_primitive()


def _pinned(usage):
    return {cell.id: set(cell.pinned_cpus) for cell in usage.cells}


def test_live_migration_holds_both_hosts_until_confirm():
    source, dest = _tracker(), _tracker()
    other = _boot(dest, _vm("other", 2, **DED))  # dest cell 0 has pCPUs 0-1 taken
    vm = _boot(source, _vm("vm", 3, **DED, **ISO))
    old = vm.numa_topology.obj_to_primitive()
    before_dest = dest.usage

    claim = dest.move_claim(vm)

    # The source still holds the old placement, the destination the new one.
    assert source.usage.instances == {"vm"} and dest.usage.incoming == {"vm"}
    assert vm.numa_topology.obj_to_primitive() == old, "nothing is overwritten before confirm"
    new = claim.placement
    assert [c.id for c in new.cells] == [1]  # cell 0 has 2 free pCPUs, the guest needs 3 + 1
    assert new.cells[0].cpu_pinning == {0: 4, 1: 5, 2: 6}
    assert new.cells[0].cpuset_reserved == {7}
    assert dest.usage.vcpus == before_dest.vcpus + 3 + 1  # the isolated emulator pCPU counts
    context = vm.migration_context
    assert isinstance(context, MigrationContext)
    assert _primitive(context.old_numa_topology) == old
    assert _primitive(context.new_numa_topology) == _primitive(new)

    dest.confirm(vm, source)

    assert source.usage.instances == set() and _pinned(source.usage) == {0: set(), 1: set()}
    assert dest.usage.instances == {"vm", "other"} and dest.usage.incoming == frozenset()
    assert _primitive(vm.numa_topology) == _primitive(new)
    assert vm.migration_context is None
    assert dest.usage == _rebuilt(ft.a1_host(), [other, vm])


def test_live_migration_keeps_the_guest_shape():
    """Guest cells, vCPU map, page size, emulator policy and count, realtime vCPUs."""
    specs = {
        **DED,
        **ISO,
        "hw:numa_nodes": "2",
        "hw:numa_cpus.0": "0",
        "hw:numa_cpus.1": "1-3",
        "hw:numa_mem.0": "512",
        "hw:numa_mem.1": "1536",
        "hw:mem_page_size": "large",
        "hw:cpu_realtime": "yes",
        "hw:cpu_realtime_mask": "^0",
        "hw:emulator_threads_count": "2",
    }
    host = ft.host(2, 6, dedicated=range(12), memory=4096, huge_2m=1024)
    source, dest = _tracker(host), _tracker(host.obj_clone())
    _boot(dest, _vm("filler", 3, **DED, **{"hw:numa_nodes": "1"}))  # dest cell 0: 3 free
    vm = _boot(source, _vm("vm", 4, 2048, **specs))
    old = vm.numa_topology

    new = dest.move_claim(vm).placement

    for before, after in zip(old.cells, new.cells, strict=True):
        assert (after.cpuset, after.pcpuset, after.memory, after.pagesize) == (
            before.cpuset,
            before.pcpuset,
            before.memory,
            before.pagesize,
        )
        assert after.pagesize == 2048
    assert new.emulator_threads_policy == "isolate" and new.emulator_threads_count == 2
    assert new.realtime_vcpus == old.realtime_vcpus == {1, 2, 3}
    # A new flavor would be fitted as the flavor says; the shape request is the old
    # placement with every host choice cleared.
    request = shape_request(old)
    assert [c.id for c in request.cells] == [0, 1]
    assert all(c.cpu_pinning is None and c.cpuset_reserved is None for c in request.cells)
    assert old.cells[0].cpu_pinning is not None, "shape_request copies, it does not mutate"


def test_revert_frees_the_destination_and_restores_the_old_placement_exactly():
    source, dest = _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED, **ISO))
    old = vm.numa_topology.obj_to_primitive()
    empty = dest.usage
    dest.move_claim(vm)
    vm.numa_topology = None  # a caller that applied the new placement early
    dest.revert(vm)
    assert dest.usage == empty
    assert vm.numa_topology.obj_to_primitive() == old
    assert vm.migration_context is None
    assert source.usage == _rebuilt(ft.a1_host(), [vm])


def test_resize_on_the_same_host_holds_both_placements_until_confirm():
    tracker = _tracker()
    vm = _boot(tracker, _vm("vm", 2, **DED))
    small = vm.flavor
    big = Flavor(vcpus=3, memory_mb=2048, extra_specs={**DED, **ISO})

    claim = tracker.move_claim(vm, new_flavor=big)

    # Old 2 pCPUs on cell 0 and new 3 + 1 pCPUs: the new one cannot share cell 0.
    assert [c.id for c in claim.placement.cells] == [1]
    usage = tracker.usage
    assert usage.vcpus == 2 + 3 + 1 and usage.memory_mb == 1024 + 2048
    assert vm.flavor is small and vm.new_flavor is big and vm.old_flavor is small

    tracker.confirm(vm, tracker)

    assert vm.flavor is big and vm.new_flavor is None and vm.old_flavor is None
    assert tracker.usage.vcpus == 4 and tracker.usage.memory_mb == 2048
    assert _pinned(tracker.usage) == {0: set(), 1: {4, 5, 6, 7}}
    assert tracker.usage == _rebuilt(ft.a1_host(), [vm])


def test_resize_revert_on_the_same_host_frees_only_the_new_placement():
    tracker = _tracker()
    vm = _boot(tracker, _vm("vm", 2, **DED))
    before = tracker.usage
    old = vm.numa_topology.obj_to_primitive()
    tracker.move_claim(vm, new_flavor=Flavor(vcpus=3, memory_mb=512, extra_specs=DED))
    tracker.revert(vm)
    assert tracker.usage == before
    assert vm.numa_topology.obj_to_primitive() == old and vm.new_flavor is None


def test_a_move_that_does_not_fit_says_why_per_host_cell_and_changes_nothing():
    source, dest = _tracker(), _tracker()
    _boot(dest, _vm("a", 3, **DED))
    _boot(dest, _vm("b", 3, **DED))
    vm = _boot(source, _vm("vm", 2, **DED, **ISO))
    before_source, before_dest = source.usage, dest.usage
    old = vm.numa_topology.obj_to_primitive()
    with pytest.raises(exception.ComputeResourcesUnavailable) as caught:
        dest.move_claim(vm)
    assert "host cells 0-1" in str(caught.value) or "host cell 0" in str(caught.value)
    assert "3 pCPUs needed" in str(caught.value)
    assert (source.usage, dest.usage) == (before_source, before_dest)
    assert vm.numa_topology.obj_to_primitive() == old and vm.migration_context is None


def test_a_failed_block_reverts_the_move_claim():
    source, dest = _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED))
    empty = dest.usage
    with pytest.raises(RuntimeError), dest.move_claim(vm):
        assert dest.usage.incoming == {"vm"}
        raise RuntimeError("spawn on the destination failed")
    assert dest.usage == empty and vm.migration_context is None
    assert source.usage.instances == {"vm"}


def test_a_guest_already_moving_cannot_move_again():
    source, dest, third = _tracker(), _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED))
    dest.move_claim(vm)
    before = third.usage
    with pytest.raises(exception.InstanceMoveInProgress):
        third.move_claim(vm)
    assert third.usage == before


def test_an_overhead_error_leaves_tracker_and_instance_untouched():
    class Broken(LibvirtDriver):
        def estimate_instance_overhead(self, instance_info):
            if getattr(instance_info, "numa_topology", None) is not None and self.fail:
                raise exception.Invalid(reason="boom")
            return super().estimate_instance_overhead(instance_info)

    driver = Broken()
    driver.fail = False
    source, dest = _tracker(), ResourceTracker(driver, ft.a1_host())
    vm = _boot(source, _vm("vm", 2, **DED))
    driver.fail = True
    with pytest.raises(exception.Invalid):
        dest.move_claim(vm)
    assert dest.usage.instances == frozenset() and vm.migration_context is None
    assert _pinned(dest.usage) == {0: set(), 1: set()}


def test_confirm_and_revert_refuse_unknown_moves_and_change_nothing():
    source, dest = _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED))
    with pytest.raises(exception.MoveClaimNotFound):
        dest.confirm(vm, source)
    with pytest.raises(exception.MoveClaimNotFound):
        dest.revert(vm)
    dest.move_claim(vm)
    stranger = _tracker()
    before = dest.usage
    with pytest.raises(exception.InstanceNotClaimed):
        dest.confirm(vm, stranger)  # the given source does not hold the guest
    assert dest.usage == before and vm.migration_context is not None
    assert source.usage.instances == {"vm"}


def test_evacuation_from_a_lost_host_confirms_without_a_source():
    source, dest = _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED, **ISO))
    dest.move_claim(vm)
    dest.confirm(vm, None)  # the source host is down: nothing to free there now
    assert dest.usage.instances == {"vm"} and dest.usage.incoming == frozenset()
    # When the failed host comes back, its rebuild no longer lists the guest.
    assert source.update_available_resource([]).instances == frozenset()


def test_rebuild_keeps_move_claims_or_takes_them_from_the_incoming_instances():
    source, dest = _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED, **ISO))
    resized = Flavor(vcpus=3, memory_mb=2048, extra_specs=DED)
    dest.move_claim(vm, new_flavor=resized)
    usage = dest.usage
    assert dest.update_available_resource([]) == usage  # None: the current move claims stay
    restarted = _tracker()
    assert restarted.update_available_resource([], incoming=[vm]) == usage
    assert restarted.moves == {"vm"}
    restarted.confirm(vm, source)
    assert vm.flavor is resized and restarted.usage.vcpus == 3
    with pytest.raises(exception.InstanceUsageConflict):
        _tracker().update_available_resource([], incoming=[_vm("never-moved", 1)])


def test_move_claims_with_pci_devices_take_devices_on_the_destination():
    aliases = [
        '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}'
    ]
    conf = make_conf(**{"pci.alias": aliases})

    def tracker():
        return ResourceTracker(
            LibvirtDriver(), ft.sample_host(), conf=conf, pci_devices=sample_devices()
        )

    source, dest = tracker(), tracker()
    vm = _vm("vm", 2, **DED, **{"pci_passthrough:alias": "vf:2"})
    _boot(dest, _vm("other", 2, **DED, **{"pci_passthrough:alias": "vf:2"}))
    _boot(source, vm)
    old_devices = [d.address for d in vm.numa_topology.pci_devices]
    claim = dest.move_claim(vm)
    new_devices = [d.address for d in claim.placement.pci_devices]
    assert len(new_devices) == 2 and not set(new_devices) & set(
        d.address for d in dest._claims["other"].pci_devices
    )
    assert [d.address for d in vm.migration_context.old_pci_devices] == old_devices
    assert [d.address for d in vm.migration_context.new_pci_devices] == new_devices
    dest.confirm(vm, source)
    assert sorted(str(a) for a in source.pci_stats.used) == []
    assert set(new_devices) <= {str(a) for a in dest.pci_stats.used}


VF_ALIAS = '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}'


def _pci_tracker():
    return ResourceTracker(
        LibvirtDriver(),
        ft.sample_host(),
        conf=make_conf(**{"pci.alias": [VF_ALIAS]}),
        pci_devices=sample_devices(),
    )


def _held_by_a_rebuild(instances, incoming=()):
    rebuilt = _pci_tracker()
    usage = rebuilt.update_available_resource(instances, incoming=incoming)
    return usage, rebuilt.pci_stats.used


def test_two_confirmed_same_host_resizes_leave_no_pci_device_behind():
    # The trace issue 14's state machine found: a guest resized on its host to a flavor
    # with a VF and no NUMA request (the device is recorded on the instance), confirmed,
    # then resized on the same host to a dedicated flavor without devices, confirmed.
    # The second confirm must take the VF off the instance, or a rebuild claims it again.
    host = _pci_tracker()
    vm = _boot(host, _vm("vm-1", 1, **DED))
    host.move_claim(
        vm, new_flavor=Flavor(vcpus=1, memory_mb=512, extra_specs={"pci_passthrough:alias": "vf:1"})
    )
    host.confirm(vm, host)
    assert vm.numa_topology is None and len(vm.pci_devices) == 1
    vf = vm.pci_devices[0].address
    assert {str(a) for a in host.pci_stats.used} == {vf}
    assert _held_by_a_rebuild([vm]) == (host.usage, host.pci_stats.used)
    host.move_claim(vm, new_flavor=Flavor(vcpus=1, memory_mb=512, extra_specs=DED))
    assert {str(a) for a in host.pci_stats.used} == {vf}  # the old claim holds it until confirm
    host.confirm(vm, host)
    assert vm.numa_topology is not None and vm.pci_devices == []
    assert host.pci_stats.used == frozenset()
    assert _held_by_a_rebuild([vm]) == (host.usage, frozenset())


def test_a_confirmed_resize_to_another_host_moves_the_devices_of_a_guest_without_numa():
    # The same on two hosts: the destination must not inherit the source's device
    # addresses (identical hosts have identical addresses) from the instance.
    source, dest = _pci_tracker(), _pci_tracker()
    vm = _boot(source, _vm("vm", 1, **{"pci_passthrough:alias": "vf:1"}))
    assert vm.numa_topology is None and len(vm.pci_devices) == 1
    dest.move_claim(vm, new_flavor=Flavor(vcpus=2, memory_mb=512, extra_specs=DED))
    dest.confirm(vm, source)
    assert vm.pci_devices == [] and source.pci_stats.used == frozenset()
    assert _held_by_a_rebuild([vm]) == (dest.usage, dest.pci_stats.used)
    # And back, to a flavor with a device and no NUMA request: it is on the instance.
    source.move_claim(
        vm, new_flavor=Flavor(vcpus=1, memory_mb=512, extra_specs={"pci_passthrough:alias": "vf:1"})
    )
    source.confirm(vm, dest)
    assert vm.numa_topology is None
    assert {d.address for d in vm.pci_devices} == {str(a) for a in source.pci_stats.used}
    assert len(vm.pci_devices) == 1 and dest.pci_stats.used == frozenset()
    assert _held_by_a_rebuild([vm]) == (source.usage, source.pci_stats.used)


def test_concurrent_move_claims_never_share_a_pcpu():
    dest = _tracker(ft.host(2, 8, dedicated=range(16)))
    sources = [_tracker(ft.host(2, 8, dedicated=range(16))) for _ in range(6)]
    vms = [_boot(s, _vm(f"vm-{i}", 3, **DED, **ISO)) for i, s in enumerate(sources)]
    results: list = []

    def move(vm):
        try:
            results.append(dest.move_claim(vm).placement)
        except exception.ComputeResourcesUnavailable:
            results.append(None)

    threads = [threading.Thread(target=move, args=(vm,)) for vm in vms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    placed = [p for p in results if p is not None]
    assert len(placed) == 4  # 16 pCPUs, 4 each (3 vCPUs + 1 emulator)
    held = [cpu for p in placed for cpu in p.cpu_pinning | p.cpuset_reserved]
    assert len(held) == len(set(held)) == 16
    moving = [vm for vm in vms if vm.migration_context is not None]
    assert dest.usage == _tracker(ft.host(2, 8, dedicated=range(16))).update_available_resource(
        [], incoming=moving
    )


def test_live_migration_keeps_the_page_size_nova_would_choose_again():
    """hw:mem_page_size=large: the guest runs on 2 MiB pages; a destination that also
    has 1 GiB pages would give a new boot those, but the moving guest keeps 2 MiB."""
    from os_numa import hardware
    from os_numa.objects import NUMAPagesTopology

    source_host = ft.host(2, 4, dedicated=range(8), memory=8192, huge_2m=1024)
    dest_host = ft.host(2, 4, dedicated=range(8), memory=8192, huge_2m=1024)
    for cell in dest_host.cells:
        small = cell.mempages[0]
        small.total -= 2 * 262144  # two 1 GiB pages carved out of the small pages
        cell.mempages = [*cell.mempages, NUMAPagesTopology(size_kb=1048576, total=2)]
    flavor_specs = {**DED, "hw:mem_page_size": "large"}
    source, dest = _tracker(source_host), _tracker(dest_host)
    vm = _boot(source, _vm("vm", 2, 1024, **flavor_specs))
    assert vm.numa_topology.cells[0].pagesize == 2048
    fresh = hardware.numa_fit_instance_to_host(
        dest_host, hardware.numa_get_constraints(vm.flavor, None)
    )
    assert fresh.cells[0].pagesize == 1048576, "a new boot (and Nova's move) takes 1 GiB"
    assert dest.move_claim(vm).placement.cells[0].pagesize == 2048


def _race_confirm_and_revert():
    source, dest = _tracker(), _tracker()
    vm = _boot(source, _vm("vm", 2, **DED, **ISO))
    dest.move_claim(vm)
    outcomes: list = []
    barrier = threading.Barrier(2)

    def run(action):
        barrier.wait()
        try:
            action()
            outcomes.append("done")
        except exception.MoveClaimNotFound:
            outcomes.append("not found")

    threads = [
        threading.Thread(target=run, args=(lambda: dest.confirm(vm, source),)),
        threading.Thread(target=run, args=(lambda: dest.revert(vm),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return source, dest, vm, outcomes


def test_racing_confirm_and_revert_settle_the_move_exactly_once():
    for _ in range(20):
        source, dest, vm, outcomes = _race_confirm_and_revert()
        assert sorted(outcomes) == ["done", "not found"]
        confirmed = dest.holds("vm")
        assert source.holds("vm") is not confirmed, "the guest is held on exactly one host"
        assert dest.moves == frozenset() and vm.migration_context is None
        assert dest.usage == _rebuilt(ft.a1_host(), [vm] if confirmed else [])
        assert source.usage == _rebuilt(ft.a1_host(), [] if confirmed else [vm])


class _RefusesContext(Instance):
    """An instance object whose migration_context cannot be set (a strict ORM object)."""

    def __setattr__(self, name, value):
        if name == "migration_context" and value is not None:
            raise TypeError("read-only field")
        super().__setattr__(name, value)


def test_an_instance_that_refuses_the_context_leaves_no_move_claim(tmp_path):
    source = _tracker()
    dest = ResourceTracker(LibvirtDriver(), ft.a1_host(), checkpoint_path=tmp_path / "dest.json")
    vm = _RefusesContext(uuid="vm", flavor=Flavor(vcpus=2, memory_mb=1024, extra_specs=DED))
    _boot(source, vm)
    _boot(dest, _vm("resident", 1, **DED))  # writes the destination's first checkpoint
    resized = Flavor(vcpus=3, memory_mb=1024, extra_specs=DED)
    before, saved = dest.usage, (tmp_path / "dest.json").read_text()
    with pytest.raises(TypeError):
        dest.move_claim(vm, new_flavor=resized)
    assert dest.usage == before and dest.moves == frozenset()
    assert (tmp_path / "dest.json").read_text() == saved, "the checkpoint has no move either"
    assert vm.new_flavor is None and vm.old_flavor is None and vm.migration_context is None


def test_a_checkpoint_that_cannot_be_written_leaves_tracker_and_instance_untouched(tmp_path):
    import shutil

    folder = tmp_path / "state"
    folder.mkdir()
    source = _tracker()
    dest = ResourceTracker(LibvirtDriver(), ft.a1_host(), checkpoint_path=folder / "dest.json")
    vm = _boot(source, _vm("vm", 2, **DED))
    _boot(dest, _vm("resident", 1, **DED))
    before = dest.usage
    shutil.rmtree(folder)
    with pytest.raises(OSError):
        dest.move_claim(vm, new_flavor=Flavor(vcpus=3, memory_mb=1024, extra_specs=DED))
    assert dest.usage == before and dest.moves == frozenset()
    assert vm.migration_context is None and vm.new_flavor is None
