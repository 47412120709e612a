"""A private, in-process libvirt QEMU driver for tests that boot real guests.

:class:`EmbeddedQemu` opens ``qemu:///embed?root=DIR``: libvirt's QEMU driver
runs inside the calling process, keeps all of its state (configuration,
capability cache, logs, PID files) under ``DIR`` and needs no ``libvirtd``,
no ``virtlogd`` and no system service. Each instance has its own root, so
test runs that happen at the same time on one machine do not share a daemon,
a configuration or domain names.

Its ``DIR/etc/qemu.conf`` is written so that a root-owned test process can
boot a guest at once:

- ``user``/``group`` root: QEMU runs as the caller, so ``/dev/kvm`` ownership
  does not matter (a system libvirtd needs ``root:kvm 0660``, or it re-probes
  QEMU on every define);
- ``stdio_handler = "file"``: QEMU's output goes to ``DIR/log`` directly, no
  virtlogd;
- ``security_driver = "none"``: no AppArmor/SELinux profile is generated for
  these throwaway guests, whatever the host enforces;
- ``cgroup_controllers`` without ``cpu``: libvirt's machine cgroup would give
  the guest ``cpu.rt_runtime_us = 0`` under cgroup v1, and SCHED_FIFO vCPUs
  (``<vcpusched scheduler='fifo'>``) then fail to start.

QEMU's capabilities are probed once per binary (~8 s for the x86_64 and i386
emulators); ``cache_dir`` keeps the probe results between runs (libvirt checks
them against the binaries and re-probes when they are stale).

The embedded driver needs libvirt's default event loop: :func:`start_event_loop`
registers it and runs it in a daemon thread, once per process (libvirt allows
one event implementation per process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import libvirt_qemu

from os_numa import cpuset as cpuset_mod
from os_numa import xmlutil

#: The QEMU system emulator the tests boot (x86_64 hosts only).
QEMU_BINARY = "qemu-system-x86_64"

#: Controllers libvirt may use; "cpu" is left out so SCHED_FIFO vCPUs can start.
CGROUP_CONTROLLERS = ("devices", "memory", "blkio", "cpuset", "cpuacct")

_loop_lock = threading.Lock()
_loop_thread: threading.Thread | None = None


def start_event_loop() -> None:
    """Register libvirt's default event loop and run it in a daemon thread (idempotent)."""
    global _loop_thread
    with _loop_lock:
        if _loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        _loop_thread = threading.Thread(target=run, name="libvirt-event-loop", daemon=True)
        _loop_thread.start()


def qemu_conf_text(extra: dict[str, str] | None = None) -> str:
    """The ``qemu.conf`` of an embedded driver (see the module docstring).

    ``extra`` adds or replaces settings, each value written as given
    (``{"max_processes": "0"}``).
    """
    settings = {
        "user": '"root"',
        "group": '"root"',
        "stdio_handler": '"file"',
        "security_driver": '"none"',
        "cgroup_controllers": "[ " + ", ".join(f'"{c}"' for c in CGROUP_CONTROLLERS) + " ]",
    }
    settings.update(extra or {})
    return "".join(f"{name} = {value}\n" for name, value in settings.items())


def _copy_files(source: Path, target: Path) -> None:
    """Copy the regular files of ``source`` into ``target``, each replaced atomically."""
    if not source.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            fd, tmp = tempfile.mkstemp(dir=target, prefix=".tmp-")
            os.close(fd)
            shutil.copy2(path, tmp)
            os.replace(tmp, target / path.name)


