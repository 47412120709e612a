"""The ``os-numa`` command: parse arguments, run a subcommand, map errors to exit codes.

Exit codes: 0 fits / valid, 1 does not fit, 2 invalid input (the typed error's
message on stderr, on one line, no traceback), 3 internal error (a bug: traceback shown).
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

from os_numa import exception
from os_numa.cmd import args as cli_args
from os_numa.cmd import commands, migrate
from os_numa.cmd.message import one_line
from os_numa.cmd.status import EXIT_FITS, EXIT_INTERNAL, EXIT_INVALID
from os_numa.cmd.terminal import safe_line


def _quiet_import_chain() -> None:
    """oslo.versionedobjects imports eventlet, which warns that it is deprecated.

    That warning concerns our dependencies, not the user's input; exactly these
    messages are hidden (the same ones the test suite's configuration ignores).
    """
    for message in (
        r"\s*Eventlet is deprecated",
        r"eventletutils module is deprecated",
        r"The 'oslo_service.eventlet_backdoor' module usage is deprecated",
    ):
        warnings.filterwarnings("ignore", message=message)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``os-numa`` console script and of ``python -m os_numa``."""
    _quiet_import_chain()
    options = cli_args.build_parser().parse_args(argv)
    try:
        status = (migrate.run if options.command == "migrate" else commands.run)(options)
        # Output to a pipe is buffered: write it now, so a closed pipe raises here
        # rather than in the interpreter's final flush (exit status 120).
        sys.stdout.flush()
        return status
    except (exception.OsNumaError, ValueError) as exc:
        # Control characters from the input are escaped, never sent to the terminal.
        print(f"os-numa: error: {safe_line(one_line(str(exc)))}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # `os-numa host | head -1` closed the pipe: nothing more to say. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FITS
    except Exception:  # noqa: BLE001 - report bugs distinctly from "does not fit"
        traceback.print_exc()
        print("os-numa: internal error (a bug in os-numa; please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
