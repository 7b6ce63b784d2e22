"""Per-arm rates across replicates: tumour response and local control, and adverse-event
incidence by kind and grade."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from sim.outputs.plots.style import ARM_COLORS, QUANTILES, Panel, finish, new_axes, percent


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
