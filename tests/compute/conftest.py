"""Fixtures for the resource tracker tests."""

from __future__ import annotations

import pytest

from os_numa.virt.libvirt.driver import LibvirtDriver


@pytest.fixture
def driver():
    """The real libvirt driver: one overhead vCPU per isolated emulator thread."""
    return LibvirtDriver()
