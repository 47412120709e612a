"""The ``os-numa`` subcommands: ``place``, ``host`` and ``validate-flavor``.

Each command reads its inputs, runs the library's one-way data flow (flavor ->
constraints -> fit -> guest config) and prints; errors are raised as
:class:`~os_numa.exception.OsNumaError` and turned into exit status 2 by
:func:`os_numa.cmd.main.main`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

from oslo_config import cfg

from os_numa import conf as conf_mod
from os_numa import exception, hardware
from os_numa.cmd import args as cli_args
from os_numa.cmd import (
    audit,
    completion,
    flavorcheck,
    fleet,
    hostsource,
    inputfile,
    render_json,
    render_pci,
    render_picture,
    render_xml,
    specs,
    terminal,
)
from os_numa.cmd.status import EXIT_FITS, EXIT_NO_FIT
from os_numa.objects.flavor import Flavor
from os_numa.objects.image_meta import ImageMeta
from os_numa.objects.instance_numa import InstanceNUMATopology
from os_numa.pci import request as pci_request
from os_numa.verdict import fit_or_explain
from os_numa.virt.libvirt import driver, power

#: Largest --config-file accepted, in bytes (a full nova.conf sample is ~400 KiB).
MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024


@dataclass
class Outcome:
    """Everything ``place`` computed, for whichever format prints it."""

    flavor: Flavor
    image_meta: ImageMeta | None
    host: hostsource.HostView
    request: InstanceNUMATopology | None
    placement: InstanceNUMATopology | None = None
    numa_config: Any = None
    memory_backing: Any = None
    explanation: str | None = None
    emulatorpin: set[int] = field(default_factory=set)
    vcpusched: list[dict[str, Any]] = field(default_factory=list)
    #: The PCI devices of a guest that asks for no NUMA placement (no cells).
    unplaced_pci: InstanceNUMATopology | None = None
    #: The guest's ``<cpu><topology>`` (None: not written).
    cpu_topology: Any = None
    #: Dedicated pCPUs powered down ([libvirt] cpu_power_management).
    offline: set[int] = field(default_factory=set)

    @property
    def fits(self) -> bool:
        return self.explanation is None

    @property
    def pci_holder(self) -> InstanceNUMATopology | None:
        """What carries the guest's PCI devices: the placement, or ``unplaced_pci``."""
        return self.placement if self.placement is not None else self.unplaced_pci


def _host_from(options: argparse.Namespace, conf: cfg.ConfigOpts) -> hostsource.HostView:
    return hostsource.load_host(
        capabilities=options.capabilities,
        connect=options.connect,
        cpu_dedicated_set=options.cpu_dedicated_set,
        cpu_shared_set=options.cpu_shared_set,
        existing_files=options.existing,
        pci_device_files=options.pci_devices,
        conf=conf,
    )


def _guest_from(options: argparse.Namespace) -> tuple[Flavor, ImageMeta | None]:
    flavor = specs.build_flavor(options.flavor, options.extra_spec)
    return flavor, specs.build_image_meta(options.image_property)


def _conf(options: argparse.Namespace) -> cfg.ConfigOpts:
    """The options for the host, the fit and the driver: ``--config-file`` files,
    then the command's CPU sets on top; never the process's global configuration.

    :raises InvalidConfiguration: a file is missing or malformed, or a value is invalid.
    """
    overrides = {}
    if getattr(options, "cpu_shared_set", None):
        overrides["compute.cpu_shared_set"] = options.cpu_shared_set
    if getattr(options, "cpu_dedicated_set", None):
        overrides["compute.cpu_dedicated_set"] = options.cpu_dedicated_set
    for path in options.config_file:
        inputfile.check_regular_file(
            path, MAX_CONFIG_FILE_BYTES, exception.InvalidConfiguration, "--config-file"
        )
    args = [arg for path in options.config_file for arg in ("--config-file", path)]
    try:
        conf = conf_mod.make_conf(args, **overrides)
        # Read every option now, so a bad value is reported here and not mid-fit.
        for group, opts in conf_mod.list_opts():
            # [DEFAULT] options are the ConfigOpts' own attributes.
            section = conf if group.name == "DEFAULT" else getattr(conf, group.name)
            for opt in opts:
                getattr(section, opt.dest)
    except (cfg.Error, ValueError, OSError) as exc:
        raise exception.InvalidConfiguration(reason=str(exc).strip()) from exc
    return conf


