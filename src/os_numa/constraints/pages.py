"""Guest memory pages: ``hw:mem_page_size`` and ``hw:locked_memory``.

A page size is a keyword or a size in KiB. The keywords are stored as Nova's
negative constants so that a cell's ``pagesize`` stays one integer field:
``small`` (:data:`MEMPAGES_SMALL`), ``large`` (:data:`MEMPAGES_LARGE`) and
``any`` (:data:`MEMPAGES_ANY`); the fit resolves them to a real size.
"""

from __future__ import annotations

import re
from typing import Any

from os_numa import exception
from os_numa.constraints import source

#: The host's smallest page size (4 KiB on x86).
MEMPAGES_SMALL = -1
#: Any page size larger than the smallest; the fit picks the largest that fits.
MEMPAGES_LARGE = -2
#: Any page size; the fit prefers large pages but may fall back to small ones.
MEMPAGES_ANY = -3

KEYWORDS = {"small": MEMPAGES_SMALL, "large": MEMPAGES_LARGE, "any": MEMPAGES_ANY}
#: Largest page size accepted, in KiB (1 TiB; real pages stop at 16 GiB).
MAX_PAGE_SIZE_KB = 1 << 30

#: A bare number of KiB, or a number of bytes with Nova's units (oslo's IEC sizes, in
#: bytes): upper-case K, M, G or T, an optional ``i``, then ``B`` (``2MB``, ``2MiB``,
#: ``4096B``). ``2M`` or ``2 MB`` are refused, as Nova refuses them.
_SIZE = re.compile(r"(\d{1,16})(?:([KMGT])i?B|(B))?")
_UNIT_BYTES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_VALID = "small, large, any, a size in KiB such as 2048, or a size such as 2MB or 1GB"


def parse_page_size(value: Any, key: str = "hw:mem_page_size") -> int:
    """Parse a page-size request into KiB, or one of the ``MEMPAGES_*`` constants.

    ``small``/``large``/``any`` give -1/-2/-3; a bare number is KiB
    (``2048``); a number with a binary unit is converted (``2MB`` and ``2MiB``
    are 2048; ``1GB`` is 1048576; ``4096B`` is 4). Keywords and units are
    case-sensitive, and a unit needs its ``B``, as in Nova (``2M`` is invalid).

    :raises MemoryPageSizeInvalid: naming ``key``, for anything else, a size of
        zero, a size that is not whole KiB, or one above :data:`MAX_PAGE_SIZE_KB`.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        text = None

    def invalid(reason: str) -> exception.MemoryPageSizeInvalid:
        return exception.MemoryPageSizeInvalid(
            message=f"{key}={value!r} is invalid: {reason}; use {_VALID}.", pagesize=value
        )

    if text in KEYWORDS:
        return KEYWORDS[text]
    match = _SIZE.fullmatch(text) if text is not None else None
    if not match:
        raise invalid("not a page size")
    number, unit, bytes_unit = match.groups()
    if unit:
        size_bytes = int(number) * _UNIT_BYTES[unit.upper()]
    elif bytes_unit:
        size_bytes = int(number)
    else:
        size_bytes = int(number) * 1024
    if size_bytes % 1024:
        raise invalid("a page size must be a whole number of KiB")
    size_kb = size_bytes // 1024
    if not 1 <= size_kb <= MAX_PAGE_SIZE_KB:
        raise invalid(f"the size must be 1 KiB to {MAX_PAGE_SIZE_KB} KiB")
    return size_kb


def get_mem_page_size_constraint(flavor: Any, image_meta: Any) -> int | None:
    """The requested page size (KiB or a ``MEMPAGES_*`` constant), or None.

    The flavor decides: an image's ``hw_mem_page_size`` may only refine a
    flavor ``any`` (to anything) or ``large`` (to ``large`` or an explicit
    size); with any other flavor value the image may not set one, not even the
    same (as in Nova, which checks nothing else then). Nova also lets an image turn a
    flavor ``large`` into ``small``; that contradicts the flavor and is refused.

    :raises MemoryPageSizeInvalid: either value is not a page size.
    :raises MemoryPageSizeForbidden: the image sets a page size the flavor does
        not allow, or sets one when the flavor sets none.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    flavor_req, image_req = source.flavor_image_values("mem_page_size", flavor_v, props)
    if not flavor_req:
        if image_req:
            raise exception.MemoryPageSizeForbidden(
                message=(
                    f"image property hw_mem_page_size={image_req!r} is forbidden: the flavor "
                    "sets no hw:mem_page_size; it must be 'large' or 'any' for an image "
                    "to choose the page size"
                ),
                pagesize=image_req,
                against="<empty>",
            )
        return None
    pagesize = parse_page_size(flavor_req)
    if not image_req:
        return pagesize
    # As in Nova, only a flavor 'any' or 'large' lets the image speak at all.
    refinable_flavor = pagesize in (MEMPAGES_ANY, MEMPAGES_LARGE)
    image_size = (
        parse_page_size(image_req, key="image property hw_mem_page_size")
        if refinable_flavor
        else None
    )
    allowed = (
        pagesize == MEMPAGES_ANY
        or (pagesize == MEMPAGES_LARGE and image_size is not None and image_size > 0)
        or (pagesize == MEMPAGES_LARGE and image_size == MEMPAGES_LARGE)
    )
    if not allowed:
        refinable = (
            "'large' or an explicit size"
            if pagesize == MEMPAGES_LARGE
            else f"only {flavor_req!r} (set the flavor to 'large' or 'any' to let images choose)"
        )
        raise exception.MemoryPageSizeForbidden(
            message=(
                f"image property hw_mem_page_size={image_req!r} is forbidden with flavor "
                f"hw:mem_page_size={flavor_req!r}: the image may ask for {refinable}"
            ),
            pagesize=image_req,
            against=flavor_req,
        )
    return image_size


def get_locked_memory_constraint(flavor: Any, image_meta: Any) -> bool | None:
    """Whether guest memory is locked (``hw:locked_memory`` / ``hw_locked_memory``).

    None when neither sets it. Locked memory needs a page size, as in Nova.

    :raises InvalidExtraSpecValue: the flavor value is not a boolean string.
    :raises FlavorImageLockedMemoryConflict: flavor and image disagree.
    :raises LockMemoryForbidden: locking without ``hw:mem_page_size``.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    flavor_raw, image_raw = source.flavor_image_values("locked_memory", flavor_v, props)
    flavor_lock = None if flavor_raw is None else source.parse_bool("hw:locked_memory", flavor_raw)
    image_lock = (
        None
        if image_raw is None
        else source.parse_bool("image property hw_locked_memory", image_raw)
    )
    if flavor_lock is not None and image_lock is not None and flavor_lock != image_lock:
        raise exception.FlavorImageLockedMemoryConflict(flavor=flavor_lock, image=image_lock)
    locked = flavor_lock if flavor_lock is not None else image_lock
    page_flavor, page_image = source.flavor_image_values("mem_page_size", flavor_v, props)
    if locked and not (page_flavor or page_image):
        raise exception.LockMemoryForbidden(
            message=(
                "hw:locked_memory / hw_locked_memory=true needs a page size: set "
                "hw:mem_page_size (e.g. 'small', 'large' or '2MB') as well"
            )
        )
    return locked
