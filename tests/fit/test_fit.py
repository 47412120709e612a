"""numa_fit_instance_to_host over named hosts: Nova's examples, every rule, Nova's defects."""

import pytest

from os_numa import conf as os_numa_conf
from os_numa import exception, objects
from os_numa.fit import numa_fit_instance_to_host as fit
from os_numa.objects.fast import new_object
from os_numa.virt.libvirt.host import host_topology_from_capabilities
from tests import fixtures_topology as ft

ISOLATE = "isolate"


def placed(result):
    """(host cell id, pinning, reserved, pagesize) per guest cell, or None."""
    if result is None:
        return None
    return [
        (c.id, c.cpu_pinning, set(c.cpuset_reserved) if c.cpuset_reserved else None, c.pagesize)
        for c in result.cells
    ]


def mixed(pinned, floating, memory=1024, **kw):
    return ft.cell(pinned=pinned, floating=floating, memory=memory, policy=ft.MIXED, **kw)


def topo(*cells, emulator=None):
    for index, cell in enumerate(cells):
        cell.id = index
    return objects.InstanceNUMATopology(cells=list(cells), emulator_threads_policy=emulator)


def fragmented_a3(pinned):
    """A3 host with cell 1 fully pinned, so the request must go to cell 0."""
    return ft.host(2, 4, 2, pinned=set(pinned) | set(range(8, 16)))


# Nova's section 7.4 examples, with siblings sorted: lowest pCPUs first where Nova's
# hash-ordered siblings gave 6, 7 (A1), 0, 1, 6, 7 (A3) and 6, 2, 5, 4 (C1).
EXAMPLES = {
    "A1 two guest cells, emulator isolate": (
        ft.a1_host,
        lambda: ft.guest([2, 2], emulator=ISOLATE),
        [(0, {0: 0, 1: 1}, {2}, None), (1, {2: 4, 3: 5}, None, None)],
    ),
    "A2 one guest cell needs 4+1 of 4 pCPUs": (
        ft.a1_host,
        lambda: ft.guest([4], emulator=ISOLATE),
        None,
    ),
    "A3 SMT host, emulator isolate": (
        ft.a3_host,
        lambda: ft.guest([4], emulator=ISOLATE),
        [(0, {0: 0, 1: 1, 2: 2, 3: 3}, {4}, None)],
    ),
    "A3 plus thread isolate needs 5 whole cores of 4": (
        ft.a3_host,
        lambda: ft.guest([4], emulator=ISOLATE, thread=ISOLATE),
        None,
    ),
    "C1 share on a split host pins dedicated pCPUs only": (
        ft.c1_host,
        lambda: ft.guest([4], emulator="share"),
        [(0, {0: 2, 1: 3, 2: 4, 3: 5}, None, None)],
    ),
    "D1 mixed, dedicated mask 2-3, isolate": (
        ft.c1_host,
        lambda: topo(mixed({2, 3}, {0, 1}), emulator=ISOLATE),
        [(0, {2: 2, 3: 3}, {4}, None)],
    ),
}

