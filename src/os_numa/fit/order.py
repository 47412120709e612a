"""The order in which host cells are offered to the guest cells (pack or spread)."""

from __future__ import annotations

from os_numa.fit.snapshot import HostCell


def host_order(hosts: tuple[HostCell, ...], k: int, pinning: bool, pack: bool) -> tuple[int, ...]:
    """Host cell indices in preference order.

    Ties are broken by lowest host cell id. When the host has more cells than
    the guest, stable sorts follow Nova (the later sort dominates): available
    memory (most first to spread, least first to pack), then free pCPUs for a
    pinned guest (most first to spread) or floating CPU usage for a shared one
    (least first to spread). With as many host cells as guest cells every cell
    is used, and id order is kept as Nova keeps list order.
    """
    ordered = sorted(hosts, key=lambda h: h.id)
    if len(hosts) > k:
        ordered.sort(key=lambda h: h.avail_memory, reverse=not pack)
        if pinning:
            ordered.sort(key=lambda h: len(h.free), reverse=not pack)
        else:
            ordered.sort(key=lambda h: h.cpu_usage, reverse=pack)
    return tuple(h.index for h in ordered)
