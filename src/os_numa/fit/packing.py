"""Pinning one guest cell's vCPUs onto one host cell's cores (Nova's step 4 and 5.3).

Every choice takes cores in order of their lowest pCPU and threads lowest first,
so the same host and request always give the same pins.

:func:`pack` is a pure function of the cell's layout, its free pCPUs, whether it
is configured new-style (``cpu_dedicated_set``) and the request's values, so its
answers are remembered by those values (the layout stands for its value: each is
made once per value, immutable, and held by the key): a host state the fit has
seen, asked the same, is not packed again. Bounded: :data:`PACKS` answers, the
oldest dropped first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import chain, islice
from typing import ParamSpec

from os_numa import smt
from os_numa.fit.outcome import Shortfall, pcpus_needed
from os_numa.fit.snapshot import HostCell
from os_numa.objects import fields

_THREADS = fields.CPUThreadAllocationPolicy

Pins = tuple[tuple[int, int], ...]
Packed = tuple[Pins, tuple[int, ...]] | Shortfall
P = ParamSpec("P")

#: Distinct (cell state, request) pairs whose packing is remembered.
PACKS = 4096
#: Answers by value; a dict's get and set are atomic, and an entry is set complete.
_PACKED: dict[tuple, Packed] = {}


def _remembered(work: Callable[P, Packed]) -> Callable[P, Packed]:
    """``work(host, ...)`` remembered by the host cell's state and the other arguments."""

    @functools.wraps(work)
    def remembered(*args: P.args, **kwargs: P.kwargs) -> Packed:
        host: HostCell = args[0]  # type: ignore[assignment]  # pack's first parameter
        key = (host.layout.key, host.free, host.new_style, *args[1:])
        if kwargs:
            key += tuple(kwargs.items())
        answer = _PACKED.get(key)
        if answer is None:
            answer = work(*args, **kwargs)
            if len(_PACKED) >= PACKS:
                try:
                    del _PACKED[next(iter(_PACKED))]
                except (KeyError, RuntimeError, StopIteration):  # another thread was quicker
                    pass
            _PACKED[key] = answer
        return answer

    return remembered


def clear() -> None:
    """Forget every remembered packing (for tests and benchmarks)."""
    _PACKED.clear()


@_remembered
def pack(
    host: HostCell,
    vcpus: tuple[int, ...],
    thread_policy: str | None,
    reserve: int,
    realtime: frozenset[int] = frozenset(),
    smt_aware: bool = False,
) -> tuple[Pins, tuple[int, ...]] | Shortfall:
    """Pin ``vcpus`` (sorted) on ``host`` and reserve ``reserve`` emulator pCPUs.

    The caller has checked that ``host`` has ``len(vcpus) + reserve`` free pCPUs.
    With ``smt_aware`` on an SMT cell, the emulator pCPUs avoid the cores of
    ``realtime`` vCPUs' pCPUs (see :func:`_smt_aware_reserve`), moving
    housekeeping vCPUs beside them when that is the only way
    (:func:`_beside_housekeeping`). Returns
    ``(pinning, reserved)`` or the Shortfall of the thread policy (immutable,
    and shared by fits of equal values).
    """
    if thread_policy == _THREADS.ISOLATE:
        return _pack_isolate(host, vcpus, reserve)
    free_cores = host.free_cores
    if thread_policy == _THREADS.REQUIRE:
        pcpus = _sibling_threads(host, free_cores, len(vcpus))
    else:
        pcpus = _prefer_threads(free_cores, len(vcpus))
    if isinstance(pcpus, Shortfall):
        return pcpus
    pinning = tuple(zip(vcpus, pcpus, strict=True))
    used = set(pcpus)
    if reserve and smt_aware and host.threads > 1:
        reserved = _smt_aware_reserve(host, pinning, used, reserve, realtime)
        if reserved is None:
            return _beside_housekeeping(host, vcpus, pcpus, reserve, realtime)
        return pinning, reserved
    spare = (cpu for cpu in chain.from_iterable(free_cores) if cpu not in used)
    return pinning, tuple(islice(spare, reserve))


