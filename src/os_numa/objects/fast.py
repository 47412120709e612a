"""Building versioned objects without re-coercing their fields: the hot paths' one door.

oslo.versionedobjects coerces every element of every set and dict on assignment and
deep-copies mutable defaults in the constructor. The fit and the claim build their
answers from values that are already coerced (ints in sets, str keys in dicts), so
they store them directly with :func:`new_object`; the result equals, field for field
and as primitives, ``cls(**values)`` (tests/objects/test_fast.py checks it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields as ovo_fields
from oslo_versionedobjects.base import _get_attrname as _attrname

#: The prefix of the instance attribute holding a set field's value ("_obj_").
ATTR_PREFIX = _attrname("")

_O = TypeVar("_O", bound=ovo_base.VersionedObject)
_F = TypeVar("_F", bound=Callable[..., Any])


def cache_by_class(func: _F) -> _F:
    """:func:`functools.cache` for functions of an object class, typed as ``func`` itself.

    (mypy takes a class that defines ``__hash__``, as oslo's objects do, for an
    unhashable argument of :func:`functools.cache`'s wrapper; classes hash by identity.)
    """
    return cast(_F, functools.cache(func))


@cache_by_class
def layout(cls: type[ovo_base.VersionedObject]) -> tuple[tuple[str, str, Any], ...]:
    """(name, attribute, default) of each field of ``cls``, in field order, worked out once."""
    return tuple((name, ATTR_PREFIX + name, field_.default) for name, field_ in cls.fields.items())


def new_object(cls: type[_O], values: dict[str, Any]) -> _O:
    """A ``cls`` holding ``values`` as they are, every other field at its default.

    The values must already be what the fields' coercion would give (the caller
    owns that); they are marked changed as the setters would mark them.
    """
    obj = cls.__new__(cls)
    ovo_base.VersionedObject.__init__(obj)
    stored = vars(obj)
    changed = []
    for name, attr, default in layout(cls):
        if name in values:
            stored[attr] = values[name]
        elif default is ovo_fields.UnspecifiedDefault:
            continue
        elif isinstance(default, (set, dict, list)):
            stored[attr] = type(default)(default)
        else:
            stored[attr] = default
        changed.append(name)
    obj._changed_fields.update(changed)
    return obj
