"""Turn ``--flavor`` / ``--extra-spec`` / ``--image-property`` text into objects.

The comma rule: ``--flavor`` takes comma-separated ``KEY=VALUE`` items, and an
item without ``=`` continues the previous item's value. So
``--flavor vcpus=4,hw:cpu_realtime_mask=^0,1`` gives the mask ``^0,1``: a CPU
spec never contains ``=``, so it can always be written inline. A value that
holds both ``,`` and ``=`` goes in its own ``--extra-spec KEY=VALUE`` (or
``--image-property KEY=VALUE``), which takes everything after the first ``=``
literally. Options may be repeated; a later value for the same key wins.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from os_numa import exception
from os_numa.objects.flavor import Flavor
from os_numa.objects.image_meta import ImageMeta, ImageMetaProps

#: Flavor attributes that are not extra specs.
FLAVOR_FIELDS = ("vcpus", "memory_mb", "name")
#: Upper bounds that keep a typo (``vcpus=40000000``) from building a huge request.
MAX_VCPUS = 4096
MAX_MEMORY_MB = 64 * 1024 * 1024
#: The extra specs os-numa reads (``N`` is a guest NUMA node index); each has
#: a section in doc/source/extra-specs.rst.
READ_EXTRA_SPECS = (
    "hw:cpu_policy",
    "hw:cpu_thread_policy",
    "hw:emulator_threads_policy",
    "hw:emulator_threads_count",
    "hw:emulator_threads_mask",
    "hw:cpu_realtime",
    "hw:cpu_realtime_priority",
    "hw:cpu_realtime_mask",
    "hw:cpu_dedicated_mask",
    "hw:numa_nodes",
    "hw:numa_cpus.N",
    "hw:numa_mem.N",
    "hw:mem_page_size",
    "hw:locked_memory",
    "hw:pci_numa_affinity_policy",
    "hw:cpu_sockets",
    "hw:cpu_cores",
    "hw:cpu_threads",
    "hw:cpu_max_sockets",
    "hw:cpu_max_cores",
    "hw:cpu_max_threads",
    "hw:numa_memory_policy",
    "hw:iothreads",
    "hw:iothreads_policy",
    "pci_passthrough:alias",
)
#: Scopes of READ_EXTRA_SPECS: another key in them may be a misspelt one.
_READ_SCOPES = ("hw", "pci_passthrough")


def split_pair(item: str, option: str) -> tuple[str, str]:
    """``"KEY=VALUE"`` -> ``(KEY, VALUE)``; the value may contain ``=`` and ``,``.

    :raises InvalidRequest: no ``=`` or an empty key.
    """
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise exception.InvalidRequest(
            reason=f"{option} {item!r} is not KEY=VALUE (for example hw:cpu_policy=dedicated)"
        )
    return key, value.strip()


def split_items(text: str, option: str) -> list[tuple[str, str]]:
    """Split one ``--flavor`` argument by the comma rule in the module docstring."""
    pairs: list[tuple[str, str]] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        if "=" in raw:
            pairs.append(split_pair(raw, option))
        elif pairs:
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value},{raw.strip()}")
        else:
            raise exception.InvalidRequest(
                reason=f"{option} {text!r} must start with KEY=VALUE, not {raw.strip()!r}"
            )
    return pairs


def _positive_int(key: str, value: str, upper: int) -> int:
    # Plain ASCII digits only: int() would also take '4_096', '+4' and '٤'; and
    # few of them: int() of thousands of digits is slow, then refused.
    digits = value.isascii() and value.isdigit() and len(value) <= len(str(upper))
    number = int(value) if digits else 0
    if not 1 <= number <= upper:
        raise exception.InvalidFlavor(
            reason=f"{key}={value!r} must be an integer from 1 to {upper}"
        )
    return number


def build_flavor(flavor_args: Iterable[str], extra_spec_args: Iterable[str] = ()) -> Flavor:
    """Build a :class:`Flavor` from ``--flavor`` and ``--extra-spec`` arguments.

    ``vcpus`` and ``memory_mb`` are required; ``name`` is optional; every other
    key must look like an extra spec (``scope:name``, e.g. ``hw:cpu_policy``).

    :raises InvalidRequest: a malformed item.
    :raises InvalidFlavor: an unknown plain key, or a missing or out-of-range
        ``vcpus`` or ``memory_mb``.
    """
    values: dict[str, str] = {}
    for text in flavor_args:
        values.update(split_items(text, "--flavor"))
    for item in extra_spec_args:
        key, value = split_pair(item, "--extra-spec")
        values[key] = value
    extra_specs = {k: v for k, v in values.items() if ":" in k}
    unknown = sorted(k for k in values if ":" not in k and k not in FLAVOR_FIELDS)
    if unknown:
        raise exception.InvalidFlavor(
            reason=(
                f"unknown key(s) {', '.join(unknown)}: use vcpus, memory_mb, name "
                "or an extra spec such as hw:cpu_policy"
            )
        )
    missing = [k for k in ("vcpus", "memory_mb") if k not in values]
    if missing:
        raise exception.InvalidFlavor(
            reason=f"--flavor needs {' and '.join(missing)} (e.g. vcpus=4,memory_mb=4096)"
        )
    return Flavor(
        vcpus=_positive_int("vcpus", values["vcpus"], MAX_VCPUS),
        memory_mb=_positive_int("memory_mb", values["memory_mb"], MAX_MEMORY_MB),
        extra_specs=extra_specs,
        name=values.get("name") or None,
    )


def _image_field(key: str) -> str:
    """The ImageMetaProps field a (possibly flat ``hw_numa_cpus.0``) key sets."""
    return key.split(".", 1)[0] if key.startswith(("hw_numa_cpus.", "hw_numa_mem.")) else key


def build_image_meta(image_property_args: Iterable[str]) -> ImageMeta | None:
    """Build an :class:`ImageMeta` from ``--image-property KEY=VALUE`` arguments.

    Returns None when no property is given. Unlike Glance, unknown keys are an
    error here: on a command line they are almost always typos.

    :raises InvalidRequest: a malformed item.
    :raises InvalidImageProperty: a key os-numa does not read.
    :raises Invalid: a value of the wrong type.
    """
    props: dict[str, object] = {}
    for item in image_property_args:
        key, value = split_pair(item, "--image-property")
        name = _image_field(key)
        field = ImageMetaProps.fields.get(name)
        if field is None or name in ("hw_numa_cpus", "hw_numa_mem") and name == key:
            known = ", ".join(sorted(ImageMetaProps.fields))
            raise exception.InvalidImageProperty(
                name=key,
                value=value,
                reason=(
                    f"os-numa does not read it; known properties: {known} "
                    "(hw_numa_cpus and hw_numa_mem as hw_numa_cpus.N=...)"
                ),
            )
        props[key] = (
            [t.strip() for t in value.split(",") if t.strip()]
            if name == "traits_required"
            else value
        )
    if not props:
        return None
    return ImageMeta.from_dict({"properties": props})


def unread_extra_specs(extra_specs: Mapping[str, str]) -> list[str]:
    """One note per ``hw:``/``pci_passthrough:`` key os-numa does not read.

    Such a key is ignored, as Nova's compute ignores it, so a misspelt
    ``hw:cpu_polcy=dedicated`` silently gives a floating guest. Nova has
    other ``hw:`` keys that are not about placement (``hw:watchdog_action``),
    so these are notes, not errors; a near miss names the key it resembles.
    """
    notes = []
    for key in sorted(extra_specs):
        generic = re.sub(r"\.\d+$", ".N", key)
        if key.partition(":")[0] not in _READ_SCOPES or generic in READ_EXTRA_SPECS:
            continue
        close = difflib.get_close_matches(generic, READ_EXTRA_SPECS, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        notes.append(f"note: os-numa does not read {key}{hint}")
    return notes
