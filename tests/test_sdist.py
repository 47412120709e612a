"""The source distribution: complete, licensed, and its tests pass where it is unpacked.

The sdist is built from this checkout (``python -m build --sdist --no-isolation``,
MANIFEST.in says what goes in besides the package), unpacked into a temporary
directory, and a representative part of the suite runs there against the unpacked
``src/`` (not this checkout's). A wheel built from the unpacked sdist carries the
``py.typed`` marker, the data files and the license.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Run inside the unpacked sdist: objects, constraints, CPU specs, errors, options, usage,
#: the fitting facade, the JSON schemas (package data), the XML config classes, mypy
#: with the shipped pyproject settings and the import graph's rules; about 40 s.
SUBSET = (
    "tests/objects",
    "tests/constraints",
    "tests/test_cpuset.py",
    "tests/test_exception.py",
    "tests/test_conf.py",
    "tests/test_smt.py",
    "tests/test_usage.py",
    "tests/test_hardware.py",
    "tests/cmd/test_schema.py",
    "tests/virt/libvirt/test_config.py",
    "tests/test_typing.py",
    "tests/test_imports.py",
)

#: Top-level files the sdist must hold besides the package and the grafted directories.
TOP_FILES = ("LICENSE", "MANIFEST.in", "README.rst", "pyproject.toml", "tox.ini", ".ci/run")
#: Directories shipped whole (MANIFEST.in's grafts, and the package).
TREES = ("tests", "doc", "tools", "benchmarks", "src/os_numa")


def _build(kind: str, source: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("os_numa-*.tar.gz" if kind == "sdist" else "os_numa-*.whl")
    return built


def _shipped(path: Path) -> bool:
    """Whether a file of the checkout belongs in the sdist (caches and builds do not)."""
    parts = path.parts
    return not (
        "__pycache__" in parts
        or path.suffix in (".pyc", ".pyo")
        or any(part.startswith(".") and part not in (".ci",) for part in parts)
        or parts[:2] == ("doc", "build")
        or any(part.endswith(".egg-info") for part in parts)
    )


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    return _build("sdist", ROOT, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def unpacked(sdist, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # Python without extraction filters; the archive was built just now
            archive.extractall(dest)
    (top,) = dest.iterdir()
    return top


def test_sdist_holds_every_file_of_the_shipped_trees(sdist):
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    wanted = set(TOP_FILES)
    for tree in TREES:
        for path in (ROOT / tree).rglob("*"):
            relative = path.relative_to(ROOT)
            if path.is_file() and _shipped(relative):
                wanted.add(relative.as_posix())
    assert sorted(wanted - names) == []
    assert "src/os_numa/py.typed" in names
    assert any(name.startswith("src/os_numa/data/schemas/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_license_is_the_apache_2_text(unpacked):
    text = (unpacked / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    metadata = (unpacked / "PKG-INFO").read_text()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata


def test_wheel_from_the_sdist_ships_types_data_and_license(unpacked, tmp_path):
    wheel = _build("wheel", unpacked, tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "os_numa/py.typed" in names
    assert any(re.fullmatch(r"os_numa/data/schemas/[^/]+\.json", name) for name in names)
    assert any(re.fullmatch(r"os_numa/data/[^/]+\.xml", name) for name in names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith(("tests/", "doc/", "tools/", "benchmarks/")) for name in names)


def test_tests_pass_in_the_unpacked_sdist(unpacked):
    env = {**os.environ, "PYTHONPATH": str(unpacked / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import os_numa; print(os_numa.__file__)"],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(unpacked / "src")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 500, summary
    assert "failed" not in summary and "error" not in summary, summary
