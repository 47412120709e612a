"""--format xml: the domain around the driver's elements, through the real pipeline."""

from __future__ import annotations

import io

import libvirt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from os_numa import conf, hardware
from os_numa.cmd import args, commands, hostsource, render_xml, specs
from os_numa.objects.flavor import Flavor
from os_numa.virt.libvirt import driver

SCHEMA = etree.RelaxNG(etree.parse("/usr/share/libvirt/schemas/domain.rng"))

FLAVORS = {
    "isolate": "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate",
    "realtime-2-nodes": "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:cpu_realtime=yes,"
    "hw:cpu_realtime_mask=^0,^2,hw:numa_nodes=2",
    "hugepages": "vcpus=2,memory_mb=2048,hw:mem_page_size=1GB,name=pages",
    "floating": "vcpus=2,memory_mb=512",
}


def domain_for(flavor_text: str) -> tuple[etree._Element, object]:
    flavor = specs.build_flavor([flavor_text])
    host = hostsource.load_host().topology
    request = hardware.numa_get_constraints(flavor, None)
    placement = hardware.numa_fit_instance_to_host(host, request) if request else None
    cfg = conf.make_conf()
    name = render_xml.domain_name(flavor.name)
    text = driver.build_guest(placement, flavor, None, host, cfg, name=name).to_xml()
    return etree.fromstring(text.encode()), flavor


@pytest.mark.parametrize("name", sorted(FLAVORS))
def test_domain_validates_and_carries_the_flavor(name):
    domain, flavor = domain_for(FLAVORS[name])
    assert SCHEMA.validate(domain), SCHEMA.error_log
    assert domain.findtext("name") == (flavor.name or render_xml.DEFAULT_NAME)
    assert int(domain.findtext("memory")) == flavor.memory_mb * 1024
    assert int(domain.findtext("vcpu")) == flavor.vcpus


def test_iothreads_declared_exactly_when_an_iothread_is_pinned():
    isolate, _ = domain_for(FLAVORS["isolate"])
    assert isolate.findtext("iothreads") == "1"
    assert isolate.find("cputune/iothreadpin").get("iothread") == "1"
    floating, _ = domain_for(FLAVORS["floating"])
    assert floating.find("iothreads") is None and floating.find("cputune") is None


def test_memory_backing_only_when_needed():
    pages, _ = domain_for(FLAVORS["hugepages"])
    assert pages.find("memoryBacking/hugepages/page").get("size") == "1048576"
    realtime, _ = domain_for(FLAVORS["realtime-2-nodes"])
    assert realtime.find("memoryBacking/locked") is not None
    isolate, _ = domain_for(FLAVORS["isolate"])
    assert isolate.find("memoryBacking") is None


def test_two_node_guest_defines_on_the_test_driver():
    domain, _ = domain_for(FLAVORS["realtime-2-nodes"])
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXMLFlags(
            etree.tostring(domain, encoding="unicode"), libvirt.VIR_DOMAIN_DEFINE_VALIDATE
        )
        defined = etree.fromstring(dom.XMLDesc().encode())
        dom.undefine()
    finally:
        conn.close()
    assert [c.get("cpus") for c in defined.iterfind("cpu/numa/cell")] == ["0-1", "2-3"]
    assert {m.get("cellid") for m in defined.iterfind("numatune/memnode")} == {"0", "1"}


# --- text from the user inside XML (issue 10, defect 4) --------------------------------

#: Text with what breaks XML comments and names: dashes, newlines, controls.
HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(["-", "-", "a", " ", "\n", "\r", "\x1b", "\x00", "\x85", "/", "é"])
    | st.characters(),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_a_comment_is_well_formed_whatever_it_holds(text):
    made = render_xml.comment(text)
    (node,) = etree.fromstring(f"<r>{made}</r>".encode())
    assert isinstance(node, etree._Comment)
    assert "--" not in node.text and not node.text.endswith("-")
    # Nothing is lost but the controls: the dashes and the words stay, in order.
    assert node.text.replace(" ", "").replace("\n", "").count("-") == text.count("-")


def test_the_reported_alias_comment_is_well_formed():
    made = render_xml.comment("alias a---b: 1 device requested")
    assert made == "<!-- alias a- - -b: 1 device requested -->"
    assert etree.fromstring(f"<r>{made}</r>")[0].text.strip() == "alias a- - -b: 1 device requested"


@settings(max_examples=60, deadline=None)
@given(HOSTILE_TEXT)
def test_a_domain_of_any_flavor_name_validates(name):
    flavor = Flavor(vcpus=2, memory_mb=1024, extra_specs={}, name=name or None)
    text = driver.build_guest(None, flavor, None, name=render_xml.domain_name(flavor.name)).to_xml()
    domain = etree.fromstring(text.encode())
    assert SCHEMA.validate(domain), (name, SCHEMA.error_log)
    assert "/" not in domain.findtext("name") and "\n" not in domain.findtext("name")


def test_a_flavor_name_with_a_newline_keeps_its_words():
    assert render_xml.domain_name("web\nserver/1") == "web_server_1"
    assert render_xml.domain_name(" \n ") == render_xml.DEFAULT_NAME
    assert render_xml.domain_name("plain name") == "plain name"


def test_the_command_prints_build_guests_domain():
    """``os-numa place --format xml`` is build_guest's domain, named for the flavor."""
    flavor_text = FLAVORS["realtime-2-nodes"] + ",hw:cpu_realtime_priority=9,name=rt/1"
    options = args.build_parser().parse_args(["place", "--format", "xml", "--flavor", flavor_text])
    outcome = commands.compute_placement(options)
    out = io.StringIO()

    commands.print_placement(outcome, "xml", False, out)

    expected = driver.build_guest(
        outcome.placement,
        outcome.flavor,
        None,
        outcome.host.topology,
        conf.make_conf(),
        name=render_xml.domain_name(outcome.flavor.name),
    ).to_xml()
    assert out.getvalue() == expected
    assert "<name>rt_1</name>" in expected and 'priority="9"' in expected
