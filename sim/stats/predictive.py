"""At an interim look: how likely is the trial to succeed, given what has been seen?

The B-value (Lan and Wittes 1988, Biometrics 44:579-585; Jennison and Turnbull 2000, Group
Sequential Methods, ch. 10) turns the interim z into a Brownian motion: with information
fraction t = I_t / I_max (events seen / final events) and z > 0 favouring the experimental
arm,

    B(t) = Z_t sqrt(t),   B(1) - B(t) ~ Normal(theta sqrt(I_max) (1 - t), 1 - t)

independently of B(t), where theta = -log(HR) and I_max = D p (1 - p) is the final
information (D final events, p the experimental arm's share). The final analysis succeeds
when B(1) = Z_1 >= c, the final critical value (z_{1-alpha} for a single test; the last
efficacy bound of a group-sequential design). Every quantity below is a closed form in
(Z_t, t, I_max, c) and takes numpy arrays of z:

* conditional power at a hazard ratio (theta fixed):
  CP(theta) = Phi( (Z_t sqrt(t) + theta sqrt(I_max) (1 - t) - c) / sqrt(1 - t) );
  under the design effect theta is the design's; under the current trend it is the
  estimate theta_hat = Z_t / sqrt(t I_max), which gives Phi( (Z_t / sqrt(t) - c) / sqrt(1 - t) ).
* posterior of theta (Spiegelhalter, Freedman and Blackburn 1986, Control Clin Trials
  7:8-17): the interim estimate theta_hat ~ Normal(theta, 1 / I_t), I_t = t I_max; a normal
  prior N(m, s^2) gives the posterior N(m_1, s_1^2) with precision 1/s_1^2 = 1/s^2 + I_t and
  mean m_1 = s_1^2 (m / s^2 + Z_t sqrt(I_t)); a flat prior gives N(theta_hat, 1 / I_t).
* predictive power: CP averaged over that posterior,
  PP = Phi( (Z_t sqrt(t) + m_1 sqrt(I_max) (1 - t) - c) / sqrt((1 - t) + I_max (1 - t)^2 s_1^2) );
  with a flat prior this is Phi( (Z_t - c sqrt(t)) / sqrt(1 - t) ).
* posterior probability of a hazard ratio below h: P(HR < h | data) = Phi((m_1 + log h) / s_1).
* a mixture prior (values HR_j, weights w_j): posterior weights
  w_j phi(Z_t - theta_j sqrt(I_t)) / sum_k w_k phi(Z_t - theta_k sqrt(I_t)); PP is the
  posterior-weighted sum of CP(theta_j) and P(HR < h | data) the posterior weight of the
  values below h.

* conditional power of a group-sequential design with looks left at t_k > t (bounds b_k): the
  increments W(s) = B(t + s) - B(t) are a Brownian motion with drift theta sqrt(I_max) started
  afresh, so Z_k >= b_k is W(t_k - t) / sqrt(t_k - t) >= (b_k sqrt(t_k) - B(t)) / sqrt(t_k - t):
  the crossing probability of a design at fractions (t_k - t) / (1 - t) with those bounds and
  drift theta sqrt(I_max) sqrt(1 - t), by the recursion of `sim.stats.sequential`
  (rpact's getConditionalPower for a group-sequential design). With one look left it is CP.
  Its predictive version averages it over the posterior of theta (Gauss-Hermite, or the
  mixture's posterior weights).

The `z_for_*` functions invert a threshold (a futility rule "stop if CP < 0.10") to the z
bound it implies at fraction t.

Pure functions on numbers and arrays; no scenario class.
"""

from __future__ import annotations

import math
import numbers
from typing import TypeAlias

import numpy as np
from scipy.special import ndtr, ndtri

from sim.errors import ScenarioError
from sim.stats.priors import (
    QUADRATURE_NODES,
    LognormalHazardRatio,
    MixtureHazardRatio,
    check_positive,
    check_threshold,
    hermite_nodes,
)
from sim.stats.roots import brentq
from sim.stats.sequential import Design, crossing_probabilities

# What the interim functions accept as a prior: None is the flat (improper) prior on theta.
InterimPrior: TypeAlias = LognormalHazardRatio | MixtureHazardRatio | None


def check_fraction(fraction: float) -> float:
    """`fraction` as a float; raises ScenarioError unless 0 < fraction < 1."""
    if not (isinstance(fraction, numbers.Real) and 0.0 < fraction < 1.0):
        raise ScenarioError(
            f"fraction = {fraction!r}: must be the interim's information fraction, strictly "
            "between 0 and 1 (events seen / final events; at the final analysis nothing is "
            "left to predict); e.g. 42 / 70 = 0.6"
        )
    return float(fraction)


