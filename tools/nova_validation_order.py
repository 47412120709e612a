"""Record which error Nova's ``numa_get_constraints`` raises for invalid flavors and images.

This script is the oracle of os-numa's validation-order test
(tests/constraints/test_nova_validation_order.py). It generates a fixed table
of flavor/image cases that break every rule ``numa_get_constraints`` checks,
alone and in random combinations, and runs each through real Nova's
``nova.virt.hardware.numa_get_constraints``, recording the class Nova raises
(with its base classes) and the Nova function that raised it.

It needs a Python with Nova installed (not os-numa's venv)::

    /work/cache/venv-openstack/bin/python tools/nova_validation_order.py \\
        record tests/constraints/data/nova_validation_order.json
    $OS_NUMA_OPENSTACK_PYTHON tools/nova_validation_order.py replay FILE   # JSON on stdout
    $OS_NUMA_OPENSTACK_PYTHON tools/nova_validation_order.py fresh SEED COUNT

``record`` writes the cases and Nova's answers; ``replay`` reads the cases of
an existing table and prints Nova's answers for them now, so a test can
compare the committed table (and os-numa) with the installed Nova; ``fresh``
prints COUNT new random cases drawn with SEED, with Nova's answers.

Only keys both projects read are generated, with image values Nova's
``ImageMetaProps`` accepts (an invalid image enum never reaches
``numa_get_constraints`` in Nova: Glance metadata is typed before that).
"""

from __future__ import annotations

import json
import random
import sys
import traceback

SEED = 20261205
RANDOM_CASES = 1500

# Values per flavor key: valid ones, and invalid ones for each rule.
FLAVOR_VALUES: dict[str, list[str]] = {
    "hw:cpu_policy": ["dedicated", "shared", "mixed", "bogus", "DEDICATED"],
    "hw:cpu_thread_policy": ["prefer", "isolate", "require", "bogus"],
    "hw:emulator_threads_policy": ["share", "isolate", "ISOLATE", "bogus"],
    "hw:cpu_realtime": ["yes", "no", "true", "maybe"],
    "hw:cpu_realtime_mask": ["^0", "0", "^0-1", "1", "0-1", "0-9", "^0-63", "x", "^x", "5-1"],
    "hw:cpu_dedicated_mask": ["^0", "0", "1", "0-1", "0-63", "^0-63", "x", "0-9", "^x"],
    "hw:numa_nodes": ["1", "2", "3", "0", "-1", "x", "8"],
    "hw:mem_page_size": ["small", "large", "any", "2048", "2MB", "bogus", "1GB"],
    "hw:locked_memory": ["true", "false"],
    "resources:PCPU": ["1", "2", "3", "4", "5"],
    "resources:VCPU": ["1", "2", "4"],
    "trait:HW_CPU_HYPERTHREADING": ["required", "forbidden"],
}
# hw:numa_cpus.N / hw:numa_mem.N come as a set (consistent or broken).
FLAVOR_NUMA_SPLITS: list[dict[str, str]] = [
    {"hw:numa_cpus.0": "0", "hw:numa_cpus.1": "1", "hw:numa_mem.0": "512", "hw:numa_mem.1": "512"},
    {"hw:numa_cpus.0": "0-1", "hw:numa_mem.0": "1024"},
    {"hw:numa_cpus.0": "0", "hw:numa_cpus.1": "0", "hw:numa_mem.0": "512", "hw:numa_mem.1": "512"},
    {"hw:numa_cpus.0": "0", "hw:numa_cpus.1": "7", "hw:numa_mem.0": "512", "hw:numa_mem.1": "512"},
    {"hw:numa_cpus.0": "0", "hw:numa_mem.0": "512", "hw:numa_mem.1": "512"},
    {"hw:numa_cpus.0": "0", "hw:numa_cpus.1": "1", "hw:numa_mem.0": "100", "hw:numa_mem.1": "100"},
    {"hw:numa_cpus.0": "0", "hw:numa_cpus.1": "1"},
    {"hw:numa_mem.0": "512", "hw:numa_mem.1": "512"},
    {"hw:numa_cpus.0": "x", "hw:numa_mem.0": "1024"},
]
IMAGE_VALUES: dict[str, list[object]] = {
    "hw_cpu_policy": ["dedicated", "shared", "mixed"],
    "hw_cpu_thread_policy": ["prefer", "isolate", "require"],
    "hw_cpu_realtime_mask": ["^0", "0", "^0-1", "0-9", "x"],
    "hw_numa_nodes": [1, 2, 3],
    "hw_mem_page_size": ["large", "2048", "small", "bogus"],
    "hw_locked_memory": [True, False],
}
IMAGE_NUMA_SPLITS: list[dict[str, object]] = [
    {"hw_numa_cpus.0": "0", "hw_numa_cpus.1": "1", "hw_numa_mem.0": 512, "hw_numa_mem.1": 512},
    {"hw_numa_cpus.0": "0-1", "hw_numa_mem.0": 1024},
]
VCPUS = [1, 2, 4]
MEMORY_MB = [1024, 1023, 2048]

