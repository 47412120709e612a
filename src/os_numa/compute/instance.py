"""The instance the resource tracker claims for, and what it reads from one.

A driver embedded in Nova passes Nova's own ``Instance``; anything with
``uuid``, ``flavor``, ``image_meta`` and ``numa_topology`` attributes works
(duck typing). :class:`Instance` is a minimal stand-in for users without Nova.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from os_numa import constraints, exception
from os_numa.objects import ImageMeta, InstanceNUMATopology


@dataclass
class Instance:
    """A guest as the resource tracker sees it.

    ``numa_topology`` is the requested topology before a claim (or None to
    derive it from ``flavor`` and ``image_meta``) and the placement after one:
    the tracker records the placement here, as Nova's claim does.
    ``pci_devices`` holds the PCI devices of a guest without a NUMA request
    (a NUMA guest's are in its placement), when the tracker tracks PCI.
    While the guest moves, ``migration_context`` holds its old and new
    placement, and a resize's ``new_flavor`` / ``old_flavor`` (see
    :mod:`os_numa.compute.move`).
    """

    uuid: str
    flavor: Any
    image_meta: Any = None
    numa_topology: InstanceNUMATopology | None = None
    pci_devices: list = field(default_factory=list)
    migration_context: Any = None
    old_flavor: Any = None
    new_flavor: Any = None


@dataclass(frozen=True)
class Resources:
    """Host-wide amounts: vCPUs, MiB of memory and GiB of disk."""

    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus + other.vcpus,
            self.memory_mb + other.memory_mb,
            self.disk_gb + other.disk_gb,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus - other.vcpus,
            self.memory_mb - other.memory_mb,
            self.disk_gb - other.disk_gb,
        )


def instance_uuid(instance: Any) -> str:
    """The instance's uuid.

    :raises Invalid: the instance has no non-empty ``uuid``.
    """
    uuid = getattr(instance, "uuid", None)
    if not uuid:
        raise exception.Invalid(reason=f"instance {instance!r} has no uuid")
    return str(uuid)


def instance_image_meta(instance: Any) -> Any:
    """The image metadata of an instance (``image_meta``) or of Nova's RequestSpec (``image``).

    A Glance-style dict is converted to :class:`~os_numa.objects.ImageMeta`.
    """
    image_meta = getattr(instance, "image_meta", None)
    if image_meta is None:
        image_meta = getattr(instance, "image", None)
    if isinstance(image_meta, Mapping):
        return ImageMeta.from_dict(image_meta)
    return image_meta


def flavor_resources(flavor: Any) -> Resources:
    """What a flavor itself uses on the host, as Nova's resource tracker counts it.

    Disk is ``root_gb + ephemeral_gb`` plus swap (MiB, rounded up to GiB);
    flavors without those attributes (os-numa's own Flavor) use no disk.

    :raises Invalid: a value is missing, not an integer, or negative.
    """
    values = {}
    for name, default in (
        ("vcpus", None),
        ("memory_mb", None),
        ("root_gb", 0),
        ("ephemeral_gb", 0),
        ("swap", 0),
    ):
        value = getattr(flavor, name, default)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise exception.InvalidFlavor(
                reason=f"{name}={value!r}: a non-negative integer is required"
            )
        values[name] = value
    disk_gb = values["root_gb"] + values["ephemeral_gb"] + math.ceil(values["swap"] / 1024)
    return Resources(values["vcpus"], values["memory_mb"], disk_gb)


def overhead_resources(estimate: Any, driver: Any) -> Resources:
    """Validate what ``driver.estimate_instance_overhead`` returned.

    Missing keys count as 0, as in Nova's tracker.

    :raises Invalid: the estimate is not a mapping of non-negative integers.
    """
    if not isinstance(estimate, Mapping):
        raise exception.Invalid(
            reason=(
                f"{type(driver).__name__}.estimate_instance_overhead returned {estimate!r}; "
                "a dict with 'vcpus', 'memory_mb' and 'disk_gb' is required"
            )
        )
    values = []
    for key in ("vcpus", "memory_mb", "disk_gb"):
        value = estimate.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise exception.Invalid(
                reason=(
                    f"{type(driver).__name__}.estimate_instance_overhead returned "
                    f"{key}={value!r}; a non-negative integer is required"
                )
            )
        values.append(value)
    return Resources(*values)


def flavor_and_image(request: Any) -> tuple[Any, Any]:
    """The ``(flavor, image_meta)`` of ``request``.

    ``request`` is a ``(flavor, image_meta)`` pair, an instance or Nova
    RequestSpec (its ``flavor`` and :func:`instance_image_meta`), or a flavor
    alone (no image properties).
    """
    if isinstance(request, tuple):
        flavor, image_meta = request
        return flavor, image_meta
    if hasattr(request, "flavor"):
        return request.flavor, instance_image_meta(request)
    return request, None


def requested_topology(request: Any) -> InstanceNUMATopology | None:
    """The topology to fit for ``request``, or None when it asks for no NUMA placement.

    ``request`` is an instance or Nova RequestSpec, an
    :class:`InstanceNUMATopology` (the request itself), a ``(flavor,
    image_meta)`` pair or a flavor alone. An instance's already set
    ``numa_topology`` is the request (Nova's API sets it at boot); otherwise
    it comes from the flavor and image through
    :func:`~os_numa.constraints.topology.numa_get_constraints`, which raises the typed
    error of any invalid extra spec or image property.
    """
    if request is None or isinstance(request, InstanceNUMATopology):
        return request
    if not isinstance(request, tuple) and hasattr(request, "flavor"):
        topology = getattr(request, "numa_topology", None)
        if topology is not None:
            return topology
    return constraints.numa_get_constraints(*flavor_and_image(request))
