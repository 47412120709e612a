"""Memory the host keeps from guests, per NUMA cell: huge pages and host memory.

``[DEFAULT] reserved_huge_pages`` (Nova's option, one ``node:N,size:S,count:C``
per value) marks pages of a host cell's pool as reserved: OVS-DPDK or the host
itself holds them, so the fit never offers them (``NUMAPagesTopology.free``
leaves them out) and the claim never counts them as free.

``[os_numa] reserved_host_memory_per_cell`` (``node:N,memory_mb:M`` per value),
or with ``[os_numa] reserved_host_memory_spread`` Nova's ``[DEFAULT]
reserved_host_memory_mb`` split evenly over the cells, takes host memory out of
a cell: its ``memory`` shrinks and the pages of its smallest pool that back the
memory are reserved. Both are off by default, as in Nova, whose NUMA fit ignores
``reserved_host_memory_mb``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oslo_config import cfg

from os_numa import exception
from os_numa.constraints.pages import parse_page_size

#: Most values of a MultiOpt read: a bound on a configuration file's size.
_MAX_ITEMS = 4096


def format_items(values: Sequence[Mapping[str, Any]] | None) -> str:
    """MultiOpt dict values as a configuration file writes them, separated by semicolons."""
    return "; ".join(",".join(f"{k}:{v}" for k, v in item.items()) for item in values or ())


def _invalid_pages(conf_value: Any, reason: str) -> exception.InvalidReservedMemoryPagesOption:
    return exception.InvalidReservedMemoryPagesOption(conf=conf_value, reason=reason)


def _int_item(item: Mapping[str, Any], key: str, what: str, error) -> int:
    raw = item.get(key)
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 18:
        raise error(f"{key}:{raw!r} must be a non-negative integer ({what})")
    return int(text)


def parse_reserved_huge_pages(
    values: Sequence[Mapping[str, str]] | None,
) -> dict[int, dict[int, int]]:
    """``[DEFAULT] reserved_huge_pages`` -> ``{node: {page size KiB: count}}``.

    ``size`` is KiB (``2048``) or a size with a unit (``2MB``, ``1GB``), as in Nova.

    :raises InvalidReservedMemoryPagesOption: a value without ``node``, ``size``
        or ``count``, a key Nova does not know, a non-integer, or a bad size.
    """
    result: dict[int, dict[int, int]] = {}
    for item in list(values or ())[:_MAX_ITEMS]:
        shown = format_items([item])

        def error(reason: str, shown: str = shown) -> exception.InvalidReservedMemoryPagesOption:
            return _invalid_pages(shown, reason)

        unknown = sorted(set(item) - {"node", "size", "count"})
        if unknown:
            raise error(f"unknown key(s) {', '.join(unknown)}; use node:N,size:S,count:C")
        for key in ("node", "size", "count"):
            if key not in item:
                raise error(f"{key} is missing; use node:N,size:S,count:C")
        node = _int_item(item, "node", "a host NUMA cell id", error)
        count = _int_item(item, "count", "a number of pages", error)
        try:
            size_kb = parse_page_size(str(item["size"]).strip(), key="size")
        except exception.MemoryPageSizeInvalid as exc:
            raise error(str(exc)) from exc
        if size_kb < 0:
            raise error("size must be a page size such as 2048, 2MB or 1GB, not a keyword")
        cell = result.setdefault(node, {})
        if size_kb in cell:
            raise error(f"node {node} reserves {size_kb} KiB pages twice")
        cell[size_kb] = count
    return result


def parse_reserved_memory(conf: cfg.ConfigOpts, cell_ids: Sequence[int]) -> dict[int, int]:
    """Host memory (MiB) to take out of each cell: ``{cell id: MiB}`` (cells without none).

    :raises InvalidConfiguration: a bad ``node:N,memory_mb:M`` value, a cell
        named twice, or both the per-cell option and the spread set.
    """
    per_cell = conf.os_numa.reserved_host_memory_per_cell or []
    spread = conf.os_numa.reserved_host_memory_spread
    if per_cell and spread:
        raise exception.InvalidConfiguration(
            reason="[os_numa] reserved_host_memory_per_cell and reserved_host_memory_spread "
            "both say how to reserve host memory per cell; set one"
        )
    if spread:
        total = conf.reserved_host_memory_mb
        cells = sorted(cell_ids)
        if not cells:
            return {}
        share, extra = divmod(total, len(cells))
        return {
            cell: share + (1 if index < extra else 0)
            for index, cell in enumerate(cells)
            if share or index < extra
        }
    result: dict[int, int] = {}
    for item in list(per_cell)[:_MAX_ITEMS]:
        shown = format_items([item])

        def error(reason: str, shown: str = shown) -> exception.InvalidConfiguration:
            return exception.InvalidConfiguration(
                reason=f"[os_numa] reserved_host_memory_per_cell {shown!r}: {reason}"
            )

        if set(item) != {"node", "memory_mb"}:
            raise error("use node:N,memory_mb:M")
        node = _int_item(item, "node", "a host NUMA cell id", error)
        memory = _int_item(item, "memory_mb", "MiB", error)
        if node in result:
            raise error(f"node {node} is named twice")
        result[node] = memory
    return result


def check_nodes(reserved: Mapping[int, Any], cell_ids: Sequence[int], describe: str, error) -> None:
    """Every node a reservation names is a host cell."""
    unknown = sorted(set(reserved) - set(cell_ids))
    if unknown:
        raise error(
            f"{describe} names host cell(s) {', '.join(map(str, unknown))}; the host's cells "
            f"are {', '.join(map(str, sorted(cell_ids))) or 'none'}"
        )


def reserve_cell(
    cell_id: int,
    memory_mb: int,
    mempages: Sequence[Any],
    huge_pages: Mapping[int, int],
    host_memory_mb: int,
) -> int:
    """Reserve ``huge_pages`` ({size KiB: count}) and ``host_memory_mb`` in one cell.

    ``mempages`` are the cell's new ``NUMAPagesTopology`` objects, smallest
    first; their ``reserved`` is set here (they are not shared with any caller
    yet). Returns the cell's memory (MiB) once the host memory is taken out.

    :raises InvalidReservedMemoryPagesOption: a size the cell does not offer,
        or more pages than it has.
    :raises InvalidConfiguration: more host memory than the cell has, or more
        than its smallest page pool can back.
    """
    by_size = {pages.size_kb: pages for pages in mempages}
    for size_kb, count in sorted(huge_pages.items()):
        pool = by_size.get(size_kb)
        if pool is None:
            offered = ", ".join(str(s) for s in sorted(by_size)) or "none"
            raise _invalid_pages(
                f"node:{cell_id},size:{size_kb},count:{count}",
                f"host cell {cell_id} has no {size_kb} KiB pages (its sizes in KiB: {offered})",
            )
        if count > pool.total:
            raise _invalid_pages(
                f"node:{cell_id},size:{size_kb},count:{count}",
                f"host cell {cell_id} has only {pool.total} pages of {size_kb} KiB",
            )
        pool.reserved = count
    if not host_memory_mb:
        return memory_mb
    if host_memory_mb > memory_mb:
        raise exception.InvalidConfiguration(
            reason=f"{host_memory_mb} MiB of host memory reserved on host cell {cell_id}, "
            f"which has {memory_mb} MiB"
        )
    if mempages:
        smallest = mempages[0]
        pages = -(-host_memory_mb * 1024 // smallest.size_kb)
        if smallest.reserved + pages > smallest.total:
            raise exception.InvalidConfiguration(
                reason=f"{host_memory_mb} MiB of host memory reserved on host cell {cell_id}, "
                f"but its {smallest.size_kb} KiB pages hold only "
                f"{(smallest.total - smallest.reserved) * smallest.size_kb // 1024} MiB"
            )
        smallest.reserved += pages
    return memory_mb - host_memory_mb
