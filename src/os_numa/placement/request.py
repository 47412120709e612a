"""A guest's request as Placement query parameters: granular groups, one per guest cell.

``nested`` (os-numa): guest cell ``i`` becomes the request group ``_NUMA<i>``:

- ``PCPU`` = its pinned vCPUs, plus the ``isolate`` emulator pCPU(s) in ``_NUMA0``
  (the fit reserves them in the host cell guest cell 0 lands on);
- ``VCPU`` = its floating vCPUs (shared guests, or the shared part of ``mixed``);
- ``MEMORY_MB`` = its memory, or ``CUSTOM_MEMORY_PAGE_<KiB>`` = its memory in
  pages of the requested size (``large``/``any`` become one alternative per
  size, see :func:`placement_requests`);
- ``required<i>``/``forbidden<i>`` ``HW_CPU_HYPERTHREADING`` for the thread
  policies ``require``/``isolate``.

``group_policy=isolate`` puts the guest cells on distinct host cells. A
``pool`` guest asks for ``CUSTOM_EMULATOR_POOL:1`` in the unsuffixed group
(any cell of the host). The flavor's own ``resources<N>:``/``trait<N>:`` groups
are kept, and ``same_subtree`` ties them to guest cell 0's host cell;
unsuffixed traits go to ``root_required`` (the compute node carries them).
A guest without a NUMA request asks for its amounts in the unsuffixed group.

``flat`` (Nova's model): everything in the unsuffixed group, as
:func:`os_numa.scheduler.request.resources_from_request` says.
"""

from __future__ import annotations

import re
import types
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from os_numa import constraints, exception
from os_numa.constraints import source
from os_numa.objects import InstanceNUMATopology, fields
from os_numa.placement import tree
from os_numa.scheduler.request import (
    HW_CPU_HYPERTHREADING,
    emulator_pcpus,
    iothread_pcpus,
    resources_from_request,
)

#: A flavor's request-group keys: ``resources<suffix>:<CLASS>`` and ``trait<suffix>:<NAME>``.
_GROUP_KEY = re.compile(r"(resources|trait)([1-9][0-9]*|_[A-Za-z0-9_-]{1,64})?:([A-Z0-9_]+)")
_CPU_MEMORY = frozenset({tree.PCPU, tree.VCPU, tree.MEMORY_MB})
_THREAD_TRAIT: dict[str | None, bool] = {
    fields.CPUThreadAllocationPolicy.REQUIRE: True,
    fields.CPUThreadAllocationPolicy.ISOLATE: False,
}


def cell_suffix(guest_cell: int) -> str:
    """The request group suffix of guest cell ``guest_cell``: ``_NUMA0``, ``_NUMA1``, ..."""
    return f"_NUMA{guest_cell}"


@dataclass(frozen=True)
class RequestGroup:
    """One request group: ``suffix`` '' is the unsuffixed group."""

    suffix: str
    resources: Mapping[str, int]
    required: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        frozen = types.MappingProxyType(dict(sorted(self.resources.items())))
        object.__setattr__(self, "resources", frozen)


@dataclass(frozen=True)
class PlacementRequest:
    """What to ask ``GET /allocation_candidates`` for, and how to read its answers.

    ``topology`` is the NUMA request to fit on each candidate (page sizes made
    concrete for this alternative), or None. ``cell_groups`` names the group of
    each guest cell, in guest cell order (empty: the allocation does not say
    which guest cell goes where, and the fit is held to the host cells the
    allocation names instead).
    """

    groups: tuple[RequestGroup, ...]
    topology: InstanceNUMATopology | None = None
    cell_groups: tuple[str, ...] = ()
    group_policy: str | None = None
    root_required: frozenset[str] = frozenset()
    root_forbidden: frozenset[str] = frozenset()
    same_subtree: tuple[str, ...] = ()
    model: str = tree.NESTED

    def query(self, limit: int | None = None) -> list[tuple[str, str]]:
        """The query parameters, in a stable order."""
        params: list[tuple[str, str]] = []
        for group in self.groups:
            if group.resources:
                params.append(
                    (
                        f"resources{group.suffix}",
                        ",".join(f"{rc}:{n}" for rc, n in group.resources.items()),
                    )
                )
            traits = sorted(group.required) + sorted(f"!{t}" for t in group.forbidden)
            if traits:
                params.append((f"required{group.suffix}", ",".join(traits)))
        root = sorted(self.root_required) + sorted(f"!{t}" for t in self.root_forbidden)
        if root:
            params.append(("root_required", ",".join(root)))
        if self.same_subtree:
            params.append(("same_subtree", ",".join(self.same_subtree)))
        if self.group_policy:
            params.append(("group_policy", self.group_policy))
        if limit is not None:
            params.append(("limit", str(limit)))
        return params

    @property
    def resources(self) -> dict[str, int]:
        """Every group's amounts summed by resource class."""
        total: dict[str, int] = {}
        for group in self.groups:
            for rc, amount in group.resources.items():
                total[rc] = total.get(rc, 0) + amount
        return dict(sorted(total.items()))


