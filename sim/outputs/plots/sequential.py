"""A group-sequential run's figures: stopping by look (simulated beside the design's closed
form), the date of each look, and the predictive power at each interim look."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from sim.outputs.plots.style import (
    Panel,
    draw_date_line,
    finish,
    format_date_axis,
    new_axes,
    percent,
)
from sim.scenario import Scenario


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


def plot_predictive_power(
    replicates: pd.DataFrame, k_max: int, threshold: float | None = None, ax: Axes | None = None
) -> Axes:
    """Predictive power at each interim look across the replicates that held it: its
    distribution (violin, cut to the values seen), the middle 90% and the median (bar and
    dot), the mean (diamond), and a futility threshold on that scale (dashed) if given."""
    ax = ax or new_axes(9.0, 5.0)
    looks = [k for k in range(1, k_max) if f"look{k}_predictive_power" in replicates]
    values = [replicates[f"look{k}_predictive_power"].dropna().to_numpy() for k in looks]
    shown = [(k, v) for k, v in zip(looks, values, strict=True) if len(v)]
    if shown:
        x = np.arange(1, len(shown) + 1)
        parts = ax.violinplot([v for _, v in shown], x, widths=0.7, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor("#8DA0CB")
            body.set_alpha(0.7)
        for xi, (_, v) in zip(x, shown, strict=True):
            q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
            ax.vlines(xi, q05, q95, color="black", lw=1.5)
            ax.plot(xi, q50, "o", color="black", ms=6)
            ax.plot(xi, v.mean(), "D", color="#DD8452", ms=7)
        labels = [f"look {k}\n({percent(len(v) / len(replicates))} held)" for k, v in shown]
        ax.set_xticks(x, labels)
    ax.plot([], [], "o", color="black", label="median; bar: 5% to 95% of replicates")
    ax.plot([], [], "D", color="#DD8452", label="mean (summary.csv)")
    if threshold is not None:
        ax.axhline(threshold, color="#C44E52", ls="--", lw=1.5, label="futility: stop below this")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1)
    ax.set_ylabel("predictive power at the look")
    ax.legend(loc="lower right", frameon=True, fontsize="small")
    return ax


def predictive_power_panel(scenario: Scenario, replicates: pd.DataFrame, k_max: int) -> Panel:
    """The predictive power at each interim look, captioned."""
    fut = scenario.analysis.futility
    rule = fut.threshold_rule if fut is not None else None
    threshold = rule[1] if rule is not None and rule[0] == "predictive_power" else None
    ax = plot_predictive_power(replicates, k_max, threshold)
    first = replicates["look1_predictive_power"].dropna()
    prior = "the design prior" if scenario.prior is not None else "a flat prior"
    cut = 0.10 if threshold is None else threshold
    low = percent(float((first < cut).mean())) if len(first) else "-"
    return Panel(
        "predictive_power",
        finish(
            ax,
            "How likely is success, as seen at each interim look?",
            f"predictive power from {prior}; below {percent(cut)} at look 1 in {low} of the "
            "trials that held it",
        ),
        "Predictive power at each interim look: the chance that the final analysis "
        "rejects H0, averaged over what the hazard ratio may be given the data of the "
        f"look (posterior from {prior}), one value per simulated trial that held the look; "
        "the violin is its distribution over those trials.",
    )


def sequential_panels(run: Path, scenario: Scenario, replicates: pd.DataFrame) -> list[Panel]:
    """The figures of a group-sequential run: stopping by look, look dates, and with an
    interim look the predictive power there."""
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
        "design's closed-form probabilities under the scenario's "
        + (
            "OS average hazard ratio at each look (the illness-death model's)."
            if scenario.analysis.endpoint == "os"
            else "hazard ratio."
        ),
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
    panels = [stopping, dates]
    if "look1_predictive_power" in replicates:
        panels.append(predictive_power_panel(scenario, replicates, k_max))
    return panels
