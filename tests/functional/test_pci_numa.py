"""PCI devices placed with NUMA affinity, written as XML, checked by libvirt's real QEMU driver.

The devices of the sample two-socket host do not exist here, so no guest can
start with them; instead the real QEMU driver defines the domain (its own PCI
address and controller checks, stricter than the test driver's) and turns it
into QEMU's command line, which shows each ``pxb-pcie`` bound to the guest NUMA
node and each ``vfio-pci`` device behind a root port on that bus.
"""

from __future__ import annotations

import json
import shutil

import libvirt
import pytest

from os_numa import hardware, objects
from os_numa.pci import request
from os_numa.testing import libvirtd
from os_numa.virt.libvirt import driver
from os_numa.virt.libvirt.config_devices import LibvirtConfigGuestHostdevPCI
from tests.fixtures_topology import sample_host
from tests.pci.builders import sample_stats

pytestmark = pytest.mark.functional

ALIASES = request.parse_aliases(
    ['{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}']
)


def _qemu_devices(argv: str) -> dict[str, dict]:
    """QEMU's -device JSON objects by id."""
    found = {}
    for word in argv.split():
        text = word.strip("'")
        if text.startswith("{") and '"driver"' in text:
            obj = json.loads(text)
            found[obj.get("id")] = obj
    return found


def test_devices_sit_on_their_guest_nodes_expander_bus(qemu_host):
    host = sample_host()
    stats = sample_stats()
    flavor = objects.Flavor(
        vcpus=4,
        memory_mb=256,
        extra_specs={
            "hw:cpu_policy": "dedicated",
            "hw:numa_nodes": "2",
            "pci_passthrough:alias": "vf:5",
            "hw:pci_numa_affinity_policy": "required",
        },
    )
    requests = request.get_pci_requests(flavor, None, aliases=ALIASES)
    placement = hardware.numa_fit_instance_to_host(
        host, hardware.numa_get_constraints(flavor, None), pci_requests=requests, pci_stats=stats
    )
    # 5 VFs need both host cells (4 free on each): guest cell 0 gets 4, guest cell 1 one.
    by_cell = {}
    for dev in placement.pci_devices:
        by_cell.setdefault(dev.guest_cell, []).append(dev.address)
    assert {cell: len(addrs) for cell, addrs in by_cell.items()} == {0: 4, 1: 1}

    # build_guest adds the expander buses, root ports and hostdevs, on a q35 machine.
    guest = driver.build_guest(placement, flavor, None, host, name="pci-numa", virt_type="qemu")
    assert guest.os_machine == "q35"
    guest.os_arch = "x86_64"
    # The sample host's nodes and pCPUs do not exist here; QEMU's command line needs
    # only the guest's own NUMA cells, so host binding is left out of this check.
    guest.numatune, guest.cputune, guest.cpuset = None, None, None
    hostdevs = [d for d in guest.devices if isinstance(d, LibvirtConfigGuestHostdevPCI)]
    assert len(hostdevs) == 5
    for hostdev in hostdevs:
        hostdev.driver_name = "vfio"  # lets the driver build a command line for absent devices
    guest.devices.append(f"<emulator>{shutil.which(libvirtd.QEMU_BINARY)}</emulator>")

    conn = qemu_host.conn
    dom = conn.defineXMLFlags(guest.to_xml(), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        argv = conn.domainXMLToNative("qemu-argv", dom.XMLDesc(), 0)
    finally:
        dom.undefine()
    qemu = _qemu_devices(argv)
    node_of_bus = {
        dev_id: obj["numa_node"] for dev_id, obj in qemu.items() if obj["driver"] == "pxb-pcie"
    }
    port_bus = {
        dev_id: obj["bus"] for dev_id, obj in qemu.items() if obj["driver"] == "pcie-root-port"
    }
    seen = {}
    for obj in qemu.values():
        if obj["driver"] == "vfio-pci":
            seen[obj["host"]] = node_of_bus[port_bus[obj["bus"]]]
    assert seen == {addr: cell for cell, addrs in by_cell.items() for addr in addrs}
