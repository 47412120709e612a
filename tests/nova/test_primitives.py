"""Nova's stored NUMA primitives <-> os-numa objects, in os-numa's own venv (no Nova)."""

import json
import subprocess
import sys

import pytest

from os_numa import exception, objects
from os_numa.nova import primitives as p


def nova(obj_name, version, **data):
    return {
        "nova_object.name": obj_name,
        "nova_object.namespace": "nova",
        "nova_object.version": version,
        "nova_object.data": data,
        "nova_object.changes": sorted(data),
    }


def guest_cell(version="1.6", **data):
    return nova("InstanceNUMACell", version, **data)


# What Nova 34 writes for a dedicated, emulator-isolated guest after a fit.
PLACED = nova(
    "InstanceNUMATopology",
    "1.3",
    instance_uuid="4a5e6b39-1d53-4d2c-9d27-5a4b0f7c9e11",
    emulator_threads_policy="isolate",
    cells=[
        guest_cell(
            id=1,
            cpuset=[],
            pcpuset=[0, 1],
            cpuset_reserved=[6],
            memory=1024,
            pagesize=None,
            cpu_pinning_raw={"0": 4, "1": 5},
            cpu_policy="dedicated",
            cpu_thread_policy=None,
            cpu_topology=nova("VirtCPUTopology", "1.0", sockets=1, cores=2, threads=1),
        )
    ],
)

HOST = nova(
    "NUMATopology",
    "1.2",
    cells=[
        nova(
            "NUMACell",
            "1.5",
            id=0,
            cpuset=[0, 1],
            pcpuset=[2, 3, 4, 5],
            memory=4096,
            cpu_usage=1,
            memory_usage=512,
            pinned_cpus=[4],
            siblings=[[2, 3], [4, 5]],
            mempages=[
                nova("NUMAPagesTopology", "1.1", size_kb=4, total=1048576, used=0, reserved=0),
                nova("NUMAPagesTopology", "1.1", size_kb=2048, total=512, used=4, reserved=8),
            ],
            network_metadata=nova("NetworkMetadata", "1.0", physnets=["foo"], tunneled=False),
            socket=0,
        )
    ],
)


def test_placed_guest_reads_field_for_field():
    topology = p.instance_topology_from_nova(PLACED)
    assert isinstance(topology, objects.InstanceNUMATopology)
    assert topology.emulator_threads_policy == "isolate"
    (cell,) = topology.cells
    assert (cell.id, cell.cpuset, cell.pcpuset, cell.memory) == (1, set(), {0, 1}, 1024)
    assert cell.cpu_pinning == {0: 4, 1: 5}
    assert cell.cpuset_reserved == {6}
    assert cell.cpu_policy == "dedicated"


@pytest.mark.parametrize("primitive", [PLACED, HOST], ids=["instance", "host"])
def test_round_trip_gives_the_same_primitive(primitive):
    assert p.round_trip_problems(primitive) == []
    as_json = json.loads(json.dumps(primitive))  # what instance_extra stores
    assert p.round_trip_problems(as_json) == []


def test_round_trip_keeps_what_os_numa_does_not_model():
    back = p.instance_topology_to_nova(p.instance_topology_from_nova(PLACED), base=PLACED)
    data = back["nova_object.data"]
    assert data["instance_uuid"] == PLACED["nova_object.data"]["instance_uuid"]
    assert data["cells"][0]["nova_object.data"]["cpu_topology"]["nova_object.data"]["cores"] == 2
    host_back = p.host_topology_to_nova(p.host_topology_from_nova(HOST), base=HOST)
    cell = host_back["nova_object.data"]["cells"][0]["nova_object.data"]
    assert cell["network_metadata"]["nova_object.data"]["physnets"] == ["foo"]
    assert back["nova_object.version"] == "1.3"
    assert host_back["nova_object.data"]["cells"][0]["nova_object.version"] == "1.5"


