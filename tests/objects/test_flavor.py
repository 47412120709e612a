"""Tests for the Flavor object."""

from __future__ import annotations

import pytest

from os_numa import objects as o


def test_defaults():
    f = o.Flavor(vcpus=2, memory_mb=2048)
    assert f.extra_specs == {}
    assert f.name is None


def test_fields():
    f = o.Flavor(
        vcpus="4", memory_mb=4096, extra_specs={"hw:cpu_policy": "dedicated"}, name="m1.pinned"
    )
    assert (f.vcpus, f.memory_mb, f.name) == (4, 4096, "m1.pinned")
    assert f.extra_specs == {"hw:cpu_policy": "dedicated"}


def test_extra_specs_default_is_not_shared():
    a = o.Flavor(vcpus=1, memory_mb=1)
    a.extra_specs["hw:cpu_policy"] = "dedicated"
    assert o.Flavor(vcpus=1, memory_mb=1).extra_specs == {}


def test_extra_spec_values_become_strings():
    f = o.Flavor(vcpus=1, memory_mb=1, extra_specs={"hw:numa_nodes": 2})
    assert f.extra_specs == {"hw:numa_nodes": "2"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"vcpus": "four", "memory_mb": 1},
        {"vcpus": 1, "memory_mb": None},
        {"vcpus": 1, "memory_mb": 1, "extra_specs": ["hw:cpu_policy"]},
    ],
)
def test_bad_values_are_rejected(kwargs):
    with pytest.raises(ValueError):
        o.Flavor(**kwargs)
