"""Tests for os_numa.fit.verify: a restored placement must obey a fresh claim's rules."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.fit import numa_fit_instance_to_host
from os_numa.fit.verify import RULES, check_placement
from os_numa.objects import Flavor, InstanceNUMATopology, NUMAPagesTopology, NUMATopologyLimits
from tests import fixtures_topology as ft


def placed(*cells, emulator=None, count=None):
    """A placement of the given (pinning, reserved, host cell, extra) cells."""
    result = []
    for pinning, reserved, host_cell, extra in cells:
        cell = ft.cell(pinned=pinning, **extra)
        cell.id = host_cell
        cell.cpu_pinning = dict(pinning) if extra.get("policy", ft.DEDICATED) else None
        cell.cpuset_reserved = reserved
        result.append(cell)
    return InstanceNUMATopology(
        cells=result, emulator_threads_policy=emulator, emulator_threads_count=count
    )


def pinned(pinning, reserved=None, host_cell=0, **extra):
    return (pinning, reserved, host_cell, extra)


def broken(host, placement, **kwargs) -> exception.PlacementInvalid:
    with pytest.raises(exception.PlacementInvalid) as info:
        check_placement(host, placement, instance="vm-1", **kwargs)
    error = info.value
    assert error.rule in RULES
    assert "vm-1" in str(error) and f"'{error.rule}'" in str(error)
    assert isinstance(error, exception.InstanceUsageConflict)
    return error


def test_a_fresh_fit_passes():
    host = ft.a3_host()
    request = ft.guest([2, 2], emulator="isolate")
    placement = numa_fit_instance_to_host(host, request)
    check_placement(host, placement, flavor=Flavor(vcpus=4, memory_mb=2048))


# The cases of issue 10, defect 6, each with the rule it breaks.
def test_two_vcpus_of_one_guest_on_one_pcpu():
    error = broken(ft.a1_host(), placed(pinned({0: 1, 1: 1})))
    assert error.rule == "one-vcpu-per-pcpu" and "pCPU 1" in str(error)


def test_a_vcpu_on_its_own_emulator_pcpu():
    placement = placed(pinned({0: 0, 1: 1}, reserved={1}), emulator="isolate")
    assert broken(ft.a1_host(), placement).rule == "emulator"


def test_two_guest_cells_on_one_host_cell():
    placement = placed(pinned({0: 0}), pinned({1: 1}, index=1))
    assert broken(ft.a1_host(), placement).rule == "distinct-cells"


def test_more_huge_pages_than_exist():
    host = ft.host(1, 4, memory=200 * 1024)
    host.cells[0].mempages.append(NUMAPagesTopology(size_kb=1048576, total=8))
    placement = placed(pinned({0: 0}, memory=100 * 1024, pagesize=1048576))
    error = broken(host, placement)
    assert error.rule == "pages" and "100 pages" in str(error) and "8 free" in str(error)


def test_ten_times_a_cells_memory():
    placement = placed(pinned({0: 0}, memory=40960))
    assert broken(ft.a1_host(), placement).rule == "pages"
    host = ft.a1_host()
    for cell in host.cells:
        cell.mempages = []
    assert broken(host, placement).rule == "cell-memory"


def test_a_flavor_of_one_vcpu_with_four_pins():
    placement = placed(pinned({0: 0, 1: 1, 2: 2, 3: 3}))
    error = broken(ft.a1_host(), placement, flavor=Flavor(vcpus=1, memory_mb=1024))
    assert error.rule == "vcpus" and "vcpus=1" in str(error)


def test_memory_other_than_the_flavors():
    placement = placed(pinned({0: 0}))
    error = broken(ft.a1_host(), placement, flavor=Flavor(vcpus=1, memory_mb=512))
    assert error.rule == "memory"


def test_isolate_without_its_reserved_pcpu():
    assert broken(ft.a1_host(), placed(pinned({0: 0}), emulator="isolate")).rule == "emulator"


def test_isolate_with_the_reserved_pcpu_beside_another_cell():
    placement = placed(pinned({0: 0}), pinned({1: 4}, reserved={5}, host_cell=1, index=1))
    placement.emulator_threads_policy = "isolate"
    assert broken(ft.a1_host(), placement).rule == "emulator"


def test_a_reserved_pcpu_without_isolate():
    assert broken(ft.a1_host(), placed(pinned({0: 0}, reserved={1}))).rule == "emulator"


def test_emulator_threads_count_is_honoured():
    ok = placed(pinned({0: 0}, reserved={1, 2}), emulator="isolate", count=2)
    check_placement(ft.a1_host(), ok)
    short = placed(pinned({0: 0}, reserved={1}), emulator="isolate", count=2)
    assert broken(ft.a1_host(), short).rule == "emulator"


def test_too_many_floating_vcpus_on_one_cell():
    vcpus = range(199_998)
    cell = ft.cell(floating=vcpus, policy=None)
    placement = InstanceNUMATopology(cells=[cell])
    error = broken(ft.a3_host(), placement)
    assert error.rule == "floating" and "199998 floating vCPUs" in str(error)


def test_floating_vcpus_within_the_allocation_ratio():
    host = ft.a3_host()
    host.cells[0].cpu_usage = 15
    placement = InstanceNUMATopology(cells=[ft.cell(floating=[0, 1], policy=None)])
    check_placement(host, placement)  # no limits: only the cell's 8 shared CPUs bound it
    limits = NUMATopologyLimits(cpu_allocation_ratio=2.0, ram_allocation_ratio=1.0)
    assert broken(host, placement, limits=limits).rule == "floating"


def test_a_pcpu_outside_the_dedicated_set_or_already_pinned():
    assert broken(ft.c1_host(), placed(pinned({0: 0}))).rule == "pinnable"
    host = ft.a1_host()
    host.cells[0].pinned_cpus = {2}
    assert broken(host, placed(pinned({0: 2}))).rule == "free"


def test_an_unknown_host_cell():
    assert broken(ft.a1_host(), placed(pinned({0: 0}, host_cell=7))).rule == "host-cell"


def test_vcpu_ids_must_be_zero_to_n():
    assert broken(ft.a1_host(), placed(pinned({1: 0}))).rule == "vcpus"


def test_pins_must_match_the_pinned_vcpus():
    placement = placed(pinned({0: 0, 1: 1}))
    placement.cells[0].pcpuset = {0}
    placement.cells[0].cpuset = {1}
    assert broken(ft.a1_host(), placement).rule == "cpu-policy"


@pytest.mark.parametrize(
    "pinning, reserved, why",
    [
        ({0: 0, 1: 1}, None, "share core"),  # siblings 0-1 on the A3 host
        ({0: 0}, {1}, "share core"),
    ],
)
def test_thread_isolate_one_core_each(pinning, reserved, why):
    placement = placed(
        pinned(pinning, reserved=reserved, thread="isolate"),
        emulator="isolate" if reserved else None,
    )
    error = broken(ft.a3_host(), placement)
    assert error.rule == "thread-isolate" and why in str(error)


def test_thread_isolate_on_a_core_whose_sibling_another_guest_pinned():
    host = ft.a3_host()
    host.cells[0].pinned_cpus = {1}
    error = broken(host, placed(pinned({0: 0}, thread="isolate")))
    assert error.rule == "thread-isolate" and "another guest" in str(error)


def test_thread_isolate_on_a_core_split_between_dedicated_and_shared():
    """Defect 1's host: cores 0-7 dedicated, their siblings 16-23 shared."""
    host = ft.host(1, 16, 2, layout="split", dedicated=range(8), shared=range(16, 24))
    error = broken(host, placed(pinned({0: 0}, thread="isolate")))
    assert error.rule == "thread-isolate" and "1889633" in str(error)


