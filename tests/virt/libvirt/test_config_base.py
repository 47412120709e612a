"""The declarative machinery on its own: one made-up element that uses every node."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import ClassVar

import pytest

from os_numa import exception
from os_numa.virt.libvirt import config, config_devices
from os_numa.virt.libvirt.config_base import (
    CPUS,
    INT,
    KIB,
    TEXT_OR_NONE,
    YES_NO,
    Attr,
    Child,
    Children,
    Count,
    Element,
    Entries,
    Flag,
    LibvirtConfigObject,
    Node,
    Number,
    Raw,
    Text,
)


@dataclasses.dataclass
class Leaf(LibvirtConfigObject):
    root_name: ClassVar[str] = "leaf"
    layout: ClassVar[tuple[Node, ...]] = (Attr("n", kind=INT, required=True),)

    n: int = 0


@dataclasses.dataclass
class Sample(LibvirtConfigObject):
    root_name: ClassVar[str] = "sample"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("kind", const="demo", check=True),
        Attr("size", "size_kb", KIB, required=True),
        Attr("on", kind=YES_NO, missing=False),
        Attr("cpus", kind=CPUS),
        Element("label", Text("label", TEXT_OR_NONE)),
        Element("count", Text("count", INT, omit=(0,))),
        Element("box", Attr("hex", kind=Number(0xFF, hex_digits=2)), required=True),
        Child("first", Leaf),
        Element("leaves", Count("num", of="leaves"), Children("leaves", Leaf), always=True),
        Flag("quiet", "quiet"),
        Element("map", Entries("pair", "pairs", key="k", value="v")),
        Element("rest", Raw("rest")),
    )

    size_kb: int = 0
    on: bool = True
    cpus: set[int] = field(default_factory=set)
    label: str | None = None
    count: int = 0
    hex: int | None = None
    first: Leaf | None = None
    leaves: list[Leaf] = field(default_factory=list)
    quiet: bool = False
    pairs: dict[int, int] = field(default_factory=dict)
    rest: list[str] = field(default_factory=list)


FULL_XML = (
    '<sample kind="demo" size="2048" unit="KiB" on="yes" cpus="0-2,7"><label>x</label>'
    '<count>3</count><box hex="0x1f"/><leaf n="1"/><leaves num="2"><leaf n="2"/>'
    '<leaf n="3"/></leaves><quiet/><map><pair k="0" v="10"/><pair k="1" v="20"/></map>'
    '<rest><a/><b c="d"/></rest></sample>'
)


def test_every_node_writes_in_declared_order_and_reads_back():
    sample = Sample(
        size_kb=2048,
        cpus={0, 1, 2, 7},
        label="x",
        count=3,
        hex=0x1F,
        first=Leaf(1),
        leaves=[Leaf(2), Leaf(3)],
        quiet=True,
        pairs={1: 20, 0: 10},
        rest=["<a/>", '<b c="d"/>'],
    )
    assert sample.to_xml(pretty_print=False) == FULL_XML
    assert Sample.parse_str(FULL_XML) == sample
    assert Sample.known_attrs == ("kind", "size", "unit", "on", "cpus")
    assert Sample.known_children == (
        "label", "count", "box", "leaf", "leaves", "quiet", "map", "rest",
    )  # fmt: skip
    assert Sample.declared_fields() == tuple(
        f.name for f in dataclasses.fields(Sample) if not f.name.startswith("extra_")
    )


def test_what_is_unset_is_left_out_and_reads_as_the_default():
    # on=False is written (yes/no); the empty set, None, 0 (omitted) and False are not.
    xml = Sample(size_kb=4, on=False).to_xml(pretty_print=False)
    assert xml == '<sample kind="demo" size="4" unit="KiB" on="no"><box/><leaves num="0"/></sample>'
    assert Sample.parse_str(xml) == Sample(size_kb=4, on=False)
    # A document without "on" reads as its missing= value, not the dataclass default.
    assert Sample.parse_str('<sample kind="demo" size="1" unit="MiB"><box/></sample>') == Sample(
        size_kb=1024, on=False
    )


@pytest.mark.parametrize(
    ("xml", "needle"),
    [
        ('<sample kind="other" size="1"><box/></sample>', "this class reads kind='demo'"),
        ('<sample kind="demo"><box/></sample>', "lacks the required attribute 'size'"),
        ('<sample kind="demo" size="1"/>', "<sample> lacks <box>"),
        ('<sample kind="demo" size="1" on="maybe"><box/></sample>', "'maybe'; yes or no"),
        ('<sample kind="demo" size="1"><box hex="0x100"/></sample>', "range is 0..0xff"),
        ('<sample kind="demo" size="1"><box/><count>many</count></sample>', "'many'"),
        ('<sample kind="demo" size="1"><box/><map><pair k="1"/></map></sample>', "'v'"),
        ('<sample kind="demo" size="1"><box/><leaf/></sample>', "<leaf> lacks"),
    ],
)
def test_bad_documents_name_what_is_wrong(xml, needle):
    with pytest.raises(exception.InvalidXML) as info:
        Sample.parse_str(xml)
    assert needle in str(info.value)


def test_unknown_parts_are_kept_in_place():
    xml = '<sample kind="demo" size="1" z="9"><new/><box/><later/></sample>'
    sample = Sample.parse_str(xml)
    assert sample.extra_attrs == {"z": "9"}
    assert sample.extra_children == [(None, "<new/>"), ("box", "<later/>")]
    assert Sample.parse_str(sample.to_xml()) == sample


@pytest.mark.parametrize(
    ("element", "needle"),
    [
        (config_devices.LibvirtConfigGuestPCIeRootPort(index=256), "index 256 is out of range"),
        (
            config_devices.LibvirtConfigGuestPCIeExpanderBus(index=1, target_node=2**31 + 1),
            "out of range",
        ),
        (config_devices.LibvirtConfigGuestPCIAddress(bus=True), "not an integer"),
        (Sample(hex=-1), "<box> hex -0x1 is out of range 0..0xff"),
    ],
)
def test_numbers_are_bounded_when_written(element, needle):
    with pytest.raises(exception.Invalid, match=needle):
        element.to_xml()


def test_an_empty_optional_cpu_set_is_left_out_of_the_vcpu_element():
    """libvirt refuses cpuset=""; the domain writes <vcpu> without it instead."""
    guest = config.LibvirtConfigGuest(name="no-set", cpuset=set())
    assert '<vcpu placement="static">1</vcpu>' in guest.to_xml()
