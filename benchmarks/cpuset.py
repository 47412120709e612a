"""Benchmark parse_cpu_spec on typical and hostile specs.

Run from the repository root: ``.venv/bin/python benchmarks/cpuset.py``. Prints
the median and minimum microseconds per call for each scenario: typical specs,
the longest accepted spec of overlapping full ranges (merged before expansion),
and hostile inputs that must be refused without parsing or allocating
(``0-4294967295``, a 100 MB string).
"""

from __future__ import annotations

from measure import timings

from os_numa import cpuset, exception


def refused(spec: str):
    def call():
        try:
            cpuset.parse_cpu_spec(spec)
        except exception.InvalidCPUSpec:
            return
        raise AssertionError(f"{spec[:40]!r} was accepted")

    return call


def main() -> None:
    full = f"0-{cpuset.MAX_CPU_ID - 1}"
    overlapping = ",".join([full] * (cpuset.MAX_SPEC_LENGTH // (len(full) + 1)))
    huge = "0," * (50 * 1024 * 1024)
    scenarios = [
        ("typical '0-3,8-11,^9'", lambda: cpuset.parse_cpu_spec("0-3,8-11,^9"), 2000),
        (
            "256 CPUs, 64 items",
            lambda: cpuset.parse_cpu_spec(",".join(f"{i}-{i + 3}" for i in range(0, 256, 4))),
            500,
        ),
        ("format 256 CPUs", lambda: cpuset.format_cpu_spec(range(0, 512, 2)), 500),
        (
            f"{len(overlapping)} chars of overlapping 0-65535",
            lambda: cpuset.parse_cpu_spec(overlapping),
            10,
        ),
        ("refuse '0-4294967295'", refused("0-4294967295"), 2000),
        ("refuse a 100 MB spec", refused(huge), 20),
    ]
    for name, func, repeat in scenarios:
        median, best = timings(func, repeat, unit="us")
        print(f"{name:45s} median {median:12.1f} us   min {best:12.1f} us")


if __name__ == "__main__":
    main()
