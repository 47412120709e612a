"""recovery: a tracker rebuilt from libvirt's test:///default domains, drift, checkpoints."""

from __future__ import annotations

import contextlib

import libvirt
import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from os_numa.virt.libvirt import config, driver, host, recovery
from os_numa.virt.libvirt import domain_placement as dp

pytestmark = pytest.mark.functional

DEDICATED = "2-7,10-15"
SHARED = "0-1,8-9"
GUESTS = {
    "pinned": {"hw:cpu_policy": "dedicated"},
    "isolated": {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
    "two-cells": {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2"},
    "floating": {"hw:numa_nodes": "1"},
    "threads": {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"},
}


@pytest.fixture
def conn(libvirt_test_conn):
    """test:///default without its built-in, unpinned 'test' domain (put back afterwards)."""
    builtin = libvirt_test_conn.lookupByName("test")
    xml, active = builtin.XMLDesc(), builtin.isActive()
    if active:
        builtin.destroy()
    builtin.undefine()
    try:
        yield libvirt_test_conn
    finally:
        for dom in libvirt_test_conn.listAllDomains():
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                dom.undefine()
        restored = libvirt_test_conn.defineXML(xml)
        if active:
            restored.create()


def conf():
    return os_numa_conf.make_conf(
        **{"compute.cpu_dedicated_set": DEDICATED, "compute.cpu_shared_set": SHARED}
    )


def topology(connection):
    return host.host_topology_from_capabilities(connection.getCapabilities(), conf=conf())


def tracker(connection, **kwargs):
    return ResourceTracker(driver.LibvirtDriver(conf()), topology(connection), conf(), **kwargs)


def boot(connection, claimer, uuid, specs, vcpus=2, start=True):
    """Claim a guest on ``claimer`` and define (and start) its domain as the driver writes it."""
    vm = Instance(uuid=uuid, flavor=Flavor(vcpus=vcpus, memory_mb=256, extra_specs=specs))
    with claimer.instance_claim(vm):
        guest = driver.build_guest(
            vm.numa_topology, vm.flavor, None, topology(connection), conf(), name=f"os-numa-{uuid}"
        )
        guest.virt_type = "test"
        guest.uuid = uuid
        dom = connection.defineXMLFlags(guest.to_xml(), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        if start:
            dom.create()
    return vm


UUIDS = {name: f"00000000-0000-0000-0000-{index:012d}" for index, name in enumerate(GUESTS)}


@pytest.fixture
def booted(conn):
    """A tracker that placed one guest of each kind; every other one is running."""
    original = tracker(conn)
    for index, (name, specs) in enumerate(GUESTS.items()):
        boot(conn, original, UUIDS[name], specs, start=index % 2 == 0)
    return original


def test_claims_survive_a_rebuild_from_the_domains(conn, booted):
    fresh = tracker(conn)
    result = recovery.recover(fresh, conn)
    assert result.source == "libvirt"
    assert result.domains.drift == ()
    assert {d.active for d in result.domains.domains} == {True, False}
    # Thread policy isolate on this host (no SMT) takes no siblings: usage is exact.
    assert fresh.usage == booted.usage
    # The next guest avoids every pCPU the domains hold.
    vm = Instance(uuid="next", flavor=Flavor(vcpus=2, memory_mb=256, extra_specs=GUESTS["pinned"]))
    with fresh.instance_claim(vm):
        pass
    held = set().union(*(c.pinned_cpus for c in booted.usage.cells))
    assert not held & set(vm.numa_topology.cpu_pinning)


def test_the_builtin_unpinned_domain_is_drift(libvirt_test_conn):
    """test:///default's own 'test' domain floats over every CPU, dedicated ones included."""
    with pytest.raises(exception.HostDrift) as raised:
        recovery.recover(tracker(libvirt_test_conn), libvirt_test_conn)
    assert [d.rule for d in raised.value.drift] == [dp.RUNS_ON_DEDICATED]
    assert "test: runs-on-dedicated" in str(raised.value)


def _hand_domain(connection, name, pins, emulator, nodes=(0,)):
    guest = config_guest(name, pins, emulator, nodes)
    return connection.defineXMLFlags(guest, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)


def config_guest(name, pins, emulator, nodes=(0,)):
    vcpus = len(pins)
    return config.LibvirtConfigGuest(
        virt_type="test",
        name=name,
        memory=256 * 1024,
        vcpus=vcpus,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=[
                config.LibvirtConfigGuestCPUTuneVCPUPin(id=v, cpuset=set(c))
                for v, c in sorted(pins.items())
            ],
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin(cpuset=set(emulator)),
        ),
        numatune=config.LibvirtConfigGuestNUMATune(
            memory=config.LibvirtConfigGuestNUMATuneMemory(nodeset=set(nodes)),
            memnodes=[config.LibvirtConfigGuestNUMATuneMemNode(cellid=0, nodeset=set(nodes))],
        ),
        cpu=config.LibvirtConfigGuestCPU(
            numa=config.LibvirtConfigGuestCPUNUMA(
                cells=[
                    config.LibvirtConfigGuestCPUNUMACell(
                        id=0, cpus=set(range(vcpus)), memory=256 * 1024
                    )
                ]
            )
        ),
    ).to_xml()


def test_overlapping_pins_are_drift_on_both_domains(conn, booted):
    pinned = booted.usage.cell(0).pinned_cpus
    taken = min(pinned)
    _hand_domain(conn, "intruder", {0: {taken}}, {7})
    with pytest.raises(exception.HostDrift) as raised:
        recovery.recover(tracker(conn), conn)
    overlap = [d for d in raised.value.drift if d.rule == dp.PCPU_OVERLAP]
    assert {d.domain for d in overlap} >= {"intruder"}
    assert len({d.domain for d in overlap}) == 2
    assert f"pCPU(s) {taken}" in str(overlap[0])


def test_a_domain_pinned_outside_the_dedicated_set_is_drift(conn):
    _hand_domain(conn, "stray", {0: {0}}, {1})  # 0 and 1 are shared CPUs
    with pytest.raises(exception.HostDrift) as raised:
        recovery.recover(tracker(conn), conn)
    assert {(d.domain, d.rule) for d in raised.value.drift} >= {("stray", dp.OUTSIDE_DEDICATED_SET)}


def test_restart_from_checkpoint_verified_against_the_domains(conn, tmp_path):
    path = tmp_path / "tracker.json"
    original = tracker(conn, checkpoint_path=path)
    for name, specs in GUESTS.items():
        boot(conn, original, UUIDS[name], specs)
    restarted = tracker(conn, checkpoint_path=path)
    result = recovery.recover(restarted, conn)
    assert result.source == "checkpoint"
    assert restarted.usage == original.usage


def test_a_checkpoint_that_misses_a_domain_or_pins_elsewhere_is_stale(conn, tmp_path):
    path = tmp_path / "tracker.json"
    original = tracker(conn, checkpoint_path=path)
    for name in ("pinned", "isolated"):
        boot(conn, original, UUIDS[name], GUESTS[name])
    # A guest libvirt runs that the checkpoint never saw.
    boot(conn, tracker(conn), UUIDS["floating"], GUESTS["floating"])
    with pytest.raises(exception.CheckpointMismatch) as raised:
        recovery.recover(tracker(conn, checkpoint_path=path), conn)
    assert dp.NOT_ACCOUNTED in str(raised.value)
    assert "os-numa-" + UUIDS["floating"] in str(raised.value)
    # A claim whose domain is gone.
    dom = conn.lookupByUUIDString(UUIDS["floating"])
    dom.destroy()
    dom.undefine()
    conn.lookupByUUIDString(UUIDS["pinned"]).destroy()
    conn.lookupByUUIDString(UUIDS["pinned"]).undefine()
    with pytest.raises(exception.CheckpointMismatch, match=dp.NOT_ON_HOST):
        recovery.recover(tracker(conn, checkpoint_path=path), conn)


def test_a_domain_whose_pins_moved_differs_from_its_checkpoint(conn, tmp_path):
    path = tmp_path / "tracker.json"
    original = tracker(conn, checkpoint_path=path)
    vm = boot(conn, original, UUIDS["pinned"], GUESTS["pinned"], start=False)
    dom = conn.lookupByUUIDString(UUIDS["pinned"])
    cell = vm.numa_topology.cells[0]
    pcpus = next(c.pcpuset for c in topology(conn).cells if c.id == cell.id)
    free = sorted(set(pcpus) - set(vm.numa_topology.cpu_pinning))
    moved = config.LibvirtConfigGuest.parse_str(dom.XMLDesc())
    moved.cputune.vcpupin[0].cpuset = {free[0]}
    moved.cputune.emulatorpin.cpuset = set().union(*(p.cpuset for p in moved.cputune.vcpupin))
    moved.cputune.iothreadpin = []
    conn.defineXML(moved.to_xml())
    with pytest.raises(exception.CheckpointMismatch) as raised:
        recovery.recover(tracker(conn, checkpoint_path=path), conn)
    assert dp.PLACEMENT_DIFFERS in str(raised.value)
    assert "pinning" in str(raised.value)


def test_without_a_checkpoint_file_the_domains_are_the_source_and_it_is_written(conn, tmp_path):
    boot(conn, tracker(conn), UUIDS["pinned"], GUESTS["pinned"])
    path = tmp_path / "tracker.json"
    fresh = tracker(conn, checkpoint_path=path)
    assert recovery.recover(fresh, conn).source == "libvirt"
    assert path.exists()
    again = tracker(conn, checkpoint_path=path)
    assert recovery.recover(again, conn).source == "checkpoint"
    assert again.usage == fresh.usage


def test_audit_reports_every_finding_per_domain(conn, booted):
    clean = recovery.audit(conn, tracker(conn))
    assert clean.clean and len(clean.domains) == len(GUESTS)
    _hand_domain(conn, "stray", {0: {0}}, {1})
    taken = min(booted.usage.cell(0).pinned_cpus)
    _hand_domain(conn, "intruder", {0: {taken}}, {7})
    report = recovery.audit(conn, tracker(conn))
    rules = {(d.domain, d.rule) for d in report.drift}
    assert ("stray", dp.OUTSIDE_DEDICATED_SET) in rules
    assert ("intruder", dp.PCPU_OVERLAP) in rules
    # Its pCPU is pinned twice: one of the two cannot be accounted with the other.
    assert {r for d, r in rules if d != "stray"} == {dp.PCPU_OVERLAP, dp.ACCOUNTING}
    assert report.usage is not None and len(report.usage.instances) == len(GUESTS) + 1


NODE = """<node><cpu><mhz>2000</mhz><model>i686</model><active>80</active><max>80</max>
<nodes>2</nodes><sockets>2</sockets><cores>20</cores><threads>2</threads></cpu>
<memory>268435456</memory>{domains}</node>"""


def test_pci_devices_come_back_from_the_hostdevs(tmp_path):
    """A guest's VFs, read back from its <hostdev> elements, are held again."""
    from os_numa.pci.devices import PciAddress
    from tests.compute.test_resource_tracker_pci import ALIASES, CELL0_VFS
    from tests.fixtures_topology import sample_host
    from tests.pci.builders import sample_devices

    pci_conf = os_numa_conf.make_conf(**{"pci.alias": ALIASES})

    def pci_tracker():
        return ResourceTracker(
            driver.LibvirtDriver(pci_conf), sample_host(), pci_conf, pci_devices=sample_devices()
        )

    original = pci_tracker()
    specs = {"hw:cpu_policy": "dedicated", "pci_passthrough:alias": "vf:2"}
    vm = Instance(uuid=UUIDS["pinned"], flavor=Flavor(vcpus=2, memory_mb=512, extra_specs=specs))
    with original.instance_claim(vm):
        pass
    guest = driver.build_guest(vm.numa_topology, vm.flavor, None, sample_host(), pci_conf)
    guest.name, guest.uuid, guest.virt_type = "pci-guest", UUIDS["pinned"], "test"
    node = tmp_path / "node.xml"
    node.write_text(NODE.format(domains=guest.to_xml()))
    connection = libvirt.open(f"test://{node}")
    try:
        fresh = pci_tracker()
        result = recovery.recover(fresh, connection, pci_devices=sample_devices())
    finally:
        connection.close()
    assert result.domains.domains[0].pci_addresses == tuple(CELL0_VFS[:2])
    assert sorted(str(a) for a in fresh.pci_stats.used) == CELL0_VFS[:2]
    assert fresh.usage == original.usage
    (instance,) = recovery.instances_from_domains(result.domains.domains, sample_devices())
    device = instance.numa_topology.pci_devices[0]
    assert (device.address, device.vendor_id, device.product_id) == (CELL0_VFS[0], "8086", "154c")
    assert PciAddress.parse(device.address) in fresh.pci_stats.used


class _Domain:
    def __init__(self, name, xml):
        self._name, self._xml = name, xml

    def name(self):
        return self._name

    def UUIDString(self):  # noqa: N802 - libvirt-python's name
        return "00000000-0000-0000-0000-0000000000ff"

    def XMLDesc(self, flags=0):  # noqa: N802
        return self._xml

    def isActive(self):  # noqa: N802
        return 1


class _Connection:
    """libvirt cannot hand out a malformed document; this stand-in can."""

    def __init__(self, *domains):
        self._domains = list(domains)

    def listAllDomains(self, flags=0):  # noqa: N802
        return self._domains

    def getURI(self):  # noqa: N802
        return "fake:///"


def test_an_unreadable_domain_is_drift_not_a_crash(libvirt_test_conn):
    bad = _Domain("broken", "<domain type='kvm'><vcpu>many</vcpu></domain>")
    found = recovery.read_domains(_Connection(bad), topology(libvirt_test_conn))
    (finding,) = found.drift
    assert (finding.domain, finding.rule) == ("broken", dp.UNREADABLE)
    assert "many" in finding.detail
    with pytest.raises(exception.HostDrift, match="broken: unreadable"):
        recovery.recover(tracker(libvirt_test_conn), _Connection(bad))
