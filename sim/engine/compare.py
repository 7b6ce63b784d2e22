"""Compare runs: metrics side by side, differences with their Monte Carlo error, and flags.

Every later run is compared with the first (the reference). The standard error of a
difference is *paired* when both runs share their seed and replicate count (replicate r of
both drew the same random numbers, see `sim.engine.chunk`) and the metric table pairs the
metric: for every share or mean of per-replicate values, se = sd(x_b,r - x_a,r) / sqrt(R)
over replicates.parquet (a mean over the replicates where a value happened pairs only when it
happened in the same replicates of both runs). Otherwise it is *independent*: se =
sqrt(se_a^2 + se_b^2) from the summaries. The medians the metric table pairs (`paired` in
`sim.engine.metric_table`) get a *paired bootstrap* SE
(replicates resampled together in both runs), since the independent formula would ignore
their positive correlation and overstate the error. A difference is
flagged when |difference| > 3 se (or se = 0 and the values differ): for runs that truly do
not differ, each metric flags with probability ~0.27% (two-sided normal tail beyond 3).

Runs written under different `metrics_version` are refused: their metrics mean different
things. `--out FILE.csv` writes the metric table (long: one row per metric and compared run),
with ``FILE.timeline.csv`` (milestone median dates) and ``FILE.fields.csv`` (scenario fields
that differ) beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.metric_table import find_metric
from sim.engine.metrics import MEDIANS, Bound, Context
from sim.engine.results import read_run
from sim.scenario import ScenarioError

FLAG_SE = 3.0
BOOTSTRAP_DRAWS = 400
BOOTSTRAP_SEED = 20260130


@dataclass(frozen=True)
class Run:
    label: str
    folder: Path
    manifest: dict[str, Any]
    summary: pd.DataFrame  # indexed by metric
    timeline: pd.DataFrame  # indexed by milestone


def label_runs(folders: list[Path]) -> list[str]:
    """Folder names, made unique with their parent (and position) when they repeat."""
    labels = [f.name or str(f) for f in folders]
    if len(set(labels)) < len(labels):
        labels = [f"{f.parent.name}/{f.name}" for f in folders]
    if len(set(labels)) < len(labels):
        labels = [f"{i + 1}:{label}" for i, label in enumerate(labels)]
    return labels


def load_runs(folders: list[Path]) -> list[Run]:
    """Read and check the runs; raise ScenarioError on a non-run or mixed metric versions."""
    if len(folders) < 2:
        raise ScenarioError(
            f"compare needs at least two run folders, got {len(folders)}: give RUN_A RUN_B [...]"
        )
    manifests = [read_run(f) for f in folders]
    versions = {m.get("metrics_version") for m in manifests}
    if len(versions) > 1:
        listing = ", ".join(
            f"{f} has {m.get('metrics_version')}" for f, m in zip(folders, manifests, strict=True)
        )
        raise ScenarioError(
            f"metrics_version differs between the runs ({listing}): their metrics are defined "
            "differently, so their differences would mislead; re-run the older runs with this "
            "version of sim and compare those"
        )
    check_same_endpoint(folders, manifests)
    return [
        Run(
            label,
            Path(folder),
            manifest,
            pd.read_csv(folder / "summary.csv").set_index("metric"),
            pd.read_csv(folder / "timeline.csv").set_index("milestone"),
        )
        for label, folder, manifest in zip(label_runs(folders), folders, manifests, strict=True)
    ]


def check_same_endpoint(folders: list[Path], manifests: list[dict]) -> None:
    """Runs of one primary endpoint (analysis.endpoint; runs made before it: pfs): `power`,
    the event target and the milestones of a PFS run and an OS run are different things."""
    endpoints = [
        m.get("scenario", {}).get("analysis", {}).get("endpoint", "pfs") for m in manifests
    ]
    if len(set(endpoints)) > 1:
        listing = ", ".join(f"{f} has {e}" for f, e in zip(folders, endpoints, strict=True))
        raise ScenarioError(
            f"analysis.endpoint differs between the runs ({listing}): power, the event target "
            "and the analysis dates of different primary endpoints are different quantities; "
            "compare runs of one primary endpoint (an OS run's PFS is in its pfs_* metrics)"
        )


def is_paired(a: Run, b: Run) -> bool:
    """Same seed, replicate count and chunk size: replicate r drew the same numbers in both."""
    keys = ("seed", "replicates", "chunk_size")
    return (
        all(a.manifest.get(k) == b.manifest.get(k) for k in keys)
        and (a.folder / "replicates.parquet").is_file()
        and (b.folder / "replicates.parquet").is_file()
    )


PAIRED_ALWAYS = ("share", "mean")  # a difference of means is the mean of the differences


def paired_values(
    replicates: pd.DataFrame, metric: Bound, manifest: dict[str, Any]
) -> np.ndarray | None:
    """The per-replicate values of a metric `compare` can pair, as floats: every share and
    mean of per-replicate values, and the medians the table pairs (`paired`: a paired
    bootstrap); None for the others (quantiles) or if the run lacks its columns."""
    statistic = metric.metric.statistic
    if not (statistic in PAIRED_ALWAYS or metric.metric.paired) or not metric.applies(replicates):
        return None
    completion = np.datetime64(manifest["scenario"]["trial"]["completion_date"], "D")
    return np.asarray(metric.values(replicates, Context(completion)), dtype=float)


def bootstrap_median_se(xa: np.ndarray, xb: np.ndarray, draws: int = BOOTSTRAP_DRAWS) -> float:
    """SE of median(b) - median(a) over paired replicates, by resampling replicates.

    Medians as in summary.csv: never-happened (NaN) counts as +inf, inverted-CDF median.
    Resamples where either median is infinite are dropped; NaN if too few remain.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)  # fixed: the same table on every call
    a = np.where(np.isnan(xa), np.inf, xa)
    b = np.where(np.isnan(xb), np.inf, xb)
    idx = rng.integers(0, len(a), size=(draws, len(a)))
    with np.errstate(invalid="ignore"):  # inf - inf: a resample dropped just below
        diff = np.quantile(b[idx], 0.5, axis=1, method="inverted_cdf") - np.quantile(
            a[idx], 0.5, axis=1, method="inverted_cdf"
        )
    diff = diff[np.isfinite(diff)]
    return float(np.std(diff, ddof=1)) if len(diff) > draws // 2 else np.nan


