"""doc/source/nova.rst lists exactly the Nova tests of nova_expected_failures.txt, with reasons."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "doc" / "source"


def expected():
    pairs = set()
    for line in (DOC / "nova_expected_failures.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            test_id, reason = line.split()
            pairs.add((test_id, reason))
    return pairs


def documented():
    text = (DOC / "nova.rst").read_text()
    section = text[text.index("The tests:") : text.index("Behaviours matched to Nova")]
    pairs, reason = set(), None
    for line in section.splitlines():
        heading = re.fullmatch(r"``([a-z-]+)``", line.strip())
        item = re.fullmatch(r"\* ``(nova\.tests\.\S+)``", line.strip())
        if heading:
            reason = heading.group(1)
        elif item:
            pairs.add((item.group(1), reason))
    table = text[text.index("Differences from Nova in Nova's own tests") : text.index("The tests:")]
    reasons = set(re.findall(r"^   \* - ``([a-z-]+)``$", table, re.MULTILINE))
    return pairs, reasons


def test_every_expected_failure_is_documented_with_its_reason():
    pairs, reasons = documented()
    assert pairs == expected()
    # Every reason used has a row in the table, and every row is used.
    assert {reason for _, reason in expected()} == reasons


def test_counts_in_the_doc_match_the_list():
    text = (DOC / "nova.rst").read_text()
    suites = {
        "unit": lambda i: ".unit." in i and ".libvirt." not in i,
        "libvirt": lambda i: ".unit.virt.libvirt." in i,
        "functional": lambda i: ".functional." in i,
    }
    for suite, belongs in suites.items():
        row = re.search(
            rf"^{suite}\s+(\d+)\s+(\d+)(?: \[#\]_)?\s+(\d+)\s+(\d+)$", text, re.MULTILINE
        )
        listed = sum(1 for test_id, _ in expected() if belongs(test_id))
        assert row, suite
        assert int(row.group(4)) == listed, suite
        assert int(row.group(2)) - int(row.group(3)) == listed, suite
