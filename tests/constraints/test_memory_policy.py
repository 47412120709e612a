"""hw:numa_memory_policy / hw_numa_memory_policy: values, precedence, errors."""

from __future__ import annotations

import pytest

from os_numa import exception, hardware
from tests.constraints.helpers import flavor, image, nova_like_flavor, nova_like_image

PINNED = {"hw:cpu_policy": "dedicated"}


@pytest.mark.parametrize("policy", ["strict", "preferred", "interleave", "restrictive"])
def test_every_libvirt_mode(policy):
    specs = dict(PINNED, **{"hw:numa_memory_policy": policy})
    assert hardware.get_numa_memory_policy_constraint(flavor(specs), None) == policy
    assert hardware.numa_get_constraints(flavor(specs), None) is not None


def test_unset_is_none():
    assert hardware.get_numa_memory_policy_constraint(flavor(PINNED), None) is None


def test_image_is_used_when_the_flavor_sets_none():
    props = {"hw_numa_memory_policy": "interleave"}
    assert hardware.get_numa_memory_policy_constraint(flavor(PINNED), image(props)) == "interleave"
    got = hardware.get_numa_memory_policy_constraint(
        nova_like_flavor(PINNED), nova_like_image(props)
    )
    assert got == "interleave"


def test_image_may_repeat_but_not_contradict_the_flavor():
    specs = dict(PINNED, **{"hw:numa_memory_policy": "preferred"})
    same = image({"hw_numa_memory_policy": "preferred"})
    assert hardware.get_numa_memory_policy_constraint(flavor(specs), same) == "preferred"
    with pytest.raises(exception.ImageNUMAMemoryPolicyForbidden, match="preferred"):
        hardware.numa_get_constraints(flavor(specs), image({"hw_numa_memory_policy": "strict"}))


@pytest.mark.parametrize("value", ["STRICT", "bind", "preferred-many"])
def test_unknown_values_are_refused(value):
    with pytest.raises(exception.InvalidNUMAMemoryPolicy, match="hw:numa_memory_policy"):
        hardware.numa_get_constraints(
            flavor(dict(PINNED, **{"hw:numa_memory_policy": value})), None
        )


def test_a_mode_needs_a_numa_guest():
    with pytest.raises(exception.InvalidNUMAMemoryPolicy, match="hw:numa_nodes"):
        hardware.numa_get_constraints(flavor({"hw:numa_memory_policy": "interleave"}), None)
    # strict is what every guest gets anyway: accepted, and still no NUMA placement.
    assert hardware.numa_get_constraints(flavor({"hw:numa_memory_policy": "strict"}), None) is None
