"""The --format json document shape (the contract in the design's API page)."""

from __future__ import annotations

import json

from os_numa.cmd import render_json
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from tests.cmd.contract import CELL_KEYS, CONTRACT_KEYS


def test_fitting_document():
    placement = InstanceNUMATopology(
        cells=[
            InstanceNUMACell(
                id=1,
                cpuset=set(),
                pcpuset={0, 1, 2, 3},
                memory=4096,
                cpu_pinning={3: 11, 0: 8, 2: 10, 1: 9},
                cpuset_reserved={12},
                cpu_policy="dedicated",
            ),
        ],
        emulator_threads_policy="isolate",
    )
    sched = [render_json.vcpusched_to_dict({3, 1, 2}, "fifo", 1)]
    doc = render_json.placement_document(
        placement, emulator_threads_policy="isolate", emulatorpin={12}, vcpusched=sched
    )
    assert list(doc)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS  # contract order, additions after
    assert doc["fits"] is True and doc["explanation"] is None
    (cell,) = doc["cells"]
    assert CELL_KEYS <= set(cell)
    assert cell["guest_cell"] == 0 and cell["host_cell"] == 1
    assert cell["vcpus"] == [0, 1, 2, 3]
    assert list(cell["cpu_pinning"].items()) == [("0", 8), ("1", 9), ("2", 10), ("3", 11)]
    assert cell["cpuset_reserved"] == [12] and cell["pagesize_kb"] is None
    assert doc["emulatorpin"] == [12]
    assert doc["vcpusched"] == [{"vcpus": [1, 2, 3], "scheduler": "fifo", "priority": 1}]
    assert json.loads(render_json.dumps(doc)) == doc


def test_non_fitting_document():
    doc = render_json.placement_document(
        None, emulator_threads_policy="isolate", emulatorpin={1}, explanation="too big"
    )
    assert doc == {
        "fits": False,
        "emulator_threads_policy": "isolate",
        "cells": [],
        "emulatorpin": [],
        "vcpusched": [],
        "explanation": "too big",
        "emulator_pool_cpu": None,
    }


def test_fitting_without_numa_request_has_no_cells():
    doc = render_json.placement_document(None, emulator_threads_policy=None, fits=True)
    assert doc["fits"] is True and doc["cells"] == [] and doc["explanation"] is None
