"""A reference resource tracker a compute driver can embed.

It keeps one host's usage: which instance holds which pCPUs, memory and
pages, plus what the driver says each instance costs on top
(``estimate_instance_overhead``: for example the pCPU an isolated emulator
thread runs on), and, when it is given the host's PCI devices, which
devices each instance holds. Claims are all-or-nothing: a claim either fits
and is recorded in full, or raises and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from os_numa import exception
from os_numa.compute import capacity, checkpoint
from os_numa.compute import claims as claims_mod
from os_numa.compute.claims import Claim
from os_numa.compute.instance import (
    Resources,
    flavor_resources,
    instance_image_meta,
    instance_uuid,
    overhead_resources,
    requested_topology,
)
from os_numa.compute.move import MoveClaimsMixin
from os_numa.compute.summary import Usage, summarize
from os_numa.fit import verify
from os_numa.objects import InstanceNUMATopology, NUMATopology, NUMATopologyLimits
from os_numa.pci import request as pci_request
from os_numa.pci.devices import PciDevice
from os_numa.pci.stats import PciDeviceStats


class ResourceTracker(MoveClaimsMixin):
    """Track one host's NUMA usage across instance claims, drops and restarts.

    :param driver: anything with ``estimate_instance_overhead(instance) ->
        {'vcpus', 'memory_mb', 'disk_gb'}``, such as
        :class:`os_numa.virt.driver.ComputeDriver` or the libvirt driver.
    :param host_topology: the host as the driver reports it, before any
        instance is accounted. It is copied; later changes to it do not reach
        the tracker.
    :param conf: the ``oslo.config`` options the fit reads (for example
        ``[compute] packing_host_numa_cells_allocation_strategy``); None means
        the global ``os_numa.conf.CONF``.
    :param limits: allocation ratios for floating vCPUs and memory of shared
        cells, passed to every fit.
    :param pci_devices: the host's PCI devices (:class:`~os_numa.pci.devices.PciDevice`,
        for example from :func:`~os_numa.pci.devices.devices_from_connection`).
        Given (even empty), the tracker serves each flavor's
        ``pci_passthrough:alias`` requests (aliases from ``[pci] alias`` of
        ``conf``) as part of the fit, marks the devices used, and frees them
        on drop; the devices are recorded in the placement's ``pci_devices``
        (or, for a guest without a NUMA request, in ``instance.pci_devices``).
        None (the default): the tracker ignores PCI requests, leaving devices
        to the caller.
    :param checkpoint_path: a file (in a directory that exists) where every change
        of the claims is saved atomically before it takes effect
        (:mod:`os_numa.compute.checkpoint`), for :meth:`load_checkpoint` after a
        restart. None (the default): nothing is written.

    Every public method is thread-safe: one lock covers each fit and the
    bookkeeping that records it, so concurrent claims never share a pCPU.
    The body of an :meth:`instance_claim` block (the slow part: building the
    guest) runs outside the lock.
    """

    def __init__(
        self,
        driver: Any,
        host_topology: NUMATopology,
        conf: Any = None,
        limits: NUMATopologyLimits | None = None,
        pci_devices: Iterable[PciDevice] | None = None,
        checkpoint_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.driver = driver
        self.checkpoint_path = None if checkpoint_path is None else os.fspath(checkpoint_path)
        self.conf = conf
        self.limits = limits
        self._baseline = host_topology.obj_clone()
        self._host = self._baseline
        # Replaced, never changed in place: a snapshot handed out stays valid.
        self._pci_baseline = None if pci_devices is None else PciDeviceStats(pci_devices)
        self._pci = self._pci_baseline
        self._claims: dict[str, Claim] = {}
        # Claims whose ``with`` block runs: a rebuild keeps them (the guest is being
        # built and is in no instance list yet), as Nova's tracker does.
        self._in_flight: set[str] = set()
        self._capacity = capacity.Capacity.of(self._baseline, limits)
        self._moves = {}  # incoming move claims (os_numa.compute.move)
        self._lock = threading.Lock()

    @property
    def usage(self) -> Usage:
        """An immutable snapshot of the current usage."""
        with self._lock:
            return summarize(self._host, self._claims.values(), self._move_claims())

    @property
    def baseline(self) -> NUMATopology:
        """A copy of the host topology the tracker was made with, before any claim."""
        return self._baseline.obj_clone()

    @property
    def host_topology(self) -> NUMATopology:
        """A copy of the host topology with every claim applied."""
        with self._lock:
            return self._host.obj_clone()

    @property
    def pci_stats(self) -> PciDeviceStats | None:
        """A copy of the host's PCI devices and which are used (None: PCI not tracked)."""
        with self._lock:
            return None if self._pci is None else self._pci.copy()

    @contextlib.contextmanager
    def instance_claim(
        self, instance: Any, *, cell_mapping: Sequence[int] | None = None
    ) -> Iterator[Claim]:
        """Claim the host resources ``instance`` needs, for the ``with`` block.

        ``cell_mapping`` (one host cell id per guest cell) keeps each guest
        cell on the host cell that the scheduler allocated for it in
        Placement (:mod:`os_numa.placement`), so the host and Placement agree.

        The requested topology (``instance.numa_topology`` if set, otherwise
        derived from the flavor and image) is fitted to the host as used now;
        the placement is recorded on ``instance.numa_topology``, the driver's
        overhead estimate (made with the placement in place) is added, and
        the host usage is updated. If the ``with`` block raises, all of that
        is undone and the exception propagates. Yields the :class:`Claim`.

        :raises ComputeResourcesUnavailable: nothing fits (CPUs, memory, or
            the PCI devices requested); the message says why.
        :raises InsufficientHostCapacity: the guest fits its cells, but with the
            driver's overhead the host's memory, pCPUs or (with ``limits``)
            floating vCPUs are short (:mod:`os_numa.compute.capacity`); the
            message names the overhead.
        :raises InstanceAlreadyClaimed: the instance already holds a claim.
        :raises Invalid: a bad flavor, extra spec, image property, PCI alias
            request or overhead.
        """
        claim, previous = self._claim(instance, cell_mapping)
        try:
            yield dataclasses.replace(claim, placement=getattr(instance, "numa_topology", None))
        except BaseException:
            self._abort(instance, claim, previous)
            raise
        finally:
            with self._lock:
                self._in_flight.discard(claim.instance_uuid)

    def drop(self, instance: Any) -> None:
        """Release everything ``instance`` (or its uuid) claimed, overhead included.

        :raises InstanceNotClaimed: it holds no claim; nothing changes.
        """
        uuid = instance if isinstance(instance, str) else instance_uuid(instance)
        with self._lock:
            claim = self._claims.get(uuid)
            if claim is None:
                raise exception.InstanceNotClaimed(instance=uuid)
            pci = self._pci_changed(claim.pci_devices, free=True)
            host = claims_mod.apply_placement(self._host, claim.placement, free=True)
            self._commit(host, pci, {u: c for u, c in self._claims.items() if u != uuid})

    def update_available_resource(
        self, instances: Iterable[Any], incoming: Iterable[Any] | None = None
    ) -> Usage:
        """Rebuild the usage from scratch from ``instances``' recorded placements.

        This is what a compute service does after a restart: each instance's
        ``numa_topology`` is taken as its placement (no fit is made), and the
        driver's overhead estimate is added. The new usage replaces the old
        only when every instance could be accounted; returns its snapshot.

        Claims whose :meth:`instance_claim` block is still running are kept
        (their guests are being built and may be in no list yet); an
        instance of ``instances`` that holds such a claim is accounted once,
        by that claim. So a periodic rebuild never frees pCPUs a guest is
        about to use.

        When PCI devices are tracked, each instance's devices (its
        placement's ``pci_devices``, else ``instance.pci_devices``) are marked
        used again.

        ``incoming`` lists the instances moving to this host (see
        :mod:`os_numa.compute.move`): each one's ``migration_context`` new
        placement is a move claim here. None keeps the move claims the tracker
        holds now.

        :raises InstanceUsageConflict: an instance's placement clashes with an
            earlier one (a pCPU pinned twice, an unknown pCPU or cell, a PCI
            device held twice or unknown), is not a placement at all, its
            uuid repeats, or with the driver's overhead the host's capacity is
            exceeded; the message names it and the tracker keeps its previous
            usage.
        """
        instances = list(instances)
        with self._lock:
            building = self._building()
            failure: exception.PlacementInvalid | None = None
            # The memory rules depend on the claims' order: see claims.rebuild_orders.
            for order in claims_mod.rebuild_orders(
                instances, lambda instance: getattr(instance, "numa_topology", None)
            ):
                host = self._baseline
                pci = None if self._pci_baseline is None else self._pci_baseline.copy()
                rebuilt: dict[str, Claim] = {}
                try:
                    for instance in order:
                        if instance_uuid(instance) in building:
                            continue  # accounted below, by the claim its block holds
                        claim, host = self._account(instance, host, rebuilt, pci)
                        rebuilt[claim.instance_uuid] = claim
                except exception.PlacementInvalid as exc:
                    failure = failure or exc
                    continue
                return self._finish_rebuild(host, pci, _in_order(rebuilt, instances), incoming)
            assert failure is not None
            raise failure

    def restore(self, claims: Iterable[Claim], moves: Iterable[Claim] = ()) -> Usage:
        """Rebuild the usage from scratch from ``claims`` (a checkpoint's, say).

        Like :meth:`update_available_resource`, but each :class:`Claim` keeps
        the overhead recorded in it (the driver is not asked again) and its
        placement as it is, thread policy and emulator details included. Each
        placement must pass the rules of a fresh claim
        (:func:`os_numa.fit.verify.check_placement`) on the host as the claims
        before it left it. Claims whose :meth:`instance_claim` block runs are kept.

        ``moves`` are move claims that were in progress (a checkpoint's): their
        guests hold the new placement on this host, so each is restored as the
        instance's claim here; the move itself (its migration context) is not
        restored, so it can no longer be confirmed or reverted as a move.

        :raises PlacementInvalid: a placement breaks a rule (named, with the instance).
        :raises InstanceUsageConflict: a claim clashes with an earlier one, is
            not a placement, repeats a uuid, or the claims exceed the host's
            capacity; the tracker keeps its previous usage.
        """
        claims = list(claims)
        held = {claim.instance_uuid for claim in claims}
        for move in moves:
            if move.instance_uuid in held:
                raise exception.InstanceUsageConflict(
                    instance=move.instance_uuid,
                    reason="it was resizing on this host (an instance claim and a move "
                    "claim); the move cannot be restored without its migration context",
                )
            claims.append(move)
        with self._lock:
            building = self._building()
            failure: exception.PlacementInvalid | None = None
            # The memory rules depend on the claims' order: see claims.rebuild_orders.
            for order in claims_mod.rebuild_orders(claims, lambda claim: claim.placement):
                host = self._baseline
                pci = None if self._pci_baseline is None else self._pci_baseline.copy()
                rebuilt: dict[str, Claim] = {}
                try:
                    for claim in order:
                        uuid = claim.instance_uuid
                        if uuid in building:
                            continue
                        if uuid in rebuilt:
                            raise exception.InstanceUsageConflict(
                                instance=uuid, reason="it holds more than one claim"
                            )
                        try:
                            if claim.placement is not None:
                                claims_mod.check_pins_recorded(claim.placement)
                                # A fresh claim's rules, with the flavor's share it recorded.
                                verify.check_placement(
                                    host,
                                    claim.placement,
                                    instance=uuid,
                                    flavor=claim.resources,
                                    limits=self.limits,
                                )
                        except exception.PlacementInvalid:
                            raise  # already names the instance and the rule
                        except exception.OsNumaError as exc:
                            raise exception.InstanceUsageConflict(
                                instance=uuid, reason=str(exc)
                            ) from exc
                        host = self._reapply(
                            claim, host, pci, "its recorded claim cannot be restored: "
                        )
                        rebuilt[uuid] = claims_mod.make_claim(
                            uuid,
                            claim.placement,
                            claim.resources,
                            claim.overhead,
                            claim.pci_devices,
                        )
                except exception.PlacementInvalid as exc:
                    failure = failure or exc
                    continue
                return self._finish_rebuild(host, pci, _in_order(rebuilt, claims))
            assert failure is not None
            raise failure

    def load_checkpoint(self) -> Usage:
        """Restore the claims saved at ``checkpoint_path`` (see :meth:`restore`).

        :raises InvalidConfiguration: the tracker has no ``checkpoint_path``.
        :raises CheckpointInvalid: the file is missing, corrupt, truncated,
            tampered with, too large or of another version.
        :raises CheckpointMismatch: it was written for another host topology.
        :raises InstanceUsageConflict: its claims cannot be accounted together.
        """
        if self.checkpoint_path is None:
            raise exception.InvalidConfiguration(
                reason="this ResourceTracker was made without checkpoint_path"
            )
        saved = checkpoint.load(self.checkpoint_path)
        saved.verify_host(self._baseline, self.checkpoint_path)
        return self.restore(saved.claims, saved.moves)

    # -- internals (callers hold no lock; these take it where needed) --------

    def _building(self) -> set[str]:
        """The uuids whose :meth:`instance_claim` block runs and still holds its claim."""
        return {uuid for uuid in self._in_flight if uuid in self._claims}

    def _finish_rebuild(
        self,
        host: NUMATopology,
        pci: PciDeviceStats | None,
        rebuilt: dict[str, Claim],
        incoming: Iterable[Any] | None = None,
    ) -> Usage:
        """Add the in-flight and move claims to a rebuilt state, check it and make it
        current (``incoming``: see :meth:`update_available_resource`)."""
        for uuid in sorted(self._building()):
            claim = self._claims[uuid]
            host = self._reapply(claim, host, pci, "its claim is being built and ")
            rebuilt[uuid] = claim
        host, moves = self._rebuilt_moves(host, pci, incoming)
        self._check_capacity(host, [*rebuilt.values(), *(m.claim for m in moves.values())])
        self._commit(host, pci, rebuilt, moves)
        return summarize(self._host, self._claims.values(), self._move_claims())

    def _commit(
        self,
        host: NUMATopology,
        pci: PciDeviceStats | None,
        claims: dict[str, Claim],
        moves: dict[str, Any] | None = None,
    ) -> None:
        """Make ``claims`` (and ``moves``; None: the current ones) the current state:
        saved first (when checkpointing), then kept."""
        moves = self._moves if moves is None else moves
        self._save(claims, moves)
        self._host = host
        self._pci = pci
        self._claims = claims
        self._moves = moves

    def _save(self, claims: dict[str, Claim] | None = None, moves: dict | None = None) -> None:
        """Write the checkpoint of ``claims`` and ``moves`` (default: the current ones),
        when the tracker has a ``checkpoint_path``. The caller holds the lock; the move
        claims (:mod:`os_numa.compute.move`) call it after each change they make."""
        if self.checkpoint_path is None:
            return
        claims = self._claims if claims is None else claims
        moves = self._moves if moves is None else moves
        checkpoint.write(
            self.checkpoint_path,
            self._baseline,
            claims.values(),
            moves=[move.claim for move in moves.values()],
        )

    def _pci_requests(self, instance: Any) -> list:
        """The instance's PCI requests, or [] when the tracker does not track PCI."""
        if self._pci_baseline is None:
            return []
        aliases = pci_request.aliases_from_conf(self.conf)
        return pci_request.get_pci_requests(instance.flavor, instance_image_meta(instance), aliases)

    def _pci_changed(self, devices: Any, free: bool = False) -> PciDeviceStats | None:
        """New PCI stats with ``devices`` claimed (or freed); the current ones are untouched."""
        if self._pci is None or not devices:
            return self._pci
        stats = self._pci.copy()
        addresses = claims_mod.pci_addresses(devices)
        (stats.free if free else stats.claim)(addresses)
        return stats

    def _claim(self, instance: Any, cell_mapping: Sequence[int] | None = None) -> tuple[Claim, Any]:
        uuid = instance_uuid(instance)
        resources = flavor_resources(instance.flavor)
        previous = getattr(instance, "numa_topology", None)
        request = requested_topology(instance)
        pci_requests = self._pci_requests(instance)
        with self._lock:
            if uuid in self._claims:
                raise exception.InstanceAlreadyClaimed(instance=uuid)
            claim, _, host, pci = self._fit_claim(
                uuid, instance, request, resources, pci_requests, cell_mapping
            )
            try:
                self._commit(host, pci, {**self._claims, uuid: claim})
            except BaseException:
                _unrecord(instance, previous, claim.placement, claim.pci_devices)
                raise
            self._in_flight.add(uuid)
        return claim, previous

    def _fit_claim(
        self,
        uuid: str,
        subject: Any,
        request: InstanceNUMATopology | None,
        resources: Resources,
        pci_requests: list,
        cell_mapping: Sequence[int] | None = None,
    ) -> tuple[Claim, InstanceNUMATopology | None, NUMATopology, PciDeviceStats | None]:
        """Fit ``request`` on the host as used now and make the claim ``uuid`` would hold.

        The one claim step of an instance claim and a move claim: the caller holds
        the lock and records the result, (the claim, the fit's own placement, the
        host with it applied, the PCI stats with its devices used); nothing of the
        tracker changes here. ``subject`` (the instance, or a stand-in for it) gets
        the placement (or, without a NUMA request, the devices) first, since the
        driver's overhead estimate reads them; when the estimate or the host-wide
        capacity check fails, it gets its values back.

        :raises ComputeResourcesUnavailable: nothing fits.
        :raises InsufficientHostCapacity: it fits, but not with the driver's overhead.
        :raises Invalid: the overhead estimate is not valid.
        """
        placement, host, devices = claims_mod.fit_and_apply(
            self._host,
            request,
            self.limits,
            self.conf,
            pci_requests,
            self._pci,
            cell_mapping=cell_mapping,
        )
        pci = self._pci_changed(devices)
        previous = getattr(subject, "numa_topology", None)
        if placement is not None:
            subject.numa_topology = placement
        elif devices:
            subject.pci_devices = devices
        try:
            overhead = overhead_resources(
                self.driver.estimate_instance_overhead(subject), self.driver
            )
            claim = claims_mod.make_claim(uuid, placement, resources, overhead, devices)
            capacity.check(
                host,
                [*self._claims.values(), *self._move_claims(), claim],
                self._capacity,
                claim,
                self.driver,
            )
        except BaseException:
            _unrecord(subject, previous, placement, devices)
            raise
        return claim, placement, host, pci

    def _abort(self, instance: Any, claim: Claim, previous: Any) -> None:
        with self._lock:
            if self._claims.get(claim.instance_uuid) is not claim:
                return  # dropped (or rebuilt away) inside the block: nothing left to undo
            pci = self._pci_changed(claim.pci_devices, free=True)
            host = claims_mod.apply_placement(self._host, claim.placement, free=True)
            remaining = {u: c for u, c in self._claims.items() if u != claim.instance_uuid}
            try:
                self._commit(host, pci, remaining)
            finally:
                # The guest failed: it holds nothing, even if the checkpoint could not be
                # rewritten (a restart then refuses the stale checkpoint, naming the claim).
                self._host, self._pci, self._claims = host, pci, remaining
            _unrecord(instance, previous, claim.placement, claim.pci_devices)

    def _reapply(
        self, claim: Claim, host: NUMATopology, pci: PciDeviceStats | None, why: str = ""
    ) -> NUMATopology:
        """Account a claim the tracker already holds on ``host`` (returned anew) and ``pci``."""
        try:
            host = claims_mod.apply_placement(host, claim.placement)
            if pci is not None:
                pci.claim(claims_mod.pci_addresses(claim.pci_devices))
        except exception.OsNumaError as exc:
            raise exception.InstanceUsageConflict(
                instance=claim.instance_uuid,
                reason=f"{why}{exc}",
            ) from exc
        return host

    def _check_capacity(self, host: NUMATopology, claims: list[Claim]) -> None:
        """Refuse a rebuild whose claims exceed the host, naming the first that overflows."""
        if not claims:
            return
        try:
            capacity.check(host, claims, self._capacity, claims[-1], self.driver)
        except exception.InsufficientHostCapacity:
            pass
        else:
            return
        for count in range(1, len(claims) + 1):
            try:
                capacity.check(host, claims[:count], self._capacity, claims[count - 1], self.driver)
            except exception.InsufficientHostCapacity as exc:
                raise exception.InstanceUsageConflict(
                    instance=claims[count - 1].instance_uuid, reason=str(exc)
                ) from exc

    def _account(
        self,
        instance: Any,
        host: NUMATopology,
        seen: dict[str, Claim],
        pci: PciDeviceStats | None = None,
    ) -> tuple[Claim, NUMATopology]:
        """Account one recorded instance on ``host`` (returned anew) and ``pci`` (in place)."""
        uuid = instance_uuid(instance)
        if uuid in seen:
            raise exception.InstanceUsageConflict(
                instance=uuid, reason="it appears more than once in the instance list"
            )
        placement = getattr(instance, "numa_topology", None)
        try:
            resources = flavor_resources(instance.flavor)
            if placement is not None:
                claims_mod.check_pins_recorded(placement)
                verify.check_placement(
                    host, placement, instance=uuid, flavor=instance.flavor, limits=self.limits
                )
                host = claims_mod.apply_placement(host, placement)
            devices: tuple = ()
            if pci is not None:
                held = getattr(placement, "pci_devices", None) if placement is not None else None
                devices = tuple(held or getattr(instance, "pci_devices", None) or ())
                pci.claim(claims_mod.pci_addresses(devices))
            overhead = overhead_resources(
                self.driver.estimate_instance_overhead(instance), self.driver
            )
        except exception.PlacementInvalid:
            raise  # already names the instance and the rule
        except exception.OsNumaError as exc:
            raise exception.InstanceUsageConflict(instance=uuid, reason=str(exc)) from exc
        claim = claims_mod.make_claim(uuid, placement, resources, overhead, devices)
        return claim, host


def _unrecord(instance: Any, previous: Any, placement: Any, devices: Any) -> None:
    """Give ``instance`` back what it had before a claim's ``placement`` (or, without
    one, its ``devices``) was recorded on it."""
    instance.numa_topology = previous
    if placement is None and devices:
        instance.pci_devices = []


def _in_order(rebuilt: dict[str, Claim], given: Sequence[Any]) -> dict[str, Claim]:
    """``rebuilt`` keyed in the order ``given`` lists the instances or claims."""
    order = {}
    for item in given:
        uuid = item.instance_uuid if isinstance(item, Claim) else instance_uuid(item)
        if uuid in rebuilt:
            order[uuid] = rebuilt[uuid]
    return order
