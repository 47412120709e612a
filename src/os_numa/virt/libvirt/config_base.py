"""The machinery behind the libvirt element classes: declared XML, one writer, one reader.

An element class is a dataclass (the data, with Nova's attribute names) plus a
:attr:`~LibvirtConfigObject.layout`: a tuple of *nodes* that says, in document
order, where each field lives in the XML. The base class writes the nodes in
that order (:meth:`~LibvirtConfigObject.format_dom`) and reads them back
(:meth:`~LibvirtConfigObject.parse_dom`); no element class writes its own
pair of formatter and parser, so what is written is, by construction, what is
read. The nodes:

- :class:`Attr`: an attribute (``vcpu='3'``), or a fixed one (``type='pci'``);
- :class:`Text`: the text of the element (``<shares>2048</shares>``);
- :class:`Element`: a plain sub-element holding more nodes (``<topology
  sockets= cores=/>``, ``<cells num=>`` around the cells, ``<os><type>``);
- :class:`Child` / :class:`Children`: one element object, or a list of them;
- :class:`Flag`: an empty element that is there or not (``<locked/>``);
- :class:`Count`: an attribute that counts a list (``<cpus num='4'>``);
- :class:`Entries`: a dict written as one element per key (``<sibling id= value=>``);
- :class:`Raw`: the remaining children as XML text (``<devices>``, ``<os><boot>``).

Values are converted by a :class:`Kind` (:data:`INT`, :data:`STR`,
:data:`TEXT`, :data:`CPUS`, :data:`KIB`...). A field absent from a document
keeps its dataclass default unless its node says otherwise (``missing=``).
Everything a class does not declare is kept: unknown attributes in
``extra_attrs`` and unknown child elements in ``extra_children``, written
back where they were. Parsing goes through :mod:`os_numa.xmlutil` (no
entities, no DTD, no network, bounded size and element count), and numbers
and sizes are bounded before they are converted.
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

#: Longest integer accepted in an attribute or text, in digits: 2**64 has 20. Longer
#: numbers are refused before int() (which is slow, then fails, on huge digit strings).
MAX_INT_DIGITS = 20

#: Largest memory amount accepted, in KiB: 2**52 bytes (4 PiB), the most
#: physical memory x86-64 can address.
MAX_MEMORY_KIB = 2**42

# An optional minus sign, then ASCII digits only (no "+", "_", "--5" or non-ASCII digits).
_INTEGER = re.compile(r"-?[0-9]+")


# --- value conversions -------------------------------------------------------------------


def _where(el: etree._Element, attr: str | None = None) -> str:
    return f"<{el.tag}> attribute {attr!r}" if attr else f"<{el.tag}> text"


def _to_int(el: etree._Element, value: str, attr: str | None) -> int:
    if value.isdigit() and value.isascii() and len(value) <= MAX_INT_DIGITS:
        return int(value)
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


class Kind:
    """How one value is written as XML text and read back.

    ``write(el, name, value)`` returns the text (``name`` is the attribute, or
    None for the element's text) and may check the value; ``read(el, name,
    raw)`` converts it back, raising :class:`~os_numa.exception.InvalidXML`.
    ``with_attrs`` are attributes written on the same element after the value
    (``unit='KiB'``), and known when parsing.
    """

    with_attrs: tuple[tuple[str, str], ...] = ()
    #: A set-valued kind: an empty set is left out when optional, refused when required.
    is_set = False

    def write(self, el: etree._Element, name: str | None, value: Any) -> str:
        return str(value)

    def read(self, el: etree._Element, name: str | None, raw: str) -> Any:
        return raw


class _Int(Kind):
    def read(self, el, name, raw):
        return _to_int(el, raw, name)


class _Text(Kind):
    def read(self, el, name, raw):
        return raw.strip()


class _TextOrNone(Kind):
    def read(self, el, name, raw):
        return raw.strip() or None


class _Cpus(Kind):
    is_set = True

    def write(self, el, name, value):
        return cpuset_mod.format_cpu_spec(value)

    def read(self, el, name, raw):
        try:
            return cpuset_mod.parse_cpu_spec(raw)
        except exception.InvalidCPUSpec as exc:
            raise exception.InvalidXML(reason=f"{_where(el, name)}: {exc}") from exc


class _Kib(Kind):
    with_attrs = (("unit", "KiB"),)

    def read(self, el, name, raw):
        return _kib(el, _to_int(el, raw, name))


class Number(Kind):
    """A whole number in ``0..limit``, read in hex (``0x``) or decimal, written in
    decimal or (``hex_digits`` set) as ``0x`` and that many digits at least.
    A value out of range is refused when written (:class:`~os_numa.exception.Invalid`)."""

    def __init__(self, limit: int, hex_digits: int | None = None):
        self.limit = limit
        self.hex_digits = hex_digits

    def write(self, el, name, value):
        what = name or "text"
        if isinstance(value, bool) or not isinstance(value, int):
            raise exception.Invalid(reason=f"{what} {value!r} is not an integer")
        if not 0 <= value <= self.limit:
            shown = f"{value:#x}" if self.hex_digits is not None else str(value)
            raise exception.Invalid(
                reason=f"<{el.tag}> {what} {shown} is out of range 0..{self.limit:#x}"
            )
        if self.hex_digits is None:
            return str(value)
        return f"0x{value:0{self.hex_digits}x}"

    def read(self, el, name, raw):
        return _number(el, repr(name) if name else "text", raw, self.limit)


class _YesNo(Kind):
    def write(self, el, name, value):
        return "yes" if value else "no"

    def read(self, el, name, raw):
        if raw not in ("yes", "no"):
            raise exception.InvalidXML(reason=f"<{el.tag}> {name} is {raw!r}; yes or no")
        return raw == "yes"


#: A whole number (at most :data:`MAX_INT_DIGITS` digits, optional minus sign).
INT: Kind = _Int()
#: Text as it stands (attributes).
STR: Kind = Kind()
#: Element text without surrounding white space.
TEXT: Kind = _Text()
#: Element text without surrounding white space; None when that leaves nothing.
TEXT_OR_NONE: Kind = _TextOrNone()
#: A set of CPU or node numbers, written as a CPU spec (``0-3,8``).
CPUS: Kind = _Cpus()
#: A memory size in KiB, written with ``unit='KiB'`` and read in any libvirt unit.
KIB: Kind = _Kib()
#: A boolean written ``yes``/``no``.
YES_NO: Kind = _YesNo()


# --- nodes of a layout -------------------------------------------------------------------

_MISSING: Any = object()

# A parsed element's children by tag (document order), built once per element.
_Kids = dict[str, list[etree._Element]]


def _kids(el: etree._Element) -> _Kids:
    kids: _Kids = {}
    for child in el:
        if isinstance(child.tag, str):
            kids.setdefault(child.tag, []).append(child)
    return kids


class Node:
    """One declared part of an element: see the module docstring for the kinds."""

    #: The dataclass fields this node writes and reads (for coverage checks).
    fields: tuple[str, ...] = ()

    def format(self, obj: Any, el: etree._Element) -> bool:
        """Write this part of ``obj`` into ``el``; True when anything was written."""
        raise NotImplementedError

    def parse(self, el: etree._Element | None, kids: _Kids, values: dict[str, Any]) -> None:
        """Read this part from ``el`` (None: its enclosing element is absent) into ``values``."""
        raise NotImplementedError

    def attrs(self) -> tuple[str, ...]:
        """The attribute names this node writes on its element."""
        return ()

    def tags(self) -> tuple[str, ...]:
        """The child tags this node writes in its element."""
        return ()


class _Value(Node):
    """A node holding one field's value (attribute or text)."""

    def __init__(
        self,
        field: str,
        kind: Kind,
        required: bool,
        missing: Any,
        omit: tuple[Any, ...],
    ):
        self.field = field
        self.fields = (field,)
        self.kind = kind
        self.required = required
        self.missing = missing
        self.omit = tuple(o for o in omit if o is not None)
        self.is_set = kind.is_set
        self.write = kind.write
        self.with_attrs = kind.with_attrs

    def _text(self, obj: Any, el: etree._Element, name: str | None) -> str | None:
        value = getattr(obj, self.field)
        if self.is_set:
            if not value:
                if self.required:
                    # Nova writes <emulatorpin cpuset=""/>; libvirt refuses it ("Failed to
                    # parse bitmap ''"), so no element class ever writes an empty required set.
                    raise exception.InvalidXML(
                        reason=f"<{el.tag}> attribute {name!r} would be an empty set; "
                        "libvirt refuses an empty CPU/node set, so it is never written"
                    )
                return None
        elif value is None:
            if not self.required:
                return None
        elif self.omit and value in self.omit:
            return None
        return self.write(el, name, value)

    def _store(self, values: dict[str, Any], value: Any) -> None:
        if value is not _MISSING:
            values[self.field] = value

    def _absent(self, el: etree._Element | None, name: str | None, values: dict) -> None:
        if self.required and el is not None:
            what = f"attribute {name!r}" if name else "text"
            raise exception.InvalidXML(reason=f"<{el.tag}> lacks the required {what}")
        self._store(values, self.missing)