RULES = {
    "thread isolate: one vCPU per whole core": (
        ft.a3_host,
        lambda: ft.guest([4], thread=ISOLATE),
        [(0, {0: 0, 1: 2, 2: 4, 3: 6}, None, None)],
    ),
    "thread isolate + emulator isolate: emulator on a whole core too": (
        ft.a3_host,
        lambda: ft.guest([3], thread=ISOLATE, emulator=ISOLATE),
        [(0, {0: 0, 1: 2, 2: 4}, {6}, None)],
    ),
    "thread isolate: non-SMT host is one thread per core": (
        ft.a1_host,
        lambda: ft.guest([3], thread=ISOLATE, emulator=ISOLATE),
        [(0, {0: 0, 1: 1, 2: 2}, {3}, None)],
    ),
    "thread isolate: new-style SMT cell never fits (Nova bug 1889633)": (
        lambda: ft.host(2, 4, 2, dedicated=range(16), shared=()),
        lambda: ft.guest([1], thread=ISOLATE),
        None,
    ),
    "thread require: siblings": (
        ft.a3_host,
        lambda: ft.guest([3], thread="require"),
        [(0, {0: 0, 1: 1, 2: 2}, None, None)],
    ),
    "thread require: no SMT never fits": (
        ft.a1_host,
        lambda: ft.guest([1], thread="require"),
        None,
    ),
    "thread require: only single free threads left": (
        lambda: fragmented_a3({1, 3, 5, 7}),
        lambda: ft.guest([2], thread="require"),
        None,
    ),
    "thread require: one whole core is enough for 2": (
        lambda: fragmented_a3({1, 3, 5}),
        lambda: ft.guest([2], thread="require"),
        [(0, {0: 6, 1: 7}, None, None)],
    ),
    "thread prefer: whole cores first": (
        lambda: fragmented_a3({0, 2}),
        lambda: ft.guest([4], thread="prefer"),
        [(0, {0: 4, 1: 5, 2: 6, 3: 7}, None, None)],
    ),
    "thread prefer: falls back to any free pCPUs": (
        lambda: fragmented_a3({0, 2}),
        lambda: ft.guest([5], thread="prefer"),
        [(0, {0: 1, 1: 3, 2: 4, 3: 5, 4: 6}, None, None)],
    ),
    "unset thread policy behaves as prefer, emulator on the next free pCPU": (
        lambda: fragmented_a3({0, 2}),
        lambda: ft.guest([2], emulator=ISOLATE),
        [(0, {0: 4, 1: 5}, {1}, None)],
    ),
    "guest cells on distinct host cells, each with its own pCPUs (defect 2)": (
        lambda: ft.host(3, 4),
        lambda: ft.guest([2, 2, 2]),
        [
            (0, {0: 0, 1: 1}, None, None),
            (1, {2: 4, 3: 5}, None, None),
            (2, {4: 8, 5: 9}, None, None),
        ],
    ),
    "asymmetric host: first assignment in id order": (
        ft.asymmetric_host,
        lambda: ft.guest([3, 3, 1]),
        [
            (1, {0: 2, 1: 3, 2: 4}, None, None),
            (2, {3: 6, 4: 7, 5: 8}, None, None),
            (0, {6: 0}, None, None),
        ],
    ),
    "more guest cells than host cells": (ft.a1_host, lambda: ft.guest([1, 1, 1]), None),
    "shared guest: floating vCPUs need shared CPUs": (
        ft.c1_host,
        lambda: ft.guest([3], policy=ft.SHARED),
        None,
    ),
    "shared guest on shared CPUs": (
        ft.c1_host,
        lambda: ft.guest([2], policy=ft.SHARED),
        [(0, None, None, None)],
    ),
    "unset policy is shared": (
        ft.a3_host,
        lambda: ft.guest([2], policy=None),
        [(0, None, None, None)],
    ),
    "mixed: floating vCPUs count against shared CPUs": (
        ft.c1_host,
        lambda: topo(mixed({3}, {0, 1, 2})),
        None,
    ),
    "dedicated: pinned vCPUs count against pinnable pCPUs": (
        ft.c1_host,
        lambda: ft.guest([7]),
        None,
    ),
    "pages: explicit 2 MiB": (
        lambda: ft.host(1, 4, huge_2m=512),
        lambda: ft.guest([1], pagesize=2048),
        [(0, {0: 0}, None, 2048)],
    ),
    "pages: large resolves to the largest non-small size": (
        lambda: ft.host(1, 4, huge_2m=512),
        lambda: ft.guest([1], pagesize=-2),
        [(0, {0: 0}, None, 2048)],
    ),
    "pages: any resolves to the largest size that fits": (
        lambda: ft.host(1, 4, huge_2m=512),
        lambda: ft.guest([1], pagesize=-3),
        [(0, {0: 0}, None, 2048)],
    ),
    "pages: any falls back to small pages": (
        lambda: ft.host(1, 4, huge_2m=100),
        lambda: ft.guest([1], pagesize=-3),
        [(0, {0: 0}, None, 4)],
    ),
    "pages: small": (
        lambda: ft.host(1, 4, huge_2m=512),
        lambda: ft.guest([1], pagesize=-1),
        [(0, {0: 0}, None, 4)],
    ),
    "pages: large never falls back to small": (
        lambda: ft.host(1, 4, huge_2m=100),
        lambda: ft.guest([1], pagesize=-2),
        None,
    ),
    "pages: large on a host without huge pages": (
        lambda: ft.host(1, 4),
        lambda: ft.guest([1], pagesize=-2),
        None,
    ),
    "pages: size the host does not offer": (
        lambda: ft.host(1, 4, huge_2m=512),
        lambda: ft.guest([1], pagesize=1048576),
        None,
    ),
    "pages: memory must be a multiple of the page size": (
        lambda: ft.host(1, 4, huge_2m=512),
        lambda: ft.guest([1], 3, pagesize=2048),
        None,
    ),
    "memory: too much for any cell": (ft.a1_host, lambda: ft.guest([1], 5000), None),
}


