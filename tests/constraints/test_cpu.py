"""hw:cpu_policy, hw:cpu_thread_policy, hw:emulator_threads_policy, hw:cpu_dedicated_mask
and the explicit Placement form (resources:PCPU/VCPU, trait:HW_CPU_HYPERTHREADING)."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.constraints import cpu, source
from tests.constraints.helpers import assert_error, flavor, image, table

CPU_POLICY = [
    # (id, flavor specs, image props, expected)
    ("unset", {}, {}, None),
    ("flavor-dedicated", {"hw:cpu_policy": "dedicated"}, {}, "dedicated"),
    ("flavor-shared", {"hw:cpu_policy": "shared"}, {}, "shared"),
    ("flavor-mixed", {"hw:cpu_policy": "mixed"}, {}, "mixed"),
    ("image-only-dedicated", {}, {"hw_cpu_policy": "dedicated"}, "dedicated"),
    ("image-only-mixed", {}, {"hw_cpu_policy": "mixed"}, "mixed"),
    ("image-only-shared", {}, {"hw_cpu_policy": "shared"}, "shared"),
    (
        "flavor-dedicated-wins",
        {"hw:cpu_policy": "dedicated"},
        {"hw_cpu_policy": "shared"},
        "dedicated",
    ),
    (
        "flavor-dedicated-image-mixed",
        {"hw:cpu_policy": "dedicated"},
        {"hw_cpu_policy": "mixed"},
        "dedicated",
    ),
    ("flavor-mixed-image-shared", {"hw:cpu_policy": "mixed"}, {"hw_cpu_policy": "shared"}, "mixed"),
    (
        "flavor-shared-image-shared",
        {"hw:cpu_policy": "shared"},
        {"hw_cpu_policy": "shared"},
        "shared",
    ),
]


@pytest.mark.parametrize("specs,props,expected", table(CPU_POLICY))
def test_cpu_policy(specs, props, expected):
    assert cpu.get_cpu_policy_constraint(flavor(specs), image(props)) == expected


CPU_POLICY_ERRORS = [
    (
        "flavor-upper-case",
        {"hw:cpu_policy": "DEDICATED"},
        {},
        exception.InvalidCPUAllocationPolicy,
        "hw:cpu_policy",
    ),
    (
        "image-unknown",
        {},
        {"hw_cpu_policy": "pinned"},
        exception.InvalidCPUAllocationPolicy,
        "hw_cpu_policy",
    ),
    (
        "shared-image-dedicated",
        {"hw:cpu_policy": "shared"},
        {"hw_cpu_policy": "dedicated"},
        exception.ImageCPUPinningForbidden,
        "hw_cpu_policy=dedicated",
    ),
    (
        "shared-image-mixed",
        {"hw:cpu_policy": "shared"},
        {"hw_cpu_policy": "mixed"},
        exception.ImageCPUPinningForbidden,
        "hw:cpu_policy=shared",
    ),
    (
        "mixed-image-dedicated",
        {"hw:cpu_policy": "mixed"},
        {"hw_cpu_policy": "dedicated"},
        exception.ImageCPUPinningForbidden,
        "hw:cpu_policy=mixed",
    ),
]


@pytest.mark.parametrize("specs,props,error,text", table(CPU_POLICY_ERRORS))
def test_cpu_policy_errors(specs, props, error, text):
    assert_error(error, text, cpu.get_cpu_policy_constraint, flavor(specs), image(props))


def test_cpu_policy_error_lists_valid_values():
    with pytest.raises(exception.InvalidCPUAllocationPolicy) as info:
        cpu.get_cpu_policy_constraint(flavor({"hw:cpu_policy": "pinned"}), None)
    for valid in ("'dedicated'", "'shared'", "'mixed'", "'pinned'"):
        assert valid in str(info.value)


THREAD_POLICY = [
    ("unset", {}, {}, None),
    ("flavor-isolate", {"hw:cpu_thread_policy": "isolate"}, {}, "isolate"),
    ("flavor-require", {"hw:cpu_thread_policy": "require"}, {}, "require"),
    ("image-only", {}, {"hw_cpu_thread_policy": "require"}, "require"),
    (
        "prefer-overrides-image",
        {"hw:cpu_thread_policy": "prefer"},
        {"hw_cpu_thread_policy": "isolate"},
        "prefer",
    ),
    (
        "isolate-same-image",
        {"hw:cpu_thread_policy": "isolate"},
        {"hw_cpu_thread_policy": "isolate"},
        "isolate",
    ),
]


@pytest.mark.parametrize("specs,props,expected", table(THREAD_POLICY))
def test_thread_policy(specs, props, expected):
    assert cpu.get_cpu_thread_policy_constraint(flavor(specs), image(props)) == expected


THREAD_POLICY_ERRORS = [
    (
        "flavor-unknown",
        {"hw:cpu_thread_policy": "avoid"},
        {},
        exception.InvalidCPUThreadAllocationPolicy,
        "hw:cpu_thread_policy",
    ),
    (
        "image-unknown",
        {},
        {"hw_cpu_thread_policy": "Isolate"},
        exception.InvalidCPUThreadAllocationPolicy,
        "hw_cpu_thread_policy",
    ),
    (
        "isolate-vs-image-require",
        {"hw:cpu_thread_policy": "isolate"},
        {"hw_cpu_thread_policy": "require"},
        exception.ImageCPUThreadPolicyForbidden,
        "require",
    ),
    (
        "require-vs-image-prefer",
        {"hw:cpu_thread_policy": "require"},
        {"hw_cpu_thread_policy": "prefer"},
        exception.ImageCPUThreadPolicyForbidden,
        "prefer",
    ),
]


@pytest.mark.parametrize("specs,props,error,text", table(THREAD_POLICY_ERRORS))
def test_thread_policy_errors(specs, props, error, text):
    assert_error(error, text, cpu.get_cpu_thread_policy_constraint, flavor(specs), image(props))


@pytest.mark.parametrize(
    "value,expected", [(None, None), ("", None), ("share", "share"), ("isolate", "isolate")]
)
def test_emulator_policy(value, expected):
    specs = {} if value is None else {"hw:emulator_threads_policy": value}
    assert cpu.get_emulator_thread_policy_constraint(flavor(specs)) == expected


@pytest.mark.parametrize("value", ["ISOLATE", "Share", "shared", "isolated", "mask"])
def test_emulator_policy_is_case_sensitive_and_closed(value):
    with pytest.raises(exception.InvalidEmulatorThreadsPolicy) as info:
        cpu.get_emulator_thread_policy_constraint(flavor({"hw:emulator_threads_policy": value}))
    message = str(info.value)
    assert "hw:emulator_threads_policy" in message and repr(value) in message
    assert "'isolate'" in message


def test_emulator_policy_ignores_the_never_existing_spec_name():
    # hw:cpu_emulator_threads never existed in Nova; it is not read.
    specs = {"hw:cpu_emulator_threads": "isolate"}
    assert cpu.get_emulator_thread_policy_constraint(flavor(specs)) is None


DEDICATED_MASK = [
    ("unset", None, None),
    ("empty", "", None),
    ("caret", "^0", {1, 2, 3}),
    ("caret-range", "^0-1", {2, 3}),
    ("caret-with-spaces", "  ^3", {0, 1, 2}),
    ("literal", "2-3", {2, 3}),
    ("literal-with-exclusion", "0-2,^0", {1, 2}),
    ("literal-list", "0,3", {0, 3}),
]


@pytest.mark.parametrize("mask,expected", table(DEDICATED_MASK))
def test_dedicated_mask(mask, expected):
    specs = {} if mask is None else {"hw:cpu_dedicated_mask": mask}
    assert cpu.get_dedicated_cpu_constraint(flavor(specs)) == expected


DEDICATED_MASK_ERRORS = [
    ("all-pinned", "0-3", "at least one floating vCPU"),
    ("none-pinned", "^0-3", "at least one pinned vCPU"),
    ("out-of-range", "2-4", "vCPU(s) 4 do not exist; valid vCPUs are 0-3"),
    ("caret-out-of-range", "^0,7", "vCPU(s) 7 do not exist"),
    ("not-a-spec", "two", "not a vCPU spec"),
    ("reversed-range", "3-1", "not a vCPU spec"),
]


@pytest.mark.parametrize("mask,text", table(DEDICATED_MASK_ERRORS))
def test_dedicated_mask_errors(mask, text):
    with pytest.raises(exception.InvalidMixedInstanceDedicatedMask) as info:
        cpu.get_dedicated_cpu_constraint(flavor({"hw:cpu_dedicated_mask": mask}))
    assert f"hw:cpu_dedicated_mask={mask!r}" in str(info.value)
    assert text in str(info.value)


RESOLVED = [
    # (id, specs, image props, (cpu_policy, thread_policy, emulator_policy))
    ("nothing", {}, {}, (None, None, None)),
    ("pcpu-means-dedicated", {"resources:PCPU": "4"}, {}, ("dedicated", None, None)),
    ("pcpu-group-suffix", {"resources1:PCPU": "4"}, {}, ("dedicated", None, None)),
    (
        "pcpu-split-over-groups",
        {"resources1:PCPU": "2", "resources_G:PCPU": "2"},
        {},
        ("dedicated", None, None),
    ),
    (
        "pcpu-isolate-plus-one",
        {"resources:PCPU": "5", "hw:emulator_threads_policy": "isolate"},
        {},
        ("dedicated", None, "isolate"),
    ),
    (
        "pcpu-share-no-extra",
        {"resources:PCPU": "4", "hw:emulator_threads_policy": "share"},
        {},
        ("dedicated", None, "share"),
    ),
    ("vcpu-means-shared", {"resources:VCPU": "4"}, {}, ("shared", None, None)),
    (
        "vcpu-zero-is-unset",
        {"resources:VCPU": "0", "hw:cpu_policy": "dedicated"},
        {},
        ("dedicated", None, None),
    ),
    (
        "trait-forbidden-isolate",
        {"resources:PCPU": "4", "trait:HW_CPU_HYPERTHREADING": "forbidden"},
        {},
        ("dedicated", "isolate", None),
    ),
    (
        "trait-required-require",
        {"hw:cpu_policy": "dedicated", "trait:HW_CPU_HYPERTHREADING": "required"},
        {},
        ("dedicated", "require", None),
    ),
    (
        "image-trait-required",
        {"hw:cpu_policy": "dedicated"},
        {"traits_required": ["HW_CPU_HYPERTHREADING"]},
        ("dedicated", "require", None),
    ),
    (
        "other-resources-ignored",
        {"resources:MEMORY_MB": "x", "resources:VCPUX": "y"},
        {},
        (None, None, None),
    ),
]


@pytest.mark.parametrize("specs,props,expected", table(RESOLVED))
def test_resolve_cpu_policies(specs, props, expected):
    got = cpu.resolve_cpu_policies(flavor(specs), image(props))
    assert (got.cpu_policy, got.cpu_thread_policy, got.emulator_threads_policy) == expected


RESOLVE_ERRORS = [
    (
        "pcpu-with-cpu-policy",
        {"resources:PCPU": "4", "hw:cpu_policy": "dedicated"},
        {},
        exception.InvalidRequest,
        "hw:cpu_policy",
    ),
    (
        "vcpu-with-image-policy",
        {"resources:VCPU": "4"},
        {"hw_cpu_policy": "shared"},
        exception.InvalidRequest,
        "hw_cpu_policy",
    ),
    (
        "both-classes",
        {"resources:PCPU": "2", "resources:VCPU": "2"},
        {},
        exception.InvalidRequest,
        "cannot both be set",
    ),
    ("pcpu-count-mismatch", {"resources:PCPU": "3"}, {}, exception.InvalidRequest, "exactly 4"),
    (
        "pcpu-isolate-without-extra",
        {"resources:PCPU": "4", "hw:emulator_threads_policy": "isolate"},
        {},
        exception.InvalidRequest,
        "exactly 5 (4 vCPUs + 1 for hw:emulator_threads_policy=isolate)",
    ),
    (
        "pcpu-not-a-number",
        {"resources:PCPU": "four"},
        {},
        exception.InvalidExtraSpecValue,
        "resources:PCPU='four'",
    ),
    (
        "trait-with-thread-policy",
        {
            "hw:cpu_policy": "dedicated",
            "hw:cpu_thread_policy": "prefer",
            "trait:HW_CPU_HYPERTHREADING": "forbidden",
        },
        {},
        exception.InvalidRequest,
        "trait:HW_CPU_HYPERTHREADING",
    ),
    (
        "image-trait-with-image-thread-policy",
        {"hw:cpu_policy": "dedicated"},
        {"traits_required": ["HW_CPU_HYPERTHREADING"], "hw_cpu_thread_policy": "isolate"},
        exception.InvalidRequest,
        "hw_cpu_thread_policy",
    ),
    (
        "trait-bad-value",
        {"trait:HW_CPU_HYPERTHREADING": "preferred"},
        {},
        exception.InvalidExtraSpecValue,
        "'required' or 'forbidden'",
    ),
]


@pytest.mark.parametrize("specs,props,error,text", table(RESOLVE_ERRORS))
def test_resolve_cpu_policies_errors(specs, props, error, text):
    assert_error(error, text, cpu.resolve_cpu_policies, flavor(specs), image(props))


ISOLATE = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"}


@pytest.mark.parametrize(
    "specs,expected",
    [
        pytest.param(ISOLATE, None, id="unset"),
        pytest.param({**ISOLATE, "hw:emulator_threads_count": "1"}, 1, id="one"),
        pytest.param({**ISOLATE, "hw:emulator_threads_count": "3"}, 3, id="three"),
        pytest.param({**ISOLATE, "hw:emulator_threads_count": "4"}, 4, id="as-many-as-vcpus"),
    ],
)
def test_emulator_threads_count(specs, expected):
    assert cpu.get_emulator_threads_count_constraint(flavor(specs)) == expected


EMULATOR_COUNT_ERRORS = [
    (
        "zero",
        {**ISOLATE, "hw:emulator_threads_count": "0"},
        "from 1 to the flavor's vCPU count (4)",
    ),
    ("above-vcpus", {**ISOLATE, "hw:emulator_threads_count": "5"}, "(4)"),
    ("not-int", {**ISOLATE, "hw:emulator_threads_count": "two"}, "'two'"),
    (
        "without-policy",
        {"hw:cpu_policy": "dedicated", "hw:emulator_threads_count": "2"},
        "isolate (it is unset)",
    ),
    (
        "with-share",
        {
            "hw:cpu_policy": "dedicated",
            "hw:emulator_threads_policy": "share",
            "hw:emulator_threads_count": "2",
        },
        "(it is 'share')",
    ),
]


@pytest.mark.parametrize("specs,text", table(EMULATOR_COUNT_ERRORS))
def test_emulator_threads_count_errors(specs, text):
    assert_error(
        exception.InvalidEmulatorThreadsCount,
        text,
        cpu.get_emulator_threads_count_constraint,
        flavor(specs),
    )


@pytest.mark.parametrize(
    "specs,ok",
    [
        pytest.param({**ISOLATE, "resources:PCPU": "5"}, False, id="count-2-needs-6"),
        pytest.param({**ISOLATE, "resources:PCPU": "6"}, True, id="count-2-with-6"),
    ],
)
def test_pcpu_resources_count_the_emulator_pcpus(specs, ok):
    specs = {k: v for k, v in specs.items() if k != "hw:cpu_policy"}
    specs["hw:emulator_threads_count"] = "2"
    if ok:
        got = cpu.resolve_cpu_policies(flavor(specs), None)
        assert (got.cpu_policy, got.emulator_threads_count) == ("dedicated", 2)
    else:
        assert_error(
            exception.InvalidRequest,
            "exactly 6 (4 vCPUs + 2 for hw:emulator_threads_policy=isolate)",
            cpu.resolve_cpu_policies,
            flavor(specs),
            None,
        )


def test_pool_policy_is_accepted_and_needs_pinning():
    specs = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "pool"}
    assert cpu.get_emulator_thread_policy_constraint(flavor(specs)) == "pool"
    policies = cpu.resolve_cpu_policies(flavor({**specs, "hw:cpu_policy": "shared"}), None)
    assert_error(
        exception.BadRequirementEmulatorThreadsPolicy,
        "hw:emulator_threads_policy=pool",
        cpu.check_pinning_required,
        policies,
        source.flavor_view(flavor()),
        None,
    )


def test_pool_policy_takes_no_extra_pcpu():
    specs = {"resources:PCPU": "4", "hw:emulator_threads_policy": "pool"}
    assert cpu.resolve_cpu_policies(flavor(specs), None).cpu_policy == "dedicated"
