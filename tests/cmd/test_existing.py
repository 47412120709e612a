"""--existing: placements in the --format json shape, parsed back into objects."""

from __future__ import annotations

import json

import pytest

from os_numa import exception
from os_numa.cmd import existing, render_json
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from tests.cmd import topologies

PLACED = InstanceNUMATopology(
    cells=[
        InstanceNUMACell(
            id=1,
            cpuset=set(),
            pcpuset={0, 1},
            memory=1024,
            pagesize=2048,
            cpu_pinning={0: 4, 1: 12},
            cpuset_reserved={5},
            cpu_policy="dedicated",
            cpu_thread_policy="require",
        ),
        InstanceNUMACell(
            id=0,
            cpuset={2},
            pcpuset={3},
            memory=512,
            cpu_pinning={3: 1},
            cpu_policy="mixed",
        ),
    ],
    emulator_threads_policy="isolate",
)


def _json(placement):
    doc = render_json.placement_document(
        placement, emulator_threads_policy=placement.emulator_threads_policy
    )
    return json.dumps(doc)


def test_round_trip_through_the_json_document():
    (parsed,) = existing.parse_existing(_json(PLACED))
    assert parsed.emulator_threads_policy == "isolate"
    for got, want in zip(parsed.cells, PLACED.cells, strict=True):
        for name in (
            "id",
            "cpuset",
            "pcpuset",
            "memory",
            "pagesize",
            "cpu_pinning",
            "cpuset_reserved",
            "cpu_policy",
            "cpu_thread_policy",
        ):
            assert getattr(got, name) == getattr(want, name), name


def test_list_of_placements_skips_non_fits():
    text = json.dumps(
        [json.loads(_json(PLACED)), {"fits": False, "cells": []}, json.loads(_json(PLACED))]
    )
    assert len(existing.parse_existing(text)) == 2


def test_a_floating_guest_holds_only_its_pci_devices():
    """What ``place --format json`` prints for a guest without NUMA request reads back."""
    floating = {"fits": True, "cells": [], "pci_devices": []}
    assert existing.parse_existing(json.dumps([floating, floating])) == []
    with_device = dict(floating, pci_devices=[{"address": "0000:3b:00.0", "alias": "t4"}])
    (parsed,) = existing.parse_existing(json.dumps(with_device))
    assert parsed.cells == [] and [d.address for d in parsed.pci_devices] == ["0000:3b:00.0"]


def test_policy_is_derived_when_absent():
    doc = {
        "cells": [
            {"host_cell": 0, "vcpus": [0, 1], "memory_mb": 1, "cpu_pinning": {"0": 3, "1": 4}},
            {"host_cell": 1, "vcpus": [2, 3], "memory_mb": 1, "cpu_pinning": {"2": 9}},
            {"host_cell": 1, "vcpus": [4], "memory_mb": 1},
        ]
    }
    (parsed,) = existing.parse_existing(json.dumps(doc))
    assert [c.cpu_policy for c in parsed.cells] == ["dedicated", "mixed", None]
    assert parsed.cells[0].cpuset_reserved is None


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", "not valid JSON"),
        ("[1]", "a placement must be a JSON object"),
        ('{"cells": []}', "non-empty 'cells'"),
        ('{"fits": true, "cells": {}}', "non-empty 'cells'"),
        ('{"cells": [{"vcpus": [0], "memory_mb": 1}]}', "missing 'host_cell'"),
        ('{"cells": [{"host_cell": -1, "vcpus": [0], "memory_mb": 1}]}', "-1"),
        ('{"cells": [{"host_cell": 0, "vcpus": "0", "memory_mb": 1}]}', "list of integers"),
        (
            '{"cells": [{"host_cell": 0, "vcpus": [0], "memory_mb": 1, "cpu_pinning": {"7": 1}}]}',
            "vCPU '7'",
        ),
        ('{"cells": [{"host_cell": 0, "vcpus": [0], "memory_mb": true}]}', "memory_mb"),
        (
            '{"emulator_threads_policy": "ISOLATE", "cells": [{"host_cell": 0, "vcpus": [0], '
            '"memory_mb": 1}]}',
            "'ISOLATE' is not one of share, isolate",
        ),
        (
            '{"cells": [{"host_cell": 0, "vcpus": [0], "memory_mb": 1, '
            '"cpu_thread_policy": "maybe"}]}',
            "cpu_thread_policy",
        ),
    ],
)
def test_bad_documents_are_typed_errors(text, words):
    with pytest.raises(exception.InvalidRequest) as info:
        existing.parse_existing(text)
    assert words in str(info.value)


