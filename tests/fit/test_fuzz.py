"""Issue 10's "done when": random hosts and flavors, no invalid and no unclaimable placement.

The hosts come from capabilities XML through ``host_topology_from_capabilities``
(SMT or not, offline CPUs, ``cpu_dedicated_set``/``cpu_shared_set`` splitting
cores, an emulator pool), the flavors cover the CPU, thread, emulator, NUMA,
page-size and realtime specs; :mod:`tests.fit.fuzz` judges each placement from
the rules alone. ``benchmarks/fuzz_fit.py`` runs the same cases 100,000 times.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import exception, hardware
from os_numa.fit.verify import check_placement
from os_numa.objects import Flavor
from tests.fit import fuzz


def _fit_and_check(truth, topology, flavor):
    try:
        request = hardware.numa_get_constraints(flavor, None)
        placement = hardware.numa_fit_instance_to_host(topology, request, conf=fuzz.conf())
    except exception.Invalid:
        return
    if placement is None:
        return
    assert fuzz.check(truth, topology, request, placement, flavor) == []
    # A fresh placement also passes the restored-placement rules (os_numa.fit.verify).
    check_placement(topology, placement, flavor=flavor)


# Seeds, not st.randoms(): Hypothesis's own random draws lean to edge values (every
# CPU dedicated, no offline CPU), which hides the mixed hosts these tests are about.
SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=150, deadline=None)
@given(SEEDS)
def test_random_placements_are_valid_and_claimable(seed):
    rng = random.Random(seed)
    xml, truth = fuzz.random_host(rng)
    topology = fuzz.host_topology(xml, truth, rng)
    _fit_and_check(truth, topology, fuzz.random_flavor(rng))


@settings(max_examples=120, deadline=None)
@given(SEEDS, st.sampled_from(["split", "split", "new", "legacy"]))
def test_thread_policies_on_smt_hosts_with_split_cores(seed, mode):
    """SMT hosts whose sets split cores (defect 1), thread policy isolate or require."""
    rng = random.Random(seed)
    xml, truth = fuzz.random_host(rng, mode=mode, threads=2)
    topology = fuzz.host_topology(xml, truth, rng)
    _fit_and_check(truth, topology, fuzz.random_flavor(rng, ("isolate", "require")))


def test_the_checker_sees_a_core_split_between_the_sets():
    """The checker itself catches defect 1's placement (vCPUs on 0 and 1, whose
    siblings 16 and 17 are shared CPUs), from the ground truth, not the library."""
    rng = random.Random(0)
    for _ in range(200):
        xml, truth = fuzz.random_host(rng)
        if truth.legacy or not truth.shared:
            continue
        split = [cpu for cpu in sorted(truth.dedicated) if truth.core[cpu] & truth.shared]
        if split:
            break
    else:
        raise AssertionError("no host with a split core in 200 draws")
    topology = fuzz.host_topology(xml, truth, random.Random(1))
    for cell in topology.cells:
        cell.pinned_cpus = set()
    truth.pinned = set()
    cpu = split[0]
    cell_id = next(c for c, cpus in truth.cells.items() if cpu in cpus)
    flavor = Flavor(
        vcpus=1,
        memory_mb=256,
        extra_specs={"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"},
    )
    request = hardware.numa_get_constraints(flavor, None)
    placement = request.obj_clone()
    placement.cells[0].id = cell_id
    placement.cells[0].cpu_pinning = {0: cpu}
    problems = fuzz.check(truth, topology, request, placement, flavor)
    assert any("isolate" in problem for problem in problems), problems


def _digest(seed: int, cases: int = 60) -> tuple[str, fuzz.Tally]:
    rng, tally = random.Random(seed), fuzz.Tally()
    for _ in range(cases):
        fuzz.run_case(rng, tally)
    return tally.digest.hexdigest(), tally


def test_the_outcomes_digest_tells_runs_apart_exactly_by_their_placements():
    first, tally = _digest(7)
    again, _ = _digest(7)
    other, _ = _digest(8)
    assert tally.fits and tally.no_fits  # both kinds of outcome went into it
    assert first == again and first != other
    assert fuzz.outcome_text(None) == "none"
