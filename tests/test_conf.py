"""Tests for os_numa.conf: option registration, bounds, CPU-set options, the generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from oslo_config import cfg

from os_numa import conf, exception

# Options issue 2 requires, with their default.
REQUIRED_OPTIONS = {
    ("compute", "cpu_dedicated_set"): None,
    ("compute", "cpu_shared_set"): None,
    ("libvirt", "realtime_scheduler_priority"): 1,
}


@pytest.fixture
def fresh():
    """A ConfigOpts with os-numa's options, parsed with no files and no arguments."""
    opts = cfg.ConfigOpts()
    conf.register_opts(opts)
    opts([], project="os_numa", default_config_files=[])
    yield opts
    opts.reset()


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "os_numa.conf"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("group", "name", "default"),
    [(g, n, d) for (g, n), d in REQUIRED_OPTIONS.items()],
)
def test_required_option_defaults(fresh, group, name, default):
    assert getattr(getattr(fresh, group), name) == default


def test_register_opts_is_idempotent():
    opts = cfg.ConfigOpts()
    conf.register_opts(opts)
    conf.register_opts(opts)
    opts([], project="os_numa", default_config_files=[])
    assert opts.libvirt.realtime_scheduler_priority == 1
    assert opts.compute.cpu_shared_set is None


def test_register_opts_keeps_an_option_another_project_registered():
    """Nova registers [compute] cpu_shared_set with its own help text first."""
    opts = cfg.ConfigOpts()
    theirs = cfg.StrOpt("cpu_shared_set", help="Nova's own help text.")
    opts.register_opt(theirs, group="compute")
    conf.register_opts(opts)
    opts([], project="nova", default_config_files=[])
    opts.set_override("cpu_shared_set", "0-1", group="compute")
    assert opts.compute.cpu_shared_set == "0-1"
    assert opts._get_opt_info("cpu_shared_set", "compute")["opt"] is theirs
    # Ours are registered beside it.
    assert opts.compute.cpu_dedicated_set is None
    assert opts.libvirt.realtime_scheduler_priority == 1


def test_register_opts_on_the_global_conf_is_idempotent():
    conf.register_opts(cfg.CONF)
    assert "realtime_scheduler_priority" in cfg.CONF.libvirt


def test_list_opts_covers_every_registered_option(fresh):
    listed = {(group.name, opt.name): opt for group, opts in conf.list_opts() for opt in opts}
    assert set(REQUIRED_OPTIONS) <= set(listed)
    for group, name in listed:
        assert name in (fresh if group == "DEFAULT" else getattr(fresh, group))


def test_every_listed_option_has_help_and_every_group_a_title():
    for group, opts in conf.list_opts():
        assert isinstance(group, cfg.OptGroup)
        assert group.help
        for opt in opts:
            assert len(opt.help) > 20, f"[{group.name}] {opt.name} needs real help text"


def test_list_opts_returns_copies():
    first = conf.list_opts()
    first[0][1].clear()
    assert conf.list_opts()[0][1], "list_opts must not hand out the module's own lists"


@pytest.mark.parametrize("priority", [1, 50, 99])
def test_realtime_priority_accepts_1_to_99(tmp_path, priority):
    path = write_config(tmp_path, f"[libvirt]\nrealtime_scheduler_priority = {priority}\n")
    opts = conf.make_conf(["--config-file", path])
    assert opts.libvirt.realtime_scheduler_priority == priority


@pytest.mark.parametrize("priority", ["0", "100", "-1", "high"])
def test_realtime_priority_out_of_range_in_a_file_is_refused(tmp_path, priority):
    path = write_config(tmp_path, f"[libvirt]\nrealtime_scheduler_priority = {priority}\n")
    opts = conf.make_conf(["--config-file", path])
    with pytest.raises(cfg.ConfigFileValueError):
        opts.libvirt.realtime_scheduler_priority  # noqa: B018 (the read validates)


