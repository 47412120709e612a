"""``os-numa place --format json``: the placement as one JSON object, and the
one JSON writer of every ``--format json`` document.

The keys are the contract in the design's API page; more may be added. The
additions here: the document's ``schema`` name (:mod:`os_numa.cmd.schema`),
each cell's ``cpu_policy`` and ``cpu_thread_policy``, and the guest's
``emulator_pool_cpu`` (policy ``pool``), so that a document can be fed back
through ``--existing`` and claimed exactly as placed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from os_numa.cmd import schema
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from os_numa.objects.numa import NUMACell, NUMATopology
from os_numa.pci.devices import PciDevice
from os_numa.pci.stats import PciDeviceStats


def cell_to_dict(guest_cell: int, cell: InstanceNUMACell) -> dict[str, Any]:
    """One placed guest cell; ``host_cell`` is the cell's post-fit id."""
    pinning = cell.cpu_pinning or {}
    return {
        "guest_cell": guest_cell,
        "host_cell": cell.id,
        "vcpus": sorted(cell.cpus),
        "cpu_pinning": {str(vcpu): pinning[vcpu] for vcpu in sorted(pinning)},
        "cpuset_reserved": sorted(cell.cpuset_reserved or ()),
        "memory_mb": cell.memory,
        "pagesize_kb": cell.pagesize,
        "cpu_policy": cell.cpu_policy,
        "cpu_thread_policy": cell.cpu_thread_policy,
    }


def vcpusched_to_dict(
    vcpus: Iterable[int], scheduler: str | None, priority: int | None
) -> dict[str, Any]:
    # (None only for an element parsed without the attribute; the driver sets both.)
    return {"vcpus": sorted(vcpus), "scheduler": scheduler, "priority": priority}


def placement_document(
    placement: InstanceNUMATopology | None,
    *,
    emulator_threads_policy: str | None,
    emulatorpin: Iterable[int] = (),
    vcpusched: Iterable[dict[str, Any]] = (),
    explanation: str | None = None,
    fits: bool | None = None,
) -> dict[str, Any]:
    """The JSON contract: ``fits``, the placed ``cells``, ``emulatorpin``,
    ``vcpusched`` and, when nothing fits, the ``explanation``.

    ``fits`` defaults to "a placement was given"; pass True with no placement
    for a guest that asks for no NUMA placement (it fits, with no cells).
    """
    fits = placement is not None if fits is None else fits
    cells = placement.cells if fits and placement is not None else []
    return {
        "schema": schema.PLACEMENT,
        "fits": fits,
        "emulator_threads_policy": emulator_threads_policy,
        "cells": [cell_to_dict(i, c) for i, c in enumerate(cells)],
        "emulatorpin": sorted(emulatorpin) if fits else [],
        "vcpusched": list(vcpusched) if fits else [],
        "explanation": None if fits else explanation,
        "emulator_pool_cpu": getattr(placement, "emulator_pool_cpu", None) if fits else None,
    }


def _is_int_list(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def _lines(value: Any, indent: str) -> str:
    """``value`` as ``json.dumps(indent=2)`` writes it at depth ``indent``, except
    that a non-empty list of integers (a CPU list) stays on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {_lines(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if _is_int_list(value):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, (list, tuple)) and value:
        items = [f"{inner}{_lines(v, inner)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    # Scalars, {} and []: exactly as json writes them (strings escaped, never altered).
    return json.dumps(value)


def dumps(document: dict[str, Any]) -> str:
    """Readable JSON: indented objects, CPU lists kept on one line, keys in the
    order given; every string value is written exactly as ``json`` writes it."""
    return _lines(document, "")


def _pages(cell: NUMACell) -> list[dict[str, int]]:
    return [
        {"size_kb": p.size_kb, "total": p.total, "used": p.used, "reserved": p.reserved}
        for p in sorted(cell.mempages, key=lambda p: p.size_kb)
    ]


def _lone_cpus(cell: NUMACell) -> list[list[int]]:
    """Each CPU of the cell as a core of its own (a host without core data)."""
    return [[cpu] for cpu in sorted(cell.cpuset | cell.pcpuset)]


def _host_cell(cell: NUMACell, cores: list[list[int]]) -> dict[str, Any]:
    return {
        "id": cell.id,
        "socket": cell.socket,
        "cpus": sorted(cpu for core in cores for cpu in core),
        "cores": [sorted(core) for core in cores],
        "pcpuset": sorted(cell.pcpuset),
        "cpuset": sorted(cell.cpuset),
        "pinned_cpus": sorted(cell.pinned_cpus),
        "emulator_pool_cpus": sorted(getattr(cell, "emulator_pool_cpus", None) or ()),
        "memory_mb": cell.memory,
        "memory_used_mb": cell.memory_usage,
        "pages": _pages(cell),
    }


def _device_state(stats: PciDeviceStats, device: PciDevice) -> str:
    if device.address in stats.used:
        return "used"
    return "free" if stats.is_available(device.address) else "unavailable"


def _host_device(stats: PciDeviceStats, device: PciDevice) -> dict[str, Any]:
    return {
        "address": str(device.address),
        "vendor_id": device.vendor_id,
        "product_id": device.product_id,
        "device_type": device.dev_type,
        "numa_node": device.numa_node,
        "parent": None if device.parent is None else str(device.parent),
        "state": _device_state(stats, device),
    }


def host_document(
    host: NUMATopology,
    cores: dict[int, list[list[int]]],
    pci_stats: PciDeviceStats | None = None,
) -> dict[str, Any]:
    """``os-numa host --format json`` (schema ``os-numa/host/v1``): each cell's CPUs
    by core, its CPU sets and pinned CPUs (existing guests applied), its memory
    and page pools; and the host's PCI devices with their state (null when no
    ``--pci-devices`` were given)."""
    return schema.stamp(
        schema.HOST,
        {
            "cells": [
                _host_cell(cell, cores.get(cell.id) or _lone_cpus(cell))
                for cell in sorted(host.cells, key=lambda c: c.id)
            ],
            "pci_devices": None
            if pci_stats is None
            else [_host_device(pci_stats, d) for d in pci_stats.devices],
        },
    )
