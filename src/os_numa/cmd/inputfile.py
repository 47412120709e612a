"""Reading the command's input files: bounded in size, UTF-8, typed errors.

Every file option of the command reads through here. The name ``-`` means
standard input, as for ``virsh`` and ``kubectl`` users
(``virsh capabilities | os-numa host --capabilities -``), read under the same
bound as a file; only one option may name it, since it can be read once.
"""

from __future__ import annotations

import os
import stat
import sys

from os_numa import exception

#: The file name that stands for standard input.
STDIN = "-"


def display_name(path: str) -> str:
    """How messages name ``path``: ``standard input`` for ``-``."""
    return "standard input" if path == STDIN else path


def check_one_stdin(uses: dict[str, list[str]]) -> None:
    """Refuse ``-`` given more than once: {option: [paths]} -> at most one ``-``.

    :raises InvalidRequest: naming the options that asked for standard input.
    """
    options = [option for option, paths in uses.items() for path in paths if path == STDIN]
    if len(options) > 1:
        raise exception.InvalidRequest(
            reason=f"standard input ('-') can be read once, but {', '.join(options)} "
            "each ask for it: give all but one as files"
        )


def read_bytes(path: str, limit: int, error: type[exception.OsNumaError], what: str) -> bytes:
    """The bytes of ``path`` (``-``: standard input), refusing more than ``limit``
    bytes before reading them whole.

    :raises error: (an :class:`~os_numa.exception.OsNumaError` with a ``reason``)
        naming ``what`` and the file when it is unreadable or too large.
    """
    name = display_name(path)
    try:
        if path == STDIN:
            if sys.stdin is None:
                raise OSError("there is no standard input")
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise error(reason=f"cannot read {what} {name}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(reason=f"{what} {name} is larger than {limit} bytes")
    return data


def read_text(path: str, limit: int, error: type[exception.OsNumaError], what: str) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), as :func:`read_bytes` reads it.

    :raises error: as :func:`read_bytes`, or when the content is not UTF-8.
    """
    data = read_bytes(path, limit, error, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(reason=f"{what} {display_name(path)} is not UTF-8: {exc}") from exc


def check_regular_file(
    path: str, limit: int, error: type[exception.OsNumaError], what: str
) -> None:
    """Refuse ``path`` unless it is a regular file of at most ``limit`` bytes.

    For files another library opens by name (oslo.config's ``--config-file``):
    a directory, a device such as ``/dev/zero`` or a FIFO never reaches it.

    :raises error: (with a ``reason``) naming ``what`` and ``path``.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise error(reason=f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise error(reason=f"{what} {path} is {kind}")
    if info.st_size > limit:
        raise error(reason=f"{what} {path} is larger than {limit} bytes")
    read_text(path, limit, error, what)
