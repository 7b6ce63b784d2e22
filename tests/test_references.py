"""Headline reference comparisons for docs/validation.md, one per statistic.

The exhaustive checks live in tests/test_analysis.py and tests/test_design.py; these record
one representative comparison each (with the tolerance that applies) into the validation
table, on a tied, censored, stratified data set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from sim.stats import analysis, design

RTOL = 1e-8


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 240
    arm = (rng.random(n) < 0.5).astype(int)
    stratum = (rng.random(n) < 0.45).astype(int)
    latent = rng.exponential(np.where(arm == 1, 330, 200) * np.where(stratum == 1, 0.8, 1.0))
    time = np.ceil(latent / 42) * 42  # scan days: many ties
    censor = rng.uniform(0, 900, n)
    event = time <= censor
    time = np.where(event, time, np.floor(censor))
    return pd.DataFrame({"time": time, "event": event.astype(int), "arm": arm, "stratum": stratum})


def check(record, quantity, reference_name, reference, ours):
    tolerance = RTOL * max(abs(reference), 1e-12)
    record(quantity, reference_name, reference, ours, tolerance)
    assert abs(ours - reference) <= tolerance


def test_logrank_unstratified_vs_lifelines(data, record_validation):
    ours = analysis.logrank_test(data.time, data.event, data.arm).chi2[0]
    c, e = data[data.arm == 0], data[data.arm == 1]
    ref = lifelines_logrank(c.time, e.time, c.event, e.event).test_statistic
    check(
        record_validation, "log-rank chi2, unstratified, ties", "lifelines logrank_test", ref, ours
    )


def test_logrank_stratified_vs_statsmodels(data, record_validation):
    ours = analysis.logrank_test(data.time, data.event, data.arm, data.stratum).chi2[0]
    ref, _ = survdiff(data.time, data.event, data.arm, strata=data.stratum)
    check(record_validation, "log-rank chi2, stratified, ties", "statsmodels survdiff", ref, ours)


def test_cox_efron_vs_lifelines(data, record_validation):
    ours = analysis.cox_ph(data.time, data.event, data.arm).beta[0]
    fit = CoxPHFitter().fit(
        data[["time", "event", "arm"]],
        "time",
        "event",
        fit_options={"precision": 1e-14, "max_steps": 200},
    )
    check(
        record_validation,
        "Cox log HR, Efron ties",
        "lifelines CoxPHFitter",
        fit.params_["arm"],
        ours,
    )


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cox_stratified_vs_statsmodels(data, record_validation, ties):
    ours = analysis.cox_ph(data.time, data.event, data.arm, data.stratum, ties=ties)
    fit = PHReg(
        data.time, data.arm.to_numpy()[:, None], status=data.event, strata=data.stratum, ties=ties
    ).fit(tol=1e-12)
    check(
        record_validation,
        f"Cox log HR, {ties}, stratified",
        "statsmodels PHReg",
        fit.params[0],
        ours.beta[0],
    )
    check(
        record_validation,
        f"Cox SE, {ties}, stratified",
        "statsmodels PHReg",
        fit.bse[0],
        ours.se[0],
    )


def test_km_median_vs_lifelines(data, record_validation):
    ours = analysis.km_median(data.time, data.event, data.arm)[0]
    for a in (0, 1):
        part = data[data.arm == a]
        ref = KaplanMeierFitter().fit(part.time, part.event).median_survival_time_
        check(record_validation, f"KM median, arm {a}", "lifelines KaplanMeierFitter", ref, ours[a])


def test_design_vs_rpact(record_validation):
    # rpact::getSampleSizeSurvival(getDesignGroupSequential(kMax=1, alpha=0.1, sided=1),
    #   hazardRatio=0.6, ...)$maxNumberOfEvents = 69.1011581964387 (tests/test_design.py)
    ours = design.schoenfeld_events(0.6, 0.10, 0.80, sides=1)
    check(
        record_validation,
        "Schoenfeld events, HR 0.6, alpha 0.10 one-sided, 80%",
        "rpact getSampleSizeSurvival",
        69.1011581964387,
        ours,
    )
