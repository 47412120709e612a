"""packing.pack() on host-cell snapshots of named topologies: one row per packing rule.

Every expected pinning is worked out by hand from the rule its row names, on
the cores the fixture builds ("adjacent" siblings 0-1, 2-3, ...; "split"
siblings c and c + total cores), never copied from the code's output.
"""

import pytest

from os_numa.fit.outcome import Shortfall
from os_numa.fit.packing import pack
from os_numa.fit.snapshot import host_cells
from tests import fixtures_topology as ft

PREFER = "prefer"
REQUIRE = "require"
ISOLATE = "isolate"
#: Every CPU of a 4 x 2 cell but 4, which is the emulator pool (legacy: pinned = shared).
LEGACY_BUT_4 = {0, 1, 2, 3, 5, 6, 7}


def cell(topology, index=0):
    """The snapshot of host cell ``index`` of ``topology``."""
    return host_cells(topology)[index]


def a3(pinned=()):
    """Cell 0 of A3 (cores 0-1, 2-3, 4-5, 6-7) with ``pinned`` taken by other guests."""
    return cell(ft.host(2, 4, 2, pinned=pinned))


def quad(pinned=()):
    """One cell of two 4-thread cores, 0-3 and 4-7."""
    return cell(ft.host(1, 2, 4, pinned=pinned))


def vcpus(count, first=0):
    return tuple(range(first, first + count))


def pins(*pcpus, first=0):
    """vCPU ``first``, ``first`` + 1, ... on ``pcpus`` in that order."""
    return tuple(enumerate(pcpus, start=first))


def short(constraint, needed, available, text=None):
    """An expected Shortfall; ``text`` None leaves the wording unchecked."""
    return (constraint, needed, available, text)


def check(result, expected):
    """``expected`` is (pinning, reserved) or a :func:`short` row."""
    if len(expected) == 4:
        constraint, needed, available, text = expected
        assert isinstance(result, Shortfall), result
        assert (result.constraint, result.needed, result.available) == (
            constraint,
            needed,
            available,
        )
        if text is not None:
            assert result.text == text
        return
    assert not isinstance(result, Shortfall), result
    assert result == expected


def check_invariants(host, guest_vcpus, result):
    """What holds for every fit: each vCPU once, on distinct free pCPUs, none reserved."""
    if isinstance(result, Shortfall):
        return
    pinning, reserved = result
    assert [vcpu for vcpu, _ in pinning] == sorted(guest_vcpus)
    used = [pcpu for _, pcpu in pinning]
    assert len(set(used)) == len(used)
    assert set(used) <= host.free and set(reserved) <= host.free
    assert set(reserved).isdisjoint(used)  # an emulator pCPU is never a vCPU's pCPU


