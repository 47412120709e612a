"""Fitting a requested guest NUMA topology onto a host: one job per module.

- :mod:`~os_numa.fit.snapshot`: immutable plain-data views of the inputs;
- :mod:`~os_numa.fit.memory`: memory and huge pages of one cell pair;
- :mod:`~os_numa.fit.packing`: vCPUs onto cores under a thread policy, plus the emulator pCPU;
- :mod:`~os_numa.fit.cellfit`: every check of one cell pair, in Nova's order;
- :mod:`~os_numa.fit.order`: pack or spread order of host cells;
- :mod:`~os_numa.fit.search`: the guest-cell to host-cell assignment (matching);
- :mod:`~os_numa.fit.device_search`: the PCI device search (which host cells serve the requests);
- :mod:`~os_numa.fit.transport`: the min-cost transport the device search solves;
- :mod:`~os_numa.fit.device_reasons`: why the device search failed, in words;
- :mod:`~os_numa.fit.fit`: ``numa_fit_instance_to_host`` itself;
- :mod:`~os_numa.fit.verify`: the rules a recorded placement must obey (restored claims).
"""

from os_numa.fit.fit import numa_fit_instance_to_host
from os_numa.fit.search import Coverage, find_assignment

__all__ = ["Coverage", "find_assignment", "numa_fit_instance_to_host"]
