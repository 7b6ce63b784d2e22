"""What the page shows of a run: the key questions table, and how to reproduce the run.

The table answers the README's questions from the run's summary (estimates with their Monte
Carlo standard error, dates with the middle 90% of replicates) with the closed form of
`sim.design` beside, where it has one.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shlex
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from sim.api import (
    ENDPOINT_WORDS,
    difference_with_se,
    format_number,
    power_closed_form,
    value_at,
    with_looks,
)
from sim.outputs.answers import ONE_TEST_AT_COMPLETION, all_or_none
from sim.outputs.report import month_to_date


def percent(share: float) -> str:
    """A share as a percentage, as the terminal and the report write it (`format_number`):
    one decimal, below 1% two significant digits (0.04%), never a reassuring 100% for a
    share short of it (99.96%)."""
    return format_number(share, "share")


def share_text(row: pd.Series | None) -> str:
    """'78.5% (MC SE 0.92%)' of a share row (a power too), '' when the run has no such row.
    A share of none or all of the trials has an MC SE of 0, which is not certainty: it is
    given with its 95% interval instead (Wilson's, summary.csv's ci_low and ci_high)."""
    if row is None or pd.isna(row["estimate"]):
        return ""
    se = row.get("mc_se")
    if words := all_or_none(row["estimate"], se, row.get("ci_low"), row.get("ci_high")):
        return f"{percent(row['estimate'])} ({words})"
    return percent(row["estimate"]) + (f" (MC SE {percent(se)})" if pd.notna(se) else "")


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


def design_value(design: pd.DataFrame | None, quantity: str, column: str = "value") -> Any:
    """A quantity's value in design.csv (or its `column`: "method"); None if absent, and
    an absent method ''."""
    if design is None or column not in design:
        return "" if column == "method" else None
    found = design.loc[design["quantity"] == quantity, column]
    if column == "method":
        return str(found.iloc[0]) if len(found) and pd.notna(found.iloc[0]) else ""
    return found.iloc[0] if len(found) else None


def scenario_line(scenario: dict[str, Any], design: pd.DataFrame | None) -> str:
    """The run's scenario in one line above its answers: its size, the effect and the
    design ('NCT07271602: 104 patients, control median PFS 6.8 months, hazard ratio 0.6,
    event target 70, alpha 0.1'). With OS primary the hazard ratio is PFS's (OS follows
    from it through the illness-death model), so the line says so and gives the OS average
    hazard ratio at the death target (design.csv's, the closed form's), and counts deaths."""
    trial, analysis = scenario["trial"], scenario.get("analysis") or {}
    hr = value_at(scenario, "effect.hazard_ratio")
    median = value_at(scenario, "pfs.control.median_months")
    target = analysis.get("event_target")
    effect = f"hazard ratio {hr}"
    kind = ""
    if analysis.get("endpoint") == "os":
        ahr = design_value(design, "average_hazard_ratio")
        kind = "OS primary, "
        effect = f"PFS hazard ratio {hr}" + (
            f" (OS average hazard ratio {float(ahr):.2f} by the time of {target} deaths)"
            if ahr is not None and target and pd.notna(ahr)
            else ""
        )
    noun = ENDPOINT_WORDS[analysis.get("endpoint", "pfs")]["unit"]
    target_words = f"{'death' if noun == 'deaths' else 'event'} target {target}, " if target else ""
    return (
        f"{trial.get('id', '')}: {kind}{trial['sample_size']} patients, control median PFS "
        f"{median} months, {effect}, {target_words}alpha {analysis.get('alpha')}"
    )


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
    words = ENDPOINT_WORDS[analysis.get("endpoint", "pfs")]  # the primary endpoint's
    events = f" ({target} {words['count']})" if target else ""
    alpha, sides = analysis.get("alpha"), analysis.get("sides", 1)

    def closed(quantity: str, fmt: str, note: str = "") -> str:
        value = design_value(design, quantity)
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        try:
            return fmt.format(float(value)) + note
        except ValueError:
            return str(value) + note

    looks = with_looks(rows.index)  # a trial stopped early concludes without its target
    on_time = [
        (
            f"Trial concluded by the completion date {completion} (stopped at an interim "
            "look, or its final analysis held)",
            share_text(row("p_concluded_by_completion")),
            "",
        ),
        ("Stopped early at an interim look", share_text(row("early_stop")), ""),
    ]
    target_date = date_text(row("target_events_months_median"), start)
    if looks and row("p_target_reached") is not None:
        reached = percent(row("p_target_reached")["estimate"])
        target_date += (
            f"; reached in {reached} of replicates (a trial stopped early does not need it)"
        )
    alpha_words = f"{'one' if sides == 1 else 'two'}-sided alpha {alpha}"
    # each replicate's HR drawn from the design prior: the share that succeed is the
    # assurance, not the power at one HR (as `run` and the report say)
    prior = row("assurance") is not None
    if prior:
        at_mean = closed("power_at_prior_mean", "{:.1%}")
        success = (
            "Probability of success: the power averaged over the design prior on the hazard "
            f"ratio (assurance; {alpha_words})",
            share_text(row("assurance")),
            closed("assurance", "{:.1%}", " (over the prior")
            + (f"; the power at its mean log HR {at_mean})" if at_mean else ")"),
        )
    else:
        # the closed form the terminal puts beside the power (one rule: power_closed_form)
        quantity, method = power_closed_form(
            () if design is None else set(design["quantity"]), looks
        )
        success = (
            "Power: chance the trial shows the effect at an interim look or the final "
            f"analysis ({alpha_words})"
            if looks
            else f"Power: chance the final analysis shows the effect ({alpha_words})",
            share_text(row("power")),
            closed(quantity, "{:.1%}", f" ({method}, at {target} {words['unit']})")
            if target
            else "",
        )
    # the event target's closed-form time: Lachin-Foulkes where the hazards are proportional,
    # else expected events computed numerically (non-proportional hazards, OS primary)
    timing_method = (
        "Lachin-Foulkes"
        if design_value(design, "target_events_months", "method").startswith("Lachin")
        else f"expected {words['unit']} computed numerically"
    )
    table = [
        success,
        *(
            on_time
            if looks
            else [
                (
                    f"Event target{events} reached by the completion date {completion}",
                    share_text(row("p_target_by_completion")),
                    "",
                )
            ]
        ),
        (
            f"{'Probability of success' if prior else 'Power'} if the "
            f"analysis happened on {completion}" + (ONE_TEST_AT_COMPLETION if looks else ""),
            # one test at the full alpha, whatever the looks decided: not the design's
            share_text(row("power_at_completion")),
            "",
        ),
        (
            f"All {n} patients randomized"
            + (
                " (in the trials that get there: one stopped early randomizes nobody after)"
                if looks
                else ""
            ),
            date_text(row("lpi_months_median"), start),
            closed("accrual_end_date", "{}", " (accrual table x screen pass rate)"),
        ),
        (
            f"Event target{events} reached",
            target_date,
            closed("target_events_date", "{}", f" ({timing_method}, no scans)"),
        ),
        (
            "Analysis that concluded the trial (the final, or the look that stopped it)"
            if looks
            else "Final analysis",
            date_text(row("analysis_months_median"), start),
            "",
        ),
        (
            "Analysis cut at the calendar date, before the event target",
            share_text(row("p_cut_by_date")),
            "",
        ),
        (
            f"{words['seen_by']} {completion}",
            count_text(row("events_at_completion_mean")),
            "",
        ),
        (
            f"{words['endpoint']} hazard ratio estimated at the analysis (median over replicates)",
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


# --- two runs side by side -------------------------------------------------------------------

# The metrics the compare tab always shows, under their headings in words (the metric
# table's `heading`; the differences beyond noise of every other metric follow them, as
# `python -m sim compare` lists them after its key metrics).
COMPARED = (
    "power",
    "power_at_completion",
    "p_target_by_completion",
    "p_cut_by_date",
    "events_at_completion_mean",
    "lpi_months_median",
    "target_events_months_median",
    "analysis_months_median",
    "hazard_ratio_median",
)
# With interim looks (a run with early_stop) these stand in for p_target_by_completion: a
# trial stopped early concludes without its event target (as `run` and the report say).
LOOKS_COMPARED = ("p_concluded_by_completion", "early_stop")
SE_KINDS = {  # how `sim.compare` computed a difference's standard error, in words
    "paired": "paired",
    "paired bootstrap": "paired, bootstrap",
    "independent": "independent runs",
    "n/a": "",
}


def number_text(value: float, share: bool) -> str:
    """An estimate of a run as `python -m sim compare` writes it: a share (a power too) as
    the answers table writes it (`percent`), anything else to 4 significant digits."""
    return format_number(value, "share" if share else "")


def difference_texts(row: pd.Series, share: bool) -> tuple[str, str]:
    """(B - A, its standard error with how it was computed) as `python -m sim compare`
    writes them (`difference_with_se`: both to the digit the SE supports), a difference of
    shares in percentage points."""
    diff, se = difference_with_se(row["difference"], row["se"], share)
    unit = " points" if share else ""
    kind = SE_KINDS.get(row["se_kind"], row["se_kind"])
    if se:
        se = f"{se}{unit}" + (f" ({kind})" if kind else "")
    return (f"{diff}{unit}" if diff else ""), se


# The end of a sentence of a meaning (a few run to several): a full stop after a word, a space
# and a capital. A field's dot (analysis.alpha) or "e.g. the" ends none.
SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\. (?=[A-Z])")


def meaning_words(meaning: str) -> str:
    """A metric's meaning (summary.csv's) as the compare tab's "what" shows it: its first
    sentence (ended outside parentheses), capitalized; the page shows the whole in the
    row's tooltip."""
    head = meaning
    for end in SENTENCE_END.finditer(meaning):
        if meaning.count("(", 0, end.start()) == meaning.count(")", 0, end.start()):
            head = meaning[: end.start()]
            break
    return head[:1].upper() + head[1:]


