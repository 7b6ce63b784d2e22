"""Subsequent therapy and crossover after progression (overall_survival.subsequent_therapy).

Validated against the closed form of the illness-death model: with exponential transitions
each therapy j changes h12 to h12 x its hazard ratio, so an arm's OS survival is the mixture
sum_j share_j S(t; h01, h02, h12 HR_j) + (1 - sum share) S(t; h01, h02, h12)
(`os_survival_closed_form`, as test_endpoints checks the OS block without therapies), by
the drawn shares (binomial), by common random numbers (the deaths without therapy are the
deaths of the same run without the block), and bad input through the command line.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from sim.conduct.outcomes import draw_latent_outcomes
from sim.conduct.survival import draw_illness_death, os_survival_closed_form
from sim.engine.chunk import TrialModel, simulate_chunk
from tests.helpers import ROOT, assert_run_rejects, scenario_data, vary
from tests.test_endpoints import baseline_hazards

THERAPIES = {
    "control": [
        {"name": "immunotherapy", "share": 0.3, "hazard_ratio": 0.6, "immunotherapy": True},
        {"name": "docetaxel", "share": 0.4, "hazard_ratio": 0.9},
    ],
    "experimental": [{"name": "docetaxel", "share": 0.5, "hazard_ratio": 0.9}],
}
CROSSOVER = ROOT / "scenarios" / "nct07271602_crossover.yaml"


@pytest.mark.parametrize("arm", [0, 1])
def test_os_with_subsequent_therapy_matches_the_mixture_of_closed_forms(
    baseline_data, arm, rng, record_validation
):
    # The baseline's h01, h02 (PFS median 6.8 months, 10% deaths, HR 0.6 in arm 1) and h12
    # (post-progression median 11 months, HR 0.8 in arm 1), the therapies above: KS on
    # 100,000 patients, and the median against the mixture's root within 4 MC SE.
    scenario = vary(
        baseline_data,
        **{
            "overall_survival.post_progression_hazard_ratio": 0.8,
            "overall_survival.subsequent_therapy": THERAPIES,
        },
    )
    n = 100_000
    arms = np.full((1, n), arm)
    latent = draw_latent_outcomes(scenario, arms, rng)
    paths = draw_illness_death(scenario, arms, latent, rng, np.random.default_rng(99))
    death = paths.death_day.ravel()
    h01, h02, h12 = baseline_hazards(scenario, arm)
    listed = THERAPIES["experimental" if arm else "control"]
    weights = [t["share"] for t in listed] + [1 - sum(t["share"] for t in listed)]
    ratios = [t["hazard_ratio"] for t in listed] + [1.0]

    def cdf(t):
        surv = sum(
            w * os_survival_closed_form(t, h01, h02, h12 * r)
            for w, r in zip(weights, ratios, strict=True)
        )
        return 1.0 - surv

    assert stats.kstest(death, cdf).pvalue > 1e-3
    median = optimize.brentq(lambda t: cdf(t) - 0.5, 1.0, 1e5)
    density = cdf(median + 0.5) - cdf(median - 0.5)
    se = math.sqrt(0.25 / n) / density
    record_validation(
        f"median OS with subsequent therapy, arm {arm} (days)",
        "illness-death closed form, mixture over therapies",
        median,
        np.median(death),
        4 * se,
    )
    assert abs(np.median(death) - median) < 4 * se
    # the shares drawn: within 4 binomial SE of the scenario's
    for j, therapy in enumerate(listed):
        share = (paths.therapy.index == j).mean()
        assert abs(share - therapy["share"]) < 4 * math.sqrt(0.25 / n)


def test_without_therapy_the_deaths_are_those_of_the_run_without_the_block(baseline_data):
    plain = vary(baseline_data, treatment=None, radiotherapy=None)
    treated = vary(
        baseline_data,
        treatment=None,
        radiotherapy=None,
        **{"overall_survival.subsequent_therapy": THERAPIES},
    )
    a = TrialModel.from_scenario(plain)
    b = TrialModel.from_scenario(treated)
    from sim.engine.chunk import chunk_streams, draw_cohort

    one = draw_cohort(a, chunk_streams(3, 0), 50)
    two = draw_cohort(b, chunk_streams(3, 0), 50)
    np.testing.assert_array_equal(
        one.illness_death.death_day, two.illness_death.death_day_without_therapy
    )
    np.testing.assert_array_equal(one.latent.withdraw_day, two.latent.withdraw_day)
    # therapies with a ratio < 1 only lengthen life after progression
    assert (two.illness_death.death_day >= two.illness_death.death_day_without_therapy).all()


def test_a_crossover_run_reports_shares_and_dilution():
    sc = vary(scenario_data(CROSSOVER), treatment=None, radiotherapy=None)
    reps = simulate_chunk(TrialModel.from_scenario(sc), 3, 0, 0, 300).replicates
    control = sc.overall_survival.subsequent_therapy.control
    assert abs(reps["subsequent_therapy_control"].mean() - sum(t.share for t in control)) < 0.03
    immuno = sum(t.share for t in control if t.immunotherapy)
    assert abs(reps["subsequent_immunotherapy_control"].mean() - immuno) < 0.03
    assert (reps["subsequent_immunotherapy_experimental"] == 0).all()
    # crossover helps the control arm after progression: the OS hazard ratio is diluted
    assert reps["os_hr_dilution"].median() > 1.0
    assert reps["os_at_pfs_cut_reject"].mean() < reps["os_without_subsequent_reject"].mean()


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (
            "overall_survival.subsequent_therapy={control: [{name: io, share: 1.2, "
            "hazard_ratio: 0.7}]}",
            "overall_survival.subsequent_therapy.control.0.share = 1.2: a share of the arm's "
            "patients who progress must be in [0, 1]",
        ),
        (
            "overall_survival.subsequent_therapy={control: [{name: io, share: -0.1, "
            "hazard_ratio: 0.7}]}",
            "overall_survival.subsequent_therapy.control.0.share = -0.1: a share",
        ),
        (
            "overall_survival.subsequent_therapy={experimental: [{name: a, share: 0.7, "
            "hazard_ratio: 0.7}, {name: b, share: 0.5, hazard_ratio: 0.9}]}",
            "overall_survival.subsequent_therapy.experimental: the shares add up to 1.2, above 1",
        ),
    ],
)
def test_bad_subsequent_therapy_exits_2_with_one_message(tmp_path, capsys, override, needle):
    assert_run_rejects(tmp_path, capsys, override, needle)


def test_the_crossover_scenario_is_the_baseline_but_its_subsequent_therapy(baseline_data):
    data = scenario_data(CROSSOVER)
    assert data["overall_survival"].pop("subsequent_therapy")["control"]
    assert data == baseline_data
