"""The documentation builds without warnings and its examples are true."""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import os_numa.objects as o
from tests.test_conf import run_config_generator

SOURCE = Path(__file__).resolve().parent.parent / "doc" / "source"


def test_sphinx_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(SOURCE),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Sphinx prints its warnings (file:line: WARNING: ...) on stderr.
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode == 0 and not warnings, "\n".join(warnings) or result.stderr
    for page in ("index", "install", "objects", "configuration", "api/index"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
    # The generated option reference really lists the options.
    configuration = (tmp_path / "html" / "configuration.html").read_text()
    for option in ("cpu_dedicated_set", "cpu_shared_set", "realtime_scheduler_priority"):
        assert option in configuration
    # The pages' references to the API resolve into the reference (conf.py
    # makes an unresolved os_numa reference a warning, so -W fails on it).
    overview = (tmp_path / "html" / "overview.html").read_text()
    for name in ("hardware.numa_get_constraints", "hardware.numa_fit_instance_to_host"):
        assert f'href="api/index.html#os_numa.{name}"' in overview, name
    # Every module of the API reference was imported and rendered.
    api = (tmp_path / "html" / "api" / "index.html").read_text()
    modules = re.findall(
        r"^\.\. automodule:: (\S+)$", (SOURCE / "api" / "index.rst").read_text(), re.M
    )
    assert [m for m in modules if f'id="module-{m}"' not in api] == []


def test_api_reference_documents_every_module():
    """Every module and package of the package has an automodule in api/index.rst."""
    package = SOURCE.parent.parent / "src" / "os_numa"
    modules = {
        ".".join(("os_numa", *path.relative_to(package).with_suffix("").parts))
        for path in package.rglob("*.py")
        if not path.name.startswith("_")
    }
    modules |= {
        ".".join(("os_numa", *path.parent.relative_to(package).parts))
        for path in package.rglob("__init__.py")
    }
    api = (SOURCE / "api" / "index.rst").read_text()
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", api, re.MULTILINE))
    assert sorted(modules - documented) == []


@pytest.mark.parametrize("page", ["install", "objects", "configuration"])
def test_pages_are_in_the_toctree(page):
    index = (SOURCE / "index.rst").read_text()
    toctree = index[index.index(".. toctree::") :]
    assert re.search(rf"^\s+{page}$", toctree, re.MULTILINE), page


def test_objects_page_examples_run():
    """The pycon examples of objects.rst are doctests: run them."""
    result = doctest.testfile(
        str(SOURCE / "objects.rst"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS,
        verbose=False,
        report=True,
    )
    assert result.attempted >= 10
    assert result.failed == 0


def test_objects_page_lists_every_object_at_its_version():
    text = (SOURCE / "objects.rst").read_text()
    table = text[text.index("Current versions") : text.index("Host objects")]
    rows = dict(re.findall(r"\* - ``(\w+)``\n\s+- (\d+\.\d+)", table))
    registered = {
        cls.__name__: cls.VERSION
        for name, (cls, *_) in o.base.ovo_base.VersionedObjectRegistry.obj_classes().items()
        if name.startswith("OsNuma")
    }
    assert rows == registered, "update the 'Current versions' table of doc/source/objects.rst"


def test_configuration_sample_matches_the_generator():
    """Each line of the sample in configuration.rst appears, in order, in the real output."""
    text = (SOURCE / "configuration.rst").read_text()
    start = text.index(".. code-block:: ini\n") + len(".. code-block:: ini\n")
    end = text.index("\nA host that keeps")
    sample = [line for line in textwrap.dedent(text[start:end]).splitlines() if line.strip()]
    result = run_config_generator()
    assert result.returncode == 0, result.stderr
    output = result.stdout.splitlines()
    position = 0
    for line in sample:
        assert line in output[position:], (
            f"{line!r} is not in oslo-config-generator's output (after line {position}): "
            "regenerate the sample in doc/source/configuration.rst"
        )
        position = output.index(line, position) + 1
