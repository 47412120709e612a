"""The timing loop every benchmark script shares.

The scripts are run directly (``.venv/bin/python benchmarks/fit.py``), so this
module is imported by its bare name from the scripts' own folder.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

#: Nanoseconds per unit a figure is reported in.
_NS_PER = {"s": 1e9, "ms": 1e6, "us": 1e3}


def timings(func: Callable[[], object], repeat: int, unit: str = "s") -> tuple[float, float]:
    """Median and minimum wall-clock time of ``func()`` over ``repeat`` calls, in ``unit``
    (``s``, ``ms`` or ``us``).

    One call before the samples warms caches and lazy imports, so that the first
    sample does not pay for them; the minimum shows the cost when nothing else
    competes for the CPU.
    """
    func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        func()
        samples.append(time.perf_counter_ns() - start)
    scale = _NS_PER[unit]
    return statistics.median(samples) / scale, min(samples) / scale
