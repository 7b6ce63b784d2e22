"""Monte Carlo: run the chunks of a run on K worker processes and stream results to disk.

Chunk c holds replicates [c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE) and draws only from its own
streams (see `sim.engine.chunk`), so results do not depend on the number of workers or the order in
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

from sim.engine.chunk import CHUNK_SIZE, ChunkResult, TrialModel, simulate_chunk
from sim.engine.lifetime import init_worker_process, stop_workers


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


def _init_worker(model: TrialModel, parent_pid: int | None = None) -> None:
    global _MODEL
    if parent_pid is not None:  # a worker process: see sim.engine.lifetime
        init_worker_process(parent_pid)
    _MODEL = model
    keep_freed_memory()


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    The replicate loop allocates and frees the same few MB of temporaries per chunk; by
    default glibc serves arrays over 128 KiB with fresh mmap pages, and the page faults cost
    about 40% of the vectorized pipeline here (measured with benchmarks/bench_analysis.py).
    A no-op where glibc is not the C library.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def _run_spec(args: tuple[ChunkSpec, int, int]) -> ChunkResult:
    spec, seed, keep = args
    assert _MODEL is not None
    return simulate_chunk(_MODEL, seed, spec.chunk, spec.first_rep, spec.n_reps, keep)


@dataclass(frozen=True)
class ArrowChunk:
    """A chunk's tables converted to Arrow in the worker: the parent only writes them."""

    n_reps: int
    tables: dict[str, pa.Table]  # file stem -> rows to append
    sums: dict[str, pd.DataFrame]


def _run_spec_arrow(args: tuple[ChunkSpec, int, int]) -> ArrowChunk:
    result = _run_spec(args)
    frames = {"replicates": result.replicates, "patients": result.patients,
              "monthly": result.monthly}
    tables = {name: pa.Table.from_pandas(frame, preserve_index=False)
              for name, frame in frames.items() if frame is not None}
    return ArrowChunk(len(result.replicates), tables, result.sums)


def iterate_chunks(
    model: TrialModel, n_reps: int, seed: int, workers: int, keep_patients: int = 0
) -> Iterator[ChunkResult]:
    """Chunk results in chunk order, computed on `workers` processes (1 = in this process)."""
    yield from map_chunks(_run_spec, model, n_reps, seed, workers, keep_patients)


def map_chunks(function, model, n_reps, seed, workers, keep_patients) -> Iterator:
    specs = plan_chunks(n_reps)
    jobs = [(spec, seed, keep_patients) for spec in specs]
    if workers <= 1 or len(specs) == 1:
        _init_worker(model)
        yield from map(function, jobs)
        return
    context = get_context("fork") if hasattr(os, "fork") else get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(specs)), mp_context=context,
        initializer=_init_worker, initargs=(model, os.getpid()),
    )
    try:
        yield from pool.map(function, jobs)
    except BaseException:  # a signal, an error, or the consumer stopped: no waiting
        stop_workers(pool)
        raise
    pool.shutdown()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_to_parquet(
    model: TrialModel, n_reps: int, seed: int, workers: int, folder: Path,
    keep_patients: int = 0, on_chunk: Callable[[int], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Write replicates.parquet (and patients.parquet when kept) into `folder`, streaming.

    Returns the additive tables summed over all chunks (see `ChunkResult.sums`).
    """
    writers = ParquetAppender(folder)
    sums: dict[str, pd.DataFrame] = {}
    pending: list[dict[str, pd.DataFrame]] = []
    chunks = map_chunks(_run_spec_arrow, model, n_reps, seed, workers, keep_patients)
    try:
        for chunk in chunks:
            for name, table in chunk.tables.items():
                writers.append(name, table)
            pending.append(chunk.sums)
            if len(pending) >= SUMS_BATCH:
                add_sums(sums, merge_sums(pending))
                pending.clear()
            if on_chunk:
                on_chunk(chunk.n_reps)
        add_sums(sums, merge_sums(pending))
    finally:
        chunks.close()  # on a failure or signal: stop the workers now, not at exit
        writers.close()
    return sums


SUMS_BATCH = 32  # chunks of count tables added up at once (bounded memory, fewer groupbys)
ROW_GROUP_ROWS = 2000  # replicate rows buffered per Parquet row group


class ParquetAppender:
    """Appends Arrow tables to `<folder>/<name>.parquet`, buffering small chunks into row
    groups of about ROW_GROUP_ROWS rows."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[pa.Table]] = {}

    def append(self, name: str, table: pa.Table) -> None:
        buffer = self.buffers.setdefault(name, [])
        buffer.append(table)
        if sum(t.num_rows for t in buffer) >= ROW_GROUP_ROWS:
            self.flush(name)

    def flush(self, name: str) -> None:
        buffer = self.buffers.get(name)
        if not buffer:
            return
        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self.folder / f"{name}.parquet",
                                                  buffer[0].schema)
        writer = self.writers[name]
        tables = [t if t.schema.equals(writer.schema) else t.cast(writer.schema)
                  for t in buffer]
        writer.write_table(pa.concat_tables(tables))
        buffer.clear()

    def close(self) -> None:
        for name in list(self.buffers):
            self.flush(name)
        for writer in self.writers.values():
            writer.close()


def merge_sums(batch: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    names = {name for sums in batch for name in sums}
    return {name: pd.concat([s[name] for s in batch if name in s], ignore_index=True)
            for name in names}


def add_sums(total: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame]) -> None:
    """Add a chunk's count tables into the running totals (kept small by grouping)."""
    for name, frame in new.items():
        keys = [c for c in frame.columns if c != "count"]
        both = frame if name not in total else pd.concat([total[name], frame])
        total[name] = both.groupby(keys, as_index=False, sort=True, observed=True)["count"].sum()


