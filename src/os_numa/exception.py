"""Typed errors raised by os-numa.

Every error derives from :class:`OsNumaError`, whose message is a template
(``msg_fmt``) filled from keyword arguments, as in Nova. Errors caused by bad
input (extra specs, image properties, CPU specs, configuration, XML) also
derive from :class:`ValueError`, so generic callers can catch them without
importing this module. Class names match Nova's where Nova has the same error,
so a driver that catches ``nova.exception.X`` can catch ``os_numa.exception.X``.

Every class here is raised by some os-numa feature (tests/test_exception.py checks).
Nova errors that have no os-numa counterpart are not defined: ``MemoryPagesUnsupported``
(Nova: huge pages with ``[libvirt] file_backed_memory``, or a host without NUMA
support; os-numa has no file-backed memory and reads page sizes from the placement)
and ``MigrationPreCheckError`` (Nova's compute manager wraps a failed live-migration
claim in it; os-numa's ``move_claim`` raises ``ComputeResourcesUnavailable``, as
Nova's resource tracker does, and the caller's manager wraps it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class OsNumaError(Exception):
    """Base class: formats ``msg_fmt`` with the keyword arguments given."""

    msg_fmt = "An unknown os-numa error occurred."
    code = 500

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError, ValueError):
                # A template/argument mismatch is a bug in the raiser; keep the
                # template and the arguments rather than hiding the real error.
                message = f"{self.msg_fmt} ({kwargs!r})"
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class Invalid(OsNumaError, ValueError):
    """Bad input: an extra spec, image property, option, CPU spec or document."""

    msg_fmt = "Unacceptable parameters: %(reason)s"
    code = 400


class Forbidden(OsNumaError, ValueError):
    """Input that is well formed but not allowed in this combination."""

    msg_fmt = "Forbidden: %(reason)s"
    code = 403


class NotFound(OsNumaError):
    msg_fmt = "Resource could not be found."
    code = 404


class InternalError(OsNumaError):
    msg_fmt = "%(err)s"


# --- CPU specs and configuration -------------------------------------------


class InvalidCPUSpec(Invalid):
    msg_fmt = "Invalid CPU spec %(spec)r: %(reason)s"


class InvalidConfiguration(Invalid):
    msg_fmt = "Configuration is invalid: %(reason)s"


class InvalidReservedMemoryPagesOption(Invalid):
    msg_fmt = "The reserved huge pages option is invalid: %(conf)s. %(reason)s"


class InvalidImageProperty(Invalid):
    msg_fmt = "Image property %(name)s=%(value)r is invalid: %(reason)s"


class InvalidRequest(Invalid):
    msg_fmt = "The request is invalid: %(reason)s"


class InvalidFlavor(Invalid):
    msg_fmt = "The flavor is invalid: %(reason)s"


class InvalidExtraSpecValue(Invalid):
    msg_fmt = "%(key)s=%(value)r is invalid: %(reason)s"


# --- CPU policies ----------------------------------------------------------


class InvalidCPUAllocationPolicy(Invalid):
    msg_fmt = (
        "CPU policy %(source)s value %(requested)r is invalid; valid values are %(available)s."
    )


class InvalidCPUThreadAllocationPolicy(Invalid):
    msg_fmt = (
        "CPU thread policy %(source)s value %(requested)r is invalid; "
        "valid values are %(available)s."
    )


class CPUThreadPolicyConfigurationInvalid(Invalid):
    msg_fmt = (
        "hw:cpu_thread_policy / hw_cpu_thread_policy is only valid with "
        "hw:cpu_policy 'dedicated' or 'mixed'; the CPU policy is %(cpu_policy)s."
    )


class ImageCPUPinningForbidden(Forbidden):
    msg_fmt = (
        "Image property hw_cpu_policy=%(image)s is not allowed with flavor "
        "hw:cpu_policy=%(flavor)s: an image may not ask for more pinning than the flavor."
    )


class ImageCPUThreadPolicyForbidden(Forbidden):
    msg_fmt = (
        "Image property hw_cpu_thread_policy=%(image)s conflicts with flavor "
        "hw:cpu_thread_policy=%(flavor)s: the flavor's isolate/require cannot be overridden."
    )


class InvalidMixedInstanceDedicatedMask(Invalid):
    msg_fmt = (
        "Mixed instance dedicated vCPU(s) mask %(mask)r is invalid for %(vcpus)d vCPUs: %(reason)s"
    )


class RequiredMixedInstancePolicy(Invalid):
    msg_fmt = "hw:cpu_dedicated_mask=%(mask)r requires hw:cpu_policy=mixed."


class RequiredMixedOrRealtimeCPUMask(Invalid):
    msg_fmt = (
        "hw:cpu_policy=mixed needs exactly one of hw:cpu_dedicated_mask and "
        "hw:cpu_realtime_mask (with hw:cpu_realtime=yes); %(reason)s"
    )


# --- Emulator threads --------------------------------------------------------


class InvalidEmulatorThreadsPolicy(Invalid):
    msg_fmt = (
        "Emulator threads policy %(requested)r is invalid; valid values are "
        "%(available)s (case-sensitive)."
    )


class BadRequirementEmulatorThreadsPolicy(Invalid):
    msg_fmt = (
        "hw:emulator_threads_policy=%(policy)s needs pinned vCPUs: set "
        "hw:cpu_policy to 'dedicated' or 'mixed' (it is %(cpu_policy)s)."
    )


class InvalidEmulatorThreadsMask(Invalid):
    msg_fmt = "Emulator threads mask %(mask)r is invalid: %(reason)s"


class InvalidEmulatorThreadsCount(Invalid):
    msg_fmt = "hw:emulator_threads_count=%(count)r is invalid: %(reason)s"


class EmulatorPinEmpty(Invalid):
    msg_fmt = "Refusing to build an empty emulator pin set: %(reason)s"


class EmulatorPoolCPUUnknown(Invalid):
    """A guest's emulator pool pCPU is not in any host cell's ``[os_numa] emulator_pin_set``."""

    msg_fmt = (
        "Emulator pool pCPU %(cpu)s is not in the host's emulator pool "
        "([os_numa] emulator_pin_set: %(pool)s)."
    )


class EmulatorPoolCPUInvalid(Invalid):
    """A claim beyond ``[os_numa] emulator_pool_overcommit``, or a release never claimed."""

    msg_fmt = "Emulator pool pCPU %(cpu)s on host cell %(cell)s: %(reason)s"


class InvalidGuestPlacement(Invalid):
    """A placement that cannot be written as libvirt XML without libvirt dropping part of it."""

    msg_fmt = "The guest placement cannot be written as libvirt XML: %(reason)s"


# --- Realtime ----------------------------------------------------------------


class RealtimeConfigurationInvalid(Invalid):
    msg_fmt = (
        "Cannot set realtime policy in a non dedicated CPU pinning policy: "
        "hw:cpu_realtime needs hw:cpu_policy 'dedicated' or 'mixed' (it is %(cpu_policy)s)."
    )


class RealtimeMaskNotFoundOrInvalid(Invalid):
    msg_fmt = (
        "Use of realtime CPUs requires either one or more non-realtime CPU(s) "
        "or offloaded emulator threads. %(reason)s"
    )

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("reason", "")
        super().__init__(message, **kwargs)


class InvalidRealtimePriority(Invalid):
    msg_fmt = "Realtime priority %(priority)r is invalid: an integer in 1..99 is required."


# --- NUMA topology requests ----------------------------------------------------


class InvalidNUMANodesNumber(Invalid):
    msg_fmt = (
        "The NUMA node count %(nodes)r is invalid: it must be an integer from 1 to "
        "the number of vCPUs (%(vcpus)s)."
    )


class ImageNUMATopologyForbidden(Forbidden):
    msg_fmt = "Image property %(name)s is not permitted when the flavor also sets it."


class ImageNUMATopologyAsymmetric(Invalid):
    msg_fmt = (
        "%(vcpus)d vCPUs / %(memory)d MB cannot be split evenly over %(nodes)d NUMA nodes; "
        "use hw:numa_cpus.N and hw:numa_mem.N for an uneven split."
    )


class NUMANodesExceedVCPUs(InvalidNUMANodesNumber, ImageNUMATopologyAsymmetric):
    """More guest NUMA nodes than vCPUs, with an even split (Nova: asymmetric)."""


class ImageNUMATopologyIncomplete(Invalid):
    msg_fmt = "The NUMA topology is incomplete: %(reason)s"


class ImageNUMATopologyCPUOutOfRange(Invalid):
    msg_fmt = "vCPU %(cpunum)d in hw:numa_cpus is out of range 0..%(cpumax)d."


class ImageNUMATopologyCPUDuplicates(Invalid):
    msg_fmt = "vCPU %(cpunum)d is assigned to more than one NUMA node."


class ImageNUMATopologyCPUsUnassigned(Invalid):
    msg_fmt = "vCPU(s) %(cpuset)s are not assigned to any NUMA node."


class ImageNUMATopologyMemoryOutOfRange(Invalid):
    msg_fmt = "The NUMA node memory sums to %(memsize)d MB, but the flavor has %(memtotal)d MB."


class ImageVCPULimitsRangeExceeded(Invalid):
    msg_fmt = (
        "Image vCPU topology limits (sockets=%(sockets)d, cores=%(cores)d, threads=%(threads)d) "
        "exceed the permitted limits (sockets=%(maxsockets)d, cores=%(maxcores)d, "
        "threads=%(maxthreads)d)."
    )


class ImageVCPUTopologyRangeExceeded(Invalid):
    msg_fmt = (
        "Image vCPU topology (sockets=%(sockets)d, cores=%(cores)d, threads=%(threads)d) "
        "exceeds the permitted limits (sockets=%(maxsockets)d, cores=%(maxcores)d, "
        "threads=%(maxthreads)d)."
    )


class ImageVCPULimitsRangeImpossible(Invalid):
    msg_fmt = "Requested vCPU limits %(sockets)d:%(cores)d:%(threads)d cannot hold %(vcpus)d vCPUs."


class CPUTopologyNUMAMismatch(ImageVCPULimitsRangeImpossible):
    """No allowed guest CPU topology keeps each guest core inside one guest NUMA node."""

    msg_fmt = "The guest CPU topology cannot follow the guest NUMA nodes: %(reason)s"


class InvalidIOThreadsCount(Invalid):
    msg_fmt = "hw:iothreads=%(count)r is invalid: %(reason)s"


class InvalidIOThreadsPolicy(Invalid):
    msg_fmt = "hw:iothreads_policy=%(policy)r is invalid: %(reason)s"


class InvalidNUMAMemoryPolicy(Invalid):
    msg_fmt = (
        "%(source)s=%(requested)r is not a NUMA memory policy; valid values are %(available)s."
    )


class ImageNUMAMemoryPolicyForbidden(Forbidden):
    msg_fmt = (
        "Image property hw_numa_memory_policy=%(image)s conflicts with flavor "
        "hw:numa_memory_policy=%(flavor)s; the image may only repeat the flavor's value."
    )


# --- Memory pages ----------------------------------------------------------------


class MemoryPageSizeInvalid(Invalid):
    msg_fmt = (
        "Page size %(pagesize)r is invalid: use small, large, any, a number of KiB, "
        "or a size such as 2MB or 1GB."
    )


class MemoryPageSizeForbidden(Forbidden):
    msg_fmt = "Page size %(pagesize)s is forbidden against %(against)s."


class MemoryPageSizeNotSupported(Invalid):
    msg_fmt = "Page size %(pagesize)s is not supported by the host."


class LockMemoryForbidden(Forbidden):
    msg_fmt = "Memory locking needs a page size (hw:mem_page_size)."


class FlavorImageLockedMemoryConflict(Forbidden):
    msg_fmt = (
        "hw:locked_memory=%(flavor)s in the flavor conflicts with hw_locked_memory=%(image)s "
        "in the image."
    )


# --- Pinning and usage ---------------------------------------------------------------


class CPUPinningInvalid(Invalid):
    msg_fmt = "CPU set to pin %(requested)s must be a subset of free CPU set %(available)s"


class CPUPinningUnknown(Invalid):
    msg_fmt = "CPU set to pin %(requested)s must be a subset of known CPU set %(available)s"


class CPUUnpinningInvalid(Invalid):
    msg_fmt = "CPU set to unpin %(requested)s must be a subset of pinned CPU set %(available)s"


class CPUUnpinningUnknown(Invalid):
    msg_fmt = "CPU set to unpin %(requested)s must be a subset of known CPU set %(available)s"


class CPUUsageInvalid(Invalid):
    msg_fmt = "Floating vCPU accounting on host cell %(cell)d is invalid: %(reason)s"


class MemoryUsageInvalid(Invalid):
    msg_fmt = "Memory accounting on host cell %(cell)d is invalid: %(reason)s"


class InstanceNotClaimed(NotFound):
    msg_fmt = "Instance %(instance)s holds no claim on this host."


class InstanceAlreadyClaimed(Invalid):
    msg_fmt = "Instance %(instance)s already holds a claim on this host."


class ComputeResourcesUnavailable(OsNumaError):
    msg_fmt = "Insufficient compute resources: %(reason)s"


class InsufficientHostCapacity(ComputeResourcesUnavailable):
    """Host-wide memory, pCPUs or floating vCPUs are short once the driver's overhead counts."""

    msg_fmt = "Insufficient compute resources for instance %(instance)s: %(reason)s"


