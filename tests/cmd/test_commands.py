"""``os-numa place``, ``host`` and ``validate-flavor`` end to end, in a subprocess.

Expected values come from the placement the command itself reports in another
format (JSON), from the capabilities files, or from the flavor, never from a
copy of the output.
"""

from __future__ import annotations

import json
import re

import libvirt
import pytest
from lxml import etree

from os_numa import cpuset
from tests.cmd.conftest import DATA
from tests.cmd.contract import CELL_KEYS, CONTRACT_KEYS

ISOLATE = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"
REALTIME = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:cpu_realtime=yes"
THREAD = re.compile(r"(\d+) (\S+)")
DOMAIN_RNG = "/usr/share/libvirt/schemas/domain.rng"


def labels(picture: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for box in re.findall(r"\[([^\]]*)\]", picture):
        for cpu, label in THREAD.findall(box):
            found[int(cpu)] = label
    return found


def place_json(os_numa, *argv: str) -> dict:
    result = os_numa(["place", "--format", "json", *argv])
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def caps_cpus(path) -> set[int]:
    tree = etree.parse(str(path))
    return {int(c.get("id")) for c in tree.iterfind(".//topology/cells/cell/cpus/cpu")}


# --- place: picture, JSON and XML agree ------------------------------------------------


def test_isolate_picture_marks_the_placement_json_reports(os_numa):
    doc = place_json(os_numa, "--flavor", ISOLATE)
    assert doc["fits"] is True and doc["emulator_threads_policy"] == "isolate"
    (cell,) = doc["cells"]
    pins = {int(v): p for v, p in cell["cpu_pinning"].items()}
    (emulator,) = cell["cpuset_reserved"]
    assert doc["emulatorpin"] == [emulator]
    assert emulator not in pins.values()

    picture = os_numa(["place", "--flavor", ISOLATE])
    assert picture.returncode == 0
    drawn = labels(picture.stdout)
    assert {cpu: drawn[cpu] for cpu in pins.values()} == {p: f"v{v}" for v, p in pins.items()}
    assert [cpu for cpu, label in drawn.items() if label == "EMU"] == [emulator]
    assert set(drawn) == set(range(32))  # the built-in host: 2 x 8 cores x 2 threads
    assert f"emulator threads (isolate) on host CPUs {emulator}" in picture.stdout
    assert "legend:" in picture.stdout


def test_json_contract(os_numa):
    doc = place_json(
        os_numa,
        "--flavor",
        REALTIME + ",hw:numa_nodes=2",
        "--extra-spec",
        "hw:cpu_realtime_mask=^0,^2",
    )
    assert set(CONTRACT_KEYS) <= set(doc)
    assert doc["fits"] is True and doc["explanation"] is None
    assert doc["emulator_threads_policy"] is None
    assert [c["guest_cell"] for c in doc["cells"]] == [0, 1]
    assert len({c["host_cell"] for c in doc["cells"]}) == 2
    pinned = []
    for cell in doc["cells"]:
        assert CELL_KEYS <= set(cell)
        assert cell["memory_mb"] == 2048 and cell["pagesize_kb"] is None
        assert sorted(int(v) for v in cell["cpu_pinning"]) == cell["vcpus"]
        assert cell["cpuset_reserved"] == []
        pinned += cell["cpu_pinning"].values()
    assert sorted(v for c in doc["cells"] for v in c["vcpus"]) == [0, 1, 2, 3]
    assert len(set(pinned)) == 4
    # Housekeeping vCPUs 0 and 2 host the emulator threads; 1 and 3 are realtime.
    housekeeping = {
        c["cpu_pinning"][v] for c in doc["cells"] for v in ("0", "2") if v in c["cpu_pinning"]
    }
    assert set(doc["emulatorpin"]) == housekeeping
    assert doc["vcpusched"] == [{"vcpus": [1, 3], "scheduler": "fifo", "priority": 1}]


def test_xml_parses_validates_and_matches_json(os_numa):
    doc = place_json(os_numa, "--flavor", ISOLATE + ",hw:mem_page_size=2MB")
    result = os_numa(["place", "--format", "xml", "--flavor", ISOLATE + ",hw:mem_page_size=2MB"])
    assert result.returncode == 0, result.stderr
    domain = etree.fromstring(result.stdout.encode())
    assert domain.tag == "domain"
    assert etree.RelaxNG(etree.parse(DOMAIN_RNG)).validate(domain)
    emulatorpin = domain.find("cputune/emulatorpin").get("cpuset")
    assert cpuset.parse_cpu_spec(emulatorpin) == set(doc["emulatorpin"])
    pins = {int(p.get("vcpu")): int(p.get("cpuset")) for p in domain.iterfind("cputune/vcpupin")}
    assert pins == {int(v): p for v, p in doc["cells"][0]["cpu_pinning"].items()}
    assert domain.find("numatune/memory").get("nodeset") == str(doc["cells"][0]["host_cell"])
    assert domain.find("memoryBacking/hugepages/page").get("size") == "2048"
    assert domain.find("cpu/numa/cell") is not None


def test_xml_defines_on_the_libvirt_test_driver(os_numa):
    result = os_numa(
        [
            "place",
            "--format",
            "xml",
            "--flavor",
            REALTIME,
            "--extra-spec",
            "hw:cpu_realtime_mask=^0",
        ]
    )
    assert result.returncode == 0, result.stderr
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXMLFlags(result.stdout, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        defined = etree.fromstring(dom.XMLDesc().encode())
        dom.undefine()
    finally:
        conn.close()
    scheds = defined.findall("cputune/vcpusched")
    assert sorted(int(s.get("vcpus")) for s in scheds) == [1, 2, 3]
    assert defined.find("memoryBacking/locked") is not None


# --- hosts from capabilities files and libvirt ------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "tiny-2cell-nosmt.xml",
        "intel-2s-20c-ht.xml",
        "offline-cpus.xml",
        "asymmetric-3cell.xml",
        "single-node-real.xml",
    ],
)
def test_host_picture_from_capabilities_draws_every_online_cpu(in_process, name):
    result = in_process(["host", "--capabilities", str(DATA / name)])
    assert result.returncode == 0, result.stderr
    drawn = labels(result.stdout)
    assert set(drawn) == caps_cpus(DATA / name)
    assert set(drawn.values()) == {"free"}


