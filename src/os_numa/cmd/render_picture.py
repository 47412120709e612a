"""The host picture: every NUMA cell, every core with its SMT threads, and what runs where.

Each host CPU gets one label:

========  ==========================================================
``vN``    guest vCPU N is pinned here
``EMU``   reserved for the guest's emulator threads (policy isolate)
``iso``   kept idle for the guest: the sibling of one of its pCPUs, which the
          claim takes too (``hw:cpu_thread_policy=isolate``)
``used``  already pinned by other guests (``--existing``)
``free``  may be pinned and is free
``shr``   a shared CPU (floating vCPUs run here, not pinnable)
``host``  neither pinnable nor shared: kept for the host
``pool``  in the host-wide emulator pool (``[os_numa] emulator_pin_set``)
``IO``    reserved for one of the guest's I/O threads (``hw:iothreads_policy=isolate``)
``off``   free and powered down (``[libvirt] cpu_power_management``)
========  ==========================================================

A ``+E`` suffix marks a CPU that the guest's emulator threads may also run on
without owning it (policy share, or a realtime guest's housekeeping vCPUs).
Colour (ANSI SGR) is optional and never changes the text or its width.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from os_numa import smt
from os_numa.cpuset import describe_cpus, format_cpu_spec
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from os_numa.objects.numa import NUMACell, NUMATopology
from os_numa.usage import numa_usage_from_instance_numa

#: Cores per row of the picture.
CORES_PER_ROW = 4

_SGR = {
    "vcpu": "1;32",
    "emu": "1;35",
    "used": "31",
    "free": "2",
    "shr": "36",
    "host": "2",
    "pin": "33",
    "pool": "35",
    "title": "1",
}


@dataclass(frozen=True)
class Mark:
    """What one host CPU shows: its label, its style and whether emulator threads may run there."""

    label: str
    style: str
    emulator: bool = False

    @property
    def text(self) -> str:
        return self.label + ("+E" if self.emulator else "")


class Painter:
    """Wraps text in ANSI colour when enabled, and is the identity otherwise."""

    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{_SGR[style]}m{text}\x1b[0m"


def cell_cores(cell: NUMACell) -> list[list[int]]:
    """The cell's cores as sorted thread lists, ordered by lowest CPU id.

    CPUs the siblings list does not mention are cores of their own, so a host
    reported without SMT data still shows every CPU.
    """
    cpus = set(cell.cpuset) | set(cell.pcpuset) | _pool_cpus(cell)
    return [list(core) for core in smt.cores_of(cell.siblings, cpus)]


def mark_cpus(
    cell: NUMACell,
    placement: InstanceNUMATopology | None = None,
    emulatorpin: Iterable[int] = (),
    cores: list[list[int]] | None = None,
    taken: Iterable[int] = (),
    offline: Iterable[int] = (),
) -> dict[int, Mark]:
    """Label every CPU of one host cell (``cell`` holds usage *before* the guest).

    ``cores`` lists every online CPU of the cell by core (default: the cell's own
    CPUs, see :func:`cell_cores`). ``taken`` are the CPUs the guest's claim holds
    without running on them (see :func:`taken_siblings`).
    """
    taken = set(taken)
    offline = set(offline)
    emulator_cpus = set(emulatorpin)
    guest_pins: dict[int, int] = {}
    reserved: set[int] = set()
    for guest_cell in placement.cells if placement else ():
        if guest_cell.id != cell.id:
            continue
        guest_pins.update({p: v for v, p in (guest_cell.cpu_pinning or {}).items()})
        reserved |= set(guest_cell.cpuset_reserved or ())
    io_cpus = _iothread_cpus(placement)
    pool = _pool_cpus(cell)
    marks: dict[int, Mark] = {}
    for core in cores if cores is not None else cell_cores(cell):
        for cpu in core:
            if cpu in guest_pins:
                mark = Mark(f"v{guest_pins[cpu]}", "vcpu")
            elif cpu in pool:
                mark = Mark("pool", "pool")
            elif cpu in reserved and cpu in io_cpus:
                mark = Mark("IO", "emu")
            elif cpu in reserved:
                mark = Mark("EMU", "emu")
            elif cpu in taken:
                mark = Mark("iso", "vcpu")
            elif cpu in cell.pinned_cpus:
                mark = Mark("used", "used")
            elif cpu in cell.pcpuset and cpu in offline:
                mark = Mark("off", "free")
            elif cpu in cell.pcpuset:
                mark = Mark("free", "free")
            elif cpu in cell.cpuset:
                mark = Mark("shr", "shr")
            else:
                mark = Mark("host", "host")
            extra = cpu in emulator_cpus and (cpu not in reserved or cpu in pool)
            marks[cpu] = Mark(mark.label, mark.style, extra)
    return marks


def taken_siblings(
    host: NUMATopology, placement: InstanceNUMATopology | None
) -> dict[int, set[int]]:
    """{host cell id: CPUs the guest's claim holds beyond its pins and ``cpuset_reserved``}.

    Under ``hw:cpu_thread_policy=isolate`` the claim pins every pCPU's sibling
    threads as well, so that no other guest runs there; those CPUs are the
    guest's, idle, and the picture must not call them free. They are found by
    claiming the placement on ``host`` (the host *before* the guest), exactly as
    the resource tracker would.
    """
    if placement is None or not placement.cells:
        return {}
    after = {cell.id: cell for cell in numa_usage_from_instance_numa(host, placement).cells}
    taken: dict[int, set[int]] = {}
    for cell in host.cells:
        own = set()
        for guest_cell in placement.cells:
            if guest_cell.id == cell.id:
                own |= set((guest_cell.cpu_pinning or {}).values())
                own |= set(guest_cell.cpuset_reserved or ())
        extra = set(after[cell.id].pinned_cpus) - set(cell.pinned_cpus) - own
        if extra:
            taken[cell.id] = extra
    return taken


def _iothread_cpus(placement: InstanceNUMATopology | None) -> set[int]:
    """The reserved pCPUs of ``hw:iothreads_policy=isolate`` I/O threads: the highest ones."""
    count = getattr(placement, "iothread_pcpus", 0) if placement is not None else 0
    if not count or placement is None:
        return set()
    return set(sorted(placement.cpuset_reserved)[-count:])


def _distance_lines(host: NUMATopology, placement: InstanceNUMATopology) -> list[str]:
    """The NUMA distance between the host cells of a guest with several cells, when known."""
    ids = sorted({c.id for c in placement.cells})
    if len(ids) < 2:
        return []
    cells = {c.id: c for c in host.cells}
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            value = cells[a].distance_to(b) if a in cells else None
            if value is None:
                return []
            pairs.append(f"{a}-{b} {value}")
    return ["NUMA distance between the guest's host cells: " + ", ".join(pairs)]


def _cache_lines(cell: NUMACell) -> list[str]:
    """The cell's last-level cache banks, when it has more than one."""
    banks = getattr(cell, "cache_banks", None) or []
    if len(banks) < 2:
        return []
    return ["  cache banks: " + " | ".join(format_cpu_spec(bank) for bank in banks)]


def _network_lines(cell: NUMACell) -> list[str]:
    """The Neutron networks local to a cell ([neutron] NUMA affinity), if any."""
    names = [f"physnet {name}" for name in getattr(cell, "physnets", None) or ()]
    if getattr(cell, "tunneled", False):
        names.append("tunneled networks")
    return ["  local networks: " + ", ".join(names)] if names else []


def _pool_cpus(cell: NUMACell) -> set[int]:
    """The cell's pCPUs of the host-wide emulator pool (``[os_numa] emulator_pin_set``)."""
    return set(getattr(cell, "emulator_pool_cpus", None) or ())


def _pool_line(cell: NUMACell) -> list[str]:
    pool = sorted(_pool_cpus(cell))
    if not pool:
        return []
    limit = getattr(cell, "emulator_pool_overcommit", 1)
    loads = ", ".join(f"CPU {cpu} {cell.emulator_pool_load(cpu)}/{limit}" for cpu in pool)
    return [f"  emulator pool, guests per pCPU: {loads}"]


def _size_text(size_kb: int) -> str:
    for unit, scale in (("G", 1024 * 1024), ("M", 1024)):
        if size_kb >= scale and size_kb % scale == 0:
            return f"{size_kb // scale}{unit}"
    return f"{size_kb}K"


def _pages_text(cell: NUMACell) -> str:
    """Huge-page pools that hold pages, with the pages the host reserves; base pages
    (below 1 MiB) appear only as the host memory reserved in them."""
    pools = sorted(cell.mempages, key=lambda p: p.size_kb)
    parts = [
        f"{_size_text(pages.size_kb)} {pages.free}/{pages.total} free"
        + (f" ({pages.reserved} reserved)" if pages.reserved else "")
        for pages in pools
        if pages.size_kb >= 1024 and pages.total
    ]
    host_kb = sum(p.reserved * p.size_kb for p in pools if p.size_kb < 1024)
    host = f"; {host_kb // 1024} MiB reserved for the host" if host_kb else ""
    return host + ("; huge pages " + ", ".join(parts) if parts else "")


def _cell_header(cell: NUMACell, ncpus: int, guest_mb: int, paint: Painter) -> str:
    socket = "" if cell.socket is None else f", socket {cell.socket}"
    guest = f", {guest_mb} to this guest" if guest_mb else ""
    memory = f"memory {cell.memory} MiB ({cell.memory_usage} used{guest})"
    title = paint(f"host cell {cell.id}", "title")
    return f"{title}{socket}: {ncpus} CPUs, {memory}{_pages_text(cell)}"


def render_cell(
    cell: NUMACell,
    placement: InstanceNUMATopology | None,
    emulatorpin: Iterable[int],
    paint: Painter,
    cpu_width: int,
    cores: list[list[int]] | None = None,
    taken: Iterable[int] = (),
    offline: Iterable[int] = (),
) -> list[str]:
    """The lines for one host cell: header, cores in rows, floating vCPUs if any."""
    cores = cores if cores is not None else cell_cores(cell)
    marks = mark_cpus(cell, placement, emulatorpin, cores, taken, offline)
    guest_cells = [c for c in placement.cells if c.id == cell.id] if placement else []
    guest_mb = sum(c.memory for c in guest_cells)
    lines = [_cell_header(cell, len(marks), guest_mb, paint)]
    lines += _pool_line(cell)
    label_width = max((len(m.text) for m in marks.values()), default=4)
    rendered = []
    for core in cores:
        threads = []
        for cpu in core:
            mark = marks[cpu]
            label = paint(mark.label, mark.style) + (paint("+E", "pin") if mark.emulator else "")
            pad = " " * (label_width - len(mark.text))
            threads.append(f"{cpu:>{cpu_width}} {label}{pad}")
        rendered.append("[" + "  ".join(threads) + "]")
    for start in range(0, len(rendered), CORES_PER_ROW):
        lines.append("  " + " ".join(rendered[start : start + CORES_PER_ROW]))
    for guest_cell in guest_cells:
        if guest_cell.cpuset:
            lines.append(
                f"  floating vCPUs {format_cpu_spec(guest_cell.cpuset)} run on shared CPUs "
                f"{describe_cpus(cell.cpuset)}"
            )
    return lines


def describe_guest_cell(index: int, cell: InstanceNUMACell, placed: bool = False) -> str:
    """One line for a guest cell, requested (vCPU sets) or placed (host cell and pins)."""
    pinning = cell.cpu_pinning or {}
    where = f" -> host cell {cell.id}" if placed else ""
    parts = [f"guest cell {index}{where}: vCPUs {format_cpu_spec(cell.cpus)}"]
    if pinning:
        parts.append("pinned " + ", ".join(f"{v}->{pinning[v]}" for v in sorted(pinning)))
    elif cell.pcpuset:
        parts.append(f"pinned {format_cpu_spec(cell.pcpuset)}")
    if cell.cpuset:
        parts.append(f"floating {format_cpu_spec(cell.cpuset)}")
    page = f", {_size_text(cell.pagesize)} pages" if cell.pagesize and cell.pagesize > 0 else ""
    parts.append(f"{cell.memory} MiB{page}")
    return "; ".join(parts)


def _emulator_rule(placement: InstanceNUMATopology) -> str:
    """What decided the emulator CPUs: the policy (with its count or pool pCPU) or the mask."""
    mask = getattr(placement, "emulator_threads_mask", None)
    if mask:
        return f"mask: beside vCPU(s) {format_cpu_spec(mask)}"
    policy = placement.emulator_threads_policy or "unset"
    count = getattr(placement, "emulator_threads_count", None)
    if placement.emulator_threads_isolated and count:
        return f"{policy}, {count} pCPU{'s' if count != 1 else ''}"
    pool_cpu = getattr(placement, "emulator_pool_cpu", None)
    if pool_cpu is not None:
        return f"{policy}: pool pCPU {pool_cpu}"
    return policy


def _guest_lines(
    placement: InstanceNUMATopology, emulatorpin: set[int], vcpusched: Iterable = ()
) -> list[str]:
    lines = [describe_guest_cell(i, cell, True) for i, cell in enumerate(placement.cells)]
    where = format_cpu_spec(emulatorpin) if emulatorpin else "(not pinned)"
    lines.append(f"emulator threads ({_emulator_rule(placement)}) on host CPUs {where}")
    for sched in vcpusched:
        lines.append(
            f"realtime vCPUs {format_cpu_spec(sched.vcpus)}: "
            f"{sched.scheduler} priority {sched.priority}"
        )
    return lines


def legend(
    paint: Painter,
    with_guest: bool,
    pool: bool = False,
    isolated: bool = False,
    iothreads: bool = False,
    offline: bool = False,
) -> list[str]:
    """The key to the labels; guest labels only when a guest is drawn, pool ones
    with a pool, ``iso`` when the guest's claim takes idle siblings, ``IO`` with
    isolated I/O threads."""
    items = []
    if with_guest:
        items += [
            ("vN", "vcpu", "guest vCPU N pinned here"),
            ("EMU", "emu", "reserved for the guest's emulator threads"),
            ("+E", "pin", "emulator threads may also run here"),
        ]
    if isolated:
        items.append(
            (
                "iso",
                "vcpu",
                "taken by the guest and kept idle: a sibling of its pCPUs "
                "(hw:cpu_thread_policy=isolate)",
            )
        )
    if iothreads:
        items.append(("IO", "emu", "reserved for one of the guest's I/O threads"))
    if offline:
        items.append(("off", "free", "free, powered down until a guest is pinned to it"))
    if pool:
        items.append(
            ("pool", "pool", "host-wide emulator thread pool ([os_numa] emulator_pin_set)")
        )
    items += [
        ("used", "used", "pinned by existing guests"),
        ("free", "free", "free to pin"),
        ("shr", "shr", "shared CPU for floating vCPUs"),
        ("host", "host", "not for guests"),
    ]
    return ["legend:"] + [
        f"  {paint(key, style)}{' ' * (5 - len(key))}{text}" for key, style, text in items
    ]


def render_host(
    host: NUMATopology,
    placement: InstanceNUMATopology | None = None,
    emulatorpin: Iterable[int] = (),
    *,
    color: bool = False,
    title: str | None = None,
    cores: dict[int, list[list[int]]] | None = None,
    notes: dict[int | None, list[str]] | None = None,
    vcpusched: Iterable = (),
    offline: Iterable[int] = (),
) -> str:
    """The whole picture: an optional title, the guest summary, each host cell, the legend.

    ``offline`` pCPUs (powered down by ``[libvirt] cpu_power_management``) are
    drawn ``off`` while free.

    ``host`` is the host *before* this guest (existing claims applied), so the
    guest's CPUs and the ones other guests use stay distinct. ``cores`` maps a
    cell id to all its online CPUs by core (from the capabilities), so CPUs the
    CPU sets keep for the host are drawn too; without it the cell's own sets are.
    ``notes`` adds lines under a cell (key: its id), such as its PCI devices;
    the lines under key None follow the last cell. ``vcpusched`` (the cputune's
    ``LibvirtConfigGuestCPUTuneVCPUSched`` list) adds a line per realtime group.
    """
    paint = Painter(color)
    emulator_cpus = set(emulatorpin)
    offline = set(offline)
    layout = {cell.id: (cores or {}).get(cell.id) or cell_cores(cell) for cell in host.cells}
    for cell in host.cells:
        # Offline pCPUs (power management) are in the cell but not in the capabilities.
        drawn = {cpu for core in layout[cell.id] for cpu in core}
        missing = sorted((set(cell.pcpuset) | set(cell.cpuset)) - drawn)
        if missing:
            layout[cell.id] = list(layout[cell.id]) + [[cpu] for cpu in missing]
    every_cpu = [cpu for cores_of_cell in layout.values() for core in cores_of_cell for cpu in core]
    cpu_width = len(str(max(every_cpu, default=0)))
    taken = taken_siblings(host, placement)
    lines: list[str] = []
    if title:
        lines += [paint(line, "title") for line in title.splitlines()]
    if placement is not None:
        lines += _guest_lines(placement, emulator_cpus, vcpusched)
        lines += _distance_lines(host, placement)
    for cell in sorted(host.cells, key=lambda c: c.id):
        lines.append("")
        lines += render_cell(
            cell,
            placement,
            emulator_cpus,
            paint,
            cpu_width,
            layout[cell.id],
            taken.get(cell.id, ()),
            offline,
        )
        lines += _cache_lines(cell) + _network_lines(cell)
        lines += ["  " + note for note in (notes or {}).get(cell.id, ())]
    known = {cell.id for cell in host.cells}
    for key in sorted((k for k in notes or {} if k not in known), key=lambda k: (k is None, k)):
        title = "no NUMA node" if key is None else f"NUMA node {key} (not a host cell)"
        lines += ["", title] + ["  " + note for note in (notes or {})[key]]
    lines.append("")
    lines += legend(
        paint,
        placement is not None,
        any(_pool_cpus(c) for c in host.cells),
        bool(taken),
        bool(_iothread_cpus(placement)),
        bool(set(offline)),
    )
    return "\n".join(lines) + "\n"
