"""What the command prints is well formed and never drives the terminal (issue 10, defect 4).

Through the console script: XML stays well formed and schema-valid whatever
the names hold, and control characters from the input reach neither standard
output nor standard error raw.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

DOMAIN_RNG = etree.RelaxNG(etree.parse("/usr/share/libvirt/schemas/domain.rng"))
NODEDEV = Path(__file__).resolve().parents[1] / "data" / "nodedev" / "pci_0000_18_00_0.xml"
DEDICATED = "vcpus=2,memory_mb=1024,hw:cpu_policy=dedicated"
#: An OSC sequence that retitles the terminal, and a bell.
RETITLE = "x\x1b]0;pwned\x07y"


def test_an_alias_with_dashes_in_the_non_fit_comment(os_numa):
    alias = '{"name": "a---b", "vendor_id": "8087", "product_id": "1572"}'
    result = os_numa(
        [
            "place",
            "--format",
            "xml",
            "--flavor",
            f"{DEDICATED},pci_passthrough:alias=a---b:1",
            "--pci-alias",
            alias,
            "--pci-devices",
            str(NODEDEV),
        ]
    )
    assert result.returncode == 1, result.stderr
    (comment,) = etree.fromstring(f"<wrapper>{result.stdout}</wrapper>")
    assert "alias a- - -b" in comment.text and "Does not fit" in comment.text


def test_a_flavor_name_with_a_newline_gives_a_valid_domain(os_numa):
    result = os_numa(["place", "--format", "xml", "--flavor", DEDICATED, "--flavor", "name=a\nb"])
    assert result.returncode == 0, result.stderr
    domain = etree.fromstring(result.stdout.encode())
    assert DOMAIN_RNG.validate(domain), DOMAIN_RNG.error_log
    assert domain.findtext("name") == "a_b"


def test_a_flavor_name_with_control_characters_in_xml(os_numa):
    result = os_numa(
        ["place", "--format", "xml", "--flavor", DEDICATED, "--flavor", f"name={RETITLE}"]
    )
    assert result.returncode == 0, result.stderr
    domain = etree.fromstring(result.stdout.encode())
    assert DOMAIN_RNG.validate(domain), DOMAIN_RNG.error_log
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_control_characters_never_reach_the_terminal_in_the_picture(os_numa):
    for color in ("never", "always"):
        result = os_numa(
            ["place", "--color", color, "--flavor", DEDICATED, "--flavor", f"name={RETITLE}"]
        )
        assert result.returncode == 0, result.stderr
        assert "\x07" not in result.stdout and "\x1b]" not in result.stdout
        assert "x\\x1b]0;pwned\\x07y" in result.stdout
        # Only the picture's own colour sequences, and only when asked for.
        escapes = result.stdout.count("\x1b[")
        assert (escapes > 0) == (color == "always")


def test_control_characters_never_reach_the_terminal_in_errors(os_numa):
    result = os_numa(["place", "--flavor", f"vcpus=2,memory_mb=1024,hw:cpu_policy={RETITLE}"])
    assert result.returncode == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "\\x1b]0;pwned\\x07y" in result.stderr and len(result.stderr.splitlines()) == 1
