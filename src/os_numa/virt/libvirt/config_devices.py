"""libvirt device elements for PCI passthrough with guest NUMA locality.

- :class:`LibvirtConfigGuestPCIAddress`: ``<address type='pci' domain= bus= slot= function=/>``;
- :class:`LibvirtConfigGuestHostdevPCI`: ``<hostdev mode='subsystem' type='pci'
  managed='yes'>`` with the host ``<source><address/></source>`` and an optional
  guest ``<address type='pci'/>``;
- :class:`LibvirtConfigGuestPCIController` and its two models here,
  :class:`LibvirtConfigGuestPCIeExpanderBus` (``model='pcie-expander-bus'`` with
  ``<target busNr='N'><node>CELL</node></target>``: a PCIe root bus that QEMU's
  ``pxb-pcie`` ties to guest NUMA node CELL) and
  :class:`LibvirtConfigGuestPCIeRootPort` (``model='pcie-root-port'``).

Same base class and rules as the other elements
(:mod:`os_numa.virt.libvirt.config_base`): plain data, a declared layout,
``format_dom``/``to_xml`` to write, ``parse_dom``/``parse_str`` to read back an
equal object, unknown attributes and children kept. PCI address numbers are
written in hexadecimal (``bus='0x18'``) as libvirt's schema requires, and
read in hexadecimal (``0x`` prefix) or decimal.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from lxml import etree

from os_numa import exception
from os_numa.virt.libvirt.config_base import (
    YES_NO,
    Attr,
    Child,
    Element,
    LibvirtConfigObject,
    Node,
    Number,
    Text,
)

# Each PCI address number: its largest value and its digits as libvirt writes it.
_PCI_NUMBERS = {"domain": (0xFFFF, 4), "bus": (0xFF, 2), "slot": (0x1F, 2), "function": (0x7, 1)}
_PCI_ADDRESS = tuple(
    Attr(name, kind=Number(limit, hex_digits=digits), required=True)
    for name, (limit, digits) in _PCI_NUMBERS.items()
)
_BYTE = Number(0xFF)


@dataclasses.dataclass
class LibvirtConfigGuestPCIAddress(LibvirtConfigObject):
    """``<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>``."""

    root_name: ClassVar[str] = "address"
    layout: ClassVar[tuple[Node, ...]] = (Attr("type", const="pci", check=True), *_PCI_ADDRESS)

    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0


@dataclasses.dataclass
class LibvirtConfigGuestHostdevPCI(LibvirtConfigObject):
    """A host PCI function given to the guest (VFIO).

    ``domain``/``bus``/``slot``/``function`` are the *host* address;
    ``guest_address`` (optional) is where the guest sees it, e.g. behind a root
    port of a NUMA-tied expander bus. ``managed`` lets libvirt detach the
    device from its host driver and reattach it afterwards. ``driver_name``
    writes ``<driver name='vfio'/>`` (unset: libvirt's default, VFIO).
    """

    root_name: ClassVar[str] = "hostdev"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("mode", const="subsystem", check=True),
        Attr("type", const="pci", check=True),
        Attr("managed", kind=YES_NO, missing=False),
        Element("driver", Attr("name", "driver_name")),
        Element("source", Element("address", *_PCI_ADDRESS, required=True), required=True),
        Child("guest_address", LibvirtConfigGuestPCIAddress),
    )

    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0
    managed: bool = True
    guest_address: LibvirtConfigGuestPCIAddress | None = None
    driver_name: str | None = None


@dataclasses.dataclass
class LibvirtConfigGuestPCIController(LibvirtConfigObject):
    """``<controller type='pci' index='N' model='...'>``: a guest PCI(e) bus or port.

    ``target_bus_nr`` and ``target_node`` write ``<target busNr='B'><node>N</node>``
    (expander buses); ``target_chassis``/``target_port`` write ``chassis``/``port``
    (root ports; libvirt fills them in when unset). ``address`` is where the
    controller itself plugs in.
    """

    root_name: ClassVar[str] = "controller"
    layout: ClassVar[tuple[Node, ...]] = (
        Attr("type", const="pci", check=True),
        Attr("index", kind=_BYTE),
        Attr("model"),
        Element(
            "target",
            Attr("chassis", "target_chassis", _BYTE),
            # libvirt writes the port in hex; the others in decimal.
            Attr("port", "target_port", Number(0xFF, hex_digits=0)),
            Attr("busNr", "target_bus_nr", _BYTE),
            Element("node", Text("target_node", Number(2**31))),
        ),
        Child("address", LibvirtConfigGuestPCIAddress),
    )
    default_model: ClassVar[str | None] = None

    index: int = 0
    model: str | None = None
    target_bus_nr: int | None = None
    target_node: int | None = None
    target_chassis: int | None = None
    target_port: int | None = None
    address: LibvirtConfigGuestPCIAddress | None = None

    def __post_init__(self):
        if self.model is None:
            self.model = self.default_model

    def _after_parse(self, el: etree._Element) -> None:
        # The subclasses read only their own model.
        if self.default_model is not None and el.get("model") != self.default_model:
            raise exception.InvalidXML(
                reason=f"<controller model={el.get('model')!r}>: {type(self).__name__} reads "
                f"model={self.default_model!r}"
            )


@dataclasses.dataclass
class LibvirtConfigGuestPCIeExpanderBus(LibvirtConfigGuestPCIController):
    """``model='pcie-expander-bus'``: an extra PCIe root bus tied to a guest NUMA node."""

    default_model: ClassVar[str | None] = "pcie-expander-bus"


@dataclasses.dataclass
class LibvirtConfigGuestPCIeRootPort(LibvirtConfigGuestPCIController):
    """``model='pcie-root-port'``: one PCIe slot, plugged into a root or expander bus."""

    default_model: ClassVar[str | None] = "pcie-root-port"


__all__ = [
    "LibvirtConfigGuestHostdevPCI",
    "LibvirtConfigGuestPCIAddress",
    "LibvirtConfigGuestPCIController",
    "LibvirtConfigGuestPCIeExpanderBus",
    "LibvirtConfigGuestPCIeRootPort",
]