def paired_se(a: Run, b: Run, metrics: list[str]) -> dict[str, tuple[float, str]]:
    """(SE of B - A, how) per metric the metric table pairs: shares and means from the
    per-replicate differences, medians by a paired bootstrap."""
    ra = pd.read_parquet(a.folder / "replicates.parquet").set_index("replicate")
    rb = pd.read_parquet(b.folder / "replicates.parquet").set_index("replicate")
    rb = rb.reindex(ra.index)
    result = {}
    for name in metrics:
        metric = find_metric(name)
        if metric is None:
            continue
        xa, xb = paired_values(ra, metric, a.manifest), paired_values(rb, metric, b.manifest)
        if xa is None or xb is None:
            continue
        if metric.metric.statistic in MEDIANS:
            se = bootstrap_median_se(xa, xb)
            if np.isfinite(se):
                result[name] = (se, "paired bootstrap")
            continue
        held = np.isfinite(xa)
        if not np.array_equal(held, np.isfinite(xb)):
            # a mean over the replicates where it happened, which differ between the runs:
            # the difference of the two means is not a mean of paired differences (the
            # independent SE, which ignores their correlation, overstates the error)
            continue
        d = xb[held] - xa[held]
        if len(d) > 1:
            result[name] = (float(np.std(d, ddof=1) / np.sqrt(len(d))), "paired")
    return result


def flag_difference(diff: float, se: float) -> bool:
    if not np.isfinite(diff) or not np.isfinite(se):
        return False
    return abs(diff) > FLAG_SE * se if se > 0 else diff != 0


