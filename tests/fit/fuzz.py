"""Random hosts and flavors, and a checker of placements written from the rules alone.

Shared by the property test (tests/fit/test_fuzz.py, a few hundred cases) and
``benchmarks/fuzz_fit.py`` (100,000 cases). The checker is deliberately
independent of the code under test: it never imports ``os_numa.fit``,
``os_numa.smt`` or ``os_numa.usage``, and never reads the host's
``siblings`` field that ``host_topology_from_capabilities`` computes. It
judges a placement against the ground truth the generator built: which CPUs
exist and are online, which threads share a core, what ``cpu_dedicated_set`` /
``cpu_shared_set`` / ``emulator_pin_set`` say, what other guests already use.
The rules are those of doc/source/fitting.rst and the Nova reference:

- guest cells land on distinct host cells; vCPUs 0..n-1, each once, with the
  request's split between cells, pinned vs floating, and memory;
- pinned and emulator pCPUs are distinct, in the cell's dedicated CPUs (all
  online CPUs of a legacy host, less the emulator pool), not already pinned;
- ``isolate`` emulator policy: exactly one emulator pCPU, beside guest cell 0;
  otherwise none;
- floating vCPUs: at most the cell's shared CPUs;
- thread policy ``isolate``: never on a cell with SMT among the CPUs guests use
  when dedicated and shared CPUs differ (Nova bug 1889633); otherwise each vCPU
  and emulator pCPU on its own core, every thread of which that guests can use
  (online, in a set or the pool) is a free pinnable pCPU;
- thread policy ``require``: every vCPU on a core with at least two free pCPUs
  before the claim;
- memory: a requested page size (``small``: the smallest, ``large``: not the
  smallest, a number: that size) with enough free pages dividing the memory;
  no request: enough free small pages (pinned cells) or total small pages
  (shared cells).

A placement is also *claimable* when the library's own claim
(``numa_usage_from_instance_numa``) accepts it; the checker reports a claim
that raises.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware
from os_numa.objects import Flavor
from os_numa.virt.libvirt.host import host_topology_from_capabilities

_CONF = []


def conf():
    """One empty configuration for every case (building one costs milliseconds)."""
    if not _CONF:
        _CONF.append(os_numa_conf.make_conf())
    return _CONF[0]


@dataclass
class TrueHost:
    """What the host really is: the generator's answer key."""

    cells: dict[int, set[int]]  # cell id -> online CPUs
    core: dict[int, frozenset[int]]  # online CPU -> its online SMT threads (itself included)
    dedicated: set[int] | None
    shared: set[int] | None
    pool: set[int]
    pinned: set[int] = field(default_factory=set)
    # cell id -> {page size KiB: (total, used, reserved by the host)}
    pages: dict[int, dict[int, tuple[int, int, int]]] = field(default_factory=dict)

    @property
    def legacy(self) -> bool:
        return self.dedicated is None and self.shared is None

    @property
    def splits_cores(self) -> bool:
        """Whether some core has a dedicated thread and a thread guests use otherwise."""
        if self.legacy:
            return False
        dedicated = self.dedicated or set()
        others = (self.shared or set()) | self.pool
        return any(cpu in dedicated and threads & others for cpu, threads in self.core.items())

    def pinnable(self, cell: int) -> set[int]:
        cpus = self.cells[cell]
        return cpus - self.pool if self.legacy else cpus & (self.dedicated or set())

    def floating(self, cell: int) -> set[int]:
        cpus = self.cells[cell]
        return cpus - self.pool if self.legacy else cpus & (self.shared or set())

    def guest_cpus(self, cell: int) -> set[int]:
        """CPUs any guest work may run on: pinned, floating, emulator pool."""
        return self.pinnable(cell) | self.floating(cell) | (self.cells[cell] & self.pool)


