"""Benchmark fleet scheduling on a real OpenStack Placement: nested NUMA inventory vs Nova's flat.

Run from the repository root (needs ``OS_NUMA_OPENSTACK_PYTHON``, which
``bash tools/dev.sh test`` sets; ``bash tools/dev.sh openstack-python`` prints it)::

    .venv/bin/python benchmarks/fleet.py                     # 100 and 1,000 hosts, 2,000 boots
    .venv/bin/python benchmarks/fleet.py --hosts 100 --boots 500

For each fleet size, one Placement service (SQLite in /dev/shm, loopback) holds
that many copies of the built-in host (2 sockets x 8 cores x 2 threads, one NUMA
cell per socket). The same sequence of boots (os_numa.placement.fleet's mix:
dedicated, emulator isolate, realtime with 2 MiB pages, two-cell, a larger
isolate guest, cycled) is placed twice, in a fresh database each time:

- ``nested``: os-numa's tree (a provider per NUMA cell, granular groups with
  group_policy=isolate, the fit held to the candidate's cells);
- ``flat``: Nova's report (PCPU/VCPU/MEMORY_MB on the compute node, one
  unsuffixed group) with the same os-numa fit on the whole host afterwards.

Printed per run: registration time, scheduling decisions per second end to end
(candidates + fit + PUT allocations + tracker claim), guests placed (density),
candidates examined, the share of Placement's candidates the NUMA fit rejected,
409 retries. Then the race: two ``os-numa fleet`` processes place guests on the
same hosts at once; every provider's usage is checked against its capacity and
every placed guest is claimed again on a fresh tracker per host (a double
allocation would fail one of those); the count of failures is printed (goal 0).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from os_numa import conf, exception  # noqa: E402
from os_numa.cmd import hostsource, specs  # noqa: E402
from os_numa.compute import Instance, ResourceTracker  # noqa: E402
from os_numa.placement import Scheduler, fleet, tree  # noqa: E402
from os_numa.testing.placement import PlacementService, openstack_python  # noqa: E402
from os_numa.virt.driver import ComputeDriver  # noqa: E402

RACE_FLAVOR = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"


def run_model(service, topology, hosts, boots, model, max_candidates):
    service.reset()
    client = service.client()
    cfg = conf.make_conf(**{"placement.max_candidates": max_candidates})
    started = time.perf_counter()
    fleet_hosts = fleet.register_fleet(
        client, ((f"host{i:04d}", topology) for i in range(hosts)), cfg, model=model
    )
    registered = time.perf_counter() - started
    scheduler = Scheduler(client, fleet_hosts, cfg, model=model)
    names = (str(uuid.UUID(int=i + 1)) for i in range(boots))
    result = fleet.place_sequence(scheduler, fleet.mixed_sequence(boots), uuids=names)
    return registered, result


def report(hosts, model, registered, result):
    stats = result.stats
    print(
        f"  {model:6}  register {registered:6.1f} s  "
        f"{result.decisions_per_second:6.1f} decisions/s  "
        f"placed {stats.placed:5}/{stats.decisions}  "
        f"candidates {stats.candidates:6}  rejected by fit {stats.rejected:5} "
        f"({stats.rejected_share:6.1%})  retries {stats.retries}  "
        f"claim failures {stats.claim_failures}",
        flush=True,
    )


def race(service, hosts, boots):
    """Two ``os-numa fleet`` processes on the same hosts; returns (placed, retries, failures)."""
    service.reset()
    command = [
        sys.executable,
        "-m",
        "os_numa",
        "fleet",
        "--placement-url",
        service.url,
        "--hosts",
        str(hosts),
        "--boots",
        str(boots),
        "--flavor",
        RACE_FLAVOR,
        "--format",
        "json",
    ]
    racers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    documents = []
    for racer in racers:
        out, err = racer.communicate()
        if racer.returncode not in (0, 1):
            raise SystemExit(f"a racing scheduler failed: {err}")
        documents.append(json.loads(out))
    placed = [g for d in documents for g in d["guests"] if g["host"]]
    client = service.client()
    cfg = conf.make_conf()
    topology = hostsource.load_host(conf=cfg).topology
    failures = 0
    trackers = {}
    for i in range(hosts):
        host_tree = tree.host_tree(f"host{i:04d}", topology, cfg)
        trackers[host_tree.host] = ResourceTracker(ComputeDriver(), topology, cfg)
        for provider in host_tree.cells:
            _, inventories = client.get_inventories(provider.uuid)
            for rc, used in client.get_usages(provider.uuid).items():
                inv = inventories[rc]
                failures += used > (inv["total"] - inv["reserved"]) * inv["allocation_ratio"]
    flavor = specs.build_flavor([RACE_FLAVOR])
    for guest in placed:
        instance = Instance(uuid=guest["instance"], flavor=flavor)
        try:
            with trackers[guest["host"]].instance_claim(instance, cell_mapping=guest["host_cells"]):
                pass
        except exception.ComputeResourcesUnavailable:
            failures += 1
    failures += len(placed) - len({g["instance"] for g in placed})
    return len(placed), sum(d["retries"] for d in documents), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="100,1000", help="fleet sizes, comma-separated")
    parser.add_argument("--boots", type=int, default=2000)
    parser.add_argument("--max-candidates", type=int, default=1000)
    parser.add_argument("--race-hosts", type=int, default=20)
    parser.add_argument("--race-boots", type=int, default=100, help="per scheduler")
    args = parser.parse_args()
    if openstack_python() is None:
        print("OS_NUMA_OPENSTACK_PYTHON is not set: bash tools/dev.sh openstack-python")
        return 2
    cfg = conf.make_conf()
    topology = hostsource.load_host(conf=cfg).topology
    print(
        f"built-in host: {len(topology.cells)} cells x {len(topology.cells[0].pcpuset)} pCPUs; "
        f"{args.boots} boots of {len(fleet.MIXED_FLAVORS)} flavors cycled; "
        f"max_candidates {args.max_candidates}",
        flush=True,
    )
    with PlacementService.start() as service:
        for hosts in (int(h) for h in args.hosts.split(",")):
            print(f"{hosts} hosts:", flush=True)
            results = {}
            for model in ("nested", "flat"):
                registered, result = run_model(
                    service, topology, hosts, args.boots, model, args.max_candidates
                )
                results[model] = result
                report(hosts, model, registered, result)
            nested, flat = results["nested"].stats, results["flat"].stats
            print(
                f"  density: nested {nested.placed} vs flat {flat.placed} guests; "
                f"rejected share nested {nested.rejected_share:.2%} vs flat "
                f"{flat.rejected_share:.2%}",
                flush=True,
            )
        placed, retries, failures = race(service, args.race_hosts, args.race_boots)
        print(
            f"race: 2 schedulers x {args.race_boots} boots on {args.race_hosts} hosts: "
            f"{placed} placed, {retries} retries after 409, double allocations {failures} "
            "(goal 0)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
