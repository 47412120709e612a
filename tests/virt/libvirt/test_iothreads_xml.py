"""Several I/O threads end to end: fit, claim, scheduler request, overhead, XML."""

from __future__ import annotations

import pytest
from lxml import etree

from os_numa import exception, hardware, objects
from os_numa.scheduler import request as sched_request
from os_numa.virt.libvirt import driver
from tests import fixtures_topology as ft


def _flavor(specs, vcpus=4):
    return objects.Flavor(vcpus=vcpus, memory_mb=2048, extra_specs=specs)


def _place(host, flavor):
    return hardware.numa_fit_instance_to_host(host, hardware.numa_get_constraints(flavor, None))


def _pins(xml):
    tune = etree.fromstring(xml).find("cputune")
    emulator = tune.find("emulatorpin").get("cpuset")
    io = {int(p.get("iothread")): p.get("cpuset") for p in tune.findall("iothreadpin")}
    return emulator, io, etree.fromstring(xml).findtext("iothreads")


def test_shared_iothreads_follow_the_emulator(define_validated):
    flavor = _flavor({"hw:cpu_policy": "dedicated", "hw:iothreads": "3"})
    host = ft.host(2, 4)
    placement = _place(host, flavor)
    xml = define_validated(driver.build_guest(placement, flavor, None, host).to_xml())
    emulator, io, declared = _pins(xml)
    assert declared == "3"
    assert io == {1: emulator, 2: emulator, 3: emulator}


def test_isolated_iothreads_get_a_pcpu_each_beside_the_emulator(define_validated):
    specs = {
        "hw:cpu_policy": "dedicated",
        "hw:emulator_threads_policy": "isolate",
        "hw:iothreads": "2",
        "hw:iothreads_policy": "isolate",
    }
    flavor = _flavor(specs)
    host = ft.host(2, 8)
    placement = _place(host, flavor)
    cell = placement.cells[0]
    assert cell.cpu_pinning == {0: 0, 1: 1, 2: 2, 3: 3}
    assert cell.cpuset_reserved == {4, 5, 6}
    xml = define_validated(driver.build_guest(placement, flavor, None, host).to_xml())
    assert _pins(xml) == ("4", {1: "5", 2: "6"}, "2")
    # Counted like emulator pCPUs: the claim pins them, the scheduler asks for them.
    claimed = hardware.numa_usage_from_instance_numa(host, placement)
    assert claimed.cells[0].pinned_cpus == {0, 1, 2, 3, 4, 5, 6}
    request = sched_request.resources_from_request(flavor)
    assert request.resources["PCPU"] == 7
    assert driver.estimate_instance_overhead(flavor)["vcpus"] == 3
    assert driver.estimate_instance_overhead({"numa_topology": placement})["vcpus"] == 3


def test_isolated_iothreads_without_isolated_emulator(define_validated):
    specs = {"hw:cpu_policy": "dedicated", "hw:iothreads_policy": "isolate"}
    flavor = _flavor(specs)
    host = ft.host(1, 8)
    placement = _place(host, flavor)
    assert placement.cells[0].cpuset_reserved == {4}
    xml = define_validated(driver.build_guest(placement, flavor, None, host).to_xml())
    assert _pins(xml) == ("0-3", {1: "4"}, "1")
    primitive = placement.obj_to_primitive()
    assert driver.estimate_instance_overhead({"numa_topology": primitive})["vcpus"] == 1


def test_isolated_iothreads_need_room_in_guest_cell_0s_host_cell():
    specs = {"hw:cpu_policy": "dedicated", "hw:iothreads": "2", "hw:iothreads_policy": "isolate"}
    assert _place(ft.host(2, 5), _flavor(specs)) is None  # 4 + 2 > 5 pCPUs per cell
    assert _place(ft.host(2, 6), _flavor(specs)) is not None


def test_a_placement_without_the_reserved_pcpus_is_refused():
    specs = {"hw:cpu_policy": "dedicated", "hw:iothreads": "2", "hw:iothreads_policy": "isolate"}
    flavor = _flavor(specs)
    host = ft.host(1, 8)
    placement = _place(host, flavor)
    placement.cells[0].cpuset_reserved = {4}
    with pytest.raises(exception.InvalidGuestPlacement, match="2 reserved pCPU"):
        driver.get_guest_numa_config(placement, flavor, None, host)


def test_old_topologies_keep_one_shared_iothread():
    flavor = _flavor({"hw:cpu_policy": "dedicated"})
    host = ft.host(1, 8)
    placement = _place(host, flavor)
    old = objects.InstanceNUMATopology.obj_from_primitive(
        placement.obj_to_primitive(target_version="1.7")
    )
    emulator, io, declared = _pins(driver.build_guest(old, flavor, None, host).to_xml())
    assert declared == "1" and io == {1: emulator}
