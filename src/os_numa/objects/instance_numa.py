"""Guest NUMA topology objects: the request before a fit and the placement after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_utils import versionutils

from os_numa import exception
from os_numa.objects import base, fields

if TYPE_CHECKING:
    from os_numa.objects.pci import InstancePCIDevice

_POLICY = fields.CPUAllocationPolicy
_THREADS = fields.CPUThreadAllocationPolicy
_EMULATOR = fields.CPUEmulatorThreadsPolicy


@base.OsNumaObjectRegistry.register
class InstanceNUMACell(base.OsNumaObject):
    """One guest NUMA cell.

    ``cpuset`` and ``pcpuset`` hold *guest vCPU ids* (floating and pinned),
    ``memory`` is MiB and ``pagesize`` KiB. After a fit, ``id`` is the host cell
    id, ``cpu_pinning`` maps each pinned vCPU to its host pCPU and
    ``cpuset_reserved`` holds the host pCPU(s) reserved for emulator threads.

    Versions:

    * 1.0: id, cpuset, memory, pagesize, cpu_pinning_raw, cpu_policy,
      cpu_thread_policy
    * 1.1: cpuset_reserved (dropped when downgrading)
    * 1.2: pcpuset (a downgrade moves the pinned vCPUs into cpuset, where
      older versions kept them)
    * 1.3: cpu_policy ``mixed`` (a downgrade of a mixed cell raises
      :class:`~os_numa.exception.InternalError`: older readers cannot express it)
    """

    VERSION = "1.3"

    fields = {
        "id": fields.IntegerField(),
        "cpuset": fields.SetOfIntegersField(),
        "pcpuset": fields.SetOfIntegersField(default=set()),
        "memory": fields.IntegerField(),
        "pagesize": fields.IntegerField(nullable=True, default=None),
        "cpu_pinning_raw": fields.DictOfIntegersField(nullable=True, default=None),
        "cpuset_reserved": fields.SetOfIntegersField(nullable=True, default=None),
        "cpu_policy": fields.CPUAllocationPolicyField(nullable=True, default=None),
        "cpu_thread_policy": fields.CPUThreadAllocationPolicyField(nullable=True, default=None),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    id: int
    cpuset: set[int]
    pcpuset: set[int]
    memory: int
    pagesize: int | None
    cpu_pinning_raw: dict[str, int] | None
    cpuset_reserved: set[int] | None
    cpu_policy: str | None
    cpu_thread_policy: str | None

    def __init__(self, cpu_pinning: dict[int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()
        if cpu_pinning is not None:
            self.cpu_pinning = cpu_pinning

    obj_added_fields = {"1.1": ("cpuset_reserved",)}

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        target = versionutils.convert_version_to_tuple(target_version)
        if target < (1, 3) and primitive.get("cpu_policy") == _POLICY.MIXED:
            raise exception.InternalError(
                err=f"InstanceNUMACell {target_version} cannot carry cpu_policy 'mixed'"
            )
        if target < (1, 2):
            pcpuset = primitive.pop("pcpuset", None)
            if pcpuset:
                primitive["cpuset"] = tuple(sorted(set(primitive.get("cpuset", ())) | set(pcpuset)))

    # cpu_pinning is stored with string keys (oslo dict fields); expose int keys.
    @property
    def cpu_pinning(self) -> dict[int, int] | None:
        raw = self.cpu_pinning_raw
        if raw is None:
            return None
        return {int(vcpu): pcpu for vcpu, pcpu in raw.items()}

    @cpu_pinning.setter
    def cpu_pinning(self, value: dict[int, int] | None) -> None:
        if value is None:
            self.cpu_pinning_raw = None
        else:
            self.cpu_pinning_raw = {str(vcpu): pcpu for vcpu, pcpu in value.items()}

    @property
    def total_cpus(self) -> int:
        return len(self.cpuset) + len(self.pcpuset)

    @property
    def cpus(self) -> set[int]:
        """Every vCPU of the cell, floating or pinned."""
        return set(self.cpuset) | set(self.pcpuset)

    @property
    def cpu_pinning_requested(self) -> bool:
        return self.cpu_policy in (_POLICY.DEDICATED, _POLICY.MIXED)

    @property
    def cpuset_reserved_or_empty(self) -> set[int]:
        return set(self.cpuset_reserved or ())


@base.OsNumaObjectRegistry.register
class InstanceNUMATopology(base.OsNumaObject):
    """A guest's NUMA cells and its emulator-threads policy.

    Versions (each bump also raises the version of the cells it carries):

    * 1.0: cells (InstanceNUMACell 1.0)
    * 1.1: emulator_threads_policy (dropped when downgrading); cells are
      InstanceNUMACell 1.1 (cpuset_reserved)
    * 1.2: cells are InstanceNUMACell 1.2 (pcpuset)
    * 1.3: cells are InstanceNUMACell 1.3 (cpu_policy ``mixed``)
    * 1.4: pci_devices (InstancePCIDevice list: the devices assigned by the
      fit and the guest cell each is local to; dropped when downgrading)
    * 1.5: emulator_threads_policy ``pool`` (refused when downgrading);
      emulator_threads_count (pCPUs reserved by ``isolate``; None means 1) and
      emulator_threads_mask (guest vCPUs whose pCPUs host the emulator threads;
      None means no mask); both dropped when downgrading, which falls back to
      Nova's behaviour (the reserved pCPUs stay in the cells' cpuset_reserved)
    * 1.6: realtime_vcpus (the guest vCPUs scheduled FIFO, or None when realtime
      is off; the fit keeps isolate's emulator pCPUs off their SMT siblings);
      dropped when downgrading
    * 1.7: emulator_pool_cpu (policy ``pool``: the pCPU of ``[os_numa]
      emulator_pin_set`` the fit chose for the emulator threads, or None);
      dropped when downgrading (a ``pool`` topology cannot go below 1.5 anyway)
    * 1.8: iothreads (``hw:iothreads``; None means one) and iothreads_policy
      (``hw:iothreads_policy``; None means ``share``); dropped when downgrading,
      which leaves isolated I/O thread pCPUs in guest cell 0's cpuset_reserved
    * 1.9: realtime_priority (``hw:cpu_realtime_priority``; None: ``[libvirt]
      realtime_scheduler_priority``), locked_memory (``hw:locked_memory``; None:
      not asked) and memory_policy (``hw:numa_memory_policy``; None: ``strict``),
      the last policy inputs of the guest XML, so the XML stage reads the placement
      only; dropped when downgrading (an older reader re-reads them from the flavor)
    """

    VERSION = "1.9"

    fields = {
        "cells": fields.ListOfObjectsField("OsNumaInstanceNUMACell"),
        "emulator_threads_policy": fields.CPUEmulatorThreadsPolicyField(
            nullable=True, default=None
        ),
        "pci_devices": fields.ListOfObjectsField("OsNumaInstancePCIDevice", default=[]),
        "emulator_threads_count": fields.IntegerField(nullable=True, default=None),
        "emulator_threads_mask": fields.SetOfIntegersField(nullable=True, default=None),
        "realtime_vcpus": fields.SetOfIntegersField(nullable=True, default=None),
        "emulator_pool_cpu": fields.IntegerField(nullable=True, default=None),
        "iothreads": fields.IntegerField(nullable=True, default=None),
        "iothreads_policy": fields.StringField(nullable=True, default=None),
        "realtime_priority": fields.IntegerField(nullable=True, default=None),
        "locked_memory": fields.BooleanField(nullable=True, default=None),
        "memory_policy": fields.StringField(nullable=True, default=None),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    cells: list[InstanceNUMACell]
    emulator_threads_policy: str | None
    pci_devices: list[InstancePCIDevice]
    emulator_threads_count: int | None
    emulator_threads_mask: set[int] | None
    realtime_vcpus: set[int] | None
    emulator_pool_cpu: int | None
    iothreads: int | None
    iothreads_policy: str | None
    realtime_priority: int | None
    locked_memory: bool | None
    memory_policy: str | None

    obj_relationships = {
        "cells": [("1.0", "1.0"), ("1.1", "1.1"), ("1.2", "1.2"), ("1.3", "1.3")],
        "pci_devices": [("1.4", "1.0")],
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()

    obj_added_fields = {
        "1.1": ("emulator_threads_policy",),
        "1.4": ("pci_devices",),
        "1.5": ("emulator_threads_count", "emulator_threads_mask"),
        "1.6": ("realtime_vcpus",),
        "1.7": ("emulator_pool_cpu",),
        "1.8": ("iothreads", "iothreads_policy"),
        "1.9": ("realtime_priority", "locked_memory", "memory_policy"),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        # Refused before the added fields (emulator_threads_policy among them) are dropped.
        if (
            versionutils.convert_version_to_tuple(target_version) < (1, 5)
            and primitive.get("emulator_threads_policy") == _EMULATOR.POOL
        ):
            raise exception.InternalError(
                err=(
                    f"InstanceNUMATopology {target_version} cannot carry "
                    "emulator_threads_policy 'pool'"
                )
            )
        super().obj_make_compatible(primitive, target_version)

    @property
    def iothread_pcpus(self) -> int:
        """Dedicated pCPUs of the I/O threads: their count under ``isolate``, else 0."""
        if getattr(self, "iothreads_policy", None) != "isolate":
            return 0
        return getattr(self, "iothreads", None) or 1

    @property
    def emulator_threads_isolated(self) -> bool:
        return self.emulator_threads_policy == _EMULATOR.ISOLATE

    @property
    def emulator_threads_pooled(self) -> bool:
        return self.emulator_threads_policy == _EMULATOR.POOL

    @property
    def cpu_pinning(self) -> set[int]:
        """Every host pCPU a vCPU of this guest is pinned to."""
        return {pcpu for cell in self.cells for pcpu in (cell.cpu_pinning or {}).values()}

    @property
    def cpuset_reserved(self) -> set[int]:
        """Every host pCPU reserved for this guest's emulator threads."""
        return {pcpu for cell in self.cells for pcpu in (cell.cpuset_reserved or ())}

    @property
    def cpu_policy(self) -> str | None:
        """The cells' common CPU policy.

        :raises InternalError: the cells disagree.
        """
        policies = {cell.cpu_policy for cell in self.cells}
        if len(policies) > 1:
            raise exception.InternalError(
                err=f"instance NUMA cells disagree on cpu_policy: {sorted(map(str, policies))}"
            )
        return policies.pop() if policies else None

    @property
    def vcpus(self) -> int:
        return sum(cell.total_cpus for cell in self.cells)

    @property
    def memory(self) -> int:
        return sum(cell.memory for cell in self.cells)
