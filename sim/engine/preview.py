"""The answer of a run's first chunks while the run goes on: a shorter run's summary, free.

Chunk c of a run holds replicates [c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE) and draws only from
its own streams (`sim.engine.chunk`), so the first k chunks of a run of more than
k * CHUNK_SIZE replicates are the chunks of a run of k * CHUNK_SIZE replicates with the same
scenario and seed, byte for byte. `first_chunks_summary` reads them from the checkpoints of
the run this process is writing (`sim.storage.checkpoints`) and summarizes them as that
shorter run does (its replicates.parquet, then `summarize`): the summary.csv of
``simulate(scenario, reps=k * CHUNK_SIZE, seed=seed)``, without computing a replicate twice.
The page shows it as the first answer of a Run while the full count is computed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from sim.engine.chunk import CHUNK_SIZE
from sim.engine.executors import ParquetAppender
from sim.engine.results import ParquetColumns, summarize
from sim.scenario import Scenario
from sim.storage.checkpoints import load_chunk, read_table_bytes
from sim.storage.folders import own_staging

PREVIEW_REPLICATES = CHUNK_SIZE  # a run's first chunk: its first answer


def preview_replicates(reps: int) -> int:
    """Replicates of the preview of a run of `reps`: its first chunk; 0 (no preview) when
    the run is that one chunk or less."""
    return PREVIEW_REPLICATES if reps > PREVIEW_REPLICATES else 0


def first_chunks_summary(out: Path, scenario: Scenario, replicates: int) -> pd.DataFrame | None:
    """summary.csv of the first `replicates` replicates (whole chunks: a multiple of
    CHUNK_SIZE) of the run of `scenario` this process is writing into `out`, once they are
    kept as checkpoints; None while they are not (or when no run of `out` is under way in
    this process). Call it from the run's progress callback, in the process that runs it."""
    if replicates <= 0 or replicates % CHUNK_SIZE:
        raise ValueError(f"replicates = {replicates}: a positive multiple of {CHUNK_SIZE}")
    chunks = replicates // CHUNK_SIZE
    for staging in own_staging(Path(out)):
        kept = [
            load_chunk(staging, c, range(c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE))
            for c in range(chunks)
        ]
        if any(files is None or "replicates" not in files for files in kept):
            continue
        with tempfile.TemporaryDirectory(prefix="sim-preview-") as folder:
            # the shorter run's own path to its summary: its replicates.parquet, read back
            writer = ParquetAppender(Path(folder))
            try:
                for files in kept:
                    assert files is not None
                    writer.append("replicates", read_table_bytes(files["replicates"]))
            finally:
                writer.close()
            return summarize(ParquetColumns(Path(folder) / "replicates.parquet"), scenario)
    return None
