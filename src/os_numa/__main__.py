"""``python -m os_numa``: the same as the ``os-numa`` command."""

import sys

from os_numa.cmd.main import main

sys.exit(main())
