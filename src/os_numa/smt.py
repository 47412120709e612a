"""SMT cores: small pure queries over a host cell's CPUs and their sibling groups,
on plain sets, ints and tuples.

A *core* here is one SMT sibling group restricted to the CPUs that may be
pinned, as a sorted tuple; cores are listed by their lowest CPU. Sorting is what
makes every choice deterministic (Nova keeps sibling sets in hash order and pins
come out as 6, 2, 5, 4; see ``doc/source/fitting.rst``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

Core = tuple[int, ...]


def cores_of(siblings: Iterable[Collection[int]], cpus: Iterable[int]) -> tuple[Core, ...]:
    """The cores made of ``cpus``: each sibling group intersected with ``cpus``.

    CPUs that no sibling group mentions become one-thread cores, so a host that
    reports no siblings still has cores. A CPU listed in two groups counts in
    the first only; the result is sorted by lowest CPU, each core sorted.
    """
    return split_cores_of(siblings, cpus)[0]


def split_cores_of(
    siblings: Iterable[Collection[int]], cpus: Iterable[int]
) -> tuple[tuple[Core, ...], frozenset[Core], int]:
    """:func:`cores_of`, which of those cores are split, and the threads per real core.

    A core is *split* when its sibling group has threads outside ``cpus`` (a
    pCPU whose sibling is a shared CPU): its pCPUs may be pinned, but the core
    is never wholly the guest's, which thread policy ``isolate`` needs. The
    threads per core are those of the largest sibling group, whether or not its
    threads are in ``cpus`` (1 without groups), as Nova counts them.
    """
    wanted = cpus if isinstance(cpus, (set, frozenset)) else frozenset(cpus)
    covered: set[int] = set()
    cores: list[Core] = []
    split = []
    most = 1
    for group in siblings:
        size = len(group)
        if size > most:
            most = size
        core = wanted.intersection(group)
        if not core:
            continue
        if not covered.isdisjoint(core):
            core = core - covered
            if not core:
                continue
        covered.update(core)
        if len(core) == 2:  # the common SMT core, ordered without sorted()
            first, second = core
            cores.append((first, second) if first < second else (second, first))
        else:
            cores.append(tuple(sorted(core)))
        if len(core) < size:
            split.append(cores[-1])
    if len(covered) < len(wanted):
        cores.extend((cpu,) for cpu in wanted - covered)
    cores.sort()
    return tuple(cores), frozenset(split), most


def threads_per_core(cores: Iterable[Core]) -> int:
    """Threads of the largest core, or 1 when there are no cores."""
    return max(map(len, cores), default=1)


class FreeCores(NamedTuple):
    """A cell's free CPUs by core, in core order (see :func:`free_by_core`)."""

    #: Each core's free CPUs with whether that is the whole core, for cores with any.
    parts: tuple[tuple[Core, bool], ...]
    #: Each core's free CPUs, for cores with any (the parts alone).
    cores: tuple[Core, ...]
    #: The cores every thread of which is free (and not split).
    whole: tuple[Core, ...]


def free_by_core(
    cores: Iterable[Core],
    free: set[int] | frozenset[int],
    split: frozenset[Core] = frozenset(),
) -> FreeCores:
    """:func:`free_parts`, :func:`free_threads` and :func:`whole_free_cores` in one pass.

    A core in ``split`` (see :func:`split_cores_of`) is never whole.
    """
    parts = []
    free_cores = []
    whole = []
    for core in cores:
        if free.issuperset(core):
            if split and core in split:
                parts.append((core, False))
            else:
                parts.append((core, True))
                whole.append(core)
            free_cores.append(core)
        elif not free.isdisjoint(core):
            part = tuple([cpu for cpu in core if cpu in free])
            parts.append((part, False))
            free_cores.append(part)
    return FreeCores(tuple(parts), tuple(free_cores), tuple(whole))


def free_parts(
    cores: Iterable[Core],
    free: set[int] | frozenset[int],
    split: frozenset[Core] = frozenset(),
) -> tuple[tuple[Core, bool], ...]:
    """Each core's free CPUs with whether that is the whole core, for cores with any.

    A core in ``split`` (see :func:`split_cores_of`) is never whole.
    """
    return free_by_core(cores, free, split).parts


def free_threads(cores: Iterable[Core], free: set[int] | frozenset[int]) -> tuple[Core, ...]:
    """Each core's free CPUs, for cores with at least one, in core order."""
    return free_by_core(cores, free).cores


def whole_free_cores(cores: Iterable[Core], free: set[int] | frozenset[int]) -> tuple[Core, ...]:
    """Cores every thread of which is free, in core order."""
    return tuple(core for core in cores if free.issuperset(core))


def core_of(cores: Iterable[Core], cpu: int) -> Core | None:
    """The core holding ``cpu``, or None."""
    for core in cores:
        if cpu in core:
            return core
    return None
