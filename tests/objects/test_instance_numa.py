"""Tests for the guest NUMA objects: InstanceNUMACell and InstanceNUMATopology."""

from __future__ import annotations

import json

import pytest

from os_numa import exception
from os_numa import objects as o

PREFIX = "os_numa_object."


def data(primitive):
    return primitive[PREFIX + "data"]


def acceptance_topology():
    """Issue 2's acceptance one-liner: one pinned cell with an emulator pCPU."""
    return o.InstanceNUMATopology(
        cells=[
            o.InstanceNUMACell(id=0, cpuset=set(), pcpuset={0, 1}, memory=1024, cpuset_reserved={3})
        ],
        emulator_threads_policy="isolate",
    )


# Named guest topologies, as a fit leaves them (id = host cell id).
PLACEMENTS = {
    # Nova's example A1: 2 guest cells, emulator isolate, reserved pCPU beside guest cell 0.
    "dedicated-2-cells-isolate": lambda: o.InstanceNUMATopology(
        cells=[
            o.InstanceNUMACell(
                id=0,
                cpuset=set(),
                pcpuset={0, 1},
                memory=1024,
                cpu_pinning={0: 0, 1: 1},
                cpuset_reserved={2},
                cpu_policy="dedicated",
            ),
            o.InstanceNUMACell(
                id=1,
                cpuset=set(),
                pcpuset={2, 3},
                memory=1024,
                cpu_pinning={2: 6, 3: 7},
                cpu_policy="dedicated",
            ),
        ],
        emulator_threads_policy="isolate",
    ),
    # Nova's example D1: mixed, vCPUs 0-1 float, 2-3 pinned.
    "mixed-share": lambda: o.InstanceNUMATopology(
        cells=[
            o.InstanceNUMACell(
                id=0,
                cpuset={0, 1},
                pcpuset={2, 3},
                memory=2048,
                cpu_pinning={2: 6, 3: 2},
                cpu_policy="mixed",
                cpu_thread_policy="prefer",
            )
        ],
        emulator_threads_policy="share",
    ),
    # A shared (floating) guest: no pinning at all, no emulator policy.
    "shared-unpinned": lambda: o.InstanceNUMATopology(
        cells=[
            o.InstanceNUMACell(id=0, cpuset={0, 1}, memory=512, pagesize=2048),
            o.InstanceNUMACell(id=1, cpuset={2, 3}, memory=512, pagesize=2048),
        ]
    ),
}

TOPOLOGY_PROPERTIES = {
    # name: (emulator_threads_isolated, cpu_pinning, cpuset_reserved, cpu_policy, vcpus, memory)
    "dedicated-2-cells-isolate": (True, {0, 1, 6, 7}, {2}, "dedicated", 4, 2048),
    "mixed-share": (False, {6, 2}, set(), "mixed", 4, 2048),
    "shared-unpinned": (False, set(), set(), None, 4, 1024),
}


@pytest.mark.parametrize(
    ("name", "isolated", "pinning", "reserved", "policy", "vcpus", "memory"),
    [(name, *values) for name, values in TOPOLOGY_PROPERTIES.items()],
)
def test_topology_properties(name, isolated, pinning, reserved, policy, vcpus, memory):
    t = PLACEMENTS[name]()
    assert t.emulator_threads_isolated is isolated
    assert t.cpu_pinning == pinning
    assert t.cpuset_reserved == reserved
    assert t.cpu_policy == policy
    assert t.vcpus == vcpus
    assert t.memory == memory


def test_cpuset_reserved_is_the_union_over_cells():
    t = PLACEMENTS["dedicated-2-cells-isolate"]()
    t.cells[1].cpuset_reserved = {9, 2}
    assert t.cpuset_reserved == {2, 9}


def test_cpu_policy_disagreement_is_an_internal_error():
    t = PLACEMENTS["dedicated-2-cells-isolate"]()
    t.cells[1].cpu_policy = "mixed"
    with pytest.raises(exception.InternalError, match="disagree on cpu_policy"):
        t.cpu_policy  # noqa: B018 (the property raises)