def compare_summaries(runs: list[Run]) -> pd.DataFrame:
    """One row per metric and later run: reference and run estimates, difference, se, flag."""
    ref = runs[0]
    metrics = list(dict.fromkeys(m for run in runs for m in run.summary.index))
    rows = []
    for run in runs[1:]:
        paired = paired_se(ref, run, metrics) if is_paired(ref, run) else {}
        for metric in metrics:
            est_a = value(ref.summary, metric, "estimate")
            est_b = value(run.summary, metric, "estimate")
            if metric in paired:
                se, kind = paired[metric]
            else:
                se = float(
                    np.hypot(
                        value(ref.summary, metric, "mc_se"), value(run.summary, metric, "mc_se")
                    )
                )
                kind = "independent" if np.isfinite(se) else "n/a"
            diff = est_b - est_a
            rows.append(
                {
                    "metric": metric,
                    "reference": ref.label,
                    "run": run.label,
                    "reference_estimate": est_a,
                    "estimate": est_b,
                    "difference": diff,
                    "se": se,
                    "se_kind": kind,
                    "z": diff / se if np.isfinite(diff) and np.isfinite(se) and se > 0 else np.nan,
                    "flag": flag_difference(diff, se),
                }
            )
    return pd.DataFrame(rows)


def value(summary: pd.DataFrame, metric: str, column: str) -> float:
    if metric not in summary.index:
        return np.nan
    v = summary.at[metric, column]
    return float(v) if pd.notna(v) else np.nan


def compare_timelines(runs: list[Run]) -> pd.DataFrame:
    """Median date of each milestone per run, and the later runs' shift in days."""
    ref = runs[0]
    rows = []
    for milestone in ref.timeline.index:
        row: dict[str, Any] = {"milestone": milestone}
        base = median_date(ref.timeline, milestone)
        for run in runs:
            date = median_date(run.timeline, milestone)
            row[run.label] = "" if pd.isna(date) else f"{date:%Y-%m-%d}"
            if run is not ref:
                row[f"{run.label} - {ref.label} (days)"] = (
                    (date - base).days if pd.notna(date) and pd.notna(base) else None
                )
        rows.append(row)
    return pd.DataFrame(rows)


def median_date(timeline: pd.DataFrame, milestone: str) -> pd.Timestamp:
    if milestone not in timeline.index:
        return pd.NaT
    return pd.to_datetime(timeline.at[milestone, "q50"], errors="coerce")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists -> {dotted.path: leaf} (list rows are numbers, as in --set)."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    if not flat and prefix:
        flat[prefix] = data  # an empty block or list is a value too
    return flat


def differing_fields(runs: list[Run]) -> pd.DataFrame:
    """Scenario fields (dotted paths) and run settings whose values differ between runs."""
    flats = [
        {
            **flatten(r.manifest.get("scenario", {}), "scenario"),
            "seed": r.manifest.get("seed"),
            "replicates": r.manifest.get("replicates"),
        }
        for r in runs
    ]
    paths = list(dict.fromkeys(p for flat in flats for p in flat))
    rows = []
    for path in paths:
        values = [flat.get(path, "<absent>") for flat in flats]
        if any(v != values[0] for v in values[1:]):
            shown = {
                r.label: "" if v is None else str(v) for r, v in zip(runs, values, strict=True)
            }
            rows.append({"field": path.removeprefix("scenario."), **shown})
    return pd.DataFrame(rows, columns=["field", *[r.label for r in runs]])


def check_out_file(out: Path) -> None:
    if out.suffix.lower() != ".csv":
        raise ScenarioError(f"--out {out}: must end in .csv (e.g. --out compare.csv)")
    if out.is_dir():
        raise ScenarioError(f"--out {out}: is a folder; give a file name ending in .csv")


def write_comparison(
    out: Path,
    table: pd.DataFrame,
    timeline: pd.DataFrame,
    fields: pd.DataFrame,
    *,
    force: bool = False,
) -> list[Path]:
    """FILE.csv (metrics), FILE.timeline.csv and FILE.fields.csv; returns the paths. A file
    there is replaced only if sim's record lists it as one it wrote (edited since: only
    with `force`)."""
    from sim.storage.folders import output_files

    check_out_file(out)
    paths = [out, out.with_suffix(".timeline.csv"), out.with_suffix(".fields.csv")]
    frames = (table, timeline, fields)
    with output_files(paths, force, needs_force=False) as staging:
        for path, frame in zip(paths, frames, strict=True):
            frame.to_csv(staging / path.name, index=False)
    return paths
