"""A guest's domain XML and its running threads, moved onto a new placement.

:func:`update_numa_xml` rewrites a domain document for the placement a guest
gets on its destination host (Nova's ``_update_numa_xml`` in
nova/virt/libvirt/migration.py does this for a live migration): every
``<vcpupin>``, the ``<emulatorpin>``, **every** ``<iothreadpin>`` (Nova left
them on the source's pCPUs, bug 2139351, and Nova 34 rewrites only the first),
the ``<vcpusched>`` elements, the
``<numatune>`` ``<memory>`` and ``<memnode>`` node sets, the guest ``<cpu><numa>``
cells, the huge pages of ``<memoryBacking>`` and the host addresses of PCI
``<hostdev>`` devices. Every other byte of the document stays as it was: the
edits are splices of the original text (:mod:`os_numa.virt.libvirt.xmledit`),
and an element whose meaning does not change is not touched at all.

:func:`repin_domain` applies a placement's pins to a running domain with
libvirt's pin calls (``pinVcpuFlags``, ``pinEmulator``, ``pinIOThread``), after
a live migration or to rebalance a host without moving the guest.

What to write comes from the driver (:func:`os_numa.virt.libvirt.driver.get_guest_numa_config`
and :func:`~os_numa.virt.libvirt.driver.get_guest_memory_backing_config`), so a
rewritten domain pins exactly as a domain built for the destination would.
Without a flavor, :func:`flavor_for_placement` rebuilds the extra specs that
matter for the XML from the placement and the domain itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libvirt
from lxml import etree
from oslo_config import cfg

from os_numa import cpuset as cpuset_mod
from os_numa import exception, objects
from os_numa.constraints import placement_policy, source
from os_numa.objects import fields
from os_numa.pci.devices import PciAddress
from os_numa.virt.libvirt import config, driver, xmledit

#: The largest domain document accepted (libvirt's own are a few KiB).
MAX_DOMAIN_XML_BYTES = 1024 * 1024

_POLICY = fields.CPUAllocationPolicy

#: Top-level elements after which a missing element is inserted, in preference order.
_AFTER_VCPU = ("iothreadids", "iothreads", "vcpus", "vcpu")
_AFTER_MEMORY = ("currentMemory", "memory", "maxMemory")
_AFTER_OS = ("features", "os")


def _children(el: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in el if c.tag == tag]


def _child(el: etree._Element | None, tag: str) -> etree._Element | None:
    if el is None:
        return None
    found = _children(el, tag)
    return found[0] if found else None


def _cpus(el: etree._Element, attr: str) -> set[int] | None:
    value = el.get(attr)
    if value is None:
        return None
    try:
        return cpuset_mod.parse_cpu_spec(value)
    except exception.Invalid as exc:
        raise exception.InvalidXML(reason=f"<{el.tag}> {attr}={value!r}: {exc}") from exc


def _int(el: etree._Element, attr: str) -> int | None:
    value = el.get(attr)
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError as exc:
        raise exception.InvalidXML(reason=f"<{el.tag}> {attr}={value!r} is not a number") from exc


# --- a flavor for the XML, from the placement and the domain ----------------------------


def flavor_for_placement(
    placement: objects.InstanceNUMATopology | None,
    vcpus: int,
    memory_mb: int,
    realtime_priority: int | None = None,
    locked: bool = False,
    memory_policy: str | None = None,
) -> objects.Flavor:
    """A flavor that makes the driver write ``placement`` as its own guest would be written.

    The driver reads a few extra specs besides the placement: the CPU policy
    (and a mixed guest's dedicated vCPUs), the realtime vCPUs and their
    priority, the emulator policy, count and mask, and locked memory. They are
    rebuilt here from the placement (``realtime_vcpus``, the cells' policies and
    page sizes, the emulator fields) and, for what a placement does not carry,
    from the arguments (read from the domain by :func:`update_numa_xml`):
    the realtime priority, locked memory and the ``<numatune>`` mode
    (``hw:numa_memory_policy``).
    """
    specs: dict[str, str] = {}
    if memory_policy and memory_policy != "strict" and placement is not None:
        specs["hw:numa_memory_policy"] = memory_policy
    if placement is not None and placement.cells:
        policy = placement.cpu_policy
        if policy in (_POLICY.DEDICATED, _POLICY.MIXED):
            specs["hw:cpu_policy"] = policy
        if policy == _POLICY.MIXED:
            pinned = {vcpu for cell in placement.cells for vcpu in cell.pcpuset}
            specs["hw:cpu_dedicated_mask"] = cpuset_mod.format_cpu_spec(pinned)
        if placement.emulator_threads_policy:
            specs["hw:emulator_threads_policy"] = placement.emulator_threads_policy
        if placement.emulator_threads_count is not None:
            specs["hw:emulator_threads_count"] = str(placement.emulator_threads_count)
        if placement.emulator_threads_mask:
            specs["hw:emulator_threads_mask"] = cpuset_mod.format_cpu_spec(
                placement.emulator_threads_mask
            )
        realtime = set(placement.realtime_vcpus or ())
        if realtime:
            specs["hw:cpu_realtime"] = "yes"
            housekeeping = set(range(vcpus)) - realtime
            if housekeeping:
                specs["hw:cpu_realtime_mask"] = "^" + cpuset_mod.format_cpu_spec(
                    housekeeping
                ).replace(",", ",^")
            if realtime_priority is not None:
                specs["hw:cpu_realtime_priority"] = str(realtime_priority)
        elif locked:
            specs["hw:locked_memory"] = "true"
            sizes = {cell.pagesize for cell in placement.cells if cell.pagesize}
            if sizes:
                specs["hw:mem_page_size"] = str(max(sizes))
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, extra_specs=specs)


def flavor_from_domain(
    domain_xml: str | bytes | etree._Element, placement: objects.InstanceNUMATopology | None
) -> objects.Flavor:
    """:func:`flavor_for_placement` with what a domain shows: its vCPUs, memory,
    realtime priority and locked memory.

    :raises InvalidXML: not a domain, or a malformed element.
    """
    if not isinstance(domain_xml, etree._Element):
        domain_xml = xmledit.Document(domain_xml, MAX_DOMAIN_XML_BYTES).root
    guest = config.LibvirtConfigGuest.parse_dom(domain_xml)
    priorities = [s.priority for s in guest.cputune.vcpusched] if guest.cputune else []
    priority = next((p for p in priorities if p is not None), None)
    locked = guest.membacking is not None and guest.membacking.locked
    memory = guest.numatune.memory if guest.numatune is not None else None
    return flavor_for_placement(
        placement,
        guest.vcpus,
        max(1, -(-guest.memory // 1024)),
        priority,
        locked,
        None if memory is None else memory.mode,
    )


# --- PCI ----------------------------------------------------------------------------------


def pci_address_map(old_devices: Sequence[Any], new_devices: Sequence[Any]) -> dict[str, str]:
    """Source host PCI address -> destination address, pairing devices of the same alias
    in the order the placements list them.

    :raises Invalid: the two sides do not hold the same number of devices per alias.
    """
    by_alias: dict[str, list[str]] = {}
    for device in new_devices:
        by_alias.setdefault(device.alias, []).append(device.address)
    mapping: dict[str, str] = {}
    for device in old_devices:
        free = by_alias.get(device.alias) or []
        if not free:
            raise exception.Invalid(
                reason=f"PCI device {device.address} ({device.alias}) has no counterpart "
                "among the destination's devices"
            )
        mapping[str(PciAddress.parse(device.address))] = str(PciAddress.parse(free.pop(0)))
    left = sorted(a for addresses in by_alias.values() for a in addresses)
    if left:
        raise exception.Invalid(
            reason=f"destination PCI devices {left} have no counterpart on the source"
        )
    return mapping


def _update_hostdevs(doc: xmledit.Document, mapping: Mapping[str, str]) -> None:
    if not mapping:
        return
    devices = _child(doc.root, "devices")
    for hostdev in [] if devices is None else _children(devices, "hostdev"):
        if hostdev.get("type") != "pci":
            continue
        address = _child(_child(hostdev, "source"), "address")
        if address is None:
            continue
        domain, bus, slot, function = (
            _int(address, name) for name in ("domain", "bus", "slot", "function")
        )
        if bus is None or slot is None or function is None:
            continue
        source = str(PciAddress(domain or 0, bus, slot, function))
        if source not in mapping:
            continue
        new = PciAddress.parse(mapping[source])
        doc.set_attributes(
            address,
            {
                "domain": f"0x{new.domain:04x}",
                "bus": f"0x{new.bus:02x}",
                "slot": f"0x{new.slot:02x}",
                "function": f"0x{new.function:x}",
            },
        )


# --- the NUMA elements -----------------------------------------------------------------


def _insert_top(doc: xmledit.Document, new: etree._Element, after: tuple[str, ...]) -> None:
    for tag in after:
        anchor = _children(doc.root, tag)
        if anchor:
            doc.insert_after(anchor[-1], [new])
            return
    doc.append_children(doc.root, [new])


def _keyed_update(
    doc: xmledit.Document,
    parent: etree._Element,
    existing: list[etree._Element],
    key: str,
    desired: Mapping[int, config.LibvirtConfigObject],
    compare: Any,
) -> None:
    """Make the ``existing`` elements (keyed by attribute ``key``) say ``desired``:
    change the attributes that differ, remove the surplus, add the missing after the last."""
    seen = set()
    for el in existing:
        ident = _int(el, key)
        want = None if ident is None else desired.get(ident)
        if want is None or ident in seen:
            doc.remove(el)
            continue
        seen.add(ident)
        changes = compare(el, want)
        if changes:
            doc.set_attributes(el, changes)
    missing = [desired[k].format_dom() for k in sorted(desired) if k not in seen]
    if not missing:
        return
    kept = [el for el in existing if _int(el, key) in seen]
    if kept:
        doc.insert_after(kept[-1], missing)
    else:
        doc.append_children(parent, missing)


def _cpuset_changes(attr: str):
    def compare(el: etree._Element, want) -> dict[str, str]:
        value = getattr(want, attr)
        changes = {} if _cpus(el, attr) == set(value) else {attr: cpuset_mod.format_cpu_spec(value)}
        mode = getattr(want, "mode", None)
        if mode is not None and (el.get("mode") or "strict") != mode:
            changes["mode"] = mode
        return changes

    return compare


def _sched_map(scheds) -> dict[int, tuple[str | None, int | None]]:
    return {vcpu: (s.scheduler, s.priority) for s in scheds for vcpu in s.vcpus}


def iothread_cpus(cputune: config.LibvirtConfigGuestCPUTune) -> tuple[dict[int, set], set]:
    """({I/O thread id: pCPUs} the driver pins, pCPUs of any other I/O thread).

    An I/O thread the placement does not name (a domain with more of them than
    the flavor says) runs beside the emulator threads, as the driver's rule for
    shared I/O threads puts them.
    """
    pins = {pin.iothread: set(pin.cpuset) for pin in cputune.iothreadpin}
    emulator = set(cputune.emulatorpin.cpuset) if cputune.emulatorpin is not None else set()
    return pins, emulator


def _declared_iothreads(root: etree._Element) -> set[int]:
    """The I/O thread ids a domain declares (``<iothreadids>``, else ``<iothreads>N``)."""
    ids = _child(root, "iothreadids")
    if ids is not None:
        return {i for i in (_int(el, "id") for el in _children(ids, "iothread")) if i is not None}
    count = _child(root, "iothreads")
    if count is None or not (count.text or "").strip().isdigit():
        return set()
    return set(range(1, int(count.text.strip()) + 1))


def _update_iothreadpins(doc, cputune_el, desired: config.LibvirtConfigGuestCPUTune) -> None:
    """Every ``<iothreadpin>`` to the destination's pCPUs (Nova 34 rewrites only the first)."""
    pins, other = iothread_cpus(desired)
    existing = _children(cputune_el, "iothreadpin")
    for el in existing:
        ident = _int(el, "iothread")
        want = other if ident is None else pins.get(ident, other)
        if not want:
            doc.remove(el)
        elif _cpus(el, "cpuset") != want:
            doc.set_attributes(el, {"cpuset": cpuset_mod.format_cpu_spec(want)})
    seen = {_int(el, "iothread") for el in existing}
    declared = _declared_iothreads(doc.root)
    missing = [
        p.format_dom()
        for p in desired.iothreadpin
        if p.iothread not in seen and p.iothread in declared
    ]
    if not missing:
        return
    if existing:
        doc.insert_after(existing[-1], missing)
    else:
        doc.append_children(cputune_el, missing)


def _update_cputune(doc: xmledit.Document, desired: config.LibvirtConfigGuestCPUTune | None):
    root = doc.root
    cputune = _child(root, "cputune")
    has_iothreads = bool(_children(root, "iothreads") or _children(root, "iothreadids"))
    pin_tags = ("vcpupin", "emulatorpin", "iothreadpin", "vcpusched")
    if desired is None:
        if cputune is None:
            return
        pins = [c for c in cputune if c.tag in pin_tags]
        if len(pins) == len([c for c in cputune if isinstance(c.tag, str)]) and pins:
            doc.remove(cputune)
        else:
            for el in pins:
                doc.remove(el)
        return
    if not has_iothreads:
        desired.iothreadpin = []
    if cputune is None:
        _insert_top(doc, desired.format_dom(), _AFTER_VCPU)
        return
    vcpupins = _children(cputune, "vcpupin")
    _keyed_update(
        doc,
        cputune,
        vcpupins,
        "vcpu",
        {pin.id: pin for pin in desired.vcpupin},
        _cpuset_changes("cpuset"),
    )
    anchor = vcpupins[-1] if vcpupins else None
    emulatorpin = _child(cputune, "emulatorpin")
    if emulatorpin is not None and desired.emulatorpin is not None:
        changes = _cpuset_changes("cpuset")(emulatorpin, desired.emulatorpin)
        if changes:
            doc.set_attributes(emulatorpin, changes)
    elif emulatorpin is not None:
        doc.remove(emulatorpin)
    elif desired.emulatorpin is not None:
        if anchor is not None:
            doc.insert_after(anchor, [desired.emulatorpin.format_dom()])
        else:
            doc.append_children(cputune, [desired.emulatorpin.format_dom()])
    _update_iothreadpins(doc, cputune, desired)
    scheds = _children(cputune, "vcpusched")
    current = {}
    for el in scheds:
        for vcpu in _cpus(el, "vcpus") or ():
            current[vcpu] = (el.get("scheduler"), _int(el, "priority"))
    if current != _sched_map(desired.vcpusched):
        for el in scheds:
            doc.remove(el)
        new = [s.format_dom() for s in desired.vcpusched]
        if scheds:
            doc.insert_after(scheds[-1], new)
        else:
            doc.append_children(cputune, new)


def _update_numatune(doc: xmledit.Document, desired: config.LibvirtConfigGuestNUMATune | None):
    numatune = _child(doc.root, "numatune")
    if desired is None:
        if numatune is not None:
            doc.remove(numatune)
        return
    if numatune is None:
        _insert_top(doc, desired.format_dom(), ("cputune", *_AFTER_VCPU))
        return
    memory = _child(numatune, "memory")
    if memory is not None and desired.memory is not None:
        changes = _cpuset_changes("nodeset")(memory, desired.memory)
        if changes:
            doc.set_attributes(memory, changes)
    elif desired.memory is not None:
        doc.append_children(numatune, [desired.memory.format_dom()])
    _keyed_update(
        doc,
        numatune,
        _children(numatune, "memnode"),
        "cellid",
        {node.cellid: node for node in desired.memnodes},
        _cpuset_changes("nodeset"),
    )


def _cell_changes(el: etree._Element, want: config.LibvirtConfigGuestCPUNUMACell) -> dict:
    have = config.LibvirtConfigGuestCPUNUMACell.parse_dom(el)
    changes: dict[str, str | None] = {}
    if have.cpus != want.cpus:
        changes["cpus"] = cpuset_mod.format_cpu_spec(want.cpus)
    if have.memory != want.memory:
        changes.update(memory=str(want.memory), unit="KiB")
    if have.memAccess != want.memAccess:
        changes["memAccess"] = want.memAccess
    return changes


def _update_cpu_numa(
    doc: xmledit.Document, cpu: etree._Element, desired: config.LibvirtConfigGuestCPUNUMA | None
):
    numa = _child(cpu, "numa")
    if desired is None:
        if numa is not None:
            doc.remove(numa)
        return
    if numa is None:
        doc.append_children(cpu, [desired.format_dom()])
        return
    _keyed_update(
        doc,
        numa,
        _children(numa, "cell"),
        "id",
        {cell.id: cell for cell in desired.cells},
        _cell_changes,
    )


def _pages(hugepages: etree._Element | None) -> list[tuple[int, frozenset[int]]]:
    if hugepages is None:
        return []
    pages = [
        config.LibvirtConfigGuestMemoryBackingPage.parse_dom(p)
        for p in _children(hugepages, "page")
    ]
    return sorted((p.size_kb, frozenset(p.nodeset)) for p in pages)


def _update_memory_backing(
    doc: xmledit.Document, desired: config.LibvirtConfigGuestMemoryBacking | None
):
    backing = _child(doc.root, "memoryBacking")
    if backing is None:
        if desired is not None:
            _insert_top(doc, desired.format_dom(), _AFTER_MEMORY)
        return
    want = desired or config.LibvirtConfigGuestMemoryBacking()
    hugepages = _child(backing, "hugepages")
    want_pages = sorted((p.size_kb, frozenset(p.nodeset)) for p in want.hugepages)
    if _pages(hugepages) != want_pages:
        new_hugepages = etree.Element("hugepages")
        for page in want.hugepages:
            new_hugepages.append(page.format_dom())
        if hugepages is not None and want.hugepages:
            doc.replace(hugepages, new_hugepages)
        elif hugepages is not None:
            doc.remove(hugepages)
        else:
            doc.append_children(backing, [new_hugepages])
    removed = 0 if hugepages is None or want.hugepages else 1
    for tag, wanted in (("nosharepages", want.nosharepages), ("locked", want.locked)):
        el = _child(backing, tag)
        if el is not None and not wanted:
            doc.remove(el)
            removed += 1
        elif el is None and wanted:
            doc.append_children(backing, [etree.Element(tag)])
    if desired is None and removed == len([c for c in backing if isinstance(c.tag, str)]):
        doc.remove(backing)


def _update_size(doc: xmledit.Document, flavor: Any) -> None:
    """``<vcpu>``, ``<memory>`` and ``<currentMemory>`` to the flavor's (a resize)."""
    view = source.flavor_view(flavor)
    vcpu = _child(doc.root, "vcpu")
    if vcpu is not None and (vcpu.text or "").strip() != str(view.vcpus):
        doc.set_text(vcpu, str(view.vcpus))
    want = view.memory_mb * 1024
    memory = _child(doc.root, "memory")
    if memory is None:
        return
    # Read with the config class's units, from a domain holding only <memory>.
    alone = etree.Element("domain", type="kvm")
    alone.append(copy.deepcopy(memory))
    if config.LibvirtConfigGuest.parse_dom(alone).memory == want:
        return
    for tag in ("memory", "currentMemory"):
        el = _child(doc.root, tag)
        if el is not None:
            doc.set_text(el, str(want))
            doc.set_attributes(el, {"unit": "KiB"})


def _update_topology(
    doc: xmledit.Document,
    cpu: etree._Element,
    topology: objects.VirtCPUTopology | None,
    vcpus: int,
) -> None:
    """``<cpu><topology>`` to the driver's for the destination; a topology that no longer
    adds up to the vCPU count (and that the driver would not write) goes."""
    current = _child(cpu, "topology")
    if topology is None:
        if current is not None:
            sizes = [_int(current, n) or 1 for n in ("sockets", "dies", "cores", "threads")]
            if sizes[0] * sizes[1] * sizes[2] * sizes[3] != vcpus:
                doc.remove(current)
        return
    want = {n: str(getattr(topology, n)) for n in ("sockets", "cores", "threads")}
    if current is None:
        doc.append_children(cpu, [etree.Element("topology", **want)])
        return
    changes: dict[str, str | None] = {n: v for n, v in want.items() if current.get(n) != v}
    if current.get("dies") not in (None, "1"):
        changes["dies"] = None
    if changes:
        doc.set_attributes(current, changes)


def _update_vcpu_cpuset(doc: xmledit.Document, cpuset: set[int] | None) -> None:
    vcpu = _child(doc.root, "vcpu")
    if vcpu is None:
        return
    have = _cpus(vcpu, "cpuset")
    if have != (set(cpuset) if cpuset else None):
        doc.set_attributes(vcpu, {"cpuset": cpuset_mod.format_cpu_spec(cpuset) if cpuset else None})


def update_numa_xml(
    domain_xml: str | bytes,
    new_placement: objects.InstanceNUMATopology | None,
    flavor: Any = None,
    image_meta: Any = None,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
    *,
    old_placement: objects.InstanceNUMATopology | None = None,
    pci_map: Mapping[str, str] | None = None,
) -> str:
    """``domain_xml`` rewritten for ``new_placement`` on the destination host.

    ``flavor``/``image_meta``/``conf`` are what the guest was built with (the
    new flavor of a resize); without a flavor, :func:`flavor_for_placement`
    rebuilds the extra specs the XML depends on from the placement and the
    domain. ``host_topology`` is the destination (its shared CPUs for floating
    vCPUs and ``share`` emulator threads, its page sizes); ``conf`` its
    options. PCI ``<hostdev>`` source addresses move as ``pci_map`` says
    (source address -> destination address), or else by pairing
    ``old_placement.pci_devices`` with ``new_placement.pci_devices``
    (:func:`pci_address_map`).

    Elements whose meaning is unchanged, and everything else in the document,
    keep their exact text.

    :raises InvalidXML: not a domain, malformed, or over :data:`MAX_DOMAIN_XML_BYTES`.
    :raises UnsafeXML: the document declares entities or external references.
    :raises InvalidGuestPlacement, EmulatorPinEmpty, Invalid: the placement
        cannot be written (see :func:`os_numa.virt.libvirt.driver.get_guest_numa_config`).
    """
    doc = xmledit.Document(domain_xml, MAX_DOMAIN_XML_BYTES)
    if doc.root.tag != "domain":
        raise exception.InvalidXML(reason=f"<{doc.root.tag}> is not a libvirt <domain>")
    if flavor is None:
        flavor = flavor_from_domain(doc.root, new_placement)
    # This edge holds the flavor the guest is (re)built with: its policy is the XML's.
    new_placement = placement_policy.with_flavor_policy(new_placement, flavor, image_meta)
    numa = driver.get_guest_numa_config(new_placement, flavor, image_meta, host_topology, conf)
    backing = driver.get_guest_memory_backing_config(
        new_placement, flavor, image_meta, host_topology, conf
    )
    if pci_map is None and old_placement is not None and new_placement is not None:
        pci_map = pci_address_map(old_placement.pci_devices, new_placement.pci_devices)
    topology = driver.get_guest_cpu_topology(new_placement, flavor, image_meta, host_topology, conf)
    _update_size(doc, flavor)
    _update_vcpu_cpuset(doc, numa.cpuset)
    _update_cputune(doc, numa.cputune)
    _update_numatune(doc, numa.numatune)
    cpu = _child(doc.root, "cpu")
    if cpu is None:
        if numa.numaconfig is not None or topology is not None:
            sizes = {}
            if topology is not None:
                sizes = {n: getattr(topology, n) for n in ("sockets", "cores", "threads")}
            new_cpu = config.LibvirtConfigGuestCPU(numa=numa.numaconfig, **sizes)
            _insert_top(doc, new_cpu.format_dom(), _AFTER_OS)
    else:
        _update_cpu_numa(doc, cpu, numa.numaconfig)
        _update_topology(doc, cpu, topology, source.flavor_view(flavor).vcpus)
    _update_memory_backing(doc, backing)
    _update_hostdevs(doc, pci_map or {})
    return doc.text()


# --- a running guest -------------------------------------------------------------------


@dataclass(frozen=True)
class Repinned:
    """What :func:`repin_domain` applied: each vCPU's pCPUs, the emulator's, each I/O thread's."""

    vcpus: dict[int, frozenset[int]]
    emulator: frozenset[int]
    iothreads: dict[int, frozenset[int]]


def _cpumap(cpus, host_cpus: int) -> tuple[bool, ...]:
    unknown = sorted(c for c in cpus if c >= host_cpus)
    if unknown:
        raise exception.InvalidGuestPlacement(
            reason=f"host CPUs {unknown} do not exist here (the host has {host_cpus})"
        )
    return tuple(cpu in cpus for cpu in range(host_cpus))


def repin_domain(
    dom: Any,
    new_placement: objects.InstanceNUMATopology,
    flavor: Any = None,
    image_meta: Any = None,
    host_topology: objects.NUMATopology | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> Repinned:
    """Pin a running domain's threads where ``new_placement`` says, with libvirt's pin calls.

    Every vCPU (``pinVcpuFlags``), the emulator threads (``pinEmulator``) and
    every I/O thread (``pinIOThread``) get the affinity a domain built for
    this placement would have; a persistent domain's definition is changed too,
    so a restart keeps the pins. Memory already allocated stays where it is
    (the pin calls move threads, not pages); ``<numatune>`` of the definition is
    rewritten with :func:`update_numa_xml` where that matters.

    ``flavor`` None: rebuilt from the placement and the domain's XML, as in
    :func:`update_numa_xml`.

    :raises InvalidGuestPlacement: a pCPU the host does not have.
    :raises libvirt.libvirtError: libvirt refused a pin; the pins applied
        before it stay (apply the old placement again to undo).
    """
    xml = dom.XMLDesc(0)
    if flavor is None:
        flavor = flavor_from_domain(xml, new_placement)
    new_placement = placement_policy.with_flavor_policy(new_placement, flavor, image_meta)
    numa = driver.get_guest_numa_config(new_placement, flavor, image_meta, host_topology, conf)
    if numa.cputune is None or numa.cputune.emulatorpin is None:
        raise exception.InvalidGuestPlacement(reason="the placement pins nothing")
    host_cpus = dom.connect().getInfo()[2]
    flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
    if dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    vcpus = {pin.id: frozenset(pin.cpuset) for pin in numa.cputune.vcpupin}
    emulator = frozenset(numa.cputune.emulatorpin.cpuset)
    # Every map is checked before the first pin call, so a bad placement changes nothing.
    vcpu_maps = {vcpu: _cpumap(cpus, host_cpus) for vcpu, cpus in sorted(vcpus.items())}
    emulator_map = _cpumap(emulator, host_cpus)
    pins, other = iothread_cpus(numa.cputune)
    iothreads = {
        iothread_id: frozenset(pins.get(iothread_id, other))
        for iothread_id, _ in dom.ioThreadInfo(0)
    }
    iothread_maps = {i: _cpumap(cpus, host_cpus) for i, cpus in iothreads.items() if cpus}
    for vcpu, cpumap in vcpu_maps.items():
        dom.pinVcpuFlags(vcpu, cpumap, flags)
    dom.pinEmulator(emulator_map, flags)
    for iothread_id, cpumap in iothread_maps.items():
        dom.pinIOThread(iothread_id, cpumap, flags)
    return Repinned(vcpus=vcpus, emulator=emulator, iothreads=iothreads)
