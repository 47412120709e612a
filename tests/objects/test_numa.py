"""Tests for the host NUMA objects: NUMAPagesTopology, NUMACell, NUMATopology, limits."""

from __future__ import annotations

import pytest
from oslo_versionedobjects import exception as ovo_exception

from os_numa import exception
from os_numa import objects as o


def pages(size_kb=4, total=1000, used=0, reserved=0):
    return o.NUMAPagesTopology(size_kb=size_kb, total=total, used=used, reserved=reserved)


# Named host cells. Siblings are the SMT thread groups of each core.
HOST_CELLS = {
    # 4 cores x 2 threads, legacy configuration: every CPU floats and may be pinned.
    "legacy-smt": lambda: o.NUMACell(
        id=0,
        cpuset={0, 1, 2, 3, 4, 5, 6, 7},
        pcpuset={0, 1, 2, 3, 4, 5, 6, 7},
        memory=4096,
        siblings=[{0, 4}, {1, 5}, {2, 6}, {3, 7}],
        mempages=[pages(4, 1048576), pages(2048, 512, used=2)],
        socket=0,
    ),
    # New-style: cpu_shared_set 8-9, cpu_dedicated_set 10-13, no SMT.
    "new-style-no-smt": lambda: o.NUMACell(
        id=1,
        cpuset={8, 9},
        pcpuset={10, 11, 12, 13},
        memory=2048,
        siblings=[{8}, {9}, {10}, {11}, {12}, {13}],
    ),
    # New-style on an SMT host: thread 14 is shared, its sibling 15 is dedicated.
    "split-core-smt": lambda: o.NUMACell(
        id=2,
        cpuset={14},
        pcpuset={15, 16, 17},
        memory=1024,
        siblings=[{14, 15}, {16, 17}],
    ),
}


def cell(name):
    return HOST_CELLS[name]()


# --- NUMAPagesTopology --------------------------------------------------------------------


def test_pages_defaults():
    p = o.NUMAPagesTopology(size_kb=2048, total=10)
    assert (p.used, p.reserved) == (0, 0)


PAGE_CASES = {
    "untouched": (dict(size_kb=4, total=100), 100, 400, 400),
    "used": (dict(size_kb=2048, total=10, used=3), 7, 7 * 2048, 10 * 2048),
    "reserved": (dict(size_kb=2048, total=10, reserved=2), 8, 8 * 2048, 10 * 2048),
    "used and reserved": (dict(size_kb=1048576, total=4, used=1, reserved=2), 1, 1048576, 4194304),
    "exhausted": (dict(size_kb=4, total=5, used=5), 0, 0, 20),
}


@pytest.mark.parametrize(
    ("kwargs", "free", "free_kb", "total_kb"), PAGE_CASES.values(), ids=PAGE_CASES.keys()
)
def test_pages_properties(kwargs, free, free_kb, total_kb):
    p = o.NUMAPagesTopology(**kwargs)
    assert (p.free, p.free_kb, p.total_kb) == (free, free_kb, total_kb)


def test_pages_downgrade_drops_reserved():
    p = pages(2048, 10, used=1, reserved=3)
    old = p.obj_to_primitive(target_version="1.0")["os_numa_object.data"]
    assert old == {"size_kb": 2048, "total": 10, "used": 1}
    current = p.obj_to_primitive()["os_numa_object.data"]
    assert current == {"size_kb": 2048, "total": 10, "used": 1, "reserved": 3}


# --- NUMACell fields and properties --------------------------------------------------------


def test_cell_defaults():
    c = o.NUMACell(id=3, cpuset={0}, pcpuset={1}, memory=512)
    assert c.cpu_usage == 0
    assert c.memory_usage == 0
    assert c.pinned_cpus == set()
    assert c.siblings == []
    assert c.mempages == []
    assert c.socket is None


def test_cell_mutable_defaults_are_not_shared():
    a = o.NUMACell(id=0, cpuset=set(), pcpuset={1}, memory=1)
    b = o.NUMACell(id=1, cpuset=set(), pcpuset={1}, memory=1)
    a.siblings.append({1})
    a.pin_cpus({1})
    assert b.siblings == []
    assert b.pinned_cpus == set()


def test_cell_id_is_read_only():
    c = cell("legacy-smt")
    with pytest.raises(ovo_exception.ReadOnlyFieldError):
        c.id = 5


