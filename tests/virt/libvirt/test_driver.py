"""The libvirt guest NUMA config builder: Nova's examples, the refusals.

Every example goes the whole way a driver goes: flavor -> numa_get_constraints ->
numa_fit_instance_to_host on a named host -> get_guest_numa_config /
get_guest_memory_backing_config. The examples are those of nova-behaviour.md
section 7.4. Nova sorts a host cell's sibling sets in hash order and so pins
vCPUs to, for instance, pCPUs 6, 2, 5, 4; os-numa takes the lowest-numbered
free pCPUs first, so where Nova's pins differ the table (examples.py) says what
Nova wrote (``nova``) next to what we write.

Golden files (tests/virt/libvirt/golden/<example>.xml) hold the whole domain
that :func:`driver.build_guest` writes, compared as text. To rewrite them after
a deliberate change, run the tests with OS_NUMA_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.constraints import placement_policy
from os_numa.virt import driver as base_driver
from os_numa.virt.libvirt import config, driver
from tests import fixtures_topology as ft
from tests.virt.libvirt.examples import (
    DEDICATED,
    EXAMPLES,
    SHARE,
    Example,
    flavor_of,
    huge_page_host,
    place,
)

GOLDEN = Path(__file__).parent / "golden"


def _pins(cputune) -> dict[int, set[int]]:
    return {pin.id: set(pin.cpuset) for pin in cputune.vcpupin}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_cputune(name):
    example = EXAMPLES[name]
    host, flavor, conf, placement = place(example)

    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)

    assert numa.cpuset is None
    assert _pins(numa.cputune) == example.pins
    assert [pin.id for pin in numa.cputune.vcpupin] == sorted(example.pins)
    assert numa.cputune.emulatorpin.cpuset == example.emulatorpin
    assert [(p.iothread, p.cpuset) for p in numa.cputune.iothreadpin] == [(1, example.emulatorpin)]
    if example.realtime:
        assert [(s.vcpus, s.scheduler, s.priority) for s in numa.cputune.vcpusched] == [
            (example.realtime, "fifo", example.priority)
        ]
    else:
        assert numa.cputune.vcpusched == []


@pytest.mark.parametrize("name", sorted(n for n, e in EXAMPLES.items() if e.nova_emulatorpin))
def test_example_says_where_it_differs_from_nova(name):
    """Every difference from Nova's output is one the example names (``nova``)."""
    example = EXAMPLES[name]
    host, flavor, conf, placement = place(example)

    cputune = driver.get_guest_numa_config(placement, flavor, None, host, conf).cputune

    differs = cputune.emulatorpin.cpuset != example.nova_emulatorpin or (
        example.nova_pins is not None and _pins(cputune) != example.nova_pins
    )
    assert bool(example.nova) is differs, example.nova


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_guest_cells_and_numatune(name):
    example = EXAMPLES[name]
    host, flavor, conf, placement = place(example)

    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)

    cells = numa.numaconfig.cells
    assert [cell.id for cell in cells] == list(range(len(example.numatune)))
    assert set().union(*(cell.cpus for cell in cells)) == set(range(example.vcpus))
    assert sum(cell.memory for cell in cells) == example.memory_mb * 1024
    shared = "shared" if example.hugepages else None
    assert {cell.memAccess for cell in cells} == {shared}
    assert numa.numatune.memory.mode == "strict"
    assert numa.numatune.memory.nodeset == set(example.numatune.values())
    assert {(m.cellid, m.mode, frozenset(m.nodeset)) for m in numa.numatune.memnodes} == {
        (guest, "strict", frozenset({host_cell})) for guest, host_cell in example.numatune.items()
    }


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_memory_backing(name):
    example = EXAMPLES[name]
    host, flavor, conf, placement = place(example)

    backing = driver.get_guest_memory_backing_config(placement, flavor, None, host, conf)

    if not (example.realtime or example.hugepages or example.locked):
        assert backing is None
        return
    assert backing.locked is bool(example.realtime or example.locked)
    assert backing.sharedpages is not bool(example.realtime)
    assert [(p.size_kb, p.nodeset) for p in backing.hugepages] == [
        (size, {cell}) for cell, size in sorted((example.hugepages or {}).items())
    ]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_matches_golden_xml(name):
    example = EXAMPLES[name]
    host, flavor, conf, placement = place(example)

    xml = driver.build_guest(placement, flavor, None, host, conf, name=f"example-{name}").to_xml()

    path = GOLDEN / f"{name}.xml"
    if os.environ.get("OS_NUMA_REGEN_GOLDEN"):
        path.write_text(xml)
    assert xml == path.read_text()


