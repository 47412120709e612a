"""Tests across every os-numa object: registration, fingerprints, versions, JSON round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields as ovo_fields
from oslo_versionedobjects import fixture as ovo_fixture

from os_numa import objects as o
from os_numa.objects import base


def os_numa_classes() -> dict[str, list[type]]:
    return {
        name: classes
        for name, classes in ovo_base.VersionedObjectRegistry.obj_classes().items()
        if name.startswith("OsNuma")
    }


def checker() -> ovo_fixture.ObjectVersionChecker:
    return ovo_fixture.ObjectVersionChecker(os_numa_classes())


# Every object's VERSION and a hash of its fields (names, types, defaults, nullability).
#
# This test fails when an object's fields change but its VERSION does not. To change an
# object: add or change the field, bump VERSION (minor), add the field to the version
# history in the class docstring, drop it (obj_added_fields) or convert it in
# obj_make_compatible() for older versions (and bump every parent object whose
# obj_relationships carry it), then run
#   .venv/bin/python -m pytest tests/objects/test_base.py -k fingerprint
# and copy the new "X.Y-hash" from the failure message here. Only the entry of the
# object you changed (and of parents you bumped) may change; a new object adds a line.
EXPECTED_FINGERPRINTS = {
    "OsNumaFlavor": "1.0-ad88968ccaea0fec5ef56030821c0ead",
    "OsNumaImageMeta": "1.3-c352d0b3dd82ba922e4f90a52d0e3e10",
    "OsNumaImageMetaProps": "1.3-1af7f498f842d0ffb51cace4f27f7aa0",
    "OsNumaInstanceNUMACell": "1.3-a5d79890cdbaa20ca226a7aaefd3bf25",
    "OsNumaInstanceNUMATopology": "1.9-b28df6a00d52537f7d5a52c1bcf75279",
    "OsNumaInstancePCIDevice": "1.0-6e74c6e8f4de0f3b97e3d688baa43b03",
    "OsNumaMigrationContext": "1.2-cff9d2fbefa1917009a452f78f46e2dc",
    "OsNumaNUMACell": "1.5-325f28fb4bc5018541d9d611920a7f44",
    "OsNumaNUMAPagesTopology": "1.1-edab9fa2dc43c117a38d600be54b4542",
    "OsNumaNUMATopology": "1.5-c63fad38be73b6afd04715c9c1b29220",
    "OsNumaNUMATopologyLimits": "1.0-9463e0edd40f64765ae518a539b9dfd2",
    "OsNumaVirtCPUTopology": "1.0-fd0a429bd8952537d1c94671e2213623",
}


def test_fingerprints():
    expected, actual = checker().test_hashes(EXPECTED_FINGERPRINTS)
    assert expected == actual, (
        "Object fields changed: bump VERSION, handle obj_make_compatible, then update "
        f"EXPECTED_FINGERPRINTS (see the comment above it). Expected {expected}, got {actual}"
    )


def test_fingerprint_changes_with_a_field_but_not_without_one():
    """The check above can fail: a new field without a bump gives a different hash."""

    class Changed(o.VirtCPUTopology):
        fields = dict(o.VirtCPUTopology.fields, dies=ovo_fields.IntegerField(default=1))

    unchanged = ovo_fixture.ObjectVersionChecker({"OsNumaVirtCPUTopology": [o.VirtCPUTopology]})
    changed = ovo_fixture.ObjectVersionChecker({"OsNumaVirtCPUTopology": [Changed]})
    before = unchanged.get_hashes()["OsNumaVirtCPUTopology"]
    after = changed.get_hashes()["OsNumaVirtCPUTopology"]
    assert before == EXPECTED_FINGERPRINTS["OsNumaVirtCPUTopology"]
    assert after.split("-")[0] == before.split("-")[0]
    assert after != before


def test_relationships_are_in_order():
    checker().test_relationships_in_order()


def test_every_object_can_be_downgraded_to_every_version():
    checker().test_compatibility_routines()


def child_object_fields():
    for name, (cls, *_) in sorted(os_numa_classes().items()):
        for field_name, field in sorted(cls.fields.items()):
            if isinstance(field, (ovo_fields.ObjectField, ovo_fields.ListOfObjectsField)):
                yield pytest.param(cls, field_name, id=f"{name}.{field_name}")


@pytest.mark.parametrize(("cls", "field_name"), list(child_object_fields()))
def test_parent_carries_the_child_current_version(cls, field_name):
    """A child's VERSION bump must come with a parent bump and a relationship entry."""
    child_name = cls.fields[field_name].objname
    child = os_numa_classes()[child_name][0]
    rules = cls.obj_relationships.get(field_name)
    assert rules, f"{cls.obj_name()}.obj_relationships has no rule for {field_name}"
    last_parent, last_child = (tuple(int(x) for x in v.split(".")) for v in rules[-1])
    assert last_child == tuple(int(x) for x in child.VERSION.split(".")), (
        f"{cls.obj_name()} must carry {child_name} {child.VERSION} (bump {cls.obj_name()} "
        f"and add a relationship entry): {rules}"
    )
    assert last_parent <= tuple(int(x) for x in cls.VERSION.split("."))


