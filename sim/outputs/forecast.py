"""The forecast's figure: what happened up to the as-of date, then the fan of what may come.

Two panels over calendar time: patients randomized and PFS events seen, each the observed
step curve up to `--as-of` and from there the forecast's median with its 50% and 90% bands
(the first replicates of the run, re-drawn from the same streams), the sample size or event
target, the registered completion date and the forecast date of the final analysis.
The headline names the accrual model (and its prior's weight), the event model (blinded or
unblinded), the hazards' prior's weight and, when the data are immature, the note of
`sim.engine.forecast.maturity_note`; each panel's title says what it shows, and every share
counts all replicates.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.outputs.plots import (
    LINE_COLOR,
    MAX_CURVE_REPS,
    REFERENCE_COLOR,
    count_by_day,
    draw_bands,
    draw_date_line,
    format_date_axis,
    quantile_bands,
    themed,
)

if TYPE_CHECKING:
    from sim.engine.trial import TrialModel

OBSERVED_COLOR = "#222222"
HEADLINE_WIDTH = 115  # characters per line of the headline at the figure's width


def replay_forecast(model: TrialModel, seed: int, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """(randomization days, seen-event days) of replicates 0..reps-1 of a forecast run,
    sorted per row (inf where none): the same draws as the run's (same chunk streams)."""
    from sim.engine.chunk import chunk_streams
    from sim.engine.continuation import continue_trial
    from sim.engine.executors import plan_chunks

    rand, events = [], []
    for spec in plan_chunks(reps):
        enrolled, _, _, observed, _ = continue_trial(
            model, model.continuation, spec.n_reps, chunk_streams(seed, spec.chunk)
        )
        rand.append(enrolled.rand_day.astype(float))
        events.append(enrolled.rand_day + observed.event_day)
    return np.sort(np.vstack(rand), axis=1), np.sort(np.vstack(events), axis=1)


def observed_steps(days: np.ndarray, start: dt.date, as_of_day: int) -> pd.DataFrame:
    """Cumulative count of observed days (clock days) at each day to the as-of day."""
    grid = np.arange(0, as_of_day + 1)
    counts = np.searchsorted(np.sort(days[np.isfinite(days)]), grid, side="right")
    return pd.DataFrame(
        {"date": np.datetime64(start, "D") + grid.astype("timedelta64[D]"), "count": counts}
    )


def plot_observed_and_fan(
    steps: pd.DataFrame,
    bands: pd.DataFrame,
    as_of: dt.date,
    what: str,
    level: int | None,
    level_label: str,
    ax: Axes | None = None,
) -> Axes:
    """One count over calendar time: observed steps, then the forecast bands."""
    if ax is None:
        ax = Figure(figsize=(10, 5), layout="constrained").add_subplot()
    ax.step(
        steps["date"],
        steps["count"],
        where="post",
        color=OBSERVED_COLOR,
        linewidth=2,
        label=f"observed {what} to {as_of}",
    )
    draw_bands(ax, bands, f"forecast {what}")
    ax.axvline(
        np.datetime64(as_of, "D"),
        color=LINE_COLOR,
        linestyle=":",
        linewidth=1.2,
        label=f"as of {as_of}",
    )
    if level is not None:
        ax.axhline(level, color=REFERENCE_COLOR, linestyle=":", linewidth=1.3, label=level_label)
    ax.set_ylabel(f"{what} (cumulative)")
    ax.set_ylim(0, None)
    format_date_axis(ax)
    ax.legend(loc="upper left", frameon=True, fontsize="small")
    return ax


