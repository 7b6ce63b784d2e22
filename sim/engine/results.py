"""Output tables of a run: summary.csv, timeline.csv, manifest.json.

Every summary metric carries its Monte Carlo standard error and a 95% interval:
- shares (power, p_target_by_completion): se = sqrt(p(1-p)/R), Wilson score interval;
- means: se = sd/sqrt(R), normal interval;
- medians: distribution-free order-statistic interval (binomial(R, 1/2) ranks), and
  se = interval width / (2 x 1.96).
The interval is the uncertainty of the estimate (it shrinks with more replicates); the
spread of the per-replicate values is in `q05` and `q95` (5% and 95% quantiles over
replicates, empty for shares): what one trial may see. Which metrics there are, how each is
computed from the replicates table, and its `unit` and `meaning` come from the one table of
metrics, `sim.engine.metric_table` (add new metrics there).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sim.engine.chunk import CHUNK_SIZE, MILESTONES, STAGES
from sim.engine.metric_table import run_metrics
from sim.engine.metrics import Context, look_count
from sim.engine.versions import METRICS_VERSION, package_versions
from sim.scenario import DAYS_PER_MONTH, Scenario, ScenarioError, scenario_to_dict

Z95 = float(special.ndtri(0.975))
RUN_HINT = "give a folder written by `python -m sim run SCENARIO --out FOLDER`"
SUMMARY_COLUMNS = (
    "metric",
    "unit",
    "estimate",
    "mc_se",
    "ci_low",
    "ci_high",
    "q05",
    "q95",
    "meaning",
)


def share_row(name: str, flags: np.ndarray) -> dict[str, Any]:
    flags = np.asarray(flags, dtype=float)
    r = len(flags)
    p = flags.mean()
    denom = 1 + Z95**2 / r
    centre = (p + Z95**2 / (2 * r)) / denom
    half = Z95 * np.sqrt(p * (1 - p) / r + Z95**2 / (4 * r * r)) / denom
    # at p = 0 or 1 one end is 0 or 1 up to rounding (4e-19): say so exactly
    low, high = (round(x, 12) for x in (centre - half, centre + half))
    return row(name, p, np.sqrt(p * (1 - p) / r), low, high)


def mean_row(name: str, values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return row(name, np.nan, np.nan, np.nan, np.nan)
    m = values.mean()
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return {**row(name, m, se, m - Z95 * se, m + Z95 * se), **spread(values)}


def spread(values: np.ndarray) -> dict[str, float | None]:
    """5% and 95% quantiles of per-replicate values (+inf, never happened, sorts last)."""
    qs = np.quantile(values, [0.05, 0.95], method="inverted_cdf") if len(values) else [np.nan] * 2
    return {
        "q05": float(qs[0]) if np.isfinite(qs[0]) else None,
        "q95": float(qs[1]) if np.isfinite(qs[1]) else None,
    }


@functools.lru_cache(maxsize=64)  # a summary asks for the same few (r, q) ~90 times
def order_statistic_ranks(r: int, q: float, tail: float = 0.025) -> tuple[int, int]:
    """(lo, hi) ranks of the order-statistic interval of the q-quantile of r values:
    lo = binom.ppf(tail, r, q), hi = min(binom.isf(tail, r, q), r - 1) as scipy.stats
    defines them (the least k with cdf(k) >= tail, the least k with sf(k) <= tail), from
    scipy.special's binomial cdf and sf on the k within 12 sd of r q (beyond them the tails
    are below 1e-30): the same ranks without importing scipy.stats (about 0.5 s)."""
    sd = math.sqrt(r * q * (1 - q))
    k = np.arange(
        max(0, int(r * q - 12 * sd) - 2), min(r, int(r * q + 12 * sd) + 2) + 1, dtype=float
    )
    low, high = special.bdtr(k, r, q) >= tail, special.bdtrc(k, r, q) <= tail
    if not (low.any() and high.any()):  # cannot happen; scipy.stats answers if it does
        from scipy import stats

        return (int(stats.binom.ppf(tail, r, q)), min(int(stats.binom.isf(tail, r, q)), r - 1))
    return int(k[np.argmax(low)]), min(int(k[np.argmax(high)]), r - 1)


def median_row(name: str, values: np.ndarray) -> dict[str, Any]:
    """Median with the order-statistic 95% interval; NaN (never happened) sorts as +inf."""
    values = np.sort(np.where(np.isnan(values), np.inf, np.asarray(values, dtype=float)))
    r = len(values)
    lo, hi = order_statistic_ranks(r, 0.5)
    est = float(np.quantile(values, 0.5, method="inverted_cdf"))
    low, high = values[max(lo - 1, 0)], values[hi]
    se = (high - low) / (2 * Z95) if np.isfinite(high) and np.isfinite(low) else np.nan
    return {**row(name, est, se, low, high), **spread(values)}


def quantile_row(name: str, values: np.ndarray, q: float) -> dict[str, Any]:
    """The q-quantile across replicates with its order-statistic 95% interval (binomial(R,
    q) ranks; se = width / (2 x 1.96)), as `median_row` for q = 1/2."""
    values = np.sort(np.where(np.isnan(values), np.inf, np.asarray(values, dtype=float)))
    r = len(values)
    lo, hi = order_statistic_ranks(r, q)
    est = float(np.quantile(values, q, method="inverted_cdf"))
    low, high = values[max(lo - 1, 0)], values[hi]
    se = (high - low) / (2 * Z95) if np.isfinite(high) and np.isfinite(low) else np.nan
    return row(name, est, se, low, high)


def row(metric: str, estimate: float, se: float, low: float, high: float) -> dict[str, Any]:
    clean = [None if not np.isfinite(x) else float(x) for x in (estimate, se, low, high)]
    names = ("metric", "estimate", "mc_se", "ci_low", "ci_high")
    return dict(zip(names, [metric, *clean], strict=True))


WHOLE_TABLE_CELLS = 2_000_000  # a replicates table up to this size is read at once (~16 MB)


class ParquetColumns:
    """A Parquet table (a run's replicates.parquet) read one column at a time: ``.columns``,
    ``name in table`` and ``table[name]`` (a Series, as in the whole DataFrame), which is
    all `summarize` and `timeline` ask of the replicates table. Memory holds one column, not
    hundreds, so it stays flat in the number of replicates. A table of at most
    WHOLE_TABLE_CELLS cells is read whole, once, instead (the same Series: ~30 reads of a
    small file cost ~30 ms more than one). Read and converted on this thread (Arrow's
    thread pool would start for a table of a few MB, its threads competing for the cores)."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.file = pq.ParquetFile(path)
        self.columns = pd.Index(self.file.schema_arrow.names)
        self.whole: pd.DataFrame | None = None
        self.small = self.file.metadata.num_rows * len(self.columns) <= WHOLE_TABLE_CELLS

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self.columns:
            raise KeyError(name)
        if self.small:
            if self.whole is None:
                self.whole = self.file.read(use_threads=False).to_pandas(use_threads=False)
            return self.whole[name]
        column = self.file.read(columns=[name], use_threads=False)
        return column.to_pandas(use_threads=False)[name]

    def __len__(self) -> int:
        return self.file.metadata.num_rows


def finite_median_row(name: str, values: np.ndarray) -> dict[str, Any]:
    """Median over the replicates where the value happened (finite), as `median_row`; a
    blank row when it happened in none."""
    held = np.isfinite(values)
    if not held.any():
        return row(name, np.nan, np.nan, np.nan, np.nan)
    return median_row(name, values[held])


def quantile(q: float) -> Callable[[str, np.ndarray], dict[str, Any]]:
    return lambda name, values: quantile_row(name, values, q)


STATISTIC_ROWS: dict[str, Callable[[str, np.ndarray], dict[str, Any]]] = {
    "share": share_row,
    "mean": mean_row,
    "median": median_row,
    "median_finite": finite_median_row,
    "q05": quantile(0.05),
    "q50": quantile(0.5),
    "q95": quantile(0.95),
}


def event_target(scenario: Scenario) -> float:
    """The analysis's event target (inf without one: no cut reaches it)."""
    return float(scenario.analysis.event_target or np.inf)


def summarize(replicates: pd.DataFrame | ParquetColumns, scenario: Scenario) -> pd.DataFrame:
    """summary.csv: one row per metric of the metric table (`sim.engine.metric_table`) that
    the run has, in the table's order (see the module docstring for the error columns)."""
    context = Context(np.datetime64(scenario.trial.completion_date, "D"))
    tests = [spec.name for spec in scenario.analysis.tests]
    metrics = run_metrics(list(replicates.columns), tests, scenario.analysis.endpoint)
    rows = []
    last: tuple[object, np.ndarray] | None = None  # a column's values serve its few rows
    for metric in metrics:
        source = (metric.columns, metric.metric.derive, tuple(metric.keys.items()))
        if last is None or last[0] != source:
            last = (source, metric.values(replicates, context))
        rows.append(STATISTIC_ROWS[metric.metric.statistic](metric.name, last[1]))
    summary = pd.DataFrame(rows)
    summary["unit"] = [m.unit for m in metrics]
    summary["meaning"] = [m.meaning for m in metrics]
    extra = [c for c in summary.columns if c not in SUMMARY_COLUMNS]
    return summary.reindex(columns=[*SUMMARY_COLUMNS, *extra])


FEW_TARGET_REACHED = 0.5  # below this share of replicates reaching the event target: warn


def summary_warnings(summary: pd.DataFrame, scenario: Scenario) -> list[str]:
    """Doubts a finished run raises, in one line each: the event target reached before the
    calendar cut in few replicates."""
    a = scenario.analysis
    found = []
    reached = summary.set_index("metric")["estimate"].get("p_target_reached")
    final = summary.set_index("metric")["estimate"].get(f"reached_look{len(a.looks)}")
    if a.looks and reached is not None and final:  # among the trials not stopped early
        reached = reached / final
    if (
        a.cut == "first"
        and reached is not None
        and pd.notna(reached)
        and reached < FEW_TARGET_REACHED
    ):
        target, events = (
            ("death target", "deaths") if a.endpoint == "os" else ("event target", "events")
        )
        found.append(
            f"the {target} {a.event_target} was reached before the calendar cut "
            f"{a.cut_date} in only {reached:.0%} of replicates: most final analyses have "
            f"fewer {events} than planned"
        )
    return found


TIMELINE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def date_quantiles(
    dates: np.ndarray, quantiles: tuple[float, ...] = TIMELINE_QUANTILES
) -> np.ndarray:
    """Quantiles (datetime64[D]; NaT where there are no dates) of the calendar dates of the
    replicates counted (NaT dropped): the one computation of a milestone's dates that
    timeline.csv, the figures and the report all show. Inverted CDF, so each quantile is
    one replicate's date, never the mean of two days."""
    days = np.asarray(dates, dtype="datetime64[D]")
    days = days[~np.isnat(days)].astype("int64")
    if not len(days):
        return np.full(len(quantiles), np.datetime64("NaT"), dtype="datetime64[D]")
    qs = np.quantile(days, quantiles, method="inverted_cdf")
    return qs.astype("int64").astype("datetime64[D]")


def milestone_row(
    name: str, dates: np.ndarray, counted: np.ndarray, start: np.datetime64, words: str
) -> dict[str, Any]:
    """One timeline.csv row: the date quantiles over the replicates `counted` whose `dates`
    are not NaT, the share of all replicates they are, and `words` saying who is counted."""
    dates = np.where(counted, np.asarray(dates, dtype="datetime64[D]"), np.datetime64("NaT"))
    reached = ~np.isnat(dates)
    qs = date_quantiles(dates)
    rec: dict[str, Any] = {"milestone": name}
    for q, date in zip(TIMELINE_QUANTILES, qs, strict=True):
        rec[f"q{round(q * 100):02d}"] = "" if np.isnat(date) else str(date)
    median = qs[TIMELINE_QUANTILES.index(0.5)]
    # 2 decimals: a month is 30.44 days, so the second decimal is a third of a day, the
    # finest a day-resolution date carries
    rec["median_months"] = (
        None if np.isnat(median) else round(float((median - start).astype(int)) / DAYS_PER_MONTH, 2)
    )
    rec["share_reached"] = reached.mean()
    rec["counted"] = words
    return rec


STOPPED_EARLY = "; a trial stopped early at a look holds none (it is concluded: see concluded)"
CONCLUDED = "concluded_date"


def milestone_dates(
    replicates: pd.DataFrame | ParquetColumns, scenario: Scenario, name: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """(dates, counted, words) of a milestone of timeline.csv: each replicate's date
    (datetime64[D], NaT: not reached), which replicates count (`date_quantiles` is taken
    over the counted ones that reach it) and the words saying so. The figures and the
    report take a milestone's dates from here too, so a date is the same day in all.

    The event target counts only where it is seen on or before the data cut (an analysis
    triggered by the calendar date happened without it). `concluded` is the analysis that
    concluded the trial: with interim looks, the look that stopped it early or the final
    analysis; `data_cut` and `final_analysis` then count only the trials not stopped early
    (they hold the final one)."""
    n = len(replicates)
    counted, words = np.ones(n, dtype=bool), "replicates reaching it"
    looks = "early_stop" in replicates
    early = replicates["early_stop"].to_numpy(dtype=bool) if looks else np.zeros(n, bool)
    if name == "concluded":
        column = CONCLUDED if CONCLUDED in replicates else "final_analysis_date"  # older runs
        words = (
            "every replicate: the analysis that concluded the trial, an interim look that "
            "stopped it early or the final analysis"
        )
        return replicates[column].to_numpy("datetime64[D]"), counted, words
    dates = replicates[f"{name}_date"].to_numpy("datetime64[D]")
    if name == "target_events":  # seen by the cut: the analysis has the target's events
        counted = replicates["events"].to_numpy() >= event_target(scenario)
        words = "replicates reaching it on or before the data cut"
        if looks:
            words += "; a trial stopped early at a look sees none (it is concluded: see concluded)"
    elif name.startswith("randomized_") and early.any():
        words += "; a trial stopped early randomizes nobody after the stop"
    elif name in ("data_cut", "final_analysis") and looks:
        counted, words = ~early, "replicates holding the final analysis" + STOPPED_EARLY
    return dates, counted, words


def timeline(replicates: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """timeline.csv: calendar-date quantiles of each milestone among the replicates reaching
    it (column `counted`, `milestone_dates`); `share_reached` is their share of all
    replicates. `concluded` follows the final analysis (the trial stopped at a look, or its
    final analysis held), then one row per look of a group-sequential design."""
    start = np.datetime64(scenario.trial.start_date, "D")
    rows = []
    for name in (*MILESTONES, "concluded"):
        dates, counted, words = milestone_dates(replicates, scenario, name)
        rows.append(milestone_row(name, dates, counted, start, words))
    rows += look_timeline(replicates, start)
    rows += trigger_timeline(replicates, start)
    return pd.DataFrame(rows)


def trigger_timeline(replicates: pd.DataFrame, start: np.datetime64) -> list[dict[str, Any]]:
    """With analysis triggers, one row per rule that set some concluding analysis's data cut
    (milestone `concluded_by_<rule>`; of an interim look: `look<k>_by_<rule>`): the analysis
    dates of the replicates it set, and how often (share_reached)."""
    if "analysis_trigger" not in replicates:
        return []
    rows = []
    analyses = [("concluded", CONCLUDED, "analysis_trigger", "concluding analysis's")]
    analyses += [
        (f"look{k}", f"look{k}_date", f"look{k}_trigger", f"look {k}'s")
        for k in range(1, look_count(replicates))  # the final look's: analysis_trigger
    ]
    for milestone, date_column, rule_column, whose in analyses:
        rule = replicates[rule_column].to_numpy()
        dates = replicates[date_column].to_numpy("datetime64[D]")
        rows += [
            milestone_row(
                f"{milestone}_by_{name}",
                dates,
                rule == name,
                start,
                f"replicates whose {whose} data cut the rule {name} set",
            )
            for name in sorted(set(rule) - {""})
        ]
    return rows


def look_timeline(replicates: pd.DataFrame, start: np.datetime64) -> list[dict[str, Any]]:
    """One timeline row per look of a group-sequential run (milestone `look{k}`): the
    quantiles of its analysis date among the replicates that held it, and the share held."""
    everyone = np.ones(len(replicates), dtype=bool)
    return [
        milestone_row(
            f"look{k}",
            replicates[f"look{k}_date"].to_numpy("datetime64[D]"),
            everyone,
            start,
            "replicates holding the look (not stopped before it)",
        )
        for k in range(1, look_count(replicates) + 1)
    ]


def manifest(
    scenario: Scenario,
    scenario_path: str,
    overrides: list[str],
    seed: int,
    reps: int,
    workers: int,
    keep_patients: int,
    wall_seconds: float,
) -> dict[str, Any]:
    return {
        "tool": "sim",
        "metrics_version": METRICS_VERSION,
        "command": sys.argv,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scenario_path": scenario_path,
        "overrides": overrides,
        "seed": seed,
        "replicates": reps,
        "chunk_size": CHUNK_SIZE,
        "streams": f"chunk c: SeedSequence(seed, spawn_key=(c,)).spawn({len(STAGES)}) -> "
        + ", ".join(STAGES),
        "workers": workers,
        "keep_patients": keep_patients,
        "wall_seconds": round(wall_seconds, 3),
        "versions": package_versions(),
        "scenario": scenario_to_dict(scenario),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def read_run(folder: Path, sweep_ok: bool = False) -> dict[str, Any]:
    """The manifest of a run folder (or a sweep folder, with `sweep_ok`); else ScenarioError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such folder; {RUN_HINT}")
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{folder}: not a run folder (no manifest.json); {RUN_HINT}") from None
    except (ValueError, OSError) as exc:  # bad JSON, not UTF-8, unreadable
        raise ScenarioError(f"{path}: not valid JSON ({exc}); {RUN_HINT}") from exc
    if not isinstance(manifest, dict) or manifest.get("tool") != "sim":
        raise ScenarioError(f"{path}: not a manifest written by sim; {RUN_HINT}")
    kind = manifest.get("kind", "run")
    if kind not in ("run", "sweep"):
        raise ScenarioError(f"{folder}: is a {kind} folder written by sim, not a run; {RUN_HINT}")
    is_sweep = kind == "sweep"
    if is_sweep and not sweep_ok:
        first = (manifest.get("points") or [{"name": "01_..."}])[0]["name"]
        raise ScenarioError(
            f"{folder}: is a sweep folder, not a run; compare its points instead, e.g. "
            f"{folder / first}"
        )
    needed = ("sweep.csv",) if is_sweep else ("summary.csv", "timeline.csv")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ScenarioError(
            f"{folder}: incomplete run folder (no {', '.join(missing)}); re-run it: {RUN_HINT}"
        )
    check_manifest_fields(path, manifest)
    check_run_tables(folder, manifest)
    return manifest


def check_manifest_fields(path: Path, manifest: dict[str, Any]) -> None:
    """The manifest's fields that reports, plots and compare read: a whole number of
    replicates and a seed, and a scenario that is still valid; else ScenarioError saying the
    manifest is damaged (edited by hand, or cut short)."""
    from sim.scenario import parse_scenario

    def damaged(what: str) -> ScenarioError:
        return ScenarioError(f"{path}: damaged ({what}); re-run the scenario: {RUN_HINT}")

    for name in ("replicates", "seed"):
        value = manifest.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise damaged(f"{name} = {value!r} is not a whole number")
    scenario = manifest.get("scenario")
    if not isinstance(scenario, dict):
        raise damaged(f"scenario = {scenario!r} is not a scenario")
    try:
        parse_scenario(scenario, "scenario")
    except ScenarioError as error:
        raise damaged(str(error).splitlines()[0]) from None


# The tables a run or sweep folder must hold, with the columns its readers use.
RUN_TABLES = {
    "summary.csv": ("metric", "estimate", "mc_se", "ci_low", "ci_high"),
    "timeline.csv": ("milestone", "q50"),
    "replicates.parquet": ("replicate", "final_analysis_date", "cut_reason"),
}
OPTIONAL_TABLES = {
    "patients.parquet": ("replicate", "arm", "in_analysis", "pfs_days_at_cut", "pfs_event_at_cut"),
    "resources.csv": ("item", "month"),
    "supply.csv": ("item", "month"),
}
SWEEP_TABLES = {"sweep.csv": ("point", "name", "label")}
MANIFEST_KEYS = {
    "run": ("scenario", "seed", "replicates"),
    "sweep": ("scenario", "seed", "replicates", "points"),
}


def check_table(path: Path, columns: tuple[str, ...], hint: str = RUN_HINT) -> int:
    """Raise ScenarioError unless `path` is a readable CSV or Parquet table with `columns`
    and at least one row; return its row count. Parquet is checked from its footer only."""
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            meta = pq.read_metadata(path)
            names, rows = meta.schema.to_arrow_schema().names, meta.num_rows
        else:
            frame = pd.read_csv(path)
            names, rows = list(frame.columns), len(frame)
    except pd.errors.EmptyDataError:
        raise ScenarioError(f"{path}: the file is empty; re-run it ({hint})") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(
            f"{path}: not a table sim can read ({reason}); it is damaged "
            f"or not sim's: re-run it ({hint})"
        ) from exc
    missing = [c for c in columns if c not in names]
    if missing:
        raise ScenarioError(
            f"{path}: not a table sim wrote (no column {', '.join(missing)}); re-run it ({hint})"
        )
    if rows == 0:
        raise ScenarioError(f"{path}: the table has no rows; re-run it ({hint})")
    return rows


def check_run_tables(folder: Path, manifest: dict[str, Any]) -> None:
    """The tables of a run (or sweep and its points) are there, readable and sim's."""
    kind = manifest.get("kind", "run")
    lacking = [k for k in MANIFEST_KEYS[kind] if k not in manifest]
    if lacking:
        raise ScenarioError(
            f"{folder / 'manifest.json'}: lacks {', '.join(lacking)}; it is "
            f"damaged or from another program: {RUN_HINT}"
        )
    if kind == "sweep":
        for name, columns in SWEEP_TABLES.items():
            check_table(folder / name, columns)
        points = manifest["points"]
        if not isinstance(points, list) or not all(
            isinstance(p, dict) and "name" in p and "label" in p for p in points
        ):
            raise ScenarioError(
                f"{folder / 'manifest.json'}: its points are damaged; re-run the sweep ({RUN_HINT})"
            )
        for point in points:
            read_run(folder / str(point["name"]))
        check_recorded_hashes(folder, manifest)
        return
    for name, columns in RUN_TABLES.items():
        check_table(folder / name, columns)
    for name, columns in OPTIONAL_TABLES.items():
        if (folder / name).exists():
            check_table(folder / name, columns)
    check_recorded_hashes(folder, manifest)


def check_recorded_hashes(folder: Path, manifest: dict[str, Any]) -> None:
    """The CSV tables of a folder (and of a sweep's points) are the bytes sim wrote: their
    sha256 is the one the manifest's ``files`` records. A table cut short at a row boundary
    still parses, so only its hash shows that rows are missing (the Parquet tables are
    checked by their footers instead: hashing them would read every replicate)."""
    from sim.storage.folders import listed_files, sha256_of

    listed = listed_files(manifest) or {}
    for name, recorded in listed.items():
        if not name.endswith(".csv") or not (folder / name).is_file():
            continue
        if sha256_of(folder / name) != recorded:
            raise ScenarioError(
                f"{folder / name}: changed since sim wrote it (its sha256 is not the one "
                "manifest.json records): it is damaged or was edited; re-run it "
                f"({RUN_HINT})"
            )
