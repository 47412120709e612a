"""``os-numa fleet`` and two schedulers racing over the same hosts, on a real Placement."""

import contextlib
import json
import subprocess
import sys
import time

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


#: A fleet process held at a start line: it imports os-numa (the seconds a process
#: takes to start), says so by creating the file argv[1], and runs ``os-numa argv[3:]``
#: only once the file argv[2] exists. Both racers are then at the line before either
#: registers or schedules, so they run at the same time rather than one after the other.
AT_THE_START_LINE = """
import pathlib, sys, time
from os_numa.cmd.main import main
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
deadline = time.monotonic() + 600
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.002)
sys.exit(main(sys.argv[3:]))
"""


@contextlib.contextmanager
def racers(tmp_path, count, url, *args):
    """``count`` fleet processes started together (see AT_THE_START_LINE); each is
    reaped (killed first if it still runs) when the block ends, even on a failure."""
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{index}" for index in range(count)]
    processes = []
    try:
        for path in ready:
            command = [sys.executable, "-c", AT_THE_START_LINE, str(path), str(go)]
            command += ["fleet", "--placement-url", url, *args]
            processes.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
        deadline = time.monotonic() + 600
        while not all(path.exists() for path in ready):
            failed = [p for p in processes if p.poll() is not None]
            assert not failed, failed[0].communicate()[1]
            assert time.monotonic() < deadline, "the racers never reached the start line"
            time.sleep(0.01)
        go.touch()
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()


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


def test_two_racing_schedulers_never_double_allocate(
    os_numa_placement_service, os_numa_placement, tmp_path
):
    """Two processes register the same 4 hosts and place 24 guests each: 32 fit in all.

    Both start together (a start line), but how their requests interleave is up to the
    machine: one may even finish before the other begins under load. What is checked
    holds for every interleaving; a lost race and its retry on their own are tested
    deterministically in test_service.py (test_a_lost_race_retries_with_fresh_candidates).
    """
    url = os_numa_placement_service.url
    cfg = conf.make_conf()
    args = ("--hosts", "4", "--boots", "24", "--flavor", DEDICATED_4, "--format", "json")
    with racers(tmp_path, 2, url, *args) as processes:
        outputs = [process.communicate(timeout=600) for process in processes]
    documents = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        document = json.loads(out)
        mine = [g for g in document["guests"] if g["host"]]
        # 0 when all of its own 24 guests were placed, 1 when some were not.
        assert process.returncode == (0 if len(mine) == 24 else 1), err
        assert document["placed"] == len(mine) and document["requests"] == 24
        # What Placement offered always fitted and was claimed (each process's trackers
        # know only their own guests, which leaves more room, never less); a guest not
        # placed found the hosts full, or lost every race it retried.
        assert document["rejected_by_fit"] == 0 and document["claim_failures"] == 0
        for guest in document["guests"]:
            if not guest["host"]:
                assert guest["reason"] == "Placement offered no candidate" or (
                    guest["reason"].startswith("lost the race")
                    and guest["retries"] == cfg.placement.claim_retries
                ), guest
        documents.append(document)
    placed = [g for d in documents for g in d["guests"] if g["host"]]
    assert len(placed) == 32  # 4 hosts x 2 cells x 16 pCPUs / 4
    assert len({g["instance"] for g in placed}) == 32
    # Placement holds exactly these consumers, and no provider is over its capacity.
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
