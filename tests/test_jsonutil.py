"""Bounded JSON parsing: nesting measured without recursion, before parsing."""

from __future__ import annotations

import json

import pytest

from os_numa import jsonutil


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[["', 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["\\"[[", [[]]]', 3),
        ('["\\\\", [[1]]]', 3),
        ('["é[", {"ü": "}}"}]', 2),
        ("[" * 10 + "]" * 10, 10),
    ],
)
def test_nesting_depth(text, depth):
    assert jsonutil.nesting_depth(text) == depth


def test_depth_is_counted_only_up_to_the_limit():
    # One pass per level, stopping past the limit: linear in the text, no recursion.
    assert jsonutil.nesting_depth("[" * 100_000 + "]" * 100_000, limit=5) == 6


def test_loads_accepts_the_limit_and_refuses_deeper():
    assert jsonutil.loads("[" * 32 + "]" * 32) == json.loads("[" * 32 + "]" * 32)
    with pytest.raises(ValueError, match="more than 32 deep"):
        jsonutil.loads("[" * 33 + "]" * 33)


def test_deep_documents_that_crash_json_are_refused():
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        with pytest.raises(ValueError, match="more than 32 deep"):
            jsonutil.loads(text)


def test_length_is_bounded_and_bad_json_is_a_value_error():
    with pytest.raises(ValueError, match="longer than 10 characters"):
        jsonutil.loads("[" + "1," * 10 + "1]", max_chars=10)
    with pytest.raises(json.JSONDecodeError):
        jsonutil.loads('{"a": }')
