"""Tests for ImageMeta / ImageMetaProps (Glance's flat keys) and VirtCPUTopology."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa import objects as o


def props(**properties):
    return o.ImageMeta.from_dict({"properties": properties}).properties


FROM_DICT = {
    "nothing": ({}, {}),
    "policies": (
        {"hw_cpu_policy": "dedicated", "hw_cpu_thread_policy": "isolate"},
        {"hw_cpu_policy": "dedicated", "hw_cpu_thread_policy": "isolate"},
    ),
    "realtime mask and page size": (
        {"hw_cpu_realtime_mask": "^0", "hw_mem_page_size": "2MB"},
        {"hw_cpu_realtime_mask": "^0", "hw_mem_page_size": "2MB"},
    ),
    "string integers": ({"hw_numa_nodes": "2"}, {"hw_numa_nodes": 2}),
    "flat numa keys": (
        {
            "hw_numa_nodes": "2",
            "hw_numa_cpus.0": "0-1",
            "hw_numa_cpus.1": "2,3,^3",
            "hw_numa_mem.0": "1024",
            "hw_numa_mem.1": 512,
        },
        {"hw_numa_nodes": 2, "hw_numa_cpus": [{0, 1}, {2}], "hw_numa_mem": [1024, 512]},
    ),
    "a gap stops reading": (
        {"hw_numa_cpus.0": "0", "hw_numa_cpus.2": "2", "hw_numa_mem.0": "64", "hw_numa_mem.2": "x"},
        {"hw_numa_cpus": [{0}], "hw_numa_mem": [64]},
    ),
    "no index 0 means unset": ({"hw_numa_cpus.1": "0", "hw_numa_mem.1": "64"}, {}),
    "lists under the plain name": (
        {"hw_numa_cpus": ["0", [1, 2]], "hw_numa_mem": ["256", 256]},
        {"hw_numa_cpus": [{0}, {1, 2}], "hw_numa_mem": [256, 256]},
    ),
    "flat keys win over the plain name": (
        {"hw_numa_cpus": ["7"], "hw_numa_cpus.0": "0"},
        {"hw_numa_cpus": [{0}]},
    ),
    "locked memory yes": ({"hw_locked_memory": "yes"}, {"hw_locked_memory": True}),
    "locked memory false string": ({"hw_locked_memory": "false"}, {"hw_locked_memory": False}),
    "locked memory bool": ({"hw_locked_memory": True}, {"hw_locked_memory": True}),
    "None is unset": ({"hw_cpu_policy": None}, {}),
    "unknown properties ignored": ({"os_distro": "debian", "hw_foo": "1"}, {}),
}


@pytest.mark.parametrize(("given", "expected"), FROM_DICT.values(), ids=FROM_DICT.keys())
def test_from_dict(given, expected):
    p = props(**given)
    assert {name: p.get(name) for name in p.fields if p.obj_attr_is_set(name)} == expected


def test_from_dict_does_not_modify_its_input():
    given = {"properties": {"hw_numa_cpus.0": "0-1", "hw_numa_mem.0": "64"}}
    o.ImageMeta.from_dict(given)
    assert given == {"properties": {"hw_numa_cpus.0": "0-1", "hw_numa_mem.0": "64"}}


def test_numa_keys_are_read_up_to_the_limit():
    many = {f"hw_numa_mem.{i}": "1" for i in range(o.image_meta.MAX_NUMA_NODES + 5)}
    assert len(props(**many).hw_numa_mem) == o.image_meta.MAX_NUMA_NODES


BAD = {
    # properties, key named in the message, fragment of the reason
    "cpu spec": ({"hw_numa_cpus.0": "0-1", "hw_numa_cpus.1": "x"}, "hw_numa_cpus.1", "'x'"),
    "reversed range": ({"hw_numa_cpus.0": "3-1"}, "hw_numa_cpus.0", "start 3 > end 1"),
    "cpus not a spec": ({"hw_numa_cpus.0": 5}, "hw_numa_cpus.0", "CPU spec"),
    "negative vcpu in a list": ({"hw_numa_cpus": [[-1]]}, "hw_numa_cpus[0]", "non-negative"),
    "memory not an integer": ({"hw_numa_mem.0": "1.5"}, "hw_numa_mem.0", "integer number of MB"),
    "memory a bool": ({"hw_numa_mem.0": True}, "hw_numa_mem.0", "integer"),
    "memory in a list": ({"hw_numa_mem": [1, "a"]}, "hw_numa_mem[1]", "integer number of MB"),
    "plain name not a list": ({"hw_numa_cpus": "0-1"}, "hw_numa_cpus", "a list"),
    "node count": ({"hw_numa_nodes": "two"}, "hw_numa_nodes", "two"),
    "locked memory": ({"hw_locked_memory": "maybe"}, "hw_locked_memory", "maybe"),
    "traits": ({"traits_required": "HW_CPU_X"}, "traits_required", "list"),
}


@pytest.mark.parametrize(("given", "key", "fragment"), BAD.values(), ids=BAD.keys())
def test_bad_values_raise_a_typed_error_naming_the_key(given, key, fragment):
    with pytest.raises(exception.InvalidImageProperty) as info:
        props(**given)
    message = str(info.value)
    assert message.startswith(f"Image property {key}=")
    assert fragment in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("image_meta", [["hw_cpu_policy"], "dedicated", 3])
def test_image_meta_must_be_a_mapping(image_meta):
    with pytest.raises(exception.InvalidImageProperty, match="a mapping is required"):
        o.ImageMeta.from_dict(image_meta)


def test_properties_must_be_a_mapping():
    with pytest.raises(exception.InvalidImageProperty, match="a mapping is required"):
        o.ImageMeta.from_dict({"properties": [("hw_cpu_policy", "dedicated")]})


@pytest.mark.parametrize("image_meta", [None, {}, {"properties": None}, {"id": "x"}])
def test_no_image_means_no_properties(image_meta):
    p = o.ImageMeta.from_dict(image_meta).properties
    assert not any(p.obj_attr_is_set(name) for name in p.fields)
    assert p.get("hw_cpu_policy") is None
    assert p.get("hw_cpu_policy", "shared") == "shared"


def test_get_ignores_unknown_names():
    assert props(hw_cpu_policy="mixed").get("no_such_property", 5) == 5


def test_props_downgrade_to_1_0_drops_later_fields():
    p = props(
        hw_cpu_policy="dedicated",
        traits_required=["HW_CPU_HYPERTHREADING"],
        hw_emulator_threads_mask="0",
    )
    old = p.obj_to_primitive(target_version="1.0")["os_numa_object.data"]
    assert old == {"hw_cpu_policy": "dedicated"}


def test_image_meta_downgrade_downgrades_its_properties():
    meta = o.ImageMeta.from_dict(
        {"properties": {"hw_cpu_policy": "dedicated", "hw_emulator_threads_mask": "0"}}
    )
    primitive = meta.obj_to_primitive(target_version="1.0")
    inner = primitive["os_numa_object.data"]["properties"]
    assert inner["os_numa_object.version"] == "1.0"
    assert inner["os_numa_object.data"] == {"hw_cpu_policy": "dedicated"}


def test_virt_cpu_topology_defaults():
    t = o.VirtCPUTopology()
    assert (t.sockets, t.cores, t.threads) == (1, 1, 1)
    t = o.VirtCPUTopology(sockets=2, cores=4, threads=2)
    assert (t.sockets, t.cores, t.threads) == (2, 4, 2)