# One case per rule, so every rule is covered whatever the random draw gives.
RULE_CASES: list[tuple[int, int, dict[str, str], dict[str, object]]] = [
    (2, 1024, {"hw:cpu_policy": "bogus"}, {}),
    (2, 1024, {"hw:cpu_policy": "shared"}, {"hw_cpu_policy": "dedicated"}),
    (
        2,
        1024,
        {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "0"},
        {"hw_cpu_policy": "dedicated"},
    ),
    (2, 1024, {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "bogus"}, {}),
    (
        2,
        1024,
        {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"},
        {"hw_cpu_thread_policy": "require"},
    ),
    (2, 1024, {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes"}, {}),
    (
        2,
        1024,
        {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "x"},
        {},
    ),
    (
        2,
        1024,
        {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0-1"},
        {},
    ),
    (
        2,
        1024,
        {"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "0-9"},
        {},
    ),
    (
        2,
        1024,
        {
            "hw:cpu_policy": "dedicated",
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "^0",
            "hw:emulator_threads_policy": "bogus",
        },
        {},
    ),
    (2, 1024, {"hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"}, {}),
    (2, 1024, {"hw:cpu_realtime": "yes"}, {}),
    (2, 1024, {"hw:cpu_realtime": "maybe", "hw:cpu_policy": "dedicated"}, {}),
    (2, 1024, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "x"}, {}),
    (2, 1024, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "0-1"}, {}),
    (2, 1024, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0-1"}, {}),
    (2, 1024, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "0-9"}, {}),
    (2, 1024, {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "ISOLATE"}, {}),
    (2, 1024, {"hw:cpu_policy": "dedicated", "resources:PCPU": "2"}, {}),
    (2, 1024, {"resources:PCPU": "2", "resources:VCPU": "2"}, {}),
    (2, 1024, {"resources:PCPU": "2", "hw:emulator_threads_policy": "isolate"}, {}),
    (2, 1024, {"resources:PCPU": "3"}, {}),
    (
        2,
        1024,
        {
            "hw:cpu_policy": "dedicated",
            "hw:cpu_thread_policy": "isolate",
            "trait:HW_CPU_HYPERTHREADING": "forbidden",
        },
        {},
    ),
    (2, 1024, {"hw:cpu_thread_policy": "isolate"}, {}),
    (2, 1024, {"hw:emulator_threads_policy": "isolate"}, {}),
    (2, 1024, {"hw:cpu_dedicated_mask": "0"}, {}),
    (2, 1024, {"hw:cpu_policy": "dedicated", "hw:cpu_dedicated_mask": "0"}, {}),
    (2, 1024, {"hw:cpu_policy": "mixed"}, {}),
    (
        2,
        1024,
        {
            "hw:cpu_policy": "mixed",
            "hw:cpu_dedicated_mask": "0",
            "hw:cpu_realtime": "yes",
            "hw:cpu_realtime_mask": "0",
        },
        {},
    ),
    (2, 1024, {"hw:numa_nodes": "2"}, {"hw_numa_nodes": 2}),
    (2, 1024, {"hw:numa_nodes": "0"}, {}),
    (2, 1024, {"hw:numa_nodes": "x"}, {}),
    (2, 1024, {"hw:numa_nodes": "3"}, {}),
    (2, 1024, {"hw:numa_nodes": "8", "hw:cpu_policy": "dedicated"}, {}),
    (2, 1024, {}, {"hw_mem_page_size": "large"}),
    (2, 1024, {"hw:mem_page_size": "bogus"}, {}),
    (2, 1024, {"hw:mem_page_size": "large"}, {"hw_mem_page_size": "bogus"}),
    (2, 1024, {"hw:mem_page_size": "small"}, {"hw_mem_page_size": "large"}),
    (2, 1024, {"hw:locked_memory": "true"}, {"hw_locked_memory": False}),
    (2, 1024, {"hw:locked_memory": "true"}, {}),
    (2, 1024, {"hw:numa_nodes": "2", "hw:numa_cpus.0": "0"}, {}),
    (2, 1024, {"hw:numa_nodes": "2", **FLAVOR_NUMA_SPLITS[2]}, {}),
    (2, 1024, {"hw:numa_nodes": "2", **FLAVOR_NUMA_SPLITS[3]}, {}),
    (2, 1024, {"hw:numa_nodes": "2", **FLAVOR_NUMA_SPLITS[5]}, {}),
    (2, 1024, {"hw:numa_nodes": "2", **FLAVOR_NUMA_SPLITS[0]}, IMAGE_NUMA_SPLITS[0]),
    (4, 1024, {"hw:numa_nodes": "2", **FLAVOR_NUMA_SPLITS[0]}, {}),
    (2, 1023, {"hw:numa_nodes": "2"}, {}),
]


def generate(seed: int = SEED, count: int = RANDOM_CASES, rules: bool = True) -> list[dict]:
    """The case table: the rule cases, then ``count`` random combinations drawn
    with ``seed`` (the committed table: the defaults)."""
    rng = random.Random(seed)
    raw = list(RULE_CASES) if rules else []
    flavor_keys = sorted(FLAVOR_VALUES)
    image_keys = sorted(IMAGE_VALUES)
    for _ in range(count):
        specs: dict[str, str] = {}
        for key in rng.sample(flavor_keys, rng.randint(1, 5)):
            specs[key] = rng.choice(FLAVOR_VALUES[key])
        if rng.random() < 0.15:
            specs.update(rng.choice(FLAVOR_NUMA_SPLITS))
        props: dict[str, object] = {}
        for key in rng.sample(image_keys, rng.choice((0, 0, 1, 2))):
            props[key] = rng.choice(IMAGE_VALUES[key])
        if rng.random() < 0.05:
            props.update(rng.choice(IMAGE_NUMA_SPLITS))
        raw.append((rng.choice(VCPUS), rng.choice(MEMORY_MB), specs, props))
    cases, seen = [], set()
    for vcpus, memory_mb, specs, props in raw:
        key = json.dumps([vcpus, memory_mb, specs, props], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        cases.append({"vcpus": vcpus, "memory_mb": memory_mb, "extra_specs": specs, "image": props})
    return cases


def nova_outcome(case: dict) -> dict:
    """What Nova's numa_get_constraints does with one case."""
    from nova.virt import hardware

    from nova import objects

    flavor = objects.Flavor(
        vcpus=case["vcpus"], memory_mb=case["memory_mb"], extra_specs=dict(case["extra_specs"])
    )
    image = objects.ImageMeta.from_dict({"properties": dict(case["image"])})
    try:
        hardware.numa_get_constraints(flavor, image)
    except Exception as exc:  # noqa: BLE001 - the class is what we record
        frames = traceback.extract_tb(exc.__traceback__)
        names = [f.name for f in frames if "/nova/" in f.filename]
        # The step of numa_get_constraints that failed: the helper it called.
        if "numa_get_constraints" in names:
            names = names[names.index("numa_get_constraints") :]
        where = names[1] if len(names) > 1 else names[0] if names else "?"
        return {
            "error": type(exc).__name__,
            "bases": [c.__name__ for c in type(exc).__mro__],
            "where": where,
        }
    return {"error": None, "bases": [], "where": None}


def _dumps(table: dict) -> str:
    """The table as JSON with one case per line, so a re-recording diffs well."""
    head = {k: v for k, v in table.items() if k != "cases"}
    lines = [json.dumps(case, sort_keys=True) for case in table["cases"]]
    return json.dumps(head, sort_keys=True)[:-1] + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str]) -> int:
    if not (
        (len(argv) == 3 and argv[1] in ("record", "replay"))
        or (len(argv) == 4 and argv[1] == "fresh")
    ):
        print(__doc__, file=sys.stderr)
        return 2
    from nova import objects

    objects.register_all()
    if argv[1] == "record":
        cases = generate()
    elif argv[1] == "fresh":
        cases = generate(int(argv[2]), int(argv[3]), rules=False)
    else:
        with open(argv[2], encoding="utf-8") as handle:
            cases = [
                {k: c[k] for k in ("vcpus", "memory_mb", "extra_specs", "image")}
                for c in json.load(handle)["cases"]
            ]
    for case in cases:
        case["nova"] = nova_outcome(case)
    import nova.version

    table = {
        "recorded_with": f"nova {nova.version.version_string()}",
        "generator": f"tools/nova_validation_order.py (seed {SEED}, {RANDOM_CASES} random)",
        "cases": cases,
    }
    text = _dumps(table)
    if argv[1] == "record":
        with open(argv[2], "w", encoding="utf-8") as handle:
            handle.write(text)
        errors = sum(1 for c in cases if c["nova"]["error"])
        print(f"recorded {len(cases)} cases ({errors} rejected by Nova) in {argv[2]}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
