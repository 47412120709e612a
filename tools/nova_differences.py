"""Run the Nova side of doc/source/nova-differences.rst through real Nova.

Prints one JSON object: for each row of the table that Nova's
``nova.virt.hardware`` shows on its own, what Nova does with the page's
example. tests/test_nova_differences_doc.py runs it with
``OS_NUMA_OPENSTACK_PYTHON`` (a Python with nova==34) and checks that the
page's statements about Nova are true::

    /work/cache/venv-openstack/bin/python tools/nova_differences.py
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from nova import objects

    objects.register_all()
    from nova.virt import hardware

    def cell(cell_id, cpus, siblings, pinned=()):
        return objects.NUMACell(
            id=cell_id,
            cpuset=set(cpus),
            pcpuset=set(cpus),
            memory=4096,
            cpu_usage=0,
            memory_usage=0,
            pinned_cpus=set(pinned),
            siblings=[set(s) for s in siblings],
            mempages=[objects.NUMAPagesTopology(size_kb=4, total=1048576, used=0, reserved=0)],
            network_metadata=objects.NetworkMetadata(physnets=set(), tunneled=False),
            socket=0,
        )

    def request(vcpus, specs):
        flavor = objects.Flavor(vcpus=vcpus, memory_mb=1024, extra_specs=specs)
        return hardware.numa_get_constraints(flavor, objects.ImageMeta.from_dict({}))

    def fit(host, wanted):
        return hardware.numa_fit_instance_to_host(host, wanted, provider_mapping=None)

    def error_of(call):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the class is the answer
            return type(exc).__name__
        return None

    smt = [{0, 4}, {1, 5}, {2, 6}, {3, 7}]
    host = objects.NUMATopology(cells=[cell(0, range(8), smt)])
    out = {}

    wanted = request(2, {"hw:cpu_policy": "dedicated"})
    fit(host, wanted)
    out["inputs: request pinned after the fit"] = wanted.cells[0].cpu_pinning is not None

    three = objects.NUMATopology(
        cells=[
            cell(i, range(4 * i, 4 * i + 4), [{c} for c in range(4 * i, 4 * i + 4)])
            for i in range(3)
        ]
    )
    cache_specs = {
        "hw:cpu_policy": "dedicated",
        "hw:numa_nodes": "3",
        "hw:numa_cpus.0": "0",
        "hw:numa_cpus.1": "1",
        "hw:numa_cpus.2": "2-6",
        "hw:numa_mem.0": "256",
        "hw:numa_mem.1": "256",
        "hw:numa_mem.2": "512",
    }
    placed = fit(three, request(7, cache_specs))
    out["fit cache: a cell without pinning"] = placed is not None and any(
        not c.cpu_pinning for c in placed.cells
    )

    busy = objects.NUMATopology(cells=[cell(0, range(8), smt, pinned={5})])
    isolate = {
        "hw:cpu_policy": "dedicated",
        "hw:cpu_thread_policy": "isolate",
        "hw:emulator_threads_policy": "isolate",
    }
    placed = fit(busy, request(2, isolate))
    out["isolate: reserved"] = sorted(placed.cells[0].cpuset_reserved)
    out["isolate: own claim"] = error_of(
        lambda: hardware.numa_usage_from_instance_numa(busy, placed)
    )

    out["realtime alone"] = error_of(lambda: request(2, {"hw:cpu_realtime": "yes"}))
    out["3 nodes, 2 vCPUs"] = error_of(lambda: request(2, {"hw:numa_nodes": "3"}))
    typo = objects.Flavor(
        vcpus=2,
        memory_mb=1024,
        extra_specs={"hw:cpu_policy": "dedicated", "hw:cpu_realtime": "ture"},
    )
    out["realtime 'ture'"] = hardware.get_realtime_cpu_constraint(
        typo, objects.ImageMeta.from_dict({})
    )

    placed = fit(host, request(2, {"hw:numa_nodes": "1"}))
    freed = hardware.numa_usage_from_instance_numa(host, placed, free=True)
    out["free unclaimed: memory_usage"] = freed.cells[0].memory_usage

    pairs = objects.NUMATopology(cells=[cell(0, range(8), [{0, 1}, {2, 3}, {4, 5}, {6, 7}])])
    realtime = {
        "hw:cpu_policy": "dedicated",
        "hw:cpu_realtime": "yes",
        "hw:emulator_threads_policy": "isolate",
    }
    placed = fit(pairs, request(3, realtime))
    out["smt: reserved"] = sorted(placed.cells[0].cpuset_reserved)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