def random_host(
    rng: random.Random, mode: str | None = None, threads: int | None = None
) -> tuple[str, TrueHost]:
    """Capabilities XML and the truth about it: SMT or not, adjacent or split thread
    numbering, offline CPUs, and a random configuration that may split cores between
    ``cpu_dedicated_set`` and ``cpu_shared_set`` or leave threads to the host.
    ``mode`` ("legacy", "new", "dedicated-only", or "split": every core split between
    the sets unless a fifth of the time) and ``threads`` fix those choices."""
    ncells = rng.randint(1, 4)
    cores = rng.randint(1, 6)
    threads = threads or rng.choice((1, 2, 2, 2, 4))
    split = rng.random() < 0.5
    total_cores = ncells * cores
    cells: dict[int, set[int]] = {}
    groups: list[set[int]] = []
    for cell in range(ncells):
        cells[cell] = set()
        for c in range(cell * cores, (cell + 1) * cores):
            group = {(t * total_cores + c) if split else (c * threads + t) for t in range(threads)}
            groups.append(group)
            cells[cell] |= group
    every = set().union(*cells.values())
    offline = {cpu for cpu in every if rng.random() < 0.08}
    if offline == every:
        offline.discard(min(every))
    core: dict[int, frozenset[int]] = {}
    for group in groups:
        online = frozenset(group - offline)
        for cpu in online:
            core[cpu] = online
    for cell in cells:
        cells[cell] -= offline
    online = every - offline

    mode = mode or rng.choice(("legacy", "new", "new", "dedicated-only"))
    dedicated = shared = None
    pool: set[int] = set()
    if mode == "legacy":
        if rng.random() < 0.2:
            pool = {cpu for cpu in online if rng.random() < 0.15}
            if pool == online:
                pool.discard(min(online))
    elif mode == "split":
        # Cores split between the sets on purpose: a dedicated thread, the others
        # shared, the host's, or the emulator pool's; now and then a whole core.
        dedicated, shared = set(), set()
        for group in groups:
            threads_online = sorted(group - offline)
            if not threads_online:
                continue
            if rng.random() < 0.2:
                dedicated.update(threads_online)
                continue
            dedicated.add(threads_online[0])
            for cpu in threads_online[1:]:
                roll = rng.random()
                if roll < 0.7:
                    shared.add(cpu)
                elif roll < 0.9:
                    pass  # the host's
                else:
                    pool.add(cpu)
    else:
        dedicated, shared = set(), set()
        for cpu in sorted(online):
            roll = rng.random()
            if roll < 0.55:
                dedicated.add(cpu)
            elif roll < 0.85 and mode == "new":
                shared.add(cpu)
            elif roll < 0.9:
                pool.add(cpu)
        if not dedicated:
            dedicated.add(min(online))
            pool.discard(min(online))
            shared.discard(min(online))
        if mode == "new" and not shared:
            candidates = sorted(online - dedicated - pool)
            if candidates:
                shared.add(candidates[0])
        if mode == "dedicated-only":
            shared = None

    pages: dict[int, dict[int, tuple[int, int, int]]] = {}
    xml_cells = []
    for cell, cpus in sorted(cells.items()):
        memory_mb = rng.choice((1024, 2048, 4096, 8192))
        huge_2m = rng.choice((0, 0, 64, 512))
        huge_1g = rng.choice((0, 0, 0, 1, 2))
        small = max(memory_mb - huge_2m * 2 - huge_1g * 1024, 256) * 256
        pools = {4: small, 2048: huge_2m, 1048576: huge_1g}
        cpu_xml = "".join(
            f"<cpu id='{cpu}' socket_id='{cell}' core_id='{min(core[cpu])}' "
            f"siblings='{','.join(map(str, sorted(core[cpu])))}'/>"
            for cpu in sorted(cpus)
        )
        pages_xml = "".join(
            f"<pages unit='KiB' size='{size}'>{total}</pages>" for size, total in pools.items()
        )
        cpus_xml = f"<cpus num='{len(cpus)}'>{cpu_xml}</cpus>" if cpus else ""
        xml_cells.append(
            f"<cell id='{cell}'><memory unit='KiB'>{memory_mb * 1024}</memory>"
            f"{pages_xml}{cpus_xml}</cell>"
        )
    xml = (
        "<capabilities><host><uuid>00000000-0000-0000-0000-000000000001</uuid>"
        "<cpu><arch>x86_64</arch></cpu><topology>"
        f"<cells num='{ncells}'>{''.join(xml_cells)}</cells></topology></host></capabilities>"
    )
    return xml, TrueHost(cells, core, dedicated, shared, pool, pages=pages)


