"""Last-level cache alignment ([os_numa] align_cpus_by_cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa import conf as os_numa_conf
from os_numa import exception, hardware, objects
from os_numa.cmd.render_picture import render_host
from os_numa.virt.libvirt import cache_banks, config
from os_numa.virt.libvirt import host as host_mod

AMD = (
    Path(__file__).resolve().parents[1] / "data" / "capabilities" / "amd-epyc-2s-nps4.xml"
).read_text()


def amd(aligned: bool, used=(0, 1), dedicated="0-63"):
    conf = os_numa_conf.make_conf(
        **{"os_numa.align_cpus_by_cache": aligned, "compute.cpu_dedicated_set": dedicated}
    )
    topology = host_mod.host_topology_from_capabilities(AMD, conf=conf)
    for cell in topology.cells:
        cell.pin_cpus({min(cell.pcpuset) + offset for offset in used})
    return topology, conf


def fit(topology, conf, vcpus=4, extra=None):
    specs = {"hw:cpu_policy": "dedicated", **(extra or {})}
    flavor = objects.Flavor(vcpus=vcpus, memory_mb=4096, extra_specs=specs)
    return hardware.numa_fit_instance_to_host(
        topology, hardware.numa_get_constraints(flavor, None), conf=conf
    )


def test_banks_are_read_per_cell():
    topology, _ = amd(False, used=())
    assert topology.cells[0].cache_banks == [
        {0, 1, 2, 3, 64, 65, 66, 67},
        {4, 5, 6, 7, 68, 69, 70, 71},
    ]
    assert topology.cells[1].cache_banks[1] == {12, 13, 14, 15, 76, 77, 78, 79}


def test_issue_example():
    assert fit(*amd(False)).cells[0].cpu_pinning == {0: 2, 1: 3, 2: 4, 3: 5}
    assert fit(*amd(True)).cells[0].cpu_pinning == {0: 4, 1: 5, 2: 6, 3: 7}


def test_the_emulator_pcpu_stays_in_the_bank_too():
    topology, conf = amd(True, used=(0,))
    placed = fit(topology, conf, vcpus=3, extra={"hw:emulator_threads_policy": "isolate"})
    cell = placed.cells[0]
    assert set(cell.cpu_pinning.values()) | cell.cpuset_reserved == {4, 5, 6, 7}


def test_a_guest_larger_than_a_bank_spans_the_fewest_banks():
    topology, conf = amd(True, used=())
    placed = fit(topology, conf, vcpus=6)
    assert sorted(placed.cells[0].cpu_pinning.values()) == [0, 1, 2, 3, 4, 5]


def test_claim_of_an_aligned_fit_succeeds():
    topology, conf = amd(True)
    placed = fit(topology, conf)
    claimed = hardware.numa_usage_from_instance_numa(topology, placed)
    assert claimed.cells[0].pinned_cpus == {0, 1, 4, 5, 6, 7}


def test_picture_lists_the_banks():
    topology, _ = amd(False, used=())
    assert "cache banks: 0-3,64-67 | 4-7,68-71" in render_host(topology)


def test_bad_bank_is_refused():
    caps = config.LibvirtConfigCaps.parse_str(
        AMD.replace("<bank id='0' level='3'", "<bank id='0' level='x'")
    )
    with pytest.raises(exception.InvalidXML, match="cache bank"):
        cache_banks.last_level_banks(caps)


@settings(max_examples=80, deadline=None)
@given(
    used=st.lists(st.integers(0, 7), max_size=6, unique=True),
    vcpus=st.integers(1, 6),
)
def test_aligned_fits_whenever_the_plain_fit_does_and_uses_no_more_banks(used, vcpus):
    plain_host, plain_conf = amd(False, used=used)
    aligned_host, aligned_conf = amd(True, used=used)
    plain = fit(plain_host, plain_conf, vcpus=vcpus)
    aligned = fit(aligned_host, aligned_conf, vcpus=vcpus)
    assert (plain is None) == (aligned is None)
    if plain is None:
        return
    banks = aligned_host.cell_by_id(aligned.cells[0].id).cache_banks

    def spanned(placement):
        pins = set(placement.cells[0].cpu_pinning.values())
        return sum(1 for bank in banks if bank & pins)

    if aligned.cells[0].id == plain.cells[0].id:
        assert spanned(aligned) <= spanned(plain)
    hardware.numa_usage_from_instance_numa(aligned_host, aligned)  # claimable
