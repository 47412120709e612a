"""The example of doc/source/libvirt-driver.rst runs and prints XML libvirt accepts."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import libvirt
import pytest
from lxml import etree

from os_numa.virt.libvirt import config, host

pytestmark = pytest.mark.functional

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "doc" / "source" / "examples" / "guest_numa_xml.py"
TINY_HOST = ROOT / "tests" / "data" / "capabilities" / "tiny-2cell-nosmt.xml"


def _run_example(monkeypatch, capsys, source: str) -> str:
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), source])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    return capsys.readouterr().out


def _as_domain(fragment: str) -> str:
    return (
        "<domain type='kvm'><name>doc-example</name><memory unit='MiB'>1024</memory>"
        f"<vcpu>2</vcpu>{fragment}<os><type>hvm</type></os></domain>"
    )


@pytest.mark.parametrize("source", ["test:///default", str(TINY_HOST)])
def test_doc_example_prints_a_valid_fragment(
    source, monkeypatch, capsys, domain_schema, libvirt_test_conn
):
    xml = _as_domain(_run_example(monkeypatch, capsys, source))

    assert domain_schema.validate(etree.fromstring(xml)), domain_schema.error_log
    dom = libvirt_test_conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        back = config.LibvirtConfigGuest.parse_str(dom.XMLDesc())
    finally:
        dom.undefine()
    # The guest fits one host cell: vCPUs on its two lowest pCPUs, emulator on the next.
    caps = (
        TINY_HOST.read_text() if source == str(TINY_HOST) else libvirt_test_conn.getCapabilities()
    )
    (cell_id,) = back.numatune.memory.nodeset
    first, second, third = sorted(
        host.host_topology_from_capabilities(caps).cell_by_id(cell_id).pcpuset
    )[:3]
    assert {pin.id: pin.cpuset for pin in back.cputune.vcpupin} == {0: {first}, 1: {second}}
    assert back.cputune.emulatorpin.cpuset == {third}
    assert [(p.iothread, p.cpuset) for p in back.cputune.iothreadpin] == [(1, {third})]
    assert back.iothreads == 1