def placement_requests(
    flavor: Any,
    image_meta: Any = None,
    *,
    model: str = tree.NESTED,
    page_sizes: Collection[int] = (2048, 1048576),
) -> tuple[PlacementRequest, ...]:
    """The alternatives to ask Placement for, in order of preference (usually one).

    A guest with ``hw:mem_page_size=large`` (or ``any``) can take any huge page
    size, but one query names one resource class: there is one alternative per
    size in ``page_sizes`` (largest first, as Nova's fit tries them), and
    ``any`` adds small pages last. Every flavor key and image property is
    validated first (the typed errors of
    :func:`os_numa.hardware.numa_get_constraints`).

    :raises InvalidRequest: the flavor's explicit resources contradict it, or
        a large-page guest meets no page size.
    """
    if model not in tree.MODELS:
        raise exception.InvalidConfiguration(
            reason=f"provider model {model!r}: choose one of {', '.join(tree.MODELS)}"
        )
    merged = resources_from_request(flavor, image_meta)
    topology = constraints.numa_get_constraints(flavor, image_meta)
    if model == tree.FLAT:
        group = RequestGroup("", merged.resources, merged.required_traits, merged.forbidden_traits)
        return (PlacementRequest((group,), topology, model=model),)
    own = _flavor_groups(source.flavor_view(flavor))
    unsuffixed = own.pop("", _Group())
    required = set(unsuffixed.required) | set(
        source.image_properties(image_meta).get("traits_required") or ()
    )
    forbidden = set(unsuffixed.forbidden)
    explicit_cpu_memory = any(
        rc in _CPU_MEMORY for g in (unsuffixed, *own.values()) for rc in g.resources
    )
    if topology is None or not topology.cells or explicit_cpu_memory:
        # Not NUMA-placed (or the flavor spelled its groups itself): the flavor's own groups.
        resources = _minus_groups(merged.resources, own)
        smt = None if topology is None else _THREAD_TRAIT.get(topology.cells[0].cpu_thread_policy)
        base = RequestGroup(
            "",
            resources,
            required=frozenset({HW_CPU_HYPERTHREADING}) if smt is True else frozenset(),
            forbidden=frozenset({HW_CPU_HYPERTHREADING}) if smt is False else frozenset(),
        )
        groups = (base, *(g.freeze(suffix) for suffix, g in sorted(own.items())))
        return (
            PlacementRequest(
                groups,
                topology,
                group_policy="isolate" if len(own) > 1 else None,
                root_required=frozenset(required),
                root_forbidden=frozenset(forbidden),
            ),
        )
    requests = []
    for sizes in _page_alternatives(topology, page_sizes):
        concrete = _with_page_sizes(topology, sizes)
        cells = _cell_groups(concrete)
        extra = _minus_groups(
            {rc: n for rc, n in merged.resources.items() if rc not in _CPU_MEMORY}, own
        )
        if concrete.emulator_threads_policy == fields.CPUEmulatorThreadsPolicy.POOL:
            extra[tree.EMULATOR_POOL] = 1
        base = RequestGroup("", extra)
        user = tuple(g.freeze(suffix) for suffix, g in sorted(own.items()))
        groups = (base, *cells, *user)
        subtree = (cells[0].suffix, *(g.suffix for g in user)) if user else ()
        requests.append(
            PlacementRequest(
                groups,
                concrete,
                cell_groups=tuple(g.suffix for g in cells),
                group_policy="isolate" if len(cells) + len(user) > 1 else None,
                root_required=frozenset(required),
                root_forbidden=frozenset(forbidden),
                same_subtree=subtree,
            )
        )
    return tuple(requests)