def test_build_guest_is_deterministic():
    """The same placement gives the same text, whatever the set iteration order."""
    host, flavor, conf, placement = place(EXAMPLES["D1"])
    clone = objects.InstanceNUMATopology.obj_from_primitive(placement.obj_to_primitive())
    first = driver.build_guest(placement, flavor, None, host, conf).to_xml()
    assert driver.build_guest(clone, flavor, None, host, conf).to_xml() == first


def test_inputs_are_not_mutated():
    host, flavor, conf, placement = place(EXAMPLES["B6"])
    before = (placement.obj_to_primitive(), ft.host_state(host), dict(flavor.extra_specs))

    driver.get_guest_numa_config(placement, flavor, None, host, conf)
    driver.get_guest_memory_backing_config(placement, flavor, None, host, conf)

    assert (placement.obj_to_primitive(), ft.host_state(host), dict(flavor.extra_specs)) == before


def test_realtime_priority_comes_from_the_option():
    host, flavor, _, placement = place(EXAMPLES["B1"])
    conf = os_numa_conf.make_conf(**{"libvirt.realtime_scheduler_priority": 42})

    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)

    assert [(s.vcpus, s.priority) for s in numa.cputune.vcpusched] == [({1, 2, 3}, 42)]


def test_image_realtime_mask_wins():
    """The constraints read the image's mask; the placement carries it to the XML."""
    host, flavor, conf, _ = place(EXAMPLES["B1"])
    image = objects.ImageMeta.from_dict({"properties": {"hw_cpu_realtime_mask": "^0-1"}})
    request = hardware.numa_get_constraints(flavor, image)
    placement = hardware.numa_fit_instance_to_host(host, request, conf=conf)

    numa = driver.get_guest_numa_config(placement, flavor, image, host, conf)

    assert numa.cputune.vcpusched[0].vcpus == {2, 3}
    assert numa.cputune.emulatorpin.cpuset == {0, 1}


def test_default_conf_is_the_global_one():
    host, flavor, _, placement = place(EXAMPLES["A1"])
    assert driver.get_guest_numa_config(
        placement, flavor, None, host
    ) == driver.get_guest_numa_config(placement, flavor, None, host, os_numa_conf.CONF)


# --- guests without NUMA placement -----------------------------------------------------


@pytest.mark.parametrize(
    ("shared", "host", "expected"),
    [
        (None, None, None),
        (None, ft.a1_host, None),
        ("0-1,8-9", None, {0, 1, 8, 9}),
        ("0-1,8-9", ft.a1_host, {0, 1}),  # 8-9 are not on this host
    ],
)
def test_guest_without_numa_topology(shared, host, expected):
    conf = os_numa_conf.make_conf(**({"compute.cpu_shared_set": shared} if shared else {}))
    flavor = objects.Flavor(vcpus=2, memory_mb=512)

    numa = driver.get_guest_numa_config(None, flavor, None, host and host(), conf)

    assert numa == driver.GuestNumaConfig(expected, None, None, None)
    assert driver.get_guest_memory_backing_config(None, flavor, None, None, conf) is None


def test_guest_without_numa_topology_and_no_online_shared_cpu():
    conf = os_numa_conf.make_conf(**{"compute.cpu_shared_set": "20-21"})
    with pytest.raises(exception.InvalidConfiguration, match="cpu_shared_set='20-21'"):
        driver.get_guest_numa_config(
            None, objects.Flavor(vcpus=1, memory_mb=64), None, ft.a1_host(), conf
        )


