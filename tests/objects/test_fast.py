"""objects.fast.new_object: the same object as the constructor gives, without coercion."""

import pytest

from os_numa import exception, objects
from os_numa.objects.fast import (
    FieldReader,
    clone,
    copy_fields,
    derive,
    new_object,
    read_fields,
)
from os_numa.objects.numa import pinned_after, siblings_of
from tests import fixtures_topology as ft

CELL = {
    "id": 1,
    "cpuset": {0, 1},
    "pcpuset": {2, 3, 4, 5},
    "memory": 2048,
    "pinned_cpus": {2},
    "siblings": [{2, 4}, {3, 5}],
    "mempages": [objects.NUMAPagesTopology(size_kb=4, total=512 * 256, used=3)],
    "socket": 0,
}


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (objects.NUMACell, CELL),
        (objects.NUMAPagesTopology, {"size_kb": 2048, "total": 8, "used": 1}),
        (objects.InstanceNUMATopology, {"cells": []}),
    ],
    ids=["NUMACell", "NUMAPagesTopology", "InstanceNUMATopology"],
)
def test_equals_the_constructor_field_for_field(cls, values):
    fast, slow = new_object(cls, dict(values)), cls(**values)
    assert fast.obj_to_primitive() == slow.obj_to_primitive()
    assert fast.obj_what_changed() == slow.obj_what_changed()


def test_unknown_names_are_refused():
    with pytest.raises(KeyError):
        new_object(objects.NUMAPagesTopology, {"size_kb": 4, "total": 1, "colour": "red"})


def test_copy_fields_copies_the_set_fields_outside_skip():
    request = objects.InstanceNUMATopology(
        cells=[], realtime_vcpus={1}, emulator_threads_policy="isolate"
    )
    del request.iothreads  # unset: not copied, the new object gets the default
    values = copy_fields(request, frozenset(("cells", "emulator_pool_cpu")))
    assert "cells" not in values and "iothreads" not in values
    assert values["realtime_vcpus"] == {1} and values["emulator_threads_policy"] == "isolate"
    values["realtime_vcpus"].add(2)  # containers are copies
    values["pci_devices"].append(None)
    assert request.realtime_vcpus == {1} and request.pci_devices == []
    rebuilt = new_object(objects.InstanceNUMATopology, dict(values, cells=[]))
    assert rebuilt.emulator_threads_policy == "isolate" and rebuilt.iothreads is None


def _request(**extra):
    cell = objects.InstanceNUMACell(
        id=0, cpuset=set(), pcpuset={0, 1}, memory=1024, cpu_policy="dedicated"
    )
    return objects.InstanceNUMATopology(
        cells=[cell], realtime_vcpus={1}, emulator_threads_policy="isolate", **extra
    )


@pytest.mark.parametrize("unset", [None, "iothreads", "realtime_vcpus"])
def test_derive_equals_new_object_of_the_copied_fields(unset):
    request = _request(emulator_pool_cpu=3)
    if unset:
        delattr(request, unset)  # an incomplete object takes the field-by-field way
    changes = {"cells": [], "emulator_pool_cpu": None}
    derived = derive(request, changes)
    expected = new_object(
        objects.InstanceNUMATopology, copy_fields(request, frozenset(changes)) | changes
    )
    assert derived.obj_to_primitive() == expected.obj_to_primitive()
    assert derived.obj_what_changed() == expected.obj_what_changed()
    assert derived._context is None and type(derived) is objects.InstanceNUMATopology


def test_derive_copies_containers_and_leaves_its_input_alone():
    request = _request()
    derived = derive(request, {"emulator_threads_count": 2})
    derived.realtime_vcpus.add(5)
    derived.cells.append(None)
    derived.pci_devices.append(None)
    assert request.realtime_vcpus == {1} and len(request.cells) == 1
    assert request.pci_devices == [] and request.emulator_threads_count is None
    assert derived.cells[0] is request.cells[0]  # one level deep, as copy_fields


def test_derive_refuses_unknown_names():
    with pytest.raises(KeyError):
        derive(_request(), {"colour": "red"})


def test_defaults_are_fresh_containers():
    first = new_object(objects.NUMACell, {"id": 0, "cpuset": set(), "pcpuset": set(), "memory": 1})
    second = new_object(objects.NUMACell, {"id": 1, "cpuset": set(), "pcpuset": set(), "memory": 1})
    first.pinned_cpus.add(7)
    assert second.pinned_cpus == set()
    assert objects.NUMACell.fields["pinned_cpus"].default == set()


