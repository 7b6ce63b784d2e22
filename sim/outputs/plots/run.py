"""The figures of a run folder, assembled from its tables (and the replayed follow-up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.outputs.plots.assurance import assurance_panels
from sim.outputs.plots.clinic import supply_panel, utilization_panel
from sim.outputs.plots.response import incidence_panel, response_panel
from sim.outputs.plots.sequential import sequential_panels
from sim.outputs.plots.style import Panel, percent, themed
from sim.outputs.plots.survival import KM_COLUMNS, km_panel, os_km_panel, pfs_km_panel
from sim.outputs.plots.timeline import (
    MAX_CURVE_REPS,
    analysis_date_panel,
    analysis_dates,
    clock_days,
    concluded_panel,
    enrollment_panel,
    events_panel,
    follow_up_days,
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
