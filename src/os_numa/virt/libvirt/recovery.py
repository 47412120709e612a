"""A compute host's tracker rebuilt from what libvirt runs, and what libvirt shows that
os-numa did not place.

After a restart the truth is on the host: every running and defined domain pins
its vCPUs, emulator threads and memory somewhere. :func:`read_domains` reads them
all (:func:`~os_numa.virt.libvirt.domain_placement.read_domain` each) and adds the
drift that needs every domain at once: a pCPU pinned by two domains, or used by
one domain's floating or emulator threads while pinned by another, and a PCI
device given to two domains. :func:`recover` then brings a
:class:`~os_numa.compute.ResourceTracker` back:

1. drift anywhere refuses the start (:class:`~os_numa.exception.HostDrift`,
   every finding listed per domain), since accounting it would hand out pCPUs
   that guests already use;
2. with the tracker's checkpoint file present, the checkpoint is verified (its
   checksum, its host topology, and that its claims are exactly the domains,
   pin for pin) and restored: placements come back exactly, thread policy
   ``isolate`` included;
3. otherwise the placements read from the domains are accounted
   (``update_available_resource``), and the checkpoint, when configured, is
   written anew.

:func:`audit` does the same reading without a tracker to change, and reports
every finding instead of stopping at the first (``os-numa audit``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import libvirt

from os_numa import exception, objects
from os_numa.compute import Claim, Instance, ResourceTracker, Usage, checkpoint
from os_numa.cpuset import describe_cpus
from os_numa.objects.pci import InstancePCIDevice
from os_numa.virt.libvirt import domain_placement as dp

#: The most domains read from one host.
MAX_DOMAINS = 4096


@dataclass(frozen=True)
class HostDomains:
    """Every domain of a host read back, and every drift found (sorted by domain)."""

    domains: tuple[dp.DomainPlacement, ...]
    drift: tuple[dp.Drift, ...]

    def drift_by_domain(self) -> dict[str, list[dp.Drift]]:
        """``{domain name: its findings}`` for domains with drift, by name."""
        grouped: dict[str, list[dp.Drift]] = defaultdict(list)
        for finding in self.drift:
            grouped[finding.domain].append(finding)
        return dict(sorted(grouped.items()))


@dataclass(frozen=True)
class Recovery:
    """What :func:`recover` did: the usage now, and where it came from."""

    usage: Usage
    source: str  # "checkpoint" or "libvirt"
    domains: HostDomains


def _libvirt_error(conn: Any, exc: Exception) -> exception.LibvirtConnectionError:
    uri = conn.getURI() if hasattr(conn, "getURI") else "<connection>"
    return exception.LibvirtConnectionError(uri=uri, reason=str(exc))


def domain_documents(conn: Any) -> list[tuple[str, str, str, bool]]:
    """``(name, uuid, XMLDesc(), active)`` of every running and defined domain, by name.

    A domain that disappears while it is read is left out.

    :raises LibvirtConnectionError: libvirt fails otherwise.
    :raises InvalidRequest: the host has more than :data:`MAX_DOMAINS` domains.
    """
    try:
        domains = conn.listAllDomains(0)
    except libvirt.libvirtError as exc:
        raise _libvirt_error(conn, exc) from exc
    if len(domains) > MAX_DOMAINS:
        raise exception.InvalidRequest(
            reason=f"the host has {len(domains)} domains; at most {MAX_DOMAINS} are read"
        )
    documents = []
    for dom in domains:
        try:
            documents.append((dom.name(), dom.UUIDString(), dom.XMLDesc(0), bool(dom.isActive())))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue
            raise _libvirt_error(conn, exc) from exc
    return sorted(documents)


def read_domains(conn: Any, host_topology: objects.NUMATopology) -> HostDomains:
    """Read every domain of ``conn`` on ``host_topology`` and find all drift.

    A domain whose XML cannot be read (malformed, too large, unsafe) is drift
    of rule ``unreadable``: what it pins is unknown.

    :raises LibvirtConnectionError: libvirt fails.
    """
    read = []
    for name, uuid, xml, active in domain_documents(conn):
        try:
            read.append(dp.read_domain(xml, host_topology, active=active))
        except exception.InvalidXML as exc:
            read.append(dp.unreadable(name, uuid, str(exc), active))
    return from_placements(read)


def from_placements(domains: Sequence[dp.DomainPlacement]) -> HostDomains:
    """The domains with their own drift and the drift between them, sorted."""
    drift = [finding for domain in domains for finding in domain.drift]
    drift += between_domains(domains)
    return HostDomains(tuple(domains), tuple(sorted(set(drift))))


def between_domains(domains: Sequence[dp.DomainPlacement]) -> list[dp.Drift]:
    """Drift that needs every domain: shared pCPUs and PCI devices.

    A pCPU one domain pins (a vCPU or an isolated emulator or I/O pCPU) must be
    used by no other domain at all; a domain whose threads float over every host
    CPU overlaps every pinned pCPU of the others. Both domains of an overlap are
    named. The work is linear in the CPUs the domains name (a map from each
    pinned pCPU to its domains), not quadratic in the domains.
    """
    drift: list[dp.Drift] = []
    owners: dict[int, list[int]] = defaultdict(list)
    for index, domain in enumerate(domains):
        for cpu in domain.exclusive_cpus:
            owners[cpu].append(index)
    pinned = set(owners)
    twice: dict[tuple[int, int], set[int]] = defaultdict(set)
    floats: dict[tuple[int, int], set[int]] = defaultdict(set)
    for index, domain in enumerate(domains):
        for cpu in domain.exclusive_cpus:
            for other in owners[cpu]:
                if other != index:
                    twice[index, other].add(cpu)
        for cpu in _floats_over(domain, pinned):
            for other in owners[cpu]:
                floats[index, other].add(cpu)
    for (index, other), cpus in twice.items():
        drift.append(
            _finding(
                domains[index],
                dp.PCPU_OVERLAP,
                f"pCPU(s) {describe_cpus(cpus)} pinned to it are pinned to domain "
                f"{domains[other].name} too",
            )
        )
    for (index, other), cpus in floats.items():
        drift.append(
            _finding(
                domains[index],
                dp.PCPU_OVERLAP,
                f"its floating or emulator threads may run on pCPU(s) {describe_cpus(cpus)}, "
                f"which domain {domains[other].name} has pinned",
            )
        )
        drift.append(
            _finding(
                domains[other],
                dp.PCPU_OVERLAP,
                f"pCPU(s) {describe_cpus(cpus)} pinned to it may also run the floating or "
                f"emulator threads of domain {domains[index].name}",
            )
        )
    holders: dict[str, list[dp.DomainPlacement]] = defaultdict(list)
    for domain in domains:
        for address in set(domain.pci_addresses):
            holders[address].append(domain)
    for address, held_by in sorted(holders.items()):
        if len(held_by) > 1:
            names = ", ".join(sorted(d.name for d in held_by))
            drift += [
                _finding(d, dp.PCI_SHARED, f"PCI device {address} is given to {names}")
                for d in held_by
            ]
    return drift


def _floats_over(domain: dp.DomainPlacement, pinned: Iterable[int]) -> set[int]:
    """The CPUs of ``pinned`` that ``domain``'s unpinned threads may run on."""
    pinned = set(pinned) - domain.exclusive_cpus
    return pinned if domain.shared_cpus is None else pinned & domain.shared_cpus


