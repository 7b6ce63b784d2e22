"""Sites: activation, caps, Poisson-gamma heterogeneity; the screening funnel."""

from __future__ import annotations

import numpy as np
import pytest

from sim.conduct.calendar import StudyCalendar
from sim.conduct.enrollment import enroll_patients, funnel_thresholds
from sim.scenario import ScenarioError
from tests.helpers import ROOT, scenario_data, vary

THREE = ROOT / "scenarios" / "nct07271602_three_sites.yaml"


@pytest.fixture(scope="module")
def three_sites():
    return vary(scenario_data(THREE))


def enroll(scenario, reps, rng):
    cal = StudyCalendar.from_scenario(scenario)
    p = np.asarray(list(scenario.randomization.strata.values()))
    return enroll_patients(scenario.enrollment, scenario.trial.sample_size, p, cal, reps, rng)


def test_no_site_randomizes_before_activation_or_above_its_cap(three_sites, rng):
    enrolled = enroll(three_sites, 400, rng)
    cal = StudyCalendar.from_scenario(three_sites)
    for s, site in enumerate(three_sites.enrollment.sites):
        mask = enrolled.site == s
        assert (enrolled.screen_day[mask] >= cal.day_of(site.activation_date)).all()
        if site.cap:
            assert (mask.sum(axis=1) <= site.cap).all()
    assert (enrolled.site == 1).any() and (enrolled.site == 2).any()


def test_funnel_failure_share_and_reasons(baseline):
    # Overall screen failure = 1 - product of pass probabilities = 30.2% (baseline funnel).
    c = funnel_thresholds(baseline.enrollment)
    assert abs((1 - c[-1]) - 0.302) < 0.001
    assert abs(baseline.enrollment.failure_probability - (1 - c[-1])) < 1e-12


def test_failure_reason_shares_follow_the_funnel(baseline, rng):
    # P(first failure at criterion k) = c_{k-1} (1 - p_k); checked on the screening table.
    enrolled = enroll(baseline, 1500, rng)
    table = enrolled.screening.groupby("what", observed=True)["count"].sum()
    screened = table["screened"]
    c = np.concatenate([[1.0], funnel_thresholds(baseline.enrollment)])
    for k, criterion in enumerate(baseline.enrollment.criteria):
        expected = c[k] * (1 - criterion.pass_probability)
        share = table[f"failed: {criterion.name}"] / screened
        # closure happens right after a pass, a bias of order 1/screened per trial (~0.007)
        assert abs(share - expected) < 3 * np.sqrt(expected / screened) + 0.007 * expected


def test_site_heterogeneity_widens_the_spread_of_accrual(three_sites, rng):
    # Poisson-gamma: with shape 4, site rates vary (sd 50%), so the time to full accrual
    # varies more than with fixed rates.
    plain = vary(scenario_data(THREE), **{"enrollment.site_heterogeneity": None})
    spread_gamma = np.std(enroll(three_sites, 800, rng).rand_day[:, -1])
    spread_plain = np.std(enroll(plain, 800, rng).rand_day[:, -1])
    assert spread_gamma > 1.3 * spread_plain


def test_site_activating_after_study_end_is_an_error():
    data = scenario_data(THREE)
    with pytest.raises(ScenarioError, match="activation_date 2029-06-01 is outside the study"):
        vary(data, **{"enrollment.sites.2.activation_date": "2029-06-01"})


def test_caps_below_sample_size_is_an_error():
    data = scenario_data(THREE)
    with pytest.raises(ScenarioError, match="caps add up to"):
        vary(data, **{"enrollment.sites.0.cap": 20})
