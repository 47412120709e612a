"""The versioned-object base class and registry shared by all os-numa objects."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, cast

#: Warnings that oslo.versionedobjects' own imports raise (oslo.messaging ->
#: oslo.service -> eventlet: "Eventlet is deprecated"). They concern our
#: dependencies, not the importing program, so they are hidden for the
#: duration of that import only; the process's warning filters are untouched.
IMPORT_CHAIN_WARNINGS = (
    r"\s*Eventlet is deprecated",
    r"eventletutils module is deprecated",
    r"The 'oslo_service.eventlet_backdoor' module usage is deprecated",
)

with warnings.catch_warnings():
    for _message in IMPORT_CHAIN_WARNINGS:
        warnings.filterwarnings("ignore", message=_message)
    from oslo_utils import versionutils
    from oslo_versionedobjects import base as ovo_base
    from oslo_versionedobjects import fields as ovo_fields


class OsNumaObjectRegistry(ovo_base.VersionedObjectRegistry):
    """Registers os-numa objects in oslo.versionedobjects' process-wide table.

    Each class is also an attribute of :mod:`os_numa.objects`, which imports and
    names every one (tests/objects/test_base.py checks that none is missing); the
    registry therefore needs no hook that reaches back into the package.
    """


class OsNumaObject(ovo_base.VersionedObject, ovo_base.ComparableVersionedObject):
    """Base of every os-numa object.

    oslo.versionedobjects keeps one process-wide table of classes by object
    name. A Nova compute driver imports both Nova's ``NUMACell`` and ours, so
    our objects are registered under ``OsNuma<ClassName>`` to never shadow (or
    be shadowed by) Nova's classes of the same Python name.
    """

    OBJ_PROJECT_NAMESPACE = "os_numa"
    OBJ_SERIAL_NAMESPACE = "os_numa_object"

    #: The fields added after 1.0, by the version that added them (``{"1.2": ("socket",)}``):
    #: :meth:`obj_make_compatible` drops them from a primitive for an older version. What
    #: a downgrade converts or refuses stays in the class's own ``obj_make_compatible``.
    #: (Typed by a cast, not an annotation: the class annotations are the fields'.)
    obj_added_fields = cast(Mapping[str, tuple[str, ...]], {})

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        target = versionutils.convert_version_to_tuple(target_version)
        for version, names in self.obj_added_fields.items():
            if target < versionutils.convert_version_to_tuple(version):
                for name in names:
                    primitive.pop(name, None)

    @classmethod
    def obj_name(cls) -> str:
        return "OsNuma" + cls.__name__

    def obj_load_attr(self, attrname: str) -> None:
        # Unset fields with a default read as the default instead of raising.
        # A default of None counts (e.g. cpuset_reserved); only "no default" does not.
        if (
            attrname in self.fields
            and self.fields[attrname].default is not ovo_fields.UnspecifiedDefault
        ):
            self.obj_set_defaults(attrname)
            return
        super().obj_load_attr(attrname)

    def obj_to_primitive(
        self, target_version: str | None = None, version_manifest: dict[str, str] | None = None
    ) -> dict[str, Any]:
        primitive = super().obj_to_primitive(target_version, version_manifest)
        # oslo lists the changed fields in set order, which varies with the hash
        # seed; sorted, equal objects have equal primitives (and __eq__ holds).
        changes_key = f"{self.OBJ_SERIAL_NAMESPACE}.changes"
        if changes_key in primitive:
            primitive[changes_key] = sorted(primitive[changes_key])
        if target_version is not None and target_version != self.VERSION:
            _prune_changes(primitive, self.OBJ_SERIAL_NAMESPACE)
        return primitive

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in sorted(self.fields)
            if self.obj_attr_is_set(name)
        )
        return f"{type(self).__name__}({shown})"


def _prune_changes(primitive: Any, namespace: str) -> None:
    """Drop field names a downgrade removed from nested objects' change lists.

    oslo.versionedobjects filters the top object's ``changes`` after a
    downgrade but not those of the child objects it backports, which would
    otherwise still name fields (``pcpuset``...) their older version lacks.
    """
    if isinstance(primitive, list):
        for item in primitive:
            _prune_changes(item, namespace)
        return
    if not isinstance(primitive, dict) or f"{namespace}.data" not in primitive:
        return
    data = primitive[f"{namespace}.data"]
    changes_key = f"{namespace}.changes"
    if changes_key in primitive:
        primitive[changes_key] = [name for name in primitive[changes_key] if name in data]
    for value in data.values():
        _prune_changes(value, namespace)
