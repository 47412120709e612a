"""``os-numa place`` shows issue 15's features: the guest CPU topology in the XML,
isolated I/O threads in the picture and the XML, the memory policy in the XML."""

from __future__ import annotations

import re

from lxml import etree

DEDICATED = "vcpus=4,memory_mb=2048,hw:cpu_policy=dedicated"


def test_xml_carries_the_requested_topology(in_process):
    result = in_process(["place", "--format", "xml", "--flavor", DEDICATED + ",hw:cpu_sockets=2"])
    assert result.returncode == 0, result.stderr
    topology = etree.fromstring(result.stdout.encode()).find("cpu/topology")
    assert (topology.get("sockets"), topology.get("cores"), topology.get("threads")) == (
        "2",
        "2",
        "1",
    )


def test_picture_and_xml_show_isolated_iothreads(in_process):
    flavor = DEDICATED + ",hw:iothreads=2,hw:iothreads_policy=isolate"
    picture = in_process(["place", "--flavor", flavor])
    assert picture.returncode == 0, picture.stderr
    assert len(re.findall(r"\d+ IO\b", picture.stdout)) == 2
    assert "IO   reserved for one of the guest's I/O threads" in picture.stdout
    xml = in_process(["place", "--format", "xml", "--flavor", flavor])
    root = etree.fromstring(xml.stdout.encode())
    assert root.findtext("iothreads") == "2"
    pins = [p.get("cpuset") for p in root.find("cputune").findall("iothreadpin")]
    assert len(pins) == 2 and len(set(pins)) == 2


def test_xml_carries_the_memory_policy(in_process):
    flavor = DEDICATED + ",hw:numa_memory_policy=interleave"
    result = in_process(["place", "--format", "xml", "--flavor", flavor])
    assert result.returncode == 0, result.stderr
    memory = etree.fromstring(result.stdout.encode()).find("numatune/memory")
    assert memory.get("mode") == "interleave"