class Attr(_Value):
    """The attribute ``name`` holds field ``field`` (default: the same name).

    ``const`` makes it a fixed attribute instead: always written with that
    value, and with ``check=True`` a document with another value is refused.
    An optional attribute is left out when its value is in ``omit`` (None) or
    is an empty set; ``required`` ones must be in the document.
    """

    def __init__(
        self,
        name: str,
        field: str | None = None,
        kind: Kind = STR,
        *,
        required: bool = False,
        missing: Any = _MISSING,
        omit: tuple[Any, ...] = (None,),
        const: str | None = None,
        check: bool = False,
    ):
        super().__init__(field or name, kind, required, missing, omit)
        self.name = name
        self.const = const
        self.check = check
        if const is not None:
            self.fields = ()
        # Written as str(value) with nothing to check: the common case, kept short.
        self._plain = type(kind) in (Kind, _Int) and not self.omit

    def format(self, obj, el):
        if self.const is not None:
            el.set(self.name, self.const)
            return True
        if self._plain:
            value = getattr(obj, self.field)
            if value is not None:
                el.set(self.name, str(value))
                return True
        text = self._text(obj, el, self.name)
        if text is None:
            return False
        el.set(self.name, text)
        if self.with_attrs:
            for name, value in self.with_attrs:
                el.set(name, value)
        return True

    def parse(self, el, kids, values):
        raw = None if el is None else el.get(self.name)
        if self.const is not None:
            if self.check and el is not None and raw != self.const:
                raise exception.InvalidXML(
                    reason=f"<{el.tag} {self.name}={raw!r}>: this class reads "
                    f"{self.name}={self.const!r}"
                )
            return
        if raw is None:
            self._absent(el, self.name, values)
            return
        value = self.kind.read(el, self.name, raw)
        if self.required and self.kind.is_set and not value:
            raise exception.InvalidXML(
                reason=f"{_where(el, self.name)} is {raw!r}: an empty set, which "
                "libvirt refuses; at least one CPU/node is required"
            )
        self._store(values, value)

    def attrs(self):
        return (self.name, *(name for name, _ in self.kind.with_attrs))