def _smt_aware_reserve(
    host: HostCell, pinning: Pins, used: set[int], reserve: int, realtime: frozenset[int]
) -> tuple[int, ...] | None:
    """Emulator pCPUs on no core of a realtime vCPU, partly used cores first, or None
    when there are too few with the vCPUs pinned as they are.

    A busy emulator thread on the sibling of a realtime vCPU's pCPU delays that
    vCPU; Nova allows it (bug 1746393). Threads of cores already partly used
    come first, so whole cores stay free for guests that need them.
    """
    noisy: set[int] = set()
    if realtime:
        core_of = host.core_of
        for vcpu, pcpu in pinning:
            if vcpu in realtime:
                noisy.update(core_of[pcpu])
    free = host.free_cores
    parts = host.free_parts
    # With every free part a whole core, the only partly used cores are those holding
    # this guest's pCPUs: once they are all behind and enough whole cores are found,
    # no later core can change the answer.
    all_whole = len(host.whole_cores) == len(free)
    unseen = len(used)
    partly: list[int] = []
    whole: list[int] = []
    for part, whole_core in parts:
        if used.isdisjoint(part):
            if noisy and not noisy.isdisjoint(part):
                continue
            (whole if whole_core else partly).extend(part)
            if all_whole and not unseen and len(whole) >= reserve:
                break
            continue
        spare = [cpu for cpu in part if cpu not in used]
        unseen -= len(part) - len(spare)
        if noisy and not noisy.isdisjoint(part):
            continue
        partly += spare
        if len(partly) >= reserve:  # partly used cores come first: no need to look further
            break
    candidates = partly + whole
    return tuple(candidates[:reserve]) if len(candidates) >= reserve else None


def _beside_housekeeping(
    host: HostCell,
    vcpus: tuple[int, ...],
    pcpus: tuple[int, ...],
    reserve: int,
    realtime: frozenset[int],
) -> tuple[Pins, tuple[int, ...]] | Shortfall:
    """Emulator pCPUs on cores that run only housekeeping vCPUs, moving those there.

    Used when, with vCPUs pinned in order, every spare thread is on a core of a
    realtime vCPU (3 vCPUs, realtime mask ``^0``, on two free cores: 0-1 on one
    core, 2 on the other). The pCPUs stay the thread policy's choice; only which
    vCPU runs where changes: the housekeeping (non-realtime) vCPUs, lowest first,
    go to the chosen cores, beside the emulator. Cores with spare threads are
    taken with fewest of this guest's pCPUs first, partly used before whole,
    then in core order, while housekeeping vCPUs remain to cover their pCPUs
    (with two threads per core that finds a choice whenever one exists).
    """
    used = set(pcpus)
    housekeeping = [vcpu for vcpu in vcpus if vcpu not in realtime]
    candidates = []
    for index, (part, whole) in enumerate(host.free_parts):
        spare = [cpu for cpu in part if cpu not in used]
        if spare:
            taken = [cpu for cpu in part if cpu in used]
            candidates.append((len(taken), whole and not taken, index, spare, taken))
    candidates.sort()
    reserved: list[int] = []
    beside: set[int] = set()
    for cost, _, _, spare, taken in candidates:
        if len(beside) + cost > len(housekeeping):
            break  # sorted by cost: no later core is affordable either
        beside.update(taken)
        reserved.extend(spare[: reserve - len(reserved)])
        if len(reserved) == reserve:
            break
    if len(reserved) < reserve:
        count = len(housekeeping)
        why = (
            f"even with its {count} housekeeping vCPU{'s' if count != 1 else ''} beside them"
            if count
            else "every vCPU of the cell is realtime"
        )
        return Shortfall(
            "emulator_pcpus",
            reserve,
            len(reserved),
            f"{reserve} emulator pCPU{'s' if reserve != 1 else ''} needed off the cores of "
            f"realtime vCPUs, {len(reserved)} free there ({why})",
        )
    moved = housekeeping[: len(beside)]
    others = [vcpu for vcpu in vcpus if vcpu not in moved]
    pairs = list(zip(moved, (cpu for cpu in pcpus if cpu in beside), strict=True))
    pairs += zip(others, (cpu for cpu in pcpus if cpu not in beside), strict=True)
    return tuple(sorted(pairs)), tuple(reserved)


