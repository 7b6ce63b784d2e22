"""The look shared by every figure: colours, seaborn's theme and palettes (applied per
figure; written out, so that no figure imports seaborn), axes, headlines, the `Panel` a
figure travels in, and PNG bytes.

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


# Seaborn's look, as seaborn 0.13 gives it (`axes_style("whitegrid")` updated with
# `plotting_context("notebook")`, and its "deep" and "colorblind" palettes), written out:
# importing seaborn costs a figure command its scipy.stats (tests/test_plots.py checks these
# against seaborn itself). Less seaborn's "image.cmap" ("rocket"), a colour map that only
# seaborn's import registers: no figure maps values through the default map.
THEME: dict[str, Any] = {
    "figure.facecolor": "white",
    "axes.labelcolor": ".15",
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "axes.axisbelow": True,
    "grid.linestyle": "-",
    "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": [
        "Arial",
        "DejaVu Sans",
        "Liberation Sans",
        "Bitstream Vera Sans",
        "sans-serif",
    ],
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "xtick.top": False,
    "ytick.right": False,
    "axes.grid": True,
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "grid.color": ".8",
    "axes.spines.left": True,
    "axes.spines.bottom": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "xtick.bottom": False,
    "ytick.left": False,
    "axes.linewidth": 1.25,
    "grid.linewidth": 1,
    "lines.linewidth": 1.5,
    "lines.markersize": 6,
    "patch.linewidth": 1,
    "xtick.major.width": 1.25,
    "ytick.major.width": 1.25,
    "xtick.minor.width": 1,
    "ytick.minor.width": 1,
    "xtick.major.size": 6,
    "ytick.major.size": 6,
    "xtick.minor.size": 4,
    "ytick.minor.size": 4,
    "font.size": 12,
    "axes.labelsize": 12,
    "axes.titlesize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 12,
}
PALETTES = {
    "deep": (
        "#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3",
        "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD",
    ),
    "colorblind": (
        "#0173B2", "#DE8F05", "#029E73", "#D55E00", "#CC78BC",
        "#CA9161", "#FBAFE4", "#949494", "#ECE133", "#56B4E9",
    ),
}  # fmt: skip


def theme() -> dict:
    """Seaborn's look (`THEME`), applied only while our figures are built and saved (never
    set globally, so importing this module leaves a caller's matplotlib settings alone)."""
    return THEME


def color_palette(name: str, n_colors: int | None = None) -> list[tuple[float, float, float]]:
    """`seaborn.color_palette(name, n_colors)` for a palette of `PALETTES` (its colours in
    turn, 10 by default) or a matplotlib colour map (`n_colors`, 6 by default, evenly spaced
    without the map's two ends), as RGB tuples."""
    from matplotlib.colors import to_rgb

    if name in PALETTES:
        colors = PALETTES[name]
        n = len(colors) if n_colors is None else n_colors
    else:
        n = 6 if n_colors is None else n_colors
        colors = matplotlib.colormaps[name](np.linspace(0, 1, int(n) + 2)[1:-1])[:, :3]
    return [to_rgb(colors[i % len(colors)]) for i in range(n)]


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
