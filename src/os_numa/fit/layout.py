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

The free cores of a cell with some pCPUs pinned (:func:`free_cores`) are
remembered the same way, by value: the key is the layout (an immutable answer of
this module, held by the key, so never mistaken for another) and the frozen set
of free pCPUs, compared in full. A host state the fit has seen (the scheduler
filtering one fleet for request after request, until a claim changes a host) is
not derived again; a new one (the tracker after every claim) costs the key's
hash and a miss. Bounded: :data:`FREE_SETS` (layout, free pCPUs) pairs, least
recently used dropped first.
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
#: Distinct (layout, free pCPUs) pairs whose free cores are remembered (two cells
#: of each of 1,000 scheduler candidate hosts take 2,000).
FREE_SETS = 4096


class _Cores:
    """A layout's cores and split cores, as a memo key: equal only to itself.

    Layouts are never changed and each is made once per distinct value, so
    identity is value here; the memo's key holds it, so its id is never reused.
    """

    __slots__ = ("cores", "split")

    def __init__(self, cores: tuple[smt.Core, ...], split: frozenset[smt.Core]) -> None:
        self.cores = cores
        self.split = split


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
    #: The key of this layout's free cores in :func:`free_cores`'s memo.
    key: _Cores


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
    layout = Layout(cores, split, threads, core_of, all_free, _Cores(cores, split))
    # Concurrent fits may both insert: harmless, the list stays bounded.
    known.insert(0, (groups, layout))
    del known[LAYOUTS_PER_CELL:]
    return layout


def free_cores(layout: Layout, free: frozenset[int]) -> smt.FreeCores:
    """:func:`os_numa.smt.free_by_core` of ``layout``'s cores with ``free`` free.

    Derived once per distinct pair of values (see the module's docstring); the
    answer is shared and immutable.
    """
    return _free_cores(layout.key, free)


@functools.lru_cache(maxsize=FREE_SETS)
def _free_cores(key: _Cores, free: frozenset[int]) -> smt.FreeCores:
    return smt.free_by_core(key.cores, free, key.split)


def clear_free_cores() -> None:
    """Forget every free-core answer, keeping the layouts (as if every host state were new)."""
    _free_cores.cache_clear()


def clear() -> None:
    """Forget every layout and free-core answer (for tests and memory-conscious callers)."""
    _known.cache_clear()
    _free_cores.cache_clear()
