"""``numa_usage_from_instance_numa``: a host topology with one guest claimed or released.

Departure from Nova: Nova clamps memory, CPU and page usage at zero, which hides a
double release. Here a release below zero raises
:class:`~os_numa.exception.MemoryUsageInvalid` (memory, pages) or
:class:`~os_numa.exception.CPUUsageInvalid` (floating vCPUs) instead; pCPUs already raise
``CPUPinningInvalid``/``CPUUnpinningInvalid`` as in Nova. The result is always a
new topology, so an error leaves the caller's host exactly as it was.
"""

from __future__ import annotations

from os_numa import cpuset, exception, objects
from os_numa.objects import fields

_PINNED = (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)


def numa_usage_from_instance_numa(
    host_topology: objects.NUMATopology,
    instance_topology: objects.InstanceNUMATopology | None,
    free: bool = False,
) -> objects.NUMATopology:
    """A new host topology with ``instance_topology`` claimed (or released with ``free``).

    Guest cells are matched to host cells by their post-fit ``id``. Per guest
    cell: ``memory_usage`` moves by its memory, ``cpu_usage`` by its floating
    vCPUs, the pages of its ``pagesize`` (the host cell's smallest pages when it
    has none) by memory / page size, and for pinned
    cells its pinned pCPUs plus ``cpuset_reserved`` are pinned (whole cores under
    thread policy ``isolate``). A ``pool`` guest's ``emulator_pool_cpu`` counts
    one guest more (or fewer) on that pool pCPU, in whichever host cell holds it.

    :raises CPUPinningInvalid: a pCPU is already pinned (claimed twice).
    :raises CPUUnpinningInvalid: a pCPU is not pinned (released twice).
    :raises CPUPinningUnknown, CPUUnpinningUnknown: a pCPU is outside ``pcpuset``.
    :raises MemoryUsageInvalid: a release would take memory or page usage below zero.
    :raises CPUUsageInvalid: a release would take floating vCPU usage below zero.
    :raises MemoryPageSizeNotSupported: the cell has no pages of the guest's size.
    :raises NotFound: a guest cell names a host cell that does not exist.
    :raises InternalError: a pinned guest cell has no ``cpu_pinning`` (it was never fitted).
    :raises EmulatorPoolCPUUnknown: the guest's ``emulator_pool_cpu`` is in no
        host cell's emulator pool.
    :raises EmulatorPoolCPUInvalid: that pool pCPU is full (claim) or holds no
        guest (release).
    """
    cells = [_copy_cell(cell) for cell in host_topology.cells]
    if instance_topology is not None:
        by_id = {cell.id: cell for cell in cells}
        sign = -1 if free else 1
        for guest_cell in instance_topology.cells:
            host_cell = by_id.get(guest_cell.id)
            if host_cell is None:
                raise exception.NotFound(
                    f"guest cell placed on host cell {guest_cell.id}, which does not exist "
                    f"(host cells: {sorted(by_id)})"
                )
            _account(host_cell, guest_cell, sign)
        _account_emulator_pool(cells, instance_topology, free)
    return objects.NUMATopology(cells=cells)


def _account_emulator_pool(cells: list[objects.NUMACell], instance_topology, free: bool) -> None:
    cpu = getattr(instance_topology, "emulator_pool_cpu", None)
    if cpu is None:
        return
    for cell in cells:
        if cpu in cell.emulator_pool_cpus:
            (cell.release_emulator_pool if free else cell.claim_emulator_pool)(cpu)
            return
    pool = set().union(*(cell.emulator_pool_cpus for cell in cells))
    raise exception.EmulatorPoolCPUUnknown(cpu=cpu, pool=cpuset.format_cpu_spec(pool) or "none")


def _copy_cell(cell: objects.NUMACell) -> objects.NUMACell:
    """A new cell with new containers, so the result shares nothing mutable with the input."""
    values = {}
    for name in cell.fields:
        if not cell.obj_attr_is_set(name):
            continue
        value = getattr(cell, name)
        if name == "mempages":
            value = [
                objects.NUMAPagesTopology(
                    size_kb=p.size_kb, total=p.total, used=p.used, reserved=p.reserved
                )
                for p in value
            ]
        elif name == "siblings":
            value = [set(group) for group in value]
        elif isinstance(value, (set, frozenset, dict, list)):
            value = type(value)(value)
        values[name] = value
    return objects.NUMACell(**values)


def _account(host_cell: objects.NUMACell, guest_cell, sign: int) -> None:
    if guest_cell.cpu_policy in _PINNED:
        _account_pins(host_cell, guest_cell, sign)
    host_cell.memory_usage = _moved(
        exception.MemoryUsageInvalid,
        host_cell,
        "memory_usage",
        host_cell.memory_usage,
        sign * guest_cell.memory,
        "MiB",
    )
    host_cell.cpu_usage = _moved(
        exception.CPUUsageInvalid,
        host_cell,
        "cpu_usage",
        host_cell.cpu_usage,
        sign * len(guest_cell.cpuset),
        "vCPUs",
    )
    _account_pages(host_cell, guest_cell, sign)


def _account_pins(host_cell: objects.NUMACell, guest_cell, sign: int) -> None:
    if guest_cell.cpu_pinning is None:
        raise exception.InternalError(
            err=f"guest cell on host cell {host_cell.id} asks for pinning but has no "
            "cpu_pinning: account a placement from numa_fit_instance_to_host, not a request"
        )
    pcpus = set(guest_cell.cpu_pinning.values()) | set(guest_cell.cpuset_reserved or ())
    whole_cores = guest_cell.cpu_thread_policy == fields.CPUThreadAllocationPolicy.ISOLATE
    if sign > 0:
        (host_cell.pin_cpus_with_siblings if whole_cores else host_cell.pin_cpus)(pcpus)
    else:
        (host_cell.unpin_cpus_with_siblings if whole_cores else host_cell.unpin_cpus)(pcpus)


def _account_pages(host_cell: objects.NUMACell, guest_cell, sign: int) -> None:
    """Move the usage of the guest cell's page size, or of the host cell's smallest
    pages when the guest asked for none (as Nova does). Guests without huge pages
    live in small pages, and the fit checks free small pages for pinned cells: not
    counting them would let pinned guests overcommit the cell's memory."""
    if guest_cell.pagesize and guest_cell.pagesize > 0:
        pool = host_cell.pages_of_size(guest_cell.pagesize)
        if pool is None:
            raise exception.MemoryPageSizeNotSupported(pagesize=f"{guest_cell.pagesize} KiB")
    elif host_cell.mempages:
        pool = min(host_cell.mempages, key=lambda pages: pages.size_kb)
    else:
        return
    count = guest_cell.memory * 1024 // pool.size_kb
    pool.used = _moved(
        exception.MemoryUsageInvalid,
        host_cell,
        f"{pool.size_kb} KiB pages used",
        pool.used,
        sign * count,
        "pages",
    )


def _moved(error, host_cell, what: str, current: int, delta: int, unit: str) -> int:
    after = current + delta
    if after < 0:
        raise error(
            cell=host_cell.id,
            reason=f"releasing {-delta} {unit} of {what} leaves {after}; only {current} "
            "are in use (released twice?)",
        )
    return after
