"""``os-numa fleet``: register hosts in a Placement, place a sequence of flavors, report.

Needs the extra ``os-numa[placement]`` (its options are in :mod:`os_numa.cmd.args`,
so ``--help`` works without it). See :doc:`/scheduling-across-hosts`.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any, TextIO

from oslo_config import cfg

from os_numa import exception
from os_numa.cmd import hostsource, render_json, schema, specs
from os_numa.cmd.status import EXIT_FITS, EXIT_NO_FIT
from os_numa.objects import Flavor
from os_numa.placement import PlacementClient, Scheduler, fleet
from os_numa.placement import client as placement_client
from os_numa.testing.placement import PlacementService

#: Most hosts and boots one command accepts (bounds the memory it allocates).
MAX_HOSTS = 10_000
MAX_BOOTS = 100_000


def cmd_fleet(options: argparse.Namespace, out: TextIO, conf: cfg.ConfigOpts) -> int:
    """Run the command; 0 when every guest was placed, 1 when some were not.

    :raises InvalidRequest: the extra ``os-numa[placement]`` is not installed.
    """
    if placement_client.MISSING_EXTRA is not None:
        raise exception.InvalidRequest(reason=placement_client.MISSING_EXTRA)
    flavors = _flavors(options.flavor)
    boots = _bounded(
        options.boots if options.boots is not None else len(flavors) * 4, "--boots", MAX_BOOTS
    )
    topologies = list(_hosts(options, conf))
    with _client(options, conf) as client:
        hosts = fleet.register_fleet(client, topologies, conf, model=options.model)
        scheduler = Scheduler(client, hosts, conf, model=options.model)
        try:
            result = fleet.place_sequence(scheduler, fleet.mixed_sequence(boots, flavors))
        finally:
            if options.cleanup:
                _cleanup(client, scheduler)
    if options.format == "json":
        out.write(render_json.dumps(schema.stamp(schema.FLEET, result.as_dict())) + "\n")
    else:
        out.write(_text(result))
    return EXIT_FITS if result.stats.placed == result.stats.decisions else EXIT_NO_FIT


def _flavors(items: list[str]) -> list[Flavor]:
    if not items:
        return list(fleet.MIXED_FLAVORS)
    return [specs.build_flavor([item]) for item in items]


def _bounded(value: int, option: str, upper: int) -> int:
    if not 1 <= value <= upper:
        raise exception.InvalidRequest(reason=f"{option} {value} must be from 1 to {upper}")
    return value


def _hosts(options: argparse.Namespace, conf: cfg.ConfigOpts) -> Iterator[tuple[str, Any]]:
    sets = {
        "cpu_dedicated_set": options.cpu_dedicated_set,
        "cpu_shared_set": options.cpu_shared_set,
        "conf": conf,
    }
    copies = options.hosts
    if copies is None:
        copies = 0 if options.capabilities else 10
    if copies < 0 or copies + len(options.capabilities) > MAX_HOSTS:
        raise exception.InvalidRequest(
            reason=f"--hosts {copies}: from 0 to {MAX_HOSTS} hosts in all"
        )
    if copies + len(options.capabilities) == 0:
        raise exception.InvalidRequest(reason="no hosts: give --capabilities or --hosts N")
    for index, path in enumerate(options.capabilities):
        view = hostsource.load_host(capabilities=path, **sets)
        yield f"{options.host_prefix}-caps{index:04d}", view.topology
    if copies:
        builtin = hostsource.load_host(**sets).topology
        for index in range(copies):
            yield f"{options.host_prefix}{index:04d}", builtin


@contextlib.contextmanager
def _client(options: argparse.Namespace, conf: cfg.ConfigOpts) -> Iterator[PlacementClient]:
    if options.start_placement:
        with PlacementService.start() as service:
            yield service.client()
    elif options.placement_url:
        yield PlacementClient.noauth(options.placement_url, options.token)
    else:
        yield PlacementClient.from_conf(conf)


def _cleanup(client: PlacementClient, scheduler: Scheduler) -> None:
    for host in scheduler.hosts.values():
        for provider in host.tree.providers:
            answer = client.request(
                "GET", f"/resource_providers/{provider.uuid}/allocations", missing_ok=True
            )
            for consumer in (answer or {}).get("allocations", {}):
                client.delete_allocations(consumer)
        for provider in reversed(host.tree.providers):
            client.delete_provider(provider.uuid)


def _text(result: fleet.FleetResult) -> str:
    stats = result.stats
    lines = [
        f"model {result.model}: {len(result.hosts)} hosts, {stats.decisions} guests requested, "
        f"{stats.placed} placed, {stats.decisions - stats.placed} not placed",
        f"candidates examined {stats.candidates}, rejected by the NUMA fit {stats.rejected} "
        f"({stats.rejected_share:.1%}), claim failures {stats.claim_failures}, "
        f"retries after conflicts {stats.retries}",
        f"{result.decisions_per_second:.1f} decisions/s ({result.seconds:.1f} s)",
        "guests per host:",
    ]
    per_host = result.per_host
    width = max((len(h) for h in per_host), default=0)
    lines.extend(f"  {host:<{width}}  {count}" for host, count in per_host.items())
    failed = [d for d in result.decisions if not d.placed]
    if failed:
        lines.append("not placed:")
        lines.extend(f"  {d.instance_uuid}: {d.reason}" for d in failed[:20])
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more")
    return "\n".join(lines) + "\n"
