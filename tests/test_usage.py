"""numa_usage_from_instance_numa: claims and releases, errors leave the host untouched."""

import pytest

from os_numa import exception, objects
from os_numa.fit import numa_fit_instance_to_host as fit
from os_numa.hardware import numa_get_constraints
from os_numa.usage import numa_usage_from_instance_numa as usage
from tests import fixtures_topology as ft


def claim(host, request):
    placement = fit(host, request)
    assert placement is not None
    return placement, usage(host, placement)


def test_a1_claim_pins_vcpus_and_the_emulator_pcpu():
    host = ft.a1_host()
    placement, claimed = claim(host, ft.guest([2, 2], emulator="isolate"))
    assert [set(c.pinned_cpus) for c in claimed.cells] == [{0, 1, 2}, {4, 5}]
    assert [c.memory_usage for c in claimed.cells] == [1024, 1024]
    assert [c.cpu_usage for c in claimed.cells] == [0, 0]
    assert [set(c.pinned_cpus) for c in host.cells] == [set(), set()]


def test_a3_claim():
    _, claimed = claim(ft.a3_host(), ft.guest([4], emulator="isolate"))
    assert set(claimed.cells[0].pinned_cpus) == {0, 1, 2, 3, 4}


def test_thread_isolate_claims_whole_cores_including_the_emulator_core():
    _, claimed = claim(ft.a3_host(), ft.guest([2], thread="isolate", emulator="isolate"))
    assert set(claimed.cells[0].pinned_cpus) == {0, 1, 2, 3, 4, 5}


def test_d1_mixed_counts_floating_vcpus():
    request = objects.InstanceNUMATopology(
        cells=[ft.cell(pinned={2, 3}, floating={0, 1}, policy=ft.MIXED)],
        emulator_threads_policy="isolate",
    )
    _, claimed = claim(ft.c1_host(), request)
    assert claimed.cells[0].cpu_usage == 2
    assert set(claimed.cells[0].pinned_cpus) == {2, 3, 4}


@pytest.mark.parametrize("policy", [ft.DEDICATED, ft.SHARED])
def test_guests_without_a_page_size_use_the_smallest_pages(policy):
    # As Nova does: small pages are counted too, else pinned guests (whose fit checks
    # free small pages) would overcommit a cell's memory. 2 GiB guests on 4 GiB cells.
    host = ft.host(1, 4, memory=4096, huge_2m=512)
    placement, claimed = claim(host, ft.guest([1], 1024, policy=policy))
    assert claimed.cells[0].pages_of_size(4).used == 1024 * 256
    assert claimed.cells[0].pages_of_size(2048).used == 0
    released = usage(claimed, placement, free=True)
    assert ft.host_state(released) == ft.host_state(host)


def test_pinned_guests_cannot_overcommit_memory_of_a_cell_reporting_pages():
    host = ft.host(1, 4, memory=4096)
    placed = 0
    while (placement := fit(host, ft.guest([1], 1024))) is not None:
        host = usage(host, placement)
        placed += 1
    assert placed == 4
    assert fit(host, ft.guest([1], 1024, policy=ft.SHARED)) is not None  # shared may overcommit


def test_huge_pages_are_accounted():
    host = ft.host(1, 4, huge_2m=512)
    placement, claimed = claim(host, ft.guest([1], 512, pagesize=-2))
    pool = claimed.cells[0].pages_of_size(2048)
    assert pool.used == 256
    assert claimed.cells[0].pages_of_size(4).used == 0
    assert ft.host_state(usage(claimed, placement, free=True)) == ft.host_state(host)


def test_claim_twice_raises_and_changes_nothing():
    host = ft.a1_host()
    placement, claimed = claim(host, ft.guest([2], emulator="isolate"))
    before = ft.host_state(claimed)
    with pytest.raises(exception.CPUPinningInvalid):
        usage(claimed, placement)
    assert ft.host_state(claimed) == before


def test_free_unclaimed_pcpus_raises():
    host = ft.a1_host()
    placement = fit(host, ft.guest([2]))
    with pytest.raises(exception.CPUUnpinningInvalid):
        usage(host, placement, free=True)


def test_free_below_zero_raises_instead_of_clamping():
    host = ft.a3_host()
    placement = fit(host, ft.guest([2], policy=ft.SHARED))
    with pytest.raises(exception.MemoryUsageInvalid, match="memory_usage.*released twice"):
        usage(host, placement, free=True)
    host.cells[0].memory_usage = 1024
    with pytest.raises(exception.CPUUsageInvalid, match="cpu_usage"):
        usage(host, placement, free=True)


def test_free_pages_below_zero_raises():
    host = ft.host(1, 4, huge_2m=512)
    placement = fit(host, ft.guest([1], 512, pagesize=2048, policy=ft.SHARED))
    host.cells[0].memory_usage = 512
    host.cells[0].cpu_usage = 1
    with pytest.raises(exception.MemoryUsageInvalid, match="2048 KiB pages"):
        usage(host, placement, free=True)


def test_unknown_host_cell_raises():
    placement = fit(ft.host(3, 4), ft.guest([1, 1, 1]))
    with pytest.raises(exception.NotFound, match="host cell 2"):
        usage(ft.a1_host(), placement)


def test_a_request_is_not_a_placement():
    with pytest.raises(exception.InternalError, match="cpu_pinning"):
        usage(ft.a1_host(), ft.guest([2]))


