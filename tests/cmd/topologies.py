"""Named host topologies for the command-line renderer tests, built from objects."""

from __future__ import annotations

from os_numa.objects.numa import NUMACell, NUMAPagesTopology, NUMATopology


def _cell(cell_id, cores, *, shared=(), pinned=(), socket=None, memory=16384, pages=()):
    cpus = {cpu for core in cores for cpu in core}
    shared = set(shared)
    return NUMACell(
        id=cell_id,
        cpuset=shared or cpus,
        pcpuset=cpus - shared if shared else cpus,
        memory=memory,
        pinned_cpus=set(pinned),
        siblings=[set(core) for core in cores if len(core) > 1],
        mempages=[NUMAPagesTopology(size_kb=size, total=total) for size, total in pages],
        socket=socket,
    )


def smt_2x4x2(pinned0=()):
    """2 cells x 4 cores x 2 threads; sibling of N is N+8; cell 0 = 0-3,8-11."""
    return NUMATopology(
        cells=[
            _cell(
                c,
                [(c * 4 + i, c * 4 + i + 8) for i in range(4)],
                socket=c,
                pinned=pinned0 if c == 0 else (),
                pages=[(4, 1000), (2048, 512), (1048576, 4)],
            )
            for c in range(2)
        ]
    )


def nosmt_2x4():
    """2 cells x 4 single-thread cores, no socket data, no huge pages."""
    return NUMATopology(cells=[_cell(c, [(c * 4 + i,) for i in range(4)]) for c in range(2)])


def split_sets():
    """1 cell, 4 cores x 2 threads; CPUs 0 and 4 (one core) are the shared set."""
    return NUMATopology(cells=[_cell(0, [(i, i + 4) for i in range(4)], shared={0, 4})])


def wide_ids():
    """1 cell whose CPU ids need three digits, to check column alignment."""
    return NUMATopology(cells=[_cell(3, [(100 + i, 164 + i) for i in range(6)], socket=1)])


NAMED = {
    "smt_2x4x2": smt_2x4x2,
    "nosmt_2x4": nosmt_2x4,
    "split_sets": split_sets,
    "wide_ids": wide_ids,
}
