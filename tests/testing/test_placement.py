"""os_numa.testing.placement: the interpreter lookup, a failed start, and reset()."""

import pytest

from os_numa import exception
from os_numa.placement import tree
from os_numa.placement.sync import sync_tree
from os_numa.testing import placement
from tests import fixtures_topology as ft


def test_openstack_python_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(placement.ENV, raising=False)
    assert placement.openstack_python() is None
    monkeypatch.setenv(placement.ENV, str(tmp_path / "missing"))
    with pytest.raises(exception.InvalidConfiguration, match="is not an executable file"):
        placement.openstack_python()
    monkeypatch.setenv(placement.ENV, "/bin/true")
    assert placement.openstack_python() == "/bin/true"


def test_start_needs_an_interpreter(monkeypatch):
    monkeypatch.delenv(placement.ENV, raising=False)
    with pytest.raises(exception.InvalidConfiguration, match=placement.ENV):
        placement.PlacementService.start()


def test_a_server_that_does_not_come_up_is_reported_with_its_log(tmp_path):
    with pytest.raises(exception.PlacementError, match="no answer"):
        placement.PlacementService.start(python="/bin/false", state_dir=tmp_path, timeout=20)


def test_reset_empties_providers_and_allocations(os_numa_placement_service):
    os_numa_placement_service.reset()
    client = os_numa_placement_service.client()
    host_tree = tree.host_tree("r", ft.host(1, 2), None)
    sync_tree(client, host_tree)
    client.put_allocations(
        "00000000-0000-4000-8000-0000000000aa",
        {host_tree.cells[0].uuid: {"PCPU": 1}},
        project_id="p",
        user_id="u",
    )
    os_numa_placement_service.reset()
    assert client.list_providers() == []
    assert client.get_allocations("00000000-0000-4000-8000-0000000000aa")["allocations"] == {}
    assert sync_tree(client, host_tree).created  # the same tree registers again
