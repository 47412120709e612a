"""build_guest writes a placement's PCI devices: an expander bus per guest cell, on q35."""

from __future__ import annotations

from lxml import etree

from os_numa import hardware, objects
from os_numa.pci import request
from os_numa.virt.libvirt import driver
from tests.fixtures_topology import sample_host
from tests.pci.builders import sample_stats

ALIASES = request.parse_aliases(
    ['{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}']
)


def _placement(**specs):
    host = sample_host()
    stats = sample_stats()
    flavor = objects.Flavor(
        vcpus=4, memory_mb=1024, extra_specs={"hw:cpu_policy": "dedicated", **specs}
    )
    requests = request.get_pci_requests(flavor, None, aliases=ALIASES)
    wanted = hardware.numa_get_constraints(flavor, None)
    placement = hardware.numa_fit_instance_to_host(
        host, wanted, pci_requests=requests or None, pci_stats=stats
    )
    return placement, flavor, host


def _layout(xml):
    root = etree.fromstring(xml)
    expanders = {
        int(c.get("index")): int(c.findtext("target/node"))
        for c in root.iterfind("devices/controller[@model='pcie-expander-bus']")
    }
    ports = {
        int(c.get("index")): int(c.find("address").get("bus"), 16)
        for c in root.iterfind("devices/controller[@model='pcie-root-port']")
    }
    node_of = {}
    for hostdev in root.iterfind("devices/hostdev"):
        src = hostdev.find("source/address")
        address = "{:04x}:{:02x}:{:02x}.{:x}".format(
            *(int(src.get(k), 16) for k in ("domain", "bus", "slot", "function"))
        )
        port = int(hostdev.find("address").get("bus"), 16)
        node_of[address] = expanders[ports[port]]
    return root.find("os/type").get("machine"), sorted(expanders), node_of


def test_devices_behind_an_expander_of_their_guest_cell(define_validated):
    placement, flavor, host = _placement(
        **{
            "hw:numa_nodes": "2",
            "pci_passthrough:alias": "vf:5",
            "hw:pci_numa_affinity_policy": "required",
        }
    )
    guest = driver.build_guest(placement, flavor, None, host, virt_type="qemu")
    machine, expanders, node_of = _layout(define_validated(guest.to_xml()))
    assert machine.startswith("pc-q35") or machine == "q35"
    assert expanders == [1, 6]  # cell 0: expander 1 + 4 ports; cell 1: expander 6 + 1 port
    expected = {d.address: d.guest_cell for d in placement.pci_devices}
    assert node_of == expected and sorted(set(expected.values())) == [0, 1]


def test_first_controller_index_is_the_callers():
    placement, flavor, host = _placement(**{"pci_passthrough:alias": "vf:1"})
    guest = driver.build_guest(placement, flavor, None, host, pci_first_index=7)
    _machine, expanders, node_of = _layout(guest.to_xml())
    assert expanders == [7] and node_of == {"0000:19:02.0": 0}


def test_no_devices_no_machine_type_and_no_device_elements():
    placement, flavor, host = _placement()
    guest = driver.build_guest(placement, flavor, None, host)
    assert guest.os_machine is None and guest.devices == []
