"""Monte Carlo: run the chunks of a run (or of every point of a sweep) on one executor and
stream the results to disk, chunk by chunk, in chunk order.

Chunk c holds replicates [c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE) and draws only from its own
streams (see `sim.engine.chunk`), so results do not depend on the executor, the number of
workers or the order in which chunks finish. `simulate_chunk` is a pure function of (scenario,
seed, chunk), the unit an executor schedules. Two executors stand behind one interface
(`map_ordered`: tasks in, results out in task order, at most a window of tasks in flight, so
the client's memory stays flat in the number of replicates):

- `LocalExecutor`: a process pool on this machine (or this process, with one worker);
- `DaskExecutor`: a `dask.distributed` cluster, an existing scheduler or a `LocalCluster`.

Each executor receives the trial models (one per point of a sweep) once per worker: the pool's
initializer, Dask's broadcast scatter. Workers encode each chunk's tables as Arrow IPC bytes;
the client keeps them as the chunk's checkpoint (`sim.storage.checkpoints`) and appends them to
the run's Parquet tables, so a resumed run is byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.engine.chunk import (
    CHUNK_SIZE,
    ChunkResult,
    TrialModel,
    clinic_key,
    draws_key,
    simulate_chunks,
)
from sim.scenario import ScenarioError
from sim.storage import checkpoints
from sim.storage.checkpoints import read_table_bytes
from sim.storage.lifetime import (
    STOP_SECONDS,
    end_processes,
    init_worker_process,
    quiet_pool_manager,
    raise_if_stopped,
    stop_workers,
)

if TYPE_CHECKING:
    import pyarrow.parquet as pq

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class ChunkSpec:
    chunk: int
    first_rep: int
    n_reps: int


def chunk_layout() -> dict[str, Any]:
    """The stream layout, part of what a resumed run must share with the interrupted one."""
    return {
        "chunk_size": CHUNK_SIZE,
        "streams": "chunk c: SeedSequence(seed, spawn_key=(c,)).spawn(4)",
    }


def plan_chunks(n_reps: int, chunk_size: int = CHUNK_SIZE) -> list[ChunkSpec]:
    return [
        ChunkSpec(c, start, min(chunk_size, n_reps - start))
        for c, start in enumerate(range(0, n_reps, chunk_size))
    ]


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: chunk `spec` of point `point` (an index into the executor's models),
    and of the points `shared` whose clinic it shares (`sim.engine.chunk.simulate_chunks`)."""

    point: int
    spec: ChunkSpec
    seed: int
    keep_patients: int
    shared: tuple[int, ...] = ()

    @property
    def points(self) -> tuple[int, ...]:
        return (self.point, *self.shared)


@dataclass(frozen=True)
class ChunkFiles:
    """A finished chunk as Parquet bytes (encoded in the worker): table name -> file."""

    point: int
    chunk: int
    n_reps: int
    files: dict[str, bytes]


_MODELS: tuple[TrialModel, ...] = ()
_MEMORY_SET = False


def _init_worker(models: TrialModel | Sequence[TrialModel], parent_pid: int | None = None) -> None:
    global _MODELS
    if parent_pid is not None:  # a worker process: see sim.storage.lifetime
        init_worker_process(parent_pid)
    _MODELS = (models,) if isinstance(models, TrialModel) else tuple(models)
    keep_freed_memory_once()


def keep_freed_memory_once() -> None:
    global _MEMORY_SET
    if not _MEMORY_SET:
        keep_freed_memory()
        _MEMORY_SET = True


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


def simulate_task(models: Sequence[TrialModel], task: ChunkTask) -> list[ChunkResult]:
    """The chunk of each of the task's points, in its order."""
    spec = task.spec
    return simulate_chunks(
        [models[i] for i in task.points],
        task.seed,
        spec.chunk,
        spec.first_rep,
        spec.n_reps,
        keep_patients=task.keep_patients,
    )


def as_stored_in_parquet(kind: pa.DataType) -> pa.DataType:
    """The Arrow type a column of `kind` reads back as from Parquet: seconds are stored as
    milliseconds (Parquet has no seconds), a list's items are named "element" (Parquet's
    list layout), a categorical's large_string categories (pandas 3's text) as string;
    every other type of a chunk's tables as it is."""
    if pa.types.is_timestamp(kind) and kind.unit == "s":
        return pa.timestamp("ms", tz=kind.tz)
    if pa.types.is_dictionary(kind) and pa.types.is_large_string(kind.value_type):
        return pa.dictionary(kind.index_type, pa.string(), kind.ordered)
    if pa.types.is_list(kind):
        item = kind.value_field
        return pa.list_(item.with_type(as_stored_in_parquet(item.type)).with_name("element"))
    return kind


def chunk_bytes(table: pa.Table) -> bytes:
    """A chunk's table as an Arrow IPC stream, its columns as a Parquet file would give them
    back (`as_stored_in_parquet`): the same table `read_table_bytes` returns from the chunk
    Parquet files of earlier versions, for a fraction of the cost (textbook replicates:
    ~0.2 ms to write and read, Parquet ~5 ms; the baseline's monthly table ~6 ms, ~170 ms)."""
    stored = stored_schema(table.schema)
    return ipc_bytes(table if stored is None else table.cast(stored))  # exact: whole seconds


