"""Snapshots read versioned objects' fields directly; they must agree with the properties."""

import pytest

from os_numa.fit.snapshot import emulator_request, host_cells
from os_numa.objects.fast import FieldReader
from tests import fixtures_topology as ft


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
