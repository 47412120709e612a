"""From a placement to the libvirt XML that makes the host enforce it.

:func:`get_guest_numa_config` turns a fitted :class:`InstanceNUMATopology`
(guest cell ids are host cell ids, pinned vCPUs carry their pCPU,
``cpuset_reserved`` holds the emulator pCPU) into ``<cputune>``,
``<cpu><numa>`` and ``<numatune>``; :func:`get_guest_memory_backing_config`
into ``<memoryBacking>``. Both are pure: they read their arguments and the
options, and build new element objects (:mod:`os_numa.virt.libvirt.config`).

The placement is their only policy input: the realtime vCPUs and priority, the
emulator policy, mask and pCPUs, locked memory, page sizes and the memory
policy are its fields, set by the constraints and the fit. The flavor gives the
vCPU count the pins are checked against and the domain's sizes; it is not read
for policy (a placement made elsewhere gets its fields where the flavor is at
hand: :func:`os_numa.constraints.placement_policy.with_flavor_policy`).

The rules are Nova's (``_get_guest_numa_config``):

- one ``<vcpupin>`` per vCPU, by vCPU id: a pinned vCPU's pCPU, or for a
  floating vCPU of a ``mixed`` guest the shared CPUs (``cpuset``) of its host cell;
- ``<emulatorpin>``: with ``hw:emulator_threads_policy=isolate`` the reserved
  pCPU(s); with ``share`` and ``[compute] cpu_shared_set`` that set (online CPUs
  only); otherwise the pCPUs of the guest's non-realtime vCPUs. Beyond Nova
  (:mod:`os_numa.fit.emulator_pin`, the one home of the decision):
  ``hw:emulator_threads_mask`` pins
  them with the named vCPUs, ``pool`` on the pool pCPU the fit chose, and
  ``share`` keeps to the guest's own host cells' shared CPUs unless
  ``[os_numa] emulator_share_locality = host``;
- one ``<iothreadpin iothread='1'>`` pinned like the emulator threads (the
  domain must declare ``<iothreads>1</iothreads>``, as :func:`build_guest` does);
  ``hw:iothreads=N`` writes N, and ``hw:iothreads_policy=isolate`` pins each on
  a reserved pCPU of its own (:func:`iothread_pins`);
- with ``hw:cpu_realtime``, one ``<vcpusched scheduler='fifo'>`` over the
  realtime vCPUs with ``hw:cpu_realtime_priority`` or else ``[libvirt]
  realtime_scheduler_priority``, and
  ``<nosharepages/><locked/>`` memory;
- guest cells renumbered 0..k-1, ``memAccess='shared'`` when huge pages back
  the guest, ``<numatune>`` strict over the host cells used and one
  ``<memnode>`` per guest cell naming its host cell (another mode with
  ``hw:numa_memory_policy``: :func:`guest_numatune`); ``<hugepages>`` has one
  ``<page>`` per guest cell that uses huge pages.

Unlike Nova, nothing is ever written that libvirt would misread or silently
drop: an empty emulator pin set (:class:`~os_numa.exception.EmulatorPinEmpty`),
a vCPU the flavor does not have or a pCPU outside the guest cell's host cell
(:class:`~os_numa.exception.InvalidGuestPlacement`) are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from oslo_config import cfg

from os_numa import conf as os_numa_conf
from os_numa import exception, objects
from os_numa.constraints import cpu_topology, memory_policy, source
from os_numa.cpuset import describe_cpus
from os_numa.fit import emulator_pin
from os_numa.objects import fields
from os_numa.virt import driver as base_driver
from os_numa.virt.libvirt import config
from os_numa.virt.libvirt.guest_pci import get_guest_pci_config
from os_numa.virt.libvirt.overhead import emulator_overhead_vcpus

#: The id of the one I/O thread pinned with the emulator threads.
IOTHREAD_ID = 1
#: The scheduler of realtime vCPUs (Nova has no other).
REALTIME_SCHEDULER = "fifo"
#: Base page size assumed when no host topology says otherwise (x86).
DEFAULT_SMALL_PAGE_KB = 4

_EMULATOR = fields.CPUEmulatorThreadsPolicy


class GuestNumaConfig(NamedTuple):
    """The NUMA parts of a guest's domain XML, as Nova's driver returns them.

    ``cpuset`` is the ``<vcpu cpuset=...>`` of a guest *without* a NUMA
    topology (``[compute] cpu_shared_set``, or None to let the host decide);
    the other three are None for such a guest.
    """

    cpuset: set[int] | None
    cputune: config.LibvirtConfigGuestCPUTune | None
    numaconfig: config.LibvirtConfigGuestCPUNUMA | None
    numatune: config.LibvirtConfigGuestNUMATune | None


@dataclass(frozen=True)
class PlacedCell:
    """One guest cell of a placement, checked, with every vCPU's host CPUs.

    ``index`` is the guest cell's position (its id in the guest XML),
    ``host_cell`` the host cell id it sits on, ``pins`` maps each vCPU to the
    host CPUs it may run on, ``reserved`` holds the emulator pCPU(s).
    """

    index: int
    host_cell: int
    pins: Mapping[int, frozenset[int]]
    memory_mb: int
    pagesize_kb: int | None
    reserved: frozenset[int]

    @property
    def vcpus(self) -> frozenset[int]:
        return frozenset(self.pins)


def _invalid(reason: str) -> exception.InvalidGuestPlacement:
    return exception.InvalidGuestPlacement(reason=reason)


def _online_cpus(host_topology: objects.NUMATopology | None) -> set[int] | None:
    """Every CPU the host topology knows, or None without a host topology."""
    if host_topology is None:
        return None
    return {cpu for cell in host_topology.cells for cpu in set(cell.cpuset) | set(cell.pcpuset)}


@dataclass(frozen=True)
class _HostCell:
    """What the checks read of a host cell, copied once out of the versioned object."""

    id: int
    pcpuset: frozenset[int]
    cpuset: frozenset[int]


def _host_cells(host_topology: objects.NUMATopology | None) -> dict[int, _HostCell] | None:
    if host_topology is None:
        return None
    return {
        cell.id: _HostCell(cell.id, frozenset(cell.pcpuset), frozenset(cell.cpuset))
        for cell in host_topology.cells
    }


def _host_cell(host_cells: dict[int, _HostCell] | None, cell_id: int) -> _HostCell | None:
    if host_cells is None:
        return None
    if cell_id not in host_cells:
        raise _invalid(
            f"a guest cell is placed on host cell {cell_id}, but the host's cells are "
            f"{describe_cpus(host_cells)}"
        )
    return host_cells[cell_id]


def _cell_pins(
    cpus: set[int],
    requested_pinned: set[int],
    pinning: dict[int, int],
    index: int,
    host_cell: _HostCell | None,
) -> dict[int, frozenset[int]]:
    """Each vCPU of guest cell ``index`` -> the host CPUs its ``<vcpupin>`` names."""
    pins: dict[int, frozenset[int]] = {}
    for vcpu in sorted(cpus):
        if vcpu in pinning:
            pcpu = pinning[vcpu]
            if host_cell is not None and pcpu not in host_cell.pcpuset:
                raise _invalid(
                    f"vCPU {vcpu} of guest cell {index} is pinned to host CPU {pcpu}, which "
                    f"is not a pinnable CPU of host cell {host_cell.id} (its pCPUs are "
                    f"{describe_cpus(host_cell.pcpuset)})"
                )
            pins[vcpu] = frozenset({pcpu})
        elif vcpu in requested_pinned:
            raise _invalid(
                f"vCPU {vcpu} of guest cell {index} must be pinned but has no host pCPU; "
                "pass the placement numa_fit_instance_to_host returned, not the request"
            )
        elif host_cell is None:
            raise _invalid(
                f"vCPU {vcpu} of guest cell {index} floats over its host cell's shared CPUs; "
                "pass host_topology so they are known"
            )
        elif not host_cell.cpuset:
            raise _invalid(
                f"vCPU {vcpu} of guest cell {index} floats, but host cell {host_cell.id} has "
                "no shared CPUs ([compute] cpu_shared_set names none of its CPUs)"
            )
        else:
            pins[vcpu] = host_cell.cpuset
    return pins


def _check_reserved(index: int, reserved: frozenset[int], host_cell: _HostCell | None) -> None:
    if host_cell is not None and reserved - host_cell.pcpuset:
        raise _invalid(
            f"guest cell {index} reserves host CPU(s) "
            f"{describe_cpus(reserved - host_cell.pcpuset)} for emulator threads, "
            f"outside host cell {host_cell.id}'s pCPUs "
            f"{describe_cpus(host_cell.pcpuset)}"
        )


def place_cells(
    instance_numa_topology: objects.InstanceNUMATopology,
    vcpus: int,
    host_topology: objects.NUMATopology | None = None,
) -> list[PlacedCell]:
    """Check a placement against the flavor's vCPU count and the host, cell by cell.

    :raises InvalidGuestPlacement: a vCPU id is outside 0..vcpus-1, in two
        cells, missing, pinned without a pCPU, pinned to a CPU outside its host
        cell's pCPUs or to the pCPU of another vCPU; a guest cell names a host
        cell the host does not have, or pins a vCPU it lacks; a floating vCPU
        has no shared CPUs; a page size is still a request (``large``/``any``)
        rather than a size.
    """
    host_cells = _host_cells(host_topology)
    placed: list[PlacedCell] = []
    seen: set[int] = set()
    owners: dict[int, int] = {}  # pinned host pCPU -> its vCPU
    for index, cell in enumerate(instance_numa_topology.cells):
        host_cell = _host_cell(host_cells, cell.id)
        cpus = cell.cpus
        pinning = cell.cpu_pinning or {}
        outside = {v for v in cpus if v >= vcpus or v < 0}
        if outside:
            raise _invalid(
                f"guest cell {index} has vCPU(s) {describe_cpus(outside)}, but the flavor has "
                f"{vcpus} vCPU(s) (0-{vcpus - 1}); libvirt would silently drop their pins"
            )
        if cpus & seen:
            raise _invalid(f"vCPU(s) {describe_cpus(cpus & seen)} are in more than one guest cell")
        seen |= cpus
        strays = set(pinning) - cpus
        if strays:
            raise _invalid(
                f"guest cell {index} pins vCPU(s) {describe_cpus(strays)} it does not have"
            )
        pins = _cell_pins(cpus, set(cell.pcpuset), pinning, index, host_cell)
        for vcpu, pcpu in sorted(pinning.items()):
            if pcpu in owners:
                raise _invalid(
                    f"vCPUs {owners[pcpu]} and {vcpu} are both pinned to host CPU {pcpu}"
                )
            owners[pcpu] = vcpu
        reserved = frozenset(cell.cpuset_reserved or ())
        _check_reserved(index, reserved, host_cell)
        pagesize = cell.pagesize
        if pagesize is not None and pagesize <= 0:
            raise _invalid(
                f"guest cell {index} has page size request {pagesize} instead of a size "
                "in KiB; pass the placement numa_fit_instance_to_host returned"
            )
        placed.append(PlacedCell(index, cell.id, pins, cell.memory, pagesize, reserved))
    missing = set(range(vcpus)) - seen
    if missing:
        raise _invalid(
            f"vCPU(s) {describe_cpus(missing)} of the flavor's {vcpus} are in no guest cell"
        )
    both = set(owners) & set().union(*(cell.reserved for cell in placed))
    if both:
        raise _invalid(
            f"host CPU(s) {describe_cpus(both)} are both a vCPU's pCPU "
            "and reserved for emulator threads"
        )
    return placed


def shared_emulator_cpus(conf: cfg.ConfigOpts, online: set[int] | None) -> set[int] | None:
    """``[compute] cpu_shared_set`` restricted to online CPUs, or None when unset.

    ``online`` None (no host topology) keeps the set as configured.

    :raises EmulatorPinEmpty: none of the set's CPUs is online.
    """
    return _online_shared_set(
        conf,
        online,
        lambda reason: exception.EmulatorPinEmpty(
            reason=f"{reason}, so the emulator threads of a "
            "hw:emulator_threads_policy=share guest would have nowhere to run"
        ),
    )


def _online_shared_set(
    conf: cfg.ConfigOpts, online: set[int] | None, refuse: Callable[[str], Exception]
) -> set[int] | None:
    """``[compute] cpu_shared_set`` restricted to ``online`` (None: as configured), or
    None when unset; ``refuse(reason)`` is raised when none of its CPUs is online."""
    shared = os_numa_conf.parse_cpu_set_option(conf, "compute", "cpu_shared_set")
    if shared is None or online is None:
        return shared
    usable = shared & online
    if not usable:
        raise refuse(
            f"[compute] cpu_shared_set={conf.compute.cpu_shared_set!r} names no online "
            f"host CPU (online: {describe_cpus(online)})"
        )
    return usable


def _small_page_kb(host_topology: objects.NUMATopology | None, host_cell_id: int) -> int:
    cells = host_topology.cells if host_topology is not None else ()
    sizes = [p.size_kb for cell in cells if cell.id == host_cell_id for p in cell.mempages]
    return min(sizes) if sizes else DEFAULT_SMALL_PAGE_KB


def huge_page_sizes(
    placed: list[PlacedCell], host_topology: objects.NUMATopology | None
) -> dict[int, int]:
    """``{guest cell index: page size KiB}`` for cells backed by pages larger than the
    host cell's smallest (4 KiB without a host topology)."""
    return {
        cell.index: cell.pagesize_kb
        for cell in placed
        if cell.pagesize_kb and cell.pagesize_kb > _small_page_kb(host_topology, cell.host_cell)
    }


