"""Headline reference comparisons for docs/validation.md, one per statistic.

The exhaustive checks live in tests/test_analysis.py and tests/test_design.py; these record
one representative comparison each (with the tolerance that applies) into the validation
table, on a tied, censored, stratified data set. lifelines' numbers are committed
(tests/references/lifelines.json, with the calls that made them): it needs pandas < 3.
"""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from sim.stats import analysis, design
from tests.helpers import lifelines_reference
from tests.references.datasets import headline_data

RTOL = 1e-8


@pytest.fixture(scope="module")
def data():
    return headline_data()


def lifelines_ref(data: pd.DataFrame, key: str) -> dict:
    return lifelines_reference(key, *(data[c].to_numpy() for c in data.columns))


def check(record, quantity, reference_name, reference, ours):
    tolerance = RTOL * max(abs(reference), 1e-12)
    record(quantity, reference_name, reference, ours, tolerance)
    assert abs(ours - reference) <= tolerance


def test_logrank_unstratified_vs_lifelines(data, record_validation):
    ours = analysis.logrank_test(data.time, data.event, data.arm).chi2[0]
    # lifelines: logrank_test(c.time, e.time, c.event, e.event), c and e the arms' rows
    ref = lifelines_ref(data, "headline logrank")["test_statistic"]
    check(
        record_validation, "log-rank chi2, unstratified, ties", "lifelines logrank_test", ref, ours
    )


def test_logrank_stratified_vs_statsmodels(data, record_validation):
    ours = analysis.logrank_test(data.time, data.event, data.arm, data.stratum).chi2[0]
    ref, _ = survdiff(data.time, data.event, data.arm, strata=data.stratum)
    check(record_validation, "log-rank chi2, stratified, ties", "statsmodels survdiff", ref, ours)


def test_cox_efron_vs_lifelines(data, record_validation):
    ours = analysis.cox_ph(data.time, data.event, data.arm).beta[0]
    # lifelines: CoxPHFitter().fit(data[["time", "event", "arm"]], "time", "event",
    # fit_options={"precision": 1e-14, "max_steps": 200}).params_["arm"]
    ref = lifelines_ref(data, "headline cox efron")["beta"]
    check(record_validation, "Cox log HR, Efron ties", "lifelines CoxPHFitter", ref, ours)


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
    # lifelines: KaplanMeierFitter().fit(part.time, part.event).median_survival_time_
    medians = lifelines_ref(data, "headline km median")["median"]
    for a, ref in enumerate(medians):
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
