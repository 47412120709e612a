"""Fixtures for tests against real libvirt: its schema, its test driver, a real QEMU.

Every test module here sets ``pytestmark = pytest.mark.functional``; they all run
in the normal suite (CI runs everything).

- ``domain_schema``, ``libvirt_test_conn``, ``define_validated``: libvirt's
  installed ``domain.rng`` compiled once per session, the in-process
  ``test:///default`` driver, and the two together (tests/virt/libvirt/conftest.py).
- ``define_and_read_back``: ``define_validated`` for a :class:`LibvirtConfigGuest`,
  with ``XMLDesc()`` parsed back into one.
- ``qemu_host``: libvirt's real QEMU driver, embedded in this process
  (:class:`os_numa.testing.libvirtd.EmbeddedQemu`) with its QEMU capability
  probe cached in pytest's cache directory; skipped, with the reason shown in
  the summary, only where this machine cannot run a guest at all.
"""

from __future__ import annotations

import os
import platform
import shutil

import pytest

from os_numa.testing import libvirtd
from os_numa.virt.libvirt import config

# libvirt's schema and test driver, shared with the element-class tests.
from tests.virt.libvirt.conftest import (  # noqa: F401 - fixtures
    define_validated,
    domain_schema,
    libvirt_test_conn,
)


@pytest.fixture
def define_and_read_back(define_validated):  # noqa: F811 - the fixture, by name
    """Validate a guest against domain.rng, define it on test:///default with
    VIR_DOMAIN_DEFINE_VALIDATE, and return ``XMLDesc()`` parsed back."""

    def run(guest: config.LibvirtConfigGuest) -> config.LibvirtConfigGuest:
        return config.LibvirtConfigGuest.parse_str(define_validated(guest.to_xml()))

    return run


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
