"""Guest CPU topology: Nova's rules and errors, and os-numa's NUMA and sibling rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import exception, hardware
from os_numa.constraints import cpu_topology as ct
from tests.constraints.helpers import flavor, image, nova_like_flavor, nova_like_image

T = ct.Topology


def best(specs, props=None, vcpus=4, **kwargs):
    topo = hardware.get_best_cpu_topology(flavor(specs, vcpus=vcpus), image(props), **kwargs)
    return (topo.sockets, topo.cores, topo.threads)


# --- Nova's choice --------------------------------------------------------------------------


def test_default_is_one_socket_per_vcpu():
    assert best({}) == (4, 1, 1)


@pytest.mark.parametrize(
    ("specs", "props", "expected"),
    [
        ({"hw:cpu_sockets": "2"}, None, (2, 2, 1)),
        ({"hw:cpu_sockets": "1", "hw:cpu_threads": "2"}, None, (1, 2, 2)),
        ({"hw:cpu_threads": "2"}, None, (2, 1, 2)),
        ({"hw:cpu_max_sockets": "1"}, None, (1, 4, 1)),
        ({"hw:cpu_max_sockets": "1", "hw:cpu_max_cores": "2"}, None, (1, 2, 2)),
        # Any preferred value on the image replaces every value of the flavor.
        ({"hw:cpu_sockets": "2", "hw:cpu_cores": "2"}, {"hw_cpu_threads": 4}, (1, 1, 4)),
        # The image lowered the limit below the flavor's preference: the preference goes.
        ({"hw:cpu_sockets": "4"}, {"hw_cpu_max_sockets": 2}, (2, 2, 1)),
    ],
)
def test_nova_choice(specs, props, expected):
    assert best(specs, props) == expected


def test_without_threads_the_limits_may_be_impossible():
    with pytest.raises(exception.ImageVCPULimitsRangeImpossible, match="4 vCPUs"):
        best({"hw:cpu_max_sockets": "1", "hw:cpu_max_cores": "2"}, allow_threads=False)


def test_preferred_and_maximum_of_nova_objects():
    preferred, maximum = ct.get_cpu_topology_constraints(
        nova_like_flavor({"hw:cpu_max_cores": "8"}), nova_like_image({"hw_cpu_cores": 4})
    )
    assert preferred == T(0, 4, 0)
    assert maximum == T(ct.UNLIMITED, 8, ct.UNLIMITED)


# --- Nova's errors ----------------------------------------------------------------------------


def test_image_limit_above_flavor_limit():
    with pytest.raises(exception.ImageVCPULimitsRangeExceeded, match="hw_cpu_max"):
        best({"hw:cpu_max_sockets": "2"}, {"hw_cpu_max_sockets": 4})


def test_image_preference_above_limits():
    with pytest.raises(exception.ImageVCPUTopologyRangeExceeded, match="hw_cpu_sockets"):
        best({"hw:cpu_max_sockets": "2"}, {"hw_cpu_sockets": 4})


def test_impossible_limits():
    with pytest.raises(exception.ImageVCPULimitsRangeImpossible, match="hw:cpu_max"):
        best({"hw:cpu_max_sockets": "1", "hw:cpu_max_cores": "1", "hw:cpu_max_threads": "2"})


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_flavor_value_must_be_an_integer(value):
    with pytest.raises(exception.InvalidRequest, match="hw:cpu_sockets"):
        best({"hw:cpu_sockets": value})


def test_image_value_must_be_non_negative():
    with pytest.raises(exception.InvalidImageProperty, match="hw_cpu_cores"):
        ct.get_cpu_topology_constraints(flavor({}), nova_like_image({"hw_cpu_cores": -2}))


def test_image_value_must_be_an_integer_in_glance_form():
    with pytest.raises(exception.InvalidImageProperty, match="hw_cpu_threads"):
        image({"hw_cpu_threads": "many"})


def test_numa_get_constraints_checks_topology_first():
    # Nova's API checks the topology before the NUMA keys: the topology error wins.
    specs = {"hw:cpu_max_sockets": "2", "hw:numa_nodes": "9"}
    with pytest.raises(exception.ImageVCPULimitsRangeExceeded):
        hardware.numa_get_constraints(flavor(specs), image({"hw_cpu_max_sockets": 3}))


def test_numa_get_constraints_refuses_impossible_limits_of_a_floating_guest():
    specs = {"hw:cpu_max_sockets": "1", "hw:cpu_max_cores": "1", "hw:cpu_max_threads": "1"}
    with pytest.raises(exception.ImageVCPULimitsRangeImpossible):
        hardware.numa_get_constraints(flavor(specs), None)


def test_topology_keys_alone_ask_for_no_numa_placement():
    assert hardware.numa_get_constraints(flavor({"hw:cpu_sockets": "2"}), None) is None


# --- NUMA consistency ---------------------------------------------------------------------------


def test_cores_stay_inside_guest_cells():
    specs = {
        "hw:numa_nodes": "2",
        "hw:numa_cpus.0": "0-2",
        "hw:numa_cpus.1": "3-5",
        "hw:numa_mem.0": "2048",
        "hw:numa_mem.1": "2048",
        "hw:cpu_threads": "2",
    }
    f = flavor(specs, vcpus=6)
    request = hardware.numa_get_constraints(f, None)
    # Without the cells the preferred threads=2 wins; with them it would put vCPUs 2
    # and 3 (one core) on two nodes, so a one-thread topology is chosen.
    assert best(specs, vcpus=6) == (3, 1, 2)
    topo = hardware.get_best_cpu_topology(f, None, numa_topology=request)
    assert topo.threads == 1


def test_no_consistent_topology_is_refused_with_a_subclass_of_novas_error():
    specs = {"hw:numa_nodes": "2", "hw:cpu_max_sockets": "1", "hw:cpu_max_cores": "1"}
    with pytest.raises(exception.CPUTopologyNUMAMismatch) as info:
        hardware.numa_get_constraints(flavor(specs, vcpus=8), None)
    assert isinstance(info.value, exception.ImageVCPULimitsRangeImpossible)
    assert "guest NUMA" in str(info.value)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    vcpus=st.integers(1, 256),
    limits=st.tuples(*(st.integers(0, 16) for _ in range(3))),
    preferred=st.tuples(*(st.integers(0, 8) for _ in range(3))),
    nodes=st.sampled_from([1, 2, 4]),
)
def test_every_topology_holds_exactly_the_vcpus_within_the_limits(vcpus, limits, preferred, nodes):
    specs = {f"hw:{k}": str(v) for k, v in zip(ct.MAXIMUM_KEYS, limits, strict=True) if v}
    specs.update({f"hw:{k}": str(v) for k, v in zip(ct.PREFERRED_KEYS, preferred, strict=True)})
    f = flavor(specs, vcpus=vcpus, memory_mb=1024 * nodes)
    try:
        found = ct.desirable_cpu_topologies(f, None)
    except exception.ImageVCPULimitsRangeImpossible:
        # Then no product of divisors within the limits makes vcpus.
        caps = [v or vcpus for v in limits]
        assert not any(
            s * c * t == vcpus
            for s in range(1, min(caps[0], vcpus) + 1)
            for c in range(1, min(caps[1], vcpus) + 1)
            for t in range(1, min(caps[2], vcpus) + 1)
            if s * c <= vcpus
        )
        return
    assert found == sorted(set(found), key=found.index)  # no duplicates
    for topo in found:
        assert topo.sockets * topo.cores * topo.threads == vcpus
        for have, cap in zip((topo.sockets, topo.cores, topo.threads), limits, strict=True):
            assert not cap or have <= cap
    if vcpus % nodes == 0 and nodes > 1:
        specs["hw:numa_nodes"] = str(nodes)
        f = flavor(specs, vcpus=vcpus, memory_mb=1024 * nodes)
        try:
            request = hardware.numa_get_constraints(f, None)
        except exception.CPUTopologyNUMAMismatch:
            assert all(vcpus // nodes % t.threads for t in found)
            return
        per_node = vcpus // nodes
        for topo in ct.desirable_cpu_topologies(f, None, numa_topology=request):
            assert per_node % topo.threads == 0
