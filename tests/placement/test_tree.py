"""Provider trees: the sample hosts as Placement inventories (pure, no service)."""

import pytest

from os_numa import conf, exception
from os_numa.placement import tree
from tests import fixtures_topology as ft


def make_conf(**overrides):
    return conf.make_conf(
        **{(k if "." in k else f"placement.{k}"): v for k, v in overrides.items()}
    )


def inventory(provider, rc):
    return provider.inventories[rc].as_dict()


def test_intel_two_cells_nested():
    host_tree = tree.host_tree("intel", ft.sample_host("intel-2s-20c-ht.xml"), make_conf())
    assert host_tree.root.inventories == {} and host_tree.root.parent_uuid is None
    assert [p.name for p in host_tree.cells] == ["intel_NUMA0", "intel_NUMA1"]
    cell0, cell1 = host_tree.cells
    assert cell0.parent_uuid == host_tree.root.uuid
    assert cell0.traits == {"HW_NUMA_ROOT", "HW_CPU_HYPERTHREADING"}
    assert inventory(cell0, "PCPU") == {
        "total": 40,
        "reserved": 0,
        "min_unit": 1,
        "max_unit": 40,
        "step_size": 1,
        "allocation_ratio": 1.0,
    }
    assert inventory(cell0, "VCPU")["allocation_ratio"] == 4.0
    # Small-page memory only (44040192 x 4 KiB), the host's 512 MiB on cell 0.
    assert inventory(cell0, "MEMORY_MB")["total"] == 172032
    assert inventory(cell0, "MEMORY_MB")["reserved"] == 512
    assert inventory(cell1, "MEMORY_MB")["reserved"] == 0
    assert inventory(cell0, "CUSTOM_MEMORY_PAGE_2048")["total"] == 4096
    assert inventory(cell0, "CUSTOM_MEMORY_PAGE_1048576")["total"] == 16
    assert host_tree.cell_of(cell1.uuid) == 1 and host_tree.cell_of(host_tree.root.uuid) is None


def test_amd_nps4_and_sixteen_cells():
    amd = tree.host_tree("amd", ft.sample_host("amd-epyc-2s-nps4.xml"), make_conf())
    assert len(amd.cells) == 8
    assert {p.inventories["PCPU"].total for p in amd.cells} == {16}
    big = tree.host_tree("big", ft.sample_host("large-16cell.xml"), make_conf())
    assert [p.cell for p in big.cells] == list(range(16))
    assert len({p.uuid for p in big.providers}) == 17


def test_configured_ratios_and_reservations():
    options = conf.make_conf(
        reserved_host_memory_mb=4096,  # [DEFAULT], Nova's option
        **{
            "placement.cpu_allocation_ratio": 2.0,
            "placement.ram_allocation_ratio": 1.5,
            "placement.reserved_host_cpus": 2,
        },
    )
    host_tree = tree.host_tree("h", ft.host(2, 4, memory=8192), options)
    cell0 = host_tree.cells[0]
    assert inventory(cell0, "VCPU")["allocation_ratio"] == 2.0
    assert inventory(cell0, "VCPU")["reserved"] == 2
    assert inventory(host_tree.cells[1], "VCPU")["reserved"] == 0
    assert inventory(cell0, "MEMORY_MB") == {
        "total": 8192,
        "reserved": 4096,
        "min_unit": 1,
        "max_unit": 8192,
        "step_size": 1,
        "allocation_ratio": 1.5,
    }


def test_cpu_sets_split_pcpu_and_vcpu_and_no_smt_no_trait():
    host = ft.host(2, 4, shared={0, 4}, dedicated={1, 2, 3, 5, 6, 7})
    cell0 = tree.host_tree("h", host, make_conf()).cells[0]
    assert cell0.inventories["PCPU"].total == 3 and cell0.inventories["VCPU"].total == 1
    assert cell0.traits == {"HW_NUMA_ROOT"}


def test_reserved_huge_pages_and_emulator_pool():
    host = ft.host(2, 4, huge_2m=512, pool={3, 7}, pool_overcommit=4, dedicated={0, 1, 2, 4, 5, 6})
    host.cells[0].mempages[1].reserved = 64
    cell0 = tree.host_tree("h", host, make_conf()).cells[0]
    assert inventory(cell0, "CUSTOM_MEMORY_PAGE_2048")["reserved"] == 64
    assert inventory(cell0, "CUSTOM_EMULATOR_POOL") == {
        "total": 1,
        "reserved": 0,
        "min_unit": 1,
        "max_unit": 1,
        "step_size": 1,
        "allocation_ratio": 4.0,
    }
    assert inventory(cell0, "PCPU")["total"] == 3


def test_flat_model_is_novas_single_pool_on_the_root():
    host_tree = tree.host_tree(
        "intel", ft.sample_host("intel-2s-20c-ht.xml"), make_conf(), model="flat"
    )
    assert host_tree.cells == ()
    assert host_tree.root.traits == {"HW_CPU_HYPERTHREADING"}
    assert set(host_tree.root.inventories) == {"PCPU", "VCPU", "MEMORY_MB"}
    assert host_tree.root.inventories["PCPU"].total == 80
    assert host_tree.root.inventories["MEMORY_MB"].total == 2 * 196608


def test_uuids_are_stable_and_named_by_host():
    first = tree.host_tree("h", ft.host(2, 2), make_conf())
    again = tree.host_tree("h", ft.host(2, 2), make_conf())
    other = tree.host_tree("g", ft.host(2, 2), make_conf())
    assert [p.uuid for p in first.providers] == [p.uuid for p in again.providers]
    assert not {p.uuid for p in first.providers} & {p.uuid for p in other.providers}
    given = tree.host_tree("h", ft.host(2, 2), make_conf(), root_uuid="7" * 32)
    assert given.root.uuid == "7" * 32


@pytest.mark.parametrize(("name", "model"), [("", "nested"), ("h", "numa")])
def test_bad_names_and_models(name, model):
    with pytest.raises(exception.InvalidConfiguration):
        tree.host_tree(name, ft.host(1, 1), make_conf(), model=model)


def test_page_class_round_trip():
    assert tree.page_class(2048) == "CUSTOM_MEMORY_PAGE_2048"
    assert tree.page_size_of("CUSTOM_MEMORY_PAGE_1048576") == 1048576
    assert tree.page_size_of("CUSTOM_MEMORY_PAGE_X") is None
    assert tree.page_size_of("MEMORY_MB") is None


def test_host_memory_already_taken_out_per_cell_is_not_reserved_twice():
    options = make_conf(**{"os_numa.reserved_host_memory_spread": True})
    host = ft.host(2, 4, memory=8192)
    host.cells[0].mempages[0].reserved = 256 * 256  # what the spread leaves: 256 MiB per cell
    cell0 = tree.host_tree("h", host, options).cells[0]
    assert cell0.inventories["MEMORY_MB"].reserved == 256
