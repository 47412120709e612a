"""Fixtures for tests against real libvirt: its schema, its test driver, a real QEMU.

Every test module here sets ``pytestmark = pytest.mark.functional``; they all run
in the normal suite (CI runs everything).

- ``domain_schema``: libvirt's installed ``domain.rng``, compiled once per session.
- ``test_conn``: the in-process ``test:///default`` driver (no daemon).
- ``define_and_read_back``: schema check, define with ``VIR_DOMAIN_DEFINE_VALIDATE``,
  ``XMLDesc()`` parsed back into :class:`LibvirtConfigGuest`, undefine.
- ``qemu_conn``: libvirt's real QEMU driver, embedded in this process
  (:class:`os_numa.testing.libvirtd.EmbeddedQemu`) with its QEMU capability
  probe cached in pytest's cache directory; skipped, with the reason shown in
  the summary, only where this machine cannot run a guest at all.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import libvirt
import pytest
from lxml import etree

from os_numa.testing import libvirtd
from os_numa.virt.libvirt import config

DOMAIN_RNG = Path("/usr/share/libvirt/schemas/domain.rng")


@pytest.fixture(scope="session")
def domain_schema() -> etree.RelaxNG:
    """libvirt's installed domain schema (it includes its sibling files by path)."""
    return etree.RelaxNG(etree.parse(str(DOMAIN_RNG)))


@pytest.fixture(scope="session")
def test_conn():
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.fixture
def define_and_read_back(domain_schema, test_conn):
    """Validate a domain against domain.rng, define it on test:///default with
    VIR_DOMAIN_DEFINE_VALIDATE, and return ``XMLDesc()`` parsed back."""
    defined = []

    def run(guest: config.LibvirtConfigGuest) -> config.LibvirtConfigGuest:
        xml = guest.to_xml()
        if not domain_schema.validate(etree.fromstring(xml)):
            pytest.fail(f"domain.rng rejects the document: {domain_schema.error_log}\n{xml}")
        dom = test_conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        defined.append(dom)
        return config.LibvirtConfigGuest.parse_str(dom.XMLDesc())

    yield run
    for dom in defined:
        dom.undefine()


def _cannot_run_guests() -> str | None:
    """Why this machine cannot boot a QEMU guest at all, or None when it can."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return f"booting a guest needs an x86_64 Linux host, not {platform.machine()}"
    if shutil.which(libvirtd.QEMU_BINARY) is None:
        return f"{libvirtd.QEMU_BINARY} is not installed (qemu-system-x86)"
    online = len(os.sched_getaffinity(0))
    if online < 2:
        return f"an isolated emulator pCPU needs 2 usable CPUs; this process has {online}"
    if os.geteuid() != 0:
        return "libvirt's QEMU driver needs root here to create cgroups and pin threads"
    return None


@pytest.fixture(scope="session")
def qemu_host(request):
    """An :class:`EmbeddedQemu` (real QEMU driver in this process) for the session."""
    reason = _cannot_run_guests()
    if reason:
        pytest.skip(reason)
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    cache_dir = cache.mkdir("os-numa-qemu-capabilities") if cache is not None else None
    with libvirtd.EmbeddedQemu(cache_dir=cache_dir) as host:
        yield host