@pytest.mark.parametrize(
    "option, words",
    [
        ("--connect", "--connect needs a libvirt URI"),
        ("--capabilities", "cannot read capabilities"),
    ],
)
def test_an_empty_host_option_is_an_error_not_the_builtin_host(os_numa, option, words):
    """``--capabilities "$UNSET"`` must not silently place on the built-in host."""
    result = os_numa(["place", option, "", "--flavor", ISOLATE])
    assert (result.returncode, result.stdout) == (2, "")
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_floating_guest_can_be_an_existing_guest(os_numa, tmp_path):
    """Packing guests one after another works when one of them floats."""
    first = os_numa(["place", "--format", "json", "--flavor", "vcpus=2,memory_mb=512"])
    assert first.returncode == 0 and json.loads(first.stdout)["cells"] == []
    path = tmp_path / "floating.json"
    path.write_text(first.stdout)
    second = place_json(os_numa, "--existing", str(path), "--flavor", ISOLATE)
    assert second["fits"] is True
    assert second == place_json(os_numa, "--flavor", ISOLATE)


@pytest.mark.parametrize(
    "document",
    [
        "<capabilities/>",
        "<capabilities><host><topology><cells num='0'/></topology></host></capabilities>",
    ],
)
@pytest.mark.parametrize("command", ["place", "host"])
def test_capabilities_without_cells_are_invalid_input(os_numa, tmp_path, document, command):
    """Not "the guest does not fit" (exit 1): the document is not a host's."""
    path = tmp_path / "caps.xml"
    path.write_text(document)
    argv = [command, "--capabilities", str(path)]
    result = os_numa(argv + (["--flavor", ISOLATE] if command == "place" else []))
    assert (result.returncode, result.stdout) == (2, "")
    assert "describe no NUMA cell" in result.stderr and "Traceback" not in result.stderr


