"""The ``os-numa place --format xml`` examples of doc/source/emulator-threads.rst are real.

Each example is a literal block holding the command, followed by an XML block
cut down to ``<cputune>`` (or one of its lines); every line shown must be a
line of the command's real output, in the same order.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

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
