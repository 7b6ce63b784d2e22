"""Design priors: what the trial team believes about the effect and the control arm.

A design prior says how likely each true effect is before the trial (O'Hagan, Stevens and
Campbell 2005, Pharm Stat 4:187-201). The effect is carried on theta = -log(HR), so that
theta > 0 is benefit, as z > 0 is in `sim.stats.sequential`:

* `LognormalHazardRatio(median, sd_log)`: theta ~ Normal(-log(median), sd_log^2), i.e. the
  hazard ratio is lognormal with that median (the issue's
  ``prior.hazard_ratio: {distribution: lognormal, median: 0.6, sd_log: 0.25}``);
* `MixtureHazardRatio(values, weights)`: the hazard ratio is one of `values` with those
  probabilities (``{distribution: mixture, values: [0.6, 1.0], weights: [0.7, 0.3]}``);
* `LognormalMedian(median, sd_log)`: the control arm's median (months) is lognormal,
  log(median) ~ Normal(log(median), sd_log^2) (``prior.control_median_months``).

Each record draws from a `numpy.random.Generator` passed in (`draw(rng, n)`), and gives
quadrature nodes and weights (`nodes()`) for integrals over the prior: 40-node
Gauss-Hermite for the lognormal ones, the values and weights themselves for a mixture.

The `check_*` functions raise `sim.errors.ScenarioError` (a ValueError) with one message that
names the field, the value, the rule and a fix; the records call them with the scenario's
field names, so a bad prior reads the same here as in a scenario.

`hazard_ratio_prior` and `control_median_prior` turn a scenario's `prior:` block (already
validated by `sim.scenario.prior`) into these records.

Pure functions and frozen records; numpy only.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import ndtr

from sim.errors import ScenarioError

if TYPE_CHECKING:
    from sim.scenario import Prior

QUADRATURE_NODES = 40  # Gauss-Hermite nodes: exact for polynomials of degree 79 in theta
WEIGHT_TOLERANCE = 1e-9  # how far from 1 a mixture's weights may sum


# ----------------------------------------------------------------------------- checks


def check_positive(field: str, value: float, *, meaning: str, example: str) -> float:
    """`value` as a float; raises ScenarioError unless it is finite and > 0."""
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
        raise ScenarioError(
            f"{field} = {value!r}: must be a number > 0 ({meaning}); e.g. {example}"
        )
    return float(value)


def check_threshold(field: str, value: float, *, meaning: str, example: str) -> float:
    """`value` as a float; raises ScenarioError unless 0 < value < 1 (a probability threshold:
    0 or 1 would make the rule never or always fire)."""
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and 0.0 < value < 1.0):
        raise ScenarioError(
            f"{field} = {value!r}: must be strictly between 0 and 1 ({meaning}; 0 or 1 would "
            f"never or always fire); e.g. {example}"
        )
    return float(value)


def check_hazard_ratios(field: str, values: Sequence[float]) -> tuple[float, ...]:
    """`values` as a tuple of floats; raises ScenarioError unless non-empty, finite and > 0."""
    out = tuple(values)
    if not out:
        raise ScenarioError(f"{field} = []: must list at least one hazard ratio; e.g. [0.6, 1.0]")
    bad = [v for v in out if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0)]
    if bad:
        raise ScenarioError(
            f"{field} = {list(out)!r}: every value must be a hazard ratio > 0 ({bad[0]!r} is "
            "not); e.g. [0.6, 1.0] for 'works as planned' and 'no effect'"
        )
    return tuple(float(v) for v in out)


def check_weights(field: str, weights: Sequence[float], *, count: int) -> tuple[float, ...]:
    """`weights` as a tuple of floats; raises ScenarioError unless there are `count` of them,
    each >= 0, summing to 1 within 1e-9."""
    out = tuple(weights)
    if len(out) != count:
        raise ScenarioError(
            f"{field} = {list(out)!r}: must have one weight per value ({count} values, "
            f"{len(out)} weights); give {count} weights that sum to 1"
        )
    bad = [w for w in out if not (isinstance(w, numbers.Real) and math.isfinite(w) and w >= 0)]
    if bad:
        raise ScenarioError(
            f"{field} = {list(out)!r}: every weight must be a probability >= 0 ({bad[0]!r} is "
            "not); e.g. [0.7, 0.3]"
        )
    total = math.fsum(out)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        fix = (
            f"rescale them to {[round(w / total, 6) for w in out]!r}"
            if total > 0
            else "give at least one weight > 0"
        )
        raise ScenarioError(
            f"{field} = {list(out)!r}: weights must sum to 1 (within {WEIGHT_TOLERANCE:g}), "
            f"they sum to {total:.12g}; {fix}"
        )
    return tuple(float(w) for w in out)


# ------------------------------------------------------------------------- quadrature


def hermite_nodes(count: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes x_i and weights w_i (sum 1): for X ~ N(0, 1),
    E f(X) ~= sum_i w_i f(x_i), exact when f is a polynomial of degree < 2 count."""
    x, w = hermegauss(count)
    return x, w / math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------- priors