def test_pagesize_missing_on_the_host_raises():
    placement = fit(ft.host(1, 4, huge_2m=512), ft.guest([1], 512, pagesize=2048))
    with pytest.raises(exception.MemoryPageSizeNotSupported):
        usage(ft.host(1, 4), placement)


def test_result_shares_nothing_mutable_with_the_input():
    host = ft.a1_host()
    copy = usage(host, None)
    assert ft.host_state(copy) == ft.host_state(host)
    copy.cells[0].pin_cpus({0})
    copy.cells[0].mempages[0].used = 7
    copy.cells[0].siblings[0].add(99)
    assert ft.host_state(host) == ft.host_state(ft.a1_host())


def test_mixed_guest_cell_zero_with_only_floating_vcpus_claims_its_emulator_pcpu():
    """Found by benchmarks/fuzz_fit.py: mixed, hw:cpu_dedicated_mask=^0, two guest
    nodes and emulator isolate. Guest cell 0 holds floating vCPU 0 alone, so it has
    no pinning, yet it carries the emulator pCPU; the claim pins that pCPU (it used to
    raise InternalError) and the release frees it."""
    flavor = objects.Flavor(
        vcpus=2,
        memory_mb=512,
        extra_specs={
            "hw:cpu_policy": "mixed",
            "hw:cpu_dedicated_mask": "^0",
            "hw:numa_nodes": "2",
            "hw:emulator_threads_policy": "isolate",
        },
    )
    host = ft.host(2, 4)
    placement = fit(host, numa_get_constraints(flavor, None))
    first = placement.cells[0]
    assert first.cpu_pinning is None and first.cpuset_reserved
    claimed = usage(host, placement)
    assert claimed.cells[0].pinned_cpus == set(first.cpuset_reserved)
    assert claimed.cells[1].pinned_cpus == set(placement.cells[1].cpu_pinning.values())
    freed = usage(claimed, placement, free=True)
    assert [c.pinned_cpus for c in freed.cells] == [set(), set()]


def test_a_host_without_numa_topology_accounts_nothing():
    # Nova's resource tracker calls it for hosts without NUMA topology too.
    from os_numa import hardware as hw

    request = objects.InstanceNUMATopology(
        cells=[objects.InstanceNUMACell(id=0, cpuset={0}, pcpuset=set(), memory=64)]
    )
    assert hw.numa_usage_from_instance_numa(None, request) is None
    assert hw.numa_usage_from_instance_numa(None, None, free=True) is None


# share=True: the same claim for callers that never change a topology in place (the
# resource tracker), sharing what the claim does not change.


def usage_after(host, placement, free=False):
    return usage(host, placement, free=free, share=True)


def _usage_after_cases():
    huge = ft.host(2, 4, memory=4096, huge_2m=512)
    pool_host = ft.host(2, 4, dedicated={1, 2, 3, 4, 5, 6, 7}, pool={0}, pool_overcommit=2)
    return [
        ("isolate", ft.a1_host(), ft.guest([2, 2], emulator="isolate")),
        ("thread isolate", ft.a3_host(), ft.guest([2], thread="isolate", emulator="isolate")),
        ("shared", ft.host(2, 4), ft.guest([2], 512, policy=ft.SHARED)),
        ("huge pages", huge, ft.guest([1], 512, pagesize=2048)),
        # The pool pCPU is on cell 0; a 4-vCPU guest goes to cell 1 (3 pCPUs left on 0),
        # so the pool's cell changes though the guest does not use it.
        ("pool", pool_host, ft.guest([3, 3], 256, emulator="pool")),
        ("pool on another cell", pool_host, ft.guest([4], 256, emulator="pool")),
    ]


@pytest.mark.parametrize("case", _usage_after_cases(), ids=lambda case: case[0])
def test_a_shared_claim_gives_what_the_copying_claim_gives(case):
    _, host, request = case
    before = ft.host_state(host)
    placement = fit(host, request)
    assert placement is not None
    claimed = usage_after(host, placement)
    assert claimed.obj_to_primitive() == usage(host, placement).obj_to_primitive()
    freed = usage_after(claimed, placement, free=True)
    assert freed.obj_to_primitive() == usage(claimed, placement, free=True).obj_to_primitive()
    assert ft.host_state(freed) == before == ft.host_state(host)  # the input never changes
    used = {cell.id for cell in placement.cells}
    for old, new in zip(host.cells, claimed.cells, strict=True):
        in_pool = placement.emulator_pool_cpu in (old.emulator_pool_cpus or ())
        # A cell the guest does not touch is the host's own; a touched one is new, and
        # so is the page pool the claim changes (the input's is never changed).
        assert (new is old) == (old.id not in used and not in_pool)
        if new is not old:
            assert new.mempages is not old.mempages
            for old_pages, new_pages in zip(old.mempages, new.mempages, strict=True):
                assert (new_pages is old_pages) == (new_pages.used == old_pages.used)


def test_a_shared_claim_refuses_what_the_copying_claim_refuses_and_changes_nothing():
    host = ft.a1_host()
    placement = fit(host, ft.guest([2, 2], emulator="isolate"))
    claimed = usage_after(host, placement)
    state = ft.host_state(claimed)
    with pytest.raises(exception.CPUPinningInvalid):
        usage_after(claimed, placement)
    with pytest.raises(exception.CPUUnpinningInvalid):
        usage_after(host, placement, free=True)
    assert ft.host_state(claimed) == state
    assert ft.host_state(host) == ft.host_state(ft.a1_host())
    assert usage_after(host, None) is host
