"""Every declared attribute and child of every element class goes through a round trip.

The element classes declare their XML (``layout``, see
:mod:`os_numa.virt.libvirt.config_base`); the base writes and reads it. This
module holds a table of whole documents that between them give every declared
field a value other than its default, and checks each document: written,
valid against libvirt's schema (``domain.rng`` / ``capability.rng``), parsed
back equal, written again to the same text. A field left at its default in
every case would pass a round trip even if it were never read, so
:func:`test_every_declared_field_is_exercised` fails when a class declares a
field that no case sets (add the case with the field).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import pytest
from lxml import etree

from os_numa.testing import fake
from os_numa.virt.libvirt import config, config_devices
from os_numa.virt.libvirt.config_base import INT, Attr, LibvirtConfigObject, Node

CAPABILITY_RNG = "/usr/share/libvirt/schemas/capability.rng"
ADDR = config_devices.LibvirtConfigGuestPCIAddress


def _guest_with_everything() -> config.LibvirtConfigGuest:
    """A q35 guest with two cells and every guest element and device field set."""
    return config.LibvirtConfigGuest(
        virt_type="qemu",
        name="every-field",
        uuid="7d3b7d16-0a5e-4b8a-9d51-3f0e2c1a9b64",
        memory=4194304,
        vcpus=4,
        cpuset={0, 1, 2, 3, 8},
        iothreads=2,
        os_arch="x86_64",
        os_machine="q35",
        os_extra_children=["<boot dev='hd'/>"],
        membacking=config.LibvirtConfigGuestMemoryBacking(
            hugepages=[
                config.LibvirtConfigGuestMemoryBackingPage(2048, {0}),
                config.LibvirtConfigGuestMemoryBackingPage(1048576, {1}),
            ],
            sharedpages=False,
            locked=True,
        ),
        cputune=config.LibvirtConfigGuestCPUTune(
            shares=2048,
            period=100000,
            quota=50000,
            vcpupin=[
                config.LibvirtConfigGuestCPUTuneVCPUPin(v, {c}) for v, c in enumerate((2, 3, 8, 9))
            ],
            emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({1}),
            iothreadpin=[
                config.LibvirtConfigGuestCPUTuneIOThreadPin(1, {1}),
                config.LibvirtConfigGuestCPUTuneIOThreadPin(2, {0}),
            ],
            vcpusched=[config.LibvirtConfigGuestCPUTuneVCPUSched({1, 2, 3}, "fifo", 5)],
        ),
        numatune=config.LibvirtConfigGuestNUMATune(
            memory=config.LibvirtConfigGuestNUMATuneMemory("interleave", {0, 1}),
            memnodes=[
                config.LibvirtConfigGuestNUMATuneMemNode(0, "preferred", {0}),
                config.LibvirtConfigGuestNUMATuneMemNode(1, "strict", {1}),
            ],
        ),
        cpu=config.LibvirtConfigGuestCPU(
            mode="custom",
            match="exact",
            check="partial",
            model="Skylake-Client",
            sockets=1,
            dies=1,
            cores=2,
            threads=2,
            numa=config.LibvirtConfigGuestCPUNUMA(
                [
                    config.LibvirtConfigGuestCPUNUMACell(0, {0, 1}, 2097152, "shared"),
                    config.LibvirtConfigGuestCPUNUMACell(1, {2, 3}, 2097152, "private"),
                ]
            ),
        ),
        devices=[
            config_devices.LibvirtConfigGuestPCIeExpanderBus(
                index=1, target_bus_nr=254, target_node=1, address=ADDR(bus=0, slot=5)
            ),
            config_devices.LibvirtConfigGuestPCIeRootPort(
                index=2, target_chassis=2, target_port=16, address=ADDR(bus=1, slot=0)
            ),
            config_devices.LibvirtConfigGuestHostdevPCI(
                domain=1,
                bus=0x5E,
                slot=3,
                function=2,
                managed=False,
                driver_name="vfio",
                guest_address=ADDR(domain=2, bus=2, slot=0, function=0),
            ),
            config_devices.LibvirtConfigGuestHostdevPCI(
                domain=0, bus=0x18, slot=0, function=1, guest_address=ADDR(bus=2, function=1)
            ),
            "<memballoon model='none'/>",
        ],
    )


def _xen_paravirt_guest() -> config.LibvirtConfigGuest:
    """The one field the guest above keeps at its default: ``<os><type>`` (not hvm)."""
    return config.LibvirtConfigGuest(
        virt_type="xen", name="paravirt", os_type="linux", os_extra_children=["<kernel>/k</kernel>"]
    )


def _host_with_everything() -> config.LibvirtConfigCaps:
    """A two-cell fake host with huge pages: every capabilities field set."""
    return fake.HostInfo(
        cpu_nodes=2, cpu_sockets=1, cpu_cores=2, cpu_threads=2, mempages={2048: 64}
    ).capabilities()


#: name -> (document, the libvirt schema it must satisfy).
CASES: dict[str, tuple[LibvirtConfigObject, str]] = {
    "guest-every-field": (_guest_with_everything(), "domain"),
    "guest-xen-paravirt": (_xen_paravirt_guest(), "domain"),
    "host-every-field": (_host_with_everything(), "capability"),
}


# --- what the classes declare, and what the cases set ----------------------------------------


def _declaring_class(cls: type[LibvirtConfigObject]) -> type[LibvirtConfigObject]:
    """The class whose ``layout`` ``cls`` uses (a subclass may only change defaults)."""
    return next(k for k in cls.__mro__ if "layout" in vars(k))


def _default(cls: type, name: str) -> Any:
    spec = next(f for f in dataclasses.fields(cls) if f.name == name)
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def declared(classes) -> set[str]:
    """``Class.field`` for every field the classes' layouts declare."""
    return {
        f"{_declaring_class(cls).__name__}.{name}"
        for cls in classes
        for name in cls.declared_fields()
    }


