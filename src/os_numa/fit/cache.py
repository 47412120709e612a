"""Keeping a guest cell's pCPUs in as few last-level cache banks as possible.

With ``[os_numa] align_cpus_by_cache`` (Kubernetes' CPU manager option
``prefer-align-cpus-by-uncorecache``), the pins and emulator pCPUs of one guest
cell are packed by the thread policy's usual rules inside one cache bank if
any bank can hold them, else inside two, and so on. Among bank sets of the same
size the one with the fewest free pCPUs that still fits comes first (whole banks
stay free for larger guests), then the lowest CPUs. Off, or on a cell with one
bank, the pins are exactly those of :func:`os_numa.fit.packing.pack`.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

from os_numa.fit.outcome import Shortfall
from os_numa.fit.snapshot import HostCell

#: Most bank sets tried per guest cell (a cell with 16 banks tries 2^16 - 1 at most).
MAX_BANK_SETS = 4096

Packer = Callable[[HostCell], object]


def pack_in_banks(host: HostCell, needed: int, pack: Packer):
    """``pack(cell)`` on ``host`` restricted to the fewest cache banks that hold it.

    ``needed`` is the number of free pCPUs the packing takes. Falls back to the
    whole cell (``pack(host)``) when it has fewer than two banks, when no set of
    banks holds the request, or beyond :data:`MAX_BANK_SETS` sets.
    """
    banks = host.cache_banks
    if len(banks) < 2:
        return pack(host)
    free = [bank & host.free for bank in banks]
    tried = 0
    for size in range(1, len(banks)):
        candidates = []
        for picks in combinations(range(len(banks)), size):
            cpus = frozenset().union(*(free[i] for i in picks))
            if len(cpus) >= needed:
                candidates.append((len(cpus), min(cpus), cpus))
        for _, _, cpus in sorted(candidates, key=lambda c: (c[0], c[1])):
            tried += 1
            if tried > MAX_BANK_SETS:
                return pack(host)
            result = pack(host.restricted(cpus))
            if not isinstance(result, Shortfall):
                return result
    return pack(host)
