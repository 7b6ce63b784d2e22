"""Figures of a run and of a sweep, for a steering committee (PNG, drawn headless).

Plot functions take data and ``ax=None`` and return the axes; `run_figures` and
`sweep_figures` assemble them into captioned figures from an output folder. Figures are
built on `matplotlib.figure.Figure` directly (no pyplot state, rendered by Agg), so they
draw the same on a laptop, a server without a display, or in worker processes.

Enrollment and event curves need every replicate's randomization and event-seen days, which
replicates.parquet does not hold. `follow_up_days` replays the vectorized stages of the run
(enrollment, randomization, latent outcomes, assessments) from the manifest's scenario and
seed: chunk c draws only from SeedSequence(seed, spawn_key=(c,)), so the replay is exact. It
is checked against the milestone dates of replicates.parquet; should they ever disagree, the
curves are interpolated between the milestones instead, and the figure says so.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sim.scenario import DAYS_PER_MONTH, Scenario, parse_scenario

P = ParamSpec("P")
R = TypeVar("R")

ARM_COLORS = {"control": "#4C72B0", "experimental": "#DD8452"}
BAND_COLOR = "#4C72B0"
LINE_COLOR = "#1F3A68"
REFERENCE_COLOR = "#B22222"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_CURVE_REPS = 2000  # replicates replayed for the curves: bands to within a few days


@functools.cache
def theme() -> dict:
    """Seaborn's look, applied only while our figures are built and saved (never set
    globally, so importing this module leaves a caller's matplotlib settings alone).
    Seaborn is imported on the first figure, not with this module (~1.5 s with scipy.stats)."""
    import seaborn as sns

    return {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook")}


def color_palette(name: str, n_colors: int | None = None) -> list:
    """`seaborn.color_palette`, seaborn imported when a figure needs it."""
    import seaborn as sns

    return sns.color_palette(name, n_colors)


def themed(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` under `theme()` (rc_context), e.g. figure assembly and saving."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(theme()):
            return func(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Panel:
    """A finished figure, its file stem and the sentence that explains it."""

    name: str
    figure: Figure
    caption: str


# --- data: curves across replicates ---------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """Clock days (since trial start) of every randomization and every seen PFS event,
    shape (R, N), sorted per row, inf where none; events as if follow-up went on past the cut.
    `exact` is False when interpolated between milestone dates."""

    rand_day: np.ndarray
    event_day: np.ndarray
    exact: bool


def replay_follow_up(scenario: Scenario, seed: int, reps: int) -> FollowUp:
    """Re-draw the vectorized stages of replicates 0..reps-1 (see the module docstring)."""
    from sim.conduct.assessments import observe_outcomes
    from sim.conduct.enrollment import enroll_patients
    from sim.conduct.outcomes import draw_latent_outcomes
    from sim.conduct.randomization import randomize_by_block
    from sim.engine.chunk import TrialModel, chunk_streams
    from sim.engine.endpoints import draw_history
    from sim.engine.executors import plan_chunks

    model = TrialModel.from_scenario(scenario)
    n = scenario.trial.sample_size
    rand, events = [], []
    for spec in plan_chunks(reps):
        rng = chunk_streams(seed, spec.chunk)
        enrolled = enroll_patients(
            scenario.enrollment, n, model.stratum_p, model.calendar, spec.n_reps, rng["enrollment"]
        )
        arm = randomize_by_block(enrolled.stratum, scenario.randomization, rng["randomization"])
        latent = draw_latent_outcomes(scenario, arm, rng["outcomes"], enrolled.stratum)
        scans = model.schedule.for_patients(enrolled.rand_day)
        _, latent = draw_history(scenario, arm, latent, scans, rng["survival"])
        observed = observe_outcomes(latent, scans)
        rand.append(enrolled.rand_day.astype(float))
        events.append(enrolled.rand_day + observed.event_day)
    return FollowUp(np.sort(np.vstack(rand), axis=1), np.sort(np.vstack(events), axis=1), True)


def clock_days(dates: pd.Series, start: dt.date) -> np.ndarray:
    """Days since `start` of datetime values; NaT -> inf (never happened)."""
    values = pd.to_datetime(dates).to_numpy("datetime64[D]")
    days = (values - np.datetime64(start, "D")).astype("timedelta64[D]").astype(float)
    return np.where(np.isnat(values), np.inf, days)


def milestone_follow_up(replicates: pd.DataFrame, scenario: Scenario) -> FollowUp:
    """Curves interpolated between the milestone dates of replicates.parquet (fallback)."""
    start, n = scenario.trial.start_date, scenario.trial.sample_size
    counts = [0] + [int(np.ceil(n * q / 100)) for q in (25, 50, 75, 100)]
    cols = [
        "first_patient_in",
        "randomized_25pct",
        "randomized_50pct",
        "randomized_75pct",
        "randomized_100pct",
    ]
    days = np.column_stack([clock_days(replicates[f"{c}_date"], start) for c in cols])
    k = np.arange(1, n + 1)
    rand = np.vstack([np.interp(k, counts, row) for row in days])
    target = scenario.analysis.event_target or 0
    target_day = clock_days(replicates["target_events_date"], start)
    events = np.full((len(replicates), n), np.inf)
    for r, (first, last) in enumerate(zip(rand[:, 0], target_day, strict=True)):
        if target and np.isfinite(last):
            events[r, :target] = np.interp(np.arange(1, target + 1), [0, target], [first, last])
    return FollowUp(rand, events, False)


def check_replay(follow: FollowUp, replicates: pd.DataFrame, scenario: Scenario) -> bool:
    """True when the replayed days give the milestone dates of replicates.parquet."""
    start, n = scenario.trial.start_date, scenario.trial.sample_size
    last = clock_days(replicates["randomized_100pct_date"], start)
    if not np.array_equal(np.floor(follow.rand_day[:, n - 1]), last):
        return False
    target = scenario.analysis.event_target
    if target is None:
        return True
    seen = clock_days(replicates["target_events_date"], start)
    replayed = np.floor(follow.event_day[:, target - 1])
    reached = np.isfinite(seen)
    return bool(np.array_equal(replayed[reached], seen[reached]))


def follow_up_days(run: Path, manifest: dict[str, Any], replicates: pd.DataFrame) -> FollowUp:
    """Exact curves by replay when they check out, else interpolated between milestones."""
    scenario = parse_scenario(manifest["scenario"], f"{run}/manifest.json")
    reps = len(replicates)
    try:
        follow = replay_follow_up(scenario, int(manifest["seed"]), reps)
    except (KeyError, ValueError):
        return milestone_follow_up(replicates, scenario)
    if check_replay(follow, replicates, scenario):
        return follow
    return milestone_follow_up(replicates, scenario)


def count_by_day(days: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(R, G): per replicate, how many of its sorted `days` are on or before each grid day."""
    return np.vstack([np.searchsorted(row, grid, side="right") for row in days])


def quantile_bands(counts: np.ndarray, grid: np.ndarray, start: dt.date) -> pd.DataFrame:
    """Across replicates, the 5/25/50/75/95% quantiles of a count at each grid day."""
    qs = np.quantile(counts, QUANTILES, axis=0, method="inverted_cdf")
    frame = pd.DataFrame({"date": np.datetime64(start, "D") + grid.astype("timedelta64[D]")})
    for q, values in zip(QUANTILES, qs, strict=True):
        frame[f"q{round(q * 100):02d}"] = values
    return frame


def day_grid(end_day: float, step: int = 7) -> np.ndarray:
    return np.arange(0, int(np.ceil(end_day)) + step, step)


# --- plot functions: data in, axes out ------------------------------------------------------


@themed
def new_axes(width: float = 10.0, height: float = 5.5) -> Axes:
    return Figure(figsize=(width, height), layout="constrained").add_subplot()


