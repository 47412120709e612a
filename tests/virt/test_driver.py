"""The driver-agnostic base: zero overhead, overridable one method at a time."""

from __future__ import annotations

import types

import pytest

from os_numa import objects
from os_numa.virt import driver

ZERO = {"memory_mb": 0, "disk_gb": 0, "vcpus": 0}


@pytest.mark.parametrize(
    "instance_info",
    [
        objects.Flavor(
            vcpus=2,
            memory_mb=64,
            extra_specs={"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
        ),
        types.SimpleNamespace(numa_topology=None),
        {"numa_topology": None},
        {},
    ],
    ids=["flavor-isolate", "instance", "dict", "empty-dict"],
)
def test_base_driver_reports_no_overhead(instance_info):
    assert driver.ComputeDriver().estimate_instance_overhead(instance_info) == ZERO
    assert driver.estimate_instance_overhead(instance_info) == ZERO


def test_each_call_returns_a_fresh_dict():
    first = driver.estimate_instance_overhead({})
    first["vcpus"] += 5
    assert driver.estimate_instance_overhead({}) == ZERO


def test_another_hypervisor_overrides_one_method():
    class StubDomainDriver(driver.ComputeDriver):
        """A Xen-like driver whose stub domain costs memory and a vCPU."""

        def estimate_instance_overhead(self, instance_info):
            overhead = super().estimate_instance_overhead(instance_info)
            overhead["memory_mb"] += 32
            overhead["vcpus"] += 1
            return overhead

    assert StubDomainDriver().estimate_instance_overhead({}) == {
        "memory_mb": 32,
        "disk_gb": 0,
        "vcpus": 1,
    }
    assert driver.ComputeDriver().estimate_instance_overhead({}) == ZERO
