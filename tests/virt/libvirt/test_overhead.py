"""Emulator-thread overhead: the pCPUs estimate_instance_overhead adds for flavors
and stored placements in every form (object, primitive, JSON, Nova's primitive)."""

from __future__ import annotations

import json
import types

import pytest

from os_numa import exception, objects
from os_numa.virt import driver as base_driver
from os_numa.virt.libvirt import driver
from tests import fixtures_topology as ft
from tests.virt.libvirt.examples import DEDICATED, EXAMPLES, ISOLATE, SHARE, place


def _topology(policy, count=None):
    return objects.InstanceNUMATopology(
        cells=[ft.cell(pinned={0}, memory=64)],
        emulator_threads_policy=policy,
        emulator_threads_count=count,
    )


COUNT3 = {**DEDICATED, **ISOLATE, "hw:emulator_threads_count": "3"}


def _nova_primitive(policy):
    return {
        "nova_object.name": "InstanceNUMATopology",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.3",
        "nova_object.data": {"cells": [], "emulator_threads_policy": policy},
    }


OVERHEAD_CASES = {
    "flavor isolate": (
        objects.Flavor(vcpus=1, memory_mb=64, extra_specs={**DEDICATED, **ISOLATE}),
        1,
    ),
    "flavor share": (objects.Flavor(vcpus=1, memory_mb=64, extra_specs={**DEDICATED, **SHARE}), 0),
    "flavor unset": (objects.Flavor(vcpus=1, memory_mb=64, extra_specs=DEDICATED), 0),
    "flavor dict isolate": ({"vcpus": 1, "memory_mb": 64, "extra_specs": ISOLATE}, 1),
    "instance isolate": (types.SimpleNamespace(numa_topology=_topology("isolate")), 1),
    "instance share": (types.SimpleNamespace(numa_topology=_topology("share")), 0),
    "instance without topology": (types.SimpleNamespace(numa_topology=None), 0),
    "dict object": ({"numa_topology": _topology("isolate")}, 1),
    "dict primitive": ({"numa_topology": _topology("isolate").obj_to_primitive()}, 1),
    "dict JSON": ({"numa_topology": json.dumps(_topology("isolate").obj_to_primitive())}, 1),
    "dict Nova primitive": ({"numa_topology": _nova_primitive("isolate")}, 1),
    "dict Nova primitive share": ({"numa_topology": _nova_primitive("share")}, 0),
    "dict None": ({"numa_topology": None}, 0),
    "flavor isolate count 3": (objects.Flavor(vcpus=4, memory_mb=64, extra_specs=COUNT3), 3),
    "flavor dict isolate count 3": ({"vcpus": 4, "memory_mb": 64, "extra_specs": COUNT3}, 3),
    "flavor pool": (
        objects.Flavor(
            vcpus=1, memory_mb=64, extra_specs={**DEDICATED, "hw:emulator_threads_policy": "pool"}
        ),
        0,
    ),
    "instance isolate count 2": (types.SimpleNamespace(numa_topology=_topology("isolate", 2)), 2),
    "instance pool": (types.SimpleNamespace(numa_topology=_topology("pool")), 0),
    "dict primitive count 2": (
        {"numa_topology": _topology("isolate", 2).obj_to_primitive()},
        2,
    ),
    "dict JSON count 2": (
        {"numa_topology": json.dumps(_topology("isolate", 2).obj_to_primitive())},
        2,
    ),
    "dict without topology": ({"memory_mb": 64}, 0),
}


@pytest.mark.parametrize("name", sorted(OVERHEAD_CASES))
def test_estimate_instance_overhead(name):
    instance_info, vcpus = OVERHEAD_CASES[name]

    expected = {"memory_mb": 0, "disk_gb": 0, "vcpus": vcpus}
    assert driver.estimate_instance_overhead(instance_info) == expected
    assert driver.LibvirtDriver().estimate_instance_overhead(instance_info) == expected
    assert base_driver.ComputeDriver().estimate_instance_overhead(instance_info) == {
        "memory_mb": 0,
        "disk_gb": 0,
        "vcpus": 0,
    }


def test_overhead_of_a_real_placement_counts_one_pcpu():
    _, _, _, placement = place(EXAMPLES["A1"])
    assert driver.estimate_instance_overhead({"numa_topology": placement})["vcpus"] == 1


def test_overhead_of_a_placement_with_a_count_equals_its_reserved_pcpus():
    _, flavor, _, placement = place(EXAMPLES["E7-isolate-count"])
    assert driver.estimate_instance_overhead({"numa_topology": placement})["vcpus"] == 2
    assert driver.estimate_instance_overhead(flavor)["vcpus"] == len(placement.cpuset_reserved)


@pytest.mark.parametrize(
    ("instance_info", "error"),
    [
        (
            objects.Flavor(
                vcpus=1, memory_mb=64, extra_specs={"hw:emulator_threads_policy": "ISOLATE"}
            ),
            exception.InvalidEmulatorThreadsPolicy,
        ),
        (
            objects.Flavor(
                vcpus=1, memory_mb=64, extra_specs={**DEDICATED, "hw:emulator_threads_count": "2"}
            ),
            exception.InvalidEmulatorThreadsCount,
        ),
        ({"numa_topology": "not json"}, exception.Invalid),
        ({"numa_topology": 42}, exception.Invalid),
        # A stored primitive with a count no object allows: a typed error, never a
        # ValueError from int() or a negative overhead.
        *(
            (
                {
                    "numa_topology": {
                        "emulator_threads_policy": "isolate",
                        "emulator_threads_count": c,
                    }
                },
                exception.Invalid,
            )
            for c in ("abc", -5, 0, True, 1.5)
        ),
        (
            types.SimpleNamespace(
                numa_topology=types.SimpleNamespace(
                    emulator_threads_isolated=True, emulator_threads_count=0
                )
            ),
            exception.Invalid,
        ),
        (object(), exception.Invalid),
    ],
)
def test_overhead_of_bad_input(instance_info, error):
    with pytest.raises(error):
        driver.estimate_instance_overhead(instance_info)
