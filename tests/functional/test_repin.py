"""Moving a real QEMU guest's threads: repin_domain and update_numa_xml on the QEMU driver.

A 1-vCPU guest boots with its vCPU on one pCPU and its emulator (and I/O)
threads isolated on the other; it is then re-pinned to the swapped placement
without a restart. libvirt's pin info, the persistent definition and the
kernel's affinity of every thread (/proc/<qemu pid>/task/*/status) must all show
the new placement. The domain XML rewritten for the swapped placement boots
with exactly that affinity too.
"""

from __future__ import annotations

import libvirt
import pytest

from os_numa import exception
from os_numa.testing import libvirtd
from os_numa.virt.libvirt import config, migration
from tests.functional.test_boot import (  # noqa: F401 - this_host is a fixture
    ISOLATED_ONE_VCPU,
    _placed_guest,
    _threads,
    this_host,
)

pytestmark = pytest.mark.functional


def _swapped(placement):
    """The same guest with its vCPU's and emulator's pCPUs exchanged."""
    new = placement.obj_clone()
    (cell,) = new.cells
    (emulator,) = cell.cpuset_reserved
    cell.cpuset_reserved = {cell.cpu_pinning[0]}
    cell.cpu_pinning = {0: emulator}
    return new


def test_a_running_guest_is_repinned_in_place(qemu_host, this_host):  # noqa: F811
    conn = this_host[0]
    placement, guest = _placed_guest(this_host, ISOLATED_ONE_VCPU, "os-numa-repin")
    new = _swapped(placement)
    vcpu_pcpu = set(new.cells[0].cpu_pinning.values())
    emulator_pcpus = set(new.cells[0].cpuset_reserved)

    with libvirtd.running_domain(conn, guest.to_xml()) as dom:
        pid = qemu_host.pid_of(dom.name())
        applied = migration.repin_domain(dom, new)

        assert applied.vcpus == {0: frozenset(vcpu_pcpu)}
        assert applied.emulator == emulator_pcpus and applied.iothreads == {1: emulator_pcpus}
        assert [libvirtd.pin_map_to_set(m) for m in dom.vcpuPinInfo(0)] == [vcpu_pcpu]
        assert libvirtd.pin_map_to_set(dom.emulatorPinInfo(0)) == emulator_pcpus
        assert [(i, libvirtd.pin_map_to_set(m)) for i, m in dom.ioThreadInfo(0)] == [
            (1, emulator_pcpus)
        ]
        vcpu_threads, emulator_threads = _threads(qemu_host, dom)
        assert qemu_host.pid_of(dom.name()) == pid, "re-pinned, not restarted"
        persistent = config.LibvirtConfigGuest.parse_str(
            dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        )

    assert [t.cpus_allowed for t in vcpu_threads] == [vcpu_pcpu]
    assert emulator_threads
    assert [(t.name, t.cpus_allowed) for t in emulator_threads] == [
        (t.name, emulator_pcpus) for t in emulator_threads
    ]
    assert {p.id: p.cpuset for p in persistent.cputune.vcpupin} == {0: vcpu_pcpu}
    assert persistent.cputune.emulatorpin.cpuset == emulator_pcpus


def test_a_pcpu_the_host_lacks_is_refused_before_any_pin(qemu_host, this_host):  # noqa: F811
    conn = this_host[0]
    placement, guest = _placed_guest(this_host, ISOLATED_ONE_VCPU, "os-numa-repin-bad")
    bad = placement.obj_clone()
    bad.cells[0].cpu_pinning = {0: 4096}
    with libvirtd.running_domain(conn, guest.to_xml()) as dom:
        before = [libvirtd.pin_map_to_set(m) for m in dom.vcpuPinInfo(0)]
        with pytest.raises(exception.InvalidGuestPlacement):
            migration.repin_domain(dom, bad)
        assert [libvirtd.pin_map_to_set(m) for m in dom.vcpuPinInfo(0)] == before


def test_a_rewritten_domain_boots_where_the_new_placement_says(qemu_host, this_host):  # noqa: F811
    """update_numa_xml's output, booted on real QEMU: the kernel shows the new affinity."""
    conn = this_host[0]
    placement, guest = _placed_guest(this_host, ISOLATED_ONE_VCPU, "os-numa-rewritten")
    new = _swapped(placement)
    xml = migration.update_numa_xml(guest.to_xml(), new)
    vcpu_pcpu = set(new.cells[0].cpu_pinning.values())
    emulator_pcpus = set(new.cells[0].cpuset_reserved)

    with libvirtd.running_domain(conn, xml) as dom:
        vcpu_threads, emulator_threads = _threads(qemu_host, dom)

    assert [t.cpus_allowed for t in vcpu_threads] == [vcpu_pcpu]
    assert emulator_threads and {frozenset(t.cpus_allowed) for t in emulator_threads} == {
        frozenset(emulator_pcpus)
    }
