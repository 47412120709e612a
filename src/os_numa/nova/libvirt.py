"""The libvirt driver's ``<cputune>`` from os-numa (this module imports Nova).

:func:`get_guest_numa_config` replaces ``LibvirtDriver._get_guest_numa_config`` (see
:func:`os_numa.nova.install`). It lets Nova's method build what depends only on Nova's
host handling (the ``<vcpu cpuset>`` of guests without NUMA topology, the guest
``<numa>`` cells with their ``memAccess``, the ``<numatune>``: translations of the
placement, which os-numa's fit already chose), and replaces the ``<cputune>`` with
os-numa's: ``vcpupin`` (lowest-numbered shared CPUs of the cell for floating vCPUs),
``emulatorpin`` and ``iothreadpin`` by os-numa's emulator rules (``isolate``: the reserved
pCPU; ``share``: ``[compute] cpu_shared_set`` local to the guest's cells unless
``[os_numa] emulator_share_locality = host``; an empty set is refused, never written),
and ``vcpusched`` for the realtime vCPUs.
"""

from __future__ import annotations

from typing import Any

from nova.virt.libvirt import config as vconfig
from nova.virt.libvirt import driver as nova_driver

from os_numa import conf as os_numa_conf
from os_numa import objects
from os_numa.constraints import placement_policy
from os_numa.nova import objects as bridge
from os_numa.nova.errors import as_nova
from os_numa.nova.hardware import _get, _specs
from os_numa.virt.libvirt import driver as os_numa_driver

#: The method of ``nova.virt.libvirt.driver.LibvirtDriver`` that :func:`install` replaces.
REPLACES = ("_get_guest_numa_config",)


def get_guest_numa_config(original, driver: Any, instance_numa_topology, flavor, image_meta):
    """``LibvirtDriver._get_guest_numa_config`` with os-numa's ``<cputune>``.

    ``original`` is Nova's method (bound by :func:`os_numa.nova.patch.install`).
    """
    result = original(driver, instance_numa_topology, flavor, image_meta)
    if result.cputune is None or instance_numa_topology is None:
        return result
    topology = bridge.instance_topology_from_nova(instance_numa_topology)
    guest_flavor = _guest_flavor(flavor, topology)
    image = bridge.image_meta_from_nova(image_meta)
    with as_nova():
        # Nova's placement has no realtime vCPUs, priority, locked memory or memory
        # policy: this edge holds the flavor and image, and fills them once.
        topology = placement_policy.with_flavor_policy(topology, guest_flavor, image)
        ours = os_numa_driver.get_guest_numa_config(
            topology,
            guest_flavor,
            image,
            host_topology=bridge.host_topology_from_nova(driver._get_host_numa_topology()),
            conf=os_numa_conf.CONF,
        )
    cputune = to_nova_cputune(ours.cputune, iothreads=driver._get_guest_iothread())
    return nova_driver.GuestNumaConfig(result.cpuset, cputune, result.numaconfig, result.numatune)


def _guest_flavor(flavor: Any, topology) -> objects.Flavor:
    """The flavor for the guest XML: Nova's method reads only its extra specs, so a flavor
    without sizes (Nova's tests pass ``{}``) takes the placement's vCPU count and memory."""
    vcpus = _get(flavor, "vcpus")
    memory_mb = _get(flavor, "memory_mb")
    return objects.Flavor(
        vcpus=int(vcpus) if vcpus else sum(len(c.cpuset | c.pcpuset) for c in topology.cells),
        memory_mb=int(memory_mb) if memory_mb else sum(c.memory for c in topology.cells),
        extra_specs=_specs(flavor),
    )


def to_nova_cputune(cputune, iothreads: int) -> vconfig.LibvirtConfigGuestCPUTune:
    """Nova's ``LibvirtConfigGuestCPUTune`` for os-numa's (``iothreads`` pins, as Nova's
    driver writes one per I/O thread it configures, each on the emulator CPUs)."""
    tune = vconfig.LibvirtConfigGuestCPUTune()
    tune.emulatorpin = vconfig.LibvirtConfigGuestCPUTuneEmulatorPin()
    tune.emulatorpin.cpuset = set(cputune.emulatorpin.cpuset)
    for pin in cputune.vcpupin:
        nova_pin = vconfig.LibvirtConfigGuestCPUTuneVCPUPin()
        nova_pin.id, nova_pin.cpuset = pin.id, set(pin.cpuset)
        tune.vcpupin.append(nova_pin)
    for number in range(iothreads):
        iothread = vconfig.LibvirtConfigGuestCPUTuneIOThreadPin()
        iothread.iothread, iothread.cpuset = number + 1, tune.emulatorpin.cpuset
        tune.iothreadpin.append(iothread)
    for sched in cputune.vcpusched:
        nova_sched = vconfig.LibvirtConfigGuestCPUTuneVCPUSched()
        nova_sched.vcpus = set(sched.vcpus)
        nova_sched.scheduler, nova_sched.priority = sched.scheduler, sched.priority
        tune.vcpusched.append(nova_sched)
    return tune
