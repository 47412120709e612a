"""Benchmark a tracker's restart: rebuild from N libvirt domains, and the checkpoint file.

Run from the repository root: ``.venv/bin/python benchmarks/recovery.py``. On the
sample 2-socket, 20-core, 2-thread host (80 CPUs, ``cpu_dedicated_set`` all but
CPUs 0 and 40), N guests of one dedicated vCPU (a third of them with an isolated
emulator pCPU, so up to two pCPUs each) are claimed, their domains written by the
driver and run by libvirt's test driver from a node file. Prints, per N:

- reading one domain's XML back into its placement (median per domain);
- ``recover()`` from the domains alone: listing them, ``XMLDesc()``, reading,
  drift between them, accounting with every fresh-claim rule;
- ``recover()`` from the checkpoint: the same reading, then the checkpoint
  loaded, verified against the host and the domains, and restored;
- writing the checkpoint (temp file, fsync, rename, fsync of the directory),
  and loading and checking it.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

import libvirt  # noqa: E402
from measure import timings  # noqa: E402

from os_numa import conf as os_numa_conf  # noqa: E402
from os_numa.compute import Instance, ResourceTracker, checkpoint  # noqa: E402
from os_numa.objects import Flavor  # noqa: E402
from os_numa.virt.libvirt import domain_placement, driver, host, recovery  # noqa: E402

CAPS = Path(__file__).resolve().parent.parent / "tests/data/capabilities/intel-2s-20c-ht.xml"
NODE = """<node><cpu><mhz>2000</mhz><model>i686</model><active>80</active><max>80</max>
<nodes>2</nodes><sockets>2</sockets><cores>20</cores><threads>2</threads></cpu>
<memory>268435456</memory>{domains}</node>"""
SPECS = (
    {"hw:cpu_policy": "dedicated"},
    {"hw:cpu_policy": "dedicated"},
    {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
)


def setup(count: int, workdir: Path):
    """(topology, conf, domain XMLs, checkpoint path) of ``count`` placed guests."""
    conf = os_numa_conf.make_conf(
        **{"compute.cpu_dedicated_set": "1-39,41-79", "compute.cpu_shared_set": "0,40"}
    )
    topology = host.host_topology_from_capabilities(CAPS.read_text(), conf=conf)
    path = workdir / f"tracker-{count}.json"
    tracker = ResourceTracker(driver.LibvirtDriver(conf), topology, conf, checkpoint_path=path)
    domains = []
    for index in range(count):
        uuid = f"00000000-0000-0000-0000-{index:012d}"
        flavor = Flavor(vcpus=1, memory_mb=256, extra_specs=SPECS[index % 3])
        vm = Instance(uuid=uuid, flavor=flavor)
        with tracker.instance_claim(vm):
            guest = driver.build_guest(vm.numa_topology, flavor, None, topology, conf)
        guest.name, guest.uuid, guest.virt_type = f"guest-{index}", uuid, "test"
        domains.append(guest.to_xml())
    return topology, conf, domains, path, tracker


def measure(count: int, workdir: Path) -> str:
    """One line of figures for ``count`` guests."""
    topology, conf, domains, path, original = setup(count, workdir)
    node = workdir / f"node-{count}.xml"
    node.write_text(NODE.format(domains="".join(domains)))
    conn = libvirt.open(f"test://{node}")
    xml = conn.listAllDomains()[0].XMLDesc()
    read, _ = timings(lambda: domain_placement.read_domain(xml, topology), 200, "us")

    def fresh(with_checkpoint: bool) -> ResourceTracker:
        return ResourceTracker(
            driver.LibvirtDriver(conf),
            topology,
            conf,
            checkpoint_path=path if with_checkpoint else None,
        )

    from_libvirt, _ = timings(lambda: recovery.recover(fresh(False), conn), 10, "ms")
    from_ckpt, _ = timings(lambda: recovery.recover(fresh(True), conn), 10, "ms")
    restored = fresh(True)
    assert recovery.recover(restored, conn).source == "checkpoint"
    assert restored.usage == original.usage
    claims = checkpoint.load(path).claims
    write, _ = timings(lambda: checkpoint.write(path, topology, claims), 20, "ms")
    load, _ = timings(lambda: checkpoint.load(path), 20, "ms")
    conn.close()
    return (
        f"{count:>4}  {read:>11.0f} us  {from_libvirt:>10.1f} ms  {from_ckpt:>12.1f} ms  "
        f"{write:>8.2f} ms  {load:>7.2f} ms"
    )


def main() -> None:
    print(
        f"{'N':>4}  {'read 1 domain':>14}  {'from libvirt':>13}  {'from checkpoint':>15}  "
        f"{'ckpt write':>11}  {'ckpt load':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for count in (10, 25, 50):
            print(measure(count, Path(tmp)))


if __name__ == "__main__":
    main()