def test_round_trip_reports_a_lost_field():
    changed = json.loads(json.dumps(PLACED))
    changed["nova_object.data"]["cells"][0]["nova_object.data"]["cpu_pinning_raw"] = {"0": "x"}
    with pytest.raises(ValueError):
        p.round_trip_problems(changed)
    broken = json.loads(json.dumps(HOST))
    broken["nova_object.data"]["cells"][0]["nova_object.data"]["pinned_cpus"] = [4, 99]
    # 99 is outside pcpuset: os-numa's cell keeps it, so the round trip still agrees.
    assert p.round_trip_problems(broken) == []


def test_pre_1_5_dedicated_cell_is_migrated_as_nova_does():
    old = nova(
        "InstanceNUMATopology",
        "1.3",
        cells=[
            guest_cell(
                "1.4",
                id=0,
                cpuset=[0, 1, 2],
                memory=512,
                cpu_pinning_raw={"0": 1, "1": 2, "2": 3},
                cpuset_reserved=None,
                cpu_policy="dedicated",
                cpu_thread_policy=None,
            )
        ],
    )
    (cell,) = p.instance_topology_from_nova(old).cells
    assert (cell.cpuset, cell.pcpuset) == (set(), {0, 1, 2})
    back = p.instance_topology_to_nova(p.instance_topology_from_nova(old))
    data = back["nova_object.data"]["cells"][0]
    assert data["nova_object.version"] == "1.6"
    assert (data["nova_object.data"]["cpuset"], data["nova_object.data"]["pcpuset"]) == (
        [],
        [0, 1, 2],
    )
    # A 1.5+ shared cell is not touched.
    shared = guest_cell("1.5", id=0, cpuset=[0, 1], pcpuset=[], memory=256, cpu_policy="shared")
    assert p.instance_cell_from_nova(shared).cpuset == {0, 1}


def test_pre_liberty_dictionaries():
    guest = p.instance_topology_from_nova(
        json.dumps({"cells": [{"id": 0, "cpus": "0-1", "mem": {"total": 512}}]})
    )
    assert (guest.cells[0].cpuset, guest.cells[0].memory) == ({0, 1}, 512)
    host = p.host_topology_from_nova(
        {"cells": [{"id": 0, "cpus": "0-3", "mem": {"total": 2048, "used": 10}}]}
    )
    assert host.cells[0].pcpuset == {0, 1, 2, 3} and host.cells[0].memory_usage == 10


def test_pre_1_4_host_cell_pins_its_cpuset():
    old = nova(
        "NUMATopology",
        "1.2",
        cells=[
            nova(
                "NUMACell",
                "1.3",
                id=0,
                cpuset=[0, 1],
                memory=1024,
                cpu_usage=0,
                memory_usage=0,
                pinned_cpus=[],
                siblings=[],
                mempages=[],
            )
        ],
    )  # noqa: E501
    assert p.host_topology_from_nova(old).cells[0].pcpuset == {0, 1}


def test_host_cells_and_pages():
    (cell,) = p.host_topology_from_nova(HOST).cells
    assert (cell.cpuset, cell.pcpuset, cell.pinned_cpus) == ({0, 1}, {2, 3, 4, 5}, {4})
    assert [(m.size_kb, m.total, m.used, m.reserved) for m in cell.mempages] == [
        (4, 1048576, 0, 0),
        (2048, 512, 4, 8),
    ]
    assert cell.siblings == [{2, 3}, {4, 5}] and cell.socket == 0


@pytest.mark.parametrize(
    "bad",
    ["{not json", [], {"nova_object.name": "Flavor", "nova_object.data": {}}, {"x": 1}],
)
def test_bad_primitives_are_refused_with_a_typed_error(bad):
    with pytest.raises(exception.Invalid):
        p.instance_topology_from_nova(bad)


def test_pool_policy_cannot_be_written_for_nova():
    topology = objects.InstanceNUMATopology(
        cells=[objects.InstanceNUMACell(id=0, cpuset=set(), pcpuset={0}, memory=64)],
        emulator_threads_policy="pool",
    )
    with pytest.raises(exception.InternalError):
        p.instance_topology_to_nova(topology)


