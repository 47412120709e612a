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

Same base class and rules as :mod:`os_numa.virt.libvirt.config`: plain data,
``format_dom``/``to_xml`` to write, ``parse_dom``/``parse_str`` to read back an
equal object, unknown attributes and children kept. PCI address numbers are
written in hexadecimal (``bus='0x18'``) as libvirt's schema requires, and
read in hexadecimal (``0x`` prefix) or decimal.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from lxml import etree

from os_numa import exception
from os_numa.virt.libvirt.config import LibvirtConfigObject

_PCI_LIMITS = {"domain": 0xFFFF, "bus": 0xFF, "slot": 0x1F, "function": 0x7}
_PCI_WIDTH = {"domain": 4, "bus": 2, "slot": 2, "function": 1}


def _number(el: etree._Element, name: str, raw: str, limit: int) -> int:
    """``raw`` (attribute or text ``name`` of ``el``) as hex (``0x``) or decimal in 0..limit."""
    text = raw.strip()
    try:
        value = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    except ValueError:
        raise exception.InvalidXML(
            reason=f"<{el.tag}> {name} is {raw!r}; a hex (0x..) or decimal number is required"
        ) from None
    if not 0 <= value <= limit:
        raise exception.InvalidXML(
            reason=f"<{el.tag}> {name} is {raw!r}; the range is 0..{limit:#x}"
        )
    return value


def _pci_number(el: etree._Element, name: str) -> int:
    raw = el.get(name)
    if raw is None:
        raise exception.InvalidXML(reason=f"<{el.tag}> lacks the required attribute {name!r}")
    return _number(el, repr(name), raw, _PCI_LIMITS[name])


def _require_pci_type(el: etree._Element) -> None:
    if el.get("type") != "pci":
        raise exception.InvalidXML(
            reason=f"<{el.tag} type={el.get('type')!r}>: this class reads type='pci'"
        )


def _check_range(obj, names=tuple(_PCI_LIMITS)) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise exception.Invalid(reason=f"PCI {name} {value!r} is not an integer")
        if not 0 <= value <= _PCI_LIMITS[name]:
            raise exception.Invalid(
                reason=f"PCI {name} {value:#x} is out of range 0..{_PCI_LIMITS[name]:#x}"
            )


def _write_pci(el: etree._Element, obj) -> None:
    _check_range(obj)
    for name in _PCI_LIMITS:
        el.set(name, f"0x{getattr(obj, name):0{_PCI_WIDTH[name]}x}")


@dataclasses.dataclass
class LibvirtConfigGuestPCIAddress(LibvirtConfigObject):
    """``<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>``."""

    root_name: ClassVar[str] = "address"
    known_attrs: ClassVar[tuple[str, ...]] = ("type", "domain", "bus", "slot", "function")

    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("type", "pci")
        _write_pci(el, self)
        return el

    @classmethod
    def _parse(cls, el):
        _require_pci_type(el)
        numbers: dict[str, Any] = {name: _pci_number(el, name) for name in _PCI_LIMITS}
        return cls(**numbers)


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
    known_attrs: ClassVar[tuple[str, ...]] = ("mode", "type", "managed")
    known_children: ClassVar[tuple[str, ...]] = ("driver", "source", "address")

    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0
    managed: bool = True
    guest_address: LibvirtConfigGuestPCIAddress | None = None
    driver_name: str | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("mode", "subsystem")
        el.set("type", "pci")
        el.set("managed", "yes" if self.managed else "no")
        if self.driver_name is not None:
            etree.SubElement(el, "driver").set("name", self.driver_name)
        source = etree.SubElement(el, "source")
        _write_pci(etree.SubElement(source, "address"), self)
        if self.guest_address is not None:
            el.append(self.guest_address.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        if (el.get("mode"), el.get("type")) != ("subsystem", "pci"):
            raise exception.InvalidXML(
                reason=f"<hostdev mode={el.get('mode')!r} type={el.get('type')!r}>: this "
                "class reads mode='subsystem' type='pci'"
            )
        managed = el.get("managed", "no")
        if managed not in ("yes", "no"):
            raise exception.InvalidXML(reason=f"<hostdev> managed is {managed!r}; yes or no")
        source = el.find("source/address")
        if source is None:
            raise exception.InvalidXML(reason="<hostdev> lacks <source><address .../></source>")
        guest = el.find("address")
        driver = el.find("driver")
        numbers: dict[str, Any] = {name: _pci_number(source, name) for name in _PCI_LIMITS}
        return cls(
            **numbers,
            managed=managed == "yes",
            guest_address=None if guest is None else LibvirtConfigGuestPCIAddress.parse_dom(guest),
            driver_name=None if driver is None else driver.get("name"),
        )


@dataclasses.dataclass
class LibvirtConfigGuestPCIController(LibvirtConfigObject):
    """``<controller type='pci' index='N' model='...'>``: a guest PCI(e) bus or port.

    ``target_bus_nr`` and ``target_node`` write ``<target busNr='B'><node>N</node>``
    (expander buses); ``target_chassis``/``target_port`` write ``chassis``/``port``
    (root ports; libvirt fills them in when unset). ``address`` is where the
    controller itself plugs in.
    """

    root_name: ClassVar[str] = "controller"
    known_attrs: ClassVar[tuple[str, ...]] = ("type", "index", "model")
    known_children: ClassVar[tuple[str, ...]] = ("target", "address")
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

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("type", "pci")
        el.set("index", str(self.index))
        if self.model is not None:
            el.set("model", self.model)
        target_attrs = {
            "chassis": self.target_chassis,
            "port": self.target_port,
            "busNr": self.target_bus_nr,
        }
        if any(v is not None for v in target_attrs.values()) or self.target_node is not None:
            target = etree.SubElement(el, "target")
            for name, value in target_attrs.items():
                if value is not None:
                    if not 0 <= value <= 0xFF:
                        raise exception.Invalid(
                            reason=f"controller {self.index} target {name}={value} is out of "
                            "range 0..255"
                        )
                    # libvirt writes the port in hex; the others in decimal.
                    target.set(name, f"{value:#x}" if name == "port" else str(value))
            if self.target_node is not None:
                etree.SubElement(target, "node").text = str(self.target_node)
        if self.address is not None:
            el.append(self.address.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        _require_pci_type(el)
        model = el.get("model")
        if cls.default_model is not None and model != cls.default_model:
            raise exception.InvalidXML(
                reason=f"<controller model={model!r}>: {cls.__name__} reads "
                f"model={cls.default_model!r}"
            )
        target = el.find("target")
        address = el.find("address")

        def number(parent, attr, limit=0xFF):
            raw = None if parent is None else parent.get(attr)
            return None if raw is None else _number(parent, repr(attr), raw, limit)

        node = None if target is None else target.find("node")
        return cls(
            index=number(el, "index") or 0,
            model=model,
            target_bus_nr=number(target, "busNr"),
            target_node=None if node is None else _number(node, "text", node.text or "", 2**31),
            target_chassis=number(target, "chassis"),
            target_port=number(target, "port"),
            address=None if address is None else LibvirtConfigGuestPCIAddress.parse_dom(address),
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