# --- refusals: never an empty cpuset, never a pin libvirt would drop ---------------------


def test_realtime_share_without_shared_set_is_refused():
    """Nova B4: Nova writes <emulatorpin cpuset=""/>, then fails in memoryBacking."""
    example = Example(
        ft.a1_host,
        {**DEDICATED, **SHARE, "hw:cpu_realtime": "yes"},
        pins={},
        emulatorpin=set(),
    )
    host, flavor, conf, placement = place(example)

    with pytest.raises(exception.EmulatorPinEmpty, match="every vCPU is realtime"):
        driver.get_guest_numa_config(placement, flavor, None, host, conf)
    with pytest.raises(exception.RealtimeMaskNotFoundOrInvalid, match="cpu_shared_set"):
        driver.get_guest_memory_backing_config(placement, flavor, None, host, conf)


def test_realtime_share_with_mask_but_without_shared_set_has_no_memory_backing():
    """Nova's rule: realtime + share needs cpu_shared_set even when vCPU 0 is housekeeping."""
    example = Example(
        ft.a1_host,
        {**DEDICATED, **SHARE, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"},
        pins={},
        emulatorpin=set(),
    )
    host, flavor, conf, placement = place(example)

    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)
    assert numa.cputune.emulatorpin.cpuset == {0}
    with pytest.raises(exception.RealtimeMaskNotFoundOrInvalid):
        driver.get_guest_memory_backing_config(placement, flavor, None, host, conf)


def test_isolate_without_reserved_pcpu_in_guest_cell_0_is_refused():
    host, flavor, conf, placement = place(EXAMPLES["A1"])
    broken = placement.obj_clone()
    broken.cells[0].cpuset_reserved = None

    with pytest.raises(exception.EmulatorPinEmpty, match="guest cell 0 has no cpuset_reserved"):
        driver.get_guest_numa_config(broken, flavor, None, host, conf)


def test_isolate_with_the_reserved_pcpu_in_another_cell_is_refused():
    host, flavor, conf, placement = place(EXAMPLES["A1"])
    broken = placement.obj_clone()
    broken.cells[0].cpuset_reserved = None
    broken.cells[1].cpuset_reserved = {6}

    with pytest.raises(exception.EmulatorPinEmpty):
        driver.get_guest_numa_config(broken, flavor, None, host, conf)


def test_shared_set_without_online_cpu_is_refused():
    host, flavor, _, placement = place(EXAMPLES["C2"])
    conf = os_numa_conf.make_conf(**{"compute.cpu_shared_set": "20-21"})

    with pytest.raises(exception.EmulatorPinEmpty, match="names no online host CPU"):
        driver.get_guest_numa_config(placement, flavor, None, host, conf)


def test_shared_set_is_restricted_to_online_cpus():
    host, flavor, _, placement = place(EXAMPLES["C2"])
    conf = os_numa_conf.make_conf(**{"compute.cpu_shared_set": "6-7,20-21"})

    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)

    assert numa.cputune.emulatorpin.cpuset == {6, 7}


def _with_pinning(placement, cell_index, pinning):
    broken = placement.obj_clone()
    broken.cells[cell_index].cpu_pinning = pinning
    return broken


@pytest.mark.parametrize(
    ("cell", "pinning", "needle"),
    [
        (1, {2: 4, 3: 99}, "pinned to host CPU 99, which is not a pinnable CPU of host cell 1"),
        (1, {2: 4, 3: 1}, "pinned to host CPU 1, which is not a pinnable CPU of host cell 1"),
        (1, {2: 4}, "vCPU 3 of guest cell 1 must be pinned but has no host pCPU"),
        (1, {2: 1, 3: 1}, "not a pinnable CPU"),
        (0, {0: 0, 1: 0}, "vCPUs 0 and 1 are both pinned to host CPU 0"),
        (0, {0: 0, 1: 2}, "both a vCPU's pCPU and reserved for emulator threads"),
        (0, {0: 0, 1: 1, 2: 3}, r"guest cell 0 pins vCPU\(s\) 2 it does not have"),
    ],
)
def test_pins_outside_the_host_cell_are_refused(cell, pinning, needle):
    host, flavor, conf, placement = place(EXAMPLES["A1"])

    with pytest.raises(exception.InvalidGuestPlacement, match=needle):
        driver.get_guest_numa_config(
            _with_pinning(placement, cell, pinning), flavor, None, host, conf
        )


