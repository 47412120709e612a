"""Check a running QEMU guest's threads against the placement os-numa planned.

usage: python3 check_guest.py QEMU_PID PLACEMENT.json

PLACEMENT.json is what ``os-numa place --format json`` printed for the guest.
For every thread of the QEMU process (``/proc/PID/task/*/status``): a vCPU
thread (named ``CPU N/KVM``, or ``CPU N/TCG`` without KVM) must be allowed on
exactly its pCPU from ``cpu_pinning``, and run SCHED_FIFO at the planned
priority when ``vcpusched`` lists it; every other QEMU thread must be allowed
on exactly the ``emulatorpin`` CPUs. KVM's own kernel workers in the process
(``kvm-*``) are not QEMU's and are skipped. One line per thread; exit status 0
when all are as planned, 1 otherwise. Standard library only, so it runs on any
compute host.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

POLICIES = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}


def cpu_list(text: str) -> set[int]:
    """``0-2,40`` -> {0, 1, 2, 40}."""
    cpus: set[int] = set()
    for part in filter(None, text.strip().split(",")):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def show(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus)) or "-"


def expected(placement: dict) -> tuple[dict[int, int], set[int], dict[int, int]]:
    """({vCPU: pCPU}, emulator CPUs, {realtime vCPU: priority}) from the JSON."""
    pins = {int(v): p for cell in placement["cells"] for v, p in cell["cpu_pinning"].items()}
    realtime = {v: s["priority"] for s in placement["vcpusched"] for v in s["vcpus"]}
    return pins, set(placement["emulatorpin"]), realtime


def check(pid: int, placement: dict) -> tuple[list[str], bool]:
    pins, emulator, realtime = expected(placement)
    lines, good = [], True
    for task in sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda p: int(p.name)):
        try:
            status = dict(
                line.split(":\t", 1) for line in (task / "status").read_text().splitlines()
            )
            policy = os.sched_getscheduler(int(task.name))
            priority = os.sched_getparam(int(task.name)).sched_priority
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        name = status["Name"].strip()
        if name.startswith("kvm-"):
            continue
        allowed = cpu_list(status["Cpus_allowed_list"])
        vcpu = re.fullmatch(r"CPU (\d+)/\w+", name)
        if vcpu and int(vcpu.group(1)) in pins:
            index = int(vcpu.group(1))
            want = {pins[index]}
            want_policy = "SCHED_FIFO" if index in realtime else "SCHED_OTHER"
            want_priority = realtime.get(index, 0)
        else:
            want, want_policy, want_priority = emulator, "SCHED_OTHER", 0
        got_policy = POLICIES.get(policy, str(policy))
        ok = allowed == want and (got_policy, priority) == (want_policy, want_priority)
        good &= ok
        verdict = "ok" if ok else f"EXPECTED CPUs {show(want)} {want_policy} {want_priority}"
        lines.append(
            f"{name:<18} tid {task.name:>7}  CPUs {show(allowed):<12} "
            f"{got_policy} {priority:<3} {verdict}"
        )
    return lines, good


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    placement = json.loads(Path(argv[2]).read_text())
    lines, good = check(int(argv[1]), placement)
    print("\n".join(lines))
    print("all threads as planned" if good else "MISMATCH: the guest is not where os-numa put it")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
