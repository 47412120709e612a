"""Parsing user-supplied JSON within bounds: size and nesting depth.

Python's ``json`` recurses once per nested array or object, so a document of a
few kilobytes nested a thousand deep raises ``RecursionError`` (or exhausts
the stack of a thread with a small one). :func:`loads` measures the nesting
first, in linear time and without recursion, and refuses what is too deep or
too long with a ``ValueError`` that says which bound was broken.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deepest nesting of arrays and objects accepted by default. os-numa's own
#: documents (placements, aliases, device lists) are at most 5 deep.
MAX_DEPTH = 32
#: Longest document accepted by default, in characters.
MAX_CHARS = 16 * 1024 * 1024

# Every byte but the four brackets (UTF-8 never puts an ASCII byte inside a
# multi-byte character, so working on the encoded text is exact).
_OTHER_BYTES = bytes(b for b in range(256) if b not in b"[]{}")
# An innermost, empty pair.
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The nesting of arrays and objects in ``text``, counted up to ``limit + 1``.

    Brackets inside JSON strings do not count; 0 means a scalar. Each pass
    removes the innermost empty pairs, so the work is linear in the text and
    in ``limit``, without recursion. A result above ``limit`` means "deeper
    than ``limit``" (or brackets that do not pair up, which is not JSON).
    """
    data = text.encode("utf-8", "surrogatepass")
    # Drop escaped backslashes, then escaped quotes: what is left between two
    # quotes is a string's content, every other piece is outside strings.
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(data.split(b'"')[::2]).translate(None, _OTHER_BYTES)
    depth = 0
    while brackets and depth <= limit:
        brackets = _EMPTY_PAIR.sub(b"", brackets)
        depth += 1
    return depth


def loads(
    text: str, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS, **json_options: Any
) -> Any:
    """``json.loads(text, **json_options)``, refusing documents longer or deeper
    than the bounds.

    :raises ValueError: not JSON (``json.JSONDecodeError``), longer than
        ``max_chars`` characters, or nested deeper than ``max_depth``.
    """
    if len(text) > max_chars:
        raise ValueError(f"the JSON document is longer than {max_chars} characters")
    if nesting_depth(text, max_depth) > max_depth:
        raise ValueError(
            f"the JSON document nests arrays/objects more than {max_depth} deep "
            "(or its brackets do not pair up)"
        )
    return json.loads(text, **json_options)
