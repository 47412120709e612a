"""Names and JSON Schema files of the command's ``--format json`` documents.

Every JSON document the command prints starts with ``"schema":
"os-numa/KIND/vN"``. The schema of each name ships in the package as
``os_numa/data/schemas/KIND-vN.json`` (JSON Schema, draft 2020-12), so a
script can check what it reads, and the test suite checks the command's real
output against it. The versioning rule: adding a key keeps the version (a
reader ignores keys it does not know); removing or renaming a key, or changing
a value's type or meaning, makes a new version with a new file, and the old
name is never reused for the new shape.

A new command that prints JSON adds its file and one constant here, and builds
its document with :func:`stamp` (see "JSON output" in doc/source/cli.rst).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from os_numa import exception

#: ``os-numa place --format json`` (also what ``--existing`` reads).
PLACEMENT = "os-numa/placement/v1"
#: ``os-numa host --format json``.
HOST = "os-numa/host/v1"
#: ``os-numa validate-flavor --format json``.
FLAVOR = "os-numa/flavor/v1"
#: ``os-numa audit --format json``.
AUDIT = "os-numa/audit/v1"
#: ``os-numa fleet --format json``.
FLEET = "os-numa/fleet/v1"

_NAME = re.compile(r"^os-numa/([a-z][a-z0-9-]*)/v([1-9][0-9]*)$")


def file_name(name: str) -> str:
    """``"os-numa/placement/v1"`` -> ``"placement-v1.json"``.

    :raises ValueError: ``name`` is not ``os-numa/KIND/vN``.
    """
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a schema name of the form os-numa/KIND/vN")
    return f"{match.group(1)}-v{match.group(2)}.json"


def _directory():
    return resources.files("os_numa").joinpath("data").joinpath("schemas")


def shipped() -> list[str]:
    """The names of every schema file in the package, sorted."""
    names = []
    for entry in _directory().iterdir():
        kind, _, version = entry.name.removesuffix(".json").rpartition("-v")
        if entry.name.endswith(".json") and kind and version.isdigit():
            names.append(f"os-numa/{kind}/v{version}")
    return sorted(names)


@cache
def _load(name: str) -> str:
    return _directory().joinpath(file_name(name)).read_text("utf-8")


def load(name: str) -> dict[str, Any]:
    """The JSON Schema of the document ``name`` (a new dict on every call)."""
    return json.loads(_load(name))


def stamp(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``"schema": name`` as its first key (``body`` is not changed)."""
    return {"schema": name, **{k: v for k, v in body.items() if k != "schema"}}


def check_name(document: dict[str, Any], name: str, where: str) -> None:
    """Refuse a document that names another schema (one without a name is accepted,
    as written before names existed).

    :raises InvalidRequest: ``document["schema"]`` is present and is not ``name``.
    """
    given = document.get("schema", name)
    if given != name:
        shown = repr(given) if isinstance(given, str) and len(given) <= 60 else "of another schema"
        raise exception.InvalidRequest(
            reason=f"{where}: the document is {shown}, os-numa reads {name!r} here"
        )
