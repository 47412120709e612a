"""``install()`` / ``uninstall()``: os-numa in place of Nova's NUMA functions.

Nova has no plug-in point for its compute-side NUMA code, so :func:`install` replaces,
explicitly and reversibly, the module attributes named in
:data:`os_numa.nova.hardware.REPLACES` (``nova.virt.hardware``) and the libvirt driver's
methods named in :data:`os_numa.nova.libvirt.REPLACES`. Every caller that looks the
function up through the module (``hardware.numa_fit_instance_to_host(...)``, which is how
Nova's API, scheduler, conductor, resource tracker and libvirt driver call them) then runs
os-numa. The originals are kept and :func:`uninstall` puts them back.
"""

from __future__ import annotations

import functools
import threading

from nova.virt import hardware as nova_hardware
from nova.virt.libvirt import driver as nova_driver

from os_numa.nova import hardware, libvirt

_LOCK = threading.Lock()
#: name -> Nova's original, while installed.
_ORIGINALS: dict[str, object] = {}


_DRIVER = nova_driver.LibvirtDriver
_DRIVER_PREFIX = "LibvirtDriver."


def install() -> list[str]:
    """Replace Nova's NUMA functions with os-numa's; idempotent. Returns the names replaced
    (``nova.virt.hardware`` functions, and ``LibvirtDriver.<method>``)."""
    with _LOCK:
        for name in hardware.REPLACES:
            if name not in _ORIGINALS:
                _ORIGINALS[name] = getattr(nova_hardware, name)
                setattr(nova_hardware, name, getattr(hardware, name))
        for name in libvirt.REPLACES:
            key = _DRIVER_PREFIX + name
            if key not in _ORIGINALS:
                original = getattr(_DRIVER, name)
                _ORIGINALS[key] = original
                setattr(_DRIVER, name, _method(original))
        return sorted(_ORIGINALS)


def _method(original):
    @functools.wraps(original)
    def method(self, instance_numa_topology, flavor, image_meta):
        return libvirt.get_guest_numa_config(
            original, self, instance_numa_topology, flavor, image_meta
        )

    return method


def uninstall() -> None:
    """Put Nova's original functions back; idempotent."""
    with _LOCK:
        for name, original in _ORIGINALS.items():
            if name.startswith(_DRIVER_PREFIX):
                setattr(_DRIVER, name.removeprefix(_DRIVER_PREFIX), original)
            else:
                setattr(nova_hardware, name, original)
        _ORIGINALS.clear()


def installed() -> bool:
    """Whether os-numa currently answers in place of Nova."""
    return bool(_ORIGINALS)


def original(name: str):
    """Nova's own function ``name`` (also while os-numa is installed)."""
    return _ORIGINALS.get(name) or getattr(nova_hardware, name)


__all__ = ["install", "installed", "original", "uninstall"]