def test_cell_fields_coerce_and_reject():
    c = o.NUMACell(id="2", cpuset={"1", 2}, pcpuset={3}, memory="64")
    assert (c.id, c.cpuset, c.pcpuset, c.memory) == (2, {1, 2}, {3}, 64)
    with pytest.raises(ValueError):
        o.NUMACell(id=0, cpuset={"a"}, pcpuset=set(), memory=1)
    with pytest.raises(ValueError, match="A set is required"):
        o.NUMACell(id=0, cpuset=[1, 2], pcpuset=set(), memory=1)


CELL_PROPERTIES = {
    # name: (pinned_cpus, memory_usage, free_pcpus, avail_memory, has_threads)
    "legacy-smt": (set(), 0, {0, 1, 2, 3, 4, 5, 6, 7}, 4096, True),
    "new-style-no-smt": ({10, 12}, 1500, {11, 13}, 548, False),
    "split-core-smt": ({15, 16, 17}, 1024, set(), 0, True),
}


@pytest.mark.parametrize(
    ("name", "pinned", "memory_usage", "free_pcpus", "avail_memory", "has_threads"),
    [(name, *values) for name, values in CELL_PROPERTIES.items()],
)
def test_cell_properties(name, pinned, memory_usage, free_pcpus, avail_memory, has_threads):
    c = cell(name)
    c.pinned_cpus = pinned
    c.memory_usage = memory_usage
    assert c.free_pcpus == free_pcpus
    assert c.avail_pcpus == len(free_pcpus)
    assert c.avail_memory == avail_memory
    assert c.has_threads is has_threads


def test_free_pcpus_is_a_new_set():
    c = cell("new-style-no-smt")
    c.free_pcpus.discard(10)
    assert 10 in c.free_pcpus


def test_cell_without_siblings_has_no_threads():
    assert not o.NUMACell(id=0, cpuset={0}, pcpuset={0}, memory=1).has_threads


def test_pages_of_size():
    c = cell("legacy-smt")
    assert c.pages_of_size(2048).total == 512
    assert c.pages_of_size(1048576) is None


# --- pinning ------------------------------------------------------------------------------

PIN_CASES = {
    # name: (cell, already pinned, method, cpus, pinned afterwards)
    "pin one": ("legacy-smt", set(), "pin_cpus", {0}, {0}),
    "pin adds to pinned": ("legacy-smt", {1}, "pin_cpus", {0, 2}, {0, 1, 2}),
    "pin nothing": ("legacy-smt", {1}, "pin_cpus", set(), {1}),
    "pin takes a list": ("new-style-no-smt", set(), "pin_cpus", [10, 11], {10, 11}),
    "unpin one": ("legacy-smt", {0, 1}, "unpin_cpus", {1}, {0}),
    "unpin all": ("new-style-no-smt", {10, 13}, "unpin_cpus", {10, 13}, set()),
    "pin with siblings takes the core": (
        "legacy-smt",
        set(),
        "pin_cpus_with_siblings",
        {0},
        {0, 4},
    ),
    "pin with siblings of two cores": (
        "legacy-smt",
        {3},
        "pin_cpus_with_siblings",
        {1, 6},
        {1, 5, 2, 6, 3},
    ),
    "pin with siblings, no SMT": (
        "new-style-no-smt",
        set(),
        "pin_cpus_with_siblings",
        {12},
        {12},
    ),
    # The shared thread 14 is not pinnable, so only the dedicated thread is taken.
    "pin with siblings skips unpinnable threads": (
        "split-core-smt",
        set(),
        "pin_cpus_with_siblings",
        {15},
        {15},
    ),
    "unpin with siblings releases the core": (
        "legacy-smt",
        {0, 4, 1},
        "unpin_cpus_with_siblings",
        {4},
        {1},
    ),
}


@pytest.mark.parametrize(
    ("name", "pinned", "method", "cpus", "after"), PIN_CASES.values(), ids=PIN_CASES.keys()
)
def test_pinning(name, pinned, method, cpus, after):
    c = cell(name)
    c.pinned_cpus = pinned
    argument = cpus if isinstance(cpus, list) else set(cpus)
    getattr(c, method)(argument)
    assert c.pinned_cpus == after
    assert argument == cpus, "the argument must not be modified"


