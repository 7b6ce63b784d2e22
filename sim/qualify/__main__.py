"""``python -m sim.qualify --out DIR``: see `sim.qualify.run`."""

import os
import sys

if __name__ == "__main__":  # importing the module (as the layer tests do) runs nothing
    # One BLAS thread per process, as `python -m sim` sets it (before numpy loads).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    from sim.qualify.run import main

    sys.exit(main())
