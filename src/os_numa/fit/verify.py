"""Check a recorded placement against a host, with the rules a fresh claim obeys.

A compute service that restarts rebuilds its usage from placements it did not
compute in this process: the instances' stored ``numa_topology``, a checkpoint
file, libvirt domains, or the command's ``--existing`` file. Accounting such a
placement only marks its pCPUs and pages used; it would accept two vCPUs on
one pCPU, a vCPU on its own emulator pCPU, 100 huge pages where 8 exist, or an
``isolate`` guest whose core is shared. :func:`check_placement` refuses every
placement that :func:`os_numa.fit.numa_fit_instance_to_host` could not have
returned on that host (as used before the instance), naming the instance and
the rule (:data:`RULES`).

What it does not check are the fit's *preferences* (lowest pCPUs first, the
order of host cells, siblings before other cores, emulator pCPUs off realtime
cores): any choice allowed by the rules is accepted, since another version of
os-numa, or Nova, may have chosen differently.

Pure: it reads its arguments and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from os_numa import exception
from os_numa.cpuset import format_cpu_spec
from os_numa.objects import fields

_POLICY = fields.CPUAllocationPolicy
_THREADS = fields.CPUThreadAllocationPolicy
_PINNED = (_POLICY.DEDICATED, _POLICY.MIXED)

#: The rules, by the short name :class:`~os_numa.exception.PlacementInvalid` reports.
RULES: Mapping[str, str] = {
    "host-cell": "every guest cell is placed on a host cell that exists",
    "distinct-cells": "no two guest cells share a host cell",
    "vcpus": "the guest's vCPUs are 0..n-1, each in exactly one cell (n = the flavor's vcpus)",
    "memory": "the cells' memory adds up to the flavor's memory_mb",
    "cpu-policy": "a cell's pinned and floating vCPUs agree with its CPU policy, "
    "and every pinned vCPU has exactly one pCPU",
    "one-vcpu-per-pcpu": "no two vCPUs of the guest share a pCPU",
    "pinnable": "pinned and emulator pCPUs are pCPUs of their host cell (cpu_dedicated_set)",
    "free": "pinned and emulator pCPUs are not already pinned by another guest",
    "emulator": "emulator policy 'isolate' reserves exactly emulator_threads_count pCPUs "
    "(1 by default), all beside guest cell 0 and none used by a vCPU; other policies reserve none",
    "thread-isolate": "thread policy 'isolate': each vCPU and emulator pCPU has a core of its "
    "own, every thread of which is a free pCPU (no SMT with cpu_dedicated_set/cpu_shared_set)",
    "thread-require": "thread policy 'require': every pinned pCPU is on a core with SMT siblings",
    "floating": "a cell's floating vCPUs are at most the host cell's shared CPUs "
    "(and within cpu_allocation_ratio when limits are given)",
    "pages": "a page size the host cell offers, dividing the memory, with enough free pages",
    "cell-memory": "the cell's memory fits the host cell (free memory for pinned cells, "
    "total for shared ones, and within ram_allocation_ratio when limits are given)",
}


def check_placement(
    host_topology: Any,
    placement: Any,
    *,
    instance: str = "?",
    flavor: Any = None,
    limits: Any = None,
) -> None:
    """Refuse ``placement`` unless a fresh claim on ``host_topology`` could have made it.

    :param host_topology: the host :class:`~os_numa.objects.NUMATopology` as
        used *before* this instance (other instances already accounted).
    :param placement: the recorded :class:`~os_numa.objects.InstanceNUMATopology`
        (or Nova's), cells' ``id`` being host cell ids.
    :param instance: the name the error uses (a uuid, "entry 3 of FILE").
    :param flavor: when given, the vCPU count and memory must be the flavor's
        (``flavor.vcpus``, ``flavor.memory_mb``).
    :param limits: ``NUMATopologyLimits`` the claim was made under (ratios for
        cells with floating vCPUs); None: no ratio check.
    :raises PlacementInvalid: the first broken rule, with ``rule`` one of :data:`RULES`.
    """
    checker = _Checker(host_topology, placement, instance, limits)
    checker.check_vcpus(flavor)
    checker.check_cells()
    checker.check_emulator()


class _Checker:
    def __init__(self, host: Any, placement: Any, instance: str, limits: Any) -> None:
        self.host_cells = {cell.id: cell for cell in host.cells}
        self.cells = list(placement.cells)
        self.placement = placement
        self.instance = instance
        self.limits = limits

    def fail(self, rule: str, reason: str) -> exception.PlacementInvalid:
        return exception.PlacementInvalid(instance=self.instance, rule=rule, reason=reason)

    # -- the guest as a whole -------------------------------------------------

    def check_vcpus(self, flavor: Any) -> None:
        seen: dict[int, int] = {}
        for index, cell in enumerate(self.cells):
            # Stored pinning keys are text: int() also reads '١' or '٣' (and '01'),
            # which would fold two pins onto one vCPU before any other check.
            for key in getattr(cell, "cpu_pinning_raw", None) or {}:
                if not (key.isascii() and key.isdigit()) or str(int(key)) != key:
                    raise self.fail(
                        "vcpus", f"guest cell {index} pins {key!r}, which is not a vCPU number"
                    )
            for vcpu in sorted(set(cell.cpuset) | set(cell.pcpuset)):
                if vcpu in seen:
                    raise self.fail(
                        "vcpus", f"vCPU {vcpu} is in guest cells {seen[vcpu]} and {index}"
                    )
                seen[vcpu] = index
            overlap = set(cell.cpuset) & set(cell.pcpuset)
            if overlap:
                raise self.fail(
                    "vcpus", f"guest cell {index}: vCPU(s) {sorted(overlap)} both float and pin"
                )
        count = len(seen)
        if flavor is not None and count != flavor.vcpus:
            raise self.fail(
                "vcpus", f"the cells hold {count} vCPUs, the flavor has vcpus={flavor.vcpus}"
            )
        if set(seen) != set(range(count)):
            raise self.fail(
                "vcpus",
                f"vCPU ids {format_cpu_spec(seen)} are not 0..{count - 1} (each exactly once)",
            )
        if flavor is not None:
            memory = sum(cell.memory for cell in self.cells)
            if memory != flavor.memory_mb:
                raise self.fail(
                    "memory",
                    f"the cells hold {memory} MiB, the flavor has memory_mb={flavor.memory_mb}",
                )

    # -- each cell --------------------------------------------------------------

    def check_cells(self) -> None:
        placed: dict[int, int] = {}
        owner: dict[int, str] = {}  # pCPU -> what of this guest uses it
        for index, cell in enumerate(self.cells):
            host = self.host_cells.get(cell.id)
            if host is None:
                raise self.fail(
                    "host-cell",
                    f"guest cell {index} is on host cell {cell.id}, which does not exist "
                    f"(host cells: {sorted(self.host_cells)})",
                )
            if cell.id in placed:
                raise self.fail(
                    "distinct-cells",
                    f"guest cells {placed[cell.id]} and {index} are both on host cell {cell.id}",
                )
            placed[cell.id] = index
            self._check_policy(index, cell)
            self._check_pcpus(index, cell, host, owner)
            self._check_floating(index, cell, host)
            self._check_memory(index, cell, host)

    def _check_policy(self, index: int, cell: Any) -> None:
        pinned = set(cell.pcpuset)
        pinning = cell.cpu_pinning or {}
        if cell.cpu_policy not in _PINNED:
            if pinned or pinning or cell.cpuset_reserved:
                raise self.fail(
                    "cpu-policy",
                    f"guest cell {index} has cpu_policy {cell.cpu_policy!r} but pins vCPUs "
                    "or reserves pCPUs; only 'dedicated' and 'mixed' cells pin",
                )
            return
        if cell.cpu_policy == _POLICY.DEDICATED and cell.cpuset:
            raise self.fail(
                "cpu-policy",
                f"guest cell {index} is 'dedicated' but vCPU(s) "
                f"{format_cpu_spec(cell.cpuset)} float",
            )
        if set(pinning) != pinned:
            raise self.fail(
                "cpu-policy",
                f"guest cell {index} pins vCPU(s) {format_cpu_spec(pinning) or 'none'} "
                f"but its pinned vCPUs are {format_cpu_spec(pinned) or 'none'}",
            )

    def _check_pcpus(self, index: int, cell: Any, host: Any, owner: dict[int, str]) -> None:
        pinning = cell.cpu_pinning or {}
        uses = [(pcpu, f"vCPU {vcpu}") for vcpu, pcpu in sorted(pinning.items())]
        uses += [(pcpu, "the emulator threads") for pcpu in sorted(cell.cpuset_reserved or ())]
        pcpuset = set(host.pcpuset)
        pinned_before = set(host.pinned_cpus)
        for pcpu, user in uses:
            if pcpu in owner:
                both_vcpus = owner[pcpu].startswith("vCPU") and user.startswith("vCPU")
                rule = "one-vcpu-per-pcpu" if both_vcpus else "emulator"
                raise self.fail(rule, f"{owner[pcpu]} and {user} are both on pCPU {pcpu}")
            owner[pcpu] = user
            if pcpu not in pcpuset:
                raise self.fail(
                    "pinnable",
                    f"{user} of guest cell {index} is on pCPU {pcpu}, which is not a pCPU of "
                    f"host cell {host.id} (pCPUs: {format_cpu_spec(pcpuset) or 'none'})",
                )
            if pcpu in pinned_before:
                raise self.fail(
                    "free",
                    f"{user} of guest cell {index} is on pCPU {pcpu}, already pinned by "
                    "another guest",
                )
        if not uses:
            return
        if cell.cpu_thread_policy == _THREADS.ISOLATE:
            self._check_isolate(index, host, uses, pinned_before)
        elif cell.cpu_thread_policy == _THREADS.REQUIRE:
            for pcpu, user in uses:
                if user.startswith("vCPU") and len(_core(host, pcpu) & pcpuset) < 2:
                    raise self.fail(
                        "thread-require",
                        f"{user} of guest cell {index} is on pCPU {pcpu}, a core without "
                        "pinnable SMT siblings",
                    )

    def _check_isolate(
        self, index: int, host: Any, uses: list[tuple[int, str]], pinned_before: set[int]
    ) -> None:
        pcpuset = set(host.pcpuset)
        threads = max((len(group) for group in host.siblings), default=1)
        if threads > 1 and pcpuset != set(host.cpuset):
            raise self.fail(
                "thread-isolate",
                f"host cell {host.id} has SMT and is configured with cpu_dedicated_set/"
                "cpu_shared_set, where 'isolate' never fits (Nova bug 1889633)",
            )
        core_user: dict[frozenset[int], str] = {}
        for pcpu, user in uses:
            core = frozenset(_core(host, pcpu))
            if core in core_user:
                raise self.fail(
                    "thread-isolate",
                    f"{core_user[core]} and {user} of guest cell {index} share core "
                    f"{format_cpu_spec(core)}",
                )
            core_user[core] = user
            others = core - {pcpu}
            if others - pcpuset:
                raise self.fail(
                    "thread-isolate",
                    f"{user} of guest cell {index} is on pCPU {pcpu}, whose sibling(s) "
                    f"{format_cpu_spec(others - pcpuset)} are not pCPUs "
                    "(shared or emulator pool CPUs)",
                )
            if others & pinned_before:
                raise self.fail(
                    "thread-isolate",
                    f"{user} of guest cell {index} is on pCPU {pcpu}, whose sibling(s) "
                    f"{format_cpu_spec(others & pinned_before)} another guest has pinned",
                )

    def _check_floating(self, index: int, cell: Any, host: Any) -> None:
        floating = len(cell.cpuset)
        shared = len(host.cpuset)
        if floating > shared:
            raise self.fail(
                "floating",
                f"guest cell {index} has {floating} floating vCPUs, host cell {host.id} has "
                f"{shared} shared CPUs",
            )
        if self.limits is not None and cell.cpu_policy != _POLICY.DEDICATED:
            limit = shared * float(self.limits.cpu_allocation_ratio)
            if host.cpu_usage + floating > limit:
                raise self.fail(
                    "floating",
                    f"guest cell {index}: {floating} floating vCPUs on top of {host.cpu_usage} "
                    f"exceed {limit:g} ({shared} shared CPUs x "
                    f"{float(self.limits.cpu_allocation_ratio):g}) on host cell {host.id}",
                )

    def _check_memory(self, index: int, cell: Any, host: Any) -> None:
        pinned = cell.cpu_policy in _PINNED
        pages = sorted(host.mempages, key=lambda p: p.size_kb)
        memory_kb = cell.memory * 1024
        pool = None
        if cell.pagesize is not None and cell.pagesize > 0:
            pool = next((p for p in pages if p.size_kb == cell.pagesize), None)
            if pool is None:
                raise self.fail(
                    "pages",
                    f"guest cell {index} uses {cell.pagesize} KiB pages; host cell {host.id} "
                    f"offers {', '.join(str(p.size_kb) for p in pages) or 'none'} KiB",
                )
            use_free = True
        elif cell.pagesize is not None:
            raise self.fail(
                "pages",
                f"guest cell {index} records page size {cell.pagesize}, a request "
                "(small/large/any), not a size a fit resolves to",
            )
        elif pages:
            pool, use_free = pages[0], pinned
        if pool is not None:
            if memory_kb % pool.size_kb:
                raise self.fail(
                    "pages",
                    f"guest cell {index}: {cell.memory} MiB is not a multiple of "
                    f"{pool.size_kb} KiB pages",
                )
            needed = memory_kb // pool.size_kb
            free = pool.total - pool.used - pool.reserved
            usable = pool.total - pool.reserved  # the host's reserve is never offered
            avail, what = (free, "free") if use_free else (usable, "in total")
            if needed > avail:
                raise self.fail(
                    "pages",
                    f"guest cell {index} needs {needed} pages of {pool.size_kb} KiB, host cell "
                    f"{host.id} has {avail} {what}",
                )
        else:
            avail = host.memory - host.memory_usage if pinned else host.memory
            if cell.memory > avail:
                what = "free" if pinned else "in total"
                raise self.fail(
                    "cell-memory",
                    f"guest cell {index} needs {cell.memory} MiB, host cell {host.id} has "
                    f"{avail} MiB {what}",
                )
        if self.limits is not None and cell.cpu_policy != _POLICY.DEDICATED:
            limit = host.memory * float(self.limits.ram_allocation_ratio)
            if host.memory_usage + cell.memory > limit:
                raise self.fail(
                    "cell-memory",
                    f"guest cell {index}: {cell.memory} MiB on top of {host.memory_usage} MiB "
                    f"exceed {limit:g} MiB on host cell {host.id}",
                )

    # -- emulator threads ----------------------------------------------------------

    def check_emulator(self) -> None:
        policy = self.placement.emulator_threads_policy
        reserved = [sorted(cell.cpuset_reserved or ()) for cell in self.cells]
        total = sum(map(len, reserved))
        if policy != fields.CPUEmulatorThreadsPolicy.ISOLATE:
            if total:
                raise self.fail(
                    "emulator",
                    f"emulator policy {policy!r} reserves no pCPU, yet pCPU(s) "
                    f"{format_cpu_spec(p for r in reserved for p in r)} are reserved",
                )
            return
        count = getattr(self.placement, "emulator_threads_count", None) or 1
        if not self.cells or len(reserved[0]) != count or total != count:
            where = ", ".join(f"guest cell {i}: {len(r)}" for i, r in enumerate(reserved))
            raise self.fail(
                "emulator",
                f"emulator policy 'isolate' reserves {count} pCPU{'s' if count != 1 else ''} "
                f"beside guest cell 0; the placement has {where or 'no cells'}",
            )


def _core(host: Any, pcpu: int) -> set[int]:
    """The SMT thread group of ``pcpu`` in the host cell (itself alone when unlisted)."""
    for group in host.siblings:
        if pcpu in group:
            return set(group)
    return {pcpu}
