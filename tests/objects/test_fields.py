"""Tests for os_numa.objects.fields: the policy enums and the flexible boolean."""

from __future__ import annotations

import pytest

from os_numa.objects import fields

ENUMS = {
    "CPUEmulatorThreadsPolicy": (
        fields.CPUEmulatorThreadsPolicy,
        fields.CPUEmulatorThreadsPolicyField,
        {"SHARE": "share", "ISOLATE": "isolate", "POOL": "pool"},
    ),
    "CPUAllocationPolicy": (
        fields.CPUAllocationPolicy,
        fields.CPUAllocationPolicyField,
        {"DEDICATED": "dedicated", "SHARED": "shared", "MIXED": "mixed"},
    ),
    "CPUThreadAllocationPolicy": (
        fields.CPUThreadAllocationPolicy,
        fields.CPUThreadAllocationPolicyField,
        {"PREFER": "prefer", "ISOLATE": "isolate", "REQUIRE": "require"},
    ),
}


@pytest.mark.parametrize(("enum", "field", "members"), ENUMS.values(), ids=ENUMS.keys())
def test_enum_members(enum, field, members):
    for attr, value in members.items():
        assert getattr(enum, attr) == value
    assert set(enum.ALL) == set(members.values())
    for value in members.values():
        assert field().coerce(None, "policy", value) == value


@pytest.mark.parametrize(("enum", "field", "members"), ENUMS.values(), ids=ENUMS.keys())
def test_enum_fields_are_case_sensitive_and_closed(enum, field, members):
    for value in members.values():
        with pytest.raises(ValueError):
            field().coerce(None, "policy", value.upper())
    with pytest.raises(ValueError):
        field().coerce(None, "policy", "unknown")


def test_emulator_policy_field_nullable():
    assert fields.CPUEmulatorThreadsPolicyField(nullable=True).coerce(None, "p", None) is None
    with pytest.raises(ValueError):
        fields.CPUEmulatorThreadsPolicyField().coerce(None, "p", None)


FLEXIBLE = {
    "yes": True,
    "True": True,
    "1": True,
    "on": True,
    True: True,
    "no": False,
    "false": False,
    "0": False,
    "off": False,
    False: False,
}


@pytest.mark.parametrize(("value", "expected"), FLEXIBLE.items(), ids=map(repr, FLEXIBLE))
def test_flexible_boolean(value, expected):
    assert fields.FlexibleBooleanField().coerce(None, "b", value) is expected


@pytest.mark.parametrize("value", ["maybe", "2", "", "yes please"])
def test_flexible_boolean_rejects_other_strings(value):
    with pytest.raises(ValueError):
        fields.FlexibleBooleanField().coerce(None, "b", value)
