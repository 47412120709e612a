"""Where ``os-numa`` gets its host: a capabilities file, a libvirt URI or the built-in server."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import libvirt
from oslo_config import cfg

from os_numa import conf as conf_mod
from os_numa import exception
from os_numa.cmd import existing, inputfile
from os_numa.fit import verify
from os_numa.hardware import numa_usage_from_instance_numa
from os_numa.objects.numa import NUMATopology
from os_numa.pci.devices import (
    MAX_DOCUMENT_BYTES,
    PciAddress,
    PciDevice,
    devices_from_documents,
)
from os_numa.pci.stats import PciDeviceStats
from os_numa.smt import cores_of
from os_numa.virt.libvirt import config
from os_numa.virt.libvirt import host as libvirt_host

#: The package data file describing the built-in host.
DEFAULT_HOST = "default-host.xml"
#: Largest capabilities document read from a file, in bytes.
MAX_CAPABILITIES_BYTES = 32 * 1024 * 1024


def default_capabilities() -> str:
    """The built-in host: 2 sockets x 8 cores x 2 threads, one cell per socket."""
    return resources.files("os_numa").joinpath("data").joinpath(DEFAULT_HOST).read_text("utf-8")


def read_capabilities(path: str) -> str:
    """A capabilities document from a file (``-``: standard input), bounded in size.

    :raises InvalidXML: unreadable, too large or not UTF-8.
    """
    return inputfile.read_text(path, MAX_CAPABILITIES_BYTES, exception.InvalidXML, "capabilities")


def parse_capabilities(xml: str, source: str | None = None) -> config.LibvirtConfigCaps:
    """The parsed capabilities; an error names ``source`` (the file) when given.

    :raises InvalidXML: malformed, or a value of the wrong kind (the field is named).
    :raises UnsafeXML: entities or an external DTD.
    """
    try:
        return config.LibvirtConfigCaps.parse_str(xml)
    except exception.InvalidXML as exc:
        if source is None:
            raise
        reason = exc.kwargs.get("reason", exc)
        raise type(exc)(reason=f"capabilities {source}: {reason}") from exc


def load_pci_devices(paths: list[str] | tuple[str, ...]) -> list[PciDevice]:
    """The devices of ``--pci-devices`` files (``-``: standard input), each bounded.

    :raises InvalidXML: a file is unreadable, too large or malformed, or a
        device is listed twice.
    """
    return devices_from_documents(
        (
            inputfile.display_name(path),
            inputfile.read_bytes(path, MAX_DOCUMENT_BYTES, exception.InvalidXML, "--pci-devices"),
        )
        for path in paths
    )


@dataclass(frozen=True)
class HostView:
    """A host as the command sees it: the topology (existing claims applied) and
    every online CPU per cell grouped into cores, including CPUs that the CPU
    sets keep away from guests, which the topology itself leaves out; and the
    host's PCI devices with their use, when device files were given."""

    topology: NUMATopology
    cores: dict[int, list[list[int]]]
    pci_stats: PciDeviceStats | None = None


def cores_from_capabilities(caps: config.LibvirtConfigCaps) -> dict[int, list[list[int]]]:
    """{cell id: [sorted thread ids per core]} for every online CPU, cores by lowest CPU."""
    layout: dict[int, list[list[int]]] = {}
    for cell in caps.cells:
        online = {cpu.id for cpu in cell.cpus}
        siblings = (cpu.siblings or {cpu.id} for cpu in cell.cpus)
        layout[cell.id] = [list(core) for core in cores_of(siblings, online)]
    return layout


def silence_libvirt() -> None:
    """libvirt prints every error to stderr itself; the command reports it once, typed."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def load_host(
    capabilities: str | None = None,
    connect: str | None = None,
    cpu_dedicated_set: str | None = None,
    cpu_shared_set: str | None = None,
    existing_files: list[str] | tuple[str, ...] = (),
    pci_device_files: list[str] | tuple[str, ...] = (),
    conf: cfg.ConfigOpts | None = None,
) -> HostView:
    """The host with every ``--existing`` placement already claimed.

    ``conf`` supplies the options the host topology reads (the ``[compute]`` CPU
    sets when the arguments are None, ``[os_numa]`` emulator pool); default: an
    empty configuration, never the process's global one.

    :raises OsNumaError: bad XML, a bad CPU set, an unreachable URI, or an
        existing placement that cannot be claimed (e.g. a pCPU or a PCI device
        used twice).
    """
    inputfile.check_one_stdin(
        {
            "--capabilities": [capabilities] if capabilities is not None else [],
            "--existing": list(existing_files),
            "--pci-devices": list(pci_device_files),
        }
    )
    source = None
    # An empty argument (an unset shell variable) is an error, never the built-in host.
    if connect is not None:
        if not connect.strip():
            raise exception.InvalidRequest(
                reason="--connect needs a libvirt URI such as qemu:///system, not ''"
            )
        silence_libvirt()
        with libvirt_host.Host(connect, conf=conf, read_only=True) as libvirt_conn:
            xml = libvirt_conn.get_capabilities()
    elif capabilities is not None:
        xml = read_capabilities(capabilities)
        source = inputfile.display_name(capabilities)
    else:
        xml = default_capabilities()
    caps = parse_capabilities(xml, source)
    topology = libvirt_host.host_topology_from_capabilities(
        caps, cpu_dedicated_set, cpu_shared_set, conf=conf or conf_mod.make_conf()
    )
    if not topology.cells:
        # libvirt always reports at least one cell; none means a wrong document.
        raise exception.InvalidXML(
            reason="the capabilities describe no NUMA cell (<host><topology><cells>); "
            "give what 'virsh capabilities' prints"
        )
    pci_stats = PciDeviceStats(load_pci_devices(pci_device_files)) if pci_device_files else None
    for path in existing_files:
        placements = existing.load_existing(path)
        existing.check_host_cells(topology, placements)
        for index, placement in enumerate(placements):
            # A placement a fresh claim could not have made is refused, naming the rule.
            verify.check_placement(topology, placement, instance=f"{path}, entry {index}")
            try:
                topology = numa_usage_from_instance_numa(topology, placement)
                if pci_stats is not None:
                    pci_stats.claim(PciAddress.parse(d.address) for d in placement.pci_devices)
            except (exception.Invalid, exception.NotFound) as exc:
                name = inputfile.display_name(path)
                raise exception.InvalidRequest(
                    reason=f"--existing {name}, entry {index}, cannot be claimed: {exc}"
                ) from exc
    return HostView(topology, cores_from_capabilities(caps), pci_stats)