def _pci_alias_values(options: argparse.Namespace, conf: cfg.ConfigOpts) -> list[str]:
    """``[pci] alias`` of the ``--config-file`` files, then every ``--pci-alias``."""
    return [*conf.pci.alias, *options.pci_alias]


def _pci_arguments(
    options, flavor, image_meta, view: hostsource.HostView, conf: cfg.ConfigOpts
) -> dict[str, Any]:
    """``pci_requests``/``pci_stats`` for the fit: {} when the flavor asks for no device.

    :raises PciRequestAliasNotDefined: the flavor names an alias that neither
        ``--pci-alias`` nor a configuration file's ``[pci] alias`` defines.
    :raises InvalidRequest: devices are requested but no ``--pci-devices`` were given.
    """
    aliases = pci_request.parse_aliases(_pci_alias_values(options, conf))
    requests = pci_request.get_pci_requests(flavor, image_meta, aliases=aliases)
    if not requests:
        return {}
    if view.pci_stats is None:
        raise exception.InvalidRequest(
            reason=f"the flavor requests PCI devices ({pci_request.describe(requests)}); "
            "give the host's devices with --pci-devices FILE..."
        )
    return {"pci_requests": requests, "pci_stats": view.pci_stats}


def compute_placement(options: argparse.Namespace) -> Outcome:
    """Fit the guest and build its libvirt configuration (nothing printed)."""
    flavor, image_meta = _guest_from(options)
    conf = _conf(options)
    view = _host_from(options, conf)
    host = view.topology
    request = hardware.numa_get_constraints(flavor, image_meta)
    outcome = Outcome(flavor=flavor, image_meta=image_meta, host=view, request=request)
    outcome.offline = power.CPUPowerManager(conf).offline()
    pci = _pci_arguments(options, flavor, image_meta, view, conf)
    network = {
        "physnets": getattr(options, "physnet", None) or [],
        "tunneled": bool(getattr(options, "tunneled", False)),
    }
    # A guest with no NUMA request has no cells to be local to: its devices are any
    # free matching ones (as in Nova).
    verdict = fit_or_explain(host, request, conf=conf, network_metadata=network, **pci)
    if not verdict.fits:
        outcome.explanation = str(verdict.explanation)
        return outcome
    outcome.placement = verdict.placement
    if request is None and pci:
        outcome.unplaced_pci = InstanceNUMATopology(cells=[], pci_devices=verdict.pci_devices)
    outcome.numa_config, outcome.memory_backing, outcome.cpu_topology = driver.guest_parts(
        outcome.placement, flavor, image_meta, host, conf
    )
    cputune = outcome.numa_config.cputune
    if cputune is not None:
        if cputune.emulatorpin is not None:
            outcome.emulatorpin = set(cputune.emulatorpin.cpuset)
        outcome.vcpusched = [
            render_json.vcpusched_to_dict(s.vcpus, s.scheduler, s.priority)
            for s in cputune.vcpusched
        ]
    return outcome


def _title(outcome: Outcome) -> str:
    flavor = outcome.flavor
    name = f"{flavor.name}: " if flavor.name else ""
    guest = f"{name}{flavor.vcpus} vCPUs, {flavor.memory_mb} MiB"
    if not outcome.fits:
        if outcome.request is None:
            return f"DOES NOT FIT - {guest}; the flavor asks for no NUMA placement"
        wanted = [
            "  " + render_picture.describe_guest_cell(i, cell)
            for i, cell in enumerate(outcome.request.cells)
        ]
        return "\n".join([f"DOES NOT FIT - {guest}; requested:", *wanted])
    if outcome.request is None:
        return f"fits - {guest}; the flavor asks for no NUMA placement (vCPUs float)"
    return f"fits - {guest}"


def _pci_notes(view: hostsource.HostView, placement) -> dict[int | None, list[str]] | None:
    if view.pci_stats is None:
        return None
    cells = [cell.id for cell in view.topology.cells]
    return render_pci.cell_device_lines(view.pci_stats, placement, cells)


def placement_json(outcome: Outcome) -> dict[str, Any]:
    """The ``os-numa/placement/v1`` document of an outcome (``place``, ``migrate``)."""
    document = render_json.placement_document(
        outcome.placement,
        emulator_threads_policy=(
            outcome.request.emulator_threads_policy if outcome.request else None
        ),
        emulatorpin=outcome.emulatorpin,
        vcpusched=outcome.vcpusched,
        explanation=outcome.explanation,
        fits=outcome.fits,
    )
    document["pci_devices"] = render_pci.placement_devices_json(outcome.pci_holder)
    return document