def _take(cores: tuple[smt.Core, ...], per_core: int, count: int) -> tuple[int, ...] | None:
    """The first ``per_core`` threads of each core with that many, the first ``count`` of
    them (cores in order, looked at only until there are enough), or None."""
    taken: list[int] = []
    for core in cores:
        if len(core) >= per_core:
            taken += core[:per_core]
            if len(taken) >= count:
                return tuple(taken[:count])
    return None


def _prefer_threads(free_cores: tuple[smt.Core, ...], count: int) -> tuple[int, ...]:
    """Siblings first: the most threads per core that still fit, then any free pCPUs."""
    if count == 0:
        return ()
    most = max(map(len, free_cores), default=1)
    for per_core in range(most, 0, -1):
        pcpus = _take(free_cores, per_core, count)
        if pcpus is not None:
            return pcpus
    # Not enough cores even one thread each: every free pCPU, core by core.
    return tuple(chain.from_iterable(free_cores))[:count]


def _sibling_threads(
    host: HostCell, free_cores: tuple[smt.Core, ...], count: int
) -> tuple[int, ...] | Shortfall:
    """``require``: only cores with at least two free threads, most threads per core first."""
    if host.threads <= 1:
        return Shortfall(
            "smt_required",
            2,
            host.threads,
            "thread policy 'require' needs SMT siblings; the cell has 1 thread per core",
        )
    best = 0
    for per_core in range(host.threads, 1, -1):
        pcpus = _take(free_cores, per_core, count) if count else ()
        if pcpus is not None:
            return pcpus
        best = max(best, per_core * sum(len(core) >= per_core for core in free_cores))
    return Shortfall(
        "sibling_threads",
        count,
        best,
        f"thread policy 'require': {count} vCPUs need sibling threads on cores with 2 or "
        f"more free threads; such cores offer {best}",
    )


def _pack_isolate(
    host: HostCell, vcpus: tuple[int, ...], reserve: int
) -> tuple[Pins, tuple[int, ...]] | Shortfall:
    """``isolate``: one vCPU per fully free core, and each emulator pCPU on a core of its own.

    The claim pins whole cores under ``isolate`` (``pin_cpus_with_siblings``), so
    the emulator pCPU must come from a fully free core too; Nova takes any core
    its pins do not touch and its own claim then fails (defect 9).
    """
    if host.threads > 1 and host.new_style:
        split = sorted(host.split_cores)
        where = (
            f"; pCPU {split[0][0]} shares its core with CPUs outside cpu_dedicated_set"
            if split
            else ""
        )
        return Shortfall(
            "smt_config",
            1,
            host.threads,
            "thread policy 'isolate' cannot be used on an SMT cell configured with "
            f"cpu_dedicated_set/cpu_shared_set (Nova bug 1889633){where}; use the "
            "HW_CPU_HYPERTHREADING trait instead",
        )
    whole = host.whole_cores
    needed = len(vcpus) + reserve
    if len(whole) < needed:
        return Shortfall(
            "whole_cores",
            needed,
            len(whole),
            f"thread policy 'isolate': {pcpus_needed(len(vcpus), reserve)} on whole free "
            f"cores, {len(whole)} whole core{'s' if len(whole) != 1 else ''} free",
        )
    pinning = tuple(zip(vcpus, (core[0] for core in whole[: len(vcpus)]), strict=True))
    reserved = tuple(core[0] for core in whole[len(vcpus) : needed])
    return pinning, reserved
