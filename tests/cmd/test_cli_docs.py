"""The command examples in README.rst and doc/source/cli.rst are real output.

Every ``$ os-numa ...`` line in a literal block is run (through the console
script) and its output compared with the lines that follow it, up to the next
``$`` line or the end of the block; ``$ echo $?`` checks the exit status.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cmd.conftest import run_command

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.rst",
    ROOT / "doc" / "source" / "cli.rst",
    ROOT / "doc" / "source" / "realtime-host.rst",
    ROOT / "doc" / "source" / "nfv-example.rst",
]


def examples(path: Path) -> list[tuple[list[str], str, int | None]]:
    """(argv, expected output, expected exit status or None) per example."""
    found = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^    \$ (\S*os-numa) (.*)$", lines[i])
        if not match:
            i += 1
            continue
        command = match.group(2)
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + lines[i].strip()
        i += 1
        output = []
        while (
            i < len(lines)
            and not lines[i].startswith("    $")
            and (lines[i].startswith("    ") or not lines[i].strip())
        ):
            output.append(lines[i][4:])
            i += 1
        status = None
        if i < len(lines) and lines[i].strip() == "$ echo $?":
            status = int(lines[i + 1].strip())
            i += 2
        # Paths are written relative to the repository root, where a reader runs them.
        argv = [str(ROOT / arg) if (ROOT / arg).is_file() else arg for arg in shlex.split(command)]
        found.append((argv, "\n".join(output).strip("\n"), status))
    return found


CASES = [(page.name, *example) for page in PAGES for example in examples(page)]


def test_the_pages_have_examples():
    assert {name for name, *_ in CASES} == {page.name for page in PAGES}
    assert len(CASES) >= 5


@pytest.mark.parametrize("page, argv, expected, status", CASES, ids=lambda v: str(v)[:40])
def test_example_output_is_what_the_command_prints(page, argv, expected, status):
    result = run_command(argv)
    assert (result.stdout + result.stderr).strip("\n") == expected
    assert result.returncode == (0 if status is None else status)


def test_readme_library_example_prints_what_it_shows():
    text = (ROOT / "README.rst").read_text()
    code = re.search(r"\.\. code-block:: python\n\n(.*?)\n\n(?=\S)", text, re.S).group(1)
    shown = re.search(r"prints:\n\n\.\. code-block:: xml\n\n(.*?)\n\n(?=\S)", text, re.S).group(1)
    source = "\n".join(line[4:] for line in code.splitlines())
    result = subprocess.run(
        # As a reader runs it: no warning filters, so anything on stderr shows.
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    expected = "\n".join(line[4:] for line in shown.splitlines())
    assert result.stdout.strip() == expected.strip()


def test_the_realtime_guide_flavor_keeps_realtime_vcpus_off_housekeeping_siblings():
    """doc/source/realtime-host.rst: its example flavor never puts a realtime vCPU
    on the sibling thread of a housekeeping vCPU's pCPU (nor on the emulator's)."""
    ((argv, _, _),) = [c for c in examples(PAGES[2]) if "hw:cpu_realtime=yes" in " ".join(c[0])]
    placed = json.loads(run_command([*argv, "--format", "json"]).stdout)
    host_argv = [a for a in argv[1:] if not a.startswith("vcpus=")]
    host_argv = host_argv[: host_argv.index("--flavor")]
    host = json.loads(run_command(["host", "--format", "json", *host_argv]).stdout)
    core_of = {cpu: tuple(core) for cell in host["cells"] for core in cell["cores"] for cpu in core}
    ((sched,),) = [placed["vcpusched"]]
    realtime = set(sched["vcpus"])
    pins = {int(v): p for cell in placed["cells"] for v, p in cell["cpu_pinning"].items()}
    housekeeping_cores = {core_of[p] for v, p in pins.items() if v not in realtime}
    housekeeping_cores |= {core_of[p] for p in placed["emulatorpin"]}
    realtime_cores = {core_of[pins[v]] for v in realtime}
    assert realtime and housekeeping_cores and not realtime_cores & housekeeping_cores
    assert "hw:cpu_thread_policy=require" in " ".join(argv)
