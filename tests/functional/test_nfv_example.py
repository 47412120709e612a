"""doc/source/nfv-example.rst, "Checking the running guest", on a real guest.

The page's own tools, on the machine running the tests: ``os-numa place``
with this host's capabilities, its ``--format xml`` booted by libvirt's QEMU
driver (KVM when usable, else TCG), and ``doc/source/examples/check_guest.py``
run against the QEMU process with ``--format json``; it must find every thread
where the placement put it, and must say so when the placement differs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from os_numa.testing import libvirtd
from tests.cmd.conftest import run_command

pytestmark = pytest.mark.functional

SCRIPT = Path(__file__).resolve().parents[2] / "doc" / "source" / "examples" / "check_guest.py"


def _bootable(xml: str, kvm: bool) -> str:
    """The command's domain, made to boot here: a domain type this host offers,
    the QEMU binary, and a plain CPU model (the NUMA and pinning elements untouched)."""
    domain = etree.fromstring(xml.encode())
    domain.set("type", "kvm" if kvm else "qemu")
    os_type = domain.find("os/type")
    os_type.set("arch", "x86_64")
    os_type.set("machine", "pc")
    cpu = domain.find("cpu")
    cpu.set("mode", "custom")
    cpu.set("match", "exact")
    model = etree.SubElement(cpu, "model")
    model.text = "qemu64"
    # qemu64 lists AMD's svm, which a nested KVM host may not offer.
    etree.SubElement(cpu, "feature", policy="disable", name="svm")
    emulator = etree.SubElement(domain.find("devices"), "emulator")
    emulator.text = shutil.which(libvirtd.QEMU_BINARY)
    return etree.tostring(domain, encoding="unicode")


def _check(pid: int, placement: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "placement.json"
    path.write_text(json.dumps(placement))
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(pid), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_check_script_confirms_the_guest_the_command_placed(qemu_host, tmp_path):
    caps = qemu_host.conn.getCapabilities()
    (tmp_path / "caps.xml").write_text(caps)
    name = f"os-numa-nfv-{os.getpid()}"
    argv = [
        "place",
        "--capabilities",
        str(tmp_path / "caps.xml"),
        "--flavor",
        f"name={name},vcpus=1,memory_mb=64,hw:cpu_policy=dedicated,"
        "hw:emulator_threads_policy=isolate",
    ]
    placed = run_command([*argv, "--format", "json"])
    xml = run_command([*argv, "--format", "xml"])
    assert placed.returncode == xml.returncode == 0, placed.stderr + xml.stderr
    placement = json.loads(placed.stdout)
    ((pcpu,),) = [list(cell["cpu_pinning"].values()) for cell in placement["cells"]]
    assert placement["emulatorpin"] and pcpu not in placement["emulatorpin"]

    bootable = _bootable(xml.stdout, libvirtd.kvm_available(caps))
    with libvirtd.running_domain(qemu_host.conn, bootable):
        pid = qemu_host.pid_of(name)
        good = _check(pid, placement, tmp_path)
        # The same guest against a plan with the vCPU and emulator CPUs swapped.
        swapped = json.loads(json.dumps(placement))
        swapped["cells"][0]["cpu_pinning"]["0"] = placement["emulatorpin"][0]
        swapped["emulatorpin"] = [pcpu]
        bad = _check(pid, swapped, tmp_path)

    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert lines[-1] == "all threads as planned"
    (vcpu_line,) = [line for line in lines if line.startswith("CPU 0/")]
    assert f"CPUs {pcpu} " in vcpu_line and vcpu_line.endswith(" ok")
    emulator = ",".join(map(str, placement["emulatorpin"]))
    others = [line for line in lines[:-1] if not line.startswith("CPU ")]
    assert others and all(f"CPUs {emulator} " in line for line in others)
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[-1].startswith("MISMATCH")
    assert f"EXPECTED CPUs {placement['emulatorpin'][0]} " in bad.stdout
