"""One Monte Carlo run of one scenario into one output folder (what `python -m sim run` does).

The folder is written whole or not at all: everything goes to a hidden staging folder beside
it, which replaces the target only once complete. An existing folder is replaced only with
``force``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.engine.chunk import TrialModel
from sim.engine.executors import run_to_parquet
from sim.engine.folders import check_replaceable, check_target_path, output_folder
from sim.engine.results import manifest, summarize, summary_warnings, timeline, write_json
from sim.scenario import Scenario
from sim.stats.design import design_warnings


@dataclass(frozen=True)
class RunOutputs:
    folder: Path
    summary: pd.DataFrame
    timeline: pd.DataFrame
    wall_seconds: float
    warnings: tuple[str, ...] = ()  # doubts about the design (also in the manifest)


def check_out_folder(out: Path, force: bool) -> None:
    """Raise ScenarioError unless `out` may be written: absent, or a folder sim wrote and
    `force` (see `sim.engine.folders`). Checked again, under the lock, when writing."""
    check_target_path(out)
    check_replaceable(out, force)


def run_scenario(
    scenario: Scenario, out: Path, *, reps: int, seed: int, workers: int,
    keep_patients: int = 0, force: bool = False, scenario_path: str = "",
    overrides: list[str] | None = None, on_chunk: Callable[[int], None] | None = None,
    model: TrialModel | None = None, before_publish: Callable[[Path], None] | None = None,
) -> RunOutputs:
    """`model` replaces the scenario's own (a forecast passes one with a history);
    `before_publish(staging)` adds files to the run before it is moved into place."""
    check_out_folder(out, force)
    model = model or TrialModel.from_scenario(scenario)
    with output_folder(out, force) as staging:
        started = time.perf_counter()
        sums = run_to_parquet(model, reps, seed, workers, staging, keep_patients,
                              on_chunk=on_chunk)
        for name, table in sums.items():
            per_trial_table(table, reps).to_csv(staging / f"{name}.csv", index=False)
        if (staging / "monthly.parquet").exists():
            for name, table in monthly_quantiles(staging / "monthly.parquet").items():
                table.to_csv(staging / f"{name}.csv", index=False)
        replicates = pd.read_parquet(staging / "replicates.parquet")
        summary = summarize(replicates, scenario)
        summary.to_csv(staging / "summary.csv", index=False)
        milestones = timeline(replicates, scenario)
        milestones.to_csv(staging / "timeline.csv", index=False)
        wall = time.perf_counter() - started
        doubts = (*design_warnings(scenario), *summary_warnings(summary, scenario))
        record = manifest(scenario, scenario_path, list(overrides or []), seed, reps, workers,
                          keep_patients, wall)
        record["warnings"] = list(doubts)
        write_json(staging / "manifest.json", record)
        if before_publish is not None:
            before_publish(staging)
    return RunOutputs(out, summary, milestones, wall, doubts)


def per_trial_table(sums: pd.DataFrame, reps: int) -> pd.DataFrame:
    """Counts summed over replicates -> mean per simulated trial, one column per `what`."""
    keys = [c for c in sums.columns if c not in ("what", "count")]
    wide = sums.assign(count=sums["count"] / reps).pivot_table(
        index=keys, columns="what", values="count", fill_value=0.0, observed=False
    )
    wide.columns = wide.columns.astype(str)
    return wide.reset_index().rename_axis(columns=None)


def monthly_quantiles(path: Path) -> dict[str, pd.DataFrame]:
    """Per (table, item, month): mean and 5/50/95% quantiles across replicates, and the same
    for the running total from the first month. Reads one item's columns at a time, so
    memory stays flat in the number of months x items."""
    import pyarrow.parquet as pq

    columns = [c for c in pq.read_schema(path).names if c.count("/") == 2]
    items: dict[tuple[str, str], list[str]] = {}
    for column in columns:
        table, item, _ = column.split("/")
        items.setdefault((table, item), []).append(column)
    out: dict[str, list[pd.DataFrame]] = {}
    for (table, item), cols in items.items():
        values = pq.read_table(path, columns=cols).to_pandas().to_numpy(dtype=float)
        running = np.cumsum(values, axis=1)
        frame = pd.DataFrame({"item": item, "month": [c.split("/")[2] for c in cols]})
        # a running total of a ratio (utilization) means nothing: its columns stay empty
        ratio = "utilization" in item
        for prefix, data in (("", values), ("cumulative_", running)):
            if ratio and prefix:
                for name in ("mean", "q05", "q50", "q95"):
                    frame[f"{prefix}{name}"] = np.nan
                continue
            frame[f"{prefix}mean"] = data.mean(axis=0)
            for q in (5, 50, 95):
                frame[f"{prefix}q{q:02d}"] = np.percentile(data, q, axis=0)
        out.setdefault(table, []).append(frame)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in out.items()}
