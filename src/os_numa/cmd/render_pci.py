"""Text and JSON views of a host's PCI devices and a placement's assigned ones, for the CLI.

The picture lists, under each host cell, its devices grouped by pool with the
assigned ones marked by the guest cell they serve, and a last group for devices
with no NUMA information. JSON gives the placement's devices one object each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from os_numa.pci.devices import PciDevice
from os_numa.pci.stats import PciDeviceStats


def _assigned(placement) -> dict[str, Any]:
    return {d.address: d for d in (getattr(placement, "pci_devices", None) or [])}


def _state(
    device: PciDevice, before: PciDeviceStats, after: PciDeviceStats, assigned: dict[str, Any]
) -> str:
    mine = assigned.get(str(device.address))
    if mine is not None:
        where = "no guest cell" if mine.guest_cell is None else f"guest cell {mine.guest_cell}"
        return f"ASSIGNED ({mine.alias}) -> {where}"
    if device.address in before.used:
        return "used"
    if not after.is_available(device.address):
        return "unavailable (related function in use)"
    return "free"


def device_line(device: PciDevice, state: str) -> str:
    """``0000:18:00.0 8086:1572 type-PF  free``."""
    return f"{device.address} {device.vendor_id}:{device.product_id} {device.dev_type:<8} {state}"


def cell_device_lines(
    stats: PciDeviceStats, placement=None, cells: Iterable[int] | None = None
) -> dict[int | None, list[str]]:
    """Per host NUMA node (None: no NUMA information), a summary line and one line per device.

    ``stats`` is the host *before* the guest; the states shown are those after
    the guest's devices are claimed (a PF whose VF the guest takes becomes
    unavailable). ``cells`` lists the host's cell ids. The summary reads "PCI:
    3 of 6 free, 2 assigned to this guest".
    """
    assigned = _assigned(placement)
    after = stats.copy()
    after.claim_instance(placement)
    groups: dict[int | None, list[PciDevice]] = {cell: [] for cell in cells or ()}
    for device in stats.devices:
        groups.setdefault(device.numa_node, []).append(device)
    result: dict[int | None, list[str]] = {}
    for node, devices in groups.items():
        if not devices:
            continue
        free = sum(1 for d in devices if after.is_available(d.address))
        mine = sum(1 for d in devices if str(d.address) in assigned)
        summary = f"PCI: {free} of {len(devices)} free"
        if mine:
            summary += f", {mine} assigned to this guest"
        result[node] = [summary] + [
            "  " + device_line(d, _state(d, stats, after, assigned)) for d in devices
        ]
    return result


def render_devices(stats: PciDeviceStats, placement=None, cells: Iterable[int] = ()) -> str:
    """The device section of the host picture, cells in id order, no-NUMA devices last."""
    lines: list[str] = []
    per_cell = cell_device_lines(stats, placement, cells)
    for node in sorted(per_cell, key=lambda n: (n is None, n or 0)):
        title = "devices with no NUMA node" if node is None else f"host cell {node}"
        lines.append(f"{title}: {per_cell[node][0]}")
        lines.extend(per_cell[node][1:])
    return "\n".join(lines) + ("\n" if lines else "")


def placement_devices_json(placement) -> list[dict[str, Any]]:
    """The placement's devices for ``--format json`` (key ``pci_devices``)."""
    return [
        {
            "address": d.address,
            "alias": d.alias,
            "vendor_id": d.vendor_id,
            "product_id": d.product_id,
            "device_type": d.dev_type,
            "host_numa_node": d.host_numa_node,
            "guest_cell": d.guest_cell,
        }
        for d in (getattr(placement, "pci_devices", None) or [])
    ]


__all__ = ["cell_device_lines", "device_line", "placement_devices_json", "render_devices"]
