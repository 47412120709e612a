"""The resource tracker's checkpoint file: its claims, kept across a restart.

Modelled on the Kubernetes CPU manager's ``cpu_manager_state``: one small JSON
document, rewritten whole on every change, with a checksum over its content
and the host it was written for. What os-numa adds:

- **Atomic.** The document is written to a temporary file in the same
  directory, flushed and ``fsync``-ed, renamed over the checkpoint, and the
  directory is ``fsync``-ed. A crash (even ``kill -9``) at any point leaves
  either the old document or the new one, never a mixture; a stray temporary
  file is never read.
- **Checked.** ``checksum`` is the SHA-256 of the canonical JSON of everything
  else; a file that is not JSON, ends early, has the wrong shape or a checksum
  that does not match is refused with :class:`~os_numa.exception.CheckpointInvalid`,
  whose ``problem`` says which (``corrupt``, ``truncated``, ``tampered``,
  ``too large``, ``unsupported``). The file size is bounded before it is read.
- **Tied to its host.** ``host`` records each host cell (its pCPUs, shared
  CPUs, emulator pool, memory and page pools) and their ``fingerprint``; a
  checkpoint loaded on a host that differs is refused with
  :class:`~os_numa.exception.CheckpointMismatch` naming the cell and what
  changed (``stale``). Whether the claims match the guests libvirt runs is
  checked by :mod:`os_numa.virt.libvirt.recovery`.

Each claim keeps what the libvirt XML cannot show (thread policy ``isolate``,
the emulator mask), so a restart from a checkpoint restores placements exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from os_numa import cpuset as cpuset_mod
from os_numa import exception
from os_numa.compute.claims import Claim
from os_numa.compute.instance import Resources
from os_numa.objects import InstanceNUMATopology, NUMATopology, base
from os_numa.objects.pci import InstancePCIDevice

#: The ``format`` of every checkpoint document.
FORMAT = "os-numa/tracker-checkpoint"
#: The document version this release writes and reads.
VERSION = 1
#: The largest checkpoint read: 64 MiB (a claim takes about 2 KiB).
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class HostCellRecord:
    """One host cell as a checkpoint records it (what a claim's validity depends on)."""

    id: int
    pcpuset: str
    cpuset: str
    emulator_pool: str
    memory_mb: int
    pages: tuple[tuple[int, int, int], ...]  # (size KiB, total, reserved pages), smallest first

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pcpuset": self.pcpuset,
            "cpuset": self.cpuset,
            "emulator_pool": self.emulator_pool,
            "memory_mb": self.memory_mb,
            "pages": [list(p) for p in self.pages],
        }


def host_record(host: NUMATopology) -> tuple[HostCellRecord, ...]:
    """The cells of ``host`` as a checkpoint records them, sorted by id (usage is ignored)."""
    return tuple(
        HostCellRecord(
            id=cell.id,
            pcpuset=cpuset_mod.format_cpu_spec(cell.pcpuset),
            cpuset=cpuset_mod.format_cpu_spec(cell.cpuset),
            emulator_pool=cpuset_mod.format_cpu_spec(getattr(cell, "emulator_pool_cpus", ())),
            memory_mb=cell.memory,
            pages=tuple(sorted((p.size_kb, p.total, p.reserved or 0) for p in cell.mempages)),
        )
        for cell in sorted(host.cells, key=lambda c: c.id)
    )


