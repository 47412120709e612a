"""The embedded-QEMU helper's pure parts and its lifecycle (no guest is booted here;
tests/functional/test_boot.py boots one)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from os_numa.testing import libvirtd

REAL_CAPS = Path(__file__).parents[1] / "data" / "capabilities" / "single-node-real.xml"


def test_qemu_conf_leaves_the_cpu_controller_out():
    text = libvirtd.qemu_conf_text()
    settings = dict(line.split(" = ", 1) for line in text.splitlines())

    assert settings["user"] == settings["group"] == '"root"'
    assert settings["stdio_handler"] == '"file"'
    assert settings["security_driver"] == '"none"'
    controllers = {
        c.strip().strip('"') for c in settings["cgroup_controllers"].strip("[] ").split(",")
    }
    assert "cpu" not in controllers
    assert {"cpuset", "memory"} <= controllers


def test_qemu_conf_extra_settings_replace_and_add():
    text = libvirtd.qemu_conf_text({"user": '"qemu"', "max_processes": "0"})
    assert 'user = "qemu"\n' in text
    assert "max_processes = 0\n" in text
    assert text.count("user = ") == 1


@pytest.mark.parametrize(
    ("pin_map", "cpus"),
    [((True, False), {0}), ((False, True, True), {1, 2}), ((False, False), set()), ([], set())],
)
def test_pin_map_to_set(pin_map, cpus):
    assert libvirtd.pin_map_to_set(pin_map) == cpus


def test_read_tasks_sees_this_process():
    ready, done = threading.Event(), threading.Event()

    def worker():
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        ready.set()
        done.wait(5)

    thread = threading.Thread(target=worker, name="pinned-worker")
    thread.start()
    try:
        ready.wait(5)
        tasks = {t.tid: t for t in libvirtd.read_tasks(os.getpid())}
    finally:
        done.set()
        thread.join()

    main = tasks[os.getpid()]
    assert main.cpus_allowed == os.sched_getaffinity(0)
    assert main.policy == os.SCHED_OTHER
    assert tasks[thread.native_id].cpus_allowed == {min(os.sched_getaffinity(0))}


@pytest.mark.parametrize(
    ("name", "kernel"),
    [
        ("kvm-nx-lpage-re", True),
        ("kvm-pit", True),
        ("CPU 0/KVM", False),
        ("qemu-system-x86", False),
    ],
)
def test_kernel_workers_are_told_apart(name, kernel):
    task = libvirtd.TaskInfo(tid=1, name=name, cpus_allowed=frozenset(), policy=0, priority=0)
    assert libvirtd.is_kernel_worker(task) is kernel


def test_kvm_available_reads_the_guest_domains():
    caps = REAL_CAPS.read_text()
    assert libvirtd.kvm_available(caps) is os.access("/dev/kvm", os.R_OK | os.W_OK)
    assert libvirtd.kvm_available(caps.replace("<domain type='kvm'/>", "")) is False
    assert libvirtd.kvm_available(caps, arch="aarch64") is False


def test_close_without_open_removes_its_root_and_keeps_a_given_one(tmp_path):
    own = libvirtd.EmbeddedQemu()
    assert own.root.is_dir()
    own.close()
    assert not own.root.exists()

    given = libvirtd.EmbeddedQemu(root=tmp_path / "root")
    given.root.mkdir()
    given.close()
    assert given.root.is_dir()


def test_close_saves_the_capability_cache(tmp_path):
    cache = tmp_path / "cache"
    host = libvirtd.EmbeddedQemu(root=tmp_path / "root", cache_dir=cache)
    probe = host.root / "cache" / "qemu" / "capabilities" / "abc.xml"
    probe.parent.mkdir(parents=True)
    probe.write_text("<qemuCaps/>")

    host.close()

    assert (cache / "abc.xml").read_text() == "<qemuCaps/>"
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]


def test_uri_names_the_root(tmp_path):
    assert libvirtd.EmbeddedQemu(root=tmp_path).uri == f"qemu:///embed?root={tmp_path}"