class EmbeddedQemu:
    """libvirt's QEMU driver in this process, rooted in a private directory.

    Use it as a context manager: leaving the block destroys and undefines every
    domain, closes the connection, kills any QEMU process of this root that is
    still alive (by the PID in its PID file), saves the capability cache and
    removes the root directory, even when the block raised.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        qemu_conf: dict[str, str] | None = None,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root if root is not None else tempfile.mkdtemp(prefix="os-numa-qemu-"))
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._qemu_conf = qemu_conf
        self.conn: libvirt.virConnect | None = None

    @property
    def uri(self) -> str:
        return f"qemu:///embed?root={self.root}"

    @property
    def _caps_cache(self) -> Path:
        return self.root / "cache" / "qemu" / "capabilities"

    def open(self) -> libvirt.virConnect:
        """Write the configuration, seed the capability cache and connect."""
        if self.conn is not None:
            return self.conn
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "qemu.conf").write_text(qemu_conf_text(self._qemu_conf))
        if self.cache_dir is not None:
            _copy_files(self.cache_dir, self._caps_cache)
        start_event_loop()
        self.conn = libvirt.open(self.uri)
        return self.conn

    def pid_of(self, name: str) -> int:
        """The QEMU process id of the running domain ``name``.

        :raises FileNotFoundError: the domain is not running.
        """
        return int((self.root / "run" / "qemu" / f"{name}.pid").read_text().strip())

    def _leftover_pids(self) -> list[int]:
        run = self.root / "run" / "qemu"
        pids = []
        for path in sorted(run.glob("*.pid")) if run.is_dir() else ():
            if path.name == "driver.pid":
                continue  # this process
            with contextlib.suppress(OSError, ValueError):
                pid = int(path.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                # A PID file may outlive its process; only kill what runs from this root.
                if str(self.root).encode() in cmdline:
                    pids.append(pid)
        return pids

    def close(self) -> None:
        """Destroy every domain, close, kill leftovers, keep the cache, remove the root."""
        try:
            if self.conn is not None:
                for dom in self.conn.listAllDomains():
                    with contextlib.suppress(libvirt.libvirtError):
                        if dom.isActive():
                            dom.destroy()
                    with contextlib.suppress(libvirt.libvirtError):
                        dom.undefine()
                with contextlib.suppress(libvirt.libvirtError):
                    self.conn.close()
        finally:
            self.conn = None
            for pid in self._leftover_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if self.cache_dir is not None:
                with contextlib.suppress(OSError):
                    _copy_files(self._caps_cache, self.cache_dir)
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> EmbeddedQemu:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@contextlib.contextmanager
def running_domain(conn: libvirt.virConnect, xml: str) -> Iterator[libvirt.virDomain]:
    """Define and start a domain; always destroy and undefine it afterwards."""
    dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        dom.create()
        yield dom
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            if dom.isActive():
                dom.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            dom.undefine()


def kvm_available(capabilities_xml: str, arch: str = "x86_64") -> bool:
    """True when the connection's capabilities offer ``<domain type='kvm'>`` for ``arch``."""
    doc = xmlutil.parse(capabilities_xml)
    for guest in doc.iter("guest"):
        arch_el = guest.find("arch")
        if arch_el is not None and arch_el.get("name") == arch:
            if any(d.get("type") == "kvm" for d in arch_el.iter("domain")):
                return os.access("/dev/kvm", os.R_OK | os.W_OK)
    return False


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """One thread of a process as the kernel reports it."""

    tid: int
    name: str
    cpus_allowed: frozenset[int]
    policy: int
    priority: int


def read_tasks(pid: int) -> list[TaskInfo]:
    """Every thread of ``pid`` with its CPU affinity and scheduling policy, by thread id.

    Threads that exit while being read are left out.
    """
    tasks = []
    for task_dir in sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda p: int(p.name)):
        tid = int(task_dir.name)
        try:
            fields = dict(
                line.split(":", 1)
                for line in (task_dir / "status").read_text().splitlines()
                if ":" in line
            )
            policy = os.sched_getscheduler(tid)
            priority = os.sched_getparam(tid).sched_priority
        except (FileNotFoundError, ProcessLookupError):
            continue
        tasks.append(
            TaskInfo(
                tid=tid,
                name=fields["Name"].strip(),
                cpus_allowed=frozenset(
                    cpuset_mod.parse_cpu_spec(fields["Cpus_allowed_list"].strip())
                ),
                policy=policy,
                priority=priority,
            )
        )
    return tasks


def vcpu_thread_ids(dom: libvirt.virDomain) -> dict[int, int]:
    """``{vcpu index: host thread id}`` of a running QEMU domain, asked of QEMU itself."""
    reply = json.loads(
        libvirt_qemu.qemuMonitorCommand(dom, json.dumps({"execute": "query-cpus-fast"}), 0)
    )
    return {cpu["cpu-index"]: cpu["thread-id"] for cpu in reply["return"]}


def is_kernel_worker(task: TaskInfo) -> bool:
    """KVM's own per-VM kernel workers (``kvm-nx-lpage-recovery``, ``kvm-pit``...).

    The kernel creates them inside the QEMU process, inheriting the affinity of
    whichever thread triggered them; they are not QEMU threads and libvirt
    does not pin them, so affinity checks leave them out.
    """
    return task.name.startswith("kvm-")


def pin_map_to_set(pin_map: tuple[bool, ...] | list[bool]) -> set[int]:
    """A libvirt CPU map (one bool per host CPU) as the set of host CPU ids."""
    return {cpu for cpu, allowed in enumerate(pin_map) if allowed}


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)
