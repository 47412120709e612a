"""Place a guest on a libvirt host and print the domain XML that pins it there.

Usage: python guest_numa_xml.py [URI | capabilities.xml]   (default: qemu:///system)
"""

import pathlib
import sys

import libvirt

from os_numa import hardware, objects
from os_numa.virt.libvirt import config, driver, host

source = sys.argv[1] if len(sys.argv) > 1 else "qemu:///system"
if pathlib.Path(source).is_file():
    caps = pathlib.Path(source).read_text()  # e.g. saved with `virsh capabilities`
else:
    conn = libvirt.openReadOnly(source)
    caps = conn.getCapabilities()
    conn.close()

flavor = objects.Flavor(
    vcpus=2,
    memory_mb=1024,
    extra_specs={"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
)

# 1. The host's cells, CPUs, SMT siblings and pages ([compute] CPU sets from the config).
host_topology = host.host_topology_from_capabilities(caps)

# 2. The flavor's request, fitted onto the host (None when it does not fit).
request = hardware.numa_get_constraints(flavor, None)
placement = hardware.numa_fit_instance_to_host(host_topology, request)
if placement is None:
    sys.exit(str(hardware.explain_fit(host_topology, request)))

# 3. The elements that make libvirt enforce the placement.
numa = driver.get_guest_numa_config(placement, flavor, None, host_topology)
membacking = driver.get_guest_memory_backing_config(placement, flavor, None, host_topology)

print(f"<iothreads>{driver.IOTHREAD_ID}</iothreads>")  # the <iothreadpin> needs it declared
for element in (
    membacking,
    numa.cputune,
    numa.numatune,
    config.LibvirtConfigGuestCPU(numa=numa.numaconfig),
):
    if element is not None:
        print(element.to_xml(), end="")
