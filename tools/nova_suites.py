"""Run Nova 34's own NUMA test suites, stock and with os-numa installed, and compare.

Run it with the Python of the Nova venv (``tools/dev.sh nova-suites`` does):

    $OS_NUMA_OPENSTACK_PYTHON tools/nova_suites.py [--suite unit|libvirt|functional|all]

For each suite it runs the tests that ship inside the ``nova`` wheel, unmodified, twice: on
stock Nova, then in processes where ``os_numa.nova.install()`` replaced Nova's NUMA functions
(this checkout's ``src/`` first on ``PYTHONPATH``, or ``$OS_NUMA_SOURCE``: the compiled
build of ``tools/dev.sh compiled``, for example). It prints, per suite, the number of tests,
how many pass stock, how many pass with os-numa, and the differences, and exits non-zero when

* a test fails on stock Nova (the environment is broken, nothing is proven), or
* a test that passes stock fails with os-numa and is not listed in
  ``doc/source/nova_expected_failures.txt`` (an undocumented difference), or
* a listed test passes with os-numa (the list, and doc/source/nova.rst, are stale).

Workers run under a watchdog: Nova's functional fixtures can deadlock (the test's own
timeout does not break it), so a worker whose result stream stops growing for
``--stall`` seconds is killed. Its unfinished tests, and every failed test, run once more in
a fresh worker; the second result counts, and tests still without a result are failures
("hung").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "doc" / "source" / "nova_expected_failures.txt"

#: The suites: name -> (test modules, worker processes, test-name filter or None).
#: test_hardware runs whole (its non-NUMA classes are quick and show that the patch leaves
#: them alone); of the libvirt driver's unit tests, those whose names are about the guest's
#: NUMA, pinning, realtime or emulator configuration (the method install() replaces).
SUITES = {
    "unit": (
        [
            "nova.tests.unit.virt.test_hardware",
            "nova.tests.unit.scheduler.filters.test_numa_topology_filters",
            "nova.tests.unit.compute.test_claims",
        ],
        1,
        None,
    ),
    "libvirt": (
        ["nova.tests.unit.virt.libvirt.test_driver"],
        1,
        re.compile(r"numa|cputune|realtime|emulator|pinning|cpu_pin|_cpuset|mixed|hugepage", re.I),
    ),
    "functional": (["nova.tests.functional.libvirt.test_numa_servers"], 2, None),
}

#: Nova's tox environment for its test runs.
NOVA_TEST_ENV = {
    "OS_NOVA_DISABLE_EVENTLET_PATCHING": "False",
    "NOVA_RAISE_ON_GREENLET_LEAK": "True",
    "OS_TEST_TIMEOUT": "160",
    "OS_STDOUT_CAPTURE": "1",
    "OS_STDERR_CAPTURE": "1",
    "OS_LOG_CAPTURE": "1",
    "LC_ALL": "C.UTF-8",
}

PASSED = {"success", "skip", "xfail"}


# --- worker: runs in its own process -------------------------------------------------------


def worker(modules: list[str], ids_file: str, out_file: str, with_os_numa: bool) -> int:
    """Load ``modules``, keep the tests named in ``ids_file``, write subunit v2 to ``out_file``."""
    import unittest

    from subunit.run import SubunitTestRunner

    wanted = set(Path(ids_file).read_text().split())
    # Nova's test packages monkey-patch eventlet on import: load them before os-numa.
    suite = unittest.TestLoader().loadTestsFromNames(modules)
    if with_os_numa:
        import os_numa.fit.fit
        import os_numa.nova

        source = os.environ.get("OS_NUMA_SOURCE")
        if source and not os_numa.fit.fit.__file__.startswith(source):
            sys.exit(f"os-numa loaded from {os_numa.fit.fit.__file__}, not from {source}")
        os_numa.nova.install()
    chosen = unittest.TestSuite(t for t in _flatten(suite) if t.id() in wanted)
    with open(out_file, "wb") as stream:
        SubunitTestRunner(stream=stream).run(chosen)
    return 0


def _flatten(suite):
    for test in suite:
        if hasattr(test, "__iter__"):
            yield from _flatten(test)
        else:
            yield test


# --- orchestrator ----------------------------------------------------------------------------


def list_ids(modules: list[str]) -> list[str]:
    """Every test id of ``modules`` (loaded in a child: Nova's imports monkey-patch)."""
    code = (
        "import sys, unittest\n"
        "def flat(s):\n"
        "    for t in s:\n"
        "        yield from (flat(t) if hasattr(t, '__iter__') else [t])\n"
        "suite = unittest.TestLoader().loadTestsFromNames(sys.argv[1:])\n"
        "print('\\n'.join(sorted(t.id() for t in flat(suite))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *modules],
        env=_env(False),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"cannot load {modules}:\n{out.stderr[-3000:]}")
    ids = out.stdout.split()
    broken = [i for i in ids if i.startswith("unittest.loader.")]
    if broken:
        sys.exit(f"cannot import test modules: {broken}")
    return ids


def _env(with_os_numa: bool) -> dict[str, str]:
    env = dict(os.environ, **NOVA_TEST_ENV)
    if with_os_numa:
        env["OS_NUMA_NOVA_BRIDGE_CHECK"] = "1"  # every topology must round-trip (objects.py)
        source = os.environ.get("OS_NUMA_SOURCE") or str(ROOT / "src")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    else:
        env.pop("PYTHONPATH", None)
    return env


def read_subunit(path: Path) -> dict[str, tuple[str, str]]:
    """test id -> (final status, failure details) from a subunit v2 file."""
    import subunit

    results: dict[str, tuple[str, str]] = {}
    with open(path, "rb") as stream:
        subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(_Store(results))
    return results


class _Store:
    """A StreamResult that keeps each test's last final status and its traceback."""

    def __init__(self, results):
        self.results = results
        self.details: dict[str, list[str]] = {}

    def startTestRun(self):  # noqa: N802 (StreamResult's name)
        pass

    def stopTestRun(self):  # noqa: N802
        pass

    def status(self, test_id=None, test_status=None, file_name=None, file_bytes=None, **_kw):
        if test_id is None:
            return
        if file_bytes and file_name in ("traceback", "reason"):
            self.details.setdefault(test_id, []).append(
                bytes(file_bytes).decode("utf-8", "replace")
            )
        if test_status and test_status not in ("inprogress", "exists"):
            self.results[test_id] = (test_status, "".join(self.details.get(test_id, [])))


def run_workers(
    modules: list[str],
    ids: list[str],
    workers: int,
    with_os_numa: bool,
    stall: float,
    tmp: Path,
    expected_failures: frozenset[str] = frozenset(),
) -> dict[str, tuple[str, str]]:
    """Run ``ids`` over ``workers`` processes under the watchdog; a second pass for tests
    that hung or failed (but not for ``expected_failures`` that failed as expected)."""
    results: dict[str, tuple[str, str]] = {}
    pending = list(ids)
    for attempt in (1, 2):
        if not pending:
            break
        chunks = [pending[i::workers] for i in range(workers)]
        procs = []
        for n, chunk in enumerate(c for c in chunks if c):
            ids_file = tmp / f"ids-{with_os_numa}-{attempt}-{n}"
            out_file = tmp / f"out-{with_os_numa}-{attempt}-{n}.subunit"
            ids_file.write_text("\n".join(chunk))
            out_file.touch()
            cmd = [sys.executable, __file__, "worker", "--ids", str(ids_file)]
            cmd += ["--out", str(out_file), *(["--with-os-numa"] if with_os_numa else [])]
            cmd += ["--", *modules]
            proc = subprocess.Popen(
                cmd,
                env=_env(with_os_numa),
                stdout=subprocess.DEVNULL,
                stderr=open(tmp / f"err-{with_os_numa}-{attempt}-{n}", "wb"),  # noqa: SIM115
            )
            procs.append([proc, out_file, 0, time.monotonic()])
        while any(p[0].poll() is None for p in procs):
            time.sleep(2)
            for entry in procs:
                proc, out_file, size, since = entry
                if proc.poll() is not None:
                    continue
                now_size = out_file.stat().st_size
                if now_size != size:
                    entry[2], entry[3] = now_size, time.monotonic()
                elif time.monotonic() - since > stall:
                    print(
                        f"  watchdog: worker {proc.pid} made no progress for {stall:.0f}s; killed",
                        flush=True,
                    )
                    proc.kill()
        for proc, out_file, _size, _since in procs:
            proc.wait()
            results.update(read_subunit(out_file))
        # A test without a result (its worker hung or died) or that failed runs once more in
        # a fresh worker: Nova's functional tests share two cores with everything else.
        pending = [
            i
            for i in ids
            if i not in results
            or (results[i][0] not in PASSED and not (attempt == 1 and i in expected_failures))
        ]
        if pending and attempt == 1:
            print(f"  {len(pending)} test(s) failed or hung; running them once more", flush=True)
    for test_id in pending:
        results.setdefault(test_id, ("hung", "no result: the worker hung or died (watchdog)"))
    return results


def load_expected() -> dict[str, str]:
    """test id -> reason key, from doc/source/nova_expected_failures.txt."""
    expected = {}
    for line in EXPECTED.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            test_id, reason = line.split()
            expected[test_id] = reason
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker")
    w.add_argument("--ids", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--with-os-numa", action="store_true")
    w.add_argument("modules", nargs="+")
    parser.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    parser.add_argument("--json", help="write the per-test results here")
    parser.add_argument("--stall", type=float, default=240.0, help="watchdog seconds")
    parser.add_argument("--only", choices=["stock", "os-numa", "both"], default="both")
    args = parser.parse_args(argv)
    if args.command == "worker":
        return worker(args.modules, args.ids, args.out, args.with_os_numa)

    expected = load_expected()
    names = list(SUITES) if args.suite == "all" else [args.suite]
    report = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nova-suites-") as tmp:
        for name in names:
            modules, workers, pattern = SUITES[name]
            ids = list_ids(modules)
            if pattern is not None:
                ids = [i for i in ids if pattern.search(i.rsplit(".", 1)[-1])]
            runs = {}
            for mode in ("stock", "os-numa"):
                if args.only not in (mode, "both"):
                    continue
                start = time.monotonic()
                print(f"[nova-suites] {name} {mode}: {len(ids)} tests", flush=True)
                runs[mode] = run_workers(
                    modules,
                    ids,
                    workers,
                    mode == "os-numa",
                    args.stall,
                    Path(tmp),
                    frozenset(expected) if mode == "os-numa" else frozenset(),
                )
                took = time.monotonic() - start
                passed = sum(1 for s, _ in runs[mode].values() if s in PASSED)
                print(f"[nova-suites] {name} {mode}: {passed} pass, {took:.0f} s", flush=True)
                runs[mode + "_seconds"] = took
            report[name] = runs
            stock = runs.get("stock", {})
            ours = runs.get("os-numa", {})
            stock_fail = sorted(i for i in ids if i in stock and stock[i][0] not in PASSED)
            for test_id in stock_fail:
                problems.append(f"fails on stock Nova: {test_id}\n{stock[test_id][1][-1500:]}")
            differ = sorted(
                i
                for i in ids
                if i in ours
                and ours[i][0] not in PASSED
                and stock.get(i, ("success",))[0] in PASSED
            )
            for test_id in differ:
                if test_id not in expected:
                    problems.append(
                        f"undocumented difference: {test_id}\n{ours[test_id][1][-3000:]}"
                    )
            in_suite = {i for i in expected if i in set(ids)}
            if ours:
                for test_id in sorted(in_suite - set(differ)):
                    problems.append(f"listed as a difference but passes with os-numa: {test_id}")
            print(
                f"[nova-suites] {name}: total {len(ids)}, "
                f"pass stock {sum(1 for s, _ in stock.values() if s in PASSED) if stock else '-'}, "
                f"pass with os-numa {sum(1 for s, _ in ours.values() if s in PASSED) if ours else '-'}, "  # noqa: E501
                f"documented differences {len(in_suite & set(differ))}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, sort_keys=True))
    for problem in problems:
        print(f"[nova-suites] FAIL {problem}", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
