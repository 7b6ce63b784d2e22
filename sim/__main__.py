"""``python -m sim``: see `sim.commands.cli`."""

import gc
import os
import sys

from sim.commands.cli import main

status = main()
# The interpreter's shutdown runs full collections over every object still alive (~300,000
# after a run: pandas, scipy, the models), ~0.3-0.4 s of a command's wall time; frozen
# objects are skipped by them. Nothing else changes: atexit handlers and finalizers run.
gc.freeze()
if status > 128:  # stopped by a signal: output cleaned up already; exit now, joining nothing
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(status)
sys.exit(status)
