"""host_passes with the host's PCI devices: the devices are part of the verdict."""

from __future__ import annotations

import pytest

from os_numa import exception, hardware
from os_numa.conf import make_conf
from os_numa.objects import Flavor
from os_numa.pci.request import parse_alias_spec, parse_aliases
from os_numa.scheduler import host_passes
from os_numa.scheduler.filters import requested_pci
from tests.fixtures_topology import sample_host
from tests.pci.builders import sample_stats

VF = '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}'
CONF = make_conf(**{"pci.alias": [VF]})


def _flavor(numa=True, **specs):
    extra = {"hw:cpu_policy": "dedicated"} if numa else {}
    return Flavor(vcpus=2, memory_mb=1024, extra_specs={**extra, **specs})


CELL0 = ("0000:19:02.0", "0000:19:02.1", "0000:19:02.2")
CASES = {
    # name: (flavor specs, used devices, passes, host cell of the placement or reason text)
    "local VFs": ({"pci_passthrough:alias": "vf:2"}, (), True, [0]),
    "moves to the cell with devices": ({"pci_passthrough:alias": "vf:2"}, CELL0, True, [1]),
    "required, too few on any cell": (
        {"pci_passthrough:alias": "vf:5", "hw:pci_numa_affinity_policy": "required"},
        (),
        False,
        "alias vf: 5 devices requested on the guest's cells {0}, 4 free there, "
        "4 free on cell 1; policy required",
    ),
    "preferred spills to the other cell": (
        {"pci_passthrough:alias": "vf:5", "hw:pci_numa_affinity_policy": "preferred"},
        (),
        True,
        [0],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_verdict_includes_devices(name):
    specs, used, passes, expected = CASES[name]
    result = host_passes(sample_host(), _flavor(**specs), conf=CONF, pci_stats=sample_stats(used))
    assert result.passed is passes
    if passes:
        assert [c.id for c in result.placement.cells] == expected
        assert len(result.placement.pci_devices) == int(specs["pci_passthrough:alias"][-1])
    else:
        assert expected in result.explanation.reason


def test_without_pci_stats_devices_are_not_checked():
    flavor = _flavor(**{"pci_passthrough:alias": "vf:9"})
    assert host_passes(sample_host(), flavor, conf=CONF).passed


def test_explicit_requests_and_a_guest_without_numa_request():
    aliases = parse_aliases([VF])
    host = sample_host()
    result = host_passes(
        host,
        hardware.numa_get_constraints(_flavor(), None),
        pci_stats=sample_stats(),
        pci_requests=parse_alias_spec("vf:9", aliases),
    )
    assert not result.passed and "alias vf: 9 devices" in result.explanation.reason
    plain = _flavor(numa=False, **{"pci_passthrough:alias": "vf:8"})
    assert host_passes(host, plain, conf=CONF, pci_stats=sample_stats()).passed
    short = host_passes(host, plain, conf=CONF, pci_stats=sample_stats(CELL0))
    assert not short.passed
    assert short.explanation == (
        "the PCI devices cannot be served: alias vf: 8 devices requested, 5 free on the whole "
        "host (1 free on cell 0, 4 free on cell 1)"
    )


def test_requested_pci_reads_the_flavor_and_refuses_unknown_aliases():
    assert [r.alias for r in requested_pci(_flavor(**{"pci_passthrough:alias": "vf:1"}), CONF)]
    assert requested_pci(hardware.numa_get_constraints(_flavor(), None), CONF) == []
    with pytest.raises(exception.PciRequestAliasNotDefined):
        host_passes(
            sample_host(),
            _flavor(**{"pci_passthrough:alias": "gpu:1"}),
            conf=CONF,
            pci_stats=sample_stats(),
        )
