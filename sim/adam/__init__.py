"""CDISC ADaM in and out: a sponsor's ADSL + ADTTE (+ ADRS) read into the project's tables,
and a simulated trial written as ADSL, ADTTE, ADRS and ADAE (SAS transport v5 and Parquet).

`read_adam` reads and checks the data sets; `analysis_table`, `observed_table` and
`response_table` turn them into the tables `analyze`, `forecast --observed` and a response
analysis read; `write_adam` writes one replicate of ``patients.parquet`` at a data cut (an
interim look's or the final analysis's; `write_replicates`: the first K at each of their
cuts, as ``run --adam K`` does). `sim.adam.inputs` finds the data
sets of a folder or list of files by content and applies the user's options (mapping,
parameter, arm and stratum variables and values) for `analyze` and `forecast --observed`.
The variables, their labels and origins are one table, `sim.adam.mapping.VARIABLES`.
"""

from sim.adam.reader import (
    AdamData,
    analysis_table,
    observed_table,
    read_adam,
    read_dataset,
    response_table,
)
from sim.adam.writer import adam_tables, folder_name, write_adam, write_replicates

__all__ = [
    "AdamData",
    "adam_tables",
    "analysis_table",
    "folder_name",
    "observed_table",
    "read_adam",
    "read_dataset",
    "response_table",
    "write_adam",
    "write_replicates",
]
