"""Benchmark the element classes: write and read whole documents.

Run from the repository root: ``.venv/bin/python benchmarks/libvirt_config.py``.
Prints the median and minimum microseconds, per named guest of the driver's
examples (tests/virt/libvirt/examples.py), of ``build_guest``, ``to_xml()``
of its result and ``LibvirtConfigGuest.parse_str`` of that text, then per
sample capabilities document of ``LibvirtConfigCaps.parse_str`` and
``to_xml()``. The element classes write and read through their declared
layouts (:mod:`os_numa.virt.libvirt.config_base`).
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")  # eventlet's deprecation noise on import

from measure import timings  # noqa: E402
from tests.virt.libvirt.examples import EXAMPLES, place  # noqa: E402

from os_numa.virt.libvirt import config, driver  # noqa: E402

GUESTS = ("A3", "D1", "E2-mask-realtime", "H1-hugepages-two-cells")


def main() -> int:
    print("guest (us, median / min)       build_guest          to_xml       parse_str")
    for name in GUESTS:
        host, flavor, conf, placement = place(EXAMPLES[name])
        build = functools.partial(driver.build_guest, placement, flavor, None, host, conf)
        guest = build()
        parse = functools.partial(config.LibvirtConfigGuest.parse_str, guest.to_xml())
        figures = [timings(func, repeat=2000, unit="us") for func in (build, guest.to_xml, parse)]
        cells = "  ".join(f"{median:6.1f} / {best:6.1f}" for median, best in figures)
        print(f"  {name:26s} {cells}")
    print("capabilities (ms, median / min)      parse_str          to_xml")
    for path in sorted((ROOT / "tests" / "data" / "capabilities").glob("*.xml")):
        document = path.read_bytes()
        parse = functools.partial(config.LibvirtConfigCaps.parse_str, document)
        figures = [timings(func, repeat=50, unit="ms") for func in (parse, parse().to_xml)]
        cells = "  ".join(f"{median:6.2f} / {best:6.2f}" for median, best in figures)
        print(f"  {path.name:28s} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
