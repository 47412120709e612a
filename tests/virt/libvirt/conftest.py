"""Shared fixtures for the libvirt tests: libvirt's own domain schema and test driver."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

DOMAIN_RNG = "/usr/share/libvirt/schemas/domain.rng"


@pytest.fixture(scope="session")
def domain_schema() -> etree.RelaxNG:
    """libvirt's installed domain.rng, compiled once (it includes other files by path)."""
    return etree.RelaxNG(etree.parse(DOMAIN_RNG))


@pytest.fixture(scope="session")
def libvirt_test_conn():
    """A connection to libvirt's in-process test driver (2 cells x 8 CPUs, no daemon)."""
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.fixture
def define_validated(domain_schema, libvirt_test_conn):
    """Check a domain document against domain.rng, then define it on the test driver
    with VIR_DOMAIN_DEFINE_VALIDATE, read it back with XMLDesc() and undefine it.

    Returns the XMLDesc() text. Schema errors fail with lxml's own error log.
    """

    def define(xml: str) -> str:
        doc = etree.fromstring(xml)
        if not domain_schema.validate(doc):
            pytest.fail(f"domain.rng rejects the document: {domain_schema.error_log}\n{xml}")
        dom = libvirt_test_conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        try:
            return dom.XMLDesc()
        finally:
            dom.undefine()

    return define