def _floating_cpuset(conf: cfg.ConfigOpts, online: set[int] | None) -> set[int] | None:
    """The ``<vcpu cpuset>`` of a guest without NUMA placement: ``cpu_shared_set`` or None.

    :raises InvalidConfiguration: the set names no online CPU.
    """
    return _online_shared_set(
        conf, online, lambda reason: exception.InvalidConfiguration(reason=reason)
    )


def _check_realtime_pinned(realtime: set[int], topology: objects.InstanceNUMATopology) -> None:
    pinned = {vcpu for cell in topology.cells for vcpu in (cell.cpu_pinning or {})}
    floating = realtime - pinned
    if floating:
        raise _invalid(
            f"realtime vCPU(s) {describe_cpus(floating)} float over shared CPUs; a SCHED_FIFO vCPU "
            "must be pinned to a pCPU of its own"
        )


def _flavor_vcpus(flavor: Any) -> int:
    return source.flavor_view(flavor).vcpus


def _conf(conf: cfg.ConfigOpts | None) -> cfg.ConfigOpts:
    return os_numa_conf.CONF if conf is None else conf


def iothread_pins(
    placed: list[PlacedCell],
    topology: objects.InstanceNUMATopology,
    emulator_cpus: set[int],
) -> tuple[set[int], list[set[int]]]:
    """The emulator threads' CPUs and each I/O thread's, in I/O thread id order.

    ``hw:iothreads_policy=share`` (or unset): ``hw:iothreads`` threads (one by
    default), each pinned like the emulator threads. ``isolate``: the highest
    reserved pCPUs of guest cell 0, one per I/O thread; the lower ones stay the
    emulator's (with ``hw:emulator_threads_policy=isolate``).

    :raises InvalidGuestPlacement: fewer reserved pCPUs than isolated I/O threads.
    """
    count = getattr(topology, "iothreads", None) or 1
    dedicated = topology.iothread_pcpus
    if not dedicated:
        return emulator_cpus, [set(emulator_cpus) for _ in range(count)]
    reserved = sorted(set().union(*(cell.reserved for cell in placed)))
    if len(reserved) < dedicated:
        raise _invalid(
            f"hw:iothreads_policy=isolate needs {dedicated} reserved pCPU(s) for the I/O "
            f"threads, the placement reserves {len(reserved)}; pass the placement "
            "numa_fit_instance_to_host returned"
        )
    own = reserved[len(reserved) - dedicated :]
    if topology.emulator_threads_policy == _EMULATOR.ISOLATE:
        emulator_cpus = set(reserved[: len(reserved) - dedicated])
        if not emulator_cpus:
            raise _invalid(
                "hw:emulator_threads_policy=isolate with isolated I/O threads, but every "
                "reserved pCPU is an I/O thread's"
            )
    return emulator_cpus, [{cpu} for cpu in own]


