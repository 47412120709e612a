"""The compiled build (setup.py, ``OS_NUMA_COMPILE=1``) is what a test run says it is.

``tools/dev.sh test`` runs the suite on the pure-Python tree, then the fit's tests again on
the compiled tree with ``OS_NUMA_EXPECT_COMPILED=1``: there every module of setup.COMPILED
must be an extension module; anywhere else none may be. The second half is also the guard
against a stale extension in ``src/``, which Python would load instead of the edited ``.py``.
Both builds place alike, case for case, on the fuzz harness's random hosts and flavors.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import random
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fit import fuzz

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


_DIGEST = """
import random, sys
import os_numa.fit.fit
from tests.fit import fuzz
assert os_numa.fit.fit.__file__.endswith(".py"), os_numa.fit.fit.__file__
rng, tally = random.Random(int(sys.argv[1])), fuzz.Tally()
for _ in range(int(sys.argv[2])):
    fuzz.run_case(rng, tally)
print(tally.digest.hexdigest())
"""


def test_the_pure_build_in_another_process_places_alike():
    """300 random cases here (the compiled build under OS_NUMA_EXPECT_COMPILED, else the
    pure one) and in a pure-Python process with another hash seed: the same outcomes."""
    seed, cases = 20261205, 300
    rng, tally = random.Random(seed), fuzz.Tally()
    for _ in range(cases):
        fuzz.run_case(rng, tally)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONHASHSEED="4242")
    env.pop("OS_NUMA_EXPECT_COMPILED", None)
    pure = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _DIGEST, str(seed), str(cases)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert tally.fits > 10 and tally.no_fits > 10
    assert pure.stdout.strip() == tally.digest.hexdigest()
