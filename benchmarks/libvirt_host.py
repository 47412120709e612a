"""Benchmark the libvirt host path: capabilities -> NUMATopology, and XML rendering.

Run from the repository root: ``.venv/bin/python benchmarks/libvirt_host.py``.
Prints, per sample capabilities document, the median and minimum milliseconds
to parse it safely and build the host NUMATopology, and the microseconds to
render and re-parse a 16-vCPU ``<cputune>``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402

from os_numa import conf as os_numa_conf  # noqa: E402
from os_numa.virt.libvirt import config, host  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "capabilities"


def main() -> int:
    conf = os_numa_conf.make_conf()
    print("capabilities -> NUMATopology (ms, median / min)")
    for path in sorted(SAMPLES.glob("*.xml")):
        document = path.read_bytes()
        median, best = timings(
            lambda document=document: host.host_topology_from_capabilities(document, conf=conf),
            repeat=50,
        )
        print(f"  {path.name:28s} {len(document):7d} B  {median * 1e3:7.2f} / {best * 1e3:7.2f}")

    tune = config.LibvirtConfigGuestCPUTune(
        vcpupin=[config.LibvirtConfigGuestCPUTuneVCPUPin(v, {v + 2}) for v in range(16)],
        emulatorpin=config.LibvirtConfigGuestCPUTuneEmulatorPin({0, 1}),
        iothreadpin=[config.LibvirtConfigGuestCPUTuneIOThreadPin(1, {0, 1})],
        vcpusched=[config.LibvirtConfigGuestCPUTuneVCPUSched(set(range(1, 16)), "fifo", 1)],
    )
    median, best = timings(tune.to_xml, repeat=500)
    print(f"16-vCPU cputune to_xml (us, median / min): {median * 1e6:.1f} / {best * 1e6:.1f}")
    text = tune.to_xml()
    median, best = timings(lambda: config.LibvirtConfigGuestCPUTune.parse_str(text), repeat=500)
    print(f"16-vCPU cputune parse_str (us, median / min): {median * 1e6:.1f} / {best * 1e6:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
