"""The driver-agnostic compute driver base.

A hypervisor driver subclasses :class:`ComputeDriver` and overrides only what
its hypervisor changes. :meth:`ComputeDriver.estimate_instance_overhead`
reports the host resources a guest uses beyond its flavor; the base reports
none, the libvirt driver adds the pCPU that isolated emulator threads take,
and another driver (a Xen stub-domain driver, say) overrides the one method.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Overhead(TypedDict):
    """Host resources a guest uses beyond its flavor."""

    memory_mb: int
    disk_gb: int
    vcpus: int


def zero_overhead() -> Overhead:
    """A fresh overhead of nothing (callers may add to it)."""
    return {"memory_mb": 0, "disk_gb": 0, "vcpus": 0}


class ComputeDriver:
    """Base of every compute driver: hypervisor-independent defaults."""

    def estimate_instance_overhead(self, instance_info: Any) -> Overhead:
        """The host resources ``instance_info`` needs beyond its flavor: none by default.

        ``instance_info`` is a flavor (when a guest moves to this host), an
        instance-like object with ``numa_topology`` (when it is spawned) or a
        dict with ``'numa_topology'`` (when usage is computed).
        """
        return zero_overhead()


def estimate_instance_overhead(instance_info: Any) -> Overhead:
    """:meth:`ComputeDriver.estimate_instance_overhead` of the base driver: no overhead."""
    return ComputeDriver().estimate_instance_overhead(instance_info)
