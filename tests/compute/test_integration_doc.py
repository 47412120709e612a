"""Run every example of doc/source/integration.rst (the driver author's guide)."""

from __future__ import annotations

import doctest
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "doc" / "source" / "integration.rst"


def test_integration_guide_examples_run():
    result = doctest.testfile(
        str(GUIDE),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 30, "the guide lost its examples"
    assert result.failed == 0
