"""numa_get_constraints: the requested guest topology, every rule and every error."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import exception, hardware, objects
from os_numa.constraints import topology
from tests.constraints.helpers import (
    assert_error,
    cells_summary,
    flavor,
    image,
    nova_like_flavor,
    nova_like_image,
    table,
)

ALL4 = {0, 1, 2, 3}
DED = {"hw:cpu_policy": "dedicated"}
MIXED = {"hw:cpu_policy": "mixed"}

TOPOLOGIES = [
    # (id, specs, image props, cells [(floating, pinned, MB)], cpu_policy, thread, emulator, page)
    ("dedicated", DED, {}, [(set(), ALL4, 4096)], "dedicated", None, None, None),
    (
        "dedicated-isolate-two-nodes",
        {**DED, "hw:emulator_threads_policy": "isolate", "hw:numa_nodes": "2"},
        {},
        [(set(), {0, 1}, 2048), (set(), {2, 3}, 2048)],
        "dedicated",
        None,
        "isolate",
        None,
    ),
    (
        "dedicated-thread-isolate",
        {**DED, "hw:cpu_thread_policy": "isolate"},
        {},
        [(set(), ALL4, 4096)],
        "dedicated",
        "isolate",
        None,
        None,
    ),
    (
        "image-dedicated",
        {},
        {"hw_cpu_policy": "dedicated", "hw_cpu_thread_policy": "require"},
        [(set(), ALL4, 4096)],
        "dedicated",
        "require",
        None,
        None,
    ),
    (
        "shared-with-nodes",
        {"hw:numa_nodes": "2"},
        {},
        [({0, 1}, set(), 2048), ({2, 3}, set(), 2048)],
        None,
        None,
        None,
        None,
    ),
    (
        "explicit-shared-with-nodes",
        {"hw:cpu_policy": "shared", "hw:numa_nodes": "2"},
        {},
        [({0, 1}, set(), 2048), ({2, 3}, set(), 2048)],
        "shared",
        None,
        None,
        None,
    ),
    (
        "share-emulator-accepted-on-shared",
        {"hw:emulator_threads_policy": "share", "hw:numa_nodes": "1"},
        {},
        [(ALL4, set(), 4096)],
        None,
        None,
        "share",
        None,
    ),
    (
        "page-size-only",
        {"hw:mem_page_size": "large"},
        {},
        [(ALL4, set(), 4096)],
        None,
        None,
        None,
        -2,
    ),
    (
        "page-size-refined-by-image",
        {"hw:mem_page_size": "any"},
        {"hw_mem_page_size": "1GB"},
        [(ALL4, set(), 4096)],
        None,
        None,
        None,
        1048576,
    ),
    (
        "image-nodes",
        {},
        {"hw_numa_nodes": 4},
        [({0}, set(), 1024), ({1}, set(), 1024), ({2}, set(), 1024), ({3}, set(), 1024)],
        None,
        None,
        None,
        None,
    ),
    (
        "mixed-dedicated-mask",
        {**MIXED, "hw:cpu_dedicated_mask": "2-3"},
        {},
        [({0, 1}, {2, 3}, 4096)],
        "mixed",
        None,
        None,
        None,
    ),
    (
        "mixed-mask-over-nodes",
        {**MIXED, "hw:cpu_dedicated_mask": "^0", "hw:numa_nodes": "2"},
        {},
        [({0}, {1}, 2048), (set(), {2, 3}, 2048)],
        "mixed",
        None,
        None,
        None,
    ),
    (
        "mixed-realtime-mask",
        {**MIXED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0-1"},
        {},
        [({0, 1}, {2, 3}, 4096)],
        "mixed",
        None,
        None,
        None,
    ),
    (
        "mixed-realtime-image-mask-wins",
        {**MIXED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0-1"},
        {"hw_cpu_realtime_mask": "^0"},
        [({0}, {1, 2, 3}, 4096)],
        "mixed",
        None,
        None,
        None,
    ),
    (
        "mixed-realtime-no-mask-isolate",
        {**MIXED, "hw:cpu_realtime": "yes", "hw:emulator_threads_policy": "isolate"},
        {},
        [(set(), ALL4, 4096)],
        "mixed",
        None,
        "isolate",
        None,
    ),
    (
        "dedicated-realtime",
        {**DED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"},
        {},
        [(set(), ALL4, 4096)],
        "dedicated",
        None,
        None,
        None,
    ),
    (
        "manual-split",
        {
            **DED,
            "hw:numa_nodes": "2",
            "hw:numa_cpus.0": "0",
            "hw:numa_cpus.1": "1-3",
            "hw:numa_mem.0": "1024",
            "hw:numa_mem.1": "3072",
        },
        {},
        [(set(), {0}, 1024), (set(), {1, 2, 3}, 3072)],
        "dedicated",
        None,
        None,
        None,
    ),
    (
        "manual-split-image",
        {**MIXED, "hw:cpu_dedicated_mask": "0,3"},
        {
            "hw_numa_nodes": 2,
            "hw_numa_cpus.0": "0-1",
            "hw_numa_cpus.1": "2-3",
            "hw_numa_mem.0": "1024",
            "hw_numa_mem.1": "3072",
        },
        [({1}, {0}, 1024), ({2}, {3}, 3072)],
        "mixed",
        None,
        None,
        None,
    ),
    (
        "pcpu-resources",
        {"resources:PCPU": "4"},
        {},
        [(set(), ALL4, 4096)],
        "dedicated",
        None,
        None,
        None,
    ),
    (
        "pcpu-resources-trait-forbidden",
        {
            "resources:PCPU": "5",
            "hw:emulator_threads_policy": "isolate",
            "trait:HW_CPU_HYPERTHREADING": "forbidden",
        },
        {},
        [(set(), ALL4, 4096)],
        "dedicated",
        "isolate",
        "isolate",
        None,
    ),
    (
        "vcpu-resources-with-pages",
        {"resources:VCPU": "4", "hw:mem_page_size": "small"},
        {},
        [(ALL4, set(), 4096)],
        "shared",
        None,
        None,
        -1,
    ),
    (
        "locked-memory-with-pages",
        {**DED, "hw:locked_memory": "yes", "hw:mem_page_size": "2048"},
        {},
        [(set(), ALL4, 4096)],
        "dedicated",
        None,
        None,
        2048,
    ),
]


@pytest.mark.parametrize("specs,props,cells,cpu_policy,thread,emulator,pagesize", table(TOPOLOGIES))
def test_topology(specs, props, cells, cpu_policy, thread, emulator, pagesize):
    got = topology.numa_get_constraints(flavor(specs), image(props))
    assert isinstance(got, objects.InstanceNUMATopology)
    assert cells_summary(got) == cells
    assert [c.id for c in got.cells] == list(range(len(cells)))
    for cell in got.cells:
        assert (cell.cpu_policy, cell.cpu_thread_policy, cell.pagesize) == (
            cpu_policy,
            thread,
            pagesize,
        )
        assert cell.cpu_pinning is None and cell.cpuset_reserved is None
    assert got.emulator_threads_policy == emulator


NO_TOPOLOGY = [
    ("nothing", {}, {}),
    ("shared", {"hw:cpu_policy": "shared"}, {}),
    ("image-shared", {}, {"hw_cpu_policy": "shared"}),
    ("share-emulator-shared", {"hw:emulator_threads_policy": "share"}, {}),
    ("realtime-off", {"hw:cpu_realtime": "no"}, {}),
    ("numa-cpus-alone-are-ignored", {"hw:numa_cpus.0": "0-3", "hw:numa_mem.0": "4096"}, {}),
    ("vcpu-resources", {"resources:VCPU": "4"}, {}),
    ("unrelated-specs", {"quota:cpu_shares": "1024", "hw:cpu_sockets": "2"}, {}),
]


@pytest.mark.parametrize("specs,props", table(NO_TOPOLOGY))
def test_no_topology(specs, props):
    assert topology.numa_get_constraints(flavor(specs), image(props)) is None


ERRORS = [
    # (id, specs, image props, error, text the message must contain)
    (
        "policy-unknown",
        {"hw:cpu_policy": "pinned"},
        {},
        exception.InvalidCPUAllocationPolicy,
        "'pinned'",
    ),
    (
        "image-more-pinning",
        {"hw:cpu_policy": "shared"},
        {"hw_cpu_policy": "dedicated"},
        exception.ImageCPUPinningForbidden,
        "hw_cpu_policy=dedicated",
    ),
    (
        "thread-policy-unknown",
        {**DED, "hw:cpu_thread_policy": "never"},
        {},
        exception.InvalidCPUThreadAllocationPolicy,
        "'never'",
    ),
    (
        "thread-policy-image-conflict",
        {**DED, "hw:cpu_thread_policy": "isolate"},
        {"hw_cpu_thread_policy": "require"},
        exception.ImageCPUThreadPolicyForbidden,
        "isolate",
    ),
    (
        "thread-policy-without-pinning",
        {"hw:cpu_thread_policy": "isolate"},
        {},
        exception.CPUThreadPolicyConfigurationInvalid,
        "hw:cpu_thread_policy",
    ),
    (
        "image-thread-policy-shared",
        {"hw:cpu_policy": "shared"},
        {"hw_cpu_thread_policy": "prefer"},
        exception.CPUThreadPolicyConfigurationInvalid,
        "'shared'",
    ),
    (
        "trait-without-pinning",
        {"trait:HW_CPU_HYPERTHREADING": "required"},
        {},
        exception.CPUThreadPolicyConfigurationInvalid,
        "unset",
    ),
    (
        "emulator-unknown",
        {**DED, "hw:emulator_threads_policy": "ISOLATE"},
        {},
        exception.InvalidEmulatorThreadsPolicy,
        "'ISOLATE'",
    ),
    (
        "emulator-isolate-shared",
        {"hw:emulator_threads_policy": "isolate"},
        {},
        exception.BadRequirementEmulatorThreadsPolicy,
        "hw:emulator_threads_policy=isolate",
    ),
    (
        "emulator-isolate-vcpu-resources",
        {"resources:VCPU": "4", "hw:emulator_threads_policy": "isolate"},
        {},
        exception.BadRequirementEmulatorThreadsPolicy,
        "'shared'",
    ),
    (
        "realtime-alone",
        {"hw:cpu_realtime": "yes"},
        {},
        exception.RealtimeConfigurationInvalid,
        "hw:cpu_policy",
    ),
    (
        "realtime-shared-with-mask",
        {"hw:cpu_realtime": "yes", "hw:cpu_policy": "shared", "hw:cpu_realtime_mask": "^0"},
        {},
        exception.RealtimeConfigurationInvalid,
        "'shared'",
    ),
    (
        "realtime-not-boolean",
        {**DED, "hw:cpu_realtime": "sure"},
        {},
        exception.InvalidExtraSpecValue,
        "hw:cpu_realtime='sure'",
    ),
    (
        "realtime-all-vcpus",
        {**DED, "hw:cpu_realtime": "yes"},
        {},
        exception.RealtimeMaskNotFoundOrInvalid,
        "nowhere to run",
    ),
    (
        "realtime-mask-all",
        {**DED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "0-3"},
        {},
        exception.RealtimeMaskNotFoundOrInvalid,
        "every vCPU",
    ),
    (
        "realtime-mask-empty",
        {**DED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0-3"},
        {},
        exception.RealtimeMaskNotFoundOrInvalid,
        "selects no vCPU",
    ),
    (
        "realtime-mask-outside",
        {**DED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "3-4"},
        {},
        exception.RealtimeMaskNotFoundOrInvalid,
        "names vCPU(s) 4",
    ),
    (
        "realtime-image-mask-outside",
        {**DED, "hw:cpu_realtime": "yes"},
        {"hw_cpu_realtime_mask": "^9"},
        exception.RealtimeMaskNotFoundOrInvalid,
        "^9",
    ),
    (
        "dedicated-mask-on-dedicated",
        {**DED, "hw:cpu_dedicated_mask": "^0"},
        {},
        exception.RequiredMixedInstancePolicy,
        "'dedicated'",
    ),
    (
        "dedicated-mask-on-shared",
        {"hw:cpu_dedicated_mask": "^0"},
        {},
        exception.RequiredMixedInstancePolicy,
        "hw:cpu_policy=mixed",
    ),
    (
        "bad-dedicated-mask-reported-before-policy-as-nova",
        {**DED, "hw:cpu_dedicated_mask": "7-9"},
        {},
        exception.InvalidMixedInstanceDedicatedMask,
        "7-9",
    ),
    ("mixed-without-masks", MIXED, {}, exception.RequiredMixedOrRealtimeCPUMask, "neither"),
    (
        "mixed-with-both-masks",
        {
            **MIXED,
            "hw:cpu_dedicated_mask": "^0",
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
        },
        {},
        exception.RequiredMixedOrRealtimeCPUMask,
        "both",
    ),
    (
        "mixed-mask-all",
        {**MIXED, "hw:cpu_dedicated_mask": "0-3"},
        {},
        exception.InvalidMixedInstanceDedicatedMask,
        "floating",
    ),
    (
        "mixed-mask-none",
        {**MIXED, "hw:cpu_dedicated_mask": "^0-3"},
        {},
        exception.InvalidMixedInstanceDedicatedMask,
        "pinned",
    ),
    (
        "mixed-mask-outside",
        {**MIXED, "hw:cpu_dedicated_mask": "4"},
        {},
        exception.InvalidMixedInstanceDedicatedMask,
        "vCPU(s) 4 do not exist",
    ),
    (
        "mixed-image-dedicated",
        MIXED,
        {"hw_cpu_policy": "dedicated"},
        exception.ImageCPUPinningForbidden,
        "hw:cpu_policy=mixed",
    ),
    (
        "pcpu-with-policy",
        {**DED, "resources:PCPU": "4"},
        {},
        exception.InvalidRequest,
        "resources:PCPU",
    ),
    (
        "pcpu-and-vcpu",
        {"resources:PCPU": "2", "resources:VCPU": "2"},
        {},
        exception.InvalidRequest,
        "cannot both",
    ),
    (
        "pcpu-isolate-count",
        {"resources:PCPU": "4", "hw:emulator_threads_policy": "isolate"},
        {},
        exception.InvalidRequest,
        "exactly 5",
    ),
    ("pcpu-count", {"resources:PCPU": "8"}, {}, exception.InvalidRequest, "exactly 4"),
    (
        "trait-and-thread-policy",
        {**DED, "hw:cpu_thread_policy": "isolate", "trait:HW_CPU_HYPERTHREADING": "forbidden"},
        {},
        exception.InvalidRequest,
        "trait:HW_CPU_HYPERTHREADING",
    ),
    (
        "nodes-invalid",
        {**DED, "hw:numa_nodes": "0"},
        {},
        exception.InvalidNUMANodesNumber,
        "hw:numa_nodes='0'",
    ),
    (
        "nodes-both",
        {**DED, "hw:numa_nodes": "2"},
        {"hw_numa_nodes": 2},
        exception.ImageNUMATopologyForbidden,
        "hw_numa_nodes",
    ),
    (
        "nodes-asymmetric",
        {**DED, "hw:numa_nodes": "3"},
        {},
        exception.ImageNUMATopologyAsymmetric,
        "3 NUMA nodes",
    ),
    (
        "numa-cpus-count",
        {**DED, "hw:numa_nodes": "2", "hw:numa_cpus.0": "0-3", "hw:numa_mem.0": "4096"},
        {},
        exception.ImageNUMATopologyIncomplete,
        "1 node(s)",
    ),
    (
        "numa-cpus-one-node-defaults",
        {
            **DED,
            "hw:numa_cpus.0": "0-1",
            "hw:numa_cpus.1": "2-3",
            "hw:numa_mem.0": "2048",
            "hw:numa_mem.1": "2048",
        },
        {},
        exception.ImageNUMATopologyIncomplete,
        "guest has 1",
    ),
    (
        "numa-mem-sum",
        {
            **DED,
            "hw:numa_nodes": "2",
            "hw:numa_cpus.0": "0-1",
            "hw:numa_cpus.1": "2-3",
            "hw:numa_mem.0": "1024",
            "hw:numa_mem.1": "1024",
        },
        {},
        exception.ImageNUMATopologyMemoryOutOfRange,
        "2048 MB",
    ),
    (
        "page-size-invalid",
        {"hw:mem_page_size": "jumbo"},
        {},
        exception.MemoryPageSizeInvalid,
        "hw:mem_page_size='jumbo'",
    ),
    (
        "page-size-image-only",
        DED,
        {"hw_mem_page_size": "2MB"},
        exception.MemoryPageSizeForbidden,
        "hw_mem_page_size='2MB'",
    ),
    (
        "locked-without-pages",
        {**DED, "hw:locked_memory": "true"},
        {},
        exception.LockMemoryForbidden,
        "hw:mem_page_size",
    ),
    (
        "locked-conflict",
        {**DED, "hw:locked_memory": "true", "hw:mem_page_size": "small"},
        {"hw_locked_memory": False},
        exception.FlavorImageLockedMemoryConflict,
        "hw_locked_memory",
    ),
]


@pytest.mark.parametrize("specs,props,error,text", table(ERRORS))
def test_errors(specs, props, error, text):
    err = assert_error(error, text, topology.numa_get_constraints, flavor(specs), image(props))
    assert isinstance(err, (exception.Invalid, exception.Forbidden))
    assert isinstance(err, ValueError)


def test_nova_like_objects_give_the_same_topology():
    specs = {**MIXED, "hw:cpu_dedicated_mask": "^0", "hw:numa_nodes": "2"}
    props = {"hw_mem_page_size": "2048"}
    ours = topology.numa_get_constraints(flavor({**specs, "hw:mem_page_size": "any"}), image(props))
    nova = topology.numa_get_constraints(
        nova_like_flavor({**specs, "hw:mem_page_size": "any"}), nova_like_image(props)
    )
    plain = topology.numa_get_constraints(
        {"vcpus": 4, "memory_mb": 4096, "extra_specs": {**specs, "hw:mem_page_size": "any"}},
        {"properties": props},
    )
    expected = [({0}, {1}, 2048), (set(), {2, 3}, 2048)]
    for got in (ours, nova, plain):
        assert cells_summary(got) == expected
        assert [(c.pagesize, c.cpu_policy) for c in got.cells] == [(2048, "mixed")] * 2


def test_nova_like_image_numa_lists_are_sets_and_ints():
    got = topology.numa_get_constraints(
        nova_like_flavor(DED),
        nova_like_image(
            {"hw_numa_nodes": 2, "hw_numa_cpus": [{0, 3}, {1, 2}], "hw_numa_mem": [1024, 3072]}
        ),
    )
    assert cells_summary(got) == [(set(), {0, 3}, 1024), (set(), {1, 2}, 3072)]


def test_inputs_are_not_modified():
    specs = {**DED, "hw:numa_nodes": "2", "hw:emulator_threads_policy": "isolate"}
    f = flavor(specs)
    img = image({"hw_cpu_thread_policy": "prefer"})
    before = (copy.deepcopy(f.obj_to_primitive()), copy.deepcopy(img.obj_to_primitive()))
    topology.numa_get_constraints(f, img)
    assert (f.obj_to_primitive(), img.obj_to_primitive()) == before


def test_results_are_independent_objects():
    f = flavor(DED)
    first = topology.numa_get_constraints(f, None)
    first.cells[0].pcpuset.discard(0)
    assert topology.numa_get_constraints(f, None).cells[0].pcpuset == ALL4


def test_topology_round_trips_as_primitive():
    got = topology.numa_get_constraints(
        flavor(
            {
                **MIXED,
                "hw:cpu_dedicated_mask": "1-3",
                "hw:emulator_threads_policy": "isolate",
                "hw:mem_page_size": "1GB",
            }
        ),
        None,
    )
    back = objects.InstanceNUMATopology.obj_from_primitive(got.obj_to_primitive())
    assert cells_summary(back) == cells_summary(got) == [({0}, {1, 2, 3}, 4096)]
    assert back.emulator_threads_policy == "isolate"
    assert [(c.cpu_policy, c.pagesize) for c in back.cells] == [("mixed", 1048576)]


def test_facade_exports_the_same_function():
    assert hardware.numa_get_constraints is topology.numa_get_constraints
    assert hardware.get_cpu_policy_constraint is not None


EMULATOR_FIELDS = [
    # (id, specs, (emulator_threads_policy, emulator_threads_count, emulator_threads_mask))
    ("nova-isolate", {**DED, "hw:emulator_threads_policy": "isolate"}, ("isolate", None, None)),
    (
        "isolate-two-pcpus",
        {**DED, "hw:emulator_threads_policy": "isolate", "hw:emulator_threads_count": "2"},
        ("isolate", 2, None),
    ),
    ("pool", {**DED, "hw:emulator_threads_policy": "pool"}, ("pool", None, None)),
    (
        "pool-realtime-every-vcpu",
        {**DED, "hw:emulator_threads_policy": "pool", "hw:cpu_realtime": "yes"},
        ("pool", None, None),
    ),
    ("mask", {**DED, "hw:emulator_threads_mask": "0"}, (None, None, {0})),
    (
        "priority-is-not-stored",
        {
            **DED,
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
            "hw:cpu_realtime_priority": "42",
        },
        (None, None, None),
    ),
]


@pytest.mark.parametrize("specs,expected", table(EMULATOR_FIELDS))
def test_emulator_fields(specs, expected):
    got = topology.numa_get_constraints(flavor(specs), None)
    assert (
        got.emulator_threads_policy,
        got.emulator_threads_count,
        got.emulator_threads_mask,
    ) == expected


EXTENSION_ERRORS = [
    (
        "pool-on-shared",
        {"hw:emulator_threads_policy": "pool"},
        exception.BadRequirementEmulatorThreadsPolicy,
        "hw:emulator_threads_policy=pool",
    ),
    (
        "count-without-isolate",
        {**DED, "hw:emulator_threads_count": "2"},
        exception.InvalidEmulatorThreadsCount,
        "hw:emulator_threads_count='2'",
    ),
    (
        "count-with-pool",
        {**DED, "hw:emulator_threads_policy": "pool", "hw:emulator_threads_count": "2"},
        exception.InvalidEmulatorThreadsCount,
        "'pool'",
    ),
    (
        "priority-without-realtime",
        {**DED, "hw:cpu_realtime_priority": "5"},
        exception.InvalidRealtimePriority,
        "hw:cpu_realtime=yes",
    ),
    (
        "priority-out-of-range",
        {
            **DED,
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
            "hw:cpu_realtime_priority": "120",
        },
        exception.InvalidRealtimePriority,
        "1 to 99",
    ),
    (
        "mask-with-isolate",
        {**DED, "hw:emulator_threads_policy": "isolate", "hw:emulator_threads_mask": "0"},
        exception.InvalidEmulatorThreadsMask,
        "isolate",
    ),
]


@pytest.mark.parametrize("specs,error,text", table(EXTENSION_ERRORS))
def test_extension_errors(specs, error, text):
    assert_error(error, text, topology.numa_get_constraints, flavor(specs), None)


def test_big_flavor_is_bounded_before_allocation():
    with pytest.raises(exception.InvalidFlavor):
        topology.numa_get_constraints(flavor(DED, vcpus=10**9), None)


# --- property: random valid flavors ------------------------------------------------------


@st.composite
def valid_requests(draw):
    """A valid flavor (policy, nodes, optional manual split, masks) and what it must give."""
    nodes = draw(st.integers(1, 6))
    per_node = draw(st.lists(st.integers(1, 6), min_size=nodes, max_size=nodes))
    vcpus = sum(per_node)
    order = draw(st.permutations(range(vcpus)))
    node_cpus, start = [], 0
    for count in per_node:
        node_cpus.append(set(order[start : start + count]))
        start += count
    node_mem = draw(st.lists(st.integers(1, 4096), min_size=nodes, max_size=nodes))
    memory_mb = sum(node_mem)
    policy = draw(st.sampled_from(["shared", "dedicated", "mixed", "resources"]))
    specs = {"hw:numa_nodes": str(nodes)}
    manual = draw(st.booleans())
    if manual:
        for i in range(nodes):
            specs[f"hw:numa_cpus.{i}"] = ",".join(str(c) for c in sorted(node_cpus[i]))
            specs[f"hw:numa_mem.{i}"] = str(node_mem[i])
    else:
        # An even split: rebuild the flavor so it divides exactly.
        share = draw(st.integers(1, 4))
        vcpus, memory_mb = nodes * share, nodes * draw(st.integers(1, 2048))
    pinned: set[int] = set()
    if policy == "dedicated":
        specs["hw:cpu_policy"] = "dedicated"
        pinned = set(range(vcpus))
    elif policy == "resources":
        specs["resources:PCPU"] = str(vcpus)
        pinned = set(range(vcpus))
    elif policy == "mixed" and vcpus >= 2:
        pinned = draw(st.sets(st.integers(0, vcpus - 1), min_size=1, max_size=vcpus - 1))
        specs["hw:cpu_policy"] = "mixed"
        if draw(st.booleans()):
            specs["hw:cpu_dedicated_mask"] = ",".join(str(c) for c in sorted(pinned))
        else:
            specs["hw:cpu_realtime"] = "yes"
            specs["hw:cpu_realtime_mask"] = ",".join(
                f"^{c}" for c in sorted(set(range(vcpus)) - pinned)
            )
    emulator_mask = None
    choice = (
        draw(st.sampled_from(["none", "share", "isolate", "pool", "mask"])) if pinned else "none"
    )
    if choice in ("share", "isolate", "pool"):
        specs["hw:emulator_threads_policy"] = choice
    if choice == "isolate":
        count = draw(st.integers(1, vcpus))
        specs["hw:emulator_threads_count"] = str(count)
        if policy == "resources":
            specs["resources:PCPU"] = str(vcpus + count)
    housekeeping = pinned - realtime_cpus(specs, vcpus, pinned)
    if choice == "mask" and housekeeping:
        emulator_mask = draw(st.sets(st.sampled_from(sorted(housekeeping)), min_size=1))
        specs["hw:emulator_threads_mask"] = ",".join(str(c) for c in sorted(emulator_mask))
    if draw(st.booleans()):
        specs["hw:mem_page_size"] = draw(st.sampled_from(["small", "large", "any", "2MB"]))
    return flavor(specs, vcpus, memory_mb), vcpus, memory_mb, pinned, nodes, emulator_mask


def realtime_cpus(specs, vcpus, pinned):
    """The realtime vCPUs the generator asked for (mixed + realtime: the pinned ones)."""
    return set(pinned) if specs.get("hw:cpu_realtime") == "yes" else set()


@settings(max_examples=150, deadline=None)
@given(valid_requests())
def test_property_cells_cover_every_vcpu_once_and_all_memory(request):
    f, vcpus, memory_mb, pinned, nodes, emulator_mask = request
    got = topology.numa_get_constraints(f, None)
    assert got.emulator_threads_mask == emulator_mask
    assert len(got.cells) == nodes
    seen: list[int] = []
    for index, cell in enumerate(got.cells):
        assert cell.id == index
        assert not set(cell.cpuset) & set(cell.pcpuset)
        assert set(cell.cpuset) | set(cell.pcpuset)
        seen.extend(cell.cpuset)
        seen.extend(cell.pcpuset)
    assert sorted(seen) == list(range(vcpus))
    assert sum(cell.memory for cell in got.cells) == memory_mb
    assert set().union(*(set(c.pcpuset) for c in got.cells)) == pinned
    assert len({(c.cpu_policy, c.cpu_thread_policy, c.pagesize) for c in got.cells}) == 1


KEYS = [
    "hw:cpu_policy",
    "hw:cpu_thread_policy",
    "hw:emulator_threads_policy",
    "hw:cpu_realtime",
    "hw:cpu_realtime_mask",
    "hw:cpu_dedicated_mask",
    "hw:numa_nodes",
    "hw:numa_cpus.0",
    "hw:numa_cpus.1",
    "hw:numa_mem.0",
    "hw:numa_mem.1",
    "hw:mem_page_size",
    "hw:locked_memory",
    "hw:emulator_threads_count",
    "hw:emulator_threads_mask",
    "hw:cpu_realtime_priority",
    "resources:PCPU",
    "resources:VCPU",
    "trait:HW_CPU_HYPERTHREADING",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "dedicated",
            "shared",
            "mixed",
            "isolate",
            "share",
            "pool",
            "prefer",
            "require",
            "yes",
            "no",
            "0",
            "1",
            "2",
            "^0",
            "0-1",
            "1-3",
            "large",
            "any",
            "2MB",
            "4096",
            "required",
            "forbidden",
            "",
            "-1",
            "^",
            "0-",
            "99999999999999999999",
        ]
    ),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(
    specs=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6),
    vcpus=st.integers(1, 8),
    memory_mb=st.integers(1, 8192),
)
def test_property_any_extra_specs_give_a_topology_none_or_a_typed_error(specs, vcpus, memory_mb):
    f = flavor(specs, vcpus, memory_mb)
    before = dict(f.extra_specs)
    try:
        got = topology.numa_get_constraints(f, None)
    except (exception.Invalid, exception.Forbidden) as err:
        assert str(err)
    else:
        if got is not None:
            assert sorted(v for c in got.cells for v in c.cpus) == list(range(vcpus))
            assert sum(c.memory for c in got.cells) == memory_mb
    assert dict(f.extra_specs) == before


@pytest.mark.parametrize(
    ("pmem", "asks"), [("4GB,4GB", True), (" SMALL ", True), ("", False), ("  ", False)]
)
def test_persistent_memory_asks_for_numa_placement_as_in_nova(pmem, asks):
    got = hardware.numa_get_constraints(flavor({"hw:pmem": pmem}, vcpus=2, memory_mb=2048), None)
    if asks:
        assert [(c.cpuset, c.pcpuset, c.memory) for c in got.cells] == [({0, 1}, set(), 2048)]
    else:
        assert got is None


CONSTRUCTOR_CASES = {
    "dedicated isolate": (
        4,
        {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
    ),
    "realtime": (
        4,
        {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"},
    ),
    "mixed two nodes": (
        4,
        {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0", "hw:numa_nodes": "2"},
    ),
    "shared pages": (2, {"hw:mem_page_size": "large"}),
    "manual split": (
        3,
        {
            "hw:numa_nodes": "2",
            "hw:numa_cpus.0": "0",
            "hw:numa_cpus.1": "1,2",
            "hw:numa_mem.0": "512",
            "hw:numa_mem.1": "1536",
        },
    ),
    "emulator count and iothreads": (
        2,
        {
            "hw:cpu_policy": "dedicated",
            "hw:emulator_threads_policy": "isolate",
            "hw:emulator_threads_count": "2",
            "hw:iothreads": "2",
        },
    ),
}


def _kind(value):
    """The value's type, oslo's coercing containers (CoercedSet...) as their base type:
    the fast path stores plain containers, as the fit does (tests/objects/test_fast.py)."""
    for base in (set, dict, list):
        if isinstance(value, base):
            return base
    return type(value)


def _stored(obj):
    """Every stored field value with its type, nested objects alike."""
    result = {}
    for name in obj.fields:
        if not obj.obj_attr_is_set(name):
            continue
        value = getattr(obj, name)
        if isinstance(value, list):
            value = [_stored(v) if hasattr(v, "fields") else (_kind(v), v) for v in value]
        else:
            value = (_kind(value), value)
        result[name] = value
    return result


@pytest.mark.parametrize(("vcpus", "specs"), CONSTRUCTOR_CASES.values(), ids=CONSTRUCTOR_CASES)
def test_requested_topology_equals_one_built_through_the_constructors(vcpus, specs):
    # numa_get_constraints builds its answer without the setters (objects.fast); the
    # result must be what the constructors, which coerce every value, would give.
    flavor = objects.Flavor(vcpus=vcpus, memory_mb=2048, extra_specs=specs)
    fast = hardware.numa_get_constraints(flavor, None)
    cells = [
        objects.InstanceNUMACell(**{n: getattr(c, n) for n in c.fields if c.obj_attr_is_set(n)})
        for c in fast.cells
    ]
    values = {n: getattr(fast, n) for n in fast.fields if fast.obj_attr_is_set(n)}
    slow = objects.InstanceNUMATopology(**dict(values, cells=cells))
    assert _stored(fast) == _stored(slow)
    assert fast.obj_to_primitive() == slow.obj_to_primitive()
