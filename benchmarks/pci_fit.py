"""Benchmark the fit with PCI requests: milliseconds per fit, and the brute-force count avoided.

Run from the repository root: ``.venv/bin/python benchmarks/pci_fit.py``. Each line
is one scenario: the minimum milliseconds of ``numa_fit_instance_to_host`` with
``pci_requests`` using the default choice of method, the Hall rules forced, and the
minimal-witness enumeration forced; and the number of ordered permutations Nova's
method could have to try (n!/(n-k)!) on the same host.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402
from tests import fixtures_topology as ft  # noqa: E402

from os_numa.fit import device_search, numa_fit_instance_to_host  # noqa: E402
from os_numa.pci.devices import PciAddress, PciDevice  # noqa: E402
from os_numa.pci.request import PciRequest  # noqa: E402
from os_numa.pci.stats import PciDeviceStats  # noqa: E402

IDS = {"A": ("8086", "154c"), "B": ("15b3", "1018"), "C": ("10de", "1eb8")}


def stats_of(layout: dict[int, str]) -> PciDeviceStats:
    """layout: host cell -> letters, one device per letter."""
    devices = []
    for cell, letters in layout.items():
        for i, letter in enumerate(letters):
            devices.append(PciDevice(PciAddress(0, cell, i, 0), *IDS[letter], cell))
    return PciDeviceStats(devices)


def req(alias: str, count: int, policy: str = "required") -> PciRequest:
    return PciRequest(alias, count, (IDS[alias],), None, policy)


def with_sockets(host, per_socket: int):
    for cell in host.cells:
        cell.socket = cell.id // per_socket
    return host


def scenarios():
    yield (
        "2 cells, 1 guest cell, A:2 required (devices on cell 1)",
        ft.host(2, 8),
        ft.guest([4]),
        [req("A", 2)],
        stats_of({1: "AAA"}),
        500,
    )
    yield (
        "16 cells, 8 guest cells, A:6 required (1 per cell, 8 cells)",
        ft.host(16, 4),
        ft.guest([2] * 8),
        [req("A", 6)],
        stats_of({c: "A" for c in range(0, 16, 2)}),
        50,
    )
    yield (
        "16 cells, 8 guest cells, A:2 + B:2 required",
        ft.host(16, 4),
        ft.guest([2] * 8),
        [req("A", 2), req("B", 2)],
        stats_of({c: ("A" if c % 2 else "B") for c in range(16)}),
        20,
    )
    yield (
        "16 cells, 4 guest cells, A:2 + B:1 + C:1 required, sparse",
        ft.host(16, 4),
        ft.guest([2] * 4),
        [req("A", 2), req("B", 1), req("C", 1)],
        stats_of({3: "A", 7: "AB", 11: "C", 15: "BC"}),
        50,
    )
    yield (
        "16 cells (4 sockets), 8 guest cells, A:2 socket",
        with_sockets(ft.host(16, 4), 4),
        ft.guest([2] * 8),
        [req("A", 2, "socket")],
        stats_of({13: "A", 14: "A"}),
        20,
    )
    yield (
        "16 cells, 8 guest cells, A:9 required: no fit (8 cells hold one each)",
        ft.host(16, 4),
        ft.guest([2] * 8),
        [req("A", 9)],
        stats_of({c: "A" for c in range(0, 16, 2)}),
        50,
    )


def main() -> int:
    """One line per scenario: the default method, then each method forced."""
    print(f"{'scenario':70} {'default':>8} {'hall':>8} {'witness':>8} {'perms':>14}")
    print(f"{'':70} {'min ms':>8} {'min ms':>8} {'min ms':>8}")
    for name, host, guest, requests, stats, repeat in scenarios():
        n, k = len(host.cells), len(guest.cells)
        figures = []
        for budget in (device_search.WITNESS_BUDGET, -1, 10**9):
            saved, device_search.WITNESS_BUDGET = device_search.WITNESS_BUDGET, budget
            try:
                _median, least = timings(
                    lambda h=host, g=guest, r=requests, s=stats: numa_fit_instance_to_host(
                        h, g, pci_requests=r, pci_stats=s
                    ),
                    repeat if budget != 10**9 else max(1, repeat // 10),
                    unit="ms",
                )
            finally:
                device_search.WITNESS_BUDGET = saved
            figures.append(least)
        perms = math.perm(n, k)
        print(f"{name:70} " + " ".join(f"{f:8.2f}" for f in figures) + f" {perms:14,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
