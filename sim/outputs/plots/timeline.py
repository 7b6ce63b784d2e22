"""Enrollment, events of the primary endpoint (PFS or OS) and the final analysis date over
calendar time, across replicates.

Enrollment and event curves need every replicate's randomization and event-seen days, which
replicates.parquet does not hold. `follow_up_days` replays the vectorized stages of the run
(enrollment, randomization, latent outcomes, assessments, deaths) from the manifest's
scenario and seed: chunk c draws only from SeedSequence(seed, spawn_key=(c,)), so the replay
is exact. It is checked against the milestone dates of replicates.parquet; should they ever
disagree, the curves are interpolated between the milestones instead, and the figure says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sim.outputs.plots.style import (
    LINE_COLOR,
    QUANTILES,
    REFERENCE_COLOR,
    Panel,
    color_palette,
    draw_bands,
    draw_date_line,
    finish,
    format_date_axis,
    new_axes,
    percent,
)
from sim.scenario import ENDPOINT_WORDS, Scenario, parse_scenario

MAX_CURVE_REPS = 2000  # replicates replayed for the curves: bands to within a few days


@dataclass(frozen=True)
class FollowUp:
    """Clock days (since trial start) of every randomization and every seen event of the
    primary endpoint (PFS: at a scan or a death; OS: a death),
    shape (R, N), sorted per row, inf where none; events as if follow-up went on past the cut.
    `exact` is False when interpolated between milestone dates."""

    rand_day: np.ndarray
    event_day: np.ndarray
    exact: bool


def replay_follow_up(scenario: Scenario, seed: int, reps: int) -> FollowUp:
    """Re-draw the vectorized stages of replicates 0..reps-1 (see the module docstring)."""
    from sim.engine.chunk import TrialModel, chunk_streams, draw_cohort
    from sim.engine.executors import plan_chunks
    from sim.engine.primary import primary_cohort

    model = TrialModel.from_scenario(scenario)
    rand, events = [], []
    for spec in plan_chunks(reps):
        # the chunk's patients as the run drew them (`draw_cohort`: the prior's truth too)
        cohort = draw_cohort(model, chunk_streams(seed, spec.chunk), spec.n_reps)
        observed = primary_cohort(model, cohort).observed  # the primary endpoint's events
        rand_day = cohort.enrolled.rand_day
        rand.append(rand_day.astype(float))
        events.append(rand_day + observed.event_day)
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
    # a trial stopped early randomizes nobody after the stop: its last patient never comes
    known = np.isfinite(last) | ~stopped_early(replicates)
    if not np.array_equal(np.floor(follow.rand_day[known, n - 1]), last[known]):
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


def plot_enrollment(
    bands: pd.DataFrame,
    target: int,
    ax: Axes | None = None,
    *,
    among: str = "replicates",
    stops: pd.DataFrame | None = None,
) -> Axes:
    """Cumulative patients randomized by calendar date: median, 50% and 90% bands, target.

    `bands`: columns date, q05, q25, q50, q75, q95 (see `quantile_bands`), over `among`;
    `stops`: the trials stopped early at a look (`draw_early_stops`), drawn as points.
    """
    ax = ax or new_axes()
    draw_bands(ax, bands, "patients randomized", among)
    if stops is not None:
        draw_early_stops(ax, stops)
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
    *,
    among: str = "replicates",
    stops: pd.DataFrame | None = None,
    events: str = "PFS events",
) -> Axes:
    """Cumulative events seen by calendar date, with the event target and the dates.

    `bands`, `among` and `stops` as in `plot_enrollment`; `cut_date` is drawn only when it
    is not the completion date; `events`: what they are (the primary endpoint's events,
    `Analysis.events_label`).
    """
    ax = ax or new_axes()
    draw_bands(ax, bands, f"{events} seen", among)
    if stops is not None:
        draw_early_stops(ax, stops)
    if target is not None:
        ax.axhline(
            target,
            color=REFERENCE_COLOR,
            linestyle=":",
            linewidth=1.3,
            label=f"event target: {target} {events}",
        )
    draw_date_line(ax, completion_date, f"registered completion {completion_date:%d %b %Y}")
    if cut_date is not None and cut_date != completion_date:
        draw_date_line(ax, cut_date, f"calendar data cut {cut_date:%d %b %Y}", style="-.")
    ax.set_ylabel(f"{events} seen (cumulative)")
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


STOP_COLORS = {"efficacy": "#55A868", "futility": "#C44E52"}  # as the stopping figure's bars
STOP_MARKERS = {"efficacy": "o", "futility": "X"}


def stopped_early(replicates: pd.DataFrame) -> np.ndarray:
    """Per replicate: stopped early at an interim look (False without looks)."""
    if "early_stop" not in replicates:
        return np.zeros(len(replicates), dtype=bool)
    return replicates["early_stop"].to_numpy(dtype=bool)


def early_stops(replicates: pd.DataFrame, value: str) -> pd.DataFrame:
    """The trials stopped early at a look, for `draw_early_stops`: the date the trial was
    concluded, its `value` column then (events, patients randomized), the look and the
    reason, and `share`: each (look, reason)'s share of all replicates."""
    early = stopped_early(replicates)
    column = "concluded_date" if "concluded_date" in replicates else "final_analysis_date"
    stops = pd.DataFrame(
        {
            "date": replicates.loc[early, column],
            "value": replicates.loc[early, value],
            "look": replicates.loc[early, "stop_look"],
            "reason": replicates.loc[early, "stop_reason"],
        }
    )
    counts = stops.groupby(["look", "reason"])["date"].transform("size")
    stops["share"] = counts / len(replicates)
    return stops


