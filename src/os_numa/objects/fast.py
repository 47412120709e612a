"""Building and reading versioned objects without re-coercing their fields: the hot
paths' one door.

oslo.versionedobjects coerces every element of every set and dict on assignment and
deep-copies mutable defaults in the constructor. The fit and the claim build their
answers from values that are already coerced (ints in sets, str keys in dicts), so
they store them directly with :func:`new_object`; the result equals, field for field
and as primitives, ``cls(**values)`` (tests/objects/test_fast.py checks it). They
read fields straight from the stored attributes with :class:`FieldReader`
(:func:`read_fields` for a single read).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar, cast

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


class _Plan(NamedTuple):
    """How :func:`new_object` and :func:`derive` fill a class's fields, worked out once."""

    #: Field name -> instance attribute.
    attrs: dict[str, str]
    #: Attribute -> default, for the fields whose default is an immutable value.
    constants: dict[str, Any]
    #: (name, attribute, default) of the fields whose default is a container (copied).
    containers: tuple[tuple[str, str, Any], ...]
    #: The fields with a default, which the constructor marks changed.
    defaulted: frozenset[str]
    #: Every field's name.
    names: frozenset[str]
    #: The instance attributes of an object with every field set, and nothing else.
    complete: frozenset[str]
    #: (name, attribute) of the fields that may hold a list, set or dict (copied by
    #: :func:`derive`).
    mutable: tuple[tuple[str, str], ...]


#: oslo's field types whose values are containers.
_CONTAINER_TYPES = (ovo_fields.List, ovo_fields.Set, ovo_fields.Dict)


@cache_by_class
def _plan(cls: type[ovo_base.VersionedObject]) -> _Plan:
    attrs, constants, containers, defaulted, mutable = {}, {}, [], set(), []
    for name, attr, default in layout(cls):
        attrs[name] = attr
        if isinstance(getattr(cls.fields[name], "_type", None), _CONTAINER_TYPES) or isinstance(
            default, (set, dict, list)
        ):
            mutable.append((name, attr))
        if default is ovo_fields.UnspecifiedDefault:
            continue
        defaulted.add(name)
        if isinstance(default, (set, dict, list)):
            containers.append((name, attr, default))
        else:
            constants[attr] = default
    return _Plan(
        attrs,
        constants,
        tuple(containers),
        frozenset(defaulted),
        frozenset(attrs),
        frozenset(attrs.values()) | {"_context", "_changed_fields"},
        tuple(mutable),
    )


def new_object(cls: type[_O], values: dict[str, Any]) -> _O:
    """A ``cls`` holding ``values`` as they are, every other field at its default.

    The values must already be what the fields' coercion would give (the caller
    owns that); they are marked changed as the setters would mark them.

    :raises KeyError: a name in ``values`` is not a field of ``cls``.
    """
    plan = _plan(cls)
    obj = cls.__new__(cls)
    # What VersionedObject.__init__ sets, then the defaults, then the values.
    stored = vars(obj)
    stored["_context"] = None
    stored.update(plan.constants)
    for name, attr, default in plan.containers:
        if name not in values:
            stored[attr] = type(default)(default)
    attrs = plan.attrs
    for name, value in values.items():
        stored[attrs[name]] = value
    changed = set(plan.defaulted)
    changed.update(values)
    stored["_changed_fields"] = changed
    return obj


def copy_fields(obj: ovo_base.VersionedObject, skip: frozenset[str]) -> dict[str, Any]:
    """The set fields of ``obj`` outside ``skip``, by name, containers copied one level deep.

    For building a new object like ``obj`` with :func:`new_object`, some fields changed.
    """
    raw = vars(obj)
    values = {}
    for name, attr in _kept(type(obj), skip):
        if attr in raw:  # not set: the new object gets the default
            value = raw[attr]
            if isinstance(value, _CONTAINERS):
                value = type(value)(value)
            values[name] = value
    return values


def derive(obj: _O, changes: dict[str, Any]) -> _O:
    """A new object of ``obj``'s class: ``obj``'s set fields (containers copied one level
    deep), then ``changes``, every field left unset at its default.

    The same object as ``new_object(type(obj), copy_fields(obj, frozenset(changes)) |
    changes)``; when ``obj`` has every field set (as the constructor of a class calling
    ``obj_set_defaults`` leaves it) its attributes are copied in one step.

    :raises KeyError: a name in ``changes`` is not a field of the class.
    """
    cls = type(obj)
    plan = _plan(cls)
    raw = vars(obj)
    if len(changes) == len(plan.names):  # nothing of obj is kept
        return new_object(cls, changes)
    if len(raw) != len(plan.complete) or not raw.keys() >= plan.complete:
        return new_object(cls, copy_fields(obj, frozenset(changes)) | changes)
    new = cls.__new__(cls)
    stored = vars(new)
    stored.update(raw)
    for name, attr in plan.mutable:
        if name not in changes:
            value = stored[attr]
            if isinstance(value, _CONTAINERS):
                stored[attr] = type(value)(value)
    stored.update(zip(map(plan.attrs.__getitem__, changes), changes.values(), strict=True))
    stored["_context"] = None
    stored["_changed_fields"] = set(plan.names)
    return new


