"""Configuration options (oslo.config).

``register_opts(conf)`` adds every os-numa option to a ``ConfigOpts``;
``list_opts()`` feeds ``oslo-config-generator --namespace os_numa``. The
``[compute]`` and ``[libvirt]`` options keep Nova's names and meaning, so a
Nova deployment's configuration file works unchanged; options Nova does not
have live in our own ``[os_numa]`` group.
"""

from __future__ import annotations

from oslo_config import cfg, types

from os_numa import cpuset, exception


class _NovaTwin:
    """An option Nova defines too, under the same group and name, with the same meaning.

    oslo.config refuses a second registration of an option unless the two are equal
    attribute for attribute (help text included), so ``import os_numa.conf`` before
    ``import nova.conf`` used to raise ``DuplicateOptError``. A twin equals any option of
    the same name, destination, value type, default and multiplicity: Nova's
    registration then finds "the same option" already there and both read one value.
    (Nova first is the other way round: :func:`register_opts` keeps Nova's.)
    """

    def _twin_key(self, other) -> tuple | None:
        if not isinstance(other, cfg.Opt):
            return None
        return (other.name, other.dest, type(other.type), other.default, other.multi)

    def __eq__(self, other):
        key = self._twin_key(other)
        return NotImplemented if key is None else key == self._twin_key(self)

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = object.__hash__  # identity, as oslo.config's own options


class _TwinStrOpt(_NovaTwin, cfg.StrOpt):
    """A string option Nova defines too (see :class:`_NovaTwin`)."""


class _TwinBoolOpt(_NovaTwin, cfg.BoolOpt):
    """A boolean option Nova defines too (see :class:`_NovaTwin`)."""


class _TwinIntOpt(_NovaTwin, cfg.IntOpt):
    """An integer option Nova defines too (see :class:`_NovaTwin`)."""


class _TwinMultiStrOpt(_NovaTwin, cfg.MultiStrOpt):
    """A multi-valued string option Nova defines too (see :class:`_NovaTwin`)."""


class _TwinMultiOpt(_NovaTwin, cfg.MultiOpt):
    """A multi-valued option Nova defines too (see :class:`_NovaTwin`)."""


class _TwinListOpt(_NovaTwin, cfg.ListOpt):
    """A list option Nova defines too (see :class:`_NovaTwin`)."""


compute_group = cfg.OptGroup(
    "compute", title="Compute host CPU sets", help="Which host CPUs guests may use."
)
libvirt_group = cfg.OptGroup(
    "libvirt", title="libvirt driver", help="Options of the libvirt guest XML builder."
)
os_numa_group = cfg.OptGroup(
    "os_numa",
    title="os-numa placement",
    help="Placement options that Nova does not have.",
)

compute_opts = [
    _TwinStrOpt(
        "cpu_dedicated_set",
        help=(
            "Host CPUs that guests with pinned vCPUs (hw:cpu_policy=dedicated or mixed) "
            "may be pinned to, as a CPU spec such as '4-15,^8'. These are the PCPU "
            "inventory of the host and become NUMACell.pcpuset. Must not overlap "
            "cpu_shared_set. Unset: every online CPU may be pinned."
        ),
    ),
    _TwinStrOpt(
        "cpu_shared_set",
        help=(
            "Host CPUs that floating vCPUs run on, as a CPU spec such as '0-3'. These "
            "are the VCPU inventory of the host and become NUMACell.cpuset. They are "
            "also where emulator threads run for guests with "
            "hw:emulator_threads_policy=share. Must not overlap cpu_dedicated_set."
        ),
    ),
    _TwinBoolOpt(
        "packing_host_numa_cells_allocation_strategy",
        default=False,
        help=(
            "Order host NUMA cells for a fit: True packs guests onto the most used "
            "cells first, False (the default, as in Nova) spreads them over the "
            "least used cells."
        ),
    ),
]

