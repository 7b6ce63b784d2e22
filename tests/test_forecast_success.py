"""The forecast's probability of success: unblinded (the DMC's view) the predictive
probability from the simulated continuations, the closed forms from the data (checked
against sim.stats.predictive and the B-value formulas written out with scipy.stats.norm),
P(HR < c); blinded with a design prior, the assurance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pytest
from scipy import stats

from sim.conduct.observed import check_observed, observed_from_patients
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.continuation import blinded_factor, data_evidence, fit_continuation
from sim.engine.metric_table import describe_metric
from sim.engine.results import summarize
from sim.scenario import parse_scenario
from sim.stats import predictive
from sim.stats.analysis import logrank_test

AS_OF = dt.date(2027, 6, 1)  # 16 months in: about a third of the 70 events


@pytest.fixture(scope="module")
def dates_only(baseline_data):
    return parse_scenario(dict(baseline_data, treatment=None, radiotherapy=None))


@pytest.fixture(scope="module")
def with_prior(baseline_data):
    data = dict(baseline_data, treatment=None, radiotherapy=None)
    data["prior"] = {"hazard_ratio": {"distribution": "lognormal", "median": 0.6, "sd_log": 0.3}}
    return parse_scenario(data)


@pytest.fixture(scope="module")
def observed(dates_only):
    model = TrialModel.from_scenario(dates_only)
    patients = simulate_chunk(model, 5, 0, 0, 1, keep_patients=1).patients
    return check_observed(observed_from_patients(patients, AS_OF), dates_only, AS_OF)


def test_closed_forms_are_the_b_value_formulas(dates_only, observed):
    """With one look and a flat prior: CP(design) = Phi((z sqrt(t) + theta sqrt(I)(1 - t) - c)
    / sqrt(1 - t)), CP(trend) = Phi((z / sqrt(t) - c) / sqrt(1 - t)), PP = Phi((z - c sqrt(t))
    / sqrt(1 - t)), P(HR < h) = Phi((z / sqrt(I_t) + log h) sqrt(I_t)), I = D / 4 (scipy.stats.
    norm; Lan and Wittes 1988, Spiegelhalter et al. 1986), to 1e-12; z the log-rank's."""
    evidence = data_evidence(dates_only, observed, 0.8)
    seen = np.isfinite(observed.event_day)
    time = np.where(seen, observed.event_day, observed.last_day)
    z = -float(logrank_test(time[None], seen[None], observed.arm[None]).z[0])
    d, big_d = int(seen.sum()), 70.0
    t, info = d / big_d, big_d / 4
    c = stats.norm.ppf(1 - dates_only.analysis.alpha)
    theta = -math.log(dates_only.effect.hazard_ratio)
    norm = stats.norm.cdf
    assert (evidence.z, evidence.events, evidence.fraction) == (pytest.approx(z), d, t)
    assert evidence.conditional_power_design == pytest.approx(
        norm((z * math.sqrt(t) + theta * math.sqrt(info) * (1 - t) - c) / math.sqrt(1 - t)),
        abs=1e-12,
    )
    assert evidence.conditional_power_trend == pytest.approx(
        norm((z / math.sqrt(t) - c) / math.sqrt(1 - t)), abs=1e-12
    )
    assert evidence.predictive_power == pytest.approx(
        norm((z - c * math.sqrt(t)) / math.sqrt(1 - t)), abs=1e-12
    )
    i_t = t * info
    assert evidence.p_hr_below_threshold == pytest.approx(
        norm((z / math.sqrt(i_t) + math.log(0.8)) * math.sqrt(i_t)), abs=1e-12
    )
    assert evidence.prior == "flat"


def test_closed_forms_use_the_design_prior(with_prior, observed):
    """With prior.hazard_ratio the predictive power and P(HR < 1) are sim.stats.predictive's
    under that prior (normal on -log HR)."""
    from sim.stats.priors import hazard_ratio_prior

    evidence = data_evidence(with_prior, observed, 1.0)
    prior = hazard_ratio_prior(with_prior.prior)
    c = stats.norm.ppf(1 - with_prior.analysis.alpha)
    expected = predictive.predictive_power(
        evidence.z, evidence.fraction, information=17.5, prior=prior, critical=c
    )
    assert evidence.predictive_power == pytest.approx(float(expected), abs=1e-10)
    expected = predictive.posterior_probability(
        evidence.z, evidence.fraction, information=17.5, prior=prior, hazard_ratio=1.0
    )
    assert evidence.p_hr_below_threshold == pytest.approx(float(expected), abs=1e-12)
    assert "lognormal" in evidence.prior


def summary_of(model: TrialModel, reps: int, seed: int = 4):
    replicates = simulate_chunk(model, seed, 0, 0, reps).replicates
    return replicates, summarize(replicates, model.scenario).set_index("metric")


