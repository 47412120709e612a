"""Benchmark the guest XML builder, and (as root, with --boot) a real QEMU guest's life.

Run from the repository root: ``.venv/bin/python benchmarks/libvirt_driver.py [--boot]``.

Prints, per scenario, the median and minimum microseconds of
``get_guest_numa_config`` + ``get_guest_memory_backing_config`` + ``to_xml()`` for
a placement computed beforehand (the fit is benchmarked in fit.py). With
``--boot``: seconds for the embedded QEMU driver's open, its capabilities (the
first call probes QEMU; the second is cached), one define, start and destroy of
the 64 MiB guest the functional test boots.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402

from os_numa import hardware, objects  # noqa: E402
from os_numa.virt.libvirt import driver, host  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "capabilities"

SCENARIOS = [
    # (name, capabilities sample, vCPUs, extra specs)
    (
        "2 vCPU isolate, 1 cell",
        "tiny-2cell-nosmt.xml",
        2,
        {"hw:emulator_threads_policy": "isolate"},
    ),
    (
        "16 vCPU realtime ^0, 2 cells",
        "intel-2s-20c-ht.xml",
        16,
        {"hw:numa_nodes": "2", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"},
    ),
    (
        "64 vCPU isolate 2M pages, 8 cells",
        "amd-epyc-2s-nps4.xml",
        64,
        {"hw:numa_nodes": "8", "hw:emulator_threads_policy": "isolate", "hw:mem_page_size": "2MB"},
    ),
    ("64 vCPU, 16 cells", "large-16cell.xml", 64, {"hw:numa_nodes": "16"}),
]


def xml_builder() -> None:
    print("placement -> guest NUMA XML (us, median / min)")
    for name, sample, vcpus, specs in SCENARIOS:
        topology = host.host_topology_from_capabilities((SAMPLES / sample).read_bytes())
        flavor = objects.Flavor(
            vcpus=vcpus,
            memory_mb=256 * vcpus,
            extra_specs={"hw:cpu_policy": "dedicated", **specs},
        )
        placement = hardware.numa_fit_instance_to_host(
            topology, hardware.numa_get_constraints(flavor, None)
        )
        assert placement is not None, name

        def build(placement=placement, flavor=flavor, topology=topology):
            driver.build_guest(placement, flavor, None, topology).to_xml()

        median, best = timings(build, repeat=200)
        print(f"  {name:36s} {median * 1e6:9.1f} / {best * 1e6:9.1f}")


def boot() -> None:
    from os_numa.testing import libvirtd

    xml = """<domain type='{virt}'><name>bench</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<cpu mode='custom' match='exact'><model>qemu64</model>
<feature policy='disable' name='svm'/></cpu><devices/></domain>"""
    start = time.perf_counter()
    with libvirtd.EmbeddedQemu() as qemu:
        print(f"embedded QEMU driver open: {time.perf_counter() - start:.2f} s")
        for label in ("capabilities (probe)", "capabilities (cached)"):
            start = time.perf_counter()
            caps = qemu.conn.getCapabilities()
            print(f"{label}: {time.perf_counter() - start:.2f} s")
        virt = "kvm" if libvirtd.kvm_available(caps) else "qemu"
        start = time.perf_counter()
        dom = qemu.conn.defineXML(xml.format(virt=virt))
        print(f"define: {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        dom.create()
        print(f"start ({virt}): {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        dom.destroy()
        print(f"destroy: {time.perf_counter() - start:.2f} s")


def main() -> int:
    xml_builder()
    if "--boot" in sys.argv[1:]:
        boot()
    return 0


if __name__ == "__main__":
    sys.exit(main())