def draw_early_stops(ax: Axes, stops: pd.DataFrame) -> None:
    """A point per trial stopped early at an interim look, where it stopped (the date it was
    concluded, and its count then), coloured by the reason; the legend gives each look and
    reason's share of all replicates. These trials are concluded, not late."""
    for (look, reason), rows in stops.groupby(["look", "reason"], sort=True):
        ax.scatter(
            rows["date"].to_numpy("datetime64[D]"),
            rows["value"],
            s=16,
            color=STOP_COLORS.get(str(reason), "#8172B3"),
            marker=STOP_MARKERS.get(str(reason), "s"),
            alpha=0.6,
            linewidths=0,
            zorder=3,
            label=f"stopped early for {reason} at look {look}: "
            f"{percent(float(rows['share'].iloc[0]))} of replicates (concluded)",
        )


def day_text(date: np.datetime64) -> str:
    when = pd.Timestamp(date)
    return f"{when.day} {when:%b %Y}"


def milestone_spread(replicates: pd.DataFrame, scenario: Scenario, name: str) -> tuple[str, float]:
    """'median D; 90% of them A to B' of a milestone's dates as timeline.csv has them (the
    same replicates counted, the same quantiles), and the share of replicates they are."""
    from sim.engine.results import date_quantiles, milestone_dates

    dates, counted, _ = milestone_dates(replicates, scenario, name)
    dates = np.where(counted, dates, np.datetime64("NaT"))
    share = float(np.mean(~np.isnat(dates)))
    if share == 0:
        return "reached in no replicate", 0.0
    q05, q50, q95 = date_quantiles(dates, (0.05, 0.5, 0.95))
    whom = "replicates" if share == 1 else "them"
    return f"median {day_text(q50)}; 90% of {whom} {day_text(q05)} to {day_text(q95)}", share


def stop_words(replicates: pd.DataFrame) -> str:
    """'stopped early at look 1 in 31.8% (efficacy 25.4%, futility 6.4%)', look by look."""
    early = stopped_early(replicates)
    looks = sorted(set(replicates.loc[early, "stop_look"]))
    if not looks:
        return "stopped early at an interim look in 0%"
    parts = []
    for look in looks:
        at = replicates["stop_look"].to_numpy() == look
        reason = replicates["stop_reason"].to_numpy()
        efficacy, futility = (np.mean(at & early & (reason == r)) for r in STOP_COLORS)
        parts.append(
            f"at look {look} in {percent(np.mean(at & early))} (efficacy {percent(efficacy)}, "
            f"futility {percent(futility)})"
        )
    return "stopped early " + "; ".join(parts)


def final_look_by(replicates: pd.DataFrame, completion: dt.date) -> float:
    """Share of replicates whose final look (the final analysis) is held by `completion`."""
    from sim.engine.results import look_count

    dates = replicates[f"look{look_count(replicates)}_date"].to_numpy("datetime64[D]")
    return float(np.mean(dates <= np.datetime64(completion, "D")))


@dataclass(frozen=True)
class Curves:
    """What `plot_enrollment` and `plot_events` draw: the bands over `among` (`curves` of
    them) and the trials stopped early (None without interim looks)."""

    bands: pd.DataFrame
    among: str
    stops: pd.DataFrame | None
    curves: int


