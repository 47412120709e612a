"""Named guest NUMA examples (nova-behaviour.md section 7.4, plus huge pages), each
with the host it is placed on and what os-numa writes for it.

Shared by the driver's unit tests and the real-libvirt functional tests. Nova
sorts a host cell's sibling sets in hash order and so pins vCPUs to, for
instance, pCPUs 6, 2, 5, 4; os-numa takes the lowest-numbered free pCPUs
first, so where Nova's output differs ``nova`` says what Nova writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from os_numa import conf as os_numa_conf
from os_numa import hardware, objects
from tests import fixtures_topology as ft

DEDICATED = {"hw:cpu_policy": "dedicated"}
ISOLATE = {"hw:emulator_threads_policy": "isolate"}
SHARE = {"hw:emulator_threads_policy": "share"}
C1_SETS = {"compute.cpu_shared_set": "0-1,8-9", "compute.cpu_dedicated_set": "2-7,10-15"}
POOL = {"hw:emulator_threads_policy": "pool"}
REALTIME = {"hw:cpu_realtime": "yes"}
NUMA_LOCALITY_NOTE = (
    "emulatorpin is all of cpu_shared_set, 0-1,8-9; ours keeps to the shared CPUs of the "
    "guest's host cell 0 ([os_numa] emulator_share_locality=numa)"
)


def two_by_eight_host() -> objects.NUMATopology:
    """2 cells x 8 cores, no SMT, legacy configuration (cell 0 = 0-7, cell 1 = 8-15)."""
    return ft.host(2, 8)


def shared_in_cell_0_host() -> objects.NUMATopology:
    """2 cells x 8 cores, no SMT, cpu_shared_set=0-1 (cell 0 only), cpu_dedicated_set=2-15."""
    return ft.host(2, 8, shared={0, 1}, dedicated=range(2, 16))


def pool_host() -> objects.NUMATopology:
    """A1's host with an emulator pool: [os_numa] emulator_pin_set=0,4, the rest dedicated."""
    return ft.host(2, 4, dedicated={1, 2, 3, 5, 6, 7}, pool={0, 4})


def huge_page_host() -> objects.NUMATopology:
    """A1's host with 4 GiB per cell, 1024 x 2 MiB pages of it per cell."""
    return ft.host(2, 4, dedicated=range(8), memory=4096, huge_2m=1024)


@dataclass(frozen=True)
class Example:
    host: object
    specs: dict
    pins: dict
    emulatorpin: set
    vcpus: int = 4
    memory_mb: int = 2048
    conf: dict = field(default_factory=dict)
    realtime: set | None = None
    numatune: dict | None = None  # guest cell -> host cell
    hugepages: dict | None = None  # guest cell -> page size KiB
    locked: bool = False  # <locked/> without realtime (hw:locked_memory)
    priority: int = 1  # the vcpusched priority of realtime vCPUs
    nova: str = ""  # where Nova's output differs, what Nova writes
    # Nova's own output for the same request (nova-behaviour.md 7.4), where it says.
    nova_pins: dict | None = None
    nova_emulatorpin: set | None = None


