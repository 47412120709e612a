"""cell_fit: the first failed check of one guest cell on one host cell, with its numbers."""

import pytest

from os_numa import objects
from os_numa.fit.cellfit import cell_fit
from os_numa.fit.outcome import CellFit, Shortfall
from os_numa.fit.snapshot import Limits, guest_cells, host_cells
from tests import fixtures_topology as ft


def one(host, request):
    return host_cells(host)[0], guest_cells(request)[0]


CASES = {
    "pinnable pCPUs": (
        ft.a1_host(),
        ft.guest([4]),
        1,
        None,
        "pcpus",
        "5 pCPUs needed (4 vCPUs + 1 emulator), the cell has 4 pinnable pCPUs",
    ),
    "free pCPUs": (
        ft.host(1, 4, pinned={0}),
        ft.guest([3]),
        1,
        None,
        "free_pcpus",
        "4 pCPUs needed (3 vCPUs + 1 emulator), 3 free",
    ),
    "free pCPUs without emulator": (
        ft.host(1, 4, pinned={0, 1}),
        ft.guest([3]),
        0,
        None,
        "free_pcpus",
        "3 pCPUs needed, 2 free",
    ),
    "whole cores for thread isolate": (
        ft.host(1, 4, 2, pinned={1, 3}),
        ft.guest([2], thread="isolate"),
        1,
        None,
        "whole_cores",
        "thread policy 'isolate': 3 pCPUs needed (2 vCPUs + 1 emulator) on whole free cores, "
        "2 whole cores free",
    ),
    "isolate on a new-style SMT cell": (
        ft.host(1, 4, 2, dedicated=range(8), shared=()),
        ft.guest([1], thread="isolate"),
        0,
        None,
        "smt_config",
        None,
    ),
    "require without SMT": (
        ft.host(1, 4),
        ft.guest([2], thread="require"),
        0,
        None,
        "smt_required",
        None,
    ),
    "require without two free siblings": (
        ft.host(1, 4, 2, pinned={1, 3, 5}),
        ft.guest([3], thread="require"),
        0,
        None,
        "sibling_threads",
        "thread policy 'require': 3 vCPUs need sibling threads on cores with 2 or more free "
        "threads; such cores offer 2",
    ),
    "shared CPUs for floating vCPUs": (
        ft.c1_host(),
        ft.guest([3], policy=ft.SHARED),
        0,
        None,
        "shared_cpus",
        "3 floating vCPUs, the cell has 2 shared CPUs",
    ),
    "free small pages of a pinned cell": (
        ft.host(1, 4, memory=1024),
        ft.guest([1], 2048),
        0,
        None,
        "pages",
        "524288 pages of 4 KiB needed, 262144 free",
    ),
    "requested huge pages": (
        ft.host(1, 4, huge_2m=100),
        ft.guest([1], 512, pagesize=2048),
        0,
        None,
        "pages",
        "256 pages of 2048 KiB needed, 100 free",
    ),
    "page size not offered": (
        ft.host(1, 4),
        ft.guest([1], pagesize=1048576),
        0,
        None,
        "pagesize",
        "page size 1048576 KiB is not offered (offered KiB sizes: 4)",
    ),
    "large on a cell with only small pages": (
        ft.host(1, 4),
        ft.guest([1], pagesize=-2),
        0,
        None,
        "pagesize",
        "page size 'large': the cell offers no such pages",
    ),
    "any: no size fits": (
        ft.host(1, 4, memory=1024, huge_2m=10),
        ft.guest([1], 2048, pagesize=-3),
        0,
        None,
        "pages",
        None,
    ),
    "memory not a multiple of the page size": (
        ft.host(1, 4, huge_2m=512),
        ft.guest([1], 3, pagesize=2048),
        0,
        None,
        "pages",
        "3 MiB is not a multiple of 2048 KiB pages",
    ),
    "cpu allocation ratio": (
        ft.host(1, 4),
        ft.guest([3], policy=ft.SHARED),
        0,
        Limits(0.5, 1.0),
        "cpu_limit",
        "3 floating vCPUs on top of 0 exceed the limit of 2 (4 shared CPUs x 0.5)",
    ),
    "ram allocation ratio": (
        ft.host(1, 4),
        ft.guest([1], 3000, policy=ft.SHARED),
        0,
        Limits(1.0, 0.5),
        "ram_limit",
        "3000 MiB on top of 0 MiB exceed the limit of 2048 MiB (4096 MiB x 0.5)",
    ),
}


@pytest.mark.parametrize("host,request_,reserve,limits,constraint,text", CASES.values(), ids=CASES)
def test_shortfalls(host, request_, reserve, limits, constraint, text):
    result = cell_fit(*one(host, request_), reserve, limits)
    assert isinstance(result, Shortfall)
    assert result.constraint == constraint
    if text is not None:
        assert result.text == text


def test_memory_is_checked_before_cpus():
    result = cell_fit(*one(ft.host(1, 1, memory=512), ft.guest([4], 1024)), 1)
    assert result.constraint == "pages"


def test_a_fit_is_deterministic_and_pure():
    host, guest = one(ft.host(1, 4, 2, pinned={0}), ft.guest([3], pagesize=-3))
    first = cell_fit(host, guest, 1)
    assert isinstance(first, CellFit)
    assert first == cell_fit(host, guest, 1)
    assert first.pinning == ((0, 2), (1, 3), (2, 4))
    assert first.reserved == (1,)
    assert first.pagesize == 4


def test_mixed_cell_pins_only_its_dedicated_vcpus():
    request = objects.InstanceNUMATopology(
        cells=[ft.cell(pinned={1}, floating={0}, policy=ft.MIXED)]
    )
    result = cell_fit(*one(ft.a3_host(), request))
    assert result.pinning == ((1, 0),)