def stored_schema(schema: pa.Schema) -> pa.Schema | None:
    """`schema` with its columns' types as stored in Parquet (`as_stored_in_parquet`), or
    None when that is `schema` itself."""
    stored = pa.schema(
        [f.with_type(as_stored_in_parquet(f.type)) for f in schema], metadata=schema.metadata
    )
    return None if stored.equals(schema) else stored


def ipc_bytes(table: pa.Table) -> bytes:
    """`table` as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def encode_chunk(point: int, chunk: int, result: ChunkResult) -> ChunkFiles:
    """A chunk's tables as Arrow IPC files: replicates, patients, monthly, sums-<name>."""
    frames = {
        "replicates": result.replicates,
        "patients": result.patients,
        "monthly": result.monthly,
        **{f"sums-{name}": frame for name, frame in result.sums.items()},
    }
    files = {name: frame_bytes(frame) for name, frame in frames.items() if frame is not None}
    return ChunkFiles(point, chunk, len(result.replicates), files)


def encode_chunks(task: ChunkTask, results: list[ChunkResult]) -> list[ChunkFiles]:
    """The task's chunks, one per point of `task.points`, encoded (`encode_chunk`)."""
    return [
        encode_chunk(point, task.spec.chunk, result)
        for point, result in zip(task.points, results, strict=True)
    ]