def test_topology_defaults():
    t = o.InstanceNUMATopology(cells=[])
    assert t.emulator_threads_policy is None
    assert not t.emulator_threads_isolated
    assert t.cpu_pinning == set()
    assert t.cpuset_reserved == set()
    assert t.cpu_policy is None


@pytest.mark.parametrize("policy", ["share", "isolate", None])
def test_emulator_policy_values(policy):
    t = o.InstanceNUMATopology(cells=[], emulator_threads_policy=policy)
    assert t.emulator_threads_policy == policy
    assert t.emulator_threads_isolated is (policy == "isolate")


@pytest.mark.parametrize("policy", ["ISOLATE", "shared", "", "pool-x"])
def test_emulator_policy_rejects_other_values(policy):
    with pytest.raises(ValueError):
        o.InstanceNUMATopology(cells=[], emulator_threads_policy=policy)


# --- InstanceNUMACell -------------------------------------------------------------------------


def test_cell_defaults():
    c = o.InstanceNUMACell(id=0, cpuset={0, 1}, memory=256)
    assert c.pcpuset == set()
    assert c.pagesize is None
    assert c.cpu_pinning is None
    assert c.cpu_pinning_raw is None
    assert c.cpuset_reserved is None
    assert c.cpu_policy is None
    assert c.cpu_thread_policy is None


def test_cell_cpu_pinning_proxies_the_raw_field():
    c = o.InstanceNUMACell(id=0, cpuset=set(), pcpuset={0, 1}, memory=1, cpu_pinning={1: 9, 0: 8})
    assert c.cpu_pinning == {0: 8, 1: 9}
    assert c.cpu_pinning_raw == {"0": 8, "1": 9}
    c.cpu_pinning = {0: 4}
    assert c.cpu_pinning_raw == {"0": 4}
    c.cpu_pinning = None
    assert c.cpu_pinning is None
    assert c.cpu_pinning_raw is None


def test_cell_cpu_pinning_argument_is_not_mutated():
    pinning = {0: 8}
    c = o.InstanceNUMACell(id=0, cpuset=set(), pcpuset={0}, memory=1, cpu_pinning=pinning)
    c.cpu_pinning[0] = 99
    assert pinning == {0: 8}
    assert c.cpu_pinning == {0: 8}


CELL_PROPERTIES = {
    # (cpuset, pcpuset, policy): (total_cpus, cpus, cpu_pinning_requested)
    "shared": (({0, 1}, set(), "shared"), (2, {0, 1}, False)),
    "unset": (({0}, set(), None), (1, {0}, False)),
    "dedicated": ((set(), {0, 1, 2}, "dedicated"), (3, {0, 1, 2}, True)),
    "mixed": (({0}, {1, 2}, "mixed"), (3, {0, 1, 2}, True)),
}


@pytest.mark.parametrize(("given", "expected"), CELL_PROPERTIES.values(), ids=CELL_PROPERTIES)
def test_cell_properties(given, expected):
    cpuset, pcpuset, policy = given
    c = o.InstanceNUMACell(id=0, cpuset=cpuset, pcpuset=pcpuset, memory=1, cpu_policy=policy)
    assert (c.total_cpus, c.cpus, c.cpu_pinning_requested) == expected


def test_cell_cpuset_reserved_or_empty():
    c = o.InstanceNUMACell(id=0, cpuset={0}, memory=1)
    assert c.cpuset_reserved_or_empty == set()
    c.cpuset_reserved = {5}
    assert c.cpuset_reserved_or_empty == {5}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_policy", "pinned"),
        ("cpu_thread_policy", "always"),
        ("cpuset", {"x"}),
        ("memory", "lots"),
    ],
)
def test_cell_rejects_bad_values(field, value):
    kwargs = dict(id=0, cpuset={0}, memory=1)
    kwargs[field] = value
    with pytest.raises(ValueError):
        o.InstanceNUMACell(**kwargs)


# --- downgrades ---------------------------------------------------------------------------------

