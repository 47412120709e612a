"""xmledit.Document: splices of the original text; everything not edited stays byte for byte."""

from __future__ import annotations

import pytest
from lxml import etree

from os_numa import exception
from os_numa.virt.libvirt.xmledit import Document

TEXT = """<?xml version='1.0'?>
<domain type='kvm'>
  <!-- a comment with <tags> and 'quotes' -->
  <name>a &amp; b &#233;</name>
  <cputune>
    <vcpupin vcpu='0' cpuset='1' />
    <vcpupin vcpu = "1" cpuset="2"/>
  </cputune>
  <description><![CDATA[ <not-an-element/> ]]></description>
  <numa/>
</domain>
"""


def _el(doc, path):
    return doc.root.find(path)


def test_no_edit_gives_the_document_back_unchanged():
    assert Document(TEXT).text() == TEXT
    assert Document(TEXT.encode()).text() == TEXT


def test_attributes_change_in_place_keeping_quotes_and_spacing():
    doc = Document(TEXT)
    pins = doc.root.findall("cputune/vcpupin")
    doc.set_attributes(pins[0], {"cpuset": "7"})
    doc.set_attributes(pins[1], {"cpuset": "8", "extra": "x&y"})
    out = doc.text()
    assert "<vcpupin vcpu='0' cpuset='7' />" in out
    assert '<vcpupin vcpu = "1" cpuset="8" extra=\'x&amp;y\'/>' in out
    assert out.replace("7", "1", 1).count("\n") == TEXT.count("\n")


def test_remove_takes_the_line_with_it_and_insert_uses_the_sibling_indent():
    doc = Document(TEXT)
    pins = doc.root.findall("cputune/vcpupin")
    doc.remove(pins[1])
    doc.insert_after(pins[0], [etree.Element("emulatorpin", cpuset="3")])
    out = doc.text()
    assert 'vcpu = "1"' not in out
    assert "<vcpupin vcpu='0' cpuset='1' />\n    <emulatorpin cpuset='3'/>\n  </cputune>" in out


def test_children_go_into_an_empty_element_in_the_document_style():
    doc = Document(TEXT)
    cell = etree.Element("cell", id="0", cpus="0-1")
    doc.append_children(_el(doc, "numa"), [cell])
    assert "  <numa>\n    <cell id='0' cpus='0-1'/>\n  </numa>\n</domain>" in doc.text()


def test_replace_and_render_nested_elements():
    doc = Document(TEXT)
    new = etree.Element("cputune")
    etree.SubElement(new, "emulatorpin", cpuset="4")
    doc.replace(_el(doc, "cputune"), new)
    out = doc.text()
    assert "  <cputune>\n    <emulatorpin cpuset='4'/>\n  </cputune>" in out
    assert "<![CDATA[ <not-an-element/> ]]>" in out and "&#233;" in out


def test_overlapping_edits_are_refused():
    doc = Document(TEXT)
    cputune = _el(doc, "cputune")
    doc.remove(cputune)
    doc.set_attributes(cputune.find("vcpupin"), {"cpuset": "9"})
    with pytest.raises(exception.InternalError):
        doc.text()


@pytest.mark.parametrize(
    "text", ["<a><b></a>", "<a>", b"<a>\xff</a>", "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"]
)
def test_malformed_or_unsafe_documents_are_refused(text):
    with pytest.raises(exception.InvalidXML):
        Document(text)


def test_text_is_replaced_in_place_even_in_an_empty_element():
    doc = Document("<domain type='kvm'>\n  <vcpu placement='static'>4</vcpu>\n  <x/>\n</domain>")
    doc.set_text(doc.root.find("vcpu"), "6")
    doc.set_text(doc.root.find("x"), "a<b")
    assert doc.text() == (
        "<domain type='kvm'>\n  <vcpu placement='static'>6</vcpu>\n  <x>a&lt;b</x>\n</domain>"
    )
    with pytest.raises(exception.InternalError):
        doc.set_text(doc.root, "no")