# a run's chunk tables share their layouts: each one's schema and its schema as stored in
# Parquet (`stored_schema`; None: the same)
_SCHEMAS: dict[tuple, tuple[pa.Schema, pa.Schema | None]] = {}


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """``chunk_bytes(arrow_table(frame))``, the schema as stored worked out once per layout
    (the monthly table's 2,401 columns: each field's type read and compared every chunk)."""
    table, stored = frame_table(frame)
    return ipc_bytes(table if stored is None else table.cast(stored))


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``pa.Table.from_pandas(frame, preserve_index=False)`` (`frame_table`)."""
    return frame_table(frame)[0]


def frame_table(frame: pd.DataFrame) -> tuple[pa.Table, pa.Schema | None]:
    """``pa.Table.from_pandas(frame, preserve_index=False)``, the same table (schema and its
    pandas metadata included), from_pandas itself the first time a layout is seen. After
    that the schema is the one kept for the layout (the column names, their dtypes and the
    Arrow types of the columns not of numbers or flags: what from_pandas builds the schema
    and its metadata from), columns of numbers and flags are converted a dtype's block at a
    time (the monthly table: a column per item and month, thousands) and the others one by
    one, as from_pandas converts them (`pa.array` of the column, NaN and NaT as null): about
    7x faster for the baseline's monthly table, 3x for its replicates table. With the table,
    its schema as stored in Parquet (`stored_schema`)."""
    dtypes = frame.dtypes.to_numpy()
    kinds = set(dtypes)  # a frame's few dtypes, each checked once (an isinstance is slow)
    plain = [d for d in kinds if isinstance(d, np.dtype) and d.kind in "biuf"]
    if not len(dtypes) or not frame.columns.is_unique:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return table, stored_schema(table.schema)
    blocks = [np.flatnonzero(dtypes == dtype) for dtype in plain]
    arrays: list[pa.Array | None] = [None] * len(dtypes)
    if len(plain) < len(kinds):
        others = np.ones(len(dtypes), dtype=bool)
        for at in blocks:
            others[at] = False
        for i in np.flatnonzero(others):
            arrays[i] = pa.array(frame.iloc[:, i], from_pandas=True)
    columns = frame.columns
    key = (
        columns.name,
        columns.dtype,
        tuple(columns),
        tuple(dtypes),
        tuple(None if a is None else a.type for a in arrays),
    )
    layout = _SCHEMAS.get(key)
    if layout is None:
        if len(_SCHEMAS) >= 8:  # a long-lived worker of many runs: keep a few
            _SCHEMAS.clear()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        layout = _SCHEMAS[key] = (table.schema, stored_schema(table.schema))
        return table, layout[1]
    schema, stored = layout
    for at in blocks:
        for i, values in zip(at, frame.iloc[:, at].to_numpy().T, strict=True):
            arrays[i] = pa.array(values, from_pandas=True)  # NaN as null, as from_pandas
    return pa.Table.from_arrays(arrays, schema=schema), stored


def _run_task(task: ChunkTask) -> list[ChunkFiles]:
    """In a pool worker (models from the initializer)."""
    return encode_chunks(task, simulate_task(_MODELS, task))


def _run_task_result(task: ChunkTask) -> ChunkResult:
    return simulate_task(_MODELS, task)[0]


def _run_task_with(models: Sequence[TrialModel], task: ChunkTask) -> list[ChunkFiles]:
    """On a Dask worker (models from the broadcast scatter)."""
    keep_freed_memory_once()
    return encode_chunks(task, simulate_task(models, task))


def stream_in_order(
    submit: Callable, tasks: Iterable, window: int, on_last: Callable[[], None] | None = None
) -> Iterator:
    """Results of `submit(task)` futures in task order, with at most `window` in flight.

    The first `window` tasks are submitted at once, before the first result is asked for
    (the workers compute while the caller gets ready). The next task is submitted before a
    result is handed on, so workers stay busy while the caller writes; futures not yet
    consumed are cancelled when the caller stops early. `on_last()` is called once every
    result is in, before the last one is handed on (the workers can go while the caller
    writes it and closes its files).
    """
    todo = iter(tasks)
    pending = deque(submit(task) for task in itertools.islice(todo, window))
    return results_in_order(submit, todo, pending, on_last)


def results_in_order(
    submit: Callable, todo: Iterator, pending: deque, on_last: Callable[[], None] | None
) -> Iterator:
    """The rest of `stream_in_order`: the results of the `pending` futures, then of `todo`'s
    tasks, each submitted as a result is taken."""
    try:
        while pending:
            raise_if_stopped()  # a stop signal whose exception was lost (sim.storage.lifetime)
            result = pending.popleft().result()
            for task in itertools.islice(todo, 1):
                pending.append(submit(task))
            if not pending and on_last is not None:
                on_last()
            yield result
    finally:
        for future in pending:
            future.cancel()


class LocalExecutor:
    """Chunks on `workers` processes of this machine (1 = in this process)."""

    name = "local"

    def __init__(self, models: Sequence[TrialModel], workers: int) -> None:
        self.models = tuple(models)
        self.workers = max(1, workers)
        self.pool: ProcessPoolExecutor | None = None
        # every worker process the pool started, kept here: once the pool breaks it may
        # forget them before we ask how they ended (the signal that killed one)
        self.processes: dict[int, Any] = {}
        # the pool's manager thread once the workers are told to exit (`release`): it ends
        # when they have, and `close` waits for it
        self.exiting: Any = None
        self.writer: Any = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=kind is not None)

    def release(self) -> None:
        """Tell the workers to exit once the last chunk is in, without waiting for them:
        they exit and free their memory while this process writes the tables; `close`
        waits for them (the pool's manager thread, which ends once they have)."""
        if self.pool is None or self.exiting is not None:
            return
        manager = getattr(self.pool, "_executor_manager_thread", None)
        if manager is None:  # a pool without one: wait for the workers here
            self.close()
            return
        # the result pipe's write end, which `shutdown` forgets: see `close`
        self.writer = getattr(getattr(self.pool, "_result_queue", None), "_writer", None)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.exiting = manager

    def close(self, failed: bool = False) -> None:
        """Shut the pool down; after a failure or a signal, stop the workers now."""
        if self.pool is not None:
            if self.exiting is not None:  # released: the workers have no chunk left
                self.exiting.join(STOP_SECONDS if failed else None)
                if self.exiting.is_alive():  # after a failure, those not gone are stopped
                    quiet_pool_manager()
                    end_processes(list(self.processes.values()), self.writer)
            elif failed:
                stop_workers(self.pool)
            else:
                self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = self.exiting = self.writer = None

    def describe(self) -> str:
        return f"{self.workers} worker(s)"

    def _submit(self, function: Callable, task: ChunkTask) -> Any:
        """Submit one chunk to the pool and note the worker processes it has started."""
        future = self.pool.submit(function, task)
        self.processes.update(getattr(self.pool, "_processes", None) or {})
        return future

    def map_ordered(self, tasks: Sequence[ChunkTask], function: Callable = _run_task) -> Iterator:
        """`function(task)` of each task, in task order. On the pool, the first tasks are
        submitted now, before the first result is asked for (its workers start computing
        while the caller gets ready); with one worker (or one task), in this process as the
        results are asked for."""
        if self.workers <= 1 or len(tasks) <= 1:
            return self.run_here(tasks, function)
        if self.exiting is not None:  # an earlier batch's pool, told to exit: a new one
            self.close()
        if self.pool is None:
            context = get_context("fork") if hasattr(os, "fork") else get_context("spawn")
            self.pool = ProcessPoolExecutor(
                max_workers=min(self.workers, len(tasks)),
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.models, os.getpid()),
            )
        with self.stopping_on_failure():
            # the pool is told to exit once the last chunk is in (`release`): its memory
            # is not held while this process closes the Parquet files and computes the tables
            stream = stream_in_order(
                lambda t: self._submit(function, t),
                tasks,
                window=2 * self.workers + 2,
                on_last=self.release,
            )
        return self.results_of(stream)

    def run_here(self, tasks: Sequence[ChunkTask], function: Callable) -> Iterator:
        _init_worker(self.models)
        yield from map(function, tasks)

    def results_of(self, stream: Iterator) -> Iterator:
        with self.stopping_on_failure():
            yield from stream

    @contextlib.contextmanager
    def stopping_on_failure(self) -> Iterator[None]:
        """Stop the workers now on any exception (a worker lost becomes a ScenarioError
        saying what killed it)."""
        try:
            yield
        except BrokenProcessPool as exc:  # a worker died: killed from outside
            signals = worker_signals(self.processes)
            self.close(failed=True)
            raise ScenarioError(worker_lost_message(signals)) from exc
        except GeneratorExit:  # the consumer stopped: after the last chunk, nothing to stop
            if self.exiting is None:
                self.close(failed=True)
            raise
        except BaseException:  # a signal or an error: no waiting
            self.close(failed=True)
            raise


def worker_signals(processes: dict[int, Any]) -> list[int]:
    """The signals that ended these worker processes (pid: multiprocessing.Process), where
    they are known: a process killed a moment ago may not have been reaped yet."""
    for process in processes.values():
        with contextlib.suppress(Exception):
            process.join(timeout=1)  # reaped, so its exit code is known
    codes = {process.exitcode for process in processes.values()}
    return sorted(-code for code in codes if isinstance(code, int) and code < 0)


