"""Output tables of a run: summary.csv, timeline.csv, manifest.json.

Every summary metric carries its Monte Carlo standard error and a 95% interval:
- shares (power, p_target_by_completion): se = sqrt(p(1-p)/R), Wilson score interval;
- means: se = sd/sqrt(R), normal interval;
- medians: distribution-free order-statistic interval (binomial(R, 1/2) ranks), and
  se = interval width / (2 x 1.96).
The interval is the uncertainty of the estimate (it shrinks with more replicates); the
spread of the per-replicate values is in `q05` and `q95` (5% and 95% quantiles over
replicates, empty for shares): what one trial may see. `unit` and `meaning` come from the one
registry of metric definitions, `sim.engine.metrics` (add new metrics there).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sim.engine.chunk import CHUNK_SIZE, MILESTONES, STAGES
from sim.engine.endpoints import ENDPOINT_PREFIXES
from sim.engine.metrics import describe_metrics
from sim.scenario import DAYS_PER_MONTH, Scenario, ScenarioError, scenario_to_dict

METRICS_VERSION = 4  # bump when a metric's definition changes; `compare` refuses mixes
# 3: with overall_survival, a death before the scan that would see a progression is the PFS
#    event (illness-death model)
# 4: KM medians as the mean of per-replicate medians; timeline's target_events counted only
#    before the data cut; unit and meaning columns
Z95 = float(special.ndtri(0.975))
RUN_HINT = "give a folder written by `python -m sim run SCENARIO --out FOLDER`"
KEY_METRICS = (
    "p_target_by_completion",
    "events_at_completion_mean",
    "power",
    "power_at_completion",
    "p_cut_by_date",
    "lpi_months_median",
    "analysis_months_median",
    "events_at_analysis_mean",
)  # sweep tables lead with these
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

QUANTILED = ("os_deaths", "ae_patients", "ae_events")  # counts: quantile rows too
PACKAGES = (
    "sim-trial",
    "numpy",
    "pandas",
    "scipy",
    "simpy",
    "pydantic",
    "pyarrow",
    "pyyaml",
    "holidays",
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


def endpoint_rows(replicates: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the secondary endpoints (columns prefixed os_, orr_, dcr_, local_control_,
    ae_): a test's `*reject` becomes `*power` (a share), hazard ratios and KM medians are
    medians across replicates, counts and rates means; death and AE counts also get their
    5/50/95% quantiles across replicates (`*_q05`, ...); `ae_at_least_<k>_<kind>` is the
    share of replicates with at least k patients with such an event."""
    rows = []
    for col in replicates.columns:
        if not col.startswith(ENDPOINT_PREFIXES) or col.endswith(("_z", "_p_value", "_date")):
            continue
        values = replicates[col].to_numpy(dtype=float)
        if col.endswith("reject"):
            rows.append(share_row(col.removesuffix("reject") + "power", values))
        elif "_at_least_" in col:  # P(at least k patients with the event)
            rows.append(share_row(col, values))
        elif col.endswith(("hazard_ratio", "_months")):
            rows.append(median_row(f"{col}_median", values))
        else:
            rows.append(mean_row(f"{col}_mean", values))
            if col.startswith(QUANTILED):
                rows += [
                    quantile_row(f"{col}_q{round(100 * q):02d}", values, q)
                    for q in (0.05, 0.5, 0.95)
                ]
    return rows


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
    small file cost ~30 ms more than one)."""

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
                self.whole = self.file.read().to_pandas()
            return self.whole[name]
        return self.file.read(columns=[name]).to_pandas()[name]

    def __len__(self) -> int:
        return self.file.metadata.num_rows


def summarize(replicates: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """summary.csv: one row per metric (see the module docstring for the error columns)."""
    completion = np.datetime64(scenario.trial.completion_date, "D")
    analysis_date = replicates["final_analysis_date"].to_numpy("datetime64[D]")
    rows = [
        share_row("power", replicates["reject"]),
        share_row("power_stratified", replicates["reject_stratified"]),
        share_row("power_unstratified", replicates["reject_unstratified"]),
        mean_row("events_at_analysis_mean", replicates["events"]),
        median_row("lpi_months_median", replicates["lpi_months"].to_numpy()),
        median_row("target_events_months_median", replicates["target_events_months"].to_numpy()),
        median_row("analysis_months_median", replicates["analysis_months"].to_numpy()),
        mean_row("lpi_months_mean", replicates["lpi_months"]),
        mean_row("target_events_months_mean", replicates["target_events_months"]),
        share_row("p_analysis_by_completion", analysis_date <= completion),
        share_row("p_target_reached", replicates["cut_reason"].to_numpy() == "events"),
        median_row("hazard_ratio_median", replicates["hazard_ratio"].to_numpy()),
        mean_row("median_pfs_control_months_mean", replicates["median_pfs_control_months"]),
        mean_row(
            "median_pfs_experimental_months_mean", replicates["median_pfs_experimental_months"]
        ),
        mean_row("n_screened_mean", replicates["n_screened"]),
        mean_row("n_screen_failed_mean", replicates["n_screen_failed"]),
        mean_row("screening_wait_days_mean", replicates["screening_wait_days_mean"]),
        mean_row("withdrawals_mean", replicates["withdrawals"]),
    ]
    rows += [mean_row(f"{col}_mean", replicates[col]) for col in clinic_columns(replicates)]
    rows += endpoint_rows(replicates)
    rows += sequential_rows(replicates)
    rows += test_rows(replicates, scenario)
    return with_units(pd.DataFrame(headline_rows(replicates, scenario) + rows))


def headline_rows(replicates: pd.DataFrame, scenario: Scenario) -> list[dict[str, Any]]:
    """The figures that carry the risk, first in summary.csv: will the event target be seen by
    the registered completion date, how many events will there be then, the power if the
    analysis happens at that date, and which cut triggered the analysis actually done."""
    completion = np.datetime64(scenario.trial.completion_date, "D")
    target = replicates["target_events_date"].to_numpy("datetime64[D]")
    reason = replicates["cut_reason"].to_numpy()
    rows = [share_row("p_target_by_completion", target <= completion)]  # NaT: never, False
    if "events_at_completion" in replicates:
        rows += [
            mean_row("events_at_completion_mean", replicates["events_at_completion"]),
            share_row("power_at_completion", replicates["reject_at_completion"]),
        ]
    rows += [
        share_row(name, reason == code)
        for name, code in (
            ("p_cut_by_events", "events"),
            ("p_cut_by_date", "date"),
            ("p_cut_all_followed", "all_followed"),
        )
    ]
    return rows


def with_units(summary: pd.DataFrame) -> pd.DataFrame:
    """summary.csv in its column order, with the unit and meaning of every metric."""
    summary = summary.copy()
    summary["unit"], summary["meaning"] = describe_metrics(summary["metric"])
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
        found.append(
            f"the event target {a.event_target} was reached before the calendar cut "
            f"{a.cut_date} in only {reached:.0%} of replicates: most final analyses have "
            "fewer events than planned"
        )
    return found


def look_count(replicates: pd.DataFrame) -> int:
    """Number of looks of a group-sequential run (0: the single-look form)."""
    k = 0
    while f"look{k + 1}_decision" in replicates.columns:
        k += 1
    return k


def sequential_rows(replicates: pd.DataFrame) -> list[dict[str, Any]]:
    """Group-sequential operating characteristics (runs with analysis.looks only).

    `power`: efficacy at any look, the trial stopping at futility (its row above); then
    `power_ignoring_futility` (the efficacy bounds alone: what a non-binding futility rule
    'would have continued' to), `early_stop` (an interim stop, either reason),
    `futility_stop`, `expected_events` and `expected_analysis_months` (at the analysis that
    ended the trial), and per look k: `reject_look{k}` and `futility_look{k}` (shares of
    all replicates stopping there), `reject_look{k}_ignoring_futility` (efficacy at look k by
    the efficacy bounds alone), `reached_look{k}` (the look was held), and among the
    replicates that held it `look{k}_months_mean`, `look{k}_months_median` and
    `look{k}_events_mean`."""
    k_max = look_count(replicates)
    if not k_max:
        return []
    reason = replicates["stop_reason"].to_numpy()
    look = replicates["stop_look"].to_numpy()
    rows = [
        share_row("power_ignoring_futility", replicates["reject_ignoring_futility"]),
        share_row("early_stop", replicates["early_stop"]),
        share_row("futility_stop", reason == "futility"),
        mean_row("expected_events", replicates["events"]),
        mean_row("expected_analysis_months", replicates["analysis_months"]),
    ]
    for k in range(1, k_max + 1):
        months = replicates[f"look{k}_months"].to_numpy(dtype=float)
        held = np.isfinite(months)
        rows += [
            share_row(f"reject_look{k}", (look == k) & (reason == "efficacy")),
            share_row(f"futility_look{k}", (look == k) & (reason == "futility")),
            share_row(f"reached_look{k}", held),
            mean_row(f"look{k}_months_mean", months),
            median_row(f"look{k}_months_median", months[held])
            if held.any()
            else row(f"look{k}_months_median", np.nan, np.nan, np.nan, np.nan),
            mean_row(f"look{k}_events_mean", replicates[f"look{k}_events"]),
        ]
        if "stop_look_ignoring_futility" in replicates:
            nb = replicates["stop_look_ignoring_futility"].to_numpy()
            rows.append(
                share_row(
                    f"reject_look{k}_ignoring_futility",
                    (nb == k) & replicates["reject_ignoring_futility"],
                )
            )
    return rows


def test_rows(replicates: pd.DataFrame, scenario: Scenario) -> list[dict[str, Any]]:
    """power_<name> of each test in analysis.tests (primary and supportive), and the median
    of its estimate (weighted O - E, RMST or milestone difference, AHR, MaxCombo's min z)."""
    rows = []
    for spec in scenario.analysis.tests:
        if f"reject_{spec.name}" not in replicates.columns:
            continue
        rows.append(share_row(f"power_{spec.name}", replicates[f"reject_{spec.name}"]))
        rows.append(
            median_row(
                f"estimate_{spec.name}_median", replicates[f"estimate_{spec.name}"].to_numpy()
            )
        )
    return rows


def clinic_columns(replicates: pd.DataFrame) -> list[str]:
    """Per-replicate clinic figures from the SimPy model: per arm (suffix _control or
    _experimental) or trial-wide (prefix clinic_); summarized as means."""
    core = {
        "events_control",
        "events_experimental",
        "median_pfs_control_months",
        "median_pfs_experimental_months",
    }
    return [
        c
        for c in replicates.columns
        if (c.endswith(("_control", "_experimental")) or c.startswith("clinic_"))
        and c not in core
        and not c.startswith(ENDPOINT_PREFIXES)
    ]


def timeline(replicates: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """timeline.csv: calendar-date quantiles of each milestone among the replicates reaching
    it (column `counted`); `share_reached` is their share of all replicates.

    The event target counts only where it is seen on or before the data cut (an analysis
    triggered by the calendar date happened without it); the other milestones count where
    they happen at all.
    """
    start = np.datetime64(scenario.trial.start_date, "D")
    rows = []
    for name in MILESTONES:
        dates = replicates[f"{name}_date"].to_numpy("datetime64[D]")
        reached = ~np.isnat(dates)
        counted = "replicates reaching it"
        if name == "target_events":  # seen by the cut: the analysis has the target's events
            target = scenario.analysis.event_target or np.inf
            reached &= replicates["events"].to_numpy() >= target
            counted = "replicates reaching it on or before the data cut"
        days = (dates[reached] - start).astype("timedelta64[D]").astype(float)
        qs = (
            np.quantile(days, [0.05, 0.25, 0.5, 0.75, 0.95], method="inverted_cdf")
            if len(days)
            else np.full(5, np.nan)
        )
        rec: dict[str, Any] = {"milestone": name}
        for label, q in zip(("q05", "q25", "q50", "q75", "q95"), qs, strict=True):
            rec[label] = str(start + np.timedelta64(int(q), "D")) if np.isfinite(q) else ""
        rec["median_months"] = qs[2] / DAYS_PER_MONTH if np.isfinite(qs[2]) else None
        rec["share_reached"] = reached.mean()
        rec["counted"] = counted
        rows.append(rec)
    rows += look_timeline(replicates, start)
    return pd.DataFrame(rows)


def look_timeline(replicates: pd.DataFrame, start: np.datetime64) -> list[dict[str, Any]]:
    """One timeline row per look of a group-sequential run (milestone `look{k}`): the
    quantiles of its analysis date among the replicates that held it, and the share held."""
    rows = []
    for k in range(1, look_count(replicates) + 1):
        dates = replicates[f"look{k}_date"].to_numpy("datetime64[D]")
        reached = ~np.isnat(dates)
        rec: dict[str, Any] = {"milestone": f"look{k}"}
        days = (dates[reached] - start).astype("timedelta64[D]").astype(float)
        qs = (
            np.quantile(days, [0.05, 0.25, 0.5, 0.75, 0.95], method="inverted_cdf")
            if reached.any()
            else np.full(5, np.inf)
        )
        for label, q in zip(("q05", "q25", "q50", "q75", "q95"), qs, strict=True):
            rec[label] = str(start + np.timedelta64(int(q), "D")) if np.isfinite(q) else ""
        rec["median_months"] = qs[2] / DAYS_PER_MONTH if np.isfinite(qs[2]) else None
        rec["share_reached"] = reached.mean()
        rec["counted"] = "replicates holding the look (not stopped before it)"
        rows.append(rec)
    return rows


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages results depend on (for manifests and resume
    checks); looked up once per process (importlib.metadata scans sys.path, ~10 ms each)."""
    return dict(installed_versions())


@functools.cache
def installed_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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
    check_run_tables(folder, manifest)
    return manifest


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
        return
    for name, columns in RUN_TABLES.items():
        check_table(folder / name, columns)
    for name, columns in OPTIONAL_TABLES.items():
        if (folder / name).exists():
            check_table(folder / name, columns)
