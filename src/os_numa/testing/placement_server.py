"""Serve OpenStack Placement on the loopback: a script for *another* Python.

``openstack-placement`` pins many libraries, so it lives in its own virtual
environment (``OS_NUMA_OPENSTACK_PYTHON``). :mod:`os_numa.testing.placement`
runs this file with that interpreter::

    $OS_NUMA_OPENSTACK_PYTHON placement_server.py --state-dir DIR [--port 0]

It writes ``DIR/placement.conf`` (``noauth2``, a SQLite database in ``DIR``),
creates the schema (``sync_on_startup``: the migrations of ``placement-manage db sync``), serves
``placement.wsgi.api.application`` with the standard library's WSGI server on
127.0.0.1, and prints one line ``listening http://127.0.0.1:PORT`` once it
answers. It stops on SIGTERM or SIGINT, or when its standard input closes (the
parent died). It imports only the standard library and Placement, never
os-numa, which is not installed in that environment.
"""

from __future__ import annotations

import argparse
import os
import signal
import socketserver
import sys
import threading
from wsgiref import simple_server

CONFIG = """\
[DEFAULT]
debug = False
use_stderr = True
[api]
auth_strategy = noauth2
[placement_database]
connection = sqlite:///{database}
sync_on_startup = True
# A throwaway database: no fsync per commit (several times faster on a busy disk).
sqlite_synchronous = False
[placement]
randomize_allocation_candidates = {randomize}
"""


class _QuietHandler(simple_server.WSGIRequestHandler):
    """One request per connection is slow to log; the tests read responses, not logs."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def _serialized(application):
    """``application`` answering one request at a time.

    Connections are accepted concurrently (a client never waits to connect),
    but SQLite allows one writer: requests run one after another, as they
    would through one database connection, and never fail with "database is
    locked". Concurrent clients still interleave between requests, which is
    what a generation conflict needs.
    """
    lock = threading.Lock()

    def serve(environ, start_response):
        with lock:
            return list(application(environ, start_response))

    return serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True, help="folder for the config and database")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--randomize", action="store_true", help="shuffle allocation candidates")
    args = parser.parse_args(argv)

    state = os.path.abspath(args.state_dir)
    os.makedirs(state, exist_ok=True)
    database = os.path.join(state, "placement.sqlite")
    with open(os.path.join(state, "placement.conf"), "w", encoding="utf-8") as conf:
        conf.write(CONFIG.format(database=database, randomize=bool(args.randomize)))
    os.environ["OS_PLACEMENT_CONFIG_DIR"] = state

    # Importing the WSGI module reads OS_PLACEMENT_CONFIG_DIR, configures the
    # database and, with sync_on_startup, creates the schema (placement-manage db sync).
    from placement.wsgi import api

    server = simple_server.make_server(
        "127.0.0.1",
        args.port,
        _serialized(api.application),
        server_class=_Server,
        handler_class=_QuietHandler,
    )
    port = server.server_address[1]

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_stdin():
        sys.stdin.read()
        stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"listening http://127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    # Run as a script, this file's folder (os_numa/testing) heads sys.path, and its
    # placement.py would shadow the openstack-placement package.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.exit(main())
