"""Which host cells each guest cell may take, when a caller has already decided part of it.

A scheduler that asked OpenStack Placement for candidates gets, per candidate,
the NUMA cell resource providers that serve each request group (Nova calls it
the ``provider_mapping``). The fit must then stay on those cells: guest cell
``i`` on the host cell of group ``i`` (``cell_mapping``), or at least within
the cells the allocation names (``host_cells``). A pair outside is a
:class:`~os_numa.fit.outcome.Shortfall` like any other, so the search, the
explanation and the PCI coupling need nothing more.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from os_numa import cpuset, exception
from os_numa.fit.outcome import Shortfall

#: Per guest cell, the host cell ids it may take (None: any).
Allowed = tuple[frozenset[int], ...]


def allowed_cells(
    guest_cells: int,
    host_cells: Collection[int] | None = None,
    cell_mapping: Sequence[int] | None = None,
) -> Allowed | None:
    """The host cell ids each of ``guest_cells`` guest cells may take, or None (no restriction).

    ``host_cells``: ids every guest cell may choose from; ``cell_mapping``: the
    one host cell id for each guest cell, in guest cell order. Both given: a
    guest cell's mapped cell must also be in ``host_cells``.

    :raises InvalidRequest: ``cell_mapping`` has not one entry per guest cell,
        repeats a host cell (each guest cell needs its own), or an id is not a
        non-negative integer.
    """
    if host_cells is None and cell_mapping is None:
        return None
    everywhere = None if host_cells is None else frozenset(_ids(host_cells, "host_cells"))
    if cell_mapping is None:
        return (frozenset(everywhere or ()),) * guest_cells
    mapping = _ids(cell_mapping, "cell_mapping")
    if len(mapping) != guest_cells:
        raise exception.InvalidRequest(
            reason=(
                f"cell_mapping names {len(mapping)} host cell(s) for a guest of "
                f"{guest_cells} NUMA cell(s); it needs one per guest cell"
            )
        )
    if len(set(mapping)) != len(mapping):
        raise exception.InvalidRequest(
            reason=f"cell_mapping {list(mapping)} puts two guest cells on one host cell"
        )
    return tuple(
        frozenset({cell}) if everywhere is None else frozenset({cell}) & everywhere
        for cell in mapping
    )


def outside(allowed: frozenset[int], host_cell: int) -> Shortfall | None:
    """The shortfall of a guest cell on ``host_cell`` when that cell is not ``allowed``."""
    if host_cell in allowed:
        return None
    if not allowed:
        text = "no host cell is allowed for this guest cell"
    elif len(allowed) == 1:
        text = f"only host cell {next(iter(allowed))} is allowed for this guest cell"
    else:
        text = f"only host cells {cpuset.format_cpu_spec(allowed)} are allowed"
    return Shortfall("host_cells", 1, 0, text)


def _ids(values, name: str) -> tuple[int, ...]:
    ids = tuple(values)
    for value in ids:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise exception.InvalidRequest(
                reason=f"{name}: host cell id {value!r} is not a non-negative integer"
            )
    return ids
