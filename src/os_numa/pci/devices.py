"""Host PCI devices read from libvirt node-device XML.

libvirt describes every host PCI function as a node device (``virsh
nodedev-dumpxml pci_0000_18_00_0``): its address, vendor and product ids,
the NUMA node the firmware reports for it, its IOMMU group, and for SR-IOV
cards the physical function (PF) / virtual function (VF) relationship. This
module turns those documents into immutable :class:`PciDevice` values, from
XML text, files, or a libvirt connection. Parsing uses
:func:`os_numa.xmlutil.parse` (no entities, no DTD, no network, size bound).
"""

from __future__ import annotations

import dataclasses
import os
import re
import reprlib
from collections.abc import Iterable, Sequence

from os_numa import exception, xmlutil

#: Largest node-device document accepted, in bytes. One device is a few KiB;
#: a file holding a whole host's devices (a test-driver ``<node>`` or a
#: ``<devices>`` wrapper) stays far below this.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

#: ``device_type`` values, with Nova's spelling.
TYPE_PCI = "type-PCI"
TYPE_PF = "type-PF"
TYPE_VF = "type-VF"
DEVICE_TYPES = (TYPE_PCI, TYPE_PF, TYPE_VF)

_ADDRESS_RE = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,4}):)?(?P<bus>[0-9a-fA-F]{1,2}):"
    r"(?P<slot>[0-9a-fA-F]{1,2})\.(?P<function>[0-7])$"
)
_ID_RE = re.compile(r"^(?:0x)?([0-9a-fA-F]{1,4})$")


@dataclasses.dataclass(frozen=True, order=True)
class PciAddress:
    """A PCI function address; orders numerically, prints as ``0000:18:00.0``."""

    domain: int
    bus: int
    slot: int
    function: int

    def __post_init__(self):
        limits = {"domain": 0xFFFF, "bus": 0xFF, "slot": 0x1F, "function": 0x7}
        for name, limit in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
                raise exception.Invalid(
                    reason=f"PCI address {name}={value!r} is out of range 0..{limit:#x}"
                )

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    @classmethod
    def parse(cls, text: str) -> PciAddress:
        """Parse ``DDDD:BB:SS.F`` (domain optional, hexadecimal).

        :raises Invalid: the text is not a PCI address.
        """
        match = _ADDRESS_RE.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise exception.Invalid(
                reason=f"PCI address {text!r} is not of the form DDDD:BB:SS.F (hexadecimal)"
            )
        parts = {k: int(v or "0", 16) for k, v in match.groupdict().items()}
        return cls(**parts)


@dataclasses.dataclass(frozen=True, order=True)
class PciDevice:
    """One host PCI function as libvirt reports it.

    ``vendor_id`` and ``product_id`` are four lower-case hex digits without
    ``0x`` (``"8086"``), as in Nova's device specs. ``numa_node`` is None when
    the firmware reports no locality (no ``<numa>`` element, or node -1).
    ``dev_type`` is :data:`TYPE_PF` for an SR-IOV physical function,
    :data:`TYPE_VF` for a virtual function (``parent`` is then its PF) and
    :data:`TYPE_PCI` otherwise.
    """

    address: PciAddress
    vendor_id: str
    product_id: str
    numa_node: int | None = None
    dev_type: str = TYPE_PCI
    parent: PciAddress | None = None
    virt_functions: tuple[PciAddress, ...] = ()
    iommu_group: int | None = None
    name: str = ""
    product_name: str = ""

    @property
    def spec(self) -> tuple[str, str, str]:
        """The pool key: (vendor_id, product_id, dev_type)."""
        return (self.vendor_id, self.product_id, self.dev_type)


def _norm_id(text: str | None, what: str, where: str) -> str:
    match = _ID_RE.match((text or "").strip())
    if match is None:
        raise exception.InvalidXML(
            reason=f"{where}: {what} id {text!r} is not a 16-bit hex number such as 0x8086"
        )
    return match.group(1).lower().zfill(4)


#: Largest NUMA node id accepted (Linux's MAX_NUMNODES is at most 1024).
MAX_NUMA_NODE = 1023
#: Largest IOMMU group number and SR-IOV VF count accepted.
MAX_GROUP_OR_COUNT = 2**31 - 1
# ASCII only: int() would also take "+5", "1_0" and non-ASCII digits.
_INT_RE = re.compile(r"-?[0-9]{1,10}|0[xX][0-9a-fA-F]{1,8}")


def _int(text: str | None, what: str, where: str, upper: int = MAX_GROUP_OR_COUNT) -> int:
    """An integer attribute (decimal, or hex with ``0x``) from -1 to ``upper``."""
    raw = (text or "").strip()
    if not _INT_RE.fullmatch(raw):
        raise exception.InvalidXML(
            reason=f"{where}: <{what}> is {reprlib.repr(text)}, expected an integer"
        )
    value = int(raw, 16) if raw[:2].lower() == "0x" else int(raw, 10)
    if value > upper:
        raise exception.InvalidXML(
            reason=f"{where}: <{what}> is {value}; at most {upper} is accepted"
        )
    return value


def _address(get, where: str) -> PciAddress:
    """A PciAddress from ``get(part)`` for each of domain, bus, slot, function."""
    parts = [_int(get(k), k, where) for k in ("domain", "bus", "slot", "function")]
    try:
        return PciAddress(*parts)
    except exception.Invalid as exc:
        raise exception.InvalidXML(reason=f"{where}: {exc}") from exc


