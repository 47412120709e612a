"""The --format json document shape (the contract in the design's API page)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from os_numa.cmd import render_json, schema
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
    # The schema name first, then the contract keys in order, additions after.
    assert list(doc)[: len(CONTRACT_KEYS) + 1] == ["schema", *CONTRACT_KEYS]
    assert doc["schema"] == schema.PLACEMENT
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
        "schema": "os-numa/placement/v1",
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


def test_string_values_are_written_as_json_writes_them():
    """Only the layout of integer lists changes; text inside strings never does."""
    doc = {
        "explanation": "pinned [0,1] and [ 2 ,\n 3 ]",
        "cells": [{"vcpus": [0, 1], "cpu_pinning": {"0": 4}}],
        "empty": [],
        "nothing": {},
        "flags": [True, False],
    }
    text = render_json.dumps(doc)
    assert '"explanation": "pinned [0,1] and [ 2 ,\\n 3 ]"' in text
    assert '"vcpus": [0, 1]' in text and '"empty": []' in text and '"nothing": {}' in text
    assert json.loads(text) == doc
    # Booleans are not integers here: such a list is spread over lines as json does.
    assert '"flags": [\n    true,\n    false\n  ]' in text


def test_layout_is_json_indent_2_apart_from_integer_lists():
    doc = {"a": {"b": ["x", {"c": None}], "d": 1.5}, "e": "\u00e9\u2028"}
    assert render_json.dumps(doc) == json.dumps(doc, indent=2)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_any_document_reads_back_unchanged(value):
    assert json.loads(render_json.dumps(value)) == value
