"""Property tests: for any flavor that fits a named host, the driver's XML is complete,
never empty, keeps emulator threads off realtime and isolated pCPUs, and libvirt's
schema accepts it; or the driver refuses with one of its typed errors."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.virt.libvirt import driver
from tests import fixtures_topology as ft
from tests.virt.libvirt.examples import C1_SETS, huge_page_host

# (host factory, [compute] options the host was built with)
HOSTS = {
    "a1": (ft.a1_host, {}),
    "a3-smt": (ft.a3_host, {}),
    "c1-new-style": (ft.c1_host, C1_SETS),
    "2x8": (lambda: ft.host(2, 8), {}),
    "hugepages": (huge_page_host, {}),
}


@st.composite
def flavors(draw):
    vcpus = draw(st.integers(1, 6))
    specs = {"hw:cpu_policy": draw(st.sampled_from(["dedicated", "dedicated", "mixed"]))}
    if specs["hw:cpu_policy"] == "mixed":
        assume(vcpus >= 2)
        pinned = draw(st.sets(st.integers(0, vcpus - 1), min_size=1, max_size=vcpus - 1))
        specs["hw:cpu_dedicated_mask"] = ",".join(map(str, sorted(pinned)))
    emulator = draw(st.sampled_from([None, "share", "isolate"]))
    if emulator:
        specs["hw:emulator_threads_policy"] = emulator
    if draw(st.booleans()) and specs["hw:cpu_policy"] == "dedicated":
        specs["hw:cpu_realtime"] = "yes"
        mask = draw(st.sampled_from([None, "^0", "^0-1", "1"]))
        if mask:
            specs["hw:cpu_realtime_mask"] = mask
    if vcpus % 2 == 0 and draw(st.booleans()):
        specs["hw:numa_nodes"] = "2"
    if draw(st.booleans()):
        specs["hw:mem_page_size"] = draw(st.sampled_from(["small", "2MB", "any"]))
    return objects.Flavor(vcpus=vcpus, memory_mb=512 * vcpus, extra_specs=specs)


def _place(host_name, flavor):
    factory, options = HOSTS[host_name]
    host = factory()
    try:
        request = hardware.numa_get_constraints(flavor, None)
    except exception.Invalid:
        assume(False)  # a flavor the API would refuse; constraints are tested elsewhere
    placement = hardware.numa_fit_instance_to_host(host, request)
    assume(placement is not None)
    return host, os_numa_conf.make_conf(**options), placement


@pytest.fixture(scope="module")
def schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse("/usr/share/libvirt/schemas/domain.rng"))


@settings(max_examples=80, deadline=None)
@given(host_name=st.sampled_from(sorted(HOSTS)), flavor=flavors())
def test_driver_xml_invariants(schema, host_name, flavor):
    host, conf, placement = _place(host_name, flavor)
    specs = flavor.extra_specs
    policy = specs.get("hw:emulator_threads_policy")
    realtime = hardware.get_realtime_cpu_constraint(flavor, None) or set()
    shared_set = conf.compute.cpu_shared_set

    if realtime and policy == "share" and not shared_set:
        # Nova's rule: realtime + share needs cpu_shared_set; never an empty pin set.
        with pytest.raises((exception.EmulatorPinEmpty, exception.RealtimeMaskNotFoundOrInvalid)):
            driver.build_guest(placement, flavor, None, host, conf)
        return

    guest = driver.build_guest(placement, flavor, None, host, conf)

    host_cpus = {c for cell in host.cells for c in set(cell.cpuset) | set(cell.pcpuset)}
    pins = {pin.id: pin.cpuset for pin in guest.cputune.vcpupin}
    assert sorted(pins) == list(range(flavor.vcpus))
    assert all(cpus and cpus <= host_cpus for cpus in pins.values())
    emulator = guest.cputune.emulatorpin.cpuset
    assert emulator and emulator <= host_cpus
    assert [(p.iothread, p.cpuset) for p in guest.cputune.iothreadpin] == [(1, emulator)]
    pinned = {
        vcpu: pin.cpu_pinning[vcpu] for pin in placement.cells for vcpu in pin.cpu_pinning or {}
    }
    if policy == "isolate":
        assert len(emulator) == 1 and emulator.isdisjoint(pinned.values())
    assert emulator.isdisjoint(pinned[v] for v in realtime)
    if realtime:
        assert [s.vcpus for s in guest.cputune.vcpusched] == [realtime]
        assert guest.membacking.locked and not guest.membacking.sharedpages
    else:
        assert guest.cputune.vcpusched == []
    assert [m.cellid for m in guest.numatune.memnodes] == list(range(len(placement.cells)))
    assert schema.validate(etree.fromstring(guest.to_xml())), schema.error_log
