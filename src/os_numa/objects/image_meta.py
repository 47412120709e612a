"""Image metadata: the ``hw_*`` properties that refine a flavor's placement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from os_numa import cpuset, exception
from os_numa.objects import base, fields

#: Glance's flat ``hw_numa_cpus.N`` keys are read from N=0 up to the first gap, at most this many.
MAX_NUMA_NODES = 128


@base.OsNumaObjectRegistry.register
class ImageMetaProps(base.OsNumaObject):
    """Typed ``hw_*`` image properties that os-numa reads.

    Unknown properties are ignored, as in Nova. ``get(name, default)`` returns a
    property's value, or ``default`` when it is not set.

    Versions:

    * 1.0: hw_cpu_policy, hw_cpu_thread_policy, hw_cpu_realtime_mask,
      hw_numa_nodes, hw_numa_cpus, hw_numa_mem, hw_mem_page_size,
      hw_locked_memory
    * 1.1: traits_required (Nova's name: read for HW_CPU_HYPERTHREADING),
      hw_emulator_threads_mask
    * 1.2: hw_pci_numa_affinity_policy
    * 1.3: hw_cpu_sockets, hw_cpu_cores, hw_cpu_threads, hw_cpu_max_sockets,
      hw_cpu_max_cores, hw_cpu_max_threads (guest CPU topology),
      hw_numa_memory_policy
    """

    VERSION = "1.3"

    fields = {
        "hw_cpu_policy": fields.StringField(),
        "hw_cpu_thread_policy": fields.StringField(),
        "hw_cpu_realtime_mask": fields.StringField(),
        "hw_numa_nodes": fields.IntegerField(),
        "hw_numa_cpus": fields.ListOfSetsOfIntegersField(),
        "hw_numa_mem": fields.ListOfIntegersField(),
        "hw_mem_page_size": fields.StringField(),
        "hw_locked_memory": fields.FlexibleBooleanField(),
        "traits_required": fields.ListOfStringsField(),
        "hw_emulator_threads_mask": fields.StringField(),
        "hw_pci_numa_affinity_policy": fields.StringField(),
        "hw_cpu_sockets": fields.IntegerField(),
        "hw_cpu_cores": fields.IntegerField(),
        "hw_cpu_threads": fields.IntegerField(),
        "hw_cpu_max_sockets": fields.IntegerField(),
        "hw_cpu_max_cores": fields.IntegerField(),
        "hw_cpu_max_threads": fields.IntegerField(),
        "hw_numa_memory_policy": fields.StringField(),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    hw_cpu_policy: str
    hw_cpu_thread_policy: str
    hw_cpu_realtime_mask: str
    hw_numa_nodes: int
    hw_numa_cpus: list[set[int]]
    hw_numa_mem: list[int]
    hw_mem_page_size: str
    hw_locked_memory: bool
    traits_required: list[str]
    hw_emulator_threads_mask: str
    hw_pci_numa_affinity_policy: str
    hw_cpu_sockets: int
    hw_cpu_cores: int
    hw_cpu_threads: int
    hw_cpu_max_sockets: int
    hw_cpu_max_cores: int
    hw_cpu_max_threads: int
    hw_numa_memory_policy: str

    obj_added_fields = {
        "1.1": ("traits_required", "hw_emulator_threads_mask"),
        "1.2": ("hw_pci_numa_affinity_policy",),
        "1.3": (
            "hw_cpu_sockets",
            "hw_cpu_cores",
            "hw_cpu_threads",
            "hw_cpu_max_sockets",
            "hw_cpu_max_cores",
            "hw_cpu_max_threads",
            "hw_numa_memory_policy",
        ),
    }

    def get(self, name: str, default: Any = None) -> Any:
        if name in self.fields and self.obj_attr_is_set(name):
            return getattr(self, name)
        return default

    @classmethod
    def from_dict(cls, props: Mapping[str, Any]) -> ImageMetaProps:
        """Build from Glance-style properties (flat ``hw_numa_cpus.0`` keys allowed).

        ``hw_numa_cpus.N`` (CPU specs) and ``hw_numa_mem.N`` (MB) are read from
        N=0 up to the first missing index, as Nova does; a list under the plain
        name is accepted too. Booleans accept oslo's strings (``"yes"``,
        ``"false"``...). Unknown properties are ignored.

        :raises InvalidImageProperty: naming the key and value, when a value
            cannot be converted to its field's type.
        """
        if not isinstance(props, Mapping):
            raise exception.InvalidImageProperty(
                name="properties", value=type(props).__name__, reason="a mapping is required"
            )
        obj = cls()
        for name in cls.fields:
            value = props.get(name)
            if name in _INDEXED:
                flat = _collect_indexed(props, name)
                if flat is not None:
                    setattr(obj, name, flat)
                    continue
            if value is None:
                continue
            if name in _INDEXED:
                if not isinstance(value, (list, tuple)):
                    raise exception.InvalidImageProperty(
                        name=name, value=value, reason="a list (one item per NUMA node) is required"
                    )
                value = [_INDEXED[name](f"{name}[{i}]", v) for i, v in enumerate(value)]
            try:
                setattr(obj, name, value)
            except (ValueError, TypeError) as exc:
                raise exception.InvalidImageProperty(name=name, value=value, reason=exc) from exc
        return obj


def _numa_cpus_item(key: str, value: Any) -> set[int]:
    if isinstance(value, str):
        try:
            return cpuset.parse_cpu_spec(value)
        except exception.InvalidCPUSpec as exc:
            raise exception.InvalidImageProperty(name=key, value=value, reason=exc) from exc
    try:
        cpus = set(value)
    except TypeError as exc:
        raise exception.InvalidImageProperty(
            name=key, value=value, reason="a CPU spec such as '0-3' is required"
        ) from exc
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in cpus):
        raise exception.InvalidImageProperty(
            name=key, value=value, reason="vCPU ids must be non-negative integers"
        )
    return cpus


def _numa_mem_item(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise exception.InvalidImageProperty(name=key, value=value, reason="MB must be an integer")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise exception.InvalidImageProperty(
            name=key, value=value, reason="an integer number of MB is required"
        ) from exc


#: Properties Glance stores as flat ``name.N`` keys, with the converter of one item.
_INDEXED = {"hw_numa_cpus": _numa_cpus_item, "hw_numa_mem": _numa_mem_item}


def _collect_indexed(props: Mapping[str, Any], name: str) -> list | None:
    """``hw_numa_cpus.0``, ``.1``, ... -> a list, stopping at the first gap.

    None when there is no ``name.0`` (a ``name.1`` alone is ignored, as in Nova).
    """
    values = []
    for index in range(MAX_NUMA_NODES):
        key = f"{name}.{index}"
        if key not in props:
            break
        values.append(_INDEXED[name](key, props[key]))
    return values or None


@base.OsNumaObjectRegistry.register
class ImageMeta(base.OsNumaObject):
    """An image's metadata; os-numa reads only ``properties``.

    Versions:

    * 1.0: properties (ImageMetaProps 1.0)
    * 1.1: properties are ImageMetaProps 1.1
    * 1.2: properties are ImageMetaProps 1.2
    * 1.3: properties are ImageMetaProps 1.3
    """

    VERSION = "1.3"

    fields = {
        "properties": fields.ObjectField("OsNumaImageMetaProps"),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    properties: ImageMetaProps

    obj_relationships = {
        "properties": [("1.0", "1.0"), ("1.1", "1.1"), ("1.2", "1.2"), ("1.3", "1.3")]
    }

    @classmethod
    def from_dict(cls, image_meta: Mapping[str, Any] | None) -> ImageMeta:
        """Build from ``{'properties': {...}}`` as Glance returns it (None: no properties).

        :raises InvalidImageProperty: ``image_meta`` is not a mapping, or a
            property value is invalid (see :meth:`ImageMetaProps.from_dict`).
        """
        image_meta = image_meta or {}
        if not isinstance(image_meta, Mapping):
            raise exception.InvalidImageProperty(
                name="image_meta", value=type(image_meta).__name__, reason="a mapping is required"
            )
        return cls(properties=ImageMetaProps.from_dict(image_meta.get("properties") or {}))


@base.OsNumaObjectRegistry.register
class VirtCPUTopology(base.OsNumaObject):
    """A guest CPU topology: sockets x cores x threads.

    Version 1.0: sockets, cores, threads
    """

    VERSION = "1.0"

    fields = {
        "sockets": fields.IntegerField(default=1),
        "cores": fields.IntegerField(default=1),
        "threads": fields.IntegerField(default=1),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    sockets: int
    cores: int
    threads: int
