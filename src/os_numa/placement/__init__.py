"""Across hosts: os-numa's side of OpenStack Placement (optional extra ``os-numa[placement]``).

- :mod:`~os_numa.placement.client`: the HTTP client (microversions, keystoneauth1 or noauth2);
- :mod:`~os_numa.placement.tree`: a host's provider tree (NUMA cells as child providers);
- :mod:`~os_numa.placement.sync`: reporting the tree, writing only what changed;
- :mod:`~os_numa.placement.request`: a guest's request as granular request groups;
- :mod:`~os_numa.placement.scheduler`: candidates -> fit -> allocation -> claim;
- :mod:`~os_numa.placement.fleet`: many hosts and a sequence of guests (``os-numa fleet``).

See :doc:`/scheduling-across-hosts`.
"""

from os_numa.placement.client import MICROVERSION, PlacementClient
from os_numa.placement.request import PlacementRequest, RequestGroup, placement_requests
from os_numa.placement.scheduler import (
    Decision,
    FleetHost,
    Rejection,
    Scheduler,
    Stats,
    register_host,
)
from os_numa.placement.sync import SyncResult, sync_tree
from os_numa.placement.tree import HostTree, Inventory, Provider, host_tree

__all__ = [
    "MICROVERSION",
    "Decision",
    "FleetHost",
    "HostTree",
    "Inventory",
    "PlacementClient",
    "PlacementRequest",
    "Provider",
    "Rejection",
    "RequestGroup",
    "Scheduler",
    "Stats",
    "SyncResult",
    "host_tree",
    "placement_requests",
    "register_host",
    "sync_tree",
]