def test_place_on_a_capabilities_file(os_numa):
    path = str(DATA / "tiny-2cell-nosmt.xml")
    # 4 pinnable pCPUs per cell: 3 vCPUs + 1 emulator fit, 4 + 1 do not (Nova's A2).
    fits = place_json(
        os_numa,
        "--capabilities",
        path,
        "--flavor",
        ISOLATE.replace("vcpus=4", "vcpus=3").replace("4096", "1024"),
    )
    assert fits["fits"] is True
    host_cell = fits["cells"][0]["host_cell"]
    cell_cpus = set(range(4 * host_cell, 4 * host_cell + 4))
    used = set(fits["cells"][0]["cpu_pinning"].values()) | set(fits["cells"][0]["cpuset_reserved"])
    assert used == cell_cpus

    no_fit = os_numa(["place", "--capabilities", path, "--flavor", ISOLATE.replace("4096", "1024")])
    assert no_fit.returncode == 1
    assert "DOES NOT FIT" in no_fit.stdout
    assert "why it does not fit:" in no_fit.stdout
    assert "5 pCPUs needed (4 vCPUs + 1 emulator)" in no_fit.stdout


def test_host_over_libvirt_connection(os_numa):
    conn = libvirt.openReadOnly("test:///default")
    try:
        caps = etree.fromstring(conn.getCapabilities().encode())
    finally:
        conn.close()
    expected = {int(c.get("id")) for c in caps.iterfind(".//topology/cells/cell/cpus/cpu")}
    result = os_numa(["host", "--connect", "test:///default"])
    assert result.returncode == 0, result.stderr
    assert set(labels(result.stdout)) == expected


def test_cpu_sets_shape_the_picture(os_numa):
    result = os_numa(["host", "--cpu-shared-set", "0,16", "--cpu-dedicated-set", "2-15,18-31"])
    assert result.returncode == 0, result.stderr
    drawn = labels(result.stdout)
    assert drawn[0] == drawn[16] == "shr"
    assert drawn[1] == drawn[17] == "host"
    assert all(drawn[cpu] == "free" for cpu in (2, 15, 18, 31))


# --- not fitting -------------------------------------------------------------------------


def test_no_fit_exit_1_with_explanation_in_every_format(os_numa):
    big = "vcpus=20,memory_mb=4096,hw:cpu_policy=dedicated"
    picture = os_numa(["place", "--flavor", big])
    assert picture.returncode == 1
    assert "host cell 0: 20 pCPUs needed" in picture.stdout
    doc = place_json(os_numa, "--flavor", big)
    assert doc["fits"] is False and doc["cells"] == [] and doc["emulatorpin"] == []
    assert "16" in doc["explanation"] and "Does not fit" in doc["explanation"]
    xml = os_numa(["place", "--format", "xml", "--flavor", big])
    assert xml.returncode == 1
    (comment,) = etree.fromstring(f"<wrapper>{xml.stdout}</wrapper>")  # a well-formed comment
    assert "Does not fit" in comment.text


# --- colour ------------------------------------------------------------------------------


def test_colour_only_when_asked_or_on_a_terminal(os_numa):
    plain = os_numa(["place", "--flavor", ISOLATE])
    coloured = os_numa(["place", "--flavor", ISOLATE, "--color", "always"], NO_COLOR="1")
    assert plain.returncode == coloured.returncode == 0
    assert "\x1b[" not in plain.stdout  # a pipe is not a terminal
    assert "\x1b[" in coloured.stdout  # always means always, even with NO_COLOR
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured.stdout) == plain.stdout


@pytest.mark.parametrize("choice", ["never", "auto"])
def test_no_colour_unless_asked(in_process, choice):
    result = in_process(["host", "--color", choice])
    assert result.returncode == 0 and "\x1b[" not in result.stdout


# --- --existing ----------------------------------------------------------------------------


def test_existing_placements_are_claimed_first(os_numa, tmp_path):
    first = place_json(os_numa, "--flavor", ISOLATE)
    path = tmp_path / "first.json"
    path.write_text(json.dumps(first))
    second = place_json(os_numa, "--existing", str(path), "--flavor", ISOLATE)
    assert second["fits"] is True

    def owned(doc):
        cell = doc["cells"][0]
        return set(cell["cpu_pinning"].values()) | set(cell["cpuset_reserved"])

    assert not owned(first) & owned(second)
    picture = os_numa(["place", "--existing", str(path), "--flavor", ISOLATE]).stdout
    drawn = labels(picture)
    assert {drawn[cpu] for cpu in owned(first)} == {"used"}

    both = tmp_path / "both.json"
    both.write_text(json.dumps([first, second]))
    host = os_numa(["host", "--existing", str(both)])
    assert sum(label == "used" for label in labels(host.stdout).values()) == len(
        owned(first) | owned(second)
    )


