"""Design priors and assurance: validated against rpact, scipy and Monte Carlo.

Every rpact figure is in sim/qualify/references/assurance_rpact.json together with the R call
that produced it; `Rscript sim/qualify/references/assurance_rpact.R >
sim/qualify/references/assurance_rpact.json` reproduces the file (rpact 3.3.4, R 4.2.2; Debian's
r-cran-rpact), so these tests need no R. The R script averages rpact's getPowerSurvival over the
prior by its own 40-node Gauss-Hermite rule (Golub-Welsch); the tolerance is the issue's 1e-6
(met to about 1e-8). The scipy checks integrate the power function against the prior density
with scipy.integrate.quad (and, for a two-look design, the power from
scipy.stats.multivariate_normal), independently of our quadrature and recursion. Monte Carlo
checks are within 3 standard errors.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from sim.errors import ScenarioError
from sim.qualify import REFERENCES
from sim.stats.assurance import (
    assurance,
    assurance_normal,
    event_information,
    fixed_design,
    p_false_success,
    p_success_given_effective,
    power_curve,
    probability_of_success,
)
from sim.stats.priors import (
    LognormalHazardRatio,
    LognormalMedian,
    MixtureHazardRatio,
    check_threshold,
    hermite_nodes,
)
from sim.stats.sequential import Design, efficacy_bounds
from sim.stats.spending import Spending

REFERENCE = json.loads((REFERENCES / "assurance_rpact.json").read_text())
TOL = 1e-6


def obf_design(fractions: list[float], alpha: float = 0.025) -> Design:
    """Our design for rpact's getDesignGroupSequential(typeOfDesign = 'asOF', sided = 1)."""
    t = np.asarray(fractions, dtype=float)
    bounds = efficacy_bounds(t, Spending("obrien_fleming"), alpha)
    return Design(t, bounds, np.full(len(t), -np.inf), alpha, math.nan, 1, False, math.nan)


DESIGNS = {"fixed": fixed_design(0.025), "obf2": obf_design([0.6, 1.0])}


def prior_of(spec: dict) -> LognormalHazardRatio | MixtureHazardRatio:
    if spec["distribution"] == "lognormal":
        return LognormalHazardRatio(spec["median"], spec["sd_log"])
    return MixtureHazardRatio(tuple(spec["values"]), tuple(spec["weights"]))


# ------------------------------------------------------------------------------ rpact


@pytest.mark.parametrize("name", ["fixed", "obf2"])
def test_design_bounds_equal_rpacts(name):
    ref = REFERENCE["designs"][name]
    assert DESIGNS[name].efficacy == pytest.approx(np.atleast_1d(ref["critical"]), abs=TOL)


@pytest.mark.parametrize("name", sorted(REFERENCE["assurance"]))
def test_assurance_equals_rpact_power_averaged_over_the_prior(name):
    ref = REFERENCE["assurance"][name]
    allocation = ref["allocation_ratio"] / (1 + ref["allocation_ratio"])
    got = assurance(
        prior_of(ref["prior"]), ref["events"], design=DESIGNS[ref["design"]], allocation=allocation
    )
    assert got == pytest.approx(ref["assurance"], abs=TOL)


@pytest.mark.parametrize("name", ["fixed_mixture", "obf2_mixture"])
def test_power_at_mixture_values_equals_rpact(name):
    ref = REFERENCE["assurance"][name]
    got = power_curve(
        np.asarray(ref["prior"]["values"]), ref["events"], design=DESIGNS[ref["design"]]
    )
    assert got == pytest.approx(ref["power_at_values"], abs=TOL)


def test_closed_form_is_the_fixed_designs_assurance():
    """The closed form (what `assurance` returns for one look) equals Gauss-Hermite over the
    Schoenfeld power and rpact's figure."""
    ref = REFERENCE["assurance"]["fixed_lognormal"]
    prior = LognormalHazardRatio(0.6, 0.25)
    info = event_information(70, 0.5)
    closed = assurance_normal(
        prior.theta_mean, prior.theta_sd, information=info, critical=stats.norm.ppf(0.975)
    )
    hr, w = prior.nodes()
    quadrature = float(w @ power_curve(hr, 70, design=DESIGNS["fixed"]))
    assert closed == pytest.approx(ref["assurance"], abs=1e-12)
    assert quadrature == pytest.approx(closed, abs=1e-12)


# ------------------------------------------------------------------------------ scipy