def test_unblinded_forecast_reports_its_probability_of_success(dates_only, observed):
    """The predictive probability is the share of continuations that succeed (the power
    row, the same replicates), P(HR < c) the share of their drawn HRs below c, the closed
    forms are the data's, exact in every replicate; every row has its meaning."""
    model = TrialModel.from_scenario(dates_only)
    history = fit_continuation(
        dates_only, model.calendar, model.schedule, observed, unblinded=True, hr_threshold=0.7
    )
    replicates, summary = summary_of(dataclasses.replace(model, continuation=history), 200)
    assert summary.loc["predictive_probability_of_success", "estimate"] == pytest.approx(
        replicates["reject"].mean()
    )
    assert summary.loc["p_hr_below_threshold", "estimate"] == pytest.approx(
        (replicates["posterior_hr"] < 0.7).mean()
    )
    for name, value in (
        ("conditional_power_design", history.evidence.conditional_power_design),
        ("conditional_power_trend", history.evidence.conditional_power_trend),
        ("predictive_power_closed_form", history.evidence.predictive_power),
        ("p_hr_below_threshold_closed_form", history.evidence.p_hr_below_threshold),
    ):
        assert summary.loc[name, "estimate"] == pytest.approx(value, abs=1e-12)
        assert summary.loc[name, "mc_se"] == 0
        assert "closed form" in describe_metric(name)[1]
    # the continuations' HR is drawn from the arms' gamma posteriors: its median is theirs
    control, experimental = (group[0] for group in history.hazards)
    draws = np.random.default_rng(1).gamma(
        [[experimental.shape], [control.shape]],
        1 / np.array([[experimental.rate], [control.rate]]),
        (2, 200_000),
    )
    median = np.median(draws[0] / draws[1])
    hr = replicates["posterior_hr"]
    se = 1.253 * hr.std() / np.sqrt(len(hr))  # SE of a median, roughly normal draws
    assert abs(summary.loc["posterior_hr_q50", "estimate"] - median) < 3 * se


def test_blinded_forecast_without_a_prior_adds_nothing(dates_only, observed):
    model = TrialModel.from_scenario(dates_only)
    history = fit_continuation(dates_only, model.calendar, model.schedule, observed)
    replicates, summary = summary_of(dataclasses.replace(model, continuation=history), 20)
    assert not {"posterior_hr", "true_hr", "conditional_power_design"} & set(replicates)
    assert "assurance" not in summary.index


def test_blinded_forecast_with_a_design_prior_gives_the_assurance(with_prior, observed):
    """Each continuation draws its HR from the design prior (its log has the prior's mean
    and sd, within 3 MC SE) and its control hazard is the pooled one times c(HR)."""
    masked = dataclasses.replace(observed, arm=np.full(observed.n, -1))
    model = TrialModel.from_scenario(with_prior)
    history = fit_continuation(with_prior, model.calendar, model.schedule, masked)
    assert history.factor_curve is not None
    replicates, summary = summary_of(dataclasses.replace(model, continuation=history), 400)
    log_hr = np.log(replicates["true_hr"])
    assert abs(log_hr.mean() - math.log(0.6)) < 3 * 0.3 / math.sqrt(400)
    assert log_hr.std() == pytest.approx(0.3, rel=3 / math.sqrt(2 * 399))
    assert summary.loc["assurance", "estimate"] == pytest.approx(replicates["reject"].mean())
    grid, factor = history.factor_curve
    for h in (0.3, 0.6, 1.0):
        k = int(np.argmin(np.abs(np.log(np.asarray(grid) / h))))
        assert factor[k] == pytest.approx(blinded_factor(with_prior, masked, grid[k]))


def test_blinded_factor_without_exposure_is_the_allocation_mix(dates_only, observed):
    """No follow-up yet: c = 1 / (p_c + p_e HR), the pooled hazard of a 1:1 mix."""
    empty = dataclasses.replace(
        observed,
        rand_day=np.array([], int),
        **{f: getattr(observed, f)[:0] for f in ("patient_id", "site", "stratum", "arm")},
        **{
            f: getattr(observed, f)[:0]
            for f in ("event_day", "is_death", "dropout_day", "last_day")
        },
    )
    for h in (0.5, 1.0, 2.0):
        assert blinded_factor(dates_only, empty, h) == pytest.approx(1 / (0.5 + 0.5 * h))


