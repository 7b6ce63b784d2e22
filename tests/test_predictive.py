"""Interim conditional power, predictive power and posterior probabilities (B-values).

Reference values: rpact 3.3.4's getConditionalPower, in sim/qualify/references/assurance_rpact.json
with the call that made each (`Rscript sim/qualify/references/assurance_rpact.R` rewrites it); the
predictive quantities have no rpact function, so they are checked against scipy.integrate.quad
of the conditional power over the posterior built from prior x likelihood (not from the
conjugate formulas), to 1e-6 as the issue asks. Monte Carlo checks simulate the Brownian motion
B(t) and stay within 3 Monte Carlo standard errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, stats

from sim.errors import ScenarioError
from sim.qualify import REFERENCES
from sim.stats.monitoring import SequentialPlan
from sim.stats.predictive import (
    InterimPrior,
    b_value,
    conditional_power,
    conditional_power_sequential,
    conditional_power_trend,
    posterior_normal,
    posterior_probability,
    predictive_power,
    predictive_power_sequential,
    z_for_conditional_power,
    z_for_predictive_power,
)
from sim.stats.priors import LognormalHazardRatio, MixtureHazardRatio
from sim.stats.sequential import Design, efficacy_bounds
from sim.stats.spending import Spending

REFERENCE = json.loads((REFERENCES / "assurance_rpact.json").read_text())
TOL = 1e-6
C2 = REFERENCE["designs"]["obf2"]["critical"][1]  # final bound of the two-look design
T, I_MAX = 0.6, 70 * 0.25  # 42 of 70 events, 1:1
PRIORS = {
    "lognormal": LognormalHazardRatio(0.6, 0.25),
    "flat": None,
    "mixture": MixtureHazardRatio((0.6, 1.0), (0.7, 0.3)),
}


def obf_design(fractions: list[float]) -> Design:
    t = np.asarray(fractions, dtype=float)
    bounds = efficacy_bounds(t, Spending("obrien_fleming"), 0.025)
    return Design(t, bounds, np.full(len(t), -np.inf), 0.025, math.nan, 1, False, math.nan)


# ------------------------------------------------------------------------------ rpact


@pytest.mark.parametrize("key", sorted(REFERENCE["conditional_power"]))
def test_conditional_power_equals_rpact(key):
    ref = REFERENCE["conditional_power"][key]
    t = ref["events"] / ref["max_events"]
    info = ref["max_events"] * 0.25
    design = conditional_power(ref["z"], t, information=info, hazard_ratio=0.6, critical=C2)
    trend = conditional_power_trend(ref["z"], t, critical=C2)
    assert design == pytest.approx(ref["conditional_power_design"], abs=TOL)
    assert trend == pytest.approx(ref["conditional_power_trend"], abs=TOL)


@pytest.mark.parametrize("key", sorted(REFERENCE["conditional_power_sequential"]))
def test_conditional_power_over_remaining_looks_equals_rpact(key):
    """Three looks (1/3, 2/3, 1 of 90 events); after the first, rejecting at look 2 or 3."""
    ref = REFERENCE["conditional_power_sequential"][key]
    design = obf_design([1 / 3, 2 / 3, 1.0])
    assert design.efficacy == pytest.approx(REFERENCE["designs"]["obf3"]["critical"], abs=TOL)
    args = dict(design=design, information=ref["max_events"] * 0.25)
    t = ref["events"] / ref["max_events"]
    at_design = conditional_power_sequential(ref["z"], t, hazard_ratio=0.6, **args)
    at_trend = conditional_power_sequential(ref["z"], t, hazard_ratio=None, **args)
    assert at_design == pytest.approx(ref["conditional_power_design"][-1], abs=TOL)
    assert at_trend == pytest.approx(ref["conditional_power_trend"][-1], abs=TOL)


def test_sequential_conditional_power_with_one_look_left_is_the_closed_form():
    design = obf_design([0.6, 1.0])
    z = np.array([-0.5, 0.4, 1.3, 2.2])
    got = conditional_power_sequential(z, T, design=design, information=I_MAX, hazard_ratio=0.7)
    want = conditional_power(
        z, T, information=I_MAX, hazard_ratio=0.7, critical=design.efficacy[-1]
    )
    assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_sequential_predictive_power_with_one_look_left_is_the_closed_form(name):
    design = obf_design([0.6, 1.0])
    z = np.array([-0.5, 0.4, 1.3, 2.2])
    got = predictive_power_sequential(z, T, design=design, information=I_MAX, prior=PRIORS[name])
    want = predictive_power(
        z, T, information=I_MAX, prior=PRIORS[name], critical=design.efficacy[-1]
    )
    assert got == pytest.approx(want, abs=1e-10)


# ------------------------------------------------------------------ closed-form facts


def test_trend_is_conditional_power_at_the_estimate():
    z = 1.3
    theta_hat = z / math.sqrt(T * I_MAX)
    at_estimate = conditional_power(
        z, T, information=I_MAX, hazard_ratio=math.exp(-theta_hat), critical=C2
    )
    assert conditional_power_trend(z, T, critical=C2) == pytest.approx(at_estimate, abs=1e-14)


def test_flat_prior_predictive_power_is_spiegelhalters_formula():
    """Spiegelhalter et al. (1986): Phi((Z_t - c sqrt(t)) / sqrt(1 - t))."""
    z = np.array([0.0, 1.0, 2.0])
    want = stats.norm.cdf((z - C2 * math.sqrt(T)) / math.sqrt(1 - T))
    got = predictive_power(z, T, information=I_MAX, prior=None, critical=C2)
    assert got == pytest.approx(want, abs=1e-14)


def test_b_value():
    assert b_value(1.3, 0.64) == pytest.approx(1.04, abs=1e-15)


def test_conditional_power_threshold_bound_equals_the_monitors():
    """sim.stats.monitoring converts a conditional-power futility threshold to a z bound in
    its own words; ours must agree."""
    plan = SequentialPlan(
        planned_events=np.array([42.0, 70.0]),
        alpha=0.025,
        sides=1,
        beta=0.2,
        allocation=0.5,
        efficacy_spending=Spending("obrien_fleming"),
        efficacy_z=None,
        futility_kind="conditional_power",
        futility_values=np.array([0.1]),
        beta_spending=None,
        binding=False,
    )
    theirs = plan.futility_at(np.array([0]), np.array([42.0]), C2)[0]
    ours = z_for_conditional_power(
        0.1, T, information=I_MAX, hazard_ratio=math.exp(plan.design_log_hr), critical=C2
    )
    assert ours == pytest.approx(theirs, abs=1e-12)
    cp = conditional_power(
        ours, T, information=I_MAX, hazard_ratio=math.exp(plan.design_log_hr), critical=C2
    )
    assert cp == pytest.approx(0.1, abs=1e-12)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_predictive_power_threshold_bound_inverts(name):
    z = z_for_predictive_power(0.1, T, information=I_MAX, prior=PRIORS[name], critical=C2)
    pp = predictive_power(z, T, information=I_MAX, prior=PRIORS[name], critical=C2)
    assert pp == pytest.approx(0.1, abs=1e-10)


# ------------------------------------------------------- scipy: posterior by integration


def posterior_integral(
    z: float,
    prior: InterimPrior,
    f: Callable[[float], float],
    *,
    fraction: float = T,
    information: float = I_MAX,
) -> float:
    """E[f(theta) | Z_t = z] = int f p(theta) L(theta) / int p(theta) L(theta), with the
    likelihood L = phi(z - theta sqrt(t I_max)), by scipy.integrate.quad (or a plain sum
    for a mixture)."""
    root = math.sqrt(fraction * information)

    def likelihood(theta: float) -> float:
        return stats.norm.pdf(z - theta * root)

    if isinstance(prior, MixtureHazardRatio):
        theta = -np.log(prior.values)
        joint = np.asarray(prior.weights) * likelihood(theta)
        return float(joint @ np.array([f(x) for x in theta]) / joint.sum())
    if prior is None:
        density, lo, hi = (lambda x: 1.0), z / root - 12 / root, z / root + 12 / root
    else:
        m, s = prior.theta_mean, prior.theta_sd
        density = lambda x: stats.norm.pdf(x, m, s)  # noqa: E731
        lo, hi = min(m - 12 * s, z / root - 12 / root), max(m + 12 * s, z / root + 12 / root)
    opts = dict(epsabs=1e-14, epsrel=1e-12, limit=200)
    top, _ = integrate.quad(lambda x: f(x) * density(x) * likelihood(x), lo, hi, **opts)
    bottom, _ = integrate.quad(lambda x: density(x) * likelihood(x), lo, hi, **opts)
    return top / bottom


@pytest.mark.parametrize("name", sorted(PRIORS))
@pytest.mark.parametrize("z", [-0.5, 0.4, 1.3, 2.2])
def test_predictive_power_equals_conditional_power_integrated_over_the_posterior(name, z):
    prior = PRIORS[name]

    def cp(theta: float) -> float:
        drift = theta * math.sqrt(I_MAX)
        return stats.norm.cdf((z * math.sqrt(T) + drift * (1 - T) - C2) / math.sqrt(1 - T))

    want = posterior_integral(z, prior, cp)
    got = predictive_power(z, T, information=I_MAX, prior=prior, critical=C2)
    assert got == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("name", sorted(PRIORS))
@pytest.mark.parametrize(("z", "below"), [(0.4, 1.0), (1.3, 0.8), (2.2, 0.7), (1.3, 0.6)])
def test_posterior_probability_equals_integrated_posterior(name, z, below):
    prior = PRIORS[name]
    if isinstance(prior, MixtureHazardRatio):
        want = posterior_integral(z, prior, lambda x: float(math.exp(-x) < below))
    else:
        cut = -math.log(below)  # HR < h is theta > -log h; integrate the indicator's region
        root = math.sqrt(T * I_MAX)
        m, s = (prior.theta_mean, prior.theta_sd) if prior else (0.0, math.inf)

        def density(x: float) -> float:
            prior_part = stats.norm.pdf(x, m, s) if prior else 1.0
            return prior_part * stats.norm.pdf(z - x * root)

        hi = cut + 40.0
        top, _ = integrate.quad(density, cut, hi, epsabs=1e-14, limit=200)
        bottom, _ = integrate.quad(density, cut - 40.0, hi, epsabs=1e-14, limit=200, points=[cut])
        want = top / bottom
    got = posterior_probability(z, T, information=I_MAX, prior=prior, hazard_ratio=below)
    assert got == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_sequential_predictive_power_equals_quad_over_the_posterior(name):
    """Three looks (1/3, 2/3, 1 of 90 events), after the first with z = 1.1: the conditional
    power over the two looks left, integrated over the posterior by scipy.integrate.quad."""
    design, info, t, z = obf_design([1 / 3, 2 / 3, 1.0]), 90 * 0.25, 1 / 3, 1.1
    prior = PRIORS[name]

    def cp(theta: float) -> float:
        return float(
            conditional_power_sequential(
                z, t, design=design, information=info, hazard_ratio=math.exp(-theta)
            )
        )

    want = posterior_integral(z, prior, cp, fraction=t, information=info)
    got = predictive_power_sequential(z, t, design=design, information=info, prior=prior)
    assert got == pytest.approx(want, abs=TOL)


# ----------------------------------------------------------------------- Monte Carlo


def streams(seed: int, count: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def test_conditional_power_is_the_share_of_simulated_continuations_that_succeed():
    """From B(t) = z sqrt(t), B(1) = B(t) + theta sqrt(I_max) (1 - t) + sqrt(1 - t) N(0, 1)."""
    (rng,) = streams(260, 1)
    n, z, hr = 100_000, 1.3, 0.6
    b1 = z * math.sqrt(T) - math.log(hr) * math.sqrt(I_MAX) * (1 - T)
    b1 = b1 + math.sqrt(1 - T) * rng.standard_normal(n)
    share = np.mean(b1 >= C2)
    se = math.sqrt(share * (1 - share) / n)
    want = conditional_power(z, T, information=I_MAX, hazard_ratio=hr, critical=C2)
    assert abs(share - want) < 3 * se


@pytest.mark.parametrize("name", ["lognormal", "mixture"])
def test_predictive_power_by_importance_sampling_the_prior(name):
    """Bayes by simulation: draw theta from the prior and B(1) - B(t) given theta; weight each
    draw by the likelihood of the observed z; the weighted share of successes."""
    prior = PRIORS[name]
    rng_prior, rng_path = streams(261, 2)
    n, z = 200_000, 1.3
    theta = -np.log(prior.draw(rng_prior, n))
    weight = stats.norm.pdf(z - theta * math.sqrt(T * I_MAX))
    b1 = z * math.sqrt(T) + theta * math.sqrt(I_MAX) * (1 - T)
    success = (b1 + math.sqrt(1 - T) * rng_path.standard_normal(n)) >= C2
    estimate = weight @ success / weight.sum()
    se = math.sqrt(np.sum(weight**2 * (success - estimate) ** 2)) / weight.sum()
    want = predictive_power(z, T, information=I_MAX, prior=prior, critical=C2)
    assert abs(estimate - want) < 3 * se


@pytest.mark.parametrize("name", ["lognormal", "mixture"])
def test_sequential_predictive_power_by_importance_sampling(name):
    """Three looks, z = 1.1 at the first: theta from the prior weighted by the likelihood of
    z, the Brownian motion simulated on to looks 2 and 3; the weighted share that crosses."""
    prior = PRIORS[name]
    design, info, z = obf_design([1 / 3, 2 / 3, 1.0]), 90 * 0.25, 1.1
    rng_prior, rng_2, rng_3 = streams(263, 3)
    n = 200_000
    theta = -np.log(prior.draw(rng_prior, n))
    weight = stats.norm.pdf(z - theta * math.sqrt(info / 3))
    drift = theta * math.sqrt(info)
    b_2 = z * math.sqrt(1 / 3) + drift / 3 + math.sqrt(1 / 3) * rng_2.standard_normal(n)
    b_3 = b_2 + drift / 3 + math.sqrt(1 / 3) * rng_3.standard_normal(n)
    b_k = design.efficacy[1:] * np.sqrt([2 / 3, 1.0])
    success = (b_2 >= b_k[0]) | (b_3 >= b_k[1])
    estimate = weight @ success / weight.sum()
    se = math.sqrt(np.sum(weight**2 * (success - estimate) ** 2)) / weight.sum()
    want = predictive_power_sequential(z, 1 / 3, design=design, information=info, prior=prior)
    assert abs(estimate - want) < 3 * se


@pytest.mark.parametrize("name", ["lognormal", "mixture"])
def test_simulated_trials_calibrate_predictive_power_and_posterior(name):
    """Whole Brownian paths with theta drawn from the prior. Predictive power is the chance
    of success given Z_t, so E[CP(theta, Z_t) - PP(Z_t) | Z_t] = 0 (CP(theta, Z_t) is
    E[1(success) | theta, Z_t], the simulated B(1) integrated out, which leaves less Monte
    Carlo noise); likewise E[1(HR < 0.8) - P(HR < 0.8 | Z_t) | Z_t] = 0. Checked on all paths
    and on those with Z_t > 1 (an event of the interim data), each within 3 MC SE."""
    prior = PRIORS[name]
    rng_prior, rng_t = streams(262, 2)
    n = 200_000
    hr = prior.draw(rng_prior, n)
    theta = -np.log(hr)
    b_t = theta * math.sqrt(I_MAX) * T + math.sqrt(T) * rng_t.standard_normal(n)
    z_t = b_t / math.sqrt(T)
    drift = theta * math.sqrt(I_MAX)
    cp = stats.norm.cdf((b_t + drift * (1 - T) - C2) / math.sqrt(1 - T))
    pp = predictive_power(z_t, T, information=I_MAX, prior=prior, critical=C2)
    post = posterior_probability(z_t, T, information=I_MAX, prior=prior, hazard_ratio=0.8)
    for residual in (cp - pp, (hr < 0.8) - post):
        for keep in (np.ones(n, bool), z_t > 1.0):
            r = residual[keep]
            assert abs(r.mean()) < 3 * r.std() / math.sqrt(len(r))


def test_posterior_normal_shrinks_toward_the_prior():
    prior = PRIORS["lognormal"]
    mean, sd = posterior_normal(0.0, T, information=I_MAX, prior=prior)
    flat_mean, flat_sd = posterior_normal(0.0, T, information=I_MAX, prior=None)
    assert flat_mean == 0.0 and 0.0 < mean < prior.theta_mean and sd < flat_sd


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "pieces"),
    [
        (
            lambda: conditional_power(1.0, 1.2, information=17.5, hazard_ratio=0.6, critical=2),
            ["fraction = 1.2", "strictly between 0 and 1", "e.g. 42 / 70 = 0.6"],
        ),
        (
            lambda: predictive_power(1.0, 0.0, information=17.5, prior=None, critical=2),
            ["fraction = 0.0", "strictly between 0 and 1"],
        ),
        (
            lambda: conditional_power(1.0, 0.5, information=-1, hazard_ratio=0.6, critical=2),
            ["information = -1", "> 0", "e.g. 70 * 0.25 = 17.5"],
        ),
        (
            lambda: conditional_power(1.0, 0.5, information=17.5, hazard_ratio=0, critical=2),
            ["hazard_ratio = 0", "> 0", "e.g. 0.6"],
        ),
        (
            lambda: z_for_conditional_power(
                1.1, 0.5, information=17.5, hazard_ratio=0.6, critical=2
            ),
            ["futility.threshold = 1.1", "strictly between 0 and 1", "e.g. threshold: 0.10"],
        ),
        (
            lambda: z_for_predictive_power(-0.1, 0.5, information=17.5, prior=None, critical=2),
            ["futility.threshold = -0.1", "strictly between 0 and 1"],
        ),
        (
            lambda: conditional_power_sequential(
                1.0,
                0.5,
                design=Design(
                    np.array([0.3, 0.5]),
                    np.array([3.0, 2.0]),
                    np.full(2, -np.inf),
                    0.025,
                    math.nan,
                    1,
                    False,
                    math.nan,
                ),
                information=17.5,
                hazard_ratio=0.6,
            ),
            ["fraction = 0.5", "no look after it", "give the fraction of an interim look"],
        ),
    ],
)
def test_bad_input_names_field_value_rule_and_fix(call, pieces):
    with pytest.raises(ValueError) as caught:
        call()
    assert isinstance(caught.value, ScenarioError)
    for piece in pieces:
        assert piece in str(caught.value)
