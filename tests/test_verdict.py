"""fit_or_explain: one fit, its placement and its explanation built from its own result."""

import pytest

from os_numa import exception, explain, hardware, objects
from os_numa.compute import claims
from os_numa.fit import device_reasons, device_search, fit
from os_numa.pci.devices import PciAddress, PciDevice
from os_numa.pci.request import PciRequest, parse_alias_spec, parse_aliases
from os_numa.pci.stats import PciDeviceStats
from os_numa.scheduler import HostPassResult, host_passes
from os_numa.verdict import FitVerdict, fit_or_explain
from tests import fixtures_topology as ft
from tests.fit.test_affinity import amd
from tests.fit.test_affinity import conf as affinity_conf
from tests.fit.test_affinity import request as two_cells
from tests.fit.test_pool import pool_host, pooled
from tests.pci.builders import sample_stats

ALIASES = parse_aliases(
    ['{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}']
)


def _one_cell_guest():
    flavor = objects.Flavor(vcpus=4, memory_mb=2048, extra_specs={"hw:cpu_policy": "dedicated"})
    return hardware.numa_get_constraints(flavor, None)


def test_a_fit_gives_the_placement_of_numa_fit_instance_to_host():
    host, request = ft.a1_host(), ft.guest([2], emulator="isolate")
    verdict = fit_or_explain(host, request)
    assert verdict and verdict.fits and verdict.passed
    assert verdict.explanation is None and verdict.reason is None
    expected = hardware.numa_fit_instance_to_host(host, request)
    assert verdict.placement.obj_to_primitive() == expected.obj_to_primitive()
    assert verdict.attempt.stage == fit.FITS
    assert verdict.pci_devices == []


def test_the_placement_is_built_once_and_only_when_read():
    host, request = ft.a1_host(), ft.guest([2])
    verdict = fit_or_explain(host, request)
    assert verdict.attempt._placement is None  # a filter that only asks pass/fail builds none
    first = verdict.placement
    assert first is not None and verdict.placement is first


@pytest.mark.parametrize(
    ("host", "request_", "stage"),
    [
        (ft.a1_host(), ft.guest([4], emulator="isolate"), fit.ASSIGNMENT),
        (ft.a1_host(), ft.guest([1, 1, 1]), fit.CELLS),
        (pool_host({}), pooled([1]), fit.POOL),
    ],
    ids=["assignment", "cells", "pool"],
)
def test_a_failure_is_explained_as_explain_fit_explains_it(host, request_, stage):
    verdict = fit_or_explain(host, request_)
    assert not verdict and verdict.placement is None
    assert verdict.attempt.stage == stage
    fresh = hardware.explain_fit(host, request_)
    assert str(verdict.explanation) == str(fresh)
    assert verdict.reason == fresh.summary()


def test_the_explanation_never_fits_again(monkeypatch):
    host, stats = ft.sample_host(), sample_stats()
    stats.claim([PciAddress.parse(a) for a in ("0000:b0:02.0", "0000:b0:02.1", "0000:b0:02.2")])
    requests = parse_alias_spec("vf:5", ALIASES, "required")
    verdict = fit_or_explain(host, _one_cell_guest(), pci_requests=requests, pci_stats=stats)
    assert verdict.attempt.stage == fit.DEVICES and verdict.attempt.cpu_assignment == (0,)

    def refuse(*args, **kwargs):
        raise AssertionError("the explanation ran a step of the fit again")

    for module, name in (
        (fit, "make_problem"),
        (fit, "attempt"),
        (fit, "fit_devices"),
        (device_search, "find_device_assignment"),
        (fit.Problem, "assignment"),
    ):
        monkeypatch.setattr(module, name, refuse)
    assert verdict.reason == (
        "Does not fit: the PCI devices cannot be served: alias vf: 5 devices requested on "
        "the guest's cells {0}, 4 free there, 1 free on cell 1; policy required."
    )


def test_devices_that_serve_the_guest_are_in_the_placement():
    requests = parse_alias_spec("vf:2", ALIASES, "required")
    verdict = fit_or_explain(
        ft.sample_host(), _one_cell_guest(), pci_requests=requests, pci_stats=sample_stats()
    )
    assert verdict.attempt.device_fit is not None
    assert [d.address for d in verdict.pci_devices] == ["0000:19:02.0", "0000:19:02.1"]
    assert verdict.pci_devices == list(verdict.placement.pci_devices)


def test_a_guest_without_a_numa_request():
    host = ft.sample_host()
    plain = fit_or_explain(host, None)
    assert plain and plain.placement is None and plain.pci_devices == []
    requests = parse_alias_spec("vf:5", ALIASES, "required")
    served = fit_or_explain(host, None, pci_requests=requests, pci_stats=sample_stats())
    assert served and len(served.pci_devices) == 5
    assert {d.guest_cell for d in served.pci_devices} == {None}
    short = parse_alias_spec("vf:9", ALIASES, "required")
    refused = fit_or_explain(host, None, pci_requests=short, pci_stats=sample_stats())
    assert not refused
    assert (
        refused.explanation
        == refused.reason
        == device_reasons.without_numa_reason(short, sample_stats(), host)
    )


def test_a_host_without_a_numa_topology():
    verdict = fit_or_explain(None, ft.guest([2]))
    assert not verdict and verdict.explanation is explain.NO_TOPOLOGY_REPORT
    assert (
        verdict.reason
        == "Does not fit: fitting needs both a host NUMA topology and a requested one."
    )


def test_the_filter_and_the_tracker_answer_with_the_verb():
    host, too_big = ft.a1_host(), ft.guest([4], emulator="isolate")
    result = host_passes(host, too_big)
    assert isinstance(result, FitVerdict) and HostPassResult is FitVerdict
    with pytest.raises(exception.ComputeResourcesUnavailable) as raised:
        claims.fit_and_apply(host, too_big)
    assert result.reason in str(raised.value)


def test_the_distance_reported_is_that_of_the_cells_chosen_with_devices():
    # AMD sample: cells 0-3 on socket 0, 4-7 on socket 1. Without devices the closest
    # two cells are on one socket; one required device on cell 0 and one on cell 4 make
    # the guest take both sockets, and the report says so.
    cfg = affinity_conf(closest=True)
    host = amd(cfg)
    devices_ = [
        PciDevice(PciAddress(0, 0x10 + i, 0, 0), "8086", "154c", node)
        for i, node in enumerate((0, 4))
    ]
    requests = [PciRequest("nic", 2, (("8086", "154c"),), None, "required")]
    without = explain.explain_fit(host, two_cells(), conf=cfg)
    assert without.fits and without.distance is not None
    verdict = fit_or_explain(
        host, two_cells(), conf=cfg, pci_requests=requests, pci_stats=PciDeviceStats(devices_)
    )
    report = explain.report(verdict.attempt)
    assert sorted(c.id for c in verdict.placement.cells) == [0, 4]
    chosen = [c.id for c in verdict.placement.cells]
    assert report.distance == host.cells[chosen[0]].distance_to(chosen[1])
    assert report.distance > without.distance