class Text(_Value):
    """The element's text holds field ``field``.

    ``blank`` is the value of an element without text (default: read the
    empty text with the kind, which refuses it for numbers).
    """

    def __init__(
        self,
        field: str,
        kind: Kind = TEXT,
        *,
        missing: Any = _MISSING,
        omit: tuple[Any, ...] = (None,),
        blank: Any = _MISSING,
    ):
        super().__init__(field, kind, False, missing, omit)
        self.blank = blank

    def format(self, obj, el):
        text = self._text(obj, el, None)
        if text is None:
            return False
        for name, value in self.kind.with_attrs:
            el.set(name, value)
        el.text = text
        return True

    def parse(self, el, kids, values):
        if el is None:
            self._absent(el, None, values)
            return
        raw = el.text or ""
        if self.blank is not _MISSING and not raw.strip():
            self._store(values, self.blank)
            return
        self._store(values, self.kind.read(el, None, raw))

    def attrs(self):
        return tuple(name for name, _ in self.kind.with_attrs)


class _Group(Node):
    """Nodes written into one element, in order."""

    def __init__(self, members: tuple[Node, ...]):
        self.members = members
        self.fields = tuple(f for node in members for f in node.fields)
        claimed = tuple(tag for node in members for tag in node.tags())
        for node in members:
            if isinstance(node, Raw):
                node.skip = frozenset(claimed)

    def format_members(self, obj: Any, el: etree._Element) -> bool:
        wrote = False
        for node in self.members:
            wrote = node.format(obj, el) or wrote
        return wrote

    def parse_members(self, el: etree._Element | None, values: dict[str, Any]) -> None:
        kids = {} if el is None else _kids(el)
        for node in self.members:
            node.parse(el, kids, values)

    def member_attrs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for node in self.members for a in node.attrs()))

    def member_tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for node in self.members for t in node.tags()))


