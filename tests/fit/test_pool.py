"""The emulator pool (``hw:emulator_threads_policy=pool``): choice, fullness, accounting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import exception, hardware
from os_numa.fit import pool as pool_mod
from os_numa.objects import fields
from tests import fixtures_topology as ft

POOL = fields.CPUEmulatorThreadsPolicy.POOL


def pool_host(pools: dict[int, set[int]], overcommit: int = 1, loads=None, cores: int = 4):
    """2 cells x ``cores`` cores, no SMT; ``pools`` maps a cell id to its pool pCPUs,
    which leave ``cpu_dedicated_set``; ``loads`` maps a pool pCPU to its guests."""
    every = set().union(*pools.values()) if pools else set()
    return ft.host(
        2,
        cores,
        dedicated=set(range(2 * cores)) - every,
        pool=every,
        pool_overcommit=overcommit,
        pool_guests=loads,
    )


def pooled(vcpus_per_cell):
    # 256 MiB per cell: up to 16 such guests fit a 4 GiB cell's memory, so the pool
    # (not memory) is what fills up in the stream tests.
    return ft.guest(vcpus_per_cell, 256, emulator=POOL)


def fit(host, request):
    return hardware.numa_fit_instance_to_host(host, request)


# (pools, overcommit, loads, request cells, expected host cells, expected pool pCPU)
CHOICES = {
    "guest cell 0's host cell first": ({0: {0}, 1: {4}}, 1, {}, [1], [0], 0),
    "least loaded within the cell": ({0: {0, 1}, 1: {4, 5}}, 2, {0: 1}, [1], [0], 1),
    "ties go to the lowest pCPU": ({0: {0, 1}, 1: {4, 5}}, 2, {0: 1, 1: 1}, [1], [0], 0),
    "a full local pCPU is skipped": ({0: {0}, 1: {4}}, 1, {0: 1}, [1], [0], 4),
    "another occupied cell before any": ({0: {0}, 1: {4}}, 1, {0: 1}, [1, 1], [0, 1], 4),
    "any cell when the guest's cells have none": ({1: {4, 5}}, 1, {4: 1}, [1], [0], 5),
    "spread puts the guest on the cell with more free pCPUs": ({0: {0, 1}}, 1, {}, [1], [1], 0),
    "nearness beats load": ({0: {0}, 1: {4}}, 3, {0: 2}, [1], [0], 0),
}


@pytest.mark.parametrize(
    ("pools", "overcommit", "load", "cells", "host_cells", "expected"),
    CHOICES.values(),
    ids=CHOICES,
)
def test_pool_pcpu_choice(pools, overcommit, load, cells, host_cells, expected):
    host = pool_host(pools, overcommit, load)
    placement = fit(host, pooled(cells))
    assert [cell.id for cell in placement.cells] == host_cells
    assert placement.emulator_pool_cpu == expected
    # The pool pCPU is never one of the guest's own pCPUs nor reserved from PCPU.
    assert expected not in placement.cpu_pinning
    assert not placement.cpuset_reserved


def test_choose_orders_by_nearness_then_load_then_id():
    pool = pool_mod.EmulatorPool(
        (
            pool_mod.PoolCPU(cpu=0, cell=0, load=0, capacity=2),
            pool_mod.PoolCPU(cpu=1, cell=1, load=1, capacity=2),
            pool_mod.PoolCPU(cpu=2, cell=1, load=0, capacity=2),
            pool_mod.PoolCPU(cpu=3, cell=2, load=2, capacity=2),
        )
    )
    assert pool.choose([1]) == 2
    assert pool.choose([2, 1]) == 2  # cell 2's only pCPU is full; cell 1 is occupied
    assert pool.choose([3]) == 0  # no pool pCPU nearby: the least loaded anywhere
    assert pool.choose([]) == 0


FULL = {
    "4 pCPUs x overcommit 2": (
        {0: {0, 1}, 1: {4, 5}},
        2,
        {0: 2, 1: 2, 4: 2, 5: 2},
        "emulator pool full: 4 pCPUs x overcommit 2 = 8 guests, 8 placed",
    ),
    "1 pCPU": (
        {0: {0}},
        1,
        {0: 1},
        "emulator pool full: 1 pCPU x overcommit 1 = 1 guests, 1 placed",
    ),
    "no pool": ({}, 1, {}, "no emulator pool"),
}


@pytest.mark.parametrize(("pools", "overcommit", "load", "reason"), FULL.values(), ids=FULL)
def test_full_or_missing_pool_does_not_fit_and_says_why(pools, overcommit, load, reason):
    host = pool_host(pools, overcommit, load)
    before = ft.host_state(host)
    assert fit(host, pooled([1])) is None
    report = hardware.explain_fit(host, pooled([1]))
    assert not report.fits
    assert report.reason.startswith(reason)
    assert reason in report.summary()
    assert ft.host_state(host) == before


def test_mixed_overcommit_per_cell_is_reported_as_a_capacity():
    host = pool_host({0: {0}, 1: {4}}, 1, {0: 1, 4: 2})
    host.cells[1].emulator_pool_overcommit = 2
    assert hardware.explain_fit(host, pooled([1])).reason == (
        "emulator pool full: 2 pCPUs holding 3 guests, 3 placed"
    )


@pytest.mark.parametrize("emulator", [None, "share", "isolate"])
def test_other_policies_ignore_the_pool(emulator):
    host = pool_host({0: {0}}, 1, {0: 1})  # full, yet irrelevant
    placement = fit(host, ft.guest([1], emulator=emulator))
    assert placement is not None and placement.emulator_pool_cpu is None
    after = hardware.numa_usage_from_instance_numa(host, placement)
    assert ft.pool_loads(after) == {0: 1}


def test_refit_of_a_placement_chooses_again():
    host = pool_host({0: {0, 1}}, 1)
    placement = fit(host, pooled([1]))
    claimed = hardware.numa_usage_from_instance_numa(host, placement)
    assert placement.emulator_pool_cpu == 0
    again = fit(claimed, pooled([1]))
    assert again.emulator_pool_cpu == 1


def test_explained_fit_names_the_pool_pcpu():
    report = hardware.explain_fit(pool_host({0: {0}}), pooled([2]))
    assert report.fits and report.placement.emulator_pool_cpu == 0
    assert report.summary().endswith("; emulator threads on pool pCPU 0.")


# --- accounting ------------------------------------------------------------------------


def test_claim_and_free_are_symmetric_and_pure():
    host = pool_host({0: {0}, 1: {4}}, 2)
    before = ft.host_state(host)
    placement = fit(host, pooled([2]))
    claimed = hardware.numa_usage_from_instance_numa(host, placement)
    assert ft.pool_loads(claimed) == {0: 1, 4: 0}
    assert ft.host_state(host) == before
    freed = hardware.numa_usage_from_instance_numa(claimed, placement, free=True)
    assert ft.pool_loads(freed) == {0: 0, 4: 0}
    assert freed.cells[0].emulator_pool_guests == {}
    assert ft.host_state(freed) == before


def test_claim_beyond_overcommit_is_refused():
    placement = fit(pool_host({0: {0}}, 1), pooled([1]))
    full = pool_host({0: {0}}, 1, {0: 1})  # another guest took it meanwhile
    with pytest.raises(exception.EmulatorPoolCPUInvalid) as info:
        hardware.numa_usage_from_instance_numa(full, placement)
    assert "emulator_pool_overcommit=1" in str(info.value)
    assert ft.pool_loads(full) == {0: 1}


def test_release_twice_is_refused():
    host = pool_host({0: {0}}, 1)
    placement = fit(host, pooled([1]))
    claimed = hardware.numa_usage_from_instance_numa(host, placement)
    for cell in claimed.cells:
        cell.emulator_pool_guests = {}  # the pool count alone was released already
    with pytest.raises(exception.EmulatorPoolCPUInvalid, match="released twice"):
        hardware.numa_usage_from_instance_numa(claimed, placement, free=True)


def test_unknown_pool_pcpu_is_refused():
    host = pool_host({0: {0}}, 1)
    placement = fit(host, pooled([1]))
    placement.emulator_pool_cpu = 3
    with pytest.raises(exception.EmulatorPoolCPUUnknown) as info:
        hardware.numa_usage_from_instance_numa(host, placement)
    assert "pCPU 3" in str(info.value) and "emulator_pin_set: 0" in str(info.value)


# --- property: a stream of pool guests --------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    pool_sizes=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    overcommit=st.integers(1, 3),
    guests=st.lists(st.sampled_from([[1], [2], [1, 1]]), min_size=1, max_size=11),
    data=st.data(),
)
def test_pool_guests_fill_the_pool_exactly_and_free_back(pool_sizes, overcommit, guests, data):
    cores = 16
    pools = {
        cell: set(range(cell * cores, cell * cores + size))
        for cell, size in enumerate(pool_sizes)
        if size
    }
    host = pool_host(pools, overcommit, cores=cores)
    capacity = sum(pool_sizes) * overcommit
    placed = []
    for shape in guests:
        placement = fit(host, pooled(shape))
        if len(placed) >= capacity:
            assert placement is None
            assert hardware.explain_fit(host, pooled(shape)).reason is not None
            continue
        assert placement is not None
        cpu = placement.emulator_pool_cpu
        current = ft.pool_loads(host)
        # Least loaded among the pool pCPUs of guest cell 0's host cell, when it has room there.
        local = {c: n for c, n in current.items() if c in pools.get(placement.cells[0].id, ())}
        local_room = {c: n for c, n in local.items() if n < overcommit}
        if local_room:
            assert cpu == min(local_room, key=lambda c: (local_room[c], c))
        assert current[cpu] < overcommit
        host = hardware.numa_usage_from_instance_numa(host, placement)
        placed.append(placement)
        assert all(n <= overcommit for n in ft.pool_loads(host).values())
    assert sum(ft.pool_loads(host).values()) == len(placed) == min(len(guests), capacity)
    for placement in data.draw(st.permutations(placed)):
        host = hardware.numa_usage_from_instance_numa(host, placement, free=True)
    assert set(ft.pool_loads(host).values()) <= {0}
    assert all(not cell.pinned_cpus for cell in host.cells)
