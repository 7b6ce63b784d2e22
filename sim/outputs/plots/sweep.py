"""A sweep's figures, chosen to stay readable at any size: a 2-D grid as heat maps;
otherwise power by point (a curve, small multiples, or one row per point), power beside the
calendar risk, the final analysis date by point, and each test's power side by side."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sim.outputs.plots.style import (
    BAND_COLOR,
    LINE_COLOR,
    REFERENCE_COLOR,
    Panel,
    color_palette,
    draw_date_line,
    finish,
    format_date_axis,
    new_axes,
    percent,
    read_json,
    themed,
)
from sim.scenario import DAYS_PER_MONTH, Scenario, parse_scenario


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


# a sweep path in words, for an axis (other paths: their last part, underscores as spaces)
AXIS_WORDS = {
    "prior.hazard_ratio.sd_log": "prior sd of log HR",
    "prior.hazard_ratio.median": "prior median HR",
    "prior.no_benefit_hr": "hazard ratio of no benefit",
    "prior.control_median_months.sd_log": "prior sd of log control median",
    "prior.control_median_months.median": "prior control median (months)",
}


def axis_words(path: str) -> str:
    """A sweep path as an axis label: `AXIS_WORDS`, else its last part in words."""
    return AXIS_WORDS.get(path, short_name(path).replace("_", " "))


def plot_assurance_curve(
    table: pd.DataFrame,
    x: str,
    closed_form: pd.Series | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Assurance across a sweep of the design prior: the simulated share of successes (each
    replicate with its own hazard ratio drawn from the prior; +-1.96 MC SE bars) and, beside
    it, the closed-form assurance of the design at each point.

    `table`: rows of sweep.csv (`x` numeric, `power` and `power_mc_se`: with a prior, the
    share of replicates rejecting H0 is the assurance); `closed_form`: the closed-form
    assurance by the table's index (None: not drawn)."""
    ax = ax or new_axes()
    table = table.sort_values(x)
    errorbar_group(
        ax,
        table[x],
        table["power"],
        table["power_mc_se"],
        "simulated: share of replicates that succeed (95% MC interval)",
        LINE_COLOR,
        joined=True,
    )
    if closed_form is not None and closed_form.notna().any():
        shown = closed_form.reindex(table.index)
        ax.plot(
            table[x],
            shown,
            color=REFERENCE_COLOR,
            linestyle="--",
            marker="x",
            linewidth=1.5,
            label="closed form: the design's power averaged over the prior (no conduct)",
        )
    ax.axhline(0.8, color="grey", linestyle=":", linewidth=1.2, label="80%")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("assurance: chance of success over the prior")
    ax.set_xlabel(axis_words(x))
    ax.legend(loc="best", frameon=True, fontsize="small")
    return ax


def closed_form_assurance(sweep: Path, manifest: dict[str, Any]) -> pd.Series:
    """Each point's closed-form assurance (its summary.csv row `assurance_closed_form`, as
    design.csv computes it), by point label; nan where a point has none."""
    values = {}
    for point in manifest.get("points", []):
        path = sweep / point["name"] / "summary.csv"
        found = np.nan
        if path.is_file():
            summary = pd.read_csv(path).set_index("metric")
            if "assurance_closed_form" in summary.index:
                found = float(summary.loc["assurance_closed_form", "estimate"])
        values[str(point["label"])] = found
    return pd.Series(values, dtype=float)


def has_prior(scenarios: list[Scenario]) -> bool:
    """Every point draws its hazard ratio from a design prior: its successes are assurance."""
    return bool(scenarios) and all(
        s.prior is not None and s.prior.hazard_ratio is not None for s in scenarios
    )


def cell_percent(share: float) -> str:
    """A heat map cell's share in whole percent (66%), but never a reassuring 0% or 100% for
    a share short of it: 99.6% and 0.04% as `format_number` gives them."""
    from sim.engine.metrics import format_number

    text = f"{share:.0%}"
    if text in ("0%", "100%") and share not in (0.0, 1.0):
        return format_number(share, "share")
    return text


