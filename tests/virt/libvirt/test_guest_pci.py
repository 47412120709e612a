"""Placement devices -> expander buses per guest cell, root ports and hostdevs; libvirt accepts."""

from __future__ import annotations

import pytest

from os_numa import exception, objects
from os_numa.virt.libvirt.config_devices import (
    LibvirtConfigGuestHostdevPCI,
    LibvirtConfigGuestPCIController,
)
from os_numa.virt.libvirt.guest_pci import PORTS_PER_EXPANDER, get_guest_pci_config
from tests.virt.libvirt.conftest import (  # noqa: F401 (fixtures)
    define_validated,
    domain_schema,
    libvirt_test_conn,
)
from tests.virt.libvirt.test_config_devices import pci_elements, q35_two_cell_guest


def _dev(address, guest_cell, node=None):
    return objects.InstancePCIDevice(
        address=address,
        alias="nic",
        vendor_id="8086",
        product_id="154c",
        dev_type="type-VF",
        host_numa_node=node,
        guest_cell=guest_cell,
    )


def _layout(cfg):
    """(index, model, plugged-into bus, slot, node) per controller; hostdev -> guest bus."""
    ctls = [
        (
            c.index,
            c.model,
            c.address.bus if c.address else None,
            c.address.slot if c.address else None,
            c.target_node,
        )
        for c in cfg.controllers
    ]
    hostdevs = {
        f"{h.domain:04x}:{h.bus:02x}:{h.slot:02x}.{h.function:x}": (
            h.guest_address.bus if h.guest_address else None
        )
        for h in cfg.hostdevs
    }
    return ctls, hostdevs


def test_one_expander_per_guest_cell_with_devices():
    devices = [
        _dev("0000:b0:02.0", 1, 1),
        _dev("0000:19:02.0", 0, 0),
        _dev("0000:b0:02.1", 1, 1),
        _dev("0000:3b:00.0", None),
    ]
    ctls, hostdevs = _layout(get_guest_pci_config(devices, guest_cells=2))
    assert ctls == [
        (1, "pcie-expander-bus", None, None, 0),
        (2, "pcie-root-port", 1, 0, None),
        (3, "pcie-expander-bus", None, None, 1),
        (4, "pcie-root-port", 3, 0, None),
        (5, "pcie-root-port", 3, 1, None),
    ]
    assert hostdevs == {
        "0000:b0:02.0": 4,
        "0000:19:02.0": 2,
        "0000:b0:02.1": 5,
        "0000:3b:00.0": None,
    }


def test_bus_numbers_descend_from_255_without_overlap():
    devices = [_dev(f"0000:{0x40 + i:02x}:00.0", i % 2) for i in range(5)]
    cfg = get_guest_pci_config(devices, guest_cells=2, first_index=7)
    expanders = [c for c in cfg.controllers if c.model == "pcie-expander-bus"]
    ranges = [
        (e.target_bus_nr, e.target_bus_nr + ports)
        for e, ports in zip(expanders, (3, 2), strict=True)
    ]
    assert ranges == [(249, 252), (253, 255)]
    assert cfg.controllers[0].index == 7


def test_more_devices_than_slots_get_another_expander():
    devices = [_dev(f"0000:{i:02x}:00.0", 0) for i in range(1, PORTS_PER_EXPANDER + 3)]
    cfg = get_guest_pci_config(devices, guest_cells=1)
    expanders = [c for c in cfg.controllers if c.model == "pcie-expander-bus"]
    assert [(e.index, e.target_node) for e in expanders] == [(1, 0), (34, 0)]
    ports = [c for c in cfg.controllers if c.model == "pcie-root-port"]
    assert max(p.address.slot for p in ports) == PORTS_PER_EXPANDER - 1


@pytest.mark.parametrize(
    "devices,kwargs,needle",
    [
        ([_dev("0000:19:02.0", 2)], {"guest_cells": 2}, "guest NUMA cell 2"),
        ([_dev("0000:19:02.0", -1)], {}, "guest NUMA cell -1"),
        ([_dev("0000:19:02", 0)], {}, "0000:19:02"),
        ([_dev("0000:19:02.0", 0)], {"first_index": 255}, "index 256"),
    ],
)
def test_bad_input(devices, kwargs, needle):
    with pytest.raises(exception.Invalid) as info:
        get_guest_pci_config(devices, **kwargs)
    assert needle in str(info.value)


def test_domain_with_devices_defines_on_the_test_driver(define_validated):  # noqa: F811
    devices = [_dev("0000:19:02.0", 0, 0), _dev("0000:b0:02.0", 1, 1), _dev("0000:3b:00.0", None)]
    cfg = get_guest_pci_config(devices, guest_cells=2)
    guest = q35_two_cell_guest(cfg.devices, name="pci-numa")
    kept = pci_elements(define_validated(guest.to_xml()))
    controllers = [e for e in kept if isinstance(e, LibvirtConfigGuestPCIController)]
    assert [c.to_xml() for c in controllers] == [c.to_xml() for c in cfg.controllers]
    assert [e for e in kept if isinstance(e, LibvirtConfigGuestHostdevPCI)] == list(cfg.hostdevs)
