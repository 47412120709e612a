"""domain_placement.read_domain: the driver's XML read back into the placement it enforces."""

from __future__ import annotations

import pytest

from os_numa import exception, hardware, objects
from os_numa.objects import fields
from os_numa.virt.libvirt import config, domain_placement, driver
from tests import fixtures_topology as ft
from tests.virt.libvirt import examples

DEDICATED = fields.CPUAllocationPolicy.DEDICATED


def accounted(topology: objects.InstanceNUMATopology) -> tuple:
    """What a host accounts of a placement (thread policy and mask excluded: the XML
    cannot show them)."""
    cells = tuple(
        (
            c.id,
            frozenset(c.cpuset),
            frozenset(c.pcpuset),
            c.memory,
            c.pagesize if c.pagesize and c.pagesize > 4 else None,
            tuple(sorted((c.cpu_pinning or {}).items())),
            frozenset(c.cpuset_reserved or ()),
            c.cpu_policy if c.cpu_policy != fields.CPUAllocationPolicy.SHARED else None,
        )
        for c in topology.cells
    )
    isolate = topology.emulator_threads_policy == fields.CPUEmulatorThreadsPolicy.ISOLATE
    return cells, isolate, topology.emulator_pool_cpu


def _domain_xml(example, name="guest"):
    host, flavor, conf, placement = examples.place(example)
    guest = driver.build_guest(placement, flavor, None, host, conf, name=name)
    guest.uuid = "11111111-2222-3333-4444-555555555555"
    return host, placement, guest.to_xml()


@pytest.mark.parametrize("name", sorted(examples.EXAMPLES))
def test_every_driver_example_reads_back_as_its_placement(name):
    host, placement, xml = _domain_xml(examples.EXAMPLES[name])
    read = domain_placement.read_domain(xml, host)
    assert read.drift == (), [str(d) for d in read.drift]
    assert accounted(read.placement) == accounted(placement)
    # Accounting the read placement gives the host usage the real one gives.
    ours = hardware.numa_usage_from_instance_numa(host, read.placement)
    theirs = hardware.numa_usage_from_instance_numa(host, placement)
    assert ft.host_state(ours) == ft.host_state(theirs)
    assert read.uuid == "11111111-2222-3333-4444-555555555555"
    assert read.vcpus == examples.EXAMPLES[name].vcpus


@pytest.mark.parametrize("name", sorted(examples.EXAMPLES))
def test_read_back_through_libvirt_test_driver(name, define_validated):
    """libvirt normalises the document (vcpusched per vCPU, added elements): same reading."""
    host, placement, xml = _domain_xml(examples.EXAMPLES[name], name=f"dp-{name}")
    read = domain_placement.read_domain(define_validated(xml), host)
    assert read.drift == ()
    assert accounted(read.placement) == accounted(placement)


def test_exclusive_and_shared_cpus():
    host, placement, xml = _domain_xml(examples.EXAMPLES["A1"])
    read = domain_placement.read_domain(xml, host)
    assert read.exclusive_cpus == {0, 1, 4, 5, 2}
    assert read.shared_cpus == frozenset()
    assert read.emulator_cpus == {2}


def _dedicated_guest(pins, emulatorpin, memnodes=None, cells=None, vcpus=None, **kw):
    """A hand-written domain: pins {vcpu: cpus}, one guest cell per memnode."""
    vcpus = vcpus if vcpus is not None else len(pins)
    cells = cells or [set(range(vcpus))]
    memnodes = memnodes if memnodes is not None else {0: {0}}
    return config.LibvirtConfigGuest(
        name=kw.get("name", "hand"),
        uuid=kw.get("uuid", "00000000-0000-0000-0000-000000000001"),
        memory=1024 * 1024,
        vcpus=vcpus,
        cpuset=kw.get("cpuset"),
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=[
                config.LibvirtConfigGuestCPUTuneVCPUPin(id=v, cpuset=set(c))
                for v, c in sorted(pins.items())
            ],
            emulatorpin=(
                None
                if emulatorpin is None
                else config.LibvirtConfigGuestCPUTuneEmulatorPin(cpuset=set(emulatorpin))
            ),
        ),
        numatune=(
            None
            if not memnodes
            else config.LibvirtConfigGuestNUMATune(
                memory=config.LibvirtConfigGuestNUMATuneMemory(
                    nodeset=set().union(*memnodes.values())
                ),
                memnodes=[
                    config.LibvirtConfigGuestNUMATuneMemNode(
                        cellid=i, nodeset=set(n), mode=kw.get("mode", "strict")
                    )
                    for i, n in sorted(memnodes.items())
                ],
            )
        ),
        cpu=config.LibvirtConfigGuestCPU(
            numa=config.LibvirtConfigGuestCPUNUMA(
                cells=[
                    config.LibvirtConfigGuestCPUNUMACell(
                        id=i, cpus=set(c), memory=1024 * 1024 // len(cells)
                    )
                    for i, c in enumerate(cells)
                ]
            )
        ),
    ).to_xml()


