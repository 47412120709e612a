"""``<numatune>`` per hw:numa_memory_policy, validated and defined on test:///default."""

from __future__ import annotations

import pytest
from lxml import etree

from os_numa import hardware, objects
from os_numa.virt.libvirt import driver
from tests import fixtures_topology as ft


def _build(policy, nodes=2, image=None):
    specs = {"hw:cpu_policy": "dedicated", "hw:numa_nodes": str(nodes)}
    if policy:
        specs["hw:numa_memory_policy"] = policy
    flavor = objects.Flavor(vcpus=4, memory_mb=2048, extra_specs=specs)
    host = ft.host(3, 4)
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, image)
    )
    return placement, driver.build_guest(placement, flavor, image, host).to_xml()


def _numatune(xml):
    tune = etree.fromstring(xml).find("numatune")
    memory = tune.find("memory")
    return (
        (memory.get("mode"), memory.get("nodeset")),
        [(m.get("cellid"), m.get("mode"), m.get("nodeset")) for m in tune.findall("memnode")],
    )


def test_default_is_novas_strict():
    placement, xml = _build(None)
    a, b = (c.id for c in placement.cells)
    memory, memnodes = _numatune(xml)
    assert memory[0] == "strict"
    assert memnodes == [("0", "strict", str(a)), ("1", "strict", str(b))]


@pytest.mark.parametrize("policy", ["strict", "restrictive"])
def test_binding_modes_keep_each_cell_on_its_host_cell(policy, define_validated):
    placement, xml = _build(policy)
    a, b = (c.id for c in placement.cells)
    memory, memnodes = _numatune(define_validated(xml))
    assert memory[0] == policy
    assert memnodes == [("0", policy, str(a)), ("1", policy, str(b))]


def test_preferred_prefers_guest_cell_0s_host_cell_for_the_rest(define_validated):
    placement, xml = _build("preferred")
    a, b = (c.id for c in placement.cells)
    memory, memnodes = _numatune(define_validated(xml))
    assert memory == ("preferred", str(a))
    assert memnodes == [("0", "preferred", str(a)), ("1", "preferred", str(b))]


def test_interleave_spreads_over_every_host_cell_of_the_guest(define_validated):
    placement, xml = _build("interleave")
    hosts = sorted(c.id for c in placement.cells)
    spec = ",".join(map(str, hosts)) if hosts[1] != hosts[0] + 1 else f"{hosts[0]}-{hosts[1]}"
    memory, memnodes = _numatune(define_validated(xml))
    assert memory == ("interleave", spec)
    assert memnodes == [("0", "interleave", spec), ("1", "interleave", spec)]


def test_image_policy_reaches_the_xml(define_validated):
    image = objects.ImageMeta.from_dict({"properties": {"hw_numa_memory_policy": "preferred"}})
    _, xml = _build(None, nodes=1, image=image)
    memory, memnodes = _numatune(define_validated(xml))
    assert memory[0] == "preferred" and memnodes[0][1] == "preferred"
