"""Host NUMA topology objects: cells, huge-page pools, allocation limits."""

from __future__ import annotations

from typing import Any

from oslo_utils import versionutils

from os_numa import cpuset, exception
from os_numa.objects import base, fields


@base.OsNumaObjectRegistry.register
class NUMAPagesTopology(base.OsNumaObject):
    """One page-size pool of a host cell: ``total``/``used``/``reserved`` pages of ``size_kb``.

    Versions:

    * 1.0: size_kb, total, used
    * 1.1: reserved (dropped when downgrading)
    """

    VERSION = "1.1"

    fields = {
        "size_kb": fields.IntegerField(),
        "total": fields.IntegerField(),
        "used": fields.IntegerField(default=0),
        "reserved": fields.IntegerField(default=0),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    size_kb: int
    total: int
    used: int
    reserved: int

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()

    obj_added_fields = {"1.1": ("reserved",)}

    @property
    def free(self) -> int:
        """Pages neither used nor reserved."""
        return self.total - self.used - self.reserved

    @property
    def free_kb(self) -> int:
        return self.free * self.size_kb

    @property
    def total_kb(self) -> int:
        return self.total * self.size_kb


def siblings_of(siblings: list[set[int]], pcpuset: set[int], cpus: set[int]) -> set[int]:
    """``cpus`` plus every pinnable (``pcpuset``) SMT sibling of them."""
    result = set(cpus)
    for group in siblings:
        if group & result:
            result |= group & pcpuset
    return result


def pinned_after(pcpuset: set[int], pinned: set[int], cpus: set[int], claim: bool) -> set[int]:
    """The pinned set after pinning (``claim``) or releasing ``cpus``: a new set.

    :raises CPUPinningUnknown, CPUUnpinningUnknown: a CPU is not in ``pcpuset``.
    :raises CPUPinningInvalid: (claim) a CPU is already pinned.
    :raises CPUUnpinningInvalid: (release) a CPU is not pinned.
    """
    if cpus - pcpuset:
        unknown = exception.CPUPinningUnknown if claim else exception.CPUUnpinningUnknown
        raise unknown(requested=sorted(cpus), available=sorted(pcpuset))
    if claim:
        if cpus & pinned:
            raise exception.CPUPinningInvalid(
                requested=sorted(cpus), available=sorted(pcpuset - pinned)
            )
        return pinned | cpus
    if cpus - pinned:
        raise exception.CPUUnpinningInvalid(requested=sorted(cpus), available=sorted(pinned))
    return pinned - cpus


@base.OsNumaObjectRegistry.register
class NUMACell(base.OsNumaObject):
    """A host NUMA cell and its usage.

    ``cpuset`` holds the host CPUs floating vCPUs may run on (``[compute]
    cpu_shared_set``), ``pcpuset`` those that may be pinned (``[compute]
    cpu_dedicated_set``); ``siblings`` lists the SMT thread groups, sorted by
    lowest CPU id, with every thread guests use (shared CPUs included, as Nova
    reports them: ``pcpuset`` limits what is pinned, not what shares a core);
    ``memory`` and ``memory_usage`` are MiB.

    Versions:

    * 1.0: id, cpuset, memory, cpu_usage, memory_usage, pinned_cpus, siblings,
      mempages (NUMAPagesTopology 1.0)
    * 1.1: pcpuset (a downgrade merges it into cpuset, which then held every
      usable CPU); mempages carry NUMAPagesTopology 1.1
    * 1.2: socket (dropped when downgrading)
    * 1.3: emulator_pool_cpus (the cell's pCPUs of ``[os_numa] emulator_pin_set``),
      emulator_pool_guests (guests whose emulator threads run on each of them,
      keyed by the pCPU id as a string) and emulator_pool_overcommit (guests
      allowed per pool pCPU); all dropped when downgrading
    * 1.4: distances (libvirt's distance to each host cell, keyed by the cell
      id as a string), physnets (the Neutron physical networks with NUMA
      affinity to this cell, sorted) and tunneled (tunneled networks have
      affinity to it); all dropped when downgrading
    * 1.5: cache_banks (the cell's CPUs of each last-level cache bank, lowest
      CPU first); dropped when downgrading
    """

    VERSION = "1.5"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "cpuset": fields.SetOfIntegersField(),
        "pcpuset": fields.SetOfIntegersField(),
        "memory": fields.IntegerField(),
        "cpu_usage": fields.IntegerField(default=0),
        "memory_usage": fields.IntegerField(default=0),
        "pinned_cpus": fields.SetOfIntegersField(default=set()),
        "siblings": fields.ListOfSetsOfIntegersField(default=[]),
        "mempages": fields.ListOfObjectsField("OsNumaNUMAPagesTopology", default=[]),
        "socket": fields.IntegerField(nullable=True, default=None),
        "emulator_pool_cpus": fields.SetOfIntegersField(default=set()),
        "emulator_pool_guests": fields.DictOfIntegersField(default={}),
        "emulator_pool_overcommit": fields.IntegerField(default=1),
        "distances": fields.DictOfIntegersField(default={}),
        "physnets": fields.ListOfStringsField(default=[]),
        "tunneled": fields.BooleanField(default=False),
        "cache_banks": fields.ListOfSetsOfIntegersField(default=[]),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    id: int
    cpuset: set[int]
    pcpuset: set[int]
    memory: int
    cpu_usage: int
    memory_usage: int
    pinned_cpus: set[int]
    siblings: list[set[int]]
    mempages: list[NUMAPagesTopology]
    socket: int | None
    emulator_pool_cpus: set[int]
    emulator_pool_guests: dict[str, int]
    emulator_pool_overcommit: int
    distances: dict[str, int]
    physnets: list[str]
    tunneled: bool
    cache_banks: list[set[int]]

    obj_relationships = {"mempages": [("1.0", "1.0"), ("1.1", "1.1")]}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()

    obj_added_fields = {
        "1.2": ("socket",),
        "1.3": ("emulator_pool_cpus", "emulator_pool_guests", "emulator_pool_overcommit"),
        "1.4": ("distances", "physnets", "tunneled"),
        "1.5": ("cache_banks",),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if versionutils.convert_version_to_tuple(target_version) < (1, 1):
            # Before pcpuset, one set held every usable CPU.
            pcpuset = primitive.pop("pcpuset", None)
            if pcpuset is not None:
                primitive["cpuset"] = tuple(sorted(set(primitive.get("cpuset", ())) | set(pcpuset)))

    @property
    def free_pcpus(self) -> set[int]:
        """pCPUs that may be pinned and are not pinned yet."""
        return set(self.pcpuset) - set(self.pinned_cpus)

    @property
    def avail_pcpus(self) -> int:
        return len(self.free_pcpus)

    @property
    def avail_memory(self) -> int:
        """MiB not yet used by guests."""
        return self.memory - self.memory_usage

    @property
    def has_threads(self) -> bool:
        """True when any core has more than one thread."""
        return any(len(s) > 1 for s in self.siblings)

    def siblings_of(self, cpus: set[int]) -> set[int]:
        """``cpus`` plus every pinnable SMT sibling of them."""
        return siblings_of(self.siblings, self.pcpuset, cpus)

    def pin_cpus(self, cpus: set[int]) -> None:
        """Mark ``cpus`` pinned.

        :raises CPUPinningUnknown: a CPU is not in ``pcpuset``.
        :raises CPUPinningInvalid: a CPU is already pinned. Nothing changes on error.
        """
        self.pinned_cpus = pinned_after(self.pcpuset, self.pinned_cpus, set(cpus), claim=True)

    def unpin_cpus(self, cpus: set[int]) -> None:
        """Release pinned ``cpus``.

        :raises CPUUnpinningUnknown: a CPU is not in ``pcpuset``.
        :raises CPUUnpinningInvalid: a CPU is not pinned. Nothing changes on error.
        """
        self.pinned_cpus = pinned_after(self.pcpuset, self.pinned_cpus, set(cpus), claim=False)

    def pin_cpus_with_siblings(self, cpus: set[int]) -> None:
        """Pin ``cpus`` and their whole cores (thread policy ``isolate``)."""
        self.pin_cpus(self.siblings_of(cpus))

    def unpin_cpus_with_siblings(self, cpus: set[int]) -> None:
        """Release ``cpus`` and their whole cores."""
        self.unpin_cpus(self.siblings_of(cpus))

    def emulator_pool_load(self, cpu: int) -> int:
        """Guests whose emulator threads run on pool pCPU ``cpu`` of this cell."""
        return self.emulator_pool_guests.get(str(cpu), 0)

    @property
    def emulator_pool_capacity(self) -> int:
        """Guests the cell's pool holds: its pCPUs x ``emulator_pool_overcommit``."""
        return len(self.emulator_pool_cpus) * self.emulator_pool_overcommit

    @property
    def emulator_pool_placed(self) -> int:
        """Guests whose emulator threads run on this cell's pool."""
        return sum(self.emulator_pool_guests.values())

    def claim_emulator_pool(self, cpu: int) -> None:
        """Count one more guest on pool pCPU ``cpu``.

        :raises EmulatorPoolCPUUnknown: ``cpu`` is not a pool pCPU of this cell.
        :raises EmulatorPoolCPUInvalid: ``cpu`` already holds
            ``emulator_pool_overcommit`` guests. Nothing changes on error.
        """
        self._check_pool_cpu(cpu)
        load = self.emulator_pool_load(cpu)
        if load >= self.emulator_pool_overcommit:
            raise exception.EmulatorPoolCPUInvalid(
                cpu=cpu,
                cell=self.id,
                reason=f"it already holds {load} guest(s), the most "
                f"[os_numa] emulator_pool_overcommit={self.emulator_pool_overcommit} allows",
            )
        self.emulator_pool_guests = {**self.emulator_pool_guests, str(cpu): load + 1}

    def release_emulator_pool(self, cpu: int) -> None:
        """Count one guest fewer on pool pCPU ``cpu``.

        :raises EmulatorPoolCPUUnknown: ``cpu`` is not a pool pCPU of this cell.
        :raises EmulatorPoolCPUInvalid: no guest is counted on ``cpu`` (released
            twice?). Nothing changes on error.
        """
        self._check_pool_cpu(cpu)
        load = self.emulator_pool_load(cpu)
        if load <= 0:
            raise exception.EmulatorPoolCPUInvalid(
                cpu=cpu, cell=self.id, reason="no guest is counted on it (released twice?)"
            )
        guests = dict(self.emulator_pool_guests)
        if load == 1:
            del guests[str(cpu)]
        else:
            guests[str(cpu)] = load - 1
        self.emulator_pool_guests = guests

    def _check_pool_cpu(self, cpu: int) -> None:
        if cpu not in self.emulator_pool_cpus:
            raise exception.EmulatorPoolCPUUnknown(
                cpu=cpu, pool=cpuset.format_cpu_spec(self.emulator_pool_cpus) or "none"
            )

    def distance_to(self, cell_id: int) -> int | None:
        """libvirt's distance from this cell to host cell ``cell_id``, or None when unknown."""
        return (getattr(self, "distances", None) or {}).get(str(cell_id))

    def pages_of_size(self, size_kb: int) -> NUMAPagesTopology | None:
        for pages in self.mempages:
            if pages.size_kb == size_kb:
                return pages
        return None


@base.OsNumaObjectRegistry.register
class NUMATopology(base.OsNumaObject):
    """A host's NUMA cells.

    Versions (each bump follows a NUMACell bump):

    * 1.0: cells (NUMACell 1.0)
    * 1.1: cells are NUMACell 1.1 (pcpuset)
    * 1.2: cells are NUMACell 1.2 (socket)
    * 1.3: cells are NUMACell 1.3 (emulator pool)
    * 1.4: cells are NUMACell 1.4 (distances, physnets, tunneled)
    * 1.5: cells are NUMACell 1.5 (cache_banks)
    """

    VERSION = "1.5"

    fields = {
        "cells": fields.ListOfObjectsField("OsNumaNUMACell"),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    cells: list[NUMACell]

    obj_relationships = {
        "cells": [
            ("1.0", "1.0"),
            ("1.1", "1.1"),
            ("1.2", "1.2"),
            ("1.3", "1.3"),
            ("1.4", "1.4"),
            ("1.5", "1.5"),
        ]
    }

    @property
    def has_threads(self) -> bool:
        return any(cell.has_threads for cell in self.cells)

    def cell_by_id(self, cell_id: int) -> NUMACell:
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise exception.NotFound(f"host NUMA cell {cell_id} does not exist")


@base.OsNumaObjectRegistry.register
class NUMATopologyLimits(base.OsNumaObject):
    """Overcommit ratios applied to floating vCPUs and memory of shared cells.

    Version 1.0: cpu_allocation_ratio, ram_allocation_ratio
    """

    VERSION = "1.0"

    fields = {
        "cpu_allocation_ratio": fields.FloatField(),
        "ram_allocation_ratio": fields.FloatField(),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
