"""The placement is the XML stage's only policy input.

The constraints record the realtime vCPUs and priority, locked memory and the
memory policy in the request, the fit copies them into the placement, and the
driver reads them there: a flavor passed to the driver is read for its vCPU
count only. Placements made elsewhere (Nova's objects, older versions) get the
fields where the flavor is at hand (``placement_policy.with_flavor_policy``); a
placement read back from a domain carries what the domain shows.
"""

from __future__ import annotations

import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.constraints import placement_policy
from os_numa.virt.libvirt import domain_placement, driver
from tests.virt.libvirt import examples

REALTIME = {
    "hw:cpu_policy": "dedicated",
    "hw:cpu_realtime": "yes",
    "hw:cpu_realtime_mask": "^0",
    "hw:cpu_realtime_priority": "50",
}
LOCKED = {"hw:cpu_policy": "dedicated", "hw:mem_page_size": "2MB", "hw:locked_memory": "yes"}
INTERLEAVE = {
    "hw:cpu_policy": "dedicated",
    "hw:numa_nodes": "2",
    "hw:numa_memory_policy": "interleave",
}


def _flavor(specs, vcpus=4):
    return objects.Flavor(vcpus=vcpus, memory_mb=2048, extra_specs=specs)


def _placed(specs, host=None, image=None):
    host = host or examples.huge_page_host()
    flavor = _flavor(specs)
    request = hardware.numa_get_constraints(flavor, image)
    placement = hardware.numa_fit_instance_to_host(host, request)
    assert placement is not None
    return host, flavor, placement


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (REALTIME, {"realtime_vcpus": {1, 2, 3}, "realtime_priority": 50}),
        (LOCKED, {"locked_memory": True, "realtime_vcpus": None}),
        (INTERLEAVE, {"memory_policy": "interleave", "locked_memory": None}),
        ({"hw:cpu_policy": "dedicated"}, dict.fromkeys(placement_policy.POLICY_FIELDS)),
    ],
)
def test_the_constraints_record_the_policy_and_the_fit_copies_it(specs, expected):
    flavor = _flavor(specs)
    request = hardware.numa_get_constraints(flavor, None)
    placement = hardware.numa_fit_instance_to_host(examples.huge_page_host(), request)
    for name, value in expected.items():
        assert getattr(request, name) == value, name
        assert getattr(placement, name) == value, name
    # The edge helper reads the same flavor to the same fields.
    assert {n: getattr(request, n) for n in placement_policy.POLICY_FIELDS} == (
        placement_policy.flavor_policy(flavor, None)
    )


def test_the_driver_reads_the_placement_not_the_flavor():
    host, flavor, placement = _placed(
        {**REALTIME, **LOCKED, "hw:numa_nodes": "2", "hw:numa_memory_policy": "interleave"}
    )
    plain = _flavor({"hw:cpu_policy": "dedicated"})
    conf = os_numa_conf.make_conf()

    with_specs = driver.build_guest(placement, flavor, None, host, conf).to_xml()
    without = driver.build_guest(placement, plain, None, host, conf).to_xml()

    assert with_specs == without
    numa = driver.get_guest_numa_config(placement, plain, None, host, conf)
    assert [(s.vcpus, s.priority) for s in numa.cputune.vcpusched] == [({1, 2, 3}, 50)]
    assert numa.numatune.memory.mode == "interleave"
    backing = driver.get_guest_memory_backing_config(placement, plain, None, host, conf)
    assert backing.locked and not backing.sharedpages


def test_a_realtime_flavor_does_not_make_a_plain_placement_realtime():
    host, _, placement = _placed({"hw:cpu_policy": "dedicated"})
    conf = os_numa_conf.make_conf()
    numa = driver.get_guest_numa_config(placement, _flavor(REALTIME), None, host, conf)
    assert numa.cputune.vcpusched == []
    assert driver.get_guest_memory_backing_config(placement, _flavor(REALTIME), None, host) is None


def test_with_flavor_policy_fills_a_copy():
    host, _, placement = _placed({"hw:cpu_policy": "dedicated"})
    before = placement.obj_to_primitive()

    filled = placement_policy.with_flavor_policy(placement, _flavor(REALTIME), None)

    assert placement.obj_to_primitive() == before
    assert (filled.realtime_vcpus, filled.realtime_priority) == ({1, 2, 3}, 50)
    assert placement_policy.with_flavor_policy(None, _flavor(REALTIME), None) is None
    numa = driver.get_guest_numa_config(filled, _flavor(REALTIME), None, host)
    assert [(s.vcpus, s.priority) for s in numa.cputune.vcpusched] == [({1, 2, 3}, 50)]


def test_with_flavor_policy_refuses_bad_specs_with_the_constraints_errors():
    _, _, placement = _placed({"hw:cpu_policy": "dedicated"})
    bad = _flavor({**REALTIME, "hw:cpu_realtime_priority": "100"})
    with pytest.raises(exception.InvalidRealtimePriority):
        placement_policy.with_flavor_policy(placement, bad, None)


def test_a_placement_of_an_older_version_is_filled_at_the_edge():
    """An 1.8 placement has no priority, locked memory or memory policy: the caller
    holding the flavor fills them, and the XML is the one a fresh placement gives."""
    host, flavor, placement = _placed({**REALTIME, **LOCKED})
    old = objects.InstanceNUMATopology.obj_from_primitive(
        placement.obj_to_primitive(target_version="1.8")
    )
    assert (old.realtime_priority, old.locked_memory) == (None, None)

    filled = placement_policy.with_flavor_policy(old, flavor, None)

    fresh = driver.build_guest(placement, flavor, None, host).to_xml()
    assert driver.build_guest(filled, flavor, None, host).to_xml() == fresh
    assert driver.build_guest(old, flavor, None, host).to_xml() != fresh


@pytest.mark.parametrize(
    "specs",
    [
        REALTIME,
        LOCKED,
        INTERLEAVE,
        {**REALTIME, **LOCKED, "hw:numa_nodes": "2", "hw:numa_memory_policy": "preferred"},
    ],
    ids=["realtime", "locked", "interleave", "all"],
)
def test_a_domain_read_back_rebuilds_the_same_xml(specs):
    host, flavor, placement = _placed(specs)
    xml = driver.build_guest(placement, flavor, None, host, name="rt").to_xml()

    read = domain_placement.read_domain(xml, host)

    assert read.drift == ()
    for name in ("realtime_priority", "memory_policy"):
        assert getattr(read.placement, name) == getattr(placement, name), name
    # Realtime locks memory by itself: <locked/> then says nothing of hw:locked_memory.
    locked = None if placement.realtime_vcpus else placement.locked_memory
    assert read.placement.locked_memory == locked
    assert driver.build_guest(read.placement, flavor, None, host, name="rt").to_xml() == xml
