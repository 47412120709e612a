"""The host picture, on named topologies (tests/cmd/topologies.py)."""

from __future__ import annotations

import re

import pytest

from os_numa.cmd import render_picture
from os_numa.objects.instance_numa import InstanceNUMACell, InstanceNUMATopology
from tests.cmd import topologies

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CORE = re.compile(r"\[([^\]]*)\]")
THREAD = re.compile(r"(\d+) (\S+)")


def cpu_labels(picture: str) -> dict[int, str]:
    """{cpu: label} from a plain picture, asserting each CPU is drawn once."""
    labels: dict[int, str] = {}
    for group in CORE.findall(picture):
        for cpu, label in THREAD.findall(group):
            assert int(cpu) not in labels, f"CPU {cpu} drawn twice"
            labels[int(cpu)] = label
    return labels


def core_groups(picture: str) -> list[set[int]]:
    return [{int(cpu) for cpu, _ in THREAD.findall(g)} for g in CORE.findall(picture)]


def isolate_guest(host_cell=0, pins=None, reserved=(2,)):
    pins = pins or {0: 0, 1: 8, 2: 1, 3: 9}
    return InstanceNUMATopology(
        cells=[
            InstanceNUMACell(
                id=host_cell,
                cpuset=set(),
                pcpuset=set(pins),
                memory=2048,
                cpu_pinning=pins,
                cpuset_reserved=set(reserved),
                cpu_policy="dedicated",
            )
        ],
        emulator_threads_policy="isolate",
    )


@pytest.mark.parametrize("name", sorted(topologies.NAMED))
def test_every_cpu_drawn_once_in_its_core(name):
    host = topologies.NAMED[name]()
    picture = render_picture.render_host(host)
    labels = cpu_labels(picture)
    expected = {cpu for c in host.cells for cpu in set(c.cpuset) | set(c.pcpuset)}
    assert set(labels) == expected
    groups = core_groups(picture)
    for cell in host.cells:
        for siblings in cell.siblings:
            assert set(siblings) in groups


@pytest.mark.parametrize("name", sorted(topologies.NAMED))
def test_core_boxes_have_one_width(name):
    picture = render_picture.render_host(topologies.NAMED[name]())
    widths = {len(box) for box in CORE.findall(picture)}
    assert len(widths) == 1


@pytest.mark.parametrize(
    "name, expected",
    [
        ("smt_2x4x2", {cpu: "free" for cpu in range(16)}),
        ("nosmt_2x4", {cpu: "free" for cpu in range(8)}),
        (
            "split_sets",
            {0: "shr", 4: "shr", **{cpu: "free" for cpu in (1, 2, 3, 5, 6, 7)}},
        ),
    ],
)
def test_host_alone_labels(name, expected):
    assert cpu_labels(render_picture.render_host(topologies.NAMED[name]())) == expected


def test_guest_emulator_and_used_cpus_are_distinct():
    host = topologies.smt_2x4x2(pinned0={3, 11})
    picture = render_picture.render_host(host, isolate_guest(), {2})
    labels = cpu_labels(picture)
    assert {cpu: labels[cpu] for cpu in (0, 8, 1, 9)} == {0: "v0", 8: "v1", 1: "v2", 9: "v3"}
    assert labels[2] == "EMU"
    assert labels[3] == labels[11] == "used"
    assert labels[10] == "free"
    assert all(labels[cpu] == "free" for cpu in range(4, 8))
    assert "guest cell 0 -> host cell 0" in picture
    assert "emulator threads (isolate) on host CPUs 2" in picture


def test_guest_on_second_cell_marks_only_that_cell():
    guest = isolate_guest(host_cell=1, pins={0: 4, 1: 12, 2: 5, 3: 13}, reserved=(6,))
    labels = cpu_labels(render_picture.render_host(topologies.smt_2x4x2(), guest, {6}))
    assert labels[4] == "v0" and labels[13] == "v3" and labels[6] == "EMU"
    assert all(labels[cpu] == "free" for cpu in (0, 1, 2, 3, 8, 9, 10, 11))


def test_shared_emulator_pin_is_suffixed_not_owned():
    guest = InstanceNUMATopology(
        cells=[
            InstanceNUMACell(
                id=0,
                cpuset=set(),
                pcpuset={0, 1},
                memory=1024,
                cpu_pinning={0: 1, 1: 5},
                cpu_policy="dedicated",
            )
        ],
        emulator_threads_policy="share",
    )
    labels = cpu_labels(render_picture.render_host(topologies.split_sets(), guest, {0, 4}))
    assert labels[0] == labels[4] == "shr+E"
    assert labels[1] == "v0" and labels[5] == "v1"


def test_mixed_guest_lists_floating_vcpus():
    guest = InstanceNUMATopology(
        cells=[
            InstanceNUMACell(
                id=0,
                cpuset={0, 1},
                pcpuset={2},
                memory=1024,
                cpu_pinning={2: 3},
                cpu_policy="mixed",
            )
        ]
    )
    picture = render_picture.render_host(topologies.split_sets(), guest)
    assert "floating vCPUs 0-1 run on shared CPUs 0,4" in picture
    assert cpu_labels(picture)[3] == "v2"