# host, vCPUs, thread policy, reserve, expected (pinning, reserved) or shortfall
THREAD_POLICY = {
    # prefer: the most threads per core that still fit, then one per core, then any;
    # cores by lowest pCPU, threads lowest first.
    "prefer: siblings of the lowest cores": (a3, vcpus(3), PREFER, 0, (pins(0, 1, 2), ())),
    "prefer: siblings before lower pCPUs on other cores (split layout)": (
        lambda: cell(ft.host(1, 4, 2, layout="split")),  # cores 0-4, 1-5, 2-6, 3-7
        vcpus(3),
        PREFER,
        0,
        (pins(0, 4, 1), ()),
    ),
    "prefer: whole cores before the lower single threads left": (
        lambda: a3({0, 2}),  # free: 1, 3, 4-5, 6-7
        vcpus(4),
        PREFER,
        0,
        (pins(4, 5, 6, 7), ()),
    ),
    "prefer: four threads of one core before three of a lower one": (
        lambda: quad({1}),  # free: 0, 2, 3 and 4-7
        vcpus(3),
        PREFER,
        0,
        (pins(4, 5, 6), ()),
    ),
    "prefer: three threads of each core when no core holds all six": (
        lambda: quad({1}),
        vcpus(6),
        PREFER,
        0,
        (pins(0, 2, 3, 4, 5, 6), ()),
    ),
    "prefer: one thread per core when too few cores have two": (
        lambda: a3({3, 5, 7}),  # free: 0-1, 2, 4, 6; one thread of each of 3 cores fits
        vcpus(3),
        PREFER,
        0,
        (pins(0, 2, 4), ()),
    ),
    "prefer: any free pCPUs, core by core, when too few cores": (
        lambda: a3({0, 2}),  # 4 cores with free threads, 5 vCPUs
        vcpus(5),
        PREFER,
        0,
        (pins(1, 3, 4, 5, 6), ()),
    ),
    "prefer: no SMT, lowest pCPUs": (
        lambda: cell(ft.a1_host()),
        vcpus(3),
        PREFER,
        0,
        (pins(0, 1, 2), ()),
    ),
    "prefer: second cell of A3 uses its own pCPUs": (
        lambda: cell(ft.a3_host(), 1),
        vcpus(2),
        PREFER,
        0,
        (pins(8, 9), ()),
    ),
    "prefer: dedicated pCPUs only on C1 (shared 0-1)": (
        lambda: cell(ft.c1_host()),
        vcpus(4),
        PREFER,
        0,
        (pins(2, 3, 4, 5), ()),
    ),
    "prefer: vCPU ids need not start at 0": (
        lambda: a3({0, 2}),
        vcpus(2, first=4),
        PREFER,
        0,
        (pins(4, 5, first=4), ()),
    ),
    "unset thread policy packs as prefer": (
        lambda: a3({0, 2}),
        vcpus(2),
        None,
        0,
        (pins(4, 5), ()),
    ),
    # require: sibling threads only, most threads per core first.
    "require: siblings of the lowest cores": (a3, vcpus(3), REQUIRE, 0, (pins(0, 1, 2), ())),
    "require: skips cores with one free thread": (
        lambda: a3({1, 3, 5}),
        vcpus(2),
        REQUIRE,
        0,
        (pins(6, 7), ()),
    ),
    "require: four free threads before three": (
        lambda: quad({0}),  # free: 1-3 and 4-7
        vcpus(2),
        REQUIRE,
        0,
        (pins(4, 5), ()),
    ),
    "require: three threads of each core for six": (
        lambda: quad({0}),
        vcpus(6),
        REQUIRE,
        0,
        (pins(1, 2, 3, 4, 5, 6), ()),
    ),
    "require: a cell without SMT never fits": (
        lambda: cell(ft.a1_host()),
        vcpus(1),
        REQUIRE,
        0,
        short(
            "smt_required",
            2,
            1,
            "thread policy 'require' needs SMT siblings; the cell has 1 thread per core",
        ),
    ),
    "require: only single free threads left": (
        lambda: a3({1, 3, 5, 7}),
        vcpus(2),
        REQUIRE,
        0,
        short("sibling_threads", 2, 0),
    ),
    "require: too few cores with two free threads": (
        lambda: a3({1, 3, 5}),  # one core (6-7) with two free threads
        vcpus(3),
        REQUIRE,
        0,
        short(
            "sibling_threads",
            3,
            2,
            "thread policy 'require': 3 vCPUs need sibling threads on cores with 2 or more "
            "free threads; such cores offer 2",
        ),
    ),
    "require: the offer is the best over threads per core, not the last tried": (
        lambda: quad({3, 5, 6, 7}),  # free: 0-2 and 4: one core offers 3 siblings
        vcpus(4),
        REQUIRE,
        0,
        short("sibling_threads", 4, 3),
    ),
    "require: the shortfall counts the best offer over threads per core": (
        lambda: quad({0, 1, 4, 5}),  # free: 2-3 and 6-7, no core with 3 or 4 free
        vcpus(5),
        REQUIRE,
        0,
        short("sibling_threads", 5, 4),
    ),
    # isolate: one vCPU per whole free core; each emulator pCPU on a whole core of its own.
    "isolate: one vCPU per whole core": (
        a3,
        vcpus(4),
        ISOLATE,
        0,
        (pins(0, 2, 4, 6), ()),
    ),
    "isolate: emulator on the next whole core": (
        a3,
        vcpus(3),
        ISOLATE,
        1,
        (pins(0, 2, 4), (6,)),
    ),
    "isolate: partly used cores are skipped, by vCPUs and emulator alike": (
        lambda: a3({1}),  # 0 is free but its sibling is not
        vcpus(2),
        ISOLATE,
        1,
        (pins(2, 4), (6,)),
    ),
    "isolate: two emulator pCPUs, each on a whole core": (
        a3,
        vcpus(2),
        ISOLATE,
        2,
        (pins(0, 2), (4, 6)),
    ),
    "isolate: a cell without SMT is one thread per core": (
        lambda: cell(ft.a1_host()),
        vcpus(3),
        ISOLATE,
        1,
        (pins(0, 1, 2), (3,)),
    ),
    "isolate: never on a new-style SMT cell (Nova bug 1889633)": (
        lambda: cell(ft.host(1, 4, 2, dedicated=range(8), shared=())),
        vcpus(1),
        ISOLATE,
        0,
        short("smt_config", 1, 2),
    ),
    # Issue 10, defect 1: a pCPU whose sibling is a shared CPU is on a two-thread core.
    "isolate: never where pCPUs' siblings are shared CPUs (cores split between the sets)": (
        lambda: cell(ft.host(1, 4, 2, layout="split", dedicated=range(4), shared=range(4, 8))),
        vcpus(2),
        ISOLATE,
        0,
        short("smt_config", 1, 2),
    ),
    "isolate: a core whose sibling is an emulator pool CPU is never whole": (
        lambda: cell(ft.host(1, 4, 2, dedicated=LEGACY_BUT_4, shared=LEGACY_BUT_4, pool={4})),
        vcpus(2),
        ISOLATE,
        1,
        (pins(0, 2), (6,)),
    ),
    "isolate: ... so three whole cores are all it has": (
        lambda: cell(ft.host(1, 4, 2, dedicated=LEGACY_BUT_4, shared=LEGACY_BUT_4, pool={4})),
        vcpus(3),
        ISOLATE,
        1,
        short("whole_cores", 4, 3),
    ),
    "require: cores split between the sets offer no sibling threads": (
        lambda: cell(ft.host(1, 4, 2, layout="split", dedicated=range(4), shared=range(4, 8))),
        vcpus(2),
        REQUIRE,
        0,
        short("sibling_threads", 2, 0),
    ),
    "prefer: cores split between the sets are one pinnable thread each": (
        lambda: cell(ft.host(1, 4, 2, layout="split", dedicated=range(4), shared=range(4, 8))),
        vcpus(2),
        PREFER,
        1,
        (pins(0, 1), (2,)),
    ),
    "isolate: whole cores counted with the emulator": (
        lambda: a3({1, 3}),  # whole cores 4-5, 6-7
        vcpus(2),
        ISOLATE,
        1,
        short(
            "whole_cores",
            3,
            2,
            "thread policy 'isolate': 3 pCPUs needed (2 vCPUs + 1 emulator) on whole free "
            "cores, 2 whole cores free",
        ),
    ),
    "isolate: whole cores without an emulator": (
        lambda: a3({1, 3, 7}),  # whole core 4-5 only
        vcpus(2),
        ISOLATE,
        0,
        short(
            "whole_cores",
            2,
            1,
            "thread policy 'isolate': 2 pCPUs needed on whole free cores, 1 whole core free",
        ),
    ),
    # Emulator reservation (Nova's choice): the first free pCPUs the vCPUs did not take.
    "emulator: the lowest free pCPU no vCPU took": (a3, vcpus(2), PREFER, 1, (pins(0, 1), (2,))),
    "emulator: a free thread below the vCPUs' cores": (
        lambda: a3({0, 2}),
        vcpus(2),
        None,
        1,
        (pins(4, 5), (1,)),
    ),
    "emulator: count 2 without SMT": (
        lambda: cell(ft.a1_host()),
        vcpus(2),
        PREFER,
        2,
        (pins(0, 1), (2, 3)),
    ),
    "emulator: count 3 after four vCPUs": (
        a3,
        vcpus(4),
        PREFER,
        3,
        (pins(0, 1, 2, 3), (4, 5, 6)),
    ),
    "emulator: after the siblings require took": (
        lambda: a3({1, 3, 5}),
        vcpus(2),
        REQUIRE,
        1,
        (pins(6, 7), (0,)),
    ),
}


