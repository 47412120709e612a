"""The ``os-numa`` argument parser: subcommands ``place``, ``host``, ``validate-flavor``
and ``migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

import os_numa
from os_numa.cmd.message import one_line

EPILOG = """\
exit status: 0 the guest fits (or the flavor is valid), 1 it does not fit,
2 invalid input (flavor, image property, host document, option), 3 internal error.

--flavor takes comma-separated KEY=VALUE items; an item without '=' continues
the previous value, so  --flavor vcpus=4,memory_mb=4096,hw:cpu_realtime_mask=^0,1
sets the mask to '^0,1'. A value holding both ',' and '=' goes in its own
--extra-spec KEY=VALUE. Repeat the options freely; a later value for a key wins.
"""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and point to ``--help``.

    argparse prints the whole usage before the error (up to nine lines for
    ``place``); a script's log wants the error, and a person the way to the help.
    Subcommand parsers are of this class too (``add_subparsers`` uses the
    parent's class).
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


COMPLETION_EPILOG = """\
install it (then open a new shell):
  bash:  os-numa completion bash > ~/.local/share/bash-completion/completions/os-numa
  zsh:   mkdir -p ~/.zfunc && os-numa completion zsh > ~/.zfunc/_os-numa
         and in ~/.zshrc, before compinit:  fpath=(~/.zfunc $fpath)
or load it in the running shell:
  bash:  source <(os-numa completion bash)
  zsh:   eval "$(os-numa completion zsh)"   (after compinit)
"""


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("host (default: the built-in 2-socket SMT server)")
    exclusive = source.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--capabilities",
        metavar="FILE",
        help=(
            "a libvirt capabilities XML document (virsh capabilities > FILE); "
            "'-' reads standard input"
        ),
    )
    exclusive.add_argument(
        "--connect",
        metavar="URI",
        help="read the capabilities from a libvirt connection, e.g. qemu:///system",
    )
    _add_cpu_set_options(source)
    source.add_argument(
        "--pci-devices",
        metavar="FILE",
        nargs="+",
        action="extend",
        default=[],
        help=(
            "libvirt node-device XML files (virsh nodedev-dumpxml) of the host's PCI "
            "devices; '-' reads standard input; repeatable"
        ),
    )
    source.add_argument(
        "--existing",
        metavar="FILE",
        action="append",
        default=[],
        help=(
            "JSON placements already on the host (what --format json prints; one object "
            "or a list), claimed before anything else; '-' reads standard input; repeatable"
        ),
    )


def _add_config_option(
    parser: argparse.ArgumentParser,
    text: str = (
        "an oslo.config file with [compute], [libvirt], [os_numa] and [pci] options "
        "(e.g. a compute node's nova.conf); command-line CPU sets override it; repeatable"
    ),
) -> None:
    """``--config-file``, repeatable; ``text`` is its help."""
    parser.add_argument("--config-file", metavar="FILE", action="append", default=[], help=text)


def _add_flavor_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    guest = parser.add_argument_group("guest")
    guest.add_argument(
        "--flavor",
        metavar="K=V,...",
        action="append",
        required=required,
        help=(
            "vcpus=N,memory_mb=M and extra specs such as hw:cpu_policy=dedicated "
            "(see the comma rule below); repeatable"
        ),
    )
    guest.add_argument(
        "--extra-spec",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="one extra spec, value taken literally (commas allowed); repeatable",
    )
    guest.add_argument(
        "--pci-alias",
        metavar="JSON",
        action="append",
        default=[],
        help=(
            'a [pci] alias, e.g. \'{"name": "nic", "vendor_id": "8086", '
            '"product_id": "154c"}\', for pci_passthrough:alias=nic:1; repeatable'
        ),
    )
    guest.add_argument(
        "--image-property",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="one image property such as hw_cpu_realtime_mask=^0; repeatable",
    )
    guest.add_argument(
        "--physnet",
        metavar="NAME",
        action="append",
        default=[],
        help=(
            "the guest has a port on Neutron physnet NAME (NUMA affinity from "
            "[neutron_physnet_NAME] numa_nodes); repeatable"
        ),
    )
    guest.add_argument(
        "--tunneled",
        action="store_true",
        help="the guest has a port on a tunneled network ([neutron_tunnel] numa_nodes)",
    )


def _add_command(
    commands: Any, name: str, summary: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand; its ``epilog``, when it has one, is printed as written."""
    if epilog is None:
        return commands.add_parser(name, help=summary, description=description)
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_format_option(parser: Any, choices: tuple[str, ...], text: str | None = None) -> None:
    """``--format``, one of ``choices``, the first by default; ``text`` is its help."""
    parser.add_argument("--format", choices=choices, default=choices[0], help=text)