def print_placement(outcome: Outcome, fmt: str, color: bool, out: TextIO) -> None:
    if fmt == "json":
        out.write(render_json.dumps(placement_json(outcome)) + "\n")
    elif fmt == "xml":
        if outcome.fits:
            parts = driver.GuestParts(
                outcome.numa_config, outcome.memory_backing, outcome.cpu_topology
            )
            guest = driver.build_guest(
                outcome.pci_holder,
                outcome.flavor,
                outcome.image_meta,
                name=render_xml.domain_name(outcome.flavor.name),
                parts=parts,
            )
            out.write(guest.to_xml())
        else:
            out.write(render_xml.comment(f"does not fit:\n{outcome.explanation or ''}") + "\n")
    else:
        out.write(
            render_picture.render_host(
                outcome.host.topology,
                outcome.placement,
                outcome.emulatorpin,
                color=color,
                title=_title(outcome),
                cores=outcome.host.cores,
                notes=_pci_notes(outcome.host, outcome.pci_holder),
                vcpusched=_vcpusched(outcome),
                offline=outcome.offline,
            )
        )
        if not outcome.fits:
            out.write(f"\nwhy it does not fit:\n{outcome.explanation}\n")


def _vcpusched(outcome: Outcome) -> list:
    cputune = outcome.numa_config.cputune if outcome.numa_config is not None else None
    return list(cputune.vcpusched) if cputune is not None else []


def cmd_place(options: argparse.Namespace, out: TextIO) -> int:
    outcome = compute_placement(options)
    print_placement(outcome, options.format, cli_args.use_color(options.color, out), out)
    # On standard error, so that JSON and XML on standard output stay clean.
    for note in specs.unread_extra_specs(outcome.flavor.extra_specs):
        print(terminal.safe(note, keep_colors=False), file=sys.stderr)
    return EXIT_FITS if outcome.fits else EXIT_NO_FIT


def cmd_host(options: argparse.Namespace, out: TextIO) -> int:
    conf = _conf(options)
    view = _host_from(options, conf)
    if options.format == "json":
        document = render_json.host_document(view.topology, view.cores, view.pci_stats)
        out.write(render_json.dumps(document) + "\n")
        return EXIT_FITS
    cells = len(view.topology.cells)
    cpus = sum(len(core) for cores in view.cores.values() for core in cores)
    title = f"host: {cells} NUMA cell{'s' if cells != 1 else ''}, {cpus} CPUs"
    color = cli_args.use_color(options.color, out)
    picture = render_picture.render_host(
        view.topology,
        None,
        (),
        color=color,
        title=title,
        cores=view.cores,
        notes=_pci_notes(view, None),
        offline=power.CPUPowerManager(conf).offline(),
    )
    out.write(picture)
    return EXIT_FITS


def cmd_validate_flavor(options: argparse.Namespace, out: TextIO) -> int:
    flavor, image_meta = _guest_from(options)
    aliases = _pci_alias_values(options, _conf(options))
    check = flavorcheck.check_flavor(flavor, image_meta, aliases)
    if options.format == "json":
        out.write(render_json.dumps(check.document()) + "\n")
    else:
        out.write("\n".join(check.lines()) + "\n")
    return EXIT_FITS


def cmd_audit(options: argparse.Namespace, out: TextIO) -> int:
    return audit.cmd_audit(options, out, _conf(options))


def cmd_fleet(options: argparse.Namespace, out: TextIO) -> int:
    """``os-numa fleet`` (needs the extra ``os-numa[placement]``; exit 2 without it)."""
    return fleet.cmd_fleet(options, out, _conf(options))


def cmd_completion(options: argparse.Namespace, out: TextIO) -> int:
    out.write(completion.script(options.shell))
    return EXIT_FITS


COMMANDS = {
    "place": cmd_place,
    "host": cmd_host,
    "validate-flavor": cmd_validate_flavor,
    "audit": cmd_audit,
    "fleet": cmd_fleet,
    "completion": cmd_completion,
}


def run(options: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the parsed command; returns the exit status (errors are raised)."""
    # Names and keys from the input never reach the terminal as control sequences.
    # (SafeWriter delegates everything else to the stream: a TextIO to the commands.)
    writer = cast(TextIO, terminal.SafeWriter(out or sys.stdout))
    return COMMANDS[options.command](options, writer)
