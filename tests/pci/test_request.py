"""[pci] alias parsing, pci_passthrough:alias requests and the NUMA affinity policy."""

from __future__ import annotations

import json

import pytest

from os_numa import conf as conf_mod
from os_numa import exception, objects
from os_numa.pci import request
from os_numa.pci.devices import PciAddress, PciDevice

NIC_VF = json.dumps(
    {"name": "nic1", "vendor_id": "8086", "product_id": "154C", "device_type": "type-VF"}
)
NIC_PF = json.dumps(
    {
        "name": "pf",
        "vendor_id": "8086",
        "product_id": "1572",
        "device_type": "type-PF",
        "numa_policy": "required",
    }
)
GPU = json.dumps(
    {"name": "gpu", "vendor_id": "10de", "product_id": "1eb8", "numa_policy": "preferred"}
)
ALIASES = request.parse_aliases([NIC_VF, NIC_PF, GPU])


def _flavor(**specs):
    return objects.Flavor(vcpus=4, memory_mb=4096, extra_specs=specs)


def test_alias_fields_normalised():
    assert ALIASES["nic1"] == request.PciAlias("nic1", (("8086", "154c"),), "type-VF", None)
    assert ALIASES["pf"].numa_policy == "required"
    assert ALIASES["gpu"].device_type is None


def test_alias_defined_twice_merges_ids():
    second = json.dumps(
        {"name": "nic1", "vendor_id": "15b3", "product_id": "1018", "device_type": "type-VF"}
    )
    merged = request.parse_aliases([NIC_VF, second])["nic1"]
    assert merged.ids == (("15b3", "1018"), ("8086", "154c"))


@pytest.mark.parametrize(
    "text,needle",
    [
        ("not json", "is not JSON"),
        ("[1]", "not a JSON object"),
        ('{"name": "a", "vendor_id": "8086", "product_id": "1572", "colour": 1}', "colour"),
        ('{"vendor_id": "8086", "product_id": "1572"}', "name None"),
        ('{"name": "a b", "vendor_id": "8086", "product_id": "1572"}', "name 'a b'"),
        ('{"name": "a", "vendor_id": "808", "product_id": "1572"}', "vendor_id '808'"),
        ('{"name": "a", "vendor_id": "8086"}', "product_id None"),
        (
            '{"name": "a", "vendor_id": "8086", "product_id": "1572", "device_type": "VF"}',
            "device_type 'VF'",
        ),
        (
            '{"name": "a", "vendor_id": "8086", "product_id": "1572", "numa_policy": "strict"}',
            "numa_policy 'strict'",
        ),
        # "$" in a pattern also matches before a trailing newline: fields must match whole.
        ('{"name": "a\\n", "vendor_id": "8086", "product_id": "1572"}', "name 'a\\n'"),
        ('{"name": "a", "vendor_id": "8086\\n", "product_id": "1572"}', "vendor_id '8086\\n'"),
        ('{"name": "a", "vendor_id": "8086", "product_id": "1572\\n"}', "product_id '1572\\n'"),
        # Nesting is bounded before the parser recurses (1000 deep raised RecursionError).
        ("[" * 1000 + "]" * 1000, "more than 32 deep"),
        ('{"name": "' + "x" * 5000 + '"}', "longer than 4096 characters"),
    ],
)
def test_bad_alias(text, needle):
    with pytest.raises(exception.PciInvalidAlias) as info:
        request.parse_aliases([text])
    assert needle in str(info.value)


def test_alias_redefined_with_other_policy_rejected():
    other = json.dumps(
        {
            "name": "pf",
            "vendor_id": "8086",
            "product_id": "1573",
            "device_type": "type-PF",
            "numa_policy": "socket",
        }
    )
    with pytest.raises(exception.PciInvalidAlias, match="defined twice"):
        request.parse_aliases([NIC_PF, other])