def _inputs(fraction: float, information: float) -> tuple[float, float]:
    t = check_fraction(fraction)
    i_max = check_positive(
        "information",
        information,
        meaning="the final information D p (1 - p) of log HR",
        example="70 * 0.25 = 17.5",
    )
    return t, i_max


def b_value(z: float | np.ndarray, fraction: float) -> np.ndarray:
    """B(t) = Z_t sqrt(t) (Lan and Wittes 1988)."""
    return np.asarray(z, dtype=float) * math.sqrt(check_fraction(fraction))


def conditional_power(
    z: float | np.ndarray,
    fraction: float,
    *,
    information: float,
    hazard_ratio: float,
    critical: float,
) -> np.ndarray:
    """P(Z_1 >= critical | Z_t = z) if the hazard ratio is `hazard_ratio` from now on:
    Phi((z sqrt(t) + theta sqrt(I_max) (1 - t) - c) / sqrt(1 - t)), theta = -log(HR).

    `information` is I_max = D p (1 - p); `critical` the final z bound."""
    t, i_max = _inputs(fraction, information)
    hr = check_positive(
        "hazard_ratio", hazard_ratio, meaning="the assumed hazard ratio", example="0.6"
    )
    drift = -math.log(hr) * math.sqrt(i_max)
    return ndtr(
        (np.asarray(z, dtype=float) * math.sqrt(t) + drift * (1.0 - t) - critical)
        / math.sqrt(1.0 - t)
    )


def conditional_power_trend(
    z: float | np.ndarray, fraction: float, *, critical: float
) -> np.ndarray:
    """Conditional power under the current trend (theta = theta_hat = Z_t / sqrt(t I_max)):
    Phi((z / sqrt(t) - c) / sqrt(1 - t)); it does not depend on I_max."""
    t = check_fraction(fraction)
    return ndtr((np.asarray(z, dtype=float) / math.sqrt(t) - critical) / math.sqrt(1.0 - t))


