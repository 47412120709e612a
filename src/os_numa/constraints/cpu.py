"""CPU allocation, SMT thread and emulator-thread policies of a flavor and image.

``hw:cpu_policy`` and ``hw:cpu_thread_policy`` have image twins
(``hw_cpu_policy``, ``hw_cpu_thread_policy``); the flavor wins, and an image may
never ask for more pinning than its flavor allows. ``hw:emulator_threads_policy``
and ``hw:cpu_dedicated_mask`` exist only in the flavor. The explicit Placement
form (``resources:PCPU``/``resources:VCPU`` and ``trait:HW_CPU_HYPERTHREADING``)
is translated into the same policies, and mixing it with the ``hw:`` form is an
:class:`~os_numa.exception.InvalidRequest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from os_numa import cpuset, exception
from os_numa.constraints import iothreads, source
from os_numa.objects import fields

_POLICY = fields.CPUAllocationPolicy
_THREADS = fields.CPUThreadAllocationPolicy
_EMULATOR = fields.CPUEmulatorThreadsPolicy

_HYPERTHREADING = "HW_CPU_HYPERTHREADING"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def describe_policy(cpu_policy: str | None) -> str:
    """How an effective CPU policy reads in an error message."""
    return repr(cpu_policy) if cpu_policy else "unset (so 'shared')"


def _checked(value: Any, valid: tuple[str, ...], source_name: str, error) -> str | None:
    if value is None or value == "":
        return None
    if value not in valid:
        raise error(source=source_name, requested=value, available=_quoted(valid))
    return value


def get_cpu_policy_constraint(flavor: Any, image_meta: Any) -> str | None:
    """The requested CPU allocation policy (``hw:cpu_policy``), or None when unset.

    The flavor's value wins; the image's ``hw_cpu_policy`` is used only when the
    flavor sets none, and may not ask for more pinning than the flavor:
    flavor ``shared`` forbids image ``dedicated``/``mixed``, flavor ``mixed``
    forbids image ``dedicated``.

    :raises InvalidCPUAllocationPolicy: an unknown value (case-sensitive).
    :raises ImageCPUPinningForbidden: the image asks for more pinning.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    raw_flavor, raw_image = source.flavor_image_values("cpu_policy", flavor_v, props)
    error = exception.InvalidCPUAllocationPolicy
    flavor_policy = _checked(raw_flavor, _POLICY.ALL, "flavor extra spec hw:cpu_policy", error)
    image_policy = _checked(raw_image, _POLICY.ALL, "image property hw_cpu_policy", error)
    if flavor_policy is None:
        return image_policy
    forbidden = {
        _POLICY.SHARED: (_POLICY.DEDICATED, _POLICY.MIXED),
        _POLICY.MIXED: (_POLICY.DEDICATED,),
        _POLICY.DEDICATED: (),
    }[flavor_policy]
    if image_policy in forbidden:
        raise exception.ImageCPUPinningForbidden(image=image_policy, flavor=flavor_policy)
    return flavor_policy


