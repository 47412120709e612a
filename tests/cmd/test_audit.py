"""``os-numa audit`` through the console script, against libvirt's test driver.

test:///default has one fixed domain; a test driver started from a file
(``test:///path/node.xml``) runs the domains the file holds, here the ones
os-numa's driver writes for real claims plus hand-made drift. Its capabilities
report no NUMA cells, so the host comes from test:///default's, saved to a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import libvirt
import pytest

from os_numa import conf as os_numa_conf
from os_numa.cmd import audit, schema
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from os_numa.virt.libvirt import domain_placement as dp
from os_numa.virt.libvirt import driver, host, recovery

pytestmark = pytest.mark.functional

CAPS = Path(__file__).resolve().parents[1] / "data" / "capabilities" / "tiny-2cell-nosmt.xml"
SETS = ["--cpu-dedicated-set", "2-7,10-15", "--cpu-shared-set", "0-1,8-9"]
NODE = """<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>16</active><max>16</max><nodes>2</nodes>
  <sockets>1</sockets><cores>8</cores><threads>1</threads></cpu>
  <memory>6291456</memory>
  {domains}
</node>
"""
STRAY = """<domain type='test'><name>stray</name><memory>262144</memory><vcpu>1</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='7'/><emulatorpin cpuset='7'/></cputune>
  <os><type>hvm</type></os></domain>"""


@pytest.fixture(scope="module")
def caps_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "caps.xml"
    conn = libvirt.open("test:///default")
    path.write_text(conn.getCapabilities())
    conn.close()
    return path


@pytest.fixture(scope="module")
def placed(caps_file, tmp_path_factory):
    """(tracker, domain XML list, checkpoint path): three guests os-numa placed."""
    conf = os_numa_conf.make_conf(
        **{"compute.cpu_dedicated_set": "2-7,10-15", "compute.cpu_shared_set": "0-1,8-9"}
    )
    topology = host.host_topology_from_capabilities(caps_file.read_text(), conf=conf)
    path = tmp_path_factory.mktemp("audit-checkpoint") / "tracker.json"
    tracker = ResourceTracker(driver.LibvirtDriver(conf), topology, conf, checkpoint_path=path)
    domains = []
    for index, specs in enumerate(
        [
            {"hw:cpu_policy": "dedicated"},
            {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
            {"hw:numa_nodes": "2"},
        ]
    ):
        uuid = f"00000000-0000-0000-0000-{index:012d}"
        vm = Instance(uuid=uuid, flavor=Flavor(vcpus=2, memory_mb=256, extra_specs=specs))
        with tracker.instance_claim(vm):
            guest = driver.build_guest(vm.numa_topology, vm.flavor, None, topology, conf)
        guest.name, guest.uuid, guest.virt_type = f"guest-{index}", uuid, "test"
        domains.append(guest.to_xml())
    return tracker, domains, path


def node_uri(tmp_path, domains, name="node"):
    """A test driver running ``domains`` (each file name once: results are cached by argv)."""
    path = tmp_path / f"{name}.xml"
    path.write_text(NODE.format(domains="\n".join(domains)))
    return f"test://{path}"


def run_audit(os_numa, caps_file, uri, *extra):
    return os_numa(["audit", "--connect", uri, "--capabilities", str(caps_file), *SETS, *extra])


def test_a_clean_host_exits_0_with_a_line_per_domain(os_numa, caps_file, placed, tmp_path):
    _, domains, _ = placed
    result = run_audit(os_numa, caps_file, node_uri(tmp_path, domains))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("3 domain(s), no drift")
    assert [line.split(" ")[0] for line in lines[1:-1]] == ["guest-0", "guest-1", "guest-2"]
    assert all(line.endswith(": ok") for line in lines[1:-1])
    # Two 2-vCPU pinned guests (one with an isolated emulator pCPU) and a floating one.
    assert lines[-1] == "os-numa accounts 3 guest(s): 7 vCPUs, 768 MiB, pinned pCPUs 2-4,10-11"


def test_drift_exits_1_with_every_finding_per_domain(os_numa, caps_file, placed, tmp_path):
    _, domains, _ = placed
    # guest-1 holds pCPUs 2-3 and its emulator pCPU 4: the intruder runs on 2.
    intruder = STRAY.replace("stray", "intruder").replace("cpuset='7'", "cpuset='2'")
    uri = node_uri(tmp_path, [*domains, STRAY, intruder])
    result = run_audit(os_numa, caps_file, uri)
    assert result.returncode == 1, result.stderr
    text = result.stdout
    assert "drift in 3" in text.splitlines()[0], text
    assert "stray (" in text and "  runs-on-dedicated: " in text
    assert (
        "  pcpu-overlap: pCPU(s) 2 pinned to it may also run the floating or emulator "
        "threads of domain intruder" in text
    )
    assert text.count(": ok") == 2

    document = json.loads(run_audit(os_numa, caps_file, uri, "--format", "json").stdout)
    jsonschema.Draft202012Validator(schema.load(schema.AUDIT)).validate(document)
    rules = {d["name"]: {f["rule"] for f in d["drift"]} for d in document["domains"]}
    assert rules["guest-0"] == rules["guest-2"] == set()
    assert rules["guest-1"] == {"pcpu-overlap"}
    assert rules["intruder"] == {"pcpu-overlap", "runs-on-dedicated"}
    assert rules["stray"] == {"runs-on-dedicated"}
    assert document["clean"] is False


def test_the_default_test_driver_domain_is_drift(os_numa):
    """test:///default's own domain floats everywhere and asks for more memory than
    the test host has."""
    result = os_numa(["audit", "--connect", "test:///default", *SETS])
    assert result.returncode == 1, result.stderr
    assert "test (6695eb01" in result.stdout
    assert "runs-on-dedicated" in result.stdout and "accounting" in result.stdout


def test_checkpoint_compared_with_the_domains(os_numa, caps_file, placed, tmp_path):
    _, domains, path = placed
    result = run_audit(os_numa, caps_file, node_uri(tmp_path, domains), "--checkpoint", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    missing = run_audit(
        os_numa, caps_file, node_uri(tmp_path, domains[:2], "two"), "--checkpoint", str(path)
    )
    assert missing.returncode == 1
    assert "00000000-0000-0000-0000-000000000002: drift" in missing.stdout
    assert "not-on-host" in missing.stdout


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["audit", "--connect", ""], "--connect needs a libvirt URI"),
        (["audit", "--connect", "nosuchdriver:///x"], "nosuchdriver:///x"),
        (["audit", "--connect", "nosuch:///x", "--capabilities", str(CAPS)], "nosuch:///x"),
        (
            ["audit", "--connect", "test:///default", "--capabilities", "/nonexistent"],
            "/nonexistent",
        ),
        (["audit", "--connect", "test:///default", "--cpu-dedicated-set", "x-y"], "x-y"),
        (["audit", "--connect", "test:///default", "--checkpoint", "/dev/zero"], "too large"),
        (["audit", "--connect", "test:///default", "--checkpoint", "/"], "directory"),
    ],
)
def test_bad_input_exits_2_with_one_line(os_numa, argv, needle):
    result = os_numa(argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_corrupt_checkpoint_exits_2_naming_the_problem(os_numa, tmp_path):
    path = tmp_path / "tracker.json"
    path.write_text('{"format": "os-numa/tracker-checkpoint", "version": 1, "checksum": "x"')
    result = os_numa(["audit", "--connect", "test:///default", "--checkpoint", str(path)])
    assert result.returncode == 2 and "is truncated" in result.stderr


def test_names_cannot_drive_the_terminal():
    report = recovery.AuditReport(
        domains=(dp.unreadable("evil\x1b]0;title\x07", "u", "bad"),), drift=(), usage=None
    )
    lines = audit.text_lines("test:///x", report)
    assert lines[1].startswith("evil\\x1b]0;title\\x07 (u, unknown, pinned none)")
    assert "\x1b" not in "".join(lines)