def _add_cpu_set_options(group: Any) -> None:
    """``--cpu-dedicated-set`` and ``--cpu-shared-set``, the host's [compute] CPU sets."""
    group.add_argument(
        "--cpu-dedicated-set",
        metavar="SPEC",
        help="[compute] cpu_dedicated_set: host CPUs that may be pinned, e.g. 2-15,18-31",
    )
    group.add_argument(
        "--cpu-shared-set",
        metavar="SPEC",
        help="[compute] cpu_shared_set: host CPUs for floating vCPUs and shared emulator threads",
    )


def _add_color_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the picture: auto (only on a terminal, unless NO_COLOR is set)",
    )


def _add_fleet_parser(commands: Any, epilog: str) -> argparse.ArgumentParser:
    """``fleet``: hosts, a Placement service and a sequence of guests (:mod:`os_numa.cmd.fleet`)."""
    parser = _add_command(
        commands,
        "fleet",
        "place a sequence of flavors on many hosts through OpenStack Placement",
        "Register hosts in a Placement service (one child provider per NUMA cell), "
        "then place a sequence of flavors through allocation candidates, the NUMA "
        "fit and allocations, and print what happened.",
        epilog,
    )
    hosts = parser.add_argument_group("hosts")
    hosts.add_argument(
        "--capabilities",
        metavar="FILE",
        action="append",
        default=[],
        help="a host's libvirt capabilities XML; repeatable (one host each)",
    )
    hosts.add_argument(
        "--hosts",
        metavar="N",
        type=int,
        default=None,
        help="copies of the built-in host (default: 10 when no --capabilities is given)",
    )
    hosts.add_argument("--host-prefix", default="host", help="name prefix of the copies")
    _add_cpu_set_options(hosts)
    service = parser.add_argument_group("Placement")
    where = service.add_mutually_exclusive_group()
    where.add_argument(
        "--placement-url",
        metavar="URL",
        help="a Placement with auth_strategy=noauth2 (else [placement] of --config-file)",
    )
    where.add_argument(
        "--start-placement",
        action="store_true",
        help="start a temporary Placement on 127.0.0.1 (needs OS_NUMA_OPENSTACK_PYTHON)",
    )
    service.add_argument("--token", default="admin", help="X-Auth-Token with --placement-url")
    service.add_argument(
        "--model",
        choices=("nested", "flat"),
        default="nested",
        help="os-numa's NUMA child providers (default) or Nova's flat PCPU pool",
    )
    service.add_argument(
        "--cleanup",
        action="store_true",
        help="delete the run's allocations and providers at the end",
    )
    _add_config_option(
        parser, "oslo.config file: [compute] CPU sets, [placement] ratios and Keystone auth"
    )
    guests = parser.add_argument_group("guests")
    guests.add_argument(
        "--flavor",
        metavar="K=V,...",
        action="append",
        default=[],
        help="one flavor per option; the sequence cycles through them (default: a mix)",
    )
    guests.add_argument("--boots", metavar="N", type=int, default=None, help="guests to place")
    _add_format_option(parser, ("text", "json"))
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="os-numa",
        description=(
            "Place a guest's vCPUs, emulator threads and memory on a host's NUMA cells "
            "and show the result."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"os-numa {os_numa.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    place = _add_command(
        commands,
        "place",
        "fit a flavor onto a host and print the placement",
        "Fit a flavor (and image properties) onto a host and print the placement.",
        EPILOG,
    )
    _add_host_options(place)
    _add_config_option(place)
    _add_flavor_options(place)
    _add_format_option(
        place,
        ("picture", "json", "xml"),
        "picture of the host (default), the placement as JSON (schema "
        "os-numa/placement/v1), or the domain XML",
    )
    _add_color_option(place)

    host = _add_command(
        commands,
        "host",
        "print the picture of a host alone",
        "Print the host's NUMA cells, cores and threads, and what is in use.",
    )
    _add_host_options(host)
    _add_config_option(host)
    _add_format_option(
        host,
        ("picture", "json"),
        "picture of the host (default), or the host as JSON (schema os-numa/host/v1)",
    )
    _add_color_option(host)

    validate = _add_command(
        commands,
        "validate-flavor",
        "check a flavor's extra specs without a host",
        "Check a flavor's extra specs and image properties and summarise the requested topology.",
        EPILOG,
    )
    _add_config_option(validate)
    _add_flavor_options(validate)
    _add_format_option(
        validate,
        ("text", "json"),
        "a summary (default), or the request as JSON (schema os-numa/flavor/v1)",
    )
    _add_audit_parser(commands)
    _add_fleet_parser(commands, EPILOG)
    _add_migrate_parser(commands)

    completion = _add_command(
        commands,
        "completion",
        "print the bash or zsh completion script",
        "Print a completion script for os-numa's subcommands, options and values.",
        COMPLETION_EPILOG,
    )
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")
    return parser


