"""``os-numa completion bash|zsh``: scripts generated from the parser, loaded and
used by real shells (bash and zsh in a pseudo-terminal, as a user types)."""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from os_numa.cmd import args as cli_args
from os_numa.cmd import completion, specs
from tests.cmd.conftest import run_command

ROOT = Path(__file__).resolve().parents[2]


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed (tools/dev.sh installs it)")
    return path


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    """Each script as the documented install command writes it (``_os-numa`` for zsh)."""
    base = tmp_path_factory.mktemp("completion")
    (base / "zfunc").mkdir()
    paths = {"bash": base / "os-numa.bash", "zsh": base / "zfunc" / "_os-numa"}
    for shell, path in paths.items():
        result = run_command(["completion", shell])
        assert result.returncode == 0 and result.stderr == "", result.stderr
        path.write_text(result.stdout)
    return paths


def parser_words(parser: argparse.ArgumentParser) -> set[str]:
    words = set()
    for action in parser._actions:
        words |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words |= {name} | parser_words(sub)
    return words


def test_the_subcommand_prints_what_the_module_generates(scripts):
    assert completion.SHELLS == ("bash", "zsh")
    for shell, path in scripts.items():
        assert path.read_text() == completion.script(shell)
    with pytest.raises(ValueError, match="choose bash or zsh"):
        completion.script("fish")


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_every_subcommand_and_option_of_the_parser_is_in_the_script(scripts, shell):
    text = scripts[shell].read_text()
    missing = sorted(w for w in parser_words(cli_args.build_parser()) if w not in text)
    assert missing == []


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_the_script_is_valid_shell(scripts, shell):
    result = subprocess.run(
        [need(shell), "-n", str(scripts[shell])], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_a_new_subcommand_is_covered_without_a_change_here(monkeypatch):
    """A later subcommand (say ``rebalance``) gets its options, and the file
    completers for the options it shares with the others, from the parser alone."""
    original = cli_args.build_parser

    def with_later():
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        later = sub.add_parser("rebalance", help="move guests between cells")
        later.add_argument("--capabilities", metavar="FILE")
        later.add_argument("--hosts-file", metavar="FILE")
        later.add_argument("--strategy", choices=("pack", "spread"))
        return parser

    monkeypatch.setattr(cli_args, "build_parser", with_later)
    text = completion.script("bash")
    assert "_shtab_os_numa_rebalance_option_strings=(-h --help --capabilities" in text
    assert "_shtab_os_numa_rebalance___capabilities_COMPGEN=_os_numa_xml_files" in text
    assert "_shtab_os_numa_rebalance___hosts_file_COMPGEN=_shtab_compgen_files" in text
    assert "_shtab_os_numa_rebalance___strategy_choices=(pack spread)" in text


def test_the_keys_offered_are_the_ones_os_numa_reads():
    assert completion.flavor_keys()[:3] == ["vcpus", "memory_mb", "name"]
    assert len(completion.extra_spec_keys()) == len(specs.READ_EXTRA_SPECS)
    assert "hw:numa_cpus.0" in completion.extra_spec_keys()
    assert all(key in completion.extra_spec_keys() for key in completion.EXTRA_SPEC_VALUES)
    table = completion.values()
    assert table["hw_cpu_thread_policy"] == table["hw:cpu_thread_policy"]
    assert "hw_numa_cpus.0" in completion.image_property_keys()


# --- bash: the completion function, word by word ------------------------------------------

#: Splits a line as bash does before calling a completion function: at white space
#: and at the characters of COMP_WORDBREAKS that occur here ('=' and ':'), each run
#: of them a word of its own (enough for these unquoted lines).
SIMULATE = r"""
split_line() {
  local line=$1 w b t
  COMP_WORDS=()
  for w in $line; do
    while [[ -n $w ]]; do
      if [[ $w == [=:]* ]]; then b=${w%%[!=:]*}; COMP_WORDS+=("$b"); w=${w#"$b"}
      else t=${w%%[=:]*}; COMP_WORDS+=("$t"); w=${w#"$t"}; fi
    done
  done
  [[ $line == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$line; COMP_POINT=${#line}
}
while IFS= read -r line; do
  split_line "$line"; COMPREPLY=()
  _os_numa_complete os-numa
  printf '%s\n' "${COMPREPLY[*]}"
done
"""

SUBCOMMANDS = next(
    a for a in cli_args.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
).choices

BASH_CASES = [
    ("os-numa ", " ".join(SUBCOMMANDS)),
    ("os-numa pl", "place"),
    ("os-numa place --fo", "--format"),
    ("os-numa place --format ", "picture json xml"),
    ("os-numa host --format j", "json"),
    ("os-numa completion ", "bash zsh"),
    ("os-numa place --flavor vcp", "vcpus="),
    # After a word break bash wants the rest of the word only.
    ("os-numa place --flavor vcpus=4,hw:cpu_po", "cpu_policy="),
    ("os-numa place --flavor vcpus=4,hw:cpu_policy=", "dedicated shared mixed"),
    ("os-numa place --flavor vcpus=4,hw:cpu_thread_policy=is", "isolate"),
    ("os-numa place --flavor vcpus=4,hw:mem_page_size=", "small large any 4KB 2MB 1GB"),
    ("os-numa validate-flavor --extra-spec hw:emulator_threads_p", "emulator_threads_policy="),
    ("os-numa place --extra-spec hw:emulator_threads_policy=", "share isolate pool"),
    ("os-numa place --extra-spec vcp", ""),
    ("os-numa place --image-property hw_cpu_thread_p", "hw_cpu_thread_policy="),
    ("os-numa place --image-property hw_cpu_thread_policy=re", "require"),
    ("os-numa place --extra-spec pci_passthrough:al", "alias="),
    ("os-numa host --connect te", "test:///default"),
    ("os-numa host --connect qemu:///sy", "///system"),
    (
        "os-numa host --capabilities tests/data/capabilities/intel",
        "tests/data/capabilities/intel-2s-20c-ht.xml",
    ),
    ("os-numa host --existing tests/data/capabilities/intel", ""),
    (
        "os-numa place --flavor vcpus=1 --pci-devices tests/data/nodedev/pci_0000_18",
        "tests/data/nodedev/pci_0000_18_00_0.xml tests/data/nodedev/pci_0000_18_00_1.xml",
    ),
]


def test_bash_completes_each_word(scripts):
    script = f"source {scripts['bash']}\n{SIMULATE}"
    result = subprocess.run(
        [need("bash"), "--norc", "--noprofile", "-c", script],
        input="\n".join(line for line, _ in BASH_CASES) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # Bash sorts what it shows; the order of COMPREPLY does not matter.
    got = [sorted(reply.split()) for reply in result.stdout.splitlines()]
    assert list(zip([line for line, _ in BASH_CASES], got, strict=True)) == [
        (line, sorted(expected.split())) for line, expected in BASH_CASES
    ]


# --- both shells as a user types: TAB in a pseudo-terminal ---------------------------------


class Terminal:
    """An interactive shell in a pseudo-terminal, fed keystrokes."""

    def __init__(self, argv: list[str], setup: str, env: dict[str, str] | None = None):
        self.fd, tty = pty.openpty()
        # A new session whose standard streams are the terminal (no fork() of this
        # process by hand: a subprocess, spawned as the standard library does it).
        self.process = subprocess.Popen(
            argv,
            stdin=tty,
            stdout=tty,
            stderr=tty,
            cwd=ROOT,
            env=dict(os.environ, PS1="$ ", TERM="xterm", **(env or {})),
            start_new_session=True,
        )
        os.close(tty)
        # The stand-in prints its arguments: the line as completion left it.
        self.type(f"{setup}\nos-numa() {{ printf '%s%s|\\n' AR \"GS:$*\"; }}\necho RE''ADY\n")
        self.read_until(r"READY\r?\n")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def read_until(self, pattern: str, timeout: float = 20) -> re.Match:
        seen, end = "", time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                seen += os.read(self.fd, 65536).decode(errors="replace")
                found = re.search(pattern, seen)
                if found:
                    return found
        raise AssertionError(f"no {pattern!r} in {seen!r}")

    def settle(self, quiet: float = 0.4, timeout: float = 10) -> None:
        """Wait until the shell has stopped answering (completion done)."""
        last, end = time.monotonic(), time.monotonic() + timeout
        while time.monotonic() - last < quiet and time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                os.read(self.fd, 65536)
                last = time.monotonic()

    def complete(self, *chunks: str) -> str:
        """Type each chunk (TABs included), let the shell answer, press Enter."""
        for chunk in chunks:
            self.type(chunk)
            self.settle()
        self.type("\n")
        return self.read_until(r"ARGS:([^|\r\n]*)\|").group(1)

    def close(self) -> None:
        """End the shell this terminal started: hang up, then kill it if it lingers."""
        self.type("exit\n")
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.fd)


TYPED = [
    (
        ("os-numa pl\t", "--fl\t", "vcpus=1,hw:cpu_poli\t", "de\t"),
        "place --flavor vcpus=1,hw:cpu_policy=dedicated",
    ),
    (
        ("os-numa place --image-property hw_cpu_thread_p\t", "is\t"),
        "place --image-property hw_cpu_thread_policy=isolate",
    ),
    (
        ("os-numa host --capabilities tests/data/capabilities/intel\t",),
        "host --capabilities tests/data/capabilities/intel-2s-20c-ht.xml",
    ),
    (("os-numa completion z\t",), "completion zsh"),
]


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_a_user_completes_with_tab(scripts, shell):
    if shell == "bash":
        argv = [need("bash"), "--norc", "--noprofile", "-i"]
        setup = f"source {scripts['bash']}"
    else:
        # As installed: the file in a directory of fpath, then compinit.
        argv = [need("zsh"), "-f", "-i"]
        dump = scripts["zsh"].parent.parent / "zcompdump"
        setup = (
            f"fpath=({scripts['zsh'].parent} $fpath); autoload -Uz compinit; compinit -u -d {dump}"
        )
    terminal = Terminal(argv, setup)
    try:
        got = [terminal.complete(*chunks) for chunks, _ in TYPED]
    finally:
        terminal.close()
    assert got == [line for _, line in TYPED]


#: bash-completion's loader, which sources a command's script on first use.
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def test_bash_completion_loads_the_file_the_documented_command_writes(tmp_path):
    """``os-numa completion bash > ~/.local/share/bash-completion/completions/os-numa``,
    then a new shell with bash-completion: TAB works (the script is sourced inside
    the loader's function, so its tables must be global)."""
    need("bash")
    if not BASH_COMPLETION.is_file():
        pytest.skip("the bash-completion package is not installed (tools/dev.sh installs it)")
    home = tmp_path / "home"
    target = home / ".local" / "share" / "bash-completion" / "completions"
    target.mkdir(parents=True)
    script = run_command(["completion", "bash"]).stdout
    (target / "os-numa").write_text(script)
    terminal = Terminal(
        ["bash", "--norc", "--noprofile", "-i"],
        f"unset XDG_DATA_HOME BASH_COMPLETION_USER_DIR; source {BASH_COMPLETION}",
        {"HOME": str(home)},
    )
    try:
        got = terminal.complete("os-numa place --flavor vcpus=1,hw:cpu_thread_p\t", "is\t")
    finally:
        terminal.close()
    assert got == "place --flavor vcpus=1,hw:cpu_thread_policy=isolate"
