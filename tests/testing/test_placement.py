"""os_numa.testing.placement: the interpreter lookup, a failed start, and reset()."""

import gc
import subprocess
import warnings

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


def stand_in(tmp_path, body):
    """An executable standing in for the Placement server's Python: a shell script."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def leaked_resources():
    """The ResourceWarnings the garbage collector raises now (unclosed pipes or files,
    children never waited for)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize(
    "server",
    [
        "echo listening http://127.0.0.1:9; cat >/dev/null",  # ends when its input closes
        "echo listening http://127.0.0.1:9",  # gone before stop()
        "echo listening http://127.0.0.1:9; trap '' TERM; exec sleep 600 </dev/null",
    ],
    ids=["stdin-closed", "exited", "needs-a-kill"],
)
def test_stop_closes_the_pipes_and_reaps_the_server_whatever_its_state(
    tmp_path, monkeypatch, server
):
    monkeypatch.setattr(subprocess.Popen, "wait", _short_wait(subprocess.Popen.wait))
    service = placement.PlacementService.start(python=stand_in(tmp_path, server), timeout=20)
    process = service.process
    assert service.url == "http://127.0.0.1:9"
    state = service.state_dir
    service.stop()
    assert process.returncode is not None
    assert process.stdin.closed and process.stdout.closed
    assert not state.exists()  # its own temporary folder is removed
    del service, process
    assert leaked_resources() == []


def _short_wait(wait):
    """Popen.wait with its timeouts cut to 1 s (stop() waits 10 s before each signal)."""

    def short(self, timeout=None):
        return wait(self, timeout=None if timeout is None else min(timeout, 1))

    return short


def test_failed_starts_leave_nothing_open(tmp_path):
    with pytest.raises(exception.PlacementError, match="cannot run"):
        placement.PlacementService.start(python=str(tmp_path / "missing"), timeout=20)
    with pytest.raises(exception.PlacementError, match="no answer: 'not ready"):
        placement.PlacementService.start(python=stand_in(tmp_path, "echo not ready"), timeout=20)
    assert leaked_resources() == []
