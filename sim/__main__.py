"""``python -m sim``: see `sim.commands.cli`."""

import sys

from sim.commands.cli import main

sys.exit(main())
