"""Every XML shape the driver writes, checked by real libvirt.

Each named example (isolate, share with and without cpu_shared_set, realtime
with and without a mask, mixed, huge pages, locked memory, multi-cell) is
placed by the real constraints and fit, written by the driver as a whole
domain, validated against libvirt's installed domain.rng, defined on
``test:///default`` with ``VIR_DOMAIN_DEFINE_VALIDATE`` and read back with
``XMLDesc()``: what libvirt keeps must be what we wrote.
"""

from __future__ import annotations

import pytest

from os_numa import conf as os_numa_conf
from os_numa import objects
from os_numa.virt.libvirt import config, driver
from tests.virt.libvirt.examples import EXAMPLES, place

pytestmark = pytest.mark.functional


def _pins(cputune):
    return {pin.id: pin.cpuset for pin in cputune.vcpupin}


def _sched_by_vcpu(cputune):
    """{vcpu: (scheduler, priority)}: XMLDesc() writes one <vcpusched> per vCPU."""
    return {
        vcpu: (sched.scheduler, sched.priority)
        for sched in cputune.vcpusched
        for vcpu in sched.vcpus
    }


def _cells(cpu):
    return [(c.id, c.cpus, c.memory, c.memAccess) for c in cpu.numa.cells]


def _numatune(numatune):
    return (
        (numatune.memory.mode, numatune.memory.nodeset),
        [(m.cellid, m.mode, m.nodeset) for m in numatune.memnodes],
    )


def _membacking(backing):
    if backing is None:
        return None
    return (
        [(p.size_kb, p.nodeset) for p in backing.hugepages],
        backing.sharedpages,
        backing.locked,
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_shape_is_defined_and_read_back_unchanged(name, define_and_read_back):
    host, flavor, conf, placement = place(EXAMPLES[name])
    guest = driver.build_guest(placement, flavor, None, host, conf, name=f"shape-{name}")

    back = define_and_read_back(guest)

    assert (back.vcpus, back.iothreads) == (guest.vcpus, 1)
    assert _pins(back.cputune) == _pins(guest.cputune)
    assert back.cputune.emulatorpin.cpuset == guest.cputune.emulatorpin.cpuset
    assert [(p.iothread, p.cpuset) for p in back.cputune.iothreadpin] == [
        (p.iothread, p.cpuset) for p in guest.cputune.iothreadpin
    ]
    assert _sched_by_vcpu(back.cputune) == _sched_by_vcpu(guest.cputune)
    assert _numatune(back.numatune) == _numatune(guest.numatune)
    assert _cells(back.cpu) == _cells(guest.cpu)
    assert _membacking(back.membacking) == _membacking(guest.membacking)


def test_guest_without_numa_placement_floats_over_the_shared_set(define_and_read_back):
    conf = os_numa_conf.make_conf(**{"compute.cpu_shared_set": "2-5"})
    flavor = objects.Flavor(vcpus=2, memory_mb=256)

    guest = driver.build_guest(None, flavor, None, None, conf, name="floating")
    back = define_and_read_back(guest)

    assert back.cpuset == {2, 3, 4, 5}
    assert back.cputune is None or not back.cputune.vcpupin


def test_libvirt_drops_a_pin_for_a_vcpu_the_guest_lacks(define_and_read_back):
    """Why the driver refuses vCPU ids beyond the flavor: libvirt would not complain."""
    guest = config.LibvirtConfigGuest(
        name="dropped-pin",
        vcpus=2,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=[
                config.LibvirtConfigGuestCPUTuneVCPUPin(id=0, cpuset={0}),
                config.LibvirtConfigGuestCPUTuneVCPUPin(id=1, cpuset={1}),
                config.LibvirtConfigGuestCPUTuneVCPUPin(id=3, cpuset={3}),
            ]
        ),
    )

    back = define_and_read_back(guest)

    assert _pins(back.cputune) == {0: {0}, 1: {1}}


def test_libvirt_accepts_a_pin_to_a_cpu_the_host_lacks(define_and_read_back, libvirt_test_conn):
    """Why the driver checks pins against the host: the define succeeds regardless."""
    host_cpus = libvirt_test_conn.getInfo()[2]
    guest = config.LibvirtConfigGuest(
        name="absent-pcpu",
        vcpus=1,
        cputune=config.LibvirtConfigGuestCPUTune(
            vcpupin=[config.LibvirtConfigGuestCPUTuneVCPUPin(id=0, cpuset={host_cpus + 100})]
        ),
    )

    back = define_and_read_back(guest)

    assert _pins(back.cputune) == {0: {host_cpus + 100}}
