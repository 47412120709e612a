"""Tests for os_numa.cpuset: Nova's CPU spec grammar, its bounds and its errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import cpuset, exception
from os_numa.cpuset import format_cpu_spec, parse_cpu_spec

PARSE_CASES = {
    "single": ("3", {3}),
    "zero": ("0", {0}),
    "list": ("0,2,4", {0, 2, 4}),
    "range": ("0-3", {0, 1, 2, 3}),
    "one-element range": ("5-5", {5}),
    "ranges and singles": ("0-2,5,8-9", {0, 1, 2, 5, 8, 9}),
    "exclusion after inclusion": ("1-2,^1", {2}),
    "exclusion before inclusion": ("^1,1-2", {2}),
    "range exclusion": ("0-7,^2-5", {0, 1, 6, 7}),
    "exclusion of an id never included": ("0-1,^5", {0, 1}),
    "exclusions only": ("^0,^1-3", set()),
    "exclusion covers every inclusion": ("2,3,^2-3", set()),
    "later inclusion does not undo an exclusion": ("0-3,^1,1", {0, 2, 3}),
    "whitespace around items": (" 0 , 2 ", {0, 2}),
    "whitespace inside a range": ("0 - 2", {0, 1, 2}),
    "whitespace after the caret": ("0-3,^ 1", {0, 2, 3}),
    "tabs and newlines": ("\t0-1,\n3\n", {0, 1, 3}),
    "empty items": ("0,,1,", {0, 1}),
    "leading comma": (",4", {4}),
    "empty string": ("", set()),
    "only separators": (" , ,, ", set()),
    "overlapping ranges": ("0-4,2-6,3", set(range(7))),
    "leading zeros": ("007,0010-0011", {7, 10, 11}),
    "highest id": (str(cpuset.MAX_CPU_ID - 1), {cpuset.MAX_CPU_ID - 1}),
    "range up to the highest id": (
        f"{cpuset.MAX_CPU_ID - 2}-{cpuset.MAX_CPU_ID - 1}",
        {cpuset.MAX_CPU_ID - 2, cpuset.MAX_CPU_ID - 1},
    ),
}


@pytest.mark.parametrize(("spec", "expected"), PARSE_CASES.values(), ids=PARSE_CASES.keys())
def test_parse(spec, expected):
    assert parse_cpu_spec(spec) == expected


# (spec, the kind of expression Nova's message names, the token the message must quote)
ERROR_CASES = {
    "letters": ("a", "inclusion", "'a'"),
    "letters after a good item": ("0,1,x", "inclusion", "'x'"),
    "float": ("1.5", "inclusion", "'1.5'"),
    "negative": ("-1", "range", "'-1'"),
    "sign": ("+3", "inclusion", "'+3'"),
    "underscore digits": ("1_0", "inclusion", "'1_0'"),
    "non-ASCII digits": ("\u0663", "inclusion", "'\u0663'"),
    "reversed range": ("3-1", "range", "start 3 > end 1"),
    "open range": ("3-", "range", "'3-'"),
    "range start missing": ("-3", "range", "'-3'"),
    "range of three parts": ("1-2-3", "range", "'1-2-3'"),
    "range with a letter": ("0-b", "range", "'b'"),
    "caret alone": ("^", "exclusion", "'^'"),
    "double caret": ("^^1", "exclusion", "'^^1'"),
    "caret with letters": ("0-3,^x", "exclusion", "'^x'"),
    "caret reversed range": ("0-9,^5-4", "range", "'^5-4'"),
    "caret in the middle": ("1^2", "inclusion", "'1^2'"),
    "id at the bound": (str(cpuset.MAX_CPU_ID), "inclusion", f"CPU id {cpuset.MAX_CPU_ID}"),
    "huge range": ("0-4294967295", "range", "CPU id 4294967295 is out of range"),
    "huge exclusion": ("0,^99999999999", "exclusion", "CPU id 99999999999 is out of range"),
    "thousands of digits": ("9" * 5000, "inclusion", "out of range"),
}


@pytest.mark.parametrize(("spec", "kind", "token"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_parse_errors_name_the_bad_token(spec, kind, token):
    with pytest.raises(exception.InvalidCPUSpec) as info:
        parse_cpu_spec(spec)
    message = str(info.value)
    assert f"invalid {kind} expression" in message
    assert token in message


@pytest.mark.parametrize("spec", [None, 3, b"0-1", ["0"], {0, 1}])
def test_non_strings_are_rejected(spec):
    with pytest.raises(exception.InvalidCPUSpec, match="must be a string"):
        parse_cpu_spec(spec)


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        parse_cpu_spec("x")


def test_too_long_spec_fails_before_parsing():
    # 100 MB whose *last* item is bad: the length gate answers first, so the message
    # is about the length, not the bad item (the figures are in benchmarks/cpuset.py).
    spec = "0," * (50 * 1024 * 1024 - 1) + "x"
    with pytest.raises(exception.InvalidCPUSpec) as info:
        parse_cpu_spec(spec)
    message = str(info.value)
    assert f"{len(spec)} characters long" in message
    assert f"limit is {cpuset.MAX_SPEC_LENGTH}" in message
    assert "'x'" not in message
    # The message quotes a short prefix, not 100 MB.
    assert len(message) < 300


def test_spec_at_the_length_limit_is_parsed():
    spec = ("0," * cpuset.MAX_SPEC_LENGTH)[: cpuset.MAX_SPEC_LENGTH]
    assert parse_cpu_spec(spec) == {0}
    with pytest.raises(exception.InvalidCPUSpec, match="characters long"):
        parse_cpu_spec(spec + "0")


def test_many_overlapping_full_ranges_stay_cheap():
    # ~7000 items each naming every CPU id: merged before expansion, so this is
    # one pass over 65536 ids, not 7000 of them.
    item = f"0-{cpuset.MAX_CPU_ID - 1}"
    spec = ",".join([item] * (cpuset.MAX_SPEC_LENGTH // (len(item) + 1)))
    assert parse_cpu_spec(spec) == set(range(cpuset.MAX_CPU_ID))


def test_long_token_is_shortened_in_the_message():
    spec = "1" + "a" * 10000
    with pytest.raises(exception.InvalidCPUSpec) as info:
        parse_cpu_spec(spec)
    assert len(str(info.value)) < 300
    assert "'1aaa" in str(info.value)


def test_bound_is_a_module_constant(monkeypatch):
    monkeypatch.setattr(cpuset, "MAX_CPU_ID", 8)
    assert parse_cpu_spec("7") == {7}
    with pytest.raises(exception.InvalidCPUSpec, match="out of range 0..7"):
        parse_cpu_spec("0-8")


FORMAT_CASES = {
    "empty": (set(), True, ""),
    "single": ({4}, True, "4"),
    "run": ({0, 1, 2}, True, "0-2"),
    "run and single": ({0, 1, 2, 5}, True, "0-2,5"),
    "pair stays a range": ({3, 4}, True, "3-4"),
    "several runs": ({0, 1, 3, 4, 6, 8, 9, 10}, True, "0-1,3-4,6,8-10"),
    "unsorted list input": ([9, 1, 0, 2], True, "0-2,9"),
    "duplicates": ([1, 1, 2, 2], True, "1-2"),
    "no ranges": ({0, 1, 2, 5}, False, "0,1,2,5"),
    "no ranges, empty": (set(), False, ""),
    "generator input": ((c for c in (3, 2)), True, "2-3"),
}


@pytest.mark.parametrize(
    ("cpus", "allow_ranges", "expected"), FORMAT_CASES.values(), ids=FORMAT_CASES.keys()
)
def test_format(cpus, allow_ranges, expected):
    assert format_cpu_spec(cpus, allow_ranges=allow_ranges) == expected


def test_format_does_not_mutate_its_input():
    cpus = {5, 1, 2}
    format_cpu_spec(cpus)
    assert cpus == {5, 1, 2}


# --- properties -----------------------------------------------------------------------

cpu_sets = st.sets(st.integers(min_value=0, max_value=cpuset.MAX_CPU_ID - 1), max_size=64)


@settings(max_examples=200, deadline=None)
@given(cpus=cpu_sets, allow_ranges=st.booleans())
def test_parse_inverts_format(cpus, allow_ranges):
    assert parse_cpu_spec(format_cpu_spec(cpus, allow_ranges=allow_ranges)) == cpus


@settings(max_examples=200, deadline=None)
@given(cpus=cpu_sets)
def test_format_is_canonical(cpus):
    spec = format_cpu_spec(cpus)
    assert format_cpu_spec(parse_cpu_spec(spec)) == spec
    assert spec == spec.strip()
    assert ",," not in spec


@settings(max_examples=200, deadline=None)
@given(
    included=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=8),
    excluded=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=8),
    order=st.randoms(use_true_random=False),
)
def test_exclusions_apply_after_all_inclusions_in_any_order(included, excluded, order):
    items = [f"{a}-{a + n}" for a, n in included] + [f"^{a}-{a + n}" for a, n in excluded]
    order.shuffle(items)
    want = {c for a, n in included for c in range(a, a + n + 1)} - {
        c for a, n in excluded for c in range(a, a + n + 1)
    }
    assert parse_cpu_spec(",".join(items)) == want


# Text biased towards the grammar's own characters, so that garbage often gets deep
# into the parser instead of failing on the first character.
garbage = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789-^, \t\n+_.x\u0663", max_size=80),
    st.lists(st.integers(-5, 10**12).map(str), max_size=6).map("-".join),
)


@settings(max_examples=300, deadline=None)
@given(spec=garbage)
def test_garbage_only_ever_raises_invalid_cpu_spec(spec):
    try:
        result = parse_cpu_spec(spec)
    except exception.InvalidCPUSpec as exc:
        assert str(exc).startswith("Invalid CPU spec")
    else:
        assert all(0 <= c < cpuset.MAX_CPU_ID for c in result)


def test_describe_cpus_names_an_empty_set():
    # Error messages say "(none)" rather than an empty spec.
    assert cpuset.describe_cpus({3, 1, 2, 7}) == "1-3,7"
    assert cpuset.describe_cpus(iter([5])) == "5"
    assert cpuset.describe_cpus(set()) == "(none)"