def _canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(host: NUMATopology) -> str:
    """A short, stable digest of ``host``'s cells (``sha256:`` and 64 hex digits)."""
    cells = [cell.as_json() for cell in host_record(host)]
    return "sha256:" + hashlib.sha256(_canonical(cells)).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the host it was written for and the claims it holds."""

    host: tuple[HostCellRecord, ...]
    fingerprint: str
    claims: tuple[Claim, ...]
    moves: tuple[Claim, ...] = ()

    @property
    def held(self) -> tuple[Claim, ...]:
        """Every claim that holds resources here: instance claims, then move claims."""
        return self.claims + self.moves

    def verify_host(self, host: NUMATopology, path: str = "checkpoint") -> None:
        """Refuse the checkpoint unless it was written for ``host`` as configured now.

        :raises CheckpointMismatch: a cell appeared, disappeared or changed; the
            message names the cell and each field with its old and new value.
        """
        now = {cell.id: cell for cell in host_record(host)}
        then = {cell.id: cell for cell in self.host}
        differences = [f"host cell {c} is new" for c in sorted(set(now) - set(then))]
        differences += [f"host cell {c} is gone" for c in sorted(set(then) - set(now))]
        for cell_id in sorted(set(now) & set(then)):
            old, new = then[cell_id].as_json(), now[cell_id].as_json()
            differences += [
                f"host cell {cell_id} {name} was {old[name]!r}, is {new[name]!r}"
                for name in sorted(old)
                if old[name] != new[name]
            ]
        if differences:
            raise exception.CheckpointMismatch(
                path=path,
                reason="it was written for another host topology: " + "; ".join(differences),
            )


def _claim_json(claim: Claim) -> dict[str, Any]:
    return {
        "uuid": claim.instance_uuid,
        "placement": None if claim.placement is None else claim.placement.obj_to_primitive(),
        "resources": _resources_json(claim.resources),
        "overhead": _resources_json(claim.overhead),
        "pci_devices": [
            d.obj_to_primitive() if hasattr(d, "obj_to_primitive") else {"address": d.address}
            for d in claim.pci_devices
        ],
    }


def _resources_json(resources: Resources) -> dict[str, int]:
    return {
        "vcpus": resources.vcpus,
        "memory_mb": resources.memory_mb,
        "disk_gb": resources.disk_gb,
    }


def document(
    host: NUMATopology, claims: Iterable[Claim], moves: Iterable[Claim] = ()
) -> dict[str, Any]:
    """The checkpoint document of ``claims`` (and move claims ``moves``) on ``host``,
    checksum included."""
    body = {
        "format": FORMAT,
        "version": VERSION,
        "host": {
            "fingerprint": fingerprint(host),
            "cells": [cell.as_json() for cell in host_record(host)],
        },
        "claims": [_claim_json(c) for c in sorted(claims, key=lambda c: c.instance_uuid)],
        "moves": [_claim_json(c) for c in sorted(moves, key=lambda c: c.instance_uuid)],
    }
    return {**body, "checksum": "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()}


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(
    path: str | os.PathLike[str],
    host: NUMATopology,
    claims: Iterable[Claim],
    moves: Iterable[Claim] = (),
) -> None:
    """Replace the checkpoint at ``path`` atomically (temp file, fsync, rename, fsync dir).

    The file is created readable by its owner only.

    :raises OSError: the directory is missing or not writable, the disk is full...;
        the previous checkpoint, if any, is then unchanged.
    """
    target = Path(path)
    data = _canonical(document(host, claims, moves))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _invalid(path: str, problem: str, reason: str) -> exception.CheckpointInvalid:
    return exception.CheckpointInvalid(path=path, problem=problem, reason=reason)


def _read_bounded(path: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise _invalid(path, "too large", f"{size} bytes; the limit is {max_bytes}")
            data = handle.read(max_bytes + 1)
    except IsADirectoryError as exc:
        raise _invalid(path, "corrupt", "it is a directory, not a file") from exc
    except OSError as exc:
        raise exception.CheckpointInvalid(
            path=path, problem="unreadable", reason=exc.strerror or str(exc)
        ) from exc
    if len(data) > max_bytes:  # grew while read, or not a regular file
        raise _invalid(path, "too large", f"more than {max_bytes} bytes")
    return data


def _parse(path: str, data: bytes) -> Mapping[str, Any]:
    if not data:
        raise _invalid(path, "truncated", "the file is empty")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _invalid(
            path, "corrupt", f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except json.JSONDecodeError as exc:
        # A checkpoint is one JSON object: cut short, it stops before its closing brace.
        stripped = data.rstrip()
        cut = data.startswith(b"{") and not stripped.endswith(b"}") and exc.msg != "Extra data"
        if exc.pos >= len(stripped) or cut:
            raise _invalid(
                path, "truncated", f"the document ends early, at byte {len(data)}"
            ) from exc
        raise _invalid(path, "corrupt", f"not JSON: {exc.msg} at byte {exc.pos}") from exc
    except RecursionError as exc:
        raise _invalid(path, "corrupt", "nested too deeply") from exc
    if not isinstance(doc, dict):
        raise _invalid(path, "corrupt", f"a JSON object is required, not {type(doc).__name__}")
    return doc


def _check_envelope(path: str, doc: Mapping[str, Any]) -> None:
    if doc.get("format") != FORMAT:
        raise _invalid(path, "corrupt", f"format is {doc.get('format')!r}, not {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise _invalid(
            path,
            "unsupported",
            f"version {doc.get('version')!r}; this os-numa reads version {VERSION}",
        )
    checksum = doc.get("checksum")
    body = {k: v for k, v in doc.items() if k != "checksum"}
    expected = "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()
    if checksum != expected:
        raise _invalid(
            path,
            "tampered",
            f"its checksum {str(checksum)[:80]!r} does not match its content "
            "(changed after it was written)",
        )


def _resources(path: str, uuid: str, name: str, value: Any) -> Resources:
    keys = ("vcpus", "memory_mb", "disk_gb")
    if not isinstance(value, dict) or set(value) != set(keys):
        raise _invalid(path, "corrupt", f"claim {uuid}: {name} must have exactly {keys}")
    numbers = [value[k] for k in keys]
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
        raise _invalid(path, "corrupt", f"claim {uuid}: {name} must be non-negative integers")
    return Resources(*numbers)


def _claim(path: str, entry: Any) -> Claim:
    if not isinstance(entry, dict) or not isinstance(entry.get("uuid"), str) or not entry["uuid"]:
        raise _invalid(path, "corrupt", "a claim without a uuid")
    uuid = entry["uuid"]
    try:
        placement = entry.get("placement")
        if placement is not None:
            placement = base.OsNumaObject.obj_from_primitive(placement)
            if not isinstance(placement, InstanceNUMATopology):
                raise TypeError(f"placement is a {type(placement).__name__}")
        devices = []
        for device in entry.get("pci_devices") or ():
            devices.append(base.OsNumaObject.obj_from_primitive(device))
            if not isinstance(devices[-1], InstancePCIDevice):
                raise TypeError(f"a PCI device is a {type(devices[-1]).__name__}")
    except exception.OsNumaError:
        raise
    except Exception as exc:  # oslo raises many types for a bad primitive
        raise _invalid(path, "corrupt", f"claim {uuid}: {exc}") from exc
    return Claim(
        instance_uuid=uuid,
        placement=placement,
        resources=_resources(path, uuid, "resources", entry.get("resources")),
        overhead=_resources(path, uuid, "overhead", entry.get("overhead")),
        pci_devices=tuple(devices),
    )


def _host_cells(path: str, host: Any) -> tuple[HostCellRecord, ...]:
    try:
        return tuple(
            HostCellRecord(
                id=int(c["id"]),
                pcpuset=str(c["pcpuset"]),
                cpuset=str(c["cpuset"]),
                emulator_pool=str(c["emulator_pool"]),
                memory_mb=int(c["memory_mb"]),
                pages=tuple((int(s), int(t), int(r)) for s, t, r in c["pages"]),
            )
            for c in host["cells"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _invalid(path, "corrupt", f"the host record is malformed ({exc!r})") from exc


def load(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> Checkpoint:
    """Read and check the checkpoint at ``path`` (not yet against a host or domains).

    :raises CheckpointInvalid: the file is missing or unreadable, larger than
        ``max_bytes``, not the JSON of a checkpoint, ends early, was changed
        after it was written (checksum), or is of another version; ``problem``
        in the exception's ``kwargs`` names which.
    """
    path = os.fspath(path)
    doc = _parse(path, _read_bounded(path, max_bytes))
    _check_envelope(path, doc)
    host = doc.get("host")
    if (
        not isinstance(host, dict)
        or not isinstance(doc.get("claims"), list)
        or not isinstance(doc.get("moves", []), list)
    ):
        raise _invalid(path, "corrupt", "'host' must be an object, 'claims' and 'moves' lists")
    claims = tuple(_claim(path, entry) for entry in doc["claims"])
    moves = tuple(_claim(path, entry) for entry in doc.get("moves", []))
    for group in (claims, moves):
        uuids = [c.instance_uuid for c in group]
        if len(set(uuids)) != len(uuids):
            raise _invalid(path, "corrupt", "a uuid appears in more than one claim")
    return Checkpoint(_host_cells(path, host), str(host.get("fingerprint")), claims, moves)
