"""Fixtures for tests that need Nova 34 (its own venv: ``tools/dev.sh openstack-python``)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="session")
def nova_python():
    """Run a Python snippet in Nova's venv with this checkout's os-numa importable.

    Returns ``run(code) -> object``: the snippet prints one JSON document as its last
    line, which ``run`` decodes; a non-zero exit fails the test with the child's stderr.
    """
    python = os.environ.get("OS_NUMA_OPENSTACK_PYTHON")
    if not python or not os.path.exists(python):
        pytest.skip("no Nova venv: set OS_NUMA_OPENSTACK_PYTHON (tools/dev.sh test does)")

    def run(code: str):
        env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONWARNINGS="ignore")
        out = subprocess.run(
            [python, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-4000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    return run