def worker_lost_message(signals: Sequence[int]) -> str:
    """What to tell the user when a worker process ended without finishing its chunk: it was
    killed from outside the program (kill, or the system's out-of-memory killer), which is
    neither an error of sim nor of the scenario."""
    import signal as signal_module

    named = ", ".join(f"{signal_module.Signals(n).name} ({n})" for n in signals if n > 0)
    by = f" by signal {named}" if named else ""
    return (
        f"a worker process was killed from outside{by} before finishing its chunk: by a "
        "kill command, or by the system's out-of-memory killer when memory runs out "
        "(`dmesg` or `journalctl -k` says which); this is not an error of sim or of the "
        "scenario: run again with fewer --workers (or fewer --keep-patients) to need less "
        "memory, adding --resume to keep the chunks already finished"
    )


DASK_HINT = 'install it with pip install -e ".[dask]"'
CONNECT_SECONDS = 20  # to reach a scheduler given with --scheduler
HANDSHAKE_SECONDS = 5  # for it to greet us, as a Dask scheduler does at once
WORKERS_SECONDS = 60  # for the first worker of that scheduler to show up


class DaskExecutor:
    """Chunks on a `dask.distributed` cluster: the scheduler at `address`, or, without one,
    a `LocalCluster` of `workers` single-threaded processes started here and stopped at the
    end. The models are scattered to every worker once (broadcast); a worker that is lost
    has its chunks recomputed elsewhere by the scheduler."""

    name = "dask"

    def __init__(
        self, models: Sequence[TrialModel], workers: int, address: str | None = None
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ScenarioError(
                f"--executor dask: dask.distributed is not installed; {DASK_HINT}"
            ) from None
        self.cluster = None
        if address:
            check_speaks_dask(address)
            try:
                self.client = Client(address, timeout=f"{CONNECT_SECONDS}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ScenarioError(
                    f"--scheduler {address}: no Dask scheduler answered within "
                    f"{CONNECT_SECONDS} s ({type(exc).__name__}); start one with "
                    "`dask scheduler` and give the address it prints (tcp://HOST:8786)"
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=WORKERS_SECONDS)
            except TimeoutError:
                self.client.close()
                raise ScenarioError(
                    f"--scheduler {address}: the scheduler has no worker after "
                    f"{WORKERS_SECONDS} s; start some with `dask worker {address}`"
                ) from None
            check_worker_versions(self.client, address)
        else:
            import logging
            import warnings

            with warnings.catch_warnings():  # "port 8787 in use": the link we print says
                warnings.filterwarnings("ignore", message=".*already in use")
                self.cluster = LocalCluster(
                    n_workers=max(1, workers),
                    threads_per_worker=1,
                    processes=True,
                    silence_logs=logging.ERROR,
                )
            self.client = Client(self.cluster)
        self.address = address
        self.models = self.client.scatter(tuple(models), broadcast=True, hash=False)
        self.token = uuid.uuid4().hex[:8]

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=kind is not None)

    def close(self, failed: bool = False) -> None:
        """Disconnect; a LocalCluster started here is stopped (its workers with it)."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> str:
        where = self.address or "a LocalCluster"
        return f"Dask ({self.threads()} worker thread(s) on {where})"

    def dashboard(self) -> str | None:
        """The scheduler's dashboard, if it serves one (a scheduler started with
        --no-dashboard, or without bokeh, does not: distributed's `dashboard_link` would
        still name its default port)."""
        services = self.client.scheduler_info().get("services", {})
        return self.client.dashboard_link if "dashboard" in services else None

    def map_ordered(self, tasks: Sequence[ChunkTask]) -> Iterator[list[ChunkFiles]]:
        def submit(task: ChunkTask) -> Any:  # a distributed.Future
            key = f"simulate_chunk-{self.token}-{task.point}-{task.spec.chunk}"
            return self.client.submit(_run_task_with, self.models, task, key=key, pure=False)

        yield from stream_in_order(submit, tasks, window=2 * self.threads() + 2)


def check_speaks_dask(address: str) -> None:
    """Raise ScenarioError within seconds unless a TCP `address` (``tcp://HOST:PORT`` or
    ``HOST:PORT``) greets us as a Dask scheduler does: it writes its handshake first, as
    soon as a connection opens, whereas an HTTP server (the dashboard, one port away) waits
    for a request, and the Dask client would wait on it forever. Other protocols (tls://,
    ucx://) are left to the client's own timeout."""
    import socket

    text = address.removeprefix("tcp://")
    if "://" in text:
        return
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "localhost"
    if not port.isdigit():
        return  # the client reports a malformed address itself
    fix = (
        "start one with `dask scheduler` and give the address it prints "
        "(tcp://HOST:8786; 8787 is its dashboard, a web page)"
    )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS) as sock:
            sock.settimeout(HANDSHAKE_SECONDS)
            greeting = sock.recv(8)
    except TimeoutError:
        raise ScenarioError(
            f"--scheduler {address}: something listens there but does not speak Dask (no "
            f"greeting within {HANDSHAKE_SECONDS} s; a web server?); {fix}"
        ) from None
    except OSError as exc:
        raise ScenarioError(
            f"--scheduler {address}: no Dask scheduler answered ({exc.strerror or exc}); {fix}"
        ) from None
    if not greeting:
        raise ScenarioError(
            f"--scheduler {address}: the connection was closed without a Dask greeting; {fix}"
        )


