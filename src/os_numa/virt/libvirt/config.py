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

import dataclasses
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


def _to_int(el: etree._Element, value: str, attr: str | None) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit() or not text.isascii():
        raise exception.InvalidXML(
            reason=f"{_where(el, attr)} is {value!r}; an integer is required"
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


def _kib(el: etree._Element, amount: int, unit_attr: str = "unit") -> int:
    unit = el.get(unit_attr, "KiB")
    factor = _UNIT_BYTES.get(unit.lower())
    if factor is None:
        raise exception.InvalidXML(
            reason=f"{_where(el, unit_attr)} is {unit!r}; valid units are "
            f"{', '.join(sorted(_UNIT_BYTES))} (case-insensitive)"
        )
    return -(-amount * factor // 1024)


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


# --- <cputune> -------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneVCPUPin(LibvirtConfigObject):
    """``<vcpupin vcpu='id' cpuset='...'/>``: the host CPUs one vCPU may run on."""

    root_name: ClassVar[str] = "vcpupin"
    known_attrs: ClassVar[tuple[str, ...]] = ("vcpu", "cpuset")

    id: int = 0
    cpuset: set[int] = field(default_factory=set)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("vcpu", str(self.id))
        el.set("cpuset", _spec(self.cpuset))
        return el

    @classmethod
    def _parse(cls, el):
        return cls(id=_req_int(el, "vcpu"), cpuset=_cpus(el, el.get("cpuset"), "cpuset"))


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneEmulatorPin(LibvirtConfigObject):
    """``<emulatorpin cpuset='...'/>``: the host CPUs of QEMU's emulator threads."""

    root_name: ClassVar[str] = "emulatorpin"
    known_attrs: ClassVar[tuple[str, ...]] = ("cpuset",)

    cpuset: set[int] = field(default_factory=set)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("cpuset", _spec(self.cpuset))
        return el

    @classmethod
    def _parse(cls, el):
        return cls(cpuset=_cpus(el, el.get("cpuset"), "cpuset"))


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneIOThreadPin(LibvirtConfigObject):
    """``<iothreadpin iothread='N' cpuset='...'/>``: the host CPUs of one I/O thread."""

    root_name: ClassVar[str] = "iothreadpin"
    known_attrs: ClassVar[tuple[str, ...]] = ("iothread", "cpuset")

    iothread: int = 1
    cpuset: set[int] = field(default_factory=set)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("iothread", str(self.iothread))
        el.set("cpuset", _spec(self.cpuset))
        return el

    @classmethod
    def _parse(cls, el):
        return cls(iothread=_req_int(el, "iothread"), cpuset=_cpus(el, el.get("cpuset"), "cpuset"))


@dataclasses.dataclass
class LibvirtConfigGuestCPUTuneVCPUSched(LibvirtConfigObject):
    """``<vcpusched vcpus='...' scheduler='fifo' priority='N'/>``: a scheduler for vCPUs."""

    root_name: ClassVar[str] = "vcpusched"
    known_attrs: ClassVar[tuple[str, ...]] = ("vcpus", "scheduler", "priority")

    vcpus: set[int] = field(default_factory=set)
    scheduler: str | None = None
    priority: int | None = None

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("vcpus", _spec(self.vcpus))
        if self.scheduler is not None:
            el.set("scheduler", self.scheduler)
        if self.priority is not None:
            el.set("priority", str(self.priority))
        return el

    @classmethod
    def _parse(cls, el):
        return cls(
            vcpus=_cpus(el, el.get("vcpus"), "vcpus"),
            scheduler=el.get("scheduler"),
            priority=_opt_int(el, "priority"),
        )


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
        for pin in self.iothreadpin:
            el.append(pin.format_dom())
        for sched in self.vcpusched:
            el.append(sched.format_dom())
        return el

    @classmethod
    def _parse(cls, el):
        emulatorpin = _child(el, "emulatorpin")
        values = {n: _child(el, n) for n in ("shares", "period", "quota")}
        return cls(
            **{n: None if c is None else _text_int(c) for n, c in values.items()},
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
class LibvirtConfigGuestNUMATuneMemory(LibvirtConfigObject):
    """``<memory mode='strict' nodeset='...'/>``: host nodes for all guest memory."""

    root_name: ClassVar[str] = "memory"
    known_attrs: ClassVar[tuple[str, ...]] = ("mode", "nodeset")

    mode: str = "strict"
    nodeset: set[int] = field(default_factory=set)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("mode", self.mode)
        el.set("nodeset", _spec(self.nodeset))
        return el

    @classmethod
    def _parse(cls, el):
        return cls(mode=el.get("mode", "strict"), nodeset=_cpus(el, el.get("nodeset"), "nodeset"))


@dataclasses.dataclass
class LibvirtConfigGuestNUMATuneMemNode(LibvirtConfigObject):
    """``<memnode cellid='N' mode='strict' nodeset='...'/>``: host nodes of one guest cell."""

    root_name: ClassVar[str] = "memnode"
    known_attrs: ClassVar[tuple[str, ...]] = ("cellid", "mode", "nodeset")

    cellid: int = 0
    mode: str = "strict"
    nodeset: set[int] = field(default_factory=set)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("cellid", str(self.cellid))
        el.set("mode", self.mode)
        el.set("nodeset", _spec(self.nodeset))
        return el

    @classmethod
    def _parse(cls, el):
        return cls(
            cellid=_req_int(el, "cellid"),
            mode=el.get("mode", "strict"),
            nodeset=_cpus(el, el.get("nodeset"), "nodeset"),
        )


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
class LibvirtConfigGuestCPUNUMACell(LibvirtConfigObject):
    """``<cell id='N' cpus='...' memory='KiB' [memAccess='shared']/>``: one guest cell."""

    root_name: ClassVar[str] = "cell"
    known_attrs: ClassVar[tuple[str, ...]] = ("id", "cpus", "memory", "unit", "memAccess")

    id: int = 0
    cpus: set[int] = field(default_factory=set)
    memory: int = 0
    memAccess: str | None = None  # noqa: N815 - libvirt's and Nova's spelling

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("id", str(self.id))
        el.set("cpus", _spec(self.cpus))
        el.set("memory", str(self.memory))
        el.set("unit", "KiB")
        if self.memAccess is not None:
            el.set("memAccess", self.memAccess)
        return el

    @classmethod
    def _parse(cls, el):
        return cls(
            id=_req_int(el, "id"),
            cpus=_cpus(el, el.get("cpus"), "cpus"),
            memory=_kib(el, _req_int(el, "memory")),
            memAccess=el.get("memAccess"),
        )


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
        return cls(
            mode=el.get("mode"),
            match=el.get("match"),
            check=el.get("check"),
            model=None if model is None else (model.text or "").strip() or None,
            **{
                n: None if topology is None else _opt_int(topology, n)
                for n in ("sockets", "dies", "cores", "threads")
            },
            numa=None if numa is None else LibvirtConfigGuestCPUNUMA.parse_dom(numa),
        )


# --- <memoryBacking> ---------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigGuestMemoryBackingPage(LibvirtConfigObject):
    """``<page size='KiB' unit='KiB' [nodeset='...']/>``: huge pages for some guest cells."""

    root_name: ClassVar[str] = "page"
    known_attrs: ClassVar[tuple[str, ...]] = ("size", "unit", "nodeset")

    size_kb: int = 0
    nodeset: set[int] = field(default_factory=set)

    def _format(self):
        el = etree.Element(self.root_name)
        el.set("size", str(self.size_kb))
        el.set("unit", "KiB")
        if self.nodeset:
            el.set("nodeset", _spec(self.nodeset))
        return el

    @classmethod
    def _parse(cls, el):
        nodeset = el.get("nodeset")
        return cls(
            size_kb=_kib(el, _req_int(el, "size")),
            nodeset=set() if nodeset is None else _cpus(el, nodeset, "nodeset"),
        )


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
        return etree.fromstring(etree.tostring(device))
    raise TypeError(
        f"a device must be a config object, an lxml element or XML text, not {device!r}"
    )
