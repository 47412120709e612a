"""host_passes: the NUMA host filter, with the fit's explanation on failure."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from os_numa import exception, hardware
from os_numa.compute import Instance
from os_numa.conf import make_conf
from os_numa.objects import Flavor, ImageMeta, NUMATopologyLimits
from os_numa.scheduler import HostPassResult, host_passes
from tests import fixtures_topology as ft

DED = {"hw:cpu_policy": "dedicated"}
ISO = {"hw:emulator_threads_policy": "isolate"}
HOSTS = {
    "A1": ft.a1_host,
    "A3": ft.a3_host,
    "C1": ft.c1_host,
    "2x4": lambda: ft.host(2, 4),
    "A1 half pinned": lambda: ft.host(2, 4, dedicated=range(8), pinned={0, 1, 4, 5}),
}


def flavor(vcpus=4, memory_mb=2048, **extra_specs):
    return Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=extra_specs)


def pair(image_props=None, **kwargs):
    image = ImageMeta.from_dict({"properties": image_props}) if image_props else None
    return (flavor(**kwargs), image)


# (name, host, request, passes, host cells of the placement / a phrase of the explanation)
CASES = [
    ("no NUMA request passes anywhere", "A1", pair(), True, None),
    ("dedicated fits one cell", "A1", pair(**DED), True, [0]),
    (
        "dedicated + isolate needs 5 of 4 pCPUs",
        "A1",
        pair(**DED, **ISO),
        False,
        "5 pCPUs needed (4 vCPUs + 1 emulator)",
    ),
    (
        "isolate over two nodes fits",
        "A1",
        pair(**DED, **ISO, **{"hw:numa_nodes": "2"}),
        True,
        [0, 1],
    ),
    (
        "half pinned host: 3 of 2 free pCPUs",
        "A1 half pinned",
        pair(vcpus=2, **DED, **ISO),
        False,
        "3 pCPUs needed (2 vCPUs + 1 emulator)",
    ),
    (
        "half pinned host: 2 free pCPUs suffice without isolate",
        "A1 half pinned",
        pair(vcpus=2, **DED),
        True,
        [0],
    ),
    (
        "thread require on a host without SMT",
        "A1",
        pair(vcpus=2, **DED, **{"hw:cpu_thread_policy": "require"}),
        False,
        "host cells 0-1: thread policy 'require' needs SMT siblings",
    ),
    (
        "thread require on an SMT host",
        "A3",
        pair(vcpus=2, **DED, **{"hw:cpu_thread_policy": "require"}),
        True,
        [0],
    ),
    ("image asks for pinning", "A1", pair({"hw_cpu_policy": "dedicated"}, vcpus=2), True, [0]),
    (
        "more guest cells than host cells",
        "A1",
        pair(**DED, **{"hw:numa_nodes": "4"}),
        False,
        "the host has 2",
    ),
    (
        "mixed on a split host",
        "C1",
        pair(**ISO, **{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "2-3"}),
        True,
        [0],
    ),
    (
        "memory too large for any cell",
        "A1",
        pair(vcpus=1, memory_mb=8192, **DED),
        False,
        "pages of 4 KiB needed",
    ),
    ("a request topology", "A1", ft.guest([2, 2], emulator="isolate"), True, [0, 1]),
    ("a flavor alone", "A1", flavor(vcpus=2, **DED), True, [0]),
    (
        "an instance",
        "A3",
        Instance("vm", flavor(vcpus=2, **DED), {"properties": {"hw_cpu_thread_policy": "isolate"}}),
        True,
        [0],
    ),
    (
        "a RequestSpec-like object",
        "A1",
        SimpleNamespace(flavor=flavor(**DED, **ISO), image=None, numa_topology=None),
        False,
        "emulator",
    ),
]


@pytest.mark.parametrize(
    "host_name, request_, passes, detail",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_host_passes(host_name, request_, passes, detail):
    host = HOSTS[host_name]()
    before = host.obj_to_primitive()
    result = host_passes(host, request_)
    assert isinstance(result, HostPassResult)
    assert result.passed is passes
    assert bool(result) is passes
    assert host.obj_to_primitive() == before
    if passes:
        assert result.explanation is None
        if detail is None:
            assert result.placement is None
        else:
            assert [cell.id for cell in result.placement.cells] == detail
    else:
        assert result.placement is None
        assert isinstance(result.explanation, hardware.FitReport)
        assert not result.explanation.fits
        assert detail in result.explanation.summary()


def test_placement_is_the_fit_of_the_same_request():
    host = ft.a3_host()
    request = hardware.numa_get_constraints(flavor(vcpus=3, **DED, **ISO), None)
    result = host_passes(host, request)
    expected = hardware.numa_fit_instance_to_host(host, request)
    assert result.placement.obj_to_primitive() == expected.obj_to_primitive()
    assert request.cells[0].cpu_pinning is None  # the request is not mutated


def test_host_without_numa_topology():
    assert host_passes(None, pair()).passed
    result = host_passes(None, pair(**DED))
    assert not result.passed
    assert "host NUMA topology" in result.explanation.summary()


def test_limits_apply_to_floating_vcpus():
    shared = pair(vcpus=4, memory_mb=1024, **{"hw:numa_nodes": "1"})
    busy = ft.host(2, 4)
    for cell in busy.cells:
        cell.cpu_usage = 4
    tight = NUMATopologyLimits(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
    roomy = NUMATopologyLimits(cpu_allocation_ratio=2.0, ram_allocation_ratio=1.0)
    assert host_passes(busy, shared).passed  # no limits: Nova checks only the cell size
    refused = host_passes(busy, shared, limits=tight)
    assert not refused.passed
    assert (
        "host cells 0-1: 4 floating vCPUs on top of 4 exceed the limit"
        in refused.explanation.summary()
    )
    assert host_passes(busy, shared, limits=roomy).passed


def test_conf_reaches_the_fit():
    host = ft.host(2, 4, dedicated=range(8), pinned={4})
    request = pair(vcpus=1, memory_mb=512, **DED)
    spread = host_passes(host, request, conf=make_conf())
    pack = host_passes(
        host,
        request,
        conf=make_conf(**{"compute.packing_host_numa_cells_allocation_strategy": True}),
    )
    assert spread.placement.cells[0].id == 0  # the cell with more free pCPUs
    assert pack.placement.cells[0].id == 1  # the busier cell


@pytest.mark.parametrize(
    "request_, error",
    [
        (pair(**{"hw:cpu_policy": "pinned"}), exception.InvalidCPUAllocationPolicy),
        (pair(**ISO), exception.BadRequirementEmulatorThreadsPolicy),
        (
            pair({"hw_cpu_policy": "dedicated"}, **{"hw:cpu_policy": "shared"}),
            exception.ImageCPUPinningForbidden,
        ),
    ],
    ids=["unknown policy", "isolate without pinning", "image overrides flavor"],
)
def test_invalid_requests_raise_instead_of_failing_the_host(request_, error):
    with pytest.raises(error):
        host_passes(ft.a1_host(), request_)