def check_worker_versions(client: Any, address: str) -> None:  # a distributed.Client
    """Refuse a cluster whose workers run other versions of the packages results depend
    on (the same seed must give the same tables wherever a chunk runs)."""
    from sim.engine.versions import package_versions

    here = package_versions()
    try:
        found = client.run(package_versions)
    except Exception as exc:  # e.g. ModuleNotFoundError: sim is not installed there
        client.close()
        raise ScenarioError(
            f"--scheduler {address}: a worker cannot run sim ({type(exc).__name__}: {exc}); "
            f'install this package on every worker machine (pip install -e ".[dask]") '
            "and restart its `dask worker`"
        ) from None
    for worker, theirs in found.items():
        differ = [
            f"{name} {here[name]} here, {theirs.get(name)} there"
            for name in here
            if name != "python" and theirs.get(name) != here[name]
        ]
        if differ:
            client.close()
            raise ScenarioError(
                f"--scheduler {address}: worker {worker} runs other package versions "
                f"({'; '.join(differ)}); install the same versions on every worker"
            )


def make_executor(
    kind: str, models: Sequence[TrialModel], workers: int, scheduler: str | None = None
) -> LocalExecutor | DaskExecutor:
    """The executor named by --executor (`local` or `dask`)."""
    if kind == "dask":
        return DaskExecutor(models, workers, scheduler)
    if scheduler:
        raise ScenarioError(
            f"--scheduler {scheduler}: needs --executor dask (or leave out --executor local)"
        )
    return LocalExecutor(models, workers)


def iterate_chunks(
    model: TrialModel, n_reps: int, seed: int, workers: int, keep_patients: int = 0
) -> Iterator[ChunkResult]:
    """Chunk results in chunk order, computed on `workers` processes (1 = in this process)."""
    tasks = [ChunkTask(0, spec, seed, keep_patients) for spec in plan_chunks(n_reps)]
    with LocalExecutor([model], workers) as executor:
        yield from executor.map_ordered(tasks, _run_task_result)


def read_frame(data: bytes) -> pd.DataFrame:
    return read_table_bytes(data).to_pandas()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class PointJob:
    """The chunks of one point of a job (a run has one point): written into `folder`."""

    folder: Path
    n_reps: int
    seed: int
    keep_patients: int

    def expected(self) -> dict[int, int]:
        return {spec.chunk: spec.n_reps for spec in plan_chunks(self.n_reps)}

    def replicate_ids(self) -> dict[int, range]:
        """Each chunk's replicate ids: what its checkpoint must hold."""
        return {
            spec.chunk: range(spec.first_rep, spec.first_rep + spec.n_reps)
            for spec in plan_chunks(self.n_reps)
        }


