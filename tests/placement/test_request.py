"""A guest's request as Placement groups (pure, no service)."""

import pytest

from os_numa import exception
from os_numa.objects import Flavor
from os_numa.placement.request import placement_requests


def flavor(vcpus=4, memory=4096, **specs):
    return Flavor(vcpus=vcpus, memory_mb=memory, extra_specs=specs)


def query(f, **kw):
    (request,) = placement_requests(f, **kw)
    return dict(request.query())


def test_single_cell_dedicated():
    assert query(flavor(**{"hw:cpu_policy": "dedicated"})) == {
        "resources_NUMA0": "MEMORY_MB:4096,PCPU:4",
    }


def test_multi_cell_with_isolate_emulator_in_cell_zero_and_group_policy():
    (request,) = placement_requests(
        flavor(
            6,
            6144,
            **{
                "hw:cpu_policy": "dedicated",
                "hw:numa_nodes": "2",
                "hw:emulator_threads_policy": "isolate",
            },
        )
    )
    assert request.query(limit=7) == [
        ("resources_NUMA0", "MEMORY_MB:3072,PCPU:4"),
        ("resources_NUMA1", "MEMORY_MB:3072,PCPU:3"),
        ("group_policy", "isolate"),
        ("limit", "7"),
    ]
    assert request.cell_groups == ("_NUMA0", "_NUMA1")
    assert request.resources == {"MEMORY_MB": 6144, "PCPU": 7}


def test_pool_emulator_is_one_unit_anywhere_on_the_host():
    params = query(
        flavor(2, 1024, **{"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "pool"})
    )
    assert params == {
        "resources": "CUSTOM_EMULATOR_POOL:1",
        "resources_NUMA0": "MEMORY_MB:1024,PCPU:2",
    }


def test_mixed_guest_asks_pcpu_and_vcpu_in_its_cell():
    params = query(flavor(4, 2048, **{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"}))
    assert params == {"resources_NUMA0": "MEMORY_MB:2048,PCPU:3,VCPU:1"}


def test_shared_numa_guest_asks_vcpu_per_cell():
    params = query(flavor(4, 2048, **{"hw:numa_nodes": "2"}))
    assert params["resources_NUMA0"] == "MEMORY_MB:1024,VCPU:2"
    assert params["group_policy"] == "isolate"


def test_guest_without_numa_asks_the_unsuffixed_group_and_custom_traits_on_the_root():
    params = query(
        flavor(2, 1024, **{"trait:CUSTOM_FAST": "required", "trait:CUSTOM_OLD": "forbidden"})
    )
    assert params == {
        "resources": "MEMORY_MB:1024,VCPU:2",
        "root_required": "CUSTOM_FAST,!CUSTOM_OLD",
    }


def test_huge_pages_explicit_size_and_large_alternatives():
    params = query(flavor(2, 2048, **{"hw:cpu_policy": "dedicated", "hw:mem_page_size": "2048"}))
    assert params == {"resources_NUMA0": "CUSTOM_MEMORY_PAGE_2048:1024,PCPU:2"}
    large = placement_requests(
        flavor(2, 2048, **{"hw:cpu_policy": "dedicated", "hw:mem_page_size": "large"}),
        page_sizes=(2048, 1048576),
    )
    assert [dict(r.query())["resources_NUMA0"] for r in large] == [
        "CUSTOM_MEMORY_PAGE_1048576:2,PCPU:2",
        "CUSTOM_MEMORY_PAGE_2048:1024,PCPU:2",
    ]
    assert [r.topology.cells[0].pagesize for r in large] == [1048576, 2048]
    anything = placement_requests(
        flavor(2, 2048, **{"hw:mem_page_size": "any", "hw:cpu_policy": "dedicated"}),
        page_sizes=(2048,),
    )
    assert [dict(r.query())["resources_NUMA0"] for r in anything] == [
        "CUSTOM_MEMORY_PAGE_2048:1024,PCPU:2",
        "MEMORY_MB:2048,PCPU:2",
    ]
    with pytest.raises(exception.InvalidRequest, match="no host reports huge pages"):
        placement_requests(flavor(2, 2048, **{"hw:mem_page_size": "large"}), page_sizes=())


def test_thread_policies_become_per_cell_traits():
    require = query(
        flavor(2, 1024, **{"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require"})
    )
    assert require["required_NUMA0"] == "HW_CPU_HYPERTHREADING"
    isolate = query(
        flavor(2, 1024, **{"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"})
    )
    assert isolate["required_NUMA0"] == "!HW_CPU_HYPERTHREADING"


def test_flavor_groups_are_kept_and_tied_to_guest_cell_zero():
    params = query(
        flavor(
            2,
            1024,
            **{
                "hw:cpu_policy": "dedicated",
                "resources_NIC:CUSTOM_VF": "1",
                "trait_NIC:CUSTOM_PHYSNET_A": "required",
            },
        )
    )
    assert params == {
        "resources_NUMA0": "MEMORY_MB:1024,PCPU:2",
        "resources_NIC": "CUSTOM_VF:1",
        "required_NIC": "CUSTOM_PHYSNET_A",
        "same_subtree": "_NUMA0,_NIC",
        "group_policy": "isolate",
    }


def test_explicit_cpu_resources_keep_the_flavors_groups():
    (request,) = placement_requests(flavor(2, 1024, **{"resources:PCPU": "2"}))
    assert dict(request.query()) == {"resources": "MEMORY_MB:1024,PCPU:2"}
    assert request.cell_groups == ()


def test_flat_model_is_novas_request():
    (request,) = placement_requests(
        flavor(
            4,
            4096,
            **{
                "hw:cpu_policy": "dedicated",
                "hw:emulator_threads_policy": "isolate",
                "hw:numa_nodes": "2",
            },
        ),
        model="flat",
    )
    assert dict(request.query()) == {"resources": "MEMORY_MB:4096,PCPU:5"}
    assert request.topology is not None and len(request.topology.cells) == 2


def test_invalid_flavor_is_the_fits_typed_error():
    with pytest.raises(exception.InvalidCPUAllocationPolicy):
        placement_requests(flavor(**{"hw:cpu_policy": "bogus"}))


def test_isolated_iothreads_are_pcpus_of_cell_zero_like_the_emulator():
    specs = {
        "hw:cpu_policy": "dedicated",
        "hw:numa_nodes": "2",
        "hw:emulator_threads_policy": "isolate",
        "hw:iothreads": "2",
        "hw:iothreads_policy": "isolate",
    }
    (request,) = placement_requests(flavor(4, 4096, **specs))
    assert request.query()[:2] == [
        ("resources_NUMA0", "MEMORY_MB:2048,PCPU:5"),
        ("resources_NUMA1", "MEMORY_MB:2048,PCPU:2"),
    ]
