"""``numa_usage_from_instance_numa``: a host topology with one guest claimed or released.

Departure from Nova: Nova clamps memory, CPU and page usage at zero, which hides a
double release. Here a release below zero raises
:class:`~os_numa.exception.MemoryUsageInvalid` (memory, pages) or
:class:`~os_numa.exception.CPUUsageInvalid` (floating vCPUs) instead; pCPUs already raise
``CPUPinningInvalid``/``CPUUnpinningInvalid`` as in Nova. The result is always a
new topology, so an error leaves the caller's host exactly as it was.
"""

from __future__ import annotations

from typing import overload

from oslo_versionedobjects import fields as ofields

from os_numa import cpuset, exception, objects
from os_numa.objects import fields
from os_numa.objects.fast import FieldReader, layout, new_object
from os_numa.objects.numa import pinned_after, siblings_of

_PINNED = (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)


@overload
def numa_usage_from_instance_numa(
    host_topology: objects.NUMATopology,
    instance_topology: objects.InstanceNUMATopology | None,
    free: bool = False,
    *,
    share: bool = False,
) -> objects.NUMATopology: ...


@overload
def numa_usage_from_instance_numa(
    host_topology: None,
    instance_topology: objects.InstanceNUMATopology | None,
    free: bool = False,
    *,
    share: bool = False,
) -> None: ...


def numa_usage_from_instance_numa(
    host_topology: objects.NUMATopology | None,
    instance_topology: objects.InstanceNUMATopology | None,
    free: bool = False,
    *,
    share: bool = False,
) -> objects.NUMATopology | None:
    """A new host topology with ``instance_topology`` claimed (or released with ``free``).

    A host without NUMA topology (None) has nothing to account: None comes back, as
    from Nova (whose resource tracker calls this for every instance on such hosts too).

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

    ``share`` is for callers that never change a topology in place, such as the
    resource tracker: the same checks, errors and values, but the result shares with
    ``host_topology`` every host cell the guest does not touch and, in the cells it
    touches, the fields the claim does not change (CPU sets, siblings, distances...);
    only what changes is built anew, so a claim costs less the more cells the host
    has. ``instance_topology`` None then gives ``host_topology`` itself. Both the
    result and ``host_topology`` must then be treated as read-only (``obj_clone``
    one to change it). Without ``share`` the result shares nothing mutable.
    """
    if host_topology is None:
        return None
    if share and instance_topology is None:
        return host_topology
    return _claimed(host_topology, instance_topology, free, share)


def _claimed(
    host_topology: objects.NUMATopology,
    instance_topology: objects.InstanceNUMATopology | None,
    free: bool,
    share: bool,
) -> objects.NUMATopology:
    (host_cells,) = _CELLS(host_topology)
    guests: dict[int, list] = {}
    pool_cpu = None
    if instance_topology is not None:
        known = {_ID(cell)[0] for cell in host_cells}
        (guest_cells,) = _CELLS(instance_topology)
        for guest_cell in guest_cells:
            (cell_id,) = _ID(guest_cell)
            if cell_id not in known:
                raise exception.NotFound(
                    f"guest cell placed on host cell {cell_id}, which does not exist "
                    f"(host cells: {sorted(known)})"
                )
            guests.setdefault(cell_id, []).append(guest_cell)
        (pool_cpu,) = _POOL_CPU(instance_topology)
    sign = -1 if free else 1
    cells = []
    for host_cell in host_cells:
        touched = guests.get(_ID(host_cell)[0])
        if share and not touched and (pool_cpu is None or not _in_pool(host_cell, pool_cpu)):
            cells.append(host_cell)
            continue
        values = _cell_values(host_cell, share)
        for guest_cell in touched or ():
            _account(values, guest_cell, sign)
        cells.append(new_object(objects.NUMACell, values))
    if pool_cpu is not None:
        _account_emulator_pool(cells, pool_cpu, free)
    return new_object(objects.NUMATopology, {"cells": cells})


#: Field readers as plain functions (FieldReader.read), bound once.
_CELLS = FieldReader("cells").read
_ID = FieldReader("id").read
_POOL_CPU = FieldReader("emulator_pool_cpu", optional=True).read


def _in_pool(cell: objects.NUMACell, cpu: int) -> bool:
    # Nova's NUMACell has no emulator pool; neither has a cell from an older primitive.
    return cpu in (getattr(cell, "emulator_pool_cpus", None) or ())


def _account_emulator_pool(cells: list[objects.NUMACell], cpu: int, free: bool) -> None:
    for cell in cells:
        if cpu in cell.emulator_pool_cpus:
            (cell.release_emulator_pool if free else cell.claim_emulator_pool)(cpu)
            return
    pool = set().union(*(cell.emulator_pool_cpus for cell in cells))
    raise exception.EmulatorPoolCPUUnknown(cpu=cpu, pool=cpuset.format_cpu_spec(pool) or "none")


def _cell_values(cell: objects.NUMACell, share: bool = False) -> dict:
    """The stored field values of ``cell`` with new containers, so that a cell built from
    them shares nothing mutable with the input; with ``share``, only the list of page
    pools is new and every other container, page pools included, is the input's (the
    claim replaces ``pinned_cpus`` and the page pool it changes, never changes them).

    Read from the stored (already coerced) values and later built with
    :func:`~os_numa.objects.fast.new_object`: going through the fields' setters
    re-coerces every CPU id and would cost most of a claim. The copies are the base
    containers (``set``, ``dict``, ``list``, in the input's order; a copy of oslo's
    coercing container costs three times as much to make and, detached from its
    object, coerces nothing).
    """
    raw = vars(cell)
    values = {}
    for name, attr, how in _COPY_PLAN:
        if attr not in raw:
            continue
        value = raw[attr]
        if how is _PAGES_LIST:
            value = list(value) if share else [_copy_pages(pages) for pages in value]
        elif share or how is None:
            pass
        elif how is _SETS_LIST:
            value = [set(group) for group in value]
        elif how is _SET:
            value = set(value)  # in the input's order, as the setter's copy iterates it
        else:
            value = value.copy()
        values[name] = value
    for name in ("cpu_usage", "memory_usage", "pinned_cpus", "siblings", "mempages"):
        if name not in values:  # unset: the field's default, as the property would give
            values[name] = getattr(cell, name)
    return values


