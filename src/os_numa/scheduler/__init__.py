"""Scheduler side: placement request translation and a NUMA host filter.

See :doc:`/integration` for how a scheduler uses them.
"""

from os_numa.scheduler.filters import HostPassResult, host_passes
from os_numa.scheduler.request import ResourceRequest, resources_from_request

__all__ = ["HostPassResult", "ResourceRequest", "host_passes", "resources_from_request"]
