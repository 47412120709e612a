"""Colour choice (the parser itself is exercised through main in test_main)."""

from __future__ import annotations

import io

import pytest

from os_numa.cmd import args


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "choice, stream, env, expected",
    [
        ("always", io.StringIO(), {}, True),
        ("never", Terminal(), {}, False),
        ("auto", io.StringIO(), {}, False),
        ("auto", Terminal(), {}, True),
        ("auto", Terminal(), {"NO_COLOR": "1"}, False),
        ("auto", Terminal(), {"TERM": "dumb"}, False),
    ],
)
def test_use_color(monkeypatch, choice, stream, env, expected):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert args.use_color(choice, stream) is expected
