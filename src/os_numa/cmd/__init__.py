"""The ``os-numa`` command: :mod:`.main` runs it, :mod:`.args` parses its arguments and
:mod:`.commands` runs each subcommand."""