PIN_ERRORS = {
    # name: (cell, already pinned, method, cpus, error, requested, available)
    "pin outside pcpuset": (
        "new-style-no-smt",
        set(),
        "pin_cpus",
        {8},
        exception.CPUPinningUnknown,
        "[8]",
        "[10, 11, 12, 13]",
    ),
    "pin unknown before pinned": (
        "new-style-no-smt",
        {10},
        "pin_cpus",
        {10, 99},
        exception.CPUPinningUnknown,
        "[10, 99]",
        "[10, 11, 12, 13]",
    ),
    "pin a pinned CPU": (
        "new-style-no-smt",
        {10, 11},
        "pin_cpus",
        {11, 12},
        exception.CPUPinningInvalid,
        "[11, 12]",
        "[12, 13]",
    ),
    "unpin outside pcpuset": (
        "new-style-no-smt",
        {10},
        "unpin_cpus",
        {9},
        exception.CPUUnpinningUnknown,
        "[9]",
        "[10, 11, 12, 13]",
    ),
    "unpin a free CPU": (
        "new-style-no-smt",
        {10},
        "unpin_cpus",
        {10, 11},
        exception.CPUUnpinningInvalid,
        "[10, 11]",
        "[10]",
    ),
    "pin with siblings when a sibling is pinned": (
        "legacy-smt",
        {4},
        "pin_cpus_with_siblings",
        {0},
        exception.CPUPinningInvalid,
        "[0, 4]",
        "[0, 1, 2, 3, 5, 6, 7]",
    ),
    "pin with siblings outside pcpuset": (
        "split-core-smt",
        set(),
        "pin_cpus_with_siblings",
        {14},
        exception.CPUPinningUnknown,
        "[14, 15]",
        "[15, 16, 17]",
    ),
    "unpin with siblings when a sibling is free": (
        "legacy-smt",
        {0},
        "unpin_cpus_with_siblings",
        {0},
        exception.CPUUnpinningInvalid,
        "[0, 4]",
        "[0]",
    ),
    "unpin with siblings outside pcpuset": (
        "split-core-smt",
        {15},
        "unpin_cpus_with_siblings",
        {14},
        exception.CPUUnpinningUnknown,
        "[14, 15]",
        "[15, 16, 17]",
    ),
}


@pytest.mark.parametrize(
    ("name", "pinned", "method", "cpus", "error", "requested", "available"),
    PIN_ERRORS.values(),
    ids=PIN_ERRORS.keys(),
)
def test_pinning_errors_leave_the_cell_unchanged(
    name, pinned, method, cpus, error, requested, available
):
    c = cell(name)
    c.pinned_cpus = pinned
    c.obj_reset_changes()
    before = c.obj_to_primitive()
    with pytest.raises(error) as info:
        getattr(c, method)(set(cpus))
    assert type(info.value) is error
    message = str(info.value)
    assert f"{requested} must be a subset" in message
    assert message.endswith(available)
    assert c.obj_to_primitive() == before
    assert c.obj_what_changed() == set()


def test_pin_then_unpin_restores_the_cell():
    c = cell("legacy-smt")
    before = c.obj_to_primitive()
    c.pin_cpus_with_siblings({2})
    c.pin_cpus({0})
    c.unpin_cpus({0})
    c.unpin_cpus_with_siblings({6})
    assert c.obj_to_primitive()["os_numa_object.data"] == before["os_numa_object.data"]


# --- NUMATopology ---------------------------------------------------------------------------


def topology():
    return o.NUMATopology(cells=[cell("legacy-smt"), cell("new-style-no-smt")])


def test_topology_has_threads():
    assert topology().has_threads
    assert not o.NUMATopology(cells=[cell("new-style-no-smt")]).has_threads
    assert not o.NUMATopology(cells=[]).has_threads


def test_cell_by_id():
    assert topology().cell_by_id(1).pcpuset == {10, 11, 12, 13}
    with pytest.raises(exception.NotFound, match="host NUMA cell 7"):
        topology().cell_by_id(7)


def test_limits_fields():
    limits = o.NUMATopologyLimits(cpu_allocation_ratio=16, ram_allocation_ratio="1.5")
    assert (limits.cpu_allocation_ratio, limits.ram_allocation_ratio) == (16.0, 1.5)


# --- downgrades -----------------------------------------------------------------------------

