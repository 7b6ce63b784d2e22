"""The first screen of a run's report: the questions a steering committee asks, answered in
a short table from summary.csv and timeline.csv (the same numbers as everywhere else).

Will the trial finish by the registered completion date, when is each analysis, what power
(and, with a design prior, what probability of success), and what the trial needs: drug,
radiotherapy slots, infusion chairs. Each row says what it counts and how sure it is (the
Monte Carlo SE of an estimate, or the middle 90% of simulated trials for a quantity that
varies from trial to trial). A row whose metrics the run lacks is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.clinic.inputs import metric_name
from sim.engine.metrics import all_or_none, format_number, reached_words

# What the power at the completion date is in a design with interim looks (the page's
# answers and the report's say it the same way)
ONE_TEST_AT_COMPLETION = " (one test at the full alpha, ignoring the interim looks)"


@dataclass(frozen=True)
class Answer:
    """One row of the answers table: the question, the answer and how sure it is."""

    question: str
    answer: str
    spread: str


def answer_rows(
    summary: pd.DataFrame, timeline: pd.DataFrame, manifest: Mapping[str, Any]
) -> list[Answer]:
    """The answers table of a run (see the module docstring)."""
    values = summary.set_index("metric")
    dates = timeline.set_index("milestone")
    scenario = manifest["scenario"]
    completion = scenario["trial"]["completion_date"]
    looks = len(scenario["analysis"].get("looks") or [])
    # a forecast's replicates continue one trial from its data: they are not new trials
    forecast = "forecast" in manifest
    trials = "continuations" if forecast else "trials"
    of_trials = f"of simulated {trials}"
    rows: list[Answer] = []

    def share(metric: str) -> tuple[str, str] | None:
        if metric not in values.index or pd.isna(values.at[metric, "estimate"]):
            return None
        se = values.at[metric, "mc_se"]
        shown = format_number(values.at[metric, "estimate"], "share")
        low, high = (values.at[metric, c] if c in values else None for c in ("ci_low", "ci_high"))
        if words := all_or_none(values.at[metric, "estimate"], se, low, high):
            return shown, words  # an SE of 0 is not certainty
        return shown, (f"MC SE {format_number(se, 'share')}" if pd.notna(se) else "")

    def add_share(question: str, metric: str, words: str = of_trials) -> None:
        found = share(metric)
        if found is not None:
            rows.append(Answer(question, f"{found[0]} {words}".strip(), found[1]))

    def add_date(question: str, milestone: str) -> None:
        if milestone not in dates.index:
            return
        row = dates.loc[milestone]
        if pd.isna(row["q50"]) or not str(row["q50"]):
            rows.append(Answer(question, "not reached", ""))
            return
        among = f" ({reached})" if (reached := reached_words(row)) else ""
        rows.append(
            Answer(
                question,
                f"{row['q50']} (median)",
                f"90% of {trials} {row['q05']} to {row['q95']}{among}",
            )
        )

    if looks and "p_concluded_by_completion" in values.index:
        add_share(f"Trial concluded by {completion}?", "p_concluded_by_completion")
        add_share("Stopped early at an interim look", "early_stop")
    else:
        from sim.scenario import ENDPOINT_WORDS

        target = scenario["analysis"].get("event_target")
        words = ENDPOINT_WORDS[scenario["analysis"].get("endpoint", "pfs")]["events"]
        events = f" ({target} {words})" if target else ""
        add_share(f"Event target{events} seen by {completion}?", "p_target_by_completion")
    add_date("Last patient randomized", "randomized_100pct")
    if looks:
        for k in range(1, looks + 1):
            add_date("Final analysis" if k == looks else f"Interim analysis {k}", f"look{k}")
    else:
        add_date("Final analysis", "final_analysis")
    if "assurance" in values.index:
        add_share("Probability of success (assurance, over the design prior)", "assurance")
    if forecast:  # the share of continuations that succeed: a probability of success given
        # the data so far, not the design's power; blinded, at the design's effect, since
        # masked data say nothing of it (docs/forecasting.md)
        blinded = manifest["forecast"].get("blinded", True)
        add_share(
            "Success at the analysis, given the data so far"
            + (" (blinded: at the design's effect)" if blinded else ""),
            "power",
        )
        add_share(f"Success if the data were cut on {completion}", "power_at_completion")
    elif "assurance" in values.index:  # `power` counts the same replicates: the assurance
        target_power = scenario["analysis"].get("target_power")
        at_mean = (
            values.at["power_at_prior_mean", "estimate"]
            if ("power_at_prior_mean" in values.index)
            else None
        )
        if at_mean is not None and pd.notna(at_mean):
            design = f" (the design's target: {target_power:.0%})" if target_power else ""
            rows.append(
                Answer(
                    "Power at the prior's mean log hazard ratio",
                    f"{format_number(at_mean, 'share')}{design}",
                    "the closed form at that one hazard ratio (design.csv): nothing simulated",
                )
            )
        add_share(
            f"Probability of success if the data were cut on {completion}", "power_at_completion"
        )
    else:
        target_power = scenario["analysis"].get("target_power")
        design = f" (the design's target: {target_power:.0%})" if target_power else ""
        add_share("Power at the analysis as planned", "power", f"{of_trials}{design}")
        add_share(
            f"Power if the data were cut on {completion}"
            # one test at the full alpha, whatever the looks decided: not the design's
            + (ONE_TEST_AT_COMPLETION if looks else ""),
            "power_at_completion",
        )
    return rows + needs_rows(values, scenario, trials)


def mean_and_band(
    values: pd.DataFrame, metric: str, unit: str = "", trials: str = "trials"
) -> tuple[str, str] | None:
    """(the mean, the middle 90% of `trials`) of a per-trial count, or None if absent."""
    if metric not in values.index or pd.isna(values.at[metric, "estimate"]):
        return None
    low, high = values.at[metric, "q05"], values.at[metric, "q95"]
    band = (
        f"90% of {trials} {count(low, unit)} to {count(high, unit)}"
        if pd.notna(low) and pd.notna(high)
        else ""
    )
    return count(values.at[metric, "estimate"], unit), band


def count(value: float, unit: str) -> str:
    """A count as ordered or booked: whole units from 100 up (2,446 vials, 518 fractions),
    else 4 significant digits; shares as percentages."""
    if unit != "share" and abs(value) >= 100:
        return f"{value:,.0f}"
    return format_number(value, unit)


def needs_rows(
    values: pd.DataFrame, scenario: Mapping[str, Any], trials: str = "trials"
) -> list[Answer]:
    """Drug (vials to the final analysis and to the end of treatment), radiotherapy
    fractions and the busiest month of the infusion chairs and the linac; ranges over the
    middle 90% of `trials` (a forecast's: continuations)."""
    rows = []
    drugs = (scenario.get("treatment") or {}).get("drugs") or {}
    for name in drugs:
        key = metric_name(name)
        vials = mean_and_band(values, f"clinic_{key}_vials_mean", trials=trials)
        if vials is None:
            continue
        to_end = mean_and_band(values, f"clinic_{key}_vials_to_end_mean", trials=trials)
        answer = f"{vials[0]} vials (mean) to the final analysis"
        spread = vials[1]
        if to_end is not None and to_end[0] != vials[0]:
            answer += f"; {to_end[0]} to the end of treatment"
            spread = f"to the end of treatment: {to_end[1]}" if to_end[1] else spread
        rows.append(Answer(f"Drug: {name}", answer, spread))
    fractions = [
        mean_and_band(values, f"rt_fractions_given_{arm}_mean", trials=trials)
        for arm in ("control", "experimental")
    ]
    given = [
        (arm, found)
        for arm, found in zip(("control", "experimental"), fractions, strict=True)
        if found is not None and found[0] != "0"
    ]
    if given:
        rows.append(
            Answer(
                "Radiotherapy slots (fractions given)",
                "; ".join(f"{found[0]} fractions ({arm} arm, mean)" for arm, found in given),
                "; ".join(found[1] for _, found in given),
            )
        )
    for resource, words in (("chair", "Infusion chairs"), ("linac", "Linac")):
        peak = mean_and_band(
            values, f"clinic_{resource}_utilization_peak_month_mean", "share", trials
        )
        if peak is not None:
            rows.append(
                Answer(
                    f"{words}: busiest month",
                    f"{peak[0]} of capacity in use (background load included)",
                    peak[1],
                )
            )
    return rows