@pytest.mark.parametrize("priority", [0, 100])
def test_realtime_priority_out_of_range_override_is_refused(fresh, priority):
    with pytest.raises(ValueError):
        fresh.set_override("realtime_scheduler_priority", priority, group="libvirt")


def test_make_conf_applies_overrides():
    opts = conf.make_conf(
        **{"compute.cpu_shared_set": "0-1", "libvirt.realtime_scheduler_priority": 10}
    )
    assert opts.compute.cpu_shared_set == "0-1"
    assert opts.libvirt.realtime_scheduler_priority == 10


def test_make_conf_reads_a_config_file(tmp_path):
    path = write_config(tmp_path, "[compute]\ncpu_dedicated_set = 4-7,^5\n")
    opts = conf.make_conf(["--config-file", path])
    assert conf.parse_cpu_set_option(opts, "compute", "cpu_dedicated_set") == {4, 6, 7}


def test_make_conf_instances_are_independent():
    first = conf.make_conf(**{"compute.cpu_shared_set": "0"})
    second = conf.make_conf()
    assert first.compute.cpu_shared_set == "0"
    assert second.compute.cpu_shared_set is None


PARSE_OK = {
    "unset": (None, None),
    "range": ("0-3", {0, 1, 2, 3}),
    "exclusion": ("0-3,^1", {0, 2, 3}),
    "whitespace": (" 2 , 4 ", {2, 4}),
}


@pytest.mark.parametrize(("value", "expected"), PARSE_OK.values(), ids=PARSE_OK.keys())
def test_parse_cpu_set_option(fresh, value, expected):
    fresh.set_override("cpu_shared_set", value, group="compute")
    assert conf.parse_cpu_set_option(fresh, "compute", "cpu_shared_set") == expected


PARSE_BAD = {
    "letters": ("x", "invalid inclusion expression 'x'"),
    "reversed range": ("3-1", "start 3 > end 1"),
    "beyond the id bound": ("0-70000", "out of range"),
    "empty string": ("", "names no CPUs"),
    "everything excluded": ("1,^1", "names no CPUs"),
}


@pytest.mark.parametrize(("value", "fragment"), PARSE_BAD.values(), ids=PARSE_BAD.keys())
def test_parse_cpu_set_option_errors(fresh, value, fragment):
    fresh.set_override("cpu_dedicated_set", value, group="compute")
    with pytest.raises(exception.InvalidConfiguration) as info:
        conf.parse_cpu_set_option(fresh, "compute", "cpu_dedicated_set")
    message = str(info.value)
    assert "[compute] cpu_dedicated_set" in message
    assert fragment in message


def test_parse_cpu_set_option_keeps_the_cpu_spec_error_as_cause(fresh):
    fresh.set_override("cpu_dedicated_set", "a-b", group="compute")
    with pytest.raises(exception.InvalidConfiguration) as info:
        conf.parse_cpu_set_option(fresh, "compute", "cpu_dedicated_set")
    assert isinstance(info.value.__cause__, exception.InvalidCPUSpec)


def run_config_generator() -> subprocess.CompletedProcess:
    """``oslo-config-generator --namespace os_numa`` from this interpreter's environment."""
    generator = Path(sys.executable).parent / "oslo-config-generator"
    return subprocess.run(
        [str(generator), "--namespace", "os_numa"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_oslo_config_generator_prints_the_options():
    result = run_config_generator()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for section in ("[compute]", "[libvirt]"):
        assert section in out
    assert "#cpu_dedicated_set = <None>" in out
    assert "#cpu_shared_set = <None>" in out
    assert "#realtime_scheduler_priority = 1" in out
    assert "# Minimum value: 1" in out
    assert "# Maximum value: 99" in out
    # The sections are in the right place: the option follows its own header.
    assert out.index("[libvirt]") < out.index("#realtime_scheduler_priority")
    assert out.index("[compute]") < out.index("#cpu_dedicated_set") < out.index("[libvirt]")
