"""Image metadata: the ``hw_*`` properties that refine a flavor's placement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_utils import versionutils

from os_numa import cpuset, exception
from os_numa.objects import base, fields

#: Glance's flat ``hw_numa_cpus.N`` keys are read from N=0 up to the first gap, at most this many.
MAX_NUMA_NODES = 128


@base.OsNumaObjectRegistry.register
class ImageMetaProps(base.OsNumaObject):
    """Typed ``hw_*`` image properties that os-numa reads.

    Unknown properties are ignored, as in Nova. ``get(name, default)`` returns a
    property's value, or ``default`` when it is not set.

    Version 1.0: hw_cpu_policy, hw_cpu_thread_policy, hw_cpu_realtime_mask,
                 hw_numa_nodes, hw_numa_cpus, hw_numa_mem, hw_mem_page_size,
                 hw_locked_memory
    Version 1.1: traits_required (Nova's name: read for HW_CPU_HYPERTHREADING),
                 hw_emulator_threads_mask
    """

    VERSION = "1.1"

    fields = {
        "hw_cpu_policy": fields.StringField(),
        "hw_cpu_thread_policy": fields.StringField(),
        "hw_cpu_realtime_mask": fields.StringField(),
        "hw_numa_nodes": fields.IntegerField(),
        "hw_numa_cpus": fields.ListOfSetsOfIntegersField(),
        "hw_numa_mem": fields.ListOfIntegersField(),
        "hw_mem_page_size": fields.StringField(),
        "hw_locked_memory": fields.BooleanField(),
        "traits_required": fields.ListOfStringsField(),
        "hw_emulator_threads_mask": fields.StringField(),
    }

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        if versionutils.convert_version_to_tuple(target_version) < (1, 1):
            primitive.pop("traits_required", None)
            primitive.pop("hw_emulator_threads_mask", None)

    def get(self, name: str, default: Any = None) -> Any:
        if name in self.fields and self.obj_attr_is_set(name):
            return getattr(self, name)
        return default

    @classmethod
    def from_dict(cls, props: Mapping[str, Any]) -> ImageMetaProps:
        """Build from Glance-style properties (flat ``hw_numa_cpus.0`` keys allowed).

        :raises Invalid: a property value has the wrong type.
        """
        obj = cls()
        props = dict(props)
        for name in ("hw_numa_cpus", "hw_numa_mem"):
            flat = _collect_indexed(props, name)
            if flat is not None:
                props[name] = flat
        for name in cls.fields:
            if name not in props or props[name] is None:
                continue
            value = props[name]
            if name == "hw_numa_cpus":
                value = [
                    cpuset.parse_cpu_spec(v) if isinstance(v, str) else set(v) for v in value
                ]
            try:
                setattr(obj, name, value)
            except (ValueError, TypeError) as exc:
                raise exception.Invalid(
                    reason=f"image property {name}={value!r} is invalid: {exc}"
                ) from exc
        return obj


def _collect_indexed(props: Mapping[str, Any], name: str) -> list | None:
    """``hw_numa_cpus.0``, ``.1``, ... -> a list, stopping at the first gap."""
    if not any(key.startswith(name + ".") for key in props):
        return None
    values = []
    for index in range(MAX_NUMA_NODES):
        key = f"{name}.{index}"
        if key not in props:
            break
        values.append(props[key])
    return values


@base.OsNumaObjectRegistry.register
class ImageMeta(base.OsNumaObject):
    """An image's metadata; os-numa reads only ``properties``.

    Version 1.0: properties
    Version 1.1: properties 1.1
    """

    VERSION = "1.1"

    fields = {
        "properties": fields.ObjectField("OsNumaImageMetaProps"),
    }

    obj_relationships = {"properties": [("1.0", "1.0"), ("1.1", "1.1")]}

    @classmethod
    def from_dict(cls, image_meta: Mapping[str, Any] | None) -> ImageMeta:
        """Build from ``{'properties': {...}}`` as Glance returns it."""
        image_meta = image_meta or {}
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
