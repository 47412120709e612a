"""``--existing FILE``: placements already on the host, claimed before placing.

The file holds what ``os-numa place --format json`` prints: one placement
object, or a list of them (schema ``os-numa/placement/v1``; a document that
names another schema is refused, one that names none is read as this one).
Entries with ``"fits": false`` hold nothing and are skipped, as are guests
that asked for no NUMA placement (``"cells": []``) unless they hold PCI
devices. Each cell needs ``host_cell``, ``vcpus`` and ``memory_mb``;
``cpu_pinning``, ``cpuset_reserved``, ``pagesize_kb``, ``cpu_policy`` and
``cpu_thread_policy`` are optional. A top-level ``pci_devices`` list (objects
with an ``address``) names the PCI devices the placement holds, and
``emulator_pool_cpu`` the emulator pool pCPU of a ``pool`` guest.
"""

from __future__ import annotations

from typing import Any

from os_numa import exception, jsonutil
from os_numa.cmd import inputfile, schema
from os_numa.objects import fields
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from os_numa.objects.numa import NUMATopology
from os_numa.objects.pci import InstancePCIDevice
from os_numa.pci.devices import PciAddress

#: Largest --existing file read, in bytes.
MAX_EXISTING_BYTES = 16 * 1024 * 1024


def _bad(where: str, reason: str) -> exception.InvalidRequest:
    return exception.InvalidRequest(reason=f"--existing {where}: {reason}")


#: Longest integer read, in digits (2**64 has 20): a longer one is refused by
#: name instead of converted (int() of thousands of digits is slow, then fails).
MAX_INT_DIGITS = 20


class _LongNumber(str):
    """A JSON integer of more than :data:`MAX_INT_DIGITS` digits, left unconverted."""


