"""The analyses of a chunk's replicates: the primary and supportive analyses of the primary
endpoint (PFS or OS, `sim.engine.primary`) at the data cut (stratified and unstratified
log-rank, Cox hazard ratio, Kaplan-Meier medians, every test of analysis.tests) and the
primary test had the data been cut on the registered completion date (vectorized over the
chunk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.conduct.datacut import CutData, cut_data
from sim.engine.trial import Cohort, TrialModel
from sim.scenario import DAYS_PER_MONTH
from sim.stats import analysis
from sim.stats.analysis import LogrankResult, RiskSets

if TYPE_CHECKING:
    from sim.stats.binary import CmhResult
    from sim.stats.weighted import TestResult


def analyze_cut(model: TrialModel, cohort: Cohort, cut: CutData) -> dict[str, np.ndarray]:
    """Primary and supportive analyses of every replicate's cut data set (vectorized)."""
    a = model.scenario.analysis
    arm, stratum = cohort.arm, cohort.stratum
    risk_strat = analysis.risk_sets(cut.time, cut.event, arm, stratum, valid=cut.valid)
    risk_unstrat = analysis.risk_sets(cut.time, cut.event, arm, None, valid=cut.valid)
    strat = analysis.logrank_from_risk_sets(risk_strat)
    unstrat = analysis.logrank_from_risk_sets(risk_unstrat)
    primary = strat if a.stratified else unstrat
    cox = analysis.cox_from_risk_sets(risk_strat if a.stratified else risk_unstrat, a.ties)
    medians = analysis.km_median_from_risk_sets(risk_unstrat)  # km_median, its sort reused
    tests = test_columns(model, risk_strat if a.stratified else risk_unstrat, primary)
    if a.tests[0].kind != "logrank":  # the primary test is another one
        primary = tests.pop("primary")
    tests.pop("primary", None)
    return {
        "z": primary.z,
        "p_value": pick_p(primary, a.sides),
        "reject": decide(primary, a.alpha, a.sides),
        "z_stratified": strat.z,
        "z_unstratified": unstrat.z,
        "reject_stratified": decide(strat, a.alpha, a.sides),
        "reject_unstratified": decide(unstrat, a.alpha, a.sides),
        "hazard_ratio": cox.hr,
        "hr_ci_low": cox.ci_low,
        "hr_ci_high": cox.ci_high,
        # named by the endpoint: with OS primary the PFS medians are the secondary's
        f"median_{a.endpoint}_control_months": medians[:, 0] / DAYS_PER_MONTH,
        f"median_{a.endpoint}_experimental_months": medians[:, 1] / DAYS_PER_MONTH,
        **tests,
    }


def analyze_at_completion(model: TrialModel, cohort: Cohort) -> dict[str, np.ndarray]:
    """Events seen by the registered completion date, and the primary test's decision if the
    data were cut on that date (whatever cut the scenario's analysis uses)."""
    sc = model.scenario
    a = sc.analysis
    day = float(model.calendar.day_of(sc.trial.completion_date))
    n_reps = cohort.arm.shape[0]
    time, event, valid = cut_data(
        cohort.rand_day, cohort.observed, cohort.scans, np.full(n_reps, day)
    )
    stratum = cohort.stratum if a.stratified else None
    risk = analysis.risk_sets(time, event, cohort.arm, stratum, valid=valid)
    test = analysis.logrank_from_risk_sets(risk)
    if a.tests[0].kind != "logrank":  # the primary test is another one (analysis.test)
        from sim.stats import weighted

        test = weighted.run_test(
            a.tests[0], risk, DAYS_PER_MONTH, sides=(a.sides,), precise_near=(a.alpha,)
        )
    return {
        "events_at_completion": event.sum(axis=1),
        "reject_at_completion": decide(test, a.alpha, a.sides),
    }


def test_columns(model: TrialModel, rs: RiskSets, logrank: LogrankResult) -> dict:
    """Every test of analysis.tests beyond the log-rank columns (stratified as the primary
    analysis): estimate_<name>, z_<name>, p_<name>, reject_<name>; under "primary", the
    primary test's result. Nothing when the tests are the log-rank alone."""
    a = model.scenario.analysis
    out: dict = {}
    if len(a.tests) == 1 and a.tests[0].kind == "logrank":
        return out
    from sim.stats import weighted

    for i, spec in enumerate(a.tests):
        result = weighted.run_test(
            spec, rs, DAYS_PER_MONTH, sides=(a.sides,), precise_near=(a.alpha,), logrank=logrank
        )
        if i == 0:
            out["primary"] = result
        out[f"estimate_{spec.name}"] = result.estimate
        out[f"z_{spec.name}"] = result.z
        out[f"p_{spec.name}"] = pick_p(result, a.sides)
        out[f"reject_{spec.name}"] = decide(result, a.alpha, a.sides)
    return out


def pick_p(test: LogrankResult | TestResult | CmhResult, sides: int) -> np.ndarray:
    """The test's one-sided p (benefit: z < 0) or its two-sided p."""
    return test.p_one if sides == 1 else test.p_two


def decide(test: LogrankResult | TestResult | CmhResult, alpha: float, sides: int) -> np.ndarray:
    """Reject H0 at `alpha`; one-sided rejects only in the direction of benefit (Z < 0)."""
    p = pick_p(test, sides)
    return np.where(np.isfinite(p), p < alpha, False)