def scipy_power_two_looks(theta: float, info: float, bounds: np.ndarray, t1: float) -> float:
    """P(Z1 >= b1 or Z2 >= b2): 1 - P(Z1 < b1, Z2 < b2), (Z1, Z2) bivariate normal with means
    theta sqrt(t_k I), correlation sqrt(t1)."""
    mean = theta * math.sqrt(info) * np.sqrt([t1, 1.0])
    cov = [[1.0, math.sqrt(t1)], [math.sqrt(t1), 1.0]]
    mvn = stats.multivariate_normal(mean=mean, cov=cov, abseps=1e-11, releps=1e-11)
    return 1.0 - float(mvn.cdf(bounds))


def test_two_look_power_equals_scipy_bivariate_normal():
    design = DESIGNS["obf2"]
    info = event_information(70)
    for hr in (0.5, 0.6, 0.8, 1.0, 1.2):
        want = scipy_power_two_looks(-math.log(hr), info, design.efficacy, 0.6)
        assert power_curve(hr, 70, design=design) == pytest.approx(want, abs=1e-7)


@pytest.mark.parametrize("design_name", ["fixed", "obf2"])
def test_assurance_equals_scipy_quad_of_power_times_prior(design_name):
    design = DESIGNS[design_name]
    prior = LognormalHazardRatio(0.7, 0.4)
    events, allocation = 120, 2 / 3

    def integrand(theta: float) -> float:
        power = power_curve(math.exp(-theta), events, design=design, allocation=allocation)
        return float(power) * stats.norm.pdf(theta, prior.theta_mean, prior.theta_sd)

    # the prior's mass beyond 12 sd is below 1e-32
    lo, hi = prior.theta_mean - 12 * prior.theta_sd, prior.theta_mean + 12 * prior.theta_sd
    want, _ = integrate.quad(integrand, lo, hi, epsabs=1e-12, epsrel=1e-12, limit=200)
    got = assurance(prior, events, design=design, allocation=allocation)
    assert got == pytest.approx(want, abs=1e-8)


@pytest.mark.parametrize("design_name", ["fixed", "obf2"])
@pytest.mark.parametrize("no_benefit_hr", [1.0, 0.9])
def test_false_success_equals_scipy_quad_over_the_no_benefit_region(design_name, no_benefit_hr):
    design = DESIGNS[design_name]
    prior = LognormalHazardRatio(0.8, 0.3)

    def integrand(theta: float) -> float:
        power = power_curve(math.exp(-theta), 70, design=design)
        return float(power) * stats.norm.pdf(theta, prior.theta_mean, prior.theta_sd)

    lo = prior.theta_mean - 12 * prior.theta_sd
    want, _ = integrate.quad(integrand, lo, -math.log(no_benefit_hr), epsabs=1e-13, limit=200)
    got = p_false_success(prior, 70, design=design, no_benefit_hr=no_benefit_hr)
    assert got == pytest.approx(want, abs=1e-9)
    effective = stats.norm.sf(-math.log(no_benefit_hr), prior.theta_mean, prior.theta_sd)
    total = assurance(prior, 70, design=design)
    conditional = p_success_given_effective(prior, 70, design=design, no_benefit_hr=no_benefit_hr)
    assert conditional == pytest.approx((total - want) / effective, abs=1e-8)


def test_false_success_of_a_fixed_design_equals_the_bivariate_normal():
    """Fixed design, normal prior: (Z, theta) is bivariate normal, Z = theta sqrt(I) + e, so
    P(Z >= c, theta <= 0) = P(theta <= 0) - P(Z < c, theta <= 0)."""
    prior = LognormalHazardRatio(0.8, 0.3)
    info, c = event_information(70), stats.norm.ppf(0.975)
    m, s = prior.theta_mean, prior.theta_sd
    mvn = stats.multivariate_normal(
        mean=[m * math.sqrt(info), m],
        cov=[[1 + info * s * s, math.sqrt(info) * s * s], [math.sqrt(info) * s * s, s * s]],
        abseps=1e-11,
        releps=1e-11,
    )
    want = stats.norm.cdf(0.0, m, s) - mvn.cdf([c, 0.0])
    assert p_false_success(prior, 70, design=DESIGNS["fixed"]) == pytest.approx(want, abs=1e-8)


# --------------------------------------------------------------------- decomposition


