"""The per-cell device listing and JSON for the command line."""

from __future__ import annotations

from os_numa.cmd import render_pci as render
from os_numa.pci.stats import PciDeviceStats
from tests.pci.builders import sample_stats, vf_placement


def _placement(*pairs):
    return vf_placement(*pairs, host_numa_node=1)


def _stats():
    return sample_stats(["0000:19:02.1"])


def test_picture_marks_assigned_used_and_unavailable():
    text = render.render_devices(_stats(), _placement(("0000:b0:02.0", 0)), cells=[0, 1])
    lines = text.splitlines()
    assert lines[0] == "host cell 0: PCI: 4 of 6 free"
    assert "  0000:18:00.0 8086:1572 type-PF  unavailable (related function in use)" in lines
    assert "  0000:19:02.1 8086:154c type-VF  used" in lines
    # The assigned VF makes its PF unavailable once claimed; the other PF stays free.
    i = lines.index("host cell 1: PCI: 4 of 6 free, 1 assigned to this guest")
    assert lines[i + 1] == "  0000:af:00.0 8086:1572 type-PF  unavailable (related function in use)"
    assert lines[i + 2] == "  0000:af:00.1 8086:1572 type-PF  free"
    assert lines[i + 3] == "  0000:b0:02.0 8086:154c type-VF  ASSIGNED (vf) -> guest cell 0"
    assert lines[-2:] == [
        "devices with no NUMA node: PCI: 1 of 1 free",
        "  0000:3b:00.0 10de:1eb8 type-PCI free",
    ]


def test_cells_without_devices_are_left_out_and_json():
    per_cell = render.cell_device_lines(PciDeviceStats([]), None, cells=[0, 1])
    assert per_cell == {}
    assert render.render_devices(PciDeviceStats([])) == ""
    assert render.placement_devices_json(_placement(("0000:b0:02.1", None))) == [
        {
            "address": "0000:b0:02.1",
            "alias": "vf",
            "vendor_id": "8086",
            "product_id": "154c",
            "device_type": "type-VF",
            "host_numa_node": 1,
            "guest_cell": None,
        }
    ]
    assert render.placement_devices_json(None) == []