def test_cell_header_shows_socket_memory_and_pages():
    picture = render_picture.render_host(topologies.smt_2x4x2(), isolate_guest(), {2})
    assert "host cell 0, socket 0: 8 CPUs, memory 16384 MiB (0 used, 2048 to this guest)" in (
        picture
    )
    assert "huge pages 2M 512/512 free, 1G 4/4 free" in picture
    nosmt = render_picture.render_host(topologies.nosmt_2x4())
    assert "host cell 1: 4 CPUs" in nosmt and "pages" not in nosmt


def test_legend_mentions_guest_labels_only_with_a_guest():
    alone = render_picture.render_host(topologies.smt_2x4x2())
    placed = render_picture.render_host(topologies.smt_2x4x2(), isolate_guest(), {2})
    assert "EMU" not in alone and "guest vCPU N" not in alone
    assert "EMU  reserved for the guest's emulator threads" in placed
    for text in ("used pinned by existing guests", "free free to pin"):
        assert text in alone and text in placed


def test_colour_only_when_asked_and_never_changes_the_text():
    args = (topologies.smt_2x4x2(pinned0={3}), isolate_guest(), {2})
    plain = render_picture.render_host(*args, title="t")
    coloured = render_picture.render_host(*args, title="t", color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;35mEMU\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain


def test_wide_ids_are_right_aligned():
    picture = render_picture.render_host(topologies.wide_ids())
    assert "[100 free  164 free]" in picture
    assert "host cell 3, socket 1" in picture


def test_emulator_pool_cpus_and_their_load():
    host = topologies.smt_2x4x2()
    cell = host.cells[0]
    cell.pcpuset = cell.pcpuset - {3, 11}
    cell.siblings = [s for s in cell.siblings if not s & {3, 11}]
    cell.emulator_pool_cpus = {3, 11}
    cell.emulator_pool_overcommit = 2
    cell.emulator_pool_guests = {"3": 1}
    guest = isolate_guest(reserved=())
    guest.emulator_threads_policy = "pool"
    picture = render_picture.render_host(
        host, guest, {11}, cores={0: [[c, c + 8] for c in range(4)]}
    )
    drawn = cpu_labels(picture)
    assert drawn[3] == "pool" and drawn[11] == "pool+E"
    assert "emulator pool, guests per pCPU: CPU 3 1/2, CPU 11 0/2" in picture
    assert "pool host-wide emulator thread pool" in picture
    assert "pool" not in render_picture.render_host(topologies.smt_2x4x2())


# --- thread policy isolate: the siblings the claim takes ----------------------------------

ISOLATE_THREADS = (
    "vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,hw:cpu_thread_policy=isolate,"
    "hw:emulator_threads_policy=isolate"
)


def test_isolate_siblings_are_drawn_as_taken_by_the_guest(in_process):
    """Each pCPU's sibling, and the emulator core's, are the guest's: 'iso', not 'free'."""
    result = in_process(["place", "--flavor", ISOLATE_THREADS])
    assert result.returncode == 0, result.stderr
    labels = cpu_labels(result.stdout)
    # The built-in host pins 0->0, 1->1, 2->2, 3->3, one vCPU per core.
    assert [labels[p] for p in range(4)] == ["v0", "v1", "v2", "v3"]
    assert labels[4] == "EMU"
    # The built-in host's sibling of CPU N is N+16.
    assert {cpu for cpu, label in labels.items() if label == "iso"} == {16, 17, 18, 19, 20}
    assert labels[5] == labels[21] == "free"
    legend = result.stdout[result.stdout.index("legend:") :]
    assert "iso  taken by the guest and kept idle" in legend
    assert "hw:cpu_thread_policy=isolate" in legend


def test_the_picture_agrees_with_the_claim(in_process, tmp_path):
    """What the picture calls 'iso' is what the host shows 'used' once the guest is claimed."""
    picture = cpu_labels(in_process(["place", "--flavor", ISOLATE_THREADS]).stdout)
    placed = in_process(["place", "--format", "json", "--flavor", ISOLATE_THREADS]).stdout
    (tmp_path / "guest.json").write_text(placed)
    after = cpu_labels(in_process(["host", "--existing", str(tmp_path / "guest.json")]).stdout)
    mine = {cpu for cpu, label in picture.items() if label != "free"}
    assert mine == {cpu for cpu, label in after.items() if label == "used"}


@pytest.mark.parametrize("policy", ["hw:cpu_thread_policy=prefer", "hw:cpu_thread_policy=require"])
def test_other_thread_policies_take_no_idle_sibling(in_process, policy):
    result = in_process(
        ["place", "--flavor", f"vcpus=4,memory_mb=4096,hw:cpu_policy=dedicated,{policy}"]
    )
    assert "iso" not in cpu_labels(result.stdout).values()
    assert "iso " not in result.stdout[result.stdout.index("legend:") :]


def test_taken_siblings_of_an_isolate_cell_on_a_named_host():
    """Siblings of N are N+8: the pins' (8, 9) and the emulator pCPU's (10)."""
    host = topologies.smt_2x4x2()
    guest = isolate_guest(pins={0: 0, 1: 1}, reserved=(2,))
    guest.cells[0].cpu_thread_policy = "isolate"
    assert render_picture.taken_siblings(host, None) == {}
    assert render_picture.taken_siblings(host, guest) == {0: {8, 9, 10}}
    guest.cells[0].cpu_thread_policy = "prefer"
    assert render_picture.taken_siblings(host, guest) == {}
