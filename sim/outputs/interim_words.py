"""The interim looks' probability of success in plain words, for the run report: what a data
monitoring committee would have read at each interim look of the simulated trials (the rows
look<k>_conditional_power_*, look<k>_predictive_power_* and look<k>_posterior_probability_mean
of summary.csv) and how often the rules on those scales stopped a trial."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.outputs.plots.style import percent


def continuing_words(rows: pd.Series, k: int, pct: Any) -> str:
    """'; among the trials that went on past it (58%: the ones whose decision the look left
    open), conditional power 70.4% / 66.6% and predictive power 64.3% on average' (the
    averages above count the trials stopped at the look too); '' where the run lacks them."""
    names = [
        f"look{k}_conditional_power_design_continuing_mean",
        f"look{k}_conditional_power_trend_continuing_mean",
        f"look{k}_predictive_power_continuing_mean",
    ]
    if not all(name in rows.index and pd.notna(rows[name]) for name in names):
        return ""
    stopped = [f"reject_look{k}", f"futility_look{k}"]
    share = ""
    if all(name in rows.index for name in stopped):
        held = float(rows[f"reached_look{k}"]) if f"reached_look{k}" in rows.index else 1.0
        went_on = held - float(rows[stopped[0]]) - float(rows[stopped[1]])
        share = f" ({percent(went_on)} of the trials)"
    return (
        f"; those averages count the trials stopped at the look too: among the ones that went "
        f"on past it{share}, whose decision the look left open, conditional power "
        f"{pct(names[0])} under the design effect, {pct(names[1])} under the current trend, "
        f"predictive power {pct(names[2])} on average"
    )


def interim_probability_text(summary: pd.DataFrame, manifest: dict[str, Any]) -> str | None:
    """One paragraph on the probability of success at the interim looks; None when the run
    has no interim look."""
    rows = summary.set_index("metric")["estimate"]
    if "look1_predictive_power_mean" not in rows.index:
        return None
    scenario = manifest["scenario"]
    analysis = scenario["analysis"]

    def pct(metric: str) -> str:
        return percent(float(rows[metric]))  # 99.96% never shown as 100%

    prior = "the design prior" if scenario.get("prior") else "a flat prior (no design prior)"
    parts = [
        "At each interim look the simulation computes what a data monitoring committee "
        "would read: the predictive power, the chance that the final analysis will reject "
        f"H0 averaged over what the hazard ratio may be given the data so far (from {prior}), "
        "and the conditional power, the same chance if the design's hazard ratio, or the "
        "hazard ratio estimated at the look, holds from then on."
    ]
    k = 1
    while f"look{k}_predictive_power_mean" in rows.index:
        held = pct(f"reached_look{k}") if f"reached_look{k}" in rows.index else "all"
        parts.append(
            f"Look {k} (held in {held} of the trials): predictive power median "
            f"{pct(f'look{k}_predictive_power_q50')}, 90% of the trials between "
            f"{pct(f'look{k}_predictive_power_q05')} and {pct(f'look{k}_predictive_power_q95')} "
            f"(mean {pct(f'look{k}_predictive_power_mean')}); conditional power "
            f"{pct(f'look{k}_conditional_power_design_mean')} on average under the design "
            f"effect, {pct(f'look{k}_conditional_power_trend_mean')} under the current trend"
            + continuing_words(rows, k, pct)
            + "."
        )
        k += 1
    futility = analysis.get("futility") or {}
    scale = futility.get("scale") or (
        "conditional_power" if futility.get("conditional_power") else None
    )
    if scale is not None:
        threshold = futility.get("threshold") or futility.get("conditional_power")
        kind = "binding" if futility.get("binding") else "non-binding"
        parts.append(
            f"The trial stops for futility when the {scale.replace('_', ' ')} at an interim "
            f"look is below {percent(threshold)} ({kind}): "
            f"{pct('futility_stop')} of the trials stopped so."
        )
    rule = analysis.get("bayesian")
    if rule is not None:
        what = (
            "stops for efficacy when"
            if rule["action"] == "efficacy"
            else "goes on past an interim look only when"
        )
        parts.append(
            f"The Bayesian rule: the trial {what} the posterior probability that the hazard "
            f"ratio is below {rule['hr_below']:g} exceeds "
            f"{percent(rule['probability'])}; at look 1 that probability "
            f"averaged {pct('look1_posterior_probability_mean')}."
            + (
                f" Its no-go stops count as futility stops ({pct('futility_stop')} of the "
                "trials stopped for futility in all)."
                if rule["action"] == "go_no_go"
                else ""
            )
        )
    return " ".join(parts)