def plot_heatmap(
    table: pd.DataFrame,
    x: str,
    y: str,
    metric: str,
    ax: Axes | None = None,
    *,
    fmt: Callable[[float], str] = cell_percent,
    cmap: str = "cividis",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    label: str | None = None,
) -> Axes:
    """A 2-D sweep as a heat map of `metric`: `x` across, `y` down, every cell labelled with
    its value (`fmt`), in a colour-blind-safe sequential map; scales to any grid size. The
    colour bar reads `label` (the metric's name, spaced, if None).

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
    label = metric.replace("_", " ") if label is None else label
    ax.get_figure().colorbar(image, ax=ax, shrink=0.85, label=label)
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


def on_time(table: pd.DataFrame, completion: Any) -> tuple[str, str]:
    """(metric, words) of the share of a sweep's replicates on time by the completion date:
    the event target seen by then; with interim looks (early_stop in the table) the trial
    concluded by then, since a trial stopped early concludes without its target (which
    would otherwise read as a risk to the timeline)."""
    from sim.engine.metric_table import with_looks

    if with_looks(table.columns):
        return "p_concluded_by_completion", f"trial concluded by {completion:%d %b %Y}"
    return "p_target_by_completion", f"event target reached by {completion:%d %b %Y}"


def heatmap_panels(table: pd.DataFrame, x: str, y: str, scenario: Scenario) -> list[Panel]:
    """A 2-D sweep as heat maps: power, P(on time by completion: `on_time`), analysis
    month."""
    completion = scenario.trial.completion_date
    metric, words = on_time(table, completion)
    specs = [
        ("power", "power_heatmap", "Power", "share of replicates rejecting H0", {}),
        (
            metric,
            "target_heatmap",
            words[:1].upper() + words[1:],
            "share of replicates",
            {"label": "share of replicates"},
        ),
        (  # (a look that stops the trial concludes it: not always the final analysis)
            "analysis_months_median",
            "analysis_heatmap",
            "Analysis that concluded the trial (median)",
            "months since the study start",
            {
                "fmt": lambda v: f"{v:.1f}",
                "vmin": None,
                "vmax": None,
                "cmap": "viridis_r",
                "label": "months since the study start",
            },
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
    points = point_scenarios(sweep, manifest)
    panels: list[Panel] = []
    if two_d is not None:
        panels += heatmap_panels(table, *two_d, scenario)
    else:
        x, others = sweep_axes(manifest, table)
        prior = has_prior(points)
        if x != "label" and not others and prior:
            closed = closed_form_assurance(sweep, manifest)
            by_row = pd.Series(closed.reindex(labels).to_numpy(), index=table.index)
            ax = plot_assurance_curve(table, x, by_row)
            panels.append(
                Panel(
                    "power_curve",
                    finish(ax, f"Assurance by {axis_words(x)}"),
                    f"Share of replicates that succeed, each with its own hazard ratio drawn "
                    f"from the design prior ({reps:,} replicates per point; common random "
                    "numbers: the points share their draws, scaled), 95% Monte Carlo "
                    "intervals; dashed: the closed-form assurance.",
                )
            )
        elif x != "label" and not others:
            # with OS primary, effect.hazard_ratio is PFS's (OS follows from it)
            name = (
                "PFS hazard_ratio"
                if x == "effect.hazard_ratio" and scenario.analysis.endpoint == "os"
                else short_name(x)
            )
            ax = plot_power_curve(
                table.rename(columns={x: name}),
                name,
                None,
                scenario.analysis.alpha,
            )
            panels.append(
                Panel(
                    "power_curve",
                    finish(ax, f"Power by {name}"),
                    f"Share of replicates rejecting H0 ({reps:,} replicates per "
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
        success = "assurance" if has_prior(points) else "power"
        left.set_xlabel(f"{success} (95% MC interval; dotted: 80%)")
        metric, words = on_time(table, completion)
        if metric in table:
            plot_metric_rows(table, metric, labels, right, color="#8C564B", reference=None)
            right.set_xlim(0, 1.12)
            right.xaxis.set_major_formatter(PercentFormatter(1.0))
            right.set_xlabel(words)
        fig.suptitle(
            f"{success.capitalize()} and the calendar risk, by sweep point",
            x=0.01,
            ha="left",
            fontweight="bold",
        )
        panels.append(
            Panel(
                "power_tradeoff",
                fig,
                f"One row per sweep point: {success} (left) and the share of replicates "
                f"with the {words} (right"
                + (
                    ": stopped at an interim look or its final analysis held; a trial "
                    "stopped early concludes without its event target"
                    if metric == "p_concluded_by_completion"
                    else ""
                )
                + "), values written beside the points, 95% MC intervals.",
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
    # with interim looks a trial's analysis is the one that concluded it: a look that
    # stopped it, or the final analysis (final_analysis_date holds that date)
    looks = bool(scenario.analysis.looks)
    what = "the analysis that concluded the trial" if looks else "the final analysis"
    ax.set_xlabel(f"date of {what} (dot: median; bars: middle 50% and 90%)")
    fig.suptitle(
        f"{'Date the trial concluded' if looks else 'Final analysis date'} by sweep point "
        f"(completion {completion:%d %b %Y})",
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    panels.append(
        Panel(
            "analysis_date",
            fig,
            f"One row per sweep point: when {what} happens across replicates"
            + (" (an interim look that stopped it, or the final analysis)" if looks else "")
            + ", and the share analysed by the registered completion date.",
        )
    )
    tests = test_power_columns(table, [scenario, *points])
    if len(tests) > 1:  # analysis.supportive_tests: every test's power side by side
        ax = plot_power_by_test(table, tests, "label", scenario.analysis.alpha)
        panels.insert(
            1,
            Panel(
                "power_by_test",
                finish(ax, "Power of each test across the sweep"),
                f"Share of replicates rejecting H0 with each test of analysis.test and "
                f"analysis.supportive_tests ({reps:,} replicates per point, the same replicates "
                "for every test and, by common random numbers, every point), with 95% Monte "
                "Carlo intervals.",
            ),
        )
    return panels