CELL_V10 = {
    "id",
    "cpuset",
    "memory",
    "pagesize",
    "cpu_pinning_raw",
    "cpu_policy",
    "cpu_thread_policy",
}
# What each InstanceNUMACell version carries.
CELL_KEYS = {
    "1.0": CELL_V10,
    "1.1": CELL_V10 | {"cpuset_reserved"},
    "1.2": CELL_V10 | {"cpuset_reserved", "pcpuset"},
    "1.3": CELL_V10 | {"cpuset_reserved", "pcpuset"},
}
# Fields InstanceNUMATopology gained after 1.0, with the version that added them.
TOPOLOGY_ADDED = {
    "emulator_threads_policy": "1.1",
    "pci_devices": "1.4",
    "emulator_threads_count": "1.5",
    "emulator_threads_mask": "1.5",
    "realtime_vcpus": "1.6",
    "emulator_pool_cpu": "1.7",
    "iothreads": "1.8",
    "iothreads_policy": "1.8",
    "realtime_priority": "1.9",
    "locked_memory": "1.9",
    "memory_policy": "1.9",
}
# The InstanceNUMACell version each InstanceNUMATopology version carries.
TOPOLOGY_CELL_VERSION = {
    "1.0": "1.0",
    "1.1": "1.1",
    "1.2": "1.2",
    "1.3": "1.3",
    "1.4": "1.3",
    "1.5": "1.3",
    "1.6": "1.3",
    "1.7": "1.3",
    "1.8": "1.3",
    "1.9": "1.3",
}


def versions(cls):
    major, minor = cls.VERSION.split(".")
    return [f"{major}.{n}" for n in range(int(minor) + 1)]


def test_downgrade_tables_cover_every_version_and_field():
    assert list(TOPOLOGY_CELL_VERSION) == versions(o.InstanceNUMATopology)
    assert list(CELL_KEYS) == versions(o.InstanceNUMACell)
    assert CELL_KEYS[o.InstanceNUMACell.VERSION] == set(o.InstanceNUMACell.fields)
    assert set(o.InstanceNUMATopology.fields) == {"cells"} | set(TOPOLOGY_ADDED)


def version_tuple(version):
    return tuple(int(x) for x in version.split("."))


@pytest.mark.parametrize("version", list(TOPOLOGY_CELL_VERSION))
def test_acceptance_downgrade_loses_only_fields_the_version_lacks(version):
    t = acceptance_topology()
    full = data(t.obj_to_primitive())
    primitive = t.obj_to_primitive(target_version=version)
    assert primitive[PREFIX + "version"] == version
    got = data(primitive)
    want_keys = {"cells"} | {
        f for f, added in TOPOLOGY_ADDED.items() if version_tuple(added) <= version_tuple(version)
    }
    assert set(got) == want_keys
    assert set(primitive[PREFIX + "changes"]) <= want_keys
    for key in want_keys - {"cells"}:
        assert got[key] == full[key]

    (cell,) = got["cells"]
    cell_version = TOPOLOGY_CELL_VERSION[version]
    assert cell[PREFIX + "version"] == cell_version
    cell_data = data(cell)
    assert set(cell_data) == CELL_KEYS[cell_version]
    assert set(cell[PREFIX + "changes"]) <= CELL_KEYS[cell_version]
    full_cell = data(full["cells"][0])
    for key in CELL_KEYS[cell_version] - {"cpuset"}:
        assert cell_data[key] == full_cell[key], key
    if "pcpuset" in cell_data:
        assert (cell_data["cpuset"], cell_data["pcpuset"]) == ((), (0, 1))
    else:
        # Older cells keep pinned vCPUs in cpuset: moved, not lost.
        assert cell_data["cpuset"] == (0, 1)


def test_acceptance_first_versions_exactly():
    """The one-liner of issue 2 at InstanceNUMATopology 1.0 / InstanceNUMACell 1.0."""
    primitive = acceptance_topology().obj_to_primitive(target_version="1.0")
    (cell,) = data(primitive)["cells"]
    assert set(cell.pop(PREFIX + "changes")) == CELL_KEYS["1.0"]
    assert primitive[PREFIX + "changes"] == ["cells"]
    assert data(primitive) == {
        "cells": [
            {
                PREFIX + "name": "OsNumaInstanceNUMACell",
                PREFIX + "namespace": "os_numa",
                PREFIX + "version": "1.0",
                PREFIX + "data": {
                    "id": 0,
                    "cpuset": (0, 1),
                    "memory": 1024,
                    "pagesize": None,
                    "cpu_pinning_raw": None,
                    "cpu_policy": None,
                    "cpu_thread_policy": None,
                },
            }
        ]
    }


