"""``<cpu><topology>`` in the guest XML: when it is written, NUMA and SMT consistency."""

from __future__ import annotations

from lxml import etree

from os_numa import conf as os_numa_conf
from os_numa import hardware, objects
from os_numa.virt.libvirt import driver
from tests import fixtures_topology as ft


def _flavor(specs, vcpus=4, memory_mb=4096):
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs)


def _place(host, flavor, image=None):
    request = hardware.numa_get_constraints(flavor, image)
    placement = hardware.numa_fit_instance_to_host(host, request)
    assert placement is not None
    return placement


def _topology(xml: str):
    element = etree.fromstring(xml).find("cpu/topology")
    if element is None:
        return None
    return tuple(int(element.get(n)) for n in ("sockets", "cores", "threads"))


def test_no_topology_unless_asked():
    host = ft.host(2, 4)
    flavor = _flavor({"hw:cpu_policy": "dedicated"})
    placement = _place(host, flavor)
    xml = driver.build_guest(placement, flavor, None, host).to_xml()
    assert _topology(xml) is None


def test_always_writes_novas_topology(define_validated):
    conf = os_numa_conf.make_conf(**{"os_numa.guest_cpu_topology": "always"})
    xml = driver.build_guest(None, _flavor({}), None, None, conf).to_xml()
    assert _topology(xml) == (4, 1, 1)
    assert _topology(define_validated(xml)) == (4, 1, 1)


def test_requested_topology_with_numa_is_defined(define_validated):
    host = ft.host(2, 4)
    flavor = _flavor(
        {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2", "hw:cpu_sockets": "2"}, vcpus=8
    )
    placement = _place(host, flavor)
    xml = driver.build_guest(placement, flavor, None, host).to_xml()
    assert _topology(xml) == (2, 4, 1)
    assert _topology(define_validated(xml)) == (2, 4, 1)


def test_image_topology_on_a_floating_guest(define_validated):
    image = objects.ImageMeta.from_dict({"properties": {"hw_cpu_threads": 2}})
    xml = driver.build_guest(None, _flavor({}), image, None).to_xml()
    assert _topology(define_validated(xml)) == (2, 1, 2)


def _siblings(host):
    return {cpu: frozenset(g) for cell in host.cells for g in cell.siblings for cpu in g}


def test_require_makes_guest_threads_host_siblings(define_validated):
    host = ft.host(2, 4, 2)
    flavor = _flavor({"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require"})
    placement = _place(host, flavor)
    xml = driver.build_guest(placement, flavor, None, host).to_xml()
    sockets, cores, threads = _topology(define_validated(xml))
    assert threads == 2 and sockets * cores * threads == 4
    pins = {v: p for c in placement.cells for v, p in c.cpu_pinning.items()}
    siblings = _siblings(host)
    for core in range(4 // threads):
        pcpus = {pins[v] for v in range(core * threads, (core + 1) * threads)}
        assert pcpus <= siblings[min(pcpus)], (core, pcpus)


def test_require_with_an_odd_guest_cell_keeps_one_thread():
    # Guest cell 1 starts at vCPU 1: vCPUs 0 and 1 are pinned on different host cores and
    # live in different guest cells, so a 2-thread guest core would be a lie.
    host = ft.host(2, 4, 2)
    specs = {
        "hw:cpu_policy": "dedicated",
        "hw:cpu_thread_policy": "require",
        "hw:numa_nodes": "2",
        "hw:numa_cpus.0": "0",
        "hw:numa_cpus.1": "1-2",
        "hw:numa_mem.0": "1024",
        "hw:numa_mem.1": "2048",
    }
    flavor = _flavor(specs, vcpus=3, memory_mb=3072)
    placement = _place(host, flavor)
    xml = driver.build_guest(placement, flavor, None, host).to_xml()
    assert _topology(xml) == (3, 1, 1)


def test_require_guest_threads_follow_a_four_thread_host(define_validated):
    host = ft.host(1, 2, 4)
    flavor = _flavor({"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require"}, vcpus=8)
    placement = _place(host, flavor)
    xml = define_validated(driver.build_guest(placement, flavor, None, host).to_xml())
    assert _topology(xml) == (2, 1, 4)


def test_preference_still_wins_over_siblings_when_both_are_possible():
    host = ft.host(1, 4, 2)
    specs = {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require", "hw:cpu_threads": "1"}
    flavor = _flavor(specs)
    placement = _place(host, flavor)
    assert _topology(driver.build_guest(placement, flavor, None, host).to_xml()) == (4, 1, 1)
