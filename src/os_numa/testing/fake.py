"""A fake libvirt host for downstream drivers' unit tests.

:class:`HostInfo` describes a host (NUMA nodes, sockets, cores, threads,
memory, huge pages) and renders the capabilities document libvirt would
return for it; the document validates against libvirt's ``capability.rng``.
:class:`FakeConnection` answers the few ``virConnect`` calls a driver makes to
learn about the host. :class:`FakeHost` bundles both with the host NUMA
topology that os-numa derives from them.

CPU ids are numbered node by node, socket by socket, core by core, with the
threads of a core consecutive: on ``HostInfo(cpu_nodes=2, cpu_cores=2,
cpu_threads=2)`` node 0 has CPUs 0-3 with siblings {0,1} and {2,3}.
"""

from __future__ import annotations

import dataclasses
import uuid as uuid_mod

import libvirt
from oslo_config import cfg

from os_numa import conf as os_numa_conf
from os_numa import cpuset, exception, objects
from os_numa.virt.libvirt import config, host
from os_numa.virt.libvirt.host import CPUSetLike

#: Default memory, in KiB, of the whole fake host (16 GiB).
DEFAULT_KB_MEM = 16 * 1024 * 1024

_GUEST_BLOCK = (
    "<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>"
    "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
    "<machine maxCpus='288'>pc-q35-7.2</machine>"
    "<machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>"
    "<domain type='qemu'/><domain type='kvm'/></arch></guest>"
)