def objects_in(obj: LibvirtConfigObject):
    """``obj`` and every element object below it (child objects, lists, devices)."""
    yield obj
    for name in type(obj).declared_fields():
        value = getattr(obj, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, LibvirtConfigObject):
                yield from objects_in(item)


def exercised(documents) -> set[str]:
    """``Class.field`` for every declared field that some object in ``documents`` holds
    with a value other than its default."""
    return {
        f"{_declaring_class(type(obj)).__name__}.{name}"
        for document in documents
        for obj in objects_in(document)
        for name in type(obj).declared_fields()
        if getattr(obj, name) is not None and getattr(obj, name) != _default(type(obj), name)
    }


def uncovered(classes, documents) -> list[str]:
    """The declared fields of ``classes`` that no object in ``documents`` sets, sorted."""
    return sorted(declared(classes) - exercised(documents))


def element_classes() -> list[type[LibvirtConfigObject]]:
    """Every element class os-numa ships (test-made subclasses are not counted)."""
    found, todo = [], [LibvirtConfigObject]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("os_numa.") and sub.layout:
                found.append(sub)
    return sorted(set(found), key=lambda k: (k.__module__, k.__name__))


# --- the checks ---------------------------------------------------------------------------------


def test_every_declared_field_is_exercised():
    classes = element_classes()
    assert len(classes) >= 25  # the guest, caps and device classes, all found
    assert uncovered(classes, [doc for doc, _ in CASES.values()]) == []


def test_a_declared_field_no_case_sets_is_reported():
    """A new attribute declared without a case that sets it fails the check above."""

    @dataclasses.dataclass
    class PinWithWeight(config.LibvirtConfigGuestCPUTuneVCPUPin):
        layout: ClassVar[tuple[Node, ...]] = (
            *config.LibvirtConfigGuestCPUTuneVCPUPin.layout,
            Attr("weight", kind=INT),
        )
        weight: int | None = None

    documents = [doc for doc, _ in CASES.values()]
    assert uncovered([PinWithWeight], [*documents, PinWithWeight(1, {2})]) == [
        "PinWithWeight.weight"
    ]
    assert uncovered([PinWithWeight], [*documents, PinWithWeight(1, {2}, weight=3)]) == []
    # The new attribute really is written and read by the base, with nothing else.
    pin = PinWithWeight(1, {2}, weight=3)
    assert pin.to_xml() == '<vcpupin vcpu="1" cpuset="2" weight="3"/>\n'
    assert PinWithWeight.parse_str(pin.to_xml()) == pin


def test_every_field_is_declared():
    """No dataclass field is left out of its class's layout (it would be silently lost)."""
    undeclared = {
        cls.__name__: sorted(
            {f.name for f in dataclasses.fields(cls)}
            - set(cls.declared_fields())
            - {"extra_attrs", "extra_children"}
        )
        for cls in element_classes()
    }
    assert {name: fields for name, fields in undeclared.items() if fields} == {}


@pytest.fixture(scope="module")
def schemas(domain_schema):
    return {"domain": domain_schema, "capability": etree.RelaxNG(etree.parse(CAPABILITY_RNG))}


def _text(xml: str) -> str:
    """XML text in one spelling (quotes, empty elements), to compare kept text."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n").decode()


def normalized(document: LibvirtConfigObject) -> LibvirtConfigObject:
    """A copy of ``document`` whose kept XML text (unknown children, ``<os>``
    children, text devices) is in one spelling, and whose device objects are
    XML text as parsing gives them."""
    copied = copy.deepcopy(document)
    for obj in objects_in(copied):
        obj.extra_children = [(anchor, _text(xml)) for anchor, xml in obj.extra_children]
        if isinstance(obj, config.LibvirtConfigGuest):
            obj.os_extra_children = [_text(xml) for xml in obj.os_extra_children]
            obj.devices = [
                _text(d.to_xml() if isinstance(d, LibvirtConfigObject) else d) for d in obj.devices
            ]
    return copied


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_round_trips_and_validates(name, schemas):
    document, schema_name = CASES[name]
    xml = document.to_xml()
    schema = schemas[schema_name]
    assert schema.validate(etree.fromstring(xml)), f"{schema.error_log}\n{xml}"

    back = type(document).parse_str(xml)
    assert normalized(back) == normalized(document)
    assert back.to_xml() == xml
    if isinstance(document, config.LibvirtConfigGuest):
        # Devices come back as XML text; each reads back into the object written.
        written = [d for d in document.devices if isinstance(d, LibvirtConfigObject)]
        pairs = zip(document.devices, back.devices, strict=True)
        read = [type(d).parse_str(text) for d, text in pairs if isinstance(d, LibvirtConfigObject)]
        assert read == written


@pytest.mark.parametrize(
    "element",
    [obj for doc, _ in CASES.values() for obj in objects_in(doc) if obj is not doc],
    ids=lambda obj: type(obj).__name__,
)
def test_every_element_round_trips_alone(element):
    """Each element object of the cases, written and read on its own."""
    xml = element.to_xml()
    back = type(element).parse_str(xml)
    assert normalized(back) == normalized(element)
    assert back.to_xml() == xml
