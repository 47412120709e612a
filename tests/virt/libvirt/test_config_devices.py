"""hostdev, pcie-expander-bus and pcie-root-port elements: XML, round trips, schema, define."""

from __future__ import annotations

import pytest
from lxml import etree

from os_numa import exception
from os_numa.virt.libvirt import config
from os_numa.virt.libvirt import config_devices as cd

ADDR = cd.LibvirtConfigGuestPCIAddress

ELEMENTS = {
    "guest address": (
        ADDR(domain=0, bus=2, slot=0x1F, function=7),
        '<address type="pci" domain="0x0000" bus="0x02" slot="0x1f" function="0x7"/>',
    ),
    "hostdev without guest address": (
        cd.LibvirtConfigGuestHostdevPCI(domain=0, bus=0xAF, slot=0, function=1),
        '<hostdev mode="subsystem" type="pci" managed="yes"><source>'
        '<address domain="0x0000" bus="0xaf" slot="0x00" function="0x1"/></source></hostdev>',
    ),
    "hostdev behind a root port, vfio, unmanaged": (
        cd.LibvirtConfigGuestHostdevPCI(
            domain=1,
            bus=0x18,
            slot=2,
            function=0,
            managed=False,
            guest_address=ADDR(bus=4),
            driver_name="vfio",
        ),
        '<hostdev mode="subsystem" type="pci" managed="no"><driver name="vfio"/><source>'
        '<address domain="0x0001" bus="0x18" slot="0x02" function="0x0"/></source>'
        '<address type="pci" domain="0x0000" bus="0x04" slot="0x00" function="0x0"/></hostdev>',
    ),
    "expander bus on node 1": (
        cd.LibvirtConfigGuestPCIeExpanderBus(index=3, target_bus_nr=253, target_node=1),
        '<controller type="pci" index="3" model="pcie-expander-bus">'
        '<target busNr="253"><node>1</node></target></controller>',
    ),
    "root port on the expander": (
        cd.LibvirtConfigGuestPCIeRootPort(index=4, address=ADDR(bus=3, slot=1)),
        '<controller type="pci" index="4" model="pcie-root-port">'
        '<address type="pci" domain="0x0000" bus="0x03" slot="0x01" function="0x0"/>'
        "</controller>",
    ),
    "root port with chassis and port": (
        cd.LibvirtConfigGuestPCIeRootPort(index=5, target_chassis=5, target_port=8),
        '<controller type="pci" index="5" model="pcie-root-port">'
        '<target chassis="5" port="0x8"/></controller>',
    ),
}


@pytest.mark.parametrize("name", sorted(ELEMENTS))
def test_element_xml_and_round_trip(name):
    obj, xml = ELEMENTS[name]
    assert obj.to_xml(pretty_print=False) == xml
    back = type(obj).parse_str(xml)
    assert back == obj


def test_libvirt_written_forms_parse():
    # libvirt writes single quotes, <model name=...>, and may use decimal numbers.
    ctl = cd.LibvirtConfigGuestPCIeExpanderBus.parse_str(
        "<controller type='pci' index='1' model='pcie-expander-bus'><model name='pxb-pcie'/>"
        "<target busNr='251'><node>0</node></target>"
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></controller>"
    )
    assert (ctl.index, ctl.target_bus_nr, ctl.target_node, ctl.address.slot) == (1, 251, 0, 1)
    assert '<model name="pxb-pcie"/>' in ctl.to_xml(pretty_print=False)  # kept, written back
    addr = ADDR.parse_str("<address type='pci' domain='0' bus='24' slot='2' function='1'/>")
    assert (addr.bus, addr.slot, addr.function) == (24, 2, 1)


