"""A host PCI device assigned to a guest, as recorded in the guest's placement."""

from __future__ import annotations

from typing import Any

from os_numa.objects import base, fields


@base.OsNumaObjectRegistry.register
class InstancePCIDevice(base.OsNumaObject):
    """One passthrough device of a placed guest.

    ``address`` is the host PCI address (``0000:18:00.0``), ``alias`` the
    ``[pci] alias`` that requested it. ``host_numa_node`` is the device's host
    NUMA node (None: the firmware reports none). ``guest_cell`` is the index of
    the guest NUMA cell the device is local to (the one whose host cell, or
    failing that whose socket, holds the device), or None when no guest cell is
    local to it; the libvirt XML tells the guest that node.

    Version 1.0: address, alias, vendor_id, product_id, dev_type,
                 host_numa_node, guest_cell
    """

    VERSION = "1.0"

    fields = {
        "address": fields.StringField(),
        "alias": fields.StringField(),
        "vendor_id": fields.StringField(),
        "product_id": fields.StringField(),
        "dev_type": fields.StringField(),
        "host_numa_node": fields.IntegerField(nullable=True, default=None),
        "guest_cell": fields.IntegerField(nullable=True, default=None),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    address: str
    alias: str
    vendor_id: str
    product_id: str
    dev_type: str
    host_numa_node: int | None
    guest_cell: int | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()