def rules(read):
    return sorted({d.rule for d in read.drift})


SPLIT = examples.shared_in_cell_0_host()  # cell 0: 0-7 (0-1 shared), cell 1: 8-15


def test_pin_outside_dedicated_set_is_drift():
    # CPU 0 is a shared CPU, not a pCPU: a vCPU pinned there alone is not os-numa's.
    read = domain_placement.read_domain(_dedicated_guest({0: {0}, 1: {2}}, {2}), SPLIT)
    assert domain_placement.OUTSIDE_DEDICATED_SET in rules(read)
    assert "host CPU 0" in str(read.drift[0])
    assert str(read.drift[0]).startswith("hand: ")


def test_two_vcpus_on_one_pcpu_is_drift():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}, 1: {2}}, {3}), SPLIT)
    assert rules(read) == [domain_placement.VCPUS_SHARE_PCPU]


def test_unpinned_vcpu_is_drift_and_runs_on_dedicated():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}}, {3}, vcpus=2), SPLIT)
    assert domain_placement.UNPINNED_VCPU in rules(read)
    assert domain_placement.RUNS_ON_DEDICATED in rules(read)
    assert read.shared_cpus is None


def test_memory_not_bound_or_elsewhere():
    unbound = domain_placement.read_domain(_dedicated_guest({0: {2}}, {3}, memnodes={}), SPLIT)
    assert domain_placement.MEMORY_NOT_BOUND in rules(unbound)
    # Without a memnode the pins still say where the cell is.
    assert unbound.placement.cells[0].id == 0
    foreign = domain_placement.read_domain(_dedicated_guest({0: {2}}, {3}, mode="bogus"), SPLIT)
    assert domain_placement.MEMORY_NOT_BOUND in rules(foreign)
    spread = domain_placement.read_domain(
        _dedicated_guest({0: {2}}, {3}, {0: {0, 1}}, mode="strict"), SPLIT
    )
    assert domain_placement.MEMORY_NOT_BOUND in rules(spread)
    interleaved_elsewhere = domain_placement.read_domain(
        _dedicated_guest({0: {2}}, {3}, {0: {1}}, mode="interleave"), SPLIT
    )
    assert domain_placement.MEMORY_ELSEWHERE in rules(interleaved_elsewhere)
    elsewhere = domain_placement.read_domain(_dedicated_guest({0: {2}}, {3}, {0: {1}}), SPLIT)
    assert domain_placement.MEMORY_ELSEWHERE in rules(elsewhere)


def test_cell_spread_over_host_cells():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}, 1: {10}}, {3}), SPLIT)
    assert domain_placement.CELL_SPANS_HOST_CELLS in rules(read)


def test_floating_vcpu_outside_shared_set():
    read = domain_placement.read_domain(_dedicated_guest({0: {2, 3}}, {0}), SPLIT)
    assert domain_placement.OUTSIDE_SHARED_SET in rules(read)


def test_floating_vcpu_on_its_cells_shared_cpus_is_no_drift():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}, 1: {0, 1}}, {0, 1}), SPLIT)
    assert read.drift == ()
    cell = read.placement.cells[0]
    assert cell.cpu_policy == fields.CPUAllocationPolicy.MIXED
    assert cell.cpu_pinning == {0: 2} and set(cell.cpuset) == {1}
    assert read.placement.emulator_threads_policy is None  # on the vCPUs' own CPUs


def test_isolated_emulator_recovers_the_reserved_pcpu():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}, 1: {3}}, {4}), SPLIT)
    assert read.drift == ()
    assert read.placement.emulator_threads_isolated
    assert read.placement.cells[0].cpuset_reserved == {4}
    assert read.exclusive_cpus == {2, 3, 4}


def test_emulator_unpinned_is_drift():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}}, None), SPLIT)
    assert domain_placement.EMULATOR_PIN in rules(read)
    assert domain_placement.RUNS_ON_DEDICATED in rules(read)


def test_emulator_on_another_cell_of_no_guest_cell():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}}, {10}), SPLIT)
    assert domain_placement.EMULATOR_PIN in rules(read)


def test_guest_without_numa_cells():
    xml = config.LibvirtConfigGuest(name="plain", vcpus=2, cpuset={0, 1}).to_xml()
    read = domain_placement.read_domain(xml, SPLIT)
    assert read.placement is None and read.drift == ()
    assert read.shared_cpus == {0, 1}
    loose = domain_placement.read_domain(config.LibvirtConfigGuest(name="x").to_xml(), SPLIT)
    assert rules(loose) == [domain_placement.RUNS_ON_DEDICATED]
    # With neither [compute] set, every CPU is shared: floating anywhere is fine.
    legacy_host = ft.host(2, 4)
    legacy = domain_placement.read_domain(config.LibvirtConfigGuest(name="x").to_xml(), legacy_host)
    assert legacy.drift == () and legacy.shared_cpus is None


