"""The ``os-numa place --format xml`` examples of doc/source/emulator-threads.rst are real.

Each example is a literal block holding the command, followed by an XML block
cut down to ``<cputune>`` (or one of its lines); every line shown must be a
line of the command's real output, in the same order.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.cmd.conftest import console_script

PAGE = Path(__file__).resolve().parents[2] / "doc" / "source" / "emulator-threads.rst"

_EXAMPLE = re.compile(
    r"::\n\n(    os-numa place .*?)\n\n\.\. code-block:: xml\n\n(.*?)(?:\n\n(?=\S)|\Z)", re.S
)


def examples() -> list[tuple[list[str], list[str]]]:
    found = []
    for command, xml in _EXAMPLE.findall(PAGE.read_text()):
        joined = " ".join(line.strip().rstrip("\\") for line in command.splitlines())
        argv = shlex.split(joined)[1:]
        found.append((argv, [line.strip() for line in xml.splitlines() if line.strip()]))
    return found


CASES = examples()


def test_the_guide_has_examples_for_each_feature():
    text = " ".join(" ".join(argv) for argv, _ in CASES)
    for key in (
        "hw:emulator_threads_policy=isolate",
        "hw:emulator_threads_policy=share",
        "hw:emulator_threads_mask",
        "hw:emulator_threads_count",
        "hw:cpu_realtime_priority",
    ):
        assert key in text


@pytest.mark.parametrize(("argv", "shown"), CASES, ids=lambda v: " ".join(v)[-60:])
def test_guide_example_is_real_output(in_process, argv, shown):
    result = in_process(argv)
    assert result.returncode == 0, result.stderr
    printed = [line.strip() for line in result.stdout.splitlines()]
    positions = [printed.index(line) if line in printed else -1 for line in shown]
    assert -1 not in positions, [line for line, p in zip(shown, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


def test_the_full_pool_session_runs_as_shown(tmp_path):
    """The console session under "A full pool" gives the output it shows, exit status 1."""
    text = PAGE.read_text()
    start = text.index("**A full pool**")
    block = text[text.index(".. code-block:: console\n\n", start) :].split("\n\n")[1]
    lines = [line[4:] for line in block.splitlines()]
    config_end = next(i for i, line in enumerate(lines[1:], 1) if line.startswith("$ "))
    assert lines[0] == "$ cat pool.conf"
    (tmp_path / "pool.conf").write_text("\n".join(lines[1:config_end]) + "\n")
    script, expected = [], []
    for line in lines[config_end:]:
        if line.startswith(("$ ", "> ")):
            script.append(line[2:])
        else:
            expected.append(line)
    environ = dict(os.environ, PATH=f"{Path(console_script()).parent}:{os.environ['PATH']}")
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.stdout, result.returncode) == ("\n".join(expected) + "\n", 1), result.stderr
    assert len(list(tmp_path.glob("guest*.json"))) == 4
