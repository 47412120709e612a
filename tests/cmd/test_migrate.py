"""``os-numa migrate``: a domain read back, fitted on a busy destination, its XML rewritten."""

from __future__ import annotations

import json

import pytest

from os_numa.virt.libvirt import config
from tests.cmd.conftest import DATA

CAPS = str(DATA / "intel-2s-20c-ht.xml")
TINY = str(DATA / "tiny-2cell-nosmt.xml")
GUEST = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"


@pytest.fixture
def source_domain(in_process, tmp_path):
    """A domain the driver wrote for GUEST on the Intel host (vCPUs on 0,40,1,41)."""
    result = in_process(["place", "--capabilities", CAPS, "--flavor", GUEST, "--format", "xml"])
    assert result.returncode == 0, result.stderr
    path = tmp_path / "dom.xml"
    path.write_text(result.stdout.replace("<devices/>", "<devices/>\n  <!-- mine -->"))
    return path


@pytest.fixture
def existing(in_process, tmp_path):
    """The destination already runs the same guest (cell 0's first cores are taken)."""
    result = in_process(["place", "--capabilities", CAPS, "--flavor", GUEST, "--format", "json"])
    path = tmp_path / "existing.json"
    path.write_text(result.stdout)
    return path


def _migrate(in_process, *argv):
    return in_process(["migrate", *argv])