def _finding(domain: dp.DomainPlacement, rule: str, detail: str) -> dp.Drift:
    return dp.Drift(domain.name, rule, detail, domain.uuid)


def _pci_device(address: str, pci_devices: dict[str, Any]) -> InstancePCIDevice:
    known = pci_devices.get(address)
    return InstancePCIDevice(
        address=address,
        alias="",  # the XML does not record which alias asked for it
        vendor_id=getattr(known, "vendor_id", ""),
        product_id=getattr(known, "product_id", ""),
        dev_type=getattr(known, "dev_type", ""),
        host_numa_node=getattr(known, "numa_node", None),
    )


def instances_from_domains(
    domains: Iterable[dp.DomainPlacement], pci_devices: Iterable[Any] = ()
) -> list[Instance]:
    """One :class:`~os_numa.compute.Instance` per domain, for ``update_available_resource``.

    The uuid is the domain's (Nova names a domain after its instance's uuid);
    the flavor holds the domain's vCPU count and memory; ``numa_topology`` the
    placement read back; PCI devices are described from ``pci_devices``
    (:class:`~os_numa.pci.devices.PciDevice`) where known.
    """
    known = {str(d.address): d for d in pci_devices}
    instances = []
    for domain in domains:
        devices = [_pci_device(a, known) for a in domain.pci_addresses]
        placement = domain.placement
        if placement is not None and devices:
            # A copy: the domain's own placement stays as read (the tracker copies it too).
            placement = placement.obj_clone()
            placement.pci_devices = devices
        instances.append(
            Instance(
                uuid=domain.uuid or domain.name,
                flavor=objects.Flavor(
                    vcpus=domain.vcpus, memory_mb=domain.memory_mb, name=domain.name
                ),
                numa_topology=placement,
                pci_devices=[] if placement is not None else devices,
            )
        )
    return instances


def compare_with_claims(
    domains: Sequence[dp.DomainPlacement], claims: Sequence[Claim]
) -> list[dp.Drift]:
    """Where ``claims`` (a checkpoint's, a tracker's) and the domains disagree.

    Each domain must hold a claim with the same vCPU count, memory, and the same
    placement as far as the XML shows it (see
    :func:`~os_numa.virt.libvirt.domain_placement.enforced`); each claim must have
    its domain.
    """
    by_uuid = {claim.instance_uuid: claim for claim in claims}
    drift: list[dp.Drift] = []
    seen = set()
    for domain in domains:
        uuid = domain.uuid or domain.name
        seen.add(uuid)
        claim = by_uuid.get(uuid)
        if claim is None:
            drift.append(
                _finding(domain, dp.NOT_ACCOUNTED, "libvirt runs it, but it holds no claim")
            )
            continue
        differences = dp.differences(claim.placement, domain.placement)
        if claim.resources.vcpus != domain.vcpus:
            differences.append(f"vCPUs: claimed {claim.resources.vcpus}, has {domain.vcpus}")
        if claim.resources.memory_mb != domain.memory_mb:
            differences.append(
                f"memory: claimed {claim.resources.memory_mb} MiB, has {domain.memory_mb} MiB"
            )
        for difference in differences:
            drift.append(_finding(domain, dp.PLACEMENT_DIFFERS, difference))
    for uuid in sorted(set(by_uuid) - seen):
        drift.append(
            dp.Drift(uuid, dp.NOT_ON_HOST, "it holds a claim, but libvirt has no such domain", uuid)
        )
    return drift


