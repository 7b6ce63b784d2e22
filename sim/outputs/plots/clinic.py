"""The clinic's figures: chair and linac utilization by month, and the drug supply (mg and
vials per drug, to the analysis and to the end of treatment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from sim.outputs.plots.style import (
    REFERENCE_COLOR,
    Panel,
    color_palette,
    finish,
    format_date_axis,
    new_axes,
)


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
