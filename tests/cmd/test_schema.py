"""Every ``--format json`` document names its schema, and the shipped JSON Schema
files describe the command's real output exactly (a test fails when they drift)."""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from os_numa import exception
from os_numa.cmd import existing, schema
from os_numa.objects import fields
from os_numa.pci import request as pci_request
from os_numa.testing import placement
from tests.cmd.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
NODEDEV = sorted(str(p) for p in (DATA.parent / "nodedev").glob("*.xml"))
INTEL = str(DATA / "intel-2s-20c-ht.xml")
VF_ALIAS = (
    '{"name": "vf", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF", '
    '"numa_policy": "required"}'
)
ISOLATE = "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"
REALTIME = (
    "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:cpu_realtime=yes,"
    "hw:cpu_realtime_mask=^0,hw:mem_page_size=1GB,hw:cpu_realtime_priority=10"
)
PCI = ["--pci-devices", *NODEDEV, "--pci-alias", VF_ALIAS]
PCI_FLAVOR = [
    "--flavor",
    "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:numa_nodes=2",
    "--extra-spec",
    "pci_passthrough:alias=vf:2",
]

#: Real commands per schema: each shipped schema needs at least one (a new
#: command that prints JSON adds its schema file and its cases here).
CASES = {
    schema.PLACEMENT: [
        ["place", "--format", "json", "--flavor", ISOLATE],
        ["place", "--format", "json", "--flavor", REALTIME],
        ["place", "--format", "json", "--flavor", "vcpus=2,memory_mb=512"],
        ["place", "--format", "json", "--flavor", "vcpus=64,memory_mb=512,hw:cpu_policy=dedicated"],
        ["place", "--format", "json", "--capabilities", INTEL, *PCI, *PCI_FLAVOR],
        [
            "place",
            "--format",
            "json",
            "--flavor",
            "vcpus=4,memory_mb=2048,hw:cpu_policy=mixed,hw:cpu_dedicated_mask=^0,"
            "hw:cpu_thread_policy=require,hw:numa_nodes=2",
            "--cpu-shared-set",
            "0,8,16,24",
            "--cpu-dedicated-set",
            "1-7,9-15,17-23,25-31",
        ],
    ],
    schema.HOST: [
        ["host", "--format", "json"],
        ["host", "--format", "json", "--capabilities", INTEL, "--pci-devices", *NODEDEV],
        ["host", "--format", "json", "--cpu-shared-set", "0,16", "--cpu-dedicated-set", "1-15"],
    ],
    schema.AUDIT: [
        ["audit", "--format", "json", "--connect", "test:///default"],
        ["audit", "--format", "json", "--connect", "test:///default", "--cpu-shared-set", "0-1"],
    ],
    schema.FLAVOR: [
        ["validate-flavor", "--format", "json", "--flavor", REALTIME],
        ["validate-flavor", "--format", "json", "--flavor", "vcpus=1,memory_mb=64,hw:cpu_polcy=x"],
        [
            "validate-flavor",
            "--format",
            "json",
            "--pci-alias",
            VF_ALIAS,
            *PCI_FLAVOR,
            "--flavor",
            "hw:mem_page_size=large,hw:emulator_threads_policy=share",
        ],
    ],
    # A temporary Placement (OS_NUMA_OPENSTACK_PYTHON): the mixed flavors, one not placed.
    schema.FLEET: [
        ["fleet", "--start-placement", "--hosts", "1", "--boots", "12", "--format", "json"]
    ],
}


def strict(document_schema: dict) -> dict:
    """A copy in which every object lists all its keys: an undeclared key in the
    output is drift too (the shipped files let readers ignore new keys)."""

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    copy_ = copy.deepcopy(document_schema)
    walk(copy_)
    return copy_