def _looks_after(
    design: Design, t: float, with_futility: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fractions, efficacy, futility) of the looks planned after t; raises ScenarioError if
    there are none."""
    later = design.fractions > t
    if not later.any():
        raise ScenarioError(
            f"fraction = {t!r}: the design has no look after it (looks at "
            f"{[float(f) for f in design.fractions]}); give the fraction of an interim look"
        )
    t_k = design.fractions[later]
    lower = design.lower()[later] if with_futility else np.full(len(t_k), -np.inf)
    return t_k, design.efficacy[later], lower


def _rejection_after(
    b: float,
    t: float,
    drift: float,
    looks: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> float:
    """P(a later look rejects | B(t) = b) at drift theta sqrt(I_max) (module docstring)."""
    t_k, upper, lower = looks
    root = np.sqrt(t_k - t)
    up, _ = crossing_probabilities(
        (t_k - t) / (1.0 - t),
        (upper * np.sqrt(t_k) - b) / root,
        (lower * np.sqrt(t_k) - b) / root,
        drift * math.sqrt(1.0 - t),
    )
    return float(up.sum())


def conditional_power_sequential(
    z: float | np.ndarray,
    fraction: float,
    *,
    design: Design,
    information: float,
    hazard_ratio: float | None,
    with_futility: bool = False,
) -> np.ndarray:
    """P(some later look of `design` rejects | Z_t = z), at `hazard_ratio` from now on (None:
    the current trend theta_hat = z / sqrt(t I_max)). The looks left are those planned at
    fractions > t, with the design's bounds there (as rpact uses them); `with_futility`
    lets their futility bounds stop the trial (default: ignored, as non-binding).

    Raises ScenarioError if no look is planned after `fraction`."""
    t, i_max = _inputs(fraction, information)
    looks = _looks_after(design, t, with_futility)
    if hazard_ratio is not None:
        hr = check_positive(
            "hazard_ratio", hazard_ratio, meaning="the assumed hazard ratio", example="0.6"
        )
    z = np.asarray(z, dtype=float)
    out = np.empty(z.shape)
    for index, value in np.ndenumerate(z):
        theta = -math.log(hr) if hazard_ratio is not None else value / math.sqrt(t * i_max)
        out[index] = _rejection_after(value * math.sqrt(t), t, theta * math.sqrt(i_max), looks)
    return out


def predictive_power_sequential(
    z: float | np.ndarray,
    fraction: float,
    *,
    design: Design,
    information: float,
    prior: InterimPrior,
    with_futility: bool = False,
    nodes: int = QUADRATURE_NODES,
) -> np.ndarray:
    """P(some later look of `design` rejects | Z_t = z), averaging
    `conditional_power_sequential` over the posterior of theta: `nodes`-point Gauss-Hermite
    on the normal posterior (normal or flat prior), the posterior weights of a mixture.
    With one look left it is `predictive_power` at that look's bound.

    Raises ScenarioError if no look is planned after `fraction`."""
    t, i_max = _inputs(fraction, information)
    looks = _looks_after(design, t, with_futility)
    z = np.asarray(z, dtype=float)
    if isinstance(prior, MixtureHazardRatio):
        weights = posterior_weights(z, t, information=i_max, prior=prior)
        thetas = np.broadcast_to(prior.theta_values, weights.shape)
    else:
        mean, sd = posterior_normal(z, t, information=i_max, prior=prior)
        x, w = hermite_nodes(nodes)
        thetas = np.asarray(mean)[..., None] + sd * x
        weights = np.broadcast_to(w, thetas.shape)
    out = np.empty(z.shape)
    for index, value in np.ndenumerate(z):
        b = value * math.sqrt(t)
        out[index] = math.fsum(
            w_j * _rejection_after(b, t, theta_j * math.sqrt(i_max), looks)
            for theta_j, w_j in zip(thetas[index], weights[index], strict=True)
            if w_j > 0.0
        )
    return out


def posterior_normal(
    z: float | np.ndarray,
    fraction: float,
    *,
    information: float,
    prior: LognormalHazardRatio | None,
) -> tuple[np.ndarray, float]:
    """(mean, sd) of the normal posterior of theta = -log(HR) given Z_t = z: with a normal
    prior N(m, s^2), precision 1/s^2 + I_t and mean (m / s^2 + z sqrt(I_t)) / precision;
    with None (flat prior), mean z / sqrt(I_t) and sd 1 / sqrt(I_t); I_t = t I_max."""
    t, i_max = _inputs(fraction, information)
    i_t = t * i_max
    z = np.asarray(z, dtype=float)
    if prior is None:
        return z / math.sqrt(i_t), 1.0 / math.sqrt(i_t)
    precision = 1.0 / prior.theta_sd**2 + i_t
    mean = (prior.theta_mean / prior.theta_sd**2 + z * math.sqrt(i_t)) / precision
    return mean, 1.0 / math.sqrt(precision)


def posterior_weights(
    z: float | np.ndarray, fraction: float, *, information: float, prior: MixtureHazardRatio
) -> np.ndarray:
    """Posterior probabilities of a mixture's values given Z_t = z, shape z.shape + (values,):
    w_j phi(z - theta_j sqrt(I_t)), normalized (computed on the log scale)."""
    t, i_max = _inputs(fraction, information)
    z = np.asarray(z, dtype=float)[..., None]
    mean = prior.theta_values * math.sqrt(t * i_max)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(prior.weights)) - 0.5 * (z - mean) ** 2
    log_w -= log_w.max(axis=-1, keepdims=True)
    w = np.exp(log_w)
    return w / w.sum(axis=-1, keepdims=True)


def predictive_power(
    z: float | np.ndarray,
    fraction: float,
    *,
    information: float,
    prior: InterimPrior,
    critical: float,
) -> np.ndarray:
    """P(Z_1 >= critical | Z_t = z), averaging the conditional power over the posterior of
    theta (Spiegelhalter et al. 1986). Normal prior (lognormal HR) or None (flat):
    Phi((z sqrt(t) + m_1 sqrt(I_max) (1 - t) - c) / sqrt((1 - t) + I_max (1 - t)^2 s_1^2));
    mixture: sum_j posterior_j CP(theta_j). See the module docstring."""
    t, i_max = _inputs(fraction, information)
    z = np.asarray(z, dtype=float)
    if isinstance(prior, MixtureHazardRatio):
        w = posterior_weights(z, t, information=i_max, prior=prior)
        drift = prior.theta_values * math.sqrt(i_max)
        cp = ndtr((z[..., None] * math.sqrt(t) + drift * (1.0 - t) - critical) / math.sqrt(1 - t))
        return (w * cp).sum(axis=-1)
    mean, sd = posterior_normal(z, t, information=i_max, prior=prior)
    spread = math.sqrt((1.0 - t) + i_max * (1.0 - t) ** 2 * sd**2)
    return ndtr((z * math.sqrt(t) + mean * math.sqrt(i_max) * (1.0 - t) - critical) / spread)


def posterior_probability(
    z: float | np.ndarray,
    fraction: float,
    *,
    information: float,
    prior: InterimPrior,
    hazard_ratio: float,
) -> np.ndarray:
    """P(HR < hazard_ratio | Z_t = z): Phi((m_1 + log h) / s_1) for a normal or flat prior;
    for a mixture, the posterior weight of the values below h."""
    h = check_positive(
        "hazard_ratio",
        hazard_ratio,
        meaning="the hazard ratio the posterior probability is of being below",
        example="1.0 (any benefit) or 0.8",
    )
    t, i_max = _inputs(fraction, information)
    if isinstance(prior, MixtureHazardRatio):
        w = posterior_weights(z, t, information=i_max, prior=prior)
        return w[..., np.asarray(prior.values) < h].sum(axis=-1)
    mean, sd = posterior_normal(z, t, information=i_max, prior=prior)
    return ndtr((mean + math.log(h)) / sd)


def z_for_conditional_power(
    threshold: float,
    fraction: float,
    *,
    information: float,
    hazard_ratio: float,
    critical: float,
) -> float:
    """The interim z at which the conditional power at `hazard_ratio` equals `threshold`:
    (c - theta sqrt(I_max) (1 - t) + Phi^-1(q) sqrt(1 - t)) / sqrt(t). A futility rule
    "stop if CP < q" is the bound "stop if Z_t < this"."""
    q = check_threshold(
        "futility.threshold",
        threshold,
        meaning="the conditional power below which the trial stops",
        example="threshold: 0.10",
    )
    t, i_max = _inputs(fraction, information)
    hr = check_positive(
        "hazard_ratio", hazard_ratio, meaning="the assumed hazard ratio", example="0.6"
    )
    drift = -math.log(hr) * math.sqrt(i_max)
    return float((critical - drift * (1.0 - t) + ndtri(q) * math.sqrt(1.0 - t)) / math.sqrt(t))


def z_for_predictive_power(
    threshold: float,
    fraction: float,
    *,
    information: float,
    prior: InterimPrior,
    critical: float,
) -> float:
    """The interim z at which the predictive power equals `threshold` (PP increases with z):
    solved in closed form for a normal or flat prior (PP's argument is linear in z), by
    root-finding for a mixture."""
    q = check_threshold(
        "futility.threshold",
        threshold,
        meaning="the predictive power below which the trial stops",
        example="threshold: 0.10",
    )
    t, i_max = _inputs(fraction, information)
    if isinstance(prior, MixtureHazardRatio):

        def gap(x: float) -> float:
            pp = predictive_power(x, t, information=i_max, prior=prior, critical=critical)
            return float(pp) - q

        return float(brentq(gap, -40.0, 40.0, xtol=1e-13, rtol=1e-14, maxiter=200))
    # argument of Phi = (slope z + offset - c) / spread; m_1 = a + b z
    _, sd = posterior_normal(0.0, t, information=i_max, prior=prior)
    i_t = t * i_max
    b = sd**2 * math.sqrt(i_t)
    a = 0.0 if prior is None else sd**2 * prior.theta_mean / prior.theta_sd**2
    spread = math.sqrt((1.0 - t) + i_max * (1.0 - t) ** 2 * sd**2)
    slope = math.sqrt(t) + b * math.sqrt(i_max) * (1.0 - t)
    offset = a * math.sqrt(i_max) * (1.0 - t)
    return float((ndtri(q) * spread + critical - offset) / slope)


def z_for_posterior_probability(
    probability: float,
    fraction: float,
    *,
    information: float,
    prior: InterimPrior,
    hazard_ratio: float,
) -> float:
    """The interim z above which P(HR < hazard_ratio | Z_t = z) exceeds `probability` (the
    posterior probability increases with z). Normal or flat prior, closed form:
    (m_1 + log h) / s_1 = Phi^-1(q) with m_1 = s_1^2 (m / s^2 + z sqrt(I_t)), so
    z = ((Phi^-1(q) s_1 - log h) / s_1^2 - m / s^2) / sqrt(I_t) (flat: m / s^2 = 0).
    Mixture: root-finding; +inf when no z reaches q (every value at or above h), -inf when
    every z does."""
    q = check_threshold(
        "bayesian.probability",
        probability,
        meaning="the posterior probability of HR < hr_below the rule needs",
        example="probability: 0.90",
    )
    h = check_positive(
        "bayesian.hr_below", hazard_ratio, meaning="the hazard ratio c of P(HR < c)", example="1.0"
    )
    t, i_max = _inputs(fraction, information)
    i_t = t * i_max
    if isinstance(prior, MixtureHazardRatio):

        def gap(x: float) -> float:
            p = posterior_probability(x, t, information=i_max, prior=prior, hazard_ratio=h)
            return float(p) - q

        low, high = -40.0, 40.0
        if gap(high) <= 0.0:
            return math.inf
        if gap(low) > 0.0:
            return -math.inf
        return float(brentq(gap, low, high, xtol=1e-13, rtol=1e-14, maxiter=200))
    _, sd = posterior_normal(0.0, t, information=i_max, prior=prior)
    prior_term = 0.0 if prior is None else prior.theta_mean / prior.theta_sd**2
    return float(((ndtri(q) * sd - math.log(h)) / sd**2 - prior_term) / math.sqrt(i_t))