def test_forecast_command_prints_the_probability_of_success(tmp_path, capsys, dates_only):
    from sim.commands.cli import main
    from tests.helpers import BASELINE

    model = TrialModel.from_scenario(dates_only)
    patients = simulate_chunk(model, 5, 0, 0, 1, keep_patients=1).patients
    obs = tmp_path / "obs.csv"
    observed_from_patients(patients, AS_OF).to_csv(obs, index=False)
    out = tmp_path / "fc"
    args = ["forecast", str(BASELINE), "--set", "treatment=null", "--set", "radiotherapy=null"]
    args += ["--observed", str(obs), "--as-of", str(AS_OF), "--reps", "20", "--workers", "1"]
    assert main([*args, "--unblinded", "--hr-threshold", "0.8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())["forecast"]
    assert manifest["hr_threshold"] == 0.8 and manifest["evidence"]["hr_threshold"] == 0.8
    # the short print: the predictive probability beside the plan's power, P(HR < c), the
    # posterior HR; how each was obtained is in the manifest (and --verbose)
    assert "predictive_probability_of_success (unblinded: the share of continuations" in printed
    assert "the plan's power:" in printed and "P(HR < 0.8 | data):" in printed
    assert "posterior HR: median" in printed
    assert "predictive_probability_of_success" in manifest["success"]
    comparison = (out / "comparison.csv").read_text()
    assert "predictive_probability_of_success" in comparison
    assert main([*args, "--hr-threshold", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--hr-threshold 0.0: must be a finite hazard ratio > 0" in capsys.readouterr().err


def test_blinded_arms_are_drawn_from_their_posterior(dates_only, observed):
    """Blinded, an observed patient's arm is drawn with probability p_e h_e^d exp(-h_e t) /
    (p_e h_e^d exp(-h_e t) + p_c h_c^d exp(-h_c t)) (exponential hazards: one piece), t the
    days to its PFS event (d = 1) or last assessment (d = 0): each patient's share of draws
    within 4 binomial SE of it."""
    from sim.engine.continuation import observed_arms

    masked = dataclasses.replace(observed, arm=np.full(observed.n, -1))
    model = TrialModel.from_scenario(dates_only)
    history = fit_continuation(dates_only, model.calendar, model.schedule, masked)
    reps, h_c, hr = 4000, math.log(2) / (6.8 * 30.4375), 0.6
    hazards = np.broadcast_to(np.array([[h_c], [hr * h_c]]), (reps, 2, 1))
    drawn = observed_arms(history, hazards, (1, 1), np.random.default_rng(7))
    event = np.isfinite(masked.event_day)
    t = np.where(event, masked.event_day, masked.last_day)
    experimental = (hr * h_c) ** event * np.exp(-hr * h_c * t)
    control = h_c**event * np.exp(-h_c * t)
    expected = experimental / (experimental + control)
    se = np.sqrt(expected * (1 - expected) / reps)
    assert event.sum() >= 5 and (~event).sum() >= 5
    assert np.all(np.abs(drawn.mean(axis=0) - expected) < 4 * se + 1e-12)


def test_blinded_power_is_the_designs_on_average_whatever_the_events_seen(dates_only):
    """Over trials simulated under the design, the blinded forecast's probability of
    success given the pooled data averages to the design's power (the law of total
    probability), even late, with most of the events seen (before, the observed patients'
    arms were drawn blind to their outcomes and diluted the final test towards alpha: 14%
    at 62 of 70 events). 12 trials x 150 continuations; the tolerance is 3 SE of the mean
    of the 12 shares, their own spread included."""
    model = TrialModel.from_scenario(dates_only)
    late = dt.date(2028, 3, 1)  # about 60 of the 70 events seen
    truths = simulate_chunk(model, 11, 0, 0, 12, keep_patients=12).patients
    shares, events = [], []
    for r in range(12):
        table = observed_from_patients(truths[truths["replicate"] == r], late)
        obs = check_observed(table, dates_only, late)
        masked = dataclasses.replace(obs, arm=np.full(obs.n, -1))
        history = fit_continuation(dates_only, model.calendar, model.schedule, masked)
        replicates = simulate_chunk(
            dataclasses.replace(model, continuation=history), 20 + r, 0, 0, 150
        ).replicates
        shares.append(replicates["reject"].mean())
        events.append(np.isfinite(masked.event_day).sum())
    plan = simulate_chunk(model, 3, 0, 0, 2000).replicates["reject"].mean()
    mean, se = np.mean(shares), np.std(shares, ddof=1) / np.sqrt(len(shares))
    assert np.median(events) >= 45
    assert abs(mean - plan) < 3 * math.hypot(se, math.sqrt(plan * (1 - plan) / 2000)), (
        shares,
        plan,
    )


def test_a_probability_of_success_of_every_continuation_is_not_certain():
    """Every continuation succeeding has an MC SE of 0, which is not certainty: the answer
    gives its 95% interval instead, as the report's answers do; otherwise its MC SE."""
    import pandas as pd

    from sim.engine.forecast import success_answer

    comparison = pd.DataFrame({"metric": ["power"], "plan": [0.785]})

    def answer(estimate: float, se: float, low: float, high: float):
        summary = pd.DataFrame(
            {
                "metric": ["predictive_probability_of_success"],
                "estimate": [estimate],
                "mc_se": [se],
                "ci_low": [low],
                "ci_high": [high],
            }
        )
        return success_answer(summary, comparison, 1.0)

    every = answer(1.0, 0.0, 0.9812, 1.0)
    assert every.estimate == "100.0%"
    assert every.how_sure == "every simulated continuation; 95% CI 98.1% to 100.0%"
    assert answer(0.755, 0.0304, 0.69, 0.81).how_sure == "MC SE 3.0%"