def host_topology(xml: str, truth: TrueHost, rng: random.Random):
    """The library's host topology, then random usage by other guests (pinned pCPUs,
    whole cores sometimes, floating vCPUs, memory and pages), recorded in ``truth``."""
    topology = host_topology_from_capabilities(
        xml,
        truth.dedicated or None,
        truth.shared or None,
        conf=conf(),
        emulator_pin_set=truth.pool or None,
    )
    for cell in topology.cells:
        pinnable = sorted(truth.pinnable(cell.id))
        pinned = set()
        for cpu in pinnable:
            if rng.random() < 0.15:
                # another guest's isolate claim takes the whole core's pinnable threads
                whole = rng.random() < 0.3
                pinned |= (set(truth.core[cpu]) & set(pinnable)) if whole else {cpu}
        cell.pinned_cpus = pinned
        truth.pinned |= pinned
        cell.cpu_usage = rng.randint(0, 3)
        used_mb = rng.choice((0, 0, 256, 512))
        small = next(p for p in cell.mempages if p.size_kb == 4)
        small.used = min(used_mb * 256, small.total - small.reserved)
        cell.memory_usage = small.used // 256
        for pool in cell.mempages:
            if pool.size_kb != 4 and pool.total > pool.reserved and rng.random() < 0.3:
                pool.used = rng.randint(0, pool.total - pool.reserved)
        truth.pages[cell.id] = {p.size_kb: (p.total, p.used, p.reserved) for p in cell.mempages}
    return topology


def random_flavor(rng: random.Random, thread_policies: tuple | None = None) -> Flavor:
    """A flavor exercising the CPU, thread, emulator, NUMA, page-size and realtime specs
    (some combinations are invalid: the caller skips what numa_get_constraints refuses).
    ``thread_policies`` narrows the pinned guests' ``hw:cpu_thread_policy`` choices."""
    vcpus = rng.choice((1, 2, 2, 3, 4, 4, 6, 8))
    nodes = rng.choice((1, 1, 1, 2))
    memory = rng.choice((256, 512, 1024, 2048)) * nodes
    specs: dict[str, str] = {}
    policies = ("dedicated", "dedicated", "dedicated", "shared", "mixed", None)
    policy = rng.choice(policies[:3] if thread_policies else policies)
    if policy:
        specs["hw:cpu_policy"] = policy
    if policy in ("dedicated", "mixed"):
        thread = rng.choice(thread_policies or (None, "prefer", "isolate", "isolate", "require"))
        if thread:
            specs["hw:cpu_thread_policy"] = thread
        emulator = rng.choice((None, "isolate", "isolate", "share"))
        if emulator:
            specs["hw:emulator_threads_policy"] = emulator
        if policy == "mixed":
            specs["hw:cpu_dedicated_mask"] = f"^{rng.randrange(vcpus)}"
        elif rng.random() < 0.15:
            specs["hw:cpu_realtime"] = "yes"
            specs["hw:cpu_realtime_mask"] = "^0"
    if nodes > 1 or rng.random() < 0.2:
        specs["hw:numa_nodes"] = str(nodes)
    if rng.random() < 0.35:
        specs["hw:mem_page_size"] = rng.choice(("small", "large", "any", "2048", "1GB"))
    return Flavor(vcpus=vcpus, memory_mb=memory, extra_specs=specs)


def _resolved_size(requested, size: int, sizes: list[int]) -> bool:
    if requested in (None,):
        return True
    if requested == -1:  # small
        return size == min(sizes)
    if requested == -2:  # large
        return size != min(sizes)
    if requested == -3:  # any
        return True
    return size == requested