@pytest.mark.parametrize(
    "cls,xml,needle",
    [
        (ADDR, "<address type='drive' controller='0'/>", "type='pci'"),
        (ADDR, "<address type='pci' domain='0' bus='0x100' slot='0' function='0'/>", "0x100"),
        (ADDR, "<address type='pci' domain='0' bus='zz' slot='0' function='0'/>", "'zz'"),
        (ADDR, "<address type='pci' domain='0' bus='1' slot='0'/>", "'function'"),
        (cd.LibvirtConfigGuestHostdevPCI, "<hostdev mode='subsystem' type='usb'/>", "type='pci'"),
        (
            cd.LibvirtConfigGuestHostdevPCI,
            "<hostdev mode='subsystem' type='pci' managed='maybe'/>",
            "'maybe'",
        ),
        (cd.LibvirtConfigGuestHostdevPCI, "<hostdev mode='subsystem' type='pci'/>", "<source>"),
        (
            cd.LibvirtConfigGuestPCIeExpanderBus,
            "<controller type='pci' index='1' model='pcie-root-port'/>",
            "pcie-expander-bus",
        ),
        (cd.LibvirtConfigGuestPCIController, "<controller type='usb' index='0'/>", "type='pci'"),
        (cd.LibvirtConfigGuestPCIController, "<controller type='pci' index='x'/>", "'x'"),
        (
            cd.LibvirtConfigGuestPCIeExpanderBus,
            "<controller type='pci' index='1' model='pcie-expander-bus'><target><node>a</node>"
            "</target></controller>",
            "'a'",
        ),
    ],
)
def test_bad_elements(cls, xml, needle):
    with pytest.raises(exception.InvalidXML) as info:
        cls.parse_str(xml)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "obj",
    [
        ADDR(bus=256),
        ADDR(slot=32),
        cd.LibvirtConfigGuestHostdevPCI(function=8),
        cd.LibvirtConfigGuestPCIeExpanderBus(index=1, target_bus_nr=300),
    ],
)
def test_out_of_range_values_refused_when_written(obj):
    with pytest.raises(exception.Invalid, match="out of range"):
        obj.to_xml()


def q35_two_cell_guest(devices, name="pci-elements"):
    """A q35 domain with guest NUMA cells 0 and 1 (2 vCPUs, 1 GiB each) and ``devices``."""
    cells = config.LibvirtConfigGuestCPUNUMA(
        cells=[
            config.LibvirtConfigGuestCPUNUMACell(id=0, cpus={0, 1}, memory=1048576),
            config.LibvirtConfigGuestCPUNUMACell(id=1, cpus={2, 3}, memory=1048576),
        ]
    )
    return config.LibvirtConfigGuest(
        virt_type="kvm",
        name=name,
        vcpus=4,
        memory=2097152,
        os_arch="x86_64",
        os_machine="q35",
        cpu=config.LibvirtConfigGuestCPU(numa=cells),
        devices=devices,
    )


def pci_elements(domain_xml):
    """The PCI controllers and hostdevs of a domain document, parsed, in document order."""
    found = []
    for dev in config.LibvirtConfigGuest.parse_str(domain_xml).devices:
        el = etree.fromstring(dev)
        if el.tag == "hostdev":
            found.append(cd.LibvirtConfigGuestHostdevPCI.parse_str(dev))
        elif el.tag == "controller" and el.get("type") == "pci":
            found.append(cd.LibvirtConfigGuestPCIController.parse_str(dev))
    return found


def test_elements_in_a_domain_validate_and_define(define_validated, domain_schema):
    devices = [obj for _name, (obj, _xml) in sorted(ELEMENTS.items()) if not isinstance(obj, ADDR)]
    parsed = pci_elements(define_validated(q35_two_cell_guest(devices).to_xml()))
    key = lambda o: o.to_xml()  # noqa: E731
    expected = [
        cd.LibvirtConfigGuestPCIController.parse_str(o.to_xml())
        if isinstance(o, cd.LibvirtConfigGuestPCIController)
        else o
        for o in devices
    ]
    assert sorted(parsed, key=key) == sorted(expected, key=key)