def test_acceptance_current_version_keeps_everything():
    t = acceptance_topology()
    back = o.InstanceNUMATopology.obj_from_primitive(t.obj_to_primitive())
    assert back == t
    assert back.cells[0].cpuset_reserved == {3}
    assert back.cells[0].pcpuset == {0, 1}
    assert back.emulator_threads_policy == "isolate"


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_downgraded_primitive_loads_with_the_old_meaning(version):
    primitive = acceptance_topology().obj_to_primitive(target_version=version)
    loaded = o.InstanceNUMATopology.obj_from_primitive(primitive)
    assert loaded.cells[0].cpuset == {0, 1}
    assert loaded.cells[0].pcpuset == set()
    assert loaded.cells[0].memory == 1024


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_mixed_cell_cannot_be_downgraded_below_1_3(version):
    c = o.InstanceNUMACell(id=0, cpuset={0}, pcpuset={1}, memory=1, cpu_policy="mixed")
    with pytest.raises(exception.InternalError, match="cannot carry cpu_policy 'mixed'"):
        c.obj_to_primitive(target_version=version)
    assert data(c.obj_to_primitive(target_version="1.3"))["cpu_policy"] == "mixed"


def test_dedicated_cell_downgrade_merges_floating_and_pinned_vcpus():
    c = o.InstanceNUMACell(id=0, cpuset={0}, pcpuset={2, 1}, memory=1, cpu_policy="dedicated")
    assert data(c.obj_to_primitive(target_version="1.1"))["cpuset"] == (0, 1, 2)


def test_downgrade_does_not_modify_the_object():
    t = acceptance_topology()
    t.obj_to_primitive(target_version="1.0")
    assert t.cells[0].pcpuset == {0, 1}
    assert t.cells[0].cpuset == set()
    assert t.cells[0].cpuset_reserved == {3}
    assert t.emulator_threads_policy == "isolate"


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.4"])
def test_pool_policy_cannot_be_downgraded_below_1_5(version):
    t = o.InstanceNUMATopology(cells=[], emulator_threads_policy="pool")
    with pytest.raises(
        exception.InternalError, match="cannot carry emulator_threads_policy 'pool'"
    ):
        t.obj_to_primitive(target_version=version)
    assert data(t.obj_to_primitive(target_version="1.5"))["emulator_threads_policy"] == "pool"


def test_emulator_count_and_mask_round_trip_and_drop_below_1_5():
    t = o.InstanceNUMATopology(
        cells=[], emulator_threads_policy="isolate", emulator_threads_count=2
    )
    t2 = o.InstanceNUMATopology(cells=[], emulator_threads_mask={0, 2})
    back = o.InstanceNUMATopology.obj_from_primitive(t.obj_to_primitive())
    assert (back.emulator_threads_count, back.emulator_threads_mask) == (2, None)
    back2 = o.InstanceNUMATopology.obj_from_primitive(t2.obj_to_primitive())
    assert back2.emulator_threads_mask == {0, 2}
    old = data(t.obj_to_primitive(target_version="1.4"))
    assert "emulator_threads_count" not in old and "emulator_threads_mask" not in old
    assert old["emulator_threads_policy"] == "isolate"


def test_xml_policy_fields_round_trip_and_are_dropped_below_1_9():
    t = acceptance_topology()
    t.realtime_vcpus = {1}
    t.realtime_priority = 50
    t.locked_memory = True
    t.memory_policy = "interleave"
    back = o.InstanceNUMATopology.obj_from_primitive(json.loads(json.dumps(t.obj_to_primitive())))
    assert (back.realtime_priority, back.locked_memory, back.memory_policy) == (
        50,
        True,
        "interleave",
    )
    old = data(t.obj_to_primitive(target_version="1.8"))
    assert not {"realtime_priority", "locked_memory", "memory_policy"} & set(old)
    assert old["realtime_vcpus"] == (1,) and t.realtime_priority == 50
