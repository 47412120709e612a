"""A host's resource provider tree, as os-numa reports it to Placement (pure data).

``nested`` (os-numa's model): the compute node is the root provider and each
host NUMA cell a child provider with the trait ``HW_NUMA_ROOT``, holding

- ``PCPU``: the cell's pCPUs for pinning (``[compute] cpu_dedicated_set``),
  allocation ratio 1;
- ``VCPU``: the cell's shared CPUs (``[compute] cpu_shared_set``), ratio
  ``[placement] cpu_allocation_ratio``; ``reserved_host_cpus`` on cell 0;
- ``MEMORY_MB``: the cell's small-page memory, ratio ``ram_allocation_ratio``,
  its reserved small pages as ``reserved``. Where the host topology already
  holds the host's memory (``[os_numa] reserved_host_memory_per_cell`` or
  ``reserved_host_memory_spread``) those pages say it all; otherwise
  ``[DEFAULT] reserved_host_memory_mb`` (Nova's) is reserved on cell 0;
- ``CUSTOM_MEMORY_PAGE_<KiB>``: one class per huge page size, counted in
  pages, with the cell's reserved pages as ``reserved``;
- ``CUSTOM_EMULATOR_POOL``: the cell's pCPUs of ``[os_numa] emulator_pin_set``,
  ratio ``emulator_pool_overcommit``: one unit per ``pool`` guest;
- trait ``HW_CPU_HYPERTHREADING`` where the cell has SMT siblings.

``flat`` (Nova's model, for comparison): everything on the root provider, no
NUMA children, memory pages not reported, ``HW_CPU_HYPERTHREADING`` on the root.

Provider uuids are derived from the host name (uuid5), so the same host maps
to the same providers after a restart and registration is idempotent.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from os_numa import conf as os_numa_conf
from os_numa import exception
from os_numa.objects import NUMACell, NUMATopology

PCPU = "PCPU"
VCPU = "VCPU"
MEMORY_MB = "MEMORY_MB"
EMULATOR_POOL = "CUSTOM_EMULATOR_POOL"
HW_NUMA_ROOT = "HW_NUMA_ROOT"
HW_CPU_HYPERTHREADING = "HW_CPU_HYPERTHREADING"
SMALL_PAGE_KB = 4
NESTED = "nested"
FLAT = "flat"
MODELS = (NESTED, FLAT)

#: The namespace of os-numa's provider uuids (uuid5 of the host name).
PROVIDER_NAMESPACE = uuid.UUID("6f1d7a52-2b0e-5c55-9a51-0e0d1f6a7c11")


def page_class(size_kb: int) -> str:
    """The resource class of huge pages of ``size_kb`` KiB: ``CUSTOM_MEMORY_PAGE_2048``."""
    return f"CUSTOM_MEMORY_PAGE_{size_kb}"


def page_size_of(resource_class: str) -> int | None:
    """The page size (KiB) a ``CUSTOM_MEMORY_PAGE_<KiB>`` class counts, or None for others."""
    prefix = "CUSTOM_MEMORY_PAGE_"
    if resource_class.startswith(prefix) and resource_class[len(prefix) :].isdigit():
        return int(resource_class[len(prefix) :])
    return None


@dataclass(frozen=True)
class Inventory:
    """One resource class of one provider, as Placement's inventory record holds it."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    step_size: int = 1
    max_unit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of ``PUT /resource_providers/{uuid}/inventories`` for this class."""
        return {
            "total": self.total,
            "reserved": self.reserved,
            "min_unit": self.min_unit,
            "max_unit": self.total if self.max_unit is None else self.max_unit,
            "step_size": self.step_size,
            "allocation_ratio": self.allocation_ratio,
        }


@dataclass(frozen=True)
class Provider:
    """One resource provider: the root (``cell`` None) or the provider of host cell ``cell``."""

    name: str
    uuid: str
    parent_uuid: str | None
    inventories: Mapping[str, Inventory]
    traits: frozenset[str] = frozenset()
    cell: int | None = None

    def __post_init__(self) -> None:
        frozen = types.MappingProxyType(dict(sorted(self.inventories.items())))
        object.__setattr__(self, "inventories", frozen)


@dataclass(frozen=True)
class HostTree:
    """A host's providers: the root first, then one per NUMA cell (nested model only)."""

    host: str
    model: str
    root: Provider
    cells: tuple[Provider, ...] = ()
    _by_uuid: Mapping[str, Provider] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_uuid = {p.uuid: p for p in self.providers}
        object.__setattr__(self, "_by_uuid", types.MappingProxyType(by_uuid))

    @property
    def providers(self) -> tuple[Provider, ...]:
        """Every provider, parents before children (the order to create them in)."""
        return (self.root, *self.cells)

    def provider(self, provider_uuid: str) -> Provider | None:
        return self._by_uuid.get(provider_uuid)

    def cell_of(self, provider_uuid: str) -> int | None:
        """The host cell id whose provider is ``provider_uuid`` (None: the root or unknown)."""
        provider = self._by_uuid.get(provider_uuid)
        return None if provider is None else provider.cell

    def cell_provider(self, cell_id: int) -> Provider | None:
        return next((p for p in self.cells if p.cell == cell_id), None)


def provider_uuid(name: str) -> str:
    """The provider uuid os-numa gives the provider named ``name``."""
    return str(uuid.uuid5(PROVIDER_NAMESPACE, name))


