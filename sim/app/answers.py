"""What the page shows of a run: the key questions table, and how to reproduce the run.

The table answers the README's questions from the run's summary (estimates with their Monte
Carlo standard error, dates with the middle 90% of replicates) with the closed form of
`sim.design` beside, where it has one.
"""

from __future__ import annotations

import datetime as dt
import io
import shlex
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from sim.outputs.report import month_to_date


def share_text(row: pd.Series | None) -> str:
    """'99.0% (MC SE 0.7%)' of a share row, '' when the run has no such row."""
    if row is None or pd.isna(row["estimate"]):
        return ""
    se = row.get("mc_se")
    return f"{row['estimate']:.1%}" + (f" (MC SE {se:.1%})" if pd.notna(se) else "")


def power_text(row: pd.Series | None) -> str:
    """'0.785 (MC SE 0.009)' as the README writes power."""
    if row is None or pd.isna(row["estimate"]):
        return ""
    se = row.get("mc_se")
    return f"{row['estimate']:.3f}" + (f" (MC SE {se:.3f})" if pd.notna(se) else "")


def date_text(row: pd.Series | None, start: dt.date) -> str:
    """'2027-10-27 (90% of replicates 2027-07-29 to 2028-01-31), 20.9 months'."""
    if row is None or pd.isna(row["estimate"]):
        return "never"
    text = month_to_date(start, row["estimate"])
    if pd.notna(row.get("q05")) and pd.notna(row.get("q95")):
        low, high = month_to_date(start, row["q05"]), month_to_date(start, row["q95"])
        text += f" (90% of replicates {low} to {high})"
    return text + f", {row['estimate']:.1f} months from the start"


def count_text(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["estimate"]):
        return ""
    text = f"{row['estimate']:,.1f}"
    if pd.notna(row.get("q05")) and pd.notna(row.get("q95")):
        text += f" (90% of replicates {row['q05']:,.0f} to {row['q95']:,.0f})"
    return text


def design_value(design: pd.DataFrame | None, quantity: str) -> Any:
    if design is None:
        return None
    found = design.loc[design["quantity"] == quantity, "value"]
    return found.iloc[0] if len(found) else None


def key_questions(
    summary: pd.DataFrame, design: pd.DataFrame | None, scenario: dict[str, Any]
) -> pd.DataFrame:
    """(question, simulation, closed form) rows for the page, from summary.csv and design.csv
    of a run, and the run's scenario as a mapping."""
    rows = summary.set_index("metric")

    def row(metric: str) -> pd.Series | None:
        return rows.loc[metric] if metric in rows.index else None

    trial, analysis = scenario["trial"], scenario.get("analysis", {})
    start = dt.date.fromisoformat(str(trial["start_date"]))
    completion, n = str(trial["completion_date"]), trial["sample_size"]
    target = analysis.get("event_target")
    alpha, sides = analysis.get("alpha"), analysis.get("sides", 1)

    def closed(quantity: str, fmt: str, note: str = "") -> str:
        value = design_value(design, quantity)
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        try:
            return fmt.format(float(value)) + note
        except ValueError:
            return str(value) + note

    table = [
        (
            f"Power: chance the final analysis shows the effect ({'one' if sides == 1 else 'two'}"
            f"-sided alpha {alpha})",
            power_text(row("power")),
            closed("power_schoenfeld", "{:.3f}", f" (Schoenfeld, at {target} events)")
            if target
            else "",
        ),
        (
            f"Event target ({target} events) reached by the completion date {completion}",
            share_text(row("p_target_by_completion")),
            "",
        ),
        (
            f"Power if the analysis happened on {completion}",
            power_text(row("power_at_completion")),
            "",
        ),
        (
            f"All {n} patients randomized",
            date_text(row("lpi_months_median"), start),
            closed("accrual_end_date", "{}", " (accrual table x screen pass rate)"),
        ),
        (
            f"Event target ({target} events) reached",
            date_text(row("target_events_months_median"), start),
            closed("target_events_date", "{}", " (Lachin-Foulkes, no scans)"),
        ),
        (
            "Final analysis",
            date_text(row("analysis_months_median"), start),
            "",
        ),
        (
            f"Analysis cut at the calendar date, before {target} events",
            share_text(row("p_cut_by_date")),
            "",
        ),
        (
            f"PFS events seen by {completion}",
            count_text(row("events_at_completion_mean")),
            "",
        ),
        (
            "Hazard ratio estimated at the analysis (median over replicates)",
            f"{row('hazard_ratio_median')['estimate']:.2f}"
            if row("hazard_ratio_median") is not None
            else "",
            "",
        ),
        (
            f"Patients screened to randomize {n}",
            count_text(row("n_screened_mean")),
            "",
        ),
    ]
    return pd.DataFrame(table, columns=["question", "simulation (this run)", "closed form"])


def reproduce_command(reps: int, seed: int) -> str:
    """The command line that reruns exactly this run from the downloaded scenario."""
    args = ["python", "-m", "sim", "run", "scenario.yaml", "--reps", str(reps)]
    args += ["--seed", str(seed), "--out", "results/app-run", "--force"]
    return shlex.join(args)


def reproduce_python(reps: int, seed: int) -> str:
    """The Python code that reruns exactly this run from the downloaded scenario."""
    return (
        "import sim\n\n"
        'scenario = sim.load_scenario("scenario.yaml")\n'
        f"results = sim.simulate(scenario, reps={reps}, seed={seed})\n"
        "print(results.summary)\n"
        'results.save("results/app-run")\n'
    )


def zip_folder(folder: Path) -> bytes:
    """The results folder as a zip archive (file names relative to the folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path(folder.name) / path.relative_to(folder))
    return buffer.getvalue()
