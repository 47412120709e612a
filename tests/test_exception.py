"""Tests for os_numa.exception: message templates, the class tree and Nova's names."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from os_numa import exception

ALL_ERRORS = sorted(
    (
        cls
        for _, cls in inspect.getmembers(exception, inspect.isclass)
        if issubclass(cls, exception.OsNumaError) and cls.__module__ == exception.__name__
    ),
    key=lambda cls: cls.__name__,
)

# Nova's class names (nova/exception.py) that issue 2 and the behaviour reference
# require, with the HTTP-style family each belongs to.
NOVA_NAMES = {
    "Invalid": exception.Invalid,
    "Forbidden": exception.Forbidden,
    "InvalidEmulatorThreadsPolicy": exception.Invalid,
    "BadRequirementEmulatorThreadsPolicy": exception.Invalid,
    "RealtimeConfigurationInvalid": exception.Invalid,
    "RealtimeMaskNotFoundOrInvalid": exception.Invalid,
    "InvalidCPUAllocationPolicy": exception.Invalid,
    "InvalidCPUThreadAllocationPolicy": exception.Invalid,
    "CPUThreadPolicyConfigurationInvalid": exception.Invalid,
    "ImageCPUPinningForbidden": exception.Forbidden,
    "ImageCPUThreadPolicyForbidden": exception.Forbidden,
    "InvalidNUMANodesNumber": exception.Invalid,
    "ImageNUMATopologyForbidden": exception.Forbidden,
    "ImageNUMATopologyAsymmetric": exception.Invalid,
    "ImageNUMATopologyIncomplete": exception.Invalid,
    "ImageNUMATopologyCPUOutOfRange": exception.Invalid,
    "ImageNUMATopologyCPUDuplicates": exception.Invalid,
    "ImageNUMATopologyCPUsUnassigned": exception.Invalid,
    "ImageNUMATopologyMemoryOutOfRange": exception.Invalid,
    "MemoryPageSizeInvalid": exception.Invalid,
    "MemoryPageSizeForbidden": exception.Forbidden,
    "MemoryPageSizeNotSupported": exception.Invalid,
    "CPUPinningInvalid": exception.Invalid,
    "CPUPinningUnknown": exception.Invalid,
    "CPUUnpinningInvalid": exception.Invalid,
    "CPUUnpinningUnknown": exception.Invalid,
    "InvalidCPUSpec": exception.Invalid,
    "InvalidConfiguration": exception.Invalid,
    "InvalidRequest": exception.Invalid,
    "InvalidReservedMemoryPagesOption": exception.Invalid,
    "InvalidMixedInstanceDedicatedMask": exception.Invalid,
    "RequiredMixedInstancePolicy": exception.Invalid,
    "RequiredMixedOrRealtimeCPUMask": exception.Invalid,
    "LockMemoryForbidden": exception.Forbidden,
    "FlavorImageLockedMemoryConflict": exception.Forbidden,
    "ImageVCPULimitsRangeExceeded": exception.Invalid,
    "ImageVCPUTopologyRangeExceeded": exception.Invalid,
    "ImageVCPULimitsRangeImpossible": exception.Invalid,
    "InternalError": exception.OsNumaError,
}


@pytest.mark.parametrize(("name", "family"), NOVA_NAMES.items(), ids=NOVA_NAMES.keys())
def test_nova_compatible_name_exists(name, family):
    cls = getattr(exception, name)
    assert issubclass(cls, family)
    assert issubclass(cls, exception.OsNumaError)


def test_message_is_formatted_from_keyword_arguments():
    err = exception.InvalidCPUSpec(spec="1-a", reason="bad")
    assert str(err) == "Invalid CPU spec '1-a': bad"
    assert err.message == str(err)
    assert err.kwargs == {"spec": "1-a", "reason": "bad"}
    assert err.args == ("Invalid CPU spec '1-a': bad",)


def test_explicit_message_wins_over_template():
    err = exception.InvalidConfiguration("plain words")
    assert str(err) == "plain words"


def test_missing_template_argument_keeps_template_and_arguments():
    # A raiser's bug must not hide the real error behind a KeyError.
    err = exception.CPUPinningInvalid(requested=[1])
    assert "CPU set to pin %(requested)s" in str(err)
    assert "'requested': [1]" in str(err)


def test_base_error_without_arguments():
    assert str(exception.OsNumaError()) == exception.OsNumaError.msg_fmt


def test_realtime_mask_reason_is_optional():
    plain = exception.RealtimeMaskNotFoundOrInvalid()
    assert str(plain).startswith("Use of realtime CPUs requires either one or more non-realtime")
    assert "%(" not in str(plain)
    detailed = exception.RealtimeMaskNotFoundOrInvalid(reason="mask '0-3' covers all vCPUs")
    assert str(detailed).endswith("mask '0-3' covers all vCPUs")


@pytest.mark.parametrize(
    "cls",
    [cls for cls in ALL_ERRORS if issubclass(cls, (exception.Invalid, exception.Forbidden))],
    ids=lambda cls: cls.__name__,
)
def test_input_errors_are_value_errors(cls):
    assert issubclass(cls, ValueError)
    assert cls.code in (400, 403)


@pytest.mark.parametrize(
    "cls",
    [exception.OsNumaError, exception.NotFound, exception.InternalError],
    ids=lambda cls: cls.__name__,
)
def test_non_input_errors_are_not_value_errors(cls):
    assert not issubclass(cls, ValueError)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_template_formats_with_its_own_placeholders(cls):
    """Fill each template's placeholders with a value of the type its conversion wants."""
    placeholders = re.findall(r"%\((\w+)\)(\w)", cls.msg_fmt)
    kwargs = {name: (7 if conv == "d" else f"<{name}>") for name, conv in placeholders}
    err = cls(**kwargs)
    text = str(err)
    assert "%(" not in text
    for name, conv in placeholders:
        assert (str(7) if conv == "d" else name) in text
    assert isinstance(err, Exception)


def test_catching_the_base_class_catches_everything():
    for cls in ALL_ERRORS:
        with pytest.raises(exception.OsNumaError):
            raise cls()


def _raised_names() -> set[str]:
    """Names of the error classes src/ uses other than to catch them: raised, built,
    passed on to be raised, or subclassed. Docstrings and ``except`` clauses do not count."""
    root = Path(exception.__file__).parent
    names: set[str] = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        caught = {
            id(node)
            for handler in ast.walk(tree)
            if isinstance(handler, ast.ExceptHandler) and handler.type is not None
            for node in ast.walk(handler.type)
        }
        for node in ast.walk(tree):
            if id(node) in caught:
                continue
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name):  # also a base class in exception.py
                names.add(node.id)
    return names


def test_every_error_class_is_raised_by_some_feature():
    """An error class nothing raises (or subclasses) misleads its catchers: remove it,
    or raise it where a feature should."""
    used = _raised_names()
    unused = [cls.__name__ for cls in ALL_ERRORS if cls.__name__ not in used]
    assert unused == []
