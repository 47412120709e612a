"""What one guest cell on one host cell comes to: a :class:`CellFit` or a :class:`Shortfall`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class CellFit(NamedTuple):
    """A guest cell that fits a host cell, with the choices made there.

    ``pinning`` pairs each pinned vCPU with its host pCPU in vCPU order,
    ``reserved`` holds the emulator pCPU(s) (guest cell 0 with ``isolate`` only)
    and ``pagesize`` the page size resolved from ``small``/``large``/``any`` (KiB,
    or None when none was requested).
    """

    pinning: tuple[tuple[int, int], ...]
    reserved: tuple[int, ...]
    pagesize: int | None


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The first constraint a guest cell fails on a host cell, with its numbers.

    ``constraint`` is a stable keyword (``memory``, ``pages``, ``pagesize``,
    ``pcpus``, ``shared_cpus``, ``free_pcpus``, ``whole_cores``, ``smt_config``,
    ``smt_required``, ``sibling_threads``, ``emulator_pcpus``, ``cpu_limit``,
    ``ram_limit``); ``needed``/``available`` are in the unit the text names;
    ``text`` reads like "5 pCPUs needed (4 vCPUs + 1 emulator), 3 free".
    """

    constraint: str
    needed: int | float
    available: int | float
    text: str


def pcpus_needed(vcpus: int, reserve: int) -> str:
    """ "5 pCPUs needed (4 vCPUs + 1 emulator)", or "4 pCPUs needed" without a reservation."""
    if not reserve:
        return f"{vcpus} pCPU{'s' if vcpus != 1 else ''} needed"
    total = vcpus + reserve
    emulator = "1 emulator" if reserve == 1 else f"{reserve} emulator pCPUs"
    return f"{total} pCPUs needed ({vcpus} vCPU{'s' if vcpus != 1 else ''} + {emulator})"