@pytest.mark.parametrize(
    "specs,image,expected",
    [
        ({"pci_passthrough:alias": "nic1:2"}, None, [("nic1", 2, "legacy")]),
        (
            {"pci_passthrough:alias": " nic1 : 2 , gpu:1"},
            None,
            [("nic1", 2, "legacy"), ("gpu", 1, "preferred")],
        ),
        (
            {"pci_passthrough:alias": "pf:1,gpu:1", "hw:pci_numa_affinity_policy": "socket"},
            None,
            [("pf", 1, "socket"), ("gpu", 1, "socket")],
        ),
        (
            {"pci_passthrough:alias": "pf:1"},
            {"hw_pci_numa_affinity_policy": "preferred"},
            [("pf", 1, "preferred")],
        ),
        (
            {"pci_passthrough:alias": "nic1:1", "hw:pci_numa_affinity_policy": "required"},
            {"hw_pci_numa_affinity_policy": "required"},
            [("nic1", 1, "required")],
        ),
        ({"hw:pci_numa_affinity_policy": "required"}, None, []),
        ({}, None, []),
    ],
)
def test_requests_from_flavor_and_image(specs, image, expected):
    image_meta = None if image is None else {"properties": image}
    got = request.get_pci_requests(_flavor(**specs), image_meta, aliases=ALIASES)
    assert [(r.alias, r.count, r.policy) for r in got] == expected


@pytest.mark.parametrize(
    "spec,error,needle",
    [
        ("nic2:1", exception.PciRequestAliasNotDefined, "nic2 is not defined"),
        ("nic1", exception.PciRequestInvalid, "NAME:COUNT"),
        (":1", exception.PciRequestInvalid, "NAME:COUNT"),
        ("nic1:two", exception.PciRequestInvalid, "'two'"),
        ("nic1:-1", exception.PciRequestInvalid, "'-1'"),
        ("nic1:0", exception.PciRequestInvalid, "out of range 1..32"),
        ("nic1:33", exception.PciRequestInvalid, "out of range 1..32"),
        ("nic1:99999999999", exception.PciRequestInvalid, "not an integer"),
        ("nic1:1,nic1:2", exception.PciRequestInvalid, "named twice"),
        ("nic1:32,pf:32,gpu:1", exception.PciRequestInvalid, "65 devices"),
        (",".join(f"a{i}:1" for i in range(17)), exception.PciRequestInvalid, "at most 16"),
    ],
)
def test_bad_alias_spec(spec, error, needle):
    with pytest.raises(error) as info:
        request.get_pci_requests(_flavor(**{"pci_passthrough:alias": spec}), aliases=ALIASES)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "specs,image,error",
    [
        ({"hw:pci_numa_affinity_policy": "strict"}, None, exception.InvalidPCINUMAAffinity),
        ({"hw:pci_numa_affinity_policy": "REQUIRED"}, None, exception.InvalidPCINUMAAffinity),
        ({}, {"hw_pci_numa_affinity_policy": "nearby"}, exception.InvalidPCINUMAAffinity),
        (
            {"hw:pci_numa_affinity_policy": "required"},
            {"hw_pci_numa_affinity_policy": "socket"},
            exception.ImagePCINUMAPolicyForbidden,
        ),
    ],
)
def test_bad_policy(specs, image, error):
    specs = {"pci_passthrough:alias": "nic1:1", **specs}
    image_meta = None if image is None else {"properties": image}
    with pytest.raises(error) as info:
        request.get_pci_requests(_flavor(**specs), image_meta, aliases=ALIASES)
    assert "valid values" in str(info.value) or "conflicts" in str(info.value)


def test_aliases_from_conf_option():
    conf = conf_mod.make_conf(**{"pci.alias": [NIC_VF, GPU]})
    assert sorted(request.aliases_from_conf(conf)) == ["gpu", "nic1"]
    assert conf_mod.make_conf().pci.alias == []


def test_request_matches_ids_and_type():
    (req,) = request.parse_alias_spec("nic1:1", ALIASES)
    vf = PciDevice(PciAddress(0, 0x19, 2, 0), "8086", "154c", 0, "type-VF")
    pf = PciDevice(PciAddress(0, 0x18, 0, 0), "8086", "154c", 0, "type-PF")
    assert req.matches(vf) and not req.matches(pf)
    (gpu,) = request.parse_alias_spec("gpu:1", ALIASES)  # no device_type: any type but a PF
    for dev_type, matches in (("type-PCI", True), ("type-VF", True), ("type-PF", False)):
        device = PciDevice(PciAddress(0, 0x3B, 0, 0), "10de", "1eb8", None, dev_type)
        assert gpu.matches(device) is matches, dev_type
    (pf,) = request.parse_alias_spec("pf:1", ALIASES)  # a PF only when the alias names type-PF
    assert pf.matches(PciDevice(PciAddress(0, 0x18, 0, 0), "8086", "1572", 0, "type-PF"))
    assert not pf.matches(PciDevice(PciAddress(0, 0x18, 0, 0), "8086", "1572", 0, "type-PCI"))
    assert request.describe([req, gpu]) == "nic1:1 (legacy), gpu:1 (preferred)"
