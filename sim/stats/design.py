"""Closed-form design figures of a scenario, and where its design cannot meet its own goal.

The closed forms themselves are pure functions on plain numbers, in two modules below this
one (and re-exported here): `sim.stats.schoenfeld` (events for a power, power after events:
Schoenfeld, Freedman) and `sim.stats.lachin_foulkes` (the expected accrual curve, expected
events over calendar time, the time of an event target, the Lachin-Foulkes sample size).
This module feeds them a scenario (`design_scenario`, `scenario_events_table`,
`design_warnings`) and, beyond proportional hazards (cure, non-constant hazard ratios,
stratum multipliers, per-arm dropout), computes the expected events numerically on a grid of
patient time, with gsDesign2's average hazard ratio. Time unit: months (1 month = 30.4375
days); conventions as in `sim.stats.lachin_foulkes`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtr  # normal cdf, without scipy.stats

from sim.scenario.outcomes import post_progression_mix
from sim.stats.lachin_foulkes import (
    AccrualTable,
    ArrayLike,
    DropoutSpec,
    EventModel,
    HazardSpec,
    accrual_end_time,
    accrual_periods,
    accrued_patients,
    arm_models,
    event_probability,
    expected_event_time,
    expected_events,
    expected_events_by_arm,
    expected_events_limit,
    expected_events_table,
    hazard_pieces,
    lachin_foulkes_event_probability,
    lachin_foulkes_power,
    lachin_foulkes_sample_size,
    lachin_foulkes_variances,
    phi1,
    phi2,
    scale_hazards,
    split_dropout,
    truncate_accrual,
)
from sim.stats.schoenfeld import (
    check_test_inputs,
    dropout_hazard_from_rate,
    freedman_events,
    freedman_power,
    hazard_from_median,
    schoenfeld_events,
    schoenfeld_power,
    z_alpha,
    z_power,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from sim.scenario import Scenario, Survival
    from sim.scenario.analysis import Analysis

__all__ = [  # the closed forms, re-exported: callers import them from here
    "AccrualTable",
    "ArrayLike",
    "DropoutSpec",
    "EventModel",
    "HazardSpec",
    "accrual_end_time",
    "accrual_periods",
    "accrued_patients",
    "arm_models",
    "check_test_inputs",
    "dropout_hazard_from_rate",
    "event_probability",
    "expected_event_time",
    "expected_events",
    "expected_events_by_arm",
    "expected_events_limit",
    "expected_events_table",
    "freedman_events",
    "freedman_power",
    "hazard_from_median",
    "hazard_pieces",
    "lachin_foulkes_event_probability",
    "lachin_foulkes_power",
    "lachin_foulkes_sample_size",
    "lachin_foulkes_variances",
    "phi1",
    "phi2",
    "scale_hazards",
    "schoenfeld_events",
    "schoenfeld_power",
    "split_dropout",
    "truncate_accrual",
    "z_alpha",
    "z_power",
    # this module's own
    "DAYS_PER_MONTH",
    "arm_survival_days",
    "closed_form_design",
    "cumulative_hazard_days",
    "design_nph_scenario",
    "design_scenario",
    "design_warnings",
    "dropout_survival_days",
    "endpoint_survival_days",
    "is_proportional",
    "nph_design_rows",
    "nph_event_cells",
    "nph_expected_events",
    "nph_grid_events",
    "os_survival_days",
    "scenario_accrual",
    "scenario_events_table",
    "scenario_hazards",
]

DAYS_PER_MONTH = 30.4375  # 365.25 / 12
# the numeric design (beyond proportional hazards, OS) follows the trial this long from its
# start, its expected events on a grid of quarter months
NPH_HORIZON_MONTHS = 120.0
NPH_GRID_MONTHS = np.arange(0.0, NPH_HORIZON_MONTHS + 0.25, 0.25)


# --------------------------------------------------------------------------- scenario adapter


def scenario_accrual(scenario: Scenario) -> list[tuple[float | None, float]]:
    """Randomizations per month: the sites' screening tables added up (each from its
    activation), x (1 - screen failure), shifted by the mean screening time. Site caps and
    rate heterogeneity (mean 1) are outside the closed form."""
    enrollment = scenario.enrollment
    passed = 1.0 - enrollment.failure_probability
    delay = (enrollment.screening_days.min + enrollment.screening_days.max) / 2 / DAYS_PER_MONTH
    start = scenario.trial.start_date
    pieces = []  # (start_month, end_month or inf, rate) per site row
    for site in enrollment.site_list(start):
        t = (site.activation_date - start).days / DAYS_PER_MONTH + delay
        for row in site.screening_rate:
            end = t + row.months if row.months is not None else math.inf
            pieces.append((t, end, row.per_month * passed))
            t = end
    cuts = sorted({0.0, *(p[0] for p in pieces), *(p[1] for p in pieces if p[1] < math.inf)})
    table: list[tuple[float | None, float]] = []
    for lo, hi in zip(cuts, [*cuts[1:], math.inf], strict=True):
        rate = sum(r for a, b, r in pieces if a <= lo < b)
        table.append((None if hi == math.inf else hi - lo, rate))
    return table


def scenario_hazards(scenario: Scenario) -> list[tuple[float | None, float]]:
    """Control-arm PFS hazards per month as (duration_months, hazard) pieces."""
    starts, hazards = scenario.pfs.control.hazard_table()
    ends = [*starts[1:], None]
    return [
        (None if end is None else (end - start) / DAYS_PER_MONTH, h * DAYS_PER_MONTH)
        for start, end, h in zip(starts, ends, hazards, strict=True)
    ]


_LAST_DESIGN: list = []  # [(scenario, table)] of the latest design_scenario call


def design_scenario(scenario: Scenario) -> pd.DataFrame:
    """`closed_form_design` of `scenario`, computed once for the latest scenario asked about
    (a run asks three times: warnings before and after, closed-form lines; ~20 ms each).
    Scenarios are frozen, so the same object has the same design."""
    if not (_LAST_DESIGN and _LAST_DESIGN[0][0] is scenario):
        _LAST_DESIGN[:] = [(scenario, closed_form_design(scenario))]
    return _LAST_DESIGN[0][1].copy()


def closed_form_design(scenario: Scenario) -> pd.DataFrame:
    """The closed-form side of a scenario: one row per quantity (quantity, value, unit, method).

    Events for the target power (Schoenfeld, Freedman), power at the event target, expected
    end of accrual and date of the event target (Lachin-Foulkes integrals over the accrual
    table, piecewise-exponential PFS and exponential dropout), and the Lachin-Foulkes sample
    size for that accrual duration and follow-up. Conduct details (scan schedule, calendar,
    stratification, treatment) are outside the closed forms by design.
    """
    if not is_proportional(scenario):
        return design_nph_scenario(scenario)
    a = scenario.analysis
    hr = scenario.effect.hazard_ratio
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    n = scenario.trial.sample_size
    accrual = scenario_accrual(scenario)
    hazards = scenario_hazards(scenario)
    dropout = scenario.dropout.hazard_per_day * DAYS_PER_MONTH
    start = np.datetime64(scenario.trial.start_date, "D")

    def date(months: float) -> str:
        if not np.isfinite(months):
            return "never"
        return str(start + np.timedelta64(int(np.floor(months * DAYS_PER_MONTH)), "D"))

    rows: list[tuple[str, object, str, str]] = []
    if hr != 1.0:
        rows += [
            (
                "events_needed_schoenfeld",
                events_for_power(schoenfeld_events, hr, a, p),
                "events",
                f"Schoenfeld 1981, power {a.target_power:g}{harm_note(hr, a.sides)}",
            ),
            (
                "events_needed_freedman",
                events_for_power(freedman_events, hr, a, p),
                "events",
                f"Freedman 1982, power {a.target_power:g}{harm_note(hr, a.sides)}",
            ),
        ]
    accrual_end = accrual_end_time(n, accrual)
    rows += [
        ("accrual_end_months", accrual_end, "months", "accrual table x (1 - screen failure)"),
        ("accrual_end_date", date(accrual_end), "date", ""),
    ]
    total = expected_events_limit(accrual, hazards, hr, dropout, p, n)
    rows.append(("events_expected_eventually", total, "events", "Lachin-Foulkes, t -> inf"))
    if a.event_target is not None:
        d = a.event_target
        t_target = expected_event_time(d, accrual, hazards, hr, dropout, p, n)
        # Under HR = 1 the rejection rate of a level-alpha test is alpha, by definition.
        null = hr == 1.0
        rows += [
            (
                "power_schoenfeld",
                a.alpha
                if null
                else schoenfeld_power(d, hr, a.alpha, a.sides, p, benefit_only=True),
                "probability",
                f"at {d} events",
            ),
            (
                "power_freedman",
                a.alpha if null else freedman_power(d, hr, a.alpha, a.sides, p, benefit_only=True),
                "probability",
                f"at {d} events",
            ),
            ("target_events_months", t_target, "months", f"Lachin-Foulkes, {d} events expected"),
            ("target_events_date", date(t_target), "date", ""),
        ]
        if hr != 1.0 and np.isfinite(t_target) and t_target > accrual_end and len(hazards) == 1:
            rows.append(
                (
                    "sample_size_lachin_foulkes",
                    lachin_foulkes_sample_size(
                        hr,
                        a.alpha,
                        a.target_power,
                        a.sides,
                        accrual_end,
                        t_target - accrual_end,
                        hazards[0][1],
                        dropout,
                        allocation=p,
                    ),
                    "patients",
                    f"uniform accrual over {accrual_end:.1f} months, follow-up "
                    f"{t_target - accrual_end:.1f} months",
                )
            )
    return pd.DataFrame(rows, columns=["quantity", "value", "unit", "method"])


def design_nph_scenario(scenario: Scenario) -> pd.DataFrame:
    """`design_scenario` for scenarios beyond proportional hazards (see `nph_design_rows`)."""
    n = scenario.trial.sample_size
    accrual_end = accrual_end_time(n, scenario_accrual(scenario))
    start = np.datetime64(scenario.trial.start_date, "D")

    def date(months: float) -> str:
        if not np.isfinite(months):
            return "never"
        return str(start + np.timedelta64(int(np.floor(months * DAYS_PER_MONTH)), "D"))

    rows: list[tuple[str, object, str, str]] = [
        ("accrual_end_months", accrual_end, "months", "accrual table x (1 - screen failure)"),
        ("accrual_end_date", date(accrual_end), "date", ""),
    ]
    for row in nph_design_rows(scenario):
        rows.append(row)
        if row[0] == "target_events_months":
            rows.append(("target_events_date", date(float(row[1])), "date", ""))
    return pd.DataFrame(rows, columns=["quantity", "value", "unit", "method"])


def scenario_events_table(scenario: Scenario, months: np.ndarray | None = None) -> pd.DataFrame:
    """Expected accrual and events (per arm, total) by month since study start (and the
    average hazard ratio, beyond proportional hazards)."""
    if months is None:
        months = np.arange(0, 61, 1.0)
    if not is_proportional(scenario):
        return nph_expected_events(scenario, months)
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    return expected_events_table(
        months,
        scenario_accrual(scenario),
        scenario_hazards(scenario),
        scenario.effect.hazard_ratio,
        scenario.dropout.hazard_per_day * DAYS_PER_MONTH,
        p,
        scenario.trial.sample_size,
    )


def design_warnings(scenario: Scenario) -> list[str]:
    """Where the design cannot meet its own goal, in one line each (a run still goes ahead):
    Schoenfeld events for the target power above the sample size, fewer events expected
    eventually than the event target, accrual expected to end after the completion date, a
    calendar cut after the registered completion date, hazards that cross (the AHR's power
    then misleads). With OS primary the events are deaths of the illness-death model and
    the lines say so."""
    table = design_scenario(scenario).set_index("quantity")["value"]
    trial, a = scenario.trial, scenario.analysis
    os_primary = a.endpoint == "os"
    found = []
    needed = table.get("events_needed_schoenfeld")
    if needed is not None and float(needed) > trial.sample_size:
        if os_primary:
            found.append(
                f"{a.target_power:.0%} power needs {float(needed):.0f} deaths (Schoenfeld "
                f"under the OS average hazard ratio {float(table['average_hazard_ratio']):.3g}"
                f"), more than trial.sample_size {trial.sample_size}: a patient dies once, "
                "so the design cannot reach its target power however long it runs"
            )
        else:
            found.append(
                f"{a.target_power:.0%} power needs {float(needed):.0f} events (Schoenfeld), "
                f"more than trial.sample_size {trial.sample_size}: the design cannot reach "
                "its target power however long it runs"
            )
    eventually = float(table["events_expected_eventually"])
    if a.event_target is not None and eventually < a.event_target:
        if os_primary:
            found.append(
                f"only {eventually:.1f} deaths are expected within {NPH_HORIZON_MONTHS:g} "
                "months of the start (OS of the illness-death model, numeric) for the death "
                f"target {a.event_target} (analysis.event_target): most trials would not "
                "reach it in that time"
            )
        else:
            found.append(
                f"only {eventually:.1f} events are expected ever (Lachin-Foulkes) for the "
                f"event target {a.event_target}: most trials would never reach it"
            )
    end = str(table["accrual_end_date"])
    if end == "never" or end > trial.completion_date.isoformat():
        found.append(
            f"accrual is expected to end {end}, after trial.completion_date {trial.completion_date}"
        )
    if "hazards_cross" in table.index:
        which = "OS hazards" if os_primary else "hazards"
        found.append(
            f"the {which} cross: the average hazard ratio "
            f"{float(table['average_hazard_ratio']):.3g} and Schoenfeld's power "
            f"{float(table['power_schoenfeld']):.4g} do not describe the log-rank test; its "
            f"expected-score power is {float(table['power_logrank']):.3g} (approximate)"
        )
    if a.cut_date is not None and a.cut_date > trial.completion_date:
        found.append(
            f"analysis.cut_date {a.cut_date} is after trial.completion_date "
            f"{trial.completion_date}: the final analysis would come after the "
            "registered completion"
        )
    return found


# ------------------------------------------------- beyond proportional hazards (numeric)


def power_closed_form(quantities: Collection[str], looks: bool) -> tuple[str, str]:
    """Which closed form of the design (a `quantity` of `design_scenario`, or of
    `sim.stats.boundaries.design_rows` with looks) stands beside the simulated power, and
    its method in words: with interim looks, the group-sequential design's power under the
    alternative (any look); where the hazards cross, the log-rank power from the expected
    score (the AHR's Schoenfeld power misleads there); else Schoenfeld's. The terminal, the
    page and the report name the same one."""
    if looks:
        return "gs_power_h1", "group-sequential design, any look"
    if "hazards_cross" in quantities:
        return "power_logrank", "log-rank, hazards crossing"
    return "power_schoenfeld", "Schoenfeld"


def is_proportional(scenario: Scenario) -> bool:
    """The scenario is what the closed forms above assume: a PFS primary endpoint with
    piecewise-exponential PFS without cure, one hazard ratio, no stratum multipliers, one
    exponential dropout. (OS under the illness-death model has no proportional hazards:
    its design is numeric, `nph_design_rows` with `os_survival_days`.)"""
    pfs, dropout = scenario.pfs, scenario.dropout
    return (
        scenario.analysis.endpoint == "pfs"
        and pfs.experimental is None
        and scenario.effect.hazard_ratio is not None
        and pfs.control.is_piecewise_exponential
        and scenario.effect.cure_fraction is None
        and all(v == 1.0 for v in pfs.stratum_hazard_multiplier.values())
        and not dropout.pieces
        and dropout.experimental is None
    )


def events_for_power(
    method: Callable[[float, float, float, int, float], float],
    hazard_ratio: float,
    analysis: Analysis,
    allocation: float,
) -> float:
    """Events `method` (Schoenfeld, Freedman) needs for the target power; infinite under
    harm (HR > 1) with a one-sided test, which rejects only for benefit (HR < 1)."""
    if analysis.sides == 1 and hazard_ratio > 1.0:
        return math.inf
    a = analysis
    return method(hazard_ratio, a.alpha, a.target_power, a.sides, allocation)


def harm_note(hazard_ratio: float, sides: int) -> str:
    if sides == 1 and hazard_ratio > 1.0:
        return "; none: HR > 1 is harm and the one-sided test looks for benefit (HR < 1)"
    return ""


def cumulative_hazard_days(survival: Survival, t: np.ndarray) -> np.ndarray:
    """H0(t) of a scenario distribution (the uncured), t in days."""
    if survival.distribution == "weibull":
        return (t / survival.weibull_scale_days) ** survival.shape
    starts, hazards = (np.asarray(x, float) for x in survival.hazard_table())
    ends = np.append(starts[1:], np.inf)
    return (np.clip(t[:, None] - starts, 0.0, ends - starts) * hazards).sum(axis=1)


def arm_cumulative_hazard_days(
    scenario: Scenario, arm: int, t: np.ndarray
) -> tuple[np.ndarray, float]:
    """(H(t), cure) of arm 0 / 1: the uncured cumulative hazard, with the effect's
    (piecewise) hazard ratio applied to the control's hazard for arm 1, as the simulator,
    and the arm's cure fraction (0 without one)."""
    pfs, effect = scenario.pfs, scenario.effect
    if arm == 1 and pfs.experimental is not None:
        survival, cure = pfs.experimental, pfs.experimental.cure_fraction
        h = cumulative_hazard_days(survival, t)
    else:
        survival = pfs.control
        cure = survival.cure_fraction
        h = cumulative_hazard_days(survival, t)
        if arm == 1:
            if effect.cure_fraction is not None:
                cure = effect.cure_fraction
            starts, ratios = (np.asarray(x, float) for x in effect.ratio_table())
            b = np.append(starts, np.inf)
            h0 = cumulative_hazard_days(survival, np.minimum(t[:, None], b[1:]).ravel())
            h0 = h0.reshape(len(t), len(ratios))
            h0_start = cumulative_hazard_days(survival, starts)
            h = (np.maximum(h0 - h0_start, 0.0) * ratios).sum(axis=1)
    return h, float(cure or 0.0)


def arm_survival_days(
    scenario: Scenario, arm: int, t: np.ndarray, multiplier: float = 1.0
) -> np.ndarray:
    """Population PFS survival S(t) of arm 0 / 1 for a patient with hazard multiplier m:
    cure + (1 - cure) exp(-m H(t)), H the (uncured) cumulative hazard, with the effect's
    (piecewise) hazard ratio applied to the control's hazard for arm 1, as the simulator."""
    h, cure = arm_cumulative_hazard_days(scenario, arm, t)
    return cure + (1.0 - cure) * np.exp(-multiplier * h)


def arm_log_survival_days(
    scenario: Scenario, arm: int, t: np.ndarray, multiplier: float = 1.0
) -> np.ndarray:
    """log S(t) of `arm_survival_days`, computed without forming S: finite where S itself
    underflows to 0 (a short median with a large Weibull shape), so that the hazard's
    increments log S(t) - log S(t + dt) stay finite; log(cure + (1 - cure) e^-mH) as a
    logaddexp."""
    h, cure = arm_cumulative_hazard_days(scenario, arm, t)
    if cure == 0.0:
        return -multiplier * h
    if cure == 1.0:
        return np.zeros_like(h)
    with np.errstate(divide="ignore"):
        return np.logaddexp(np.log(cure), np.log1p(-cure) - multiplier * h)


def os_survival_days(
    scenario: Scenario, arm: int, t: np.ndarray, multiplier: float = 1.0, step_days: float = 1.0
) -> np.ndarray:
    """Population OS survival of arm 0 / 1 under the illness-death model the simulator
    draws (`sim.conduct.survival`): S_OS(t) = S(t) + integral_0^t (1 - d) f(u) S12(t - u) du,
    S the arm's PFS survival (`arm_survival_days`, multiplier m), f = -S' its density,
    d = pfs.death_fraction (so (1 - d) f is the density of a progression) and S12 the arm's
    survival after progression (overall_survival.post_progression, its hazard times
    post_progression_hazard_ratio in arm 1, and times each subsequent therapy's hazard ratio
    for the share of the arm that starts it: a mixture, as the simulator draws each patient's
    therapy at progression; not multiplied by m, as in the simulator).
    Numerically: progressions at the midpoints of `step_days` cells, the convolution exact
    on that grid (the closed form of exponential hazards,
    `sim.conduct.survival.os_survival_closed_form`, checks it); `t` in days."""
    t = np.asarray(t, dtype=float)
    os_block = scenario.overall_survival
    if os_block is None:
        raise ValueError("OS survival needs the overall_survival block")
    grid = np.arange(0.0, float(t.max(initial=0.0)) + 2 * step_days, step_days)
    pfs = arm_survival_days(scenario, arm, grid, multiplier)
    progressed = (1.0 - scenario.pfs.death_fraction) * (pfs[:-1] - pfs[1:])  # per cell
    after = os_block.post_progression
    ratio = os_block.post_progression_hazard_ratio if arm == 1 else 1.0
    mid = (np.arange(len(progressed)) + 0.5) * step_days  # time from a progression
    h12 = cumulative_hazard_days(after, mid)
    if os_block.subsequent_therapy:  # each therapy's share with its ratio on h12
        alive = sum(
            w * (after.cure_fraction + (1.0 - after.cure_fraction) * np.exp(-m * h12))
            for w, m in post_progression_mix(os_block, arm)
        )
    else:
        alive = after.cure_fraction + (1.0 - after.cure_fraction) * np.exp(-ratio * h12)
    # alive at grid[i] after a progression in cell j < i: sum_j progressed[j] alive[i-1-j]
    convolved = np.convolve(progressed, alive)[: len(grid) - 1]
    survival = pfs + np.concatenate([[0.0], convolved])
    return np.interp(t, grid, survival)


def endpoint_survival_days(
    scenario: Scenario, arm: int, t: np.ndarray, multiplier: float = 1.0
) -> np.ndarray:
    """Population survival of the primary endpoint (analysis.endpoint) of arm 0 / 1: PFS
    (`arm_survival_days`) or OS (`os_survival_days`)."""
    if scenario.analysis.endpoint == "os":
        return os_survival_days(scenario, arm, t, multiplier)
    return arm_survival_days(scenario, arm, t, multiplier)


def dropout_survival_days(scenario: Scenario, arm: int, t: np.ndarray) -> np.ndarray:
    starts, hazards = (np.asarray(x, float) for x in scenario.dropout.arm(arm).hazard_table())
    ends = np.append(starts[1:], np.inf)
    return np.exp(-(np.clip(t[:, None] - starts, 0.0, ends - starts) * hazards).sum(axis=1))


def nph_arm_cells(
    scenario: Scenario, horizon_months: float = 120.0, step_days: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per arm and stratum, on a grid of patient time (cells of `step_days`): probability of
    an event of the primary endpoint seen in the cell (dropout competing), the probability
    of being at risk (event- and dropout-free) at the cell's midpoint, and the cumulative-hazard
    increment over the cell (population hazards, from log S, so finite where S underflows).
    Returns (cell midpoints [months], probs, at_risk, dh (each 2, S, cells), weights (2, S):
    the share of patients in each arm and stratum)."""
    t = np.arange(0.0, horizon_months * DAYS_PER_MONTH + step_days, step_days)
    ratio = scenario.randomization.ratio
    p_arm = np.array([ratio[0], ratio[1]], float) / sum(ratio)
    strata = scenario.randomization.strata
    mult = scenario.pfs.stratum_hazard_multiplier
    probs, at_risk, dh = [], [], []
    for arm in (0, 1):
        g = dropout_survival_days(scenario, arm, t)
        g_mid = (g[:-1] + g[1:]) / 2.0
        rows_p, rows_r, rows_h = [], [], []
        for name in strata:
            s = endpoint_survival_days(scenario, arm, t, mult.get(name, 1.0))
            if scenario.analysis.endpoint == "os":  # a numerical survival: its log
                with np.errstate(divide="ignore"):
                    log_s = np.log(s)
            else:  # finite where S underflows (short Weibull medians)
                log_s = arm_log_survival_days(scenario, arm, t, mult.get(name, 1.0))
            rows_p.append((s[:-1] - s[1:]) * g_mid)
            # at risk at the cell's midpoint, as the entry counts are taken there
            rows_r.append(np.exp((log_s[:-1] + log_s[1:]) / 2.0) * g_mid)
            rows_h.append(log_s[:-1] - log_s[1:])
        probs.append(rows_p)
        at_risk.append(rows_r)
        dh.append(rows_h)
    weights = p_arm[:, None] * np.asarray(list(strata.values()))[None, :]
    mid = (t[:-1] + t[1:]) / 2.0 / DAYS_PER_MONTH
    return mid, np.asarray(probs), np.asarray(at_risk), np.asarray(dh), weights


def nph_event_cells(
    scenario: Scenario, horizon_months: float = 120.0, step_days: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per arm and stratum, on a grid of patient time (cells of `step_days`): probability of
    a PFS event seen in the cell (dropout competing) and the log hazard ratio in the cell
    (population hazards, arm 1 over arm 0, from the cumulative-hazard increments).
    Returns (cell midpoints [months], probs (2, S, cells), log_hr (S, cells), weights (2, S))."""
    mid, probs, _, dh, weights = nph_arm_cells(scenario, horizon_months, step_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_hr = np.where((dh[0] > 0) & (dh[1] > 0), np.log(dh[1] / dh[0]), 0.0)
    return mid, probs, log_hr, weights


def nph_expected_events(scenario: Scenario, months: np.ndarray) -> pd.DataFrame:
    """Expected events by calendar month since study start (per arm, total) and the average
    hazard ratio of gsDesign2's ahr(): AHR(T) = exp(sum E_cell(T) log HR_cell / sum E(T)),
    E_cell(T) = expected events (both arms) in a cell of patient time by calendar time T,
    log HR_cell the log hazard ratio there; numerically on a 1-day grid of patient time,
    with the scenario's accrual table (as `scenario_accrual`), PFS by arm and stratum,
    cure fractions, (piecewise) hazard ratios and dropout by arm."""
    months = np.atleast_1d(np.asarray(months, float))
    horizon = float(max(months.max(), 1.0))
    mid, probs, log_hr, weights = nph_event_cells(scenario, horizon)
    n = scenario.trial.sample_size
    accrual = scenario_accrual(scenario)
    rows = []
    for month in months:
        entered = accrued_patients(np.maximum(month - mid, 0.0), accrual, n)  # (cells,)
        entered = np.where(mid < month, entered, 0.0)
        cells = weights[:, :, None] * probs * entered[None, None, :]  # (2, S, cells)
        by_arm = cells.sum(axis=(1, 2))
        total = by_arm.sum()
        both = cells.sum(axis=0)  # (S, cells)
        ahr = float(np.exp((both * log_hr).sum() / total)) if total > 0 else np.nan
        rows.append(
            {
                "month": month,
                "accrued": accrued_patients(month, accrual, n),
                "events_control": by_arm[0],
                "events_experimental": by_arm[1],
                "events": total,
                "average_hazard_ratio": ahr,
            }
        )
    return pd.DataFrame(rows)


_GRID_TABLES: list = []  # [(scenario, table)] of the latest nph_grid_events calls


def nph_grid_events(scenario: Scenario) -> pd.DataFrame:
    """`nph_expected_events` on NPH_GRID_MONTHS, computed once for each of the latest few
    scenarios asked about (seconds each: a design with looks asks for the scenario and its
    null several times, and a run again for its closed-form lines). Scenarios are frozen,
    so the same object has the same table; callers must not change it."""
    for known, table in _GRID_TABLES:
        if known is scenario:
            return table
    table = nph_expected_events(scenario, NPH_GRID_MONTHS)
    _GRID_TABLES[:] = [(scenario, table), *_GRID_TABLES[:3]]
    return table


def nph_logrank_moments(scenario: Scenario, month: float) -> dict[str, float]:
    """Mean and variances of the log-rank score U = sum over event times of (O_E - E_E)
    (experimental observed minus expected) at calendar month `month`, from the expected
    numbers at risk Y_C(s), Y_E(s) and the hazards h_C(s), h_E(s) of each cell of patient
    time s (the method npsurvSS uses for the log-rank; Schoenfeld 1981 without his
    linearisation in log HR, so it holds where the hazard ratio is far from 1 and where the
    hazards cross, which the AHR does not):

    mean = sum_s (Y_C D_E - Y_E D_C) / Y,  D_arm = Y_arm h_arm ds, Y = Y_C + Y_E,
    var0 = sum_s Y_C Y_E (D_C + D_E) / Y^2  (the test's hypergeometric variance),
    var1 = sum_s (Y_C^2 D_E + Y_E^2 D_C) / Y^2  (the score's variance under the scenario),

    one term per cell of `nph_arm_cells` (1 day), the numbers at risk at its midpoint;

    summed within strata when analysis.stratified, else over the pooled arms. Also the shares
    of the expected events in cells where the experimental arm's hazard is below (benefit)
    and above (harm) the control's, by more than 1% (`crossing` is 1.0 when both shares are
    at least 5%)."""
    mid, _, at_risk, dh, weights = nph_arm_cells(scenario, float(max(month, 1.0)))
    entered = accrued_patients(
        np.maximum(month - mid, 0.0), scenario_accrual(scenario), scenario.trial.sample_size
    )
    entered = np.where(mid < month, entered, 0.0)
    y = weights[:, :, None] * at_risk * entered[None, None, :]  # (2, S, cells)
    # no one at risk, no events: dh may be infinite where S has underflowed to 0
    d = np.where(y > 0, y * np.where(y > 0, dh, 0.0), 0.0)
    if not scenario.analysis.stratified:  # one pooled comparison
        y, d = y.sum(axis=1, keepdims=True), d.sum(axis=1, keepdims=True)
    total = y.sum(axis=0)
    # shares of the risk set, not 1 / Y: Y can be small enough for 1 / Y^2 to overflow
    q = np.where(total > 0, y / np.where(total > 0, total, 1.0), 0.0)
    both = (d > 0).all(axis=0) & (y > 0).all(axis=0)
    safe_d, safe_y = np.where(both, d, 1.0), np.where(both, y, 1.0)
    # log of h_E / h_C = (D_E / Y_E) / (D_C / Y_C), in logs so that no ratio overflows
    log_ratio = np.where(
        both, np.log(safe_d[1]) - np.log(safe_y[1]) - np.log(safe_d[0]) + np.log(safe_y[0]), 0.0
    )
    events = d.sum(axis=0)
    all_events = float(events.sum())
    below = float(events[log_ratio < math.log(0.99)].sum() / all_events) if all_events else 0.0
    above = float(events[log_ratio > math.log(1.01)].sum() / all_events) if all_events else 0.0
    return {
        "mean": float((q[0] * d[1] - q[1] * d[0]).sum()),
        "var0": float((q[0] * q[1] * (d[0] + d[1])).sum()),
        "var1": float((q[0] ** 2 * d[1] + q[1] ** 2 * d[0]).sum()),
        "share_benefit": below,
        "share_harm": above,
        "crossing": float(min(below, above) >= 0.05),
    }


def logrank_power(moments: dict[str, float], alpha: float, sides: int) -> float:
    """Power of the log-rank test from its score's moments (`nph_logrank_moments`):
    Phi((|mean| - z_{1-alpha/sides} sqrt(var0)) / sqrt(var1)) on the side of the mean; a
    one-sided test (sim's rejects for benefit, mean < 0) whose mean is harm gets the far tail
    Phi((mean - z sqrt(var0)) / sqrt(var1)) instead; a two-sided test adds the far tail."""
    mean, sd0, sd1 = moments["mean"], math.sqrt(moments["var0"]), math.sqrt(moments["var1"])
    if sd1 == 0.0:
        return alpha if mean == 0.0 else float(sides == 2 or mean < 0.0)
    z = z_alpha(alpha, sides)
    near = float(ndtr((abs(mean) - z * sd0) / sd1))
    far = float(ndtr((-abs(mean) - z * sd0) / sd1))
    if sides == 2:
        return near + far
    return near if mean < 0.0 else far


def nph_design_rows(scenario: Scenario) -> list[tuple[str, object, str, str]]:
    """Closed-form side of a scenario beyond proportional hazards: the time of the event
    target and the AHR there, Schoenfeld's events and power under that AHR. With OS primary
    the events are deaths of the illness-death model (`os_survival_days`), and the units
    and methods say deaths and OS."""
    a = scenario.analysis
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    grid = NPH_GRID_MONTHS
    table = nph_grid_events(scenario)
    events = table["events"].to_numpy()
    os_primary = a.endpoint == "os"
    # the words of the endpoint: PFS's as they always were; OS's name deaths and OS
    ahr_short = "OS AHR" if os_primary else "AHR"
    noun, one = ("deaths", "death") if os_primary else ("events", "event")
    ahr_name = f"the {ahr_short}"
    rows: list[tuple[str, object, str, str]] = [
        (
            "events_expected_eventually",
            float(events[-1]),
            noun,
            f"numeric (1-day grid): deaths by {NPH_HORIZON_MONTHS:g} months, OS of the "
            "illness-death model"
            if os_primary
            else f"numeric (1-day grid), {NPH_HORIZON_MONTHS:g} months",
        ),
    ]
    if a.event_target is None:
        return rows
    d = a.event_target
    if events[-1] < d:
        never = f"{d} {noun} never expected"
        if os_primary:
            never += f" (not within {NPH_HORIZON_MONTHS:g} months)"
        rows.append(("target_events_months", math.inf, "months", never))
        return rows
    t_target = float(np.interp(d, events, grid))
    ahr = float(nph_expected_events(scenario, [t_target])["average_hazard_ratio"].iloc[0])
    moments = nph_logrank_moments(scenario, t_target)
    crossing = moments["crossing"] == 1.0
    cross_note = "; NOT the log-rank's: the hazards cross (see hazards_cross)" if crossing else ""
    rows.append(
        (
            "average_hazard_ratio",
            ahr,
            "ratio",
            f"gsDesign2-style AHR{' of OS' if os_primary else ''} at the {d}-{one} time"
            f"{cross_note}",
        )
    )
    if ahr != 1.0 and np.isfinite(ahr):
        rows += [
            (
                "events_needed_schoenfeld",
                events_for_power(schoenfeld_events, ahr, a, p),
                noun,
                f"Schoenfeld 1981 under {ahr_name}, power {a.target_power:g}"
                f"{harm_note(ahr, a.sides)}" + cross_note,
            ),
            (
                "power_schoenfeld",
                schoenfeld_power(d, ahr, a.alpha, a.sides, p, benefit_only=True),
                "probability",
                f"at {d} {noun}, under {ahr_name}{cross_note}",
            ),
        ]
    else:
        rows.append(("power_schoenfeld", a.alpha, "probability", f"at {d} {noun} ({ahr_short} 1)"))
    if crossing:
        rows += [
            (
                "power_logrank",
                logrank_power(moments, a.alpha, a.sides),
                "probability",
                f"at {d} {noun}: the expected log-rank score from the numbers at risk and "
                "the hazards (npsurvSS's method; approximate when hazards cross)",
            ),
            (
                "hazards_cross",
                "yes",
                "flag",
                f"the experimental arm's {'OS ' if os_primary else ''}hazard is lower for "
                f"{moments['share_benefit']:.0%} and higher for {moments['share_harm']:.0%} "
                f"of the expected {noun}: the log-rank's drift changes sign, which the AHR and "
                "Schoenfeld's power do not describe; read power_logrank",
            ),
        ]
    rows.append(
        (
            "target_events_months",
            t_target,
            "months",
            f"numeric expected deaths, {d} deaths; OS of the illness-death model"
            if os_primary
            else f"numeric expected events, {d} events",
        )
    )
    return rows
