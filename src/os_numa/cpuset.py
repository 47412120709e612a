"""CPU spec strings: ``"0-3,^2,8"`` <-> sets of CPU ids.

The grammar is Nova's: a comma-separated list of ``N``, ``A-B``, ``^N`` and
``^A-B``; whitespace around items and numbers is ignored, empty items are
skipped, and every exclusion is applied after every inclusion
(``"1-2,^1"`` == ``"^1,1-2"`` == ``{2}``). Errors are classified as Nova
classifies them: an item containing ``-`` is a *range* expression, ``^N`` an
*exclusion*, ``N`` an *inclusion*. Unlike Python's ``int()``, a CPU id is plain
ASCII digits only (no sign, no ``_``, no non-ASCII digits).

Both the spec length and each CPU id are bounded *before* anything is
allocated, and ranges are merged before they are expanded, so ``"0-4294967295"``,
a 100 MB string or thousands of overlapping ``"0-65535"`` items fail (or finish)
fast instead of exhausting memory or time.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable

from os_numa import exception

#: CPU ids must be below this bound (Linux's NR_CPUS tops out at 8192 today).
MAX_CPU_ID = 65536
#: Longest spec string accepted, in characters.
MAX_SPEC_LENGTH = 65536


#: Longer specs and tokens are shortened in error messages.
_SHOWN = 60


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _invalid(spec: str, reason: str) -> exception.InvalidCPUSpec:
    return exception.InvalidCPUSpec(spec=_short(spec), reason=reason)


def _parse_int(number: str, item: str, spec: str, what: str) -> int:
    number = number.strip()
    if not number or not number.isascii() or not number.isdigit():
        raise _invalid(
            spec,
            f"invalid {what} expression {_short(item)!r}: {_short(number)!r} is not a CPU id",
        )
    significant = number.lstrip("0") or "0"
    # Compare lengths first: int() of a huge digit string is slow (and capped).
    if len(significant) > len(str(MAX_CPU_ID)) or int(significant) >= MAX_CPU_ID:
        raise _invalid(
            spec,
            f"invalid {what} expression {_short(item)!r}: CPU id {_short(number)} is out "
            f"of range 0..{MAX_CPU_ID - 1}",
        )
    return int(significant)


def _parse_item(body: str, item: str, spec: str, what: str) -> tuple[int, int]:
    """``"A-B"`` or ``"N"`` -> an inclusive ``(start, end)`` pair."""
    if "-" not in body:
        cpu = _parse_int(body, item, spec, what)
        return cpu, cpu
    start_s, _, end_s = body.partition("-")
    start = _parse_int(start_s, item, spec, "range")
    end = _parse_int(end_s, item, spec, "range")
    if start > end:
        raise _invalid(
            spec, f"invalid range expression {_short(item)!r}: start {start} > end {end}"
        )
    return start, end


def _expand(ranges: list[tuple[int, int]]) -> set[int]:
    """Merge overlapping inclusive ranges, then expand them once."""
    cpus: set[int] = set()
    last_end = -1
    for start, end in sorted(ranges):
        start = max(start, last_end + 1)
        if start <= end:
            cpus.update(range(start, end + 1))
            last_end = end
    return cpus


def parse_cpu_spec(spec: str) -> set[int]:
    """Parse a CPU spec into the set of CPU ids it names.

    :raises InvalidCPUSpec: naming the offending item and token, for
        non-integers, reversed ranges, ids >= :data:`MAX_CPU_ID`, a non-string,
        or a spec longer than :data:`MAX_SPEC_LENGTH`.
    """
    if not isinstance(spec, str):
        raise exception.InvalidCPUSpec(
            spec=reprlib.repr(spec),
            reason=f"a CPU spec must be a string, not {type(spec).__name__}",
        )
    if len(spec) > MAX_SPEC_LENGTH:
        raise _invalid(spec, f"spec is {len(spec)} characters long; the limit is {MAX_SPEC_LENGTH}")
    included: list[tuple[int, int]] = []
    excluded: list[tuple[int, int]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("^"):
            excluded.append(_parse_item(item[1:], item, spec, "exclusion"))
        else:
            included.append(_parse_item(item, item, spec, "inclusion"))
    return _expand(included) - _expand(excluded)


def format_cpu_spec(cpus: Iterable[int], allow_ranges: bool = True) -> str:
    """Format CPU ids as a sorted spec, collapsing runs into ranges.

    ``format_cpu_spec({0, 1, 2, 5}) == "0-2,5"``; with ``allow_ranges=False``
    every id is listed (``"0,1,2,5"``). Duplicates are ignored and the input is
    not modified.
    """
    ordered = sorted(set(cpus))
    if not allow_ranges:
        return ",".join(str(c) for c in ordered)
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if j == i else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def describe_cpus(cpus: Iterable[int]) -> str:
    """CPU ids for a message: :func:`format_cpu_spec`, or ``"(none)"`` when there are none."""
    return format_cpu_spec(cpus) or "(none)"
