"""``os-numa audit``: what libvirt enforces against what os-numa would account.

The host comes from ``--capabilities`` or the connection's own capabilities,
with the ``[compute]`` CPU sets of ``--config-file`` and the command line; the
domains (running and defined) from ``--connect``. Each domain is read back into
its placement (:mod:`os_numa.virt.libvirt.domain_placement`) and the whole host
audited (:func:`os_numa.virt.libvirt.recovery.audit`); ``--checkpoint`` also
compares a tracker checkpoint with the host and its domains.

Exit status: 0 clean, 1 drift (the report names each domain and finding), 2
invalid input (one line on standard error).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from oslo_config import cfg

from os_numa import cpuset as cpuset_mod
from os_numa import exception
from os_numa.cmd import hostsource, render_json, schema
from os_numa.cmd.terminal import safe_line
from os_numa.compute import ResourceTracker, checkpoint
from os_numa.virt.libvirt import domain_placement as dp
from os_numa.virt.libvirt import driver, recovery
from os_numa.virt.libvirt import host as libvirt_host

EXIT_CLEAN = 0
EXIT_DRIFT = 1


def _report(uri: str, options: argparse.Namespace, conf: cfg.ConfigOpts) -> recovery.AuditReport:
    if not uri.strip():
        raise exception.InvalidRequest(
            reason="--connect needs a libvirt URI such as qemu:///system, not ''"
        )
    view = hostsource.load_host(
        capabilities=options.capabilities,
        connect=None if options.capabilities else uri,
        cpu_dedicated_set=options.cpu_dedicated_set,
        cpu_shared_set=options.cpu_shared_set,
        conf=conf,
    )
    hostsource.silence_libvirt()
    saved = None
    if options.checkpoint is not None:
        saved = checkpoint.load(options.checkpoint)
    tracker = ResourceTracker(driver.LibvirtDriver(conf), view.topology, conf)
    with libvirt_host.Host(uri, conf=conf, read_only=True) as connection:
        return recovery.audit(
            connection.get_connection(), tracker, saved, options.checkpoint or "checkpoint"
        )


def _domain_entry(domain: dp.DomainPlacement, findings: list[dp.Drift]) -> dict[str, Any]:
    return {
        "name": domain.name,
        "uuid": domain.uuid,
        "active": domain.active,
        "numa": domain.numa,
        "vcpus": domain.vcpus,
        "memory_mb": domain.memory_mb,
        "pinned_cpus": sorted(domain.exclusive_cpus),
        "drift": [{"rule": d.rule, "detail": d.detail} for d in findings],
    }


def document(uri: str, report: recovery.AuditReport) -> dict[str, Any]:
    """The ``--format json`` document (schema ``os-numa/audit/v1``)."""
    by_domain: dict[str, list[dp.Drift]] = {}
    for finding in report.drift:
        by_domain.setdefault(finding.domain, []).append(finding)
    names = {d.name for d in report.domains}
    return schema.stamp(
        schema.AUDIT,
        {
            "connect": uri,
            "clean": report.clean,
            "domains": [_domain_entry(d, by_domain.get(d.name, [])) for d in report.domains],
            "accounted": _accounted(report),
            "other_drift": [
                {"subject": d.domain, "rule": d.rule, "detail": d.detail}
                for d in report.drift
                if d.domain not in names
            ],
        },
    )


def _accounted(report: recovery.AuditReport) -> dict[str, Any] | None:
    """What os-numa accounts for the domains it could account (None: none could be)."""
    usage = report.usage
    if usage is None:
        return None
    return {
        "instances": len(usage.instances),
        "vcpus": usage.vcpus,
        "memory_mb": usage.memory_mb,
        "pinned_cpus": sorted(set().union(*(c.pinned_cpus for c in usage.cells))),
    }


def text_lines(uri: str, report: recovery.AuditReport) -> list[str]:
    """The report for a terminal: one line per domain, its findings indented below."""
    by_domain: dict[str, list[dp.Drift]] = {}
    for finding in report.drift:
        by_domain.setdefault(finding.domain, []).append(finding)
    drifted = len(by_domain)
    lines = [
        f"audit of {safe_line(uri)}: {len(report.domains)} domain(s), "
        + ("no drift" if report.clean else f"drift in {drifted}")
    ]
    for domain in report.domains:
        state = {True: "running", False: "defined", None: "unknown"}[domain.active]
        pinned = cpuset_mod.format_cpu_spec(domain.exclusive_cpus) or "none"
        findings = by_domain.pop(domain.name, [])
        verdict = "drift" if findings else "ok"
        lines.append(
            f"{safe_line(domain.name)} ({domain.uuid}, {state}, pinned {pinned}): {verdict}"
        )
        lines += [f"  {d.rule}: {safe_line(d.detail)}" for d in findings]
    for subject, findings in sorted(by_domain.items()):
        lines.append(f"{safe_line(subject)}: drift")
        lines += [f"  {d.rule}: {safe_line(d.detail)}" for d in findings]
    accounted = _accounted(report)
    if accounted is not None:
        pinned = cpuset_mod.format_cpu_spec(accounted["pinned_cpus"]) or "none"
        lines.append(
            f"os-numa accounts {accounted['instances']} guest(s): {accounted['vcpus']} vCPUs, "
            f"{accounted['memory_mb']} MiB, pinned pCPUs {pinned}"
        )
    return lines


def cmd_audit(options: argparse.Namespace, out: TextIO, conf: cfg.ConfigOpts) -> int:
    """Run ``os-numa audit``; returns 0 clean or 1 drift (errors are raised)."""
    report = _report(options.connect, options, conf)
    if options.format == "json":
        out.write(render_json.dumps(document(options.connect, report)) + "\n")
    else:
        out.write("\n".join(text_lines(options.connect, report)) + "\n")
    return EXIT_CLEAN if report.clean else EXIT_DRIFT
