"""InstancePCIDevice and InstanceNUMATopology.pci_devices (1.4)."""

from __future__ import annotations

import json

import os_numa.objects as o


def _placement():
    return o.InstanceNUMATopology(
        cells=[o.InstanceNUMACell(id=1, cpuset=set(), pcpuset={0, 1}, memory=1024)],
        pci_devices=[
            o.InstancePCIDevice(
                address="0000:af:00.0",
                alias="nic1",
                vendor_id="8086",
                product_id="1572",
                dev_type="type-PF",
                host_numa_node=1,
                guest_cell=0,
            ),
            o.InstancePCIDevice(
                address="0000:3b:00.0",
                alias="gpu",
                vendor_id="10de",
                product_id="1eb8",
                dev_type="type-PCI",
            ),
        ],
    )


def test_round_trip_through_json():
    prim = json.loads(json.dumps(_placement().obj_to_primitive()))
    back = o.InstanceNUMATopology.obj_from_primitive(prim)
    assert [(d.address, d.host_numa_node, d.guest_cell) for d in back.pci_devices] == [
        ("0000:af:00.0", 1, 0),
        ("0000:3b:00.0", None, None),
    ]


def test_default_is_empty_and_downgrade_drops_devices():
    assert o.InstanceNUMATopology(cells=[]).pci_devices == []
    old = _placement().obj_to_primitive(target_version="1.3")
    assert "pci_devices" not in old["os_numa_object.data"]
    assert old["os_numa_object.version"] == "1.3"
    new = _placement().obj_to_primitive()
    assert new["os_numa_object.data"]["pci_devices"][0]["os_numa_object.version"] == "1.0"
