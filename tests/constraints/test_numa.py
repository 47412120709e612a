"""hw:numa_nodes, hw:numa_cpus.N, hw:numa_mem.N and their image twins."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.constraints import numa
from tests.constraints.helpers import assert_error, flavor, image, table

NODES = [
    ("unset", {}, {}, None),
    ("flavor", {"hw:numa_nodes": "2"}, {}, 2),
    ("image", {}, {"hw_numa_nodes": 4}, 4),
    ("one", {"hw:numa_nodes": "1"}, {}, 1),
    ("empty-flavor-value-falls-back-to-image", {"hw:numa_nodes": ""}, {"hw_numa_nodes": 2}, 2),
]


@pytest.mark.parametrize("specs,props,expected", table(NODES))
def test_node_count(specs, props, expected):
    assert numa.get_numa_nodes_constraint(flavor(specs), image(props)) == expected


NODE_ERRORS = [
    ("zero", {"hw:numa_nodes": "0"}, {}, exception.InvalidNUMANodesNumber, "hw:numa_nodes='0'"),
    ("negative", {"hw:numa_nodes": "-1"}, {}, exception.InvalidNUMANodesNumber, "1 to 4"),
    ("not-int", {"hw:numa_nodes": "two"}, {}, exception.InvalidNUMANodesNumber, "'two'"),
    ("more-than-vcpus", {"hw:numa_nodes": "5"}, {}, exception.InvalidNUMANodesNumber, "4 vCPUs"),
    ("huge", {"hw:numa_nodes": "9" * 40}, {}, exception.InvalidNUMANodesNumber, "1 to 4"),
    (
        "image-zero",
        {},
        {"hw_numa_nodes": 0},
        exception.InvalidNUMANodesNumber,
        "image property hw_numa_nodes=0",
    ),
    (
        "both",
        {"hw:numa_nodes": "2"},
        {"hw_numa_nodes": 2},
        exception.ImageNUMATopologyForbidden,
        "hw_numa_nodes",
    ),
]


@pytest.mark.parametrize("specs,props,error,text", table(NODE_ERRORS))
def test_node_count_errors(specs, props, error, text):
    assert_error(error, text, numa.get_numa_nodes_constraint, flavor(specs), image(props))


def test_node_count_is_bounded_by_128_even_with_many_vcpus():
    f = flavor({"hw:numa_nodes": "129"}, vcpus=256, memory_mb=256 * 1024)
    with pytest.raises(exception.InvalidNUMANodesNumber) as info:
        numa.get_numa_nodes_constraint(f, None)
    assert "at most 128" in str(info.value)
    assert numa.get_numa_nodes_constraint(flavor({"hw:numa_nodes": "128"}, vcpus=256), None) == 128


def _split(specs, props, nodes, vcpus=4, memory_mb=4096):
    splits = numa.split_nodes(flavor(specs, vcpus, memory_mb), image(props), nodes)
    return [(set(s.vcpus), s.memory_mb) for s in splits]


SPLITS = [
    ("auto-one", {}, {}, 1, [({0, 1, 2, 3}, 4096)]),
    ("auto-two", {}, {}, 2, [({0, 1}, 2048), ({2, 3}, 2048)]),
    ("auto-four", {}, {}, 4, [({0}, 1024), ({1}, 1024), ({2}, 1024), ({3}, 1024)]),
    (
        "manual-flavor",
        {
            "hw:numa_cpus.0": "0",
            "hw:numa_cpus.1": "1-3",
            "hw:numa_mem.0": "1024",
            "hw:numa_mem.1": "3072",
        },
        {},
        2,
        [({0}, 1024), ({1, 2, 3}, 3072)],
    ),
    (
        "manual-flavor-interleaved",
        {
            "hw:numa_cpus.0": "0,2",
            "hw:numa_cpus.1": "1,3",
            "hw:numa_mem.0": "2048",
            "hw:numa_mem.1": "2048",
        },
        {},
        2,
        [({0, 2}, 2048), ({1, 3}, 2048)],
    ),
    (
        "manual-image-flat",
        {},
        {
            "hw_numa_cpus.0": "0-2",
            "hw_numa_cpus.1": "3",
            "hw_numa_mem.0": "3072",
            "hw_numa_mem.1": "1024",
        },
        2,
        [({0, 1, 2}, 3072), ({3}, 1024)],
    ),
    (
        "cpus-from-flavor-mem-from-image",
        {"hw:numa_cpus.0": "0-3"},
        {"hw_numa_mem.0": "4096"},
        1,
        [({0, 1, 2, 3}, 4096)],
    ),
]


@pytest.mark.parametrize("specs,props,nodes,expected", table(SPLITS))
def test_split(specs, props, nodes, expected):
    assert _split(specs, props, nodes) == expected


def _manual(cpus: list[str], mems: list[str]) -> dict[str, str]:
    specs = {f"hw:numa_cpus.{i}": v for i, v in enumerate(cpus)}
    specs.update({f"hw:numa_mem.{i}": v for i, v in enumerate(mems)})
    return specs


SPLIT_ERRORS = [
    ("auto-cpus-asymmetric", {}, {}, 3, exception.ImageNUMATopologyAsymmetric, "3 NUMA nodes"),
    (
        "cpus-without-mem",
        {"hw:numa_cpus.0": "0-3"},
        {},
        1,
        exception.ImageNUMATopologyIncomplete,
        "hw:numa_mem.N is not",
    ),
    (
        "mem-without-cpus",
        {"hw:numa_mem.0": "4096"},
        {},
        1,
        exception.ImageNUMATopologyIncomplete,
        "hw:numa_cpus.N is not",
    ),
    (
        "count-short",
        _manual(["0-3"], ["4096"]),
        {},
        2,
        exception.ImageNUMATopologyIncomplete,
        "set for 1 node(s) but the guest has 2",
    ),
    (
        "gap",
        {**_manual(["0-1"], ["4096"]), "hw:numa_cpus.2": "2-3"},
        {},
        1,
        exception.ImageNUMATopologyIncomplete,
        "hw:numa_cpus.1 is missing",
    ),
    (
        "bad-index",
        {**_manual(["0-3"], ["4096"]), "hw:numa_mem.x": "1"},
        {},
        1,
        exception.ImageNUMATopologyIncomplete,
        "hw:numa_mem.x",
    ),
    (
        "index-too-big",
        {**_manual(["0-3"], ["4096"]), "hw:numa_mem.128": "1"},
        {},
        1,
        exception.ImageNUMATopologyIncomplete,
        "0..127",
    ),
    (
        "out-of-range",
        _manual(["0-1", "2-4"], ["2048", "2048"]),
        {},
        2,
        exception.ImageNUMATopologyCPUOutOfRange,
        "vCPU 4",
    ),
    (
        "duplicate",
        _manual(["0-2", "2-3"], ["2048", "2048"]),
        {},
        2,
        exception.ImageNUMATopologyCPUDuplicates,
        "vCPU 2",
    ),
    (
        "unassigned",
        _manual(["0", "2"], ["2048", "2048"]),
        {},
        2,
        exception.ImageNUMATopologyCPUsUnassigned,
        "1,3",
    ),
    (
        "empty-node",
        _manual(["0-3", ""], ["2048", "2048"]),
        {},
        2,
        exception.ImageNUMATopologyIncomplete,
        "hw:numa_cpus.1 names no vCPU",
    ),
    (
        "bad-cpu-spec",
        _manual(["0-3", "x"], ["2048", "2048"]),
        {},
        2,
        exception.ImageNUMATopologyIncomplete,
        "hw:numa_cpus.1='x'",
    ),
    (
        "memory-sum",
        _manual(["0-1", "2-3"], ["2048", "1024"]),
        {},
        2,
        exception.ImageNUMATopologyMemoryOutOfRange,
        "3072 MB, but the flavor has 4096",
    ),
    (
        "memory-not-int",
        _manual(["0-1", "2-3"], ["2GB", "2048"]),
        {},
        2,
        exception.ImageNUMATopologyMemoryOutOfRange,
        "hw:numa_mem.0='2GB'",
    ),
    (
        "memory-zero",
        _manual(["0-1", "2-3"], ["0", "4096"]),
        {},
        2,
        exception.ImageNUMATopologyMemoryOutOfRange,
        "from 1",
    ),
    (
        "cpus-in-both",
        {"hw:numa_cpus.0": "0-3", "hw:numa_mem.0": "4096"},
        {"hw_numa_cpus.0": "0-3"},
        1,
        exception.ImageNUMATopologyForbidden,
        "hw_numa_cpus",
    ),
    (
        "mem-in-both",
        {"hw:numa_cpus.0": "0-3", "hw:numa_mem.0": "4096"},
        {"hw_numa_mem.0": "4096"},
        1,
        exception.ImageNUMATopologyForbidden,
        "hw_numa_mem",
    ),
]


@pytest.mark.parametrize("specs,props,nodes,error,text", table(SPLIT_ERRORS))
def test_split_errors(specs, props, nodes, error, text):
    assert_error(error, text, _split, specs, props, nodes)


def test_memory_asymmetric_even_when_cpus_divide():
    with pytest.raises(exception.ImageNUMATopologyAsymmetric):
        _split({}, {}, 2, vcpus=4, memory_mb=4095)
