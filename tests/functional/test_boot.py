"""End to end: boot a real QEMU guest with the placement os-numa computes for THIS host.

conn.getCapabilities() -> host_topology_from_capabilities -> numa_get_constraints
-> numa_fit_instance_to_host -> the driver's XML -> a running guest (KVM when
/dev/kvm is usable, else TCG), then check from the host side that every vCPU
thread and every emulator thread has exactly the affinity the placement chose:
libvirt's pin info and the kernel's view (/proc/<qemu pid>/task/*/status).

Variants: emulator threads isolated on their own pCPU; shared on ``[compute]
cpu_shared_set``; on their pCPU of the ``[os_numa] emulator_pin_set`` pool; and
a realtime (SCHED_FIFO) vCPU.

The guest is tiny (64 MiB, one vCPU, no disk, no network); it has no OS and sits
in the firmware's boot-failure loop, which is all pinning needs.
"""

from __future__ import annotations

import os
import shutil
import time

import libvirt
import pytest

from os_numa import conf as os_numa_conf
from os_numa import cpuset, hardware, objects
from os_numa.testing import libvirtd
from os_numa.virt.libvirt import driver, host

pytestmark = pytest.mark.functional

ISOLATED_ONE_VCPU = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"}
SHARED_ONE_VCPU = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "share"}


@pytest.fixture(scope="module")
def this_host(qemu_host):
    """(connection, capabilities, KVM usable) of the machine running the tests."""
    conn = qemu_host.conn
    caps = conn.getCapabilities()
    return conn, caps, libvirtd.kvm_available(caps)


def _placed_guest(this_host, extra_specs, name, conf=None):
    """Place a 1-vCPU guest on this host (its ``[compute]`` sets from ``conf``) and
    write its whole domain."""
    conf = conf or os_numa_conf.make_conf()
    _, caps, kvm = this_host
    topology = host.host_topology_from_capabilities(caps, conf=conf)
    flavor = objects.Flavor(vcpus=1, memory_mb=64, extra_specs=extra_specs)
    request = hardware.numa_get_constraints(flavor, None)
    placement = hardware.numa_fit_instance_to_host(topology, request)
    assert placement is not None, f"a 1-vCPU guest must fit this host: {topology}"
    guest = driver.build_guest(
        placement,
        flavor,
        None,
        topology,
        conf,
        name=f"{name}-{os.getpid()}",
        virt_type="kvm" if kvm else "qemu",
    )
    guest.os_arch, guest.os_machine = "x86_64", "pc"
    guest.cpu.mode, guest.cpu.match, guest.cpu.model = "custom", "exact", "qemu64"
    # qemu64 lists AMD's svm, which a nested KVM host may not offer.
    guest.cpu.extra_children.append(("model", "<feature policy='disable' name='svm'/>"))
    guest.devices.append(f"<emulator>{shutil.which(libvirtd.QEMU_BINARY)}</emulator>")
    return placement, guest


def _threads(qemu_host, dom):
    """(vCPU threads, emulator threads) of a running guest, from the kernel."""
    vcpu_tids = set(libvirtd.vcpu_thread_ids(dom).values())
    tasks = [
        t
        for t in libvirtd.read_tasks(qemu_host.pid_of(dom.name()))
        if not libvirtd.is_kernel_worker(t)
    ]
    return [t for t in tasks if t.tid in vcpu_tids], [t for t in tasks if t.tid not in vcpu_tids]


def _boot_and_check_affinity(qemu_host, conn, guest, vcpu_pcpu, emulator_pcpus):
    """Boot ``guest``; libvirt and the kernel must both show exactly these pins."""
    with libvirtd.running_domain(conn, guest.to_xml()) as dom:
        assert [libvirtd.pin_map_to_set(m) for m in dom.vcpuPinInfo(0)] == [vcpu_pcpu]
        assert libvirtd.pin_map_to_set(dom.emulatorPinInfo(0)) == emulator_pcpus
        assert [(i, libvirtd.pin_map_to_set(m)) for i, m in dom.ioThreadInfo(0)] == [
            (1, emulator_pcpus)
        ]
        vcpu_threads, emulator_threads = _threads(qemu_host, dom)

    assert [(t.cpus_allowed, t.policy) for t in vcpu_threads] == [(vcpu_pcpu, os.SCHED_OTHER)]
    assert emulator_threads, "QEMU has a main thread at least"
    assert [(t.name, t.cpus_allowed) for t in emulator_threads] == [
        (t.name, emulator_pcpus) for t in emulator_threads
    ]


