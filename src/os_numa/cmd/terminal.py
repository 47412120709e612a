"""What the command writes to a terminal: no control sequences from its input.

Flavor names, PCI alias names, device product names and extra spec keys come
from the user or from files; written raw, ``\\x1b]0;...`` would retitle the
terminal and other sequences move the cursor or hide text. Every text the
command writes goes through :func:`safe`, which shows each control character
as an escape (``\\x1b``) and keeps newlines, tabs and the colour sequences the
picture itself uses.
"""

from __future__ import annotations

import re
from typing import TextIO

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode format
# characters that reorder or hide text (bidi overrides, line separators).
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# The picture's own colours: SGR sequences of digits and ';' only.
_SGR = r"\x1b\[[0-9;]{0,16}m"
_UNSAFE_KEEP_SGR = re.compile(rf"{_SGR}|[{_CONTROLS}]")
_UNSAFE = re.compile(rf"[{_CONTROLS}\n\t]")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str, keep_colors: bool = True) -> str:
    """``text`` with every control character escaped, newlines and tabs kept.

    With ``keep_colors``, SGR colour sequences (``ESC [ 1;31 m``) stay.
    """

    def replace(match: re.Match) -> str:
        found = match.group()
        return found if len(found) > 1 else _escape(found)

    return _UNSAFE_KEEP_SGR.sub(replace, text) if keep_colors else safe_line(text)


def safe_line(text: str) -> str:
    """``text`` as one line: every control character escaped, newlines too."""
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


class SafeWriter:
    """A text stream that writes through :func:`safe` (everything else delegated)."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(safe(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