def test_unknown_host_cell_is_refused():
    (parsed,) = existing.parse_existing(
        '{"cells": [{"host_cell": 5, "vcpus": [0], "memory_mb": 1}]}'
    )
    with pytest.raises(exception.InvalidRequest, match=r"host cell 5 .*cells: \[0, 1\]"):
        existing.check_host_cells(topologies.smt_2x4x2(), [parsed])


def test_load_existing_file_errors(tmp_path):
    with pytest.raises(exception.InvalidRequest, match="cannot read"):
        existing.load_existing(str(tmp_path / "absent.json"))
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(exception.InvalidRequest, match="not UTF-8"):
        existing.load_existing(str(binary))


def test_pci_devices_are_read_back():
    doc = json.loads(_json(PLACED))
    doc["pci_devices"] = [
        {"address": "18:00.1", "alias": "nic", "host_numa_node": 0, "guest_cell": None},
    ]
    (parsed,) = existing.parse_existing(json.dumps(doc))
    (device,) = parsed.pci_devices
    assert device.address == "0000:18:00.1" and device.alias == "nic"
    assert device.host_numa_node == 0 and device.guest_cell is None


@pytest.mark.parametrize(
    "devices, words",
    [
        ({"address": "x"}, "must be a list"),
        ([{"alias": "nic"}], "'address' string"),
        ([{"address": "zz:00.0"}], "pci_devices[0]"),
        ([{"address": "18:00.0", "guest_cell": -1}], "guest_cell"),
    ],
)
def test_bad_pci_devices(devices, words):
    doc = json.loads(_json(PLACED))
    doc["pci_devices"] = devices
    with pytest.raises(exception.InvalidRequest) as info:
        existing.parse_existing(json.dumps(doc))
    assert words in str(info.value)


def test_emulator_pool_cpu_is_read_back():
    doc = json.loads(_json(PLACED))
    doc.update(emulator_threads_policy="pool", emulator_pool_cpu=7)
    (parsed,) = existing.parse_existing(json.dumps(doc))
    assert parsed.emulator_threads_policy == "pool" and parsed.emulator_pool_cpu == 7
    doc["emulator_pool_cpu"] = "7"
    with pytest.raises(exception.InvalidRequest, match="emulator_pool_cpu"):
        existing.parse_existing(json.dumps(doc))


@pytest.mark.parametrize(
    ("cell", "field"),
    [
        ({"host_cell": "BIG", "vcpus": [0], "memory_mb": 1}, "entry 0.cells[0].host_cell"),
        ({"host_cell": 0, "vcpus": [0, "BIG"], "memory_mb": 1}, "entry 0.cells[0].vcpus"),
        ({"host_cell": 0, "vcpus": [0], "memory_mb": "BIG"}, "entry 0.cells[0].memory_mb"),
        (
            {"host_cell": 0, "vcpus": [0], "memory_mb": 1, "cpu_pinning": {"0": "BIG"}},
            "entry 0.cells[0].cpu_pinning.0",
        ),
    ],
)
def test_a_number_too_long_to_convert_names_the_file_and_field(tmp_path, cell, field):
    """Python refuses int() of more than 4300 digits; the error says where the number is."""
    path = tmp_path / "guests.json"
    text = json.dumps({"fits": True, "cells": [cell]}).replace('"BIG"', "-" + "9" * 5000)
    path.write_text(text)
    with pytest.raises(exception.InvalidRequest) as info:
        existing.load_existing(str(path))
    assert f"--existing {path}, {field}: a 5000-digit number is too long" in str(info.value)


def test_a_cpu_pinning_key_too_long_to_convert_is_refused():
    doc = {"fits": True, "cells": [{"host_cell": 0, "vcpus": [0], "memory_mb": 1}]}
    doc["cells"][0]["cpu_pinning"] = {"9" * 5000: 1}
    with pytest.raises(exception.InvalidRequest, match=r"entry 0.cells\[0\].cpu_pinning: vCPU"):
        existing.parse_existing(json.dumps(doc))