class CheckpointInvalid(Invalid):
    """A tracker checkpoint that cannot be trusted; ``problem`` says why (``corrupt``,
    ``truncated``, ``tampered``, ``too large``, ``unsupported``, ``unreadable``)."""

    msg_fmt = "Checkpoint %(path)s is %(problem)s: %(reason)s"


class CheckpointMismatch(Invalid):
    """A sound checkpoint that does not describe this host or its guests (stale)."""

    msg_fmt = "Checkpoint %(path)s is stale: %(reason)s"


class HostDrift(OsNumaError):
    """libvirt enforces placements os-numa would not make; ``drift`` lists them."""

    msg_fmt = "The host's domains drifted from what os-numa places: %(reason)s"

    def __init__(
        self, message: str | None = None, drift: Iterable[Any] = (), **kwargs: Any
    ) -> None:
        self.drift = tuple(drift)
        super().__init__(message, **kwargs)


class InstanceUsageConflict(Invalid):
    msg_fmt = "Instance %(instance)s cannot be accounted on this host: %(reason)s"


class PlacementInvalid(InstanceUsageConflict):
    """A recorded placement that a fresh claim could never have produced.

    Raised by :func:`os_numa.fit.verify.check_placement` (restored claims:
    the tracker's rebuild, the command's ``--existing``). ``instance`` names the
    guest, ``rule`` is the short name of the broken rule (listed in
    :data:`os_numa.fit.verify.RULES`) and ``reason`` the details.
    """

    msg_fmt = (
        "Instance %(instance)s cannot be accounted on this host: its placement breaks rule "
        "'%(rule)s': %(reason)s"
    )

    @property
    def rule(self) -> str:
        return self.kwargs.get("rule", "")

    @property
    def instance(self) -> str:
        return self.kwargs.get("instance", "")


