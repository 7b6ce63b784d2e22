"""The figures of a run folder, assembled from its tables (and the replayed follow-up), and
one figure of a run folder drawn on a caller's axes (`draw_run`, behind `Results.plot_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.outputs.plots.assurance import assurance_panels
from sim.outputs.plots.clinic import plot_supply, plot_utilization, supply_panel, utilization_panel
from sim.outputs.plots.response import incidence_panel, response_panel
from sim.outputs.plots.sequential import sequential_panels
from sim.outputs.plots.style import Panel, percent, themed
from sim.outputs.plots.survival import KM_COLUMNS, km_panel, os_km_panel, pfs_km_panel, plot_km
from sim.outputs.plots.timeline import (
    MAX_CURVE_REPS,
    analysis_date_panel,
    analysis_dates,
    clock_days,
    concluded_panel,
    enrollment_curves,
    enrollment_panel,
    event_curves,
    events_panel,
    follow_up_days,
    plot_analysis_dates,
    plot_enrollment,
    plot_events,
)
from sim.scenario import parse_scenario


@themed
def run_figures(run: Path) -> list[Panel]:
    """Enrollment, events, final analysis date and (when kept) Kaplan-Meier of a run folder."""
    from sim.engine.results import read_run

    manifest = read_run(run)
    scenario = parse_scenario(manifest["scenario"], f"{run}/manifest.json")
    replicates = pd.read_parquet(run / "replicates.parquet")
    first = replicates.iloc[:MAX_CURVE_REPS]
    follow = follow_up_days(run, manifest, first)
    completion = scenario.trial.completion_date
    dates = analysis_dates(replicates, "final analysis")
    share = np.mean(clock_days(dates["date"], completion) <= 0)
    by_date = np.mean(replicates["cut_reason"] == "date")
    target = replicates["target_events_date"].to_numpy("datetime64[D]")
    by_target = np.mean(target <= np.datetime64(completion, "D"))
    detail = (
        f"{percent(by_date)} cut at {scenario.analysis.cut_date:%d %b %Y} before the event target"
        if scenario.analysis.cut_date is not None
        else ""
    )
    panels = [
        enrollment_panel(follow, scenario, replicates),
        events_panel(follow, scenario, replicates),
        concluded_panel(replicates, scenario)
        if "early_stop" in replicates  # stops at a look conclude the trial: own colours
        else analysis_date_panel(
            dates,
            scenario,
            f"Event target by {completion:%d %b %Y} in {percent(by_target)} of replicates",
            f"final analysis by then in {percent(share)}; {detail}" if detail else "",
        ),
    ]
    panels += sequential_panels(run, scenario, replicates)
    panels += assurance_panels(run, scenario, replicates)
    if (run / "patients.parquet").exists():
        endpoint = scenario.analysis.endpoint
        patients = pd.read_parquet(
            run / "patients.parquet",
            columns=["replicate", "arm", "in_analysis", *KM_COLUMNS[endpoint][:2]],
        )
        panels.append(km_panel(patients, replicates, endpoint))
        if "pfs_p_value" in replicates:  # OS primary: PFS is secondary
            pfs_cols = ["replicate", "arm", "in_analysis", *KM_COLUMNS["pfs"][:2]]
            secondary = pd.read_parquet(run / "patients.parquet", columns=pfs_cols)
            panels.append(pfs_km_panel(secondary, replicates))
        if "os_at_pfs_cut_p_value" in replicates:
            os_cols = ["replicate", "arm", "in_analysis", "os_days_at_cut", "os_event_at_cut"]
            panels.append(
                os_km_panel(pd.read_parquet(run / "patients.parquet", columns=os_cols), replicates)
            )
    if "orr_control" in replicates or "local_control_logrank_reject" in replicates:
        panels.append(response_panel(replicates))
    if any(c.startswith("ae_incidence_") for c in replicates.columns):
        panels.append(incidence_panel(replicates))
    # Monthly tables run two years past completion; show them up to the month by which 95%
    # of replicates have had their final analysis (the model stops there).
    last = pd.Series(replicates["final_analysis_date"]).quantile(0.95)
    until = f"{last:%Y-%m}" if pd.notna(last) else "9999-12"
    summary = pd.read_csv(run / "summary.csv")
    if (run / "resources.csv").exists():
        table = pd.read_csv(run / "resources.csv")
        panels.append(utilization_panel(table[table["month"] <= until], summary))
    if (run / "supply.csv").exists():
        table = pd.read_csv(run / "supply.csv")
        to_end = table["until"].eq("end of treatment") if "until" in table else False
        panels.append(supply_panel(table[(table["month"] <= until) | to_end]))
    return panels


RUN_PLOTS = ("enrollment", "events", "analysis_dates", "km", "utilization", "supply")


@themed
def draw_run(run: Path, name: str, ax: Axes | None = None, **options: Any) -> Axes:
    """One figure of a run folder on `ax` (a new one if None), without the report's headline:
    `name` is one of `RUN_PLOTS`; `options` of ``km``: ``replicate`` (default: the first
    replicate kept in patients.parquet). Returns the axes, as lifelines' plots do. Raises
    ScenarioError when the folder lacks the table the figure needs."""
    from sim.engine.results import read_run
    from sim.scenario import ScenarioError

    manifest = read_run(run)
    scenario = parse_scenario(manifest["scenario"], f"{run}/manifest.json")
    if name in ("utilization", "supply"):
        path = run / ("resources.csv" if name == "utilization" else "supply.csv")
        if not path.is_file():
            raise ScenarioError(f"{path}: not written (the scenario has no clinic capacities)")
        draw = plot_utilization if name == "utilization" else plot_supply
        return draw(pd.read_csv(path), ax=ax)
    if name == "km":
        return draw_km(run, ax, options.get("replicate"), scenario.analysis.endpoint)
    replicates = pd.read_parquet(run / "replicates.parquet")
    if name == "analysis_dates":
        return plot_analysis_dates(
            analysis_dates(replicates, "final analysis"), scenario.trial.completion_date, ax
        )
    follow = follow_up_days(run, manifest, replicates.iloc[:MAX_CURVE_REPS])
    if name == "enrollment":
        drawn = enrollment_curves(follow, scenario, replicates)
        return plot_enrollment(
            drawn.bands, scenario.trial.sample_size, ax, among=drawn.among, stops=drawn.stops
        )
    if name == "events":
        drawn = event_curves(follow, scenario, replicates)
        return plot_events(
            drawn.bands,
            scenario.analysis.event_target,
            scenario.trial.completion_date,
            scenario.analysis.cut_date,
            ax,
            among=drawn.among,
            stops=drawn.stops,
            events=scenario.analysis.events_label,
        )
    raise ScenarioError(f"plot {name!r}: must be one of {list(RUN_PLOTS)}")


def draw_km(run: Path, ax: Axes | None, replicate: int | None, endpoint: str = "pfs") -> Axes:
    """Kaplan-Meier of the primary endpoint (`endpoint`) by arm, one kept replicate at its
    data cut."""
    from sim.scenario import ScenarioError

    path = run / "patients.parquet"
    if not path.is_file():
        raise ScenarioError(f"{path}: not written; run with keep_patients >= 1 (--keep-patients 1)")
    time, event, ylabel = KM_COLUMNS[endpoint]
    patients = pd.read_parquet(path, columns=["replicate", "arm", "in_analysis", time, event])
    kept = sorted(set(patients["replicate"]))
    chosen = kept[0] if replicate is None else replicate
    if chosen not in kept:
        raise ScenarioError(
            f"replicate = {replicate!r}: not kept in {path} (kept: {kept[:10]}); give one "
            "of them, or run with a larger keep_patients"
        )
    one = patients[patients["replicate"] == chosen]
    return plot_km(one, ax, time=time, event=event, ylabel=ylabel)
