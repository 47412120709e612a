"""Run the ``os-numa`` command through its real entry points, in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "capabilities"


def console_script() -> str:
    """The installed ``os-numa`` script: beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "os-numa"
    if beside.exists():
        return str(beside)
    found = shutil.which("os-numa")
    if found is None:
        pytest.fail("the os-numa console script is not installed (pip install -e .)")
    return found


ENTRY_POINTS = {
    "console-script": lambda: [console_script()],
    "python-m": lambda: [sys.executable, "-m", "os_numa"],
}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_command(argv: list[str], entry: str = "console-script", **env) -> Result:
    """Run once per distinct (argv, entry, env) in a session; the command is deterministic."""
    key = (tuple(argv), entry, tuple(sorted(env.items())))
    if key not in _RUNS:
        _RUNS[key] = _run(argv, entry, env)
    return _RUNS[key]


_RUNS: dict[tuple, Result] = {}


def _run(argv: list[str], entry: str, env: dict[str, str]) -> Result:
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONWARNINGS")}
    environ.update(env)
    proc = subprocess.run(
        ENTRY_POINTS[entry]() + argv,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def os_numa():
    return run_command


@pytest.fixture
def in_process(capsys):
    """Run ``main(argv)`` in this process (for the many cases that need no new process)."""
    from os_numa.cmd import main

    def run(argv: list[str]) -> Result:
        try:
            code = main.main(argv)
        except SystemExit as exc:  # argparse's usage errors, --help, --version
            code = exc.code
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run
