"""Reading the command's input files: bounded in size, UTF-8, typed errors."""

from __future__ import annotations

from os_numa import exception


def read_text(path: str, limit: int, error: type[exception.OsNumaError], what: str) -> str:
    """The text of ``path``, refusing files over ``limit`` bytes before reading them whole.

    :raises error: (an :class:`~os_numa.exception.OsNumaError` with a ``reason``)
        naming ``what`` and ``path`` when the file is unreadable, too large or not UTF-8.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(reason=f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(reason=f"{what} {path} is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(reason=f"{what} {path} is not UTF-8: {exc}") from exc