def check(truth: TrueHost, host_topology, request, placement, flavor: Flavor) -> list[str]:
    """Every rule ``placement`` breaks (empty: valid), and whether the claim raised."""
    problems: list[str] = []
    bad = problems.append
    host_ids = [cell.id for cell in placement.cells]
    if len(set(host_ids)) != len(host_ids):
        bad(f"guest cells share host cells {host_ids}")
    if len(placement.cells) != len(request.cells):
        bad("cell count differs from the request")
        return problems
    seen_vcpus: list[int] = []
    owners: dict[int, str] = {}
    for index, (cell, asked) in enumerate(zip(placement.cells, request.cells, strict=True)):
        where = f"guest cell {index} on host cell {cell.id}"
        if cell.id not in truth.cells:
            bad(f"{where}: no such host cell")
            continue
        if set(cell.pcpuset) != set(asked.pcpuset) or set(cell.cpuset) != set(asked.cpuset):
            bad(f"{where}: vCPUs differ from the request")
        if cell.memory != asked.memory:
            bad(f"{where}: memory differs from the request")
        seen_vcpus += sorted(set(cell.cpuset) | set(cell.pcpuset))
        pinning = cell.cpu_pinning or {}
        if set(pinning) != set(cell.pcpuset):
            bad(f"{where}: pinned vCPUs {sorted(cell.pcpuset)} but pins {sorted(pinning)}")
        reserved = set(cell.cpuset_reserved or ())
        pinnable = truth.pinnable(cell.id)
        uses = [(p, f"vCPU {v}") for v, p in sorted(pinning.items())]
        uses += [(p, "emulator") for p in sorted(reserved)]
        for pcpu, who in uses:
            if pcpu in owners:
                bad(f"{where}: pCPU {pcpu} used by {owners[pcpu]} and {who}")
            owners[pcpu] = who
            if pcpu not in pinnable:
                bad(f"{where}: {who} on pCPU {pcpu}, not a dedicated CPU of the cell")
            if pcpu in truth.pinned:
                bad(f"{where}: {who} on pCPU {pcpu}, already pinned")
        if len(cell.cpuset) > len(truth.floating(cell.id)):
            bad(
                f"{where}: {len(cell.cpuset)} floating vCPUs, {len(truth.floating(cell.id))} shared"
            )
        _check_threads(truth, cell, uses, where, bad)
        _check_memory(truth, cell, asked, where, bad)
    if sorted(seen_vcpus) != list(range(flavor.vcpus)):
        bad(f"vCPUs {sorted(seen_vcpus)} are not 0..{flavor.vcpus - 1}")
    isolate = placement.emulator_threads_policy == "isolate"
    counts = [len(cell.cpuset_reserved or ()) for cell in placement.cells]
    if isolate and counts[:1] != [1] or isolate and sum(counts) != 1:
        bad(f"emulator isolate: reserved pCPUs per cell {counts}, want one beside guest cell 0")
    if not isolate and any(counts):
        bad(f"no emulator isolate, yet reserved pCPUs per cell {counts}")
    try:
        hardware.numa_usage_from_instance_numa(host_topology, placement)
    except exception.OsNumaError as exc:
        bad(f"unclaimable: {exc}")
    return problems


def _check_threads(truth: TrueHost, cell, uses, where: str, bad) -> None:
    policy = cell.cpu_thread_policy
    usable = truth.guest_cpus(cell.id)
    pinnable = truth.pinnable(cell.id)
    if policy == "isolate" and uses:
        smt = any(len(truth.core[cpu] & usable) > 1 for cpu in usable)
        if smt and not truth.legacy:
            bad(f"{where}: isolate on an SMT cell with dedicated/shared sets (bug 1889633)")
        cores: dict[frozenset[int], str] = {}
        for pcpu, who in uses:
            if pcpu not in truth.core:
                continue
            threads = truth.core[pcpu] & usable
            if threads in cores:
                bad(f"{where}: isolate: {cores[threads]} and {who} share core {sorted(threads)}")
            cores[threads] = who
            if not threads <= pinnable:
                bad(f"{where}: isolate: {who}'s core {sorted(threads)} has non-dedicated threads")
            if threads & truth.pinned:
                bad(f"{where}: isolate: {who}'s core {sorted(threads)} is partly pinned")
    if policy == "require":
        for pcpu, who in uses:
            if who == "emulator" or pcpu not in truth.core:
                continue
            free = (truth.core[pcpu] & pinnable) - truth.pinned
            if len(free) < 2:
                bad(f"{where}: require: {who} on pCPU {pcpu}, a core with {len(free)} free pCPUs")


