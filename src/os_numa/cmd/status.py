"""The ``os-numa`` command's exit statuses, shared by :mod:`~os_numa.cmd.main` and the subcommands.

0 fits / valid, 1 does not fit, 2 invalid input (one line on stderr, no traceback),
3 internal error (a bug: traceback shown).
"""

EXIT_FITS = 0
EXIT_NO_FIT = 1
EXIT_INVALID = 2
EXIT_INTERNAL = 3