@pytest.mark.parametrize(
    "make_host,make_request,expected",
    list(EXAMPLES.values()) + list(RULES.values()),
    ids=list(EXAMPLES) + list(RULES),
)
def test_fit(make_host, make_request, expected):
    assert placed(fit(make_host(), make_request())) == expected


def test_result_keeps_request_fields_and_sets_host_ids():
    request = ft.guest([2, 2], emulator=ISOLATE, thread="prefer")
    result = fit(ft.a1_host(), request)
    assert result.emulator_threads_policy == ISOLATE
    for asked, got in zip(request.cells, result.cells, strict=True):
        assert got.pcpuset == asked.pcpuset and got.cpuset == asked.cpuset
        assert got.memory == asked.memory
        assert got.cpu_policy == "dedicated" and got.cpu_thread_policy == "prefer"
    assert result.cpuset_reserved == {2}
    assert result.cells[1].cpuset_reserved is None


@pytest.mark.parametrize("count", [3, 4, 5, 6])
def test_defect_1_false_positive_is_gone(count):
    """Nova put a 5-vCPU guest cell on a 4-pCPU host cell with an empty pinning."""
    for k in range(3, count + 1):
        assert fit(ft.host(count, 4), ft.guest([1] * (k - 1) + [5])) is None


def test_defect_9_emulator_never_lands_on_a_partly_used_core():
    """Thread isolate + emulator isolate: Nova would reserve pCPU 4, whose sibling 5 is
    pinned, and its own claim would then raise. Here the emulator takes whole core 6-7."""
    host = fragmented_a3({5})
    result = fit(host, ft.guest([2], thread=ISOLATE, emulator=ISOLATE))
    assert placed(result) == [(0, {0: 0, 1: 2}, {6}, None)]
    fragmented = fragmented_a3({5, 7})
    assert fit(fragmented, ft.guest([2], thread=ISOLATE, emulator=ISOLATE)) is None


def _cells_with(free_counts, **fields):
    host = ft.host(len(free_counts), 4)
    for cell, free in zip(host.cells, free_counts, strict=True):
        cell.pinned_cpus = set(sorted(cell.pcpuset)[: 4 - free])
        for name, values in fields.items():
            setattr(cell, name, values[cell.id])
    return host


ORDER_CASES = {
    "spread: most free pCPUs first": (False, [3, 2, 4], {}, ft.guest([1]), 2),
    "pack: fewest free pCPUs first": (True, [3, 2, 4], {}, ft.guest([1]), 1),
    "spread: ties go to the lowest id": (False, [4, 4, 4], {}, ft.guest([1]), 0),
    "pack: ties go to the lowest id": (True, [4, 4, 4], {}, ft.guest([1]), 0),
    "spread, shared: least cpu_usage first": (
        False,
        [4, 4, 4],
        {"cpu_usage": [2, 1, 3]},
        ft.guest([1], policy=ft.SHARED),
        1,
    ),
    "pack, shared: most cpu_usage first": (
        True,
        [4, 4, 4],
        {"cpu_usage": [2, 1, 3]},
        ft.guest([1], policy=ft.SHARED),
        2,
    ),
    "spread, shared: memory decides between equal cpu_usage": (
        False,
        [4, 4, 4],
        {"memory_usage": [512, 0, 256]},
        ft.guest([1], policy=ft.SHARED),
        1,
    ),
    "pack: free pCPUs dominate memory": (
        True,
        [3, 2, 4],
        {"memory_usage": [0, 0, 1024]},
        ft.guest([1]),
        1,
    ),
}


