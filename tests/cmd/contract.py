"""The ``--format json`` contract keys, as the design's API page lists them."""

CONTRACT_KEYS = [
    "fits",
    "emulator_threads_policy",
    "cells",
    "emulatorpin",
    "vcpusched",
    "explanation",
]
CELL_KEYS = {
    "guest_cell",
    "host_cell",
    "vcpus",
    "cpu_pinning",
    "cpuset_reserved",
    "memory_mb",
    "pagesize_kb",
}
