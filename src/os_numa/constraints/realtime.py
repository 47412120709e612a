"""Realtime vCPUs: ``hw:cpu_realtime``, ``hw:cpu_realtime_mask`` and ``hw:cpu_realtime_priority``.

Realtime vCPUs are scheduled SCHED_FIFO, so they must be pinned, and the
emulator threads must run somewhere else than on them: on at least one
non-realtime vCPU, or wherever an emulator-threads policy sends them.
"""

from __future__ import annotations

from typing import Any

from os_numa import cpuset, exception
from os_numa.constraints import cpu, source
from os_numa.objects import fields

_POLICY = fields.CPUAllocationPolicy


def is_realtime_enabled(flavor: Any) -> bool:
    """Whether the flavor asks for realtime vCPUs (``hw:cpu_realtime``, flavor only).

    :raises InvalidExtraSpecValue: the value is not one of oslo's boolean
        strings (``yes``/``no``, ``true``/``false``, ``1``/``0``, ...). Nova reads
        unknown strings as False; a typo that silently disables realtime is
        worse than an error.
    """
    value = source.flavor_view(flavor).spec("hw:cpu_realtime")
    if value is None:
        return False
    return source.parse_bool("hw:cpu_realtime", value)


def check_realtime_policy(cpu_policy: str | None) -> None:
    """Realtime needs pinned vCPUs.

    :raises RealtimeConfigurationInvalid: the CPU policy is shared or unset.
    """
    if cpu_policy not in (_POLICY.DEDICATED, _POLICY.MIXED):
        raise exception.RealtimeConfigurationInvalid(cpu_policy=cpu.describe_policy(cpu_policy))


def realtime_set(flavor: source.FlavorView, props: source.Properties) -> set[int]:
    """The realtime vCPUs selected by the mask, checked against the realtime rule.

    The checks run in Nova's order: the mask's syntax, an empty selection, the
    emulator-threads policy's value, every vCPU realtime without an
    emulator-threads policy, then vCPUs the flavor lacks.

    :raises RealtimeMaskNotFoundOrInvalid: the mask is malformed, selects none,
        selects every vCPU while no emulator-threads policy gives the emulator
        threads another home, or names a vCPU the flavor lacks.
    :raises InvalidEmulatorThreadsPolicy: see
        :func:`~os_numa.constraints.cpu.get_emulator_thread_policy_constraint`.
    """
    mask, key = source.image_mask_first("cpu_realtime_mask", flavor, props)
    vcpus = flavor.vcpus
    every = set(range(vcpus))

    def invalid(reason: str) -> exception.RealtimeMaskNotFoundOrInvalid:
        return exception.RealtimeMaskNotFoundOrInvalid(reason=reason)

    if mask is None:
        selected = every
    else:
        try:
            selected = source.parse_vcpu_mask(mask, vcpus)
        except exception.InvalidCPUSpec as exc:
            raise exception.RealtimeMaskNotFoundOrInvalid(
                message=f"{key}={mask!r} is not a vCPU spec: {exc}", reason=str(exc)
            ) from exc
        if not selected:
            raise invalid(
                f"{key}={mask!r} selects no vCPU; name the realtime vCPUs, e.g. '^0' "
                "for every vCPU but vCPU 0."
            )
    emulator_policy = cpu.get_emulator_thread_policy_constraint(flavor)
    if selected == every and not emulator_policy:
        what = (
            "hw:cpu_realtime_mask is not set, so every vCPU would be realtime"
            if mask is None
            else f"{key}={mask!r} makes every vCPU (0-{vcpus - 1}) realtime"
        )
        raise invalid(
            f"{what} and the emulator threads would have nowhere to run: leave at least "
            "one vCPU out of the mask (e.g. '^0') or set hw:emulator_threads_policy "
            "to 'isolate' or 'share'."
        )
    outside = selected - every
    if outside:
        raise invalid(
            f"{key}={mask!r} names vCPU(s) {cpuset.format_cpu_spec(outside)}, but the "
            f"flavor's vCPUs are 0-{vcpus - 1}."
        )
    return selected


def get_realtime_cpu_constraint(flavor: Any, image_meta: Any) -> set[int] | None:
    """The realtime guest vCPUs, or None when ``hw:cpu_realtime`` is off.

    The mask is ``hw_cpu_realtime_mask`` from the image if set (the image wins),
    else ``hw:cpu_realtime_mask`` from the flavor: with a leading ``^`` every
    vCPU but the exclusions, otherwise the literal set. Without a mask every
    vCPU is realtime, which needs an emulator-threads policy.

    Unlike Nova, which checks the mask first, the pinning requirement is checked
    first: ``hw:cpu_realtime=yes`` on a shared flavor reports the missing
    ``hw:cpu_policy``, the actual mistake, rather than a missing mask.

    :raises RealtimeConfigurationInvalid: the CPU policy is shared or unset.
    :raises RealtimeMaskNotFoundOrInvalid: see :func:`realtime_set`.
    """
    flavor_v = source.flavor_view(flavor)
    if not is_realtime_enabled(flavor_v):
        return None
    image_v = source.image_view(image_meta)
    cpu_policy = cpu.get_cpu_policy_constraint(flavor_v, image_v)
    check_realtime_policy(cpu.requested_cpu_policy(flavor_v, cpu_policy))
    return realtime_set(flavor_v, image_v.properties)


#: The SCHED_FIFO priorities Linux accepts.
MIN_PRIORITY, MAX_PRIORITY = 1, 99


def get_realtime_priority_constraint(flavor: Any) -> int | None:
    """The flavor's SCHED_FIFO priority (``hw:cpu_realtime_priority``), or None.

    None means ``[libvirt] realtime_scheduler_priority`` applies. Nova has no
    per-flavor priority; the realtime spec asked for one.

    :raises InvalidRealtimePriority: not an integer in 1..99, or set while
        ``hw:cpu_realtime`` is off.
    """
    flavor_v = source.flavor_view(flavor)
    raw = flavor_v.spec("hw:cpu_realtime_priority")
    if raw is None:
        return None
    priority = source.parse_int(raw)
    if priority is None or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise exception.InvalidRealtimePriority(
            message=(
                f"hw:cpu_realtime_priority={raw!r} is invalid: an integer from "
                f"{MIN_PRIORITY} to {MAX_PRIORITY} is required"
            ),
            priority=raw,
        )
    if not is_realtime_enabled(flavor_v):
        raise exception.InvalidRealtimePriority(
            message=(
                f"hw:cpu_realtime_priority={raw!r} has no effect without realtime vCPUs: "
                "set hw:cpu_realtime=yes, or remove the priority"
            ),
            priority=raw,
        )
    return priority
