"""Per-cell pools of free PCI devices; claim and free (atomic, typed errors)."""

from __future__ import annotations

import pytest

from os_numa import exception, objects
from os_numa.pci.devices import PciAddress
from os_numa.pci.stats import PciDeviceStats
from tests.pci.builders import sample_stats, vf_placement

A = PciAddress.parse


@pytest.fixture
def stats():
    return sample_stats()


def _pools(stats):
    return [(p.numa_node, p.product_id, p.dev_type, p.count) for p in stats.pools()]


def test_pools_by_node_then_spec(stats):
    assert _pools(stats) == [
        (0, "154c", "type-VF", 4),
        (0, "1572", "type-PF", 2),
        (1, "154c", "type-VF", 4),
        (1, "1572", "type-PF", 2),
        (None, "1eb8", "type-PCI", 1),
    ]
    assert stats.numa_nodes() == [0, 1, None]


def test_claim_vf_blocks_its_pf_and_free_restores(stats):
    stats.claim([A("0000:19:02.0")])
    assert not stats.is_available(A("0000:18:00.0"))  # its PF
    assert stats.is_available(A("0000:18:00.1"))  # the other PF
    assert _pools(stats)[:2] == [(0, "154c", "type-VF", 3), (0, "1572", "type-PF", 1)]
    stats.free([A("0000:19:02.0")])
    assert stats.used == frozenset()
    assert _pools(stats)[:2] == [(0, "154c", "type-VF", 4), (0, "1572", "type-PF", 2)]


def test_claim_pf_blocks_its_vfs(stats):
    stats.claim([A("0000:af:00.1")])
    assert [p.count for p in stats.pools() if p.numa_node == 1] == [2, 1]
    with pytest.raises(exception.PciDeviceInvalidStatus, match="physical function"):
        stats.claim([A("0000:b0:02.3")])


@pytest.mark.parametrize(
    "first,second,needle",
    [
        (["0000:3b:00.0"], ["0000:3b:00.0"], "in use"),
        ([], ["0000:3b:00.0", "0000:3b:00.0"], "in use"),
        (["0000:19:02.1"], ["0000:18:00.0"], "virtual function 0000:19:02.1"),
        ([], ["0000:af:00.0", "0000:b0:02.0"], "physical function 0000:af:00.0"),
    ],
)
def test_claiming_used_device_raises_and_changes_nothing(stats, first, second, needle):
    stats.claim(map(A, first))
    before = (stats.used, _pools(stats))
    with pytest.raises(exception.PciDeviceInvalidStatus) as info:
        stats.claim([A("0000:18:00.1"), *map(A, second)])  # a good one first: still atomic
    assert needle in str(info.value)
    assert (stats.used, _pools(stats)) == before


def test_unknown_device_and_bad_free(stats):
    with pytest.raises(exception.PciDeviceNotFound, match="0000:99:00.0"):
        stats.claim([A("0000:99:00.0")])
    stats.claim([A("0000:3b:00.0")])
    with pytest.raises(exception.PciDeviceInvalidStatus, match="not in use"):
        stats.free([A("0000:3b:00.0"), A("0000:18:00.0")])
    assert stats.used == {A("0000:3b:00.0")}


def test_copy_is_independent_and_duplicates_rejected(stats):
    twin = stats.copy()
    twin.claim([A("0000:18:00.0")])
    assert stats.used == frozenset() and twin.used == {A("0000:18:00.0")}
    with pytest.raises(exception.Invalid, match="given twice"):
        PciDeviceStats([stats.devices[0], stats.devices[0]])


def test_claim_and_free_a_placement(stats):
    placement = vf_placement(("0000:19:02.0", 0), ("0000:19:02.2", 0))
    stats.claim_instance(placement)
    assert stats.used == {A("0000:19:02.0"), A("0000:19:02.2")}
    with pytest.raises(exception.PciDeviceInvalidStatus):
        stats.claim_instance(placement)
    assert len(stats.used) == 2
    stats.free_instance(placement)
    assert stats.used == frozenset()
    stats.claim_instance(objects.InstanceNUMATopology(cells=[]))  # no devices: no change
    assert stats.used == frozenset()