_CONTAINERS = (set, frozenset, dict, list)


@cache_by_class
def _kept(cls: type[ovo_base.VersionedObject], skip: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(name, attribute) of the fields of ``cls`` outside ``skip``, in field order."""
    return tuple((name, attr) for name, attr, _default in layout(cls) if name not in skip)


@cache_by_class
def _constructed(cls: type[ovo_base.VersionedObject]) -> tuple[tuple[str, Any], ...] | None:
    """(attribute, value) of each field ``cls()`` sets by itself (its defaults), or None
    when ``cls()`` cannot be built without arguments."""
    try:
        probe = cls()
    except Exception:  # noqa: BLE001 - any constructor that needs arguments
        return None
    raw = vars(probe)
    return tuple((attr, raw[attr]) for _name, attr, _default in layout(cls) if attr in raw)


def clone(obj: _O) -> _O:
    """``obj.obj_clone()`` without the constructor and the setters' coercion.

    oslo's deep copy builds ``cls()`` (every default deep-copied), then sets each
    field through its setter; this gives the same object (the fields ``cls()``
    sets, then the fields ``obj`` has, containers copied, nested objects cloned
    alike, the same changed fields and context) at a fraction of the cost.
    """
    cls = type(obj)
    constructed = _constructed(cls)
    if constructed is None:
        return obj.obj_clone()
    new = cls.__new__(cls)
    ovo_base.VersionedObject.__init__(new)
    stored, source = vars(new), vars(obj)
    for attr, default in constructed:
        stored[attr] = _copy(default)
    for _name, attr, _default in layout(cls):
        if attr in source:
            stored[attr] = _copy(source[attr])
    new._context = obj._context
    new._changed_fields = set(obj._changed_fields)
    return new


def _copy(value: Any) -> Any:
    if isinstance(value, ovo_base.VersionedObject):
        return clone(value)
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return type(value)(value)  # of ints or strings, which are immutable
    return value


def read_fields(obj: Any, *names: str) -> tuple[Any, ...]:
    """The values of fields ``names`` of a versioned object, read in one go.

    oslo.versionedobjects keeps a set field's value in the instance attribute
    ``_obj_<name>`` behind a property that checks and loads it; reading the
    attributes directly costs a tenth, which matters on a path run per host per
    boot. A field not set yet goes through the property (and its default).
    """
    return FieldReader(*names)(obj)


class FieldReader:
    """:func:`read_fields` for a fixed list of fields, attribute names worked out once.

    With ``optional``, a field the object does not have at all (an older
    object class) reads as None instead of raising AttributeError.

    Calling the reader reads the fields; :attr:`read` is the same reader as a plain
    function, which hot paths bind once (a call to it costs half a call to an
    object's ``__call__``).
    """

    __slots__ = ("names", "attrs", "optional", "read")

    def __init__(self, *names: str, optional: bool = False) -> None:
        self.names = names
        self.attrs = tuple(_attrname(name) for name in names)
        self.optional = optional
        self.read: Callable[[Any], tuple[Any, ...]] = _reader(
            # itemgetter reads every attribute in one C call (a tuple, or the bare
            # value for one name).
            itemgetter(*self.attrs) if names else _no_fields,
            len(names) == 1,
            self._slow,
        )

    def __call__(self, obj: Any) -> tuple[Any, ...]:
        return self.read(obj)

    def _slow(self, obj: Any) -> tuple[Any, ...]:
        """A field left unset: its property supplies the default."""
        raw = vars(obj)
        return tuple(
            raw[attr] if attr in raw else self._missing(obj, name)
            for attr, name in zip(self.attrs, self.names, strict=True)
        )

    def _missing(self, obj: Any, name: str) -> Any:
        return getattr(obj, name, None) if self.optional else getattr(obj, name)


def _reader(
    get: Callable[[dict[str, Any]], Any],
    single: bool,
    slow: Callable[[Any], tuple[Any, ...]],
) -> Callable[[Any], tuple[Any, ...]]:
    if single:

        def read_one(obj: Any) -> tuple[Any, ...]:
            try:
                return (get(vars(obj)),)
            except KeyError:
                return slow(obj)

        return read_one

    def read(obj: Any) -> tuple[Any, ...]:
        try:
            return get(vars(obj))  # a tuple for 0 or 2+ names
        except KeyError:
            return slow(obj)

    return read


def _no_fields(raw: dict[str, Any]) -> tuple[()]:
    return ()
