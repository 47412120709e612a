"""os-numa's errors as Nova's exception classes, for code (and tests) inside Nova."""

from __future__ import annotations

import contextlib
import functools

from nova import exception as nova_exception
from os_numa import exception


def nova_class(error: exception.OsNumaError) -> type[nova_exception.NovaException]:
    """The Nova exception class for ``error``: the first class in its MRO whose name
    Nova's ``nova.exception`` defines (os-numa keeps Nova's names; its own refinements
    subclass them), else ``NovaException``."""
    for cls in type(error).__mro__:
        found = getattr(nova_exception, cls.__name__, None)
        if isinstance(found, type) and issubclass(found, nova_exception.NovaException):
            return found
    return nova_exception.NovaException


def to_nova(error: exception.OsNumaError) -> Exception:
    """A Nova exception carrying ``error``'s message and keyword arguments."""
    cls = nova_class(error)
    try:
        return cls(message=str(error), **error.kwargs)
    except Exception:  # noqa: BLE001 - a class whose __init__ takes other arguments
        return cls(message=str(error))


@contextlib.contextmanager
def as_nova():
    """Re-raise os-numa errors raised in the block as Nova's classes (chained)."""
    try:
        yield
    except exception.OsNumaError as error:
        raise to_nova(error) from error


def raises_nova(func):
    """Decorator form of :func:`as_nova`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with as_nova():
            return func(*args, **kwargs)

    return wrapper
