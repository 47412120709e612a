"""Usage snapshots: totals with overhead, per-cell pins, emulator pCPUs and pages."""

from __future__ import annotations

from os_numa.compute.claims import Claim, apply_placement, fit_instance
from os_numa.compute.instance import Resources
from os_numa.compute.summary import summarize
from tests import fixtures_topology as ft


def test_summarize_counts_claims_overhead_and_cells():
    host = ft.host(2, 4, memory=4096, huge_2m=512)
    isolated = fit_instance(host, ft.guest([2], emulator="isolate", pagesize=2048))
    host = apply_placement(host, isolated)
    floating = fit_instance(host, ft.guest([2], policy=None))
    host = apply_placement(host, floating)
    claims = [
        Claim("a", isolated, Resources(2, 1024, 0), Resources(1, 0, 0)),
        Claim("b", floating, Resources(2, 1024, 5), Resources(0, 16, 1)),
        Claim("c", None, Resources(1, 512, 1), Resources()),
    ]
    usage = summarize(host, claims)
    assert usage.instances == {"a", "b", "c"}
    assert (usage.vcpus, usage.memory_mb, usage.disk_gb) == (6, 2576, 7)
    assert usage.overhead == Resources(1, 16, 1)
    cell0, cell1 = usage.cells
    assert cell0.id == 0 and cell1.id == 1
    assert cell0.pinned_cpus == {0, 1, 2}
    assert cell0.emulator_cpus == {2}
    assert cell0.pages_used == ((4, 0), (2048, 512))
    assert cell0.pages_used_of(2048) == 512
    # The floating guest went to the other (less used) cell.
    assert (cell1.cpu_usage, cell1.memory_mb, cell1.pinned_cpus) == (2, 1024, frozenset())
    assert cell1.emulator_cpus == frozenset()


def test_cells_are_sorted_by_id():
    host = ft.host(3, 1)
    host.cells = list(reversed(host.cells))
    assert [c.id for c in summarize(host, []).cells] == [0, 1, 2]


def test_emulator_pool_load_per_pool_pcpu():
    host = ft.host(2, 4)
    cell0, cell1 = host.cells
    cell0.emulator_pool_cpus = {3, 2}
    cell0.emulator_pool_overcommit = 4
    cell0.claim_emulator_pool(3)
    cell0.claim_emulator_pool(3)
    cell0.claim_emulator_pool(2)
    usage = summarize(host, [])
    assert usage.cell(0).emulator_pool == ((2, 1), (3, 2))
    assert usage.cell(1).emulator_pool == ()
    assert cell1.emulator_pool_cpus == set()