def get_cpu_thread_policy_constraint(flavor: Any, image_meta: Any) -> str | None:
    """The requested SMT thread policy (``hw:cpu_thread_policy``), or None when unset.

    A flavor ``prefer`` silently overrides the image; a flavor ``isolate`` or
    ``require`` refuses a different image value; the image's
    ``hw_cpu_thread_policy`` is used only when the flavor sets none.

    :raises InvalidCPUThreadAllocationPolicy: an unknown value.
    :raises ImageCPUThreadPolicyForbidden: the image contradicts isolate/require.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    raw_flavor, raw_image = source.flavor_image_values("cpu_thread_policy", flavor_v, props)
    error = exception.InvalidCPUThreadAllocationPolicy
    flavor_policy = _checked(
        raw_flavor, _THREADS.ALL, "flavor extra spec hw:cpu_thread_policy", error
    )
    image_policy = _checked(raw_image, _THREADS.ALL, "image property hw_cpu_thread_policy", error)
    if flavor_policy is None:
        return image_policy
    if flavor_policy != _THREADS.PREFER and image_policy not in (None, flavor_policy):
        raise exception.ImageCPUThreadPolicyForbidden(image=image_policy, flavor=flavor_policy)
    return flavor_policy


def get_emulator_thread_policy_constraint(flavor: Any) -> str | None:
    """``hw:emulator_threads_policy`` (flavor only), or None when unset.

    Values are case-sensitive: ``share``, ``isolate`` (as in Nova) and ``pool``
    (os-numa: the host-wide ``[os_numa] emulator_pin_set``). Unset is None,
    which is not the same as ``share``.

    :raises InvalidEmulatorThreadsPolicy: any other value, e.g. ``ISOLATE``.
    """
    value = source.flavor_view(flavor).spec("hw:emulator_threads_policy")
    if not value:
        return None
    if value not in _EMULATOR.ALL:
        raise exception.InvalidEmulatorThreadsPolicy(
            message=(
                f"hw:emulator_threads_policy={value!r} is invalid; valid values are "
                f"{_quoted(_EMULATOR.ALL)} (case-sensitive), or leave it unset."
            ),
            requested=value,
            available=_quoted(_EMULATOR.ALL),
        )
    return value


def get_emulator_threads_count_constraint(flavor: Any) -> int | None:
    """How many pCPUs ``isolate`` reserves (``hw:emulator_threads_count``), or None.

    None means the default of one. The count must be an integer from 1 to the
    flavor's vCPU count and is only meaningful with
    ``hw:emulator_threads_policy=isolate``.

    :raises InvalidEmulatorThreadsCount: not an integer in range, or set
        without ``isolate``.
    """
    flavor_v = source.flavor_view(flavor)
    raw = flavor_v.spec("hw:emulator_threads_count")
    if raw is None:
        return None
    count = source.parse_int(raw)
    if count is None or not 1 <= count <= flavor_v.vcpus:
        raise exception.InvalidEmulatorThreadsCount(
            count=raw,
            reason=f"it must be an integer from 1 to the flavor's vCPU count ({flavor_v.vcpus})",
        )
    policy = get_emulator_thread_policy_constraint(flavor_v)
    if policy != _EMULATOR.ISOLATE:
        shown = repr(policy) if policy else "unset"
        raise exception.InvalidEmulatorThreadsCount(
            count=raw,
            reason=f"a count needs hw:emulator_threads_policy=isolate (it is {shown})",
        )
    return count


def get_dedicated_cpu_constraint(flavor: Any) -> set[int] | None:
    """The pinned vCPUs of a ``mixed`` guest (``hw:cpu_dedicated_mask``), or None.

    The mask is a guest vCPU spec: with a leading ``^`` it starts from every vCPU
    and removes the exclusions, otherwise it is the literal set.

    :raises InvalidMixedInstanceDedicatedMask: the mask is malformed, names a
        vCPU the flavor does not have, or leaves no pinned or no floating vCPU.
    """
    flavor_v = source.flavor_view(flavor)
    mask = flavor_v.spec("hw:cpu_dedicated_mask")
    if not mask:
        return None
    vcpus = flavor_v.vcpus

    def invalid(reason: str) -> exception.InvalidMixedInstanceDedicatedMask:
        return exception.InvalidMixedInstanceDedicatedMask(
            message=(f"hw:cpu_dedicated_mask={mask!r} is invalid for {vcpus} vCPUs: {reason}"),
            mask=mask,
            vcpus=vcpus,
            reason=reason,
        )

    try:
        pinned = source.parse_vcpu_mask(mask, vcpus)
    except exception.InvalidCPUSpec as exc:
        raise invalid(f"not a vCPU spec ({exc})") from exc
    outside = pinned - set(range(vcpus))
    if outside:
        raise invalid(
            f"vCPU(s) {cpuset.format_cpu_spec(outside)} do not exist; valid vCPUs are 0-{vcpus - 1}"
        )
    if not pinned:
        raise invalid("it names no vCPU; a mixed guest needs at least one pinned vCPU")
    if len(pinned) == vcpus:
        raise invalid(
            "it names every vCPU; a mixed guest needs at least one floating vCPU "
            "(use hw:cpu_policy=dedicated to pin them all)"
        )
    return pinned


@dataclass(frozen=True)
class CPUPolicies:
    """The effective policies once the Placement form is folded in."""

    cpu_policy: str | None
    cpu_thread_policy: str | None
    emulator_threads_policy: str | None
    emulator_threads_count: int | None = None


def _explicit_resources(flavor: source.FlavorView) -> tuple[int, int]:
    """Total ``resources[N]:VCPU`` and ``resources[N]:PCPU`` requested."""
    totals = source.explicit_resources(flavor, ("VCPU", "PCPU"))
    return totals.get("VCPU", 0), totals.get("PCPU", 0)


def _hyperthreading_trait(flavor: source.FlavorView, props: source.Properties) -> str | None:
    """``required``/``forbidden`` from ``trait[N]:HW_CPU_HYPERTHREADING``, else the image."""
    for key, value in sorted(flavor.extra_specs.items()):
        match = source.TRAIT_KEY.fullmatch(key)
        if match and match.group(1) == _HYPERTHREADING:
            if value not in ("required", "forbidden"):
                raise exception.InvalidExtraSpecValue(
                    key=key, value=value, reason="a trait must be 'required' or 'forbidden'"
                )
            return value
    if _HYPERTHREADING in (props.get("traits_required") or ()):
        return "required"
    return None


def requested_cpu_policy(flavor: source.FlavorView, cpu_policy: str | None) -> str | None:
    """The CPU policy a flavor asks for, before its Placement form is validated.

    ``cpu_policy`` is the checked ``hw:cpu_policy``/``hw_cpu_policy``; without
    one, ``resources:PCPU`` asks for ``dedicated`` and ``resources:VCPU`` for
    ``shared``. Used to refuse realtime without pinning before anything else.
    """
    if cpu_policy:
        return cpu_policy
    vcpu_amount, pcpu_amount = _explicit_resources(flavor)
    if pcpu_amount:
        return _POLICY.DEDICATED
    return _POLICY.SHARED if vcpu_amount else None


def resolve_cpu_policies(flavor: Any, image_meta: Any) -> CPUPolicies:
    """Validate the CPU policies and fold in the explicit Placement form.

    Checks run in Nova's order: ``hw:cpu_policy``, ``hw:cpu_thread_policy``,
    ``hw:emulator_threads_policy``, then the Placement form (see
    :func:`fold_placement_form`).
    """
    flavor_v = source.flavor_view(flavor)
    image_v = source.image_view(image_meta)
    cpu_policy = get_cpu_policy_constraint(flavor_v, image_v)
    thread_policy = get_cpu_thread_policy_constraint(flavor_v, image_v)
    return fold_placement_form(flavor_v, image_v, cpu_policy, thread_policy)


def fold_placement_form(
    flavor_v: source.FlavorView,
    image_v: source.ImageView,
    cpu_policy: str | None,
    thread_policy: str | None,
) -> CPUPolicies:
    """Check the emulator policy, then fold in the explicit Placement form.

    ``resources:PCPU`` means ``dedicated`` and must equal the vCPU count, plus
    ``hw:emulator_threads_count`` (default 1) with ``hw:emulator_threads_policy=isolate``;
    ``resources:VCPU`` means ``shared``. ``trait:HW_CPU_HYPERTHREADING=forbidden``
    means thread policy ``isolate`` and ``required`` means ``require``.

    :raises InvalidEmulatorThreadsPolicy: see :func:`get_emulator_thread_policy_constraint`.
    :raises InvalidRequest: the Placement form is mixed with ``hw:cpu_policy``
        or ``hw:cpu_thread_policy``, both resource classes are requested, or the
        PCPU count does not match.
    """
    props = image_v.properties
    emulator_policy = get_emulator_thread_policy_constraint(flavor_v)
    emulator_count = get_emulator_threads_count_constraint(flavor_v)

    vcpu_amount, pcpu_amount = _explicit_resources(flavor_v)
    if cpu_policy and (vcpu_amount or pcpu_amount):
        raise exception.InvalidRequest(
            reason=(
                "'resources:VCPU'/'resources:PCPU' cannot be combined with "
                f"hw:cpu_policy / hw_cpu_policy (= {cpu_policy!r}); use one or the other"
            )
        )
    if vcpu_amount and pcpu_amount:
        raise exception.InvalidRequest(
            reason="'resources:VCPU' and 'resources:PCPU' cannot both be set; use one"
        )
    if pcpu_amount:
        extra = (emulator_count or 1) if emulator_policy == _EMULATOR.ISOLATE else 0
        io_extra = iothreads.get_iothreads_constraint(flavor_v).dedicated_pcpus
        why = f"{flavor_v.vcpus} vCPUs"
        if extra:
            why += f" + {extra} for hw:emulator_threads_policy=isolate"
        if io_extra:
            why += f" + {io_extra} for hw:iothreads_policy=isolate"
        extra += io_extra
        if pcpu_amount != flavor_v.vcpus + extra:
            raise exception.InvalidRequest(
                reason=(
                    f"resources:PCPU={pcpu_amount} does not match the flavor: it must be "
                    f"exactly {flavor_v.vcpus + extra} ({why})"
                )
            )
        cpu_policy = _POLICY.DEDICATED
    if vcpu_amount:
        cpu_policy = _POLICY.SHARED

    trait = _hyperthreading_trait(flavor_v, props)
    if trait and thread_policy:
        raise exception.InvalidRequest(
            reason=(
                "'trait:HW_CPU_HYPERTHREADING' cannot be combined with "
                f"hw:cpu_thread_policy / hw_cpu_thread_policy (= {thread_policy!r}); "
                "use one or the other"
            )
        )
    if trait == "forbidden":
        thread_policy = _THREADS.ISOLATE
    elif trait == "required":
        thread_policy = _THREADS.REQUIRE
    return CPUPolicies(cpu_policy, thread_policy, emulator_policy, emulator_count)


def check_pinning_required(
    policies: CPUPolicies, flavor: source.FlavorView, realtime_cpus: set[int] | None
) -> None:
    """Refuse what needs pinned vCPUs without them, in Nova's order.

    Without pinning: a thread policy, then emulator ``isolate``/``pool``, then a
    dedicated mask, then realtime. With ``dedicated``: a dedicated mask.

    :raises CPUThreadPolicyConfigurationInvalid: a thread policy without pinning.
    :raises BadRequirementEmulatorThreadsPolicy: ``isolate`` or ``pool`` without pinning.
    :raises RequiredMixedInstancePolicy: ``hw:cpu_dedicated_mask`` without ``mixed``.
    :raises RealtimeConfigurationInvalid: realtime vCPUs without pinning.
    """
    mask = flavor.spec("hw:cpu_dedicated_mask")
    policy = policies.cpu_policy
    shown = describe_policy(policy)
    if policy == _POLICY.MIXED:
        return
    if policy != _POLICY.DEDICATED:
        if policies.cpu_thread_policy:
            raise exception.CPUThreadPolicyConfigurationInvalid(cpu_policy=shown)
        if policies.emulator_threads_policy in (_EMULATOR.ISOLATE, _EMULATOR.POOL):
            raise exception.BadRequirementEmulatorThreadsPolicy(
                policy=policies.emulator_threads_policy, cpu_policy=shown
            )
    if mask:
        raise exception.RequiredMixedInstancePolicy(
            message=(
                f"hw:cpu_dedicated_mask={mask!r} requires hw:cpu_policy=mixed; the CPU "
                f"policy is {shown}"
            ),
            mask=mask,
        )
    if realtime_cpus is not None and policy != _POLICY.DEDICATED:
        raise exception.RealtimeConfigurationInvalid(cpu_policy=shown)
