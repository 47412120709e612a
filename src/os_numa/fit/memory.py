"""Memory and huge-page check of one guest cell on one host cell (Nova's step 1)."""

from __future__ import annotations

from os_numa.constraints.pages import MEMPAGES_ANY, MEMPAGES_LARGE, MEMPAGES_SMALL
from os_numa.fit.outcome import Shortfall
from os_numa.fit.snapshot import GuestCell, HostCell, Pages

_NAMES = {MEMPAGES_SMALL: "small", MEMPAGES_LARGE: "large", MEMPAGES_ANY: "any"}


def _fits(pool: Pages, memory_kb: int, use_free: bool) -> bool:
    avail = pool.free if use_free else pool.usable
    return memory_kb % pool.size_kb == 0 and memory_kb <= avail * pool.size_kb


def _pages_text(pool: Pages, memory_kb: int, use_free: bool) -> str:
    if memory_kb % pool.size_kb:
        return f"{memory_kb // 1024} MiB is not a multiple of {pool.size_kb} KiB pages"
    avail, what = (pool.free, "free") if use_free else (pool.usable, "in total")
    return f"{memory_kb // pool.size_kb} pages of {pool.size_kb} KiB needed, {avail} {what}"


def fit_memory(host: HostCell, guest: GuestCell) -> int | None | Shortfall:
    """The page size the guest cell gets on ``host`` (None: no size requested), or a Shortfall.

    A requested size must have enough free pages and divide the memory: ``small``
    is the smallest size, ``large`` the largest size other than the smallest that
    fits, ``any`` the largest that fits. Without a request, the smallest pool
    must hold the memory (free pages for pinned cells, total pages less those
    the host reserves for shared ones, which may overcommit); a cell reporting
    no pools compares MiB instead.
    """
    memory_kb = guest.memory * 1024
    if guest.pagesize is not None:
        return _requested_pagesize(host, guest.pagesize, memory_kb)
    pages = host.pages
    if pages:
        smallest = pages[0]
        avail = smallest.free if guest.pinning else smallest.usable
        size_kb = smallest.size_kb
        if memory_kb % size_kb == 0 and memory_kb <= avail * size_kb:  # _fits, inline
            return None
        needed = memory_kb // size_kb
        return Shortfall("pages", needed, avail, _pages_text(smallest, memory_kb, guest.pinning))
    avail = host.avail_memory if guest.pinning else host.memory
    if guest.memory <= avail:
        return None
    what = "free" if guest.pinning else "in total"
    return Shortfall(
        "memory", guest.memory, avail, f"{guest.memory} MiB needed, {avail} MiB {what}"
    )


def _requested_pagesize(host: HostCell, pagesize: int, memory_kb: int) -> int | Shortfall:
    descending = host.pages[::-1]
    if pagesize == MEMPAGES_SMALL:
        candidates = descending[-1:]
    elif pagesize == MEMPAGES_LARGE:
        candidates = descending[:-1]
    elif pagesize == MEMPAGES_ANY:
        candidates = descending
    else:
        candidates = tuple(p for p in descending if p.size_kb == pagesize)
        if not candidates:
            offered = ", ".join(str(p.size_kb) for p in host.pages) or "none"
            return Shortfall(
                "pagesize",
                pagesize,
                0,
                f"page size {pagesize} KiB is not offered (offered KiB sizes: {offered})",
            )
    for pool in candidates:
        if _fits(pool, memory_kb, True):
            return pool.size_kb
    if not candidates:
        name = _NAMES[pagesize]
        return Shortfall("pagesize", 0, 0, f"page size {name!r}: the cell offers no such pages")
    if len(candidates) == 1:
        pool = candidates[0]
        return Shortfall(
            "pages", memory_kb // pool.size_kb, pool.free, _pages_text(pool, memory_kb, True)
        )
    detail = "; ".join(_pages_text(p, memory_kb, True) for p in candidates)
    return Shortfall(
        "pages",
        memory_kb // candidates[-1].size_kb,
        candidates[-1].free,
        f"page size {_NAMES[pagesize]!r}: no size fits ({detail})",
    )
