"""CPU spec strings: ``"0-3,^2,8"`` <-> sets of CPU ids.

The grammar is Nova's: a comma-separated list of ``N``, ``A-B``, ``^N`` and
``^A-B``; whitespace is ignored, empty items are skipped, and every exclusion is
applied after every inclusion (``"1-2,^1"`` == ``"^1,1-2"`` == ``{2}``).

Both the spec length and each CPU id are bounded *before* anything is
allocated, so ``"0-4294967295"`` or a 100 MB string fails fast with
:class:`~os_numa.exception.InvalidCPUSpec` instead of exhausting memory.
"""

from __future__ import annotations

from collections.abc import Iterable

from os_numa import exception

#: CPU ids must be below this bound (Linux's NR_CPUS tops out at 8192 today).
MAX_CPU_ID = 65536
#: Longest spec string accepted, in characters.
MAX_SPEC_LENGTH = 65536


def _parse_int(token: str, spec: str, what: str) -> int:
    token = token.strip()
    # int() would accept "+3", "٣" and "1_0"; a CPU id is plain ASCII digits.
    if not token or not token.isascii() or not token.isdigit():
        raise exception.InvalidCPUSpec(
            spec=spec, reason=f"invalid {what} expression {token!r}: not a CPU id"
        )
    if len(token) > len(str(MAX_CPU_ID)) or int(token) >= MAX_CPU_ID:
        raise exception.InvalidCPUSpec(
            spec=spec, reason=f"CPU id {token} is out of range 0..{MAX_CPU_ID - 1}"
        )
    return int(token)


def _parse_item(item: str, spec: str, what: str) -> range:
    if "-" in item:
        start_s, sep, end_s = item.partition("-")
        if "-" in end_s:
            raise exception.InvalidCPUSpec(
                spec=spec, reason=f"invalid {what} expression {item.strip()!r}"
            )
        start = _parse_int(start_s, spec, what)
        end = _parse_int(end_s, spec, what)
        if start > end:
            raise exception.InvalidCPUSpec(
                spec=spec,
                reason=f"invalid range expression {item.strip()!r}: start > end",
            )
        return range(start, end + 1)
    cpu = _parse_int(item, spec, what)
    return range(cpu, cpu + 1)


def parse_cpu_spec(spec: str) -> set[int]:
    """Parse a CPU spec into the set of CPU ids it names.

    :raises InvalidCPUSpec: naming the offending token, for non-integers,
        reversed ranges, ids >= :data:`MAX_CPU_ID`, or a spec longer than
        :data:`MAX_SPEC_LENGTH`.
    """
    if not isinstance(spec, str):
        raise exception.InvalidCPUSpec(spec=spec, reason="a CPU spec must be a string")
    if len(spec) > MAX_SPEC_LENGTH:
        raise exception.InvalidCPUSpec(
            spec=spec[:40] + "...",
            reason=f"spec is {len(spec)} characters long; the limit is {MAX_SPEC_LENGTH}",
        )
    included: set[int] = set()
    excluded: set[int] = set()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("^"):
            excluded.update(_parse_item(item[1:], spec, "exclusion"))
        else:
            included.update(_parse_item(item, spec, "inclusion"))
    return included - excluded


def format_cpu_spec(cpus: Iterable[int], allow_ranges: bool = True) -> str:
    """Format CPU ids as a sorted spec, collapsing runs into ranges.

    ``format_cpu_spec({0, 1, 2, 5}) == "0-2,5"``; with ``allow_ranges=False``
    every id is listed (``"0,1,2,5"``).
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
        if j == i:
            parts.append(str(ordered[i]))
        else:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)