def _reason(exc: exception.OsNumaError) -> str:
    """The innermost reason of an accounting error (the domain is named by the finding)."""
    cause = exc.__cause__
    if isinstance(cause, exception.OsNumaError) and "reason" in cause.kwargs:
        return str(cause.kwargs["reason"])
    return str(exc.kwargs.get("reason", exc))


def _summary(drift: Sequence[dp.Drift], limit: int = 20) -> str:
    shown = "; ".join(str(d) for d in drift[:limit])
    more = len(drift) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def recover(
    tracker: ResourceTracker,
    conn: Any,
    pci_devices: Iterable[Any] = (),
) -> Recovery:
    """Bring ``tracker`` back from the domains of ``conn`` (and its checkpoint, if any).

    See the module docstring for the steps. The tracker's host topology (as it
    was made, before usage) is the host the domains are read on.

    :raises HostDrift: libvirt enforces something os-numa would not place; the
        exception's ``drift`` lists every finding, its message names them.
    :raises CheckpointInvalid: the checkpoint exists but is corrupt, truncated,
        tampered with, too large or of another version.
    :raises CheckpointMismatch: the checkpoint was written for another host
        topology, or its claims are not exactly the domains (named).
    :raises InstanceUsageConflict: the domains cannot be accounted together
        (more huge pages than the cell has...).
    :raises LibvirtConnectionError, InvalidXML: libvirt or a domain document fails.
    """
    host = tracker.baseline
    found = read_domains(conn, host)
    if found.drift:
        raise exception.HostDrift(drift=found.drift, reason=_summary(found.drift))
    path = tracker.checkpoint_path
    if path is not None and os.path.lexists(path):
        saved = checkpoint.load(path)
        saved.verify_host(host, path)
        differences = compare_with_claims(found.domains, saved.held)
        if differences:
            raise exception.CheckpointMismatch(
                path=path,
                reason="its claims are not the domains libvirt has: " + _summary(differences),
            )
        return Recovery(tracker.restore(saved.claims, saved.moves), "checkpoint", found)
    instances = instances_from_domains(found.domains, pci_devices)
    return Recovery(tracker.update_available_resource(instances), "libvirt", found)


@dataclass(frozen=True)
class AuditReport:
    """What :func:`audit` found: every domain and every finding, sorted by domain."""

    domains: tuple[dp.DomainPlacement, ...]
    drift: tuple[dp.Drift, ...]
    usage: Usage | None

    @property
    def clean(self) -> bool:
        return not self.drift


def audit(
    conn: Any,
    tracker: ResourceTracker,
    saved: checkpoint.Checkpoint | None = None,
    checkpoint_name: str = "checkpoint",
) -> AuditReport:
    """Compare what libvirt enforces on ``conn`` with what os-numa would account.

    ``tracker`` is a fresh tracker for the host (its driver, limits and PCI
    devices); it is rebuilt from the domains. Findings: each domain's own drift,
    the drift between domains, every domain that cannot be accounted with the
    others (``accounting``), and, given a loaded checkpoint ``saved``, where it
    differs from the host or the domains.

    :raises LibvirtConnectionError, InvalidXML: libvirt or a domain document fails.
    """
    host = tracker.baseline
    found = read_domains(conn, host)
    drift = list(found.drift)
    accepted: list[Instance] = []
    by_uuid = {d.uuid or d.name: d for d in found.domains}
    # Domains without drift first: a conflict is then blamed on the one that drifted.
    drifted = {d.domain for d in found.drift}
    ordered = sorted(found.domains, key=lambda d: (d.name in drifted, d.name))
    instances = instances_from_domains(ordered)
    usage = None
    try:
        usage = tracker.update_available_resource(instances)
    except exception.InstanceUsageConflict:
        # Find every domain that cannot join the others, one at a time.
        for instance in instances:
            try:
                usage = tracker.update_available_resource([*accepted, instance])
                accepted.append(instance)
            except exception.InstanceUsageConflict as exc:
                drift.append(_finding(by_uuid[instance.uuid], dp.ACCOUNTING, _reason(exc)))
    usage = tracker.usage  # the domains that could be accounted together
    if saved is not None:
        try:
            saved.verify_host(host, checkpoint_name)
        except exception.CheckpointMismatch as exc:
            drift.append(dp.Drift("(checkpoint)", dp.PLACEMENT_DIFFERS, str(exc)))
        drift += compare_with_claims(found.domains, saved.held)
    return AuditReport(found.domains, tuple(sorted(set(drift))), usage)
