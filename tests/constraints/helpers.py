"""Builders shared by the constraint tests: flavors and images in every accepted form."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from os_numa import objects


def flavor(specs: dict | None = None, vcpus: int = 4, memory_mb: int = 4096) -> objects.Flavor:
    """An os-numa Flavor with the given extra specs."""
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=dict(specs or {}))


def image(props: dict | None = None) -> objects.ImageMeta:
    """An ImageMeta built from Glance-style properties (flat ``hw_numa_cpus.0`` allowed)."""
    return objects.ImageMeta.from_dict({"properties": dict(props or {})})


class NovaLikeProps:
    """Stands in for Nova's ImageMetaProps: only ``get(name, default)``."""

    def __init__(self, values: dict):
        self._values = dict(values)

    def get(self, name, default=None):
        return self._values.get(name, default)


def nova_like_flavor(specs: dict, vcpus: int = 4, memory_mb: int = 4096) -> SimpleNamespace:
    """An object with only the attributes Nova's Flavor offers os-numa."""
    return SimpleNamespace(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs)


def nova_like_image(props: dict) -> SimpleNamespace:
    return SimpleNamespace(properties=NovaLikeProps(props))


def cells_summary(topology) -> list[tuple[set[int], set[int], int]]:
    """(floating vCPUs, pinned vCPUs, memory MB) per guest cell, in cell order."""
    return [(set(c.cpuset), set(c.pcpuset), c.memory) for c in topology.cells]


def table(rows):
    """pytest parameters from rows whose first item is the row's id."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


def assert_error(error, text: str, call, *args):
    """``call(*args)`` raises ``error`` and its message contains ``text``; returns the error."""
    with pytest.raises(error) as info:
        call(*args)
    assert text in str(info.value), str(info.value)
    return info.value
