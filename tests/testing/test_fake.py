"""The fake libvirt host: libvirt's schema accepts it, and os-numa reads it like a real one."""

from __future__ import annotations

import pathlib

import libvirt
import pytest
from lxml import etree

from os_numa import conf as os_numa_conf
from os_numa import exception
from os_numa.testing import fake
from os_numa.virt.libvirt import host

CAPABILITY_RNG = "/usr/share/libvirt/schemas/capability.rng"
SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "capabilities"
GiB_KB = 1024 * 1024

SHAPES = {
    "default": {},
    "two-nodes-smt": dict(cpu_nodes=2, cpu_cores=4, cpu_threads=2),
    "two-sockets-per-node": dict(cpu_nodes=2, cpu_sockets=2, cpu_cores=3, cpu_threads=2),
    "huge-pages": dict(cpu_nodes=4, cpu_cores=2, kB_mem=32 * GiB_KB, mempages={2048: 512}),
    "one-gib-pages": dict(cpu_cores=1, kB_mem=4 * GiB_KB, mempages={1048576: 2, 2048: 8}),
}


@pytest.fixture(scope="module")
def capability_schema():
    return etree.RelaxNG(etree.parse(CAPABILITY_RNG))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_capabilities_validate_against_libvirts_schema(name, capability_schema):
    xml = fake.HostInfo(**SHAPES[name]).to_xml()
    assert capability_schema.validate(etree.fromstring(xml)), capability_schema.error_log


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_topology_follows_the_host_info(name):
    info = fake.HostInfo(**SHAPES[name])
    topology = fake.FakeHost.create(**SHAPES[name]).topology()
    assert len(topology.cells) == info.cpu_nodes
    per_node = info.cpu_sockets * info.cpu_cores * info.cpu_threads
    for node, cell in enumerate(topology.cells):
        first = node * per_node
        assert cell.pcpuset == cell.cpuset == set(range(first, first + per_node))
        assert cell.siblings == [
            set(range(core, core + info.cpu_threads))
            for core in range(first, first + per_node, info.cpu_threads)
        ]
        assert cell.memory == info.kB_mem // info.cpu_nodes // 1024
        huge = info.mempages or {}
        small = (info.kB_mem // info.cpu_nodes - sum(s * n for s, n in huge.items())) // 4
        assert {p.size_kb: p.total for p in cell.mempages} == {4: small, **huge}
        assert cell.socket == (node if info.cpu_sockets == 1 else None)


@pytest.mark.parametrize(
    ("sample", "shape", "compare_sockets"),
    [
        (
            "tiny-2cell-nosmt.xml",
            dict(cpu_nodes=2, cpu_cores=4, kB_mem=8 * GiB_KB, mempages={2048: 0}),
            True,
        ),
        (
            # 8 sockets x 2 sub-NUMA clusters: the fake numbers one socket per node.
            "large-16cell.xml",
            dict(
                cpu_nodes=16,
                cpu_cores=4,
                cpu_threads=2,
                kB_mem=16 * 32 * GiB_KB,
                mempages={2048: 1024, 1048576: 4},
            ),
            False,
        ),
    ],
)
def test_fake_matches_a_real_sample_of_the_same_shape(sample, shape, compare_sockets):
    conf = os_numa_conf.make_conf()
    real = host.host_topology_from_capabilities((SAMPLES / sample).read_bytes(), conf=conf)
    faked = fake.FakeHost.create(**shape).topology(conf=conf)
    fields = ["id", "cpuset", "pcpuset", "siblings", "memory"]
    fields += ["socket"] if compare_sockets else []
    for real_cell, fake_cell in zip(real.cells, faked.cells, strict=True):
        assert {f: getattr(fake_cell, f) for f in fields} == {
            f: getattr(real_cell, f) for f in fields
        }
        assert [(p.size_kb, p.total) for p in fake_cell.mempages] == [
            (p.size_kb, p.total) for p in real_cell.mempages
        ]


def test_connection_answers_like_libvirt():
    info = fake.HostInfo(cpu_nodes=2, cpu_sockets=1, cpu_cores=4, cpu_threads=2)
    conn = fake.FakeConnection(info)
    assert conn.getInfo() == ["x86_64", info.kB_mem // 1024, 16, 2800, 2, 1, 4, 2]
    assert conn.getHostname() == info.hostname
    assert conn.getURI() == "test:///os-numa-fake"
    assert conn.isAlive() == 1
    assert conn.close() == 0
    assert conn.isAlive() == 0
    with pytest.raises(libvirt.libvirtError):
        conn.getCapabilities()


def test_host_wraps_a_fake_connection():
    fake_host = fake.FakeHost.create(cpu_nodes=2, cpu_cores=2)
    topology = fake_host.host.get_host_topology(cpu_dedicated_set="1,3")
    assert [(c.pcpuset, c.cpuset) for c in topology.cells] == [({1}, set()), ({3}, set())]


def test_topology_ignores_the_global_conf():
    os_numa_conf.CONF.set_override("cpu_dedicated_set", "0", group="compute")
    try:
        topology = fake.FakeHost.create().topology()
    finally:
        os_numa_conf.CONF.clear_override("cpu_dedicated_set", group="compute")
    assert topology.cells[0].pcpuset == {0, 1}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        (dict(cpu_nodes=0), "cpu_nodes=0"),
        (dict(cpu_cores="2"), "cpu_cores='2'"),
        (dict(cpu_threads=True), "cpu_threads=True"),
        (dict(kB_mem=-1), "kB_mem=-1"),
        (dict(mempages={4: 1}), "sizes are KiB above 4"),
        (dict(mempages={2048: -1}), "non-negative"),
        (dict(kB_mem=GiB_KB, mempages={1048576: 2}), "more than a node's"),
        (dict(cpu_nodes=1025), "at most 1024 NUMA nodes"),
        (dict(cpu_nodes=2, cpu_cores=32769), "65538 CPUs"),
    ],
)
def test_bad_host_info_is_refused(kwargs, needle):
    with pytest.raises(exception.Invalid) as info:
        fake.HostInfo(**kwargs)
    assert needle in str(info.value)