def run_points(
    executor: LocalExecutor | DaskExecutor,
    jobs: Sequence[PointJob | None],
    on_chunk: Callable[[int], None] | None = None,
    on_point: Callable[[int, PointTables], None] | None = None,
    clinics: Sequence[str | None] | None = None,
    started: Iterator[list[ChunkFiles]] | None = None,
    draws: Sequence[str | None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> None:
    """Compute every chunk of every point not yet kept, all as one pool of tasks, and write
    each point's replicates/patients/monthly Parquet into its folder in chunk order.

    Fresh chunks are kept as checkpoints as they arrive; kept ones are read back. When a
    point's last chunk is in, its tables are written (`tables_written`) and
    `on_point(index, tables)` gets its additive tables summed over chunks and its monthly
    table's writer (`PointTables`); the monthly table is written once it returns.
    `jobs[i]` is None for a point already finished (nothing to do); `on_chunk(n)` is called
    with each fresh chunk's replicate count. Points of one `clinics` key
    (`sim.engine.chunk.clinic_key`, None: none to share) and the same replicates compute
    each chunk in one task, their clinic run once, and so do points of one `draws` key
    (`draws_key`), their clinic draws made once (`shared_tasks`). `started`: the
    executor's results of these tasks, asked for before the points' folders were ready
    (`start_fresh`: none of their chunks is kept). `on_start()` is called once the tasks are
    asked for, before the first result is read (on a local pool, while its workers compute).
    """
    done = [
        set() if job is None else checkpoints.finished_chunks(job.folder, job.replicate_ids())
        for job in jobs
    ]
    tasks: list[ChunkTask] = []
    if started is None:
        tasks = shared_tasks(jobs, done, clinics, draws)
        started = executor.map_ordered(tasks)
    elif any(done):
        raise ValueError("run_points: chunks started afresh, but some are kept already")
    if on_start:
        on_start()
    results = kept_for_mates(started, jobs, done, on_chunk)
    try:
        for i in write_order(jobs, tasks):
            job = jobs[i]
            assert job is not None
            sums = gather_point(job, done[i], results, i, on_chunk)
            with tables_written(job, sums) as tables:
                if on_point:
                    on_point(i, tables)
    finally:
        results.close()


def write_order(jobs: Sequence[PointJob | None], tasks: Sequence[ChunkTask]) -> list[int]:
    """The points with work to do, in the order in which their last chunk comes in: by the
    last of `tasks` (in the order they are computed) that has one of their chunks, points of
    one task by their index; a point without a task (its chunks all kept) first. A point
    whose chunks all come with an earlier point's (`shared_tasks`) is written as soon as they
    are in, while the workers compute the next points, not after those: the last point's
    tables are then the only ones written once the workers are done. Each point's own tasks
    are consecutive and come after those of every point before it in this order, so the
    results are read in the order they are computed."""
    last = {}
    for t, task in enumerate(tasks):
        for point in task.points:
            last[point] = t
    points = [i for i, job in enumerate(jobs) if job is not None]
    return sorted(points, key=lambda i: (last.get(i, -1), i))


def start_fresh(
    executor: LocalExecutor | DaskExecutor, n_reps: int, seed: int, keep_patients: int
) -> Iterator[list[ChunkFiles]]:
    """The results of every chunk of a run none of whose chunks is kept, asked for now (on
    the local pool the workers start on them while the caller gets ready): `run_points`'s
    `started` for that run."""
    return executor.map_ordered(
        [ChunkTask(0, spec, seed, keep_patients) for spec in plan_chunks(n_reps)]
    )


SHARED_POINTS = 4  # points at most in one task: a worker holds each one's chunk tables
# (about 34 MiB more per point for the baseline's chunk of 500: 270 MiB for one, 405 for five)


def shared_tasks(
    jobs: Sequence[PointJob | None],
    done: list[set[int]],
    clinics: Sequence[str | None] | None,
    draws: Sequence[str | None] | None = None,
) -> list[ChunkTask]:
    """The chunks to compute, in (point, chunk) order, each task led by the first point
    that needs the chunk and shared by later points that need it too (up to SHARED_POINTS
    in all): first those of its clinic (`clinics`: one SimPy run a replicate for all), then
    those of its clinic draws (`draws`: the numbers drawn once, `draws_key`)."""
    clinic_of = list(clinics) if clinics is not None else [None] * len(jobs)
    draws_of = list(draws) if draws is not None else [None] * len(jobs)
    claimed: set[tuple[int, int]] = set()
    tasks = []
    for i, job in enumerate(jobs):
        if job is None:
            continue
        for spec in plan_chunks(job.n_reps):
            if spec.chunk in done[i] or (i, spec.chunk) in claimed:
                continue
            free = [
                j
                for j in range(i + 1, len(jobs))
                if same_replicates(job, jobs[j])
                and spec.chunk not in done[j]
                and (j, spec.chunk) not in claimed
            ]
            clinic = [j for j in free if clinic_of[i] is not None and clinic_of[j] == clinic_of[i]]
            drawn = [j for j in free if draws_of[i] is not None and draws_of[j] == draws_of[i]]
            mates = tuple(
                sorted((clinic + [j for j in drawn if j not in clinic])[: SHARED_POINTS - 1])
            )
            claimed.update((j, spec.chunk) for j in mates)
            tasks.append(ChunkTask(i, spec, job.seed, job.keep_patients, mates))
    return tasks


def same_replicates(job: PointJob, other: PointJob | None) -> bool:
    return other is not None and (job.n_reps, job.seed, job.keep_patients) == (
        other.n_reps,
        other.seed,
        other.keep_patients,
    )


def kept_for_mates(
    results: Iterator[list[ChunkFiles]],
    jobs: Sequence[PointJob | None],
    done: list[set[int]],
    on_chunk: Callable[[int], None] | None,
) -> Iterator[ChunkFiles]:
    """Each task's chunk of its leading point; the chunks of the points sharing it are
    kept as their checkpoints as they arrive and are then done (`gather_point` reads them
    back when it comes to their point)."""
    try:
        for files in results:
            lead, *mates = files
            for mate in mates:
                mate_job = jobs[mate.point]
                assert mate_job is not None
                ids = mate_job.replicate_ids()[mate.chunk]
                checkpoints.save_chunk(mate_job.folder, mate.chunk, ids, mate.files)
                done[mate.point].add(mate.chunk)
                if on_chunk:
                    on_chunk(mate.n_reps)
            yield lead
    finally:
        results.close()  # the executor's futures not yet in are cancelled


def clinic_keys(models: Sequence[TrialModel]) -> list[str | None]:
    """Each model's `clinic_key` (what a sweep's points may share)."""
    return [clinic_key(model) for model in models]


def draws_keys(models: Sequence[TrialModel]) -> list[str | None]:
    """Each model's `draws_key` (the clinic draws a sweep's points may share)."""
    return [draws_key(model) for model in models]


def gather_point(
    job: PointJob,
    done: set[int],
    results: Iterator[ChunkFiles],
    index: int,
    on_chunk: Callable[[int], None] | None,
) -> dict[str, pd.DataFrame]:
    """Keep each of `job`'s fresh chunks (from `results`) as its checkpoint and add up the
    count tables of all its chunks (its kept ones read back). Returns the summed count
    tables, once every chunk is in."""
    sums: dict[str, pd.DataFrame] = {}
    pending: list[dict[str, pd.DataFrame]] = []
    for spec in plan_chunks(job.n_reps):
        ids = range(spec.first_rep, spec.first_rep + spec.n_reps)
        if spec.chunk in done:
            files = checkpoints.load_chunk(job.folder, spec.chunk, ids)
            if files is None:
                raise changed_checkpoint(job, spec.chunk)
        else:
            fresh = next(results)
            assert (fresh.point, fresh.chunk) == (index, spec.chunk)
            checkpoints.save_chunk(job.folder, fresh.chunk, ids, fresh.files)
            files = fresh.files
        pending.append(
            {
                name.removeprefix("sums-"): read_frame(data)
                for name, data in files.items()
                if name.startswith("sums-")
            }
        )
        if len(pending) >= SUMS_BATCH:
            add_sums(sums, merge_sums(pending))
            pending.clear()
        if on_chunk and spec.chunk not in done:
            on_chunk(spec.n_reps)
    add_sums(sums, merge_sums(pending))
    return sums


TABLES = ("replicates", "patients", "monthly")  # a point's Parquet tables, one row per replicate
# (patients: per kept patient)
BESIDE = ("monthly",)  # written on a thread of its own (`tables_written`)


@contextlib.contextmanager
def tables_written(job: PointJob, sums: dict[str, pd.DataFrame]) -> Iterator[PointTables]:
    """Write `job`'s Parquet tables once every chunk is in: the monthly table (BESIDE) on a
    thread of its own, the others here; then yield the point's `PointTables` (`sums`, the
    monthly table's writer), while the monthly table may still be being written.

    Encoding the monthly table's 2,401 columns (the baseline's) is pyarrow's C++ work, done
    without the GIL: the point's summary is worked out beside it, on the other core
    (`sim.engine.run.finish_point` asks for the monthly table last, `PointTables.monthly`).
    On leaving, the writer has ended and its error, if any, is raised; if the body failed,
    the writer was told to stop at its next chunk first, so nothing writes into the point's
    folder once this returns.

    A monthly table too large to be kept in memory (over KEPT_BYTES, by its chunks' files:
    a run of more than about 6,000 of the baseline's replicates) is written here, before
    the others: its writer's row groups and file metadata are then not held beside the
    summary's columns (beside them, 100,000 replicates peaked at 488 MiB, not about 440)."""
    if checkpoints.kept_bytes(job.folder, job.replicate_ids(), BESIDE) > KEPT_BYTES:
        written: Future[KeptTable | None] = Future()
        written.set_result(write_tables(job))
        yield PointTables(sums, written)
        return
    stop = threading.Event()
    thread = ThreadPoolExecutor(1, thread_name_prefix="sim-monthly")
    monthly = thread.submit(write_tables, job, BESIDE, stop)
    try:
        write_tables(job, tuple(name for name in TABLES if name not in BESIDE))
        yield PointTables(sums, monthly)
    except BaseException:
        stop.set()
        raise
    finally:
        try:
            thread.shutdown(wait=True)
        except BaseException:  # interrupted while waiting: the writer stops at its next chunk
            stop.set()
            raise
    monthly.result()


class WritingStopped(Exception):
    """A table writer told to stop (`tables_written`) before it was done."""


def write_tables(
    job: PointJob, names: tuple[str, ...] = TABLES, stop: threading.Event | None = None
) -> KeptTable | None:
    """`job`'s tables `names` as Parquet files in its folder, each chunk's rows in chunk
    order, read back from the chunks' checkpoint files (each checked against its marker);
    with `stop`, stopping before the next chunk once it is set (`WritingStopped`).

    Written once every chunk is in, not chunk by chunk as they arrive: a Parquet writer holds
    the metadata of every column chunk it has written until the file closes (about 0.8 KB per
    column and row group: the monthly table's 2,401 columns every 2,000 replicates), so a
    file written during the run would grow the main process beside the workers. The workers
    of a run are told to exit when its last chunk is in (`LocalExecutor.release`), before the
    writers start, and the writers get the chunks' tables in the same order as when they
    were written during the run: the same row groups, the same bytes. Returns the monthly
    table as written, when it is small enough to keep (`ParquetAppender.kept_table`)."""
    writers = ParquetAppender(job.folder, row_group_rows(job.n_reps), keep="monthly")
    try:
        for chunk, ids in job.replicate_ids().items():
            if stop is not None and stop.is_set():
                raise WritingStopped(f"{job.folder}: the tables' writer was stopped")
            files = checkpoints.load_chunk_tables(job.folder, chunk, ids, names)
            if files is None:
                raise changed_checkpoint(job, chunk)
            for name in names:
                if name in files:
                    writers.append(name, read_table_bytes(files[name]))
    finally:
        writers.close()
    return writers.kept_table()


def changed_checkpoint(job: PointJob, chunk: int) -> ScenarioError:
    return ScenarioError(
        f"{job.folder}: checkpoint of chunk {chunk} changed during the run; run again with --resume"
    )


def run_to_parquet(
    model: TrialModel,
    n_reps: int,
    seed: int,
    workers: int,
    folder: Path,
    keep_patients: int = 0,
    on_chunk: Callable[[int], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Write replicates.parquet (and patients.parquet when kept) into `folder`, streaming,
    on a local pool. Returns the additive tables summed over all chunks (see
    `ChunkResult.sums`)."""
    out: dict[str, pd.DataFrame] = {}
    with LocalExecutor([model], workers) as executor:
        run_points(
            executor,
            [PointJob(folder, n_reps, seed, keep_patients)],
            on_chunk,
            on_point=lambda _, tables: out.update(tables.sums),
        )
    return out


SUMS_BATCH = 32  # chunks of count tables added up at once (bounded memory, fewer groupbys)
ROW_GROUP_ROWS = 2000  # replicate rows buffered per Parquet row group, at least
FOOTER_PER_VALUE = 275  # a column chunk's metadata at its peak over the 8 bytes of a value


def row_group_rows(n_reps: int) -> int:
    """Rows per Parquet row group of a run of `n_reps` replicates: ROW_GROUP_ROWS up to
    about 14,500 replicates, then sqrt(FOOTER_PER_VALUE * n_reps) rounded up to whole
    chunks (5,500 for 100,000 replicates), so that the writer's peak when it closes the file
    grows as the square root of the replicates, not in proportion to them.

    A writer holds about 0.8 KB of metadata per column chunk (a column in a row group)
    until it closes the file, and about 2.2 KB at its peak while it closes it (the footer
    built and serialized); a row group holds 8 bytes a value in memory while it is written.
    Per column, the sum of the two, 2.2 KB * n_reps / rows + 8 B * rows, is least at
    rows = sqrt(275 * n_reps). The table read back is the same whatever the row groups."""
    rows = math.isqrt(FOOTER_PER_VALUE * n_reps)
    return max(ROW_GROUP_ROWS, -(-rows // CHUNK_SIZE) * CHUNK_SIZE)


class ParquetAppender:
    """Appends Arrow tables to `<folder>/<name>.parquet`, buffering small chunks into row
    groups of about `rows` rows (ROW_GROUP_ROWS unless given). The rows written to the file
    `keep` are also kept in memory while they take at most KEPT_BYTES (`kept`)."""

    def __init__(self, folder: Path, rows: int | None = None, keep: str | None = None) -> None:
        self.folder = folder
        self.rows = ROW_GROUP_ROWS if rows is None else rows
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[pa.Table]] = {}
        self.keep = keep
        self.kept: list[pa.Table] | None = [] if keep is not None else None
        self.kept_bytes = 0

    def append(self, name: str, table: pa.Table) -> None:
        buffer = self.buffers.setdefault(name, [])
        buffer.append(table)
        if sum(t.num_rows for t in buffer) >= self.rows:
            self.flush(name)

    def flush(self, name: str) -> None:
        buffer = self.buffers.get(name)
        if not buffer:
            return
        if name not in self.writers:
            import pyarrow.parquet as pq  # (the main process's: the workers need none)

            self.writers[name] = pq.ParquetWriter(self.folder / f"{name}.parquet", buffer[0].schema)
        writer = self.writers[name]
        tables = [t if t.schema.equals(writer.schema) else t.cast(writer.schema) for t in buffer]
        table = pa.concat_tables(tables)
        writer.write_table(table)
        buffer.clear()
        if name == self.keep and self.kept is not None:
            self.kept.append(table)
            # (its buffers' size: `nbytes` walks each column's slices, 10 ms for the
            # baseline's 2,401 columns)
            self.kept_bytes += table.get_total_buffer_size()
            if self.kept_bytes > KEPT_BYTES:
                self.kept = None  # too large to keep: read back from the file

    def close(self) -> None:
        for name in list(self.buffers):
            self.flush(name)
        for writer in self.writers.values():
            writer.close()

    def kept_table(self) -> KeptTable | None:
        """The table `keep` as written, once the files are closed (None if not kept)."""
        writer = self.writers.get(self.keep) if self.keep is not None else None
        if writer is None or not self.kept:
            return None
        # the file's metadata as the writer made it (`pq.read_metadata` of the file: ~17 ms
        # for the monthly table's 2,401 columns)
        metadata = getattr(getattr(writer, "writer", None), "metadata", None)
        if metadata is None:
            import pyarrow.parquet as pq

            metadata = pq.read_metadata(self.folder / f"{self.keep}.parquet")
        return KeptTable(pa.concat_tables(self.kept), metadata)


KEPT_BYTES = 64 * 2**20  # the most of a point's monthly table kept in memory once written


@dataclass(frozen=True)
class KeptTable:
    """A Parquet file's table as just written, kept in memory with the file's metadata:
    read as `pq.ParquetFile` reads the file (`schema_arrow`, `metadata`, `read`), without
    reading the file back (`sim.engine.run.monthly_quantiles`)."""

    table: pa.Table
    metadata: Any  # pq.FileMetaData

    @property
    def schema_arrow(self) -> pa.Schema:
        return self.table.schema

    def read(self, columns: list[str], use_threads: bool = False) -> pa.Table:
        return self.table.select(columns)


@dataclass(frozen=True)
class PointTables:
    """What `run_points` hands `on_point` once a point's replicates and patients tables are
    written: its additive tables summed over the chunks, and the writer of its monthly
    table (`tables_written`)."""

    sums: dict[str, pd.DataFrame]
    writer: Future[KeptTable | None]

    def monthly(self) -> KeptTable | None:
        """Once the monthly table is written (waiting for it): the table as written when
        kept (`KeptTable`), else None; the writer's error raised."""
        return self.writer.result()


def merge_sums(batch: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    names = {name for sums in batch for name in sums}
    return {
        name: pd.concat([s[name] for s in batch if name in s], ignore_index=True) for name in names
    }


def add_sums(total: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame]) -> None:
    """Add a chunk's count tables into the running totals (kept small by grouping)."""
    for name, frame in new.items():
        keys = [c for c in frame.columns if c != "count"]
        both = frame if name not in total else pd.concat([total[name], frame])
        total[name] = both.groupby(keys, as_index=False, sort=True, observed=True)["count"].sum()
