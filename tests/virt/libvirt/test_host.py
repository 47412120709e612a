"""Host NUMA topology from capabilities documents, and the libvirt-python Host."""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import conf as os_numa_conf
from os_numa import exception
from os_numa.testing import fake
from os_numa.virt.libvirt import config, host

DATA = pathlib.Path(__file__).resolve().parents[2] / "data" / "capabilities"

GiB_MB = 1024


def _caps(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _pairs(cpus, offset):
    return [{cpu, cpu + offset} for cpu in cpus]


def _cell(cpus, siblings, memory_mb, pages, socket):
    return {
        "cpus": set(cpus),
        "siblings": siblings,
        "memory": memory_mb,
        "pages": pages,
        "socket": socket,
    }


def _small_pages(memory_mb, huge):
    """4 KiB pool size by libvirt's rule: memory not held by huge pages, in 4 KiB pages."""
    return (memory_mb * 1024 - sum(size * total for size, total in huge.items())) // 4


def _synthetic(memory_mb, huge):
    return {4: _small_pages(memory_mb, huge), **huge}


# Expected cells per sample, written from the samples' README, not from the parser.
EXPECTED = {
    "tiny-2cell-nosmt.xml": [
        _cell(range(0, 4), [{c} for c in range(0, 4)], 4096, _synthetic(4096, {2048: 0}), 0),
        _cell(range(4, 8), [{c} for c in range(4, 8)], 4096, _synthetic(4096, {2048: 0}), 1),
    ],
    "intel-2s-20c-ht.xml": [
        _cell(
            [*range(0, 20), *range(40, 60)],
            _pairs(range(0, 20), 40),
            192 * GiB_MB,
            _synthetic(192 * GiB_MB, {2048: 4096, 1048576: 16}),
            0,
        ),
        _cell(
            [*range(20, 40), *range(60, 80)],
            _pairs(range(20, 40), 40),
            192 * GiB_MB,
            _synthetic(192 * GiB_MB, {2048: 4096, 1048576: 16}),
            1,
        ),
    ],
    "amd-epyc-2s-nps4.xml": [
        _cell(
            [*range(8 * k, 8 * k + 8), *range(64 + 8 * k, 72 + 8 * k)],
            _pairs(range(8 * k, 8 * k + 8), 64),
            64 * GiB_MB,
            _synthetic(64 * GiB_MB, {2048: 2048, 1048576: 8}),
            k // 4,
        )
        for k in range(8)
    ],
    "asymmetric-3cell.xml": [
        _cell(
            [*range(0, 6), *range(12, 18)],
            _pairs(range(0, 6), 12),
            64 * GiB_MB,
            _synthetic(64 * GiB_MB, {2048: 1024, 1048576: 4}),
            0,
        ),
        _cell(
            range(6, 10),
            [{c} for c in range(6, 10)],
            32 * GiB_MB,
            _synthetic(32 * GiB_MB, {2048: 0, 1048576: 2}),
            1,
        ),
        _cell(
            [10, 11, 18, 19],
            _pairs([10, 11], 8),
            16 * GiB_MB,
            _synthetic(16 * GiB_MB, {2048: 512, 1048576: 0}),
            2,
        ),
    ],
    "large-16cell.xml": [
        _cell(
            range(8 * k, 8 * k + 8),
            [{c, c + 1} for c in range(8 * k, 8 * k + 8, 2)],
            32 * GiB_MB,
            _synthetic(32 * GiB_MB, {2048: 1024, 1048576: 4}),
            k // 2,
        )
        for k in range(16)
    ],
    "offline-cpus.xml": [
        _cell(
            [0, 1, 2, 8, 9, 10],
            _pairs([0, 1, 2], 8),
            96 * GiB_MB,
            _synthetic(96 * GiB_MB, {2048: 1024, 1048576: 4}),
            0,
        ),
        _cell(
            [4, 5, 6, 7, 12, 13, 15],
            [{4, 12}, {5, 13}, {6}, {7, 15}],
            96 * GiB_MB,
            _synthetic(96 * GiB_MB, {2048: 1024, 1048576: 4}),
            1,
        ),
        _cell([], [], 126 * GiB_MB, _synthetic(126 * GiB_MB, {2048: 0, 1048576: 0}), None),
    ],
    "single-node-real.xml": [
        _cell([0, 1], [{0}, {1}], 5204172 // 1024, {4: 1301043, 2048: 0, 1048576: 0}, 0),
    ],
}


def test_every_sample_has_expectations():
    assert sorted(p.name for p in DATA.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_topology_without_cpu_sets(name):
    topology = host.host_topology_from_capabilities(_caps(name), conf=os_numa_conf.make_conf())
    expected = EXPECTED[name]
    assert [cell.id for cell in topology.cells] == list(range(len(expected)))
    for cell, want in zip(topology.cells, expected, strict=True):
        assert cell.pcpuset == want["cpus"], cell.id
        assert cell.cpuset == want["cpus"], cell.id
        assert cell.siblings == want["siblings"], cell.id
        assert cell.memory == want["memory"], cell.id
        assert {p.size_kb: p.total for p in cell.mempages} == want["pages"], cell.id
        assert [p.size_kb for p in cell.mempages] == sorted(want["pages"])
        assert all(p.used == 0 and p.reserved == 0 for p in cell.mempages)
        assert cell.socket == want["socket"], cell.id
        assert (cell.cpu_usage, cell.memory_usage, cell.pinned_cpus) == (0, 0, set())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_round_trips_through_caps_classes(name):
    caps = config.LibvirtConfigCaps.parse_str(_caps(name))
    again = config.LibvirtConfigCaps.parse_str(caps.to_xml())
    assert again == caps
    assert (
        host.host_topology_from_capabilities(
            again, conf=os_numa_conf.make_conf()
        ).obj_to_primitive()
        == host.host_topology_from_capabilities(
            caps, conf=os_numa_conf.make_conf()
        ).obj_to_primitive()
    )


def _topology(name, dedicated=None, shared=None, **conf):
    return host.host_topology_from_capabilities(
        _caps(name), dedicated, shared, conf=os_numa_conf.make_conf(**conf)
    )


# (name, dedicated, shared, per cell: (pcpuset, cpuset, siblings))
CPU_SET_CASES = [
    (
        "intel-dedicated-and-shared",
        "intel-2s-20c-ht.xml",
        "2-19,42-59,22-39,62-79",
        "0-1,40-41,20-21,60-61",
        [
            # Shared CPUs stay in the sibling groups (as in Nova): here whole shared cores.
            ({*range(2, 20), *range(42, 60)}, {0, 1, 40, 41}, _pairs(range(0, 20), 40)),
            ({*range(22, 40), *range(62, 80)}, {20, 21, 60, 61}, _pairs(range(20, 40), 40)),
        ],
    ),
    (
        "intel-dedicated-splits-a-core",
        "intel-2s-20c-ht.xml",
        "1-19,40-59",
        None,
        [
            ({*range(1, 20), *range(40, 60)}, set(), [*_pairs(range(1, 20), 40), {40}]),
            (set(), set(), []),
        ],
    ),
    (
        "tiny-shared-only",
        "tiny-2cell-nosmt.xml",
        None,
        {0, 4},
        [(set(), {0}, [{0}]), (set(), {4}, [{4}])],
    ),
    (
        "offline-dedicated-on-online-cpus",
        "offline-cpus.xml",
        "8-10,12-13,15",
        "0-2",
        [
            # Cores split between the sets keep both threads: 0 and 8 share a core.
            ({8, 9, 10}, {0, 1, 2}, [{0, 8}, {1, 9}, {2, 10}]),
            ({12, 13, 15}, set(), [{12}, {13}, {15}]),
            (set(), set(), []),
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "dedicated", "shared", "cells"),
    [case[1:] for case in CPU_SET_CASES],
    ids=[case[0] for case in CPU_SET_CASES],
)
def test_cpu_sets_split_cells(name, dedicated, shared, cells):
    topology = _topology(name, dedicated, shared)
    got = [(c.pcpuset, c.cpuset, c.siblings) for c in topology.cells]
    assert got == cells


@pytest.mark.parametrize(
    ("name", "dedicated", "shared", "cells"),
    [case[1:] for case in CPU_SET_CASES],
    ids=[case[0] for case in CPU_SET_CASES],
)
def test_cpu_sets_from_conf_match_arguments(name, dedicated, shared, cells):
    def spec(value):
        return value if value is None or isinstance(value, str) else ",".join(map(str, value))

    topology = _topology(
        name,
        **{"compute.cpu_dedicated_set": spec(dedicated), "compute.cpu_shared_set": spec(shared)},
    )
    assert [(c.pcpuset, c.cpuset, c.siblings) for c in topology.cells] == cells


def test_explicit_argument_wins_over_conf_and_inputs_are_not_mutated():
    dedicated = {1, 2, 3}
    topology = _topology(
        "tiny-2cell-nosmt.xml", dedicated, None, **{"compute.cpu_dedicated_set": "5-7"}
    )
    assert [c.pcpuset for c in topology.cells] == [{1, 2, 3}, set()]
    assert dedicated == {1, 2, 3}


@pytest.mark.parametrize(
    ("dedicated", "shared", "needle"),
    [
        ("0-4", "4-5", "overlap on CPU(s) 4"),
        ("0-3,11,14", None, "cpu_dedicated_set names CPU(s) 3,11,14 that are not online"),
        (None, {3, 100}, "cpu_shared_set names CPU(s) 3,100 that are not online"),
        ("0-x", None, "'x'"),
        ("^1", None, "names no CPUs"),
        (set(), None, "names no CPUs"),
        ({"a"}, None, "neither a CPU spec nor CPU ids"),
    ],
)
def test_bad_cpu_sets_are_refused(dedicated, shared, needle):
    with pytest.raises(exception.InvalidConfiguration) as info:
        _topology("offline-cpus.xml", dedicated, shared)
    assert needle in str(info.value)


def test_bad_cpu_set_in_conf_is_refused():
    with pytest.raises(exception.InvalidConfiguration) as info:
        _topology("tiny-2cell-nosmt.xml", **{"compute.cpu_shared_set": "7-9"})
    assert "cpu_shared_set names CPU(s) 8-9" in str(info.value)


def test_default_conf_is_the_global_one():
    os_numa_conf.CONF.set_override("cpu_dedicated_set", "1", group="compute")
    try:
        topology = host.host_topology_from_capabilities(_caps("tiny-2cell-nosmt.xml"))
    finally:
        os_numa_conf.CONF.clear_override("cpu_dedicated_set", group="compute")
    assert [c.pcpuset for c in topology.cells] == [{1}, set()]


@pytest.mark.parametrize(
    ("xml", "cells"),
    [
        # No NUMA topology at all (some drivers): no cells.
        ("<capabilities><host><cpu><arch>x86_64</arch></cpu></host></capabilities>", []),
        # CPUs without socket/sibling details, no memory, no pages, <cpus num='0'/>.
        (
            "<capabilities><host><cpu/><topology><cells num='2'>"
            "<cell id='1'><cpus num='2'><cpu id='3'/><cpu id='2'/></cpus></cell>"
            "<cell id='0'><cpus num='0'/></cell>"
            "</cells></topology></host></capabilities>",
            [(0, set(), [], 0, None), (1, {2, 3}, [{2}, {3}], 0, None)],
        ),
        # Mixed sockets in one cell: no socket.
        (
            "<capabilities><host><cpu/><topology><cells num='1'><cell id='0'>"
            "<memory unit='GiB'>1</memory><cpus num='2'>"
            "<cpu id='0' socket_id='0' siblings='0'/><cpu id='1' socket_id='1' siblings='1'/>"
            "</cpus></cell></cells></topology></host></capabilities>",
            [(0, {0, 1}, [{0}, {1}], 1024, None)],
        ),
    ],
    ids=["no-topology", "sparse-cells", "mixed-sockets"],
)
def test_tolerant_of_sparse_documents(xml, cells):
    topology = host.host_topology_from_capabilities(xml, conf=os_numa_conf.make_conf())
    got = [(c.id, c.pcpuset, c.siblings, c.memory, c.socket) for c in topology.cells]
    assert got == cells
    assert all(c.mempages == [] for c in topology.cells)


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("<capabilities><host>", exception.InvalidXML),
        ('<!DOCTYPE c [<!ENTITY a "b">]><capabilities/>', exception.UnsafeXML),
        ("<domain type='kvm'/>", exception.InvalidXML),
        (
            "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='1'>"
            "<cpu id='0' siblings='0-'/></cpus></cell></cells></topology></host></capabilities>",
            exception.InvalidXML,
        ),
    ],
)
def test_bad_documents(document, error):
    with pytest.raises(error):
        host.host_topology_from_capabilities(document, conf=os_numa_conf.make_conf())


def _caps_with_cells(cells: str) -> str:
    return (
        "<capabilities><host><topology><cells num='2'>"
        f"{cells}</cells></topology></host></capabilities>"
    )


def _cell_xml(cell_id, cpus=(0,), memory="1024", pages=""):
    cpu_xml = "".join(f"<cpu id='{cpu}'/>" for cpu in cpus)
    return (
        f"<cell id='{cell_id}'><memory unit='KiB'>{memory}</memory>{pages}"
        f"<cpus num='{len(cpus)}'>{cpu_xml}</cpus></cell>"
    )


@pytest.mark.parametrize(
    ("cells", "needle"),
    [
        (_cell_xml(-1), "host cell id -1 is out of range 0..1023"),
        (_cell_xml(host.MAX_HOST_CELLS), "host cell id 1024 is out of range"),
        (_cell_xml(0, (0,)) + _cell_xml(0, (1,)), "host cell id 0 appears more than once"),
        (_cell_xml(0, (-3,)), "host cell 0 has CPU id -3"),
        (_cell_xml(0, (99999999999,)), "CPU id 99999999999; CPU ids are in 0..65535"),
        (_cell_xml(0, (0, 1)) + _cell_xml(1, (1,)), "CPU 1 is listed in host cell 0 and again"),
        (_cell_xml(0, (2, 2)), "CPU 2 is listed in host cell 0 and again in host cell 0"),
        (_cell_xml(0, memory="-1024"), "memory -1024 KiB"),
        (_cell_xml(0, pages="<pages unit='KiB' size='2048'>-5</pages>"), "-5 pages of 2048"),
        (_cell_xml(0, pages="<pages unit='KiB' size='0'>5</pages>"), "5 pages of 0 KiB"),
        (_cell_xml(0, ("9" * 5000,)), "at most 20 digits"),
        (_cell_xml(0, memory="9" * 20), "at most 4398046511104 KiB"),
        (
            _cell_xml(0, pages="<pages unit='KiB' size='1048576'>99999999999</pages>"),
            "counts 99999999999 pages; a pool holds at most",
        ),
    ],
    ids=[
        "negative-cell-id",
        "cell-id-beyond-bound",
        "duplicate-cell-id",
        "negative-cpu-id",
        "cpu-id-beyond-bound",
        "cpu-in-two-cells",
        "cpu-twice-in-a-cell",
        "negative-memory",
        "negative-page-count",
        "zero-page-size",
        "5000-digit-cpu-id",
        "memory-beyond-4-pib",
        "page-pool-beyond-4-pib",
    ],
)
def test_impossible_hosts_are_refused(cells, needle):
    """User-supplied capabilities are bounded: an impossible host is a typed error
    naming the value, never a topology with negative or unbounded ids."""
    with pytest.raises(exception.InvalidXML) as info:
        host.host_topology_from_capabilities(_caps_with_cells(cells), conf=os_numa_conf.make_conf())
    assert needle in str(info.value)


def test_highest_ids_within_the_bounds_are_accepted():
    top_cpu = host.cpuset_mod.MAX_CPU_ID - 1
    caps = _caps_with_cells(_cell_xml(host.MAX_HOST_CELLS - 1, (top_cpu,)))
    topology = host.host_topology_from_capabilities(caps, conf=os_numa_conf.make_conf())
    assert [(c.id, c.pcpuset) for c in topology.cells] == [(1023, {top_cpu})]


# --- Host against libvirt's in-process test driver ---------------------------------------------


@pytest.mark.parametrize("read_only", [False, True])
def test_host_reads_the_test_driver(read_only):
    with host.Host("test:///default", conf=os_numa_conf.make_conf(), read_only=read_only) as h:
        caps = config.LibvirtConfigCaps.parse_str(h.get_capabilities())
        topology = h.get_host_topology()
    assert [c.cpu_ids for c in caps.cells] == [set(range(8)), set(range(8, 16))]
    assert [(c.id, c.pcpuset, c.cpuset) for c in topology.cells] == [
        (0, set(range(8)), set(range(8))),
        (1, set(range(8, 16)), set(range(8, 16))),
    ]
    assert all(c.siblings == [{cpu} for cpu in sorted(c.pcpuset)] for c in topology.cells)
    assert [c.socket for c in topology.cells] == [0, 1]
    # Memory and page pools come from the document the driver returned.
    for cell, caps_cell in zip(topology.cells, caps.cells, strict=True):
        assert cell.memory == caps_cell.memory // 1024
        assert [(p.size_kb, p.total) for p in cell.mempages] == sorted(
            (p.size, p.total) for p in caps_cell.mempages
        )


def test_host_uses_its_conf_and_opens_lazily():
    h = host.Host(
        "test:///default",
        conf=os_numa_conf.make_conf(
            **{"compute.cpu_dedicated_set": "4-7,12-15", "compute.cpu_shared_set": "0-1"}
        ),
    )
    assert h._conn is None
    topology = h.get_host_topology()
    assert h.get_connection().isAlive()
    assert [(c.pcpuset, c.cpuset) for c in topology.cells] == [
        ({4, 5, 6, 7}, {0, 1}),
        ({12, 13, 14, 15}, set()),
    ]
    h.close()
    assert h._conn is None
    h.close()  # closing twice is harmless


def test_host_connection_errors_are_typed(tmp_path):
    missing = tmp_path / "no-such-node.xml"
    h = host.Host(f"test://{missing}")
    with pytest.raises(exception.LibvirtConnectionError) as info:
        h.get_capabilities()
    assert str(missing) in str(info.value)


# --- properties over generated hosts and CPU sets ----------------------------------------------


@st.composite
def _host_and_sets(draw):
    shape = draw(
        st.fixed_dictionaries(
            {
                "cpu_nodes": st.integers(1, 4),
                "cpu_sockets": st.integers(1, 2),
                "cpu_cores": st.integers(1, 4),
                "cpu_threads": st.integers(1, 2),
            }
        )
    )
    info = fake.HostInfo(**shape)
    # Each CPU goes to the dedicated set, the shared set, or neither.
    roles = draw(
        st.lists(st.sampled_from("dsn"), min_size=info.total_cpus, max_size=info.total_cpus)
    )
    dedicated = {cpu for cpu, role in enumerate(roles) if role == "d"} or None
    shared = {cpu for cpu, role in enumerate(roles) if role == "s"} or None
    return info, dedicated, shared


@settings(max_examples=40, deadline=None)
@given(_host_and_sets())
def test_topology_invariants(case):
    info, dedicated, shared = case
    topology = host.host_topology_from_capabilities(
        info.to_xml(), dedicated, shared, conf=os_numa_conf.make_conf()
    )
    online = set(range(info.total_cpus))
    all_p = set().union(*(c.pcpuset for c in topology.cells))
    all_s = set().union(*(c.cpuset for c in topology.cells))
    if dedicated is None and shared is None:
        assert all_p == all_s == online
    else:
        assert all_p == (dedicated or set())
        assert all_s == (shared or set())
    for cell in topology.cells:
        # Siblings partition the CPUs guests use, lowest CPU first, no empty group.
        used = cell.pcpuset | cell.cpuset
        assert sorted(cpu for group in cell.siblings for cpu in group) == sorted(used)
        assert all(cell.siblings)
        assert [min(g) for g in cell.siblings] == sorted(min(g) for g in cell.siblings)
        assert all(len(group) <= info.cpu_threads for group in cell.siblings)


# --- the emulator pool ([os_numa] emulator_pin_set) ----------------------------------------

POOL_CASES = {
    "beside the [compute] sets": (
        {"cpu_dedicated_set": "1-3,5-7", "emulator_pin_set": "0,4"},
        [({0}, {1, 2, 3}, set()), ({4}, {5, 6, 7}, set())],
    ),
    "taken out of the legacy every-CPU default": (
        {"emulator_pin_set": "0"},
        [({0}, {1, 2, 3}, {1, 2, 3}), (set(), {4, 5, 6, 7}, {4, 5, 6, 7})],
    ),
    "with a shared set, in one cell only": (
        {"cpu_dedicated_set": "2-3,6-7", "cpu_shared_set": "0,4", "emulator_pin_set": "1"},
        [({1}, {2, 3}, {0}), (set(), {6, 7}, {4})],
    ),
    "no pool": (
        {"cpu_dedicated_set": "0-7"},
        [(set(), {0, 1, 2, 3}, set()), (set(), {4, 5, 6, 7}, set())],
    ),
}


@pytest.mark.parametrize(("sets", "cells"), POOL_CASES.values(), ids=POOL_CASES)
@pytest.mark.parametrize("source", ["arguments", "conf"])
def test_emulator_pool_per_cell(sets, cells, source):
    conf = os_numa_conf.make_conf(**{"os_numa.emulator_pool_overcommit": 3})
    if source == "conf":
        for name, value in sets.items():
            group = "os_numa" if name == "emulator_pin_set" else "compute"
            conf.set_override(name, value, group=group)
        topology = host.host_topology_from_capabilities(_caps("tiny-2cell-nosmt.xml"), conf=conf)
    else:
        topology = host.host_topology_from_capabilities(
            _caps("tiny-2cell-nosmt.xml"), conf=conf, **sets
        )
    got = [(c.emulator_pool_cpus, c.pcpuset, c.cpuset) for c in topology.cells]
    assert got == cells
    for cell in topology.cells:
        assert cell.emulator_pool_overcommit == 3
        assert cell.emulator_pool_guests == {}
        assert not cell.emulator_pool_cpus & (cell.pcpuset | cell.cpuset)
        # Pool CPUs share cores with guests' CPUs: they stay in the sibling groups.
        used = cell.emulator_pool_cpus | cell.pcpuset | cell.cpuset
        assert set().union(*cell.siblings) == used


BAD_POOLS = {
    "overlaps the dedicated set": (
        {"cpu_dedicated_set": "0-7", "emulator_pin_set": "3"},
        "cpu_dedicated_set overlap on CPU(s) 3",
    ),
    "overlaps the shared set": (
        {"cpu_shared_set": "0-1", "emulator_pin_set": "1-2"},
        "cpu_shared_set overlap on CPU(s) 1",
    ),
    "offline CPU": ({"emulator_pin_set": "7-9"}, "CPU(s) 8-9 that are not online"),
    "malformed": ({"emulator_pin_set": "x"}, "[os_numa] emulator_pin_set"),
    "empty": ({"emulator_pin_set": "0,^0"}, "names no CPUs"),
}


@pytest.mark.parametrize(("sets", "needle"), BAD_POOLS.values(), ids=BAD_POOLS)
def test_bad_emulator_pools_are_refused(sets, needle):
    with pytest.raises(exception.InvalidConfiguration) as info:
        host.host_topology_from_capabilities(
            _caps("tiny-2cell-nosmt.xml"), conf=os_numa_conf.make_conf(), **sets
        )
    assert needle in str(info.value)


def test_emulator_pool_overcommit_below_one_is_refused():
    conf = os_numa_conf.make_conf()
    with pytest.raises(ValueError):
        conf.set_override("emulator_pool_overcommit", 0, group="os_numa")