@pytest.mark.parametrize(
    "make_host,guest_vcpus,thread_policy,reserve,expected",
    THREAD_POLICY.values(),
    ids=THREAD_POLICY,
)
def test_thread_policies_and_reservation(make_host, guest_vcpus, thread_policy, reserve, expected):
    host = make_host()
    result = pack(host, guest_vcpus, thread_policy, reserve)
    check(result, expected)
    check_invariants(host, guest_vcpus, result)
    # The SMT-aware choice changes nothing without an emulator pCPU or under isolate.
    if not reserve or thread_policy == ISOLATE:
        assert pack(host, guest_vcpus, thread_policy, reserve, frozenset(guest_vcpus), True) == (
            result
        )


def cores_of_realtime(host, pinning, realtime):
    pcpus = {pcpu for vcpu, pcpu in pinning if vcpu in realtime}
    return {cpu for core in host.cores if pcpus.intersection(core) for cpu in core}


# host, vCPUs, realtime vCPUs, reserve, expected with emulator_threads_smt_aware,
# expected with it off (Nova's choice: the first free pCPUs after the vCPUs' pins).
SMT_AWARE = {
    "never on a realtime vCPU's core": (
        a3,
        vcpus(3),
        {0, 1, 2},  # pins 0, 1, 2: cores 0-1 and 2-3 are noisy
        1,
        (pins(0, 1, 2), (4,)),
        (pins(0, 1, 2), (3,)),
    ),
    "beside a housekeeping vCPU on its partly used core": (
        a3,
        vcpus(3),
        {0, 1},  # vCPU 2 (housekeeping) on 2, so 3 is quiet
        1,
        (pins(0, 1, 2), (3,)),
        (pins(0, 1, 2), (3,)),
    ),
    "without realtime, a core partly used by another guest before a whole one": (
        lambda: a3({5}),  # 4 is alone on its core, 2-3 is whole
        vcpus(2),
        set(),
        1,
        (pins(0, 1), (4,)),
        (pins(0, 1), (2,)),
    ),
    "partly used threads first, then whole cores, for two emulator pCPUs": (
        lambda: a3({5}),
        vcpus(2),
        set(),
        2,
        (pins(0, 1), (4, 2)),
        (pins(0, 1), (2, 3)),
    ),
    "housekeeping vCPU moved beside the emulator (realtime mask ^0)": (
        lambda: cell(ft.host(1, 2, 2)),  # pins 0, 1, 2 leave 3 only, on vCPU 2's core
        vcpus(3),
        {1, 2},
        1,
        (((0, 2), (1, 0), (2, 1)), (3,)),
        (pins(0, 1, 2), (3,)),
    ),
    "the quiet core first, then one beside the housekeeping vCPU": (
        lambda: cell(ft.host(1, 3, 2, pinned={5})),  # pins 0, 1, 2; spare 3 and 4
        vcpus(3),
        {0, 2},
        2,
        # 4's core holds none of the guest's pCPUs, 3's holds one: vCPU 1 moves to 2.
        (((0, 0), (1, 2), (2, 1)), (4, 3)),
        (pins(0, 1, 2), (3, 4)),
    ),
    "every vCPU realtime and no quiet core": (
        lambda: cell(ft.host(1, 2, 2)),
        vcpus(3),
        {0, 1, 2},
        1,
        short(
            "emulator_pcpus",
            1,
            0,
            "1 emulator pCPU needed off the cores of realtime vCPUs, 0 free there "
            "(every vCPU of the cell is realtime)",
        ),
        (pins(0, 1, 2), (3,)),
    ),
    "too few housekeeping vCPUs to clear a core": (
        lambda: quad({3, 7}),  # pins 0, 1, 2, 4, 5; spare 6 shares a core with two vCPUs
        vcpus(5),
        {0, 1, 2, 3},  # vCPU 3 on 4: one housekeeping vCPU (4, on 5) cannot clear 4-6
        1,
        short(
            "emulator_pcpus",
            1,
            0,
            "1 emulator pCPU needed off the cores of realtime vCPUs, 0 free there "
            "(even with its 1 housekeeping vCPU beside them)",
        ),
        (pins(0, 1, 2, 4, 5), (6,)),
    ),
    "no SMT: unchanged": (
        lambda: cell(ft.a1_host()),
        vcpus(2),
        {0, 1},
        1,
        (pins(0, 1), (2,)),
        (pins(0, 1), (2,)),
    ),
}


