"""update_numa_xml over every golden example: a libvirt-written domain moved to a busy host.

Each example is placed on its host and written by the driver, with two I/O
threads (both pinned), a description and a comment; libvirt's test driver
defines it and gives back its own text (``XMLDesc()``), which is the source
document. The guest then moves to a copy of the host where another guest
already holds pCPUs, keeping its shape. The rewritten document must validate
against domain.rng and define on ``test:///default``; say exactly what the
driver writes for the new placement; pin *every* I/O thread anew (Nova misses
them, bug 2139351; Nova 34 rewrites only the first); and keep every other byte.
"""

from __future__ import annotations

import re

import pytest

from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.conf import make_conf
from os_numa.objects import Flavor
from os_numa.virt.libvirt import config, driver, migration, xmledit
from os_numa.virt.libvirt.driver import LibvirtDriver
from tests import fixtures_topology as ft
from tests.pci.builders import sample_devices
from tests.virt.libvirt.examples import EXAMPLES, place

DED = {"hw:cpu_policy": "dedicated"}
REWRITTEN = ("cputune", "numatune", "memoryBacking")
MARK = "<!-- kept as it is -->"


def _source_guest(example_name, name):
    host, flavor, conf, placement = place(EXAMPLES[example_name])
    guest = driver.build_guest(placement, flavor, None, host, conf, name=name)
    guest.iothreads = 2
    guest.cputune.iothreadpin.append(
        config.LibvirtConfigGuestCPUTuneIOThreadPin(
            iothread=2, cpuset=set(guest.cputune.emulatorpin.cpuset)
        )
    )
    guest.extra_children.append(("name", "<description>moves &amp; keeps é</description>"))
    return host, flavor, conf, placement, guest


def _moved(example, flavor, conf, placement):
    """The placement on a copy of the host where a 1-vCPU guest arrived first."""
    dest = ResourceTracker(LibvirtDriver(), example.host(), conf=conf)
    first = Instance(uuid="first", flavor=Flavor(vcpus=1, memory_mb=256, extra_specs=DED))
    with dest.instance_claim(first):
        pass
    vm = Instance(uuid="vm", flavor=flavor, numa_topology=placement)
    return dest.move_claim(vm).placement


def _blanked(text):
    """``text`` with the rewritten elements (and <cpu>'s <numa>) cut out."""
    doc = xmledit.Document(text)
    for el in doc.root:
        if el.tag in REWRITTEN:
            doc.remove(el)
        if el.tag == "cpu":
            for numa in el.iter("numa"):
                doc.remove(numa)
    return doc.text()


