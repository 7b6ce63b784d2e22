"""One Monte Carlo run of one scenario into one output folder (`sim.simulate`, `python -m sim run`).

The folder is written whole or not at all: everything goes to a hidden staging folder beside
it, which replaces the target only once complete. An existing folder is replaced only with
``force``. Each finished chunk is kept there as a checkpoint (`sim.storage.checkpoints`), so an
interrupted run continues with ``resume``: same tables, byte for byte.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.engine.chunk import TrialModel
from sim.scenario import Scenario, ScenarioError, scenario_to_dict
from sim.storage.folders import check_replaceable, check_target_path, resumable_folder

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from sim.engine.executors import KeptTable, PointJob, PointTables


@dataclass(frozen=True)
class RunOutputs:
    folder: Path
    summary: pd.DataFrame
    timeline: pd.DataFrame
    wall_seconds: float
    warnings: tuple[str, ...] = ()  # doubts about the design (also in the manifest)


def check_out_folder(out: Path, force: bool, kind: str = "run") -> None:
    """Raise ScenarioError unless `out` may be written: absent, or a `kind` folder whose
    every file sim's records list, and `force` (see `sim.storage.folders`). Checked again,
    under the lock, when writing."""
    check_target_path(out)
    check_replaceable(out, force, kinds=[kind])


def run_identity(scenario: Scenario, seed: int, reps: int, keep_patients: int) -> dict:
    """What a resumed run must share with the interrupted one (see `sim.storage.checkpoints`)."""
    from sim.engine.executors import chunk_layout
    from sim.engine.versions import METRICS_VERSION, package_versions

    return {
        "kind": "run",
        "scenario": scenario_to_dict(scenario),
        "seed": seed,
        "replicates": reps,
        "keep_patients": keep_patients,
        **chunk_layout(),
        "metrics_version": METRICS_VERSION,
        "versions": package_versions(),
    }


def plain(value: Any) -> Any:
    """`value` as JSON-ready data, the same in every interpreter: dataclasses as their
    fields, arrays as lists, sets sorted, floats as their shortest repr, dates in ISO."""
    import dataclasses
    import datetime as dt

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, float):
        return repr(value)  # nan and inf too, which JSON lacks
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    return repr(value)


def fingerprint(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (`plain`): what a resumed job must match.
    Never a pickle, whose bytes depend on the interpreter's per-process hash seed."""
    import hashlib
    import json

    text = json.dumps(plain(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def print_note(text: str) -> None:
    print(text, file=sys.stderr)


def staging_chooser(
    out: Path, identity: dict, resume: bool, note: Callable[[str], None]
) -> Callable[[list[Path]], Path | None]:
    """For `resumable_folder`: with `resume`, the interrupted job of `out` that computes the
    same thing (refused, naming what differs, if none does); without, None (a new staging
    folder), saying that --resume exists when there is an interrupted job."""
    from sim.storage.checkpoints import finished_work, identity_differences, read_checkpoint

    kind = identity["kind"]

    def choose(found: list[Path]) -> Path | None:
        records = [(folder, read_checkpoint(folder)) for folder in found]
        if resume and records:
            for folder, record in records:
                if record["identity"] == identity:
                    return folder
            folder, record = records[0]
            differ = identity_differences(record["identity"], identity)
            shown = "; ".join(differ[:5]) + (
                f"; and {len(differ) - 5} more" if len(differ) > 5 else ""
            )
            raise ScenarioError(
                f"--resume: the interrupted {record['identity'].get('kind', 'run')} in "
                f"{folder} computes something else: {shown}; resume with the same scenario, "
                f"--set, --seed, --reps and --keep-patients as before, or run without "
                f"--resume to start again"
            )
        if resume:
            note(f"--resume: no interrupted {kind} of {out} found; starting from the first chunk")
        elif records:
            folder = records[0][0]
            note(
                f"note: {folder} holds an interrupted {kind} of {out} "
                f"({finished_work(folder)} chunk(s) done); this {kind} starts again from "
                f"the first chunk; to continue that one instead, stop this one (Ctrl-C) "
                f"and add --resume"
            )
        return None

    return choose


def interruption_keeper(note: Callable[[str], None]) -> Callable[[Path, BaseException], bool]:
    """For `resumable_folder`: after an interruption (a signal, Ctrl-C, a lost cluster, an
    error), keep a staging folder that holds finished chunks (and say so, in the one line a
    stop signal prints); else remove it. A full disk or a folder that cannot be written
    leaves nothing behind (the checkpoints would fill it)."""
    from sim.storage.checkpoints import finished_work
    from sim.storage.folders import USER_FIXABLE
    from sim.storage.lifetime import Interrupted

    def keep(staging: Path, exc: BaseException) -> bool:
        if isinstance(exc, OSError) and exc.errno in USER_FIXABLE:
            return False
        kept = finished_work(staging)
        if not kept:
            return False
        text = (
            f"{kept} finished chunk(s) kept in {staging}; the same command with --resume continues"
        )
        if isinstance(exc, Interrupted):
            exc.outcome = text
        else:
            note(f"interrupted: {text}")
        return True

    return keep


def finish_point(
    folder: Path, scenario: Scenario, reps: int, tables: PointTables, record: dict
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """A point's tables from its Parquet and summed counts (`tables`), its doubts in the
    manifest; manifest.json last (a point folder with a manifest is complete); then its
    checkpoints go. The monthly figures come last: the monthly table may still be being
    written (`PointTables.monthly`, kept in memory when small, else read from its file).
    Returns (summary, timeline, warnings)."""
    from sim.engine.results import (
        ParquetColumns,
        summarize,
        summary_warnings,
        timeline,
        write_json,
    )
    from sim.stats.design import design_warnings
    from sim.storage.checkpoints import CHUNKS

    for name, table in tables.sums.items():
        per_trial_table(table, reps).to_csv(folder / f"{name}.csv", index=False)
    replicates = ParquetColumns(folder / "replicates.parquet")  # a column at a time
    summary = summarize(replicates, scenario)
    summary.to_csv(folder / "summary.csv", index=False)
    milestones = timeline(replicates, scenario)
    milestones.to_csv(folder / "timeline.csv", index=False)
    monthly = tables.monthly()
    if (folder / "monthly.parquet").exists():
        for name, table in with_supply_to_end(
            monthly_quantiles(folder / "monthly.parquet", monthly)
        ).items():
            table.to_csv(folder / f"{name}.csv", index=False)
    doubts = (*design_warnings(scenario), *summary_warnings(summary, scenario))
    record["warnings"] = list(doubts)
    write_json(folder / "manifest.json", record)
    shutil.rmtree(folder / CHUNKS, ignore_errors=True)
    return summary, milestones, doubts


def count_done(job: PointJob) -> int:
    """Replicates of `job` already kept as finished chunks (by their markers)."""
    from sim.storage.checkpoints import read_marker

    return sum(
        n
        for c, n in job.expected().items()
        if (read_marker(job.folder, c) or {}).get("replicates") == n
    )


@contextmanager
def checkpointed_pool(
    out: Path,
    force: bool,
    *,
    identity: dict,
    resume: bool,
    note: Callable[[str], None],
    executor: str,
    models: list[TrialModel],
    workers: int,
    scheduler: str | None,
) -> Iterator[tuple[Any, Path]]:
    """The executor for `models` and the staging folder of `out` (resumed when `resume`
    finds an interrupted run with the same `identity`), its checkpoint record written: what
    a run and a sweep both need before their first chunk."""
    with (
        executor_for(executor, models, workers, scheduler, note) as pool,
        checkpointed_folder(out, force, identity=identity, resume=resume, note=note) as staging,
    ):
        yield pool, staging


@contextmanager
def executor_for(
    executor: str,
    models: list[TrialModel],
    workers: int,
    scheduler: str | None,
    note: Callable[[str], None],
) -> Iterator[Any]:
    """The executor (`local` or `dask`) for `models`, whose dashboard is noted."""
    from sim.engine.executors import make_executor

    with make_executor(executor, models, workers, scheduler) as pool:
        link = getattr(pool, "dashboard", lambda: None)()
        if link:
            note(f"Dask dashboard (progress, task stream, workers): {link}")
        yield pool


@contextmanager
def checkpointed_folder(
    out: Path, force: bool, *, identity: dict, resume: bool, note: Callable[[str], None]
) -> Iterator[Path]:
    """The staging folder of `out` (resumed when `resume` finds an interrupted run with the
    same `identity`), its checkpoint record written."""
    from sim.storage.checkpoints import read_checkpoint, write_checkpoint

    with resumable_folder(
        out,
        force,
        staging_chooser(out, identity, resume, note),
        interruption_keeper(note),
        kinds=[identity["kind"]],
    ) as staging:
        if read_checkpoint(staging) is None:
            write_checkpoint(staging, identity)
        yield staging


def run_scenario(
    scenario: Scenario,
    out: Path,
    *,
    reps: int,
    seed: int,
    workers: int,
    keep_patients: int = 0,
    force: bool = False,
    scenario_path: str = "",
    overrides: list[str] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    model: TrialModel | None = None,
    before_publish: Callable[[Path], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    resume: bool = False,
    note: Callable[[str], None] = print_note,
    on_resume: Callable[[int], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> RunOutputs:
    """Run `scenario` into `out` on the named executor (`local` or `dask`), keeping each
    finished chunk as a checkpoint; with `resume`, continue the interrupted run of `out`.

    `model` replaces the scenario's own (a forecast passes one with its continuation);
    `before_publish(staging)` adds files to the run before it is moved into place;
    `on_resume(n)` is told the replicates already done before the first fresh chunk;
    `on_start()` is called once the chunks are asked for (on a local pool of several
    workers, a fresh run's workers then have their first chunks; on Dask, with one worker
    or on resume, they are computed as the results are read).

    A run that resumes nothing asks for its chunks as soon as its target is locked and its
    staging folder made, then imports what finishing it needs while the local pool's
    workers compute.
    """
    from sim.engine.executors import PointJob, run_points, start_fresh
    from sim.storage.checkpoints import CHECKPOINT

    check_out_folder(out, force)
    continuation = model.continuation if model is not None else None
    model = model or TrialModel.from_scenario(scenario)
    with executor_for(executor, [model], workers, scheduler, note) as pool:
        started = time.perf_counter()
        identity = run_identity(scenario, seed, reps, keep_patients)
        if continuation is not None:
            # its continuation (the fitted observed trial) is part of what is computed
            identity["model"] = fingerprint(continuation)
        with checkpointed_folder(
            out, force, identity=identity, resume=resume, note=note
        ) as staging:
            # the target locked and its staging folder made: no work is started that a
            # refused target would abandon
            fresh = None if resume else start_fresh(pool, reps, seed, keep_patients)
            if on_start:
                on_start()
            prepare_finish()
            job = PointJob(staging, reps, seed, keep_patients)
            done = count_done(job)
            if on_resume:
                on_resume(done)
            if done:
                note(f"resuming {staging}: {done:,} of {reps:,} replicates already done")
            finished: list[tuple[float, tuple]] = []

            def finish(_: int, tables: PointTables) -> None:
                # while the monthly table is written (`sim.engine.executors.tables_written`)
                wall = time.perf_counter() - started
                from sim.engine.results import manifest  # (imported by `prepare_finish`)

                record = manifest(
                    scenario,
                    scenario_path,
                    list(overrides or []),
                    seed,
                    reps,
                    workers,
                    keep_patients,
                    wall,
                )
                record.update(executor=executor, scheduler=scheduler, resumed_replicates=done)
                finished.append((wall, finish_point(staging, scenario, reps, tables, record)))

            run_points(pool, [job], on_chunk, on_point=finish, started=fresh)
            ((wall, (summary, milestones, doubts)),) = finished
            (staging / CHECKPOINT).unlink()
            if before_publish is not None:
                before_publish(staging)
    return RunOutputs(out, summary, milestones, wall, doubts)


def prepare_finish() -> None:
    """Import what writing a run's tables and summary needs (pyarrow.parquet, the metric
    table), which the workers do not: called while they compute the first chunks, not once
    the last is in."""
    import pyarrow.parquet  # noqa: F401

    import sim.engine.results  # noqa: F401


def per_trial_table(sums: pd.DataFrame, reps: int) -> pd.DataFrame:
    """Counts summed over replicates -> mean per simulated trial, one column per `what`."""
    keys = [c for c in sums.columns if c not in ("what", "count")]
    wide = sums.assign(count=sums["count"] / reps).pivot_table(
        index=keys, columns="what", values="count", fill_value=0.0, observed=False
    )
    wide.columns = wide.columns.astype(str)
    return wide.reset_index().rename_axis(columns=None)


def monthly_items(names: list[str]) -> dict[tuple[str, str], list[str]]:
    """The monthly table's ``<table>/<item>/<YYYY-MM>`` columns grouped by (table, item),
    months in column order."""
    items: dict[tuple[str, str], list[str]] = {}
    for column in names:
        if column.count("/") == 2:
            table, item, _ = column.split("/")
            items.setdefault((table, item), []).append(column)
    return items


def monthly_quantiles(path: Path, kept: KeptTable | None = None) -> dict[str, pd.DataFrame]:
    """Per (table, item, month): mean and 5/50/95% quantiles across replicates, and the same
    for the running total from the first month, rounded (`round_monthly`), up to the last
    month with any activity (`drop_idle_months`). Reads MONTH_BLOCK months at a time and
    carries the running total from block to block, so memory stays flat in the number of
    months and items; the figures are those of each month's column on its own (the same
    additions in the same order: `month_statistics`). A table's months after the last one
    in which some item other than a utilization has a value other than 0 (by the file's
    column statistics: `quiet_columns`) are not read: `drop_idle_months` drops them.
    `kept`: the file's table as just written (`sim.engine.executors.KeptTable`), read instead
    of the file: the same columns, the same statistics."""
    import pyarrow.parquet as pq

    file = kept if kept is not None else pq.ParquetFile(path)
    names = file.schema_arrow.names
    tables: dict[str, dict[str, list[str]]] = {}
    for (table, item), cols in monthly_items(names).items():
        tables.setdefault(table, {})[item] = cols
    quiet = quiet_columns(file, names)
    out = {}
    for table, items in tables.items():
        until = last_busy_month(items, quiet)
        frame = table_quantiles(file, items, until)
        if until is not None and last_active_month(frame) is None:
            # no month is active once rounded: the table keeps every month
            frame = table_quantiles(file, items, None)
        out[table] = drop_idle_months(frame)
    return out


def table_quantiles(
    file: pq.ParquetFile, items: dict[str, list[str]], until: str | None
) -> pd.DataFrame:
    """`monthly_quantiles`' figures of one table's `items` (item -> its month columns), each
    item's months up to its last column of a month no later than `until` (all: None)."""
    columns: dict[str, list] = {"item": [], "month": []}
    for item, cols in items.items():
        months = [month_of(c) for c in cols]
        if until is not None:
            kept = 1 + max((i for i, m in enumerate(months) if m <= until), default=-1)
            cols, months = cols[:kept], months[:kept]
        # a running total of a ratio (utilization) means nothing: its columns stay empty
        ratio = is_ratio(item)
        stats: dict[str, list[np.ndarray]] = {}
        running = None
        for stored in month_blocks(file, cols):
            values = stored.astype(np.float64)
            # the stored float32s sort as their float64s do (rows of other types: None)
            series = [("", values, stored if stored.dtype == np.float32 else None)]
            if not ratio:
                running = running_totals(values, running)
                series.append(("cumulative_", running, None))
                running = running[-1]
            for prefix, data, narrow in series:
                for name, figures in month_statistics(data, narrow).items():
                    stats.setdefault(f"{prefix}{name}", []).append(figures)
        # the table's columns gathered item after item, one frame at the end
        columns["item"].extend([item] * len(cols))
        columns["month"].extend(months)
        for key in MONTHLY_FIGURES:
            figures = np.concatenate(stats[key]) if key in stats else np.full(len(cols), np.nan)
            columns.setdefault(key, []).append(round_monthly(figures, ratio))
    return pd.DataFrame(
        {
            key: parts if key in ("item", "month") else np.concatenate(parts)
            for key, parts in columns.items()
        }
    )


def is_ratio(item: str) -> bool:
    """A monthly item that is a share of capacity (a utilization): no running total, and
    not activity (it counts the clinic's background load too)."""
    return "utilization" in item


def month_of(column: str) -> str:
    """The ``YYYY-MM`` of a monthly column ``<table>/<item>/<YYYY-MM>``."""
    return column.split("/")[2]


def quiet_columns(file: pq.ParquetFile, names: list[str]) -> set[str]:
    """The columns of `file` (named `names`) whose every value is 0 (or missing), by the
    statistics of each of their column chunks (a least and a greatest value both 0; NaN is
    left out of them); a column chunk without statistics is not quiet."""
    meta = file.metadata
    if meta.num_columns != len(names):  # nested columns: the leaves are not the names
        return set()
    loud: set[int] = set()
    for group in range(meta.num_row_groups):
        chunks = meta.row_group(group)
        for j in range(meta.num_columns):
            if j in loud:
                continue
            figures = chunks.column(j).statistics
            if figures is None or not figures.has_min_max or figures.min != 0 or figures.max != 0:
                loud.add(j)
    return {name for j, name in enumerate(names) if j not in loud}


def last_busy_month(items: dict[str, list[str]], quiet: set[str]) -> str | None:
    """The last month in which an item other than a utilization has a column that is not
    quiet (`quiet_columns`), or None when there is none."""
    return max(
        (
            month_of(c)
            for item, cols in items.items()
            if not is_ratio(item)
            for c in cols
            if c not in quiet
        ),
        default=None,
    )


MONTHLY_FIGURES = tuple(
    f"{prefix}{name}" for prefix in ("", "cumulative_") for name in ("mean", "q05", "q50", "q95")
)


def month_statistics(data: np.ndarray, narrow: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Mean and 5/50/95% quantiles of each row of `data` (months, replicates), C-contiguous:
    each row's mean is its own 1-D sum (pairwise, as a column's ``mean()`` adds it), each
    quantile the one of its row alone. `narrow`: `data`'s values as float32 when they all
    are float32s (`row_percentiles`), or None."""
    q05, q50, q95 = row_percentiles(data, (5, 50, 95), narrow)
    return {"mean": data.mean(axis=1), "q05": q05, "q50": q50, "q95": q95}


def row_percentiles(
    data: np.ndarray, percents: tuple[float, ...], narrow: np.ndarray | None = None
) -> np.ndarray:
    """``np.percentile(data, percents, axis=1)`` (its default method, "linear") to the last
    bit, for (rows, values) float64 `data`, from each row's order statistics
    (`order_statistics`): the same ones and numpy's own arithmetic between them (its
    `_lerp`; a row with a NaN gives that NaN), in a third of numpy's time on the monthly
    table's rows (its partition works across rows, a strided copy of each). With a -0.0 in
    `data`, numpy's own. `narrow`: `data`'s values as float32, when every one of them is
    a float32 (widened to float64 exactly), or None."""
    n = data.shape[1]
    if (
        n == 0
        or data.dtype != np.float64
        or (np.signbit(data).any() and np.signbit(data[data == 0]).any())
    ):
        # numpy's answer then depends on where its partition leaves -0.0 among the 0.0
        return np.percentile(data, percents, axis=1)
    virtual = (n - 1) * np.true_divide(np.asarray(percents, dtype=float), 100)
    below = np.floor(virtual).astype(np.intp)
    below[virtual >= n - 1] = -1  # the last value, as numpy takes it
    above = np.where(below == -1, -1, below + 1)
    ordered = order_statistics(data, np.concatenate([below, above, [-1]]) % n, narrow)
    gamma = (virtual - below)[:, None]
    low, high = ordered[:, below].T, ordered[:, above].T
    diff = high - low
    result = np.add(low, diff * gamma)
    np.subtract(high, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    last = ordered[:, -1]
    np.copyto(result, last, where=np.isnan(last))
    return result


def order_statistics(
    data: np.ndarray, positions: np.ndarray, narrow: np.ndarray | None = None
) -> np.ndarray:
    """The rows of (rows, values) float64 `data` with, at each of `positions`, the value a
    sort would put there (the largest last: a row's NaN if it has one); the other places
    hold the row's other values. With `narrow` (`data` as float32, exactly: the monthly
    table's stored values), its rows sorted, then widened (the same order, half the time of
    a float64 sort); else `data` partitioned at `positions` (the running totals: two thirds
    of a sort's time, though more instructions)."""
    if narrow is not None:
        return np.sort(narrow, axis=1).astype(np.float64)
    return np.partition(data, np.unique(positions), axis=1)


def running_totals(values: np.ndarray, carried: np.ndarray | None) -> np.ndarray:
    """(months, replicates) running totals of the rows of `values`, after `carried` (the
    total before them, or None): one addition a month, in order (np.cumsum's along the
    months, a row at a time: a third of its time on these blocks)."""
    totals = np.empty_like(values)
    for month, row in enumerate(values):
        if carried is None:
            totals[month] = row
        else:
            np.add(carried, row, out=totals[month])
        carried = totals[month]
    return totals


MONTH_BLOCK = 12  # monthly columns read from Parquet at once (fewer reads, little memory)


def month_blocks(file: pq.ParquetFile, columns: list[str]) -> Iterator[np.ndarray]:
    """`columns` of a monthly Parquet table as (months, replicates) blocks of MONTH_BLOCK
    months (a month a row, contiguous), in order: float32 when every column of the block
    is float32 (as the run stores them), else float64."""
    import pyarrow as pa

    for start in range(0, len(columns), MONTH_BLOCK):
        # one thread: the main process shares the cores with the workers (half the CPU)
        block = file.read(columns=columns[start : start + MONTH_BLOCK], use_threads=False)
        single = all(kind == pa.float32() for kind in block.schema.types)
        values = np.empty((block.num_columns, block.num_rows), np.float32 if single else float)
        for i in range(block.num_columns):
            values[i] = block.column(i).to_numpy()
        yield values


SUPPLY_UNTIL = {"supply": "final analysis", "supply_to_end": "end of treatment"}


def with_supply_to_end(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """supply.csv holds both counts, told apart by its first column `until`: drug dispensed
    up to each replicate's final analysis, and up to the end of treatment (patients go on
    being treated after the analysis; each table ends with its last month of activity)."""
    if "supply_to_end" not in tables:
        return tables
    out = {k: v for k, v in tables.items() if k not in SUPPLY_UNTIL}
    out["supply"] = pd.concat(
        [
            tables[name].assign(until=until)[["until", *tables[name].columns]]
            for name, until in SUPPLY_UNTIL.items()
            if name in tables
        ],
        ignore_index=True,
    )
    return out


def round_monthly(figures: np.ndarray, ratio: bool) -> np.ndarray:
    """Sensible precision (the series are float32 sums): 4 decimals for a ratio, 2 else
    (`ndarray.round`, what a Series' ``round`` does)."""
    return figures.round(4 if ratio else 2)


def drop_idle_months(table: pd.DataFrame) -> pd.DataFrame:
    """Without the months after the last one in which anything happened (every item's
    per-month figures 0), so a table ends with its activity, not with the month grid. A
    utilization counts the clinic's background load too, so it does not show activity."""
    last = last_active_month(table)
    if last is None:
        return table
    return table[table["month"] <= last].reset_index(drop=True)


def last_active_month(table: pd.DataFrame) -> str | None:
    """The last month of `table` in which an item other than a utilization has a per-month
    figure other than 0 (None: no such month)."""
    monthly = [c for c in ("mean", "q05", "q50", "q95") if c in table]
    trial = ~table["item"].map(is_ratio).astype(bool)
    active = table.loc[trial & (table[monthly].fillna(0) != 0).any(axis=1), "month"]
    return None if active.empty else active.max()