def test_flavor_image_request_spec_and_pci_device():
    flavor = nova(
        "Flavor",
        "1.2",
        vcpus=4,
        memory_mb=2048,
        name="f",
        extra_specs={"hw:cpu_policy": "dedicated"},
    )  # noqa: E501
    props = nova(
        "ImageMetaProps",
        "1.43",
        hw_numa_nodes=2,
        hw_numa_cpus=[[0, 1], [2, 3]],
        hw_numa_mem=[1024, 1024],
        hw_machine_type="q35",
    )  # noqa: E501
    image = nova("ImageMeta", "1.8", name="i", properties=props)
    spec = nova("RequestSpec", "1.14", flavor=flavor, image=image, numa_topology=PLACED)
    f, i, t = p.request_spec_from_nova(spec)
    assert (f.vcpus, f.memory_mb, f.extra_specs) == (4, 2048, {"hw:cpu_policy": "dedicated"})
    assert i.properties.get("hw_numa_cpus") == [{0, 1}, {2, 3}]
    assert i.properties.get("hw_numa_mem") == [1024, 1024]
    assert t.cells[0].cpu_pinning == {0: 4, 1: 5}
    dev = p.pci_device_from_nova(
        nova(
            "PciDevice",
            "1.7",
            address="0000:81:00.1",
            vendor_id="8086",
            product_id="154C",
            dev_type="type-VF",
            numa_node=1,
            parent_addr="0000:81:00.0",
        )  # noqa: E501
    )
    assert (str(dev.address), dev.product_id, dev.numa_node, str(dev.parent)) == (
        "0000:81:00.1",
        "154c",
        1,
        "0000:81:00.0",
    )
    with pytest.raises(exception.Invalid):
        p.pci_device_from_nova(
            nova("PciDevice", "1.7", address="0000:81:00.1", vendor_id="zz", product_id="1")
        )  # noqa: E501


def test_primitives_module_does_not_import_nova():
    code = "import sys, os_numa.nova, os_numa.nova.primitives; print('nova' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flavor_image_and_pci_device_go_back_to_nova():
    flavor = objects.Flavor(vcpus=4, memory_mb=2048, extra_specs={"hw:numa_nodes": "2"}, name="f")
    base = nova("Flavor", "1.2", flavorid="42", root_gb=10, vcpus=1, memory_mb=1, name="old")
    back = p.flavor_to_nova(flavor, base=base)
    assert back["nova_object.version"] == "1.2"
    assert back["nova_object.data"]["flavorid"] == "42"
    again = p.flavor_from_nova(back)
    assert (again.vcpus, again.memory_mb, again.extra_specs, again.name) == (
        4,
        2048,
        {"hw:numa_nodes": "2"},
        "f",
    )
    image = objects.ImageMeta.from_dict(
        {
            "properties": {
                "hw_numa_nodes": 2,
                "hw_numa_cpus.0": "0-1",
                "hw_numa_cpus.1": "2-3",
                "hw_emulator_threads_mask": "0",
            }
        }  # fmt: skip
    )
    nova_image = p.image_meta_to_nova(image)
    props = nova_image["nova_object.data"]["properties"]["nova_object.data"]
    assert props == {"hw_numa_cpus": [[0, 1], [2, 3]], "hw_numa_nodes": 2}
    assert p.image_meta_from_nova(nova_image).properties.get("hw_numa_cpus") == [{0, 1}, {2, 3}]
    device = p.pci_device_from_nova(
        nova(
            "PciDevice",
            "1.7",
            address="0000:81:00.1",
            vendor_id="8086",
            product_id="154c",
            dev_type="type-VF",
            numa_node=None,
            parent_addr="0000:81:00.0",
            status="available",
        )  # noqa: E501
    )
    pci = p.pci_device_to_nova(device, base=nova("PciDevice", "1.7", status="allocated"))
    assert pci["nova_object.data"] == {
        "address": "0000:81:00.1",
        "vendor_id": "8086",
        "product_id": "154c",
        "dev_type": "type-VF",
        "numa_node": None,
        "parent_addr": "0000:81:00.0",
        "status": "allocated",
    }
    assert p.pci_device_from_nova(pci) == device
