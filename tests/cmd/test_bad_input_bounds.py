"""Hostile input files and arguments: exit 2, one line, no traceback, bounded memory.

Each case runs the installed console script in a subprocess, under a wrapper
that reports the command's peak memory, so a file the command reads whole (or
parses into a huge tree, or recurses through) fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cmd.conftest import console_script

NODEDEV = Path(__file__).resolve().parents[1] / "data" / "nodedev" / "pci_0000_18_00_0.xml"
FLAVOR = ["--flavor", "vcpus=2,memory_mb=1024"]
#: Peak resident memory the command may reach on hostile input, in MiB. Python
#: with lxml, oslo and the objects loaded is about 100 MiB.
PEAK_MIB = 300

# Runs the command and prints its exit status, stderr and peak RSS as JSON.
_WRAPPER = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": proc.returncode, "stderr": proc.stderr, "peak_mib": peak_kib / 1024}))
"""


def run_bounded(argv: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, console_script(), *argv],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return json.loads(done.stdout)


def deep_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _files(tmp_path: Path) -> dict[str, str]:
    """The hostile inputs, written once per test."""
    files = {
        "deep-array.json": deep_array(1000),
        "deep-object.json": deep_object(100_000),
        "pci-alias.conf": f"[pci]\nalias = {deep_array(1000)}\n",
        # 8 MiB of empty elements: parsing them into a tree would cost ~600 MB.
        "empty-elements.xml": "<capabilities>" + "<a/>" * 2_000_000 + "</capabilities>",
        "nodedevs.xml": "<node>" + "<a/>" * 1_000_000 + "</node>",
        "huge-numa-node.xml": NODEDEV.read_text().replace(
            "<numa node='0'/>", "<numa node='99999999999999999999'/>"
        ),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return {name: str(tmp_path / name) for name in files}


CASES = [
    # (id, argv builder, words the one line must contain)
    ("pci-alias-1000-deep", lambda f: ["--pci-alias", deep_array(1000)], "PCI alias"),
    ("existing-array-1000-deep", lambda f: ["--existing", f["deep-array.json"]], "--existing"),
    (
        "existing-object-100000-deep",
        lambda f: ["--existing", f["deep-object.json"]],
        "more than 32 deep",
    ),
    ("config-file-directory", lambda f: ["--config-file", "/tmp"], "is a directory"),
    ("config-file-dev-zero", lambda f: ["--config-file", "/dev/zero"], "not a regular file"),
    ("config-file-deep-alias", lambda f: ["--config-file", f["pci-alias.conf"]], "PCI alias"),
    ("existing-dev-zero", lambda f: ["--existing", "/dev/zero"], "larger than"),
    ("capabilities-dev-zero", lambda f: ["--capabilities", "/dev/zero"], "larger than"),
    ("pci-devices-dev-zero", lambda f: ["--pci-devices", "/dev/zero"], "/dev/zero"),
    (
        "capabilities-2-million-elements",
        lambda f: ["--capabilities", f["empty-elements.xml"]],
        "the limit is 200000 elements",
    ),
    ("pci-devices-1-million-elements", lambda f: ["--pci-devices", f["nodedevs.xml"]], "elements"),
    (
        "pci-devices-unbounded-numa-node",
        lambda f: ["--pci-devices", f["huge-numa-node.xml"]],
        "expected an integer",
    ),
]


@pytest.mark.parametrize(("build", "words"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_hostile_input_exits_2_with_one_line(tmp_path, build, words):
    result = run_bounded(["place", *FLAVOR, *build(_files(tmp_path))])
    lines = result["stderr"].splitlines()
    assert result["rc"] == 2, result["stderr"][-3000:]
    assert len(lines) == 1 and lines[0].startswith("os-numa: error: "), lines[:5]
    assert "Traceback" not in result["stderr"]
    assert words in lines[0]
    assert len(lines[0]) < 1000
    assert result["peak_mib"] < PEAK_MIB, result
