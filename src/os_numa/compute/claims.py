"""Claims: what one instance takes from a host, and the pure steps to take it.

Everything here is a pure function of its arguments; the
:class:`~os_numa.compute.resource_tracker.ResourceTracker` adds the state and
the lock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from os_numa import exception, usage
from os_numa.compute.instance import Resources
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits, fast, fields
from os_numa.pci.devices import PciAddress
from os_numa.verdict import FitVerdict, fit_or_explain

_PINNED = (fields.CPUAllocationPolicy.DEDICATED, fields.CPUAllocationPolicy.MIXED)


@dataclass(frozen=True)
class Claim:
    """One instance's hold on a host.

    ``placement`` is the fitted topology (None for an instance without a NUMA
    request), ``resources`` what the flavor uses, ``overhead`` what the driver
    estimated on top (for example one vCPU for an isolated emulator thread),
    ``pci_devices`` the host PCI devices it holds (``InstancePCIDevice``; the
    same as ``placement.pci_devices`` for a guest with a NUMA request).
    The tracker keeps its own copy of the placement; treat it as read-only.
    """

    instance_uuid: str
    placement: InstanceNUMATopology | None
    resources: Resources
    overhead: Resources
    pci_devices: tuple = ()

    # What the host-wide capacity check sums over every claim, worked out once per
    # claim (the placement is read-only once claimed).

    @functools.cached_property
    def total(self) -> Resources:
        return self.resources + self.overhead

    @functools.cached_property
    def pins(self) -> bool:
        """True when the placement pins vCPUs (a dedicated or mixed cell)."""
        placement = self.placement
        return placement is not None and any(c.cpu_policy in _PINNED for c in placement.cells)

    @functools.cached_property
    def unbacked_overhead_vcpus(self) -> int:
        """Overhead vCPUs that no reserved emulator pCPU of the placement stands for."""
        placement = self.placement
        reserved = 0 if placement is None else len(placement.cpuset_reserved or ())
        return max(0, self.overhead.vcpus - reserved)


def make_claim(
    uuid: str,
    placement: InstanceNUMATopology | None,
    resources: Resources,
    overhead: Resources,
    devices: Any = (),
) -> Claim:
    """A :class:`Claim` holding its own copies of the placement and the PCI devices."""
    return Claim(
        instance_uuid=uuid,
        placement=None if placement is None else fast.clone(placement),
        resources=resources,
        overhead=overhead,
        pci_devices=copied(devices),
    )


def granted(verdict: FitVerdict) -> FitVerdict:
    """``verdict`` itself when the guest fits.

    :raises ComputeResourcesUnavailable: it does not; the message is the
        verdict's reason: the summary of the fit's
        :class:`~os_numa.explain.FitReport` (which host cell lacked what, or
        which PCI alias could not be served), or, for a guest without a NUMA
        request, the sentence naming each alias short of devices.
    """
    if not verdict.fits:
        raise exception.ComputeResourcesUnavailable(reason=verdict.reason)
    return verdict


def fit_instance(
    host: NUMATopology,
    request: InstanceNUMATopology,
    limits: NUMATopologyLimits | None = None,
    conf: Any = None,
    pci_requests: Any = None,
    pci_stats: Any = None,
    cell_mapping: Sequence[int] | None = None,
) -> InstanceNUMATopology:
    """The placement of ``request`` on ``host`` as it is used now (``conf``: options,
    default ``CONF``): :func:`os_numa.verdict.fit_or_explain`, granted or raised.

    ``cell_mapping`` (one host cell id per guest cell) holds each guest cell
    to the host cell a scheduler allocated for it in Placement.

    With ``pci_requests`` the devices are part of the fit (served from
    ``pci_stats``) and recorded in the placement's ``pci_devices``.

    :raises ComputeResourcesUnavailable: nothing fits (see :func:`granted`).
    """
    verdict = fit_or_explain(
        host, request, limits, pci_requests, pci_stats, conf, cell_mapping=cell_mapping
    )
    placement = granted(verdict).placement
    assert placement is not None  # a NUMA request that fits has a placement
    return placement


def fit_and_apply(
    host: NUMATopology,
    request: InstanceNUMATopology | None,
    limits: NUMATopologyLimits | None = None,
    conf: Any = None,
    pci_requests: Any = None,
    pci_stats: Any = None,
    cell_mapping: Sequence[int] | None = None,
) -> tuple[InstanceNUMATopology | None, NUMATopology, list]:
    """(placement, host with it claimed, PCI devices) of one guest on ``host`` as used now.

    ``request`` None (no NUMA request) gives no placement, ``host`` itself and,
    with ``pci_requests``, any free matching devices (as in Nova: no guest
    cells for a NUMA policy to apply to). ``cell_mapping``: see
    :func:`fit_instance`. Nothing is mutated.

    :raises ComputeResourcesUnavailable: nothing fits, or too few free
        matching devices (see :func:`granted`).
    """
    verdict = granted(
        fit_or_explain(
            host, request, limits, pci_requests, pci_stats, conf, cell_mapping=cell_mapping
        )
    )
    placement = verdict.placement
    return placement, apply_placement(host, placement), verdict.pci_devices


def copied(devices: Any) -> tuple:
    """The tracker's own copies of PCI device records (versioned objects are cloned),
    so a caller changing the instance's records cannot make a drop free other devices."""
    return tuple(d.obj_clone() if hasattr(d, "obj_clone") else d for d in devices or ())


