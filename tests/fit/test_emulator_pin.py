"""fit.emulator_pin: the one decision of where the emulator threads run, from the
placement's fields and the host's shared CPUs (the driver's examples are in
tests/virt/libvirt/test_emulator.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from os_numa import exception, objects
from os_numa.fit import emulator_pin
from tests import fixtures_topology as ft


@dataclass(frozen=True)
class Cell:
    host_cell: int
    pins: dict
    reserved: frozenset = frozenset()


# Guest cell 0 on host cell 0 (vCPUs 0-1 on pCPUs 2-3, pCPU 4 reserved),
# guest cell 1 on host cell 1 (vCPUs 2-3 on pCPUs 10-11).
PLACED = (
    Cell(0, {0: frozenset({2}), 1: frozenset({3})}, frozenset({4})),
    Cell(1, {2: frozenset({10}), 3: frozenset({11})}),
)
HOST = ft.host(2, 8, shared={0, 1, 8, 9}, dedicated=set(range(16)) - {0, 1, 8, 9})


def _topology(**fields):
    return objects.InstanceNUMATopology(cells=[], **fields)


CASES = {
    "unset: every vCPU's pCPU": ({}, None, "numa", {2, 3, 10, 11}),
    "unset, realtime 1-3: the housekeeping vCPU's": (
        {"realtime_vcpus": {1, 2, 3}},
        None,
        "numa",
        {2},
    ),
    "isolate: the reserved pCPU": ({"emulator_threads_policy": "isolate"}, None, "numa", {4}),
    "share without shared set: as unset": (
        {"emulator_threads_policy": "share"},
        None,
        "numa",
        {2, 3, 10, 11},
    ),
    "share, numa locality": (
        {"emulator_threads_policy": "share"},
        {0, 1, 8, 9},
        "numa",
        {0, 1, 8, 9},
    ),
    "share, host locality": ({"emulator_threads_policy": "share"}, {0, 8}, "host", {0, 8}),
    "mask: the named vCPUs' pCPUs": ({"emulator_threads_mask": {0, 3}}, None, "numa", {2, 11}),
}


@pytest.mark.parametrize(("fields", "shared", "locality", "expected"), CASES.values(), ids=CASES)
def test_emulator_cpus(fields, shared, locality, expected):
    got = emulator_pin.emulator_cpus(PLACED, _topology(**fields), shared, HOST, locality)
    assert got == expected


def test_share_keeps_to_the_guests_cells():
    one_cell = PLACED[:1]
    topology = _topology(emulator_threads_policy="share")
    assert emulator_pin.emulator_cpus(one_cell, topology, {0, 1, 8, 9}, HOST) == {0, 1}


def test_pool_is_the_fits_choice():
    host = ft.host(2, 4, dedicated={1, 2, 3, 5, 6, 7}, pool={0, 4})
    topology = _topology(emulator_threads_policy="pool", emulator_pool_cpu=4)
    assert emulator_pin.emulator_cpus(PLACED, topology, None, host) == {4}


def test_every_vcpu_realtime_with_nowhere_else_is_refused():
    topology = _topology(realtime_vcpus={0, 1, 2, 3})
    with pytest.raises(exception.EmulatorPinEmpty, match="every vCPU is realtime"):
        emulator_pin.emulator_cpus(PLACED, topology, None, HOST)


def test_the_decision_reads_its_arguments_only():
    topology = _topology(emulator_threads_policy="share", realtime_vcpus={1})
    before = topology.obj_to_primitive()
    shared = {0, 1, 8, 9}
    emulator_pin.emulator_cpus(PLACED, topology, shared, HOST)
    assert topology.obj_to_primitive() == before and shared == {0, 1, 8, 9}