_PAGES_LIST = "pages"
_SETS_LIST = "sets"
_SET = "set"
_SHALLOW = "copy"


def _copy_kind(field_: object) -> str | None:
    """How :func:`_cell_values` copies a field of this type (None: immutable value)."""
    if isinstance(field_, ofields.ListOfObjectsField):
        return _PAGES_LIST
    if isinstance(field_, ofields.ListOfSetsOfIntegersField):
        return _SETS_LIST
    if isinstance(field_, ofields.AutoTypedField) and isinstance(field_._type, ofields.Set):
        return _SET
    if isinstance(field_, ofields.AutoTypedField) and isinstance(
        field_._type, (ofields.List, ofields.Dict)
    ):
        return _SHALLOW  # a dict or list of ints or strings
    return None


#: (name, attribute, how to copy) of each field of a host cell, worked out once.
_COPY_PLAN = tuple(
    (name, attr, _copy_kind(objects.NUMACell.fields[name]))
    for name, attr, _default in layout(objects.NUMACell)
)


def _copy_pages(pages: objects.NUMAPagesTopology, **changes: int) -> objects.NUMAPagesTopology:
    raw = vars(pages)
    values = {name: raw[attr] for name, attr, _ in layout(objects.NUMAPagesTopology) if attr in raw}
    values.update(changes)
    return new_object(objects.NUMAPagesTopology, values)


#: What the claim reads of a guest cell (a placement from the fit).
_GUEST_CELL = FieldReader(
    "cpu_policy",
    "cpu_thread_policy",
    "cpu_pinning_raw",
    "cpuset_reserved",
    "cpuset",
    "memory",
    "pagesize",
    "pcpuset",
    optional=True,
).read


def _account(values: dict, guest_cell: objects.InstanceNUMACell, sign: int) -> None:
    """Move the host cell ``values`` by one guest cell (claim ``sign`` 1, release -1)."""
    policy, thread_policy, pinning, reserved, floating, memory, pagesize, pinned = _GUEST_CELL(
        guest_cell
    )
    # A mixed guest's cell may hold only floating vCPUs: nothing to pin there (as in Nova).
    if policy in _PINNED and (pinned or pinning or reserved):
        if pinning is None and not pinned:
            pinning = {}  # only the emulator pCPUs of guest cell 0 (isolate) to pin
        _account_pins(values, pinning, reserved, thread_policy, sign)
    values["memory_usage"] = _moved(
        exception.MemoryUsageInvalid,
        values["id"],
        "memory_usage",
        values["memory_usage"],
        sign * memory,
        "MiB",
    )
    values["cpu_usage"] = _moved(
        exception.CPUUsageInvalid,
        values["id"],
        "cpu_usage",
        values["cpu_usage"],
        sign * len(floating),
        "vCPUs",
    )
    _account_pages(values, memory, pagesize, sign)


def _account_pins(
    values: dict,
    pinning: dict[int, int] | None,
    reserved: set[int] | None,
    thread_policy: str | None,
    sign: int,
) -> None:
    if pinning is None:
        raise exception.InternalError(
            err=f"guest cell on host cell {values['id']} asks for pinning but has no "
            "cpu_pinning: account a placement from numa_fit_instance_to_host, not a request"
        )
    pcpus = set(pinning.values())
    if reserved:
        pcpus |= reserved
    if thread_policy == fields.CPUThreadAllocationPolicy.ISOLATE:
        pcpus = siblings_of(values["siblings"], values["pcpuset"], pcpus)
    values["pinned_cpus"] = pinned_after(
        values["pcpuset"], values["pinned_cpus"], pcpus, claim=sign > 0
    )


def _account_pages(values: dict, memory: int, pagesize: int | None, sign: int) -> None:
    """Move the usage of the guest cell's page size, or of the host cell's smallest
    pages when the guest asked for none (as Nova does). Guests without huge pages
    live in small pages, and the fit checks free small pages for pinned cells: not
    counting them would let pinned guests overcommit the cell's memory."""
    mempages = values["mempages"]
    if pagesize and pagesize > 0:
        index = next((i for i, pages in enumerate(mempages) if pages.size_kb == pagesize), None)
        if index is None:
            raise exception.MemoryPageSizeNotSupported(pagesize=f"{pagesize} KiB")
    elif mempages:
        index = min(range(len(mempages)), key=lambda i: mempages[i].size_kb)
    else:
        return
    pool = mempages[index]
    size_kb, used = _PAGES(pool)
    after = _moved(
        exception.MemoryUsageInvalid,
        values["id"],
        f"{size_kb} KiB pages used",
        used,
        sign * (memory * 1024 // size_kb),
        "pages",
    )
    # A new pool in the cell's new list: the input's pool (shared, see _cell_values)
    # is never changed.
    mempages[index] = _copy_pages(pool, used=after)


_PAGES = FieldReader("size_kb", "used").read


def _moved(
    error: type[exception.OsNumaError], cell_id: int, what: str, current: int, delta: int, unit: str
) -> int:
    after = current + delta
    if after < 0:
        raise error(
            cell=cell_id,
            reason=f"releasing {-delta} {unit} of {what} leaves {after}; only {current} "
            "are in use (released twice?)",
        )
    return after
