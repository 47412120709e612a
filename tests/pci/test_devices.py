"""Node-device XML -> PciDevice, from text, files and real libvirt test-driver connections."""

from __future__ import annotations

import pathlib

import libvirt
import pytest

from os_numa import exception
from os_numa.pci import devices
from os_numa.pci.devices import PciAddress

DATA = pathlib.Path(__file__).parent.parent / "data" / "nodedev"
ALL_FILES = sorted(DATA.glob("pci_*.xml"))


def _read(name: str) -> str:
    return (DATA / name).read_text()


# name, address, (vendor, product, type), numa node, parent, virt functions, iommu group
SAMPLES = [
    (
        "pci_0000_18_00_0.xml",
        "0000:18:00.0",
        ("8086", "1572", "type-PF"),
        0,
        None,
        ("0000:19:02.0", "0000:19:02.1"),
        30,
    ),
    (
        "pci_0000_19_02_3.xml",
        "0000:19:02.3",
        ("8086", "154c", "type-VF"),
        0,
        "0000:18:00.1",
        (),
        43,
    ),
    (
        "pci_0000_af_00_1.xml",
        "0000:af:00.1",
        ("8086", "1572", "type-PF"),
        1,
        None,
        ("0000:b0:02.2", "0000:b0:02.3"),
        91,
    ),
    (
        "pci_0000_b0_02_0.xml",
        "0000:b0:02.0",
        ("8086", "154c", "type-VF"),
        1,
        "0000:af:00.0",
        (),
        100,
    ),
    ("pci_0000_3b_00_0.xml", "0000:3b:00.0", ("10de", "1eb8", "type-PCI"), None, None, (), 60),
]


@pytest.mark.parametrize("name,address,spec,node,parent,vfs,group", SAMPLES)
def test_sample_documents(name, address, spec, node, parent, vfs, group):
    (dev,) = devices.parse_node_devices(_read(name))
    assert str(dev.address) == address
    assert dev.spec == spec
    assert dev.numa_node == node
    assert (str(dev.parent) if dev.parent else None) == parent
    assert tuple(map(str, dev.virt_functions)) == vfs
    assert dev.iommu_group == group
    assert dev.name == name.removesuffix(".xml")


def test_load_files_sorted_and_complete():
    devs = devices.load_device_files(reversed(ALL_FILES))
    assert [d.address for d in devs] == sorted(d.address for d in devs)
    assert len(devs) == len(ALL_FILES) == 13
    by_node = {}
    for d in devs:
        by_node.setdefault(d.numa_node, []).append(d.dev_type)
    assert sorted(by_node[0]) == ["type-PF"] * 2 + ["type-VF"] * 4
    assert sorted(by_node[1]) == ["type-PF"] * 2 + ["type-VF"] * 4
    assert by_node[None] == ["type-PCI"]


def test_wrapper_document_and_other_capabilities_skipped():
    usb = (
        "<device><name>usb_1</name><capability type='usb_device'><bus>1</bus></capability></device>"
    )
    doc = f"<devices>{usb}{_read('pci_0000_18_00_0.xml')}{_read('pci_0000_3b_00_0.xml')}</devices>"
    assert [str(d.address) for d in devices.parse_node_devices(doc)] == [
        "0000:18:00.0",
        "0000:3b:00.0",
    ]


def _pci(cap_inner: str, numa: str = "<numa node='0'/>") -> str:
    return (
        f"<device><name>pci_x</name><capability type='pci'>{cap_inner}{numa}</capability></device>"
    )


GOOD_IDS = (
    "<domain>0</domain><bus>0x5e</bus><slot>3</slot><function>1</function>"
    "<product id='0x1EB8'/><vendor id='0x10DE'/>"
)


@pytest.mark.parametrize(
    "doc,needle",
    [
        (_pci(GOOD_IDS.replace("<bus>0x5e</bus>", "<bus>x</bus>")), "<bus> is 'x'"),
        (_pci(GOOD_IDS.replace("<bus>0x5e</bus>", "<bus>256</bus>")), "bus=256"),
        (_pci(GOOD_IDS.replace("<function>1</function>", "<function>8</function>")), "function=8"),
        (_pci(GOOD_IDS.replace("id='0x10DE'", "id='0xBEEF1'")), "vendor id '0xBEEF1'"),
        (_pci(GOOD_IDS.replace("<vendor id='0x10DE'/>", "")), "<vendor> and <product>"),
        (_pci(GOOD_IDS, numa="<numa node='-3'/>"), "NUMA node -3"),
        (_pci(GOOD_IDS, numa="<numa node='one'/>"), "'one'"),
        # NUMA node ids, IOMMU groups and VF counts are bounded, ASCII integers.
        (_pci(GOOD_IDS, numa="<numa node='1024'/>"), "<numa node> is 1024; at most 1023"),
        (_pci(GOOD_IDS, numa=f"<numa node='{'9' * 400}'/>"), "expected an integer"),
        (_pci(GOOD_IDS, numa="<numa node='\u0663'/>"), "expected an integer"),
        (_pci(GOOD_IDS, numa="<numa node='+1'/>"), "expected an integer"),
        (_pci(GOOD_IDS + "<iommuGroup number='42949672960'/>"), "expected an integer"),
        (_pci(GOOD_IDS + "<iommuGroup number='2147483648'/>"), "at most 2147483647"),
        (_pci(GOOD_IDS + "<iommuGroup number='-3'/>"), "IOMMU group -3 is negative"),
        (_pci(GOOD_IDS + "<iommuGroup number='x'/>"), "<iommuGroup number> is 'x'"),
        (
            _pci(GOOD_IDS + "<capability type='virt_functions' maxCount='many'/>"),
            "<virt_functions maxCount> is 'many'",
        ),
        (f"<devices>{_pci(GOOD_IDS)}{_pci(GOOD_IDS)}</devices>", "listed twice"),
        ("<device><capability type='pci'>", "Invalid XML"),
    ],
)
def test_bad_documents(doc, needle):
    with pytest.raises(exception.InvalidXML) as info:
        devices.parse_node_devices(doc)
    assert needle in str(info.value)


