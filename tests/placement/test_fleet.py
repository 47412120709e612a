"""``os-numa fleet`` and two schedulers racing over the same hosts, on a real Placement."""

import json
import subprocess
import sys

import jsonschema

from os_numa import conf
from os_numa.cmd import hostsource, schema
from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from os_numa.placement import tree
from os_numa.virt.driver import ComputeDriver

DEDICATED_4 = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated"


def fleet(url, *args):
    command = [sys.executable, "-m", "os_numa", "fleet", "--placement-url", url, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process, expect):
    out, err = process.communicate(timeout=600)
    assert process.returncode == expect, err
    return out


def test_fleet_json_matches_its_schema_and_the_allocations(
    os_numa_placement_service, os_numa_placement
):
    url = os_numa_placement_service.url
    out = finished(fleet(url, "--hosts", "2", "--boots", "6", "--format", "json"), 0)
    document = json.loads(out)
    jsonschema.Draft202012Validator(schema.load(schema.FLEET)).validate(document)
    assert document["schema"] == "os-numa/fleet/v1"
    assert document["placed"] == document["requests"] == 6
    assert document["rejected_by_fit"] == 0
    assert sum(document["per_host"].values()) == 6
    for guest in document["guests"]:
        held = os_numa_placement.get_allocations(guest["instance"])["allocations"]
        cells = {
            int(os_numa_placement.get_provider(rp)["name"].rpartition("_NUMA")[2])
            for rp, body in held.items()
            if "PCPU" in body["resources"]
        }
        assert cells == set(guest["host_cells"])


def test_fleet_text_flat_model_and_bad_input(os_numa_placement_service, os_numa_placement):
    url = os_numa_placement_service.url
    out = finished(
        fleet(url, "--hosts", "1", "--boots", "9", "--model", "flat", "--flavor", DEDICATED_4), 1
    )
    assert out.startswith("model flat: 1 hosts, 9 guests requested, 8 placed, 1 not placed\n")
    assert "host0000  8" in out
    bad = fleet(url, "--hosts", "0", "--boots", "1")
    assert finished(bad, 2) == ""
    bad = fleet(url, "--hosts", "1", "--boots", "1", "--flavor", "vcpus=x")
    finished(bad, 2)


def test_two_racing_schedulers_never_double_allocate(os_numa_placement_service, os_numa_placement):
    """Two processes register the same 4 hosts and place 24 guests each: 32 fit in all."""
    url = os_numa_placement_service.url
    args = ("--hosts", "4", "--boots", "24", "--flavor", DEDICATED_4, "--format", "json")
    racers = [fleet(url, *args) for _ in range(2)]
    documents = [json.loads(finished(p, 1)) for p in racers]
    placed = [g for d in documents for g in d["guests"] if g["host"]]
    assert len(placed) == 32  # 4 hosts x 2 cells x 16 pCPUs / 4
    assert len({g["instance"] for g in placed}) == 32
    # Placement holds exactly these consumers, and no provider is over its capacity.
    cfg = conf.make_conf()
    topology = hostsource.load_host(conf=cfg).topology
    trees = [tree.host_tree(f"host{i:04d}", topology, cfg) for i in range(4)]
    for host_tree in trees:
        for provider in host_tree.cells:
            _, inventories = os_numa_placement.get_inventories(provider.uuid)
            for rc, used in os_numa_placement.get_usages(provider.uuid).items():
                inv = inventories[rc]
                assert used <= (inv["total"] - inv["reserved"]) * inv["allocation_ratio"]
    # The compute hosts' own claims, replayed from both schedulers' decisions, all fit.
    trackers = {t.host: ResourceTracker(ComputeDriver(), topology, cfg) for t in trees}
    flavor = Flavor(vcpus=4, memory_mb=4096, extra_specs={"hw:cpu_policy": "dedicated"})
    for guest in placed:
        instance = Instance(uuid=guest["instance"], flavor=flavor)
        with trackers[guest["host"]].instance_claim(instance, cell_mapping=guest["host_cells"]):
            pass
    assert sum(len(t.usage.instances) for t in trackers.values()) == 32
