"""libvirt XML elements as plain data classes, one class per element.

Each class holds the data of one element, with Nova's attribute names, and no
policy: :func:`os_numa.virt.libvirt.driver` decides *what* to pin, these
classes only say *how* it is written. Every class

- renders with :meth:`~LibvirtConfigObject.format_dom` (an lxml element) and
  :meth:`~LibvirtConfigObject.to_xml` (pretty, deterministic text);
- parses with the class methods :meth:`~LibvirtConfigObject.parse_dom` and
  :meth:`~LibvirtConfigObject.parse_str` into an object equal (``==``) to the
  one that was rendered;
- keeps attributes and child elements it does not know (``extra_attrs``,
  ``extra_children``) and writes them back where they were, so a document
  read from libvirt survives a round trip through these classes.

CPU sets are Python sets of ints, written with
:func:`os_numa.cpuset.format_cpu_spec` (``"0-3,8"``) and read with
:func:`os_numa.cpuset.parse_cpu_spec`. Memory sizes are KiB, as in libvirt;
sizes written with another ``unit`` are converted to KiB when parsed.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import reprlib
from dataclasses import field
from typing import Any, ClassVar, TypeVar

from lxml import etree

from os_numa import cpuset as cpuset_mod
from os_numa import exception, xmlutil

_T = TypeVar("_T", bound="LibvirtConfigObject")

# libvirt's scaled-integer units, as multiples of a KiB (bytes are rounded up).
_UNIT_BYTES = {
    "b": 1,
    "bytes": 1,
    "kb": 1000,
    "k": 1024,
    "kib": 1024,
    "mb": 1000**2,
    "m": 1024**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "g": 1024**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "t": 1024**4,
    "tib": 1024**4,
}


# --- attribute and text helpers ------------------------------------------------------


def _where(el: etree._Element, attr: str | None = None) -> str:
    return f"<{el.tag}> attribute {attr!r}" if attr else f"<{el.tag}> text"


#: Longest integer accepted in an attribute or text, in digits: 2**64 has 20. Longer
#: numbers are refused before int() (which is slow, then fails, on huge digit strings).
MAX_INT_DIGITS = 20

# An optional minus sign, then ASCII digits only (no "+", "_", "--5" or non-ASCII digits).
_INTEGER = re.compile(r"-?[0-9]+")


def _to_int(el: etree._Element, value: str, attr: str | None) -> int:
    text = value.strip()
    if not _INTEGER.fullmatch(text):
        raise exception.InvalidXML(
            reason=f"{_where(el, attr)} is {reprlib.repr(value)}; an integer is required"
        )
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise exception.InvalidXML(
            reason=f"{_where(el, attr)} is {reprlib.repr(value)}; an integer of at most "
            f"{MAX_INT_DIGITS} digits is required"
        )
    return int(text)


def _req_attr(el: etree._Element, attr: str) -> str:
    value = el.get(attr)
    if value is None:
        raise exception.InvalidXML(reason=f"<{el.tag}> lacks the required attribute {attr!r}")
    return value


def _req_int(el: etree._Element, attr: str) -> int:
    return _to_int(el, _req_attr(el, attr), attr)


def _opt_int(el: etree._Element, attr: str) -> int | None:
    value = el.get(attr)
    return None if value is None else _to_int(el, value, attr)


def _text_int(el: etree._Element) -> int:
    return _to_int(el, el.text or "", None)


def _cpus(el: etree._Element, value: str | None, attr: str) -> set[int]:
    if value is None:
        raise exception.InvalidXML(reason=f"<{el.tag}> lacks the required attribute {attr!r}")
    try:
        return cpuset_mod.parse_cpu_spec(value)
    except exception.InvalidCPUSpec as exc:
        raise exception.InvalidXML(reason=f"{_where(el, attr)}: {exc}") from exc


#: Largest memory amount accepted, in KiB: 2**52 bytes (4 PiB), the most
#: physical memory x86-64 can address.
MAX_MEMORY_KIB = 2**42


def _kib(el: etree._Element, amount: int, unit_attr: str = "unit") -> int:
    unit = el.get(unit_attr, "KiB")
    factor = _UNIT_BYTES.get(unit.lower())
    if factor is None:
        raise exception.InvalidXML(
            reason=f"{_where(el, unit_attr)} is {unit!r}; valid units are "
            f"{', '.join(sorted(_UNIT_BYTES))} (case-insensitive)"
        )
    kib = -(-amount * factor // 1024)
    if not -MAX_MEMORY_KIB <= kib <= MAX_MEMORY_KIB:
        raise exception.InvalidXML(
            reason=f"<{el.tag}> gives {amount} {unit}; at most {MAX_MEMORY_KIB} KiB (4 PiB) "
            "is accepted"
        )
    return kib


def _spec(cpus) -> str:
    return cpuset_mod.format_cpu_spec(cpus)


def _sub(parent: etree._Element, tag: str, text: Any = None, **attrs: Any) -> etree._Element:
    """Append ``<tag>`` to ``parent``, writing only the attributes that are not None."""
    child = etree.SubElement(parent, tag)
    for name, value in attrs.items():
        if value is not None:
            child.set(name, str(value))
    if text is not None:
        child.text = str(text)
    return child


def _serialize(el: etree._Element) -> str:
    return etree.tostring(el, encoding="unicode", with_tail=False)


# --- base class ------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigObject:
    """Base of every element class.

    Subclasses set :attr:`root_name`, list the child tags and attributes they
    understand in :attr:`known_children` / :attr:`known_attrs`, and implement
    ``_format()`` and ``_parse(el)``. Anything else found when parsing lands
    in ``extra_attrs`` (a dict) and ``extra_children`` (a list of
    ``(anchor, xml)``: the known tag it followed, or None when it came before
    every known child, and its serialised text) and is written back there.
    """

    root_name: ClassVar[str] = ""
    known_children: ClassVar[tuple[str, ...]] = ()
    known_attrs: ClassVar[tuple[str, ...]] = ()

    extra_attrs: dict[str, str] = field(default_factory=dict, kw_only=True)
    extra_children: list[tuple[str | None, str]] = field(default_factory=list, kw_only=True)

    # -- rendering --

    def _format(self) -> etree._Element:
        raise NotImplementedError

    def format_dom(self) -> etree._Element:
        """This element as a new lxml element, unknown parts included."""
        el = self._format()
        for name in sorted(self.extra_attrs):
            if el.get(name) is None:
                el.set(name, self.extra_attrs[name])
        self._insert_extra_children(el)
        return el

    def _insert_extra_children(self, el: etree._Element) -> None:
        last_inserted: dict[str | None, etree._Element] = {}
        for anchor, xml in self.extra_children:
            child = xmlutil.parse(xml)
            if anchor in last_inserted:
                last_inserted[anchor].addnext(child)
            elif anchor is None:
                el.insert(0, child)
            else:
                same = [c for c in el if c.tag == anchor]
                if same:
                    same[-1].addnext(child)
                else:
                    el.append(child)
            last_inserted[anchor] = child

    def to_xml(self, pretty_print: bool = True) -> str:
        """This element as text: pretty printed, attributes in a fixed order."""
        return etree.tostring(self.format_dom(), encoding="unicode", pretty_print=pretty_print)

    # -- parsing --

    @classmethod
    def _parse(cls: type[_T], el: etree._Element) -> _T:
        raise NotImplementedError

    @classmethod
    def parse_dom(cls: type[_T], el: etree._Element) -> _T:
        """Build an object from an lxml element whose tag is :attr:`root_name`.

        :raises InvalidXML: wrong tag, missing or malformed attribute/text.
        """
        if el.tag != cls.root_name:
            raise exception.InvalidXML(
                reason=f"{cls.__name__} parses <{cls.root_name}>, not <{el.tag}>"
            )
        obj = cls._parse(el)
        obj.extra_attrs = {k: v for k, v in el.attrib.items() if k not in cls.known_attrs}
        anchor: str | None = None
        extras: list[tuple[str | None, str]] = []
        for child in el:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions
            if child.tag in cls.known_children:
                anchor = child.tag
            else:
                extras.append((anchor, _serialize(child)))
        obj.extra_children = obj.extra_children + extras
        return obj

    @classmethod
    def parse_str(
        cls: type[_T], xml: str | bytes, max_bytes: int = xmlutil.DEFAULT_MAX_BYTES
    ) -> _T:
        """Parse a document safely (see :mod:`os_numa.xmlutil`) into an object.

        :raises InvalidXML: malformed, oversize, or not this element.
        :raises UnsafeXML: entity declarations or external references.
        """
        return cls.parse_dom(xmlutil.parse(xml, max_bytes=max_bytes))


def _children(el: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in el if c.tag == tag]


def _child(el: etree._Element, tag: str) -> etree._Element | None:
    found = _children(el, tag)
    return found[0] if found else None


@dataclasses.dataclass(frozen=True)
class _Attr:
    """One XML attribute of an attribute-only element, mapped to a dataclass field.

    ``kind`` is ``"int"``, ``"str"``, ``"cpus"`` (a CPU/node set written as a CPU
    spec) or ``"kib"`` (an int written with ``unit='KiB'`` after it and read in
    any unit). An optional attribute is omitted when its value is None (or an
    empty set); when missing from a document, the field keeps its default.
    """

    xml: str
    field: str
    kind: str = "int"
    required: bool = False

    def write(self, el: etree._Element, value: Any) -> None:
        if not self.required and (value is None or (self.kind == "cpus" and not value)):
            return
        if self.kind == "cpus" and not value:
            # Nova writes <emulatorpin cpuset=""/>; libvirt refuses it ("Failed to parse
            # bitmap ''"), so no element class ever writes an empty required set.
            raise exception.InvalidXML(
                reason=f"<{el.tag}> attribute {self.xml!r} would be an empty set; "
                "libvirt refuses an empty CPU/node set, so it is never written"
            )
        el.set(self.xml, _spec(value) if self.kind == "cpus" else str(value))
        if self.kind == "kib":
            el.set("unit", "KiB")

    def read(self, el: etree._Element) -> Any:
        value = el.get(self.xml)
        if value is None:
            if self.required:
                _req_attr(el, self.xml)
            return None
        if self.kind == "cpus":
            cpus = _cpus(el, value, self.xml)
            if self.required and not cpus:
                raise exception.InvalidXML(
                    reason=f"{_where(el, self.xml)} is {value!r}: an empty set, which "
                    "libvirt refuses; at least one CPU/node is required"
                )
            return cpus
        if self.kind == "int":
            return _to_int(el, value, self.xml)
        if self.kind == "kib":
            return _kib(el, _to_int(el, value, self.xml))
        return value


@dataclasses.dataclass
class _AttributeElement(LibvirtConfigObject):
    """An element whose data are all attributes, declared in :attr:`attributes`."""

    attributes: ClassVar[tuple[_Attr, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        names = [a.xml for a in cls.attributes]
        if any(a.kind == "kib" for a in cls.attributes):
            names.append("unit")
        cls.known_attrs = tuple(names)

    def _format(self):
        el = etree.Element(self.root_name)
        for attr in self.attributes:
            attr.write(el, getattr(self, attr.field))
        return el

    @classmethod
    def _parse(cls, el):
        values = {a.field: a.read(el) for a in cls.attributes}
        return cls(**{name: value for name, value in values.items() if value is not None})


# --- <cputune> -------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneVCPUPin(_AttributeElement):
    """``<vcpupin vcpu='id' cpuset='...'/>``: the host CPUs one vCPU may run on."""

    root_name: ClassVar[str] = "vcpupin"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("vcpu", "id", required=True),
        _Attr("cpuset", "cpuset", "cpus", required=True),
    )

    id: int = 0
    cpuset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneEmulatorPin(_AttributeElement):
    """``<emulatorpin cpuset='...'/>``: the host CPUs of QEMU's emulator threads."""

    root_name: ClassVar[str] = "emulatorpin"
    attributes: ClassVar[tuple[_Attr, ...]] = (_Attr("cpuset", "cpuset", "cpus", required=True),)

    cpuset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneIOThreadPin(_AttributeElement):
    """``<iothreadpin iothread='N' cpuset='...'/>``: the host CPUs of one I/O thread."""

    root_name: ClassVar[str] = "iothreadpin"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("iothread", "iothread", required=True),
        _Attr("cpuset", "cpuset", "cpus", required=True),
    )

    iothread: int = 1
    cpuset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneVCPUSched(_AttributeElement):
    """``<vcpusched vcpus='...' scheduler='fifo' priority='N'/>``: a scheduler for vCPUs."""

    root_name: ClassVar[str] = "vcpusched"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("vcpus", "vcpus", "cpus", required=True),
        _Attr("scheduler", "scheduler", "str"),
        _Attr("priority", "priority"),
    )

    vcpus: set[int] = field(default_factory=set)
    scheduler: str | None = None
    priority: int | None = None


