"""``os-numa place --format xml``: the placement as a minimal libvirt domain.

The NUMA elements (``<vcpu cpuset>``, ``<cputune>``, ``<numatune>``,
``<cpu><numa>``, ``<memoryBacking>``) sit in the smallest ``<domain>`` libvirt
accepts, so the output parses as one document, validates against libvirt's
domain schema, and can be defined as is; a driver merges the NUMA elements
into its own domain.
"""

from __future__ import annotations

from typing import Any

from os_numa.objects.flavor import Flavor
from os_numa.virt.libvirt import config

#: Domain name used when the flavor has none.
DEFAULT_NAME = "os-numa-guest"


def build_domain(
    flavor: Flavor, numa_config: Any, memory_backing: Any
) -> config.LibvirtConfigGuest:
    """A :class:`LibvirtConfigGuest` carrying the guest NUMA configuration."""
    cputune = numa_config.cputune
    iothreads = 1 if cputune is not None and cputune.iothreadpin else 0
    cpu = None
    if numa_config.numaconfig is not None:
        cpu = config.LibvirtConfigGuestCPU(numa=numa_config.numaconfig)
    has_backing = memory_backing is not None and (
        memory_backing.hugepages or memory_backing.locked or not memory_backing.sharedpages
    )
    return config.LibvirtConfigGuest(
        name=flavor.name or DEFAULT_NAME,
        memory=flavor.memory_mb * 1024,
        vcpus=flavor.vcpus,
        cpuset=numa_config.cpuset,
        iothreads=iothreads,
        membacking=memory_backing if has_backing else None,
        cputune=cputune,
        numatune=numa_config.numatune,
        cpu=cpu,
    )


def domain_xml(flavor: Flavor, numa_config: Any, memory_backing: Any) -> str:
    """The domain document as pretty-printed text."""
    return build_domain(flavor, numa_config, memory_backing).to_xml()
