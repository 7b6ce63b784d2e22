"""Kaplan-Meier curves of one simulated final analysis (the primary endpoint, PFS or OS, and
the other one when simulated), with the number at risk under the axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from sim.outputs.plots.style import ARM_COLORS, Panel, finish, new_axes
from sim.scenario import DAYS_PER_MONTH, ENDPOINT_WORDS


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


def first_replicate(
    patients: pd.DataFrame, replicates: pd.DataFrame
) -> tuple[int, pd.DataFrame, pd.Series, pd.Timestamp]:
    """(replicate, its patients, its replicates row, its data cut) of the first kept
    replicate: the one trial a Kaplan-Meier figure shows."""
    rep = int(patients["replicate"].min())
    row = replicates.loc[replicates["replicate"] == rep].iloc[0]
    return rep, patients[patients["replicate"] == rep], row, pd.Timestamp(row["data_cut_date"])


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


KM_COLUMNS = {  # analysis.endpoint -> (time, event, y label) of patients.parquet
    "pfs": ("pfs_days_at_cut", "pfs_event_at_cut", "progression-free survival"),
    "os": ("os_days_at_cut", "os_event_at_cut", "overall survival"),
}


def km_panel(patients: pd.DataFrame, replicates: pd.DataFrame, endpoint: str = "pfs") -> Panel:
    """Kaplan-Meier of the primary endpoint (`endpoint`: analysis.endpoint) of one replicate
    at its data cut, with the primary analysis's HR and p."""
    rep, one, row, cut = first_replicate(patients, replicates)
    time, event, ylabel = KM_COLUMNS[endpoint]
    ax = plot_km(one, time=time, event=event, ylabel=ylabel)
    shown_p = p_text(row["p_value"])
    events = ENDPOINT_WORDS[endpoint]["events"]
    detail = (
        f"Data cut {cut:%d %b %Y} ({row['events']} {events}): HR {row['hazard_ratio']:.2f} "
        f"(95% CI {row['hr_ci_low']:.2f} to {row['hr_ci_high']:.2f}), {shown_p}"
    )
    name = ENDPOINT_WORDS[endpoint]["endpoint"]
    caption = (
        f"What one simulated trial's final analysis would look like: Kaplan-Meier {name} "
        "(the primary endpoint) by arm at its data cut (one replicate, not an average; "
        "ticks are censored patients; the numbers below are patients still at risk)."
    )
    return Panel(
        "km",
        finish(ax, f"One simulated final analysis of {name} (replicate {rep})", detail),
        caption,
    )


def pfs_km_panel(patients: pd.DataFrame, replicates: pd.DataFrame) -> Panel:
    """PFS, the secondary endpoint of an OS-primary trial, at the OS analysis's data cut."""
    rep, one, row, cut = first_replicate(patients, replicates)
    ax = plot_km(one)
    shown_p = p_text(row["pfs_p_value"])
    detail = (
        f"At the OS data cut {cut:%d %b %Y}: {row['pfs_events']} PFS events, "
        f"HR {row['pfs_hazard_ratio']:.2f}, {shown_p}"
    )
    caption = (
        "Progression-free survival (secondary endpoint) of one simulated trial at the data "
        "cut of its OS primary analysis: progressions seen at the scans, or deaths; ticks "
        "are censored patients."
    )
    return Panel(
        "pfs_km",
        finish(ax, f"PFS (secondary) at the OS analysis (replicate {rep})", detail),
        caption,
    )


def os_km_panel(patients: pd.DataFrame, replicates: pd.DataFrame) -> Panel:
    rep, one, row, cut = first_replicate(patients, replicates)
    ax = plot_km(one, time="os_days_at_cut", event="os_event_at_cut", ylabel="overall survival")
    shown_p = p_text(row["os_at_pfs_cut_p_value"])
    detail = (
        f"At the PFS data cut {cut:%d %b %Y}: {row['os_deaths_at_pfs_cut']} deaths, "
        f"HR {row['os_at_pfs_cut_hazard_ratio']:.2f}, {shown_p};\ndeaths by the OS maturity "
        f"date: median {replicates['os_deaths_by_maturity'].median():.0f} over "
        f"{len(replicates):,} replicates"
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
