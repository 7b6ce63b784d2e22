"""Read back a CSV the program wrote, every float as written.

`DataFrame.to_csv` writes each float's shortest repr. pandas 3's reader parses them exactly;
pandas 2's default parser may be off in the last bit, so there the round-trip parser is asked
for (pandas 3 deprecates the option, and its warning would reach a user's terminal).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROUND_TRIP = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def read_exact_csv(path: Path) -> pd.DataFrame:
    """The table at `path` with every float as its writer wrote it."""
    return pd.read_csv(path, **ROUND_TRIP)