def test_conflicting_existing_placements_exit_2(os_numa, tmp_path):
    first = place_json(os_numa, "--flavor", ISOLATE)
    path = tmp_path / "twice.json"
    path.write_text(json.dumps([first, first]))
    result = os_numa(["host", "--existing", str(path)])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "rule 'free'" in result.stderr


def _pins(doc):
    return doc["cells"][0]["cpu_pinning"]


def _twice(doc):
    _pins(doc)["1"] = _pins(doc)["0"]


def _on_emulator(doc):
    _pins(doc)["0"] = doc["cells"][0]["cpuset_reserved"][0]


def _no_reserved(doc):
    doc["cells"][0]["cpuset_reserved"] = None


def _pages(doc):
    doc["cells"][0].update(memory_mb=100 * 1024, pagesize_kb=1048576)


def _memory(doc):
    doc["cells"][0]["memory_mb"] *= 1024


def _floating(doc):
    doc["cells"][0].update(vcpus=list(range(199_998)), cpu_policy="mixed")


def _two_cells_one_host_cell(doc):
    cell = dict(doc["cells"][0], vcpus=[4], cpu_pinning={"4": 30}, cpuset_reserved=None)
    doc["cells"].append(cell)


def _arabic_digit(doc):
    _pins(doc)["\u0661"] = 30  # ARABIC-INDIC DIGIT ONE: isdigit() and int() accept it


def _four_pins_one_vcpu(doc):
    doc["cells"][0].update(vcpus=[0], cpu_pinning={"0": 0, "00": 2, "000": 3, "0000": 4})


@pytest.mark.parametrize(
    "change, words",
    [
        (_twice, "rule 'one-vcpu-per-pcpu'"),
        (_on_emulator, "rule 'emulator'"),
        (_no_reserved, "rule 'emulator'"),
        (_pages, "rule 'pages'"),
        (_memory, "rule 'pages'"),
        (_floating, "rule 'floating'"),
        (_two_cells_one_host_cell, "rule 'distinct-cells'"),
        (_arabic_digit, "is not a vCPU number"),
        (_four_pins_one_vcpu, "pinned twice"),
    ],
)
def test_contradictory_existing_placements_exit_2(in_process, tmp_path, change, words):
    """Issue 10, defect 6: a restored placement passes the checks of a fresh claim."""
    doc = json.loads(in_process(["place", "--format", "json", "--flavor", ISOLATE]).stdout)
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    result = in_process(["host", "--existing", str(path)])
    assert result.returncode == 2, result.stdout
    assert words in result.stderr and "entry 0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- validate-flavor -----------------------------------------------------------------------


