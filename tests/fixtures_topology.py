"""Named host topologies and request builders shared by the fitting tests and benchmarks.

Hosts are built as a libvirt driver would: per cell ``cpuset``/``pcpuset`` from
``cpu_shared_set``/``cpu_dedicated_set`` (both every CPU when neither is set),
siblings sorted by lowest CPU, 4 KiB pages for all memory, optional 2 MiB pages.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Iterable, Mapping, Sequence

from os_numa import objects
from os_numa.objects import fields
from os_numa.virt.libvirt.host import host_topology_from_capabilities

CAPABILITIES = pathlib.Path(__file__).resolve().parent / "data" / "capabilities"

DEDICATED = fields.CPUAllocationPolicy.DEDICATED
SHARED = fields.CPUAllocationPolicy.SHARED
MIXED = fields.CPUAllocationPolicy.MIXED


def host(
    cells: int,
    cores: int,
    threads: int = 1,
    *,
    memory: int = 4096,
    dedicated: Iterable[int] | None = None,
    shared: Iterable[int] | None = None,
    huge_2m: int = 0,
    layout: str = "adjacent",
    pinned: Iterable[int] = (),
    pool: Iterable[int] = (),
    pool_overcommit: int = 1,
    pool_guests: Mapping[int, int] | None = None,
) -> objects.NUMATopology:
    """``cells`` x ``cores`` x ``threads``; ``layout`` "adjacent" numbers a core's threads
    consecutively (0-1, 2-3), "split" as Linux does on many servers (thread t of core c
    is ``t * total_cores + c``). ``huge_2m`` 2 MiB pages per cell are carved out of
    ``memory``; ``pinned`` CPUs start pinned. ``pool`` is ``[os_numa] emulator_pin_set``
    (each cell gets its own CPUs of it; leave them out of ``dedicated``/``shared``) with
    ``pool_overcommit`` guests per pCPU, ``pool_guests`` already on some pool pCPUs."""
    total_cores = cells * cores
    dedicated = set(dedicated) if dedicated is not None else None
    shared = set(shared) if shared is not None else None
    pinned = set(pinned)
    pool = set(pool)
    pool_guests = dict(pool_guests or {})
    result = []
    for cell in range(cells):
        groups = []
        for core in range(cell * cores, (cell + 1) * cores):
            if layout == "adjacent":
                groups.append({core * threads + t for t in range(threads)})
            else:
                groups.append({t * total_cores + core for t in range(threads)})
        cpus = set().union(*groups)
        if dedicated is None and shared is None:
            cpuset, pcpuset = set(cpus), set(cpus)
        else:
            cpuset, pcpuset = cpus & (shared or set()), cpus & (dedicated or set())
        used = cpuset | pcpuset | (pool & cpus)
        small = (memory - huge_2m * 2) * 256
        pages = [objects.NUMAPagesTopology(size_kb=4, total=small)]
        if huge_2m:
            pages.append(objects.NUMAPagesTopology(size_kb=2048, total=huge_2m))
        extra = {}
        if pool:
            extra = {
                "emulator_pool_cpus": pool & cpus,
                "emulator_pool_overcommit": pool_overcommit,
                "emulator_pool_guests": {
                    str(cpu): n for cpu, n in sorted(pool_guests.items()) if cpu in pool & cpus
                },
            }
        result.append(
            objects.NUMACell(
                id=cell,
                cpuset=cpuset,
                pcpuset=pcpuset,
                memory=memory,
                pinned_cpus=pinned & pcpuset,
                # As the libvirt host reports them: every CPU guests use, pool included.
                siblings=sorted((g & used for g in groups if g & used), key=min),
                mempages=pages,
                **extra,
            )
        )
    return objects.NUMATopology(cells=result)


def cell(
    pinned: Iterable[int] = (),
    floating: Iterable[int] = (),
    memory: int = 1024,
    *,
    policy: str | None = DEDICATED,
    thread: str | None = None,
    pagesize: int | None = None,
    index: int = 0,
) -> objects.InstanceNUMACell:
    return objects.InstanceNUMACell(
        id=index,
        cpuset=set(floating),
        pcpuset=set(pinned),
        memory=memory,
        pagesize=pagesize,
        cpu_policy=policy,
        cpu_thread_policy=thread,
    )


def guest(
    vcpus_per_cell: Sequence[int],
    memory_per_cell: int | Sequence[int] = 1024,
    *,
    policy: str | None = DEDICATED,
    thread: str | None = None,
    emulator: str | None = None,
    pagesize: int | None = None,
) -> objects.InstanceNUMATopology:
    """Consecutive vCPU ids per cell, all pinned (dedicated) or all floating (shared/None)."""
    if isinstance(memory_per_cell, int):
        memory_per_cell = [memory_per_cell] * len(vcpus_per_cell)
    cells = []
    first = 0
    for index, (count, mem) in enumerate(zip(vcpus_per_cell, memory_per_cell, strict=True)):
        vcpus = range(first, first + count)
        first += count
        pinned = policy in (DEDICATED, MIXED)
        cells.append(
            cell(
                pinned=vcpus if pinned else (),
                floating=() if pinned else vcpus,
                memory=mem,
                policy=policy,
                thread=thread,
                pagesize=pagesize,
                index=index,
            )
        )
    return objects.InstanceNUMATopology(cells=cells, emulator_threads_policy=emulator)


# Named hosts of nova-behaviour.md and the fitting tests.
def a1_host() -> objects.NUMATopology:
    """A1: 2 cells x 4 cores, no SMT, cpu_dedicated_set=0-7."""
    return host(2, 4, dedicated=range(8))


def a3_host() -> objects.NUMATopology:
    """A3: 2 cells x 4 cores x 2 threads, siblings 0-1, 2-3, ..., legacy configuration."""
    return host(2, 4, 2)


def c1_host() -> objects.NUMATopology:
    """C1: 2 cells x 8 cores, cpu_shared_set=0-1,8-9, cpu_dedicated_set=2-7,10-15."""
    return host(2, 8, shared={0, 1, 8, 9}, dedicated=set(range(2, 8)) | set(range(10, 16)))


def asymmetric_host() -> objects.NUMATopology:
    """Three cells of 2, 4 and 6 pCPUs (no SMT) with 1, 2 and 3 GiB."""
    cells = []
    first = 0
    for index, (count, memory) in enumerate(((2, 1024), (4, 2048), (6, 3072))):
        cpus = set(range(first, first + count))
        first += count
        cells.append(
            objects.NUMACell(
                id=index,
                cpuset=set(cpus),
                pcpuset=set(cpus),
                memory=memory,
                siblings=[{c} for c in sorted(cpus)],
                mempages=[objects.NUMAPagesTopology(size_kb=4, total=memory * 256)],
            )
        )
    return objects.NUMATopology(cells=cells)


def sixteen_cell_host() -> objects.NUMATopology:
    """16 cells x 4 pCPUs, no SMT (the worst-case no-fit shape)."""
    return host(16, 4)


@functools.cache
def _sample_host(name: str) -> objects.NUMATopology:
    return host_topology_from_capabilities((CAPABILITIES / name).read_text())


def sample_host(name: str = "intel-2s-20c-ht.xml") -> objects.NUMATopology:
    """A new copy of the host parsed (once) from tests/data/capabilities/``name``, with the
    default configuration; the Intel sample is the one whose PCI devices are in
    tests/data/nodedev."""
    return _sample_host(name).obj_clone()


def pool_loads(topology: objects.NUMATopology) -> dict[int, int]:
    """Guests on each emulator pool pCPU of ``topology`` (every pool pCPU, 0 when empty)."""
    return {
        cpu: cell.emulator_pool_load(cpu)
        for cell in topology.cells
        for cpu in sorted(cell.emulator_pool_cpus)
    }


def host_state(topology: objects.NUMATopology) -> list[dict]:
    """Everything a host topology records, as plain comparable values (sets, not
    primitives, whose tuple order follows set iteration order)."""
    cells = []
    for cell in topology.cells:
        cells.append(
            {
                "id": cell.id,
                "cpuset": set(cell.cpuset),
                "pcpuset": set(cell.pcpuset),
                "pinned_cpus": set(cell.pinned_cpus),
                "siblings": sorted(sorted(group) for group in cell.siblings),
                "memory": cell.memory,
                "memory_usage": cell.memory_usage,
                "cpu_usage": cell.cpu_usage,
                "mempages": sorted((p.size_kb, p.total, p.used, p.reserved) for p in cell.mempages),
                "socket": cell.socket,
            }
        )
    return cells
