"""CPU power management of idle dedicated pCPUs, on a fake sysfs tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.cmd.render_picture import render_host
from os_numa.testing import sysfs
from os_numa.virt.libvirt import host as host_mod
from os_numa.virt.libvirt import power

CAPS = (
    Path(__file__).resolve().parents[2] / "data" / "capabilities" / "tiny-2cell-nosmt.xml"
).read_text()


def manager(root, enabled=True, strategy="cpu_state", dedicated="1-7"):
    conf = os_numa_conf.make_conf(
        **{
            "libvirt.cpu_power_management": enabled,
            "libvirt.cpu_power_management_strategy": strategy,
            "compute.cpu_dedicated_set": dedicated,
            "os_numa.sysfs_root": str(root),
        }
    )
    return power.CPUPowerManager(conf), conf


def online(root, cpu):
    return (Path(root) / f"devices/system/cpu/cpu{cpu}/online").read_text().strip() == "1"


def governor(root, cpu):
    path = Path(root) / f"devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
    return path.read_text().strip()


def place(topology, conf, vcpus=2):
    flavor = objects.Flavor(
        vcpus=vcpus,
        memory_mb=512,
        extra_specs={"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
    )
    return hardware.numa_fit_instance_to_host(
        topology, hardware.numa_get_constraints(flavor, None), conf=conf
    )


def test_off_by_default_touches_nothing(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    mgr, conf = manager(tmp_path, enabled=False)
    topology = host_mod.host_topology_from_capabilities(CAPS, conf=conf)
    assert mgr.power_down_idle(topology) == set()
    assert all(online(tmp_path, cpu) for cpu in range(1, 8))
    # And without a tree at all nothing is read.
    idle, _ = manager(tmp_path / "absent", enabled=False)
    assert idle.offline() == set()


def test_cpu_state_cycle(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    mgr, conf = manager(tmp_path)
    mgr.validate()
    topology = host_mod.host_topology_from_capabilities(CAPS, conf=conf)
    assert mgr.power_down_idle(topology) == set(range(1, 8))
    assert mgr.offline() == set(range(1, 8))
    # libvirt now reports the cells without those CPUs; they stay pinnable.
    reported = sysfs.without_cpus(CAPS, mgr.offline())
    topology = host_mod.host_topology_from_capabilities(reported, conf=conf)
    assert [sorted(c.pcpuset) for c in topology.cells] == [[1, 2, 3], [4, 5, 6, 7]]
    placement = place(topology, conf)
    pcpus = set(placement.cells[0].cpu_pinning.values()) | placement.cells[0].cpuset_reserved
    assert mgr.power_up_for_placement(placement) == pcpus  # emulator pCPU too
    assert {cpu for cpu in range(1, 8) if online(tmp_path, cpu)} == pcpus
    assert mgr.power_down_for_placement(placement) == pcpus
    assert not any(online(tmp_path, cpu) for cpu in range(1, 8))


def test_cpu0_is_never_taken_offline(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    mgr, _ = manager(tmp_path, dedicated="0-7")
    assert 0 not in mgr.power_down(range(8))
    assert not (tmp_path / "devices/system/cpu/cpu0/online").exists()


def test_governor_strategy(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    mgr, conf = manager(tmp_path, strategy="governor", dedicated="0-7")
    topology = host_mod.host_topology_from_capabilities(CAPS, conf=conf)
    assert mgr.power_down_idle(topology) == set(range(8))
    assert {governor(tmp_path, cpu) for cpu in range(8)} == {"powersave"}
    mgr.power_up({0, 3})
    assert [governor(tmp_path, cpu) for cpu in (0, 3, 4)] == [
        "performance",
        "performance",
        "powersave",
    ]
    assert mgr.offline() == set()


def test_only_dedicated_pcpus_are_touched(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    mgr, _ = manager(tmp_path, dedicated="4-7")
    assert mgr.power_down({1, 2, 4}) == {4}
    assert online(tmp_path, 1) and not online(tmp_path, 4)


def test_validate_refuses_mixed_governors_and_offline_cpus(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    (tmp_path / "devices/system/cpu/cpu5/cpufreq/scaling_governor").write_text("powersave\n")
    mgr, _ = manager(tmp_path)
    with pytest.raises(exception.InvalidConfiguration, match="one governor"):
        mgr.validate()
    sysfs.build_sysfs(tmp_path, CAPS, offline={6})
    mgr, _ = manager(tmp_path, strategy="governor")
    with pytest.raises(exception.InvalidConfiguration, match="offline: 6"):
        mgr.validate()


def test_a_write_that_fails_is_a_typed_error(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS)
    (tmp_path / "devices/system/cpu/cpu3/online").unlink()
    (tmp_path / "devices/system/cpu/cpu3/online").mkdir()
    mgr, _ = manager(tmp_path)
    with pytest.raises(exception.CPUPowerManagementError, match="CPU 3"):
        mgr.power_down({3})


def test_the_picture_shows_offline_pcpus(tmp_path):
    sysfs.build_sysfs(tmp_path, CAPS, offline={2, 3})
    mgr, conf = manager(tmp_path)
    topology = host_mod.host_topology_from_capabilities(sysfs.without_cpus(CAPS, {2, 3}), conf=conf)
    picture = render_host(topology, offline=mgr.offline())
    assert "[2 off ]" in picture and "[3 off ]" in picture
    assert "off  free, powered down" in picture
