"""Nova's serialized NUMA objects <-> os-numa's objects, without importing Nova.

Nova stores its objects as oslo.versionedobjects primitives: ``instance_extra.numa_topology``
and ``request_specs`` hold an ``InstanceNUMATopology`` (1.0-1.3, cells 1.0-1.6),
``compute_nodes.numa_topology`` a ``NUMATopology`` (1.2, cells 1.0-1.5). These functions read
every version Nova 34 writes and write the versions Nova 34 reads, field for field, from the
JSON text or the decoded dictionary, so a tool (or os-numa's own tracker) can account for
instances Nova placed without a Nova installation.

Conversions keep what os-numa does not model: ``to_nova_*`` takes the primitive the object
came from (``base``) and copies its other fields (``instance_uuid``, a host cell's
``network_metadata``, a guest cell's ``cpu_topology``...) into the result, so Nova -> os-numa
-> Nova returns the same primitive.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from os_numa import cpuset, exception, objects
from os_numa.objects import fields
from os_numa.pci import devices

NS = "nova_object"
NAME, VERSION, DATA, CHANGES = (f"{NS}.name", f"{NS}.version", f"{NS}.data", f"{NS}.changes")

#: The versions Nova 34 writes (and so ``to_nova_*`` writes).
NOVA_VERSIONS = {
    "InstanceNUMATopology": "1.3",
    "InstanceNUMACell": "1.6",
    "NUMATopology": "1.2",
    "NUMACell": "1.5",
    "NUMAPagesTopology": "1.1",
    "NUMATopologyLimits": "1.1",
    "Flavor": "1.2",
    "ImageMeta": "1.8",
    "ImageMetaProps": "1.44",
    "PciDevice": "1.7",
}

#: os-numa's image properties that Nova's ImageMetaProps 1.44 also has (the others are
#: os-numa's own and have no Nova field).
NOVA_IMAGE_PROPERTIES = frozenset(
    (
        "hw_cpu_policy",
        "hw_cpu_thread_policy",
        "hw_cpu_realtime_mask",
        "hw_numa_nodes",
        "hw_numa_cpus",
        "hw_numa_mem",
        "hw_mem_page_size",
        "hw_locked_memory",
        "traits_required",
        "hw_pci_numa_affinity_policy",
        "hw_cpu_sockets",
        "hw_cpu_cores",
        "hw_cpu_threads",
        "hw_cpu_max_sockets",
        "hw_cpu_max_cores",
        "hw_cpu_max_threads",
    )
)

_DEDICATED = fields.CPUAllocationPolicy.DEDICATED
#: The emulator-threads policies Nova's ``CPUEmulatorThreadsPolicy`` knows.
NOVA_EMULATOR_POLICIES = frozenset(
    (fields.CPUEmulatorThreadsPolicy.SHARE, fields.CPUEmulatorThreadsPolicy.ISOLATE)
)


def _decode(primitive: str | bytes | Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if isinstance(primitive, (str, bytes)):
        try:
            primitive = json.loads(primitive)
        except ValueError as exc:
            raise exception.Invalid(reason=f"{name}: not JSON: {exc}") from exc
    if not isinstance(primitive, Mapping):
        raise exception.Invalid(reason=f"{name}: a Nova object primitive (a mapping) is required")
    return primitive


def _data(primitive: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    got = primitive.get(NAME)
    if got != name:
        raise exception.Invalid(reason=f"expected a Nova {name} primitive, got {got!r}")
    data = primitive.get(DATA)
    if not isinstance(data, Mapping):
        raise exception.Invalid(reason=f"Nova {name} primitive without {DATA}")
    return data


def _version(primitive: Mapping[str, Any]) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in str(primitive.get(VERSION, "1.0")).split("."))
    except ValueError as exc:
        raise exception.Invalid(reason=f"bad {VERSION}: {primitive.get(VERSION)!r}") from exc


def _ints(value: Any) -> set[int]:
    return {int(v) for v in value or ()}


def _nova(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        NAME: name,
        "nova_object.namespace": "nova",
        VERSION: NOVA_VERSIONS[name],
        DATA: data,
        CHANGES: sorted(data),
    }


# --- guest topology --------------------------------------------------------------------------


def instance_topology_from_nova(
    primitive: str | bytes | Mapping[str, Any],
) -> objects.InstanceNUMATopology:
    """An os-numa InstanceNUMATopology from Nova's primitive (or its JSON), any version.

    Nova's own load-time migrations are applied: a dedicated cell older than 1.5 that lists
    its vCPUs in ``cpuset`` has them moved to ``pcpuset`` (Nova's
    ``_migrate_legacy_dedicated_instance_cpuset``), a pre-Liberty dictionary
    (``{"cells": [{"cpus": "0-1", "mem": {"total": 512}}]}``) becomes floating cells.

    :raises Invalid: not a Nova InstanceNUMATopology primitive.
    """
    primitive = _decode(primitive, "InstanceNUMATopology")
    if NAME not in primitive and "cells" in primitive:
        return objects.InstanceNUMATopology(
            cells=[
                objects.InstanceNUMACell(
                    id=int(cell.get("id", index)),
                    cpuset=cpuset.parse_cpu_spec(cell.get("cpus", "")),
                    pcpuset=set(),
                    memory=int(cell.get("mem", {}).get("total", 0)),
                    pagesize=cell.get("pagesize"),
                )
                for index, cell in enumerate(primitive["cells"])
            ]
        )
    data = _data(primitive, "InstanceNUMATopology")
    return objects.InstanceNUMATopology(
        cells=[
            instance_cell_from_nova(cell, index) for index, cell in enumerate(data.get("cells", []))
        ],
        emulator_threads_policy=data.get("emulator_threads_policy"),
    )


def instance_cell_from_nova(
    primitive: Mapping[str, Any], index: int = 0
) -> objects.InstanceNUMACell:
    """One guest cell from Nova's ``InstanceNUMACell`` primitive (1.0-1.6).

    ``index``: the cell's position, its ``id`` when Nova's cell has none set (a request
    built by hand before a fit)."""
    data = _data(primitive, "InstanceNUMACell")
    floating = _ints(data.get("cpuset"))
    pinned = _ints(data.get("pcpuset"))
    policy = data.get("cpu_policy")
    if _version(primitive) < (1, 5) and policy == _DEDICATED and not pinned:
        # Before 1.5 a dedicated cell kept its (pinned) vCPUs in cpuset.
        floating, pinned = set(), floating
    pinning = data.get("cpu_pinning_raw")
    reserved = data.get("cpuset_reserved")
    return objects.InstanceNUMACell(
        id=int(data.get("id", index)),
        cpuset=floating,
        pcpuset=pinned,
        memory=int(data["memory"]),
        pagesize=data.get("pagesize"),
        cpu_pinning=None if pinning is None else {int(k): int(v) for k, v in pinning.items()},
        cpuset_reserved=None if reserved is None else _ints(reserved),
        cpu_policy=policy,
        cpu_thread_policy=data.get("cpu_thread_policy"),
    )


def instance_topology_to_nova(
    topology: objects.InstanceNUMATopology, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Nova's InstanceNUMATopology 1.3 primitive for ``topology``.

    ``base``: the Nova primitive ``topology`` was read from; its fields os-numa does not
    hold (``instance_uuid``, ``id``, each cell's ``cpu_topology``) are kept, cells matched
    by position. os-numa's extensions (emulator pool, count, mask) have no Nova field.

    :raises InternalError: the emulator policy is one Nova does not know (``pool``).
    """
    policy = topology.emulator_threads_policy
    if policy is not None and policy not in NOVA_EMULATOR_POLICIES:
        raise exception.InternalError(err=f"Nova cannot store emulator_threads_policy {policy!r}")
    base_data = dict(_data(base, "InstanceNUMATopology")) if base else {}
    base_cells = base_data.get("cells", [])
    data = {k: copy.deepcopy(v) for k, v in base_data.items() if k not in ("cells",)}
    data["cells"] = [
        instance_cell_to_nova(cell, base_cells[i] if i < len(base_cells) else None)
        for i, cell in enumerate(topology.cells)
    ]
    data["emulator_threads_policy"] = policy
    return _nova("InstanceNUMATopology", data)


