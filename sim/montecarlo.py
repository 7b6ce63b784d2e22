"""Monte Carlo: run the chunks of a run on K worker processes and stream results to disk.

Chunk c holds replicates [c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE) and draws only from its own
streams (see `sim.trial`), so results do not depend on the number of workers or the order in
which chunks finish. Chunks are written to Parquet in order as they arrive, so memory stays
flat in the number of replicates. `simulate_chunk` is a pure function of (scenario, seed,
chunk): the unit a Dask cluster or a resumed run would schedule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.trial import CHUNK_SIZE, ChunkResult, TrialModel, simulate_chunk


@dataclass(frozen=True)
class ChunkSpec:
    chunk: int
    first_rep: int
    n_reps: int


def plan_chunks(n_reps: int, chunk_size: int = CHUNK_SIZE) -> list[ChunkSpec]:
    return [
        ChunkSpec(c, start, min(chunk_size, n_reps - start))
        for c, start in enumerate(range(0, n_reps, chunk_size))
    ]


_MODEL: TrialModel | None = None


def _init_worker(model: TrialModel) -> None:
    global _MODEL
    _MODEL = model


def _run_spec(args: tuple[ChunkSpec, int, int]) -> ChunkResult:
    spec, seed, keep = args
    assert _MODEL is not None
    return simulate_chunk(_MODEL, seed, spec.chunk, spec.first_rep, spec.n_reps, keep)


def iterate_chunks(
    model: TrialModel, n_reps: int, seed: int, workers: int, keep_patients: int = 0
) -> Iterator[ChunkResult]:
    """Chunk results in chunk order, computed on `workers` processes (1 = in this process)."""
    specs = plan_chunks(n_reps)
    jobs = [(spec, seed, keep_patients) for spec in specs]
    if workers <= 1 or len(specs) == 1:
        _init_worker(model)
        yield from map(_run_spec, jobs)
        return
    context = get_context("fork") if hasattr(os, "fork") else get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(specs)), mp_context=context,
        initializer=_init_worker, initargs=(model,),
    ) as pool:
        yield from pool.map(_run_spec, jobs)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_to_parquet(
    model: TrialModel, n_reps: int, seed: int, workers: int, folder: Path,
    keep_patients: int = 0, on_chunk: Callable[[int], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Write replicates.parquet (and patients.parquet when kept) into `folder`, streaming.

    Returns the additive tables summed over all chunks (see `ChunkResult.sums`).
    """
    writers: dict[str, pq.ParquetWriter] = {}
    sums: dict[str, pd.DataFrame] = {}
    try:
        for result in iterate_chunks(model, n_reps, seed, workers, keep_patients):
            append(writers, folder / "replicates.parquet", result.replicates)
            if result.patients is not None:
                append(writers, folder / "patients.parquet", result.patients)
            if result.monthly is not None:
                append(writers, folder / "monthly.parquet", result.monthly)
            add_sums(sums, result.sums)
            if on_chunk:
                on_chunk(len(result.replicates))
    finally:
        for writer in writers.values():
            writer.close()
    return sums


def add_sums(total: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame]) -> None:
    """Add a chunk's count tables into the running totals (kept small by grouping)."""
    for name, frame in new.items():
        keys = [c for c in frame.columns if c != "count"]
        both = frame if name not in total else pd.concat([total[name], frame])
        total[name] = both.groupby(keys, as_index=False, sort=True, observed=True)["count"].sum()


def append(writers: dict[str, pq.ParquetWriter], path: Path, frame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    key = str(path)
    if key not in writers:
        writers[key] = pq.ParquetWriter(path, table.schema)
    writers[key].write_table(table.cast(writers[key].schema))
