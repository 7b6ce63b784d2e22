"""``python -m sim``: see `sim.commands.cli`."""

import gc
import os
import sys

# One BLAS thread per process (unless the caller sets it): the work is spread over worker
# processes, one per core, and sim's arrays are too small for threaded BLAS. Each OpenBLAS
# (numpy's, scipy's) otherwise starts a thread per core at import, which spins ~0.1 s on a
# core the other processes need: ~0.2-0.3 s of CPU per command. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sim.commands.cli import main  # noqa: E402

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
