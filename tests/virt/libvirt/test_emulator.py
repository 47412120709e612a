"""Emulator threads beyond Nova's rule: the mask, NUMA-local share, the pool, the priority.

The whole-way examples (flavor -> constraints -> fit -> XML, golden files, schema
and test-driver define) are E1-E8 of examples.py; here are the rules' edges and
refusals, and a property over generated flavors.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.fit import emulator_pin as emulator
from os_numa.virt.libvirt import driver
from tests import fixtures_topology as ft
from tests.virt.libvirt.examples import EXAMPLES, place, pool_host


def _numa(example_name, mutate=None, conf=None):
    host, flavor, example_conf, placement = place(EXAMPLES[example_name])
    if mutate is not None:
        mutate(placement)
    return driver.get_guest_numa_config(placement, flavor, None, host, conf or example_conf)


def test_mask_naming_a_vcpu_the_placement_lacks_is_refused():
    def mutate(placement):
        placement.emulator_threads_mask = {7}

    with pytest.raises(exception.InvalidGuestPlacement, match="vCPU.s. 7, which the placement"):
        _numa("E1-mask", mutate)


def test_mask_with_a_policy_is_refused():
    def mutate(placement):
        placement.emulator_threads_policy = "isolate"

    with pytest.raises(exception.InvalidGuestPlacement, match="both say where"):
        _numa("E7-isolate-count", lambda p: setattr(p, "emulator_threads_mask", {0}))
    with pytest.raises(exception.InvalidGuestPlacement, match="both say where"):
        _numa("E1-mask", mutate)


def test_mask_naming_a_realtime_vcpu_is_refused():
    with pytest.raises(exception.InvalidGuestPlacement, match="realtime vCPU.s. 2"):
        _numa("E2-mask-realtime", lambda p: setattr(p, "emulator_threads_mask", {1, 2}))


def test_mask_with_isolate_is_refused_by_the_constraints_with_a_clear_message():
    flavor = objects.Flavor(
        vcpus=2,
        memory_mb=64,
        extra_specs={
            "hw:cpu_policy": "dedicated",
            "hw:emulator_threads_policy": "isolate",
            "hw:emulator_threads_mask": "0",
        },
    )
    with pytest.raises(exception.InvalidEmulatorThreadsMask) as info:
        hardware.numa_get_constraints(flavor, None)
    assert "hw:emulator_threads_policy=isolate" in str(info.value)


def test_mask_of_a_floating_vcpu_is_its_cells_shared_cpus():
    """A hand-made mixed placement: vCPU 0 floats over host cell 0's shared CPUs 0-1."""
    host, flavor, conf, placement = place(EXAMPLES["D2"])
    placement.emulator_threads_mask = {0}
    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)
    assert numa.cputune.emulatorpin.cpuset == {0, 1}


def test_pool_without_a_pool_pcpu_is_refused():
    with pytest.raises(exception.EmulatorPinEmpty, match="no emulator_pool_cpu"):
        _numa("E6-pool", lambda p: setattr(p, "emulator_pool_cpu", None))


def test_pool_pcpu_outside_the_hosts_pool_is_refused():
    with pytest.raises(exception.InvalidGuestPlacement, match="emulator_pin_set: 0,4"):
        _numa("E6-pool", lambda p: setattr(p, "emulator_pool_cpu", 3))


def test_pool_pcpu_without_a_host_topology_is_written_as_is():
    _, flavor, conf, placement = place(EXAMPLES["E6-pool"])
    numa = driver.get_guest_numa_config(placement, flavor, None, None, conf)
    assert numa.cputune.emulatorpin.cpuset == {0}


LOCALITY = {
    "numa, guest on cell 0": ("numa", [0], {0, 1}),
    "numa, guest on both cells": ("numa", [0, 1], {0, 1, 8, 9}),
    "numa, guest on a cell without shared CPUs": ("numa", [2], {0, 1, 8, 9}),
    "host": ("host", [0], {0, 1, 8, 9}),
}


@pytest.mark.parametrize(("locality", "cells", "expected"), LOCALITY.values(), ids=LOCALITY)
def test_local_shared_cpus(locality, cells, expected):
    host = ft.host(3, 8, shared={0, 1, 8, 9}, dedicated=set(range(24)) - {0, 1, 8, 9})
    placed = [driver.PlacedCell(i, c, {}, 64, None, frozenset()) for i, c in enumerate(cells)]
    shared = {0, 1, 8, 9}
    assert emulator.local_shared_cpus(shared, placed, host, locality) == expected
    assert emulator.local_shared_cpus(shared, placed, None, locality) == shared


def test_unknown_locality_is_refused_by_the_option():
    conf = os_numa_conf.make_conf()
    with pytest.raises(ValueError):
        conf.set_override("emulator_share_locality", "socket", group="os_numa")