def pci_addresses(devices: Any) -> list:
    """The host PCI addresses of ``InstancePCIDevice``-like records (``address`` text).

    :raises Invalid: an address is not of the form DDDD:BB:SS.F.
    """
    return [PciAddress.parse(device.address) for device in devices or ()]


def check_pins_recorded(placement: InstanceNUMATopology) -> None:
    """Refuse a topology that was never fitted: pinned vCPUs without pins.

    :raises Invalid: a dedicated or mixed cell lacks a pCPU for some pinned vCPU.
    """
    for index, cell in enumerate(placement.cells):
        if cell.cpu_policy not in _PINNED:
            continue
        missing = set(cell.pcpuset) - set(cell.cpu_pinning or {})
        if missing:
            raise exception.Invalid(
                reason=(
                    f"guest cell {index} has no host pCPU recorded for pinned vCPU(s) "
                    f"{sorted(missing)}; it is a request, not a placement"
                )
            )


def apply_placement(
    host: NUMATopology, placement: InstanceNUMATopology | None, free: bool = False
) -> NUMATopology:
    """A new host topology with ``placement`` claimed (or released with ``free``).

    It shares what the claim does not change with ``host`` (``share``, see
    :func:`os_numa.usage.numa_usage_from_instance_numa`): the tracker never changes a
    topology in place.

    :raises CPUPinningInvalid, CPUPinningUnknown, CPUUnpinningInvalid,
        CPUUnpinningUnknown: from :func:`os_numa.hardware.numa_usage_from_instance_numa`;
        ``host`` is never changed.
    """
    return usage.numa_usage_from_instance_numa(host, placement, free=free, share=True)


def rebuild_orders(items: Sequence[Any], placement_of: Callable[[Any], Any]) -> list[list[Any]]:
    """The orders in which a rebuild tries to account ``items`` (instances or claims).

    A fresh claim's memory rules depend on what was claimed before it: a pinned
    cell, or one with an explicit page size, needs *free* pages, while a shared
    cell without a page size is held only to the cell's total, so shared guests
    may use small pages that pinned guests later cannot have (as in Nova). A
    rebuild does not know the order the claims were made in, so it tries the
    order given and then, if that differs, the guests that need free pages
    first, each group in the given order. The first order whose every claim
    passes is the one accounted.
    """
    given = list(items)
    needs_free = [item for item in given if _needs_free_pages(placement_of(item))]
    reordered = needs_free + [item for item in given if not _needs_free_pages(placement_of(item))]
    return [given] if reordered == given else [given, reordered]


def _needs_free_pages(placement: Any) -> bool:
    if placement is None:
        return False
    return any(
        cell.cpu_policy in _PINNED or (cell.pagesize is not None and cell.pagesize > 0)
        for cell in placement.cells
    )
