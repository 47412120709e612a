"""``os-numa validate-flavor``: what a flavor asks for, as text lines or a JSON document.

:func:`check_flavor` runs every check ``place`` runs before it looks at a host
and gathers the requested topology once; :meth:`FlavorCheck.lines` and
:meth:`FlavorCheck.document` (schema ``os-numa/flavor/v1``) are two views of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from os_numa import hardware
from os_numa.cmd import render_picture, schema, specs
from os_numa.constraints import pages
from os_numa.cpuset import format_cpu_spec
from os_numa.objects.flavor import Flavor
from os_numa.objects.image_meta import ImageMeta
from os_numa.objects.instance_numa import InstanceNUMATopology
from os_numa.pci import request as pci_request

#: The page-size keywords by their constants, for the JSON view.
_PAGE_KEYWORDS = {value: key for key, value in pages.KEYWORDS.items()}


@dataclass(frozen=True)
class FlavorCheck:
    """A valid flavor's request: everything ``validate-flavor`` reports."""

    flavor: Flavor
    request: InstanceNUMATopology | None
    emulator_threads_policy: str | None
    emulator_threads_count: int | None
    emulator_threads_mask: frozenset[int]
    realtime_vcpus: frozenset[int]
    realtime_priority: int | None
    pci_requests: tuple[pci_request.PciRequest, ...]
    notes: tuple[str, ...]

    def lines(self) -> list[str]:
        """The text summary, one fact per line, then the notes."""
        flavor, request = self.flavor, self.request
        lines = [f"OK: {flavor.vcpus} vCPUs, {flavor.memory_mb} MiB"]
        if request is None:
            lines.append("no NUMA placement requested: vCPUs float over the host's shared CPUs")
        else:
            lines.append(
                f"cpu policy {request.cpu_policy or 'shared'}, "
                f"thread policy {request.cells[0].cpu_thread_policy or 'unset'}, "
                f"emulator threads {self.emulator_threads_policy or 'unset'}"
            )
            lines += [
                render_picture.describe_guest_cell(index, cell)
                for index, cell in enumerate(request.cells)
            ]
        if self.emulator_threads_count and self.emulator_threads_count > 1:
            lines.append(f"{self.emulator_threads_count} emulator pCPUs reserved")
        if self.emulator_threads_mask:
            lines.append(
                f"emulator threads run beside vCPUs {format_cpu_spec(self.emulator_threads_mask)}"
            )
        if self.realtime_vcpus:
            where = (
                f"priority {self.realtime_priority}"
                if self.realtime_priority
                else "[libvirt] realtime_scheduler_priority"
            )
            lines.append(
                f"realtime vCPUs {format_cpu_spec(self.realtime_vcpus)} "
                f"(SCHED_FIFO, {where}, locked memory)"
            )
        if self.pci_requests:
            lines.append(f"PCI devices {pci_request.describe(self.pci_requests)}")
        return lines + list(self.notes)

    def document(self) -> dict[str, Any]:
        """The ``os-numa/flavor/v1`` document."""
        request = self.request
        cells = [] if request is None else request.cells
        return schema.stamp(
            schema.FLAVOR,
            {
                "valid": True,
                "name": self.flavor.name,
                "vcpus": self.flavor.vcpus,
                "memory_mb": self.flavor.memory_mb,
                "numa": request is not None,
                "cpu_policy": None if request is None else request.cpu_policy,
                "cpu_thread_policy": cells[0].cpu_thread_policy if cells else None,
                "emulator_threads_policy": self.emulator_threads_policy,
                "emulator_threads_count": self.emulator_threads_count,
                "emulator_threads_mask": sorted(self.emulator_threads_mask),
                "cells": [_cell(index, cell) for index, cell in enumerate(cells)],
                "realtime_vcpus": sorted(self.realtime_vcpus),
                "realtime_priority": self.realtime_priority,
                "pci_requests": [_pci(r) for r in self.pci_requests],
                "notes": list(self.notes),
            },
        )


def _cell(index: int, cell) -> dict[str, Any]:
    page = cell.pagesize
    return {
        "guest_cell": index,
        "vcpus": sorted(cell.cpus),
        "pinned_vcpus": sorted(cell.pcpuset),
        "floating_vcpus": sorted(cell.cpuset),
        "memory_mb": cell.memory,
        "mem_page_size": _PAGE_KEYWORDS.get(page, page),
    }


def _pci(request: pci_request.PciRequest) -> dict[str, Any]:
    return {
        "alias": request.alias,
        "count": request.count,
        "ids": [{"vendor_id": v, "product_id": p} for v, p in request.ids],
        "device_type": request.device_type,
        "numa_policy": request.policy,
    }


def check_flavor(
    flavor: Flavor, image_meta: ImageMeta | None, pci_aliases: Sequence[str] = ()
) -> FlavorCheck:
    """Validate a flavor and its image properties and gather what they request.

    ``pci_aliases`` are ``[pci] alias`` values, needed when the flavor names aliases.

    :raises OsNumaError: any invalid extra spec, image property or PCI request.
    """
    # In the order place runs them, so the first error reported is the same.
    request = hardware.numa_get_constraints(flavor, image_meta)
    realtime = hardware.get_realtime_cpu_constraint(flavor, image_meta)
    policy = hardware.get_emulator_thread_policy_constraint(flavor)
    count = hardware.get_emulator_threads_count_constraint(flavor)
    mask = hardware.get_emulator_threads_mask_constraint(flavor, image_meta)
    priority = hardware.get_realtime_priority_constraint(flavor) if realtime else None
    aliases = pci_request.parse_aliases(pci_aliases)
    devices = pci_request.get_pci_requests(flavor, image_meta, aliases=aliases)
    return FlavorCheck(
        flavor=flavor,
        request=request,
        emulator_threads_policy=policy,
        emulator_threads_count=count,
        emulator_threads_mask=frozenset(mask or ()),
        realtime_vcpus=frozenset(realtime or ()),
        realtime_priority=priority,
        pci_requests=tuple(devices),
        notes=tuple(specs.unread_extra_specs(flavor.extra_specs)),
    )