def test_thread_require_needs_siblings():
    host = ft.host(1, 16, 2, layout="split", dedicated=range(8), shared=range(16, 24))
    error = broken(host, placed(pinned({0: 0, 1: 1}, thread="require")))
    assert error.rule == "thread-require"
    check_placement(ft.a3_host(), placed(pinned({0: 0, 1: 1}, thread="require")))


def test_a_request_is_not_a_placement():
    request = ft.guest([2])
    assert broken(ft.a1_host(), request).rule == "cpu-policy"


def test_shared_cells_may_overcommit_memory_but_not_past_the_cell():
    host = ft.a3_host()
    host.cells[0].memory_usage = 4096
    ok = InstanceNUMATopology(cells=[ft.cell(floating=[0], policy=None, memory=4096)])
    check_placement(host, ok)
    too_big = InstanceNUMATopology(cells=[ft.cell(floating=[0], policy=None, memory=4097)])
    assert broken(host, too_big).rule == "pages"


def test_the_inputs_are_not_changed():
    host = ft.a3_host()
    placement = numa_fit_instance_to_host(host, ft.guest([2], emulator="isolate"))
    before = (host.obj_to_primitive(), placement.obj_to_primitive())
    check_placement(host, placement)
    assert (host.obj_to_primitive(), placement.obj_to_primitive()) == before


@pytest.mark.parametrize("key", ["\u0661", "01", "+1", "1 "])
def test_pinning_keys_are_plain_ascii_vcpu_numbers(key):
    """Issue 10, defect 6: non-ASCII digit keys ('١' reads as 1 through int())."""
    placement = placed(pinned({0: 0}))
    placement.cells[0].cpu_pinning_raw = {"0": 0, key: 1}
    placement.cells[0].pcpuset = {0, 1}
    error = broken(ft.a1_host(), placement)
    assert error.rule == "vcpus" and repr(key) in str(error)