@dataclasses.dataclass(frozen=True)
class HostInfo:
    """The shape of a fake host.

    ``cpu_sockets``, ``cpu_cores`` and ``cpu_threads`` are per NUMA node (as
    libvirt reports a host's ``<topology>``), so the host has
    ``cpu_nodes * cpu_sockets * cpu_cores * cpu_threads`` CPUs. ``kB_mem`` is
    the whole host's memory in KiB, split evenly over the nodes.
    ``mempages`` maps a huge page size in KiB to the pool size *per node*,
    e.g. ``{2048: 512}``; the 4 KiB pool holds the rest of each node's memory.

    :raises Invalid: a count is not a positive integer, the host would have more
        than :data:`~os_numa.virt.libvirt.host.MAX_HOST_CELLS` nodes or
        :data:`~os_numa.cpuset.MAX_CPU_ID` CPUs, or the huge pages do not fit in a
        node's memory.
    """

    cpu_nodes: int = 1
    cpu_sockets: int = 1
    cpu_cores: int = 2
    cpu_threads: int = 1
    kB_mem: int = DEFAULT_KB_MEM  # noqa: N815 - Nova's fakelibvirt spelling
    mempages: dict[int, int] | None = None
    hostname: str = "os-numa-fake-host"
    host_uuid: str = "3f4d9b6c-8a1e-4c7b-9d2f-0e5a6b7c8d9e"

    def __post_init__(self):
        for name in ("cpu_nodes", "cpu_sockets", "cpu_cores", "cpu_threads", "kB_mem"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise exception.Invalid(
                    reason=f"HostInfo {name}={value!r}: a positive integer is required"
                )
        if self.cpu_nodes > host.MAX_HOST_CELLS:
            raise exception.Invalid(
                reason=f"HostInfo cpu_nodes={self.cpu_nodes}: at most {host.MAX_HOST_CELLS} "
                "NUMA nodes"
            )
        if self.total_cpus > cpuset.MAX_CPU_ID:
            raise exception.Invalid(
                reason=f"HostInfo has {self.total_cpus} CPUs (cpu_nodes x cpu_sockets x "
                f"cpu_cores x cpu_threads); at most {cpuset.MAX_CPU_ID}"
            )
        pages = dict(self.mempages or {})
        for size, count in pages.items():
            if not isinstance(size, int) or size <= 4 or not isinstance(count, int) or count < 0:
                raise exception.Invalid(
                    reason=f"HostInfo mempages {{{size!r}: {count!r}}}: sizes are KiB above 4, "
                    "counts are non-negative integers"
                )
        huge_kb = sum(size * count for size, count in pages.items())
        if huge_kb > self.node_kb:
            raise exception.Invalid(
                reason=f"HostInfo mempages {pages} hold {huge_kb} KiB per node, more than a "
                f"node's {self.node_kb} KiB"
            )
        uuid_mod.UUID(self.host_uuid)

    @property
    def cpus_per_node(self) -> int:
        return self.cpu_sockets * self.cpu_cores * self.cpu_threads

    @property
    def total_cpus(self) -> int:
        return self.cpu_nodes * self.cpus_per_node

    @property
    def node_kb(self) -> int:
        """Memory of one node, KiB."""
        return self.kB_mem // self.cpu_nodes

    def _cell(self, node: int) -> config.LibvirtConfigCapsNUMACell:
        cpus: list[config.LibvirtConfigCapsNUMACPU] = []
        first = node * self.cpus_per_node
        for socket in range(self.cpu_sockets):
            for core in range(self.cpu_cores):
                core_first = first + (socket * self.cpu_cores + core) * self.cpu_threads
                siblings = set(range(core_first, core_first + self.cpu_threads))
                cpus.extend(
                    config.LibvirtConfigCapsNUMACPU(
                        id=cpu,
                        socket_id=node * self.cpu_sockets + socket,
                        die_id=0,
                        core_id=core,
                        siblings=siblings,
                    )
                    for cpu in sorted(siblings)
                )
        huge = dict(sorted((self.mempages or {}).items()))
        small = (self.node_kb - sum(size * count for size, count in huge.items())) // 4
        return config.LibvirtConfigCapsNUMACell(
            id=node,
            memory=self.node_kb,
            mempages=[
                config.LibvirtConfigCapsNUMAPages(size, total)
                for size, total in {4: small, **huge}.items()
            ],
            distances={other: 10 if other == node else 20 for other in range(self.cpu_nodes)},
            cpus=cpus,
        )

    def capabilities(self) -> config.LibvirtConfigCaps:
        """The capabilities document as :class:`~os_numa.virt.libvirt.config.LibvirtConfigCaps`."""
        page_sizes = [4, *sorted(self.mempages or {})]
        cpu = config.LibvirtConfigCapsHostCPU(
            arch="x86_64",
            model="Skylake-Server-IBRS",
            vendor="Intel",
            sockets=self.cpu_sockets,
            dies=1,
            cores=self.cpu_cores,
            threads=self.cpu_threads,
            extra_children=[
                ("topology", f"<pages unit='KiB' size='{size}'/>") for size in page_sizes
            ],
        )
        return config.LibvirtConfigCaps(
            host=config.LibvirtConfigCapsHost(
                uuid=self.host_uuid,
                cpu=cpu,
                topology=config.LibvirtConfigCapsNUMATopology(
                    [self._cell(node) for node in range(self.cpu_nodes)]
                ),
                extra_children=[
                    ("topology", "<secmodel><model>none</model><doi>0</doi></secmodel>")
                ],
            ),
            extra_children=[("host", _GUEST_BLOCK)],
        )

    def to_xml(self) -> str:
        """The capabilities document as text, as ``virConnect.getCapabilities()`` returns it."""
        return self.capabilities().to_xml()

    def get_info(self) -> list:
        """``virConnect.getInfo()``: arch, memory MiB, CPUs, MHz, nodes, sockets, cores, threads."""
        return [
            "x86_64",
            self.kB_mem // 1024,
            self.total_cpus,
            2800,
            self.cpu_nodes,
            self.cpu_sockets,
            self.cpu_cores,
            self.cpu_threads,
        ]


class FakeConnection:
    """The ``virConnect`` calls a driver uses to learn about its host, answered
    from a :class:`HostInfo`. Calls on a closed connection raise
    ``libvirt.libvirtError``, as libvirt-python does."""

    def __init__(self, host_info: HostInfo | None = None, uri: str = "test:///os-numa-fake"):
        self.host_info = host_info if host_info is not None else HostInfo()
        self.uri = uri
        self._caps_xml = self.host_info.to_xml()
        self._open = True

    def _check_open(self) -> None:
        if not self._open:
            raise libvirt.libvirtError(f"the fake connection to {self.uri} is closed")

    def getCapabilities(self) -> str:  # noqa: N802 - libvirt-python's names
        self._check_open()
        return self._caps_xml

    def getInfo(self) -> list:  # noqa: N802
        self._check_open()
        return self.host_info.get_info()

    def getHostname(self) -> str:  # noqa: N802
        self._check_open()
        return self.host_info.hostname

    def getURI(self) -> str:  # noqa: N802
        self._check_open()
        return self.uri

    def isAlive(self) -> int:  # noqa: N802
        return 1 if self._open else 0

    def close(self) -> int:
        self._open = False
        return 0


@dataclasses.dataclass
class FakeHost:
    """A fake host for a test: its :class:`HostInfo`, a :class:`FakeConnection`
    and the capabilities text; :meth:`topology` gives os-numa's view of it."""

    host_info: HostInfo
    conn: FakeConnection

    @classmethod
    def create(cls, **host_info) -> FakeHost:
        """``FakeHost.create(cpu_nodes=2, cpu_cores=4, cpu_threads=2)``."""
        info = HostInfo(**host_info)
        return cls(host_info=info, conn=FakeConnection(info))

    @property
    def caps_xml(self) -> str:
        return self.conn.getCapabilities()

    @property
    def host(self) -> host.Host:
        """An os-numa :class:`~os_numa.virt.libvirt.host.Host` on this fake connection."""
        return host.Host.from_connection(self.conn, conf=os_numa_conf.make_conf())

    def topology(
        self,
        cpu_dedicated_set: CPUSetLike | None = None,
        cpu_shared_set: CPUSetLike | None = None,
        conf: cfg.ConfigOpts | None = None,
    ) -> objects.NUMATopology:
        """The host NUMA topology for these ``[compute]`` sets.

        Unlike :func:`~os_numa.virt.libvirt.host.host_topology_from_capabilities`,
        a missing ``conf`` means a fresh one, so the global configuration never
        leaks into a test.
        """
        return host.host_topology_from_capabilities(
            self.caps_xml,
            cpu_dedicated_set,
            cpu_shared_set,
            conf=conf if conf is not None else os_numa_conf.make_conf(),
        )

    def close(self) -> None:
        self.conn.close()
