"""A reference resource tracker: claims, drops and usage of one compute host.

See :doc:`/integration` for how a driver embeds it.
"""

from os_numa.compute.claims import Claim
from os_numa.compute.instance import Instance, Resources
from os_numa.compute.resource_tracker import ResourceTracker
from os_numa.compute.summary import CellUsage, Usage

__all__ = ["CellUsage", "Claim", "Instance", "ResourceTracker", "Resources", "Usage"]
