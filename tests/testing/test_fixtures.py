"""The pytest11 plugin, exercised the way a downstream suite uses it (pytester, in-process)."""

from __future__ import annotations

import pathlib
from importlib import metadata

# Imported here so that pytester's in-process runs, which drop modules first
# imported inside them, find the os-numa/oslo import chain already loaded.
import os_numa.testing.fake  # noqa: F401

pytest_plugins = ["pytester"]

DOWNSTREAM_TESTS = """
import pytest

closed_later = []


def test_default_host(os_numa_fake_host):
    topology = os_numa_fake_host.topology()
    assert [sorted(c.pcpuset) for c in topology.cells] == [[0, 1]]
    assert os_numa_fake_host.caps_xml.startswith("<capabilities>")
    assert os_numa_fake_host.conn.getInfo()[2] == 2
    closed_later.append(os_numa_fake_host.conn)


def test_previous_host_was_closed():
    assert [conn.isAlive() for conn in closed_later] == [0]


@pytest.mark.os_numa_host(cpu_nodes=2, cpu_cores=2, cpu_threads=2, mempages={2048: 16})
def test_marker_shapes_the_host(os_numa_fake_host):
    topology = os_numa_fake_host.topology(cpu_dedicated_set="1-3,5-7", cpu_shared_set="0,4")
    assert [sorted(c.pcpuset) for c in topology.cells] == [[1, 2, 3], [5, 6, 7]]
    assert [sorted(c.cpuset) for c in topology.cells] == [[0], [4]]
    # CPU 0 is shared, yet still the sibling of pCPU 1: they share a core.
    assert topology.cells[0].siblings == [{0, 1}, {2, 3}]
    assert [p.total for p in topology.cells[1].mempages if p.size_kb == 2048] == [16]


def test_factory(os_numa_host_factory):
    small = os_numa_host_factory()
    big = os_numa_host_factory(cpu_nodes=2, cpu_cores=4, cpu_threads=2)
    assert len(small.topology().cells) == 1
    assert [len(c.pcpuset) for c in big.topology().cells] == [8, 8]
    assert big.host.get_host_topology().cells[1].siblings[0] == {8, 9}


def test_a_wrong_expectation_fails(os_numa_host_factory):
    assert len(os_numa_host_factory(cpu_nodes=3).topology().cells) == 2


@pytest.mark.os_numa_host(2)
def test_positional_marker_arguments(os_numa_fake_host):
    pass
"""


def test_plugin_is_registered_as_pytest11_entry_point():
    points = {ep.name: ep.value for ep in metadata.entry_points(group="pytest11")}
    assert points.get("os_numa") == "os_numa.testing.fixtures"


def test_downstream_suite_gets_fake_hosts_without_conftest(pytester):
    pytester.makepyfile(test_downstream=DOWNSTREAM_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "E *UsageError: @pytest.mark.os_numa_host takes HostInfo keywords only",
            "FAILED *test_a_wrong_expectation_fails*",
            "ERROR *test_positional_marker_arguments*",
        ]
    )


def test_marker_is_declared(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.os_numa_host(**host_info)*"])


def test_documented_example_passes(pytester):
    example = pathlib.Path(__file__).resolve().parents[2] / "doc/source/examples/fake_host_tests.py"
    pytester.makepyfile(test_example=example.read_text())
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3)