@pytest.mark.parametrize(
    "make_host,guest_vcpus,realtime,reserve,aware,nova", SMT_AWARE.values(), ids=SMT_AWARE
)
def test_smt_aware_reservation(make_host, guest_vcpus, realtime, reserve, aware, nova):
    host = make_host()
    realtime = frozenset(realtime)
    result = pack(host, guest_vcpus, PREFER, reserve, realtime, smt_aware=True)
    check(result, aware)
    check_invariants(host, guest_vcpus, result)
    if not isinstance(result, Shortfall) and host.threads > 1:
        pinning, reserved = result
        assert cores_of_realtime(host, pinning, realtime).isdisjoint(reserved)
    off = pack(host, guest_vcpus, PREFER, reserve, realtime, smt_aware=False)
    check(off, nova)


def test_pack_is_pure_and_deterministic():
    host = a3({5})
    free = set(host.free)
    first = pack(host, vcpus(3), PREFER, 1, frozenset({1, 2}), True)
    assert first == pack(host, vcpus(3), PREFER, 1, frozenset({1, 2}), True)
    assert set(host.free) == free


def test_equal_cell_states_share_one_answer_and_a_changed_one_is_a_miss():
    from os_numa.fit import packing

    packing.clear()
    first = pack(a3(pinned={0}), vcpus(2), PREFER, 1)
    # Another snapshot of an equal state (the next fit's read of an unchanged host) hits.
    assert pack(a3(pinned={0}), vcpus(2), PREFER, 1) is first
    assert first == packing.pack.__wrapped__(a3(pinned={0}), vcpus(2), PREFER, 1)
    # Another free set, request or configuration is another key, never a stale answer.
    assert pack(a3(pinned={0, 1}), vcpus(2), PREFER, 1) == (((0, 2), (1, 3)), (4,))
    assert pack(a3(pinned={0}), vcpus(2), PREFER, 2) == (((0, 2), (1, 3)), (1, 4))
    assert pack(a3(pinned={0}), vcpus(2), ISOLATE, 1) == (((0, 2), (1, 4)), (6,))
    packing.clear()
    assert not packing._PACKED


def test_remembered_answers_are_bounded(monkeypatch):
    from os_numa.fit import packing

    packing.clear()
    monkeypatch.setattr(packing, "PACKS", 3)
    for reserve in range(6):
        pack(a3(), vcpus(1), PREFER, reserve)
    assert len(packing._PACKED) == 3
    assert pack(a3(), vcpus(1), PREFER, 2) == (((0, 0),), (1, 2))
    packing.clear()
