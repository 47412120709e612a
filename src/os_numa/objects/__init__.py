"""os-numa's versioned objects. Importing this package registers them all."""

from os_numa.objects import fields  # noqa: F401
from os_numa.objects.flavor import Flavor
from os_numa.objects.image_meta import ImageMeta, ImageMetaProps, VirtCPUTopology
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from os_numa.objects.migration_context import MigrationContext
from os_numa.objects.numa import (
    NUMACell,
    NUMAPagesTopology,
    NUMATopology,
    NUMATopologyLimits,
)
from os_numa.objects.pci import InstancePCIDevice

__all__ = [
    "Flavor",
    "ImageMeta",
    "ImageMetaProps",
    "InstanceNUMACell",
    "InstanceNUMATopology",
    "InstancePCIDevice",
    "MigrationContext",
    "NUMACell",
    "NUMAPagesTopology",
    "NUMATopology",
    "NUMATopologyLimits",
    "VirtCPUTopology",
    "fields",
]
