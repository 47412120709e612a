"""Reading flavors and images in every accepted form, with bounds."""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace

import pytest

from os_numa import exception, objects
from os_numa.constraints import source
from tests.constraints.helpers import NovaLikeProps, flavor


@pytest.mark.parametrize(
    "value",
    [
        objects.Flavor(vcpus=2, memory_mb=512, extra_specs={"hw:a": "1"}),
        SimpleNamespace(vcpus=2, memory_mb=512, extra_specs={"hw:a": "1"}),
        {"vcpus": 2, "memory_mb": 512, "extra_specs": {"hw:a": "1"}},
    ],
    ids=["os-numa", "nova-like", "mapping"],
)
def test_flavor_view_accepts_every_form(value):
    view = source.flavor_view(value)
    assert (view.vcpus, view.memory_mb, dict(view.extra_specs)) == (2, 512, {"hw:a": "1"})


def test_flavor_view_is_a_copy_and_read_only():
    specs = {"hw:numa_nodes": 2}
    view = source.flavor_view(SimpleNamespace(vcpus=2, memory_mb=512, extra_specs=specs))
    specs["hw:numa_nodes"] = 3
    assert view.spec("hw:numa_nodes") == "2"
    assert isinstance(view.extra_specs, MappingProxyType)


def test_flavor_without_extra_specs():
    assert dict(source.flavor_view(SimpleNamespace(vcpus=1, memory_mb=1)).extra_specs) == {}


@pytest.mark.parametrize(
    "vcpus,memory_mb,specs,text",
    [
        (0, 512, {}, "vcpus=0 is out of range 1..4096"),
        (4097, 512, {}, "vcpus=4097"),
        ("4", 512, {}, "vcpus='4' is not an integer"),
        (True, 512, {}, "vcpus=True"),
        (None, 512, {}, "vcpus=None"),
        (2, 0, {}, "memory_mb=0"),
        (2, 2.5, {}, "memory_mb=2.5"),
        (2, 512, ["hw:cpu_policy"], "extra_specs must be a mapping"),
    ],
)
def test_flavor_view_bounds(vcpus, memory_mb, specs, text):
    with pytest.raises(exception.InvalidFlavor) as info:
        source.flavor_view(SimpleNamespace(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs))
    assert text in str(info.value)


def test_no_flavor():
    with pytest.raises(exception.InvalidFlavor):
        source.flavor_view(None)


@pytest.mark.parametrize(
    "image_meta,expected",
    [
        (None, None),
        ({}, None),
        ({"properties": {"hw_cpu_policy": "mixed"}}, "mixed"),
        (objects.ImageMeta.from_dict({"properties": {"hw_cpu_policy": "mixed"}}), "mixed"),
        (objects.ImageMeta(), None),
        (SimpleNamespace(properties=NovaLikeProps({"hw_cpu_policy": "mixed"})), "mixed"),
        (SimpleNamespace(properties=None), None),
    ],
    ids=[
        "none",
        "empty-dict",
        "dict",
        "image-meta",
        "image-meta-unset",
        "nova-like",
        "properties-none",
    ],
)
def test_image_properties(image_meta, expected):
    assert source.image_properties(image_meta).get("hw_cpu_policy") == expected


def test_image_dict_with_wrong_type_is_invalid():
    with pytest.raises(exception.Invalid) as info:
        source.image_properties({"properties": {"hw_numa_nodes": "two"}})
    assert "hw_numa_nodes" in str(info.value)


@pytest.mark.parametrize(
    "mask,vcpus,expected",
    [
        ("^0", 4, {1, 2, 3}),
        (" ^1-2", 4, {0, 3}),
        ("1-2", 4, {1, 2}),
        ("0-2,^0", 4, {1, 2}),
        ("^0,5", 4, {1, 2, 3, 5}),
        ("", 4, set()),
    ],
)
def test_parse_vcpu_mask(mask, vcpus, expected):
    assert source.parse_vcpu_mask(mask, vcpus) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("3", 3),
        (" 3 ", 3),
        (3, 3),
        ("0", 0),
        ("-1", None),
        (-1, None),
        ("3.0", None),
        ("٣", None),
        ("1" * 19, None),
        (True, None),
        (None, None),
        ("", None),
    ],
)
def test_parse_int(value, expected):
    assert source.parse_int(value) == expected


def test_indexed_specs_in_order():
    f = flavor({"hw:numa_cpus.1": "1", "hw:numa_cpus.0": "0", "hw:numa_nodes": "2"})
    assert source.indexed_specs(source.flavor_view(f), "hw:numa_cpus") == ["0", "1"]
    assert source.indexed_specs(source.flavor_view(f), "hw:numa_mem") is None


@pytest.mark.parametrize("key", ["hw:numa_cpus.01", "hw:numa_cpus.-1", "hw:numa_cpus."])
def test_indexed_specs_reject_odd_indices(key):
    with pytest.raises(exception.ImageNUMATopologyIncomplete) as info:
        source.indexed_specs(source.flavor_view(flavor({key: "0"})), "hw:numa_cpus")
    assert key in str(info.value)


class _VersionedProps:
    """Like Nova's ImageMetaProps: ``get`` raises for a name it does not define."""

    fields = {"hw_cpu_policy": None}

    def get(self, name, default=None):
        if name not in self.fields:
            raise AttributeError(f"'ImageMetaProps' object has no attribute '{name}'")
        return "dedicated" if name == "hw_cpu_policy" else default


class _VersionedFlavor:
    """Like Nova's Flavor: reading an unset field raises (not AttributeError)."""

    fields = {"vcpus": None, "memory_mb": None, "extra_specs": None}

    def __init__(self, **values):
        self._values = values

    def obj_attr_is_set(self, name):
        return name in self._values

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._values:
            raise RuntimeError(f"Cannot load '{name}' in the base class")
        return self._values[name]


def test_versioned_image_properties_answer_default_for_names_they_lack():
    image = SimpleNamespace(properties=_VersionedProps(), obj_attr_is_set=lambda n: True)
    props = source.image_properties(image)
    assert props.get("hw_cpu_policy") == "dedicated"
    assert props.get("hw_emulator_threads_mask") is None
    assert props.get("hw_emulator_threads_mask", "x") == "x"


def test_versioned_flavor_with_unset_extra_specs_reads_as_none():
    view = source.flavor_view(_VersionedFlavor(vcpus=2, memory_mb=64))
    assert dict(view.extra_specs) == {}
    with pytest.raises(exception.InvalidFlavor, match="vcpus"):
        source.flavor_view(_VersionedFlavor(memory_mb=64, extra_specs={}))