def _numa_view(guest):
    cputune = guest.cputune
    return (
        {pin.id: pin.cpuset for pin in cputune.vcpupin},
        cputune.emulatorpin.cpuset,
        {(s.scheduler, s.priority, v) for s in cputune.vcpusched for v in s.vcpus},
        (guest.numatune.memory.nodeset, [(m.cellid, m.nodeset) for m in guest.numatune.memnodes]),
        [(c.id, c.cpus, c.memory, c.memAccess) for c in guest.cpu.numa.cells],
        None
        if guest.membacking is None
        else (
            [(p.size_kb, p.nodeset) for p in guest.membacking.hugepages],
            guest.membacking.sharedpages,
            guest.membacking.locked,
        ),
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_rewritten_for_its_destination(name, define_validated):
    example = EXAMPLES[name]
    host, flavor, conf, placement, guest = _source_guest(name, f"move-{name}")
    source = define_validated(guest.to_xml()).replace("<name>", MARK + "<name>", 1)
    new = _moved(example, flavor, conf, placement)
    assert new.cpu_pinning != placement.cpu_pinning, "the destination must pin elsewhere"

    out = migration.update_numa_xml(source, new, flavor, None, example.host(), conf)

    read_back = config.LibvirtConfigGuest.parse_str(define_validated(out))
    expected = driver.build_guest(new, flavor, None, example.host(), conf, name="expected")
    written = config.LibvirtConfigGuest.parse_str(out)
    assert _numa_view(written) == _numa_view(expected)
    assert _numa_view(read_back) == _numa_view(expected)
    iothread_pins = {pin.iothread: pin.cpuset for pin in written.cputune.iothreadpin}
    assert iothread_pins == {1: expected.cputune.emulatorpin.cpuset} | {
        2: expected.cputune.emulatorpin.cpuset
    }
    assert _blanked(out) == _blanked(source), "only the NUMA elements may change"
    assert MARK in out and "moves &amp; keeps" in out
    # Without the flavor (as the command line does) the same document comes out,
    # and a document that already says the placement is left exactly as it is.
    assert migration.update_numa_xml(source, new, None, None, example.host(), conf) == out
    assert migration.update_numa_xml(out, new, flavor, None, example.host(), conf) == out


def test_unchanged_elements_keep_their_exact_text():
    """A vcpupin whose pCPU stays is not rewritten, down to its quotes and spacing."""
    host, flavor, conf, placement, guest = _source_guest("A1", "same")
    text = guest.to_xml().replace(
        '<vcpupin vcpu="3" cpuset="5"/>', "<vcpupin  vcpu='3'  cpuset = '5' />"
    )
    new = placement.obj_clone()
    new.cells[0].cpu_pinning = {0: 1, 1: 0}
    out = migration.update_numa_xml(text, new, flavor, None, host, conf)
    assert "<vcpupin  vcpu='3'  cpuset = '5' />" in out
    assert '<vcpupin vcpu="0" cpuset="1"/>' in out and '<vcpupin vcpu="1" cpuset="0"/>' in out


def test_resize_changes_the_guest_cells_and_huge_pages(define_validated):
    host, flavor, conf, placement = place(EXAMPLES["B1"])  # one cell, realtime
    source = driver.build_guest(placement, flavor, None, host, conf, name="resize").to_xml()
    bigger = Flavor(
        vcpus=6,
        memory_mb=3072,
        extra_specs={
            **DED,
            "hw:numa_nodes": "2",
            "hw:mem_page_size": "2MB",
            "hw:cpu_sockets": "2",
        },
    )
    dest_host = ft.host(2, 4, dedicated=range(8), memory=4096, huge_2m=1024)
    tracker = ResourceTracker(LibvirtDriver(), dest_host)
    vm = Instance(uuid="vm", flavor=flavor, numa_topology=placement)
    new = tracker.move_claim(vm, new_flavor=bigger).placement

    out = migration.update_numa_xml(source, new, bigger, None, dest_host, conf)

    define_validated(out)
    expected = driver.build_guest(new, bigger, None, dest_host, conf, name="resize")
    written = config.LibvirtConfigGuest.parse_str(out)
    assert _numa_view(written) == _numa_view(expected)
    assert (written.vcpus, written.memory) == (6, 3072 * 1024)
    assert (
        (written.cpu.sockets, written.cpu.cores, written.cpu.threads)
        == (
            expected.cpu.sockets,
            expected.cpu.cores,
            expected.cpu.threads,
        )
        == (2, 3, 1)
    )
    assert "vcpusched" not in out and "<locked/>" not in out  # no longer realtime


def test_a_guest_without_numa_placement_loses_its_numa_elements(define_validated):
    host, flavor, conf, placement, guest = _source_guest("C2", "unpinned")
    out = migration.update_numa_xml(guest.to_xml(), None, Flavor(vcpus=4, memory_mb=2048))
    assert "<cputune" not in out and "<numatune" not in out and "<numa>" not in out
    define_validated(out)


def test_a_domain_without_numa_elements_gets_them(define_validated):
    host, flavor, conf, placement = place(EXAMPLES["H1-hugepages-two-cells"])
    bare = (
        "<domain type='kvm'><name>bare</name><memory unit='KiB'>2097152</memory>"
        "<vcpu placement='static'>4</vcpu><iothreads>1</iothreads>"
        "<os><type arch='x86_64'>hvm</type></os><devices/></domain>"
    )
    out = migration.update_numa_xml(bare, placement, flavor, None, host, conf)
    define_validated(out)
    expected = driver.build_guest(placement, flavor, None, host, conf, name="bare")
    assert _numa_view(config.LibvirtConfigGuest.parse_str(out)) == _numa_view(expected)


def test_pci_hostdevs_move_to_the_destination_devices(define_validated):
    aliases = [
        '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}'
    ]
    conf = make_conf(**{"pci.alias": aliases})
    flavor = Flavor(vcpus=2, memory_mb=1024, extra_specs={**DED, "pci_passthrough:alias": "vf:2"})

    def tracker():
        return ResourceTracker(
            LibvirtDriver(), ft.sample_host(), conf=conf, pci_devices=sample_devices()
        )

    source, dest = tracker(), tracker()
    with dest.instance_claim(Instance(uuid="first", flavor=flavor)):
        pass
    vm = Instance(uuid="vm", flavor=flavor)
    with source.instance_claim(vm):
        pass
    old = vm.numa_topology
    new = dest.move_claim(vm).placement
    xml = driver.build_guest(old, flavor, None, ft.sample_host(), conf, name="pci").to_xml()

    out = migration.update_numa_xml(
        xml, new, flavor, None, ft.sample_host(), conf, old_placement=old
    )

    define_validated(out)
    moved = [
        "{:04x}:{:02x}:{:02x}.{:x}".format(
            *(int(a.get(k), 0) for k in ("domain", "bus", "slot", "function"))
        )
        for a in xmledit.Document(out).root.iterfind("devices/hostdev/source/address")
    ]
    assert moved == [d.address for d in new.pci_devices] != [d.address for d in old.pci_devices]
    # The guest side of each device (its bus behind the cell's expander) stays.
    guest_side = re.findall(r"<address type=\"pci\"[^>]*/>", xml)
    assert guest_side and all(a in out for a in guest_side)


def test_pci_address_map_pairs_devices_by_alias():
    from os_numa.objects import InstancePCIDevice

    def dev(address, alias):
        return InstancePCIDevice(
            address=address, alias=alias, vendor_id="8086", product_id="1", dev_type="type-VF"
        )

    old = [dev("0000:19:02.0", "vf"), dev("0000:5e:00.0", "gpu")]
    new = [dev("0000:d8:00.0", "gpu"), dev("0000:b0:02.1", "vf")]
    assert migration.pci_address_map(old, new) == {
        "0000:19:02.0": "0000:b0:02.1",
        "0000:5e:00.0": "0000:d8:00.0",
    }
    with pytest.raises(exception.Invalid):
        migration.pci_address_map(old, new[:1])
    with pytest.raises(exception.Invalid):
        migration.pci_address_map(old[:1], new)


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("<domain type='kvm'><name>x</name>", exception.InvalidXML),
        ("<network><name>x</name></network>", exception.InvalidXML),
        (
            "<!DOCTYPE d [<!ENTITY a 'b'>]><domain type='kvm'><name>&a;</name></domain>",
            exception.UnsafeXML,
        ),
        (
            "<domain type='kvm'><name>x</name><vcpu>1</vcpu><cputune>"
            "<vcpupin vcpu='0' cpuset='zz'/></cputune></domain>",
            exception.InvalidXML,
        ),
        (b"<domain type='kvm'><name>\xff</name></domain>", exception.InvalidXML),
    ],
)
def test_bad_documents_are_refused_with_a_typed_error(document, error):
    host, flavor, conf, placement = place(EXAMPLES["A1"])
    with pytest.raises(error):
        migration.update_numa_xml(document, placement, flavor, None, host, conf)


