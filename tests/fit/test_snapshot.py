"""Snapshots read versioned objects' fields directly; they must agree with the properties."""

import pytest

from os_numa import objects
from os_numa.fit.snapshot import FieldReader, emulator_request, host_cells, read_fields
from tests import fixtures_topology as ft


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


def test_missing_fields_raise_unless_optional():
    class Old:
        emulator_threads_policy = "isolate"

    with pytest.raises(AttributeError):
        FieldReader("emulator_threads_count")(Old())
    assert FieldReader("emulator_threads_count", optional=True)(Old()) == (None,)
    assert emulator_request(Old()).policy == "isolate"


def test_host_cell_snapshot():
    host = ft.host(1, 2, 2, pinned={1})
    (cell,) = host_cells(host)
    assert (cell.id, cell.free, cell.cores, cell.threads) == (0, {0, 2, 3}, ((0, 1), (2, 3)), 2)
    assert cell.free_parts == (((0,), False), ((2, 3), True))
    assert cell.whole_cores == ((2, 3),)
    assert [p.size_kb for p in cell.pages] == [4]
