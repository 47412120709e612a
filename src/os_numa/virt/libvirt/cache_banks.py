"""Last-level cache banks of a host, from the capabilities' ``<host><cache>``.

libvirt lists each cache bank with the CPUs that share it::

    <cache>
      <bank id='0' level='3' type='both' size='32' unit='MiB' cpus='0-3,64-67'/>
    </cache>

The banks of the highest level present are the last-level cache (an AMD CCX's
L3, say); :func:`cell_cache_banks` gives each host cell its own, which the fit
uses with ``[os_numa] align_cpus_by_cache`` (see :mod:`os_numa.fit.cache`).
"""

from __future__ import annotations

from collections.abc import Iterable

from os_numa import cpuset, exception, xmlutil
from os_numa.virt.libvirt import config

#: Most banks read from one document.
MAX_BANKS = 4096


def last_level_banks(caps: config.LibvirtConfigCaps) -> list[frozenset[int]]:
    """The CPU sets of the last-level cache banks, or [] when the document lists none.

    :raises InvalidXML: a bank without a valid ``level`` or ``cpus``.
    """
    host = caps.host
    if host is None:
        return []
    banks: list[tuple[int, frozenset[int]]] = []
    for _, xml in host.extra_children:
        if not xml.lstrip().startswith("<cache"):
            continue
        element = xmlutil.parse(xml)
        for bank in element.iter("bank"):
            if len(banks) >= MAX_BANKS:
                raise exception.InvalidXML(reason=f"more than {MAX_BANKS} cache banks")
            try:
                level = int(bank.get("level", ""))
                cpus = cpuset.parse_cpu_spec(bank.get("cpus", ""))
            except (ValueError, exception.InvalidCPUSpec) as exc:
                raise exception.InvalidXML(
                    reason=f"cache bank {bank.get('id')!r}: level and cpus are required ({exc})"
                ) from exc
            banks.append((level, frozenset(cpus)))
    if not banks:
        return []
    top = max(level for level, _ in banks)
    return [cpus for level, cpus in banks if level == top and cpus]


def cell_cache_banks(banks: Iterable[frozenset[int]], cell_cpus: set[int]) -> list[set[int]]:
    """The banks that hold CPUs of one cell, restricted to them, lowest CPU first."""
    found = {frozenset(bank & cell_cpus) for bank in banks}
    return sorted((set(bank) for bank in found if bank), key=min)
