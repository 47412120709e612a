"""The fit held to some host cells: ``host_cells`` (a subset), ``cell_mapping`` (per guest cell)."""

import pytest

from os_numa import exception, hardware
from os_numa.compute import Instance, ResourceTracker
from os_numa.fit import numa_fit_instance_to_host as fit
from os_numa.fit.restrict import allowed_cells, outside
from os_numa.objects import Flavor
from os_numa.scheduler import host_passes
from os_numa.virt.driver import ComputeDriver
from tests import fixtures_topology as ft


def cells_of(placement):
    return [cell.id for cell in placement.cells]


def test_unrestricted_fit_takes_the_first_cell_and_a_subset_moves_it():
    host = ft.host(4, 4)
    request = ft.guest([2])
    assert cells_of(fit(host, request)) == [0]
    assert cells_of(fit(host, request, host_cells={2, 3})) == [2]
    # The pinning comes from the allowed cell's own pCPUs.
    assert fit(host, request, host_cells={3}).cells[0].cpu_pinning == {0: 12, 1: 13}


def test_cell_mapping_puts_each_guest_cell_on_its_own_cell_in_guest_order():
    host = ft.host(4, 4)
    placement = fit(host, ft.guest([2, 2]), cell_mapping=[3, 1])
    assert cells_of(placement) == [3, 1]
    assert placement.cells[0].cpu_pinning == {0: 12, 1: 13}
    assert placement.cells[1].cpu_pinning == {2: 4, 3: 5}


def test_isolate_emulator_pcpu_stays_with_guest_cell_zero_on_its_mapped_cell():
    host = ft.host(2, 4)
    placement = fit(host, ft.guest([2, 2], emulator="isolate"), cell_mapping=[1, 0])
    assert cells_of(placement) == [1, 0]
    assert placement.cells[0].cpuset_reserved == {6}
    assert placement.cells[1].cpuset_reserved is None


def test_a_mapped_cell_without_room_fails_even_when_another_cell_has_room():
    host = ft.host(2, 4, pinned={0, 1, 2})
    request = ft.guest([2])
    assert cells_of(fit(host, request)) == [1]
    assert fit(host, request, cell_mapping=[0]) is None
    report = hardware.explain_fit(host, request, cell_mapping=[0])
    assert not report.fits
    texts = {v.host_cell: v.shortfall.text for v in report.verdicts}
    assert texts[1] == "only host cell 0 is allowed for this guest cell"
    assert "2 pCPUs needed" in texts[0] and "1 free" in texts[0]
    assert report.unplaceable == (0,)


def test_subset_and_mapping_together_and_an_unknown_cell():
    host = ft.host(2, 4)
    assert fit(host, ft.guest([2]), host_cells={0}, cell_mapping=[1]) is None
    assert fit(host, ft.guest([2]), cell_mapping=[7]) is None
    report = hardware.explain_fit(host, ft.guest([2]), host_cells={5, 6})
    assert {v.shortfall.constraint for v in report.verdicts} == {"host_cells"}
    assert "only host cells 5-6 are allowed" in report.summary()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([0], "names 1 host cell(s) for a guest of 2"),
        ([1, 1], "puts two guest cells on one host cell"),
        ([0, -1], "is not a non-negative integer"),
        ([0, "1"], "is not a non-negative integer"),
    ],
)
def test_bad_mappings_are_typed_errors(mapping, message):
    with pytest.raises(
        exception.InvalidRequest, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        fit(ft.host(2, 4), ft.guest([1, 1]), cell_mapping=mapping)


def test_allowed_cells_shapes():
    assert allowed_cells(2) is None
    assert allowed_cells(2, host_cells=[1, 0]) == (frozenset({0, 1}),) * 2
    assert allowed_cells(2, cell_mapping=[1, 0]) == (frozenset({1}), frozenset({0}))
    assert allowed_cells(2, host_cells={1}, cell_mapping=[1, 0]) == (frozenset({1}), frozenset())
    assert outside(frozenset({1}), 1) is None
    assert outside(frozenset(), 0).text == "no host cell is allowed for this guest cell"


def test_host_passes_honours_the_mapping():
    host = ft.host(2, 4, pinned={4, 5, 6})
    request = ft.guest([2])
    assert host_passes(host, request).placement.cells[0].id == 0
    assert not host_passes(host, request, cell_mapping=[1])
    assert host_passes(host, request, host_cells=[0]).placement.cells[0].id == 0


def test_tracker_claim_honours_the_mapping():
    tracker = ResourceTracker(ComputeDriver(), ft.host(2, 4))
    flavor = Flavor(vcpus=2, memory_mb=512, extra_specs={"hw:cpu_policy": "dedicated"})
    instance = Instance(uuid="a", flavor=flavor)
    with tracker.instance_claim(instance, cell_mapping=[1]):
        pass
    assert cells_of(instance.numa_topology) == [1]
    assert tracker.host_topology.cells[1].pinned_cpus == {4, 5}
    bigger = Flavor(vcpus=3, memory_mb=512, extra_specs={"hw:cpu_policy": "dedicated"})
    blocked = Instance(uuid="b", flavor=bigger)
    with pytest.raises(exception.ComputeResourcesUnavailable, match="only host cell 1"):
        with tracker.instance_claim(blocked, cell_mapping=[1]):
            pass
    # Cell 0 had room for 3; the failed claim left nothing behind.
    assert tracker.host_topology.cells[1].pinned_cpus == {4, 5}
