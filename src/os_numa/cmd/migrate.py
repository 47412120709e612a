"""``os-numa migrate``: where a running guest's domain would go on another host, and its new XML.

The guest's shape is read back from its domain XML
(:func:`os_numa.virt.libvirt.domain_placement.read_domain`), fitted on the
destination host as it is used now (``--existing``) keeping that shape, as a
live migration does (:func:`os_numa.compute.move.shape_request`), or, with
``--flavor``, fitted from a new flavor, as a resize does. The output is the
destination placement and the domain XML rewritten for it
(:func:`os_numa.virt.libvirt.migration.update_numa_xml`), or why it does not fit.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from os_numa import exception, hardware
from os_numa.cmd import args as cli_args
from os_numa.cmd import commands, hostsource, inputfile, render_json
from os_numa.cmd.status import EXIT_FITS, EXIT_NO_FIT
from os_numa.compute.move import shape_request
from os_numa.verdict import fit_or_explain
from os_numa.virt.libvirt import domain_placement, driver, migration


def _source_topology(options: argparse.Namespace, conf):
    """The host the domain was read on: ``--source-capabilities``, else the destination."""
    if options.source_capabilities:
        view = hostsource.load_host(
            capabilities=options.source_capabilities,
            cpu_dedicated_set=options.cpu_dedicated_set,
            cpu_shared_set=options.cpu_shared_set,
            conf=conf,
        )
    else:
        view = hostsource.load_host(
            capabilities=options.capabilities,
            connect=options.connect,
            cpu_dedicated_set=options.cpu_dedicated_set,
            cpu_shared_set=options.cpu_shared_set,
            conf=conf,
        )
    return view.topology


def _check_stdin(options: argparse.Namespace) -> None:
    """Standard input (``-``) is read once: by one option, and not by the
    destination's ``--capabilities`` when they are read again as the source host's.

    :raises InvalidRequest: naming the options.
    """
    given = {
        "--source-xml": [options.source_xml],
        "--source-capabilities": [options.source_capabilities or ""],
        "--capabilities": [options.capabilities or ""],
        "--existing": list(options.existing),
        "--pci-devices": list(options.pci_devices),
    }
    inputfile.check_one_stdin(given)
    if options.capabilities == inputfile.STDIN and not options.source_capabilities:
        raise exception.InvalidRequest(
            reason="--capabilities - would be read twice (also as the source host): "
            "give the capabilities as a file, or the source host's with --source-capabilities"
        )


def compute_migration(options: argparse.Namespace) -> tuple[commands.Outcome, str | None, list]:
    """(outcome on the destination, rewritten domain XML or None, drift of the source domain)."""
    _check_stdin(options)
    conf = commands._conf(options)
    xml = inputfile.read_text(
        options.source_xml, migration.MAX_DOMAIN_XML_BYTES, exception.InvalidXML, "domain XML"
    )
    read = domain_placement.read_domain(xml, _source_topology(options, conf))
    view = commands._host_from(options, conf)
    host = view.topology
    if options.flavor:
        flavor, image_meta = commands._guest_from(options)
        request = hardware.numa_get_constraints(flavor, image_meta)
    else:
        image_meta = None
        request = None if read.placement is None else shape_request(read.placement)
        flavor = migration.flavor_from_domain(xml, read.placement)
    outcome = commands.Outcome(flavor=flavor, image_meta=image_meta, host=view, request=request)
    # The flavor's PCI aliases (a resize); the domain alone does not say which alias
    # each of its devices answered.
    pci = commands._pci_arguments(options, flavor, image_meta, view, conf) if options.flavor else {}
    # The source domain's drift, then what the migration itself leaves undone (text).
    drift: list[domain_placement.Drift | str] = list(read.drift)
    if request is not None:
        network = {"physnets": options.physnet or [], "tunneled": bool(options.tunneled)}
        verdict = fit_or_explain(host, request, conf=conf, network_metadata=network, **pci)
        if not verdict.fits:
            outcome.explanation = str(verdict.explanation)
            return outcome, None, drift
        outcome.placement = verdict.placement
    numa = driver.get_guest_numa_config(outcome.placement, flavor, image_meta, host, conf)
    outcome.numa_config = numa
    outcome.memory_backing = driver.get_guest_memory_backing_config(
        outcome.placement, flavor, image_meta, host, conf
    )
    if numa.cputune is not None:
        if numa.cputune.emulatorpin is not None:
            outcome.emulatorpin = set(numa.cputune.emulatorpin.cpuset)
        outcome.vcpusched = [
            render_json.vcpusched_to_dict(s.vcpus, s.scheduler, s.priority)
            for s in numa.cputune.vcpusched
        ]
    new_devices = [d.address for d in getattr(outcome.placement, "pci_devices", None) or ()]
    pci_map = None
    if read.pci_addresses and len(new_devices) == len(read.pci_addresses):
        pci_map = dict(zip(read.pci_addresses, new_devices, strict=True))
    elif read.pci_addresses:
        drift.append(
            f"its PCI devices {', '.join(read.pci_addresses)} keep their host addresses: "
            "give --flavor with its pci_passthrough:alias and --pci-devices to move them"
        )
    new_xml = migration.update_numa_xml(
        xml, outcome.placement, flavor, image_meta, host, conf, pci_map=pci_map
    )
    return outcome, new_xml, drift


def cmd_migrate(options: argparse.Namespace, out: TextIO) -> int:
    outcome, new_xml, drift = compute_migration(options)
    for finding in drift:
        print(f"os-numa: warning: the source domain: {finding}", file=sys.stderr)
    if options.format == "json":
        document = commands.placement_json(outcome)
        document["domain_xml"] = new_xml
        out.write(render_json.dumps(document) + "\n")
    elif options.format == "xml" and new_xml is not None:
        out.write(new_xml)
    elif options.format == "xml":
        commands.print_placement(outcome, "xml", False, out)
    else:
        commands.print_placement(outcome, "picture", cli_args.use_color(options.color, out), out)
        if new_xml is not None:
            out.write("\nthe domain XML for the destination:\n")
            out.write(new_xml if new_xml.endswith("\n") else new_xml + "\n")
    return EXIT_FITS if outcome.fits else EXIT_NO_FIT


def run(options: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``migrate`` (parsed options); returns the exit status (errors are raised)."""
    return cmd_migrate(options, out or sys.stdout)
