"""read_domain over random hosts and flavors: what the driver writes reads back as the
placement, with no drift, and accounts the same pCPUs, memory and pages."""

from __future__ import annotations

import random

import pytest

from os_numa import exception, hardware
from os_numa.objects import fields
from os_numa.virt.libvirt import domain_placement, driver
from tests import fixtures_topology as ft
from tests.fit import fuzz

CASES = 500


def _placed(rng: random.Random):
    """(host topology, flavor, placement) of one random case that fits, or None."""
    xml, truth = fuzz.random_host(rng)
    topology = fuzz.host_topology(xml, truth, rng)
    flavor = fuzz.random_flavor(rng)
    try:
        request = hardware.numa_get_constraints(flavor, None)
        if request is None:
            return None
        placement = hardware.numa_fit_instance_to_host(topology, request, conf=fuzz.conf())
    except exception.Invalid:
        return None
    return None if placement is None else (topology, flavor, placement)


def _written(rng: random.Random):
    """(host topology, flavor, placement, domain XML) of a random case, or None when it
    does not fit or the driver refuses to write it (named by the driver's own tests)."""
    placed = _placed(rng)
    if placed is None:
        return None
    topology, flavor, placement = placed
    try:
        xml = driver.build_guest(placement, flavor, None, topology, fuzz.conf()).to_xml()
    except exception.Invalid:
        return None
    return topology, flavor, placement, xml


def test_random_placements_read_back_exactly():
    rng = random.Random(20261205)
    read_back = 0
    for case in range(CASES):
        written = _written(rng)
        if written is None:
            continue
        topology, flavor, placement, xml = written
        read = domain_placement.read_domain(xml, topology)
        where = f"case {case}: {flavor.extra_specs}, placement {placement}"
        assert read.drift == (), f"{where}: {[str(d) for d in read.drift]}"
        assert domain_placement.enforced(read.placement) == domain_placement.enforced(placement), (
            where
        )
        isolate = fields.CPUThreadAllocationPolicy.ISOLATE
        if all(c.cpu_thread_policy != isolate for c in placement.cells):
            # Accounting the read placement holds what the real one holds; isolate's
            # siblings are the documented exception (the XML cannot show them).
            ours = hardware.numa_usage_from_instance_numa(topology, read.placement)
            theirs = hardware.numa_usage_from_instance_numa(topology, placement)
            assert ft.host_state(ours) == ft.host_state(theirs), where
        read_back += 1
    assert read_back >= 40, f"only {read_back} of {CASES} cases were placed and written"


@pytest.mark.parametrize("seed", range(3))
def test_different_placements_read_back_different(seed):
    """Distinct placements stay distinct when read back (the comparison has teeth)."""
    rng = random.Random(seed)
    seen: dict[tuple, str] = {}
    for _ in range(60):
        written = _written(rng)
        if written is None:
            continue
        topology, _, placement, xml = written
        key = domain_placement.enforced(domain_placement.read_domain(xml, topology).placement)
        assert key == domain_placement.enforced(placement)
        seen.setdefault(key, xml)
    assert len(seen) > 5