def test_pins_are_not_checked_against_a_host_that_is_not_given():
    host, flavor, conf, placement = place(EXAMPLES["A1"])
    moved = _with_pinning(placement, 1, {2: 12, 3: 13})

    numa = driver.get_guest_numa_config(moved, flavor, None, None, conf)

    assert _pins(numa.cputune) == {0: {0}, 1: {1}, 2: {12}, 3: {13}}


def test_unknown_host_cell_is_refused():
    host, flavor, conf, placement = place(EXAMPLES["A1"])
    moved = placement.obj_clone()
    moved.cells[1].id = 5

    with pytest.raises(exception.InvalidGuestPlacement, match="host cell 5"):
        driver.get_guest_numa_config(moved, flavor, None, host, conf)


@pytest.mark.parametrize(
    ("vcpus", "needle"),
    [
        (3, r"vCPU\(s\) 3, but the flavor has 3 vCPU\(s\) \(0-2\)"),
        (5, r"vCPU\(s\) 4 of the flavor's 5 are in no guest cell"),
    ],
)
def test_vcpu_ids_must_match_theflavor_of(vcpus, needle):
    host, _, conf, placement = place(EXAMPLES["A1"])
    flavor = objects.Flavor(vcpus=vcpus, memory_mb=2048, extra_specs=EXAMPLES["A1"].specs)

    with pytest.raises(exception.InvalidGuestPlacement, match=needle):
        driver.get_guest_numa_config(placement, flavor, None, host, conf)


def test_vcpu_in_two_cells_is_refused():
    host, flavor, conf, placement = place(EXAMPLES["A1"])
    broken = placement.obj_clone()
    broken.cells[1].pcpuset = {1, 2, 3}
    broken.cells[1].cpu_pinning = {1: 6, 2: 4, 3: 5}

    with pytest.raises(exception.InvalidGuestPlacement, match="more than one guest cell"):
        driver.get_guest_numa_config(broken, flavor, None, host, conf)


def test_a_request_is_not_a_placement():
    example = EXAMPLES["A1"]
    flavor = flavor_of(example)
    request = hardware.numa_get_constraints(flavor, None)

    with pytest.raises(exception.InvalidGuestPlacement, match="numa_fit_instance_to_host"):
        driver.get_guest_numa_config(request, flavor, None, example.host())


def test_unresolved_page_size_is_refused():
    host, flavor, conf, placement = place(EXAMPLES["H1-hugepages-two-cells"])
    broken = placement.obj_clone()
    broken.cells[1].pagesize = -2  # MEMPAGES_LARGE, a request

    with pytest.raises(exception.InvalidGuestPlacement, match="page size request -2"):
        driver.get_guest_memory_backing_config(broken, flavor, None, host, conf)


def test_floating_vcpus_need_the_host_topology():
    host, flavor, conf, placement = place(EXAMPLES["D1"])

    with pytest.raises(exception.InvalidGuestPlacement, match="pass host_topology"):
        driver.get_guest_numa_config(placement, flavor, None, None, conf)


def test_floating_vcpus_on_a_cell_without_shared_cpus_are_refused():
    host, flavor, conf, placement = place(EXAMPLES["D1"])
    no_shared = ft.host(2, 8, shared=set(), dedicated=range(16))

    with pytest.raises(exception.InvalidGuestPlacement, match="no shared CPUs"):
        driver.get_guest_numa_config(placement, flavor, None, no_shared, conf)