@dataclasses.dataclass
class LibvirtConfigGuestCPUTune(LibvirtConfigObject):
    """``<cputune>``.

    Children are written in the order libvirt itself writes them (its
    ``XMLDesc()``): ``shares``, ``period``, ``quota``, every ``vcpupin``,
    ``emulatorpin``, every ``iothreadpin``, every ``vcpusched``. The schema
    accepts any order; a fixed one keeps the text deterministic.
    """

    root_name: ClassVar[str] = "cputune"
    known_children: ClassVar[tuple[str, ...]] = (
        "shares",
        "period",
        "quota",
        "vcpupin",
        "emulatorpin",
        "iothreadpin",
        "vcpusched",
    )

    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    vcpupin: list[LibvirtConfigGuestCPUTuneVCPUPin] = field(default_factory=list)
    emulatorpin: LibvirtConfigGuestCPUTuneEmulatorPin | None = None
    iothreadpin: list[LibvirtConfigGuestCPUTuneIOThreadPin] = field(default_factory=list)
    vcpusched: list[LibvirtConfigGuestCPUTuneVCPUSched] = field(default_factory=list)

    def _format(self):
        el = etree.Element(self.root_name)
        for name in ("shares", "period", "quota"):
            value = getattr(self, name)
            if value is not None:
                _sub(el, name, value)
        for pin in self.vcpupin:
            el.append(pin.format_dom())
        if self.emulatorpin is not None:
            el.append(self.emulatorpin.format_dom())
        for iopin in self.iothreadpin:
            el.append(iopin.format_dom())
        for sched in self.vcpusched:
            el.append(sched.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        emulatorpin = _child(el, "emulatorpin")
        values = {n: _child(el, n) for n in ("shares", "period", "quota")}
        ints: dict[str, Any] = {n: None if c is None else _text_int(c) for n, c in values.items()}
        return cls(
            **ints,
            vcpupin=[
                LibvirtConfigGuestCPUTuneVCPUPin.parse_dom(c) for c in _children(el, "vcpupin")
            ],
            emulatorpin=(
                None
                if emulatorpin is None
                else LibvirtConfigGuestCPUTuneEmulatorPin.parse_dom(emulatorpin)
            ),
            iothreadpin=[
                LibvirtConfigGuestCPUTuneIOThreadPin.parse_dom(c)
                for c in _children(el, "iothreadpin")
            ],
            vcpusched=[
                LibvirtConfigGuestCPUTuneVCPUSched.parse_dom(c) for c in _children(el, "vcpusched")
            ],
        )


# --- <numatune> ------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestNUMATuneMemory(_AttributeElement):
    """``<memory mode='strict' nodeset='...'/>``: host nodes for all guest memory."""

    root_name: ClassVar[str] = "memory"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("mode", "mode", "str"),
        _Attr("nodeset", "nodeset", "cpus", required=True),
    )

    mode: str = "strict"
    nodeset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestNUMATuneMemNode(_AttributeElement):
    """``<memnode cellid='N' mode='strict' nodeset='...'/>``: host nodes of one guest cell."""

    root_name: ClassVar[str] = "memnode"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("cellid", "cellid", required=True),
        _Attr("mode", "mode", "str"),
        _Attr("nodeset", "nodeset", "cpus", required=True),
    )

    cellid: int = 0
    mode: str = "strict"
    nodeset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestNUMATune(LibvirtConfigObject):
    """``<numatune>``: one ``<memory>`` and a ``<memnode>`` per guest cell."""

    root_name: ClassVar[str] = "numatune"
    known_children: ClassVar[tuple[str, ...]] = ("memory", "memnode")

    memory: LibvirtConfigGuestNUMATuneMemory | None = None
    memnodes: list[LibvirtConfigGuestNUMATuneMemNode] = field(default_factory=list)

    def _format(self):
        el = etree.Element(self.root_name)
        if self.memory is not None:
            el.append(self.memory.format_dom())
        for node in self.memnodes:
            el.append(node.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        memory = _child(el, "memory")
        return cls(
            memory=None if memory is None else LibvirtConfigGuestNUMATuneMemory.parse_dom(memory),
            memnodes=[
                LibvirtConfigGuestNUMATuneMemNode.parse_dom(c) for c in _children(el, "memnode")
            ],
        )


# --- <cpu> with <numa> -------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestCPUNUMACell(_AttributeElement):
    """``<cell id='N' cpus='...' memory='KiB' [memAccess='shared']/>``: one guest cell."""

    root_name: ClassVar[str] = "cell"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("id", "id", required=True),
        _Attr("cpus", "cpus", "cpus", required=True),
        _Attr("memory", "memory", "kib", required=True),
        _Attr("memAccess", "memAccess", "str"),
    )

    id: int = 0
    cpus: set[int] = field(default_factory=set)
    memory: int = 0
    memAccess: str | None = None  # noqa: N815 - libvirt's and Nova's spelling


