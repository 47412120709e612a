"""PCI passthrough requests: ``[pci] alias`` definitions, flavor extra specs, NUMA policy.

A flavor asks for host devices with ``pci_passthrough:alias=NAME:COUNT[,NAME:COUNT...]``;
each NAME is an alias defined by the operator in ``[pci] alias`` (a JSON object
naming the vendor/product ids, the device type and a NUMA policy). The NUMA
affinity policy of every request is the flavor's ``hw:pci_numa_affinity_policy``
or the image's ``hw_pci_numa_affinity_policy`` when set, else the alias's
``numa_policy``, else ``legacy``, as in Nova.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from os_numa import conf as conf_mod
from os_numa import exception, jsonutil
from os_numa.constraints import source
from os_numa.pci.devices import DEVICE_TYPES, TYPE_PF, PciDevice

#: NUMA affinity policies (Nova's values).
REQUIRED = "required"
PREFERRED = "preferred"
LEGACY = "legacy"
SOCKET = "socket"
POLICIES = (REQUIRED, LEGACY, PREFERRED, SOCKET)
DEFAULT_POLICY = LEGACY

#: The flavor extra spec and the policy keys.
ALIAS_SPEC = "pci_passthrough:alias"
FLAVOR_POLICY_KEY = "hw:pci_numa_affinity_policy"
IMAGE_POLICY_KEY = "hw_pci_numa_affinity_policy"

#: Most devices one alias may request, and one guest in total. They bound the
#: placement search (see :mod:`os_numa.fit.device_search`) and are far above any real host's
#: passthrough capacity per guest.
MAX_COUNT_PER_ALIAS = 32
#: Longest ``[pci] alias`` value accepted (one small JSON object).
MAX_ALIAS_CHARS = 4096
MAX_TOTAL_COUNT = 64
#: Most aliases one flavor may name.
MAX_ALIASES_PER_FLAVOR = 16

# Matched with fullmatch: "$" would also accept a trailing newline.
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_ALIAS_KEYS = {"name", "vendor_id", "product_id", "device_type", "numa_policy"}


@dataclasses.dataclass(frozen=True)
class PciAlias:
    """An operator-defined alias: one or more (vendor_id, product_id) pairs.

    ``device_type`` None matches any type but an SR-IOV physical function: as
    in Nova, a whole PF (which takes its VFs with it) is given only to an
    alias that names ``type-PF``. ``numa_policy`` None means the alias
    sets none (the request then uses the flavor/image policy or ``legacy``).
    """

    name: str
    ids: tuple[tuple[str, str], ...]
    device_type: str | None = None
    numa_policy: str | None = None


@dataclasses.dataclass(frozen=True)
class PciRequest:
    """``count`` devices matching ``alias`` placed under NUMA ``policy``."""

    alias: str
    count: int
    ids: tuple[tuple[str, str], ...]
    device_type: str | None
    policy: str

    def matches(self, device: PciDevice) -> bool:
        """True when ``device`` is of this request's ids and type.

        Without a ``device_type`` a PF never matches: PFs and VFs may share a
        product id, and a guest asking for "a NIC" must not take a whole PF
        and every VF behind it (Nova filters unrequested PFs the same way).
        """
        wanted = self.device_type
        if device.dev_type != (wanted or device.dev_type) or (
            wanted is None and device.dev_type == TYPE_PF
        ):
            return False
        return (device.vendor_id, device.product_id) in self.ids


def _check_policy(policy: Any, source: str) -> str:
    if policy not in POLICIES:
        raise exception.InvalidPCINUMAAffinity(
            policy=f"{source}={policy}", available=", ".join(POLICIES)
        )
    return policy


def _shown(text: str) -> str:
    """An alias as an error message quotes it: at most 200 characters."""
    return repr(text) if len(text) <= 200 else f"{text[:200]!r}... ({len(text)} characters)"


def parse_alias(text: str) -> PciAlias:
    """Parse one ``[pci] alias`` value (a JSON object).

    :raises PciInvalidAlias: not JSON, not an object, unknown keys, or a bad
        name, id, device type or policy (the message names the key).
    """
    try:
        data = jsonutil.loads(text, max_chars=MAX_ALIAS_CHARS)
    except (TypeError, ValueError) as exc:
        raise exception.PciInvalidAlias(reason=f"{_shown(text)} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise exception.PciInvalidAlias(reason=f"{_shown(text)} is not a JSON object")
    unknown = sorted(set(data) - _ALIAS_KEYS)
    if unknown:
        raise exception.PciInvalidAlias(
            reason=f"unknown key(s) {unknown[:8]} in {_shown(text)}; valid keys: "
            f"{sorted(_ALIAS_KEYS)}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise exception.PciInvalidAlias(
            reason=f"name {name!r} must be 1-64 characters of letters, digits, '_', '.', '-'"
        )
    ids = []
    for key in ("vendor_id", "product_id"):
        value = data.get(key)
        if not isinstance(value, str) or not _HEX4.fullmatch(value):
            raise exception.PciInvalidAlias(
                reason=f"alias {name}: {key} {value!r} must be 4 hex digits such as '8086'"
            )
        ids.append(value.lower())
    device_type = data.get("device_type")
    if device_type is not None and device_type not in DEVICE_TYPES:
        raise exception.PciInvalidAlias(
            reason=f"alias {name}: device_type {device_type!r} is not one of {DEVICE_TYPES}"
        )
    policy = data.get("numa_policy")
    if policy is not None and policy not in POLICIES:
        raise exception.PciInvalidAlias(
            reason=f"alias {name}: numa_policy {policy!r} is not one of {POLICIES}"
        )
    vendor_id, product_id = ids
    return PciAlias(name, ((vendor_id, product_id),), device_type, policy)


def parse_aliases(values: Iterable[str]) -> dict[str, PciAlias]:
    """Parse every ``[pci] alias`` value; repeated names merge their id pairs.

    :raises PciInvalidAlias: a value is invalid, or a repeated name disagrees on
        ``device_type`` or ``numa_policy``.
    """
    aliases: dict[str, PciAlias] = {}
    for text in values:
        alias = parse_alias(text)
        known = aliases.get(alias.name)
        if known is None:
            aliases[alias.name] = alias
            continue
        if (known.device_type, known.numa_policy) != (alias.device_type, alias.numa_policy):
            raise exception.PciInvalidAlias(
                reason=f"alias {alias.name} is defined twice with different device_type or "
                f"numa_policy ({known.device_type}/{known.numa_policy} vs "
                f"{alias.device_type}/{alias.numa_policy})"
            )
        ids = tuple(sorted(set(known.ids) | set(alias.ids)))
        aliases[alias.name] = dataclasses.replace(known, ids=ids)
    return aliases


def aliases_from_conf(conf=None) -> dict[str, PciAlias]:
    """The aliases of ``conf`` (default: the global ``CONF``) ``[pci] alias``."""
    return parse_aliases((conf or conf_mod.CONF).pci.alias)


def get_pci_numa_policy_constraint(flavor: Any, image_meta: Any) -> str | None:
    """The guest-wide PCI NUMA policy from the flavor or image, or None when unset.

    :raises InvalidPCINUMAAffinity: a value outside :data:`POLICIES`.
    :raises ImagePCINUMAPolicyForbidden: the flavor and image disagree.
    """
    flavor_value, image_value = source.flavor_image_values(
        "pci_numa_affinity_policy",
        source.flavor_view(flavor),
        source.image_properties(image_meta),
    )
    if flavor_value is not None:
        _check_policy(flavor_value, FLAVOR_POLICY_KEY)
    if image_value is not None:
        _check_policy(image_value, IMAGE_POLICY_KEY)
    if flavor_value and image_value and flavor_value != image_value:
        raise exception.ImagePCINUMAPolicyForbidden(flavor=flavor_value, image=image_value)
    return flavor_value or image_value


def parse_alias_spec(
    spec: str, aliases: Mapping[str, PciAlias], policy: str | None = None
) -> list[PciRequest]:
    """Requests for ``spec`` (``NAME:COUNT[,NAME:COUNT...]``), in the order written.

    ``policy`` (the flavor/image policy) overrides each alias's own.

    :raises PciRequestAliasNotDefined: a NAME is not in ``aliases``.
    :raises PciRequestInvalid: malformed item, count not an integer in
        1..:data:`MAX_COUNT_PER_ALIAS`, a NAME given twice, more than
        :data:`MAX_ALIASES_PER_FLAVOR` names or :data:`MAX_TOTAL_COUNT` devices.
    """
    if policy is not None:
        _check_policy(policy, FLAVOR_POLICY_KEY)
    items = [item.strip() for item in spec.split(",")]
    if len(items) > MAX_ALIASES_PER_FLAVOR:
        raise exception.PciRequestInvalid(
            request=spec, reason=f"at most {MAX_ALIASES_PER_FLAVOR} aliases may be requested"
        )
    requests: list[PciRequest] = []
    for item in items:
        name, sep, count_text = (part.strip() for part in item.partition(":"))
        if not name or not sep:
            raise exception.PciRequestInvalid(
                request=spec, reason=f"item {item!r} is not of the form NAME:COUNT"
            )
        if not (count_text.isascii() and count_text.isdigit() and len(count_text) <= 4):
            raise exception.PciRequestInvalid(
                request=spec, reason=f"count {count_text!r} of alias {name} is not an integer"
            )
        count = int(count_text)
        if not 1 <= count <= MAX_COUNT_PER_ALIAS:
            raise exception.PciRequestInvalid(
                request=spec,
                reason=f"count {count} of alias {name} is out of range 1..{MAX_COUNT_PER_ALIAS}",
            )
        if name not in aliases:
            raise exception.PciRequestAliasNotDefined(
                alias=name, known=", ".join(sorted(aliases)) or "none"
            )
        if any(r.alias == name for r in requests):
            raise exception.PciRequestInvalid(
                request=spec, reason=f"alias {name} is named twice; give one total count"
            )
        alias = aliases[name]
        requests.append(
            PciRequest(
                alias=name,
                count=count,
                ids=alias.ids,
                device_type=alias.device_type,
                policy=policy or alias.numa_policy or DEFAULT_POLICY,
            )
        )
    total = sum(r.count for r in requests)
    if total > MAX_TOTAL_COUNT:
        raise exception.PciRequestInvalid(
            request=spec, reason=f"{total} devices requested; at most {MAX_TOTAL_COUNT}"
        )
    return requests


def get_pci_requests(
    flavor: Any, image_meta: Any = None, aliases: Mapping[str, PciAlias] | None = None
) -> list[PciRequest]:
    """The PCI requests of a flavor (and image policy); [] when the flavor asks for none.

    ``aliases`` defaults to ``[pci] alias`` of the global configuration.

    :raises PciRequestAliasNotDefined, PciRequestInvalid, InvalidPCINUMAAffinity,
        ImagePCINUMAPolicyForbidden: see :func:`parse_alias_spec` and
        :func:`get_pci_numa_policy_constraint`.
    """
    policy = get_pci_numa_policy_constraint(flavor, image_meta)
    spec = source.flavor_view(flavor).spec(ALIAS_SPEC)
    if spec is None:
        return []
    return parse_alias_spec(spec, aliases_from_conf() if aliases is None else aliases, policy)


def describe(requests: Sequence[PciRequest]) -> str:
    """``nic1:2 (required), gpu:1 (legacy)``: a one-line summary for messages."""
    return ", ".join(f"{r.alias}:{r.count} ({r.policy})" for r in requests)


__all__ = [
    "ALIAS_SPEC",
    "DEFAULT_POLICY",
    "FLAVOR_POLICY_KEY",
    "IMAGE_POLICY_KEY",
    "LEGACY",
    "MAX_COUNT_PER_ALIAS",
    "MAX_TOTAL_COUNT",
    "POLICIES",
    "PREFERRED",
    "PciAlias",
    "PciRequest",
    "REQUIRED",
    "SOCKET",
    "aliases_from_conf",
    "describe",
    "get_pci_numa_policy_constraint",
    "get_pci_requests",
    "parse_alias",
    "parse_alias_spec",
    "parse_aliases",
]