CELL_V10_KEYS = {
    "id",
    "cpuset",
    "memory",
    "cpu_usage",
    "memory_usage",
    "pinned_cpus",
    "siblings",
    "mempages",
}
CELL_POOL_KEYS = {"emulator_pool_cpus", "emulator_pool_guests", "emulator_pool_overcommit"}
CELL_DOWNGRADES = {
    "1.0": (CELL_V10_KEYS, "1.0"),
    "1.1": (CELL_V10_KEYS | {"pcpuset"}, "1.1"),
    "1.2": (CELL_V10_KEYS | {"pcpuset", "socket"}, "1.1"),
    "1.3": (CELL_V10_KEYS | {"pcpuset", "socket", *CELL_POOL_KEYS}, "1.1"),
}


@pytest.mark.parametrize(
    ("version", "keys", "pages_version"),
    [(v, *rest) for v, rest in CELL_DOWNGRADES.items()],
)
def test_cell_downgrade_loses_only_newer_fields(version, keys, pages_version):
    c = cell("new-style-no-smt")
    c.mempages = [pages(2048, 8, used=1, reserved=2)]
    c.pin_cpus({11})
    primitive = c.obj_to_primitive(target_version=version)
    data = primitive["os_numa_object.data"]
    assert primitive["os_numa_object.version"] == version
    assert set(data) == keys
    assert set(primitive["os_numa_object.changes"]) <= keys
    assert data["pinned_cpus"] == (11,)
    page = data["mempages"][0]
    assert page["os_numa_object.version"] == pages_version
    assert ("reserved" in page["os_numa_object.data"]) is (pages_version == "1.1")
    if "pcpuset" in keys:
        assert (data["cpuset"], data["pcpuset"]) == ((8, 9), (10, 11, 12, 13))
    else:
        # Before pcpuset, cpuset held every usable CPU.
        assert data["cpuset"] == (8, 9, 10, 11, 12, 13)


TOPOLOGY_DOWNGRADES = {"1.0": "1.0", "1.1": "1.1", "1.2": "1.2", "1.3": "1.3"}


@pytest.mark.parametrize(("version", "cell_version"), TOPOLOGY_DOWNGRADES.items())
def test_topology_downgrade_carries_matching_cells(version, cell_version):
    primitive = topology().obj_to_primitive(target_version=version)
    cells = primitive["os_numa_object.data"]["cells"]
    assert [c["os_numa_object.version"] for c in cells] == [cell_version] * 2
    # The downgraded primitive still loads, and keeps what the old version can say.
    loaded = o.NUMATopology.obj_from_primitive(primitive)
    assert [c.id for c in loaded.cells] == [0, 1]
    assert loaded.cells[1].memory == 2048


# --- the emulator pool (issue 6) ------------------------------------------------------------


def pool_cell(overcommit=2):
    return o.NUMACell(
        id=1,
        cpuset=set(),
        pcpuset={9, 10},
        memory=1024,
        emulator_pool_cpus={8, 11},
        emulator_pool_overcommit=overcommit,
    )


def test_emulator_pool_claim_and_release_are_symmetric():
    c = pool_cell()
    assert (c.emulator_pool_capacity, c.emulator_pool_placed) == (4, 0)
    c.claim_emulator_pool(8)
    c.claim_emulator_pool(8)
    c.claim_emulator_pool(11)
    assert c.emulator_pool_guests == {"8": 2, "11": 1}
    assert (c.emulator_pool_load(8), c.emulator_pool_load(11), c.emulator_pool_placed) == (2, 1, 3)
    c.release_emulator_pool(8)
    c.release_emulator_pool(8)
    c.release_emulator_pool(11)
    assert c.emulator_pool_guests == {}
    assert not c.pinned_cpus  # the pool never touches pinning


POOL_ERRORS = {
    "claim beyond overcommit": ("claim", 8, {"8": 2}, exception.EmulatorPoolCPUInvalid, "holds 2"),
    "release of nothing": ("release", 8, {}, exception.EmulatorPoolCPUInvalid, "released twice"),
    "claim outside the pool": ("claim", 9, {}, exception.EmulatorPoolCPUUnknown, "8,11"),
    "release outside the pool": ("release", 3, {}, exception.EmulatorPoolCPUUnknown, "pCPU 3"),
}


@pytest.mark.parametrize(
    ("op", "cpu", "guests", "error", "needle"), POOL_ERRORS.values(), ids=POOL_ERRORS
)
def test_emulator_pool_errors_change_nothing(op, cpu, guests, error, needle):
    c = pool_cell()
    c.emulator_pool_guests = dict(guests)
    with pytest.raises(error) as info:
        getattr(c, f"{op}_emulator_pool")(cpu)
    assert needle in str(info.value)
    assert c.emulator_pool_guests == guests
