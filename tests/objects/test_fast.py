"""objects.fast.new_object: the same object as the constructor gives, without coercion."""

import pytest

from os_numa import exception, objects
from os_numa.objects.fast import new_object
from os_numa.objects.numa import pinned_after, siblings_of

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
