"""Type checking: mypy over src/ (settings in pyproject.toml's [tool.mypy]) reports nothing.

The package ships ``py.typed``, so a driver that type-checks its own code reads our
annotations; these tests keep them true. mypy runs in a subprocess with a fresh cache
(about 10-20 s on two cores), as CI runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_mypy(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "MYPY_CACHE_DIR")}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mypy_reports_no_error_in_src(tmp_path):
    result = run_mypy("--config-file", str(ROOT / "pyproject.toml"), cwd=ROOT, cache=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"mypy over src/ found errors:\n{report}"
    assert "Success: no issues found" in report
    # The configuration names every source file (tool.mypy files), not just a few.
    checked = int(report.split("in ")[-1].split()[0])
    assert checked >= len(list((ROOT / "src" / "os_numa").rglob("*.py")))


def test_py_typed_marker_is_in_the_package():
    assert resources.files("os_numa").joinpath("py.typed").is_file()


def test_a_consumer_sees_the_annotations(tmp_path):
    """A program that misuses the typed API fails mypy: the marker works and the check bites."""
    (tmp_path / "consumer.py").write_text(
        textwrap.dedent(
            """\
            from os_numa import cpuset, objects

            pcpus: int = cpuset.parse_cpu_spec("0-3")
            cell = objects.NUMACell(id=0, cpuset=set(), pcpuset={1}, memory=1024)
            memory: str = cell.memory
            fine: set[int] = cell.pcpuset
            """
        )
    )
    result = run_mypy("--no-incremental", "consumer.py", cwd=tmp_path, cache=tmp_path / "cache")
    report = result.stdout
    assert result.returncode == 1, report
    assigned = "error: Incompatible types in assignment (expression has type"
    assert f'consumer.py:3: {assigned} "set[int]"' in report
    assert f'consumer.py:5: {assigned} "int"' in report
    assert "consumer.py:6" not in report
    assert "Found 2 errors in 1 file" in report