def test_hand_pinned_guest_without_numa_runs_on_dedicated():
    xml = config.LibvirtConfigGuest(
        name="pinned",
        vcpus=1,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=[config.LibvirtConfigGuestCPUTuneVCPUPin(id=0, cpuset={5})],
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin(cpuset={0}),
        ),
    ).to_xml()
    read = domain_placement.read_domain(xml, SPLIT)
    assert rules(read) == [domain_placement.RUNS_ON_DEDICATED]
    assert "5" in read.drift[0].detail


def test_page_size_the_host_cell_lacks():
    host, placement, _ = _domain_xml(examples.EXAMPLES["H1-hugepages-two-cells"])
    _, flavor, conf, _ = examples.place(examples.EXAMPLES["H1-hugepages-two-cells"])
    xml = driver.build_guest(placement, flavor, None, host, conf).to_xml()
    read = domain_placement.read_domain(xml, ft.a1_host())  # no 2 MiB pages there
    assert domain_placement.PAGE_SIZE in rules(read)


def test_pci_hostdevs_are_read():
    xml = config.LibvirtConfigGuest(
        name="pci",
        devices=[
            "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
            "<address domain='0x0000' bus='0x18' slot='0x00' function='0x1'/></source></hostdev>",
            "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/>"
            "<product id='0x2'/></source></hostdev>",
        ],
    ).to_xml()
    assert domain_placement.read_domain(xml, SPLIT).pci_addresses == ("0000:18:00.1",)


@pytest.mark.parametrize(
    "xml",
    [
        "<not-a-domain/>",
        "<domain type='kvm'><name>x</name><vcpu>1</vcpu><cputune>"
        "<vcpupin vcpu='0' cpuset='abc'/></cputune></domain>",
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><domain type="kvm">&e;</domain>',
        "<domain type='kvm'>" + " " * (domain_placement.MAX_DOMAIN_XML_BYTES + 1) + "</domain>",
    ],
)
def test_bad_documents_raise_typed_errors(xml):
    with pytest.raises(exception.InvalidXML):
        domain_placement.read_domain(xml, SPLIT)


def test_dedicated_policy_and_pinning_recovered():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}, 1: {3}}, {2, 3}), SPLIT)
    assert read.placement.cells[0].cpu_policy == DEDICATED
    assert read.placement.cells[0].cpu_pinning == {0: 2, 1: 3}


@pytest.mark.parametrize("policy", ["strict", "preferred", "interleave", "restrictive"])
@pytest.mark.parametrize("cpu_policy", ["dedicated", None])
def test_every_memory_policy_reads_back(policy, cpu_policy):
    """hw:numa_memory_policy changes <numatune>; each mode os-numa writes is no drift."""
    specs = {"hw:numa_nodes": "2", "hw:numa_memory_policy": policy}
    if cpu_policy:
        specs["hw:cpu_policy"] = cpu_policy
    topology = examples.two_by_eight_host()
    flavor = objects.Flavor(vcpus=4, memory_mb=2048, extra_specs=specs)
    placement = hardware.numa_fit_instance_to_host(
        topology, hardware.numa_get_constraints(flavor, None)
    )
    xml = driver.build_guest(placement, flavor, None, topology).to_xml()
    read = domain_placement.read_domain(xml, topology)
    assert read.drift == ()
    assert accounted(read.placement) == accounted(placement)


@pytest.mark.parametrize(
    "specs",
    [
        {"hw:iothreads": "2", "hw:iothreads_policy": "isolate"},
        {"hw:iothreads": "2", "hw:iothreads_policy": "isolate", **examples.ISOLATE},
        {"hw:iothreads": "3"},
        {"hw:iothreads": "2", **examples.ISOLATE},
    ],
    ids=["io-isolate", "io-and-emulator-isolate", "io-share", "io-share-emulator-isolate"],
)
def test_io_threads_read_back(specs, define_validated):
    """Isolated I/O threads' pCPUs are reserved like the emulator's; shared ones are not."""
    topology = examples.two_by_eight_host()
    flavor = objects.Flavor(vcpus=2, memory_mb=1024, extra_specs={**examples.DEDICATED, **specs})
    placement = hardware.numa_fit_instance_to_host(
        topology, hardware.numa_get_constraints(flavor, None)
    )
    xml = driver.build_guest(placement, flavor, None, topology, name="io").to_xml()
    read = domain_placement.read_domain(define_validated(xml), topology)
    assert read.drift == ()
    assert accounted(read.placement) == accounted(placement)
    assert read.placement.iothread_pcpus == placement.iothread_pcpus
    ours = hardware.numa_usage_from_instance_numa(topology, read.placement)
    theirs = hardware.numa_usage_from_instance_numa(topology, placement)
    assert ft.host_state(ours) == ft.host_state(theirs)
    assert driver.estimate_instance_overhead(
        {"numa_topology": read.placement}
    ) == driver.estimate_instance_overhead({"numa_topology": placement})


