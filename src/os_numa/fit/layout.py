"""A host cell's core layout, derived once per distinct hardware and shared across fits.

The cores of a host cell (its sibling groups within the pinnable pCPUs), which of
them are split by shared CPUs and the threads per core depend only on the cell's
``siblings`` and ``pcpuset``, which change when the host is reconfigured, never
when guests come and go. Deriving them was a fifth of a typical fit, repeated for
every cell tried of every host of every fit; :func:`layout_of` derives them once
per distinct pair of values (hosts of one model share them) and returns the same
immutable :class:`Layout` afterwards.

The memo is keyed on values, never on the identity of the (mutable) objects: the
pCPU set is the key, and the sibling groups are compared in full against a private
frozen copy, so a changed topology is a miss, never a stale answer. It is bounded:
:data:`CELLS` pCPU sets (least recently used dropped first), :data:`LAYOUTS_PER_CELL`
sibling layouts for each.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from os_numa import smt

#: Distinct pCPU sets remembered (a host has a few; a fleet of many models a few hundred).
CELLS = 1024
#: Distinct sibling layouts remembered per pCPU set.
LAYOUTS_PER_CELL = 4


class Layout(NamedTuple):
    """What :func:`os_numa.smt.split_cores_of` says of a cell's pCPUs."""

    #: Sibling groups within the pCPUs, each sorted, listed by lowest pCPU.
    cores: tuple[smt.Core, ...]
    #: Cores with a thread outside the pCPUs (a shared CPU): never whole.
    split: frozenset[smt.Core]
    #: Threads of the largest real core (1 without SMT), shared CPUs included.
    threads: int
    #: The core of each pCPU.
    core_of: Mapping[int, smt.Core]
    #: The free cores of the cell with nothing pinned (:func:`os_numa.smt.free_by_core`).
    all_free: smt.FreeCores


@functools.lru_cache(maxsize=CELLS)
def _known(pcpuset: frozenset[int]) -> list[tuple[list[frozenset[int]], Layout]]:
    """The layouts seen with this pCPU set, most recent first (filled by :func:`layout_of`)."""
    return []


def layout_of(siblings: Iterable[Collection[int]], pcpuset: frozenset[int]) -> Layout:
    """The :class:`Layout` of a cell with these sibling groups and pinnable pCPUs.

    The cores, split cores and threads of :func:`os_numa.smt.split_cores_of` with
    the core of each pCPU and the free cores of an empty cell, computed once per
    distinct value; the answer is shared and never changed (``core_of`` is a
    read-only mapping).
    """
    if not isinstance(siblings, list):
        siblings = list(siblings)
    known = _known(pcpuset)
    for groups, layout in known:
        # A list of sets equals a list of frozensets element by element (in C).
        if groups == siblings:
            return layout
    groups = [frozenset(group) for group in siblings]
    cores, split, threads = smt.split_cores_of(groups, pcpuset)
    core_of = MappingProxyType({cpu: core for core in cores for cpu in core})
    all_free = smt.free_by_core(cores, pcpuset, split)
    layout = Layout(cores, split, threads, core_of, all_free)
    # Concurrent fits may both insert: harmless, the list stays bounded.
    known.insert(0, (groups, layout))
    del known[LAYOUTS_PER_CELL:]
    return layout


def clear() -> None:
    """Forget every layout (for tests and memory-conscious callers)."""
    _known.cache_clear()
