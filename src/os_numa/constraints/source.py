"""Reading a flavor and an image the way every constraint helper needs them.

The helpers accept os-numa's own :class:`~os_numa.objects.Flavor` and
:class:`~os_numa.objects.ImageMeta`, Nova's objects of the same names (duck
typing: ``flavor.vcpus``, ``flavor.memory_mb``, ``flavor.extra_specs``,
``image_meta.properties.get(name)``), plain mappings of the same shape, and
``image_meta=None`` for "no image properties". This module turns all of them
into one read-only view and bounds the sizes a user controls *before* anything
is allocated from them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from oslo_utils import strutils

from os_numa import cpuset, exception
from os_numa.objects import image_meta as image_meta_obj

#: Most vCPUs a flavor may have (QEMU's x86 limit); bounds ``set(range(vcpus))``.
MAX_VCPUS = 4096
#: Most guest NUMA nodes: Nova reads ``hw:numa_cpus.N`` for N below this.
MAX_NUMA_NODES = image_meta_obj.MAX_NUMA_NODES
#: Longest integer literal accepted in an extra spec, in digits.
_MAX_INT_DIGITS = 18
#: ``resources[N]:<CLASS>`` and ``resources_<name>:<CLASS>``: an amount of a resource
#: class in the unnumbered, a numbered or a named request group (group 1: the class).
RESOURCE_KEY = re.compile(r"resources(?:[1-9][0-9]*|_[A-Za-z0-9_-]{1,64})?:([A-Z0-9_]+)")
#: ``trait[N]:<NAME>`` and ``trait_<name>:<NAME>`` in any request group (group 1: the trait).
TRAIT_KEY = re.compile(r"trait(?:[1-9][0-9]*|_[A-Za-z0-9_-]{1,64})?:([A-Z0-9_]+)")


class Properties(Protocol):
    """What os-numa needs from image properties: Nova's ``ImageMetaProps.get``."""

    def get(self, name: str, default: Any = None) -> Any: ...


class _NoProperties:
    def get(self, name: str, default: Any = None) -> Any:
        return default


NO_PROPERTIES: Properties = _NoProperties()


@dataclass(frozen=True)
class FlavorView:
    """A validated, read-only copy of what os-numa reads from a flavor."""

    vcpus: int
    memory_mb: int
    extra_specs: Mapping[str, str]

    def spec(self, key: str) -> str | None:
        """The extra spec ``key``, or None when it is unset."""
        return self.extra_specs.get(key)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    # A versioned object (Nova's Flavor) raises, not AttributeError, for an unset field.
    is_set = getattr(obj, "obj_attr_is_set", None)
    if is_set is not None and name in getattr(obj, "fields", ()) and not is_set(name):
        return None
    return getattr(obj, name, None)