def test_realtime_vcpu_floating_is_drift():
    xml = _dedicated_guest({0: {2}, 1: {0, 1}}, {0, 1})
    guest = config.LibvirtConfigGuest.parse_str(xml)
    guest.cputune.vcpusched = [
        config.LibvirtConfigGuestCPUTuneVCPUSched(vcpus={1}, scheduler="fifo", priority=1)
    ]
    read = domain_placement.read_domain(guest.to_xml(), SPLIT)
    assert rules(read) == [domain_placement.REALTIME_FLOATING]
    assert read.realtime_vcpus == {1}


def test_cells_that_do_not_hold_the_domains_vcpus_are_drift():
    xml = _dedicated_guest({0: {2}, 1: {3}}, {2, 3}, vcpus=3, cells=[{0, 1}])
    read = domain_placement.read_domain(xml, SPLIT)
    assert rules(read) == [domain_placement.VCPU_COUNT]


def test_memory_on_a_node_the_host_lacks_is_drift():
    read = domain_placement.read_domain(_dedicated_guest({0: {2}}, {2}, {0: {7}}), SPLIT)
    assert domain_placement.UNKNOWN_HOST_CELL in rules(read)
    assert read.placement is None  # nowhere to account it


def test_two_guest_cells_on_one_host_cell_are_drift():
    xml = _dedicated_guest({0: {2}, 1: {3}}, {2, 3}, {0: {0}, 1: {0}}, cells=[{0}, {1}])
    read = domain_placement.read_domain(xml, SPLIT)
    assert domain_placement.CELL_SPANS_HOST_CELLS in rules(read)
    assert read.placement is None


def _isolate_on_smt():
    topology = ft.host(1, 4, 2)  # one cell, 4 cores x 2 threads: (0,1) (2,3) (4,5) (6,7)
    specs = {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"}
    flavor = objects.Flavor(vcpus=2, memory_mb=1024, extra_specs=specs)
    placement = hardware.numa_fit_instance_to_host(
        topology, hardware.numa_get_constraints(flavor, None)
    )
    guest = driver.build_guest(placement, flavor, None, topology, name="iso")
    return topology, placement, guest


def test_without_metadata_isolate_reads_back_as_prefer():
    topology, placement, guest = _isolate_on_smt()
    read = domain_placement.read_domain(guest.to_xml(), topology)
    assert read.placement.cells[0].cpu_thread_policy == fields.CPUThreadAllocationPolicy.PREFER
    held = hardware.numa_usage_from_instance_numa(topology, read.placement).cells[0].pinned_cpus
    assert len(held) == 2  # the siblings are lost: hence placement_metadata or a checkpoint


def test_placement_metadata_restores_thread_isolate(define_validated):
    topology, placement, guest = _isolate_on_smt()
    metadata = domain_placement.placement_metadata(placement)
    guest.extra_children.append(("uuid", f"<metadata>{metadata}</metadata>"))
    read = domain_placement.read_domain(define_validated(guest.to_xml()), topology)
    assert read.drift == ()
    assert read.placement.cells[0].cpu_thread_policy == fields.CPUThreadAllocationPolicy.ISOLATE
    ours = hardware.numa_usage_from_instance_numa(topology, read.placement)
    theirs = hardware.numa_usage_from_instance_numa(topology, placement)
    assert ft.host_state(ours) == ft.host_state(theirs)
    assert len(ours.cells[0].pinned_cpus) == 4  # two cores, whole
    assert read.exclusive_cpus == ours.cells[0].pinned_cpus


@pytest.mark.parametrize(
    "hint, needle",
    [
        ('<osnuma:cell index="7" thread-policy="isolate"/>', "guest cell '7'"),
        ('<osnuma:cell index="0" thread-policy="sometimes"/>', "'sometimes'"),
    ],
)
def test_bad_metadata_is_drift(hint, needle):
    topology, _, guest = _isolate_on_smt()
    ns = domain_placement.METADATA_NS
    metadata = (
        f'<metadata><osnuma:placement xmlns:osnuma="{ns}">{hint}</osnuma:placement></metadata>'
    )
    guest.extra_children.append(("uuid", metadata))
    read = domain_placement.read_domain(guest.to_xml(), topology)
    assert rules(read) == [domain_placement.METADATA]
    assert needle in read.drift[0].detail