libvirt_opts = [
    _TwinBoolOpt(
        "cpu_power_management",
        default=False,
        help=(
            "Power down the idle pCPUs of [compute] cpu_dedicated_set and power them up "
            "before a guest is pinned to them (os_numa.virt.libvirt.power). False (the "
            "default): os-numa never touches CPU power, on any host."
        ),
    ),
    _TwinStrOpt(
        "cpu_power_management_strategy",
        default="cpu_state",
        choices=[
            ("cpu_state", "take idle pCPUs offline (CPU 0 is never taken offline)"),
            ("governor", "set idle pCPUs to cpu_power_governor_low"),
        ],
        help="How cpu_power_management powers a pCPU down.",
    ),
    _TwinStrOpt(
        "cpu_power_governor_low",
        default="powersave",
        help="The cpufreq governor of an idle pCPU with the 'governor' strategy.",
    ),
    _TwinStrOpt(
        "cpu_power_governor_high",
        default="performance",
        help="The cpufreq governor of a pinned pCPU with the 'governor' strategy.",
    ),
    _TwinIntOpt(
        "realtime_scheduler_priority",
        default=1,
        min=1,
        max=99,
        help=(
            "The SCHED_FIFO priority given to realtime vCPUs "
            "(<vcpusched scheduler='fifo' priority=N>). A flavor may override it "
            "with hw:cpu_realtime_priority."
        ),
    ),
]

os_numa_opts: list[cfg.Opt] = [
    cfg.StrOpt(
        "sysfs_root",
        default="/sys",
        help=(
            "Where CPU power management reads and writes devices/system/cpu/cpuN/online "
            "and cpufreq/scaling_governor. Tests point it at a fake tree "
            "(os_numa.testing.sysfs); only [libvirt] cpu_power_management makes "
            "os-numa write there."
        ),
    ),
    cfg.StrOpt(
        "emulator_share_locality",
        default="numa",
        choices=[
            (
                "numa",
                "the shared CPUs of the host cells the guest occupies (all of "
                "cpu_shared_set when those cells have none)",
            ),
            ("host", "all of cpu_shared_set, on every host cell (Nova's behaviour)"),
        ],
        help=(
            "Where hw:emulator_threads_policy=share puts the emulator threads and the "
            "I/O thread when [compute] cpu_shared_set is set. 'numa' keeps them on the "
            "shared CPUs of the guest's own NUMA cells, so they do not reach across "
            "nodes for the guest's memory."
        ),
    ),
    cfg.StrOpt(
        "emulator_pin_set",
        help=(
            "Host CPUs reserved for the emulator threads of guests with "
            "hw:emulator_threads_policy=pool, as a CPU spec such as '0,20'. They are "
            "neither pinnable nor shared: the set must not overlap [compute] "
            "cpu_dedicated_set or cpu_shared_set (and is taken out of both when "
            "neither is set). Unset: no pool, and 'pool' guests fit nowhere."
        ),
    ),
    cfg.IntOpt(
        "emulator_pool_overcommit",
        default=1,
        min=1,
        help=(
            "How many guests' emulator threads may share one pCPU of "
            "emulator_pin_set. The pool holds (its pCPUs x this) guests."
        ),
    ),
]

neutron_group = cfg.OptGroup(
    "neutron",
    title="Neutron networks",
    help="Which physical networks reach this host (Nova's [neutron] group).",
)

#: Nova's [neutron] physnets: the same name, type and default.
neutron_opts: list[cfg.Opt] = [
    _TwinListOpt(
        "physnets",
        default=[],
        help=(
            "Neutron physical networks present on this host. For each NAME listed, "
            "[neutron_physnet_NAME] numa_nodes names the host NUMA cells its NICs are "
            "local to; a guest with a port on NAME then gets at least one guest cell on "
            "one of them. [neutron_tunnel] numa_nodes does the same for tunneled "
            "(VXLAN, GRE) networks. A physnet not listed has no NUMA affinity."
        ),
    ),
]


