"""Guest CPU topology: ``hw:cpu_sockets``/``cores``/``threads`` and their ``max_`` limits.

Each key has an image twin (``hw_cpu_sockets`` ...). The rules are Nova's
(``get_cpu_topology_constraints`` and ``get_best_cpu_topology``): an image may
only lower the flavor's limits; a preferred value above the limits is dropped
when it is the flavor's and refused when it is the image's; any preferred value
on the image replaces all of the flavor's; every sockets x cores x threads
product equal to the vCPU count is possible, sorted most sockets x cores first,
then most sockets, then by how many preferred values it matches.

os-numa adds what Nova's topology never knew about (Nova dropped its NUMA thread
filter in 2020):

* a guest with NUMA cells gets only topologies whose cores lie each in one
  guest cell (the threads of one guest core on two guest nodes is a topology
  no real machine has, and QEMU warns about it); when none exists the request
  is refused with :class:`~os_numa.exception.CPUTopologyNUMAMismatch`;
* with ``hw:cpu_thread_policy=require`` and a placement on a known host, only
  topologies whose guest cores are pinned each on one host core (sibling
  threads) are used, the most threads per core first, so the guest's threads
  really are SMT siblings.

Counting is by divisors, never by Nova's sockets x cores x threads loop, so a
4096-vCPU flavor costs microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from os_numa import exception, objects
from os_numa.constraints import source
from os_numa.objects import fields

#: Nova's limit when neither the flavor nor the image sets one.
UNLIMITED = 65536
#: ``hw:cpu_<name>`` / ``hw_cpu_<name>`` keys of the topology, preferred then maximum.
PREFERRED_KEYS = ("cpu_sockets", "cpu_cores", "cpu_threads")
MAXIMUM_KEYS = ("cpu_max_sockets", "cpu_max_cores", "cpu_max_threads")


@dataclass(frozen=True, order=True)
class Topology:
    """sockets x cores x threads, as plain data (0 in a preferred one: no preference)."""

    sockets: int
    cores: int
    threads: int

    def as_object(self) -> objects.VirtCPUTopology:
        return objects.VirtCPUTopology(sockets=self.sockets, cores=self.cores, threads=self.threads)

    def __str__(self) -> str:
        return f"sockets={self.sockets}, cores={self.cores}, threads={self.threads}"


def _flavor_value(flavor: source.FlavorView, name: str) -> int:
    raw = flavor.spec(f"hw:{name}")
    if raw is None or raw == "":
        return 0
    value = source.parse_int(raw)
    if value is None:
        raise exception.InvalidRequest(
            reason=f"invalid flavor extra spec hw:{name}={raw!r}: a non-negative integer "
            "is required (0 or unset: no value)"
        )
    return value


def _image_value(props: source.Properties, name: str) -> int:
    raw = props.get(f"hw_{name}")
    if raw is None:
        return 0
    value = source.parse_int(raw)
    if value is None:
        raise exception.InvalidImageProperty(
            name=f"hw_{name}", value=raw, reason="a non-negative integer is required"
        )
    return value


def topology_requested(flavor: Any, image_meta: Any) -> bool:
    """True when the flavor or the image sets any topology key (to a non-zero value)."""
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    return any(
        flavor_v.spec(f"hw:{name}") not in (None, "", "0") or props.get(f"hw_{name}")
        for name in PREFERRED_KEYS + MAXIMUM_KEYS
    )


def get_cpu_topology_constraints(flavor: Any, image_meta: Any) -> tuple[Topology, Topology]:
    """The preferred and the maximum guest CPU topology (Nova's rules).

    A preferred value of 0 means "no preference"; a maximum with no flavor or
    image limit is :data:`UNLIMITED`.

    :raises InvalidRequest: a flavor value is not a non-negative integer.
    :raises InvalidImageProperty: an image value is not a non-negative integer.
    :raises ImageVCPULimitsRangeExceeded: an image limit above the flavor's limit.
    :raises ImageVCPUTopologyRangeExceeded: an image preferred value above the limits.
    """
    flavor_v = source.flavor_view(flavor)
    props = source.image_properties(image_meta)
    flavor_max = [_flavor_value(flavor_v, name) for name in MAXIMUM_KEYS]
    image_max = [_image_value(props, name) for name in MAXIMUM_KEYS]
    if any(f and i > f for f, i in zip(flavor_max, image_max, strict=True)):
        raise exception.ImageVCPULimitsRangeExceeded(
            message=(
                "image limits hw_cpu_max_sockets/cores/threads="
                f"{image_max[0]}/{image_max[1]}/{image_max[2]} exceed the flavor's "
                f"hw:cpu_max_sockets/cores/threads={flavor_max[0]}/{flavor_max[1]}/"
                f"{flavor_max[2]}; an image may only lower the flavor's limits (0: unset)"
            ),
            sockets=image_max[0],
            cores=image_max[1],
            threads=image_max[2],
            maxsockets=flavor_max[0],
            maxcores=flavor_max[1],
            maxthreads=flavor_max[2],
        )
    maximum = Topology(*(i or f or UNLIMITED for f, i in zip(flavor_max, image_max, strict=True)))
    limits = (maximum.sockets, maximum.cores, maximum.threads)
    flavor_pref = [_flavor_value(flavor_v, name) for name in PREFERRED_KEYS]
    image_pref = [_image_value(props, name) for name in PREFERRED_KEYS]
    if any(p > m for p, m in zip(flavor_pref, limits, strict=True)):
        # The image lowered the limits below the flavor's preference: drop it (Nova).
        flavor_pref = [0, 0, 0]
    if any(p > m for p, m in zip(image_pref, limits, strict=True)):
        raise exception.ImageVCPUTopologyRangeExceeded(
            message=(
                f"image hw_cpu_sockets/cores/threads={image_pref[0]}/{image_pref[1]}/"
                f"{image_pref[2]} exceed the limits sockets={maximum.sockets}, "
                f"cores={maximum.cores}, threads={maximum.threads} (flavor hw:cpu_max_* "
                "lowered by image hw_cpu_max_*)"
            ),
            sockets=image_pref[0],
            cores=image_pref[1],
            threads=image_pref[2],
            maxsockets=maximum.sockets,
            maxcores=maximum.cores,
            maxthreads=maximum.threads,
        )
    # Any preferred value on the image replaces every value of the flavor.
    preferred = Topology(*(image_pref if any(image_pref) else flavor_pref))
    return preferred, maximum


def _divisors(number: int, upper: int) -> list[int]:
    small = [d for d in range(1, int(number**0.5) + 1) if number % d == 0]
    both = set(small) | {number // d for d in small}
    return sorted(d for d in both if d <= upper)


def possible_cpu_topologies(vcpus: int, maximum: Topology, allow_threads: bool) -> list[Topology]:
    """Every sockets x cores x threads = ``vcpus`` within ``maximum``, in Nova's order:
    most sockets x cores first (fewest threads), then most sockets.

    :raises ImageVCPULimitsRangeImpossible: no product equals ``vcpus``.
    """
    max_threads = min(vcpus, maximum.threads) if allow_threads else 1
    found = []
    for sockets in _divisors(vcpus, maximum.sockets):
        for cores in _divisors(vcpus // sockets, maximum.cores):
            threads = vcpus // (sockets * cores)
            if threads <= max_threads:
                found.append(Topology(sockets, cores, threads))
    if not found:
        shown = (min(vcpus, maximum.sockets), min(vcpus, maximum.cores), max_threads)
        raise exception.ImageVCPULimitsRangeImpossible(
            message=(
                f"no guest CPU topology holds {vcpus} vCPUs within sockets<={shown[0]}, "
                f"cores<={shown[1]}, threads<={shown[2]}; raise hw:cpu_max_* (or "
                "hw_cpu_max_*) so that sockets x cores x threads can equal the vCPU count"
            ),
            vcpus=vcpus,
            sockets=shown[0],
            cores=shown[1],
            threads=shown[2],
        )
    found.sort(key=lambda t: (t.sockets * t.cores, t.sockets, t.threads), reverse=True)
    return found


def _score(topology: Topology, preferred: Topology) -> int:
    pairs = zip(
        (topology.sockets, topology.cores, topology.threads),
        (preferred.sockets, preferred.cores, preferred.threads),
        strict=True,
    )
    return sum(1 for have, want in pairs if want and have == want)


def _cores_in_cells(threads: int, cell_of: dict[int, int]) -> bool:
    """Every guest core (vCPUs ``k*threads .. k*threads+threads-1``) is in one guest cell."""
    if threads == 1:
        return True
    first: dict[int, int] = {}
    for vcpu, cell in cell_of.items():
        if first.setdefault(vcpu // threads, cell) != cell:
            return False
    return True


def _cores_on_siblings(threads: int, core_of_vcpu: dict[int, int]) -> bool:
    """Every guest core's vCPUs are pinned on one host core."""
    first: dict[int, int] = {}
    for vcpu, core in core_of_vcpu.items():
        if first.setdefault(vcpu // threads, core) != core:
            return False
    return True


def _require_siblings(numa_topology: Any, host_topology: Any) -> dict[int, int] | None:
    """vCPU -> host core index for a ``require`` placement on a known host, else None."""
    if numa_topology is None or host_topology is None:
        return None
    cells = list(numa_topology.cells)
    if not cells or any(
        c.cpu_thread_policy != fields.CPUThreadAllocationPolicy.REQUIRE or not c.cpu_pinning
        for c in cells
    ):
        return None
    core_of_cpu: dict[int, int] = {}
    for host_cell in host_topology.cells:
        for group in host_cell.siblings:
            key = min(group)
            for cpu in group:
                core_of_cpu[cpu] = key
    return {
        vcpu: core_of_cpu.get(pcpu, -1 - pcpu)
        for cell in cells
        for vcpu, pcpu in (cell.cpu_pinning or {}).items()
    }


def guest_cells_of(numa_topology: Any) -> Sequence[Iterable[int]]:
    """Each guest cell's vCPUs (floating and pinned) of a request or placement."""
    return [set(cell.cpuset) | set(cell.pcpuset) for cell in numa_topology.cells]


def desirable_cpu_topologies(
    flavor: Any,
    image_meta: Any,
    allow_threads: bool = True,
    numa_topology: Any = None,
    host_topology: Any = None,
) -> list[Topology]:
    """Every acceptable topology, best first (see the module's rules).

    ``numa_topology`` (a request or a placement) keeps only topologies whose
    cores each lie in one guest cell; with a ``require`` placement and its
    ``host_topology`` only those whose guest cores sit on one host core each,
    most threads first after the preferred values.

    :raises CPUTopologyNUMAMismatch: no topology keeps each core in one guest cell.
    :raises: every error of :func:`get_cpu_topology_constraints` and
        :func:`possible_cpu_topologies`.
    """
    flavor_v = source.flavor_view(flavor)
    preferred, maximum = get_cpu_topology_constraints(flavor_v, image_meta)
    possible = possible_cpu_topologies(flavor_v.vcpus, maximum, allow_threads)
    # A stable sort by score keeps Nova's order within a score.
    desired = sorted(possible, key=lambda t: -_score(t, preferred))
    if numa_topology is not None and len(numa_topology.cells) > 1:
        cell_of = {
            vcpu: index for index, cpus in enumerate(guest_cells_of(numa_topology)) for vcpu in cpus
        }
        consistent = [t for t in desired if _cores_in_cells(t.threads, cell_of)]
        if not consistent:
            raise exception.CPUTopologyNUMAMismatch(
                reason=(
                    f"every topology the limits allow ({', '.join(map(str, desired[:3]))}"
                    f"{', ...' if len(desired) > 3 else ''}) splits a guest core over two "
                    "guest NUMA nodes; raise hw:cpu_max_sockets/cores or give each NUMA "
                    "node a multiple of the threads per core"
                )
            )
        desired = consistent
    siblings = _require_siblings(numa_topology, host_topology)
    if siblings is not None:
        on_siblings = [t for t in desired if _cores_on_siblings(t.threads, siblings)]
        desired = sorted(on_siblings, key=lambda t: (-_score(t, preferred), -t.threads))
    return desired


def get_best_cpu_topology(
    flavor: Any,
    image_meta: Any,
    allow_threads: bool = True,
    numa_topology: Any = None,
    host_topology: Any = None,
) -> objects.VirtCPUTopology:
    """The guest CPU topology to use: the first of :func:`desirable_cpu_topologies`."""
    return desirable_cpu_topologies(
        flavor, image_meta, allow_threads, numa_topology, host_topology
    )[0].as_object()