def test_guest_runs_exactly_where_os_numa_placed_it(qemu_host, this_host):
    placement, guest = _placed_guest(this_host, ISOLATED_ONE_VCPU, "os-numa-isolate")
    (cell,) = placement.cells
    vcpu_pcpu = {cell.cpu_pinning[0]}
    emulator_pcpus = set(cell.cpuset_reserved)
    assert len(emulator_pcpus) == 1 and vcpu_pcpu.isdisjoint(emulator_pcpus)

    _boot_and_check_affinity(qemu_host, this_host[0], guest, vcpu_pcpu, emulator_pcpus)


def test_shared_emulator_threads_run_on_cpu_shared_set(qemu_host, this_host):
    """``share`` with ``[compute] cpu_shared_set`` = this host's last CPU, the rest dedicated."""
    cpus = sorted(
        cpu
        for cell in host.host_topology_from_capabilities(this_host[1]).cells
        for cpu in cell.pcpuset
    )
    conf = os_numa_conf.make_conf(
        **{
            "compute.cpu_shared_set": str(cpus[-1]),
            "compute.cpu_dedicated_set": cpuset.format_cpu_spec(cpus[:-1]),
        }
    )
    placement, guest = _placed_guest(this_host, SHARED_ONE_VCPU, "os-numa-share", conf)
    (cell,) = placement.cells
    assert cell.cpuset_reserved is None

    _boot_and_check_affinity(qemu_host, this_host[0], guest, {cell.cpu_pinning[0]}, {cpus[-1]})


def test_pool_emulator_threads_run_on_their_pool_pcpu(qemu_host, this_host):
    """``pool`` with ``[os_numa] emulator_pin_set`` = this host's last CPU, the rest dedicated."""
    cpus = sorted(
        cpu
        for cell in host.host_topology_from_capabilities(this_host[1]).cells
        for cpu in cell.pcpuset
    )
    conf = os_numa_conf.make_conf(
        **{
            "os_numa.emulator_pin_set": str(cpus[-1]),
            "compute.cpu_dedicated_set": cpuset.format_cpu_spec(cpus[:-1]),
        }
    )
    specs = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "pool"}
    placement, guest = _placed_guest(this_host, specs, "os-numa-pool", conf)
    (cell,) = placement.cells
    assert placement.emulator_pool_cpu == cpus[-1] and cell.cpuset_reserved is None

    _boot_and_check_affinity(qemu_host, this_host[0], guest, {cell.cpu_pinning[0]}, {cpus[-1]})


def test_realtime_vcpu_runs_fifo_on_its_pcpu(qemu_host, this_host):
    conn = this_host[0]
    placement, guest = _placed_guest(
        this_host, {**ISOLATED_ONE_VCPU, "hw:cpu_realtime": "yes"}, "os-numa-realtime"
    )
    # <locked/> needs CAP_SYS_RESOURCE to raise the memlock limit, which this
    # machine's root lacks; schema and define cover it (test_libvirt_xml.py).
    assert guest.membacking.locked
    guest.membacking.locked = False
    (cell,) = placement.cells

    started = time.monotonic()
    try:
        with libvirtd.running_domain(conn, guest.to_xml()) as dom:
            vcpu_threads, emulator_threads = _threads(qemu_host, dom)
    except libvirt.libvirtError as exc:
        if "scheduler" in str(exc):
            pytest.skip(f"this kernel refuses SCHED_FIFO to the guest: {exc}")
        raise
    assert time.monotonic() - started < 30, "a FIFO guest must not linger"

    (vcpu,) = vcpu_threads
    assert (vcpu.policy, vcpu.priority) == (os.SCHED_FIFO, 1)
    assert vcpu.cpus_allowed == {cell.cpu_pinning[0]}
    assert emulator_threads
    assert [(t.name, t.policy, t.cpus_allowed) for t in emulator_threads] == [
        (t.name, os.SCHED_OTHER, set(cell.cpuset_reserved)) for t in emulator_threads
    ]
