"""What a guest holds on two hosts while it moves: its old and its new placement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from os_numa.objects import base, fields

if TYPE_CHECKING:
    from os_numa.objects.instance_numa import InstanceNUMATopology
    from os_numa.objects.pci import InstancePCIDevice


@base.OsNumaObjectRegistry.register
class MigrationContext(base.OsNumaObject):
    """The two sides of a move (live or cold migration, resize, evacuation).

    The destination's resource tracker sets it on the instance when it makes a
    move claim (:meth:`~os_numa.compute.move.MoveClaimsMixin.move_claim`) and clears
    it on confirm or revert. ``old_numa_topology`` is the placement the guest
    has on its source host (None: no NUMA placement), ``new_numa_topology`` the
    one reserved for it on the destination; ``old_pci_devices`` and
    ``new_pci_devices`` are the host PCI devices of each side. The instance's
    own ``numa_topology`` stays the old placement until the move is confirmed,
    as in Nova (nova/objects/migration_context.py), whose field names these are.

    Version 1.0: instance_uuid, migration_id, old_numa_topology,
    new_numa_topology, old_pci_devices, new_pci_devices
    Version 1.1: the topologies are InstanceNUMATopology 1.8 (I/O threads)
    Version 1.2: the topologies are InstanceNUMATopology 1.9 (realtime priority,
    locked memory, memory policy)
    """

    VERSION = "1.2"

    fields = {
        "instance_uuid": fields.StringField(),
        "migration_id": fields.IntegerField(nullable=True, default=None),
        "old_numa_topology": fields.ObjectField(
            "OsNumaInstanceNUMATopology", nullable=True, default=None
        ),
        "new_numa_topology": fields.ObjectField(
            "OsNumaInstanceNUMATopology", nullable=True, default=None
        ),
        "old_pci_devices": fields.ListOfObjectsField("OsNumaInstancePCIDevice", default=[]),
        "new_pci_devices": fields.ListOfObjectsField("OsNumaInstancePCIDevice", default=[]),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    instance_uuid: str
    migration_id: int | None
    old_numa_topology: InstanceNUMATopology | None
    new_numa_topology: InstanceNUMATopology | None
    old_pci_devices: list[InstancePCIDevice]
    new_pci_devices: list[InstancePCIDevice]

    obj_relationships = {
        "old_numa_topology": [("1.0", "1.7"), ("1.1", "1.8"), ("1.2", "1.9")],
        "new_numa_topology": [("1.0", "1.7"), ("1.1", "1.8"), ("1.2", "1.9")],
        "old_pci_devices": [("1.0", "1.0")],
        "new_pci_devices": [("1.0", "1.0")],
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()