def enrollment_curves(follow: FollowUp, scenario: Scenario, replicates: pd.DataFrame) -> Curves:
    """The bands of patients randomized by date; with interim looks over the trials not
    stopped early, each early stop a point (it randomizes nobody after the stop)."""
    start, n = scenario.trial.start_date, scenario.trial.sample_size
    curves = replicates.iloc[: len(follow.rand_day)]
    early = stopped_early(curves)
    rand = follow.rand_day[~early]
    last = rand[:, n - 1]
    end = np.quantile(last[np.isfinite(last)], 0.99) + 45 if np.isfinite(last).any() else 730
    grid = day_grid(end, step=1)
    bands = quantile_bands(count_by_day(rand, grid), grid, start)
    sequential = "early_stop" in replicates
    among = "trials not stopped early" if sequential else "replicates"
    stops = early_stops(replicates, "n_randomized") if sequential else None
    return Curves(bands, among, stops, len(rand))


def enrollment_panel(follow: FollowUp, scenario: Scenario, replicates: pd.DataFrame) -> Panel:
    """Patients randomized by date (`enrollment_curves`), with its headline and caption."""
    n = scenario.trial.sample_size
    drawn = enrollment_curves(follow, scenario, replicates)
    among, sequential = drawn.among, drawn.stops is not None
    ax = plot_enrollment(drawn.bands, n, among=among, stops=drawn.stops)
    if sequential:
        ax.legend(loc="lower right", frameon=True, fontsize="small")  # the stops fill the top
    how = "" if follow.exact else " (interpolated between milestone dates)"
    caption = (
        f"Patients randomized by each date across {drawn.curves:,} {among}{how}: the line is the "
        "median, the bands hold the middle 50% and 90% of them."
    )
    if sequential:
        caption += (
            " A trial stopped early at an interim look randomizes nobody after the stop: "
            "each is a point at its stop (patients randomized by then)."
        )
    spread, share = milestone_spread(replicates, scenario, "randomized_100pct")
    whom = ": " if share == 1 else f" (the {percent(share)} of replicates randomizing all {n}):\n"
    figure = finish(
        ax,
        f"Enrollment: when will all {n} patients be randomized?",
        f"Last patient randomized{whom}{spread}",
    )
    return Panel("enrollment", figure, caption)


def event_curves(follow: FollowUp, scenario: Scenario, replicates: pd.DataFrame) -> Curves:
    """The bands of the primary endpoint's events seen by date; with interim looks over the
    trials not stopped early, each early stop a point at its stop (concluded there)."""
    start, completion = scenario.trial.start_date, scenario.trial.completion_date
    curves = replicates.iloc[: len(follow.event_day)]
    early = stopped_early(curves)
    last = clock_days(curves["final_analysis_date"], start)
    q95 = np.quantile(last[np.isfinite(last)], 0.95) if np.isfinite(last).any() else 0.0
    end = max((completion - start).days, float(q95)) + 120
    grid = day_grid(end, step=1)
    bands = quantile_bands(count_by_day(follow.event_day[~early], grid), grid, start)
    sequential = "early_stop" in replicates
    among = "trials not stopped early" if sequential else "replicates"
    stops = early_stops(replicates, "events") if sequential else None
    return Curves(bands, among, stops, int((~early).sum()))


def events_panel(follow: FollowUp, scenario: Scenario, replicates: pd.DataFrame) -> Panel:
    """Events of the primary endpoint seen by date (`event_curves`). The headline's share and
    the dates are those of summary.csv and timeline.csv."""
    target, completion = scenario.analysis.event_target, scenario.trial.completion_date
    drawn = event_curves(follow, scenario, replicates)
    among, sequential = drawn.among, drawn.stops is not None
    events = scenario.analysis.events_label
    ax = plot_events(
        drawn.bands,
        target,
        completion,
        scenario.analysis.cut_date,
        among=among,
        stops=drawn.stops,
        events=events,
    )
    by = np.datetime64(completion, "D")
    if target is not None:
        spread, share = milestone_spread(replicates, scenario, "target_events")
        seen = float(np.mean(replicates["target_events_date"].to_numpy("datetime64[D]") <= by))
        detail = f"{target}th event seen by the data cut in {percent(share)}"
        spread = f": {spread}"
        headline = (
            f"{events}: the {target}th event is seen by {completion:%d %b %Y} in "
            f"{percent(seen)} of replicates"
        )
    else:
        headline, detail, spread = f"{events} seen over time", "", ""
    if sequential:
        concluded = replicates.get("concluded_date", replicates["final_analysis_date"])
        done = float(np.mean(concluded.to_numpy("datetime64[D]") <= by))
        headline = f"{events}: trial concluded by {completion:%d %b %Y} in {percent(done)}"
        headline += " of replicates"
        going = ~stopped_early(replicates)
        if target is not None and going.any():
            reached = replicates["events"].to_numpy() >= target
            detail += f" of replicates ({percent(reached[going].mean())} of the trials not "
            detail += "stopped early)"
            spread = f"\n{spread[2:]}"
        detail = (
            f"{stop_words(replicates)}; final analysis by then in "
            f"{percent(final_look_by(replicates, completion))}" + (f"\n{detail}" if detail else "")
        )
        ax.legend(loc="upper left", frameon=True, fontsize="small")  # clear of the stops
    how = "" if follow.exact else " (interpolated between milestone dates)"
    caption = (
        f"{events} seen ({ENDPOINT_WORDS[scenario.analysis.endpoint]['seen']}) by each "
        f"date{how}, counted as if "
        "follow-up went on past the data cut, so the curve shows when the target "
        f"would be reached; line = median, bands = middle 50% and 90% of {among}."
    )
    if sequential:
        caption += (
            " A trial stopped early at an interim look is concluded there, not late: each is "
            "a point at its stop (events seen then), coloured by the reason."
        )
    return Panel("events", finish(ax, headline, detail + spread), caption)


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


