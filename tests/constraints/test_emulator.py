"""hw:emulator_threads_mask / hw_emulator_threads_mask (os-numa extension)."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.constraints import topology
from tests.constraints.helpers import assert_error, flavor, image, table

DED = {"hw:cpu_policy": "dedicated"}
MIXED_23 = {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "2-3"}
RT_0 = {**DED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"}

MASKS = [
    # (id, specs, image props, expected mask)
    ("unset", DED, {}, None),
    ("beside-vcpu-0", {**DED, "hw:emulator_threads_mask": "0"}, {}, {0}),
    ("two-vcpus", {**DED, "hw:emulator_threads_mask": "0-1"}, {}, {0, 1}),
    ("caret-form", {**DED, "hw:emulator_threads_mask": "^1-3"}, {}, {0}),
    ("image-only", DED, {"hw_emulator_threads_mask": "3"}, {3}),
    (
        "image-wins",
        {**DED, "hw:emulator_threads_mask": "0"},
        {"hw_emulator_threads_mask": "1"},
        {1},
    ),
    ("realtime-housekeeping-vcpu", {**RT_0, "hw:emulator_threads_mask": "0"}, {}, {0}),
    ("mixed-pinned-vcpu", {**MIXED_23, "hw:emulator_threads_mask": "2"}, {}, {2}),
    # A floating (housekeeping) vCPU of a mixed guest: the threads float with it.
    ("mixed-floating-vcpu", {**MIXED_23, "hw:emulator_threads_mask": "1-2"}, {}, {1, 2}),
]


@pytest.mark.parametrize("specs,props,expected", table(MASKS))
def test_emulator_mask(specs, props, expected):
    got = topology.numa_get_constraints(flavor(specs), image(props))
    assert got.emulator_threads_mask == expected
    assert got.emulator_threads_policy is None
    assert topology.get_emulator_threads_mask_constraint(flavor(specs), image(props)) == expected


MASK_ERRORS = [
    (
        "with-isolate",
        {**DED, "hw:emulator_threads_policy": "isolate", "hw:emulator_threads_mask": "0"},
        {},
        "hw:emulator_threads_policy=isolate already decides",
    ),
    (
        "with-share",
        {**DED, "hw:emulator_threads_policy": "share", "hw:emulator_threads_mask": "0"},
        {},
        "use either the mask",
    ),
    (
        "with-pool",
        {**DED, "hw:emulator_threads_policy": "pool"},
        {"hw_emulator_threads_mask": "0"},
        "image property hw_emulator_threads_mask='0'",
    ),
    ("not-pinned", {"hw:numa_nodes": "1", "hw:emulator_threads_mask": "0"}, {}, "none is pinned"),
    ("realtime-vcpu", {**RT_0, "hw:emulator_threads_mask": "0-1"}, {}, "vCPU(s) 1 are realtime"),
    ("out-of-range", {**DED, "hw:emulator_threads_mask": "4"}, {}, "vCPU(s) 4 do not exist"),
    ("empty", {**DED, "hw:emulator_threads_mask": "^0-3"}, {}, "names no vCPU"),
    ("not-a-spec", {**DED, "hw:emulator_threads_mask": "zero"}, {}, "not a vCPU spec"),
]


@pytest.mark.parametrize("specs,props,text", table(MASK_ERRORS))
def test_emulator_mask_errors(specs, props, text):
    assert_error(
        exception.InvalidEmulatorThreadsMask,
        text,
        topology.numa_get_constraints,
        flavor(specs),
        image(props),
    )


def test_mask_on_shared_flavor_without_topology_is_still_refused():
    # Nothing else asks for NUMA placement, but a mask without pinning is a mistake.
    assert_error(
        exception.InvalidEmulatorThreadsMask,
        "none is pinned",
        topology.get_emulator_threads_mask_constraint,
        flavor({"hw:emulator_threads_mask": "0"}),
        None,
    )


def test_mask_lets_every_other_vcpu_be_realtime():
    specs = {**RT_0, "hw:emulator_threads_mask": "0", "hw:numa_nodes": "2"}
    got = topology.numa_get_constraints(flavor(specs), None)
    assert got.emulator_threads_mask == {0}
    assert [set(c.pcpuset) for c in got.cells] == [{0, 1}, {2, 3}]