def instance_cell_to_nova(
    cell: objects.InstanceNUMACell, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Nova's InstanceNUMACell 1.6 primitive for ``cell`` (see instance_topology_to_nova)."""
    data = {}
    if base and NAME in base:
        data = {k: copy.deepcopy(v) for k, v in base[DATA].items() if k == "cpu_topology"}
    pinning = cell.cpu_pinning
    data.update(
        id=cell.id,
        cpuset=sorted(cell.cpuset),
        pcpuset=sorted(cell.pcpuset),
        memory=cell.memory,
        pagesize=cell.pagesize,
        cpu_pinning_raw=None if pinning is None else {str(k): v for k, v in pinning.items()},
        cpuset_reserved=None if cell.cpuset_reserved is None else sorted(cell.cpuset_reserved),
        cpu_policy=cell.cpu_policy,
        cpu_thread_policy=cell.cpu_thread_policy,
    )
    return _nova("InstanceNUMACell", data)


# --- host topology ---------------------------------------------------------------------------


def host_topology_from_nova(primitive: str | bytes | Mapping[str, Any]) -> objects.NUMATopology:
    """An os-numa NUMATopology from Nova's primitive (``compute_nodes.numa_topology``).

    A cell older than 1.4 has no ``pcpuset``: as Nova did then, its ``cpuset`` is both
    the floating and the pinnable CPUs. Pre-Liberty dictionaries are read as Nova's
    ``from_legacy_object`` reads them.
    """
    primitive = _decode(primitive, "NUMATopology")
    if NAME not in primitive and "cells" in primitive:
        cells = []
        for index, cell in enumerate(primitive["cells"]):
            cpus = cpuset.parse_cpu_spec(cell.get("cpus", ""))
            cells.append(
                objects.NUMACell(
                    id=int(cell.get("id", index)),
                    cpuset=cpus,
                    pcpuset=set(cpus),
                    memory=int(cell.get("mem", {}).get("total", 0)),
                    memory_usage=int(cell.get("mem", {}).get("used", 0)),
                    cpu_usage=int(cell.get("cpu_usage", 0)),
                )
            )
        return objects.NUMATopology(cells=cells)
    data = _data(primitive, "NUMATopology")
    return objects.NUMATopology(cells=[host_cell_from_nova(c) for c in data.get("cells", [])])


def host_cell_from_nova(primitive: Mapping[str, Any]) -> objects.NUMACell:
    """One host cell from Nova's ``NUMACell`` primitive (1.0-1.5)."""
    data = _data(primitive, "NUMACell")
    floating = _ints(data.get("cpuset"))
    pcpus = _ints(data["pcpuset"]) if "pcpuset" in data else set(floating)
    return objects.NUMACell(
        id=int(data["id"]),
        cpuset=floating,
        pcpuset=pcpus,
        memory=int(data["memory"]),
        cpu_usage=int(data.get("cpu_usage") or 0),
        memory_usage=int(data.get("memory_usage") or 0),
        pinned_cpus=_ints(data.get("pinned_cpus")),
        siblings=[_ints(s) for s in data.get("siblings") or []],
        mempages=[pages_from_nova(p) for p in data.get("mempages") or []],
        socket=data.get("socket"),
    )


def pages_from_nova(primitive: Mapping[str, Any]) -> objects.NUMAPagesTopology:
    data = _data(primitive, "NUMAPagesTopology")
    return objects.NUMAPagesTopology(
        size_kb=int(data["size_kb"]),
        total=int(data["total"]),
        used=int(data.get("used") or 0),
        reserved=int(data.get("reserved") or 0),
    )


def host_topology_to_nova(
    topology: objects.NUMATopology, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Nova's NUMATopology 1.2 primitive; ``base`` supplies each cell's ``network_metadata``
    (cells matched by id)."""
    base_cells = {}
    if base:
        for cell in _data(base, "NUMATopology").get("cells", []):
            base_cells[int(cell[DATA]["id"])] = cell
    return _nova(
        "NUMATopology",
        {"cells": [host_cell_to_nova(c, base_cells.get(c.id)) for c in topology.cells]},
    )


def host_cell_to_nova(cell: objects.NUMACell, base: Mapping[str, Any] | None = None) -> dict:
    data = {}
    if base and "network_metadata" in base.get(DATA, {}):
        data["network_metadata"] = copy.deepcopy(base[DATA]["network_metadata"])
    data.update(
        id=cell.id,
        cpuset=sorted(cell.cpuset),
        pcpuset=sorted(cell.pcpuset),
        memory=cell.memory,
        cpu_usage=cell.cpu_usage,
        memory_usage=cell.memory_usage,
        pinned_cpus=sorted(cell.pinned_cpus),
        siblings=[sorted(s) for s in cell.siblings],
        mempages=[
            _nova(
                "NUMAPagesTopology",
                {"size_kb": p.size_kb, "total": p.total, "used": p.used, "reserved": p.reserved},
            )
            for p in cell.mempages
        ],
        socket=cell.socket,
    )
    return _nova("NUMACell", data)


def limits_from_nova(primitive: Mapping[str, Any] | None) -> objects.NUMATopologyLimits | None:
    """os-numa limits from Nova's ``NUMATopologyLimits`` primitive (network_metadata is
    checked by the Nova layer, not here)."""
    if primitive is None:
        return None
    data = _data(_decode(primitive, "NUMATopologyLimits"), "NUMATopologyLimits")
    return objects.NUMATopologyLimits(
        cpu_allocation_ratio=float(data["cpu_allocation_ratio"]),
        ram_allocation_ratio=float(data["ram_allocation_ratio"]),
    )


# --- flavor, image, request spec, PCI device -------------------------------------------------


def flavor_from_nova(primitive: Mapping[str, Any]) -> objects.Flavor:
    """An os-numa Flavor from Nova's ``Flavor`` primitive (vcpus, memory_mb, extra_specs, name)."""
    data = _data(_decode(primitive, "Flavor"), "Flavor")
    return objects.Flavor(
        vcpus=int(data["vcpus"]),
        memory_mb=int(data["memory_mb"]),
        extra_specs=dict(data.get("extra_specs") or {}),
        name=data.get("name"),
    )


def image_meta_from_nova(primitive: Mapping[str, Any] | None) -> objects.ImageMeta:
    """An os-numa ImageMeta from Nova's ``ImageMeta`` primitive (its ``ImageMetaProps``)."""
    if primitive is None:
        return objects.ImageMeta.from_dict(None)
    data = _data(_decode(primitive, "ImageMeta"), "ImageMeta")
    props = data.get("properties")
    props_data = dict(_data(props, "ImageMetaProps")) if props else {}
    return objects.ImageMeta.from_dict({"properties": props_data})


def request_spec_from_nova(
    primitive: Mapping[str, Any],
) -> tuple[objects.Flavor, objects.ImageMeta, objects.InstanceNUMATopology | None]:
    """(flavor, image, requested topology) of Nova's ``RequestSpec`` primitive."""
    data = _data(_decode(primitive, "RequestSpec"), "RequestSpec")
    topology = data.get("numa_topology")
    return (
        flavor_from_nova(data["flavor"]),
        image_meta_from_nova(data.get("image")),
        None if topology is None else instance_topology_from_nova(topology),
    )


def flavor_to_nova(flavor: objects.Flavor, base: Mapping[str, Any] | None = None) -> dict:
    """Nova's ``Flavor`` 1.2 primitive for os-numa's (``base`` lends Nova's other fields:
    ``flavorid``, ``root_gb``...)."""
    data = dict(copy.deepcopy(base[DATA])) if base else {}
    data.update(
        vcpus=flavor.vcpus,
        memory_mb=flavor.memory_mb,
        extra_specs=dict(flavor.extra_specs),
        name=flavor.name,
    )
    return _nova("Flavor", data)


def image_meta_to_nova(image_meta: objects.ImageMeta) -> dict:
    """Nova's ``ImageMeta`` 1.8 primitive holding the image properties Nova knows
    (:data:`NOVA_IMAGE_PROPERTIES`); os-numa's own properties have no Nova field."""
    props = image_meta.properties
    data: dict[str, Any] = {}
    for name in sorted(NOVA_IMAGE_PROPERTIES & set(props.fields)):
        if not props.obj_attr_is_set(name):
            continue
        value = getattr(props, name)
        if name == "hw_numa_cpus":
            value = [sorted(cpus) for cpus in value]
        data[name] = value
    return _nova("ImageMeta", {"properties": _nova("ImageMetaProps", data)})


def pci_device_to_nova(device: devices.PciDevice, base: Mapping[str, Any] | None = None) -> dict:
    """Nova's ``PciDevice`` 1.7 primitive for os-numa's device (``base`` lends Nova's
    accounting fields: ``status``, ``instance_uuid``, ``compute_node_id``...)."""
    data = dict(copy.deepcopy(base[DATA])) if base else {}
    data.update(
        address=str(device.address),
        vendor_id=device.vendor_id,
        product_id=device.product_id,
        dev_type=device.dev_type,
        numa_node=device.numa_node,
        parent_addr=None if device.parent is None else str(device.parent),
    )
    return _nova("PciDevice", data)


def pci_device_from_nova(primitive: Mapping[str, Any]) -> devices.PciDevice:
    """os-numa's :class:`~os_numa.pci.devices.PciDevice` for Nova's ``PciDevice`` primitive.

    Nova's ``numa_node`` of None or -1 both mean "no locality"; ``vendor_id`` and
    ``product_id`` are normalised to four lower-case hex digits.

    :raises Invalid: a malformed address or device id.
    """
    data = _data(_decode(primitive, "PciDevice"), "PciDevice")
    node = data.get("numa_node")
    parent = data.get("parent_addr")
    return devices.PciDevice(
        address=devices.PciAddress.parse(data["address"]),
        vendor_id=_hex4(data.get("vendor_id"), "vendor_id"),
        product_id=_hex4(data.get("product_id"), "product_id"),
        numa_node=None if node is None or int(node) < 0 else int(node),
        dev_type=data.get("dev_type") or devices.TYPE_PCI,
        parent=None if not parent else devices.PciAddress.parse(parent),
    )


def _hex4(value: Any, what: str) -> str:
    text = str(value or "").lower().removeprefix("0x")
    if len(text) > 4 or not text or any(c not in "0123456789abcdef" for c in text):
        raise exception.Invalid(reason=f"PCI {what} {value!r} is not a 4-digit hex id")
    return text.rjust(4, "0")


# --- round-trip check ------------------------------------------------------------------------


def normalized(primitive: Any) -> Any:
    """A Nova primitive with set order, change lists and versions taken out, for comparing
    two primitives of the same object (lists of integers are Nova's sets: sorted)."""
    if isinstance(primitive, Mapping):
        if DATA in primitive:
            return (primitive.get(NAME), normalized(primitive[DATA]))
        return {str(k): normalized(v) for k, v in primitive.items()}
    if isinstance(primitive, (list, tuple, set, frozenset)):
        items = [normalized(v) for v in primitive]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return tuple(sorted(items))
        return tuple(items)
    return primitive


def round_trip_problems(primitive: Mapping[str, Any]) -> list[str]:
    """The fields that Nova -> os-numa -> Nova does not give back unchanged (empty: none).

    Fields the original does not set may come back with their defaults; a cell older than
    Nova 34's version is migrated on the way, as Nova migrates it, and is not compared.
    """
    name = primitive.get(NAME)
    if name == "InstanceNUMATopology":
        back = instance_topology_to_nova(instance_topology_from_nova(primitive), base=primitive)
    elif name == "NUMATopology":
        back = host_topology_to_nova(host_topology_from_nova(primitive), base=primitive)
    else:
        raise exception.Invalid(reason=f"no round trip for {name!r}")
    problems: list[str] = []
    _compare(primitive, back, name, problems)
    return problems


def _compare(original: Any, back: Any, where: str, problems: list[str]) -> None:
    if isinstance(original, Mapping) and DATA in original:
        current = NOVA_VERSIONS.get(original.get(NAME, ""))
        if current and _version(original) < tuple(int(x) for x in current.split(".")):
            return
        for field, value in original[DATA].items():
            _compare(value, back[DATA].get(field), f"{where}.{field}", problems)
        return
    if isinstance(original, list) and original and isinstance(original[0], Mapping):
        if not isinstance(back, list) or len(back) != len(original):
            problems.append(f"{where}: {len(original)} items became {back!r}")
            return
        for index, (a, b) in enumerate(zip(original, back, strict=True)):
            _compare(a, b, f"{where}[{index}]", problems)
        return
    if normalized(original) != normalized(back):
        problems.append(f"{where}: {original!r} came back as {back!r}")


__all__ = [
    "NOVA_IMAGE_PROPERTIES",
    "NOVA_VERSIONS",
    "flavor_to_nova",
    "image_meta_to_nova",
    "pci_device_to_nova",
    "normalized",
    "round_trip_problems",
    "flavor_from_nova",
    "host_cell_from_nova",
    "host_cell_to_nova",
    "host_topology_from_nova",
    "host_topology_to_nova",
    "image_meta_from_nova",
    "instance_cell_from_nova",
    "instance_cell_to_nova",
    "instance_topology_from_nova",
    "instance_topology_to_nova",
    "limits_from_nova",
    "pages_from_nova",
    "pci_device_from_nova",
    "request_spec_from_nova",
]