def get_guest_numa_config(
    instance_numa_topology: objects.InstanceNUMATopology | None,
    flavor: Any,
    image_meta: Any,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> GuestNumaConfig:
    """The ``<cputune>``, ``<cpu><numa>`` and ``<numatune>`` of a placed guest.

    ``instance_numa_topology`` is the placement (what
    :func:`os_numa.hardware.numa_fit_instance_to_host` returns), or None for a
    guest without NUMA placement. ``host_topology`` supplies the shared CPUs of
    floating vCPUs, the online CPUs and page sizes, and lets every pin be
    checked against the host; without it only pinned vCPUs can be written.
    ``conf`` defaults to :data:`os_numa.conf.CONF`.

    ``flavor`` gives the vCPU count; ``image_meta`` is not read (the placement
    carries what the image asked for).

    :raises EmulatorPinEmpty: the emulator threads would get no CPU.
    :raises InvalidGuestPlacement: see :func:`place_cells`; also a realtime vCPU
        that floats, and see :func:`os_numa.fit.emulator_pin.emulator_cpus`.
    """
    conf = _conf(conf)
    online = _online_cpus(host_topology)
    if instance_numa_topology is None or not instance_numa_topology.cells:
        return GuestNumaConfig(_floating_cpuset(conf, online), None, None, None)

    placement = instance_numa_topology
    placed = place_cells(placement, _flavor_vcpus(flavor), host_topology)
    realtime = set(placement.realtime_vcpus or ())
    _check_realtime_pinned(realtime, placement)
    shared = (
        shared_emulator_cpus(conf, online)
        if placement.emulator_threads_policy == _EMULATOR.SHARE
        and not placement.emulator_threads_mask
        else None
    )
    emulator_cpus = emulator_pin.emulator_cpus(
        placed, placement, shared, host_topology, conf.os_numa.emulator_share_locality
    )
    emulator_cpus, iothread_cpus = iothread_pins(placed, placement, emulator_cpus)
    priority = placement.realtime_priority

    cputune = config.LibvirtConfigGuestCPUTune(
        vcpupin=[
            config.LibvirtConfigGuestCPUTuneVCPUPin(id=vcpu, cpuset=set(cpus))
            for vcpu, cpus in sorted(
                (item for cell in placed for item in cell.pins.items()), key=lambda i: i[0]
            )
        ],
        emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin(cpuset=set(emulator_cpus)),
        iothreadpin=[
            config.LibvirtConfigGuestCPUTuneIOThreadPin(iothread=index, cpuset=set(cpus))
            for index, cpus in enumerate(iothread_cpus, start=IOTHREAD_ID)
        ],
        vcpusched=(
            [
                config.LibvirtConfigGuestCPUTuneVCPUSched(
                    vcpus=set(realtime),
                    scheduler=REALTIME_SCHEDULER,
                    priority=priority or conf.libvirt.realtime_scheduler_priority,
                )
            ]
            if realtime
            else []
        ),
    )
    mem_access = "shared" if huge_page_sizes(placed, host_topology) else None
    numaconfig = config.LibvirtConfigGuestCPUNUMA(
        cells=[
            config.LibvirtConfigGuestCPUNUMACell(
                id=cell.index,
                cpus=set(cell.vcpus),
                memory=cell.memory_mb * 1024,
                memAccess=mem_access,
            )
            for cell in placed
        ]
    )
    numatune = guest_numatune(placed, placement.memory_policy)
    return GuestNumaConfig(None, cputune, numaconfig, numatune)


def guest_numatune(
    placed: list[PlacedCell], policy: str | None
) -> config.LibvirtConfigGuestNUMATune:
    """``<numatune>`` for ``hw:numa_memory_policy`` (None: ``strict``, Nova's).

    ``strict`` and ``restrictive``: the guest's memory on its host cells, each
    guest cell's on its own. ``preferred``: each guest cell prefers its own host
    cell, the rest of the guest's memory guest cell 0's (QEMU prefers one node).
    ``interleave``: every guest cell's memory, and the rest, interleaved over all
    the guest's host cells.
    """
    mode = policy or memory_policy.STRICT
    used = {cell.host_cell for cell in placed}
    if mode == memory_policy.PREFERRED:
        memory_nodes = {placed[0].host_cell}
    else:
        memory_nodes = used
    return config.LibvirtConfigGuestNUMATune(
        memory=config.LibvirtConfigGuestNUMATuneMemory(mode=mode, nodeset=memory_nodes),
        memnodes=[
            config.LibvirtConfigGuestNUMATuneMemNode(
                cellid=cell.index,
                mode=mode,
                nodeset=used if mode == memory_policy.INTERLEAVE else {cell.host_cell},
            )
            for cell in placed
        ],
    )


def get_guest_memory_backing_config(
    instance_numa_topology: objects.InstanceNUMATopology | None,
    flavor: Any,
    image_meta: Any,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> config.LibvirtConfigGuestMemoryBacking | None:
    """The ``<memoryBacking>`` of a guest, or None when it needs none.

    One ``<page size nodeset>`` per guest cell backed by huge pages (nodeset =
    the guest cell's index); ``<nosharepages/><locked/>`` for realtime (the
    placement's ``realtime_vcpus``); ``<locked/>`` for its ``locked_memory``.

    :raises RealtimeMaskNotFoundOrInvalid: realtime with
        ``hw:emulator_threads_policy=share`` but no ``[compute] cpu_shared_set``
        (Nova's rule: such a guest's emulator threads would share its
        housekeeping vCPUs' pCPUs, or nothing at all).
    :raises InvalidGuestPlacement: see :func:`place_cells`.
    """
    conf = _conf(conf)
    placement = instance_numa_topology
    realtime = placement is not None and bool(placement.realtime_vcpus)
    if (
        placement is not None
        and realtime
        and placement.emulator_threads_policy == _EMULATOR.SHARE
        and os_numa_conf.parse_cpu_set_option(conf, "compute", "cpu_shared_set") is None
    ):
        raise exception.RealtimeMaskNotFoundOrInvalid(
            reason="hw:cpu_realtime with hw:emulator_threads_policy=share needs "
            "[compute] cpu_shared_set for the emulator threads; set it, or use "
            "hw:emulator_threads_policy=isolate."
        )
    locked = placement is not None and bool(placement.locked_memory)
    pages: list[config.LibvirtConfigGuestMemoryBackingPage] = []
    if placement is not None and placement.cells:
        placed = place_cells(placement, _flavor_vcpus(flavor), host_topology)
        pages = [
            config.LibvirtConfigGuestMemoryBackingPage(size_kb=size, nodeset={index})
            for index, size in sorted(huge_page_sizes(placed, host_topology).items())
        ]
    if not (pages or realtime or locked):
        return None
    return config.LibvirtConfigGuestMemoryBacking(
        hugepages=pages,
        sharedpages=not realtime,
        locked=realtime or locked,
    )


def get_guest_cpu_topology(
    instance_numa_topology: objects.InstanceNUMATopology | None,
    flavor: Any,
    image_meta: Any,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> objects.VirtCPUTopology | None:
    """The guest's ``<cpu><topology>``, or None when none is written.

    The topology is :func:`os_numa.hardware.get_best_cpu_topology` of the
    flavor and image, kept consistent with the guest NUMA cells and, for a
    ``hw:cpu_thread_policy=require`` placement, with the host's SMT siblings
    (guest threads of one core are sibling threads of one host core). It is
    written when the flavor or image sets a ``hw:cpu_sockets``-style key, for a
    ``require`` placement, or always with ``[os_numa] guest_cpu_topology =
    always`` (Nova's behaviour); otherwise libvirt's default (one socket per
    vCPU) stays, as before.

    :raises ImageVCPULimitsRangeExceeded, ImageVCPUTopologyRangeExceeded,
        ImageVCPULimitsRangeImpossible, CPUTopologyNUMAMismatch: see
        :mod:`os_numa.constraints.cpu_topology`.
    """
    conf = _conf(conf)
    cells = list(instance_numa_topology.cells) if instance_numa_topology is not None else []
    require = any(
        cell.cpu_thread_policy == fields.CPUThreadAllocationPolicy.REQUIRE and cell.cpu_pinning
        for cell in cells
    )
    if not (
        conf.os_numa.guest_cpu_topology == "always"
        or require
        or cpu_topology.topology_requested(flavor, image_meta)
    ):
        return None
    return cpu_topology.get_best_cpu_topology(
        flavor,
        image_meta,
        numa_topology=instance_numa_topology if cells else None,
        host_topology=host_topology,
    )


class GuestParts(NamedTuple):
    """The placement-dependent parts of a domain, as :func:`build_guest` computes them."""

    numa: GuestNumaConfig
    membacking: config.LibvirtConfigGuestMemoryBacking | None
    cpu_topology: objects.VirtCPUTopology | None


def guest_parts(
    instance_numa_topology: objects.InstanceNUMATopology | None,
    flavor: Any,
    image_meta: Any,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> GuestParts:
    """:func:`get_guest_numa_config`, :func:`get_guest_memory_backing_config` and
    :func:`get_guest_cpu_topology` of one guest, together."""
    return GuestParts(
        get_guest_numa_config(instance_numa_topology, flavor, image_meta, host_topology, conf),
        get_guest_memory_backing_config(
            instance_numa_topology, flavor, image_meta, host_topology, conf
        ),
        get_guest_cpu_topology(instance_numa_topology, flavor, image_meta, host_topology, conf),
    )


def build_guest(
    instance_numa_topology: objects.InstanceNUMATopology | None,
    flavor: Any,
    image_meta: Any,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
    *,
    name: str = "guest",
    virt_type: str = "kvm",
    pci_first_index: int = 1,
    parts: GuestParts | None = None,
) -> config.LibvirtConfigGuest:
    """A minimal ``<domain>`` carrying the guest's NUMA configuration: os-numa's one
    domain builder (the driver's, the tests' and ``os-numa place --format xml``'s).

    ``<cpu><topology>`` is :func:`get_guest_cpu_topology`'s.
    Memory and vCPU count come from the flavor; ``<iothreads>N</iothreads>``
    is declared for the N ``<iothreadpin>`` elements. The PCI devices the placement
    holds (``pci_devices``) become ``<hostdev>`` elements behind a
    ``pcie-expander-bus`` per guest NUMA cell (see
    :mod:`os_numa.virt.libvirt.guest_pci`; controller indexes count up from
    ``pci_first_index``, the domain's first free PCI controller index), and
    the machine type is then ``q35``, which the expander needs. ``parts`` are
    the :func:`guest_parts` of the same arguments when the caller already has
    them (nothing is computed twice). Callers add what their guests need
    (``os_arch``, a CPU model, disks...) to the returned object.
    """
    if parts is None:
        parts = guest_parts(instance_numa_topology, flavor, image_meta, host_topology, conf)
    numa = parts.numa
    flavor_v = source.flavor_view(flavor)
    pci_devices = list(getattr(instance_numa_topology, "pci_devices", None) or [])
    pci = None
    if pci_devices and instance_numa_topology is not None:
        cells = len(instance_numa_topology.cells)
        pci = get_guest_pci_config(pci_devices, guest_cells=cells, first_index=pci_first_index)
    return config.LibvirtConfigGuest(
        virt_type=virt_type,
        name=name,
        memory=flavor_v.memory_mb * 1024,
        vcpus=flavor_v.vcpus,
        cpuset=numa.cpuset,
        iothreads=len(numa.cputune.iothreadpin) if numa.cputune is not None else 0,
        membacking=parts.membacking,
        cputune=numa.cputune,
        numatune=numa.numatune,
        cpu=_guest_cpu(numa.numaconfig, parts.cpu_topology),
        os_machine=None if pci is None else "q35",
        devices=[] if pci is None else pci.devices,
    )


def _guest_cpu(
    numaconfig: config.LibvirtConfigGuestCPUNUMA | None,
    topology: objects.VirtCPUTopology | None,
) -> config.LibvirtConfigGuestCPU | None:
    if numaconfig is None and topology is None:
        return None
    sizes: dict[str, Any] = (
        {}
        if topology is None
        else {"sockets": topology.sockets, "cores": topology.cores, "threads": topology.threads}
    )
    return config.LibvirtConfigGuestCPU(numa=numaconfig, **sizes)


class LibvirtDriver(base_driver.ComputeDriver):
    """The libvirt compute driver's NUMA side: guest XML and overhead.

    ``conf`` (default :data:`os_numa.conf.CONF`) supplies ``[compute]
    cpu_shared_set`` and ``[libvirt] realtime_scheduler_priority``.
    """

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf

    def get_guest_numa_config(
        self,
        instance_numa_topology: objects.InstanceNUMATopology | None,
        flavor: Any,
        image_meta: Any,
        host_topology: objects.NUMATopology | None = None,
    ) -> GuestNumaConfig:
        """See :func:`get_guest_numa_config`."""
        return get_guest_numa_config(
            instance_numa_topology, flavor, image_meta, host_topology, self.conf
        )

    def get_guest_memory_backing_config(
        self,
        instance_numa_topology: objects.InstanceNUMATopology | None,
        flavor: Any,
        image_meta: Any,
        host_topology: objects.NUMATopology | None = None,
    ) -> config.LibvirtConfigGuestMemoryBacking | None:
        """See :func:`get_guest_memory_backing_config`."""
        return get_guest_memory_backing_config(
            instance_numa_topology, flavor, image_meta, host_topology, self.conf
        )

    def estimate_instance_overhead(self, instance_info: Any) -> base_driver.Overhead:
        """The base driver's overhead plus the isolated emulator pCPUs (1, or
        ``hw:emulator_threads_count``) as ``vcpus``.

        Nova's libvirt driver did the same until 2019; see
        :func:`~os_numa.virt.libvirt.overhead.emulator_overhead_vcpus` for the accepted inputs.
        """
        overhead = super().estimate_instance_overhead(instance_info)
        overhead["vcpus"] += emulator_overhead_vcpus(instance_info)
        return overhead


def estimate_instance_overhead(instance_info: Any) -> base_driver.Overhead:
    """:meth:`LibvirtDriver.estimate_instance_overhead`:
    ``{'memory_mb': 0, 'disk_gb': 0, 'vcpus': N}`` when the emulator threads are
    isolated on N pCPUs (``hw:emulator_threads_count``, default 1), zeros otherwise."""
    return LibvirtDriver().estimate_instance_overhead(instance_info)
