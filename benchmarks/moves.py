"""Benchmark moving guests: a move claim, the domain XML rewrite, re-pinning a running guest.

Run from the repository root: ``.venv/bin/python benchmarks/moves.py [--qemu]``. Prints
one line per scenario with the median and minimum over the repeats:

- move_claim + revert of a 4-vCPU isolate guest onto a 2 x 16 x 2 destination half
  full of guests (the fit keeping the guest's shape, the usage update, the overhead
  estimate and the migration context, then their undoing);
- move_claim + confirm across two trackers (the source frees, the destination keeps);
- update_numa_xml on the libvirt-written (XMLDesc) domain of a 2-cell guest with huge
  pages; beside it, when ``OS_NUMA_OPENSTACK_PYTHON`` (or ``--nova-python PY``) names
  the Python of a Nova 34 environment, Nova's ``_update_numa_xml`` on the same document
  and the same destination pins (benchmarks/nova_moves_side.py, with the parse and
  serialisation Nova does around it), and how many of the document's I/O-thread pins
  each leaves on the source's pCPUs;
- with ``--qemu`` (root, KVM or TCG, ~10 s to probe QEMU): repin_domain on a running
  1-vCPU guest on libvirt's embedded QEMU driver (one pinVcpuFlags, one pinEmulator,
  one pinIOThread).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

import libvirt  # noqa: E402
from lxml import etree  # noqa: E402
from measure import timings  # noqa: E402
from tests import fixtures_topology as ft  # noqa: E402
from tests.virt.libvirt.examples import EXAMPLES, place  # noqa: E402

from os_numa import cpuset  # noqa: E402
from os_numa.compute import Instance, ResourceTracker  # noqa: E402
from os_numa.objects import Flavor  # noqa: E402
from os_numa.virt.libvirt import config, driver, migration  # noqa: E402
from os_numa.virt.libvirt.driver import LibvirtDriver  # noqa: E402

ISOLATE = {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"}


def _guest(uuid: str, vcpus: int = 2) -> Instance:
    return Instance(uuid, Flavor(vcpus=vcpus, memory_mb=1024, extra_specs=ISOLATE))


def _tracker() -> ResourceTracker:
    tracker = ResourceTracker(LibvirtDriver(), ft.host(2, 16, 2, memory=65536))
    for i in range(10):
        with tracker.instance_claim(_guest(f"resident-{i}")):
            pass
    return tracker


def move_and_revert():
    source, dest = _tracker(), _tracker()
    vm = _guest("mover", 4)
    with source.instance_claim(vm):
        pass

    def run():
        dest.move_claim(vm)
        dest.revert(vm)

    return run


def move_and_confirm():
    trackers = [_tracker(), _tracker()]
    vm = _guest("mover", 4)
    with trackers[0].instance_claim(vm):
        pass
    where = [0]

    def run():
        source, dest = trackers[where[0]], trackers[1 - where[0]]
        dest.move_claim(vm)
        dest.confirm(vm, source)
        where[0] = 1 - where[0]

    return run


def libvirt_domain() -> tuple[str, object, object, object, object]:
    """The H1 example (2 cells, 2 MiB pages, isolate) as libvirt writes it, and a move."""
    example = EXAMPLES["H1-hugepages-two-cells"]
    host, flavor, conf, placement = place(example)
    guest = driver.build_guest(placement, flavor, None, host, conf, name="bench")
    conn = libvirt.open("test:///default")
    dom = conn.defineXML(guest.to_xml())
    xml = dom.XMLDesc()
    dom.undefine()
    conn.close()
    dest = ResourceTracker(LibvirtDriver(), example.host(), conf=conf)
    with dest.instance_claim(
        Instance("first", Flavor(vcpus=1, memory_mb=256, extra_specs=ISOLATE))
    ):
        pass
    new = dest.move_claim(Instance("vm", flavor, numa_topology=placement)).placement
    return xml, new, flavor, host, conf


def repin_on_qemu(repeat: int) -> tuple[float, float]:
    from os_numa import hardware
    from os_numa.testing import libvirtd
    from os_numa.virt.libvirt import host as libvirt_host

    with tempfile.TemporaryDirectory() as root, libvirtd.EmbeddedQemu(root) as qemu:
        caps = qemu.conn.getCapabilities()
        topology = libvirt_host.host_topology_from_capabilities(caps)
        flavor = Flavor(vcpus=1, memory_mb=64, extra_specs=ISOLATE)
        placement = hardware.numa_fit_instance_to_host(
            topology, hardware.numa_get_constraints(flavor, None)
        )
        guest = driver.build_guest(
            placement,
            flavor,
            None,
            topology,
            name="bench-repin",
            virt_type="kvm" if libvirtd.kvm_available(caps) else "qemu",
        )
        guest.os_arch, guest.os_machine = "x86_64", "pc"
        guest.cpu.mode, guest.cpu.match, guest.cpu.model = "custom", "exact", "qemu64"
        guest.cpu.extra_children.append(("model", "<feature policy='disable' name='svm'/>"))
        swapped = placement.obj_clone()
        (cell,) = swapped.cells
        (emulator,) = cell.cpuset_reserved
        cell.cpuset_reserved, cell.cpu_pinning = {cell.cpu_pinning[0]}, {0: emulator}
        with libvirtd.running_domain(qemu.conn, guest.to_xml()) as dom:
            turn = [placement, swapped]

            def run():
                migration.repin_domain(dom, turn[0], flavor)
                turn.reverse()

            return timings(run, repeat, "ms")


def _stale_iothread_pins(xml: str, expected: dict[int, set[int]]) -> int:
    root = etree.fromstring(xml)
    return sum(
        1
        for pin in root.iterfind("cputune/iothreadpin")
        if cpuset.parse_cpu_spec(pin.get("cpuset")) != expected[int(pin.get("iothread"))]
    )


def nova_side(python: str, xml: str, new, flavor, host, conf) -> None:
    """Nova's _update_numa_xml on the same domain (with two I/O threads) and pins."""
    guest = config.LibvirtConfigGuest.parse_str(xml)
    guest.iothreads = 2
    guest.cputune.iothreadpin.append(
        config.LibvirtConfigGuestCPUTuneIOThreadPin(
            iothread=2, cpuset=set(guest.cputune.emulatorpin.cpuset)
        )
    )
    source = guest.to_xml()
    numa = driver.get_guest_numa_config(new, flavor, None, host, conf)
    job = {
        "xml": source,
        "cpu_pins": {str(p.id): sorted(p.cpuset) for p in numa.cputune.vcpupin},
        "cell_pins": {str(n.cellid): sorted(n.nodeset) for n in numa.numatune.memnodes},
        "emulator_pins": sorted(numa.cputune.emulatorpin.cpuset),
        "sched_vcpus": sorted({v for s in numa.cputune.vcpusched for v in s.vcpus}),
        "sched_priority": next((s.priority for s in numa.cputune.vcpusched), None),
    }
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    answer = subprocess.run(
        [python, str(Path(__file__).resolve().parent / "nova_moves_side.py")],
        input=json.dumps(job) + "\n",
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    nova = json.loads(answer.stdout.strip().splitlines()[-1])
    ours_median, _ = timings(
        lambda: migration.update_numa_xml(source, new, flavor, None, host, conf), 500, "us"
    )
    expected = {1: set(numa.cputune.emulatorpin.cpuset), 2: set(numa.cputune.emulatorpin.cpuset)}
    ours = migration.update_numa_xml(source, new, flavor, None, host, conf)
    print(
        f"same domain with 2 I/O threads: os-numa median {ours_median:.0f} us, "
        f"Nova _update_numa_xml median {nova['median_us']:.0f} us (min {nova['min_us']:.0f})"
    )
    stale_ours = _stale_iothread_pins(ours, expected)
    stale_nova = _stale_iothread_pins(nova["xml"], expected)
    print(f"  I/O-thread pins left on the source's pCPUs: os-numa {stale_ours}, Nova {stale_nova}")


def main() -> None:
    median, best = timings(move_and_revert(), 200, "us")
    print(
        f"move_claim + revert (2x16x2 host, 10 guests): median {median:.0f} us, min {best:.0f} us"
    )
    median, best = timings(move_and_confirm(), 200, "us")
    print(f"move_claim + confirm across two trackers: median {median:.0f} us, min {best:.0f} us")
    xml, new, flavor, host, conf = libvirt_domain()
    median, best = timings(
        lambda: migration.update_numa_xml(xml, new, flavor, None, host, conf), 500, "us"
    )
    print(
        f"update_numa_xml ({len(xml)} bytes, 2 cells, huge pages): "
        f"median {median:.0f} us, min {best:.0f} us"
    )
    median, best = timings(
        lambda: migration.update_numa_xml(xml, new, None, None, host, conf), 500, "us"
    )
    print(f"update_numa_xml without a flavor: median {median:.0f} us, min {best:.0f} us")
    median, best = timings(lambda: etree.tostring(etree.fromstring(xml)), 500, "us")
    print(f"  (floor: lxml parse + serialise of the same document: median {median:.0f} us)")
    nova_python = os.environ.get("OS_NUMA_OPENSTACK_PYTHON")
    if "--nova-python" in sys.argv:
        nova_python = sys.argv[sys.argv.index("--nova-python") + 1]
    if nova_python:
        nova_side(nova_python, xml, new, flavor, host, conf)
    if "--qemu" in sys.argv:
        median, best = repin_on_qemu(30)
        print(f"repin_domain on a running QEMU guest: median {median:.1f} ms, min {best:.1f} ms")


if __name__ == "__main__":
    main()