def _positive_int(value: Any, what: str, upper: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.InvalidFlavor(reason=f"{what}={value!r} is not an integer")
    if value < 1 or (upper is not None and value > upper):
        bound = f"1..{upper}" if upper is not None else "at least 1"
        raise exception.InvalidFlavor(reason=f"{what}={value} is out of range {bound}")
    return value


def flavor_view(flavor: Any) -> FlavorView:
    """Validate and copy a flavor (os-numa's, Nova's, or a mapping).

    :raises InvalidFlavor: ``vcpus`` is not an integer in 1..:data:`MAX_VCPUS`,
        ``memory_mb`` is not a positive integer, or ``extra_specs`` is not a mapping.
    """
    if isinstance(flavor, FlavorView):
        return flavor
    if flavor is None:
        raise exception.InvalidFlavor(reason="no flavor was given")
    vcpus = _positive_int(_field(flavor, "vcpus"), "vcpus", MAX_VCPUS)
    memory_mb = _positive_int(_field(flavor, "memory_mb"), "memory_mb", None)
    specs = _field(flavor, "extra_specs")
    if specs is None:
        specs = {}
    if not isinstance(specs, Mapping):
        raise exception.InvalidFlavor(reason=f"extra_specs must be a mapping, not {specs!r}")
    copied = {str(k): v if isinstance(v, str) else str(v) for k, v in specs.items()}
    return FlavorView(vcpus, memory_mb, MappingProxyType(copied))


@dataclass(frozen=True)
class ImageView:
    """Image properties already read once; every helper accepts it as ``image_meta``."""

    properties: Properties


def image_view(image_meta: Any) -> ImageView:
    """Read an image's properties once into an :class:`ImageView`.

    ``None`` means no properties; a mapping is read as Glance's
    ``{'properties': {...}}`` through :meth:`ImageMeta.from_dict`; anything
    else must have ``properties.get(name, default)`` like Nova's ``ImageMeta``.

    :raises Invalid: a mapping holds a property of the wrong type.
    """
    if isinstance(image_meta, ImageView):
        return image_meta
    if image_meta is None:
        return ImageView(NO_PROPERTIES)
    if isinstance(image_meta, Mapping):
        return ImageView(image_meta_obj.ImageMeta.from_dict(image_meta).properties)
    is_set = getattr(image_meta, "obj_attr_is_set", None)
    if is_set is not None and not is_set("properties"):
        # A versioned ImageMeta whose properties were never set.
        return ImageView(NO_PROPERTIES)
    props = getattr(image_meta, "properties", None)
    if props is None:
        return ImageView(NO_PROPERTIES)
    if not isinstance(props, image_meta_obj.ImageMetaProps) and hasattr(props, "fields"):
        # Another project's versioned properties (Nova's ImageMetaProps) raise for a
        # name they do not define; os-numa reads properties Nova lacks.
        return ImageView(_KnownFieldsOnly(props))
    return ImageView(props)


class _KnownFieldsOnly:
    """``get`` on versioned properties that answers ``default`` for undefined names."""

    __slots__ = ("_props",)

    def __init__(self, props: Any):
        self._props = props

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self._props.fields:
            return default
        return self._props.get(name, default)


def image_properties(image_meta: Any) -> Properties:
    """The image's properties as something with ``get(name, default)``."""
    return image_view(image_meta).properties


def flavor_image_values(name: str, flavor: FlavorView, props: Properties) -> tuple[str | None, Any]:
    """``hw:<name>`` from the flavor and ``hw_<name>`` from the image (None when unset)."""
    return flavor.spec(f"hw:{name}"), props.get(f"hw_{name}")


def image_mask_first(name: str, flavor: FlavorView, props: Properties) -> tuple[str | None, str]:
    """A vCPU mask (``hw_<name>`` / ``hw:<name>``) and where it came from, for messages.

    The image's mask wins over the flavor's: the image knows its workload's
    (realtime or housekeeping) vCPUs best. An empty mask counts as unset.
    """
    flavor_mask, image_mask = flavor_image_values(name, flavor, props)
    if image_mask:
        return image_mask, f"image property hw_{name}"
    return flavor_mask or None, f"hw:{name}"


def parse_bool(key: str, value: Any) -> bool:
    """Parse a boolean extra spec strictly (oslo's true/false strings).

    :raises InvalidExtraSpecValue: naming ``key`` and the accepted strings.
    """
    if isinstance(value, bool):
        return value
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        valid = ", ".join(strutils.TRUE_STRINGS + strutils.FALSE_STRINGS)
        raise exception.InvalidExtraSpecValue(
            key=key, value=value, reason=f"expected a boolean: one of {valid}"
        ) from None


def parse_int(value: Any) -> int | None:
    """A non-negative integer from an int or a string of ASCII digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MAX_INT_DIGITS:
            return int(text)
    return None


def parse_vcpu_mask(mask: str, vcpus: int) -> set[int]:
    """Parse a guest vCPU mask as Nova does for the realtime and dedicated masks.

    A mask whose first non-blank character is ``^`` starts from every vCPU
    (``0..vcpus-1``) and removes the exclusions (``^0`` -> all but vCPU 0);
    any other mask is the literal set (``1-2`` -> {1, 2}, ``0-2,^0`` -> {1, 2}).
    The result may name vCPUs outside the flavor: callers check that.

    :raises InvalidCPUSpec: the mask is not a CPU spec.
    """
    if mask.strip().startswith("^"):
        return cpuset.parse_cpu_spec(f"0-{vcpus - 1},{mask}")
    return cpuset.parse_cpu_spec(mask)


def indexed_specs(flavor: FlavorView, prefix: str) -> list[str] | None:
    """``<prefix>.0``, ``<prefix>.1``, ... from the flavor, in index order.

    Unlike Nova, which stops silently at the first gap, a key outside a
    contiguous run from 0 is an error: it would otherwise be ignored unseen.

    :raises ImageNUMATopologyIncomplete: a non-integer index, an index of
        :data:`MAX_NUMA_NODES` or more, or a gap.
    """
    pattern = re.compile(re.escape(prefix) + r"\.(.*)")
    found: dict[int, str] = {}
    for key, value in flavor.extra_specs.items():
        match = pattern.fullmatch(key)
        if not match:
            continue
        index = parse_int(match.group(1))
        if index is None or str(index) != match.group(1) or index >= MAX_NUMA_NODES:
            raise exception.ImageNUMATopologyIncomplete(
                reason=f"{key}: the node index must be an integer in 0..{MAX_NUMA_NODES - 1}"
            )
        found[index] = value
    if not found:
        return None
    missing = sorted(set(range(max(found) + 1)) - set(found))
    if missing:
        raise exception.ImageNUMATopologyIncomplete(
            reason=(
                f"{prefix}.{max(found)} is set but {prefix}.{missing[0]} is missing; "
                f"set one key per guest node, numbered from 0"
            )
        )
    return [found[i] for i in range(len(found))]


def explicit_resources(
    flavor: FlavorView, classes: Collection[str] | None = None
) -> dict[str, int]:
    """The amount per resource class the ``resources*:`` extra specs ask for, every
    request group summed; only ``classes`` when given (their keys alone are checked).

    :raises InvalidExtraSpecValue: an amount is not a non-negative integer.
    """
    totals: dict[str, int] = {}
    for key, value in sorted(flavor.extra_specs.items()):
        match = RESOURCE_KEY.fullmatch(key)
        if not match or (classes is not None and match.group(1) not in classes):
            continue
        amount = parse_int(value)
        if amount is None:
            raise exception.InvalidExtraSpecValue(
                key=key, value=value, reason="a resource amount must be a non-negative integer"
            )
        totals[match.group(1)] = totals.get(match.group(1), 0) + amount
    return totals
