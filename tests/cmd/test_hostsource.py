"""Host sources: the built-in host, capabilities files, core layout, --existing claims."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from os_numa import exception
from os_numa.cmd import hostsource
from os_numa.virt.libvirt import config
from tests.cmd.conftest import DATA


def test_builtin_host_is_the_documented_2_socket_smt_server():
    host = hostsource.load_host().topology
    assert [cell.id for cell in host.cells] == [0, 1]
    for cell in host.cells:
        first = 8 * cell.id
        cpus = set(range(first, first + 8)) | set(range(first + 16, first + 24))
        assert cell.pcpuset == cpus and cell.cpuset == cpus
        assert sorted(map(sorted, cell.siblings)) == [[c, c + 16] for c in range(first, first + 8)]
        assert cell.socket == cell.id
        assert cell.memory == 64 * 1024
        pages = {p.size_kb: p.total for p in cell.mempages}
        assert pages[2048] == 2048 and pages[1048576] == 8


def test_builtin_host_validates_against_libvirts_capability_schema():
    schema = etree.RelaxNG(etree.parse("/usr/share/libvirt/schemas/capability.rng"))
    document = etree.fromstring(hostsource.default_capabilities().encode())
    assert schema.validate(document), schema.error_log


@pytest.mark.parametrize(
    "name, cell, cores",
    [
        ("offline-cpus.xml", 0, [[0, 8], [1, 9], [2, 10]]),
        ("offline-cpus.xml", 1, [[4, 12], [5, 13], [6], [7, 15]]),
        ("offline-cpus.xml", 2, []),
        ("tiny-2cell-nosmt.xml", 1, [[4], [5], [6], [7]]),
    ],
)
def test_cores_from_capabilities(name, cell, cores):
    caps = config.LibvirtConfigCaps.parse_str((DATA / name).read_text())
    assert hostsource.cores_from_capabilities(caps)[cell] == cores


def test_cpu_sets_leave_excluded_cpus_in_the_layout_only():
    view = hostsource.load_host(cpu_dedicated_set="2-15,18-31", cpu_shared_set="0,16")
    cell0 = view.topology.cells[0]
    assert 1 not in cell0.pcpuset | cell0.cpuset
    assert [1, 17] in view.cores[0]


def test_existing_placements_are_claimed(tmp_path):
    doc = {
        "cells": [
            {
                "host_cell": 1,
                "vcpus": [0, 1],
                "memory_mb": 1024,
                "cpu_pinning": {"0": 9, "1": 25},
                "cpuset_reserved": [10],
            }
        ],
        "emulator_threads_policy": "isolate",
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps(doc))
    host = hostsource.load_host(existing_files=[str(path)]).topology
    assert host.cells[1].pinned_cpus == {9, 25, 10}
    assert host.cells[1].memory_usage == 1024
    assert host.cells[0].pinned_cpus == set()


def test_unclaimable_existing_placement_names_the_file_and_entry(tmp_path):
    doc = {"cells": [{"host_cell": 0, "vcpus": [0], "memory_mb": 1, "cpu_pinning": {"0": 9}}]}
    path = tmp_path / "wrong-cell.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(exception.Invalid, match=r"wrong-cell.json, entry 0 .*'pinnable'"):
        hostsource.load_host(existing_files=[str(path)])


def test_oversized_capabilities_are_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(hostsource, "MAX_CAPABILITIES_BYTES", 100)
    path = tmp_path / "big.xml"
    path.write_text("<capabilities>" + " " * 200 + "</capabilities>")
    with pytest.raises(exception.InvalidXML, match="larger than 100 bytes"):
        hostsource.load_host(capabilities=str(path))


def test_a_number_too_long_to_convert_names_the_capabilities_file_and_field(tmp_path):
    text = (DATA / "tiny-2cell-nosmt.xml").read_text()
    path = tmp_path / "caps.xml"
    path.write_text(text.replace("<memory unit='KiB'>", "<memory unit='KiB'>" + "9" * 5000, 1))
    with pytest.raises(exception.InvalidXML) as info:
        hostsource.load_host(capabilities=str(path))
    message = str(info.value)
    assert f"capabilities {path}: <memory> text is '999" in message
    assert "an integer of at most 20 digits" in message and len(message) < 300


def test_a_number_too_long_to_convert_names_the_device_file_and_field(tmp_path):
    text = (DATA.parent / "nodedev" / "pci_0000_18_00_0.xml").read_text()
    path = tmp_path / "dev.xml"
    path.write_text(text.replace("<numa node='0'", "<numa node='" + "9" * 5000 + "'"))
    with pytest.raises(exception.InvalidXML) as info:
        hostsource.load_pci_devices([str(path)])
    assert f"{path}: node device pci_0000_18_00_0: <numa node>" in str(info.value)
