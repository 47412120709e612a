"""The fitting facade: flavor + image -> constraints -> fit -> usage.

A compute driver or scheduler filter imports this one module. It re-exports
the public names of the modules that do the work; see those modules for the
details.
"""

from os_numa.constraints import (
    MEMPAGES_ANY,
    MEMPAGES_LARGE,
    MEMPAGES_SMALL,
    get_best_cpu_topology,
    get_cpu_policy_constraint,
    get_cpu_thread_policy_constraint,
    get_cpu_topology_constraints,
    get_dedicated_cpu_constraint,
    get_emulator_thread_policy_constraint,
    get_emulator_threads_count_constraint,
    get_emulator_threads_mask_constraint,
    get_locked_memory_constraint,
    get_mem_page_size_constraint,
    get_numa_memory_policy_constraint,
    get_numa_nodes_constraint,
    get_realtime_cpu_constraint,
    get_realtime_priority_constraint,
    is_realtime_enabled,
    numa_get_constraints,
    parse_page_size,
)
from os_numa.explain import CellVerdict, FitReport, explain_fit
from os_numa.fit import numa_fit_instance_to_host
from os_numa.usage import numa_usage_from_instance_numa
from os_numa.verdict import FitVerdict, fit_or_explain

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
    "CellVerdict",
    "FitReport",
    "FitVerdict",
    "explain_fit",
    "fit_or_explain",
    "numa_fit_instance_to_host",
    "numa_usage_from_instance_numa",
]
