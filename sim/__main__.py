"""``python -m sim``: see `sim.commands.cli`."""

import atexit
import gc
import os
import sys
import threading

# One BLAS thread per process (unless the caller sets it): the work is spread over worker
# processes, one per core, and sim's arrays are too small for threaded BLAS. Each OpenBLAS
# (numpy's, scipy's) otherwise starts a thread per core at import, which spins ~0.1 s on a
# core the other processes need: ~0.2-0.3 s of CPU per command. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# No pydantic plugins in this command and the processes it starts (unless the caller asks for
# them): at its first model pydantic otherwise looks for plugins in the entry points of every
# installed distribution, before the workers can start. The results do not depend on it; the
# library used from a notebook leaves the setting alone.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from sim.commands.startup import defer_numpy_extras_until_scipy  # noqa: E402

# numpy's f2py and testing, which scipy's import loads and no command uses, only on first use
# (~0.1 s of a run's start; see the module).
defer_numpy_extras_until_scipy()

from sim.commands.cli import main  # noqa: E402

status = main()
# The interpreter's shutdown runs full collections over every object still alive (~300,000
# after a run: pandas, scipy, the models), ~0.3-0.4 s of a command's wall time; frozen
# objects are skipped by them (and by the handlers' collections below).
gc.freeze()


def flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass


if status > 128:  # stopped by a signal: output cleaned up already; exit now, joining nothing
    flush_streams()
    os._exit(status)
# Past the atexit handlers, the interpreter's shutdown only tears its modules down (~40 ms
# after a run, for nothing: every output file is closed by then). With no thread left to
# join, run the handlers (pools, logging, weakref finalizers), flush and exit.
if all(t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
    atexit._run_exitfuncs()
    flush_streams()
    os._exit(status)
sys.exit(status)
