"""pytest plugin (entry point ``pytest11``) with os-numa fixtures for driver tests.

Installed with os-numa, so a downstream test suite gets them without a
conftest.py:

- ``os_numa_fake_host``: a :class:`os_numa.testing.fake.FakeHost`, by default
  ``HostInfo()`` (1 node, 2 cores); shape it with the ``os_numa_host`` marker,
  e.g. ``@pytest.mark.os_numa_host(cpu_nodes=2, cpu_cores=4, cpu_threads=2)``.
- ``os_numa_host_factory``: a callable taking :class:`~os_numa.testing.fake.HostInfo`
  keywords and returning a new fake host; every host it made is closed at the
  end of the test.
- ``os_numa_placement``: a client of a real OpenStack Placement service on the
  loopback, emptied before each test; ``os_numa_placement_service`` is the
  service itself (one per session; it needs ``OS_NUMA_OPENSTACK_PYTHON``).

The plugin imports os-numa's fake host and Placement helpers when pytest loads
it, once per session (oslo.versionedobjects and libvirt: about 2 s on a small
machine); a suite that uses none of the fixtures can leave it out with
``pytest -p no:os_numa``. The Placement fixtures need the extra
``os-numa[placement]`` only when a test uses them.
"""

from __future__ import annotations

import pytest

from os_numa.testing import fake, placement

MARKER = "os_numa_host"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**host_info): the HostInfo keywords of the os_numa_fake_host fixture",
    )


@pytest.fixture
def os_numa_host_factory():
    """``os_numa_host_factory(cpu_nodes=2, cpu_cores=4, cpu_threads=2) -> FakeHost``."""
    made: list[fake.FakeHost] = []

    def make(**host_info) -> fake.FakeHost:
        fake_host = fake.FakeHost.create(**host_info)
        made.append(fake_host)
        return fake_host

    yield make
    for fake_host in made:
        fake_host.close()


@pytest.fixture
def os_numa_fake_host(request: pytest.FixtureRequest, os_numa_host_factory):
    """A fake libvirt host (``.conn``, ``.caps_xml``, ``.topology(...)``), shaped by
    the ``os_numa_host`` marker's keywords when the test has one."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} takes HostInfo keywords only")
    return os_numa_host_factory(**(marker.kwargs if marker is not None else {}))


@pytest.fixture(scope="session")
def os_numa_placement_service():
    """A real Placement service (:class:`os_numa.testing.placement.PlacementService`) on
    127.0.0.1 for the whole session; skips when ``OS_NUMA_OPENSTACK_PYTHON`` is unset."""
    if placement.openstack_python() is None:
        pytest.skip(
            f"{placement.ENV} is not set: it names a Python with openstack-placement "
            "installed (bash tools/dev.sh test sets it)"
        )
    service = placement.PlacementService.start()
    yield service
    service.stop()


@pytest.fixture
def os_numa_placement(os_numa_placement_service):
    """A :class:`~os_numa.placement.client.PlacementClient` of the session's Placement, emptied
    (no providers, no allocations) before the test."""
    os_numa_placement_service.reset()
    return os_numa_placement_service.client()
