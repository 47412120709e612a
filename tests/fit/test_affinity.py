"""Closest host cells ([os_numa] prefer_closest_numa_cells) and network affinity
([neutron] physnets, [neutron_physnet_NAME] / [neutron_tunnel] numa_nodes)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.cmd.render_picture import render_host
from os_numa.fit import affinity
from os_numa.virt.libvirt import host as host_mod

AMD = (
    Path(__file__).resolve().parents[1] / "data" / "capabilities" / "amd-epyc-2s-nps4.xml"
).read_text()


def conf(closest=False, physnets=None, tunnel=None):
    physnets = physnets or {}
    result = os_numa_conf.make_conf(
        **{"os_numa.prefer_closest_numa_cells": closest, "neutron.physnets": sorted(physnets)}
    )
    os_numa_conf.register_network_opts(result)
    for name, nodes in physnets.items():
        result.set_override("numa_nodes", nodes, group=f"neutron_physnet_{name}")
    if tunnel is not None:
        result.set_override("numa_nodes", tunnel, group="neutron_tunnel")
    return result


def amd(cfg, used=(8, 16, 24)):
    topology = host_mod.host_topology_from_capabilities(AMD, conf=cfg)
    for cpu in used:
        for cell in topology.cells:
            if cpu in cell.pcpuset:
                cell.pin_cpus({cpu})
    return topology


def request(nodes=2, vcpus=4):
    flavor = objects.Flavor(
        vcpus=vcpus,
        memory_mb=1024 * nodes,
        extra_specs={"hw:cpu_policy": "dedicated", "hw:numa_nodes": str(nodes)},
    )
    return hardware.numa_get_constraints(flavor, None)


def cells(placement):
    return [c.id for c in placement.cells]


# --- distances ------------------------------------------------------------------------------


def test_distances_are_parsed():
    topology = amd(conf(), used=())
    assert topology.cells[0].distance_to(1) == 12
    assert topology.cells[0].distance_to(4) == 32
    assert topology.cells[5].distance_to(5) == 10


def test_issue_example_default_spreads_option_takes_the_closest():
    assert cells(hardware.numa_fit_instance_to_host(amd(conf()), request())) == [0, 4]
    closest = conf(closest=True)
    assert cells(hardware.numa_fit_instance_to_host(amd(closest), request(), conf=closest)) == [
        0,
        1,
    ]


def test_ties_are_broken_by_the_usual_order_and_are_stable():
    closest = conf(closest=True)
    host = amd(closest, used=())
    first = cells(hardware.numa_fit_instance_to_host(host, request(4, 8), conf=closest))
    assert first == [0, 1, 2, 3]  # one socket: distance 6 x 12, socket 0 first
    again = cells(hardware.numa_fit_instance_to_host(host, request(4, 8), conf=closest))
    assert again == first


def test_explain_names_the_distance():
    closest = conf(closest=True)
    report = hardware.explain_fit(amd(closest), request(), conf=closest)
    assert report.distance == 12
    assert "NUMA distance 12" in report.summary()
    assert hardware.explain_fit(amd(conf()), request()).distance is None


def test_picture_shows_the_distance():
    host = amd(conf(), used=())
    placement = hardware.numa_fit_instance_to_host(host, request())
    assert "NUMA distance between the guest's host cells: 0-1 12" in render_host(host, placement)


def test_a_host_without_distances_keeps_the_first_fit():
    from tests import fixtures_topology as ft

    closest = conf(closest=True)
    plain = ft.host(4, 4)
    expected = cells(hardware.numa_fit_instance_to_host(plain, request()))
    assert cells(hardware.numa_fit_instance_to_host(plain, request(), conf=closest)) == expected


@settings(max_examples=60, deadline=None)
@given(
    used=st.lists(st.integers(0, 63), max_size=40, unique=True),
    nodes=st.sampled_from([2, 3, 4]),
)
def test_closest_is_the_minimum_distance_among_sets_that_fit(used, nodes):
    closest = conf(closest=True)
    host = amd(closest, used=used)
    req = request(nodes, vcpus=nodes * 6)
    placement = hardware.numa_fit_instance_to_host(host, req, conf=closest)
    plain = hardware.numa_fit_instance_to_host(host, req)
    assert (placement is None) == (plain is None)
    if placement is None:
        return

    def cost(ids):
        return sum(host.cells[a].distance_to(b) for a, b in itertools.combinations(ids, 2))

    free = [len(c.free_pcpus) for c in host.cells]
    fitting = [s for s in itertools.combinations(range(8), nodes) if all(free[h] >= 6 for h in s)]
    assert cost(cells(placement)) == min(cost(s) for s in fitting)


# --- network affinity -----------------------------------------------------------------------


def test_host_cells_carry_their_networks():
    topology = amd(conf(physnets={"p1": [6], "p2": [0, 1]}, tunnel=[2]), used=())
    assert [c.physnets for c in topology.cells][:3] == [["p2"], ["p2"], []]
    assert topology.cells[6].physnets == ["p1"]
    assert [c.tunneled for c in topology.cells] == [False, False, True] + [False] * 5


def test_a_physnet_pulls_a_guest_cell_to_its_cells():
    cfg = conf(physnets={"p1": [6]})
    host = amd(cfg)
    assert cells(hardware.numa_fit_instance_to_host(host, request())) == [0, 4]
    placed = hardware.numa_fit_instance_to_host(
        host, request(), network_metadata={"physnets": ["p1"]}
    )
    assert 6 in cells(placed)


def test_tunneled_networks_and_novas_limits_form():
    cfg = conf(tunnel=[3])
    host = amd(cfg)

    class Limits:  # Nova's NUMATopologyLimits carries network_metadata
        cpu_allocation_ratio = 1.0
        ram_allocation_ratio = 1.0
        network_metadata = type("NetworkMetadata", (), {"physnets": set(), "tunneled": True})()

    assert 3 in cells(hardware.numa_fit_instance_to_host(host, request(), Limits()))


def test_a_physnet_without_affinity_asks_for_nothing():
    host = amd(conf(physnets={"p1": [6]}))
    meta = {"physnets": ["elsewhere"]}
    assert cells(hardware.numa_fit_instance_to_host(host, request(), network_metadata=meta)) == [
        0,
        4,
    ]


def test_refusal_names_the_network():
    cfg = conf(physnets={"p1": [6]})
    host = amd(cfg)
    host.cells[6].pin_cpus(set(host.cells[6].free_pcpus))
    meta = {"physnets": ["p1"]}
    assert hardware.numa_fit_instance_to_host(host, request(), network_metadata=meta) is None
    report = hardware.explain_fit(host, request(), network_metadata=meta)
    assert "physnet p1 is local to host cell(s) 6 and no guest cell fits any of them" in str(report)


def test_picture_shows_local_networks():
    host = amd(conf(physnets={"p1": [6]}, tunnel=[2]), used=())
    picture = render_host(host)
    assert "local networks: physnet p1" in picture
    assert "local networks: tunneled networks" in picture


def test_unknown_numa_node_is_refused():
    with pytest.raises(exception.InvalidConfiguration, match=r"neutron_physnet_p1\] numa_nodes"):
        amd(conf(physnets={"p1": [9]}))


def test_network_request_reads_every_form():
    assert affinity.network_request(None) is None
    assert affinity.network_request({"physnets": [], "tunneled": False}) is None
    assert affinity.network_request({"physnets": "p1"}) == affinity.NetworkRequest(
        frozenset({"p1"}), False
    )