def _check_memory(truth: TrueHost, cell, asked, where: str, bad) -> None:
    pools = {size: v for size, v in truth.pages[cell.id].items() if v[0] > 0}
    sizes = sorted(pools)
    pinned = cell.cpu_policy in ("dedicated", "mixed")
    memory_kb = cell.memory * 1024
    requested = asked.pagesize
    size = cell.pagesize
    if requested is None:
        if size is not None:
            bad(f"{where}: page size {size} without a request")
            return
        total, used, reserved = pools.get(4, (0, 0, 0))
        avail = total - used - reserved if pinned else total - reserved
        if memory_kb // 4 > avail:
            bad(f"{where}: {memory_kb // 4} small pages needed, {avail} available")
        return
    if size is None or size not in pools:
        bad(f"{where}: requested page size {requested} resolved to {size}")
        return
    if not _resolved_size(requested, size, sizes):
        bad(f"{where}: requested page size {requested} resolved to {size}")
    total, used, reserved = pools[size]
    if memory_kb % size or memory_kb // size > total - used - reserved:
        bad(f"{where}: {memory_kb} KiB in {size} KiB pages, {total - used - reserved} free")


@dataclass
class Tally:
    cases: int = 0
    invalid_flavors: int = 0
    fits: int = 0
    no_fits: int = 0
    invalid: int = 0
    unclaimable: int = 0
    #: fits of guests with thread policy isolate, and on hosts whose sets split a core
    isolate_fits: int = 0
    split_host_fits: int = 0
    examples: list[str] = field(default_factory=list)
    #: Every case's outcome in order (:func:`outcome_text`), hashed: two runs with one
    #: seed place alike, case for case, exactly when their digests are equal.
    digest: Any = field(default_factory=hashlib.sha256)


def outcome_text(placement) -> str:
    """A placement in a canonical text (sorted sets and pins), or "none"."""
    if placement is None:
        return "none"
    cells = [
        (
            cell.id,
            sorted(cell.cpuset),
            sorted(cell.pcpuset),
            sorted((cell.cpu_pinning or {}).items()),
            sorted(cell.cpuset_reserved or ()),
            cell.memory,
            cell.pagesize,
        )
        for cell in placement.cells
    ]
    return repr((cells, placement.emulator_pool_cpu))


def run_case(rng: random.Random, tally: Tally) -> None:
    """One random (host, flavor) case, counted in ``tally``."""
    xml, truth = random_host(rng)
    topology = host_topology(xml, truth, rng)
    flavor = random_flavor(rng)
    judge(truth, topology, flavor, tally)


def judge(truth: TrueHost, topology, flavor: Flavor, tally: Tally) -> None:
    """Fit ``flavor`` on ``topology`` and count the outcome in ``tally``."""
    tally.cases += 1
    try:
        request = hardware.numa_get_constraints(flavor, None)
    except exception.Invalid:
        tally.invalid_flavors += 1
        return
    if request is None:
        tally.invalid_flavors += 1  # nothing to place
        return
    try:
        placement = hardware.numa_fit_instance_to_host(topology, request, conf=conf())
    except exception.Invalid:
        tally.invalid_flavors += 1
        return
    tally.digest.update(outcome_text(placement).encode())
    if placement is None:
        tally.no_fits += 1
        return
    tally.fits += 1
    if any(cell.cpu_thread_policy == "isolate" for cell in placement.cells):
        tally.isolate_fits += 1
    if truth.splits_cores:
        tally.split_host_fits += 1
    problems = check(truth, topology, request, placement, flavor)
    if problems:
        if any(p.startswith("unclaimable") for p in problems):
            tally.unclaimable += 1
        if any(not p.startswith("unclaimable") for p in problems):
            tally.invalid += 1
        if len(tally.examples) < 5:
            tally.examples.append(f"{flavor.extra_specs} vcpus={flavor.vcpus}: {problems}")
