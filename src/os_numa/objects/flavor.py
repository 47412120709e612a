"""Flavor: the vCPU count, memory and extra specs a guest is built from."""

from __future__ import annotations

from typing import Any

from os_numa.objects import base, fields


@base.OsNumaObjectRegistry.register
class Flavor(base.OsNumaObject):
    """A minimal flavor. Nova's own Flavor works anywhere this one does.

    Version 1.0: vcpus, memory_mb, extra_specs, name
    """

    VERSION = "1.0"

    fields = {
        "vcpus": fields.IntegerField(),
        "memory_mb": fields.IntegerField(),
        "extra_specs": fields.DictOfStringsField(default={}),
        "name": fields.StringField(nullable=True, default=None),
    }

    # The fields as attributes, for type checkers: oslo.versionedobjects makes them
    # properties at registration (tests/objects/test_annotations.py checks both agree).
    vcpus: int
    memory_mb: int
    extra_specs: dict[str, str]
    name: str | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj_set_defaults()
