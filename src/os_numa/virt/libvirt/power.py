"""Power management of dedicated pCPUs: down while idle, up before a guest is pinned.

Nova's ``[libvirt] cpu_power_management`` (2023.1): with the ``cpu_state``
strategy an idle pCPU of ``[compute] cpu_dedicated_set`` is taken offline
(``devices/system/cpu/cpuN/online`` = 0; CPU 0 never is), with ``governor`` its
``cpufreq/scaling_governor`` is set to ``cpu_power_governor_low``; powering up
reverses that (``cpu_power_governor_high``). The pCPUs of a placement are its
pins **and** its reserved emulator/I/O thread pCPUs (as Nova since bug 2056612).

Everything goes through ``[os_numa] sysfs_root`` (default ``/sys``), so tests
point it at a fake tree (:mod:`os_numa.testing.sysfs`), and nothing is touched
unless ``cpu_power_management`` is True. Every read is bounded; every failure
is a :class:`~os_numa.exception.CPUPowerManagementError` naming the CPU and file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from oslo_config import cfg

from os_numa import conf as os_numa_conf
from os_numa import cpuset, exception

#: Longest sysfs value read (``online`` is 2 bytes, a governor name < 32).
MAX_VALUE_BYTES = 256
CPU_STATE = "cpu_state"
GOVERNOR = "governor"


class SysfsCPUs:
    """The CPU files of one sysfs tree."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, cpu: int, name: str) -> str:
        return os.path.join(self.root, "devices", "system", "cpu", f"cpu{int(cpu)}", name)

    def _read(self, cpu: int, name: str) -> str | None:
        path = self._path(cpu, name)
        try:
            with open(path, encoding="ascii") as handle:
                return handle.read(MAX_VALUE_BYTES).strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise exception.CPUPowerManagementError(cpu=cpu, reason=f"{path}: {exc}") from exc

    def _write(self, cpu: int, name: str, value: str) -> None:
        path = self._path(cpu, name)
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as exc:
            raise exception.CPUPowerManagementError(
                cpu=cpu, reason=f"writing {value!r} to {path}: {exc}"
            ) from exc

    def present(self) -> set[int]:
        """``devices/system/cpu/present``: every CPU the kernel knows, online or not."""
        path = os.path.join(self.root, "devices", "system", "cpu", "present")
        try:
            with open(path, encoding="ascii") as handle:
                return cpuset.parse_cpu_spec(handle.read(MAX_VALUE_BYTES).strip())
        except (OSError, UnicodeDecodeError, exception.InvalidCPUSpec) as exc:
            raise exception.CPUPowerManagementError(cpu="*", reason=f"{path}: {exc}") from exc

    def online(self, cpu: int) -> bool:
        """Without an ``online`` file (CPU 0 on x86) the CPU is online."""
        return self._read(cpu, "online") != "0"

    def set_online(self, cpu: int, online: bool) -> None:
        self._write(cpu, "online", "1" if online else "0")
        if self.online(cpu) != online:
            raise exception.CPUPowerManagementError(
                cpu=cpu, reason=f"the kernel kept it {'offline' if online else 'online'}"
            )

    def governor(self, cpu: int) -> str | None:
        return self._read(cpu, "cpufreq/scaling_governor")

    def set_governor(self, cpu: int, governor: str) -> None:
        self._write(cpu, "cpufreq/scaling_governor", governor)
        if self.governor(cpu) != governor:
            raise exception.CPUPowerManagementError(
                cpu=cpu, reason=f"the governor stayed {self.governor(cpu)!r}, not {governor!r}"
            )

    def node_of(self, cpu: int) -> int | None:
        """The NUMA node of ``cpu`` from its ``nodeN`` entry, or None."""
        directory = os.path.dirname(self._path(cpu, "online"))
        try:
            names = os.listdir(directory)
        except OSError:
            return None
        nodes = [n[4:] for n in names if n.startswith("node") and n[4:].isdigit()]
        return int(nodes[0]) if len(nodes) == 1 else None