@themed
def forecast_figure(
    model: TrialModel, seed: int, reps: int, analysis_dates: np.ndarray, note: str = ""
) -> Figure:
    """The two panels; `analysis_dates` are the run's final analysis dates (datetime64, NaT
    where a replicate never reaches it), `note` the data-maturity line (may be empty).
    The bottom panel's title gives the share of all replicates whose final analysis is on
    or before the registered completion date, and the share whose event target is reached
    by then (they differ when the cut is at that date)."""
    sc, continuation = model.scenario, model.continuation
    obs, start = continuation.observed, sc.trial.start_date
    as_of = start + dt.timedelta(days=continuation.as_of_day)
    rand, events = replay_forecast(model, seed, min(reps, MAX_CURVE_REPS))
    end = np.nanmax(np.where(np.isfinite(events), events, np.nan))
    analysis = analysis_dates[~np.isnat(analysis_dates)]
    if analysis.size:
        last = (analysis.max() - np.datetime64(start, "D")).astype(int)
        end = min(end, last + 120)
    grid = np.arange(continuation.as_of_day, int(end) + 8, 7)
    fig = Figure(figsize=(11, 9), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    plot_observed_and_fan(
        observed_steps(obs.rand_day.astype(float), start, continuation.as_of_day),
        quantile_bands(count_by_day(rand, grid), grid, start),
        as_of,
        "patients randomized",
        sc.trial.sample_size,
        f"sample size: {sc.trial.sample_size}",
        ax=top,
    )
    seen = obs.rand_day + obs.event_day
    target = sc.analysis.event_target
    plot_observed_and_fan(
        observed_steps(seen, start, continuation.as_of_day),
        quantile_bands(count_by_day(events, grid), grid, start),
        as_of,
        "PFS events seen",
        target,
        f"event target: {target}",
        ax=bottom,
    )
    draw_date_line(
        bottom, sc.trial.completion_date, f"registered completion {sc.trial.completion_date}"
    )
    n_all = analysis_dates.size
    completion = np.datetime64(sc.trial.completion_date, "D")
    if analysis.size:
        # Over every replicate: one that never reaches the final analysis (within the study
        # calendar) counts as later than any date, not as missing.
        days = np.where(
            np.isnat(analysis_dates),
            np.inf,
            analysis_dates.astype("datetime64[D]").astype("int64").astype(float),
        )
        lo, mid, hi = np.quantile(days, [0.05, 0.5, 0.95], method="inverted_cdf")
        day = np.datetime64(0, "D")

        def when(q: float) -> str:
            return str(day + int(q)) if np.isfinite(q) else "not within the calendar"

        finite_hi = hi if np.isfinite(hi) else days[np.isfinite(days)].max()
        bottom.axvspan(
            day + int(lo),
            day + int(finite_hi),
            color=REFERENCE_COLOR,
            alpha=0.08,
            label="final analysis: 90% prediction interval"
            + ("" if np.isfinite(hi) else " (upper end beyond the plot)"),
        )
        if np.isfinite(mid):
            bottom.axvline(
                day + int(mid),
                color=REFERENCE_COLOR,
                linewidth=1.5,
                label=f"final analysis (median) {day + int(mid)}",
            )
        by = float((~np.isnat(analysis_dates) & (analysis_dates <= completion)).mean())
        bottom.legend(loc="upper left", frameon=True, fontsize="small")
        detail = (
            f"Final analysis: median {when(mid)} (90% prediction interval {when(lo)} to "
            f"{when(hi)}); on or before the registered completion {sc.trial.completion_date} "
            f"in {by:.1%} of the {n_all:,} forecast replicates"
        )
        if target is not None and target <= events.shape[1]:
            # The analysis can come by the completion date because the cut falls on it with
            # fewer events: say how often the event target itself is reached by then.
            completion_day = (sc.trial.completion_date - start).days
            reached = float((events[:, target - 1] <= completion_day).mean())
            detail += (
                f";\nthe event target ({target} PFS events seen) reached by then in "
                f"{reached:.1%} of the {events.shape[0]:,} replicates drawn"
                + (" (the others are cut at that date with fewer events)" if reached < 1 else "")
            )
    else:
        detail = f"No forecast replicate of {n_all:,} reached the final analysis"
    shown = min(reps, MAX_CURVE_REPS)
    top.set_title(
        f"Patients randomized: observed to {as_of}, then the median and the middle 50% / 90% "
        f"of {shown:,} forecast replicates",
        loc="left",
        fontsize="medium",
    )
    bottom.set_title(
        f"PFS events seen (the same replicates). {detail}",
        loc="left",
        fontsize="medium",
        wrap=True,
    )
    bottom.set_xlabel("calendar date")
    events_seen = int(np.isfinite(obs.event_day).sum())
    model = (
        "unblinded (a PFS hazard per arm)"
        if continuation.unblinded
        else "blinded (one pooled PFS hazard, arms split by the plan's HR)"
    )
    prior = continuation.accrual_prior
    accrual_prior = "" if prior is None else f"the plan's accrual worth {prior.weight:g} patients, "
    lines = [
        f"Forecast as of {as_of} from {obs.n} patients and {events_seen} PFS events; "
        f"accrual model: {continuation.accrual_model}",
        f"Event model: {model}",
        f"Priors: {accrual_prior}the plan's hazards worth {continuation.prior_events:g} events",
        *([textwrap.fill(note, HEADLINE_WIDTH)] if note else []),
    ]
    headline = "\n".join(lines)
    fig.suptitle(headline, x=0.01, ha="left", fontweight="bold", fontsize="medium")
    return fig


def save_forecast_figure(
    model: TrialModel, seed: int, reps: int, analysis_dates: np.ndarray, path: Path
) -> None:
    from sim.engine.forecast import maturity_note

    note = maturity_note(model.continuation, model.scenario)
    fig = forecast_figure(model, seed, reps, analysis_dates, note)
    fig.savefig(path, dpi=110)
