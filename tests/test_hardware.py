"""os_numa.hardware: the facade a driver imports, end to end from a flavor.

The modules behind it have their own tests; these check that the facade carries
the public names API.md fixes, and that one flavor goes through
constraints -> fit -> usage -> free with nothing mutated on the way.
"""

import json

import pytest

from os_numa import constraints, explain, fit, hardware, objects, usage
from tests import fixtures_topology as ft

API_NAMES = {
    # API.md "Fitting (os_numa.hardware)", each with the module that implements it.
    "get_cpu_policy_constraint": constraints,
    "get_cpu_thread_policy_constraint": constraints,
    "get_emulator_thread_policy_constraint": constraints,
    "is_realtime_enabled": constraints,
    "get_realtime_cpu_constraint": constraints,
    "numa_get_constraints": constraints,
    "numa_fit_instance_to_host": fit,
    "explain_fit": explain,
    "numa_usage_from_instance_numa": usage,
}


@pytest.mark.parametrize("name", sorted(API_NAMES))
def test_facade_exports_the_implementation(name):
    assert name in hardware.__all__
    assert getattr(hardware, name) is getattr(API_NAMES[name], name)


def _a1_flavor(**extra):
    specs = {
        "hw:cpu_policy": "dedicated",
        "hw:emulator_threads_policy": "isolate",
        "hw:numa_nodes": "2",
        **extra,
    }
    return objects.Flavor(vcpus=4, memory_mb=2048, extra_specs=specs)


def _primitive(obj) -> str:
    return json.dumps(obj.obj_to_primitive(), sort_keys=True, default=sorted)


def test_nova_a1_from_flavor_to_claim_and_back():
    """Nova's example A1 (2 cells x 4 cores, no SMT), with lowest-numbered pCPUs first:
    Nova pins vCPUs 2-3 to 6-7 because its sibling list is in hash order."""
    host = ft.a1_host()
    request = hardware.numa_get_constraints(_a1_flavor(), None)
    host_before, request_before = _primitive(host), _primitive(request)

    placement = hardware.numa_fit_instance_to_host(host, request)

    assert [cell.id for cell in placement.cells] == [0, 1]
    assert placement.cells[0].cpu_pinning == {0: 0, 1: 1}
    assert placement.cells[0].cpuset_reserved == {2}
    assert placement.cells[1].cpu_pinning == {2: 4, 3: 5}
    assert placement.cells[1].cpuset_reserved is None
    assert placement.emulator_threads_isolated
    assert placement.cpuset_reserved == {2}

    claimed = hardware.numa_usage_from_instance_numa(host, placement)
    assert [set(cell.pinned_cpus) for cell in claimed.cells] == [{0, 1, 2}, {4, 5}]
    assert [cell.memory_usage for cell in claimed.cells] == [1024, 1024]

    freed = hardware.numa_usage_from_instance_numa(claimed, placement, free=True)
    assert _primitive(freed) == host_before
    # Pure: neither the host nor the request changed along the way.
    assert _primitive(host) == host_before
    assert _primitive(request) == request_before


def test_nova_a2_does_not_fit_and_says_why():
    host = ft.a1_host()
    request = hardware.numa_get_constraints(_a1_flavor(**{"hw:numa_nodes": "1"}), None)

    assert hardware.numa_fit_instance_to_host(host, request) is None
    report = hardware.explain_fit(host, request)
    assert not report.fits
    assert "5 pCPUs needed (4 vCPUs + 1 emulator), the cell has 4 pinnable pCPUs" in (
        report.summary()
    )


def test_a_flavor_without_numa_request_needs_no_fit():
    flavor = objects.Flavor(vcpus=2, memory_mb=512)
    assert hardware.numa_get_constraints(flavor, None) is None
