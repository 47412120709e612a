"""Restart on the real QEMU driver: a tracker rebuilt from the domains libvirt runs.

A guest is placed on THIS host, booted (qemu:///embed, KVM when usable), and a
second one defined; a fresh tracker then recovers from libvirt alone and from
its checkpoint, and must hold exactly what the first one held. A domain that
floats over the running guest's pinned pCPUs is drift, named per domain.
"""

from __future__ import annotations

import contextlib

import libvirt
import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from os_numa.testing import libvirtd
from os_numa.virt.libvirt import domain_placement as dp
from os_numa.virt.libvirt import driver, host, recovery
from tests.functional.test_boot import (  # noqa: F401 - this_host is a fixture
    ISOLATED_ONE_VCPU,
    _placed_guest,
    this_host,
)

pytestmark = pytest.mark.functional

UUID = "5e1f0000-0000-4000-8000-000000000001"


def _tracker(view, **kwargs):
    conf = os_numa_conf.make_conf()
    topology = host.host_topology_from_capabilities(view[1], conf=conf)
    return ResourceTracker(driver.LibvirtDriver(conf), topology, conf, **kwargs)


@contextlib.contextmanager
def _booted(view, tracker):
    """Place, account on ``tracker``, and boot a 1-vCPU isolated guest; yields the domain."""
    placement, guest = _placed_guest(view, ISOLATED_ONE_VCPU, "os-numa-recover")
    guest.uuid = UUID
    flavor = Flavor(vcpus=1, memory_mb=64, extra_specs=ISOLATED_ONE_VCPU)
    tracker.update_available_resource([Instance(UUID, flavor, numa_topology=placement)])
    with libvirtd.running_domain(view[0], guest.to_xml()) as dom:
        yield dom


def test_a_running_guest_comes_back_from_libvirt_and_from_the_checkpoint(
    qemu_host,
    this_host,  # noqa: F811 - the fixture
    tmp_path,
):
    path = tmp_path / "tracker.json"
    original = _tracker(this_host, checkpoint_path=path)
    with _booted(this_host, original) as dom:
        assert dom.isActive()
        from_libvirt = _tracker(this_host)
        result = recovery.recover(from_libvirt, this_host[0])
        assert result.source == "libvirt"
        assert [(d.name, d.active) for d in result.domains.domains] == [(dom.name(), True)]
        assert from_libvirt.usage == original.usage
        # The host (2 CPUs) is full: the vCPU's pCPU and the emulator pCPU are both held.
        vm = Instance("next", Flavor(vcpus=1, memory_mb=64, extra_specs=ISOLATED_ONE_VCPU))
        with pytest.raises(exception.ComputeResourcesUnavailable):
            with from_libvirt.instance_claim(vm):
                pass
        from_checkpoint = _tracker(this_host, checkpoint_path=path)
        assert recovery.recover(from_checkpoint, this_host[0]).source == "checkpoint"
        assert from_checkpoint.usage == original.usage


def test_a_defined_guest_floating_over_the_pinned_pcpus_is_drift(
    qemu_host,
    this_host,  # noqa: F811 - the fixture
):
    floating = driver.build_guest(None, Flavor(vcpus=1, memory_mb=64), None, name="floater")
    floating.os_arch, floating.os_machine = "x86_64", "pc"
    floating.virt_type = "kvm" if this_host[2] else "qemu"
    with _booted(this_host, _tracker(this_host)) as dom:
        defined = this_host[0].defineXMLFlags(floating.to_xml(), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        try:
            with pytest.raises(exception.HostDrift) as raised:
                recovery.recover(_tracker(this_host), this_host[0])
            found = {(d.domain, d.rule) for d in raised.value.drift}
            assert found == {("floater", dp.PCPU_OVERLAP), (dom.name(), dp.PCPU_OVERLAP)}
            report = recovery.audit(this_host[0], _tracker(this_host))
            assert {d.domain for d in report.drift} == {"floater", dom.name()}
            assert next(d for d in report.domains if d.name == "floater").active is False
        finally:
            defined.undefine()
