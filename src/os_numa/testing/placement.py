"""A real OpenStack Placement service on the loopback, for tests and local experiments.

:class:`PlacementService` runs ``placement.wsgi.api.application`` of the
``openstack-placement`` package (with a SQLite database in a temporary
folder, ``noauth2``) in a child process of another Python: the one named by
``OS_NUMA_OPENSTACK_PYTHON``, a virtual environment with openstack-placement
(``bash tools/dev.sh`` builds one and exports the variable for the tests).
The child runs :mod:`os_numa.testing.placement_server`, which listens on
127.0.0.1 and a free port. :meth:`PlacementService.reset` empties the
database (providers, inventories, traits of providers, allocations,
consumers) in milliseconds, so one service serves a whole test session.

    with PlacementService.start() as service:
        client = service.client()
        ...

The pytest fixtures ``os_numa_placement_service`` (one per session) and
``os_numa_placement`` (a client of an emptied service, per test) wrap it;
they skip, with the reason, when ``OS_NUMA_OPENSTACK_PYTHON`` is not set.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from os_numa import exception
from os_numa.placement import PlacementClient

#: The environment variable naming the Python that has openstack-placement installed.
ENV = "OS_NUMA_OPENSTACK_PYTHON"
SERVER_SCRIPT = Path(__file__).with_name("placement_server.py")
#: Tables emptied by :meth:`PlacementService.reset`, dependants first.
_TABLES = (
    "allocations",
    "consumers",
    "inventories",
    "resource_provider_traits",
    "resource_provider_aggregates",
    "resource_providers",
    "projects",
    "users",
)


def openstack_python() -> str | None:
    """The interpreter ``OS_NUMA_OPENSTACK_PYTHON`` names, or None when it is unset.

    :raises InvalidConfiguration: it is set but is not an executable file.
    """
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if not (os.path.isfile(value) and os.access(value, os.X_OK)):
        raise exception.InvalidConfiguration(reason=f"{ENV}={value!r} is not an executable file")
    return value


class PlacementService:
    """A Placement server process on 127.0.0.1; see the module docstring."""

    def __init__(self, process: subprocess.Popen, url: str, state_dir: Path, owned: bool):
        self.process = process
        self.url = url
        self.state_dir = state_dir
        self._owned = owned
        self._log = state_dir / "server.log"

    @classmethod
    def start(
        cls,
        python: str | None = None,
        state_dir: str | os.PathLike | None = None,
        *,
        timeout: float = 180.0,
        randomize: bool = False,
    ) -> PlacementService:
        """Start a service and wait until it answers (``timeout`` seconds at most).

        ``python``: the interpreter with openstack-placement (default:
        ``OS_NUMA_OPENSTACK_PYTHON``); ``state_dir``: where the configuration,
        database and log go (default: a new temporary folder, in ``/dev/shm``
        when there is one, removed on stop). The database does not sync to
        disk on commit: it is a test's, not a cloud's.
        ``randomize``: shuffle allocation candidates, as production Placements
        often do (``[placement] randomize_allocation_candidates``).

        :raises InvalidConfiguration: no interpreter is given or configured.
        :raises PlacementError: the server did not come up; the message holds
            the end of its log.
        """
        python = python or openstack_python()
        if python is None:
            raise exception.InvalidConfiguration(
                reason=f"set {ENV} to a Python with openstack-placement installed"
            )
        owned = state_dir is None
        state = Path(
            tempfile.mkdtemp(prefix="os-numa-placement-", dir=_memory_dir())
            if state_dir is None
            else state_dir
        )
        state.mkdir(parents=True, exist_ok=True)
        command = [python, str(SERVER_SCRIPT), "--state-dir", str(state)]
        if randomize:
            command.append("--randomize")
        # The child keeps the log open; this process's copy is closed once it runs.
        with open(state / "server.log", "wb") as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    cwd=state,
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                )
            except OSError as exc:
                if owned:
                    shutil.rmtree(state, ignore_errors=True)
                raise exception.PlacementError(
                    method="start", path=str(SERVER_SCRIPT), reason=f"cannot run {python}: {exc}"
                ) from exc
        line = _read_line(process, timeout)
        if not line.startswith("listening "):
            process.kill()
            _reap(process)
            tail = (state / "server.log").read_text(errors="replace")[-3000:]
            if owned:
                shutil.rmtree(state, ignore_errors=True)
            raise exception.PlacementError(
                method="start", path=str(SERVER_SCRIPT), reason=f"no answer: {line!r}\n{tail}"
            )
        return cls(process, line.split(" ", 1)[1].strip(), state, owned)

    def client(self):
        """A :class:`~os_numa.placement.client.PlacementClient` of this service (noauth2)."""
        return PlacementClient.noauth(self.url)

    @property
    def database(self) -> Path:
        return self.state_dir / "placement.sqlite"

    def reset(self) -> None:
        """Empty every provider, inventory, trait association, allocation and consumer.

        Resource classes and traits stay (Placement caches them). Call it only
        while no request is in flight.
        """
        with sqlite3.connect(self.database, timeout=30) as db:
            for table in _TABLES:
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def stop(self) -> None:
        """Stop the server (closing its standard input, then SIGTERM, then SIGKILL).

        Whatever state the server is in (running, or gone already), its pipes are
        closed and its exit status collected, so nothing is left for the garbage
        collector to warn about (``ResourceWarning``) in a later test.
        """
        process = self.process
        try:
            if process.poll() is None:
                # The server exits when its standard input ends.
                _close(process.stdin)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.terminate()
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
        finally:
            _reap(process)
            if self._owned:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> PlacementService:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _memory_dir() -> str | None:
    """/dev/shm when it is a writable folder (the database then lives in memory), else None."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def _close(pipe: IO[bytes] | None) -> None:
    """Close one of the child's pipes; a child gone already may leave a broken pipe."""
    if pipe is not None:
        try:
            pipe.close()
        except OSError:
            pass


def _reap(process: subprocess.Popen) -> None:
    """Close both pipes and wait for the (ended or killed) child's exit status."""
    _close(process.stdin)
    _close(process.stdout)
    process.wait()


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's first line of output, or '' when it exits or ``timeout`` passes."""
    result: list[bytes] = []
    stdout = process.stdout
    if stdout is None:  # started without a pipe for its output: nothing to read
        return ""
    reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while reader.is_alive() and time.monotonic() < deadline:
        reader.join(0.1)
        if process.poll() is not None and not result:
            reader.join(1)
            break
    return result[0].decode(errors="replace") if result else ""