def numa_nodes_opt() -> cfg.ListOpt:
    """``numa_nodes`` of ``[neutron_physnet_NAME]`` and ``[neutron_tunnel]``, defined as
    Nova defines it (no help text), so both projects may register it in one process."""
    return cfg.ListOpt("numa_nodes", default=[], item_type=types.Integer())


def register_network_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``[neutron_tunnel] numa_nodes`` and ``[neutron_physnet_NAME] numa_nodes``
    for every NAME of ``[neutron] physnets`` (call after the configuration is loaded,
    as Nova's ``register_dynamic_opts``; idempotent)."""
    groups = ["neutron_tunnel"] + [f"neutron_physnet_{name}" for name in conf.neutron.physnets]
    for group in groups:
        try:
            conf.register_opt(numa_nodes_opt(), group=group)
        except cfg.DuplicateOptError:
            continue


default_group = cfg.OptGroup(
    "DEFAULT",
    title="Nova's [DEFAULT] options",
    help="Options Nova registers without a group; os-numa reads the same ones.",
)

pci_group = cfg.OptGroup(
    "pci", title="PCI passthrough", help="Aliases that flavors use to request host PCI devices."
)

pci_opts = [
    _TwinMultiStrOpt(
        "alias",
        default=[],
        # Nova reads the pre-Newton [DEFAULT] pci_alias too.
        deprecated_name="pci_alias",
        deprecated_group="DEFAULT",
        help=(
            "A PCI device alias that flavors request with "
            "pci_passthrough:alias=NAME:COUNT, as a JSON object (one option per alias), "
            'e.g. {"name": "nic1", "vendor_id": "8086", "product_id": "154c", '
            '"device_type": "type-VF", "numa_policy": "required"}. vendor_id and '
            "product_id are 4 hex digits; device_type is type-PCI, type-PF or type-VF "
            "(unset: any but type-PF, as in Nova); numa_policy is required, preferred, "
            "legacy (the default) or "
            "socket. An alias name may be defined again for another vendor/product pair "
            "with the same device_type and numa_policy."
        ),
    ),
]


#: [os_numa] options of the guest XML (os_numa.virt.libvirt.driver), issue 15.
os_numa_guest_opts: list[cfg.Opt] = [
    cfg.StrOpt(
        "guest_cpu_topology",
        default="requested",
        choices=[
            (
                "requested",
                "write <cpu><topology> when the flavor or image sets hw:cpu_sockets, "
                "hw:cpu_cores, hw:cpu_threads or a hw:cpu_max_* limit, or the guest uses "
                "hw:cpu_thread_policy=require",
            ),
            ("always", "write it for every guest, as Nova does"),
        ],
        help=(
            "When the guest XML carries a <cpu><topology> (sockets, cores, threads). "
            "The topology follows Nova's rules, keeps each guest core inside one guest "
            "NUMA node, and under hw:cpu_thread_policy=require makes the guest's threads "
            "of one core SMT siblings on the host."
        ),
    ),
]

#: [DEFAULT] options Nova owns (nova/conf/compute.py registers them in [DEFAULT]):
#: the same name, type, default and bounds, so a Nova process reads one value.
default_opts: list[cfg.Opt] = [
    _TwinMultiOpt(
        "reserved_huge_pages",
        item_type=types.Dict(),
        help=(
            "Huge pages of a host NUMA cell that guests may never use (OVS-DPDK, the "
            "host), one value per cell and page size: node:0,size:2048,count:512 "
            "(size in KiB, or with a unit: 2MB, 1GB). The fit leaves them out of the "
            "free pages. A cell or size the host lacks, or more pages than the cell "
            "has, is an error."
        ),
    ),
    _TwinIntOpt(
        "reserved_host_memory_mb",
        default=512,
        min=0,
        help=(
            "Host memory (MiB) kept for host processes, reported as reserved to the "
            "scheduler. os-numa's NUMA fit ignores it, as Nova's does, unless [os_numa] "
            "reserved_host_memory_spread is True."
        ),
    ),
]

#: [os_numa] options of reserved host memory per NUMA cell (issue 15).
os_numa_reserved_opts: list[cfg.Opt] = [
    cfg.MultiOpt(
        "reserved_host_memory_per_cell",
        item_type=types.Dict(),
        help=(
            "Host memory (MiB) to keep out of one host NUMA cell, one value per cell: "
            "node:0,memory_mb:2048. The cell's memory shrinks by that much and the "
            "smallest pages backing it are reserved, so pinned guests never get it. "
            "Cannot be combined with reserved_host_memory_spread."
        ),
    ),
    cfg.BoolOpt(
        "reserved_host_memory_spread",
        default=False,
        help=(
            "Split [DEFAULT] reserved_host_memory_mb evenly over the host NUMA cells "
            "(lowest cell ids take the remainder) and keep each share out of its cell, "
            "as reserved_host_memory_per_cell does. False (the default, as in Nova): "
            "the NUMA fit sees every cell's whole memory."
        ),
    ),
]

#: [os_numa] options of the fit (os_numa.fit).
os_numa_fit_opts: list[cfg.Opt] = [
    cfg.BoolOpt(
        "align_cpus_by_cache",
        default=False,
        help=(
            "Keep each guest cell's pinned vCPUs (and emulator pCPUs) inside as few "
            "last-level cache banks as possible (libvirt's <cache><bank> of the "
            "capabilities), like Kubernetes' prefer-align-cpus-by-uncorecache: one bank "
            "when one can hold them, the fullest bank that still fits first. False (the "
            "default, as in Nova): lowest-numbered free pCPUs, whatever the banks."
        ),
    ),
    cfg.BoolOpt(
        "prefer_closest_numa_cells",
        default=False,
        help=(
            "For a guest with several NUMA cells, choose the set of host cells with the "
            "smallest NUMA distance between them (libvirt's distance matrix) among those "
            "that fit, like Kubernetes' prefer-closest-numa-nodes; ties keep the usual "
            "order. False (the default, as in Nova): the first fit in pack/spread order, "
            "whatever the distances."
        ),
    ),
    cfg.BoolOpt(
        "emulator_threads_smt_aware",
        default=True,
        help=(
            "With hw:emulator_threads_policy=isolate on an SMT host, never reserve the "
            "emulator pCPU on an SMT sibling of a realtime vCPU's pCPU (a busy emulator "
            "thread on the same core delays the realtime vCPU), and prefer a free thread "
            "of a core that is already partly used, which keeps whole cores free for "
            "later guests. False restores Nova's choice: the first free pCPU after the "
            "guest's pins, whatever its core (Nova bug 1746393)."
        ),
    ),
]


placement_group = cfg.OptGroup(
    "placement",
    title="OpenStack Placement",
    help=(
        "Where os_numa.placement finds the Placement service and what it reports there. "
        "Keystone authentication uses keystoneauth1's options in this same group "
        "(auth_type, auth_url, username, ...), as Nova's [placement] does."
    ),
)

placement_opts: list[cfg.Opt] = [
    cfg.URIOpt(
        "endpoint",
        schemes=["http", "https"],
        help=(
            "The Placement API's URL, e.g. http://127.0.0.1:8778. With "
            "auth_strategy=keystone and no endpoint, the URL comes from the Keystone "
            "service catalog (service type 'placement')."
        ),
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=[
            ("keystone", "a keystoneauth1 session built from this group's auth options"),
            ("noauth2", "no Keystone: the X-Auth-Token header carries noauth_token"),
        ],
        help="How os-numa authenticates to Placement.",
    ),
    cfg.StrOpt(
        "noauth_token",
        default="admin",
        secret=True,
        help="The X-Auth-Token sent with auth_strategy=noauth2 ('admin', or 'user:project').",
    ),
    cfg.FloatOpt(
        "cpu_allocation_ratio",
        default=4.0,
        min=0.0,
        help="VCPU allocation ratio of every NUMA cell provider (Nova's cpu_allocation_ratio).",
    ),
    cfg.FloatOpt(
        "ram_allocation_ratio",
        default=1.0,
        min=0.0,
        help="MEMORY_MB allocation ratio of every NUMA cell provider (Nova's option of that name).",
    ),
    cfg.IntOpt(
        "reserved_host_cpus",
        default=0,
        min=0,
        help="VCPUs reserved for the host, taken from NUMA cell 0's VCPU inventory.",
    ),
    cfg.IntOpt(
        "max_candidates",
        default=1000,
        min=1,
        help="The limit of GET /allocation_candidates (Nova's max_placement_results).",
    ),
    cfg.IntOpt(
        "claim_retries",
        default=3,
        min=0,
        help="How often a scheduler asks for fresh candidates after losing a race (409).",
    ),
]


def _all_groups():
    return [
        (compute_group, compute_opts),
        (libvirt_group, libvirt_opts),
        (default_group, default_opts),
        (
            os_numa_group,
            os_numa_opts + os_numa_fit_opts + os_numa_guest_opts + os_numa_reserved_opts,
        ),
        (pci_group, pci_opts),
        (placement_group, placement_opts),
        (neutron_group, neutron_opts),
    ]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every os-numa option group on ``conf`` (idempotent).

    An option another project already registered under the same group and name
    (Nova's ``[compute] cpu_dedicated_set`` on ``nova.conf.CONF``, say) is kept
    as it is: the names are Nova's on purpose and mean the same thing, and
    oslo.config would otherwise refuse ours because the help texts differ.
    """
    for group, opts in _all_groups():
        # oslo.config keeps a group's overrides and parsed values in the OptGroup
        # it was given (a shallow copy shares them), so each ConfigOpts gets its
        # own group object: otherwise one make_conf()'s overrides leak into all.
        name = None  # the [DEFAULT] section: options without a group, as Nova's
        if group is not default_group:
            conf.register_group(cfg.OptGroup(group.name, title=group.title, help=group.help))
            name = group.name
        for opt in opts:
            try:
                conf.register_opt(opt, group=name)
            except cfg.DuplicateOptError:
                continue


def list_opts():
    """Option groups for ``oslo-config-generator --namespace os_numa``."""
    return [(group, list(opts)) for group, opts in _all_groups()]


def make_conf(args: list[str] | None = None, **overrides) -> cfg.ConfigOpts:
    """A fresh ``ConfigOpts`` with os-numa's options, for callers without one.

    ``overrides`` maps ``"group.option"`` to a value, e.g.
    ``make_conf(**{"compute.cpu_shared_set": "0-1"})``.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf(args or [], project="os_numa", default_config_files=[])
    for key, value in overrides.items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
    return conf


def parse_cpu_set_option(conf: cfg.ConfigOpts, group: str, name: str) -> set[int] | None:
    """Parse a CPU-spec option, or None when unset.

    :raises InvalidConfiguration: the spec is malformed or empty.
    """
    value = getattr(getattr(conf, group), name)
    if value is None:
        return None
    try:
        cpus = cpuset.parse_cpu_spec(value)
    except exception.InvalidCPUSpec as exc:
        raise exception.InvalidConfiguration(reason=f"[{group}] {name}: {exc}") from exc
    if not cpus:
        raise exception.InvalidConfiguration(reason=f"[{group}] {name}={value!r} names no CPUs")
    return cpus


CONF = cfg.CONF
register_opts(CONF)

__all__ = [
    "CONF",
    "list_opts",
    "make_conf",
    "parse_cpu_set_option",
    "register_network_opts",
    "register_opts",
    "types",
]