def test_the_guest_keeps_its_shape_on_pcpus_free_at_the_destination(
    in_process, source_domain, existing
):
    result = _migrate(
        in_process,
        "--source-xml", str(source_domain),
        "--capabilities", CAPS,
        "--existing", str(existing),
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "os-numa/placement/v1" and document["fits"]
    (cell,) = document["cells"]
    taken = {0, 40, 1, 41, 2}
    pins = {int(v): p for v, p in cell["cpu_pinning"].items()}
    assert sorted(pins) == [0, 1, 2, 3] and not set(pins.values()) & taken
    assert len(cell["cpuset_reserved"]) == 1 and not set(cell["cpuset_reserved"]) & taken
    guest = config.LibvirtConfigGuest.parse_str(document["domain_xml"])
    assert {p.id: p.cpuset for p in guest.cputune.vcpupin} == {v: {p} for v, p in pins.items()}
    assert guest.cputune.emulatorpin.cpuset == set(cell["cpuset_reserved"])
    assert [p.cpuset for p in guest.cputune.iothreadpin] == [set(cell["cpuset_reserved"])]
    assert guest.numatune.memory.nodeset == {cell["host_cell"]}
    assert "<!-- mine -->" in document["domain_xml"]


def test_the_picture_and_the_xml_by_default(in_process, source_domain, existing):
    result = _migrate(
        in_process,
        "--source-xml", str(source_domain),
        "--capabilities", CAPS,
        "--existing", str(existing),
        "--color", "never",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fits - 4 vCPUs, 4096 MiB")
    assert "the domain XML for the destination:\n<domain" in result.stdout
    xml_only = _migrate(
        in_process,
        "--source-xml", str(source_domain),
        "--capabilities", CAPS,
        "--existing", str(existing),
        "--format", "xml",
    )  # fmt: skip
    assert xml_only.returncode == 0
    assert xml_only.stdout in result.stdout


def test_a_resize_fits_the_new_flavor(in_process, source_domain):
    result = _migrate(
        in_process,
        "--source-xml", str(source_domain),
        "--capabilities", CAPS,
        "--flavor", "vcpus=8,memory_mb=8192,hw:cpu_policy=dedicated,hw:numa_nodes=2",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [len(c["vcpus"]) for c in document["cells"]] == [4, 4]
    guest = config.LibvirtConfigGuest.parse_str(document["domain_xml"])
    assert len(guest.cpu.numa.cells) == 2 and len(guest.cputune.vcpupin) == 8
    assert (guest.vcpus, guest.memory) == (8, 8192 * 1024)


def test_no_room_exits_1_with_the_reason_per_host_cell(in_process, tmp_path):
    flavor = "vcpus=3,memory_mb=1024,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"
    placed = in_process(["place", "--capabilities", TINY, "--flavor", flavor, "--format", "xml"])
    assert placed.returncode == 0, placed.stderr
    domain = tmp_path / "dom.xml"
    domain.write_text(placed.stdout)
    filler = "vcpus=6,memory_mb=1024,hw:cpu_policy=dedicated,hw:numa_nodes=2"  # 3 per cell
    full = in_process(["place", "--capabilities", TINY, "--flavor", filler, "--format", "json"])
    busy = tmp_path / "busy.json"
    busy.write_text(full.stdout)
    result = _migrate(
        in_process,
        "--source-xml", str(domain),
        "--capabilities", TINY,
        "--existing", str(busy),
        "--color", "never",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "why it does not fit" in result.stdout and "host cell" in result.stdout
    assert "the domain XML" not in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<domain type='kvm'>", "Invalid XML"),
        ("<!DOCTYPE d [<!ENTITY a 'b'>]><domain/>", "entit"),
        ("<network/>", "domain"),
    ],
)
def test_bad_source_documents_exit_2_without_a_traceback(in_process, tmp_path, content, message):
    path = tmp_path / "dom.xml"
    path.write_text(content)
    result = _migrate(in_process, "--source-xml", str(path), "--capabilities", CAPS)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_source_file_exits_2(in_process, tmp_path):
    result = _migrate(in_process, "--source-xml", str(tmp_path / "nope.xml"))
    assert result.returncode == 2 and "nope.xml" in result.stderr


def test_the_console_script_runs_migrate(os_numa, source_domain):
    result = os_numa(["migrate", "--source-xml", str(source_domain), "--capabilities", CAPS])
    assert result.returncode == 0, result.stderr
    assert "the domain XML for the destination" in result.stdout


def test_a_guest_without_numa_placement_floats_on_the_destination(in_process, tmp_path):
    placed = in_process(
        ["place", "--capabilities", CAPS, "--flavor", "vcpus=2,memory_mb=1024", "--format", "xml"]
    )
    assert placed.returncode == 0, placed.stderr
    domain = tmp_path / "dom.xml"
    domain.write_text(placed.stdout)
    result = _migrate(
        in_process,
        "--source-xml", str(domain),
        "--capabilities", CAPS,
        "--cpu-shared-set", "0-3",
        "--cpu-dedicated-set", "4-79",
        "--format", "xml",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    guest = config.LibvirtConfigGuest.parse_str(result.stdout)
    assert guest.cputune is None and guest.cpu is None
    assert guest.cpuset == {0, 1, 2, 3}


def test_the_source_host_reads_the_pins_of_another_shape(in_process, source_domain):
    """--source-capabilities: the domain's pins are read against the host it came from."""
    result = _migrate(
        in_process,
        "--source-xml", str(source_domain),
        "--source-capabilities", CAPS,
        "--capabilities", str(DATA / "amd-epyc-2s-nps4.xml"),
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (cell,) = document["cells"]
    assert len(cell["cpu_pinning"]) == 4 and len(cell["cpuset_reserved"]) == 1
    assert "warning" not in result.stderr


VF_ALIAS = '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}'
VF_GUEST = "vcpus=2,memory_mb=2048,hw:cpu_policy=dedicated,pci_passthrough:alias=vf:2"


def test_a_resize_with_pci_devices_moves_the_hostdev_addresses(in_process, tmp_path):
    devices = sorted(str(p) for p in (DATA.parent / "nodedev").glob("*.xml"))
    pci = ["--pci-devices", *devices, "--pci-alias", VF_ALIAS]
    placed = in_process(
        ["place", "--capabilities", CAPS, *pci, "--flavor", VF_GUEST, "--format", "xml"]
    )
    assert placed.returncode == 0, placed.stderr
    domain = tmp_path / "dom.xml"
    domain.write_text(placed.stdout)
    taken = in_process(
        ["place", "--capabilities", CAPS, *pci, "--flavor", VF_GUEST, "--format", "json"]
    )
    busy = tmp_path / "busy.json"
    busy.write_text(taken.stdout)
    result = _migrate(
        in_process,
        "--source-xml", str(domain),
        "--capabilities", CAPS,
        "--existing", str(busy),
        *pci,
        "--flavor", VF_GUEST,
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    new = [d["address"] for d in document["pci_devices"]]
    old = [d["address"] for d in json.loads(taken.stdout)["pci_devices"]]
    assert len(new) == 2 and not set(new) & set(old)
    root = config.LibvirtConfigGuest.parse_str(document["domain_xml"])
    hostdevs = [d for d in root.devices if d.startswith("<hostdev")]
    assert len(hostdevs) == 2
    for address, hostdev in zip(new, hostdevs, strict=True):
        domain_, bus, rest = address.split(":")
        slot, function = rest.split(".")
        assert f'bus="0x{bus}"' in hostdev and f'slot="0x{slot}"' in hostdev, hostdev
        assert f'function="0x{function}"' in hostdev
