"""outcome: the CellFit and Shortfall values of one guest cell on one host cell, and
the "N pCPUs needed" wording the shortfalls share."""

import dataclasses
import pickle

import pytest

from os_numa.fit.outcome import CellFit, Shortfall, pcpus_needed

PCPUS_NEEDED = {
    "one vCPU": (1, 0, "1 pCPU needed"),
    "several vCPUs": (4, 0, "4 pCPUs needed"),
    "one vCPU and the emulator": (1, 1, "2 pCPUs needed (1 vCPU + 1 emulator)"),
    "several vCPUs and the emulator": (4, 1, "5 pCPUs needed (4 vCPUs + 1 emulator)"),
    "several emulator pCPUs": (2, 3, "5 pCPUs needed (2 vCPUs + 3 emulator pCPUs)"),
}


@pytest.mark.parametrize("vcpus,reserve,text", PCPUS_NEEDED.values(), ids=PCPUS_NEEDED)
def test_pcpus_needed(vcpus, reserve, text):
    assert pcpus_needed(vcpus, reserve) == text


def shortfall(**changes):
    values = {"constraint": "free_pcpus", "needed": 4, "available": 3, "text": "4 needed, 3 free"}
    return Shortfall(**(values | changes))


def test_shortfall_fields_in_order():
    result = Shortfall("whole_cores", 3, 2, "3 needed, 2 free")
    assert [f.name for f in dataclasses.fields(Shortfall)] == [
        "constraint",
        "needed",
        "available",
        "text",
    ]
    assert (result.constraint, result.needed, result.available, result.text) == (
        "whole_cores",
        3,
        2,
        "3 needed, 2 free",
    )


def test_shortfall_compares_by_value():
    assert shortfall() == shortfall()
    assert hash(shortfall()) == hash(shortfall())
    for field, value in (("constraint", "pcpus"), ("needed", 5), ("available", 2), ("text", "x")):
        assert shortfall(**{field: value}) != shortfall()


def test_shortfall_is_immutable_and_has_no_other_attributes():
    result = shortfall()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.available = 4
    with pytest.raises((AttributeError, TypeError)):
        result.extra = 1
    assert not hasattr(result, "__dict__")
    assert result.available == 3


def test_shortfall_survives_pickling():
    # Outcomes are plain data a caller may pass between processes.
    assert pickle.loads(pickle.dumps(shortfall(needed=1.5))) == shortfall(needed=1.5)


def test_cell_fit_is_a_named_tuple_of_pinning_reserved_pagesize():
    fit = CellFit(((0, 2), (1, 3)), (4,), 2048)
    assert CellFit._fields == ("pinning", "reserved", "pagesize")
    assert (fit.pinning, fit.reserved, fit.pagesize) == (((0, 2), (1, 3)), (4,), 2048)
    pinning, reserved, pagesize = fit
    assert (pinning, reserved, pagesize) == (((0, 2), (1, 3)), (4,), 2048)
    assert fit == CellFit(((0, 2), (1, 3)), (4,), 2048)
    assert fit != CellFit(((0, 2), (1, 3)), (), 2048)


def test_cell_fit_is_immutable():
    fit = CellFit((), (), None)
    with pytest.raises(AttributeError):
        fit.pagesize = 4
    assert fit.pagesize is None


def test_the_two_outcomes_are_told_apart_by_type():
    # Callers branch on isinstance(result, Shortfall); a CellFit must never pass.
    assert not isinstance(CellFit((), (), None), Shortfall)
    assert not isinstance(shortfall(), tuple)