def _add_audit_parser(commands) -> None:
    audit = _add_command(
        commands,
        "audit",
        "compare what libvirt enforces with what os-numa would account",
        "Read every running and defined domain of a libvirt connection back into "
        "its placement and report, per domain, whatever os-numa would not have "
        "placed (overlapping pins, pins outside cpu_dedicated_set, memory not bound "
        "to the vCPUs' cell...). Exit 0 when clean, 1 on drift, 2 for invalid input.",
    )
    audit.add_argument(
        "--connect",
        metavar="URI",
        required=True,
        help="the libvirt connection whose domains are audited, e.g. qemu:///system",
    )
    audit.add_argument(
        "--capabilities",
        metavar="FILE",
        help="the host's capabilities XML (default: the connection's own)",
    )
    _add_cpu_set_options(audit)
    _add_config_option(audit)
    audit.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a resource tracker checkpoint to compare with the host and its domains",
    )
    _add_format_option(
        audit,
        ("text", "json"),
        "a report per domain (default), or JSON (schema os-numa/audit/v1)",
    )


def _add_migrate_parser(commands) -> None:
    migrate = _add_command(
        commands,
        "migrate",
        "fit a running guest's domain onto another host and rewrite its XML",
        "Read a guest's placement from its domain XML, fit it on the destination host "
        "(keeping its shape, as a live migration does; or fitting --flavor, as a resize "
        "does) and print the destination placement and the domain XML rewritten for it.",
        EPILOG,
    )
    migrate.add_argument(
        "--source-xml",
        metavar="FILE",
        required=True,
        help="the guest's domain XML on its source host (virsh dumpxml GUEST > FILE)",
    )
    migrate.add_argument(
        "--source-capabilities",
        metavar="FILE",
        help=(
            "the source host's capabilities XML, to read the domain's pins against "
            "(default: the destination's, for hosts of the same shape)"
        ),
    )
    _add_host_options(migrate)
    _add_config_option(migrate)
    _add_flavor_options(migrate, required=False)
    _add_format_option(
        migrate,
        ("picture", "json", "xml"),
        "picture of the destination and the domain XML (default), the placement as "
        "JSON (schema os-numa/placement/v1, with the XML in domain_xml), or the XML alone",
    )
    _add_color_option(migrate)


def use_color(choice: str, stream: TextIO = sys.stdout) -> bool:
    """``always``/``never`` as said; ``auto`` only on a terminal that is not ``dumb``
    and without ``NO_COLOR`` in the environment (https://no-color.org)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
