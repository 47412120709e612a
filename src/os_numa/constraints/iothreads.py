"""Several I/O threads: ``hw:iothreads`` and ``hw:iothreads_policy`` (flavor only).

QEMU runs virtio-blk/scsi queues in I/O threads (KubeVirt's dedicated and
supplemental I/O threads, oVirt's I/O threads). Nova declares one and pins it
with the emulator threads; os-numa lets a flavor ask for N:

* ``hw:iothreads=N`` (1 to :data:`MAX_IOTHREADS`; unset: 1, Nova's);
* ``hw:iothreads_policy=share`` (the default): every I/O thread runs where
  the emulator threads run; ``isolate``: each I/O thread gets a dedicated pCPU of
  its own, reserved in the host cell of guest cell 0 beside the emulator
  pCPU(s) and counted like them: one more ``PCPU`` in the scheduler request and
  in the host's pinned pCPUs per I/O thread.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from os_numa import exception
from os_numa.constraints import source

#: Most I/O threads a flavor may ask for.
MAX_IOTHREADS = 64
SHARE = "share"
ISOLATE = "isolate"
POLICIES = (SHARE, ISOLATE)


class IOThreads(NamedTuple):
    """The I/O threads a flavor asks for: ``count`` None means Nova's one, ``policy``
    None means ``share``."""

    count: int | None  # type: ignore[assignment]  # shadows tuple.count; the field wins at run time
    policy: str | None

    @property
    def dedicated_pcpus(self) -> int:
        """pCPUs reserved for the I/O threads: ``count`` (1 when unset) under ``isolate``."""
        return (self.count or 1) if self.policy == ISOLATE else 0


def get_iothreads_constraint(flavor: Any) -> IOThreads:
    """``hw:iothreads`` and ``hw:iothreads_policy``, checked on their own.

    :raises InvalidIOThreadsCount: not an integer from 1 to :data:`MAX_IOTHREADS`.
    :raises InvalidIOThreadsPolicy: neither ``share`` nor ``isolate`` (case-sensitive).
    """
    flavor_v = source.flavor_view(flavor)
    raw_count = flavor_v.spec("hw:iothreads")
    count = None
    if raw_count not in (None, ""):
        count = source.parse_int(raw_count)
        if count is None or not 1 <= count <= MAX_IOTHREADS:
            raise exception.InvalidIOThreadsCount(
                count=raw_count, reason=f"it must be an integer from 1 to {MAX_IOTHREADS}"
            )
    policy = flavor_v.spec("hw:iothreads_policy") or None
    if policy is not None and policy not in POLICIES:
        raise exception.InvalidIOThreadsPolicy(
            policy=policy,
            reason=f"valid values are {', '.join(repr(p) for p in POLICIES)} (case-sensitive)",
        )
    return IOThreads(count, policy)


def check_iothreads_pinning(iothreads: IOThreads, pinned: bool, cpu_policy: str | None) -> None:
    """``isolate`` takes dedicated pCPUs, which only a guest with pinned vCPUs has.

    :raises InvalidIOThreadsPolicy: ``isolate`` without pinned vCPUs.
    """
    if iothreads.policy == ISOLATE and not pinned:
        shown = repr(cpu_policy) if cpu_policy else "unset (so 'shared')"
        raise exception.InvalidIOThreadsPolicy(
            policy=ISOLATE,
            reason=f"dedicated I/O thread pCPUs need hw:cpu_policy=dedicated or mixed (it is "
            f"{shown}); use hw:iothreads_policy=share",
        )
