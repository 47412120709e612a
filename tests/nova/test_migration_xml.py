"""update_numa_xml against Nova 34's own _update_numa_xml, on the same domain and pins.

Both rewrite a live-migrating domain for the same destination pins (Nova takes them
ready-made as ``LibvirtLiveMigrateNUMAInfo``). They must agree on every vCPU pin, the
emulator pin, the memory node sets and the realtime vCPUs; where they differ, the
difference is the documented one: Nova 34 rewrites only the first ``<iothreadpin>``.
"""

from __future__ import annotations

import json

from os_numa.compute import Instance, ResourceTracker
from os_numa.objects import Flavor
from os_numa.virt.libvirt import config, driver, migration
from os_numa.virt.libvirt.driver import LibvirtDriver
from tests.virt.libvirt.examples import EXAMPLES, place

NOVA_SIDE = """
import json, logging, os, warnings
os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")
warnings.simplefilter("ignore")
from lxml import etree
from nova import objects
from nova.virt.libvirt import migration
objects.register_all()
logging.disable(logging.CRITICAL)
out = []
for job in json.loads({jobs!r}):
    info = objects.LibvirtLiveMigrateNUMAInfo(
        cpu_pins={{k: set(v) for k, v in job["cpu_pins"].items()}},
        cell_pins={{k: set(v) for k, v in job["cell_pins"].items()}},
        emulator_pins=set(job["emulator_pins"]),
    )
    if job["sched_vcpus"]:
        info.sched_vcpus = set(job["sched_vcpus"])
        info.sched_priority = job["sched_priority"]
    data = objects.LibvirtLiveMigrateData(dst_numa_info=info)
    doc = migration._update_numa_xml(etree.fromstring(job["xml"]), data)
    out.append(etree.tostring(doc, encoding="unicode"))
print(json.dumps(out))
"""
NAMES = ["A1", "B1", "B6", "C2", "H1-hugepages-two-cells"]


def _view(xml):
    guest = config.LibvirtConfigGuest.parse_str(xml)
    cputune = guest.cputune
    return {
        "vcpupin": {p.id: p.cpuset for p in cputune.vcpupin},
        "emulatorpin": cputune.emulatorpin.cpuset,
        "vcpusched": {v: (s.scheduler, s.priority) for s in cputune.vcpusched for v in s.vcpus},
        "memory": guest.numatune.memory.nodeset,
        "memnodes": {m.cellid: m.nodeset for m in guest.numatune.memnodes},
        "iothreadpin": {p.iothread: p.cpuset for p in cputune.iothreadpin},
    }


def _case(name):
    """(source XML, the os-numa rewrite, Nova's job, old and new emulator pCPUs)."""
    example = EXAMPLES[name]
    host, flavor, conf, placement = place(example)
    guest = driver.build_guest(placement, flavor, None, host, conf, name=name)
    guest.iothreads = 2
    emulator = set(guest.cputune.emulatorpin.cpuset)
    guest.cputune.iothreadpin.append(
        config.LibvirtConfigGuestCPUTuneIOThreadPin(iothread=2, cpuset=emulator)
    )
    source = guest.to_xml()
    dest = ResourceTracker(LibvirtDriver(), example.host(), conf=conf)
    first = Flavor(vcpus=1, memory_mb=256, extra_specs={"hw:cpu_policy": "dedicated"})
    with dest.instance_claim(Instance(uuid="first", flavor=first)):
        pass
    new = dest.move_claim(Instance(uuid="vm", flavor=flavor, numa_topology=placement)).placement
    wanted = driver.get_guest_numa_config(new, flavor, None, example.host(), conf)
    job = {
        "xml": source,
        "cpu_pins": {str(p.id): sorted(p.cpuset) for p in wanted.cputune.vcpupin},
        "cell_pins": {str(n.cellid): sorted(n.nodeset) for n in wanted.numatune.memnodes},
        "emulator_pins": sorted(wanted.cputune.emulatorpin.cpuset),
        "sched_vcpus": sorted({v for s in wanted.cputune.vcpusched for v in s.vcpus}),
        "sched_priority": next((s.priority for s in wanted.cputune.vcpusched), None),
    }
    ours = migration.update_numa_xml(source, new, flavor, None, example.host(), conf)
    return ours, job, emulator, set(wanted.cputune.emulatorpin.cpuset)


def test_nova_and_os_numa_agree_except_on_the_second_io_thread(nova_python):
    cases = [_case(name) for name in NAMES]
    answers = nova_python(NOVA_SIDE.format(jobs=json.dumps([job for _, job, _, _ in cases])))
    for name, (ours_xml, _, emulator, new_emulator), nova_xml in zip(
        NAMES, cases, answers, strict=True
    ):
        nova, ours = _view(nova_xml), _view(ours_xml)
        assert new_emulator != emulator, name
        assert {k: v for k, v in ours.items() if k != "iothreadpin"} == {
            k: v for k, v in nova.items() if k != "iothreadpin"
        }, name
        assert ours["iothreadpin"] == {1: new_emulator, 2: new_emulator}, name
        assert nova["iothreadpin"] == {1: new_emulator, 2: emulator}, f"{name}: Nova, first only"