def test_validate_flavor_summarises_the_request(os_numa):
    result = os_numa(
        [
            "validate-flavor",
            "--flavor",
            REALTIME + ",hw:numa_nodes=2",
            "--flavor",
            "hw:cpu_realtime_mask=^0,^2",
            "--flavor",
            "hw:emulator_threads_policy=share",
        ]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 4 vCPUs, 4096 MiB")
    assert "guest cell 0: vCPUs 0-1; pinned 0-1; 2048 MiB" in result.stdout
    assert "guest cell 1: vCPUs 2-3; pinned 2-3; 2048 MiB" in result.stdout
    assert "emulator threads share" in result.stdout
    assert "realtime vCPUs 1,3" in result.stdout


def test_validate_flavor_notes_keys_it_does_not_read(os_numa):
    """A misspelt key would silently float the guest: the summary says so."""
    result = os_numa(
        ["validate-flavor", "--flavor", "vcpus=2,memory_mb=512,hw:cpu_polcy=dedicated"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "no NUMA placement requested: vCPUs float over the host's shared CPUs",
        "note: os-numa does not read hw:cpu_polcy (did you mean hw:cpu_policy?)",
    ]


def test_place_notes_unread_keys_on_stderr_keeping_json_clean(os_numa):
    result = os_numa(
        ["place", "--format", "json", "--flavor", "vcpus=2,memory_mb=512,hw:cpu_polcy=dedicated"]
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["cells"] == []
    assert (
        result.stderr == "note: os-numa does not read hw:cpu_polcy (did you mean hw:cpu_policy?)\n"
    )


def test_validate_flavor_without_numa_request(os_numa):
    result = os_numa(["validate-flavor", "--flavor", "vcpus=2,memory_mb=512"])
    assert result.returncode == 0
    assert "no NUMA placement requested" in result.stdout


def test_flavor_without_numa_request_fits_without_cells(in_process):
    result = in_process(["place", "--format", "json", "--flavor", "vcpus=2,memory_mb=512"])
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["fits"] is True and doc["cells"] == [] and doc["explanation"] is None
    picture = in_process(["place", "--flavor", "vcpus=2,memory_mb=512"])
    assert "asks for no NUMA placement" in picture.stdout
    assert "v0" not in labels(picture.stdout).values()


# --- PCI devices ---------------------------------------------------------------------------

NODEDEV = DATA.parent / "nodedev"
INTEL = str(DATA / "intel-2s-20c-ht.xml")
VF_ALIAS = (
    '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF", '
    '"numa_policy": "required"}'
)
TWO_NODES = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:numa_nodes=2"


def device_files(*names: str) -> list[str]:
    return [str(NODEDEV / f"pci_0000_{name}.xml") for name in names]


def device_state(picture: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\s+(\w{4}:\w\w:\w\w\.\w) \w{4}:\w{4} \S+\s+(.*)$", picture, re.M)
    }


def place_vfs(files: list[str], count: int) -> list[str]:
    """``place`` on the Intel host with ``files`` as its devices, asking ``count`` VFs."""
    return [
        "place",
        "--capabilities",
        INTEL,
        "--pci-devices",
        *files,
        "--pci-alias",
        VF_ALIAS,
        "--flavor",
        TWO_NODES,
        "--extra-spec",
        f"pci_passthrough:alias=vf:{count}",
    ]


def test_pci_devices_are_placed_shown_and_written(os_numa):
    files = device_files("18_00_0", "19_02_0", "19_02_1", "af_00_0", "b0_02_0", "3b_00_0")
    argv = place_vfs(files, 2)
    doc = place_json(os_numa, *argv[1:])
    assert doc["fits"] is True
    assigned = doc["pci_devices"]
    assert len(assigned) == 2 and {d["alias"] for d in assigned} == {"vf"}
    # policy required: each device sits on the host cell of the guest cell it serves
    host_of_guest = {c["guest_cell"]: c["host_cell"] for c in doc["cells"]}
    assert all(host_of_guest[d["guest_cell"]] == d["host_numa_node"] for d in assigned)

    picture = os_numa(argv)
    assert picture.returncode == 0, picture.stderr
    states = device_state(picture.stdout)
    for device in assigned:
        assert states[device["address"]] == f"ASSIGNED (vf) -> guest cell {device['guest_cell']}"
    assert "no NUMA node" in picture.stdout and states["0000:3b:00.0"] == "free"

    xml = os_numa([*argv, "--format", "xml"])
    domain = etree.fromstring(xml.stdout.encode())
    assert etree.RelaxNG(etree.parse(DOMAIN_RNG)).validate(domain)
    sources = {
        "{:04x}:{:02x}:{:02x}.{:x}".format(
            *(int(a.get(k), 16) for k in ("domain", "bus", "slot", "function"))
        )
        for a in domain.iterfind("devices/hostdev/source/address")
    }
    assert sources == {d["address"] for d in assigned}
    nodes = {n.text for n in domain.iterfind("devices/controller/target/node")}
    assert nodes == {str(d["guest_cell"]) for d in assigned}


def test_existing_pci_devices_are_claimed(in_process, tmp_path):
    files = device_files("19_02_0", "19_02_1", "b0_02_0")
    base = place_vfs(files, 2)
    first = in_process([*base, "--format", "json"])
    assert first.returncode == 0, first.stderr
    path = tmp_path / "first.json"
    path.write_text(first.stdout)
    second = in_process([*base, "--existing", str(path)])
    # 3 VFs, 2 taken on cell 0: the next guest cannot get 2 on one cell.
    assert second.returncode == 1
    assert "alias vf" in second.stdout
    taken = {d["address"] for d in json.loads(first.stdout)["pci_devices"]}
    assert {a for a, s in device_state(second.stdout).items() if s == "used"} == taken


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--pci-devices", *device_files("19_02_0")], "PCI alias vf is not defined"),
        (["--pci-alias", VF_ALIAS], "--pci-devices"),
        (["--pci-alias", "{not json", "--pci-devices", *device_files("19_02_0")], "not JSON"),
    ],
)
def test_pci_input_errors(in_process, extra, words):
    result = in_process(
        [
            "place",
            "--capabilities",
            INTEL,
            "--flavor",
            TWO_NODES,
            "--extra-spec",
            "pci_passthrough:alias=vf:1",
            *extra,
        ]
    )
    assert result.returncode == 2
    assert words in result.stderr


def test_host_lists_devices_per_cell(in_process):
    result = in_process(
        [
            "host",
            "--capabilities",
            INTEL,
            "--pci-devices",
            *device_files("18_00_0", "af_00_0", "3b_00_0"),
        ]
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.index("0000:18:00.0") < text.index("host cell 1") < text.index("0000:af:00.0")
    assert text.index("no NUMA node") < text.index("0000:3b:00.0")


# --- --config-file -------------------------------------------------------------------------


def test_config_file_supplies_the_cpu_sets_and_options_override_it(in_process, tmp_path):
    path = tmp_path / "nova.conf"
    path.write_text("[compute]\ncpu_shared_set = 0,16\ncpu_dedicated_set = 1-15,17-31\n")
    from_file = labels(in_process(["host", "--config-file", str(path)]).stdout)
    assert from_file[0] == from_file[16] == "shr" and from_file[1] == "free"
    overridden = in_process(
        ["host", "--config-file", str(path), "--cpu-shared-set", "8", "--cpu-dedicated-set", "0-7"]
    )
    drawn = labels(overridden.stdout)
    assert drawn[8] == "shr" and drawn[0] == "free" and drawn[16] == "host"


def test_config_file_realtime_priority_reaches_the_xml(in_process, tmp_path):
    path = tmp_path / "rt.conf"
    path.write_text("[libvirt]\nrealtime_scheduler_priority = 42\n")
    result = in_process(
        [
            "place",
            "--format",
            "json",
            "--config-file",
            str(path),
            "--flavor",
            REALTIME,
            "--extra-spec",
            "hw:cpu_realtime_mask=^0",
        ]
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["vcpusched"][0]["priority"] == 42


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "No such file or directory"),
        ("[libvirt]\nrealtime_scheduler_priority = 200\n", "realtime_scheduler_priority"),
        ("[compute]\ncpu_dedicated_set = 0-3,x\n", "cpu_dedicated_set"),
        ("not an ini file", "rt.conf"),
    ],
)
def test_bad_config_files_exit_2(in_process, tmp_path, content, words):
    path = tmp_path / "rt.conf"
    if content is not None:
        path.write_text(content)
    result = in_process(["host", "--config-file", str(path)])
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_validate_flavor_checks_pci_requests(in_process):
    argv = ["validate-flavor", "--flavor", TWO_NODES, "--extra-spec", "pci_passthrough:alias=vf:2"]
    missing = in_process(argv)
    assert missing.returncode == 2 and "PCI alias vf is not defined" in missing.stderr
    ok = in_process([*argv, "--pci-alias", VF_ALIAS])
    assert ok.returncode == 0, ok.stderr
    assert "PCI devices vf:2 (required)" in ok.stdout


