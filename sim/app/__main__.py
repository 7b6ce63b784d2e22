"""``python -m sim.app``: the page, until the command line has its ``app`` subcommand."""

import sys

from sim.app import main

if __name__ == "__main__":  # the fork server of the runs may import this module: no side effects
    sys.exit(main())
