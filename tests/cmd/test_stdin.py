"""``-`` reads standard input for --capabilities, --existing and --pci-devices
(``virsh capabilities | os-numa host --capabilities -``), bounded as files are."""

from __future__ import annotations

import io
import json
import os
import subprocess

import pytest

from os_numa import exception
from os_numa.cmd import existing, hostsource, inputfile
from os_numa.pci import devices
from tests.cmd.conftest import DATA, console_script

INTEL = DATA / "intel-2s-20c-ht.xml"
NODEDEV = DATA.parent / "nodedev"
DEDICATED = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated"


def run(argv: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONWARNINGS")}
    return subprocess.run(
        [console_script(), *argv], input=stdin, capture_output=True, env=environ, timeout=120
    )


def test_capabilities_from_standard_input_is_the_file():
    from_file = run(["host", "--capabilities", str(INTEL)], b"")
    piped = run(["host", "--capabilities", "-"], INTEL.read_bytes())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == from_file.stdout and b"host cell 1" in piped.stdout


def test_existing_from_standard_input_is_claimed():
    first = run(["place", "--format", "json", "--flavor", DEDICATED], b"")
    second = run(
        ["place", "--format", "json", "--existing", "-", "--flavor", DEDICATED], first.stdout
    )
    assert second.returncode == 0, second.stderr
    taken = set(json.loads(first.stdout)["cells"][0]["cpu_pinning"].values())
    now = set(json.loads(second.stdout)["cells"][0]["cpu_pinning"].values())
    assert taken and now and not taken & now


def test_pci_devices_from_standard_input_join_the_files():
    """A pipe of several documents in a <devices> wrapper, and files beside it."""
    piped = (
        b"<devices>"
        + b"".join(
            (NODEDEV / f"pci_0000_{name}.xml").read_bytes().split(b"?>", 1)[-1]
            for name in ("18_00_0", "19_02_0")
        )
        + b"</devices>"
    )
    argv = ["host", "--format", "json", "--capabilities", str(INTEL)]
    result = run([*argv, "--pci-devices", "-", str(NODEDEV / "pci_0000_af_00_0.xml")], piped)
    assert result.returncode == 0, result.stderr
    found = [d["address"] for d in json.loads(result.stdout)["pci_devices"]]
    assert found == ["0000:18:00.0", "0000:19:02.0", "0000:af:00.0"]


def test_the_same_device_on_standard_input_and_in_a_file_is_refused():
    path = NODEDEV / "pci_0000_18_00_0.xml"
    result = run(["host", "--pci-devices", "-", str(path)], path.read_bytes())
    assert result.returncode == 2
    assert b"0000:18:00.0 is listed twice" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--capabilities", "-", "--existing", "-"],
        ["--existing", "-", "--existing", "-"],
        ["--pci-devices", "-", "-"],
        ["--capabilities", "-", "--pci-devices", "-"],
    ],
)
def test_standard_input_is_read_by_one_option_only(argv):
    result = run(["host", *argv], b"{}")
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert "standard input ('-') can be read once" in line


@pytest.mark.parametrize(
    ("option", "stdin", "words"),
    [
        ("--capabilities", b"<capabilities><host>", "capabilities standard input:"),
        ("--capabilities", b"\xff\xfe", "capabilities standard input is not UTF-8"),
        ("--existing", b"[{]", "--existing standard input is not valid JSON"),
        ("--pci-devices", b"<device>", "standard input:"),
    ],
)
def test_bad_standard_input_is_named_in_the_error(option, stdin, words):
    result = run(["host", option, "-"], stdin)
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert words in line and "Traceback" not in line


def test_standard_input_is_bounded_like_a_file(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x" * 11)))
    with pytest.raises(exception.InvalidXML, match="doc standard input is larger than 10 bytes"):
        inputfile.read_text("-", 10, exception.InvalidXML, "doc")


def test_each_option_reads_standard_input_through_the_bounded_reader(monkeypatch):
    """The limits are those of files: the capabilities', --existing's and the devices'."""
    limits = []

    def fake_read(path, limit, error, what):
        limits.append((path, limit, what))
        raise error(reason="stop")

    monkeypatch.setattr(inputfile, "read_bytes", fake_read)
    for call in (
        lambda: hostsource.read_capabilities("-"),
        lambda: existing.load_existing("-"),
        lambda: hostsource.load_pci_devices(["-"]),
    ):
        with pytest.raises(exception.OsNumaError, match="stop"):
            call()
    assert limits == [
        ("-", hostsource.MAX_CAPABILITIES_BYTES, "capabilities"),
        ("-", existing.MAX_EXISTING_BYTES, "--existing"),
        ("-", devices.MAX_DOCUMENT_BYTES, "--pci-devices"),
    ]


def test_migrate_reads_standard_input_once(tmp_path):
    source = run(["place", "--format", "xml", "--flavor", DEDICATED], b"")
    (tmp_path / "dom.xml").write_bytes(source.stdout)
    piped = run(["migrate", "--source-xml", "-", "--format", "json"], source.stdout)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["fits"] is True
    twice = run(["migrate", "--source-xml", "-", "--existing", "-"], source.stdout)
    assert twice.returncode == 2 and b"can be read once" in twice.stderr
    caps = run(["migrate", "--source-xml", str(tmp_path / "dom.xml"), "--capabilities", "-"], b"")
    assert caps.returncode == 2 and b"--capabilities - would be read twice" in caps.stderr