EXAMPLES = {
    "A1": Example(
        ft.a1_host,
        {**DEDICATED, **ISOLATE, "hw:numa_nodes": "2"},
        pins={0: {0}, 1: {1}, 2: {4}, 3: {5}},
        emulatorpin={2},
        numatune={0: 0, 1: 1},
        nova="vCPUs 2, 3 -> pCPUs 6, 7 (hash-ordered siblings)",
        nova_pins={0: {0}, 1: {1}, 2: {6}, 3: {7}},
        nova_emulatorpin={2},
    ),
    "A3": Example(
        ft.a3_host,
        {**DEDICATED, **ISOLATE},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={4},
        numatune={0: 0},
        nova="vCPUs 2, 3 -> pCPUs 6, 7; the emulator pCPU is 4 in both",
        nova_pins={0: {0}, 1: {1}, 2: {6}, 3: {7}},
        nova_emulatorpin={4},
    ),
    "B1": Example(
        ft.a1_host,
        {**DEDICATED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={0},
        realtime={1, 2, 3},
        numatune={0: 0},
        nova_pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        nova_emulatorpin={0},
    ),
    "B2": Example(
        ft.a3_host,
        {**DEDICATED, **ISOLATE, "hw:cpu_realtime": "yes"},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={4},
        realtime={0, 1, 2, 3},
        numatune={0: 0},
        nova="vCPUs 2, 3 -> pCPUs 6, 7",
        nova_pins={0: {0}, 1: {1}, 2: {6}, 3: {7}},  # A3's, the same host and pinning
        nova_emulatorpin={4},
    ),
    "B3": Example(
        ft.c1_host,
        {**DEDICATED, **SHARE, "hw:cpu_realtime": "yes"},
        pins={0: {2}, 1: {3}, 2: {4}, 3: {5}},
        emulatorpin={0, 1},
        conf=C1_SETS,
        realtime={0, 1, 2, 3},
        numatune={0: 0},
        nova=f"vCPUs 0-3 -> pCPUs 6, 2, 5, 4; {NUMA_LOCALITY_NOTE}",
        nova_pins={0: {6}, 1: {2}, 2: {5}, 3: {4}},
        nova_emulatorpin={0, 1, 8, 9},
    ),
    "B5": Example(
        two_by_eight_host,
        {**DEDICATED, "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0", "hw:numa_nodes": "2"},
        pins={0: {0}, 1: {1}, 2: {8}, 3: {9}},
        emulatorpin={0},
        realtime={1, 2, 3},
        numatune={0: 0, 1: 1},
        nova="vCPU 0 -> pCPU 6, so <emulatorpin cpuset='6'/>",
        nova_emulatorpin={6},
    ),
    "B6": Example(
        two_by_eight_host,
        {
            **DEDICATED,
            **ISOLATE,
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
            "hw:numa_nodes": "2",
        },
        pins={0: {0}, 1: {1}, 2: {8}, 3: {9}},
        emulatorpin={2},
        realtime={1, 2, 3},
        numatune={0: 0, 1: 1},
        nova="the reserved pCPU is 5 (hash order); ours is the lowest free one, 2",
        nova_emulatorpin={5},
    ),
    "C1": Example(
        ft.c1_host,
        {**DEDICATED, **SHARE},
        pins={0: {2}, 1: {3}, 2: {4}, 3: {5}},
        emulatorpin={0, 1},
        conf=C1_SETS,
        numatune={0: 0},
        nova=f"vCPUs 0-3 -> pCPUs 6, 2, 5, 4; {NUMA_LOCALITY_NOTE}",
        nova_pins={0: {6}, 1: {2}, 2: {5}, 3: {4}},
        nova_emulatorpin={0, 1, 8, 9},
    ),
    "C2": Example(
        ft.a1_host,
        {**DEDICATED, **SHARE},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={0, 1, 2, 3},
        numatune={0: 0},
        nova_emulatorpin={0, 1, 2, 3},
    ),
    "D1": Example(
        ft.c1_host,
        {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "2-3", **ISOLATE},
        pins={0: {0, 1}, 1: {0, 1}, 2: {2}, 3: {3}},
        emulatorpin={4},
        conf=C1_SETS,
        numatune={0: 0},
        nova="vCPUs 2, 3 -> pCPUs 6, 2 and the emulator pCPU is 5",
        nova_pins={0: {0, 1}, 1: {0, 1}, 2: {6}, 3: {2}},
        nova_emulatorpin={5},
    ),
    "D2": Example(
        ft.c1_host,
        {"hw:cpu_policy": "mixed", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0-1"},
        pins={0: {0, 1}, 1: {0, 1}, 2: {2}, 3: {3}},
        emulatorpin={0, 1},
        conf=C1_SETS,
        realtime={2, 3},
        numatune={0: 0},
        nova_emulatorpin={0, 1},
    ),
    # os-numa's emulator-thread features (issue 6), beyond Nova.
    "E1-mask": Example(
        ft.a1_host,
        {**DEDICATED, "hw:emulator_threads_mask": "0"},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={0},
        numatune={0: 0},
    ),
    "E2-mask-realtime": Example(
        ft.a1_host,
        {
            **DEDICATED,
            **REALTIME,
            "hw:cpu_realtime_mask": "^0-1",
            "hw:emulator_threads_mask": "^0,^2-3",
        },
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={1},
        realtime={2, 3},
        numatune={0: 0},
    ),
    "E3-share-numa-two-cells": Example(
        ft.c1_host,
        {**DEDICATED, **SHARE, "hw:numa_nodes": "2"},
        pins={0: {2}, 1: {3}, 2: {10}, 3: {11}},
        emulatorpin={0, 1, 8, 9},
        conf=C1_SETS,
        numatune={0: 0, 1: 1},
    ),
    "E4-share-numa-fallback": Example(
        shared_in_cell_0_host,
        {**DEDICATED, **SHARE},
        pins={0: {8}, 1: {9}, 2: {10}, 3: {11}},
        emulatorpin={0, 1},
        conf={"compute.cpu_shared_set": "0-1", "compute.cpu_dedicated_set": "2-15"},
        numatune={0: 1},
    ),
    "E5-share-host-locality": Example(
        ft.c1_host,
        {**DEDICATED, **SHARE},
        pins={0: {2}, 1: {3}, 2: {4}, 3: {5}},
        emulatorpin={0, 1, 8, 9},
        conf={**C1_SETS, "os_numa.emulator_share_locality": "host"},
        numatune={0: 0},
        nova="vCPUs 0-3 -> pCPUs 6, 2, 5, 4",
        nova_pins={0: {6}, 1: {2}, 2: {5}, 3: {4}},
        nova_emulatorpin={0, 1, 8, 9},
    ),
    "E6-pool": Example(
        pool_host,
        {**DEDICATED, **POOL},
        vcpus=2,
        pins={0: {1}, 1: {2}},
        emulatorpin={0},
        numatune={0: 0},
    ),
    "E7-isolate-count": Example(
        ft.a1_host,
        {**DEDICATED, **ISOLATE, "hw:numa_nodes": "2", "hw:emulator_threads_count": "2"},
        pins={0: {0}, 1: {1}, 2: {4}, 3: {5}},
        emulatorpin={2, 3},
        numatune={0: 0, 1: 1},
    ),
    "E8-realtime-priority": Example(
        ft.a1_host,
        {**DEDICATED, **REALTIME, "hw:cpu_realtime_mask": "^0", "hw:cpu_realtime_priority": "50"},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={0},
        realtime={1, 2, 3},
        priority=50,
        numatune={0: 0},
    ),
    "E9-mask-floating-vcpu": Example(
        ft.c1_host,
        {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "2-3", "hw:emulator_threads_mask": "0"},
        pins={0: {0, 1}, 1: {0, 1}, 2: {2}, 3: {3}},
        emulatorpin={0, 1},
        conf=C1_SETS,
        numatune={0: 0},
    ),
    "E10-isolate-smt-aware": Example(
        ft.a3_host,
        {**DEDICATED, **ISOLATE, **REALTIME},
        vcpus=3,
        pins={0: {0}, 1: {1}, 2: {2}},
        emulatorpin={4},
        realtime={0, 1, 2},
        numatune={0: 0},
        nova="the emulator pCPU is 3, the SMT sibling of realtime vCPU 2's pCPU",
        nova_pins={0: {0}, 1: {1}, 2: {2}},
        nova_emulatorpin={3},
    ),
    "E11-isolate-smt-nova-choice": Example(
        ft.a3_host,
        {**DEDICATED, **ISOLATE, **REALTIME},
        vcpus=3,
        pins={0: {0}, 1: {1}, 2: {2}},
        emulatorpin={3},
        conf={"os_numa.emulator_threads_smt_aware": False},
        realtime={0, 1, 2},
        numatune={0: 0},
        nova_pins={0: {0}, 1: {1}, 2: {2}},
        nova_emulatorpin={3},
    ),
    "H1-hugepages-two-cells": Example(
        huge_page_host,
        {**DEDICATED, **ISOLATE, "hw:numa_nodes": "2", "hw:mem_page_size": "2MB"},
        pins={0: {0}, 1: {1}, 2: {4}, 3: {5}},
        emulatorpin={2},
        numatune={0: 0, 1: 1},
        hugepages={0: 2048, 1: 2048},
    ),
    "L1-locked-hugepages": Example(
        huge_page_host,
        {**DEDICATED, "hw:mem_page_size": "2MB", "hw:locked_memory": "true"},
        pins={0: {0}, 1: {1}, 2: {2}, 3: {3}},
        emulatorpin={0, 1, 2, 3},
        numatune={0: 0},
        hugepages={0: 2048},
        locked=True,
    ),
}


def flavor_of(example: Example) -> objects.Flavor:
    return objects.Flavor(
        vcpus=example.vcpus, memory_mb=example.memory_mb, extra_specs=dict(example.specs)
    )


def place(example: Example):
    """(host, flavor, conf, placement) of an example, through the real constraints and fit."""
    host = example.host()
    flavor = flavor_of(example)
    request = hardware.numa_get_constraints(flavor, None)
    conf = os_numa_conf.make_conf(**example.conf)
    placement = hardware.numa_fit_instance_to_host(host, request, conf=conf)
    assert placement is not None, "the example's guest must fit its host"
    return host, flavor, conf, placement
