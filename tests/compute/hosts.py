"""Named host topologies for the compute and scheduler tests."""

from __future__ import annotations

from os_numa.objects import NUMACell, NUMAPagesTopology, NUMATopology


def make_host(
    cells: int,
    cores: int,
    threads: int = 1,
    memory_mb: int = 8192,
    shared_cores: int = 0,
    pages_2m: int = 0,
) -> NUMATopology:
    """``cells`` x ``cores`` x ``threads``; CPUs numbered cell by cell, core by core.

    The first ``shared_cores`` cores of each cell form ``cpuset`` (VCPU) and the
    rest ``pcpuset`` (PCPU); with none, both hold every CPU (a legacy host).
    ``pages_2m`` 2 MiB pages per cell are carved out of ``memory_mb``; the rest
    is 4 KiB pages.
    """
    per_cell = cores * threads
    result = []
    for cell in range(cells):
        base = cell * per_cell
        siblings = [
            set(range(base + core * threads, base + (core + 1) * threads)) for core in range(cores)
        ]
        cpus = set(range(base, base + per_cell))
        shared = set().union(*siblings[:shared_cores]) if shared_cores else cpus
        dedicated = cpus - shared if shared_cores else cpus
        mempages = [
            NUMAPagesTopology(size_kb=4, total=(memory_mb - 2 * pages_2m) * 256),
        ]
        if pages_2m:
            mempages.append(NUMAPagesTopology(size_kb=2048, total=pages_2m))
        result.append(
            NUMACell(
                id=cell,
                cpuset=shared,
                pcpuset=dedicated,
                memory=memory_mb,
                siblings=siblings,
                mempages=mempages,
                pinned_cpus=set(),
            )
        )
    return NUMATopology(cells=result)


HOSTS = {
    # Nova's reference example A1: 2 cells x 4 cores, no SMT.
    "2x4": lambda: make_host(2, 4),
    # Example A3: 2 cells x 4 cores x 2 threads, siblings 0-1, 2-3, ...
    "2x4x2": lambda: make_host(2, 4, 2),
    # Example C1: 2 cells x 8 cores, cpu_shared_set 0-1,8-9, the rest dedicated.
    "2x8-split": lambda: make_host(2, 8, shared_cores=2),
    # A typical 2-socket SMT server.
    "2x16x2": lambda: make_host(2, 16, 2, memory_mb=65536),
    # Huge pages: 1 GiB of 2 MiB pages per cell.
    "2x4-hugepages": lambda: make_host(2, 4, memory_mb=4096, pages_2m=512),
}


def host(name: str) -> NUMATopology:
    """A fresh copy of the named host."""
    return HOSTS[name]()
