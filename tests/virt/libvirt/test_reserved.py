"""Reserved huge pages and host memory per NUMA cell ([DEFAULT] reserved_huge_pages,
[os_numa] reserved_host_memory_per_cell / reserved_host_memory_spread)."""

from __future__ import annotations

import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.cmd.render_picture import render_host
from os_numa.testing import fake
from os_numa.virt.libvirt import host as host_mod
from os_numa.virt.libvirt import reserved

# 2 cells x 4 CPUs, 8 GiB per cell, 512 x 2 MiB pages per cell.
CAPS = fake.HostInfo(
    cpu_nodes=2, cpu_cores=4, kB_mem=16 * 1024 * 1024, mempages={2048: 512}
).to_xml()


def topology(**overrides):
    conf = os_numa_conf.make_conf(**overrides)
    return host_mod.host_topology_from_capabilities(CAPS, conf=conf)


def pool(cell, size_kb):
    return cell.pages_of_size(size_kb)


def flavor(specs, vcpus=2, memory_mb=1024):
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs)


def fits(host, specs, **kwargs):
    request = hardware.numa_get_constraints(flavor(specs, **kwargs), None)
    return hardware.numa_fit_instance_to_host(host, request)


# --- huge pages -----------------------------------------------------------------------------


def test_nothing_is_reserved_by_default():
    host = topology()
    assert [p.reserved for cell in host.cells for p in cell.mempages] == [0, 0, 0, 0]
    assert [cell.memory for cell in host.cells] == [8192, 8192]


@pytest.mark.parametrize("size", ["2048", "2MB", "2MiB"])
def test_reserved_huge_pages_mark_the_pool(size):
    host = topology(reserved_huge_pages=[{"node": "0", "size": size, "count": "500"}])
    assert pool(host.cells[0], 2048).reserved == 500
    assert pool(host.cells[0], 2048).free == 12
    assert pool(host.cells[1], 2048).reserved == 0


def test_reserved_huge_pages_are_never_given_to_a_guest():
    specs = {"hw:mem_page_size": "2MB", "hw:numa_nodes": "1"}
    assert fits(topology(), specs, memory_mb=1024) is not None  # 512 pages free
    reserved_all = [
        {"node": "0", "size": "2048", "count": "1"},
        {"node": "1", "size": "2048", "count": "1"},
    ]
    # 511 pages left per cell: 1024 MiB (512 pages) fits nowhere any more.
    assert fits(topology(reserved_huge_pages=reserved_all), specs, memory_mb=1024) is None
    assert fits(topology(reserved_huge_pages=reserved_all), specs, memory_mb=1022) is not None


def test_claim_keeps_the_reservation():
    host = topology(reserved_huge_pages=[{"node": "0", "size": "2048", "count": "100"}])
    specs = {"hw:mem_page_size": "2048", "hw:cpu_policy": "dedicated"}
    placement = fits(host, specs, memory_mb=824)
    assert placement.cells[0].id == 0 or placement.cells[0].id == 1
    claimed = hardware.numa_usage_from_instance_numa(host, placement)
    cell = claimed.cell_by_id(placement.cells[0].id)
    assert pool(cell, 2048).used == 412
    assert pool(cell, 2048).reserved == (100 if cell.id == 0 else 0)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"node": "0", "size": "2048"}, "count is missing"),
        ({"node": "0", "size": "2048", "count": "x"}, "count"),
        ({"node": "0", "size": "2048", "count": "1", "nodes": "1"}, "unknown key"),
        ({"node": "7", "size": "2048", "count": "1"}, r"host cell\(s\) 7"),
        ({"node": "0", "size": "1GB", "count": "1"}, "no 1048576 KiB pages"),
        ({"node": "0", "size": "2048", "count": "513"}, "only 512 pages"),
        ({"node": "0", "size": "large", "count": "1"}, "not a keyword"),
        ({"node": "0", "size": "huge", "count": "1"}, "not a page size"),
        ({"node": "0", "size": "2M", "count": "1"}, "not a page size"),  # as Nova refuses
    ],
)
def test_bad_reserved_huge_pages_are_refused(value, needle):
    with pytest.raises(exception.InvalidReservedMemoryPagesOption, match=needle):
        topology(reserved_huge_pages=[value])


