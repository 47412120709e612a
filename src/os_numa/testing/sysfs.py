"""A fake sysfs CPU tree for CPU power management tests (``[os_numa] sysfs_root``).

``build_sysfs(root, caps)`` writes, under ``root``, what Linux shows in
``/sys/devices/system/cpu`` for the CPUs of a capabilities document:
``present``, and per CPU ``online`` (not for CPU 0, as on x86),
``cpufreq/scaling_governor`` and a ``nodeN`` directory naming its NUMA node.
``offline`` CPUs are written offline, as power management or an administrator
leaves them (libvirt then leaves them out of its capabilities: pass the
document with them, and use :func:`without_cpus` for what libvirt reports).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from os_numa import cpuset
from os_numa.virt.libvirt import config


def build_sysfs(
    root: str | os.PathLike,
    caps: str | config.LibvirtConfigCaps,
    offline: Iterable[int] = (),
    governor: str = "performance",
) -> Path:
    """Write the fake tree for every CPU of ``caps``; returns ``root``."""
    if not isinstance(caps, config.LibvirtConfigCaps):
        caps = config.LibvirtConfigCaps.parse_str(caps)
    base = Path(root) / "devices" / "system" / "cpu"
    base.mkdir(parents=True, exist_ok=True)
    offline = set(offline)
    every = set()
    for cell in caps.cells:
        for cpu in sorted(cell.cpu_ids):
            every.add(cpu)
            directory = base / f"cpu{cpu}"
            (directory / "cpufreq").mkdir(parents=True, exist_ok=True)
            (directory / f"node{cell.id}").mkdir(exist_ok=True)
            (directory / "cpufreq" / "scaling_governor").write_text(governor + "\n")
            if cpu != 0:
                (directory / "online").write_text("0\n" if cpu in offline else "1\n")
    (base / "present").write_text(cpuset.format_cpu_spec(every) + "\n")
    return Path(root)


def without_cpus(caps: str, cpus: Iterable[int]) -> str:
    """``caps`` with ``cpus`` left out, as libvirt reports offline CPUs."""
    parsed = config.LibvirtConfigCaps.parse_str(caps)
    drop = set(cpus)
    for cell in parsed.cells:
        cell.cpus = [cpu for cpu in cell.cpus if cpu.id not in drop]
        for cpu in cell.cpus:
            if cpu.siblings is not None:
                cpu.siblings = set(cpu.siblings) - drop
    return parsed.to_xml()