@pytest.mark.parametrize("pack,free,fields,request_,host_id", ORDER_CASES.values(), ids=ORDER_CASES)
def test_pack_and_spread(pack, free, fields, request_, host_id):
    conf = os_numa_conf.make_conf(**{"compute.packing_host_numa_cells_allocation_strategy": pack})
    result = fit(_cells_with(free, **fields), request_, conf=conf)
    assert result.cells[0].id == host_id


def test_options_follow_overrides_made_after_a_fit():
    # The fit reads options through oslo.config's cached lookup: an override made
    # later must still be seen (oslo drops its cache on every override).
    conf = os_numa_conf.make_conf()
    host, request_ = _cells_with([3, 2, 4]), ft.guest([1])
    assert fit(host, request_, conf=conf).cells[0].id == 2  # spread: most free
    conf.set_override("packing_host_numa_cells_allocation_strategy", True, "compute")
    assert fit(host, request_, conf=conf).cells[0].id == 1  # pack: fewest free
    conf.clear_override("packing_host_numa_cells_allocation_strategy", "compute")
    assert fit(host, request_, conf=conf).cells[0].id == 2


def test_as_many_host_cells_as_guest_cells_keeps_id_order():
    host = _cells_with([2, 4])
    assert [c.id for c in fit(host, ft.guest([1, 1])).cells] == [0, 1]


def test_default_conf_is_spread():
    assert fit(_cells_with([3, 2, 4]), ft.guest([1])).cells[0].id == 2


LIMITS = {
    "cpu ratio 1: floating vCPUs over shared CPUs": (1.0, 16.0, [3, 0], 2, 1),
    "cpu ratio 1, second cell still has room": (1.0, 16.0, [3, 3], 2, None),
    "cpu ratio 2 lets it fit on the emptier cell": (2.0, 16.0, [3, 3], 2, 0),
    "ram ratio 1": (16.0, 1.0, [0, 0], 2, 0),
}


@pytest.mark.parametrize("cpu_ratio,ram_ratio,usage,vcpus,host_id", LIMITS.values(), ids=LIMITS)
def test_limits_for_shared_cells(cpu_ratio, ram_ratio, usage, vcpus, host_id):
    host = ft.host(2, 4)
    for cell, used in zip(host.cells, usage, strict=True):
        cell.cpu_usage = used
    limits = objects.NUMATopologyLimits(
        cpu_allocation_ratio=cpu_ratio, ram_allocation_ratio=ram_ratio
    )
    request = ft.guest([vcpus], 4096 if ram_ratio == 1.0 else 1024, policy=ft.SHARED)
    result = fit(host, request, limits=limits)
    assert (None if result is None else result.cells[0].id) == host_id


