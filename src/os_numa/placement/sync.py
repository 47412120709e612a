"""Report a host's provider tree to Placement, changing only what differs.

:func:`sync_tree` creates missing providers (parents first), then for each
provider compares Placement's inventories and traits with the tree's and
writes only those that differ. Writes carry the provider generation; when
another writer changed the provider in between (409), the provider is read
again and the write retried, up to ``retries`` times. Running it twice in a
row sends reads only: the second run changes nothing, not even a generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from os_numa import exception
from os_numa.placement.client import PlacementClient
from os_numa.placement.tree import HostTree, Provider

#: Inventory fields compared with Placement's record (others are Placement's own).
_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


@dataclass(frozen=True)
class SyncResult:
    """What :func:`sync_tree` changed: provider uuids created, inventories and traits written."""

    created: tuple[str, ...] = ()
    inventories: tuple[str, ...] = ()
    traits: tuple[str, ...] = ()
    conflicts: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.inventories or self.traits)


def sync_tree(client: PlacementClient, tree: HostTree, retries: int = 3) -> SyncResult:
    """Make Placement hold ``tree``'s providers, inventories and traits.

    Custom resource classes and traits are created first. A provider removed
    from the tree (a host cell gone offline) is not deleted here: its
    allocations must move first, which is the operator's decision.

    :raises PlacementConflict: a provider kept changing under us for
        ``retries`` attempts, or an inventory shrank below what is allocated.
    :raises PlacementError: any other refusal.
    """
    for provider in tree.providers:
        for resource_class in provider.inventories:
            client.ensure_resource_class(resource_class)
        for trait in provider.traits:
            client.ensure_trait(trait)
    created, inventories, traits = [], [], []
    conflicts = 0
    for provider in tree.providers:
        # Create first, ask later: a new fleet then costs one request per empty provider.
        try:
            client.create_provider(provider.name, provider.uuid, provider.parent_uuid)
            created.append(provider.uuid)
            fresh = True
        except exception.PlacementConflict:
            # It exists (registered before, or by another process just now).
            if client.get_provider(provider.uuid) is None:
                raise
            fresh = False
        for attempt in range(retries + 1):
            try:
                wrote_inv, wrote_traits = _sync_provider(client, provider, fresh and not attempt)
            except exception.PlacementConflict:
                conflicts += 1
                if attempt == retries:
                    raise
                continue
            break
        if wrote_inv:
            inventories.append(provider.uuid)
        if wrote_traits:
            traits.append(provider.uuid)
    return SyncResult(tuple(created), tuple(inventories), tuple(traits), conflicts)


def _sync_provider(client: PlacementClient, provider: Provider, fresh: bool) -> tuple[bool, bool]:
    """Write the provider's inventories and traits where they differ; (wrote inv, wrote traits).

    A provider just created is known to be empty at generation 0: no reads,
    and no writes for what it should not have.
    """
    wanted = {rc: inv.as_dict() for rc, inv in provider.inventories.items()}
    current: dict[str, dict]
    current_traits: frozenset[str] | None
    if fresh:
        generation, current, current_traits = 0, {}, frozenset()
    else:
        generation, current = client.get_inventories(provider.uuid)
        current_traits = None
    wrote_inv = False
    if not _same_inventories(current, wanted):
        generation = client.set_inventories(provider.uuid, generation, wanted)
        wrote_inv = True
    if current_traits is None:
        generation, current_traits = client.get_traits(provider.uuid)
    wrote_traits = False
    if current_traits != provider.traits:
        client.set_traits(provider.uuid, generation, sorted(provider.traits))
        wrote_traits = True
    return wrote_inv, wrote_traits


def _same_inventories(current: Mapping[str, Any], wanted: Mapping[str, dict]) -> bool:
    if set(current) != set(wanted):
        return False
    for rc, record in wanted.items():
        held = current[rc]
        for name in _FIELDS:
            if name == "allocation_ratio":
                if abs(float(held[name]) - float(record[name])) > 1e-6:
                    return False
            elif held[name] != record[name]:
                return False
    return True
