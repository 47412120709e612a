"""resources_from_request: flavor + image -> placement resources and traits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import exception
from os_numa.objects import Flavor, ImageMeta
from os_numa.scheduler import ResourceRequest, resources_from_request

HT = "HW_CPU_HYPERTHREADING"
DED = {"hw:cpu_policy": "dedicated"}
ISO = {"hw:emulator_threads_policy": "isolate"}


def flavor(vcpus=4, memory_mb=4096, **extra_specs):
    return Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=extra_specs)


def image(**props):
    return ImageMeta.from_dict({"properties": props})


def specs(*dicts, **more):
    merged = {}
    for d in dicts:
        merged.update(d)
    merged.update(more)
    return merged


# (name, extra specs, image properties, resources, required traits, forbidden traits)
CASES = [
    ("no policy", {}, {}, {"VCPU": 4, "MEMORY_MB": 4096}, set(), set()),
    ("shared", {"hw:cpu_policy": "shared"}, {}, {"VCPU": 4, "MEMORY_MB": 4096}, set(), set()),
    (
        "shared+share",
        {"hw:emulator_threads_policy": "share"},
        {},
        {"VCPU": 4, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    ("dedicated", DED, {}, {"PCPU": 4, "MEMORY_MB": 4096}, set(), set()),
    ("dedicated+isolate", specs(DED, ISO), {}, {"PCPU": 5, "MEMORY_MB": 4096}, set(), set()),
    (
        "dedicated+share",
        specs(DED, {"hw:emulator_threads_policy": "share"}),
        {},
        {"PCPU": 4, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "dedicated+isolate, 2 nodes",
        specs(DED, ISO, {"hw:numa_nodes": "2"}),
        {},
        {"PCPU": 5, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "mixed mask",
        {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"},
        {},
        {"PCPU": 3, "VCPU": 1, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "mixed mask+isolate",
        specs({"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "2-3"}, ISO),
        {},
        {"PCPU": 3, "VCPU": 2, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "mixed via realtime mask",
        {"hw:cpu_policy": "mixed", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0-1"},
        {},
        {"PCPU": 2, "VCPU": 2, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "image dedicated",
        {},
        {"hw_cpu_policy": "dedicated"},
        {"PCPU": 4, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "thread require",
        specs(DED, {"hw:cpu_thread_policy": "require"}),
        {},
        {"PCPU": 4, "MEMORY_MB": 4096},
        {HT},
        set(),
    ),
    (
        "thread isolate+emulator isolate",
        specs(DED, ISO, {"hw:cpu_thread_policy": "isolate"}),
        {},
        {"PCPU": 5, "MEMORY_MB": 4096},
        set(),
        {HT},
    ),
    (
        "thread prefer",
        specs(DED, {"hw:cpu_thread_policy": "prefer"}),
        {},
        {"PCPU": 4, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "image thread isolate",
        DED,
        {"hw_cpu_thread_policy": "isolate"},
        {"PCPU": 4, "MEMORY_MB": 4096},
        set(),
        {HT},
    ),
    ("explicit PCPU", {"resources:PCPU": "4"}, {}, {"PCPU": 4, "MEMORY_MB": 4096}, set(), set()),
    (
        "explicit PCPU+isolate",
        specs({"resources:PCPU": "5"}, ISO),
        {},
        {"PCPU": 5, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    ("explicit VCPU", {"resources:VCPU": "2"}, {}, {"VCPU": 2, "MEMORY_MB": 4096}, set(), set()),
    ("explicit VCPU=0 drops VCPU", {"resources:VCPU": "0"}, {}, {"MEMORY_MB": 4096}, set(), set()),
    (
        "explicit memory and custom class",
        {"resources:MEMORY_MB": "1024", "resources1:CUSTOM_X": "2"},
        {},
        {"VCPU": 4, "MEMORY_MB": 1024, "CUSTOM_X": 2},
        set(),
        set(),
    ),
    (
        "explicit hyperthreading forbidden",
        specs(DED, {"trait:HW_CPU_HYPERTHREADING": "forbidden"}),
        {},
        {"PCPU": 4, "MEMORY_MB": 4096},
        set(),
        {HT},
    ),
    (
        "explicit custom traits",
        {"trait:CUSTOM_A": "required", "trait2:CUSTOM_B": "forbidden"},
        {},
        {"VCPU": 4, "MEMORY_MB": 4096},
        {"CUSTOM_A"},
        {"CUSTOM_B"},
    ),
    (
        "named request groups count like numbered ones",
        {
            "resources_NET:CUSTOM_VF": "2",
            "resources1:CUSTOM_VF": "1",
            "trait_NET:CUSTOM_A": "required",
            "trait_gpu-1:CUSTOM_B": "forbidden",
        },
        {},
        {"VCPU": 4, "MEMORY_MB": 4096, "CUSTOM_VF": 3},
        {"CUSTOM_A"},
        {"CUSTOM_B"},
    ),
    (
        "image traits_required",
        DED,
        {"traits_required": [HT, "CUSTOM_C"]},
        {"PCPU": 4, "MEMORY_MB": 4096},
        {HT, "CUSTOM_C"},
        set(),
    ),
    (
        "huge pages, shared",
        {"hw:mem_page_size": "large"},
        {},
        {"VCPU": 4, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
]


# Beyond Nova (issue 6): several emulator pCPUs, and the host-wide emulator pool.
COUNT2 = {"hw:emulator_threads_count": "2"}
CASES += [
    (
        "isolate with 2 emulator pCPUs",
        specs(DED, ISO, COUNT2),
        {},
        {"PCPU": 6, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "mixed isolate with 3 emulator pCPUs",
        specs(
            {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"},
            ISO,
            {"hw:emulator_threads_count": "3"},
        ),
        {},
        {"PCPU": 6, "VCPU": 1, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "explicit PCPU with 2 emulator pCPUs",
        specs({"resources:PCPU": "6"}, ISO, COUNT2),
        {},
        {"PCPU": 6, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
    (
        "pool: the emulator pCPU is outside the PCPU inventory",
        specs(DED, {"hw:emulator_threads_policy": "pool"}),
        {},
        {"PCPU": 4, "MEMORY_MB": 4096},
        set(),
        set(),
    ),
]


@pytest.mark.parametrize(
    "extra_specs, props, resources, required, forbidden",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_translation(extra_specs, props, resources, required, forbidden):
    result = resources_from_request(flavor(**extra_specs), image(**props) if props else None)
    assert dict(result.resources) == resources
    assert result.required_traits == frozenset(required)
    assert result.forbidden_traits == frozenset(forbidden)


def test_disk_counts_root_ephemeral_and_swap_of_a_nova_like_flavor():
    nova_flavor = SimpleNamespace(
        vcpus=2, memory_mb=2048, root_gb=10, ephemeral_gb=5, swap=1536, extra_specs=DED
    )
    result = resources_from_request(nova_flavor, None)
    assert dict(result.resources) == {"PCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 17}


def test_a_glance_dict_image_is_accepted():
    result = resources_from_request(
        flavor(**DED), {"properties": {"hw_cpu_thread_policy": "require"}}
    )
    assert result.required_traits == {HT}


def test_result_is_immutable():
    result = resources_from_request(flavor(**DED), None)
    with pytest.raises(TypeError):
        result.resources["PCPU"] = 1
    with pytest.raises(AttributeError):
        result.required_traits = frozenset()
    assert isinstance(result, ResourceRequest)


ERRORS = [
    (
        "PCPU without the emulator pCPU",
        specs({"resources:PCPU": "4"}, ISO),
        {},
        exception.InvalidRequest,
        "exactly 5",
    ),
    (
        "PCPU with an extra pCPU but no isolate",
        {"resources:PCPU": "5"},
        {},
        exception.InvalidRequest,
        "exactly 4",
    ),
    (
        "PCPU with hw:cpu_policy",
        specs(DED, {"resources:PCPU": "4"}),
        {},
        exception.InvalidRequest,
        "hw:cpu_policy",
    ),
    (
        "VCPU with image hw_cpu_policy",
        {"resources:VCPU": "4"},
        {"hw_cpu_policy": "dedicated"},
        exception.InvalidRequest,
        "hw_cpu_policy",
    ),
    (
        "VCPU and PCPU",
        {"resources:PCPU": "4", "resources:VCPU": "1"},
        {},
        exception.InvalidRequest,
        "both",
    ),
    (
        "trait and thread policy",
        specs(DED, {"hw:cpu_thread_policy": "isolate", "trait:HW_CPU_HYPERTHREADING": "forbidden"}),
        {},
        exception.InvalidRequest,
        "HW_CPU_HYPERTHREADING",
    ),
    (
        "bad PCPU amount",
        {"resources:PCPU": "four"},
        {},
        exception.InvalidExtraSpecValue,
        "resources:PCPU",
    ),
    (
        "negative custom amount",
        {"resources:CUSTOM_X": "-1"},
        {},
        exception.InvalidExtraSpecValue,
        "resources:CUSTOM_X",
    ),
    (
        "non-ASCII digits in an amount",
        {"resources:CUSTOM_X": "\u0664"},
        {},
        exception.InvalidExtraSpecValue,
        "resources:CUSTOM_X",
    ),
    (
        "underscored amount",
        {"resources:CUSTOM_X": "1_000"},
        {},
        exception.InvalidExtraSpecValue,
        "resources:CUSTOM_X",
    ),
    (
        "bad trait value",
        {"trait:CUSTOM_A": "maybe"},
        {},
        exception.InvalidExtraSpecValue,
        "trait:CUSTOM_A",
    ),
    (
        "trait both required and forbidden",
        {"trait:CUSTOM_A": "forbidden"},
        {"traits_required": ["CUSTOM_A"]},
        exception.InvalidRequest,
        "CUSTOM_A",
    ),
    (
        "emulator policy is case-sensitive",
        specs(DED, {"hw:emulator_threads_policy": "ISOLATE"}),
        {},
        exception.InvalidEmulatorThreadsPolicy,
        "ISOLATE",
    ),
    ("isolate needs pinning", ISO, {}, exception.BadRequirementEmulatorThreadsPolicy, "isolate"),
    (
        "PCPU without the second emulator pCPU",
        specs({"resources:PCPU": "5"}, ISO, COUNT2),
        {},
        exception.InvalidRequest,
        "exactly 6",
    ),
]


@pytest.mark.parametrize(
    "extra_specs, props, error, needle",
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_invalid_requests(extra_specs, props, error, needle):
    with pytest.raises(error) as info:
        resources_from_request(flavor(**extra_specs), image(**props) if props else None)
    assert needle in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    vcpus=st.integers(min_value=2, max_value=16),
    policy=st.sampled_from(["dedicated", "mixed", "shared"]),
    emulator=st.sampled_from([None, "share", "isolate"]),
    data=st.data(),
)
def test_cpu_amounts_add_up(vcpus, policy, emulator, data):
    """PCPU + VCPU = vCPUs, plus one PCPU exactly when emulator threads are isolated."""
    extra = {"hw:cpu_policy": policy}
    if policy == "mixed":
        pinned = data.draw(st.integers(min_value=1, max_value=vcpus - 1))
        extra["hw:cpu_dedicated_mask"] = f"0-{pinned - 1}"
    if emulator and (policy != "shared" or emulator == "share"):
        extra["hw:emulator_threads_policy"] = emulator
    result = resources_from_request(flavor(vcpus=vcpus, **extra), None)
    isolated = extra.get("hw:emulator_threads_policy") == "isolate"
    amounts = dict(result.resources)
    assert amounts.get("PCPU", 0) + amounts.get("VCPU", 0) == vcpus + isolated
    if policy == "shared":
        assert "PCPU" not in amounts
    if policy == "mixed":
        assert amounts["PCPU"] == pinned + isolated
