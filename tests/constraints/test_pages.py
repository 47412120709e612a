"""hw:mem_page_size / hw_mem_page_size and hw:locked_memory / hw_locked_memory."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.constraints import pages
from tests.constraints.helpers import assert_error, flavor, image, table

PARSE = [
    ("small", -1),
    ("large", -2),
    ("any", -3),
    ("4", 4),
    ("2048", 2048),
    (" 2048 ", 2048),
    (1048576, 1048576),
    ("2MB", 2048),
    ("2MiB", 2048),
    ("1GB", 1048576),
    ("1GiB", 1048576),
    ("4KB", 4),
    ("4KiB", 4),
    ("4096B", 4),
    ("16GB", 16777216),
]


@pytest.mark.parametrize("value,expected", PARSE)
def test_parse_page_size(value, expected):
    assert pages.parse_page_size(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "huge",
        "Large",
        "SMALL",
        "0",
        "0MB",
        "-2",
        "2.5MB",
        "2Mb2",
        "2Mb",
        # Nova's grammar (oslo IEC sizes) needs an upper-case unit with its B, no space.
        "2M",
        "1G",
        "64K",
        "64kB",
        "2 MB",
        "2mb",
        "1000B",
        "2XB",
        "2048 KiB extra",
        "99999999999TB",
        None,
        2.0,
        True,
    ],
)
def test_parse_page_size_rejects(value):
    with pytest.raises(exception.MemoryPageSizeInvalid) as info:
        pages.parse_page_size(value)
    message = str(info.value)
    assert f"hw:mem_page_size={value!r}" in message
    assert "small, large, any" in message


PAGE_SIZE = [
    # (id, flavor value, image value, expected)
    ("unset", None, None, None),
    ("flavor-only", "2MB", None, 2048),
    ("flavor-small", "small", None, -1),
    ("any-refined-to-size", "any", "1GB", 1048576),
    ("any-refined-to-small", "any", "small", -1),
    ("large-refined-to-size", "large", "2048", 2048),
    ("large-repeated", "large", "large", -2),
]


@pytest.mark.parametrize("flavor_value,image_value,expected", table(PAGE_SIZE))
def test_page_size_constraint(flavor_value, image_value, expected):
    specs = {} if flavor_value is None else {"hw:mem_page_size": flavor_value}
    props = {} if image_value is None else {"hw_mem_page_size": image_value}
    assert pages.get_mem_page_size_constraint(flavor(specs), image(props)) == expected


PAGE_SIZE_ERRORS = [
    ("image-without-flavor", None, "2MB", exception.MemoryPageSizeForbidden, "sets no"),
    ("image-contradicts-size", "2MB", "1GB", exception.MemoryPageSizeForbidden, "only '2MB'"),
    # As in Nova: under an explicit flavor size the image may not even repeat it,
    # and its value is not parsed at all.
    ("image-repeats-size", "2048", "2MB", exception.MemoryPageSizeForbidden, "only '2048'"),
    ("image-junk-under-size", "2048", "bogus", exception.MemoryPageSizeForbidden, "only '2048'"),
    (
        "image-contradicts-small",
        "small",
        "large",
        exception.MemoryPageSizeForbidden,
        "hw:mem_page_size='small'",
    ),
    (
        "image-small-under-large",
        "large",
        "small",
        exception.MemoryPageSizeForbidden,
        "'large' or an explicit size",
    ),
    (
        "image-any-under-large",
        "large",
        "any",
        exception.MemoryPageSizeForbidden,
        "'large' or an explicit size",
    ),
    ("flavor-invalid", "huge", None, exception.MemoryPageSizeInvalid, "hw:mem_page_size='huge'"),
    (
        "image-invalid",
        "any",
        "huge",
        exception.MemoryPageSizeInvalid,
        "image property hw_mem_page_size='huge'",
    ),
]


@pytest.mark.parametrize("flavor_value,image_value,error,text", table(PAGE_SIZE_ERRORS))
def test_page_size_constraint_errors(flavor_value, image_value, error, text):
    specs = {} if flavor_value is None else {"hw:mem_page_size": flavor_value}
    props = image({"hw_mem_page_size": image_value})
    assert_error(error, text, pages.get_mem_page_size_constraint, flavor(specs), props)


LOCKED = [
    ("unset", {}, {}, None),
    ("flavor-true", {"hw:locked_memory": "true", "hw:mem_page_size": "small"}, {}, True),
    ("flavor-false", {"hw:locked_memory": "no"}, {}, False),
    ("image-true", {"hw:mem_page_size": "large"}, {"hw_locked_memory": True}, True),
    (
        "image-page-size-counts",
        {"hw:mem_page_size": "any"},
        {"hw_locked_memory": True, "hw_mem_page_size": "2MB"},
        True,
    ),
    (
        "agree",
        {"hw:locked_memory": "yes", "hw:mem_page_size": "2MB"},
        {"hw_locked_memory": True},
        True,
    ),
]


@pytest.mark.parametrize("specs,props,expected", table(LOCKED))
def test_locked_memory(specs, props, expected):
    assert pages.get_locked_memory_constraint(flavor(specs), image(props)) is expected


LOCKED_ERRORS = [
    (
        "no-page-size",
        {"hw:locked_memory": "true"},
        {},
        exception.LockMemoryForbidden,
        "hw:mem_page_size",
    ),
    (
        "image-no-page-size",
        {},
        {"hw_locked_memory": True},
        exception.LockMemoryForbidden,
        "hw:mem_page_size",
    ),
    (
        "conflict",
        {"hw:locked_memory": "false", "hw:mem_page_size": "2MB"},
        {"hw_locked_memory": True},
        exception.FlavorImageLockedMemoryConflict,
        "hw:locked_memory",
    ),
    (
        "not-a-boolean",
        {"hw:locked_memory": "sometimes"},
        {},
        exception.InvalidExtraSpecValue,
        "hw:locked_memory='sometimes'",
    ),
]


@pytest.mark.parametrize("specs,props,error,text", table(LOCKED_ERRORS))
def test_locked_memory_errors(specs, props, error, text):
    assert_error(error, text, pages.get_locked_memory_constraint, flavor(specs), image(props))
