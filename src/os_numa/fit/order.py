"""The order in which host cells are offered to the guest cells (pack or spread)."""

from __future__ import annotations

from collections.abc import Mapping

from os_numa.fit.snapshot import HostCell


def host_order(
    hosts: tuple[HostCell, ...],
    k: int,
    pinning: bool,
    pack: bool,
    pci_devices: Mapping[int, int] | None = None,
    pci_requested: bool = False,
) -> tuple[int, ...]:
    """Host cell indices in preference order.

    Ties are broken by lowest host cell id. When the host has more cells than
    the guest, stable sorts follow Nova (the later sort dominates): available
    memory (most first to spread, least first to pack), then free pCPUs for a
    pinned guest (most first to spread) or floating CPU usage for a shared one
    (least first to spread). With as many host cells as guest cells every cell
    is used, and id order is kept as Nova keeps list order.

    ``pci_devices`` (free PCI devices per host cell id) adds Nova's last and
    dominant sort, whatever ``pack`` says: cells with more devices first when
    the guest requests PCI devices (``pci_requested``), last otherwise, so
    guests without devices leave the device-local cells free.
    """
    if len(hosts) <= k:
        return tuple(h.index for h in sorted(hosts, key=lambda h: h.id))
    # One sort on a composite key equals Nova's chain of stable sorts: the last
    # sort's key first, then the earlier one, then the id.
    sign = 1 if pack else -1

    devices = pci_devices or {}
    pci_sign = -1 if pci_requested else 1

    def key(h: HostCell) -> tuple[int, int, int, int]:
        usage = sign * len(h.free) if pinning else -sign * h.cpu_usage
        return pci_sign * devices.get(h.id, 0), usage, sign * h.avail_memory, h.id

    return tuple([h.index for h in sorted(hosts, key=key)])
