"""Per-NUMA-cell pools of a host's free PCI devices, and claiming them.

:class:`PciDeviceStats` holds a host's devices and which are in use. A device
is *available* when it is not used and no related SR-IOV function is: a PF is
unavailable while any of its VFs is assigned (the PF's driver owns the VFs),
and a VF while its PF is assigned whole. Pools group available devices by
host NUMA cell (``None`` for devices without NUMA information) and by
(vendor_id, product_id, device type).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from os_numa import exception
from os_numa.pci.devices import PciAddress, PciDevice


@dataclasses.dataclass(frozen=True)
class PciPool:
    """The available devices of one (NUMA cell, vendor, product, type)."""

    numa_node: int | None
    vendor_id: str
    product_id: str
    dev_type: str
    devices: tuple[PciDevice, ...]

    @property
    def count(self) -> int:
        return len(self.devices)


def _addresses(placement) -> list[PciAddress]:
    devices = getattr(placement, "pci_devices", None) or []
    return [PciAddress.parse(d.address) for d in devices]


def _node_key(node: int | None) -> tuple[bool, int]:
    """Sort key putting cells in id order and "no NUMA information" last."""
    return (node is None, -1 if node is None else node)


class PciDeviceStats:
    """A host's PCI devices and their use.

    ``claim`` and ``free`` change the stats in place and are atomic: on any
    error nothing changes. Everything else is read-only.
    """

    def __init__(self, devices: Iterable[PciDevice], used: Iterable[PciAddress] = ()):
        by_address: dict[PciAddress, PciDevice] = {}
        for device in devices:
            if device.address in by_address:
                raise exception.Invalid(reason=f"PCI device {device.address} is given twice")
            by_address[device.address] = device
        self._devices = dict(sorted(by_address.items()))
        self._used: set[PciAddress] = set()
        self.claim(used)

    def copy(self) -> PciDeviceStats:
        return PciDeviceStats(self._devices.values(), self._used)

    @property
    def devices(self) -> tuple[PciDevice, ...]:
        """Every device, by address."""
        return tuple(self._devices.values())

    @property
    def used(self) -> frozenset[PciAddress]:
        return frozenset(self._used)

    def device(self, address: PciAddress) -> PciDevice:
        """:raises PciDeviceNotFound: ``address`` is not a device of this host."""
        try:
            return self._devices[address]
        except KeyError:
            raise exception.PciDeviceNotFound(address=str(address)) from None

    def _blocker(self, device: PciDevice, used: set[PciAddress]) -> str | None:
        """Why ``device`` cannot be assigned given ``used``, or None when it can."""
        if device.address in used:
            return "in use"
        if device.parent is not None and device.parent in used:
            return f"unavailable (its physical function {device.parent} is in use)"
        busy_vfs = sorted(vf for vf in device.virt_functions if vf in used)
        if busy_vfs:
            return f"unavailable (its virtual function {busy_vfs[0]} is in use)"
        return None

    def is_available(self, address: PciAddress) -> bool:
        return self._blocker(self.device(address), self._used) is None

    def available(self) -> list[PciDevice]:
        """Available devices, by address."""
        return [d for d in self._devices.values() if self._blocker(d, self._used) is None]

    def numa_nodes(self) -> list[int | None]:
        """NUMA nodes that hold any device (None last when some have no locality)."""
        return sorted({d.numa_node for d in self._devices.values()}, key=_node_key)

    def pools(self) -> list[PciPool]:
        """Pools of available devices, by NUMA node (None last) then (vendor, product, type)."""
        grouped: dict[tuple[int | None, str, str, str], list[PciDevice]] = {}
        for device in self.available():
            grouped.setdefault((device.numa_node, *device.spec), []).append(device)
        keys = sorted(grouped, key=lambda k: (_node_key(k[0]), k[1:]))
        return [PciPool(*key, devices=tuple(grouped[key])) for key in keys]

    def claim(self, addresses: Iterable[PciAddress]) -> None:
        """Mark ``addresses`` used.

        :raises PciDeviceNotFound: an address is not a device of this host.
        :raises PciDeviceInvalidStatus: a device is in use, is named twice, or
            a related SR-IOV function is in use (or claimed in the same call).
        """
        pending = set(self._used)
        for address in addresses:
            reason = self._blocker(self.device(address), pending)
            if reason is not None:
                raise exception.PciDeviceInvalidStatus(
                    address=str(address), status=reason, expected="available"
                )
            pending.add(address)
        self._used = pending

    def free(self, addresses: Iterable[PciAddress]) -> None:
        """Release ``addresses``.

        :raises PciDeviceNotFound: an address is not a device of this host.
        :raises PciDeviceInvalidStatus: a device is not in use (or named twice).
        """
        pending = set(self._used)
        for address in addresses:
            self.device(address)
            if address not in pending:
                raise exception.PciDeviceInvalidStatus(
                    address=str(address), status="not in use", expected="in use"
                )
            pending.discard(address)
        self._used = pending

    def claim_instance(self, placement) -> None:
        """Claim the devices a placement's ``pci_devices`` names (atomic, as :meth:`claim`)."""
        self.claim(_addresses(placement))

    def free_instance(self, placement) -> None:
        """Release the devices a placement's ``pci_devices`` names (atomic, as :meth:`free`)."""
        self.free(_addresses(placement))

    def __repr__(self) -> str:
        return f"PciDeviceStats({len(self._devices)} devices, {len(self._used)} used)"


__all__ = ["PciDeviceStats", "PciPool"]