def test_hex_and_case_normalised_and_unknown_node():
    (dev,) = devices.parse_node_devices(_pci(GOOD_IDS, numa="<numa node='-1'/>"))
    assert (str(dev.address), dev.vendor_id, dev.product_id) == ("0000:5e:03.1", "10de", "1eb8")
    assert dev.numa_node is None and dev.dev_type == devices.TYPE_PCI


def test_unsafe_and_oversized_documents_refused():
    evil = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<device><name>&x;</name></device>"
    )
    with pytest.raises(exception.UnsafeXML):
        devices.parse_node_devices(evil)
    big = "<devices>" + " " * (devices.MAX_DOCUMENT_BYTES + 1) + "</devices>"
    with pytest.raises(exception.InvalidXML, match="limit"):
        devices.parse_node_devices(big)


def test_unreadable_file_is_typed(tmp_path):
    with pytest.raises(exception.InvalidXML, match="cannot read"):
        devices.load_device_files([tmp_path / "missing.xml"])
    bad = tmp_path / "bad.xml"
    bad.write_text("<device>")
    with pytest.raises(exception.InvalidXML, match="bad.xml"):
        devices.load_device_files([bad])


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0000:18:00.0", (0, 0x18, 0, 0)),
        ("af:00.1", (0, 0xAF, 0, 1)),
        ("0001:B0:1f.7", (1, 0xB0, 0x1F, 7)),
    ],
)
def test_address_parse_and_format(text, expected):
    addr = PciAddress.parse(text)
    assert (addr.domain, addr.bus, addr.slot, addr.function) == expected
    assert PciAddress.parse(str(addr)) == addr


@pytest.mark.parametrize("text", ["", "18:00", "0000:18:00.8", "0000:18:20.0", "zz:00.0", None])
def test_address_parse_rejects(text):
    with pytest.raises(exception.Invalid):
        PciAddress.parse(text)


@pytest.fixture
def quiet_libvirt():
    """Keep libvirt's expected error messages off stderr; restore its default handler."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    yield
    libvirt.registerErrorHandler(None, None)


def test_connection_default_test_driver_has_no_pci_devices(quiet_libvirt):
    # test:///default ships only SCSI hosts and 'computer'; its nodeDeviceCreateXML
    # creates only fibre-channel vHBAs, so PCI devices come from a custom test host.
    conn = libvirt.open("test:///default")
    try:
        assert conn.listAllDevices(0)  # it does have (non-PCI) node devices
        assert devices.devices_from_connection(conn) == []
        with pytest.raises(libvirt.libvirtError):
            conn.nodeDeviceCreateXML(_read("pci_0000_18_00_0.xml"), 0)
    finally:
        conn.close()


def test_connection_custom_test_driver_matches_files(tmp_path, quiet_libvirt):
    # The test driver loads <device> elements of a custom host file as node devices,
    # and serves them back through listAllDevices/XMLDesc like a real host.
    body = "".join(path.read_text() for path in ALL_FILES)
    node = tmp_path / "host.xml"
    node.write_text(
        "<node><cpu><nodes>2</nodes><sockets>2</sockets><cores>2</cores><threads>1</threads>"
        "<active>4</active><mhz>2000</mhz><model>x86_64</model></cpu>"
        f"<memory>8388608</memory>{body}</node>"
    )
    conn = libvirt.open(f"test://{node}")
    try:
        from_conn = devices.devices_from_connection(conn)
    finally:
        conn.close()
    assert from_conn == devices.load_device_files(ALL_FILES)


def test_connection_error_is_typed(quiet_libvirt):
    conn = libvirt.open("test:///default")
    conn.close()
    with pytest.raises(exception.LibvirtConnectionError, match="closed connection"):
        devices.devices_from_connection(conn)