class Element(_Group):
    """A plain sub-element ``<tag>`` made of more nodes.

    It is written when any of its nodes writes something (or always, with
    ``always=True`` or ``required=True``), and read from the first ``<tag>`` child; when the
    document lacks it, its nodes take their ``missing`` values (or raise,
    with ``required=True``). Unknown attributes and children of a plain
    sub-element are not kept.
    """

    def __init__(self, tag: str, *members: Node, always: bool = False, required: bool = False):
        super().__init__(members)
        self.tag = tag
        self.always = always or required  # what every document must have is always written
        self.required = required
        # Made only of values (<uuid>, <topology .../>): none set, nothing to write.
        plain = all(isinstance(n, _Value) and getattr(n, "const", None) is None for n in members)
        self._unless_set = self.fields if plain and not self.always else ()

    def format(self, obj, el):
        if self._unless_set:
            for name in self._unless_set:
                if getattr(obj, name) is not None:
                    break
            else:
                return False
        sub = etree.SubElement(el, self.tag)
        if self.format_members(obj, sub) or self.always:
            return True
        el.remove(sub)
        return False

    def parse(self, el, kids, values):
        found = kids.get(self.tag)
        if not found and self.required and el is not None:
            raise exception.InvalidXML(reason=f"<{el.tag}> lacks <{self.tag}>")
        self.parse_members(found[0] if found else None, values)

    def tags(self):
        return (self.tag,)


class Child(Node):
    """Field ``field`` is one element object of class ``cls`` (or None)."""

    def __init__(self, field: str, cls: type[LibvirtConfigObject]):
        self.field = field
        self.fields = (field,)
        self.cls = cls

    def format(self, obj, el):
        value = getattr(obj, self.field)
        if value is None:
            return False
        el.append(value.format_dom())
        return True

    def parse(self, el, kids, values):
        found = kids.get(self.cls.root_name)
        if found:
            values[self.field] = self.cls.parse_dom(found[0])

    def tags(self):
        return (self.cls.root_name,)


class Children(Child):
    """Field ``field`` is a list of element objects of class ``cls``, in document order."""

    def format(self, obj, el):
        items = getattr(obj, self.field)
        for item in items:
            el.append(item.format_dom())
        return bool(items)

    def parse(self, el, kids, values):
        found = kids.get(self.cls.root_name)
        if found:
            values[self.field] = [self.cls.parse_dom(c) for c in found]


class Flag(Node):
    """Field ``field`` (a bool) says whether the empty element ``<tag/>`` is there;
    ``invert=True``: whether it is not."""

    def __init__(self, tag: str, field: str, *, invert: bool = False):
        self.tag = tag
        self.field = field
        self.fields = (field,)
        self.invert = invert

    def format(self, obj, el):
        if bool(getattr(obj, self.field)) is self.invert:
            return False
        etree.SubElement(el, self.tag)
        return True

    def parse(self, el, kids, values):
        values[self.field] = (self.tag in kids) is not self.invert

    def tags(self):
        return (self.tag,)


class Count(Node):
    """The attribute ``name`` holds the length of list field ``of`` (written, not read)."""

    def __init__(self, name: str, of: str):
        self.name = name
        self.of = of

    def format(self, obj, el):
        el.set(self.name, str(len(getattr(obj, self.of))))
        return True

    def parse(self, el, kids, values):
        return None

    def attrs(self):
        return (self.name,)


class Entries(Node):
    """Field ``field`` is a dict of ints, written as one ``<tag key= value=/>`` per key
    in key order."""

    def __init__(self, tag: str, field: str, key: str, value: str):
        self.tag = tag
        self.field = field
        self.fields = (field,)
        self.key = key
        self.value = value

    def format(self, obj, el):
        mapping = getattr(obj, self.field)
        for key in sorted(mapping):
            entry = etree.SubElement(el, self.tag)
            entry.set(self.key, str(key))
            entry.set(self.value, str(mapping[key]))
        return bool(mapping)

    def parse(self, el, kids, values):
        if el is None:
            return
        values[self.field] = {
            _required_int(entry, self.key): _required_int(entry, self.value)
            for entry in kids.get(self.tag, ())
        }

    def tags(self):
        return (self.tag,)


class Raw(Node):
    """Field ``field`` is a list of the element's other children: written from element
    objects, lxml elements or XML text, read back as XML text."""

    skip: frozenset[str] = frozenset()

    def __init__(self, field: str):
        self.field = field
        self.fields = (field,)

    def format(self, obj, el):
        items = getattr(obj, self.field)
        for item in items:
            el.append(element_of(item))
        return bool(items)

    def parse(self, el, kids, values):
        if el is None:
            return
        values[self.field] = [
            serialize(c) for c in el if isinstance(c.tag, str) and c.tag not in self.skip
        ]


def _required_int(el: etree._Element, attr: str) -> int:
    value = el.get(attr)
    if value is None:
        raise exception.InvalidXML(reason=f"<{el.tag}> lacks the required attribute {attr!r}")
    return _to_int(el, value, attr)


def cpu_topology() -> Element:
    """``<topology sockets= dies= cores= threads=/>`` from the fields of those names
    (the guest's and the host's ``<cpu>`` write it alike)."""
    return Element(
        "topology", *(Attr(n, kind=INT) for n in ("sockets", "dies", "cores", "threads"))
    )


