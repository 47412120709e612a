"""Build os-numa. Everything is declared in pyproject.toml; this file adds one option.

``OS_NUMA_COMPILE=1`` compiles the modules of the fit's hot path (:data:`COMPILED`) to C
extensions with mypyc (mypy's compiler, from their own type hints) beside the pure-Python
package; without it (the default) the package is pure Python. The compiled build places
the same guests in the same way, about 1.7 times as fast (doc/source/install.rst, "The
compiled build"). It needs mypy and a C compiler in the build environment::

    pip install "mypy>=2.4,<2.5" setuptools
    OS_NUMA_COMPILE=1 pip install --no-build-isolation .

An editable install is never compiled: an extension module beside its ``.py`` would
shadow every later edit of that file (tests/test_compiled.py fails on one in ``src/``).
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

#: The modules compiled with ``OS_NUMA_COMPILE=1``: the cold fit's steps (snapshot, order,
#: cell fit, memory, packing, cores) and the objects' fast paths. Plain data modules stay
#: interpreted (a frozen slotted dataclass such as fit/outcome's Shortfall does not pickle
#: once compiled), as does fit/search (a generic dataclass cannot be compiled; little gain).
COMPILED = (
    "src/os_numa/smt.py",
    "src/os_numa/fit/layout.py",
    "src/os_numa/fit/snapshot.py",
    "src/os_numa/fit/order.py",
    "src/os_numa/fit/memory.py",
    "src/os_numa/fit/packing.py",
    "src/os_numa/fit/cellfit.py",
    "src/os_numa/fit/fit.py",
    "src/os_numa/objects/fast.py",
)


def _editable() -> bool:
    return any(arg in ("develop", "editable_wheel") for arg in sys.argv)


def _extensions() -> list:
    if os.environ.get("OS_NUMA_COMPILE") != "1" or _editable():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        raise SystemExit(
            "OS_NUMA_COMPILE=1 needs mypy (mypyc) in the build environment: "
            "pip install 'mypy>=2.4,<2.5' setuptools, then build with --no-build-isolation"
        ) from error
    # The project's mypy settings (pyproject.toml) apply; its per-module overrides name
    # modules outside this list, which mypy would otherwise report as unused sections.
    return mypycify(["--no-warn-unused-configs", *COMPILED], opt_level="3")


if __name__ == "__main__":
    setup(ext_modules=_extensions())