@pytest.mark.parametrize(
    ("flavor_priority", "conf_priority", "written"), [(None, 7, 7), (50, 7, 50)]
)
def test_flavor_priority_overrides_the_option(flavor_priority, conf_priority, written):
    specs = {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"}
    if flavor_priority is not None:
        specs["hw:cpu_realtime_priority"] = str(flavor_priority)
    flavor = objects.Flavor(vcpus=2, memory_mb=64, extra_specs=specs)
    host = ft.a1_host()
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None)
    )
    conf = os_numa_conf.make_conf(**{"libvirt.realtime_scheduler_priority": conf_priority})
    numa = driver.get_guest_numa_config(placement, flavor, None, host, conf)
    assert [(s.vcpus, s.priority) for s in numa.cputune.vcpusched] == [({1}, written)]


# --- property: every extension keeps the emulator threads off realtime pCPUs ---------------

SHARED_SET = "0,8"


@settings(max_examples=60, deadline=None)
@given(
    vcpus=st.integers(2, 6),
    nodes=st.sampled_from([1, 2]),
    feature=st.sampled_from(["mask", "share-numa", "share-host", "pool", "count"]),
    realtime=st.booleans(),
    count=st.integers(1, 2),
    data=st.data(),
)
def test_emulator_threads_land_where_the_feature_says(vcpus, nodes, feature, realtime, count, data):
    if vcpus % nodes:
        vcpus += 1
    specs = {"hw:cpu_policy": "dedicated", "hw:numa_nodes": str(nodes)}
    rt = set()
    if realtime:
        specs.update({"hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"})
        rt = set(range(1, vcpus))
    conf = {"compute.cpu_shared_set": SHARED_SET, "compute.cpu_dedicated_set": "1-7,9-15"}
    host = ft.host(2, 8, shared={0, 8}, dedicated=set(range(16)) - {0, 8})
    mask = None
    if feature == "mask":
        allowed = sorted(set(range(vcpus)) - rt)
        mask = data.draw(st.sets(st.sampled_from(allowed), min_size=1))
        specs["hw:emulator_threads_mask"] = ",".join(map(str, sorted(mask)))
    elif feature.startswith("share"):
        specs["hw:emulator_threads_policy"] = "share"
        conf["os_numa.emulator_share_locality"] = feature.split("-")[1]
    elif feature == "pool":
        specs["hw:emulator_threads_policy"] = "pool"
        host = pool_host()
        conf = {}
    else:
        specs.update({"hw:emulator_threads_policy": "isolate"})
        specs["hw:emulator_threads_count"] = str(count)
    flavor = objects.Flavor(vcpus=vcpus, memory_mb=256 * nodes, extra_specs=specs)
    conf = os_numa_conf.make_conf(**conf)
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None), conf=conf
    )
    if placement is None:
        return  # the pool host is small; a no-fit is the fit's business, tested elsewhere
    cputune = driver.get_guest_numa_config(placement, flavor, None, host, conf).cputune
    pins = {pin.id: set(pin.cpuset) for pin in cputune.vcpupin}
    emulator_cpus = set(cputune.emulatorpin.cpuset)
    assert emulator_cpus and [set(p.cpuset) for p in cputune.iothreadpin] == [emulator_cpus]
    assert not emulator_cpus & set().union(*(pins[v] for v in rt))
    host_cells = {cell.id for cell in placement.cells}
    if feature == "mask":
        assert emulator_cpus == set().union(*(pins[v] for v in mask))
    elif feature == "share-numa":
        assert emulator_cpus == {cpu for cpu in (0, 8) if cpu // 8 in host_cells}
    elif feature == "share-host":
        assert emulator_cpus == {0, 8}
    elif feature == "pool":
        assert emulator_cpus == {placement.emulator_pool_cpu}
        assert placement.emulator_pool_cpu // 4 == placement.cells[0].id
    else:
        assert emulator_cpus == placement.cells[0].cpuset_reserved
        assert len(emulator_cpus) == count
        assert driver.estimate_instance_overhead(flavor)["vcpus"] == count


@settings(max_examples=25, deadline=None)
@given(flavor_priority=st.one_of(st.none(), st.integers(1, 99)), conf_priority=st.integers(1, 99))
def test_vcpusched_priority_is_the_flavors_else_the_options(flavor_priority, conf_priority):
    specs = {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"}
    if flavor_priority is not None:
        specs["hw:cpu_realtime_priority"] = str(flavor_priority)
    flavor = objects.Flavor(vcpus=3, memory_mb=64, extra_specs=specs)
    host = ft.a1_host()
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None)
    )
    conf = os_numa_conf.make_conf(**{"libvirt.realtime_scheduler_priority": conf_priority})
    (sched,) = driver.get_guest_numa_config(placement, flavor, None, host, conf).cputune.vcpusched
    assert sched.priority == (flavor_priority or conf_priority)
    assert f'priority="{sched.priority}"' in sched.to_xml()


@pytest.mark.parametrize("value", ["0", "100", "high", "1.5"])
def test_invalid_flavor_priority_is_refused_before_any_xml(value):
    specs = {
        "hw:cpu_policy": "dedicated",
        "hw:cpu_realtime": "yes",
        "hw:cpu_realtime_mask": "^0",
        "hw:cpu_realtime_priority": value,
    }
    flavor = objects.Flavor(vcpus=2, memory_mb=64, extra_specs=specs)
    with pytest.raises(exception.InvalidRealtimePriority, match="hw:cpu_realtime_priority"):
        hardware.numa_get_constraints(flavor, None)
