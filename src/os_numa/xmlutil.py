"""Safe XML parsing for documents that come from libvirt or from users.

Capabilities and domain documents are data, never programs: nothing in them
may make the parser read a file, open a URL or expand an entity. The parser
therefore resolves no entities, loads no DTD, uses no network and refuses
huge trees, and the document's size is checked *before* any parsing starts.
A document that declares entities or names an external DTD is refused as a
whole with :class:`~os_numa.exception.UnsafeXML` (libvirt never writes one),
so a "billion laughs" or an external-entity (XXE) document cannot do harm
even in a later, less careful consumer of the same text.
"""

from __future__ import annotations

from lxml import etree

from os_numa import exception

#: Largest document accepted, in bytes (UTF-8). A capabilities document of a
#: 1024-CPU host with every machine type listed is well under 2 MiB.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
#: Most elements accepted in one document. lxml spends about 300 bytes per
#: element, so 8 MiB of ``<a/>`` would cost 600 MB; a 1024-CPU host's
#: capabilities have about 10,000 elements, a whole host's node devices fewer
#: than 100,000.
DEFAULT_MAX_ELEMENTS = 200_000


# libxml2 error types that mean "entities were used to amplify the document".
_ENTITY_ABUSE_ERRORS = frozenset(
    {"ERR_RESOURCE_LIMIT", "ERR_ENTITY_LOOP", "ERR_ENTITY_AMPLIFICATION"}
)


def _make_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,
    )


def _as_bytes(document: str | bytes, max_bytes: int) -> bytes:
    if isinstance(document, str):
        # A character is at least one UTF-8 byte: refuse before encoding a huge string.
        if len(document) > max_bytes:
            raise exception.InvalidXML(
                reason=f"document is at least {len(document)} bytes long; "
                f"the limit is {max_bytes} bytes"
            )
        data = document.encode("utf-8")
    elif isinstance(document, bytes | bytearray):
        data = bytes(document)
    else:
        raise exception.InvalidXML(reason=f"expected str or bytes, got {type(document).__name__}")
    if len(data) > max_bytes:
        raise exception.InvalidXML(
            reason=f"document is {len(data)} bytes long; the limit is {max_bytes} bytes"
        )
    return data


def _refuse_unsafe_doctype(tree: etree._ElementTree) -> None:
    docinfo = tree.docinfo
    if docinfo.system_url or docinfo.public_id:
        raise exception.UnsafeXML(
            reason=f"the DOCTYPE names an external DTD "
            f"(public {docinfo.public_id!r}, system {docinfo.system_url!r})"
        )
    dtd = docinfo.internalDTD
    if dtd is None:
        return
    entities = sorted(entity.name for entity in dtd.iterentities())
    if entities:
        raise exception.UnsafeXML(
            reason=f"the DOCTYPE declares entities {', '.join(entities)}; "
            "entity declarations are not accepted"
        )
    if dtd.system_url or dtd.external_id:
        raise exception.UnsafeXML(reason="the DOCTYPE references an external subset")


def _count_start_tags(data: bytes) -> int:
    """An upper bound of the elements in ``data``: every ``<`` that is no end
    tag, comment, declaration or processing instruction (one that sits in a
    CDATA section or comment is counted too, which only errs on the safe side)."""
    return data.count(b"<") - data.count(b"</") - data.count(b"<!") - data.count(b"<?")


def parse(
    document: str | bytes,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> etree._Element:
    """Parse ``document`` safely and return its root element.

    Comments, processing instructions and blank text between elements are
    dropped.

    :raises InvalidXML: the document is longer than ``max_bytes`` or has more
        than ``max_elements`` start tags (both checked before parsing, so
        memory stays bounded), is not well formed, or is not str/bytes.
    :raises UnsafeXML: the document declares entities, references an external
        DTD, or contains an entity reference.
    """
    data = _as_bytes(document, max_bytes)
    if b"<!ENTITY" in data and b"<!DOCTYPE" in data:
        # Refuse without parsing at all: the declarations are the attack.
        raise exception.UnsafeXML(reason="the document declares entities (<!ENTITY ...>)")
    tags = _count_start_tags(data)
    if tags > max_elements:
        raise exception.InvalidXML(
            reason=f"document has {tags} start tags; the limit is {max_elements} elements"
        )
    parser = _make_parser()
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        # The parser's own log: exc.error_log also holds earlier parses' errors.
        if any(error.type_name in _ENTITY_ABUSE_ERRORS for error in parser.error_log):
            # libxml2's own limits caught an entity bomb the pre-scan could not see
            # (a document in another encoding than UTF-8/ASCII).
            raise exception.UnsafeXML(reason=f"entity abuse: {exc}") from exc
        raise exception.InvalidXML(reason=str(exc)) from exc
    _refuse_unsafe_doctype(root.getroottree())
    for _ in root.iter(etree.Entity):
        raise exception.UnsafeXML(reason="the document contains entity references")
    return root