def test_mixture_parts_are_exact_sums():
    """Mixture 0.7 x HR 0.6 + 0.3 x HR 1.0: the parts are rpact's power at each value."""
    ref = REFERENCE["assurance"]["fixed_mixture"]
    prior = MixtureHazardRatio((0.6, 1.0), (0.7, 0.3))
    pos = probability_of_success(prior, 70, design=DESIGNS["fixed"])
    power_06, power_10 = ref["power_at_values"]
    assert pos.p_effective == pytest.approx(0.7, abs=1e-15)
    assert pos.p_success_given_effective == pytest.approx(power_06, abs=TOL)
    assert pos.p_false_success == pytest.approx(0.3 * power_10, abs=TOL)
    assert pos.assurance == pytest.approx(ref["assurance"], abs=TOL)


@pytest.mark.parametrize(
    "prior",
    [LognormalHazardRatio(0.7, 0.3), MixtureHazardRatio((0.5, 0.75, 1.1), (0.3, 0.5, 0.2))],
)
def test_assurance_splits_into_effective_and_false_success(prior):
    pos = probability_of_success(prior, 90, design=DESIGNS["obf2"], no_benefit_hr=0.95)
    whole = pos.p_success_given_effective * pos.p_effective + pos.p_false_success
    assert whole == pytest.approx(pos.assurance, abs=1e-12)
    assert 0.0 < pos.p_false_success < pos.assurance < pos.p_success_given_effective


def test_power_at_the_prior_centre():
    pos = probability_of_success(LognormalHazardRatio(0.6, 0.25), 70, design=DESIGNS["fixed"])
    assert pos.central_hazard_ratio == 0.6
    assert pos.power_at_central == pytest.approx(
        REFERENCE["assurance"]["fixed_lognormal"]["power_at_median"], abs=TOL
    )


def test_no_effective_mass_gives_nan_not_a_number_made_up():
    prior = MixtureHazardRatio((1.0, 1.2), (0.5, 0.5))
    pos = probability_of_success(prior, 70, design=DESIGNS["fixed"])
    assert pos.p_effective == 0.0 and math.isnan(pos.p_success_given_effective)
    assert pos.p_false_success == pytest.approx(pos.assurance, abs=1e-15)


def test_assurance_tends_to_power_as_the_prior_narrows():
    power = float(power_curve(0.6, 70, design=DESIGNS["obf2"]))
    narrow = assurance(LognormalHazardRatio(0.6, 1e-4), 70, design=DESIGNS["obf2"])
    assert narrow == pytest.approx(power, abs=1e-6)


# ----------------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize(
    "prior", [LognormalHazardRatio(0.65, 0.3), MixtureHazardRatio((0.6, 1.0), (0.7, 0.3))]
)
def test_simulated_assurance_within_3_mc_se(prior):
    """Draw HR from the prior, then Z ~ N(-log(HR) sqrt(I), 1): the share of Z >= z_0.975."""
    rng_prior, rng_z = (np.random.default_rng(s) for s in np.random.SeedSequence(26).spawn(2))
    n = 200_000
    theta = -np.log(prior.draw(rng_prior, n))
    z = theta * math.sqrt(event_information(70)) + rng_z.standard_normal(n)
    success = z >= stats.norm.ppf(0.975)
    se = success.std() / math.sqrt(n)
    assert abs(success.mean() - assurance(prior, 70, design=DESIGNS["fixed"])) < 3 * se
    false = success & (theta <= 0.0)
    se_false = false.std() / math.sqrt(n)
    assert abs(false.mean() - p_false_success(prior, 70, design=DESIGNS["fixed"])) < 3 * se_false


# ---------------------------------------------------------------------------- priors


def test_hermite_nodes_integrate_normal_moments():
    x, w = hermite_nodes()
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert w @ x**2 == pytest.approx(1.0, abs=1e-12)
    assert w @ x**4 == pytest.approx(3.0, abs=1e-11)


def test_lognormal_prior_draws_have_its_log_mean_and_sd():
    prior = LognormalHazardRatio(0.6, 0.25)
    theta = -np.log(prior.draw(np.random.default_rng(np.random.SeedSequence(1)), 100_000))
    assert abs(theta.mean() - prior.theta_mean) < 3 * 0.25 / math.sqrt(100_000)
    assert theta.std() == pytest.approx(0.25, rel=0.01)
    assert prior.probability_below(0.6) == pytest.approx(0.5, abs=1e-15)


