"""The host's NUMA topology, from libvirt's capabilities and the ``[compute]`` CPU sets.

:func:`host_topology_from_capabilities` is a pure function of a capabilities
document and two CPU sets; :class:`Host` adds the libvirt-python connection
that supplies the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import libvirt
from oslo_config import cfg

from os_numa import conf as os_numa_conf
from os_numa import cpuset as cpuset_mod
from os_numa import exception, objects
from os_numa.virt.libvirt import cache_banks, config, power, reserved

CPUSetLike = str | Iterable[int]

#: Host NUMA cell ids must be below this bound (Linux's MAX_NUMNODES is at most 1024),
#: which also bounds the number of cells a capabilities document may describe.
MAX_HOST_CELLS = 1024


def _explicit_set(value: CPUSetLike, option: str, group: str = "compute") -> set[int]:
    if isinstance(value, str):
        try:
            cpus = cpuset_mod.parse_cpu_spec(value)
        except exception.InvalidCPUSpec as exc:
            raise exception.InvalidConfiguration(reason=f"[{group}] {option}: {exc}") from exc
    else:
        try:
            cpus = {int(cpu) for cpu in value}
        except (TypeError, ValueError) as exc:
            raise exception.InvalidConfiguration(
                reason=f"[{group}] {option}={value!r} is neither a CPU spec nor CPU ids"
            ) from exc
    if not cpus:
        raise exception.InvalidConfiguration(reason=f"[{group}] {option}={value!r} names no CPUs")
    return cpus


def _resolve_set(
    value: CPUSetLike | None, option: str, conf: cfg.ConfigOpts, group: str = "compute"
) -> set[int] | None:
    if value is None:
        return os_numa_conf.parse_cpu_set_option(conf, group, option)
    return _explicit_set(value, option, group)


def _check_pool(
    pool: set[int] | None, dedicated: set[int] | None, shared: set[int] | None, online: set[int]
) -> None:
    """The emulator pool is online and neither pinnable nor shared."""
    if pool is None:
        return
    for option, cpus in (("cpu_dedicated_set", dedicated), ("cpu_shared_set", shared)):
        if cpus is not None and pool & cpus:
            raise exception.InvalidConfiguration(
                reason=f"[os_numa] emulator_pin_set and [compute] {option} overlap on CPU(s) "
                f"{cpuset_mod.format_cpu_spec(pool & cpus)}; a pool CPU runs emulator threads "
                "only, so it may be in neither set"
            )
    if pool - online:
        raise exception.InvalidConfiguration(
            reason="[os_numa] emulator_pin_set names CPU(s) "
            f"{cpuset_mod.format_cpu_spec(pool - online)} that are not online on this host; "
            f"online CPUs are {cpuset_mod.format_cpu_spec(online) or 'none'}"
        )


def _check_sets(dedicated: set[int] | None, shared: set[int] | None, online: set[int]) -> None:
    if dedicated is not None and shared is not None and dedicated & shared:
        raise exception.InvalidConfiguration(
            reason="[compute] cpu_dedicated_set and cpu_shared_set overlap on CPU(s) "
            f"{cpuset_mod.format_cpu_spec(dedicated & shared)}; a CPU may be in one set only"
        )
    for option, cpus in (("cpu_dedicated_set", dedicated), ("cpu_shared_set", shared)):
        if cpus is not None and cpus - online:
            raise exception.InvalidConfiguration(
                reason=f"[compute] {option} names CPU(s) "
                f"{cpuset_mod.format_cpu_spec(cpus - online)} that are not online on this "
                f"host; online CPUs are {cpuset_mod.format_cpu_spec(online) or 'none'}"
            )


def _check_cells(cells: list[config.LibvirtConfigCapsNUMACell]) -> None:
    """The document describes a possible host: cell ids in 0..MAX_HOST_CELLS-1 and
    unique, CPU ids in 0..MAX_CPU_ID-1 and each in one cell only, no negative
    memory, page sizes positive and page counts non-negative.

    :raises InvalidXML: naming the cell, CPU or value that is out of range.
    """
    seen_cells: set[int] = set()
    cell_of_cpu: dict[int, int] = {}
    for cell in cells:
        if not 0 <= cell.id < MAX_HOST_CELLS:
            raise exception.InvalidXML(
                reason=f"host cell id {cell.id} is out of range 0..{MAX_HOST_CELLS - 1}"
            )
        if cell.id in seen_cells:
            raise exception.InvalidXML(reason=f"host cell id {cell.id} appears more than once")
        seen_cells.add(cell.id)
        if cell.memory is not None and cell.memory < 0:
            raise exception.InvalidXML(
                reason=f"host cell {cell.id} has memory {cell.memory} KiB; it cannot be negative"
            )
        for pages in cell.mempages:
            if pages.size <= 0 or (pages.total is not None and pages.total < 0):
                raise exception.InvalidXML(
                    reason=f"host cell {cell.id} has {pages.total} pages of {pages.size} KiB; "
                    "page sizes must be positive and page counts non-negative"
                )
        for cpu in cell.cpus:
            if not 0 <= cpu.id < cpuset_mod.MAX_CPU_ID:
                raise exception.InvalidXML(
                    reason=f"host cell {cell.id} has CPU id {cpu.id}; CPU ids are in "
                    f"0..{cpuset_mod.MAX_CPU_ID - 1}"
                )
            if cpu.id in cell_of_cpu:
                raise exception.InvalidXML(
                    reason=f"CPU {cpu.id} is listed in host cell {cell_of_cpu[cpu.id]} and "
                    f"again in host cell {cell.id}; a CPU belongs to one cell once"
                )
            cell_of_cpu[cpu.id] = cell.id


def _siblings(cell: config.LibvirtConfigCapsNUMACell, used: set[int]) -> list[set[int]]:
    """The cell's SMT thread groups restricted to ``used``, unique, lowest CPU first.

    ``used`` holds every CPU a guest can run on (pinned vCPUs, floating vCPUs,
    emulator pool), not just the pinnable ones: a core whose other thread is a
    shared CPU is a two-thread core, and thread policy ``isolate`` must see it
    so. A CPU without a ``siblings`` attribute is a group of its own.
    """
    groups = {
        frozenset(cpu.siblings if cpu.siblings is not None else {cpu.id}) for cpu in cell.cpus
    }
    restricted = {group & used for group in groups}
    return sorted((set(group) for group in restricted if group), key=min)


def _socket(cell: config.LibvirtConfigCapsNUMACell) -> int | None:
    sockets = {cpu.socket_id for cpu in cell.cpus}
    if len(sockets) == 1:
        return sockets.pop()
    return None


def _mempages(cell: config.LibvirtConfigCapsNUMACell) -> list[objects.NUMAPagesTopology]:
    return [
        objects.NUMAPagesTopology(size_kb=pages.size, total=pages.total or 0)
        for pages in sorted(cell.mempages, key=lambda p: p.size)
    ]


class NetworkAffinity(NamedTuple):
    """Host cells local to each physnet (``physnets``) and to tunneled networks (``tunnel``)."""

    physnets: dict[str, frozenset[int]]
    tunnel: frozenset[int]


def network_affinity(conf: cfg.ConfigOpts, cell_ids: Iterable[int]) -> NetworkAffinity:
    """``[neutron] physnets`` with each ``[neutron_physnet_NAME] numa_nodes``, and
    ``[neutron_tunnel] numa_nodes`` (registering those options on ``conf`` first).

    :raises InvalidConfiguration: a physnet name twice or empty, or a NUMA node
        the host does not have (Nova silently keeps such a node).
    """
    os_numa_conf.register_network_opts(conf)
    known = set(cell_ids)
    names = list(conf.neutron.physnets)
    if len(set(names)) != len(names) or any(not name.strip() for name in names):
        raise exception.InvalidConfiguration(
            reason=f"[neutron] physnets={names!r}: each physnet must be named once, non-empty"
        )

    def nodes(group: str) -> frozenset[int]:
        values = frozenset(getattr(conf, group).numa_nodes or ())
        unknown = sorted(values - known)
        if unknown:
            raise exception.InvalidConfiguration(
                reason=f"[{group}] numa_nodes names NUMA node(s) "
                f"{cpuset_mod.format_cpu_spec(unknown)} the host does not have (its cells: "
                f"{cpuset_mod.format_cpu_spec(known) or 'none'})"
            )
        return values

    return NetworkAffinity(
        {name: nodes(f"neutron_physnet_{name}") for name in names}, nodes("neutron_tunnel")
    )


def host_topology_from_capabilities(
    caps_xml: str | bytes | config.LibvirtConfigCaps,
    cpu_dedicated_set: CPUSetLike | None = None,
    cpu_shared_set: CPUSetLike | None = None,
    conf: cfg.ConfigOpts | None = None,
    emulator_pin_set: CPUSetLike | None = None,
) -> objects.NUMATopology:
    """Build the host :class:`~os_numa.objects.NUMATopology` from capabilities.

    Per cell, from its online CPUs (offline CPUs are in no cell):

    - ``pcpuset`` = the cell's CPUs in ``cpu_dedicated_set``, ``cpuset`` = those in
      ``cpu_shared_set``. With neither set, both are every CPU of the cell; with
      only one of them, the other is empty (as in Nova).
    - ``siblings``: the SMT thread groups, de-duplicated, restricted to the CPUs
      guests use (``pcpuset``, ``cpuset`` and the emulator pool), empty groups
      dropped, sorted by lowest CPU. As in Nova, a thread no guest can use (in
      neither set) is left out; a shared CPU is kept, since it shares its core
      with the pCPU beside it: ``pcpuset`` restricts what may be pinned, not
      what shares a core.
    - ``memory`` in MiB, ``mempages`` from the ``<pages>`` pools (total pages),
      ``socket`` when every CPU of the cell is on the same socket, else None.
    - ``emulator_pool_cpus``: the cell's CPUs of ``emulator_pin_set`` (the
      emulator pool of ``hw:emulator_threads_policy=pool``), with
      ``emulator_pool_overcommit`` from ``[os_numa]``. Pool CPUs are never in
      ``pcpuset`` or ``cpuset``: with neither ``[compute]`` set, they are taken
      out of the "every CPU" default.

    - ``distances``: libvirt's distance to every cell (``<distances>``);
      ``physnets``/``tunneled``: the Neutron networks local to the cell
      (:func:`network_affinity`); ``cache_banks``: the cell's CPUs of each
      last-level cache bank (:mod:`os_numa.virt.libvirt.cache_banks`);
    - with ``[libvirt] cpu_power_management`` (``cpu_state``), dedicated pCPUs
      that power management took offline (absent from the capabilities) stay in
      their cell, as one-thread cores (:func:`os_numa.virt.libvirt.power.offline_dedicated`);
    - reserved memory (see :mod:`os_numa.virt.libvirt.reserved`): ``[DEFAULT]
      reserved_huge_pages`` sets ``NUMAPagesTopology.reserved``; ``[os_numa]
      reserved_host_memory_per_cell`` (or ``reserved_host_memory_spread``) takes
      host memory out of ``memory`` and reserves the small pages backing it.

    ``cpu_dedicated_set`` / ``cpu_shared_set`` are CPU specs (``"4-15,^8"``) or
    iterables of CPU ids; each one that is None is read from ``[compute]`` of
    ``conf`` (default :data:`os_numa.conf.CONF`); ``emulator_pin_set`` likewise
    from ``[os_numa] emulator_pin_set``.

    :raises InvalidConfiguration: the sets overlap (the emulator pool included),
        name CPUs that are not online, are malformed or empty; the message names
        the CPUs.
    :raises InvalidReservedMemoryPagesOption: ``reserved_huge_pages`` is
        malformed, names a cell or page size the host lacks, or more pages than
        the cell has.
    :raises InvalidXML: the document is malformed or describes an impossible host
        (cell ids beyond :data:`MAX_HOST_CELLS` or repeated, CPU ids beyond
        :data:`os_numa.cpuset.MAX_CPU_ID` or in two cells, negative sizes);
    :raises UnsafeXML: it is unsafe.
    """
    if isinstance(caps_xml, config.LibvirtConfigCaps):
        caps = caps_xml
    else:
        caps = config.LibvirtConfigCaps.parse_str(caps_xml)
    conf = os_numa_conf.CONF if conf is None else conf
    dedicated = _resolve_set(cpu_dedicated_set, "cpu_dedicated_set", conf)
    shared = _resolve_set(cpu_shared_set, "cpu_shared_set", conf)
    pool = _resolve_set(emulator_pin_set, "emulator_pin_set", conf, group="os_numa")

    cells = sorted(caps.cells, key=lambda cell: cell.id)
    _check_cells(cells)
    online: set[int] = set().union(*(cell.cpu_ids for cell in cells))
    powered_down = power.offline_dedicated(conf, dedicated, online, [c.id for c in cells])
    _check_sets(dedicated, shared, online | set(powered_down))
    _check_pool(pool, dedicated, shared, online)
    cell_ids = [cell.id for cell in cells]
    huge = reserved.parse_reserved_huge_pages(conf.reserved_huge_pages)
    reserved.check_nodes(
        huge,
        cell_ids,
        "[DEFAULT] reserved_huge_pages",
        lambda reason: exception.InvalidReservedMemoryPagesOption(
            conf=reserved.format_items(conf.reserved_huge_pages), reason=reason
        ),
    )
    network = network_affinity(conf, cell_ids)
    banks = cache_banks.last_level_banks(caps)
    host_memory = reserved.parse_reserved_memory(conf, cell_ids)
    reserved.check_nodes(
        host_memory,
        cell_ids,
        "[os_numa] reserved_host_memory_per_cell",
        lambda reason: exception.InvalidConfiguration(reason=reason),
    )

    result = []
    for cell in cells:
        cpus = cell.cpu_ids | {cpu for cpu, node in powered_down.items() if node == cell.id}
        if dedicated is None and shared is None:
            pcpuset, cpuset = cpus - (pool or set()), cpus - (pool or set())
        else:
            pcpuset = cpus & (dedicated or set())
            cpuset = cpus & (shared or set())
        mempages = _mempages(cell)
        memory = reserved.reserve_cell(
            cell.id,
            (cell.memory or 0) // 1024,
            mempages,
            huge.get(cell.id, {}),
            host_memory.get(cell.id, 0),
        )
        result.append(
            objects.NUMACell(
                id=cell.id,
                cpuset=cpuset,
                pcpuset=pcpuset,
                memory=memory,
                cpu_usage=0,
                memory_usage=0,
                pinned_cpus=set(),
                siblings=_siblings(cell, pcpuset | cpuset | (cpus & (pool or set()))),
                mempages=mempages,
                socket=_socket(cell),
                emulator_pool_cpus=cpus & (pool or set()),
                emulator_pool_guests={},
                emulator_pool_overcommit=conf.os_numa.emulator_pool_overcommit,
                distances={str(other): value for other, value in sorted(cell.distances.items())},
                physnets=sorted(
                    name for name, nodes in network.physnets.items() if cell.id in nodes
                ),
                tunneled=cell.id in network.tunnel,
                cache_banks=cache_banks.cell_cache_banks(banks, cpus),
            )
        )
    return objects.NUMATopology(cells=result)


class Host:
    """A libvirt host reached through libvirt-python, opened on first use.

    ``Host("qemu:///system")`` or ``Host("test:///default", read_only=True)``;
    ``conf`` supplies the ``[compute]`` CPU sets (default :data:`os_numa.conf.CONF`).
    Every libvirt failure is raised as :class:`~os_numa.exception.LibvirtConnectionError`
    naming the URI.
    """

    def __init__(self, uri: str, conf: cfg.ConfigOpts | None = None, read_only: bool = False):
        self.uri = uri
        self.conf = conf
        self.read_only = read_only
        self._conn: libvirt.virConnect | None = None

    @classmethod
    def from_connection(cls, conn: libvirt.virConnect, conf: cfg.ConfigOpts | None = None) -> Host:
        """A Host on an already open connection (a real ``virConnect`` or
        :class:`os_numa.testing.fake.FakeConnection`)."""
        uri = conn.getURI() if hasattr(conn, "getURI") else "<connection>"
        instance = cls(uri, conf=conf)
        instance._conn = conn
        return instance

    def get_connection(self) -> libvirt.virConnect:
        """The open ``virConnect``, opening it now if needed."""
        if self._conn is None:
            opener = libvirt.openReadOnly if self.read_only else libvirt.open
            try:
                self._conn = opener(self.uri)
            except libvirt.libvirtError as exc:
                raise exception.LibvirtConnectionError(uri=self.uri, reason=str(exc)) from exc
        return self._conn

    def get_capabilities(self) -> str:
        """The host's capabilities document, as libvirt returns it."""
        conn = self.get_connection()
        try:
            return conn.getCapabilities()
        except libvirt.libvirtError as exc:
            raise exception.LibvirtConnectionError(uri=self.uri, reason=str(exc)) from exc

    def get_host_topology(
        self,
        cpu_dedicated_set: CPUSetLike | None = None,
        cpu_shared_set: CPUSetLike | None = None,
    ) -> objects.NUMATopology:
        """:func:`host_topology_from_capabilities` of this host's capabilities."""
        return host_topology_from_capabilities(
            self.get_capabilities(), cpu_dedicated_set, cpu_shared_set, conf=self.conf
        )

    def close(self) -> None:
        """Close the connection if it is open; a later call opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
