"""libvirt device elements for a placement's PCI devices, telling the guest their NUMA node.

A ``<hostdev>`` alone lands on the guest's main PCIe root bus, which belongs to
no guest NUMA node: inside the guest ``/sys/bus/pci/devices/*/numa_node`` reads
-1 and the guest kernel allocates the driver's memory and interrupts anywhere.
Here, for every guest NUMA cell that has devices, the guest gets a
``pcie-expander-bus`` controller (QEMU's ``pxb-pcie``) whose ``<target><node>``
is that cell; each device sits behind its own ``pcie-root-port`` on that bus,
so the firmware's ACPI tables put the device in the cell's proximity domain
and the guest kernel reports it there. Devices local to no guest cell (no host
NUMA information, or on a host cell the guest does not use) get a plain
``<hostdev>`` that libvirt places on the main bus.

Layout (controller index i counts up from ``first_index``; index 0 is q35's
``pcie-root``): per guest cell in ascending order, an expander bus ``i``, then
one root port per device plugged into bus ``i`` at slot 0, 1, ...; the device
is at slot 0 of its root port's bus. An expander holds at most 32 root ports;
a cell with more devices gets another expander. ``busNr`` values are
allocated downwards from 255 so each expander's range (its own bus plus one
per root port) stays clear of the main hierarchy's low bus numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from os_numa import exception
from os_numa.pci.devices import PciAddress
from os_numa.virt.libvirt.config_devices import (
    LibvirtConfigGuestHostdevPCI,
    LibvirtConfigGuestPCIAddress,
    LibvirtConfigGuestPCIController,
    LibvirtConfigGuestPCIeExpanderBus,
    LibvirtConfigGuestPCIeRootPort,
)

#: Root ports one expander bus takes (PCI slots 0..31).
PORTS_PER_EXPANDER = 32


@dataclasses.dataclass(frozen=True)
class GuestPciConfig:
    """The controllers and hostdevs for a placement's devices, in document order."""

    controllers: tuple = ()
    hostdevs: tuple = ()

    @property
    def devices(self) -> list:
        """Everything to append to ``<devices>``: controllers first, then hostdevs."""
        return [*self.controllers, *self.hostdevs]


def _hostdev(address: str, guest: LibvirtConfigGuestPCIAddress | None):
    host = PciAddress.parse(address)
    return LibvirtConfigGuestHostdevPCI(
        domain=host.domain,
        bus=host.bus,
        slot=host.slot,
        function=host.function,
        managed=True,
        guest_address=guest,
    )


def get_guest_pci_config(
    pci_devices: Sequence, guest_cells: int | None = None, first_index: int = 1
) -> GuestPciConfig:
    """Elements for ``pci_devices`` (a placement's ``InstancePCIDevice`` list).

    ``guest_cells``, when given, is the guest's NUMA cell count: a device
    naming a cell outside it is refused. ``first_index`` is the first free PCI
    controller index of the domain.

    :raises Invalid: a bad device address, a guest cell out of range, or more
        controllers than fit below index 256.
    """
    local: dict[int, list] = {}
    for device in pci_devices:
        cell = device.guest_cell
        if cell is None:
            continue
        if cell < 0 or (guest_cells is not None and cell >= guest_cells):
            raise exception.Invalid(
                reason=f"PCI device {device.address} names guest NUMA cell {cell}; the guest "
                f"has cells 0..{(guest_cells or 0) - 1}"
            )
        local.setdefault(cell, []).append(device)
    chunks = [
        (cell, devs[start : start + PORTS_PER_EXPANDER])
        for cell, devs in sorted(local.items())
        for start in range(0, len(devs), PORTS_PER_EXPANDER)
    ]
    bus_nrs: list[int] = []
    top = 256
    for _cell, devs in reversed(chunks):
        top -= 1 + len(devs)
        bus_nrs.insert(0, top)
    last_index = first_index - 1 + sum(1 + len(devs) for _cell, devs in chunks)
    if last_index > 255 or (bus_nrs and bus_nrs[0] < 1):
        raise exception.Invalid(
            reason=f"{sum(len(d) for d in local.values())} NUMA-local PCI devices need PCI "
            f"controllers up to index {last_index}; the limit is 255"
        )
    controllers: list[LibvirtConfigGuestPCIController] = []
    guest_address: dict[str, LibvirtConfigGuestPCIAddress] = {}
    index = first_index
    for (cell, devs), bus_nr in zip(chunks, bus_nrs, strict=True):
        expander = index
        controllers.append(
            LibvirtConfigGuestPCIeExpanderBus(
                index=expander, target_bus_nr=bus_nr, target_node=cell
            )
        )
        index += 1
        for slot, device in enumerate(devs):
            controllers.append(
                LibvirtConfigGuestPCIeRootPort(
                    index=index, address=LibvirtConfigGuestPCIAddress(bus=expander, slot=slot)
                )
            )
            guest_address[device.address] = LibvirtConfigGuestPCIAddress(bus=index)
            index += 1
    hostdevs = tuple(_hostdev(d.address, guest_address.get(d.address)) for d in pci_devices)
    return GuestPciConfig(tuple(controllers), hostdevs)


__all__ = ["GuestPciConfig", "PORTS_PER_EXPANDER", "get_guest_pci_config"]