def _device_from_element(device) -> PciDevice | None:
    where = f"node device {device.findtext('name') or '?'}"
    cap = device.find("capability[@type='pci']")
    if cap is None:
        return None
    address = _address(cap.findtext, where)
    vendor, product = cap.find("vendor"), cap.find("product")
    if vendor is None or product is None:
        raise exception.InvalidXML(reason=f"{where}: <vendor> and <product> are required")
    numa = cap.find("numa")
    numa_node = None
    if numa is not None:
        node = _int(numa.get("node"), "numa node", where, MAX_NUMA_NODE)
        # The kernel reports -1 for "unknown"; anything else negative is garbage.
        if node < -1:
            raise exception.InvalidXML(reason=f"{where}: NUMA node {node} is negative")
        numa_node = None if node == -1 else node
    group = cap.find("iommuGroup")
    iommu_group = None if group is None else _int(group.get("number"), "iommuGroup number", where)
    if iommu_group is not None and iommu_group < 0:
        raise exception.InvalidXML(reason=f"{where}: IOMMU group {iommu_group} is negative")
    vfs: tuple[PciAddress, ...] = ()
    dev_type, parent = TYPE_PCI, None
    phys = cap.find("capability[@type='phys_function']/address")
    virt = cap.find("capability[@type='virt_functions']")
    if phys is not None:
        dev_type, parent = TYPE_VF, _address(phys.get, where)
    elif virt is not None:
        vfs = tuple(sorted(_address(a.get, where) for a in virt.findall("address")))
        max_count = virt.get("maxCount")
        if vfs or (max_count is not None and _int(max_count, "virt_functions maxCount", where) > 0):
            dev_type = TYPE_PF
    return PciDevice(
        address=address,
        vendor_id=_norm_id(vendor.get("id"), "vendor", where),
        product_id=_norm_id(product.get("id"), "product", where),
        numa_node=numa_node,
        dev_type=dev_type,
        parent=parent,
        virt_functions=vfs,
        iommu_group=iommu_group,
        name=(device.findtext("name") or "").strip(),
        product_name=(product.text or "").strip(),
    )


def parse_node_devices(document: str | bytes) -> list[PciDevice]:
    """The PCI devices of one node-device document, sorted by address.

    ``document`` is one ``<device>`` (``virsh nodedev-dumpxml``) or any root
    element whose children are ``<device>`` elements (a ``<devices>`` wrapper,
    a libvirt test-driver ``<node>`` file). Devices of other capabilities
    (USB, SCSI, net...) are skipped.

    :raises InvalidXML: malformed or oversized XML, or a PCI device with a bad
        address, id or NUMA node.
    :raises UnsafeXML: entities or an external DTD.
    """
    root = xmlutil.parse(document, max_bytes=MAX_DOCUMENT_BYTES)
    elements = [root] if root.tag == "device" else root.findall("device")
    devices = [d for d in map(_device_from_element, elements) if d is not None]
    return _checked(devices)


def _checked(devices: Iterable[PciDevice]) -> list[PciDevice]:
    result = sorted(devices)
    for first, second in zip(result, result[1:], strict=False):
        if first.address == second.address:
            raise exception.InvalidXML(reason=f"PCI device {first.address} is listed twice")
    return result


def devices_from_documents(documents: Iterable[tuple[str, str | bytes]]) -> list[PciDevice]:
    """The devices of several node-device documents, given as (name, document)
    pairs and read in turn, sorted by address.

    :raises InvalidXML: a document is malformed (the message starts with its
        name) or a device is listed twice, in one document or across them.
    """
    devices: list[PciDevice] = []
    for name, data in documents:
        try:
            devices.extend(parse_node_devices(data))
        except exception.InvalidXML as exc:
            raise type(exc)(reason=f"{name}: {exc.kwargs.get('reason', exc)}") from exc
    return _checked(devices)


def _read_device_file(path: str | os.PathLike) -> tuple[str, bytes]:
    try:
        with open(path, "rb") as handle:
            return os.fspath(path), handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise exception.InvalidXML(reason=f"cannot read {os.fspath(path)!r}: {exc}") from exc


def load_device_files(paths: Sequence[str | os.PathLike]) -> list[PciDevice]:
    """Read node-device XML files (one device or a wrapper each), sorted by address.

    :raises InvalidXML: a file is unreadable, malformed or repeats a device.
    """
    return devices_from_documents(_read_device_file(path) for path in paths)


def devices_from_connection(conn) -> list[PciDevice]:
    """The PCI devices of a libvirt-python connection, sorted by address.

    Lists node devices with ``VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV`` and
    parses each one's ``XMLDesc()``.

    :raises LibvirtConnectionError: libvirt refused the listing.
    """
    # libvirt-python: absent where os-numa runs inside Nova's tests, which use this module
    # without a libvirt connection; a caller that has a connection has libvirt.
    import libvirt

    try:
        nodedevs = conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)
        documents = [dev.XMLDesc(0) for dev in nodedevs]
    except libvirt.libvirtError as exc:
        try:
            uri = conn.getURI()
        except libvirt.libvirtError:
            uri = "(closed connection)"
        raise exception.LibvirtConnectionError(uri=uri, reason=str(exc)) from exc
    return _checked(d for doc in documents for d in parse_node_devices(doc))


__all__ = [
    "DEVICE_TYPES",
    "MAX_DOCUMENT_BYTES",
    "PciAddress",
    "PciDevice",
    "TYPE_PCI",
    "TYPE_PF",
    "TYPE_VF",
    "devices_from_connection",
    "devices_from_documents",
    "load_device_files",
    "parse_node_devices",
]
