"""``python -m sim``: see `sim.commands.cli`."""

import os
import sys

from sim.commands.cli import main

status = main()
if status > 128:  # stopped by a signal: output cleaned up already; exit now, joining nothing
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(status)
sys.exit(status)