def _booted_and_moved(flavor, make_host):
    """(domain XML of ``flavor`` booted on an empty host, its placement on a copy of the
    host where a 1-vCPU guest arrived first)."""
    host = make_host()
    vm = Instance(uuid="vm", flavor=flavor)
    with ResourceTracker(LibvirtDriver(), host).instance_claim(vm):
        pass
    xml = driver.build_guest(vm.numa_topology, flavor, None, host, name="moved").to_xml()
    dest = ResourceTracker(LibvirtDriver(), make_host())
    first = Instance(uuid="first", flavor=Flavor(vcpus=1, memory_mb=256, extra_specs=DED))
    with dest.instance_claim(first):
        pass
    return xml, dest.move_claim(vm).placement


def test_isolated_io_threads_each_move_to_their_own_pcpu(define_validated):
    """hw:iothreads=2 with hw:iothreads_policy=isolate: one reserved pCPU per I/O thread."""
    flavor = Flavor(
        vcpus=2,
        memory_mb=1024,
        extra_specs={**DED, "hw:iothreads": "2", "hw:iothreads_policy": "isolate"},
    )
    host = ft.a1_host()
    xml, new = _booted_and_moved(flavor, ft.a1_host)

    out = migration.update_numa_xml(xml, new, flavor, None, host)

    define_validated(out)
    expected = driver.build_guest(new, flavor, None, host, name="moved").cputune
    written = config.LibvirtConfigGuest.parse_str(out).cputune
    pins = {p.iothread: p.cpuset for p in written.iothreadpin}
    assert pins == {p.iothread: p.cpuset for p in expected.iothreadpin}
    assert len(pins) == 2 and pins[1] != pins[2]
    before = {
        p.iothread: p.cpuset for p in config.LibvirtConfigGuest.parse_str(xml).cputune.iothreadpin
    }
    assert pins != before
    assert migration.update_numa_xml(xml, new, None, None, host) == out


@pytest.mark.parametrize("policy", ["preferred", "interleave", "restrictive"])
def test_memory_policies_keep_their_mode_and_move_their_nodes(policy, define_validated):
    """hw:numa_memory_policy: the <numatune> modes stay, read back from the domain
    when no flavor is given; a resize to another policy changes them."""
    host = ft.host(2, 4, dedicated=range(8), memory=4096)
    flavor = Flavor(
        vcpus=4,
        memory_mb=2048,
        extra_specs={**DED, "hw:numa_nodes": "2", "hw:numa_memory_policy": policy},
    )
    xml, new = _booted_and_moved(flavor, lambda: ft.host(2, 4, dedicated=range(8), memory=4096))

    out = migration.update_numa_xml(xml, new, flavor, None, host)

    define_validated(out)
    expected = driver.build_guest(new, flavor, None, host, name="moved")
    assert _numa_view(config.LibvirtConfigGuest.parse_str(out)) == _numa_view(expected)
    written = config.LibvirtConfigGuest.parse_str(out).numatune
    assert {written.memory.mode} | {m.mode for m in written.memnodes} == {policy}
    assert migration.update_numa_xml(xml, new, None, None, host) == out
    strict = Flavor(vcpus=4, memory_mb=2048, extra_specs={**DED, "hw:numa_nodes": "2"})
    back = config.LibvirtConfigGuest.parse_str(
        migration.update_numa_xml(out, new, strict, None, host)
    ).numatune
    assert {back.memory.mode} | {m.mode for m in back.memnodes} == {"strict"}
