"""The compiled build (setup.py, ``OS_NUMA_COMPILE=1``) is what a test run says it is.

``tools/dev.sh test`` runs the suite on the pure-Python tree, then the fit's tests again on
the compiled tree with ``OS_NUMA_EXPECT_COMPILED=1``: there every module of setup.COMPILED
must be an extension module; anywhere else none may be. The second half is also the guard
against a stale extension in ``src/``, which Python would load instead of the edited ``.py``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPILED: tuple[str, ...] = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["COMPILED"]
EXPECT_COMPILED = os.environ.get("OS_NUMA_EXPECT_COMPILED") == "1"


def module_name(path: str) -> str:
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def is_extension(module) -> bool:
    return module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


@pytest.mark.parametrize("path", COMPILED)
def test_each_listed_module_is_compiled_exactly_when_expected(path):
    assert (ROOT / path).is_file(), f"setup.COMPILED names {path}, which does not exist"
    module = importlib.import_module(module_name(path))
    assert is_extension(module) is EXPECT_COMPILED, module.__file__


def test_the_source_tree_holds_no_extension_module():
    """An extension beside its .py shadows every edit of that file."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    stale = [
        str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*") if p.name.endswith(suffixes)
    ]
    assert stale == [], "delete these (an editable install is never compiled: setup.py)"
