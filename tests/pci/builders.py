"""Small builders shared by the PCI tests."""

from __future__ import annotations

from os_numa import objects


def vf_placement(*pairs, host_numa_node=None):
    """A placement holding only Intel VFs: ``pairs`` of (address, guest cell)."""
    return objects.InstanceNUMATopology(
        cells=[],
        pci_devices=[
            objects.InstancePCIDevice(
                address=address,
                alias="vf",
                vendor_id="8086",
                product_id="154c",
                dev_type="type-VF",
                host_numa_node=host_numa_node,
                guest_cell=cell,
            )
            for address, cell in pairs
        ],
    )