@dataclass
class _Group:
    resources: dict[str, int] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)

    def freeze(self, suffix: str) -> RequestGroup:
        return RequestGroup(
            suffix, self.resources, frozenset(self.required), frozenset(self.forbidden)
        )


def _flavor_groups(flavor: source.FlavorView) -> dict[str, _Group]:
    """The flavor's ``resources*``/``trait*`` keys by group suffix (already validated).

    A numbered suffix ``1`` becomes ``1``; a named one keeps its underscore.
    """
    groups: dict[str, _Group] = {}
    for key, value in sorted(flavor.extra_specs.items()):
        match = _GROUP_KEY.fullmatch(key)
        if not match:
            continue
        kind, suffix, name = match.group(1), match.group(2) or "", match.group(3)
        group = groups.setdefault(suffix, _Group())
        if kind == "resources":
            amount = int(value)
            if amount:
                group.resources[name] = group.resources.get(name, 0) + amount
        elif value == "required":
            group.required.add(name)
        else:
            group.forbidden.add(name)
    return groups


def _minus_groups(resources: Mapping[str, int], groups: Mapping[str, _Group]) -> dict[str, int]:
    """``resources`` less what the flavor's suffixed groups ask for (those stay in their groups)."""
    left = dict(resources)
    for suffix, group in groups.items():
        if suffix:
            for rc, amount in group.resources.items():
                left[rc] = left.get(rc, 0) - amount
    return {rc: n for rc, n in left.items() if n > 0}


def _page_alternatives(
    topology: InstanceNUMATopology, page_sizes: Collection[int]
) -> list[int | None]:
    """The concrete page size of each alternative (None: small pages / no request)."""
    wanted = {cell.pagesize for cell in topology.cells}
    wanted.discard(None)
    if not wanted:
        return [None]
    (size,) = wanted  # numa_get_constraints gives every cell the same page size
    large = sorted((s for s in page_sizes if s > tree.SMALL_PAGE_KB), reverse=True)
    if size == constraints.MEMPAGES_SMALL or size == tree.SMALL_PAGE_KB:
        return [None]
    if size == constraints.MEMPAGES_LARGE:
        if not large:
            raise exception.InvalidRequest(
                reason="hw:mem_page_size=large, but no host reports huge pages to Placement"
            )
        return list(large)
    if size == constraints.MEMPAGES_ANY:
        return [*large, None]
    return [size]


def _with_page_sizes(topology: InstanceNUMATopology, size: int | None) -> InstanceNUMATopology:
    """A copy of ``topology`` with every cell's page size ``size`` (None: small pages)."""
    concrete = topology.obj_clone()
    if any(cell.pagesize is not None for cell in concrete.cells):
        for cell in concrete.cells:
            cell.pagesize = tree.SMALL_PAGE_KB if size is None else size
    return concrete


def _cell_groups(topology: InstanceNUMATopology) -> list[RequestGroup]:
    groups = []
    # Isolated emulator and I/O thread pCPUs sit beside guest cell 0.
    emulator = emulator_pcpus(topology) + iothread_pcpus(topology)
    for index, cell in enumerate(topology.cells):
        resources: dict[str, int] = {}
        pinned = len(cell.pcpuset) + (emulator if index == 0 else 0)
        if pinned:
            resources[tree.PCPU] = pinned
        if cell.cpuset:
            resources[tree.VCPU] = len(cell.cpuset)
        if cell.pagesize is None or cell.pagesize == tree.SMALL_PAGE_KB:
            resources[tree.MEMORY_MB] = cell.memory
        else:
            resources[tree.page_class(cell.pagesize)] = -(-cell.memory * 1024 // cell.pagesize)
        wants_smt = _THREAD_TRAIT.get(cell.cpu_thread_policy)
        groups.append(
            RequestGroup(
                cell_suffix(index),
                resources,
                required=frozenset({HW_CPU_HYPERTHREADING}) if wants_smt is True else frozenset(),
                forbidden=frozenset({HW_CPU_HYPERTHREADING}) if wants_smt is False else frozenset(),
            )
        )
    return groups
