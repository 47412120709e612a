"""The libvirt element classes: rendering, parsing back, libvirt's schema and test driver."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from os_numa import exception
from os_numa.virt.libvirt import config

# --- named guest shapes ------------------------------------------------------------------


def _pins(mapping):
    return [config.LibvirtConfigGuestCPUTuneVCPUPin(v, set(c)) for v, c in sorted(mapping.items())]


def _cells(*specs, mem_access=None):
    return config.LibvirtConfigGuestCPUNUMA(
        [
            config.LibvirtConfigGuestCPUNUMACell(i, set(cpus), kib, mem_access)
            for i, (cpus, kib) in enumerate(specs)
        ]
    )


def _numatune(*host_nodes):
    return config.LibvirtConfigGuestNUMATune(
        memory=config.LibvirtConfigGuestNUMATuneMemory("strict", set(host_nodes)),
        memnodes=[
            config.LibvirtConfigGuestNUMATuneMemNode(i, "strict", {node})
            for i, node in enumerate(host_nodes)
        ],
    )


SHAPES = {
    "pinned-emulator-share": config.LibvirtConfigGuest(
        name="share",
        vcpus=2,
        memory=1048576,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=_pins({0: {0}, 1: {1}}),
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({0, 1}),
        ),
    ),
    "isolate-with-iothread": config.LibvirtConfigGuest(
        name="isolate",
        vcpus=4,
        memory=2097152,
        iothreads=1,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=_pins({0: {0}, 1: {1}, 2: {6}, 3: {7}}),
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({4}),
            iothreadpin=[config.LibvirtConfigGuestCPUTuneIOThreadPin(1, {4})],
        ),
        cpu=config.LibvirtConfigGuestCPU(numa=_cells(({0, 1, 2, 3}, 2097152))),
        numatune=_numatune(0),
    ),
    "realtime-locked": config.LibvirtConfigGuest(
        name="realtime",
        vcpus=4,
        memory=1048576,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=_pins({0: {0}, 1: {1}, 2: {2}, 3: {3}}),
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({0}),
            vcpusched=[config.LibvirtConfigGuestCPUTuneVCPUSched({1, 2, 3}, "fifo", 1)],
        ),
        membacking=config.LibvirtConfigGuestMemoryBacking(sharedpages=False, locked=True),
    ),
    "shares-period-quota-test-type": config.LibvirtConfigGuest(
        virt_type="test",
        name="quota",
        vcpus=1,
        cputune=config.LibvirtConfigGuestCPUTune(shares=2048, period=100000, quota=-1),
    ),
    "mixed-floating-vcpus": config.LibvirtConfigGuest(
        name="mixed",
        vcpus=4,
        cpuset={0, 1, 8, 9},
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=_pins({0: {0, 1}, 1: {0, 1}, 2: {6}, 3: {2}}),
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({5}),
        ),
    ),
    "two-cells-hugepages": config.LibvirtConfigGuest(
        name="hugepages",
        vcpus=4,
        memory=4194304,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=_pins({0: {2}, 1: {3}, 2: {10}, 3: {11}}),
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({2, 3, 10, 11}),
        ),
        cpu=config.LibvirtConfigGuestCPU(
            sockets=2,
            cores=2,
            threads=1,
            numa=_cells(({0, 1}, 2097152), ({2, 3}, 2097152), mem_access="shared"),
        ),
        numatune=_numatune(0, 1),
        membacking=config.LibvirtConfigGuestMemoryBacking(
            hugepages=[
                config.LibvirtConfigGuestMemoryBackingPage(2048, {0}),
                config.LibvirtConfigGuestMemoryBackingPage(1048576, {1}),
            ]
        ),
    ),
    "hugepages-all-cells-qemu": config.LibvirtConfigGuest(
        virt_type="qemu",
        name="hugepages-any",
        vcpus=1,
        membacking=config.LibvirtConfigGuestMemoryBacking(
            hugepages=[config.LibvirtConfigGuestMemoryBackingPage(2048)]
        ),
    ),
}


def _sched_by_vcpu(cputune):
    """vcpusched as {vcpu: (scheduler, priority)}: libvirt splits one element per vCPU."""
    return {
        vcpu: (sched.scheduler, sched.priority)
        for sched in cputune.vcpusched
        for vcpu in sched.vcpus
    }


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_guest_shape_round_trips(name):
    guest = SHAPES[name]
    parsed = config.LibvirtConfigGuest.parse_str(guest.to_xml())
    assert parsed == guest
    assert parsed.to_xml() == guest.to_xml()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_guest_shape_is_accepted_by_libvirt(name, define_validated):
    guest = SHAPES[name]
    back = config.LibvirtConfigGuest.parse_str(define_validated(guest.to_xml()))

    want_tune = guest.cputune or config.LibvirtConfigGuestCPUTune()
    got_tune = back.cputune or config.LibvirtConfigGuestCPUTune()
    assert got_tune.vcpupin == want_tune.vcpupin
    assert got_tune.emulatorpin == want_tune.emulatorpin
    assert got_tune.iothreadpin == want_tune.iothreadpin
    assert (got_tune.shares, got_tune.period, got_tune.quota) == (
        want_tune.shares,
        want_tune.period,
        want_tune.quota,
    )
    assert _sched_by_vcpu(got_tune) == _sched_by_vcpu(want_tune)
    assert back.numatune == guest.numatune
    assert back.membacking == guest.membacking
    assert (back.cpu.numa if back.cpu else None) == (guest.cpu.numa if guest.cpu else None)
    assert (back.vcpus, back.memory, back.cpuset, back.iothreads) == (
        guest.vcpus,
        guest.memory,
        guest.cpuset,
        guest.iothreads,
    )


def test_libvirt_output_round_trips_through_the_classes(define_validated):
    """What XMLDesc() returns (with clock, on_*, boot, currentMemory) parses and
    re-renders to a document libvirt accepts again, unknown parts kept in place."""
    first = define_validated(SHAPES["two-cells-hugepages"].to_xml())
    guest = config.LibvirtConfigGuest.parse_str(first)
    tags = [etree.fromstring(xml).tag for _, xml in guest.extra_children]
    assert tags == ["currentMemory", "clock", "on_poweroff", "on_reboot", "on_crash"]
    assert [etree.fromstring(x).tag for x in guest.os_extra_children] == ["boot"]
    second = define_validated(guest.to_xml())
    assert config.LibvirtConfigGuest.parse_str(second) == guest
    rendered = etree.fromstring(guest.to_xml())
    assert [child.tag for child in rendered][:5] == [
        "name",
        "uuid",
        "memory",
        "currentMemory",
        "memoryBacking",
    ]


# --- element-level behaviour ---------------------------------------------------------------


def test_cputune_writes_libvirts_order():
    tune = SHAPES["isolate-with-iothread"].cputune
    tune = config.LibvirtConfigGuestCPUTune(
        shares=10,
        quota=-1,
        period=1000,
        vcpupin=tune.vcpupin,
        emulatorpin=tune.emulatorpin,
        iothreadpin=tune.iothreadpin,
        vcpusched=[config.LibvirtConfigGuestCPUTuneVCPUSched({1}, "fifo", 2)],
    )
    tags = [child.tag for child in tune.format_dom()]
    assert tags == ["shares", "period", "quota"] + ["vcpupin"] * 4 + [
        "emulatorpin",
        "iothreadpin",
        "vcpusched",
    ]


@pytest.mark.parametrize(
    ("element", "xml"),
    [
        (
            config.LibvirtConfigGuestCPUTuneVCPUPin(3, {0, 1, 2, 5}),
            '<vcpupin vcpu="3" cpuset="0-2,5"/>\n',
        ),
        (config.LibvirtConfigGuestCPUTuneEmulatorPin({4}), '<emulatorpin cpuset="4"/>\n'),
        (
            config.LibvirtConfigGuestCPUTuneIOThreadPin(1, {0, 1, 8, 9}),
            '<iothreadpin iothread="1" cpuset="0-1,8-9"/>\n',
        ),
        (
            config.LibvirtConfigGuestCPUTuneVCPUSched({1, 2, 3}, "fifo", 1),
            '<vcpusched vcpus="1-3" scheduler="fifo" priority="1"/>\n',
        ),
        (
            config.LibvirtConfigGuestNUMATuneMemNode(1, "strict", {3}),
            '<memnode cellid="1" mode="strict" nodeset="3"/>\n',
        ),
        (
            config.LibvirtConfigGuestCPUNUMACell(0, {0, 1}, 1048576),
            '<cell id="0" cpus="0-1" memory="1048576" unit="KiB"/>\n',
        ),
        (
            config.LibvirtConfigGuestCPUNUMACell(1, {2}, 512, "shared"),
            '<cell id="1" cpus="2" memory="512" unit="KiB" memAccess="shared"/>\n',
        ),
        (
            config.LibvirtConfigGuestMemoryBacking(
                [config.LibvirtConfigGuestMemoryBackingPage(2048, {0, 1})], False, True
            ),
            "<memoryBacking>\n  <hugepages>\n"
            '    <page size="2048" unit="KiB" nodeset="0-1"/>\n  </hugepages>\n'
            "  <nosharepages/>\n  <locked/>\n</memoryBacking>\n",
        ),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str) else "xml",
)
def test_element_text_and_parse_back(element, xml):
    assert element.to_xml() == xml
    assert type(element).parse_str(xml) == element


def test_nova_style_construction_then_assignment():
    pin = config.LibvirtConfigGuestCPUTuneVCPUPin()
    pin.id = 2
    pin.cpuset = {7}
    tune = config.LibvirtConfigGuestCPUTune()
    tune.vcpupin.append(pin)
    assert tune.to_xml() == '<cputune>\n  <vcpupin vcpu="2" cpuset="7"/>\n</cputune>\n'
    # Defaults are per instance, never shared between objects.
    assert config.LibvirtConfigGuestCPUTune().vcpupin == []


def test_memory_units_are_converted_to_kib():
    cell = config.LibvirtConfigGuestCPUNUMACell.parse_str(
        '<cell id="0" cpus="0" memory="2" unit="GiB"/>'
    )
    assert cell.memory == 2 * 1024 * 1024
    page = config.LibvirtConfigGuestMemoryBackingPage.parse_str('<page size="1" unit="G"/>')
    assert page.size_kb == 1048576
    guest = config.LibvirtConfigGuest.parse_str(
        "<domain type='kvm'><name>a</name><memory unit='MiB'>512</memory>"
        "<vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    )
    assert guest.memory == 524288


def test_unknown_attributes_and_children_are_kept_in_place():
    xml = (
        "<cputune x='1'><global_period>1000</global_period>"
        "<vcpupin vcpu='0' cpuset='1' future='yes'/>"
        "<emulator_period>500</emulator_period>"
        "<emulatorpin cpuset='2'/><cachetune vcpus='0'><cache id='0' level='3' "
        "type='both' size='3' unit='MiB'/></cachetune></cputune>"
    )
    tune = config.LibvirtConfigGuestCPUTune.parse_str(xml)
    assert tune.extra_attrs == {"x": "1"}
    assert tune.vcpupin[0].extra_attrs == {"future": "yes"}
    assert [anchor for anchor, _ in tune.extra_children] == [None, "vcpupin", "emulatorpin"]
    rendered = tune.format_dom()
    assert [c.tag for c in rendered] == [
        "global_period",
        "vcpupin",
        "emulator_period",
        "emulatorpin",
        "cachetune",
    ]
    assert rendered[1].get("future") == "yes"
    assert config.LibvirtConfigGuestCPUTune.parse_str(tune.to_xml()) == tune


def test_bare_hugepages_element_is_kept():
    backing = config.LibvirtConfigGuestMemoryBacking.parse_str(
        "<memoryBacking><hugepages/><locked/></memoryBacking>"
    )
    assert backing.hugepages == [] and backing.locked
    assert [c.tag for c in backing.format_dom()] == ["hugepages", "locked"]


def test_guest_devices_extension_point(define_validated):
    guest = config.LibvirtConfigGuest(
        name="devices",
        devices=[
            "<memballoon model='none'/>",
            etree.fromstring("<console type='pty'/>"),
        ],
    )
    back = config.LibvirtConfigGuest.parse_str(define_validated(guest.to_xml()))
    tags = [etree.fromstring(d).tag for d in back.devices]
    # libvirt adds a <serial> for the pty console.
    assert {"console", "memballoon"} <= set(tags)
    with pytest.raises(TypeError):
        config.LibvirtConfigGuest(devices=[42]).format_dom()


def test_device_elements_are_copied_without_their_tail_or_entities():
    console = etree.fromstring("<devices><console type='pty'/>tail text</devices>")[0]
    guest = config.LibvirtConfigGuest(name="copied", devices=[console])
    (written,) = guest.format_dom().find("devices")
    assert (written.tag, written.get("type"), written.tail) == ("console", "pty", None)
    assert written is not console and console.tail == "tail text"

    parser = etree.XMLParser(resolve_entities=False)
    doc = etree.fromstring('<!DOCTYPE d [<!ENTITY e "x">]><d><serial>&e;</serial></d>', parser)
    with pytest.raises(exception.UnsafeXML, match="<serial> contains entity references"):
        config.LibvirtConfigGuest(name="entity", devices=[doc[0]]).format_dom()


@pytest.mark.parametrize(
    ("klass", "xml", "needle"),
    [
        (config.LibvirtConfigGuestCPUTuneVCPUPin, "<vcpupin vcpu='0' cpuset='abc'/>", "cpuset"),
        (config.LibvirtConfigGuestCPUTuneVCPUPin, "<vcpupin cpuset='1'/>", "'vcpu'"),
        (config.LibvirtConfigGuestCPUTuneVCPUPin, "<vcpupin vcpu='x' cpuset='1'/>", "'x'"),
        # Only one leading minus; int() would raise a bare ValueError.
        (config.LibvirtConfigGuestCPUTuneVCPUPin, "<vcpupin vcpu='--5' cpuset='1'/>", "'--5'"),
        # A digit string too long for int() (and for any real id) is refused by length.
        (
            config.LibvirtConfigGuestCPUTuneVCPUPin,
            f"<vcpupin vcpu='{'9' * 5000}' cpuset='1'/>",
            f"at most {config.MAX_INT_DIGITS} digits",
        ),
        (config.LibvirtConfigCapsNUMACPU, f"<cpu id='{'1' * 21}'/>", "at most 20 digits"),
        (config.LibvirtConfigGuestCPUTuneEmulatorPin, "<emulatorpin cpuset='3-1'/>", "3-1"),
        (config.LibvirtConfigGuestCPUTuneVCPUSched, "<vcpusched vcpus='0' priority='hi'/>", "hi"),
        (config.LibvirtConfigGuestCPUTune, "<cputune><shares>lots</shares></cputune>", "lots"),
        (
            config.LibvirtConfigGuestCPUNUMACell,
            "<cell id='0' cpus='0' memory='1' unit='XB'/>",
            "XB",
        ),
        (config.LibvirtConfigGuestCPUTune, "<numatune/>", "<numatune>"),
        (config.LibvirtConfigGuest, "<domain><name>a</name></domain>", "'type'"),
    ],
)
def test_bad_documents_raise_invalid_xml(klass, xml, needle):
    with pytest.raises(exception.InvalidXML) as info:
        klass.parse_str(xml)
    assert needle in str(info.value)


_EMPTY_SET_ELEMENTS = {
    "vcpupin": config.LibvirtConfigGuestCPUTuneVCPUPin(id=0, cpuset=set()),
    "emulatorpin": config.LibvirtConfigGuestCPUTuneEmulatorPin(cpuset=set()),
    "iothreadpin": config.LibvirtConfigGuestCPUTuneIOThreadPin(iothread=1, cpuset=set()),
    "vcpusched": config.LibvirtConfigGuestCPUTuneVCPUSched(set(), "fifo", 1),
    "numatune-memory": config.LibvirtConfigGuestNUMATuneMemory(nodeset=set()),
    "memnode": config.LibvirtConfigGuestNUMATuneMemNode(cellid=0, nodeset=set()),
    "numa-cell": config.LibvirtConfigGuestCPUNUMACell(0, set(), 1024),
}


@pytest.mark.parametrize("name", sorted(_EMPTY_SET_ELEMENTS))
def test_an_empty_required_set_is_never_written(name):
    """Nova writes <emulatorpin cpuset=""/>; libvirt refuses it, so the classes do too."""
    with pytest.raises(exception.InvalidXML, match="would be an empty set"):
        _EMPTY_SET_ELEMENTS[name].to_xml()


def test_a_whole_domain_with_an_empty_emulatorpin_is_not_written():
    guest = config.LibvirtConfigGuest(
        name="empty-pin",
        vcpus=1,
        cputune=config.LibvirtConfigGuestCPUTune(
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin(cpuset=set())
        ),
    )
    with pytest.raises(exception.InvalidXML, match="<emulatorpin> attribute 'cpuset'"):
        guest.to_xml()


@pytest.mark.parametrize(
    ("klass", "xml"),
    [
        (config.LibvirtConfigGuestCPUTuneEmulatorPin, "<emulatorpin cpuset=''/>"),
        (config.LibvirtConfigGuestCPUTuneVCPUPin, "<vcpupin vcpu='0' cpuset='^0,, '/>"),
        (config.LibvirtConfigGuestNUMATuneMemNode, "<memnode cellid='0' nodeset='0,^0'/>"),
    ],
)
def test_an_empty_required_set_is_refused_when_parsed(klass, xml):
    with pytest.raises(exception.InvalidXML, match="an empty set, which libvirt refuses"):
        klass.parse_str(xml)


def test_an_empty_optional_set_is_left_out():
    backing = config.LibvirtConfigGuestMemoryBackingPage(size_kb=2048, nodeset=set())
    assert "nodeset" not in backing.to_xml()


def test_parse_str_is_safe():
    with pytest.raises(exception.UnsafeXML):
        config.LibvirtConfigGuestCPUTune.parse_str(
            '<!DOCTYPE cputune [<!ENTITY e SYSTEM "file:///etc/passwd">]><cputune>&e;</cputune>'
        )


# --- properties ----------------------------------------------------------------------------

_cpu_sets = st.sets(st.integers(min_value=0, max_value=255), min_size=1, max_size=16)


@st.composite
def _cputunes(draw):
    pins = draw(st.dictionaries(st.integers(0, 63), _cpu_sets, max_size=8))
    return config.LibvirtConfigGuestCPUTune(
        shares=draw(st.none() | st.integers(2, 262144)),
        period=draw(st.none() | st.integers(1000, 1000000)),
        quota=draw(st.none() | st.integers(-1, 10**6)),
        vcpupin=_pins(pins),
        emulatorpin=draw(st.none() | _cpu_sets.map(config.LibvirtConfigGuestCPUTuneEmulatorPin)),
        iothreadpin=[
            config.LibvirtConfigGuestCPUTuneIOThreadPin(i + 1, cpus)
            for i, cpus in enumerate(draw(st.lists(_cpu_sets, max_size=2)))
        ],
        vcpusched=[
            config.LibvirtConfigGuestCPUTuneVCPUSched(cpus, "fifo", prio)
            for cpus, prio in draw(st.lists(st.tuples(_cpu_sets, st.integers(1, 99)), max_size=2))
        ],
    )


@settings(max_examples=40, deadline=None)
@given(_cputunes())
def test_cputune_round_trip_property(tune):
    text = tune.to_xml()
    assert config.LibvirtConfigGuestCPUTune.parse_str(text) == tune
    assert config.LibvirtConfigGuestCPUTune.parse_str(text).to_xml() == text


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_cpu_sets, st.integers(1, 1 << 24)), min_size=1, max_size=4))
def test_guest_numa_round_trip_property(cells):
    numa = config.LibvirtConfigGuestCPUNUMA(
        [config.LibvirtConfigGuestCPUNUMACell(i, cpus, mem) for i, (cpus, mem) in enumerate(cells)]
    )
    cpu = config.LibvirtConfigGuestCPU(mode="host-passthrough", numa=numa)
    assert config.LibvirtConfigGuestCPU.parse_str(cpu.to_xml()) == cpu
