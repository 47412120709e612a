from os_numa.fit.order import host_order
from os_numa.fit.snapshot import host_cells
from tests import fixtures_topology as ft


def cells(free, memory_usage=None):
    host = ft.host(len(free), 4)
    for cell, count in zip(host.cells, free, strict=True):
        cell.pinned_cpus = set(sorted(cell.pcpuset)[: 4 - count])
        cell.memory_usage = (memory_usage or {}).get(cell.id, 0)
    return host_cells(host)


def test_spread_and_pack_for_pinned_guests():
    snap = cells([2, 4, 3, 4])
    assert host_order(snap, 1, pinning=True, pack=False) == (1, 3, 2, 0)
    assert host_order(snap, 1, pinning=True, pack=True) == (0, 2, 1, 3)


def test_memory_orders_cells_with_equal_free_pcpus():
    snap = cells([4, 4, 4], {0: 100, 1: 300})
    assert host_order(snap, 1, pinning=True, pack=False) == (2, 0, 1)
    assert host_order(snap, 1, pinning=True, pack=True) == (2, 0, 1)[::-1]


def test_no_sorting_when_every_cell_is_needed():
    snap = cells([2, 4])
    assert host_order(snap, 2, pinning=True, pack=False) == (0, 1)


def test_pci_devices_dominate_whatever_pack_says():
    # Nova's last sort (bug 2144660): device-local cells first for a guest requesting
    # devices, last for the others; memory and free pCPUs only order cells of equal count.
    snap = cells([2, 4, 3, 4])
    devices = {0: 2, 2: 1}
    for pack in (False, True):
        assert host_order(snap, 1, True, pack, devices, pci_requested=True)[:2] == (0, 2)
        assert host_order(snap, 1, True, pack, devices, pci_requested=False)[2:] == (2, 0)
    assert host_order(snap, 1, True, False, devices, pci_requested=False) == (1, 3, 2, 0)
    assert host_order(snap, 1, True, False, {}, pci_requested=True) == (1, 3, 2, 0)
