"""What the tracker reads from an instance: uuid, flavor resources, overhead, request."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from os_numa import exception
from os_numa.compute.instance import (
    Instance,
    Resources,
    flavor_and_image,
    flavor_resources,
    instance_image_meta,
    instance_uuid,
    overhead_resources,
    requested_topology,
)
from os_numa.objects import Flavor, ImageMeta
from tests import fixtures_topology as ft


@pytest.mark.parametrize(
    "flavor, expected",
    [
        (Flavor(vcpus=2, memory_mb=1024), Resources(2, 1024, 0)),
        (
            SimpleNamespace(vcpus=4, memory_mb=512, root_gb=20, ephemeral_gb=0, swap=0),
            Resources(4, 512, 20),
        ),
        (
            SimpleNamespace(vcpus=1, memory_mb=1, root_gb=1, ephemeral_gb=2, swap=1025),
            Resources(1, 1, 5),
        ),
        (
            SimpleNamespace(vcpus=1, memory_mb=1, root_gb=None, ephemeral_gb=None, swap=None),
            Resources(1, 1, 0),
        ),
    ],
    ids=["os-numa flavor", "root disk", "swap rounds up", "None fields"],
)
def test_flavor_resources(flavor, expected):
    assert flavor_resources(flavor) == expected


@pytest.mark.parametrize(
    "flavor, needle",
    [
        (SimpleNamespace(memory_mb=1), "vcpus=None"),
        (SimpleNamespace(vcpus=-1, memory_mb=1), "vcpus=-1"),
        (SimpleNamespace(vcpus=1, memory_mb="1"), "memory_mb='1'"),
        (SimpleNamespace(vcpus=True, memory_mb=1), "vcpus=True"),
        (SimpleNamespace(vcpus=1, memory_mb=1, root_gb=1.5), "root_gb=1.5"),
    ],
    ids=["missing", "negative", "text", "bool", "float"],
)
def test_flavor_resources_rejects_bad_values(flavor, needle):
    with pytest.raises(exception.InvalidFlavor, match=needle.replace("(", r"\(")):
        flavor_resources(flavor)


def test_resources_add_and_subtract():
    assert Resources(1, 2, 3) + Resources(4, 5, 6) == Resources(5, 7, 9)
    assert Resources(5, 7, 9) - Resources(4, 5, 6) == Resources(1, 2, 3)


@pytest.mark.parametrize(
    "estimate, expected",
    [
        ({"vcpus": 1, "memory_mb": 0, "disk_gb": 0}, Resources(1, 0, 0)),
        ({"memory_mb": 30}, Resources(0, 30, 0)),
        ({}, Resources()),
    ],
)
def test_overhead_resources(estimate, expected):
    assert overhead_resources(estimate, object()) == expected


@pytest.mark.parametrize(
    "estimate, needle",
    [
        ([("vcpus", 1)], "a dict with"),
        ({"vcpus": -1}, "vcpus=-1"),
        ({"disk_gb": 0.5}, "disk_gb=0.5"),
        ({"vcpus": False}, "vcpus=False"),
    ],
)
def test_overhead_resources_rejects_bad_estimates(estimate, needle):
    class MyDriver:
        pass

    with pytest.raises(exception.Invalid) as info:
        overhead_resources(estimate, MyDriver())
    assert needle in str(info.value)
    assert "MyDriver.estimate_instance_overhead" in str(info.value)


def test_instance_uuid():
    assert instance_uuid(SimpleNamespace(uuid=12)) == "12"
    for bad in (SimpleNamespace(), SimpleNamespace(uuid=None), SimpleNamespace(uuid="")):
        with pytest.raises(exception.Invalid, match="uuid"):
            instance_uuid(bad)


def test_instance_image_meta_accepts_objects_dicts_and_request_specs():
    image = ImageMeta.from_dict({"properties": {"hw_cpu_policy": "dedicated"}})
    assert instance_image_meta(SimpleNamespace(image_meta=image)) is image
    converted = instance_image_meta(
        SimpleNamespace(image_meta={"properties": {"hw_numa_nodes": 2}})
    )
    assert converted.properties.get("hw_numa_nodes") == 2
    assert instance_image_meta(SimpleNamespace(image=image)) is image  # Nova's RequestSpec
    assert instance_image_meta(SimpleNamespace()) is None


def test_requested_topology_prefers_the_preset_request():
    preset = ft.guest([1])
    vm = Instance(
        "vm",
        Flavor(vcpus=4, memory_mb=1024, extra_specs={"hw:numa_nodes": "2"}),
        numa_topology=preset,
    )
    assert requested_topology(vm) is preset


@pytest.mark.parametrize(
    "extra_specs, image, cells",
    [
        ({}, None, None),
        ({"hw:numa_nodes": "2"}, None, 2),
        ({}, {"properties": {"hw_cpu_policy": "dedicated"}}, 1),
    ],
    ids=["no NUMA", "two nodes", "image pinning"],
)
def test_requested_topology_from_flavor_and_image(extra_specs, image, cells):
    vm = Instance("vm", Flavor(vcpus=4, memory_mb=1024, extra_specs=extra_specs), image)
    topology = requested_topology(vm)
    assert (None if topology is None else len(topology.cells)) == cells


def test_flavor_and_image_of_every_request_form():
    flavor = Flavor(vcpus=2, memory_mb=512)
    image = ImageMeta.from_dict({"properties": {"hw_cpu_policy": "dedicated"}})
    assert flavor_and_image((flavor, image)) == (flavor, image)
    assert flavor_and_image(flavor) == (flavor, None)
    assert flavor_and_image(Instance("vm", flavor, image)) == (flavor, image)
    assert flavor_and_image(SimpleNamespace(flavor=flavor, image=image)) == (flavor, image)


def test_requested_topology_of_every_request_form():
    # The scheduler filter and the tracker read requests through this one function.
    preset = ft.guest([1])
    flavor = Flavor(vcpus=4, memory_mb=1024, extra_specs={"hw:numa_nodes": "2"})
    assert requested_topology(None) is None
    assert requested_topology(preset) is preset
    assert len(requested_topology(flavor).cells) == 2
    assert len(requested_topology((flavor, None)).cells) == 2
    image = {"properties": {"hw_numa_nodes": 1}}
    spec = SimpleNamespace(flavor=Flavor(vcpus=4, memory_mb=1024), image=image, numa_topology=None)
    assert len(requested_topology(spec).cells) == 1
    assert requested_topology(Flavor(vcpus=4, memory_mb=1024)) is None
