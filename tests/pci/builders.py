"""Small builders shared by the PCI tests (and the tests of PCI-aware callers)."""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Iterable

from os_numa import objects
from os_numa.pci import devices
from os_numa.pci.devices import PciAddress, PciDevice
from os_numa.pci.stats import PciDeviceStats

NODEDEV = pathlib.Path(__file__).resolve().parents[1] / "data" / "nodedev"


@functools.cache
def sample_devices() -> tuple[PciDevice, ...]:
    """Every PCI device of the sample host (tests/data/nodedev), read once."""
    return tuple(devices.load_device_files(sorted(NODEDEV.glob("pci_*.xml"))))


def sample_stats(used: Iterable[str] = ()) -> PciDeviceStats:
    """New stats over :func:`sample_devices` with the ``used`` addresses claimed."""
    stats = PciDeviceStats(sample_devices())
    stats.claim([PciAddress.parse(address) for address in used])
    return stats


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