class CPUPowerManager:
    """Powers the dedicated pCPUs of one host up and down (see the module).

    ``conf`` supplies ``[libvirt] cpu_power_management*``, ``[compute]
    cpu_dedicated_set`` and ``[os_numa] sysfs_root`` (default
    :data:`os_numa.conf.CONF`). Every method does nothing when
    ``cpu_power_management`` is False.
    """

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = os_numa_conf.CONF if conf is None else conf
        self.sysfs = SysfsCPUs(self.conf.os_numa.sysfs_root)

    @property
    def enabled(self) -> bool:
        return bool(self.conf.libvirt.cpu_power_management)

    @property
    def strategy(self) -> str:
        return self.conf.libvirt.cpu_power_management_strategy

    def managed(self) -> set[int]:
        """The pCPUs power management may touch: ``cpu_dedicated_set`` (less CPU 0 with
        ``cpu_state``, which Linux cannot take offline)."""
        dedicated = os_numa_conf.parse_cpu_set_option(self.conf, "compute", "cpu_dedicated_set")
        if dedicated is None:
            return set()
        return dedicated - {0} if self.strategy == CPU_STATE else set(dedicated)

    def power_up(self, cpus: Iterable[int]) -> set[int]:
        """Bring ``cpus`` (those managed) up; returns the CPUs touched."""
        return self._set(cpus, up=True)

    def power_down(self, cpus: Iterable[int]) -> set[int]:
        """Take ``cpus`` (those managed) down; returns the CPUs touched."""
        return self._set(cpus, up=False)

    def _set(self, cpus: Iterable[int], up: bool) -> set[int]:
        if not self.enabled:
            return set()
        touched = sorted(set(cpus) & self.managed())
        for cpu in touched:
            if self.strategy == CPU_STATE:
                if self.sysfs.online(cpu) != up:
                    self.sysfs.set_online(cpu, up)
            else:
                governor = self.conf.libvirt[
                    "cpu_power_governor_high" if up else "cpu_power_governor_low"
                ]
                self.sysfs.set_governor(cpu, governor)
        return set(touched)

    def power_up_for_placement(self, placement: Any) -> set[int]:
        """Before a guest starts: its pins and reserved (emulator, I/O thread) pCPUs up."""
        return self.power_up(_placement_pcpus(placement))

    def power_down_for_placement(self, placement: Any) -> set[int]:
        """After a guest is gone: its pins and reserved pCPUs down."""
        return self.power_down(_placement_pcpus(placement))

    def power_down_idle(self, host_topology: Any) -> set[int]:
        """At start-up: every managed pCPU no guest is pinned to goes down."""
        pinned = {cpu for cell in host_topology.cells for cpu in cell.pinned_cpus}
        return self.power_down(self.managed() - pinned)

    def offline(self) -> set[int]:
        """Managed pCPUs that are offline now (empty unless ``cpu_state`` is in use)."""
        if not self.enabled or self.strategy != CPU_STATE:
            return set()
        return {cpu for cpu in self.managed() if not self.sysfs.online(cpu)}

    def validate(self) -> None:
        """Nova's start-up check: with ``cpu_state`` the online managed pCPUs share one
        governor; with ``governor`` every managed pCPU is online.

        :raises InvalidConfiguration: naming the CPUs that disagree.
        """
        if not self.enabled:
            return
        cpus = sorted(self.managed())
        if self.strategy == CPU_STATE:
            governors: dict[str | None, list[int]] = {}
            for cpu in cpus:
                if self.sysfs.online(cpu):
                    governors.setdefault(self.sysfs.governor(cpu), []).append(cpu)
            if len(governors) > 1:
                shown = "; ".join(
                    f"{governor}: {cpuset.format_cpu_spec(found)}"
                    for governor, found in sorted(governors.items(), key=lambda i: str(i[0]))
                )
                raise exception.InvalidConfiguration(
                    reason="[libvirt] cpu_power_management_strategy=cpu_state needs one "
                    f"governor on every online dedicated pCPU; found {shown}"
                )
        else:
            offline = [cpu for cpu in cpus if not self.sysfs.online(cpu)]
            if offline:
                raise exception.InvalidConfiguration(
                    reason="[libvirt] cpu_power_management_strategy=governor needs every "
                    f"dedicated pCPU online; offline: {cpuset.format_cpu_spec(offline)}"
                )


def _placement_pcpus(placement: Any) -> set[int]:
    if placement is None:
        return set()
    cpus: set[int] = set()
    for cell in placement.cells:
        cpus |= set((cell.cpu_pinning or {}).values()) | set(cell.cpuset_reserved or ())
    return cpus


def offline_dedicated(
    conf: cfg.ConfigOpts, dedicated: set[int] | None, online: set[int], cells: Iterable[int]
) -> dict[int, int]:
    """``{cpu: host cell}`` of the dedicated pCPUs power management took offline.

    libvirt's capabilities leave offline CPUs out, so with ``cpu_power_management``
    and ``cpu_state`` the dedicated pCPUs missing from them are looked up in sysfs
    (present, offline, and a ``nodeN`` entry naming a host cell) and stay pinnable:
    they are powered up before a guest uses them. Empty otherwise.
    """
    if not dedicated or not conf.libvirt.cpu_power_management:
        return {}
    if conf.libvirt.cpu_power_management_strategy != CPU_STATE:
        return {}
    missing = dedicated - online
    if not missing:
        return {}
    sysfs = SysfsCPUs(conf.os_numa.sysfs_root)
    present = sysfs.present()
    known = set(cells)
    found = {}
    for cpu in sorted(missing & present):
        node = sysfs.node_of(cpu)
        if node in known and not sysfs.online(cpu):
            found[cpu] = node
    return found
