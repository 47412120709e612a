"""Emulator threads beside chosen vCPUs: ``hw:emulator_threads_mask`` (image
``hw_emulator_threads_mask``), an os-numa extension.

The mask runs the emulator threads beside chosen *non-realtime* guest vCPUs
of a pinned guest (the DPDK pattern: vCPU 0 does housekeeping and hosts the emulator), as
asked on the openstack-dev list in 2017 and never merged into Nova.
"""

from __future__ import annotations

from os_numa import cpuset, exception
from os_numa.constraints import cpu, source


def mask_and_key(flavor: source.FlavorView, props: source.Properties) -> tuple[str | None, str]:
    """The emulator threads mask (the image's before the flavor's) and its key."""
    return source.image_mask_first("emulator_threads_mask", flavor, props)


def emulator_mask_set(
    flavor: source.FlavorView,
    props: source.Properties,
    policies: cpu.CPUPolicies,
    pinned: set[int],
    realtime_cpus: set[int] | None,
) -> set[int] | None:
    """The guest vCPUs whose pCPUs host the emulator threads, or None without a mask.

    :raises InvalidEmulatorThreadsMask: the mask is malformed, names a vCPU the
        flavor lacks, selects none, is combined with an emulator-threads policy,
        is set on a guest without pinned vCPUs, or names a realtime vCPU. A
        floating vCPU of a ``mixed`` guest may be named: the emulator threads
        then float with it over its host cell's shared CPUs.
    """
    mask, key = mask_and_key(flavor, props)
    if mask is None:
        return None

    def invalid(reason: str) -> exception.InvalidEmulatorThreadsMask:
        return exception.InvalidEmulatorThreadsMask(
            message=f"{key}={mask!r} is invalid: {reason}", mask=mask, reason=reason
        )

    policy = policies.emulator_threads_policy
    if policy:
        raise invalid(
            f"hw:emulator_threads_policy={policy} already decides where the emulator threads "
            "run; use either the mask (emulator threads beside the named pinned vCPUs) or the "
            "policy, not both"
        )
    try:
        selected = source.parse_vcpu_mask(mask, flavor.vcpus)
    except exception.InvalidCPUSpec as exc:
        raise invalid(f"not a vCPU spec ({exc})") from exc
    outside = selected - set(range(flavor.vcpus))
    if outside:
        raise invalid(
            f"vCPU(s) {cpuset.format_cpu_spec(outside)} do not exist; valid vCPUs are "
            f"0-{flavor.vcpus - 1}"
        )
    if not selected:
        raise invalid("it names no vCPU; '0' means beside vCPU 0")
    if not pinned:
        raise invalid(
            "the emulator threads follow pinned vCPUs, but none is pinned: set "
            "hw:cpu_policy=dedicated or mixed (it is "
            f"{cpu.describe_policy(policies.cpu_policy)})"
        )
    realtime_named = selected & (realtime_cpus or set())
    if realtime_named:
        raise invalid(
            f"vCPU(s) {cpuset.format_cpu_spec(realtime_named)} are realtime; the emulator "
            "threads must run beside non-realtime vCPUs only"
        )
    return selected
