"""Run every example of the driver author's guides: doc/source/integration.rst and
doc/source/moving-guests.rst."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "doc" / "source"


@pytest.mark.parametrize("page", ["integration.rst", "moving-guests.rst"])
def test_integration_guide_examples_run(page):
    result = doctest.testfile(
        str(SOURCE / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 30, "the guide lost its examples"
    assert result.failed == 0