def test_pci_aliases_come_from_config_files_too(os_numa, tmp_path):
    """``[pci] alias`` of a ``--config-file`` (a compute node's nova.conf) defines aliases."""
    config = tmp_path / "nova.conf"
    config.write_text(f"[pci]\nalias = {VF_ALIAS}\n")
    spec = ["--extra-spec", "pci_passthrough:alias=vf:2"]
    checked = os_numa(
        ["validate-flavor", "--config-file", str(config), "--flavor", TWO_NODES, *spec]
    )
    assert checked.returncode == 0, checked.stderr
    assert "PCI devices vf:2 (required)" in checked.stdout
    placed = os_numa(
        ["place", "--format", "json", "--config-file", str(config), "--capabilities", INTEL,
         "--pci-devices", *device_files("19_02_0", "b0_02_0"), "--flavor", TWO_NODES, *spec]
    )  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    devices = json.loads(placed.stdout)["pci_devices"]
    assert [(d["address"], d["alias"]) for d in devices] == [
        ("0000:19:02.0", "vf"),
        ("0000:b0:02.0", "vf"),
    ]


@pytest.mark.parametrize(
    "specs, line",
    [
        (
            "hw:emulator_threads_policy=isolate,hw:emulator_threads_count=2",
            "2 emulator pCPUs reserved",
        ),
        ("hw:emulator_threads_mask=0", "emulator threads run beside vCPUs 0"),
        (
            "hw:cpu_realtime=yes,hw:cpu_realtime_mask=^0,hw:cpu_realtime_priority=50",
            "realtime vCPUs 1-3 (SCHED_FIFO, priority 50, locked memory)",
        ),
    ],
)
def test_validate_flavor_reports_emulator_and_realtime_details(in_process, specs, line):
    flavor = f"vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,{specs}"
    result = in_process(["validate-flavor", "--flavor", flavor])
    assert result.returncode == 0, result.stderr
    assert line in result.stdout.splitlines()