FINAL_COLOR = "#4C72B0"


def plot_concluded_dates(
    frame: pd.DataFrame, completion_date: dt.date, ax: Axes | None = None
) -> Axes:
    """Share of replicates whose trial is concluded by each date, stacked by how: stopped
    early at a look for efficacy, for futility, or the final analysis held.

    `frame`: one row per replicate, columns date (the date the trial is concluded; NaT:
    not concluded, counted as later than any date), how ("efficacy", "futility", "final")
    and look (the look that concluded it).
    """
    ax = ax or new_axes()
    n = len(frame)
    dates = frame["date"].to_numpy("datetime64[D]")
    grid = np.unique(dates[~np.isnat(dates)])
    below = np.zeros(len(grid))
    parts = [(how, look) for how in ("efficacy", "futility") for look in sorted(set(frame["look"]))]
    parts.append(("final", None))
    for how, look in parts:
        rows = frame["how"].eq(how) & (frame["look"].eq(look) if look is not None else True)
        if not rows.any():
            continue
        counted = np.sort(dates[rows.to_numpy() & ~np.isnat(dates)])
        share = np.searchsorted(counted, grid, side="right") / n
        label = (
            f"stopped early for {how} at look {look}: {percent(rows.mean())}"
            if look is not None
            else f"final analysis held: {percent(rows.mean())}"
        )
        color = STOP_COLORS.get(how, FINAL_COLOR)
        ax.fill_between(
            grid,
            below,
            below + share,
            step="post",
            color=color,
            alpha=0.55,
            linewidth=0,
            label=label,
        )
        below = below + share
    ax.step(grid, below, where="post", color=LINE_COLOR, linewidth=2, label="trial concluded")
    draw_date_line(ax, completion_date, f"registered completion {completion_date:%d %b %Y}")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("replicates with the trial concluded")
    ax.set_xlabel("date the trial is concluded (stopped at a look, or final analysis)")
    format_date_axis(ax)
    ax.legend(loc="upper left", frameon=True, fontsize="small")
    return ax


def concluded_dates(replicates: pd.DataFrame) -> pd.DataFrame:
    """The input of `plot_concluded_dates` for a run with interim looks."""
    early = stopped_early(replicates)
    column = "concluded_date" if "concluded_date" in replicates else "final_analysis_date"
    return pd.DataFrame(
        {
            "date": replicates[column],
            "how": np.where(early, replicates["stop_reason"].astype(str), "final"),
            "look": replicates["stop_look"],
        }
    )


def concluded_panel(replicates: pd.DataFrame, scenario: Scenario) -> Panel:
    """When the trial is concluded, for a design with interim looks: the early stops have
    their own colours, beside the final analysis."""
    completion = scenario.trial.completion_date
    by = np.datetime64(completion, "D")
    frame = concluded_dates(replicates)
    done = float(np.mean(frame["date"].to_numpy("datetime64[D]") <= by))
    ax = plot_concluded_dates(frame, completion)
    final = final_look_by(replicates, completion)
    target = float(np.mean(replicates["target_events_date"].to_numpy("datetime64[D]") <= by))
    detail = (
        f"{stop_words(replicates)};\nfinal analysis by then in {percent(final)} "
        f"(event target seen in {percent(target)})"
    )
    caption = (
        "Share of replicates whose trial is concluded by each date: stopped early at an "
        "interim look (for efficacy or futility: a conclusion, not a delay) or its final "
        "analysis held (at the event target or the calendar cut); the dashed line is the "
        "registered completion date."
    )
    headline = f"Trial concluded by {completion:%d %b %Y} in {percent(done)} of replicates"
    return Panel("analysis_date", finish(ax, headline, detail), caption)