def serialize(el: etree._Element) -> str:
    """An element as XML text, without its tail."""
    return etree.tostring(el, encoding="unicode", with_tail=False)


def element_of(item: Any) -> etree._Element:
    """A new lxml element for an element object, an lxml element (copied) or XML text
    (parsed safely)."""
    if isinstance(item, LibvirtConfigObject):
        return item.format_dom()
    if isinstance(item, str | bytes):
        return xmlutil.parse(item)
    if isinstance(item, etree._Element):
        # Copied, not re-parsed: no parser (and none of its entity handling) is involved.
        for _ in item.iter(etree.Entity):
            raise exception.UnsafeXML(reason=f"device <{item.tag}> contains entity references")
        copied = copy.deepcopy(item)
        copied.tail = None
        return copied
    raise TypeError(f"a device must be a config object, an lxml element or XML text, not {item!r}")


# --- base class ----------------------------------------------------------------------------


@dataclasses.dataclass
class LibvirtConfigObject:
    """Base of every element class.

    Subclasses set :attr:`root_name` and declare their XML in :attr:`layout`;
    :attr:`known_attrs` and :attr:`known_children` follow from it. Anything
    else found when parsing lands in ``extra_attrs`` (a dict) and
    ``extra_children`` (a list of ``(anchor, xml)``: the known tag it
    followed, or None when it came before every known child, and its
    serialised text) and is written back there.
    """

    root_name: ClassVar[str] = ""
    #: The element's XML, in document order (see the module docstring).
    layout: ClassVar[tuple[Node, ...]] = ()
    known_children: ClassVar[tuple[str, ...]] = ()
    known_attrs: ClassVar[tuple[str, ...]] = ()
    _root: ClassVar[_Group] = _Group(())
    _writers: ClassVar[tuple[Any, ...]] = ()

    extra_attrs: dict[str, str] = field(default_factory=dict, kw_only=True)
    extra_children: list[tuple[str | None, str]] = field(default_factory=list, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "layout" in cls.__dict__:
            cls._root = _Group(cls.layout)
            cls.known_attrs = cls._root.member_attrs()
            cls.known_children = cls._root.member_tags()
            cls._writers = tuple(node.format for node in cls.layout)

    @classmethod
    def declared_fields(cls) -> tuple[str, ...]:
        """The dataclass fields the layout writes and reads, in document order."""
        return cls._root.fields

    # -- rendering --

    def format_dom(self) -> etree._Element:
        """This element as a new lxml element, unknown parts included."""
        el = etree.Element(self.root_name)
        for write in self._writers:
            write(self, el)
        if self.extra_attrs:
            for name in sorted(self.extra_attrs):
                if el.get(name) is None:
                    el.set(name, self.extra_attrs[name])
        if self.extra_children:
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

    def _after_parse(self, el: etree._Element) -> None:
        """Checks across fields, or XML no node describes; none by default."""

    @classmethod
    def parse_dom(cls: type[_T], el: etree._Element) -> _T:
        """Build an object from an lxml element whose tag is :attr:`root_name`.

        :raises InvalidXML: wrong tag, missing or malformed attribute/text.
        """
        if el.tag != cls.root_name:
            raise exception.InvalidXML(
                reason=f"{cls.__name__} parses <{cls.root_name}>, not <{el.tag}>"
            )
        kids: _Kids = {}
        extras: list[tuple[str | None, str]] = []
        if len(el):
            known = cls.known_children
            anchor: str | None = None
            for child in el:
                tag = child.tag
                if not isinstance(tag, str):
                    continue  # comments and processing instructions
                if tag in known:
                    anchor = tag
                    kids.setdefault(tag, []).append(child)
                else:
                    extras.append((anchor, serialize(child)))
        values: dict[str, Any] = {}
        for node in cls._root.members:
            node.parse(el, kids, values)
        obj = cls(**values)
        obj._after_parse(el)
        known_attrs = cls.known_attrs
        obj.extra_attrs = {k: v for k, v in el.attrib.items() if k not in known_attrs}
        if extras:
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


__all__ = [
    "CPUS",
    "INT",
    "KIB",
    "MAX_INT_DIGITS",
    "MAX_MEMORY_KIB",
    "STR",
    "TEXT",
    "TEXT_OR_NONE",
    "YES_NO",
    "Attr",
    "Child",
    "Children",
    "Count",
    "Element",
    "Entries",
    "Flag",
    "Kind",
    "LibvirtConfigObject",
    "Node",
    "Number",
    "Raw",
    "Text",
    "cpu_topology",
    "element_of",
    "serialize",
]