# --- registration -------------------------------------------------------------------------

API_OBJECTS = {
    "NUMAPagesTopology": {"size_kb", "total", "used", "reserved"},
    "NUMACell": {
        "id",
        "cpuset",
        "pcpuset",
        "memory",
        "cpu_usage",
        "memory_usage",
        "pinned_cpus",
        "siblings",
        "mempages",
        "socket",
    },
    "NUMATopology": {"cells"},
    "InstanceNUMACell": {
        "id",
        "cpuset",
        "pcpuset",
        "memory",
        "pagesize",
        "cpu_pinning_raw",
        "cpuset_reserved",
        "cpu_policy",
        "cpu_thread_policy",
    },
    "InstanceNUMATopology": {"cells", "emulator_threads_policy"},
    "Flavor": {"vcpus", "memory_mb", "extra_specs", "name"},
    "ImageMeta": {"properties"},
    "VirtCPUTopology": {"sockets", "cores", "threads"},
}


@pytest.mark.parametrize(("name", "field_names"), API_OBJECTS.items(), ids=API_OBJECTS)
def test_api_objects_are_importable_with_their_fields(name, field_names):
    cls = getattr(o, name)
    assert name in o.__all__
    assert cls.obj_name() == "OsNuma" + name
    assert field_names <= set(cls.fields)


def test_every_registered_object_is_exported():
    for name, (cls, *_) in os_numa_classes().items():
        assert name == "OsNuma" + cls.__name__
        assert getattr(o, cls.__name__) is cls
        assert cls.__name__ in o.__all__
        assert issubclass(cls, base.OsNumaObject)


def test_a_foreign_class_of_the_same_name_does_not_shadow_ours():
    """A Nova driver imports Nova's NUMACell too; both must keep working."""
    with ovo_fixture.VersionedObjectRegistryFixture() as registry:

        class NUMACell(ovo_base.VersionedObject):  # what nova.objects.numa registers
            VERSION = "1.5"
            fields = {"id": ovo_fields.IntegerField()}

        registry.register(NUMACell)
        assert o.NUMACell is not NUMACell
        ours = o.NUMACell(id=1, cpuset={0}, pcpuset={1}, memory=1)
        back = base.OsNumaObject.obj_from_primitive(ours.obj_to_primitive())
        assert type(back) is o.NUMACell
        assert back == ours
        assert ovo_base.VersionedObjectRegistry.obj_classes()["NUMACell"] == [NUMACell]


# --- JSON round trip for every object --------------------------------------------------------


def sample_for(field_type, depth=0):
    """A non-default value of an oslo field type, so a round trip has something to lose."""
    if isinstance(field_type, ovo_fields.Enum):
        return field_type._valid_values[-1]
    if isinstance(field_type, ovo_fields.Object):
        return build(os_numa_classes()[field_type._obj_name][0], depth + 1)
    if isinstance(field_type, (ovo_fields.List, ovo_fields.Set, ovo_fields.Dict)):
        element = field_type._element_type._type
        values = [sample_for(element, depth), sample_for(element, depth)]
        if isinstance(field_type, ovo_fields.Set):
            return {3, 5} if isinstance(element, ovo_fields.Integer) else set(values[:1])
        if isinstance(field_type, ovo_fields.Dict):
            return {"2": values[0], "0": values[1]}
        return values
    simple = {
        ovo_fields.Integer: 7,
        ovo_fields.Float: 1.5,
        ovo_fields.String: "s-1",
        ovo_fields.Boolean: True,
    }
    for kind, value in simple.items():
        if isinstance(field_type, kind):
            return value
    if isinstance(field_type, ovo_fields.FieldType) and hasattr(field_type, "coerce"):
        return field_type.coerce(None, "sample", "yes")  # FlexibleBoolean and the like
    raise AssertionError(f"no sample value for {type(field_type).__name__}: add one")