def test_pinned_after_claims_and_releases_without_touching_its_inputs():
    pinned = {1}
    assert pinned_after({0, 1, 2}, pinned, {0, 2}, claim=True) == {0, 1, 2}
    assert pinned_after({0, 1, 2}, {0, 1}, {0}, claim=False) == {1}
    assert pinned == {1}


@pytest.mark.parametrize(
    ("pinned", "cpus", "claim", "error"),
    [
        (set(), {9}, True, exception.CPUPinningUnknown),
        (set(), {9}, False, exception.CPUUnpinningUnknown),
        ({1}, {1, 2}, True, exception.CPUPinningInvalid),
        ({1}, {1, 2}, False, exception.CPUUnpinningInvalid),
    ],
)
def test_pinned_after_errors(pinned, cpus, claim, error):
    with pytest.raises(error):
        pinned_after({0, 1, 2}, pinned, cpus, claim=claim)


def test_siblings_of_adds_only_pinnable_threads():
    assert siblings_of([{0, 4}, {1, 5}], {0, 1, 5}, {0, 1}) == {0, 1, 5}


def _placements():
    """Placements as the fit builds them, with and without optional parts."""
    from os_numa.fit import numa_fit_instance_to_host as fit
    from tests import fixtures_topology as ft

    isolate = fit(ft.a1_host(), ft.guest([2, 2], emulator="isolate"))
    shared = fit(ft.host(2, 4), ft.guest([1], policy=ft.SHARED))
    with_device = objects.InstanceNUMATopology(
        cells=[objects.InstanceNUMACell(id=0, cpuset=set(), pcpuset={0}, memory=512)],
        pci_devices=[objects.InstancePCIDevice(address="0000:81:00.1", alias="nic")],
    )
    assert isolate is not None and shared is not None
    return [isolate, shared, with_device, objects.InstanceNUMATopology(cells=[])]


@pytest.mark.parametrize("placement", _placements(), ids=["isolate", "shared", "pci", "empty"])
def test_clone_equals_obj_clone(placement):
    fast_copy, slow_copy = clone(placement), placement.obj_clone()
    assert fast_copy.obj_to_primitive() == slow_copy.obj_to_primitive()
    assert fast_copy.obj_what_changed() == slow_copy.obj_what_changed()
    for mine, theirs in zip(fast_copy.cells, slow_copy.cells, strict=True):
        assert mine.obj_what_changed() == theirs.obj_what_changed()


def test_clone_shares_nothing_mutable():
    placement = _placements()[0]
    before = placement.obj_to_primitive()
    copy = clone(placement)
    copy.cells[0].pcpuset.add(99)
    copy.cells[0].cpu_pinning_raw["0"] = 99
    copy.cells.append(copy.cells[0])
    assert placement.obj_to_primitive() == before


def test_read_fields_agrees_with_attribute_access():
    cell = ft.a3_host().cells[0]
    names = ("id", "cpuset", "pcpuset", "pinned_cpus", "memory", "siblings", "socket")
    assert read_fields(cell, *names) == tuple(getattr(cell, name) for name in names)


def test_read_fields_returns_a_tuple_for_one_name_and_for_none():
    cell = ft.a3_host().cells[0]
    assert read_fields(cell, "siblings") == (cell.siblings,)
    assert read_fields(cell) == ()


def test_unset_fields_read_as_their_default():
    topology = objects.InstanceNUMATopology(cells=[])
    del topology.emulator_threads_count  # leave it unset
    assert not topology.obj_attr_is_set("emulator_threads_count")
    assert read_fields(topology, "emulator_threads_count") == (None,)


def test_field_reader_read_is_the_reader_as_a_function():
    cell = ft.a3_host().cells[0]
    names = ("id", "pcpuset", "siblings")
    reader = FieldReader(*names)
    assert reader.read(cell) == reader(cell) == tuple(getattr(cell, n) for n in names)
    assert FieldReader("id").read(cell) == (cell.id,)
    assert FieldReader().read(cell) == ()
    topology = objects.InstanceNUMATopology(cells=[])
    del topology.emulator_threads_count  # unset: the default, through the property
    assert FieldReader("cells", "emulator_threads_count").read(topology) == ([], None)