def validator(name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(strict(schema.load(name)))


@pytest.mark.parametrize("name", schema.shipped())
def test_shipped_schema_is_valid_json_schema_with_its_name(name):
    document_schema = schema.load(name)
    jsonschema.Draft202012Validator.check_schema(document_schema)
    assert document_schema["title"] == name
    assert document_schema["properties"]["schema"] == {"const": name}
    assert "schema" in document_schema["required"]


def test_every_shipped_schema_is_exercised_and_every_name_is_shipped():
    assert sorted(CASES) == schema.shipped()
    assert {schema.PLACEMENT, schema.HOST, schema.FLAVOR} <= set(schema.shipped())


def test_the_schema_files_are_package_data():
    """setuptools ships files matching pyproject's package-data patterns only."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text[text.index("[tool.setuptools.package-data]") :]
    patterns = re.findall(r'"([^"]+)"', re.search(r"^os_numa = \[(.*)\]$", section, re.M)[1])
    package = ROOT / "src" / "os_numa"
    for name in schema.shipped():
        relative = f"data/schemas/{schema.file_name(name)}"
        assert (package / relative).is_file()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


@pytest.mark.parametrize(
    ("name", "argv"),
    [(name, argv) for name, cases in CASES.items() for argv in cases],
    ids=lambda v: v if isinstance(v, str) else " ".join(v)[-50:],
)
def test_real_output_matches_its_schema(in_process, name, argv):
    if "--start-placement" in argv and not os.environ.get(placement.ENV):
        pytest.skip(f"{placement.ENV} is not set (a Python with openstack-placement)")
    result = in_process(argv)
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    assert list(document)[0] == "schema" and document["schema"] == name
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_cases_cover_both_outcomes_and_the_optional_parts(in_process):
    """The cases reach the schema's branches: a non-fit, PCI devices, realtime."""
    docs = [json.loads(in_process(argv).stdout) for argv in CASES[schema.PLACEMENT]]
    assert {d["fits"] for d in docs} == {True, False}
    assert any(d["pci_devices"] for d in docs) and any(d["vcpusched"] for d in docs)
    assert any(c["cpu_policy"] == "mixed" for d in docs for c in d["cells"])
    hosts = [json.loads(in_process(argv).stdout) for argv in CASES[schema.HOST]]
    assert any(h["pci_devices"] for h in hosts) and any(h["pci_devices"] is None for h in hosts)
    flavors = [json.loads(in_process(argv).stdout) for argv in CASES[schema.FLAVOR]]
    assert any(f["pci_requests"] for f in flavors) and any(f["notes"] for f in flavors)
    assert {c["mem_page_size"] for f in flavors for c in f["cells"]} >= {"large", 1048576}


def test_drift_is_caught_both_ways(in_process):
    document = json.loads(in_process(CASES[schema.PLACEMENT][0]).stdout)
    assert not list(validator(schema.PLACEMENT).iter_errors(document))
    extra = dict(document, surprise=1)
    extra["cells"] = [dict(document["cells"][0], also=2)]
    paths = {tuple(e.path) for e in validator(schema.PLACEMENT).iter_errors(extra)}
    assert paths == {(), ("cells", 0)}
    missing = {k: v for k, v in document.items() if k != "emulatorpin"}
    assert list(validator(schema.PLACEMENT).iter_errors(missing))
    retyped = dict(document, fits="yes")
    assert list(validator(schema.PLACEMENT).iter_errors(retyped))
    # The shipped file itself lets a reader of v1 ignore keys added later.
    assert not list(
        jsonschema.Draft202012Validator(schema.load(schema.PLACEMENT)).iter_errors(extra)
    )


def test_the_schema_enumerations_are_the_objects_ones():
    placement = schema.load(schema.PLACEMENT)
    cell = placement["$defs"]["cell"]["properties"]
    assert cell["cpu_policy"]["enum"] == [*fields.CPUAllocationPolicy.ALL, None]
    assert cell["cpu_thread_policy"]["enum"] == [*fields.CPUThreadAllocationPolicy.ALL, None]
    policy = placement["properties"]["emulator_threads_policy"]["enum"]
    assert policy == [*fields.CPUEmulatorThreadsPolicy.ALL, None]
    flavor = schema.load(schema.FLAVOR)
    numa_policy = flavor["properties"]["pci_requests"]["items"]["properties"]["numa_policy"]
    assert sorted(numa_policy["enum"]) == sorted(pci_request.POLICIES)


@pytest.mark.parametrize("name", ["os-numa/placement", "placement/v1", "os-numa/Placement/v1"])
def test_file_name_refuses_malformed_names(name):
    with pytest.raises(ValueError):
        schema.file_name(name)


def test_stamp_puts_the_name_first_without_changing_the_body():
    body = {"a": 1, "schema": "old"}
    assert list(schema.stamp(schema.HOST, body).items()) == [("schema", schema.HOST), ("a", 1)]
    assert body == {"a": 1, "schema": "old"}


def test_existing_reads_placements_and_refuses_other_documents(in_process, tmp_path):
    placed = in_process(CASES[schema.PLACEMENT][0]).stdout
    assert len(existing.parse_existing(placed)) == 1
    unnamed = {k: v for k, v in json.loads(placed).items() if k != "schema"}
    assert len(existing.parse_existing(json.dumps(unnamed))) == 1
    host = in_process(CASES[schema.HOST][0]).stdout
    with pytest.raises(exception.InvalidRequest, match="'os-numa/host/v1', os-numa reads"):
        existing.parse_existing(host)
    path = tmp_path / "host.json"
    path.write_text(host)
    result = in_process(["place", "--existing", str(path), "--flavor", ISOLATE])
    assert result.returncode == 2 and "os-numa/host/v1" in result.stderr


def test_migrate_prints_a_placement_document(in_process, tmp_path):
    """``os-numa migrate --format json``: the placement schema, with the rewritten
    domain in ``domain_xml`` (a case of its own: it needs a source domain first)."""
    source = in_process(["place", "--capabilities", INTEL, "--flavor", ISOLATE, "--format", "xml"])
    (tmp_path / "dom.xml").write_text(source.stdout)
    argv = ["--source-xml", str(tmp_path / "dom.xml"), "--capabilities", INTEL]
    result = in_process(["migrate", *argv, "--format", "json"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == schema.PLACEMENT and document["domain_xml"].startswith("<domain")
    errors = list(validator(schema.PLACEMENT).iter_errors(document))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("given", [7, "x" * 100, ["os-numa/placement/v1"]])
def test_a_document_of_another_schema_is_named_briefly(given):
    with pytest.raises(exception.InvalidRequest, match="the document is of another schema"):
        schema.check_name({"schema": given}, schema.PLACEMENT, "--existing entry 0")