# --- XML -------------------------------------------------------------------------------


class InvalidXML(Invalid):
    msg_fmt = "Invalid XML document: %(reason)s"


class UnsafeXML(InvalidXML):
    msg_fmt = "Refusing unsafe XML document: %(reason)s"


class LibvirtConnectionError(OsNumaError):
    msg_fmt = "Cannot use libvirt connection %(uri)s: %(reason)s"


# --- PCI ---------------------------------------------------------------------------------


class PciInvalidAlias(Invalid):
    msg_fmt = "Invalid PCI alias definition: %(reason)s"


class PciRequestAliasNotDefined(Invalid):
    msg_fmt = "PCI alias %(alias)s is not defined (known aliases: %(known)s)."


class PciRequestInvalid(Invalid):
    msg_fmt = "PCI request %(request)r is invalid: %(reason)s"


class InvalidPCINUMAAffinity(Invalid):
    msg_fmt = "Invalid PCI NUMA affinity policy %(policy)r; valid values are %(available)s."


class PciDeviceInvalidStatus(Invalid):
    msg_fmt = "PCI device %(address)s is %(status)s; expected %(expected)s."


class PciDeviceNotFound(NotFound):
    msg_fmt = "PCI device %(address)s is not known on this host."


class ImagePCINUMAPolicyForbidden(Forbidden):
    msg_fmt = (
        "Image property hw_pci_numa_affinity_policy=%(image)s conflicts with flavor "
        "hw:pci_numa_affinity_policy=%(flavor)s; the image may only repeat the flavor's value."
    )


# --- moving guests (issue 14) -----------------------------------------------------------


class InstanceMoveInProgress(Invalid):
    msg_fmt = (
        "Instance %(instance)s is already moving (it has a migration context); "
        "confirm or revert that move first."
    )


class MoveClaimNotFound(NotFound):
    msg_fmt = "Instance %(instance)s holds no move claim on this host."


# --- Placement (os_numa.placement) ------------------------------------------------------


class PlacementError(OsNumaError):
    """Placement answered a request with an error (or could not be reached)."""

    msg_fmt = "Placement %(method)s %(path)s failed: %(reason)s"


class PlacementConflict(PlacementError):
    """Placement refused a write with 409: a generation changed, or capacity ran out."""

    code = 409
    msg_fmt = "Placement %(method)s %(path)s conflicted: %(reason)s"


class PlacementNotConfigured(InvalidConfiguration):
    msg_fmt = "Placement is not configured: %(reason)s"


class CPUPowerManagementError(OsNumaError):
    """Reading or writing a pCPU's power state through sysfs failed."""

    msg_fmt = "CPU power management failed for CPU %(cpu)s: %(reason)s"