def format_date_axis(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    locator = mdates.AutoDateLocator(minticks=5, maxticks=10)
    target.set_major_locator(locator)
    target.set_major_formatter(mdates.DateFormatter("%b\n%Y"))


def draw_bands(ax: Axes, bands: pd.DataFrame, what: str) -> None:
    dates = bands["date"].to_numpy()
    ax.fill_between(
        dates,
        bands["q05"],
        bands["q95"],
        color=BAND_COLOR,
        alpha=0.18,
        linewidth=0,
        label="middle 90% of replicates",
    )
    ax.fill_between(
        dates,
        bands["q25"],
        bands["q75"],
        color=BAND_COLOR,
        alpha=0.35,
        linewidth=0,
        label="middle 50% of replicates",
    )
    ax.plot(dates, bands["q50"], color=LINE_COLOR, linewidth=2, label=f"median {what}")


def draw_date_line(ax: Axes, date: dt.date, label: str, style: str = "--") -> None:
    ax.axvline(
        np.datetime64(date, "D"), color=REFERENCE_COLOR, linestyle=style, linewidth=1.3, label=label
    )


def plot_enrollment(bands: pd.DataFrame, target: int, ax: Axes | None = None) -> Axes:
    """Cumulative patients randomized by calendar date: median, 50% and 90% bands, target.

    `bands`: columns date, q05, q25, q50, q75, q95 (see `quantile_bands`).
    """
    ax = ax or new_axes()
    draw_bands(ax, bands, "patients randomized")
    ax.axhline(
        target,
        color=REFERENCE_COLOR,
        linestyle=":",
        linewidth=1.3,
        label=f"sample size: {target} patients",
    )
    ax.set_ylabel("patients randomized (cumulative)")
    ax.set_xlabel("calendar date")
    ax.set_ylim(0, target * 1.08)
    ax.set_yticks([int(np.ceil(target * q / 4)) for q in range(5)])  # quarters of the target
    format_date_axis(ax)
    ax.legend(loc="upper left", frameon=True)
    return ax


def plot_events(
    bands: pd.DataFrame,
    target: int | None,
    completion_date: dt.date,
    cut_date: dt.date | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Cumulative PFS events seen by calendar date, with the event target and the dates.

    `bands` as in `plot_enrollment`; `cut_date` is drawn only when it is not the completion date.
    """
    ax = ax or new_axes()
    draw_bands(ax, bands, "PFS events seen")
    if target is not None:
        ax.axhline(
            target,
            color=REFERENCE_COLOR,
            linestyle=":",
            linewidth=1.3,
            label=f"event target: {target} events",
        )
    draw_date_line(ax, completion_date, f"registered completion {completion_date:%d %b %Y}")
    if cut_date is not None and cut_date != completion_date:
        draw_date_line(ax, cut_date, f"calendar data cut {cut_date:%d %b %Y}", style="-.")
    ax.set_ylabel("PFS events seen (cumulative)")
    ax.set_xlabel("calendar date")
    ax.set_ylim(0, None)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    format_date_axis(ax)
    ax.legend(loc="upper left", frameon=True)
    return ax


def plot_analysis_dates(
    dates: pd.DataFrame, completion_date: dt.date, ax: Axes | None = None
) -> Axes:
    """ECDF of the final analysis date: share of replicates analysed by each date.

    `dates`: columns date (NaT = never analysed, counted as later than any date) and label
    (one line per label, e.g. per sweep point); optional bool column target_reached (the cut
    came from the event target, not the calendar), whose share the legend then gives too.
    """
    ax = ax or new_axes()
    labels = list(dict.fromkeys(dates["label"]))
    colors = color_palette("viridis" if len(labels) > 6 else "deep", len(labels))
    completion = np.datetime64(completion_date, "D")
    for label, color in zip(labels, colors, strict=True):
        rows = dates[dates["label"] == label]
        values = rows["date"].to_numpy("datetime64[D]")
        n = len(values)
        values = np.sort(values[~np.isnat(values)])
        share = np.arange(1, len(values) + 1) / n
        text = f"{label}: {percent(np.sum(values <= completion) / n)} by completion"
        if "target_reached" in rows:
            text += f", {percent(rows['target_reached'].mean())} at the event target"
        ax.step(values, share, where="post", color=color, linewidth=2, label=text)
        if "cut_by_date" in rows and len(labels) == 1 and rows["cut_by_date"].any():
            annotate_date_cut(ax, rows, values, share, color)
    draw_date_line(ax, completion_date, f"registered completion {completion_date:%d %b %Y}")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("replicates with the final analysis done")
    ax.set_xlabel("date of the final analysis")
    format_date_axis(ax)
    # below the axes: the curves fill the corners a legend would usually take
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), frameon=False, fontsize="small")
    return ax


def annotate_date_cut(
    ax: Axes, rows: pd.DataFrame, values: np.ndarray, share: np.ndarray, color: Any
) -> None:
    """Mark the jump of the curve at the calendar cut: the replicates analysed at that date
    because the event target had not been reached by then."""
    cut = rows.loc[rows["cut_by_date"], "date"].to_numpy("datetime64[D]")
    day = cut.min()
    before = share[values < day][-1] if (values < day).any() else 0.0
    after = share[values <= day][-1]
    ax.annotate(
        f"{percent(rows['cut_by_date'].mean())} cut at the calendar date\n"
        "(event target not reached by then)",
        xy=(day, (before + after) / 2),
        xytext=(-40, -60),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize="small",
        color=color,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": color},
        arrowprops={"arrowstyle": "->", "color": color},
    )
    ax.vlines(day, before, after, color=color, linewidth=4, alpha=0.5)


def km_steps(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier S(t) as step points (t, S) starting at (0, 1), from `sim.stats.analysis`: the
    one Kaplan-Meier implementation the simulator and `analyze` use too."""
    from sim.stats.analysis import kaplan_meier

    table = kaplan_meier(time, event)
    return (
        np.concatenate([[0.0], table["time"].to_numpy(float)]),
        np.concatenate([[1.0], table["survival"].to_numpy(float)]),
    )


def plot_km(
    patients: pd.DataFrame,
    ax: Axes | None = None,
    step_months: int = 6,
    time: str = "pfs_days_at_cut",
    event: str = "pfs_event_at_cut",
    ylabel: str = "progression-free survival",
) -> Axes:
    """Kaplan-Meier PFS by arm at the data cut, censoring ticks, number at risk below.

    `patients`: one replicate's rows of patients.parquet (pfs_days_at_cut, pfs_event_at_cut,
    arm, in_analysis); only patients in the analysis are used. `time`, `event`, `ylabel`:
    another endpoint's columns (e.g. os_days_at_cut, os_event_at_cut, "overall survival").
    """
    ax = ax or new_axes(10.0, 6.2)
    data = patients[patients["in_analysis"]]
    months = data[time].to_numpy(float) / DAYS_PER_MONTH
    events = data[event].to_numpy(bool)
    arms = [a for a in ARM_COLORS if a in set(data["arm"])]
    horizon = float(months.max()) if len(months) else step_months
    ticks = np.arange(0, horizon + 1e-9, step_months)
    for arm in arms:
        mask = data["arm"].to_numpy() == arm
        t, s = km_steps(months[mask], events[mask])
        t, s = np.append(t, months[mask].max()), np.append(s, s[-1])
        ax.step(
            t,
            s,
            where="post",
            color=ARM_COLORS[arm],
            linewidth=2,
            label=f"{arm} (n = {mask.sum()}, {events[mask].sum()} events)",
        )
        censored = months[mask & ~events]
        s_at = s[np.searchsorted(t, censored, side="right") - 1]
        ax.plot(censored, s_at, linestyle="none", marker="|", markersize=8, color=ARM_COLORS[arm])
    ax.plot(
        [],
        [],
        linestyle="none",
        marker="|",
        markersize=8,
        color="dimgrey",
        label="censored patient",
    )
    ax.set_xlim(-0.01 * horizon, max(ticks[-1], horizon) * 1.02)
    ax.set_xticks(ticks)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(ylabel)
    ax.set_xlabel("months since randomization")
    ax.legend(loc="upper right", frameon=True)
    draw_at_risk(ax, months, data["arm"].to_numpy(), arms, ticks)
    return ax


def draw_at_risk(
    ax: Axes, months: np.ndarray, arm: np.ndarray, arms: list[str], ticks: np.ndarray
) -> None:
    """Number at risk (PFS time >= tick) per arm, as rows of text under the x axis label."""
    fig = ax.get_figure()
    base = ax.get_xaxis_transform()  # x in data, y in axes fraction
    header = transforms.offset_copy(base, fig=fig, y=-48, units="points")
    ax.text(
        0,
        0,
        "number at risk",
        transform=header,
        ha="center",
        va="top",
        fontweight="bold",
        fontsize="small",
    )
    for i, name in enumerate(arms):
        row = transforms.offset_copy(base, fig=fig, y=-62 - 13 * i, units="points")
        at_risk = [(months[arm == name] >= t).sum() for t in ticks]
        for t, count in zip(ticks, at_risk, strict=True):
            ax.text(
                t,
                0,
                str(count),
                transform=row,
                ha="center",
                va="top",
                fontsize="small",
                color=ARM_COLORS[name],
            )
        label = transforms.offset_copy(ax.transAxes, fig=fig, x=-22, y=-62 - 13 * i, units="points")
        ax.text(
            0,
            0,
            name,
            transform=label,
            ha="right",
            va="top",
            fontsize="small",
            color=ARM_COLORS[name],
        )


def plot_rate_bands(rates: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Per endpoint (rows) and arm: the median across replicates (dot), the middle 50%
    (thick bar) and 90% (thin bar). `rates`: columns endpoint, arm, q05, q25, q50, q75, q95
    (shares)."""
    ax = ax or new_axes(9.0, 1.2 + 1.1 * rates["endpoint"].nunique())
    endpoints = list(dict.fromkeys(rates["endpoint"]))
    for i, endpoint in enumerate(endpoints):
        for j, arm in enumerate(ARM_COLORS):
            row = rates[(rates["endpoint"] == endpoint) & (rates["arm"] == arm)]
            if row.empty:
                continue
            r = row.iloc[0]
            y = i + (j - 0.5) * 0.3
            color = ARM_COLORS[arm]
            ax.plot([r["q05"], r["q95"]], [y, y], color=color, linewidth=1.5)
            ax.plot([r["q25"], r["q75"]], [y, y], color=color, linewidth=6, alpha=0.6)
            ax.plot(
                [r["q50"]],
                [y],
                marker="o",
                color=color,
                markersize=8,
                label=arm if i == 0 else None,
            )
            ax.annotate(
                f"{r['q50']:.0%}",
                (r["q50"], y),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize="small",
                color=color,
            )
    ax.set_yticks(range(len(endpoints)))
    ax.set_yticklabels(endpoints)
    ax.set_ylim(len(endpoints) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("rate at the analysis (dot: median; bars: middle 50% and 90% of replicates)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return ax


def plot_incidence(incidence: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Adverse-event incidence by kind and arm: bars = mean over replicates, whiskers =
    5-95% across replicates; any grade light, grade >= 3 dark. `incidence`: columns kind,
    arm, grade ("any" or "grade3plus"), mean, q05, q95 (shares of treated patients)."""
    kinds = list(dict.fromkeys(incidence["kind"]))
    ax = ax or new_axes(10.0, 1.5 + 0.9 * len(kinds))
    height = 0.38
    for j, arm in enumerate(ARM_COLORS):
        for grade, alpha in (("any", 0.35), ("grade3plus", 0.95)):
            rows = incidence[(incidence["arm"] == arm) & (incidence["grade"] == grade)]
            rows = rows.set_index("kind").reindex(kinds)
            y = np.arange(len(kinds)) + (j - 0.5) * height
            label = f"{arm}, {'any grade' if grade == 'any' else 'grade >= 3'}"
            ax.barh(y, rows["mean"], height=height, color=ARM_COLORS[arm], alpha=alpha, label=label)
            ax.errorbar(
                rows["mean"],
                y,
                xerr=[rows["mean"] - rows["q05"], rows["q95"] - rows["mean"]],
                fmt="none",
                ecolor="black",
                elinewidth=0.8,
                capsize=2,
            )
    ax.set_yticks(range(len(kinds)))
    ax.set_yticklabels(kinds)
    ax.set_ylim(len(kinds) - 0.5, -0.5)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("patients with an event / treated patients, by the analysis")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return ax


def power_axis(ax: Axes, alpha: float | None, alpha_note: str = "") -> None:
    """A power axis from 0 to 100%, with the 80% line and the nominal alpha (if given)."""
    ax.axhline(0.8, color="grey", linestyle=":", linewidth=1.2, label="80% power")
    if alpha is not None:
        ax.axhline(
            alpha,
            color=REFERENCE_COLOR,
            linestyle="--",
            linewidth=1.2,
            label=f"nominal alpha = {alpha:g}{alpha_note}",
        )
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def errorbar_group(
    ax: Axes, x: Any, y: Any, se: Any, label: str | None, color: Any, joined: bool
) -> None:
    ax.errorbar(
        x,
        y,
        yerr=1.96 * np.asarray(se, dtype=float),
        marker="o",
        capsize=4,
        linewidth=1.8,
        color=color,
        label=label,
        linestyle="-" if joined else "none",
    )


def plot_power_curve(
    table: pd.DataFrame,
    x: str,
    hue: str | None = None,
    alpha: float | None = None,
    ax: Axes | None = None,
    metric: str = "power",
) -> Axes:
    """Power (share of replicates rejecting H0) across a sweep axis, +-1.96 MC SE bars.

    `table`: rows of sweep.csv (`x`, `metric`, `<metric>_mc_se`, optional `hue`). A
    non-numeric `x` is drawn as categories in table order. `alpha`, when given, draws the
    nominal type I error (what power should be at HR = 1).
    """
    ax = ax or new_axes()
    numeric = pd.api.types.is_numeric_dtype(table[x])
    groups = [(None, table)] if hue is None else list(table.groupby(hue, sort=False))
    colors = color_palette("deep", len(groups))
    for (name, group), color in zip(groups, colors, strict=True):
        group = group.sort_values(x) if numeric else group
        xs = group[x].to_numpy() if numeric else np.arange(len(group))
        errorbar_group(
            ax,
            xs,
            group[metric],
            group[f"{metric}_mc_se"],
            None if hue is None else f"{hue} = {name}",
            color,
            joined=numeric,
        )
    if not numeric:
        ax.set_xticks(np.arange(len(table)), [str(v) for v in table[x]], rotation=20, ha="right")
    power_axis(ax, alpha, " (type I error if no effect)")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (95% MC interval)")
    ax.set_xlabel("sweep point" if x == "label" else x.replace("_", " "))
    ax.legend(loc="best", frameon=True, fontsize="small")
    return ax


def plot_heatmap(
    table: pd.DataFrame,
    x: str,
    y: str,
    metric: str,
    *,
    ax: Axes | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:.0%}",
    cmap: str = "cividis",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
) -> Axes:
    """A 2-D sweep as a heat map of `metric`: `x` across, `y` down, every cell labelled with
    its value (`fmt`), in a colour-blind-safe sequential map; scales to any grid size.

    `table`: rows of sweep.csv with columns `x`, `y` and `metric`."""
    grid = table.pivot_table(index=y, columns=x, values=metric, aggfunc="first")
    ax = ax or new_axes(max(8.0, 2.0 + 0.9 * grid.shape[1]), max(3.5, 1.2 + 0.55 * grid.shape[0]))
    image = ax.imshow(grid.to_numpy(float), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    norm = image.norm
    small = grid.size > 60
    for (i, j), value in np.ndenumerate(grid.to_numpy(float)):
        if np.isfinite(value):
            r, g, b, _ = image.cmap(norm(value))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # text that stands out
            ax.text(
                j,
                i,
                fmt(value),
                ha="center",
                va="center",
                fontsize="x-small" if small else "small",
                color="white" if dark else "black",
            )
    ax.set_xticks(
        range(grid.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.columns]
    )
    ax.set_yticks(
        range(grid.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.index]
    )
    ax.set_xlabel(short_name(x).replace("_", " "))
    ax.set_ylabel(short_name(y).replace("_", " "))
    ax.grid(False)
    ax.get_figure().colorbar(image, ax=ax, shrink=0.85, label=metric.replace("_", " "))
    return ax


def rows_figure(n_rows: int, n_cols: int, width: float = 12.0) -> tuple[Figure, list[Axes]]:
    """A figure of `n_cols` panels sharing one row per sweep point (height grows with the
    points, so labels never overlap)."""
    fig = Figure(figsize=(width, max(3.0, 1.6 + 0.3 * n_rows)), layout="constrained")
    axes = fig.subplots(1, n_cols, sharey=True, squeeze=False)[0]
    return fig, list(axes)


def plot_metric_rows(
    table: pd.DataFrame,
    metric: str,
    labels: list[str],
    ax: Axes,
    fmt: Callable[[float], str] | None = None,
    color: Any = LINE_COLOR,
    reference: float | None = None,
) -> Axes:
    """One row per sweep point (first at the top): `metric` with its 95% MC interval
    (`<metric>_mc_se`) and its value written beside it (direct labels, no legend)."""
    fmt = fmt or percent
    y = np.arange(len(table))[::-1]
    values = table[metric].to_numpy(float)
    se = table[f"{metric}_mc_se"].to_numpy(float) if f"{metric}_mc_se" in table else None
    ax.errorbar(
        values,
        y,
        xerr=None if se is None else 1.96 * np.nan_to_num(se),
        fmt="o",
        color=color,
        capsize=3,
        markersize=5,
    )
    for v, yi in zip(values, y, strict=True):
        if np.isfinite(v):
            ax.annotate(
                fmt(v),
                (v, yi),
                xytext=(7, 4),
                textcoords="offset points",
                fontsize="x-small",
                color=color,
            )
    if reference is not None:
        ax.axvline(reference, color=REFERENCE_COLOR, linestyle=":", linewidth=1.2)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(table) - 0.3)
    return ax


def plot_date_rows(
    frames: list[pd.DataFrame], labels: list[str], completion: dt.date, ax: Axes
) -> Axes:
    """One row per sweep point: the final analysis date's 5-95% (thin) and 25-75% (thick)
    range across replicates, its median (dot), and the share analysed by the completion
    date written at the right."""
    y = np.arange(len(frames))[::-1]
    limit = np.datetime64(completion, "D")
    for frame, yi in zip(frames, y, strict=True):
        dates = frame["date"].to_numpy("datetime64[D]")
        n = len(dates)
        days = np.sort(dates[~np.isnat(dates)]).astype("datetime64[D]")
        if not len(days):
            continue
        q = {p: days[min(int(p * n), len(days) - 1)] for p in (0.05, 0.25, 0.5, 0.75, 0.95)}
        ax.hlines(yi, q[0.05], q[0.95], color=BAND_COLOR, linewidth=1.5)
        ax.hlines(yi, q[0.25], q[0.75], color=BAND_COLOR, linewidth=6, alpha=0.6)
        ax.plot([q[0.5]], [yi], "o", color=LINE_COLOR, markersize=5)
        by = np.sum(days <= limit) / n
        ax.annotate(
            f"{percent(by)} by completion",
            (1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )
    draw_date_line(ax, completion, f"registered completion {completion:%d %b %Y}")
    ax.set_yticks(y, labels)
    format_date_axis(ax)
    return ax


def test_power_columns(table: pd.DataFrame, scenarios: list[Scenario]) -> list[tuple[str, str]]:
    """(column, label) of each test of the points' analysis.tests (in order of first use)
    with power_<name> in a sweep table."""
    found: dict[str, str] = {}
    for scenario in scenarios:
        for spec in scenario.analysis.tests:
            column = f"power_{spec.name}"
            if column in table and f"{column}_mc_se" in table:
                found.setdefault(column, spec.label)
    return list(found.items())


def point_scenarios(sweep: Path, manifest: dict[str, Any]) -> list[Scenario]:
    """The resolved scenario of each point of a sweep folder (from its run manifest)."""
    out = []
    for point in manifest.get("points", []):
        path = sweep / point["name"] / "manifest.json"
        if path.is_file():
            out.append(parse_scenario(read_json(path)["scenario"], str(path)))
    return out


def plot_power_by_test(
    table: pd.DataFrame,
    tests: list[tuple[str, str]],
    x: str = "label",
    alpha: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Power of each test (one line per test) across the sweep points (x: categories in
    table order), +-1.96 MC SE bars; `tests` are (power column, label) pairs."""
    ax = ax or new_axes(11.0, 5.8)
    xs = np.arange(len(table))
    colors = color_palette("deep", len(tests))
    width = 0.5 / max(len(tests), 1)
    for k, ((column, label), color) in enumerate(zip(tests, colors, strict=True)):
        offset = (k - (len(tests) - 1) / 2) * width  # dodge the bars of one point
        errorbar_group(
            ax, xs + offset, table[column], table[f"{column}_mc_se"], label, color, joined=True
        )
    ax.set_xticks(xs, [str(v) for v in table[x]], rotation=25, ha="right")
    power_axis(ax, alpha)
    ax.set_ylabel("power (95% MC interval)")
    ax.set_xlabel("sweep point")
    ax.legend(loc="best", frameon=True, fontsize="small", ncol=2)
    return ax


def months_to_dates(start: dt.date, months: pd.Series) -> np.ndarray:
    """Matplotlib date numbers of `start` + months x 30.4375 days."""
    return mdates.date2num(np.datetime64(start, "D")) + months.to_numpy(float) * DAYS_PER_MONTH


def plot_power_tradeoff(
    table: pd.DataFrame,
    start_date: dt.date,
    completion_date: dt.date,
    hue: str | None = None,
    text: str = "label",
    ax: Axes | None = None,
) -> Axes:
    """Power against the median final analysis date, one point per sweep point, with 95% MC
    intervals both ways and the registered completion date.

    `table`: rows of sweep.csv (power, analysis_months_median and their _mc_se, the `text`
    column written beside each point); points of one `hue` group are joined in date order.
    """
    ax = ax or new_axes()
    groups = [(None, table)] if hue is None else list(table.groupby(hue, sort=False))
    colors = [LINE_COLOR] if hue is None else color_palette("deep", len(groups))
    for (name, group), color in zip(groups, colors, strict=True):
        group = group.sort_values("analysis_months_median")
        x = months_to_dates(start_date, group["analysis_months_median"])
        xerr = 1.96 * group["analysis_months_median_mc_se"].to_numpy(float) * DAYS_PER_MONTH
        ax.errorbar(
            x,
            group["power"],
            xerr=xerr,
            yerr=1.96 * group["power_mc_se"].to_numpy(float),
            linestyle="none" if hue is None else "-",
            marker="o",
            capsize=3,
            color=color,
            label="sweep point" if hue is None else f"{hue} = {name}",
        )
        for xi, yi, label in zip(x, group["power"], group[text], strict=True):
            ax.annotate(
                str(label),
                (xi, yi),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize="small",
                color=color,
            )
    ax.axvline(
        mdates.date2num(np.datetime64(completion_date, "D")),
        color=REFERENCE_COLOR,
        linestyle="--",
        linewidth=1.3,
        label=f"registered completion {completion_date:%d %b %Y}",
    )
    ax.xaxis_date()
    format_date_axis(ax)
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("power (95% MC interval)")
    ax.set_xlabel("median date of the final analysis (95% MC interval)")
    ax.legend(loc="lower right", frameon=True, fontsize="small")
    return ax


def month_dates(months: pd.Series) -> np.ndarray:
    """Mid-month dates of YYYY-MM labels, so bars and bands sit inside their month."""
    return pd.to_datetime(months + "-15").to_numpy()


def plot_utilization(resources: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Chair and linac utilization by calendar month: median and 90% band across replicates.

    `resources`: resources.csv (item, month, q05, q50, q95, ...); items '... utilization'.
    """
    ax = ax or new_axes()
    palette = color_palette("colorblind")
    for color, item in zip(
        palette,
        sorted(i for i in resources["item"].unique() if i.endswith("utilization")),
        strict=False,
    ):
        rows = resources[resources["item"] == item]
        dates = month_dates(rows["month"])
        ax.fill_between(dates, rows["q05"], rows["q95"], color=color, alpha=0.2, linewidth=0)
        ax.plot(
            dates,
            rows["q50"],
            color=color,
            linewidth=2,
            label=f"{item} (median, band: middle 90% of replicates)",
        )
    ax.axhline(1.0, color=REFERENCE_COLOR, linestyle=":", linewidth=1.2, label="full capacity")
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of capacity in use (background + trial)")
    ax.set_xlabel("calendar month")
    format_date_axis(ax)
    ax.legend(loc="lower left", frameon=True, fontsize="small")
    return ax


def vials_by_size(supply: pd.DataFrame, drug: str) -> str:
    """'2,381 x 200 mg' or '1,120 x 100 mg + 280 x 450 mg': median total vials per size."""
    sizes = [i for i in supply["item"].unique() if i.startswith(f"{drug} vials ")]
    if not sizes:
        total = supply.loc[supply["item"] == f"{drug} vials", "cumulative_q50"].max()
        return f"{total:,.0f} vials"
    parts = []
    for item in sizes:
        total = supply.loc[supply["item"] == item, "cumulative_q50"].max()
        parts.append(f"{total:,.0f} x {item.removeprefix(f'{drug} vials ')}")
    return " + ".join(parts) + " vials"


def spread_labels(ys: list[float], gap: float) -> list[float]:
    """Label heights near `ys`, at least `gap` apart, in the order of `ys` (direct labels
    that do not overlap)."""
    order = np.argsort(ys)
    placed = np.asarray(ys, dtype=float)[order]
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    shift = max(0.0, (placed - np.asarray(ys, dtype=float)[order]).mean() / 2)
    out = np.empty(len(ys))
    out[order] = placed - shift
    return out.tolist()


def plot_supply(supply: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Cumulative mg dispensed per drug by calendar month: median line and 90% fan up to
    each replicate's final analysis, each line labelled at its end with the drug, its
    median total mg and vials per size (vials of different sizes are never added up); with
    the end-of-treatment rows (column `until`), their median as a dashed line and total.

    `supply`: supply.csv; items '<drug> mg', '<drug> vials' and '<drug> vials <size> mg'.
    """
    ax = ax or new_axes(11.0, 5.5)
    to_end = None
    if "until" in supply:
        to_end = supply[supply["until"] == "end of treatment"]
        supply = supply[supply["until"] == "final analysis"]
    drugs = [
        i.removesuffix(" mg")
        for i in supply["item"].unique()
        if i.endswith(" mg") and " vials " not in i
    ]
    labels = []
    for color, drug in zip(color_palette("colorblind"), drugs, strict=False):
        rows = supply[supply["item"] == f"{drug} mg"]
        dates = month_dates(rows["month"])
        ax.fill_between(
            dates,
            rows["cumulative_q05"] / 1000,
            rows["cumulative_q95"] / 1000,
            color=color,
            alpha=0.18,
            linewidth=0,
        )
        ax.plot(dates, rows["cumulative_q50"] / 1000, color=color, linewidth=2, label=drug)
        end = rows["cumulative_q50"].iloc[-1] / 1000
        text = f"{drug}: {end:,.1f} g to the analysis\n({vials_by_size(supply, drug)})"
        when = dates[-1]
        more = to_end[to_end["item"] == f"{drug} mg"] if to_end is not None else supply.iloc[:0]
        total = more["cumulative_q50"].iloc[-1] / 1000 if len(more) else end
        if total > end * 1.0005:  # treatment after the analysis: draw it, say how much
            median = more["cumulative_q50"].to_numpy()
            last = int(np.flatnonzero(np.diff(median, prepend=0.0) > 0).max())  # it ends
            more_dates = month_dates(more["month"])[: last + 1]
            ax.plot(
                more_dates, median[: last + 1] / 1000, color=color, linewidth=1.2, linestyle="--"
            )
            text += f"\n{total:,.1f} g to the end of treatment (dashed)"
            when, end = max(when, more_dates[-1]), total
        labels.append((end, when, color, text))
    top = max((y for y, *_ in labels), default=1.0) or 1.0
    for y, (end, when, color, text) in zip(
        spread_labels([y for y, *_ in labels], 0.15 * top), labels, strict=True
    ):
        ax.annotate(
            text,
            (when, end),
            xytext=(when + np.timedelta64(25, "D"), y),
            textcoords="data",
            va="center",
            fontsize="small",
            color=color,
            arrowprops={"arrowstyle": "-", "color": color, "alpha": 0.5},
        )
    ax.set_ylabel("drug dispensed since the start, g (cumulative)")
    ax.set_xlabel("calendar month")
    ax.margins(x=0.02)
    format_date_axis(ax)
    ax.set_xlim(right=ax.get_xlim()[1] + 0.3 * np.ptp(ax.get_xlim()))  # room for the labels
    return ax


def utilization_panel(resources: pd.DataFrame, summary: pd.DataFrame | None = None) -> Panel:
    """The utilization figure; its busiest-month figure is the summary's one definition
    (per replicate the busiest calendar month up to the analysis, then the mean over
    replicates), not the peak of the median curve drawn."""
    values = summary.set_index("metric")["estimate"] if summary is not None else pd.Series()
    peaks = [
        (name, values.get(f"clinic_{key}_utilization_peak_month_mean"))
        for name, key in (("chairs", "chair"), ("linac", "linac"))
    ]
    detail = "; ".join(f"{name} {value:.0%}" for name, value in peaks if pd.notna(value))
    detail = (
        f"busiest month (per replicate, mean over replicates, as in summary.csv): {detail}"
        if detail
        else ""
    )
    figure = finish(
        plot_utilization(resources), "Infusion chairs and linac: utilization by month", detail
    )
    caption = (
        "Share of each month's capacity in use, the clinic's background load included: "
        "median across replicates and the middle 90%. The busiest month is taken per "
        "replicate (the month-by-month median curve peaks lower)."
    )
    return Panel("utilization", figure, caption)


def supply_panel(supply: pd.DataFrame) -> Panel:
    figure = finish(
        plot_supply(supply),
        "Drug supply: mg dispensed over time",
        "median totals up to each replicate's final analysis (vials per size) "
        "and, dashed, to the end of treatment",
    )
    caption = (
        "Drug dispensed per drug, cumulative from the study start up to each "
        "replicate's final analysis: median across replicates and the middle 90%, "
        "with the vials per size (single use; order with the upper band in mind). "
        "Patients still on treatment at the analysis go on: the dashed line is the "
        "median to the end of everyone's treatment (supply.csv, until = 'end of "
        "treatment')."
    )
    return Panel("supply", figure, caption)


# --- assembling figures from output folders -------------------------------------------------


def stopping_table(summary: pd.DataFrame, k_max: int) -> pd.DataFrame:
    """Per look: share stopping for efficacy / futility and their MC SEs, from summary.csv
    rows reject_look{k} and futility_look{k}."""
    rows = summary.set_index("metric")
    return pd.DataFrame(
        {
            "look": np.arange(1, k_max + 1),
            "efficacy": [rows.loc[f"reject_look{k}", "estimate"] for k in range(1, k_max + 1)],
            "efficacy_se": [rows.loc[f"reject_look{k}", "mc_se"] for k in range(1, k_max + 1)],
            "futility": [rows.loc[f"futility_look{k}", "estimate"] for k in range(1, k_max + 1)],
            "futility_se": [rows.loc[f"futility_look{k}", "mc_se"] for k in range(1, k_max + 1)],
        }
    )


def plot_stopping(
    table: pd.DataFrame, design: pd.DataFrame | None = None, ax: Axes | None = None
) -> Axes:
    """Stopping probabilities by look: bars for efficacy and futility stops (95% MC
    intervals), and, when `design` (boundaries.csv columns p_efficacy_h1, p_futility_h1) is
    given, the closed-form probabilities as markers."""
    ax = ax or new_axes(9.0, 5.0)
    x = table["look"].to_numpy()
    width = 0.38
    colors = {"efficacy": "#55A868", "futility": "#C44E52"}
    for offset, what in ((-width / 2, "efficacy"), (width / 2, "futility")):
        ax.bar(
            x + offset,
            table[what],
            width,
            color=colors[what],
            alpha=0.85,
            label=f"simulated: stop for {what}",
            yerr=1.96 * table[f"{what}_se"].to_numpy(float),
            capsize=4,
        )
        if design is not None:
            ax.plot(
                x + offset,
                design[f"p_{what}_h1"],
                linestyle="none",
                marker="D",
                color="black",
                markersize=6,
                label="closed form (design, no conduct)" if what == "efficacy" else None,
            )
    ax.set_xticks(x, [f"look {k}" + (" (final)" if k == x[-1] else "") for k in x])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of replicates stopping there")
    ax.set_ylim(0, max(0.05, float((table[["efficacy", "futility"]].to_numpy()).max()) * 1.4))
    ax.legend(loc="upper left", frameon=True, fontsize="small")
    return ax


def plot_look_dates(
    replicates: pd.DataFrame, k_max: int, completion_date: dt.date, ax: Axes | None = None
) -> Axes:
    """Date of each look's analysis across the replicates that held it (box: middle 50%,
    whiskers: 5% to 95%), against the registered completion date."""
    ax = ax or new_axes(10.0, 1.2 + 0.9 * k_max)
    data, labels = [], []
    for k in range(1, k_max + 1):
        dates = replicates[f"look{k}_date"].dropna().to_numpy("datetime64[D]")
        data.append(mdates.date2num(dates) if len(dates) else np.array([np.nan]))
        labels.append(f"look {k}\n({percent(len(dates) / len(replicates))} held)")
    ax.boxplot(
        data,
        orientation="horizontal",
        whis=(5, 95),
        showfliers=False,
        widths=0.5,
        patch_artist=True,
        boxprops={"facecolor": "#8DA0CB", "alpha": 0.8},
        medianprops={"color": "black", "linewidth": 2},
    )
    ax.set_yticks(np.arange(1, k_max + 1), labels)
    ax.invert_yaxis()
    ax.xaxis_date()
    draw_date_line(ax, completion_date, f"registered completion {completion_date:%d %b %Y}")
    ax.set_xlabel("date of the look's analysis")
    format_date_axis(ax)
    ax.legend(loc="lower right", frameon=True, fontsize="small")
    return ax


def sequential_panels(run: Path, scenario: Scenario, replicates: pd.DataFrame) -> list[Panel]:
    """The two figures of a group-sequential run: stopping by look, look dates."""
    from sim.engine.results import look_count
    from sim.stats.boundaries import boundaries_table

    k_max = look_count(replicates)
    if not k_max:
        return []
    summary = pd.read_csv(run / "summary.csv")
    table = stopping_table(summary, k_max)
    rows = summary.set_index("metric")["estimate"]
    ax = plot_stopping(table, boundaries_table(scenario))
    stop = finish(
        ax,
        f"Early stop in {percent(rows['early_stop'])} of replicates; power "
        f"{percent(rows['power'])}",
        f"expected events {rows['expected_events']:.1f}, expected analysis at "
        f"{rows['expected_analysis_months']:.1f} months",
    )
    stopping = Panel(
        "stopping",
        stop,
        "Share of replicates stopping at each look for efficacy or (non-binding "
        "or binding) futility, with 95% Monte Carlo intervals; diamonds: the "
        "design's closed-form probabilities under the scenario's hazard ratio.",
    )
    completion = scenario.trial.completion_date
    ax = plot_look_dates(replicates, k_max, completion)
    last = replicates[f"look{k_max}_date"].dropna()
    late = (
        (last.to_numpy("datetime64[D]") > np.datetime64(completion, "D")).mean()
        if len(last)
        else 0.0
    )
    dates = Panel(
        "look_dates",
        finish(
            ax,
            "When will each look happen?",
            f"the final look after the completion date in "
            f"{percent(late)} of the trials that reach it",
        ),
        "Analysis date of each look across the replicates that held it (box: middle "
        "50%, whiskers: 5% to 95%); a trial stopped early holds no later look.",
    )
    return [stopping, dates]


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def finish(ax: Axes, headline: str, detail: str = "") -> Figure:
    """Headline (bold, above) and detail (the axes title) of a figure; returns the figure."""
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    fig.suptitle(headline, x=0.01, ha="left", fontweight="bold", fontsize="large")
    if detail:
        ax.set_title(detail, loc="left", fontsize="medium")
    return fig


def percent(share: float) -> str:
    """A share for a title: 99.6% stays 99.6% (never rounded up to a reassuring 100%)."""
    if share in (0.0, 1.0):
        return f"{share:.0%}"
    return f"{np.floor(share * 1000) / 10:.1f}%"


def date_of(start: dt.date, day: float) -> str:
    if not np.isfinite(day):
        return "never"
    when = start + dt.timedelta(days=int(day))
    return f"{when.day} {when:%b %Y}"


def spread_of(start: dt.date, days: np.ndarray) -> str:
    """'median D (90% of replicates between A and B)' of clock days (inf = never)."""
    q05, q50, q95 = np.quantile(days, [0.05, 0.5, 0.95], method="inverted_cdf")
    return (
        f"median {date_of(start, q50)}; 90% of replicates {date_of(start, q05)} to "
        f"{date_of(start, q95)}"
    )


def enrollment_panel(follow: FollowUp, scenario: Scenario) -> Panel:
    start, n = scenario.trial.start_date, scenario.trial.sample_size
    last = follow.rand_day[:, n - 1]
    end = np.quantile(last[np.isfinite(last)], 0.99) + 45 if np.isfinite(last).any() else 730
    grid = day_grid(end, step=1)
    bands = quantile_bands(count_by_day(follow.rand_day, grid), grid, start)
    ax = plot_enrollment(bands, n)
    how = "" if follow.exact else " (interpolated between milestone dates)"
    caption = (
        f"Patients randomized by each date across {len(last)} replicates{how}: the "
        "line is the median, the bands hold the middle 50% and 90% of replicates."
    )
    figure = finish(
        ax,
        f"Enrollment: when will all {n} patients be randomized?",
        f"Last patient randomized: {spread_of(start, last)}",
    )
    return Panel("enrollment", figure, caption)


def events_panel(follow: FollowUp, scenario: Scenario, analysis_dates: pd.Series) -> Panel:
    start, target = scenario.trial.start_date, scenario.analysis.event_target
    completion = scenario.trial.completion_date
    last = clock_days(analysis_dates, start)
    q95 = np.quantile(last[np.isfinite(last)], 0.95) if np.isfinite(last).any() else 0.0
    end = max((completion - start).days, float(q95)) + 120
    grid = day_grid(end, step=1)
    bands = quantile_bands(count_by_day(follow.event_day, grid), grid, start)
    ax = plot_events(bands, target, completion, scenario.analysis.cut_date)
    if target is not None:
        reached = follow.event_day[:, target - 1]
        share = np.mean(reached <= (completion - start).days)
        headline = (
            f"PFS events: the {target}th event is seen by {completion:%d %b %Y} in "
            f"{percent(share)} of replicates"
        )
        detail = f"{target}th event seen: {spread_of(start, reached)}"
    else:
        headline, detail = "PFS events seen over time", ""
    how = "" if follow.exact else " (interpolated between milestone dates)"
    caption = (
        f"PFS events seen (at scans, or deaths) by each date{how}, counted as if "
        "follow-up went on past the data cut, so the curve shows when the target "
        "would be reached; line = median, bands = middle 50% and 90% of replicates."
    )
    return Panel("events", finish(ax, headline, detail), caption)


def analysis_date_panel(
    frame: pd.DataFrame, scenario: Scenario, headline: str, detail: str = ""
) -> Panel:
    completion = scenario.trial.completion_date
    ax = plot_analysis_dates(frame, completion)
    caption = (
        "Share of replicates whose final analysis has happened by each date (empirical "
        "cumulative distribution); the dashed line is the registered completion date."
    )
    return Panel("analysis_date", finish(ax, headline, detail), caption)


def km_panel(patients: pd.DataFrame, replicates: pd.DataFrame) -> Panel:
    rep = int(patients["replicate"].min())
    one = patients[patients["replicate"] == rep]
    row = replicates.loc[replicates["replicate"] == rep].iloc[0]
    cut = pd.Timestamp(row["data_cut_date"])
    ax = plot_km(one)
    p = row["p_value"]
    shown_p = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    detail = (
        f"Data cut {cut:%d %b %Y} ({row['events']} events): HR {row['hazard_ratio']:.2f} "
        f"(95% CI {row['hr_ci_low']:.2f} to {row['hr_ci_high']:.2f}), {shown_p}"
    )
    caption = (
        "What one simulated trial's final analysis would look like: Kaplan-Meier PFS "
        "by arm at its data cut (one replicate, not an average; ticks are censored "
        "patients; the numbers below are patients still at risk)."
    )
    return Panel(
        "km", finish(ax, f"One simulated final analysis (replicate {rep})", detail), caption
    )


def os_km_panel(patients: pd.DataFrame, replicates: pd.DataFrame) -> Panel:
    rep = int(patients["replicate"].min())
    one = patients[patients["replicate"] == rep]
    row = replicates.loc[replicates["replicate"] == rep].iloc[0]
    cut = pd.Timestamp(row["data_cut_date"])
    ax = plot_km(one, time="os_days_at_cut", event="os_event_at_cut", ylabel="overall survival")
    p = row["os_at_pfs_cut_p_value"]
    shown_p = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    detail = (
        f"At the PFS data cut {cut:%d %b %Y}: {row['os_deaths_at_pfs_cut']} deaths, "
        f"HR {row['os_at_pfs_cut_hazard_ratio']:.2f}, {shown_p}; deaths by maturity "
        f"date: median {replicates['os_deaths_by_maturity'].median():.0f} over "
        f"{len(replicates)} replicates"
    )
    caption = (
        "Overall survival of one simulated trial at its PFS data cut (illness-death "
        "model: deaths without progression and after it); ticks are censored patients "
        "(alive at the cut, or lost to follow-up)."
    )
    return Panel(
        "os_km",
        finish(ax, f"Overall survival at the PFS analysis (replicate {rep})", detail),
        caption,
    )


def rate_quantiles(replicates: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Quantiles across replicates of per-arm rate columns ``<prefix>_<arm>``."""
    rows = []
    for endpoint, prefix in columns.items():
        for arm in ARM_COLORS:
            col = f"{prefix}_{arm}"
            if col not in replicates:
                continue
            values = replicates[col].dropna().to_numpy(float)
            if not len(values):
                continue
            qs = np.quantile(values, QUANTILES)
            rows.append(
                {
                    "endpoint": endpoint,
                    "arm": arm,
                    **dict(zip(("q05", "q25", "q50", "q75", "q95"), qs, strict=True)),
                }
            )
    return pd.DataFrame(rows)


def response_panel(replicates: pd.DataFrame) -> Panel:
    columns = {"objective response (ORR)": "orr", "disease control (DCR)": "dcr"}
    columns.update(
        {
            f"local control at {c.split('_')[2]}": c.removesuffix("_control")
            for c in replicates.columns
            if c.startswith("local_control_") and c.endswith("m_control")
        }
    )
    rates = rate_quantiles(replicates, columns)
    ax = plot_rate_bands(rates)
    parts = []
    for name, col in (
        ("ORR", "orr_reject"),
        ("DCR", "dcr_reject"),
        ("local control (log-rank)", "local_control_logrank_reject"),
    ):
        if col in replicates:
            parts.append(f"{name} {percent(replicates[col].mean())}")
    detail = "Power: " + ", ".join(parts) if parts else ""
    caption = (
        "Tumour response (best response at the scans, CMH test across strata) and local "
        "control of the irradiated lesion (Kaplan-Meier rate) per arm at the PFS "
        "analysis: the spread shows what 104 patients can show."
    )
    return Panel("response", finish(ax, "Response and local control by arm", detail), caption)


def incidence_table(replicates: pd.DataFrame) -> pd.DataFrame:
    rows = []
    pattern = "ae_incidence_"
    for col in replicates.columns:
        if not col.startswith(pattern):
            continue
        rest = col.removeprefix(pattern)
        arm = next((a for a in ARM_COLORS if rest.endswith(f"_{a}")), None)
        if arm is None:
            continue
        rest = rest.removesuffix(f"_{arm}")
        kind, _, grade = rest.rpartition("_")
        values = replicates[col].dropna().to_numpy(float)
        if not len(values):
            continue
        rows.append(
            {
                "kind": kind.replace("_", " "),
                "arm": arm,
                "grade": grade,
                "mean": values.mean(),
                "q05": np.quantile(values, 0.05),
                "q95": np.quantile(values, 0.95),
            }
        )
    return pd.DataFrame(rows)


def incidence_panel(replicates: pd.DataFrame) -> Panel:
    table = incidence_table(replicates)
    ax = plot_incidence(table)
    allk = table[(table["kind"] == "all") & (table["grade"] == "grade3plus")].set_index("arm")
    detail = "grade >= 3: " + ", ".join(f"{arm} {allk.at[arm, 'mean']:.0%}" for arm in allk.index)
    watch = [c for c in replicates.columns if c.startswith("ae_at_least_")][:3]
    if watch:
        kind = "_".join(watch[0].split("_")[4:]).replace("_", " ")
        ks = ", ".join(c.split("_")[3] for c in watch)
        detail += f"; P(at least {ks} {kind} cases): " + ", ".join(
            percent(replicates[c].mean()) for c in watch
        )
    caption = (
        "Treatment-related adverse events by kind and arm, patients with an event among "
        "the treated, by the final analysis: bars are means over replicates, whiskers "
        "the 5-95% range; the same events cause the clinic's delays, reductions and "
        "discontinuations."
    )
    return Panel("adverse_events", finish(ax, "Adverse events by arm", detail), caption)


def analysis_dates(replicates: pd.DataFrame, label: str) -> pd.DataFrame:
    """The input of `plot_analysis_dates` for one run."""
    return pd.DataFrame(
        {
            "date": replicates["final_analysis_date"],
            "label": label,
            "target_reached": replicates["cut_reason"] == "events",
            "cut_by_date": replicates["cut_reason"] == "date",
        }
    )


@themed
@themed
def run_figures(run: Path) -> list[Panel]:
    """Enrollment, events, final analysis date and (when kept) Kaplan-Meier of a run folder."""
    from sim.engine.results import read_run

    manifest = read_run(run)
    scenario = parse_scenario(manifest["scenario"], f"{run}/manifest.json")
    replicates = pd.read_parquet(run / "replicates.parquet")
    first = replicates.iloc[:MAX_CURVE_REPS]
    follow = follow_up_days(run, manifest, first)
    completion = scenario.trial.completion_date
    dates = analysis_dates(replicates, "final analysis")
    share = np.mean(clock_days(dates["date"], completion) <= 0)
    by_date = np.mean(replicates["cut_reason"] == "date")
    target = replicates["target_events_date"].to_numpy("datetime64[D]")
    by_target = np.mean(target <= np.datetime64(completion, "D"))
    detail = (
        f"{percent(by_date)} cut at {scenario.analysis.cut_date:%d %b %Y} before the event target"
        if scenario.analysis.cut_date is not None
        else ""
    )
    panels = [
        enrollment_panel(follow, scenario),
        events_panel(follow, scenario, first["final_analysis_date"]),
        analysis_date_panel(
            dates,
            scenario,
            f"Event target by {completion:%d %b %Y} in {percent(by_target)} of replicates",
            f"final analysis by then in {percent(share)}; {detail}" if detail else "",
        ),
    ]
    panels += sequential_panels(run, scenario, replicates)
    if (run / "patients.parquet").exists():
        patients = pd.read_parquet(
            run / "patients.parquet",
            columns=["replicate", "arm", "in_analysis", "pfs_days_at_cut", "pfs_event_at_cut"],
        )
        panels.append(km_panel(patients, replicates))
        if "os_at_pfs_cut_p_value" in replicates:
            os_cols = ["replicate", "arm", "in_analysis", "os_days_at_cut", "os_event_at_cut"]
            panels.append(
                os_km_panel(pd.read_parquet(run / "patients.parquet", columns=os_cols), replicates)
            )
    if "orr_control" in replicates or "local_control_logrank_reject" in replicates:
        panels.append(response_panel(replicates))
    if any(c.startswith("ae_incidence_") for c in replicates.columns):
        panels.append(incidence_panel(replicates))
    # Monthly tables run two years past completion; show them up to the month by which 95%
    # of replicates have had their final analysis (the model stops there).
    last = pd.Series(replicates["final_analysis_date"]).quantile(0.95)
    until = f"{last:%Y-%m}" if pd.notna(last) else "9999-12"
    summary = pd.read_csv(run / "summary.csv")
    if (run / "resources.csv").exists():
        table = pd.read_csv(run / "resources.csv")
        panels.append(utilization_panel(table[table["month"] <= until], summary))
    if (run / "supply.csv").exists():
        table = pd.read_csv(run / "supply.csv")
        to_end = table["until"].eq("end of treatment") if "until" in table else False
        panels.append(supply_panel(table[(table["month"] <= until) | to_end]))
    return panels


def sweep_axes(manifest: dict[str, Any], table: pd.DataFrame) -> tuple[str, list[str]]:
    """(x, hue columns) for the power curve: the first numeric grid path with more than one
    value, the other grid paths and the variant as hue; `label` as categories otherwise."""
    grid = [p for p in manifest.get("grid", {}) if p in table and table[p].nunique() > 1]
    numeric = [p for p in grid if pd.api.types.is_numeric_dtype(table[p])]
    if not numeric:
        return "label", []
    others = [p for p in grid if p != numeric[0]]
    if "variant" in table and table["variant"].nunique() > 1:
        others.insert(0, "variant")
    return numeric[0], others


def short_name(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def grid_2d(manifest: dict[str, Any], table: pd.DataFrame) -> tuple[str, str] | None:
    """(x, y) when the sweep is a full 2-D grid of two numeric paths (and no variants)."""
    grid = [p for p in manifest.get("grid", {}) if p in table and table[p].nunique() > 1]
    numeric = [p for p in grid if pd.api.types.is_numeric_dtype(table[p])]
    has_variants = "variant" in table and table["variant"].nunique() > 1
    if len(grid) == 2 and len(numeric) == 2 and not has_variants:
        return numeric[0], numeric[1]
    return None


def heatmap_panels(table: pd.DataFrame, x: str, y: str, scenario: Scenario) -> list[Panel]:
    """A 2-D sweep as heat maps: power, P(event target by completion), analysis month."""
    completion = scenario.trial.completion_date
    specs = [
        ("power", "power_heatmap", "Power", "share of replicates rejecting H0", {}),
        (
            "p_target_by_completion",
            "target_heatmap",
            f"Event target by {completion:%d %b %Y}",
            "share of replicates",
            {},
        ),
        (
            "analysis_months_median",
            "analysis_heatmap",
            "Median final analysis",
            "months since the study start",
            {"fmt": lambda v: f"{v:.1f}", "vmin": None, "vmax": None, "cmap": "viridis_r"},
        ),
    ]
    panels = []
    for metric, name, headline, detail, options in specs:
        if metric not in table:
            continue
        ax = plot_heatmap(table, x, y, metric, **options)
        panels.append(
            Panel(
                name,
                finish(ax, f"{headline} across the grid", detail),
                f"{headline}: one cell per grid point (value written in it), "
                f"{short_name(x)} across, {short_name(y)} down.",
            )
        )
    return panels


def power_facets(table: pd.DataFrame, x: str, hue: str, alpha: float) -> Figure:
    """Small multiples: one power curve per `hue` group, same axes, the group as title."""
    groups = list(table.groupby(hue, sort=False))
    ncols = min(4, len(groups))
    nrows = int(np.ceil(len(groups) / ncols))
    fig = Figure(figsize=(3.6 * ncols + 1, 2.8 * nrows + 1), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, (name, group) in zip(axes, groups, strict=False):
        group = group.sort_values(x)
        errorbar_group(
            ax, group[x], group["power"], group["power_mc_se"], None, LINE_COLOR, joined=True
        )
        ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
        ax.axhline(alpha, color=REFERENCE_COLOR, linestyle="--", linewidth=1)
        ax.set_title(f"{hue} = {name}", fontsize="small", loc="left")
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    fig.supxlabel(x.replace("_", " "))
    fig.supylabel("power (95% MC interval); dotted 80%, dashed alpha")
    return fig


@themed
def sweep_figures(sweep: Path) -> list[Panel]:
    """A sweep's figures, chosen to stay readable at any size: a 2-D grid as heat maps;
    otherwise power by point (a curve, small multiples per group, or one row per point)
    and one row per point for power beside the analysis date; then the analysis dates."""
    manifest = read_json(sweep / "manifest.json")
    table = pd.read_csv(sweep / "sweep.csv")
    scenario = parse_scenario(manifest["scenario"], f"{sweep}/manifest.json")
    completion = scenario.trial.completion_date
    reps = manifest["replicates"]
    two_d = grid_2d(manifest, table)
    labels = [str(v) for v in table["label"]]
    panels: list[Panel] = []
    if two_d is not None:
        panels += heatmap_panels(table, *two_d, scenario)
    else:
        x, others = sweep_axes(manifest, table)
        if x != "label" and not others:
            ax = plot_power_curve(
                table.rename(columns={x: short_name(x)}),
                short_name(x),
                None,
                scenario.analysis.alpha,
            )
            panels.append(
                Panel(
                    "power_curve",
                    finish(ax, f"Power by {short_name(x)}"),
                    f"Share of replicates rejecting H0 ({reps} replicates per "
                    "point, common random numbers), 95% Monte Carlo intervals.",
                )
            )
        elif x != "label":
            hue = ", ".join(map(short_name, others))
            shown = table.rename(columns={x: short_name(x)})
            shown[hue] = shown[others].astype(str).agg(", ".join, axis=1)
            fig = power_facets(shown, short_name(x), hue, scenario.analysis.alpha)
            fig.suptitle(
                f"Power by {short_name(x)}, one panel per {hue}",
                x=0.01,
                ha="left",
                fontweight="bold",
            )
            panels.append(
                Panel(
                    "power_curve",
                    fig,
                    "Small multiples: power by the first grid path, one panel per "
                    "value of the others (same axes), 95% MC intervals.",
                )
            )
        fig, (left, right) = rows_figure(len(table), 2)
        plot_metric_rows(table, "power", labels, left, reference=0.8)
        left.set_xlim(0, 1.12)
        left.xaxis.set_major_formatter(PercentFormatter(1.0))
        left.set_xlabel("power (95% MC interval; dotted: 80%)")
        if "p_target_by_completion" in table:
            plot_metric_rows(
                table, "p_target_by_completion", labels, right, color="#8C564B", reference=None
            )
            right.set_xlim(0, 1.12)
            right.xaxis.set_major_formatter(PercentFormatter(1.0))
            right.set_xlabel(f"event target reached by {completion:%d %b %Y}")
        fig.suptitle(
            "Power and the calendar risk, by sweep point", x=0.01, ha="left", fontweight="bold"
        )
        panels.append(
            Panel(
                "power_tradeoff",
                fig,
                "One row per sweep point: power (left) and the share of replicates "
                "reaching the event target by the registered completion date "
                "(right), values written beside the points, 95% MC intervals.",
            )
        )
    frames = [
        pd.read_parquet(
            sweep / p["name"] / "replicates.parquet", columns=["final_analysis_date"]
        ).rename(columns={"final_analysis_date": "date"})
        for p in manifest["points"]
    ]
    fig, (ax,) = rows_figure(len(frames), 1, width=11.0)
    plot_date_rows(frames, [p["label"] for p in manifest["points"]], completion, ax)
    ax.set_xlabel("date of the final analysis (dot: median; bars: middle 50% and 90%)")
    fig.suptitle(
        f"Final analysis date by sweep point (completion {completion:%d %b %Y})",
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    panels.append(
        Panel(
            "analysis_date",
            fig,
            "One row per sweep point: when the final analysis happens across "
            "replicates, and the share analysed by the registered completion date.",
        )
    )
    tests = test_power_columns(table, [scenario, *point_scenarios(sweep, manifest)])
    if len(tests) > 1:  # analysis.supportive_tests: every test's power side by side
        ax = plot_power_by_test(table, tests, "label", scenario.analysis.alpha)
        panels.insert(
            1,
            Panel(
                "power_by_test",
                finish(ax, "Power of each test across the sweep"),
                f"Share of replicates rejecting H0 with each test of analysis.test and "
                f"analysis.supportive_tests ({reps} replicates per point, the same replicates "
                "for every test and, by common random numbers, every point), with 95% Monte "
                "Carlo intervals.",
            ),
        )
    return panels


@themed
def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_figures(panels: list[Panel], folder: Path) -> list[Path]:
    """Write each panel as `<name>.png` into `folder` (created), with a manifest.json that
    tells a later `plot` the folder is its own; return the paths of the PNGs."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for panel in panels:
        path = folder / f"{panel.name}.png"
        path.write_bytes(figure_png(panel.figure))
        paths.append(path)
    manifest = {"tool": "sim", "kind": "plots", "files": [p.name for p in paths]}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return paths


# --- command line --------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``plot`` to the ``python -m sim`` subcommands."""
    plot = subparsers.add_parser(
        "plot",
        help="draw the figures of a run or sweep folder (PNG)",
        description="Draw the figures of a run folder (enrollment, events, analysis date, "
        "Kaplan-Meier) or of a sweep folder (power curve, trade-off) as PNG.",
    )
    plot.add_argument("folder", type=Path, help="a run or sweep folder")
    plot.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the PNG files (default: FOLDER/plots); a plots "
        "folder sim wrote is replaced, any other folder is refused",
    )
    plot.set_defaults(func=cmd_plot)


def cmd_plot(args: Any) -> int:
    from sim.engine.results import read_run
    from sim.storage.folders import output_folder

    manifest = read_run(args.folder, sweep_ok=True)
    is_sweep = manifest.get("kind") == "sweep"
    out = args.out or args.folder / "plots"
    with output_folder(out, True, needs_force=False, kinds=["plots"]) as staging:
        panels = sweep_figures(args.folder) if is_sweep else run_figures(args.folder)
        names = [path.name for path in write_figures(panels, staging)]
    for name in names:
        print(out / name)
    return 0
