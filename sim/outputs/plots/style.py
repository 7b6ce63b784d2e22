"""The look shared by every figure: colours, seaborn's theme (applied per figure, seaborn
imported on the first one), axes, headlines, the `Panel` a figure travels in, and PNG bytes.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot state, rendered by Agg),
so they draw the same on a laptop, a server without a display, or in worker processes.
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
from matplotlib.axes import Axes
from matplotlib.figure import Figure

P = ParamSpec("P")
R = TypeVar("R")

ARM_COLORS = {"control": "#4C72B0", "experimental": "#DD8452"}
BAND_COLOR = "#4C72B0"
LINE_COLOR = "#1F3A68"
REFERENCE_COLOR = "#B22222"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@functools.cache
def theme() -> dict:
    """Seaborn's look, applied only while our figures are built and saved (never set
    globally, so importing this module leaves a caller's matplotlib settings alone).
    Seaborn is imported on the first figure, not with this module (it brings scipy.stats)."""
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

    def _repr_png_(self) -> bytes:
        """The figure, shown by Jupyter when a panel is the value of a cell."""
        return figure_png(self.figure)


@themed
def new_axes(width: float = 10.0, height: float = 5.5) -> Axes:
    return Figure(figsize=(width, height), layout="constrained").add_subplot()


def format_date_axis(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    locator = mdates.AutoDateLocator(minticks=5, maxticks=10)
    # 4.5 to 5 years (a trial followed past its completion date) are too few years and too
    # many half-years for 5-10 ticks: matplotlib warns and ticks every 6 months; a year apart
    # instead (ranges that fit as before tick as before)
    locator.intervald[mdates.MONTHLY] = [*locator.intervald[mdates.MONTHLY], 12]
    target.set_major_locator(locator)
    target.set_major_formatter(mdates.DateFormatter("%b\n%Y"))


def draw_bands(ax: Axes, bands: pd.DataFrame, what: str, among: str = "replicates") -> None:
    """Median line and the middle 50% and 90% bands; `among` names whom the bands count."""
    dates = bands["date"].to_numpy()
    ax.fill_between(
        dates,
        bands["q05"],
        bands["q95"],
        color=BAND_COLOR,
        alpha=0.18,
        linewidth=0,
        label=f"middle 90% of {among}",
    )
    ax.fill_between(
        dates,
        bands["q25"],
        bands["q75"],
        color=BAND_COLOR,
        alpha=0.35,
        linewidth=0,
        label=f"middle 50% of {among}",
    )
    ax.plot(dates, bands["q50"], color=LINE_COLOR, linewidth=2, label=f"median {what}")


def draw_date_line(ax: Axes, date: dt.date, label: str, style: str = "--") -> None:
    ax.axvline(
        np.datetime64(date, "D"), color=REFERENCE_COLOR, linestyle=style, linewidth=1.3, label=label
    )


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


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@themed
def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