def comparison_table(metrics: pd.DataFrame, described: pd.DataFrame) -> pd.DataFrame:
    """The compare tab's table from `sim.compare(...).metrics` of two runs (one row per
    metric) and `sim.compare(...).described` (each metric's unit and meaning, by metric):
    the metrics of COMPARED in their words (with interim looks, LOOKS_COMPARED for the
    event target by the completion date), then every other metric `sim.compare` flags,
    as the command line lists them, in the words of its meaning (`meaning_words`); the
    estimates, the difference, its standard error and "beyond noise" (its flag) as
    `sim.compare` computed them. `metric` is the metric's name in summary.csv."""
    from sim.api import metric_heading

    rows = metrics.set_index("metric")
    compared = COMPARED
    if with_looks(rows.index):  # with looks: concluded on time, not the target alone
        at = COMPARED.index("p_target_by_completion")
        compared = (*COMPARED[:at], *LOOKS_COMPARED, *COMPARED[at + 1 :])
    words = {metric: metric_heading(metric) for metric in compared}
    if "assurance" in rows.index:  # each replicate's HR drawn from the design prior
        words["power"] = "Probability of success at the analysis (assurance, over the prior)"
    flagged = [m for m in rows.index[rows["flag"].astype(bool)] if m not in words]
    shown = [m for m in words if m in rows.index] + flagged
    units, meanings = described["unit"], described["meaning"]
    table = []
    for metric in shown:
        row = rows.loc[metric]
        share = units.get(metric) == "share"
        table.append(
            (
                metric,
                words[metric] if metric in words else meaning_words(meanings[metric]),
                number_text(row["reference_estimate"], share),
                number_text(row["estimate"], share),
                *difference_texts(row, share),
                "yes" if row["flag"] else "no",
            )
        )
    columns = ["metric", "what", "run A", "run B", "B - A", "SE of the difference"]
    return pd.DataFrame(table, columns=[*columns, "beyond noise"])