@dataclass(frozen=True)
class LognormalHazardRatio:
    """theta = -log(HR) ~ Normal(-log(median), sd_log^2): a lognormal hazard ratio.

    Raises ScenarioError if median <= 0 or sd_log <= 0 (a point belief is no prior: give the
    hazard ratio itself instead)."""

    median: float
    sd_log: float

    def __post_init__(self) -> None:
        check_positive(
            "prior.hazard_ratio.median",
            self.median,
            meaning="the prior's median hazard ratio",
            example="median: 0.6",
        )
        check_positive(
            "prior.hazard_ratio.sd_log",
            self.sd_log,
            meaning="the prior's sd of log HR; a point belief is effect.hazard_ratio, not a prior",
            example="sd_log: 0.25",
        )

    @property
    def theta_mean(self) -> float:
        """E[theta] = -log(median)."""
        return -math.log(self.median)

    @property
    def theta_sd(self) -> float:
        """sd of theta = sd_log."""
        return float(self.sd_log)

    @property
    def central_hazard_ratio(self) -> float:
        """exp(-E[theta]): the hazard ratio at the prior's mean of log HR (its median)."""
        return float(self.median)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` hazard ratios drawn from the prior with `rng` (n standard normals)."""
        return np.exp(-(self.theta_mean + self.theta_sd * rng.standard_normal(n)))

    def nodes(self, count: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
        """(hazard ratios, weights): Gauss-Hermite in theta, E f(HR) ~= sum w_i f(HR_i)."""
        x, w = hermite_nodes(count)
        return np.exp(-(self.theta_mean + self.theta_sd * x)), w

    def probability_below(self, hazard_ratio: float) -> float:
        """P(HR < hazard_ratio) = Phi((E[theta] + log c) / sd)."""
        return float(ndtr((self.theta_mean + math.log(hazard_ratio)) / self.theta_sd))


@dataclass(frozen=True)
class MixtureHazardRatio:
    """The hazard ratio is values[i] with probability weights[i].

    Raises ScenarioError if a value is <= 0, a weight < 0, the lengths differ, or the weights
    do not sum to 1 within 1e-9."""

    values: tuple[float, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        values = check_hazard_ratios("prior.hazard_ratio.values", self.values)
        weights = check_weights("prior.hazard_ratio.weights", self.weights, count=len(values))
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "weights", weights)

    @property
    def theta_values(self) -> np.ndarray:
        """-log of each value."""
        return -np.log(np.asarray(self.values))

    @property
    def central_hazard_ratio(self) -> float:
        """exp(-E[theta]): the hazard ratio at the prior's mean of log HR (a geometric mean)."""
        return float(np.exp(-(np.asarray(self.weights) @ self.theta_values)))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` hazard ratios drawn from the prior with `rng` (n uniforms, inverse cdf)."""
        cumulative = np.cumsum(self.weights)
        index = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
        return np.asarray(self.values)[np.minimum(index, len(self.values) - 1)]

    def nodes(self, count: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
        """(values, weights): expectations over a mixture are exact sums (`count` unused)."""
        return np.asarray(self.values), np.asarray(self.weights)

    def probability_below(self, hazard_ratio: float) -> float:
        """P(HR < hazard_ratio): the weights of the values below it."""
        return float(
            math.fsum(w for v, w in zip(self.values, self.weights, strict=True) if v < hazard_ratio)
        )


@dataclass(frozen=True)
class LognormalMedian:
    """The control arm's median (months) is lognormal: log(median) ~ Normal(log(m), sd_log^2).

    Raises ScenarioError if median <= 0 or sd_log <= 0."""

    median: float
    sd_log: float

    def __post_init__(self) -> None:
        check_positive(
            "prior.control_median_months.median",
            self.median,
            meaning="the prior's median of the control arm's median, in months",
            example="median: 6.8",
        )
        check_positive(
            "prior.control_median_months.sd_log",
            self.sd_log,
            meaning="the prior's sd of log(median); a point belief is the control median itself",
            example="sd_log: 0.2",
        )

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` control medians (months) drawn with `rng` (n standard normals)."""
        return np.exp(math.log(self.median) + self.sd_log * rng.standard_normal(n))

    def nodes(self, count: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
        """(medians, weights): Gauss-Hermite in log(median)."""
        x, w = hermite_nodes(count)
        return np.exp(math.log(self.median) + self.sd_log * x), w


HazardRatioPrior: TypeAlias = LognormalHazardRatio | MixtureHazardRatio


# ------------------------------------------------------------------- from a scenario


def hazard_ratio_prior(prior: Prior) -> HazardRatioPrior | None:
    """A scenario's `prior` block's prior on the hazard ratio as a record (None: none)."""
    spec = prior.hazard_ratio
    if spec is None:
        return None
    if spec.distribution == "lognormal":
        assert spec.median is not None and spec.sd_log is not None  # sim.scenario.prior
        return LognormalHazardRatio(spec.median, spec.sd_log)
    return MixtureHazardRatio(spec.values, spec.weights)


def control_median_prior(prior: Prior) -> LognormalMedian | None:
    """A scenario's `prior` block's prior on the control median as a record (None: none)."""
    spec = prior.control_median_months
    return None if spec is None else LognormalMedian(spec.median, spec.sd_log)
