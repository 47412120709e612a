"""Bounded, typed reading of the command's input files."""

from __future__ import annotations

import pytest

from os_numa import exception
from os_numa.cmd import inputfile


def test_reads_utf8_text_up_to_the_limit(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_text("héllo", encoding="utf-8")
    assert inputfile.read_text(str(path), 6, exception.InvalidXML, "doc") == "héllo"


@pytest.mark.parametrize(
    "content, limit, words",
    [
        (b"x" * 11, 10, "doc {path} is larger than 10 bytes"),
        (b"\xff\xfe", 10, "doc {path} is not UTF-8"),
        (None, 10, "cannot read doc {path}"),
    ],
)
def test_errors_name_the_file_and_use_the_given_class(tmp_path, content, limit, words):
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(exception.InvalidRequest) as info:
        inputfile.read_text(str(path), limit, exception.InvalidRequest, "doc")
    assert words.format(path=path) in str(info.value)