def test_mixture_draws_follow_its_weights_and_same_seed_same_draws():
    prior = MixtureHazardRatio((0.6, 1.0), (0.7, 0.3))
    draws = prior.draw(np.random.default_rng(np.random.SeedSequence(2)), 100_000)
    share = np.mean(draws == 0.6)
    assert set(np.unique(draws)) == {0.6, 1.0}
    assert abs(share - 0.7) < 3 * math.sqrt(0.7 * 0.3 / 100_000)
    again = prior.draw(np.random.default_rng(np.random.SeedSequence(2)), 100_000)
    assert np.array_equal(draws, again)


def test_control_median_prior_draws_and_nodes():
    prior = LognormalMedian(6.8, 0.2)
    draws = prior.draw(np.random.default_rng(np.random.SeedSequence(3)), 100_000)
    assert np.median(draws) == pytest.approx(6.8, rel=0.01)
    medians, w = prior.nodes()
    assert w @ np.log(medians) == pytest.approx(math.log(6.8), abs=1e-12)
    assert w @ medians == pytest.approx(6.8 * math.exp(0.2**2 / 2), rel=1e-12)


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "pieces"),
    [
        (
            lambda: LognormalHazardRatio(0.6, -0.25),
            ["prior.hazard_ratio.sd_log = -0.25", "must be a number > 0", "e.g. sd_log: 0.25"],
        ),
        (
            lambda: LognormalHazardRatio(0.6, 0.0),
            ["prior.hazard_ratio.sd_log = 0.0", "> 0", "effect.hazard_ratio"],
        ),
        (
            lambda: LognormalHazardRatio(-0.6, 0.25),
            ["prior.hazard_ratio.median = -0.6", "> 0", "e.g. median: 0.6"],
        ),
        (
            lambda: MixtureHazardRatio((0.6, 1.0), (0.7, 0.2)),
            ["prior.hazard_ratio.weights = [0.7, 0.2]", "must sum to 1", "0.9", "rescale"],
        ),
        (
            lambda: MixtureHazardRatio((0.6, 1.0), (0.7, 0.3 + 2e-9)),
            ["prior.hazard_ratio.weights", "within 1e-09"],
        ),
        (
            lambda: MixtureHazardRatio((0.6, -1.0), (0.7, 0.3)),
            ["prior.hazard_ratio.values = [0.6, -1.0]", "> 0", "-1.0", "e.g. [0.6, 1.0]"],
        ),
        (
            lambda: MixtureHazardRatio((0.6, 1.0), (1.2, -0.2)),
            ["prior.hazard_ratio.weights = [1.2, -0.2]", ">= 0", "-0.2"],
        ),
        (
            lambda: MixtureHazardRatio((0.6, 1.0), (1.0,)),
            ["prior.hazard_ratio.weights = [1.0]", "one weight per value", "give 2 weights"],
        ),
        (
            lambda: LognormalMedian(6.8, -1.0),
            ["prior.control_median_months.sd_log = -1.0", "> 0", "e.g. sd_log: 0.2"],
        ),
        (
            lambda: check_threshold("futility.threshold", 1.5, meaning="m", example="0.1"),
            ["futility.threshold = 1.5", "strictly between 0 and 1", "e.g. 0.1"],
        ),
        (
            lambda: check_threshold("futility.threshold", 0.0, meaning="m", example="0.1"),
            ["futility.threshold = 0.0", "strictly between 0 and 1"],
        ),
        (
            lambda: probability_of_success(
                LognormalHazardRatio(0.6, 0.2), 70, design=DESIGNS["fixed"], no_benefit_hr=0
            ),
            ["prior.no_benefit_hr = 0", "> 0", "e.g. no_benefit_hr: 1.0"],
        ),
        (lambda: event_information(70, 1.5), ["allocation = 1.5", "between 0 and 1", "e.g. 0.5"]),
        (lambda: event_information(-3), ["events = -3", "> 0", "e.g. 70"]),
        (lambda: fixed_design(1.0), ["alpha = 1.0", "strictly between 0 and 1", "e.g. 0.025"]),
        (lambda: fixed_design(0.025, 3), ["sides = 3", "must be 1 or 2", "e.g. 1"]),
    ],
)
def test_bad_input_names_field_value_rule_and_fix(make, pieces):
    with pytest.raises(ValueError) as caught:
        make()
    assert isinstance(caught.value, ScenarioError)
    for piece in pieces:
        assert piece in str(caught.value)


# ---------------------------------------------------------------------- documentation


def test_documentation_example_prints_what_the_page_shows():
    """docs/probability-of-success.md: its python block prints exactly its text block."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "probability-of-success.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", page, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "probability-of-success.md", "exec"), {})
    assert printed.getvalue() == shown
