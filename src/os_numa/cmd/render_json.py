"""``os-numa place --format json``: the placement as one JSON object.

The keys are the contract in the design's API page; more may be added. The
additions here: each cell's ``cpu_policy`` and ``cpu_thread_policy``, and the
guest's ``emulator_pool_cpu`` (policy ``pool``), so that a document can be fed
back through ``--existing`` and claimed exactly as placed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology


def cell_to_dict(guest_cell: int, cell: InstanceNUMACell) -> dict[str, Any]:
    """One placed guest cell; ``host_cell`` is the cell's post-fit id."""
    pinning = cell.cpu_pinning or {}
    return {
        "guest_cell": guest_cell,
        "host_cell": cell.id,
        "vcpus": sorted(cell.cpus),
        "cpu_pinning": {str(vcpu): pinning[vcpu] for vcpu in sorted(pinning)},
        "cpuset_reserved": sorted(cell.cpuset_reserved or ()),
        "memory_mb": cell.memory,
        "pagesize_kb": cell.pagesize,
        "cpu_policy": cell.cpu_policy,
        "cpu_thread_policy": cell.cpu_thread_policy,
    }


def vcpusched_to_dict(vcpus: Iterable[int], scheduler: str, priority: int) -> dict[str, Any]:
    return {"vcpus": sorted(vcpus), "scheduler": scheduler, "priority": priority}


def placement_document(
    placement: InstanceNUMATopology | None,
    *,
    emulator_threads_policy: str | None,
    emulatorpin: Iterable[int] = (),
    vcpusched: Iterable[dict[str, Any]] = (),
    explanation: str | None = None,
    fits: bool | None = None,
) -> dict[str, Any]:
    """The JSON contract: ``fits``, the placed ``cells``, ``emulatorpin``,
    ``vcpusched`` and, when nothing fits, the ``explanation``.

    ``fits`` defaults to "a placement was given"; pass True with no placement
    for a guest that asks for no NUMA placement (it fits, with no cells).
    """
    fits = placement is not None if fits is None else fits
    cells = placement.cells if fits and placement is not None else []
    return {
        "fits": fits,
        "emulator_threads_policy": emulator_threads_policy,
        "cells": [cell_to_dict(i, c) for i, c in enumerate(cells)],
        "emulatorpin": sorted(emulatorpin) if fits else [],
        "vcpusched": list(vcpusched) if fits else [],
        "explanation": None if fits else explanation,
        "emulator_pool_cpu": getattr(placement, "emulator_pool_cpu", None) if fits else None,
    }


#: A JSON array holding only integers, as ``json.dumps(indent=2)`` spreads it over lines.
_INT_ARRAY = re.compile(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]")


def dumps(document: dict[str, Any]) -> str:
    """Readable JSON: indented objects, CPU lists kept on one line, keys in contract order."""
    text = json.dumps(document, indent=2)
    return _INT_ARRAY.sub(
        lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]", text
    )
