"""The CI switch in tests/conftest.py: OS_NUMA_REQUIRE_ALL=1 turns skips into failures."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


@pytest.mark.parametrize(
    ("value", "expected"), [("1", "failed"), ("", "skipped"), ("0", "skipped")]
)
def test_skip_becomes_failure_only_under_the_switch(pytester, monkeypatch, value, expected):
    monkeypatch.setenv("OS_NUMA_REQUIRE_ALL", value)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("import pytest\ndef test_a():\n    pytest.skip('no kvm here')\n")
    result = pytester.runpytest_subprocess("-p", "no:os_numa")
    outcomes = result.parseoutcomes()
    assert outcomes == {expected: 1}
    if expected == "failed":
        result.stdout.fnmatch_lines(["*skipped under OS_NUMA_REQUIRE_ALL=1*no kvm here*"])


def test_xfail_is_left_alone(pytester, monkeypatch):
    monkeypatch.setenv("OS_NUMA_REQUIRE_ALL", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        "import pytest\n@pytest.mark.xfail(reason='known')\ndef test_a():\n    assert False\n"
    )
    assert pytester.runpytest_subprocess("-p", "no:os_numa").parseoutcomes() == {"xfailed": 1}