def _json_int(text: str) -> int | _LongNumber:
    return _LongNumber(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _int(value: Any, where: str) -> int:
    if isinstance(value, _LongNumber):
        raise _bad(
            where,
            f"a {len(value.lstrip('-'))}-digit number is too long "
            f"(at most {MAX_INT_DIGITS} digits)",
        )
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(where, f"{value!r} is not a non-negative integer")
    return value


def _int_list(value: Any, where: str) -> set[int]:
    if not isinstance(value, list):
        raise _bad(where, f"{value!r} is not a list of integers")
    return {_int(v, where) for v in value}


def _enum(value: Any, valid: tuple[str, ...], where: str) -> str | None:
    if value is not None and value not in valid:
        raise _bad(where, f"{value!r} is not one of {', '.join(valid)}")
    return value


def cell_from_dict(doc: Any, where: str) -> InstanceNUMACell:
    """One placed cell (see the module docstring) as an :class:`InstanceNUMACell`."""
    if not isinstance(doc, dict):
        raise _bad(where, "a cell must be a JSON object")
    for key in ("host_cell", "vcpus", "memory_mb"):
        if key not in doc:
            raise _bad(where, f"missing {key!r}")
    vcpus = _int_list(doc["vcpus"], f"{where}.vcpus")
    raw_pinning = doc.get("cpu_pinning") or {}
    if not isinstance(raw_pinning, dict):
        raise _bad(f"{where}.cpu_pinning", "must be an object {vcpu: pcpu}")
    pinning: dict[int, int] = {}
    for vcpu, pcpu in raw_pinning.items():
        if not (vcpu.isascii() and vcpu.isdigit()) or len(vcpu) > MAX_INT_DIGITS:
            raise _bad(f"{where}.cpu_pinning", f"vCPU {vcpu!r} is not a vCPU number")
        if int(vcpu) not in vcpus:
            raise _bad(f"{where}.cpu_pinning", f"vCPU {vcpu!r} is not one of the cell's vcpus")
        if int(vcpu) in pinning:
            raise _bad(f"{where}.cpu_pinning", f"vCPU {int(vcpu)} is pinned twice ({vcpu!r})")
        pinning[int(vcpu)] = _int(pcpu, f"{where}.cpu_pinning.{vcpu}")
    reserved = doc.get("cpuset_reserved")
    reserved_set = _int_list(reserved, f"{where}.cpuset_reserved") if reserved else None
    pagesize = doc.get("pagesize_kb")
    policy = _enum(doc.get("cpu_policy"), fields.CPUAllocationPolicy.ALL, f"{where}.cpu_policy")
    if policy is None and pinning:
        policy = (
            fields.CPUAllocationPolicy.DEDICATED
            if set(pinning) == vcpus
            else fields.CPUAllocationPolicy.MIXED
        )
    thread_policy = _enum(
        doc.get("cpu_thread_policy"),
        fields.CPUThreadAllocationPolicy.ALL,
        f"{where}.cpu_thread_policy",
    )
    return InstanceNUMACell(
        id=_int(doc["host_cell"], f"{where}.host_cell"),
        cpuset=vcpus - set(pinning),
        pcpuset=set(pinning),
        memory=_int(doc["memory_mb"], f"{where}.memory_mb"),
        pagesize=None if pagesize is None else _int(pagesize, f"{where}.pagesize_kb"),
        cpu_pinning=pinning or None,
        cpuset_reserved=reserved_set,
        cpu_policy=policy,
        cpu_thread_policy=thread_policy,
    )


def placement_from_dict(doc: Any, where: str) -> InstanceNUMATopology | None:
    """One ``--format json`` document; None when it records a non-fit."""
    if not isinstance(doc, dict):
        raise _bad(where, "a placement must be a JSON object")
    schema.check_name(doc, schema.PLACEMENT, f"--existing {where}")
    if doc.get("fits") is False:
        return None
    cells = doc.get("cells")
    # A guest that asked for no NUMA placement fits with no cells: it pins
    # nothing, and holds only the PCI devices it was given, if any.
    floating = doc.get("fits") is True and cells == []
    if not isinstance(cells, list) or not (cells or floating):
        raise _bad(where, "needs a non-empty 'cells' list")
    policy = _enum(
        doc.get("emulator_threads_policy"),
        fields.CPUEmulatorThreadsPolicy.ALL,
        f"{where}.emulator_threads_policy",
    )
    placement = InstanceNUMATopology(
        cells=[cell_from_dict(c, f"{where}.cells[{i}]") for i, c in enumerate(cells)],
        emulator_threads_policy=policy,
    )
    pool_cpu = doc.get("emulator_pool_cpu")
    if pool_cpu is not None:
        placement.emulator_pool_cpu = _int(pool_cpu, f"{where}.emulator_pool_cpu")
    devices = doc.get("pci_devices") or []
    if not isinstance(devices, list):
        raise _bad(f"{where}.pci_devices", "must be a list of objects")
    placement.pci_devices = [
        pci_device_from_dict(d, f"{where}.pci_devices[{i}]") for i, d in enumerate(devices)
    ]
    if floating and not placement.pci_devices:
        return None
    return placement


def pci_device_from_dict(doc: Any, where: str) -> InstancePCIDevice:
    """One assigned device, as ``--format json`` writes it (``address`` is required)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("address"), str):
        raise _bad(where, "a device must be an object with an 'address' string")
    try:
        address = str(PciAddress.parse(doc["address"]))
    except exception.OsNumaError as exc:
        raise _bad(where, str(exc)) from exc
    node = doc.get("host_numa_node")
    cell = doc.get("guest_cell")
    return InstancePCIDevice(
        address=address,
        alias=str(doc.get("alias") or ""),
        vendor_id=str(doc.get("vendor_id") or ""),
        product_id=str(doc.get("product_id") or ""),
        dev_type=str(doc.get("device_type") or ""),
        host_numa_node=None if node is None else _int(node, f"{where}.host_numa_node"),
        guest_cell=None if cell is None else _int(cell, f"{where}.guest_cell"),
    )


def parse_existing(text: str, path: str | None = None) -> list[InstanceNUMATopology]:
    """Every placement in a JSON document (an object or a list of objects);
    errors name ``path`` (the file), the entry and the field."""
    source = "--existing" if path is None else f"--existing {path}"
    try:
        doc = jsonutil.loads(text, max_chars=MAX_EXISTING_BYTES, parse_int=_json_int)
    except ValueError as exc:
        raise exception.InvalidRequest(reason=f"{source} is not valid JSON: {exc}") from exc
    docs = doc if isinstance(doc, list) else [doc]
    prefix = "" if path is None else f"{path}, "
    placements = (placement_from_dict(d, f"{prefix}entry {i}") for i, d in enumerate(docs))
    return [p for p in placements if p is not None]


def load_existing(path: str) -> list[InstanceNUMATopology]:
    """Read and parse an ``--existing`` file (``-``: standard input; at most
    :data:`MAX_EXISTING_BYTES`)."""
    text = inputfile.read_text(path, MAX_EXISTING_BYTES, exception.InvalidRequest, "--existing")
    return parse_existing(text, inputfile.display_name(path))


def check_host_cells(host: NUMATopology, placements: list[InstanceNUMATopology]) -> None:
    """Every placed cell must name a cell of this host (else its claim would be lost)."""
    known = sorted(cell.id for cell in host.cells)
    for index, placement in enumerate(placements):
        for cell in placement.cells:
            if cell.id not in known:
                raise _bad(
                    f"entry {index}",
                    f"host cell {cell.id} does not exist on this host (cells: {known})",
                )
