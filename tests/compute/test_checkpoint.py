"""The tracker's checkpoint: round trip, refusals with a named reason, kill -9 while writing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from os_numa import exception
from os_numa.compute import Instance, ResourceTracker, checkpoint
from os_numa.objects import Flavor
from tests import fixtures_topology as ft

ROOT = Path(__file__).resolve().parents[2]

FLAVORS = {
    "dedicated": {"hw:cpu_policy": "dedicated"},
    "isolate-threads": {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"},
    "isolate-emulator": {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
    "two-cells": {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2"},
    "floating": {"hw:numa_nodes": "1"},
    "hugepages": {"hw:mem_page_size": "2MB"},
}


def host():
    return ft.host(2, 4, 2, memory=8192, huge_2m=512)


def vm(uuid, kind, vcpus=2):
    return Instance(uuid=uuid, flavor=Flavor(vcpus=vcpus, memory_mb=512, extra_specs=FLAVORS[kind]))


@pytest.fixture
def saved(tmp_path, driver):
    """A tracker that checkpoints to tmp_path/state.json, holding one guest of each kind."""
    path = tmp_path / "state.json"
    tracker = ResourceTracker(driver, host(), checkpoint_path=path)
    for kind in FLAVORS:
        with tracker.instance_claim(vm(kind, kind)):
            pass
    return tracker, path


def test_a_restart_from_the_checkpoint_restores_every_claim_exactly(saved, driver):
    tracker, path = saved
    restarted = ResourceTracker(driver, host(), checkpoint_path=path)
    assert restarted.load_checkpoint() == tracker.usage
    assert restarted.host_topology == tracker.host_topology
    # Thread policy isolate keeps the siblings: the XML alone could not say that.
    threads = checkpoint.load(path).claims
    isolated = next(c for c in threads if c.instance_uuid == "isolate-threads")
    assert isolated.placement.cells[0].cpu_thread_policy == "isolate"
    # The restored tracker goes on: a drop frees exactly what the claim held.
    restarted.drop("isolate-threads")
    tracker.drop("isolate-threads")
    assert restarted.usage == tracker.usage


def test_every_change_is_saved_and_a_failed_claim_is_not(saved, driver):
    tracker, path = saved
    tracker.drop("floating")
    with pytest.raises(RuntimeError):
        with tracker.instance_claim(vm("doomed", "dedicated")):
            assert "doomed" in {c.instance_uuid for c in checkpoint.load(path).claims}
            raise RuntimeError("spawn failed")
    uuids = {c.instance_uuid for c in checkpoint.load(path).claims}
    assert uuids == set(FLAVORS) - {"floating"}
    tracker.update_available_resource([])
    assert checkpoint.load(path).claims == ()


def test_the_file_is_canonical_private_and_fingerprinted(saved):
    _, path = saved
    doc = json.loads(path.read_bytes())
    assert doc["format"] == checkpoint.FORMAT and doc["version"] == checkpoint.VERSION
    assert doc["host"]["fingerprint"] == checkpoint.fingerprint(host())
    assert doc["checksum"].startswith("sha256:")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "state.json"]


def _problem(path, **kwargs):
    with pytest.raises(exception.CheckpointInvalid) as raised:
        checkpoint.load(path, **kwargs)
    assert str(path) in str(raised.value)
    return raised.value.kwargs["problem"], str(raised.value)


@pytest.mark.parametrize("keep", [0, 1, 17, 0.5, -1])
def test_a_truncated_checkpoint_is_refused(saved, keep):
    _, path = saved
    data = path.read_bytes()
    cut = keep if isinstance(keep, int) and keep >= 0 else len(data) - 1
    if isinstance(keep, float):
        cut = int(len(data) * keep)
    path.write_bytes(data[:cut])
    problem, _ = _problem(path)
    assert problem == "truncated"


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff garbage", b"[1, 2, 3]", b'{"format": 1} trailing', b"[" * 100_000],
    ids=["binary", "a list", "trailing text", "deeply nested"],
)
def test_a_corrupt_checkpoint_is_refused(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    problem, _ = _problem(path)
    assert problem in ("corrupt", "truncated")
    assert problem == "corrupt" or content.startswith(b"[[")


def test_a_tampered_checkpoint_is_refused(saved):
    _, path = saved
    doc = json.loads(path.read_bytes())
    cell = doc["claims"][0]["placement"]["os_numa_object.data"]["cells"][0]
    pins = cell["os_numa_object.data"]["cpu_pinning_raw"]
    first = sorted(pins)[0]
    pins[first] = pins[first] + 1  # a pin moved by hand, checksum kept
    path.write_text(json.dumps(doc))
    problem, message = _problem(path)
    assert problem == "tampered" and "checksum" in message


def test_another_version_is_refused(saved):
    _, path = saved
    doc = json.loads(path.read_bytes())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    assert _problem(path)[0] == "unsupported"


def test_a_checkpoint_of_another_host_topology_is_stale(saved, driver):
    _, path = saved
    other = ft.host(2, 4, 2, memory=8192, huge_2m=512, dedicated=range(2, 16), shared={0, 1})
    with pytest.raises(exception.CheckpointMismatch) as raised:
        ResourceTracker(driver, other, checkpoint_path=path).load_checkpoint()
    message = str(raised.value)
    assert "stale" in message
    assert "host cell 0 pcpuset was '0-7', is '2-7'" in message
    assert "host cell 0 cpuset was '0-7', is '0-1'" in message


def test_size_is_bounded_before_reading(saved, tmp_path):
    _, path = saved
    assert _problem(path, max_bytes=100)[0] == "too large"
    assert _problem(tmp_path)[0] == "corrupt"  # a directory
    assert _problem(tmp_path / "missing.json")[0] == "unreadable"
    with pytest.raises(exception.CheckpointInvalid):
        checkpoint.load("/dev/zero")


def test_a_checkpoint_write_failure_leaves_the_claim_out(tmp_path, driver):
    path = tmp_path / "gone" / "state.json"
    tracker = ResourceTracker(driver, host(), checkpoint_path=path)
    guest = vm("a", "dedicated")
    with pytest.raises(OSError):
        with tracker.instance_claim(guest):
            pass
    assert tracker.usage.instances == frozenset()
    assert guest.numa_topology is None


def test_load_without_a_path_is_a_typed_error(driver):
    with pytest.raises(exception.InvalidConfiguration):
        ResourceTracker(driver, host()).load_checkpoint()


CHILD = textwrap.dedent(
    """
    import sys
    from os_numa.compute import Instance, ResourceTracker
    from os_numa.objects import Flavor
    from os_numa.virt.libvirt.driver import LibvirtDriver
    from tests import fixtures_topology as ft

    tracker = ResourceTracker(LibvirtDriver(), ft.host(2, 4, 2), checkpoint_path=sys.argv[1])
    specs = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"}
    i = 0
    while True:
        with tracker.instance_claim(
            Instance(uuid=f"vm-{i:06d}", flavor=Flavor(vcpus=1, memory_mb=64, extra_specs=specs))
        ):
            pass
        if i >= 3:
            tracker.drop(f"vm-{i - 3:06d}")
        if i == 8:
            print("ready", flush=True)
        i += 1
    """
)


def test_kill_9_during_checkpoint_writes_never_loads_a_wrong_state(tmp_path, driver):
    """20 real processes, each killed with SIGKILL while it claims and drops in a loop
    (every claim and drop rewrites the checkpoint): what is left always loads as one of
    the states the process went through, and restores."""
    rng = random.Random(10)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for attempt in range(20):
        path = tmp_path / f"state-{attempt}.json"
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as child:
            try:
                assert child.stdout.readline() == b"ready\n"
                time.sleep(rng.uniform(0, 0.05))
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait()
        saved = checkpoint.load(path)
        numbers = sorted(int(c.instance_uuid.split("-")[1]) for c in saved.claims)
        # After vm-3 every state holds 3 or 4 consecutive guests, the newest last.
        assert len(numbers) in (3, 4) and numbers == list(range(numbers[0], numbers[-1] + 1))
        restarted = ResourceTracker(driver, ft.host(2, 4, 2), checkpoint_path=path)
        usage = restarted.load_checkpoint()
        assert usage.instances == {c.instance_uuid for c in saved.claims}
        assert usage.overhead.vcpus == len(numbers)  # one isolated emulator pCPU each


def _resigned(doc):
    """``doc`` with a valid checksum: what someone who edits the file and knows the format
    writes (the checksum catches accidents, not intent)."""
    import hashlib

    body = {k: v for k, v in doc.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return {**body, "checksum": "sha256:" + hashlib.sha256(canonical).hexdigest()}


def test_a_resigned_contradictory_checkpoint_fails_the_fresh_claim_rules(saved, driver):
    """Defect 6's validator guards a checkpoint too: a second guest on the first's pCPU."""
    _, path = saved
    doc = json.loads(path.read_bytes())
    claims = {c["uuid"]: c for c in doc["claims"]}

    def pins(uuid):
        cell = claims[uuid]["placement"]["os_numa_object.data"]["cells"][0]
        return cell["os_numa_object.data"]["cpu_pinning_raw"]

    victim = pins("dedicated")
    intruder = pins("two-cells")
    first = sorted(intruder)[0]
    intruder[first] = victim[sorted(victim)[0]]
    path.write_text(json.dumps(_resigned(doc)))
    with pytest.raises(exception.InstanceUsageConflict) as raised:
        ResourceTracker(driver, host(), checkpoint_path=path).load_checkpoint()
    assert "two-cells" in str(raised.value) or "dedicated" in str(raised.value)


def test_move_claims_are_saved_and_restored_as_claims(tmp_path, driver):
    """A guest moving to this host holds its new placement here: a restart mid-move
    keeps those pCPUs; confirm and revert rewrite the checkpoint."""
    source = ResourceTracker(driver, host())
    path = tmp_path / "dest.json"
    dest = ResourceTracker(driver, host(), checkpoint_path=path)
    guest = vm("mover", "dedicated")
    with source.instance_claim(guest):
        pass
    dest.move_claim(guest)
    saved = checkpoint.load(path)
    assert [c.instance_uuid for c in saved.moves] == ["mover"] and saved.claims == ()
    restarted = ResourceTracker(driver, host(), checkpoint_path=path)
    assert restarted.load_checkpoint().instances == {"mover"}
    assert restarted.usage.cell(0).pinned_cpus | restarted.usage.cell(1).pinned_cpus == (
        dest.usage.cell(0).pinned_cpus | dest.usage.cell(1).pinned_cpus
    )
    dest.confirm(guest, source)
    saved = checkpoint.load(path)
    assert [c.instance_uuid for c in saved.claims] == ["mover"] and saved.moves == ()

    back = vm("back", "dedicated")
    with source.instance_claim(back):
        pass
    dest.move_claim(back)
    assert [c.instance_uuid for c in checkpoint.load(path).moves] == ["back"]
    dest.revert(back)
    assert checkpoint.load(path).moves == ()
