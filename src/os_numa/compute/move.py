"""Move claims: a guest held on two hosts while it moves, until the move is confirmed or reverted.

A move (live or cold migration, resize, evacuation) reserves the guest's new
placement on the destination host while the source host still holds the old
one, as Nova's resource tracker does with its move claims
(nova/compute/resource_tracker.py) and migration context
(nova/objects/migration_context.py):

1. ``dest.move_claim(instance, new_flavor=None, image_meta=None)`` fits the
   guest on the destination as it is used now and records the claim there. It
   sets ``instance.migration_context`` (old and new placement, old and new PCI
   devices) and, for a resize, ``instance.new_flavor`` / ``instance.old_flavor``.
   ``instance.numa_topology`` is *not* changed: it stays the source placement.
2. ``dest.confirm(instance, source)``: the move is done. The source frees the
   old placement, the destination's move claim becomes the instance's claim
   there, and the instance takes the new placement (and flavor).
   ``dest.revert(instance)``: the move is abandoned. The destination frees the
   new placement and the instance keeps (gets back, if a caller changed it) the
   old placement exactly.

Without a new flavor the guest keeps its shape (live migration, cold migration
and evacuation): the same guest cells with the same vCPUs, memory and page size,
the same emulator policy, count and mask and the same realtime vCPUs; only the
host cells and pCPUs are chosen anew (:func:`shape_request`). With a new flavor
(resize) the new flavor and image are fitted from scratch. A resize to the same
host holds both placements on one tracker until it is confirmed.

Everything runs under the tracker's lock; a move claim either fits and is
recorded in full, or raises and leaves the tracker and the instance as they were.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from os_numa import constraints, exception
from os_numa.compute import claims as claims_mod
from os_numa.compute.claims import Claim
from os_numa.compute.instance import (
    Instance,
    flavor_resources,
    instance_image_meta,
    instance_uuid,
)
from os_numa.objects import (
    InstanceNUMATopology,
    MigrationContext,
    NUMATopology,
)
from os_numa.pci.stats import PciDeviceStats


@dataclasses.dataclass(frozen=True)
class Move:
    """A move claim as the destination tracker keeps it.

    ``claim`` is what the guest holds on this host (its new placement);
    ``old_placement`` and ``old_pci_devices`` the tracker's copies of what the
    guest had before (given back on revert); ``new_flavor`` the flavor of a
    resize (None when the flavor stays).
    """

    claim: Claim
    old_placement: InstanceNUMATopology | None
    old_pci_devices: tuple = ()
    new_flavor: Any = None
    migration_id: int | None = None

    def context(self) -> MigrationContext:
        """A new migration context with its own copies of both sides."""
        return MigrationContext(
            instance_uuid=self.claim.instance_uuid,
            migration_id=self.migration_id,
            old_numa_topology=_cloned(self.old_placement),
            new_numa_topology=_cloned(self.claim.placement),
            old_pci_devices=[d.obj_clone() for d in self.old_pci_devices],
            new_pci_devices=[d.obj_clone() for d in self.claim.pci_devices],
        )


class MoveClaim:
    """What :meth:`MoveClaimsMixin.move_claim` returns.

    ``placement`` is the guest's new placement on the destination (None for a
    guest without NUMA placement), ``claim`` the destination's
    :class:`~os_numa.compute.claims.Claim` and ``context`` the
    :class:`~os_numa.objects.MigrationContext` set on the instance.
    Used as a context manager, the claim is reverted when the block raises
    (for example when spawning on the destination fails), as Nova's claims are.
    """

    def __init__(self, tracker: MoveClaimsMixin, instance: Any, move: Move) -> None:
        self._tracker = tracker
        self._instance = instance
        self._move = move

    @property
    def claim(self) -> Claim:
        return self._move.claim

    @property
    def placement(self) -> InstanceNUMATopology | None:
        placement = self._move.claim.placement
        return None if placement is None else placement.obj_clone()

    @property
    def context(self) -> MigrationContext:
        return self._move.context()

    def __enter__(self) -> MoveClaim:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._tracker._abort_move(self._instance, self._move)


def shape_request(placement: InstanceNUMATopology) -> InstanceNUMATopology:
    """The request that keeps a placed guest's shape on another host.

    A copy of ``placement`` with every host choice cleared: guest cell ids back
    to their index, no pinning, no reserved emulator pCPUs, no pool pCPU, no PCI
    devices (the destination's are chosen by the fit from the flavor's requests).
    The vCPU sets, memory, resolved page size, CPU and thread policies, emulator
    policy, count and mask and realtime vCPUs stay as they are.
    """
    request = placement.obj_clone()
    for index, cell in enumerate(request.cells):
        cell.id = index
        cell.cpu_pinning = None
        cell.cpuset_reserved = None
    request.pci_devices = []
    request.emulator_pool_cpu = None
    return request


def _cloned(obj: Any) -> Any:
    return None if obj is None else obj.obj_clone()


def _old_pci_devices(instance: Any) -> list:
    placement = getattr(instance, "numa_topology", None)
    held = getattr(placement, "pci_devices", None) if placement is not None else None
    return [d.obj_clone() for d in (held or getattr(instance, "pci_devices", None) or ())]


def _set_attrs(instance: Any, values: dict[str, Any]) -> None:
    """Set ``values`` on ``instance``; if one fails, put back the ones already set."""
    before = {name: getattr(instance, name, None) for name in values}
    done = []
    try:
        for name, value in values.items():
            setattr(instance, name, value)
            done.append(name)
    except BaseException:
        for name in reversed(done):
            setattr(instance, name, before[name])
        raise


class MoveClaimsMixin:
    """Move claims for :class:`~os_numa.compute.resource_tracker.ResourceTracker`.

    The tracker provides ``_lock``, ``_host``, ``_pci``, ``_claims``,
    ``_pci_requests``, ``_pci_changed``, ``_fit_claim`` (the claim step that an
    instance claim takes too), ``_reapply``, ``_account`` and ``_save``; this class keeps the
    destination side of each move in ``_moves`` (instance uuid -> :class:`Move`).
    """

    _moves: dict[str, Move]

    if TYPE_CHECKING:
        # What the tracker provides (ResourceTracker defines them), declared for type checkers.
        _lock: threading.Lock
        _host: NUMATopology
        _pci: PciDeviceStats | None
        _claims: dict[str, Claim]

        # The tracker's methods this class calls, by their results (the arguments are
        # ResourceTracker's own, which mypy checks there):
        _pci_requests: Callable[..., list]  # (instance)
        _pci_changed: Callable[..., PciDeviceStats | None]  # (devices, free=False)
        # (uuid, subject, request, resources, pci_requests, cell_mapping) ->
        # (claim, placement, host, pci)
        _fit_claim: Callable[
            ..., tuple[Claim, InstanceNUMATopology | None, NUMATopology, PciDeviceStats | None]
        ]
        _reapply: Callable[..., NUMATopology]  # (claim, host, pci, why="")
        _account: Callable[..., tuple[Claim, NUMATopology]]  # (instance, host, seen, pci=None)
        _save: Callable[..., None]  # (claims=None, moves=None)

    # -- public ----------------------------------------------------------------

    @property
    def moves(self) -> frozenset[str]:
        """The uuids of the instances moving to this host (holding a move claim here)."""
        with self._lock:
            return frozenset(self._moves)

    def move_claim(
        self,
        instance: Any,
        new_flavor: Any = None,
        image_meta: Any = None,
        *,
        migration_id: int | None = None,
        cell_mapping: Sequence[int] | None = None,
    ) -> MoveClaim:
        """Reserve ``instance``'s placement on this (the destination) host.

        ``new_flavor`` None keeps the guest's shape (live or cold migration,
        evacuation): the placement in ``instance.numa_topology`` is re-fitted
        here with :func:`shape_request`. A ``new_flavor`` (resize) is fitted
        with ``image_meta`` (default: the instance's image). PCI devices, when
        the tracker tracks them, come from the flavor's aliases.
        ``cell_mapping`` (one host cell id per guest cell) holds the guest
        cells to the destination's host cells a scheduler allocated in Placement.

        Sets ``instance.migration_context`` (and, for a resize,
        ``instance.new_flavor`` and ``instance.old_flavor``); leaves
        ``instance.numa_topology`` and ``instance.flavor`` as they are.

        :raises ComputeResourcesUnavailable: the guest does not fit here; the
            message says why, per host cell.
        :raises InstanceMoveInProgress: the instance already has a migration
            context, or a move claim here.
        :raises Invalid: a bad flavor, extra spec, image property or overhead.
        """
        uuid = instance_uuid(instance)
        if getattr(instance, "migration_context", None) is not None:
            raise exception.InstanceMoveInProgress(instance=uuid)
        flavor = instance.flavor if new_flavor is None else new_flavor
        resources = flavor_resources(flavor)
        image = instance_image_meta(instance) if image_meta is None else image_meta
        old = getattr(instance, "numa_topology", None)
        request: InstanceNUMATopology | None
        if new_flavor is None and old is not None:
            claims_mod.check_pins_recorded(old)
            request = shape_request(old)
        else:
            request = constraints.numa_get_constraints(flavor, image)
        target = Instance(uuid=uuid, flavor=flavor, image_meta=image)
        pci_requests = self._pci_requests(target)
        with self._lock:
            if uuid in self._moves:
                raise exception.InstanceMoveInProgress(instance=uuid)
            claim, placement, host, pci = self._fit_claim(
                uuid, target, request, resources, pci_requests, cell_mapping
            )
            old_devices = _old_pci_devices(instance)
            move = Move(claim, _cloned(old), tuple(old_devices), new_flavor, migration_id)
            # The fit's placement is new and nobody else's: the instance's context takes
            # it as it is; the tracker keeps the claim's own copy.
            context = MigrationContext(
                instance_uuid=uuid,
                migration_id=migration_id,
                old_numa_topology=_cloned(old),
                new_numa_topology=placement,
                old_pci_devices=[d.obj_clone() for d in old_devices],
                new_pci_devices=[d.obj_clone() for d in claim.pci_devices],
            )
            values: dict[str, Any] = {}
            if new_flavor is not None:
                values.update(old_flavor=instance.flavor, new_flavor=new_flavor)
            values["migration_context"] = context
            self._save(moves={**self._moves, uuid: move})  # the checkpoint first
            try:
                _set_attrs(instance, values)
            except BaseException:
                self._save()  # back to the checkpoint without this move
                raise
            self._host = host
            self._pci = pci
            self._moves[uuid] = move
        return MoveClaim(self, instance, move)

    def confirm(self, instance: Any, source: Any) -> None:
        """The move of ``instance`` to this host is done: keep the new placement.

        ``source`` is the source host's tracker (this tracker for a resize on
        the same host), which frees the old placement; None when the source
        host is gone and there is nothing to free (an evacuation whose source
        tracker is not in this process). The move claim becomes the instance's
        claim here; the instance gets the new placement as ``numa_topology``
        (and the new flavor of a resize) and loses its migration context.

        :raises MoveClaimNotFound: no move claim of ``instance`` here; nothing changes.
        :raises InstanceNotClaimed: ``source`` does not hold the instance; nothing changes.
        :raises InstanceAlreadyClaimed: this (another) host already holds an
            instance claim for it; nothing changes.
        """
        uuid = instance_uuid(instance)
        if source is self:
            with self._lock:
                move = self._move_of(uuid)
                self._save(*self._confirmed(uuid, move))
                old = self._claims.get(uuid)
                if old is not None:
                    host = claims_mod.apply_placement(self._host, old.placement, free=True)
                    self._pci = self._pci_changed(old.pci_devices, free=True)
                    self._host = host
                self._claims[uuid] = move.claim
                del self._moves[uuid]
        else:
            if source is not None and not source.holds(uuid):
                raise exception.InstanceNotClaimed(instance=uuid)
            with self._lock:
                move = self._move_of(uuid)
                if uuid in self._claims:
                    raise exception.InstanceAlreadyClaimed(instance=uuid)
                self._save(*self._confirmed(uuid, move))
                self._claims[uuid] = move.claim
                del self._moves[uuid]
            if source is not None:
                try:
                    source.drop(uuid)
                except exception.InstanceNotClaimed:
                    pass  # dropped meanwhile: the old placement is free already
                except BaseException:
                    with self._lock:
                        if self._claims.get(uuid) is move.claim:
                            del self._claims[uuid]
                            self._moves[uuid] = move
                            self._save()
                    raise
        values: dict[str, Any] = {"numa_topology": _cloned(move.claim.placement)}
        if self._pci is not None:
            # The devices go where a claim records them: in the placement of a NUMA
            # guest, else on the instance. A NUMA guest's instance list is emptied, or
            # the devices of an earlier placement without NUMA would stay there, and a
            # rebuild (which reads them when the placement holds none) would claim them.
            values["pci_devices"] = (
                []
                if move.claim.placement is not None
                else [d.obj_clone() for d in move.claim.pci_devices]
            )
        if move.new_flavor is not None:
            values.update(flavor=move.new_flavor, old_flavor=None, new_flavor=None)
        values["migration_context"] = None
        _set_attrs(instance, values)

    def revert(self, instance: Any) -> None:
        """The move of ``instance`` to this host is abandoned: free the new placement.

        The instance gets back exactly the placement (and PCI devices) it had
        before the move claim, keeps its flavor and loses its migration context.
        The source host's claim was never touched.

        :raises MoveClaimNotFound: no move claim of ``instance`` here; nothing changes.
        """
        uuid = instance_uuid(instance)
        with self._lock:
            move = self._move_of(uuid)
            self._release(move)
        self._restore(instance, move)

    def holds(self, instance: Any) -> bool:
        """Whether ``instance`` (or its uuid) holds an instance claim here (not a move claim)."""
        uuid = instance if isinstance(instance, str) else instance_uuid(instance)
        with self._lock:
            return uuid in self._claims

    # -- internals ---------------------------------------------------------------

    def _move_of(self, uuid: str) -> Move:
        move = self._moves.get(uuid)
        if move is None:
            raise exception.MoveClaimNotFound(instance=uuid)
        return move

    def _release(self, move: Move) -> None:
        """Free a recorded move claim (the caller holds the lock)."""
        host = claims_mod.apply_placement(self._host, move.claim.placement, free=True)
        uuid = move.claim.instance_uuid
        self._save(moves={u: m for u, m in self._moves.items() if u != uuid})
        self._pci = self._pci_changed(move.claim.pci_devices, free=True)
        self._host = host
        del self._moves[move.claim.instance_uuid]

    def _restore(self, instance: Any, move: Move) -> None:
        # The move is no longer recorded: its copies go to the instance as they are.
        values: dict[str, Any] = {"numa_topology": move.old_placement}
        if self._pci is not None and move.old_placement is None:
            values["pci_devices"] = list(move.old_pci_devices)
        if move.new_flavor is not None:
            values.update(old_flavor=None, new_flavor=None)
        values["migration_context"] = None
        _set_attrs(instance, values)

    def _abort_move(self, instance: Any, move: Move) -> None:
        with self._lock:
            if self._moves.get(move.claim.instance_uuid) is not move:
                return  # confirmed, reverted or rebuilt away meanwhile
            self._release(move)
        self._restore(instance, move)

    def _confirmed(self, uuid: str, move: Move) -> tuple[dict, dict]:
        """(claims, moves) once the move of ``uuid`` is confirmed, for the checkpoint."""
        return (
            {**self._claims, uuid: move.claim},
            {u: m for u, m in self._moves.items() if u != uuid},
        )

    def _move_claims(self) -> list[Claim]:
        return [move.claim for move in self._moves.values()]

    def _rebuilt_moves(
        self, host: NUMATopology, pci: PciDeviceStats | None, incoming: Iterable[Any] | None
    ) -> tuple[NUMATopology, dict[str, Move]]:
        """``host`` (and ``pci``, in place) with the move claims applied, and those claims.

        ``incoming`` None keeps the tracker's current move claims; otherwise
        each instance's ``migration_context`` (its ``new_*`` side, and its
        ``new_flavor`` if set) is a move claim to this host.

        :raises InstanceUsageConflict: a move claim clashes with what is
            already accounted, or an incoming instance has no migration context.
        """
        if incoming is None:
            moves = dict(self._moves)
            for move in moves.values():
                host = self._reapply(move.claim, host, pci)
            return host, moves
        moves = {}
        seen: dict[str, Claim] = {}
        for instance in incoming:
            uuid = instance_uuid(instance)
            context = getattr(instance, "migration_context", None)
            if context is None:
                raise exception.InstanceUsageConflict(
                    instance=uuid, reason="it is listed as incoming but has no migration context"
                )
            new_flavor = getattr(instance, "new_flavor", None)
            stand_in = Instance(
                uuid=uuid,
                flavor=instance.flavor if new_flavor is None else new_flavor,
                image_meta=instance_image_meta(instance),
                numa_topology=_cloned(context.new_numa_topology),
                pci_devices=[d.obj_clone() for d in context.new_pci_devices],
            )
            claim, host = self._account(stand_in, host, seen, pci)
            seen[uuid] = claim
            moves[uuid] = Move(
                claim,
                _cloned(context.old_numa_topology),
                tuple(d.obj_clone() for d in context.old_pci_devices),
                new_flavor,
                context.migration_id,
            )
        return host, moves