def test_limits_do_not_apply_to_dedicated_cells():
    host = ft.host(1, 4)
    host.cells[0].cpu_usage = 100
    limits = objects.NUMATopologyLimits(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
    assert fit(host, ft.guest([2]), limits=limits) is not None


@pytest.mark.parametrize(
    "policy,floating", [(ft.MIXED, {0, 1}), (None, {0, 1, 2}), (ft.SHARED, {0, 1, 2})]
)
def test_limits_apply_to_every_cell_with_floating_vcpus(policy, floating):
    # Nova's step 5: shared, unset and mixed cells (the floating part) against cpu_usage.
    host = ft.host(1, 4)
    host.cells[0].cpu_usage = 3
    request = topo(
        ft.cell(pinned={2} if policy == ft.MIXED else (), floating=floating, policy=policy)
    )
    limits = objects.NUMATopologyLimits(cpu_allocation_ratio=1.0, ram_allocation_ratio=16.0)
    assert fit(host, request) is not None
    assert fit(host, request, limits=limits) is None
    limits.cpu_allocation_ratio = 1.25  # 4 x 1.25 = 5 = 3 in use + 2 floating
    assert (fit(host, request, limits=limits) is not None) == (len(floating) == 2)


def test_ram_limit_counts_memory_usage():
    host = ft.host(1, 4)
    host.cells[0].memory_usage = 3584
    limits = objects.NUMATopologyLimits(cpu_allocation_ratio=16.0, ram_allocation_ratio=1.0)
    assert fit(host, ft.guest([1], 512, policy=ft.SHARED), limits=limits) is not None
    assert fit(host, ft.guest([1], 1024, policy=ft.SHARED), limits=limits) is None


def test_pinned_cells_need_free_memory_shared_cells_may_overcommit():
    host = ft.host(1, 4)
    cell = host.cells[0]
    cell.memory_usage = 3584
    cell.mempages[0].used = 3584 * 256
    assert fit(host, ft.guest([1], 1024)) is None
    assert fit(host, ft.guest([1], 1024, policy=ft.SHARED)) is not None


def test_cell_without_page_pools_compares_mib():
    host = ft.host(1, 4)
    host.cells[0].mempages = []
    host.cells[0].memory_usage = 3584
    assert fit(host, ft.guest([1], 512)) is not None
    assert fit(host, ft.guest([1], 1024)) is None
    assert fit(host, ft.guest([1], 4096, policy=ft.SHARED)) is not None


def test_inputs_are_not_mutated():
    host = fragmented_a3({5})
    request = ft.guest([2], thread=ISOLATE, emulator=ISOLATE, pagesize=-3)
    before = (host.obj_to_primitive(), request.obj_to_primitive())
    assert fit(host, request) is not None
    assert (host.obj_to_primitive(), request.obj_to_primitive()) == before


def test_deterministic_whatever_the_cell_list_order():
    host = ft.host(4, 4, 2, pinned={1, 9, 17})
    request = ft.guest([2, 3], emulator=ISOLATE)
    first = placed(fit(host, request))
    host.cells = list(reversed(host.cells))
    assert placed(fit(host, request)) == first == placed(fit(host, request))


def test_missing_topologies_give_none():
    assert fit(None, ft.guest([1])) is None
    assert fit(ft.a1_host(), None) is None


def test_pinned_vcpus_in_a_shared_cell_are_rejected():
    request = topo(ft.cell(pinned={0}, policy=ft.SHARED))
    with pytest.raises(exception.InvalidRequest, match="pinned vCPUs"):
        fit(ft.a1_host(), request)


def test_floating_vcpus_in_a_dedicated_cell_are_rejected():
    request = topo(ft.cell(floating={0}, policy=ft.DEDICATED))
    with pytest.raises(exception.InvalidRequest, match="dedicated"):
        fit(ft.a1_host(), request)


def test_emulator_isolate_needs_pinning():
    with pytest.raises(exception.BadRequirementEmulatorThreadsPolicy):
        fit(ft.a1_host(), ft.guest([1], policy=ft.SHARED, emulator=ISOLATE))


def test_worst_case_no_fit_is_answered():
    request = ft.guest([5] + [1] * 7)
    assert fit(ft.sixteen_cell_host(), request) is None
    assert fit(ft.host(32, 4), ft.guest([5] + [1] * 15)) is None


def test_result_objects_equal_normally_constructed_ones():
    result = fit(ft.a3_host(), ft.guest([2, 2], emulator=ISOLATE, pagesize=-3))
    for cell in result.cells:
        values = {name: getattr(cell, name) for name in cell.fields}
        twin = objects.InstanceNUMACell(**values)
        assert twin.obj_to_primitive() == cell.obj_to_primitive()
        assert twin.obj_what_changed() == cell.obj_what_changed()
    twin = objects.InstanceNUMATopology(
        cells=result.cells, emulator_threads_policy=result.emulator_threads_policy
    )
    assert twin.obj_to_primitive() == result.obj_to_primitive()
    back = objects.InstanceNUMATopology.obj_from_primitive(result.obj_to_primitive())
    assert [c.cpu_pinning for c in back.cells] == [c.cpu_pinning for c in result.cells]
    result.cells[0].cpuset_reserved.add(7)  # still an ordinary, mutable field
    assert fit(ft.a3_host(), ft.guest([2, 2], emulator=ISOLATE)).cells[0].cpuset_reserved == {2}


def counted(vcpus, count, **kw):
    request = ft.guest(vcpus, emulator=ISOLATE, **kw)
    request.emulator_threads_count = count
    return request


EMULATOR_COUNT = {
    "None means one pCPU": (
        ft.a1_host,
        [2, 2],
        None,
        {},
        [(0, {0: 0, 1: 1}, {2}, None), (1, {2: 4, 3: 5}, None, None)],
    ),
    "two pCPUs beside guest cell 0": (
        ft.a1_host,
        [2, 2],
        2,
        {},
        [(0, {0: 0, 1: 1}, {2, 3}, None), (1, {2: 4, 3: 5}, None, None)],
    ),
    "three do not fit a 4-pCPU cell": (ft.a1_host, [2, 2], 3, {}, None),
    "whole cores under thread isolate": (
        ft.a3_host,
        [2],
        2,
        {"thread": ISOLATE},
        [(0, {0: 0, 1: 2}, {4, 6}, None)],
    ),
}


@pytest.mark.parametrize(
    "make_host,vcpus,count,kw,expected", EMULATOR_COUNT.values(), ids=EMULATOR_COUNT
)
def test_emulator_threads_count(make_host, vcpus, count, kw, expected):
    assert placed(fit(make_host(), counted(vcpus, count, **kw))) == expected


def test_emulator_threads_count_below_one_is_refused():
    with pytest.raises(exception.InvalidEmulatorThreadsCount):
        fit(ft.a1_host(), counted([1], 0))


def realtime_guest(vcpus, realtime, **kw):
    request = ft.guest(vcpus, emulator=ISOLATE, **kw)
    request.realtime_vcpus = set(realtime)
    return request


def counted_realtime(vcpus, count, realtime):
    request = realtime_guest(vcpus, realtime)
    request.emulator_threads_count = count
    return request


def nova_emulator_choice():
    return os_numa_conf.make_conf(**{"os_numa.emulator_threads_smt_aware": False})


SMT_AWARE = {
    # host, request, pins and reserved by default, reserved with Nova's choice
    "off the core of a realtime vCPU": (
        lambda: fragmented_a3(()),
        lambda: realtime_guest([3], {0, 1, 2}),
        [(0, {0: 0, 1: 1, 2: 2}, {4}, None)],
        {3},
    ),
    "beside a housekeeping vCPU, on its partly used core": (
        lambda: fragmented_a3(()),
        lambda: realtime_guest([3], {0, 1}),
        [(0, {0: 0, 1: 1, 2: 2}, {3}, None)],
        {3},
    ),
    "without realtime, a partly used core before a whole one": (
        lambda: fragmented_a3({5}),
        lambda: ft.guest([2], emulator=ISOLATE),
        [(0, {0: 0, 1: 1}, {4}, None)],
        {2},
    ),
    "realtime mask ^0 on two free cores: the housekeeping vCPU joins the emulator": (
        lambda: ft.host(1, 2, 2),
        lambda: realtime_guest([3], {1, 2}),
        [(0, {0: 2, 1: 0, 2: 1}, {3}, None)],
        {3},
    ),
    "two emulator pCPUs: one beside the housekeeping vCPU, one off every vCPU": (
        lambda: ft.host(1, 3, 2, pinned={5}),
        lambda: counted_realtime([3], 2, {0, 2}),
        [(0, {0: 0, 1: 2, 2: 1}, {3, 4}, None)],
        {3, 4},
    ),
    "nowhere off the realtime cores": (
        lambda: ft.host(1, 2, 2),
        lambda: realtime_guest([3], {0, 1, 2}),
        None,
        {3},
    ),
    "no SMT: unchanged": (
        ft.a1_host,
        lambda: realtime_guest([2, 2], {0, 1, 2, 3}),
        [(0, {0: 0, 1: 1}, {2}, None), (1, {2: 4, 3: 5}, None, None)],
        {2},
    ),
}


@pytest.mark.parametrize(
    "make_host,make_request,expected,nova_reserved", SMT_AWARE.values(), ids=SMT_AWARE
)
def test_smt_aware_emulator_choice(make_host, make_request, expected, nova_reserved):
    assert placed(fit(make_host(), make_request())) == expected
    nova = fit(make_host(), make_request(), conf=nova_emulator_choice())
    assert nova.cpuset_reserved == nova_reserved


def test_realtime_vcpus_come_from_the_flavor():
    from os_numa import hardware

    flavor = objects.Flavor(
        vcpus=3,
        memory_mb=1024,
        extra_specs={
            "hw:cpu_policy": "dedicated",
            "hw:emulator_threads_policy": "isolate",
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
        },
    )
    request = hardware.numa_get_constraints(flavor, None)
    assert request.realtime_vcpus == {1, 2}
    assert fit(ft.a3_host(), request).cpuset_reserved == {4}
    assert fit(ft.a3_host(), request, conf=nova_emulator_choice()).cpuset_reserved == {3}


def test_result_default_containers_are_never_shared():
    # A field the fit leaves to its default (pci_devices: []) gets a container of its
    # own in every result, never the class's default object nor another result's.
    first = new_object(objects.InstanceNUMATopology, {"cells": []})
    second = new_object(objects.InstanceNUMATopology, {"cells": []})
    assert first.pci_devices == [] and first.pci_devices is not second.pci_devices
    first.pci_devices.append(objects.InstancePCIDevice(address="0000:81:00.1", alias="a"))
    assert second.pci_devices == []
    assert new_object(objects.InstanceNUMATopology, {"cells": []}).pci_devices == []
    twin = objects.InstanceNUMATopology(cells=[])
    assert second.obj_to_primitive() == twin.obj_to_primitive()


def test_mixed_cell_without_pinned_vcpus_has_no_pinning_and_claims_no_pcpu():
    # Nova's test_create_server_with_mixed_policy_asymmetric_multi_numa: vCPU 0 floats
    # alone in guest cell 0, vCPUs 1-2 are pinned in guest cell 1.
    from os_numa import hardware as hw

    host = ft.host(2, 4, shared=[0, 1, 4, 5], dedicated=[2, 3, 6, 7])
    flavor = objects.Flavor(
        vcpus=3,
        memory_mb=1024,
        extra_specs={
            "hw:cpu_policy": "mixed",
            "hw:cpu_dedicated_mask": "^0",
            "hw:numa_nodes": "2",
            "hw:numa_cpus.0": "0",
            "hw:numa_cpus.1": "1,2",
            "hw:numa_mem.0": "256",
            "hw:numa_mem.1": "768",
        },
    )
    placed = hw.numa_fit_instance_to_host(host, hw.numa_get_constraints(flavor, None))
    assert placed.cells[0].cpu_pinning is None
    assert sorted(placed.cells[1].cpu_pinning) == [1, 2]
    used = hw.numa_usage_from_instance_numa(host, placed)
    assert [c.cpu_usage for c in used.cells] == [1, 0]
    assert used.cells[0].pinned_cpus == set()
    freed = hw.numa_usage_from_instance_numa(used, placed, free=True)
    assert [c.pinned_cpus for c in freed.cells] == [set(), set()]


# --- issue 10, defect 1: cores split between cpu_dedicated_set and cpu_shared_set -------


def _intel(dedicated, shared):
    """The 2 x 20 x 2 Intel sample (CPU N's sibling is N + 40) with these sets."""
    xml = (ft.CAPABILITIES / "intel-2s-20c-ht.xml").read_text()
    return host_topology_from_capabilities(xml, dedicated, shared, conf=os_numa_conf.make_conf())


@pytest.mark.parametrize("thread", ["isolate", "require"])
def test_thread_policy_sees_shared_siblings(thread):
    """pCPUs 0-7 whose siblings 40-47 are shared CPUs are on two-thread cores: isolate
    never fits such a cell (Nova bug 1889633, as in Nova), require finds no free
    sibling pair, and the claim of a prefer guest still pins only pCPUs."""
    host = _intel("0-7", "40-47")
    assert host.cells[0].siblings[:2] == [{0, 40}, {1, 41}]
    request = ft.guest([2], thread=thread)
    assert fit(host, request) is None
    placement = fit(host, ft.guest([2], thread="prefer"))
    assert placed(placement) == [(0, {0: 0, 1: 1}, None, None)]


def test_isolate_still_fits_where_no_guest_shares_the_core():
    """Threads in neither set (the host's) are not siblings, as in Nova: isolate fits
    pCPUs 0-7 whose siblings 40-47 only the host uses (shared CPUs 10-17 are whole
    cores' first threads, their siblings 50-57 the host's too)."""
    host = _intel("0-7", "10-17")
    assert host.cells[0].siblings[:2] == [{0}, {1}]
    placement = fit(host, ft.guest([2], thread="isolate"))
    assert placed(placement) == [(0, {0: 0, 1: 1}, None, None)]
