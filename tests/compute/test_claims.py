"""The pure claim steps: fit with explanation, placement check, apply and release."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.compute.claims import (
    Claim,
    apply_placement,
    check_pins_recorded,
    fit_instance,
    rebuild_orders,
)
from os_numa.compute.instance import Resources
from tests import fixtures_topology as ft


def test_fit_instance_returns_a_placement():
    placement = fit_instance(ft.a1_host(), ft.guest([2], emulator="isolate"))
    assert placement.cells[0].cpu_pinning == {0: 0, 1: 1}
    assert placement.cells[0].cpuset_reserved == {2}


def test_fit_instance_explains_a_failure():
    with pytest.raises(exception.ComputeResourcesUnavailable) as info:
        fit_instance(ft.a1_host(), ft.guest([4], emulator="isolate"))
    assert "5 pCPUs needed (4 vCPUs + 1 emulator)" in str(info.value)


def test_check_pins_recorded_accepts_placements_and_shared_cells():
    check_pins_recorded(fit_instance(ft.a1_host(), ft.guest([2, 2])))
    check_pins_recorded(ft.guest([2], policy=None))  # floating cells carry no pins


def test_check_pins_recorded_refuses_a_request():
    with pytest.raises(exception.Invalid, match=r"guest cell 1 .*\[2, 3\]"):
        request = ft.guest([2, 2])
        request.cells[0].cpu_pinning = {0: 0, 1: 1}
        check_pins_recorded(request)


def test_apply_then_release_restores_the_host():
    host = ft.a3_host()
    placement = fit_instance(host, ft.guest([3], emulator="isolate", thread="isolate"))
    claimed = apply_placement(host, placement)
    assert claimed is not host
    assert host.cells[0].pinned_cpus == set()
    assert claimed.cells[0].pinned_cpus == set(range(8))
    released = apply_placement(claimed, placement, free=True)
    assert released.obj_to_primitive() == host.obj_to_primitive()


def test_apply_without_placement_is_the_same_host():
    host = ft.a1_host()
    assert apply_placement(host, None) is host


def test_claim_total():
    claim = Claim("vm", None, Resources(2, 1024, 10), Resources(1, 0, 0))
    assert claim.total == Resources(3, 1024, 10)


def test_rebuild_orders_try_guests_that_need_free_pages_first_after_the_given_order():
    pinned = ft.guest([1])
    shared = ft.guest([1], policy=ft.SHARED)
    huge = ft.guest([1], policy=ft.SHARED, pagesize=2048)
    items = [("s", shared), ("p", pinned), ("n", None), ("h", huge)]
    orders = rebuild_orders(items, lambda item: item[1])
    assert [[name for name, _ in order] for order in orders] == [
        ["s", "p", "n", "h"],
        ["p", "h", "s", "n"],
    ]
    already = [("p", pinned), ("s", shared)]
    assert rebuild_orders(already, lambda item: item[1]) == [already]
