"""Constraints: what a flavor and an image ask for, as a requested guest topology.

``numa_get_constraints(flavor, image_meta)`` reads the ``hw:`` extra specs
and ``hw_`` image properties, validates every one and every combination with
a typed error from :mod:`os_numa.exception`, and returns the requested
:class:`~os_numa.objects.InstanceNUMATopology` (or None when nothing asks for
NUMA placement). The ``get_*_constraint`` helpers expose each decision on its
own. One module per topic: :mod:`.cpu` (CPU, thread and emulator policies,
emulator pCPU count, dedicated mask, the Placement form), :mod:`.emulator`
(the emulator mask), :mod:`.realtime` (incl. priority), :mod:`.pages`,
:mod:`.numa` (node count and split), :mod:`.cpu_topology` (the guest's
sockets, cores and threads), :mod:`.memory_policy` (the ``<numatune>`` mode),
:mod:`.iothreads` (I/O thread count and placement),
:mod:`.topology` (the assembly) and :mod:`.placement_policy` (the XML policy
fields of a placement made elsewhere, filled from its flavor and image).
See ``doc/source/extra-specs.rst`` for every key.
"""

from os_numa.constraints.cpu import (
    get_cpu_policy_constraint,
    get_cpu_thread_policy_constraint,
    get_dedicated_cpu_constraint,
    get_emulator_thread_policy_constraint,
    get_emulator_threads_count_constraint,
)
from os_numa.constraints.cpu_topology import (
    get_best_cpu_topology,
    get_cpu_topology_constraints,
)
from os_numa.constraints.memory_policy import get_numa_memory_policy_constraint
from os_numa.constraints.numa import get_numa_nodes_constraint
from os_numa.constraints.pages import (
    MEMPAGES_ANY,
    MEMPAGES_LARGE,
    MEMPAGES_SMALL,
    get_locked_memory_constraint,
    get_mem_page_size_constraint,
    parse_page_size,
)
from os_numa.constraints.realtime import (
    get_realtime_cpu_constraint,
    get_realtime_priority_constraint,
    is_realtime_enabled,
)
from os_numa.constraints.topology import (
    get_emulator_threads_mask_constraint,
    numa_get_constraints,
)

__all__ = [
    "MEMPAGES_ANY",
    "MEMPAGES_LARGE",
    "MEMPAGES_SMALL",
    "get_best_cpu_topology",
    "get_cpu_policy_constraint",
    "get_cpu_topology_constraints",
    "get_cpu_thread_policy_constraint",
    "get_dedicated_cpu_constraint",
    "get_emulator_thread_policy_constraint",
    "get_emulator_threads_count_constraint",
    "get_emulator_threads_mask_constraint",
    "get_locked_memory_constraint",
    "get_mem_page_size_constraint",
    "get_numa_memory_policy_constraint",
    "get_numa_nodes_constraint",
    "get_realtime_cpu_constraint",
    "get_realtime_priority_constraint",
    "is_realtime_enabled",
    "numa_get_constraints",
    "parse_page_size",
]