def test_validate_flavor_refuses_mask_with_isolate(in_process):
    flavor = ISOLATE + ",hw:emulator_threads_mask=0"
    result = in_process(["validate-flavor", "--flavor", flavor])
    assert result.returncode == 2 and "hw:emulator_threads_mask" in result.stderr


def test_pci_devices_for_a_guest_without_numa_request(in_process):
    # No guest cells: the policy cannot apply, any free VF serves and has no guest cell.
    argv = [
        "place",
        "--capabilities",
        INTEL,
        "--pci-devices",
        *device_files("19_02_0", "b0_02_0", "b0_02_1"),
        "--pci-alias",
        VF_ALIAS,
        "--flavor",
        "vcpus=2,memory_mb=512",
    ]
    fits = in_process([*argv, "--extra-spec", "pci_passthrough:alias=vf:3", "--format", "json"])
    assert fits.returncode == 0, fits.stderr
    doc = json.loads(fits.stdout)
    assert doc["cells"] == []
    assert sorted((d["address"], d["guest_cell"]) for d in doc["pci_devices"]) == [
        ("0000:19:02.0", None),
        ("0000:b0:02.0", None),
        ("0000:b0:02.1", None),
    ]
    xml = in_process([*argv, "--extra-spec", "pci_passthrough:alias=vf:1", "--format", "xml"])
    domain = etree.fromstring(xml.stdout.encode())
    assert len(domain.findall("devices/hostdev")) == 1
    assert not domain.findall("devices/controller")  # no guest node to tie a bus to
    short = in_process([*argv, "--extra-spec", "pci_passthrough:alias=vf:4"])
    assert short.returncode == 1
    assert "alias vf: 4 devices requested, 3 free on the whole host" in short.stdout


def test_isolate_on_cores_split_between_the_sets_does_not_fit(in_process):
    """Issue 10, defect 1: the default host's CPU N and N+16 share a core; with
    pCPUs 0-7 and shared CPUs 16-23 every pCPU's sibling is a shared CPU, so thread
    policy isolate fits nowhere (as in Nova), and the picture draws 16-23 beside 0-7."""
    flavor = "vcpus=2,memory_mb=1024,hw:cpu_policy=dedicated,hw:cpu_thread_policy=isolate"
    sets = ["--cpu-dedicated-set", "0-7", "--cpu-shared-set", "16-23"]
    result = in_process(["place", *sets, "--flavor", flavor, "--format", "json"])
    assert result.returncode == 1, result.stdout
    doc = json.loads(result.stdout)
    assert doc["fits"] is False and "isolate" in json.dumps(doc["explanation"])
    assert "pCPU 0 shares its core" in json.dumps(doc["explanation"])
    picture = in_process(["place", *sets, "--flavor", flavor]).stdout
    assert "[ 0 free  16 shr ]" in picture
    prefer = flavor.replace("isolate", "prefer")
    placed = json.loads(in_process(["place", *sets, "--flavor", prefer, "--format", "json"]).stdout)
    assert placed["cells"][0]["cpu_pinning"] == {"0": 0, "1": 1}
