"""--flavor / --extra-spec / --image-property parsing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from os_numa import exception
from os_numa.cmd import specs


@pytest.mark.parametrize(
    "flavor_args, extra, expected_specs",
    [
        (["vcpus=4,memory_mb=4096"], [], {}),
        (
            ["vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:emulator_threads_policy=isolate"],
            [],
            {"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
        ),
        # An item without '=' continues the previous value: CPU specs stay inline.
        (
            ["vcpus=4,memory_mb=4096,hw:cpu_realtime=yes,hw:cpu_realtime_mask=^0,1,hw:x=y"],
            [],
            {"hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0,1", "hw:x": "y"},
        ),
        (
            ["vcpus=4,memory_mb=4096,hw:cpu_realtime_mask=0-1,^1"],
            [],
            {"hw:cpu_realtime_mask": "0-1,^1"},
        ),
        # Repeated options merge; a later value wins; --extra-spec is literal.
        (
            ["vcpus=4,memory_mb=4096,hw:cpu_policy=shared", "hw:cpu_policy=dedicated"],
            ["hw:odd=a=b,c"],
            {"hw:cpu_policy": "dedicated", "hw:odd": "a=b,c"},
        ),
        ([" vcpus = 4 , memory_mb=4096 ,, hw:numa_nodes=2"], [], {"hw:numa_nodes": "2"}),
    ],
)
def test_build_flavor(flavor_args, extra, expected_specs):
    flavor = specs.build_flavor(flavor_args, extra)
    assert (flavor.vcpus, flavor.memory_mb) == (4, 4096)
    assert flavor.extra_specs == expected_specs


def test_flavor_name_is_optional():
    assert specs.build_flavor(["vcpus=1,memory_mb=512,name=small"]).name == "small"
    assert specs.build_flavor(["vcpus=1,memory_mb=512"]).name is None


@pytest.mark.parametrize(
    "flavor_args, error, words",
    [
        (["memory_mb=4096"], exception.InvalidFlavor, "vcpus"),
        (["vcpus=4"], exception.InvalidFlavor, "memory_mb"),
        (["vcpus=0,memory_mb=1"], exception.InvalidFlavor, "vcpus='0'"),
        (["vcpus=four,memory_mb=1"], exception.InvalidFlavor, "integer from 1 to 4096"),
        (["vcpus=4,memory_mb=-5"], exception.InvalidFlavor, "memory_mb='-5'"),
        (["vcpus=4,memory_mb=4_096"], exception.InvalidFlavor, "memory_mb='4_096'"),
        (["vcpus=+4,memory_mb=1"], exception.InvalidFlavor, "vcpus='+4'"),
        (["vcpus=\u0664,memory_mb=1"], exception.InvalidFlavor, "integer from 1 to 4096"),
        (["vcpus=4,memory_mb=1,oops"], exception.InvalidFlavor, "memory_mb='1,oops'"),
        (["vcpus=1,memory_mb=1,cpu_policy=dedicated"], exception.InvalidFlavor, "cpu_policy"),
        (["dedicated"], exception.InvalidRequest, "must start with KEY=VALUE"),
        (["=4"], exception.InvalidRequest, "KEY=VALUE"),
    ],
)
def test_build_flavor_errors(flavor_args, error, words):
    with pytest.raises(error) as info:
        specs.build_flavor(flavor_args)
    assert words in str(info.value)


def test_extra_spec_needs_equals():
    with pytest.raises(exception.InvalidRequest, match="--extra-spec 'hw:cpu_policy'"):
        specs.build_flavor(["vcpus=1,memory_mb=1"], ["hw:cpu_policy"])


def test_image_properties():
    assert specs.build_image_meta([]) is None
    image = specs.build_image_meta(
        [
            "hw_cpu_realtime_mask=^0,1",
            "hw_numa_nodes=2",
            "hw_numa_cpus.0=0-1",
            "hw_numa_cpus.1=2-3",
            "hw_numa_mem.0=1024",
            "hw_numa_mem.1=1024",
            "hw_locked_memory=false",
        ]
    )
    props = image.properties
    assert props.get("hw_cpu_realtime_mask") == "^0,1"
    assert props.get("hw_numa_nodes") == 2
    assert props.get("hw_numa_cpus") == [{0, 1}, {2, 3}]
    assert props.get("hw_numa_mem") == [1024, 1024]
    assert props.get("hw_locked_memory") is False


@pytest.mark.parametrize(
    "item, error",
    [
        ("hw_cpu_polcy=dedicated", exception.InvalidImageProperty),
        ("hw_numa_cpus=0-1", exception.InvalidImageProperty),
        ("hw_numa_nodes=two", exception.Invalid),
        ("hw_locked_memory=perhaps", exception.Invalid),
        ("hw_cpu_policy", exception.InvalidRequest),
    ],
)
def test_image_property_errors(item, error):
    with pytest.raises(error) as info:
        specs.build_image_meta([item])
    assert item.partition("=")[0] in str(info.value)


@pytest.mark.parametrize(
    "extra_specs, notes",
    [
        # Every key os-numa reads, numbered node keys included: no note.
        ({"hw:cpu_policy": "dedicated", "hw:numa_cpus.1": "1", "hw:numa_mem.12": "1"}, []),
        # Other scopes are someone else's (placement, quotas, ...).
        ({"resources:PCPU": "4", "trait:HW_CPU_HYPERTHREADING": "required"}, []),
        ({"quota:cpu_shares": "1024", "aggregate_instance_extra_specs:ssd": "true"}, []),
        (
            {"hw:cpu_polcy": "dedicated"},
            ["note: os-numa does not read hw:cpu_polcy (did you mean hw:cpu_policy?)"],
        ),
        (
            {"pci_passthrough:aliases": "nic:1", "hw:numa_cpu.0": "0"},
            [
                "note: os-numa does not read hw:numa_cpu.0 (did you mean hw:numa_cpus.N?)",
                "note: os-numa does not read pci_passthrough:aliases"
                " (did you mean pci_passthrough:alias?)",
            ],
        ),
        # A real Nova key that is not about placement: named, nothing suggested.
        ({"hw:watchdog_action": "reset"}, ["note: os-numa does not read hw:watchdog_action"]),
    ],
)
def test_unread_extra_specs(extra_specs, notes):
    assert specs.unread_extra_specs(extra_specs) == notes


def test_every_read_extra_spec_has_a_reference_section():
    page = Path(__file__).resolve().parents[2] / "doc" / "source" / "extra-specs.rst"
    headings = re.findall(r"^(\S.*)\n=+$", page.read_text(), re.MULTILINE)
    documented = {key for heading in headings for key in re.findall(r"[a-z_]+:[a-z_.N]+", heading)}
    assert set(specs.READ_EXTRA_SPECS) <= documented
