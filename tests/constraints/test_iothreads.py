"""hw:iothreads and hw:iothreads_policy: values, pinning, the Placement form."""

from __future__ import annotations

import pytest

from os_numa import exception, hardware
from os_numa.constraints import iothreads
from tests.constraints.helpers import flavor

PINNED = {"hw:cpu_policy": "dedicated"}


def test_unset_is_novas_one_shared_thread():
    topology = hardware.numa_get_constraints(flavor(PINNED), None)
    assert (topology.iothreads, topology.iothreads_policy, topology.iothread_pcpus) == (
        None,
        None,
        0,
    )


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        ({"hw:iothreads": "4"}, (4, None, 0)),
        ({"hw:iothreads": "3", "hw:iothreads_policy": "isolate"}, (3, "isolate", 3)),
        ({"hw:iothreads_policy": "isolate"}, (None, "isolate", 1)),
        ({"hw:iothreads_policy": "share", "hw:iothreads": "2"}, (2, "share", 0)),
    ],
)
def test_stored_on_the_topology(specs, expected):
    topology = hardware.numa_get_constraints(flavor(dict(PINNED, **specs)), None)
    assert (topology.iothreads, topology.iothreads_policy, topology.iothread_pcpus) == expected


@pytest.mark.parametrize("value", ["0", "65", "two", "-1"])
def test_bad_counts(value):
    with pytest.raises(exception.InvalidIOThreadsCount, match="1 to 64"):
        hardware.numa_get_constraints(flavor(dict(PINNED, **{"hw:iothreads": value})), None)


@pytest.mark.parametrize("value", ["ISOLATE", "dedicated"])
def test_bad_policies(value):
    with pytest.raises(exception.InvalidIOThreadsPolicy, match="case-sensitive"):
        hardware.numa_get_constraints(flavor(dict(PINNED, **{"hw:iothreads_policy": value})), None)


def test_isolate_needs_pinned_vcpus():
    with pytest.raises(exception.InvalidIOThreadsPolicy, match="hw:cpu_policy=dedicated"):
        hardware.numa_get_constraints(flavor({"hw:iothreads_policy": "isolate"}), None)
    # share works for a floating guest (and asks for no NUMA placement).
    assert hardware.numa_get_constraints(flavor({"hw:iothreads": "2"}), None) is None


def test_placement_form_counts_isolated_iothreads():
    specs = {
        "resources:PCPU": "7",
        "hw:emulator_threads_policy": "isolate",
        "hw:iothreads": "2",
        "hw:iothreads_policy": "isolate",
    }
    assert hardware.numa_get_constraints(flavor(specs), None).iothread_pcpus == 2
    specs["resources:PCPU"] = "5"
    with pytest.raises(exception.InvalidRequest, match="2 for hw:iothreads_policy=isolate"):
        hardware.numa_get_constraints(flavor(specs), None)


def test_dedicated_pcpus_of_the_tuple():
    assert iothreads.IOThreads(None, "isolate").dedicated_pcpus == 1
    assert iothreads.IOThreads(5, "share").dedicated_pcpus == 0
