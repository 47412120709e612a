"""Edit an XML document in place as text: what is not edited stays byte for byte.

Parsing a document and writing it back changes more than the edit: quotes,
empty-element forms, character references, attribute spacing, comments. A
domain whose ``<cputune>`` moves to another host must not also come back with
every line of its ``<devices>`` rewritten. :class:`Document` therefore parses
the text safely (:mod:`os_numa.xmlutil`) to know its elements, locates every
element's span in the original text, and applies edits (change attributes,
remove, insert, replace) as splices of that text. New elements are written in
the document's own style: its quote character and indentation unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from os_numa import exception, xmlutil

_START_TAG = re.compile(
    r"<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>", re.S
)
_ATTRIBUTE = re.compile(r"(\s+)([^\s=/>]+)(\s*=\s*)(\"[^\"]*\"|'[^']*')", re.S)


@dataclass
class _Span:
    """Offsets of one element: its start tag ``[start, open_end)``, its content
    ``[open_end, close_start)`` and its end ``end`` (all equal for ``<a/>``)."""

    start: int
    open_end: int
    close_start: int
    end: int

    @property
    def empty(self) -> bool:
        return self.open_end == self.end


def _skip(text: str, i: int, closing: str, what: str) -> int:
    k = text.find(closing, i)
    if k < 0:
        raise exception.InvalidXML(reason=f"unterminated {what}")
    return k + len(closing)


def _scan(text: str) -> list[_Span]:
    """The span of every element of a well-formed document, in document order."""
    spans: list[_Span] = []
    stack: list[_Span] = []
    i = 0
    while (j := text.find("<", i)) >= 0:
        if text.startswith("<!--", j):
            i = _skip(text, j + 4, "-->", "comment")
        elif text.startswith("<![CDATA[", j):
            i = _skip(text, j, "]]>", "CDATA section")
        elif text.startswith("<?", j):
            i = _skip(text, j, "?>", "processing instruction")
        elif text.startswith("<!", j):
            i = _skip(text, j, ">", "declaration")
        elif text.startswith("</", j):
            i = _skip(text, j, ">", "end tag")
            if not stack:
                raise exception.InvalidXML(reason="an end tag closes no element")
            span = stack.pop()
            span.close_start, span.end = j, i
        else:
            match = _START_TAG.match(text, j)
            if match is None:
                raise exception.InvalidXML(reason=f"cannot read the start tag at offset {j}")
            i = match.end()
            span = _Span(j, i, i, i)
            spans.append(span)
            if not match.group(3):
                stack.append(span)
    return spans


def _escape(value: str, quote: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace(quote, "&quot;" if quote == '"' else "&apos;")


class Document:
    """An XML document as text plus its parsed elements, edited by splices.

    Build it from the text, find elements with :attr:`root` (an lxml element
    tree, read-only), record edits with the methods below, then take
    :meth:`text`. Every edit names elements of :attr:`root`; edits must not
    overlap (one edit per element, and none inside an element that is
    removed or replaced).

    :raises InvalidXML: the document is malformed, too large or not UTF-8.
    :raises UnsafeXML: see :func:`os_numa.xmlutil.parse`.
    """

    def __init__(self, text: str | bytes, max_bytes: int = xmlutil.DEFAULT_MAX_BYTES) -> None:
        if isinstance(text, bytes):
            if len(text) > max_bytes:
                raise exception.InvalidXML(reason=f"the document is over {max_bytes} bytes")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise exception.InvalidXML(reason=f"the document is not UTF-8: {exc}") from exc
        self.source = text
        self.root = xmlutil.parse(text, max_bytes=max_bytes)
        elements = [el for el in self.root.iter() if isinstance(el.tag, str)]
        spans = _scan(text)
        if len(spans) != len(elements):
            raise exception.InvalidXML(reason="the document's elements could not be located")
        self._elements = elements  # keeps the lxml proxies (the dict keys) alive
        self._spans = dict(zip(elements, spans, strict=True))
        self._edits: list[tuple[int, int, int, str]] = []
        self.quote = self._quote_style()
        self.unit = self._indent_unit()

    # -- reading -------------------------------------------------------------

    def _quote_style(self) -> str:
        for el in self._elements:
            span = self._spans[el]
            attr = _ATTRIBUTE.search(self.source, span.start, span.open_end)
            if attr is not None:
                return attr.group(4)[0]
        return "'"

    def indent(self, el: etree._Element) -> str:
        """The whitespace before ``el`` on its line ("" when something precedes it there)."""
        start = self._spans[el].start
        line = self.source.rfind("\n", 0, start) + 1
        prefix = self.source[line:start]
        return prefix if prefix.strip() == "" else ""

    def _indent_unit(self) -> str:
        for child in self.root:
            if isinstance(child.tag, str):
                return self.indent(child) or "  "
        return "  "

    def child_indent(self, parent: etree._Element) -> str:
        """The indentation of ``parent``'s children (its first child's, or one unit more)."""
        for child in parent:
            if isinstance(child.tag, str) and self.indent(child):
                return self.indent(child)
        return self.indent(parent) + self.unit

    def element_text(self, el: etree._Element) -> str:
        span = self._spans[el]
        return self.source[span.start : span.end]

    # -- writing new elements -------------------------------------------------

    def render(self, el: etree._Element, indent: str) -> str:
        """``el`` (a new element) as text in this document's style, children indented."""
        q = self.quote
        attrs = "".join(f" {name}={q}{_escape(value, q)}{q}" for name, value in el.attrib.items())
        children = [c for c in el if isinstance(c.tag, str)]
        if not children:
            if el.text:
                return f"<{el.tag}{attrs}>{_escape(el.text, q)}</{el.tag}>"
            return f"<{el.tag}{attrs}/>"
        inner = indent + self.unit
        body = "".join(f"\n{inner}{self.render(c, inner)}" for c in children)
        return f"<{el.tag}{attrs}>{body}\n{indent}</{el.tag}>"

    # -- edits ------------------------------------------------------------------

    def _edit(self, start: int, end: int, text: str) -> None:
        self._edits.append((start, end, len(self._edits), text))

    def set_attributes(self, el: etree._Element, changes: dict[str, str | None]) -> None:
        """Change (or, for None, remove) attributes of ``el``; new ones go last."""
        span = self._spans[el]
        tag = self.source[span.start : span.open_end]
        pending = dict(changes)
        q = self.quote

        def rewrite(match: re.Match) -> str:
            name = match.group(2)
            if name not in pending:
                return match.group(0)
            value = pending.pop(name)
            if value is None:
                return ""
            quote = match.group(4)[0]
            return f"{match.group(1)}{name}{match.group(3)}{quote}{_escape(value, quote)}{quote}"

        head = _START_TAG.match(tag)
        assert head is not None
        name_end = 1 + len(head.group(1))
        attrs = _ATTRIBUTE.sub(rewrite, tag[name_end : name_end + len(head.group(2))])
        attrs += "".join(
            f" {name}={q}{_escape(value, q)}{q}" for name, value in pending.items() if value
        )
        new = tag[:name_end] + attrs + tag[name_end + len(head.group(2)) :]
        if new != tag:
            self._edit(span.start, span.open_end, new)

    def set_text(self, el: etree._Element, text: str) -> None:
        """Replace the text of ``el``, an element without child elements."""
        if any(isinstance(c.tag, str) for c in el):
            raise exception.InternalError(err=f"<{el.tag}> has child elements, not just text")
        span = self._spans[el]
        q = self.quote
        if span.empty:
            head = self.source[span.start : span.open_end]
            new = f"{head[:-2].rstrip()}>{_escape(text, q)}</{el.tag}>"
            self._edit(span.start, span.end, new)
        else:
            self._edit(span.open_end, span.close_start, _escape(text, q))

    def remove(self, el: etree._Element) -> None:
        """Remove ``el`` and the indentation (and line break) before it."""
        span = self._spans[el]
        start = span.start
        line = self.source.rfind("\n", 0, start)
        if self.source[line + 1 : start].strip() == "" and line >= 0:
            start = line
        self._edit(start, span.end, "")

    def replace(self, el: etree._Element, new: etree._Element) -> None:
        """Replace ``el`` by the new element ``new`` at the same indentation."""
        span = self._spans[el]
        self._edit(span.start, span.end, self.render(new, self.indent(el)))

    def insert_after(self, el: etree._Element, new: list[etree._Element]) -> None:
        """Insert the new elements ``new`` after ``el``, as its siblings on their own lines."""
        if not new:
            return
        indent = self.indent(el)
        text = "".join(f"\n{indent}{self.render(n, indent)}" for n in new)
        self._edit(self._spans[el].end, self._spans[el].end, text)

    def append_children(self, parent: etree._Element, new: list[etree._Element]) -> None:
        """Insert the new elements ``new`` as the last children of ``parent``."""
        if not new:
            return
        children = [c for c in parent if isinstance(c.tag, str)]
        if children:
            self.insert_after(children[-1], new)
            return
        span = self._spans[parent]
        indent = self.indent(parent)
        inner = self.child_indent(parent)
        body = "".join(f"\n{inner}{self.render(n, inner)}" for n in new)
        if span.empty:
            head = self.source[span.start : span.open_end]
            head = head[:-2].rstrip() + ">"
            self._edit(span.start, span.end, f"{head}{body}\n{indent}</{parent.tag}>")
        else:
            self._edit(span.close_start, span.close_start, f"{body}\n{indent}")

    def text(self) -> str:
        """The document with every recorded edit applied."""
        out = []
        pos = 0
        for start, end, _, text in sorted(self._edits):
            if start < pos:
                raise exception.InternalError(err="overlapping XML edits")
            out.append(self.source[pos:start])
            out.append(text)
            pos = end
        out.append(self.source[pos:])
        return "".join(out)
