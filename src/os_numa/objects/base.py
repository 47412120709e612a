"""The versioned-object base class and registry shared by all os-numa objects."""

from __future__ import annotations

from oslo_versionedobjects import base as ovo_base


class OsNumaObjectRegistry(ovo_base.VersionedObjectRegistry):
    """Registers os-numa objects as attributes of :mod:`os_numa.objects`."""

    def registration_hook(self, cls, index):
        from os_numa import objects

        version = tuple(int(x) for x in cls.VERSION.split("."))
        current = getattr(objects, cls.__name__, None)
        if current is None or version >= tuple(
            int(x) for x in current.VERSION.split(".")
        ):
            setattr(objects, cls.__name__, cls)


class OsNumaObject(ovo_base.VersionedObject, ovo_base.ComparableVersionedObject):
    """Base of every os-numa object.

    oslo.versionedobjects keeps one process-wide table of classes by object
    name. A Nova compute driver imports both Nova's ``NUMACell`` and ours, so
    our objects are registered under ``OsNuma<ClassName>`` to never shadow (or
    be shadowed by) Nova's classes of the same Python name.
    """

    OBJ_PROJECT_NAMESPACE = "os_numa"
    OBJ_SERIAL_NAMESPACE = "os_numa_object"

    @classmethod
    def obj_name(cls) -> str:
        return "OsNuma" + cls.__name__

    def obj_load_attr(self, attrname):
        # Unset fields with a default read as the default instead of raising.
        if attrname in self.fields and self.fields[attrname].default is not None:
            self.obj_set_defaults(attrname)
            return
        super().obj_load_attr(attrname)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in sorted(self.fields)
            if self.obj_attr_is_set(name)
        )
        return f"{type(self).__name__}({shown})"
