"""The entry points and exit codes of ``os-numa`` (subprocess, real entry points)."""

from __future__ import annotations

import os
import pty
import subprocess

import pytest

from tests.cmd.conftest import ENTRY_POINTS, console_script

ISOLATE = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_place_on_the_default_host_through_each_entry_point(os_numa, entry):
    result = os_numa(["place", "--flavor", ISOLATE], entry)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not even the eventlet deprecation warning
    assert "EMU" in result.stdout and "v0" in result.stdout
    assert "\x1b[" not in result.stdout  # a pipe is not a terminal


def test_version_and_help(os_numa):
    version = os_numa(["--version"], "python-m")
    assert version.returncode == 0 and version.stdout.startswith("os-numa ")
    helptext = os_numa(["place", "--help"])
    assert helptext.returncode == 0
    for option in (
        "--capabilities",
        "--connect",
        "--flavor",
        "--extra-spec",
        "--existing",
        "--format",
        "--color",
        "an item without '=' continues",
    ):
        assert option in helptext.stdout


@pytest.mark.parametrize(
    "argv, words",
    [
        ([], "COMMAND"),
        (["place"], "--flavor"),
        (["place", "--flavor", "vcpus=1,memory_mb=1", "--format", "yaml"], "yaml"),
        (["host", "--capabilities", "a.xml", "--connect", "test:///default"], "not allowed"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_usage_errors_exit_2(in_process, argv, words):
    result = in_process(argv)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    # One line, ending with the way to the help of the (sub)command that refused it.
    (line,) = result.stderr.splitlines()
    command = "os-numa place" if argv[:1] == ["place"] else "os-numa"
    command = "os-numa host" if argv[:1] == ["host"] else command
    assert line.startswith(f"{command}: error: ")
    assert line.endswith(f"(see '{command} --help')")


def test_a_huge_value_is_shortened_in_a_usage_error(in_process):
    result = in_process(["host", "--color", "x" * 40_000])
    (line,) = result.stderr.splitlines()
    assert result.returncode == 2 and len(line) < 300
    assert "(40002 characters)" in line and "'auto', 'always', 'never'" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["place", "--flavor", "vcpus=4,memory_mb=4096,hw:cpu_policy=" + "d" * 40_000],
        ["place", "--flavor", "vcpus=4,memory_mb=4096", "--image-property", "h" * 40_000 + "=1"],
        ["validate-flavor", "--flavor", "vcpus=" + "9" * 40_000 + ",memory_mb=64"],
        ["place", "--flavor", "vcpus=1,memory_mb=64", "--cpu-shared-set", "1" * 40_000],
    ],
    ids=["extra-spec", "image-property", "vcpus", "cpu-set"],
)
def test_a_huge_value_is_shortened_in_an_input_error(in_process, argv):
    result = in_process(argv)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("os-numa: error: ") and len(line) < 1200
    assert "Traceback" not in line and "Exceeds the limit" not in line


@pytest.mark.parametrize(
    "argv, words",
    [
        (["place", "--flavor", "vcpus=4,memory_mb=4096,hw:cpu_policy=bogus"], "'bogus'"),
        (
            [
                "place",
                "--flavor",
                "vcpus=4,memory_mb=4096,hw:emulator_threads_policy=ISOLATE,hw:cpu_policy=dedicated",
            ],
            "'ISOLATE'",
        ),
        (["place", "--flavor", "vcpus=4,memory_mb=4096,colour=red"], "colour"),
        (["place", "--flavor", "vcpus=4"], "memory_mb"),
        (
            ["place", "--flavor", "vcpus=2,memory_mb=64", "--image-property", "hw_cpu_polcy=x"],
            "hw_cpu_polcy",
        ),
        (["place", "--flavor", "vcpus=2,memory_mb=64", "--cpu-dedicated-set", "0-3,x"], "x"),
        (
            [
                "place",
                "--flavor",
                "vcpus=2,memory_mb=64",
                "--cpu-dedicated-set",
                "0-3",
                "--cpu-shared-set",
                "3-5",
            ],
            "3",
        ),
        (
            ["place", "--flavor", "vcpus=2,memory_mb=64", "--capabilities", "/nonexistent.xml"],
            "/nonexistent.xml",
        ),
        (["host", "--connect", "nosuchdriver:///x"], "nosuchdriver:///x"),
        (
            [
                "validate-flavor",
                "--flavor",
                "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:cpu_realtime=yes,"
                "hw:cpu_realtime_mask=0-3",
            ],
            "realtime",
        ),
    ],
)
def test_invalid_input_exits_2_with_the_message(in_process, argv, words):
    result = in_process(argv)
    assert result.returncode == 2
    out, err = result.stdout, result.stderr
    assert err.startswith("os-numa: error: ")
    assert words in err
    assert "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_invalid_input_through_the_entry_points_has_no_traceback(os_numa, entry):
    result = os_numa(["place", "--flavor", "vcpus=4,memory_mb=4096,hw:cpu_policy=bogus"], entry)
    assert result.returncode == 2
    assert result.stderr.startswith("os-numa: error: ") and "'bogus'" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_libvirt_errors_are_reported_once(os_numa):
    libvirt_error = os_numa(["host", "--connect", "nosuchdriver:///x"])
    assert libvirt_error.returncode == 2
    assert libvirt_error.stderr.count("\n") == 1  # one line: libvirt's own print is silenced
    assert "Traceback" not in libvirt_error.stderr


def test_usage_error_through_the_entry_point(os_numa):
    result = os_numa(["place"])
    assert result.returncode == 2 and "--flavor" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_and_unsafe_capabilities_exit_2(in_process, tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<capabilities><host>")
    entity = tmp_path / "entity.xml"
    entity.write_text(
        '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<capabilities>&x;</capabilities>"
    )
    for path in (broken, entity):
        result = in_process(["host", "--capabilities", str(path)])
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and "root:" not in result.stdout


def test_colour_on_a_terminal_by_default():
    """stdout on a pseudo-terminal: auto colours; NO_COLOR turns it off."""

    def on_terminal(env):
        leader, follower = pty.openpty()
        try:
            proc = subprocess.run(
                [console_script(), "host"],
                stdout=follower,
                stderr=subprocess.PIPE,
                env=env,
                timeout=120,
                check=False,
            )
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the terminal has no writer left
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(leader)
        assert proc.returncode == 0, proc.stderr
        return b"".join(chunks).decode()

    base = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    base["TERM"] = "xterm"
    assert "\x1b[" in on_terminal(base)
    assert "\x1b[" not in on_terminal({**base, "NO_COLOR": "1"})


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_a_closed_pipe_is_not_an_error(unbuffered):
    # Buffered (the default for a pipe) the output reaches the pipe only when flushed;
    # PYTHONUNBUFFERED (set in some shells and CI) writes at once. Both must exit 0.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [console_script(), "host"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    proc.stdout.close()  # the reader is gone before anything is written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert err == b""


def test_a_bug_is_exit_3_with_its_traceback(in_process, monkeypatch):
    from os_numa.cmd import commands

    def broken(options, out):
        raise RuntimeError("simulated bug")

    monkeypatch.setitem(commands.COMMANDS, "host", broken)
    result = in_process(["host"])
    assert result.returncode == 3
    assert "Traceback" in result.stderr and "simulated bug" in result.stderr
    assert "internal error" in result.stderr