def host_tree(
    host: str,
    topology: NUMATopology,
    conf: Any = None,
    *,
    model: str = NESTED,
    root_uuid: str | None = None,
    root_inventories: Mapping[str, Inventory] | None = None,
) -> HostTree:
    """The providers that report ``topology`` of the host named ``host``.

    ``conf`` supplies ``[placement]`` ratios and reservations (None: the global
    ``CONF``). ``root_uuid`` is the compute node's provider uuid when it already
    has one (Nova's compute node uuid); otherwise it is derived from ``host``.
    ``root_inventories`` are put on the root as they are (for example
    ``DISK_GB``). Reads totals only: pinned pCPUs and used memory are
    allocations in Placement, not inventory.

    :raises InvalidConfiguration: ``model`` is neither ``nested`` nor ``flat``,
        or ``host`` is empty.
    """
    if model not in MODELS:
        raise exception.InvalidConfiguration(
            reason=f"provider model {model!r}: choose one of {', '.join(MODELS)}"
        )
    if not host:
        raise exception.InvalidConfiguration(reason="a host needs a non-empty name")
    conf = os_numa_conf.CONF if conf is None else conf
    options = conf.placement
    host_memory = _host_memory_mb(conf)
    root_id = root_uuid or provider_uuid(host)
    extra = dict(root_inventories or {})
    if model == FLAT:
        inventories = _flat_inventories(topology, options, host_memory)
        inventories.update(extra)
        traits = frozenset({HW_CPU_HYPERTHREADING}) if topology.has_threads else frozenset()
        root = Provider(host, root_id, None, inventories, traits)
        return HostTree(host, model, root)
    root = Provider(host, root_id, None, extra)
    cells = []
    for index, cell in enumerate(topology.cells):
        name = f"{host}_NUMA{cell.id}"
        cell_traits = {HW_NUMA_ROOT}
        if cell.has_threads:
            cell_traits.add(HW_CPU_HYPERTHREADING)
        cells.append(
            Provider(
                name,
                provider_uuid(f"{root_id}/NUMA{cell.id}"),
                root_id,
                _cell_inventories(cell, options, index == 0, host_memory),
                frozenset(cell_traits),
                cell.id,
            )
        )
    return HostTree(host, model, root, tuple(cells))


def _host_memory_mb(conf: Any) -> int:
    """Host memory to reserve on cell 0: none when the topology already took it out per cell."""
    per_cell = conf.os_numa.reserved_host_memory_per_cell
    if per_cell or conf.os_numa.reserved_host_memory_spread:
        return 0
    return conf.reserved_host_memory_mb


def _cell_inventories(
    cell: NUMACell, options: Any, first: bool, host_memory: int
) -> dict[str, Inventory]:
    """One cell's inventories; the first cell carries the host's reservations."""
    inventories: dict[str, Inventory] = {}
    if cell.pcpuset:
        inventories[PCPU] = Inventory(total=len(cell.pcpuset))
    if cell.cpuset:
        reserved = options.reserved_host_cpus if first else 0
        inventories[VCPU] = Inventory(
            total=len(cell.cpuset),
            reserved=min(reserved, len(cell.cpuset)),
            allocation_ratio=options.cpu_allocation_ratio,
        )
    small_total, small_reserved = _small_page_memory(cell)
    if small_total:
        reserved = small_reserved + (host_memory if first else 0)
        inventories[MEMORY_MB] = Inventory(
            total=small_total,
            reserved=min(reserved, small_total),
            allocation_ratio=options.ram_allocation_ratio,
        )
    for pages in sorted(cell.mempages or (), key=lambda p: p.size_kb):
        if pages.size_kb > SMALL_PAGE_KB and pages.total:
            inventories[page_class(pages.size_kb)] = Inventory(
                total=pages.total, reserved=min(pages.reserved, pages.total)
            )
    pool = getattr(cell, "emulator_pool_cpus", None) or ()
    if pool:
        inventories[EMULATOR_POOL] = Inventory(
            total=len(pool),
            allocation_ratio=float(cell.emulator_pool_overcommit),
            max_unit=1,
        )
    return inventories


def _small_page_memory(cell: NUMACell) -> tuple[int, int]:
    """(MiB of small-page memory, MiB of it reserved); the whole cell without page pools."""
    for pages in cell.mempages or ():
        if pages.size_kb == SMALL_PAGE_KB:
            return pages.total * SMALL_PAGE_KB // 1024, pages.reserved * SMALL_PAGE_KB // 1024
    return cell.memory, 0


def _flat_inventories(
    topology: NUMATopology, options: Any, host_memory: int
) -> dict[str, Inventory]:
    """Nova's report: host-wide PCPU, VCPU and MEMORY_MB on the compute node."""
    pcpus = sum(len(c.pcpuset) for c in topology.cells)
    vcpus = sum(len(c.cpuset) for c in topology.cells)
    memory = sum(c.memory for c in topology.cells)
    inventories: dict[str, Inventory] = {}
    if pcpus:
        inventories[PCPU] = Inventory(total=pcpus)
    if vcpus:
        inventories[VCPU] = Inventory(
            total=vcpus,
            reserved=min(options.reserved_host_cpus, vcpus),
            allocation_ratio=options.cpu_allocation_ratio,
        )
    if memory:
        inventories[MEMORY_MB] = Inventory(
            total=memory,
            reserved=min(host_memory, memory),
            allocation_ratio=options.ram_allocation_ratio,
        )
    return inventories