@dataclasses.dataclass
class LibvirtConfigGuestCPUNUMA(LibvirtConfigObject):
    """``<numa>`` inside the guest ``<cpu>``: the guest's NUMA cells."""

    root_name: ClassVar[str] = "numa"
    known_children: ClassVar[tuple[str, ...]] = ("cell",)

    cells: list[LibvirtConfigGuestCPUNUMACell] = field(default_factory=list)

    def _format(self):
        el = etree.Element(self.root_name)
        for cell in self.cells:
            el.append(cell.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        return cls(
            cells=[LibvirtConfigGuestCPUNUMACell.parse_dom(c) for c in _children(el, "cell")]
        )


@dataclasses.dataclass
class LibvirtConfigGuestCPU(LibvirtConfigObject):
    """The guest ``<cpu>``: mode/match/check, ``<model>``, ``<topology>``, ``<numa>``.

    CPU features and other children are kept as unknown children.
    """

    root_name: ClassVar[str] = "cpu"
    known_children: ClassVar[tuple[str, ...]] = ("model", "topology", "numa")
    known_attrs: ClassVar[tuple[str, ...]] = ("mode", "match", "check")

    mode: str | None = None
    match: str | None = None
    check: str | None = None
    model: str | None = None
    sockets: int | None = None
    dies: int | None = None
    cores: int | None = None
    threads: int | None = None
    numa: LibvirtConfigGuestCPUNUMA | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        for name in ("mode", "match", "check"):
            if getattr(self, name) is not None:
                el.set(name, getattr(self, name))
        if self.model is not None:
            _sub(el, "model", self.model)
        topology = {n: getattr(self, n) for n in ("sockets", "dies", "cores", "threads")}
        if any(v is not None for v in topology.values()):
            _sub(el, "topology", **topology)
        if self.numa is not None:
            el.append(self.numa.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        model = _child(el, "model")
        topology = _child(el, "topology")
        numa = _child(el, "numa")
        sizes: dict[str, Any] = {
            n: None if topology is None else _opt_int(topology, n)
            for n in ("sockets", "dies", "cores", "threads")
        }
        return cls(
            mode=el.get("mode"),
            match=el.get("match"),
            check=el.get("check"),
            model=None if model is None else (model.text or "").strip() or None,
            **sizes,
            numa=None if numa is None else LibvirtConfigGuestCPUNUMA.parse_dom(numa),
        )


# --- <memoryBacking> ---------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestMemoryBackingPage(_AttributeElement):
    """``<page size='KiB' unit='KiB' [nodeset='...']/>``: huge pages for some guest
    cells (all cells when ``nodeset`` is empty)."""

    root_name: ClassVar[str] = "page"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("size", "size_kb", "kib", required=True),
        _Attr("nodeset", "nodeset", "cpus"),
    )

    size_kb: int = 0
    nodeset: set[int] = field(default_factory=set)


@dataclasses.dataclass
class LibvirtConfigGuestMemoryBacking(LibvirtConfigObject):
    """``<memoryBacking>``: ``<hugepages>``, ``<nosharepages/>``, ``<locked/>``.

    ``hugepages`` lists the page pools; an empty list writes no ``<hugepages>``
    (a bare ``<hugepages/>`` read from a document is kept as an unknown child).
    ``sharedpages=False`` writes ``<nosharepages/>`` (KSM off), ``locked=True``
    writes ``<locked/>``.
    """

    root_name: ClassVar[str] = "memoryBacking"
    known_children: ClassVar[tuple[str, ...]] = ("hugepages", "nosharepages", "locked")

    hugepages: list[LibvirtConfigGuestMemoryBackingPage] = field(default_factory=list)
    sharedpages: bool = True
    locked: bool = False

    def _format(self):
        el = etree.Element(self.root_name)
        if self.hugepages:
            pages = _sub(el, "hugepages")
            for page in self.hugepages:
                pages.append(page.format_dom())
        if not self.sharedpages:
            _sub(el, "nosharepages")
        if self.locked:
            _sub(el, "locked")
        return el

    @classmethod
    def _parse(cls, el):
        hugepages = _child(el, "hugepages")
        pages = [] if hugepages is None else _children(hugepages, "page")
        obj = cls(
            hugepages=[LibvirtConfigGuestMemoryBackingPage.parse_dom(p) for p in pages],
            sharedpages=_child(el, "nosharepages") is None,
            locked=_child(el, "locked") is not None,
        )
        if hugepages is not None and not pages:
            obj.extra_children.append((None, _serialize(hugepages)))
        return obj

    @property
    def nosharepages(self) -> bool:
        """True when ``<nosharepages/>`` is written (the inverse of ``sharedpages``)."""
        return not self.sharedpages


# --- a whole <domain> --------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuest(LibvirtConfigObject):
    """A minimal ``<domain>``: enough to define a guest that carries the NUMA elements.

    Children are written in libvirt's order: name, uuid, memory, memoryBacking,
    vcpu, iothreads, cputune, numatune, os, cpu, devices. ``<os>`` children
    other than ``<type>`` (``<boot>``...) are kept in ``os_extra_children``. ``devices`` is the
    extension point: a list of element objects, lxml elements or XML strings
    (parsing gives XML strings). Everything else libvirt adds (clock, on_*,
    features...) is kept as unknown children.
    """

    root_name: ClassVar[str] = "domain"
    known_children: ClassVar[tuple[str, ...]] = (
        "name",
        "uuid",
        "memory",
        "memoryBacking",
        "vcpu",
        "iothreads",
        "cputune",
        "numatune",
        "os",
        "cpu",
        "devices",
    )
    known_attrs: ClassVar[tuple[str, ...]] = ("type",)

    virt_type: str = "kvm"
    name: str = "guest"
    uuid: str | None = None
    memory: int = 1024 * 1024
    vcpus: int = 1
    cpuset: set[int] | None = None
    iothreads: int = 0
    os_type: str = "hvm"
    os_arch: str | None = None
    os_machine: str | None = None
    os_extra_children: list[str] = field(default_factory=list)
    membacking: LibvirtConfigGuestMemoryBacking | None = None
    cputune: LibvirtConfigGuestCPUTune | None = None
    numatune: LibvirtConfigGuestNUMATune | None = None
    cpu: LibvirtConfigGuestCPU | None = None
    devices: list[Any] = field(default_factory=list)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("type", self.virt_type)
        _sub(el, "name", self.name)
        if self.uuid is not None:
            _sub(el, "uuid", self.uuid)
        _sub(el, "memory", self.memory, unit="KiB")
        if self.membacking is not None:
            el.append(self.membacking.format_dom())
        _sub(
            el,
            "vcpu",
            self.vcpus,
            placement="static",
            cpuset=None if self.cpuset is None else _spec(self.cpuset),
        )
        if self.iothreads:
            _sub(el, "iothreads", self.iothreads)
        for element in (self.cputune, self.numatune):
            if element is not None:
                el.append(element.format_dom())
        os_el = _sub(el, "os")
        _sub(os_el, "type", self.os_type, arch=self.os_arch, machine=self.os_machine)
        for extra in self.os_extra_children:
            os_el.append(xmlutil.parse(extra))
        if self.cpu is not None:
            el.append(self.cpu.format_dom())
        devices = _sub(el, "devices")
        for device in self.devices:
            devices.append(_device_element(device))
        return el

    @classmethod
    def _parse(cls, el):
        def text(tag: str) -> str | None:
            child = _child(el, tag)
            return None if child is None else (child.text or "").strip()

        def parsed(tag: str, klass):
            child = _child(el, tag)
            return None if child is None else klass.parse_dom(child)

        name = text("name")
        memory = _child(el, "memory")
        vcpu = _child(el, "vcpu")
        iothreads = _child(el, "iothreads")
        os_el = _child(el, "os")
        os_type = None if os_el is None else _child(os_el, "type")
        devices = _child(el, "devices")
        return cls(
            virt_type=_req_attr(el, "type"),
            name=name if name is not None else "",
            uuid=text("uuid"),
            memory=0 if memory is None else _kib(memory, _text_int(memory)),
            vcpus=1 if vcpu is None else _text_int(vcpu),
            cpuset=(
                None
                if vcpu is None or vcpu.get("cpuset") is None
                else _cpus(vcpu, vcpu.get("cpuset"), "cpuset")
            ),
            iothreads=0 if iothreads is None else _text_int(iothreads),
            os_type="hvm" if os_type is None else (os_type.text or "").strip(),
            os_arch=None if os_type is None else os_type.get("arch"),
            os_machine=None if os_type is None else os_type.get("machine"),
            os_extra_children=(
                []
                if os_el is None
                else [_serialize(c) for c in os_el if isinstance(c.tag, str) and c.tag != "type"]
            ),
            membacking=parsed("memoryBacking", LibvirtConfigGuestMemoryBacking),
            cputune=parsed("cputune", LibvirtConfigGuestCPUTune),
            numatune=parsed("numatune", LibvirtConfigGuestNUMATune),
            cpu=parsed("cpu", LibvirtConfigGuestCPU),
            devices=[]
            if devices is None
            else [_serialize(d) for d in devices if isinstance(d.tag, str)],
        )


def _device_element(device: Any) -> etree._Element:
    if isinstance(device, LibvirtConfigObject):
        return device.format_dom()
    if isinstance(device, str | bytes):
        return xmlutil.parse(device)
    if isinstance(device, etree._Element):
        # Copied, not re-parsed: no parser (and none of its entity handling) is involved.
        for _ in device.iter(etree.Entity):
            raise exception.UnsafeXML(reason=f"device <{device.tag}> contains entity references")
        copied = copy.deepcopy(device)
        copied.tail = None
        return copied
    raise TypeError(
        f"a device must be a config object, an lxml element or XML text, not {device!r}"
    )


# --- host capabilities ---------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigCapsNUMAPages(LibvirtConfigObject):
    """``<pages unit='KiB' size='N'>total</pages>``: one page-size pool of a host cell.

    ``total`` is the pool size in pages (None when libvirt wrote no count).
    """

    root_name: ClassVar[str] = "pages"
    known_attrs: ClassVar[tuple[str, ...]] = ("unit", "size")

    size: int = 4
    total: int | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("unit", "KiB")
        el.set("size", str(self.size))
        if self.total is not None:
            el.text = str(self.total)
        return el

    @classmethod
    def _parse(cls, el):
        text = (el.text or "").strip()
        size = _kib(el, _req_int(el, "size"))
        total = _text_int(el) if text else None
        if total is not None and total * max(size, 1) > MAX_MEMORY_KIB:
            raise exception.InvalidXML(
                reason=f"<pages size='{size}'> counts {total} pages; a pool holds at most "
                f"{MAX_MEMORY_KIB} KiB (4 PiB)"
            )
        return cls(size=size, total=total)


@dataclasses.dataclass
class LibvirtConfigCapsNUMACPU(_AttributeElement):
    """``<cpu id socket_id die_id core_id siblings/>``: one online host CPU of a cell."""

    root_name: ClassVar[str] = "cpu"
    attributes: ClassVar[tuple[_Attr, ...]] = (
        _Attr("id", "id", required=True),
        _Attr("socket_id", "socket_id"),
        _Attr("die_id", "die_id"),
        _Attr("core_id", "core_id"),
        _Attr("siblings", "siblings", "cpus"),
    )

    id: int = 0
    socket_id: int | None = None
    die_id: int | None = None
    core_id: int | None = None
    siblings: set[int] | None = None


@dataclasses.dataclass
class LibvirtConfigCapsNUMACell(LibvirtConfigObject):
    """A host ``<cell>``: memory (KiB), page pools, distances, online CPUs.

    A cell without CPUs (a memory-only node) may come with ``<cpus num='0'/>``
    or with no ``<cpus>`` at all; both parse to ``cpus == []`` and render as
    ``<cpus num='0'/>``, as libvirt writes it. ``distances`` maps a cell id
    to its distance; ``memory`` is None when the document gives none.
    """

    root_name: ClassVar[str] = "cell"
    known_children: ClassVar[tuple[str, ...]] = ("memory", "pages", "distances", "cpus")
    known_attrs: ClassVar[tuple[str, ...]] = ("id",)

    id: int = 0
    memory: int | None = None
    mempages: list[LibvirtConfigCapsNUMAPages] = field(default_factory=list)
    distances: dict[int, int] = field(default_factory=dict)
    cpus: list[LibvirtConfigCapsNUMACPU] = field(default_factory=list)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("id", str(self.id))
        if self.memory is not None:
            _sub(el, "memory", self.memory, unit="KiB")
        for pages in self.mempages:
            el.append(pages.format_dom())
        if self.distances:
            distances = _sub(el, "distances")
            for cell_id in sorted(self.distances):
                _sub(distances, "sibling", id=cell_id, value=self.distances[cell_id])
        cpus = _sub(el, "cpus", num=len(self.cpus))
        for cpu in self.cpus:
            cpus.append(cpu.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        memory = _child(el, "memory")
        distances = _child(el, "distances")
        cpus = _child(el, "cpus")
        return cls(
            id=_req_int(el, "id"),
            memory=None if memory is None else _kib(memory, _text_int(memory)),
            mempages=[LibvirtConfigCapsNUMAPages.parse_dom(p) for p in _children(el, "pages")],
            distances=(
                {}
                if distances is None
                else {
                    _req_int(s, "id"): _req_int(s, "value") for s in _children(distances, "sibling")
                }
            ),
            cpus=(
                []
                if cpus is None
                else [LibvirtConfigCapsNUMACPU.parse_dom(c) for c in _children(cpus, "cpu")]
            ),
        )

    @property
    def cpu_ids(self) -> set[int]:
        """The ids of the cell's online CPUs."""
        return {cpu.id for cpu in self.cpus}


@dataclasses.dataclass
class LibvirtConfigCapsNUMATopology(LibvirtConfigObject):
    """The host ``<topology><cells num='N'>...</cells></topology>``."""

    root_name: ClassVar[str] = "topology"
    known_children: ClassVar[tuple[str, ...]] = ("cells",)

    cells: list[LibvirtConfigCapsNUMACell] = field(default_factory=list)

    def _format(self):
        el = etree.Element(self.root_name)
        cells = _sub(el, "cells", num=len(self.cells))
        for cell in self.cells:
            cells.append(cell.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        cells = _child(el, "cells")
        return cls(
            cells=(
                []
                if cells is None
                else [LibvirtConfigCapsNUMACell.parse_dom(c) for c in _children(cells, "cell")]
            )
        )


@dataclasses.dataclass
class LibvirtConfigCapsHostCPU(LibvirtConfigObject):
    """The host ``<cpu>``: arch, model, vendor and ``<topology>`` (sockets, dies,
    cores, threads per NUMA node, as libvirt reports them). Features and the
    rest are kept as unknown children."""

    root_name: ClassVar[str] = "cpu"
    known_children: ClassVar[tuple[str, ...]] = ("arch", "model", "vendor", "topology")

    arch: str | None = None
    model: str | None = None
    vendor: str | None = None
    sockets: int | None = None
    dies: int | None = None
    cores: int | None = None
    threads: int | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        for name in ("arch", "model", "vendor"):
            if getattr(self, name) is not None:
                _sub(el, name, getattr(self, name))
        topology = {n: getattr(self, n) for n in ("sockets", "dies", "cores", "threads")}
        if any(v is not None for v in topology.values()):
            _sub(el, "topology", **topology)
        return el

    @classmethod
    def _parse(cls, el):
        def text(tag: str) -> str | None:
            child = _child(el, tag)
            return None if child is None else (child.text or "").strip()

        topology = _child(el, "topology")
        sizes: dict[str, Any] = {
            n: None if topology is None else _opt_int(topology, n)
            for n in ("sockets", "dies", "cores", "threads")
        }
        return cls(
            arch=text("arch"),
            model=text("model"),
            vendor=text("vendor"),
            **sizes,
        )


@dataclasses.dataclass
class LibvirtConfigCapsHost(LibvirtConfigObject):
    """The capabilities ``<host>``: uuid, cpu, NUMA topology; the rest is kept as is."""

    root_name: ClassVar[str] = "host"
    known_children: ClassVar[tuple[str, ...]] = ("uuid", "cpu", "topology")

    uuid: str | None = None
    cpu: LibvirtConfigCapsHostCPU | None = None
    topology: LibvirtConfigCapsNUMATopology | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        if self.uuid is not None:
            _sub(el, "uuid", self.uuid)
        if self.cpu is not None:
            el.append(self.cpu.format_dom())
        if self.topology is not None:
            el.append(self.topology.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        uuid = _child(el, "uuid")
        cpu = _child(el, "cpu")
        topology = _child(el, "topology")
        return cls(
            uuid=None if uuid is None else (uuid.text or "").strip(),
            cpu=None if cpu is None else LibvirtConfigCapsHostCPU.parse_dom(cpu),
            topology=(
                None if topology is None else LibvirtConfigCapsNUMATopology.parse_dom(topology)
            ),
        )


@dataclasses.dataclass
class LibvirtConfigCaps(LibvirtConfigObject):
    """A ``<capabilities>`` document: the ``<host>``; ``<guest>`` blocks are kept as is."""

    root_name: ClassVar[str] = "capabilities"
    known_children: ClassVar[tuple[str, ...]] = ("host",)

    host: LibvirtConfigCapsHost | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        if self.host is not None:
            el.append(self.host.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        host = _child(el, "host")
        return cls(host=None if host is None else LibvirtConfigCapsHost.parse_dom(host))

    @property
    def cells(self) -> list[LibvirtConfigCapsNUMACell]:
        """The host's NUMA cells (empty when the document has no topology)."""
        if self.host is None or self.host.topology is None:
            return []
        return list(self.host.topology.cells)
