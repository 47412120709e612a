"""Error messages as the command prints them: one line, of a readable length.

A message quotes what the user gave, and what the user gave may be a
40,000-character value or a multi-line document; :func:`one_line` keeps the
start and the end of every long word (saying how long it was) and joins lines,
so that the error is one line that still names the culprit.
"""

from __future__ import annotations

import re

#: Words (runs without white space) longer than this are shortened.
MAX_WORD = 64
#: Messages longer than this, after the words are shortened, are cut.
MAX_MESSAGE = 1000

_WORD = re.compile(rf"\S{{{MAX_WORD + 1},}}")


def _shorten_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return f"{word[:40]}...{word[-12:]} ({len(word)} characters)"


def one_line(text: str) -> str:
    """``text`` on one line: lines joined with a space, long words shortened, the
    whole cut at :data:`MAX_MESSAGE` characters."""
    joined = " ".join(line.strip() for line in text.splitlines() if line.strip())
    short = _WORD.sub(_shorten_word, joined)
    if len(short) > MAX_MESSAGE:
        short = f"{short[: MAX_MESSAGE - 30]}... ({len(short)} characters in all)"
    return short
