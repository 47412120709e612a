"""Why the device search found no devices: one sentence per PCI request that fails.

The search itself is :mod:`os_numa.fit.device_search`; this module only words its
failure, from the same model (requests against the host's pools of free
devices), for :class:`os_numa.explain.FitReport` and for a guest without a
NUMA request. Lines read like "alias nic1: 2 devices requested on the guest's
cells {0}, 1 free there, 3 free on cell 1; policy required".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from os_numa.fit.device_search import (
    ANYWHERE,
    STRICT,
    HostCellInfo,
    Model,
    anywhere,
    build_model,
    host_infos,
)
from os_numa.pci import request as pci_request
from os_numa.pci.request import PciRequest
from os_numa.pci.stats import PciDeviceStats

#: How every sentence of this module begins.
PREFIX = "the PCI devices cannot be served: "


def request_lines(
    hosts: Sequence[HostCellInfo],
    cpu_assignment: tuple[int, ...] | None,
    requests: Sequence[PciRequest],
    stats: PciDeviceStats | None,
) -> list[str]:
    """Why the devices cannot be served, one line per failing request.

    ``cpu_assignment`` is the assignment the fit would choose without devices
    (host indices), or None when the guest does not fit even without them.
    Lines read like "alias nic1: 2 devices requested on the guest's cells {0},
    1 free there, 3 free on cell 1; policy required".
    """
    stats = stats if stats is not None else PciDeviceStats(())
    model = build_model(requests, stats, hosts)
    chosen = frozenset(cpu_assignment or ())
    mates = model.socket_mates(chosen)
    lines = []
    for r, req in enumerate(model.requests):
        single = dataclasses.replace(model, requests=(req,), matches=(model.matches[r],))
        wanted = f"alias {req.alias}: {req.count} device{'s' if req.count != 1 else ''} requested"
        everywhere = frozenset(range(len(hosts)))
        if single.flow(everywhere, relaxed=ANYWHERE) is None:
            total = sum(model.pools[p].count for p in model.matches[r])
            usable = sum(
                model.pools[p].count
                for p in model.matches[r]
                if model.rank(r, p, everywhere, everywhere, relaxed=ANYWHERE) is not None
            )
            where = _free_by_cell(model, r, frozenset())
            amount = (
                f"{total} free on the whole host"
                if usable == total
                else f"{usable} of {total} free usable anywhere under policy {req.policy}"
            )
            lines.append(
                f"{wanted}, {amount}" + (f" ({where})" if where else "") + f"; policy {req.policy}"
            )
            continue
        if cpu_assignment is None or single.flow(chosen, relaxed=STRICT) is not None:
            continue
        usable = sum(
            model.pools[p].count
            for p in model.matches[r]
            if model.rank(r, p, chosen, mates, relaxed=STRICT) is not None
        )
        cells = "{" + ", ".join(str(hosts[h].id) for h in sorted(chosen)) + "}"
        where = (
            "there"
            if req.policy in (pci_request.REQUIRED, pci_request.PREFERRED)
            else ("under that policy")
        )
        elsewhere = _free_by_cell(model, r, chosen)
        lines.append(
            f"{wanted} on the guest's cells {cells}, {usable} free {where}"
            + (f", {elsewhere}" if elsewhere else "")
            + f"; policy {req.policy}"
        )
    if not lines and requests:
        lines.append(
            f"PCI requests {pci_request.describe(requests)}: each can be served, but no set "
            "of host cells the guest fits serves them all together"
        )
    return lines


def _free_by_cell(model: Model, r: int, skip: frozenset[int]) -> str:
    """ "3 free on cell 1, 1 free with no NUMA node" for request r, cells of ``skip`` left out."""
    counts: dict[int | None, int] = {}
    for p in model.matches[r]:
        host = model.pool_host[p]
        if host is not None and host in skip:
            continue
        node = model.pools[p].numa_node
        counts[node] = counts.get(node, 0) + model.pools[p].count
    return ", ".join(
        f"{n} free " + ("with no NUMA node" if node is None else f"on cell {node}")
        for node, n in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    )


def devices_reason(
    hosts: Sequence[HostCellInfo],
    cpu_assignment: tuple[int, ...] | None,
    requests: Sequence[PciRequest],
    stats: PciDeviceStats | None,
) -> str:
    """Why the devices rule the fit out, as one sentence for ``FitReport.reason``.

    ``cpu_assignment`` is the fit's assignment without devices (host indices).
    """
    return PREFIX + ". ".join(request_lines(hosts, cpu_assignment, requests, stats))


def without_numa_reason(
    requests: Sequence[PciRequest], stats: PciDeviceStats | None, host_topology=None
) -> str:
    """Why :func:`os_numa.fit.device_search.assign_without_numa` found too few devices, as one
    sentence (no policy is named: without guest cells none applies)."""
    stats = stats if stats is not None else PciDeviceStats(())
    hosts = host_infos(host_topology) if host_topology is not None else ()
    lines = [
        line.rsplit("; policy ", 1)[0]
        for line in request_lines(hosts, None, anywhere(requests), stats)
    ]
    return PREFIX + ". ".join(lines)


__all__ = ["PREFIX", "devices_reason", "request_lines", "without_numa_reason"]