def test_the_same_size_twice_is_refused():
    twice = [
        {"node": "0", "size": "2048", "count": "1"},
        {"node": "0", "size": "2MB", "count": "2"},
    ]
    with pytest.raises(exception.InvalidReservedMemoryPagesOption, match="twice"):
        topology(reserved_huge_pages=twice)


def test_parse_in_a_config_file(tmp_path):
    path = tmp_path / "os-numa.conf"
    path.write_text(
        "[DEFAULT]\nreserved_huge_pages = node:0,size:2048,count:64\n"
        "reserved_huge_pages = node:1,size:2MB,count:3\n"
    )
    conf = os_numa_conf.make_conf(["--config-file", str(path)])
    assert reserved.parse_reserved_huge_pages(conf.reserved_huge_pages) == {
        0: {2048: 64},
        1: {2048: 3},
    }


# --- host memory per cell -------------------------------------------------------------------------


def test_host_memory_per_cell_shrinks_the_cell():
    host = topology(
        **{"os_numa.reserved_host_memory_per_cell": [{"node": "1", "memory_mb": "1024"}]}
    )
    assert [cell.memory for cell in host.cells] == [8192, 7168]
    small = pool(host.cells[1], 4)
    assert small.reserved == 1024 * 256
    # A pinned guest asking for all small-page memory of a cell fits cell 0 only.
    specs = {"hw:cpu_policy": "dedicated"}
    placement = fits(host, specs, memory_mb=7000)
    assert placement is not None
    small_mb = pool(host.cells[0], 4).total // 256
    placement = fits(host, specs, memory_mb=small_mb)
    assert [c.id for c in placement.cells] == [0]


def test_host_memory_per_cell_also_limits_shared_guests():
    one = topology(
        **{"os_numa.reserved_host_memory_per_cell": [{"node": "0", "memory_mb": "6000"}]}
    )
    both = topology(
        **{
            "os_numa.reserved_host_memory_per_cell": [
                {"node": "0", "memory_mb": "6000"},
                {"node": "1", "memory_mb": "6000"},
            ]
        }
    )
    specs = {"hw:numa_nodes": "1"}
    assert fits(one, specs, memory_mb=4096) is not None
    assert fits(both, specs, memory_mb=4096) is None


def test_spread_splits_novas_option():
    host = topology(
        **{"os_numa.reserved_host_memory_spread": True, "reserved_host_memory_mb": 1025}
    )
    assert [cell.memory for cell in host.cells] == [8192 - 513, 8192 - 512]


def test_spread_is_off_by_default_whatever_novas_option_says():
    assert [c.memory for c in topology(reserved_host_memory_mb=4096).cells] == [8192, 8192]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"os_numa.reserved_host_memory_per_cell": [{"node": "0"}]}, "node:N,memory_mb:M"),
        (
            {"os_numa.reserved_host_memory_per_cell": [{"node": "0", "memory_mb": "-1"}]},
            "memory_mb",
        ),
        (
            {"os_numa.reserved_host_memory_per_cell": [{"node": "3", "memory_mb": "1"}]},
            "host cell",
        ),
        (
            {"os_numa.reserved_host_memory_per_cell": [{"node": "0", "memory_mb": "9000"}]},
            "which has 8192 MiB",
        ),
        (
            {
                "os_numa.reserved_host_memory_per_cell": [{"node": "0", "memory_mb": "1"}],
                "os_numa.reserved_host_memory_spread": True,
            },
            "set one",
        ),
    ],
)
def test_bad_host_memory_reservations_are_refused(overrides, needle):
    with pytest.raises(exception.InvalidConfiguration, match=needle):
        topology(**overrides)


def test_host_memory_beyond_the_small_pages_is_refused():
    # 8192 MiB per cell, 1024 of them in 2 MiB pages: 7168 MiB of small pages.
    overrides = {"os_numa.reserved_host_memory_per_cell": [{"node": "0", "memory_mb": "8000"}]}
    with pytest.raises(exception.InvalidConfiguration, match="pages hold only"):
        topology(**overrides)


# --- the picture --------------------------------------------------------------------------------


def test_picture_shows_the_reservations():
    host = topology(
        reserved_huge_pages=[{"node": "0", "size": "2048", "count": "64"}],
        **{"os_numa.reserved_host_memory_per_cell": [{"node": "1", "memory_mb": "512"}]},
    )
    picture = render_host(host)
    assert "2M 448/512 free (64 reserved)" in picture
    assert "512 MiB reserved for the host" in picture
