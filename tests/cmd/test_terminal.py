"""Text for the terminal: control characters escaped, the picture's colours kept."""

from __future__ import annotations

import pytest

from os_numa.cmd import terminal


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain\n\ttext", "plain\n\ttext"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x1b[1;31mred\x1b[0m", "\x1b[1;31mred\x1b[0m"),
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
        ("c1\x9b31m", "c1\\x9b31m"),
        ("del\x7f nul\x00", "del\\x7f nul\\x00"),
        ("bidi\u202eevil\u2066", "bidi\\u202eevil\\u2066"),
        ("é ü 中", "é ü 中"),
    ],
)
def test_safe(text, shown):
    assert terminal.safe(text) == shown


def test_safe_line_escapes_newlines_and_colours_too():
    assert terminal.safe_line("a\nb\t\x1b[1m") == "a\\x0ab\\x09\\x1b[1m"
    assert terminal.safe("a\n\x1b[1m", keep_colors=False) == "a\\x0a\\x1b[1m"


def test_safe_writer_filters_and_delegates(tmp_path):
    path = tmp_path / "out.txt"
    with path.open("w") as handle:
        writer = terminal.SafeWriter(handle)
        writer.write("name \x1b]0;x\x07\n")
        assert writer.isatty() is False
    assert path.read_text() == "name \\x1b]0;x\\x07\n"
