"""A define-style listing of written data sets: one row per variable with its label, SAS
type, length, display format and origin (from `mapping.VARIABLES`), as a reviewer reads the
variable-level metadata of a define.xml."""

from __future__ import annotations

import pandas as pd

from sim.adam.mapping import dataset_variables

COLUMNS = ("dataset", "variable", "label", "type", "length", "format", "origin")


def longest_bytes(values: pd.Series) -> int:
    """The longest value's length in UTF-8 bytes; missing values count 0 (SAS writes them
    blank). Plain Python, so that it does not depend on the pandas version's string dtype
    (pandas 3 keeps a missing value missing through astype(str), and an all-missing column
    then has no .str accessor)."""
    return max((len(str(x).encode("utf-8")) for x in values if not pd.isna(x)), default=0)


def define_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per variable of each data set in `tables` ({"ADSL": frame, ...}): type Char or
    Num, length in bytes (a character variable's longest value; 8 for a number, as SAS
    stores it), DATE9. for dates."""
    rows = []
    for dataset, frame in tables.items():
        for v in dataset_variables(dataset):
            if v.name not in frame.columns:
                continue
            char = v.kind == "char"
            longest = longest_bytes(frame[v.name]) if char else 0
            rows.append(
                {
                    "dataset": dataset,
                    "variable": v.name,
                    "label": v.label,
                    "type": "Char" if char else "Num",
                    "length": max(int(longest), 1) if char and len(frame) else (1 if char else 8),
                    "format": "DATE9." if v.kind == "date" else "",
                    "origin": v.origin,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