def build(cls, depth=0):
    assert depth < 5, f"{cls.obj_name()} nests too deeply for a sample"
    return cls(**{name: sample_for(field._type, depth) for name, field in cls.fields.items()})


@pytest.mark.parametrize("name", sorted(os_numa_classes()))
def test_json_round_trip(name):
    cls = os_numa_classes()[name][0]
    obj = build(cls)
    text = json.dumps(obj.obj_to_primitive(), sort_keys=True)
    back = base.OsNumaObject.obj_from_primitive(json.loads(text))
    assert type(back) is cls
    assert back == obj
    for field_name in cls.fields:
        assert getattr(back, field_name) == getattr(obj, field_name), field_name
    data_key = "os_numa_object.data"
    assert json.dumps(back.obj_to_primitive()[data_key], sort_keys=True) == json.dumps(
        json.loads(text)[data_key], sort_keys=True
    )


def test_json_round_trip_of_a_placement():
    t = o.InstanceNUMATopology(
        cells=[
            o.InstanceNUMACell(
                id=1,
                cpuset=set(),
                pcpuset={0, 1},
                memory=1024,
                pagesize=2048,
                cpu_pinning={0: 8, 1: 9},
                cpuset_reserved={12},
                cpu_policy="dedicated",
                cpu_thread_policy="isolate",
            )
        ],
        emulator_threads_policy="isolate",
    )
    back = o.InstanceNUMATopology.obj_from_primitive(json.loads(json.dumps(t.obj_to_primitive())))
    assert back == t
    assert back.cells[0].cpu_pinning == {0: 8, 1: 9}
    assert back.cpuset_reserved == {12}
    assert back.cpu_pinning == {8, 9}
    assert back.emulator_threads_isolated


def test_repr_lists_set_fields_in_name_order():
    text = repr(o.Flavor(vcpus=2, memory_mb=3))
    assert text == "Flavor(extra_specs={}, memory_mb=3, name=None, vcpus=2)"
    assert repr(o.VirtCPUTopology(threads=2)) == "VirtCPUTopology(threads=2)"


UNSET_DEFAULTS = {
    "default value": (o.Flavor, "extra_specs", {}),
    "default None": (o.InstanceNUMACell, "cpuset_reserved", None),
    "default zero": (o.NUMAPagesTopology, "reserved", 0),
}


@pytest.mark.parametrize(("cls", "field", "default"), UNSET_DEFAULTS.values(), ids=UNSET_DEFAULTS)
def test_unset_field_with_a_default_reads_as_the_default(cls, field, default):
    obj = cls()
    delattr(obj, field)
    assert not obj.obj_attr_is_set(field)
    assert getattr(obj, field) == default


def test_unset_field_without_a_default_raises():
    cell = o.InstanceNUMACell()
    with pytest.raises(NotImplementedError, match="Cannot load 'cpuset'"):
        cell.cpuset  # noqa: B018 (reading raises)


def test_import_is_silent_and_leaves_the_warning_filters_alone():
    """A program importing os-numa sees no warning about its dependencies' imports."""
    code = (
        "import warnings; before = list(warnings.filters)\n"
        "import os_numa.hardware, os_numa.compute, os_numa.virt.libvirt.driver\n"
        "assert warnings.filters == before, warnings.filters\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@pytest.mark.parametrize("name", sorted(os_numa_classes()))
def test_added_fields_name_fields_of_later_versions(name):
    """obj_added_fields (what a downgrade drops) names real fields, added after 1.0 and
    no later than the class's VERSION."""
    cls = os_numa_classes()[name][0]
    for version, names in cls.obj_added_fields.items():
        assert set(names) <= set(cls.fields), (version, names)
        assert (1, 0) < _version(version) <= _version(cls.VERSION), version


def test_a_downgrade_drops_the_fields_added_after_its_version():
    cell = o.NUMACell(
        id=0, cpuset={0}, pcpuset={1}, memory=512, socket=0, physnets=["a"], cache_banks=[{1}]
    )
    data = cell.obj_to_primitive(target_version="1.3")["os_numa_object.data"]
    assert "socket" in data and "emulator_pool_cpus" in data
    assert not {"physnets", "distances", "tunneled", "cache_banks"} & set(data)
    data = cell.obj_to_primitive(target_version="1.1")["os_numa_object.data"]
    assert not {"socket", "emulator_pool_cpus", "emulator_pool_guests"} & set(data)
