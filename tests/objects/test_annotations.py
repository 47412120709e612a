"""Every versioned object declares its fields as class annotations, for type checkers.

oslo.versionedobjects turns each entry of ``fields`` into a property when the class is
registered, which mypy cannot see; the class-level annotations beside ``fields`` are what
mypy reads. These tests fail when the two disagree: a field without an annotation, an
annotation without a field, a nullable field typed as never None, or a type that does not
match the field's kind.
"""

from __future__ import annotations

import inspect

import pytest

from os_numa import objects
from os_numa.objects import base

OBJECTS = sorted(
    (
        cls
        for _, cls in inspect.getmembers(objects, inspect.isclass)
        if issubclass(cls, base.OsNumaObject) and cls is not base.OsNumaObject
    ),
    key=lambda cls: cls.__name__,
)

#: The annotation each oslo field type stands for (nullable adds ``| None``).
SIMPLE = {
    "IntegerField": "int",
    "FloatField": "float",
    "BooleanField": "bool",
    "FlexibleBooleanField": "bool",
    "StringField": "str",
    "CPUAllocationPolicyField": "str",
    "CPUThreadAllocationPolicyField": "str",
    "CPUEmulatorThreadsPolicyField": "str",
    "SetOfIntegersField": "set[int]",
    "ListOfIntegersField": "list[int]",
    "ListOfStringsField": "list[str]",
    "ListOfSetsOfIntegersField": "list[set[int]]",
    "DictOfIntegersField": "dict[str, int]",
    "DictOfStringsField": "dict[str, str]",
}


def expected_annotation(field) -> str:
    kind = type(field).__name__
    if kind == "ObjectField":
        text = field._type._obj_name.removeprefix("OsNuma")
    elif kind == "ListOfObjectsField":
        text = f"list[{field.AUTO_TYPE._element_type._type._obj_name.removeprefix('OsNuma')}]"
    else:
        assert kind in SIMPLE, f"add {kind} to SIMPLE with the Python type it holds"
        text = SIMPLE[kind]
    return f"{text} | None" if field.nullable else text


def test_every_object_is_checked():
    assert len(OBJECTS) >= 10
    assert objects.NUMACell in OBJECTS and objects.InstanceNUMATopology in OBJECTS


@pytest.mark.parametrize("cls", OBJECTS, ids=lambda cls: cls.__name__)
def test_annotations_match_fields(cls):
    annotations = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, base.OsNumaObject):
            annotations.update(vars(klass).get("__annotations__", {}))
    assert sorted(annotations) == sorted(cls.fields)
    for name, field in cls.fields.items():
        assert annotations[name] == expected_annotation(field), name
