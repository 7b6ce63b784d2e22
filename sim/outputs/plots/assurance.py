"""A run with a design prior: the design's power curve over the hazard ratio, the prior's
density beneath it, the assurance (their product's integral) marked, and the simulated
replicates' success by their drawn hazard ratio beside the curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from sim.outputs.plots.style import LINE_COLOR, Panel, finish, new_axes, percent
from sim.scenario import Scenario

PRIOR_COLOR = "#8172B2"
SIMULATED_COLOR = "#DD8452"
BINS = 12  # bins of the drawn hazard ratio for the simulated success shares


def simulated_by_hazard_ratio(replicates: pd.DataFrame, bins: int = BINS) -> pd.DataFrame:
    """Per bin of the drawn hazard ratio (quantile bins, so each holds as many replicates):
    the bin's median HR, its share of successes, the share's MC SE and its replicates."""
    hr = replicates["true_hr"].to_numpy(float)
    success = replicates["reject"].to_numpy(bool)
    if len(np.unique(hr)) <= bins:  # a mixture: one point per value
        keys = hr
    else:
        edges = np.unique(np.quantile(hr, np.linspace(0, 1, bins + 1)))
        keys = np.clip(np.searchsorted(edges, hr, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"key": keys, "hr": hr, "success": success})
    table = frame.groupby("key").agg(
        hr=("hr", "median"), share=("success", "mean"), count=("success", "size")
    )
    table["se"] = np.sqrt(table["share"] * (1 - table["share"]) / table["count"])
    return table.reset_index(drop=True)


def plot_assurance(
    curve: pd.DataFrame,
    prior: pd.DataFrame,
    assurance: float,
    simulated: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The power curve (`curve`: columns hr, power) over the hazard ratio on a log axis, the
    prior's density (`prior`: hr, density; or hr, weight for a mixture: stems) beneath it on
    its own scale, the assurance as a horizontal line, and `simulated` (hr, share, se: the
    replicates' success by their drawn HR) as points with 95% MC intervals."""
    ax = ax or new_axes(9.5, 5.5)
    ax.plot(curve["hr"], curve["power"], color=LINE_COLOR, lw=2, label="power at that HR (design)")
    ax.axhline(assurance, color=PRIOR_COLOR, ls="--", lw=1.5)
    ax.annotate(
        f"assurance {percent(assurance)}",
        (float(curve["hr"].max()), assurance),
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
        color=PRIOR_COLOR,
    )
    if simulated is not None and len(simulated):
        ax.errorbar(
            simulated["hr"],
            simulated["share"],
            yerr=1.96 * simulated["se"].to_numpy(float),
            fmt="o",
            color=SIMULATED_COLOR,
            capsize=3,
            label="simulated: success among replicates that drew about that HR",
        )
    ax.set_xscale("log")
    ticks = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0]
    low, high = float(curve["hr"].min()), float(curve["hr"].max())
    shown = [t for t in ticks if low <= t <= high]
    ax.set_xticks(shown, [f"{t:g}" for t in shown])
    ax.set_xticks([], minor=True)
    ax.set_xlim(low, high)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("true hazard ratio, experimental vs control (log scale)")
    ax.set_ylabel("chance of success")
    density = ax.twinx()
    if "density" in prior:
        density.fill_between(prior["hr"], prior["density"], color=PRIOR_COLOR, alpha=0.2)
        density.set_ylabel("prior belief (density over log HR)", color=PRIOR_COLOR)
        density.set_ylim(0, float(prior["density"].max()) * 2.2)
    else:
        density.vlines(prior["hr"], 0, prior["weight"], color=PRIOR_COLOR, lw=6, alpha=0.4)
        density.set_ylabel("prior belief (probability of each HR)", color=PRIOR_COLOR)
        density.set_ylim(0, 2.2)
    density.set_yticks([])
    ax.set_zorder(density.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.legend(loc="lower left", frameon=True, fontsize="small")
    return ax


def assurance_curves(scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame, float] | None:
    """(power curve, prior density or weights, assurance) of a scenario with a prior on the
    hazard ratio (`sim.stats.assurance.prior_design`); None without one."""
    from sim.stats.assurance import assurance, power_curve, prior_design
    from sim.stats.priors import LognormalHazardRatio

    found = prior_design(scenario)
    if found is None:
        return None
    prior, events, design, p, _ = found
    if isinstance(prior, LognormalHazardRatio):
        theta = prior.theta_mean + prior.theta_sd * np.linspace(-3.5, 3.5, 141)
        hr = np.exp(-theta[::-1])
        z = (-np.log(hr) - prior.theta_mean) / prior.theta_sd
        beliefs = pd.DataFrame({"hr": hr, "density": np.exp(-0.5 * z**2)})
    else:
        values = np.asarray(prior.values)
        hr = np.exp(np.linspace(np.log(values.min()) - 0.5, np.log(values.max()) + 0.5, 141))
        beliefs = pd.DataFrame({"hr": values, "weight": np.asarray(prior.weights)})
    power = power_curve(hr, events, design=design, allocation=p)
    chance = assurance(prior, events, design=design, allocation=p)
    return pd.DataFrame({"hr": hr, "power": power}), beliefs, chance


def assurance_panels(run: Path, scenario: Scenario, replicates: pd.DataFrame) -> list[Panel]:
    """The assurance figure of a run with a prior on the hazard ratio ([] without one)."""
    curves = assurance_curves(scenario)
    if curves is None or "true_hr" not in replicates:
        return []
    curve, beliefs, chance = curves
    simulated = simulated_by_hazard_ratio(replicates)
    summary = pd.read_csv(run / "summary.csv").set_index("metric")
    est, se = summary.loc["assurance", "estimate"], summary.loc["assurance", "mc_se"]
    ax = plot_assurance(curve, beliefs, chance, simulated)
    figure = finish(
        ax,
        f"Assurance {percent(est)} simulated (MC SE {percent(se)}), "
        f"{percent(chance)} by the design",
        "power at each true hazard ratio, weighted by how much we believe in it",
    )
    return [
        Panel(
            "assurance",
            figure,
            "Line: the design's power if the true hazard ratio is the one on the x axis "
            "(closed form, no conduct detail); shaded: the design prior's belief in each "
            "hazard ratio; dashed: the assurance, the power averaged over that belief; "
            "points: the share of simulated trials that succeeded among those whose drawn "
            "hazard ratio was near that value, with 95% Monte Carlo intervals.",
        )
    ]
