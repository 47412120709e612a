"""A downstream driver's tests using os-numa's fake host fixtures (no conftest.py needed)."""

import pytest


def test_small_host(os_numa_fake_host):
    # HostInfo() defaults: 1 node, 1 socket, 2 cores, 1 thread, 16 GiB.
    caps_xml = os_numa_fake_host.conn.getCapabilities()
    assert caps_xml.startswith("<capabilities>")
    assert [sorted(c.pcpuset) for c in os_numa_fake_host.topology().cells] == [[0, 1]]


@pytest.mark.os_numa_host(cpu_nodes=2, cpu_cores=4, cpu_threads=2, mempages={2048: 512})
def test_smt_host(os_numa_fake_host):
    topology = os_numa_fake_host.topology(cpu_dedicated_set="2-7,10-15", cpu_shared_set="0-1,8-9")
    # Shared CPUs 0-1 form a core too: siblings list every CPU guests use.
    assert topology.cells[0].siblings == [{0, 1}, {2, 3}, {4, 5}, {6, 7}]
    assert sorted(topology.cells[1].cpuset) == [8, 9]
    assert [(p.size_kb, p.total) for p in topology.cells[0].mempages][1] == (2048, 512)


def test_two_hosts(os_numa_host_factory):
    small = os_numa_host_factory()
    big = os_numa_host_factory(cpu_nodes=2, cpu_cores=4, cpu_threads=2)
    assert len(small.topology().cells) == 1
    assert len(big.topology().cells) == 2
