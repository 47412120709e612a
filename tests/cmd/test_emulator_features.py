"""``os-numa place`` shows every emulator-thread feature of issue 6, as a picture and as XML.

Each case runs the command in this process on the built-in host (2 sockets x 8
cores x 2 threads, the sibling of CPU N is N+16; cell 0 = 0-7,16-23), checks the
picture's guest summary and the ``<cputune>`` of ``--format xml``, and defines
that XML on libvirt's test driver after checking it against domain.rng.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from tests.virt.libvirt.conftest import (  # noqa: F401 - fixtures, by name
    define_validated,
    domain_schema,
    libvirt_test_conn,
)

DEDICATED = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated"
SETS = ["--cpu-shared-set", "0,8,16,24", "--cpu-dedicated-set", "1-7,9-15,17-23,25-31"]
POOL_CONF = """\
[compute]
cpu_dedicated_set = 1-7,9-31
[os_numa]
emulator_pin_set = 0,8
emulator_pool_overcommit = 2
"""

# (flavor, extra argv, [os_numa]-style config text or None, picture lines, emulatorpin, vcpusched)
CASES = {
    "mask": (
        f"{DEDICATED},hw:emulator_threads_mask=0",
        [],
        None,
        ["emulator threads (mask: beside vCPU(s) 0) on host CPUs 0"],
        "0",
        None,
    ),
    "mask with realtime": (
        f"{DEDICATED},hw:cpu_realtime=yes,hw:cpu_realtime_mask=^0-1,hw:emulator_threads_mask=1",
        [],
        None,
        [
            "emulator threads (mask: beside vCPU(s) 1) on host CPUs 16",
            "realtime vCPUs 2-3: fifo priority 1",
        ],
        "16",
        ("2-3", "1"),
    ),
    "share, NUMA-local by default": (
        f"{DEDICATED},hw:emulator_threads_policy=share",
        SETS,
        None,
        ["emulator threads (share) on host CPUs 0,16"],
        "0,16",
        None,
    ),
    "share, host-wide when asked": (
        f"{DEDICATED},hw:emulator_threads_policy=share",
        SETS,
        "[os_numa]\nemulator_share_locality = host\n",
        ["emulator threads (share) on host CPUs 0,8,16,24"],
        "0,8,16,24",
        None,
    ),
    "pool": (
        f"{DEDICATED},hw:emulator_threads_policy=pool",
        [],
        POOL_CONF,
        [
            "emulator threads (pool: pool pCPU 0) on host CPUs 0",
            "  emulator pool, guests per pCPU: CPU 0 0/2",
        ],
        "0",
        None,
    ),
    "isolate, two pCPUs": (
        f"{DEDICATED},hw:emulator_threads_policy=isolate,hw:emulator_threads_count=2",
        [],
        None,
        ["emulator threads (isolate, 2 pCPUs) on host CPUs 2,18"],
        "2,18",
        None,
    ),
    "isolate, SMT-aware off realtime cores": (
        "vcpus=3,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate,"
        "hw:cpu_realtime=yes",
        [],
        None,
        ["emulator threads (isolate) on host CPUs 2", "realtime vCPUs 0-2: fifo priority 1"],
        "2",
        ("0-2", "1"),
    ),
    "isolate, Nova's choice on a realtime core": (
        "vcpus=3,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate,"
        "hw:cpu_realtime=yes",
        [],
        "[os_numa]\nemulator_threads_smt_aware = false\n",
        ["emulator threads (isolate) on host CPUs 17"],
        "17",
        ("0-2", "1"),
    ),
    "realtime priority": (
        f"{DEDICATED},hw:cpu_realtime=yes,hw:cpu_realtime_mask=^0,hw:cpu_realtime_priority=50",
        [],
        "[libvirt]\nrealtime_scheduler_priority = 7\n",
        ["realtime vCPUs 1-3: fifo priority 50"],
        "0",
        ("1-3", "50"),
    ),
}


def _argv(flavor, extra, config_text, tmp_path, fmt=None):
    argv = ["place", "--flavor", flavor, *extra]
    if config_text is not None:
        path = tmp_path / "os-numa.conf"
        path.write_text(config_text)
        argv += ["--config-file", str(path)]
    if fmt:
        argv += ["--format", fmt]
    return argv


@pytest.mark.parametrize(
    ("flavor", "extra", "config_text", "lines", "emulatorpin", "vcpusched"),
    CASES.values(),
    ids=CASES,
)
def test_feature_in_picture_and_xml(
    in_process,
    tmp_path,
    define_validated,  # noqa: F811
    flavor,
    extra,
    config_text,
    lines,
    emulatorpin,
    vcpusched,
):
    picture = in_process(_argv(flavor, extra, config_text, tmp_path))
    assert picture.returncode == 0, picture.stderr
    shown = picture.stdout.splitlines()
    for line in lines:
        assert line in shown

    xml = in_process(_argv(flavor, extra, config_text, tmp_path, "xml"))
    assert xml.returncode == 0, xml.stderr
    cputune = etree.fromstring(xml.stdout.encode()).find("cputune")
    assert cputune.find("emulatorpin").get("cpuset") == emulatorpin
    assert cputune.find("iothreadpin").get("cpuset") == emulatorpin
    sched = cputune.find("vcpusched")
    if vcpusched is None:
        assert sched is None
    else:
        assert (sched.get("vcpus"), sched.get("priority")) == vcpusched
    defined = etree.fromstring(define_validated(xml.stdout).encode())
    assert defined.find("cputune/emulatorpin").get("cpuset") == emulatorpin


def test_full_pool_does_not_fit_and_says_why(in_process, tmp_path):
    """Four pool guests fill 2 pool pCPUs x overcommit 2; the fifth is told why it does not fit."""
    flavor = "vcpus=2,memory_mb=1024,hw:cpu_policy=dedicated,hw:emulator_threads_policy=pool"
    existing = tmp_path / "existing.json"
    placed = []
    for _ in range(4):
        extra = ["--existing", str(existing)] if placed else []
        result = in_process(_argv(flavor, extra, POOL_CONF, tmp_path, "json"))
        assert result.returncode == 0, result.stderr
        placed.append(json.loads(result.stdout))
        existing.write_text(json.dumps(placed))
    assert sorted(doc["emulator_pool_cpu"] for doc in placed) == [0, 0, 8, 8]

    reason = "emulator pool full: 2 pCPUs x overcommit 2 = 4 guests, 4 placed"
    extra = ["--existing", str(existing)]
    picture = in_process(_argv(flavor, extra, POOL_CONF, tmp_path))
    assert picture.returncode == 1
    assert "  emulator pool, guests per pCPU: CPU 0 2/2" in picture.stdout.splitlines()
    assert reason in picture.stdout
    xml = in_process(_argv(flavor, extra, POOL_CONF, tmp_path, "xml"))
    assert xml.returncode == 1 and reason in xml.stdout
    doc = json.loads(in_process(_argv(flavor, extra, POOL_CONF, tmp_path, "json")).stdout)
    assert not doc["fits"] and reason in doc["explanation"]


def test_pool_overlapping_the_dedicated_set_is_invalid_input(in_process, tmp_path):
    config_text = "[os_numa]\nemulator_pin_set = 0\n"
    extra = ["--cpu-dedicated-set", "0-31"]
    result = in_process(
        _argv(f"{DEDICATED},hw:emulator_threads_policy=pool", extra, config_text, tmp_path)
    )
    assert result.returncode == 2
    assert "emulator_pin_set and [compute] cpu_dedicated_set overlap on CPU(s) 0" in result.stderr
