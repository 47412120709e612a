"""The device part of the fit, against a brute-force reference over every permutation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import hardware, objects
from os_numa.fit import device_reasons, device_search
from os_numa.fit.device_search import HostCellInfo
from os_numa.pci.devices import PciAddress, PciDevice
from os_numa.pci.request import PciRequest, parse_alias_spec, parse_aliases
from os_numa.pci.stats import PciDeviceStats
from tests.fixtures_topology import sample_host
from tests.pci.builders import sample_stats

SPECS = {"A": ("8086", "154c"), "B": ("15b3", "1018")}


def _devices(layout):
    """layout: [(numa node or None, spec letter), ...] -> PciDevices with distinct addresses."""
    return [
        PciDevice(PciAddress(0, 0x10 + i, 0, 0), *SPECS[spec], node)
        for i, (node, spec) in enumerate(layout)
    ]


def _request(alias, count, policy, specs="A"):
    return PciRequest(alias, count, tuple(SPECS[s] for s in specs), None, policy)


# --- brute force: Nova's method, every ordered permutation in preference order ---------------


def _allowed_nodes(policy, chosen_ids, hosts, relaxed):
    sockets = {c.socket for c in hosts if c.id in chosen_ids} - {None}
    same_socket = chosen_ids | {c.id for c in hosts if c.socket in sockets}
    return {
        "required": lambda node: node in chosen_ids,
        "legacy": lambda node: node is None or node in chosen_ids,
        "socket": lambda node: node is not None and node in same_socket,
        # preferred, by level: local only; also no NUMA information; anything.
        "preferred": [
            lambda node: node in chosen_ids,
            lambda node: node is None or node in chosen_ids,
            lambda node: True,
        ][relaxed],
    }[policy]


def _servable(requests, devices, chosen_ids, hosts, relaxed):
    """Exhaustive: give each request distinct allowed matching devices."""
    allowed = [
        [
            i
            for i, d in enumerate(devices)
            if (d.vendor_id, d.product_id) in r.ids
            and _allowed_nodes(r.policy, chosen_ids, hosts, relaxed)(d.numa_node)
        ]
        for r in requests
    ]

    def go(index, used):
        if index == len(requests):
            return True
        for combo in itertools.combinations(
            [i for i in allowed[index] if i not in used], requests[index].count
        ):
            if go(index + 1, used | set(combo)):
                return True
        return False

    return go(0, frozenset())


def brute_force(k, hosts, order, feasible, requests, devices):
    phases = [0, 1, 2] if any(r.policy == "preferred" for r in requests) else [0]
    for relaxed in phases:
        for perm in itertools.permutations(order, k):
            if not all(feasible(g, h) for g, h in enumerate(perm)):
                continue
            ids = {hosts[h].id for h in perm}
            if _servable(requests, devices, ids, hosts, relaxed):
                return perm, relaxed
    return None


def _check_devices(result, k, hosts, requests):
    ids = {hosts[h].id for h in result.assignment}
    addresses = [a.device.address for a in result.devices]
    assert len(addresses) == len(set(addresses))
    for r in requests:
        mine = [a for a in result.devices if a.alias == r.alias]
        assert len(mine) == r.count
        ok = _allowed_nodes(r.policy, ids, hosts, result.relaxed)
        assert all(ok(a.device.numa_node) and r.matches(a.device) for a in mine)
        for a in mine:
            if a.device.numa_node in ids:
                assert hosts[result.assignment[a.guest_cell]].id == a.device.numa_node


# --- named scenarios --------------------------------------------------------------------------

TWO_SOCKETS = (HostCellInfo(0, 0), HostCellInfo(1, 0), HostCellInfo(2, 1), HostCellInfo(3, 1))


def _everything(_g, _h):
    return True


SCENARIOS = {
    # name: (k, hosts, feasible, device layout, requests, expected assignment, relaxed level)
    "required pulls the guest to the device cell": (
        1,
        TWO_SOCKETS,
        _everything,
        [(2, "A")],
        [_request("nic", 1, "required")],
        (2,),
        device_search.STRICT,
    ),
    "required needs both device cells": (
        2,
        TWO_SOCKETS,
        _everything,
        [(1, "A"), (3, "A")],
        [_request("nic", 2, "required")],
        (1, 3),
        device_search.STRICT,
    ),
    "required impossible when the devices sit where the guest cannot": (
        1,
        TWO_SOCKETS,
        lambda g, h: h != 2,
        [(2, "A")],
        [_request("nic", 1, "required")],
        None,
        device_search.STRICT,
    ),
    "preferred falls back to any cell": (
        1,
        TWO_SOCKETS,
        lambda g, h: h != 2,
        [(2, "A")],
        [_request("nic", 1, "preferred")],
        (0,),
        device_search.ANYWHERE,
    ),
    "preferred stays local when it can": (
        1,
        TWO_SOCKETS,
        _everything,
        [(3, "A")],
        [_request("nic", 1, "preferred")],
        (3,),
        device_search.STRICT,
    ),
    "legacy takes devices without NUMA information anywhere": (
        1,
        TWO_SOCKETS,
        _everything,
        [(None, "A")],
        [_request("gpu", 1, "legacy")],
        (0,),
        device_search.STRICT,
    ),
    "required refuses devices without NUMA information": (
        1,
        TWO_SOCKETS,
        _everything,
        [(None, "A")],
        [_request("gpu", 1, "required")],
        None,
        device_search.STRICT,
    ),
    "socket accepts the other cell of the socket": (
        1,
        TWO_SOCKETS,
        lambda g, h: h == 2,
        [(3, "A")],
        [_request("nic", 1, "socket")],
        (2,),
        device_search.STRICT,
    ),
    "socket pulls the guest onto the device's socket": (
        1,
        TWO_SOCKETS,
        _everything,
        [(3, "A")],
        [_request("nic", 1, "socket")],
        (2,),
        device_search.STRICT,
    ),
    "socket refuses the other socket": (
        1,
        TWO_SOCKETS,
        lambda g, h: h == 0,
        [(3, "A")],
        [_request("nic", 1, "socket")],
        None,
        device_search.STRICT,
    ),
    "a larger witness can give an earlier assignment": (
        2,
        TWO_SOCKETS,
        _everything,
        [(0, "A"), (1, "A"), (2, "A"), (2, "A")],
        [_request("nic", 2, "required")],
        (0, 1),
        device_search.STRICT,
    ),
    "preferred keeps a NIC local beside a GPU without NUMA information": (
        1,
        TWO_SOCKETS,
        _everything,
        [(None, "B"), (1, "A")],
        [_request("gpu", 1, "preferred", "B"), _request("nic", 1, "preferred", "A")],
        (1,),
        device_search.NO_NUMA_OK,
    ),
    "preferred goes anywhere only when no-NUMA devices are not enough": (
        1,
        TWO_SOCKETS,
        _everything,
        [(None, "B"), (3, "B"), (1, "A")],
        [_request("gpu", 2, "preferred", "B"), _request("nic", 1, "preferred", "A")],
        (0,),
        device_search.ANYWHERE,
    ),
    "two aliases on two cells couple the guest cells": (
        2,
        TWO_SOCKETS,
        _everything,
        [(1, "A"), (2, "B")],
        [_request("a", 1, "required", "A"), _request("b", 1, "required", "B")],
        (1, 2),
        device_search.STRICT,
    ),
}


#: WITNESS_BUDGET values forcing each method: Hall rules always, witnesses always.
METHODS = {"hall": -1, "witnesses": 10**9}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios(name, method, monkeypatch):
    monkeypatch.setattr(device_search, "WITNESS_BUDGET", METHODS[method])
    k, hosts, feasible, layout, requests, expected, relaxed = SCENARIOS[name]
    devices = _devices(layout)
    order = tuple(range(len(hosts)))
    got = device_search.find_device_assignment(
        k, hosts, order, feasible, requests, PciDeviceStats(devices)
    )
    reference = brute_force(k, hosts, order, feasible, requests, devices)
    assert (reference[0] if reference else None) == expected
    if expected is None:
        assert got is None
        return
    assert (got.assignment, got.relaxed) == (expected, relaxed)
    _check_devices(got, k, hosts, requests)


def test_guest_cell_of_same_socket_device_and_unknown_node():
    devices = _devices([(3, "A"), (None, "B")])
    requests = [_request("nic", 1, "socket", "A"), _request("gpu", 1, "legacy", "B")]
    got = device_search.find_device_assignment(
        2, TWO_SOCKETS, (0, 1, 2, 3), _everything, requests, PciDeviceStats(devices)
    )
    # Guest cells land on 0 and 1 (socket 0); the NIC on cell 3 needs socket 1: guest cell 1
    # moves to cell 2, and the NIC is local to guest cell 1 through its socket.
    assert got.assignment == (0, 2)
    nic, gpu = got.devices
    assert (nic.guest_cell, nic.locality) == (1, device_search.SAME_SOCKET)
    assert (gpu.guest_cell, gpu.host_index, gpu.locality) == (
        None,
        None,
        device_search.NO_NUMA_INFO,
    )


def test_devices_are_picked_lowest_address_first_and_inputs_untouched():
    devices = _devices([(0, "A"), (0, "A"), (0, "A")])
    stats = PciDeviceStats(devices)
    stats.claim([devices[0].address])
    got = device_search.find_device_assignment(
        1, TWO_SOCKETS, (0, 1, 2, 3), _everything, [_request("nic", 1, "required")], stats
    )
    assert [a.device.address for a in got.devices] == [devices[1].address]
    assert stats.used == {devices[0].address}


def test_pf_and_own_vf_never_given_together():
    pf = PciDevice(
        PciAddress(0, 0x18, 0, 0),
        "8086",
        "1572",
        0,
        "type-PF",
        virt_functions=(PciAddress(0, 0x19, 2, 0),),
    )
    vf = PciDevice(PciAddress(0, 0x19, 2, 0), "8086", "154c", 0, "type-VF", parent=pf.address)
    pf_req = PciRequest("pf", 1, (("8086", "1572"),), "type-PF", "required")
    vf_req = PciRequest("vf", 1, (("8086", "154c"),), "type-VF", "required")
    stats = PciDeviceStats([pf, vf])
    one = device_search.find_device_assignment(
        1, TWO_SOCKETS, (0, 1, 2, 3), _everything, [vf_req], stats
    )
    assert [a.device.address for a in one.devices] == [vf.address]
    assert (
        device_search.find_device_assignment(
            1, TWO_SOCKETS, (0, 1, 2, 3), _everything, [pf_req, vf_req], stats
        )
        is None
    )
    # A second PF without free VFs: the guest gets it whole, and the first PF's VF.
    spare = PciDevice(PciAddress(0, 0x18, 0, 1), "8086", "1572", 0, "type-PF")
    both = device_search.find_device_assignment(
        1, TWO_SOCKETS, (0, 1, 2, 3), _everything, [pf_req, vf_req], PciDeviceStats([pf, vf, spare])
    )
    assert [a.device.address for a in both.devices] == [spare.address, vf.address]


def test_explain_names_the_failing_alias():
    hosts = (HostCellInfo(0, 0), HostCellInfo(1, 1))
    devices = _devices([(0, "A"), (1, "A"), (1, "A"), (1, "A")])
    requests = [_request("nic1", 2, "required")]
    lines = device_reasons.request_lines(hosts, (0,), requests, PciDeviceStats(devices))
    assert lines == [
        "alias nic1: 2 devices requested on the guest's cells {0}, 1 free there, "
        "3 free on cell 1; policy required"
    ]
    lines = device_reasons.request_lines(
        hosts, (0,), [_request("nic1", 5, "legacy")], PciDeviceStats(devices)
    )
    assert lines == [
        "alias nic1: 5 devices requested, 4 free on the whole host "
        "(1 free on cell 0, 3 free on cell 1); policy legacy"
    ]


# --- property: the search equals brute force ----------------------------------------------------


@st.composite
def problems(draw):
    n = draw(st.integers(1, 5))
    k = draw(st.integers(1, min(n, 3)))
    hosts = tuple(HostCellInfo(10 + i, draw(st.sampled_from([0, 1, None]))) for i in range(n))
    order = tuple(draw(st.permutations(range(n))))
    # Mostly feasible pairs, so the device constraint is what decides.
    matrix = [[draw(st.integers(0, 4)) > 0 for _ in range(n)] for _ in range(k)]
    nodes = [c.id for c in hosts] + [None, 99]
    layout = draw(
        st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from("AB")), min_size=1, max_size=8)
    )
    requests = [
        _request(
            f"r{i}",
            draw(st.integers(1, 2)),
            draw(st.sampled_from(["required", "legacy", "preferred", "socket"])),
            draw(st.sampled_from(["A", "B", "AB"])),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    devices = _devices(layout)
    used = draw(st.sets(st.sampled_from([d.address for d in devices]), max_size=2))
    return k, hosts, order, matrix, devices, requests, used


def _compare(problem):
    k, hosts, order, matrix, devices, requests, used = problem

    def feasible(g, h):
        return matrix[g][h]

    stats = PciDeviceStats(devices, used=used)
    got = device_search.find_device_assignment(k, hosts, order, feasible, requests, stats)
    free = [d for d in devices if d.address not in used]
    reference = brute_force(k, hosts, order, feasible, requests, free)
    assert stats.used == used  # the search claims nothing
    if reference is None:
        assert got is None
    else:
        assert got is not None
        assert (got.assignment, got.relaxed) == reference
        _check_devices(got, k, hosts, requests)
        stats.claim([a.device.address for a in got.devices])  # claimable as placed


@settings(max_examples=200, deadline=None)
@given(problems())
def test_place_matches_brute_force(problem):
    _compare(problem)


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(max_examples=100, deadline=None)
@given(problem=problems())
def test_each_method_matches_brute_force(method, problem):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(device_search, "WITNESS_BUDGET", METHODS[method])
        _compare(problem)


# --- through numa_fit_instance_to_host / explain_fit on real capabilities ------------------------


def _guest(nodes=1, vcpus=4):
    flavor = objects.Flavor(
        vcpus=vcpus,
        memory_mb=2048,
        extra_specs={"hw:cpu_policy": "dedicated", "hw:numa_nodes": str(nodes)},
    )
    return hardware.numa_get_constraints(flavor, None)


ALIASES = parse_aliases(
    [
        '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}',
        '{"name": "gpu", "vendor_id": "10de", "product_id": "1eb8"}',
    ]
)


def _where(placement):
    """(host cell per guest cell, [(device, host node, guest cell)]) of a placement."""
    devices = [(d.address, d.host_numa_node, d.guest_cell) for d in placement.pci_devices]
    return [c.id for c in placement.cells], devices


def test_fit_moves_guest_to_the_device_cell_and_records_devices():
    host, stats = sample_host(), sample_stats()
    stats.claim(
        [
            PciAddress.parse(a)
            for a in ("0000:19:02.0", "0000:19:02.1", "0000:19:02.2", "0000:19:02.3")
        ]
    )
    without = hardware.numa_fit_instance_to_host(host, _guest())
    assert [c.id for c in without.cells] == [0]
    requests = parse_alias_spec("vf:2", ALIASES, "required")
    placed = hardware.numa_fit_instance_to_host(
        host, _guest(), pci_requests=requests, pci_stats=stats
    )
    assert _where(placed) == ([1], [("0000:b0:02.0", 1, 0), ("0000:b0:02.1", 1, 0)])
    assert len(stats.used) == 4  # the fit claims nothing


def test_fit_legacy_gpu_without_numa_node_and_two_guest_cells():
    requests = parse_alias_spec("vf:3,gpu:1", ALIASES, None)  # legacy
    placed = hardware.numa_fit_instance_to_host(
        sample_host(), _guest(nodes=2), pci_requests=requests, pci_stats=sample_stats()
    )
    got = [(d.alias, d.address, d.guest_cell) for d in placed.pci_devices]
    assert got == [
        ("vf", "0000:19:02.0", 0),
        ("vf", "0000:19:02.1", 0),
        ("vf", "0000:19:02.2", 0),
        ("gpu", "0000:3b:00.0", None),
    ]


def test_explain_fit_names_the_alias_and_counts():
    host, stats = sample_host(), sample_stats()
    stats.claim([PciAddress.parse(a) for a in ("0000:b0:02.0", "0000:b0:02.1", "0000:b0:02.2")])
    requests = parse_alias_spec("vf:5", ALIASES, "required")
    assert (
        hardware.numa_fit_instance_to_host(host, _guest(), pci_requests=requests, pci_stats=stats)
        is None
    )
    report = hardware.explain_fit(host, _guest(), pci_requests=requests, pci_stats=stats)
    assert not report.fits
    assert [(v.host_cell, v.fits) for v in report.verdicts] == [(0, True), (1, True)]
    assert report.reason == (
        "the PCI devices cannot be served: alias vf: 5 devices requested on the guest's "
        "cells {0}, 4 free there, 1 free on cell 1; policy required"
    )
    ok = hardware.explain_fit(
        host, _guest(), pci_requests=parse_alias_spec("vf:1", ALIASES, "required"), pci_stats=stats
    )
    assert ok.fits and [d.address for d in ok.placement.pci_devices] == ["0000:19:02.0"]


def test_explain_device_without_numa_node_under_required():
    hosts = (HostCellInfo(0, 0), HostCellInfo(1, 1))
    stats = PciDeviceStats(_devices([(None, "B"), (1, "A")]))
    lines = device_reasons.request_lines(hosts, (0,), [_request("t4", 1, "required", "B")], stats)
    assert lines == [
        "alias t4: 1 device requested, 0 of 1 free usable anywhere under policy required "
        "(1 free with no NUMA node); policy required"
    ]
    both = [_request("a", 1, "required", "A"), _request("b", 1, "legacy", "B")]
    assert device_reasons.request_lines(hosts, (0,), both, stats) == [
        "alias a: 1 device requested on the guest's cells {0}, 0 free there, "
        "1 free on cell 1; policy required"
    ]


def test_guest_without_numa_topology_gets_any_devices():
    requests = parse_alias_spec("vf:5", ALIASES, "required")  # policy cannot apply: no cells
    got = device_search.assign_without_numa(requests, sample_stats(), sample_host())
    assert len(got) == 5 and {d.guest_cell for d in got} == {None}
    assert len({d.address for d in got}) == 5
    assert (
        device_search.assign_without_numa(parse_alias_spec("vf:9", ALIASES), sample_stats()) is None
    )
    assert device_search.assign_without_numa(requests, None) is None
    short = parse_alias_spec("vf:9", ALIASES, "required")
    assert device_reasons.without_numa_reason(short, sample_stats(), sample_host()) == (
        "the PCI devices cannot be served: alias vf: 9 devices requested, 8 free on the whole "
        "host (4 free on cell 0, 4 free on cell 1)"
    )


def test_socket_example_of_the_guide_on_the_amd_sample():
    # doc/source/pci.rst, ``socket``: a guest that can only land on cell 2 of the AMD
    # sample (cells 0-3 are socket 0) gets cell 0's VFs under socket, nothing under required.
    host = sample_host("amd-epyc-2s-nps4.xml")
    for cell in host.cells:
        if cell.id != 2:
            cell.pinned_cpus = set(cell.pcpuset)
    guest = _guest()
    socket = parse_alias_spec("vf:2", ALIASES, "socket")
    placed = hardware.numa_fit_instance_to_host(
        host, guest, pci_requests=socket, pci_stats=sample_stats()
    )
    assert _where(placed) == ([2], [("0000:19:02.0", 0, 0), ("0000:19:02.1", 0, 0)])
    required = parse_alias_spec("vf:2", ALIASES, "required")
    assert (
        hardware.numa_fit_instance_to_host(
            host, guest, pci_requests=required, pci_stats=sample_stats()
        )
        is None
    )


def test_preferred_nic_stays_local_beside_a_gpu_without_numa_node():
    # doc/source/pci.rst, ``preferred``: the T4 can be local nowhere, the VF still is.
    host, stats = sample_host(), sample_stats()
    stats.claim([PciAddress.parse(f"0000:19:02.{f}") for f in range(4)])
    requests = parse_alias_spec("vf:1,gpu:1", ALIASES, "preferred")
    placed = hardware.numa_fit_instance_to_host(
        host, _guest(), pci_requests=requests, pci_stats=stats
    )
    assert _where(placed) == ([1], [("0000:b0:02.0", 1, 0), ("0000:3b:00.0", None, None)])