def test_realtime_vcpus_must_be_pinned():
    host, _, conf, placement = place(EXAMPLES["D2"])
    # D2's flavor with a mask that makes floating vCPU 0 realtime.
    flavor = objects.Flavor(
        vcpus=4,
        memory_mb=2048,
        extra_specs={**EXAMPLES["D2"].specs, "hw:cpu_realtime_mask": "^1"},
    )

    # The edge that holds the flavor fills the placement's realtime vCPUs from it.
    placement = placement_policy.with_flavor_policy(placement, flavor, None)

    with pytest.raises(exception.InvalidGuestPlacement, match=r"realtime vCPU\(s\) 0 float"):
        driver.get_guest_numa_config(placement, flavor, None, host, conf)


# --- memory backing ----------------------------------------------------------------------


def test_small_pages_write_no_hugepages():
    host = huge_page_host()
    flavor = objects.Flavor(
        vcpus=2, memory_mb=1024, extra_specs={**DEDICATED, "hw:mem_page_size": "small"}
    )
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None)
    )
    assert placement.cells[0].pagesize == 4

    numa = driver.get_guest_numa_config(placement, flavor, None, host)
    assert driver.get_guest_memory_backing_config(placement, flavor, None, host) is None
    assert numa.numaconfig.cells[0].memAccess is None


def test_locked_memory_without_realtime():
    host = huge_page_host()
    flavor = objects.Flavor(
        vcpus=2,
        memory_mb=1024,
        extra_specs={**DEDICATED, "hw:mem_page_size": "2MB", "hw:locked_memory": "true"},
    )
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None)
    )

    backing = driver.get_guest_memory_backing_config(placement, flavor, None, host)

    assert (backing.locked, backing.sharedpages) == (True, True)
    assert [(p.size_kb, p.nodeset) for p in backing.hugepages] == [(2048, {0})]


def test_hugepage_nodeset_is_the_renumbered_guest_cell():
    """A guest whose cells land on host cells 1 and 0 still writes page nodesets 0 and 1."""
    host = huge_page_host()
    host.cells[0].mempages[1].used = 768  # 512 MiB of 2 MiB pages left on host cell 0
    flavor = objects.Flavor(
        vcpus=4,
        memory_mb=2048,
        extra_specs={
            **DEDICATED,
            "hw:mem_page_size": "2MB",
            "hw:numa_nodes": "2",
            "hw:numa_cpus.0": "0-1",
            "hw:numa_cpus.1": "2-3",
            "hw:numa_mem.0": "1536",
            "hw:numa_mem.1": "512",
        },
    )
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None)
    )
    assert [cell.id for cell in placement.cells] == [1, 0]

    numa = driver.get_guest_numa_config(placement, flavor, None, host)
    backing = driver.get_guest_memory_backing_config(placement, flavor, None, host)

    assert [(m.cellid, m.nodeset) for m in numa.numatune.memnodes] == [(0, {1}), (1, {0})]
    assert numa.numatune.memory.nodeset == {0, 1}
    assert [p.nodeset for p in backing.hugepages] == [{0}, {1}]


# --- the driver class -------------------------------------------------------------------


def test_libvirt_driver_methods_use_its_conf():
    example = EXAMPLES["C1"]
    host, flavor, conf, placement = place(example)
    libvirt_driver = driver.LibvirtDriver(conf)

    numa = libvirt_driver.get_guest_numa_config(placement, flavor, None, host)

    assert isinstance(libvirt_driver, base_driver.ComputeDriver)
    assert numa == driver.get_guest_numa_config(placement, flavor, None, host, conf)
    assert numa.cputune.emulatorpin.cpuset == {0, 1}  # cpu_shared_set of conf, cell 0's part
    assert libvirt_driver.get_guest_memory_backing_config(placement, flavor, None, host) is None


def test_build_guest_declares_the_iothread_and_flavor_sizes():
    host, flavor, conf, placement = place(EXAMPLES["A1"])

    guest = driver.build_guest(placement, flavor, None, host, conf, name="g", virt_type="qemu")

    assert (guest.name, guest.virt_type, guest.vcpus, guest.memory, guest.iothreads) == (
        "g",
        "qemu",
        4,
        2048 * 1024,
        1,
    )
    assert isinstance(guest.cpu, config.LibvirtConfigGuestCPU)
    assert guest.cpu.numa.cells[1].cpus == {2, 3}
