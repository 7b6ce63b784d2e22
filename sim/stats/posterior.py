"""Conjugate posteriors of the trial's rates from its own data (the forecast's fit).

Every rate is a gamma posterior of a Poisson count over an exposure (Gelman et al., BDA3
section 2.6): prior Gamma(a, b) (shape a, rate b), data d events over exposure X, posterior
Gamma(a + d, b + X). The prior is the scenario's value v with a stated weight w in units of
data: a = w v, b = w, so it is worth w units of exposure at the planned rate (e.g. 3 months
of a site's accrual, or the exposure in which the planned hazard gives k events: a = k,
b = k / v). A share (deaths among PFS events) is a beta posterior the same way.

- Enrollment (Anisimov & Fedorov 2007, the Poisson-gamma model): each site's randomization
  rate is theta_s times its planned rate table; theta_s ~ Gamma(a, a) with a the randomizations
  the plan expects at full speed in `prior_months` (or a = the scenario's site_heterogeneity,
  its own statement of how much sites differ); the exposure is the randomizations the
  plan expects from the site's activation to the as-of date (screening delay included), so
  the posterior mean of theta_s is (a + n_s) / (a + E_s). Sites not yet active keep the prior.
- Events and dropout: the PFS hazard of each piece of the control arm's table, per arm
  (unblinded) or pooled (blinded), and one dropout hazard, from exposure and events on the
  time-since-randomization axis; a progression seen at a scan is put at the midpoint of the
  interval since the previous scan (it happened somewhere in it), a death at its date.

Pure functions on arrays; `sim.engine.continuation` draws from the posteriors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special


@dataclass(frozen=True)
class GammaFit:
    """Prior and posterior of one rate: Gamma(shape, rate); `observed` = events, exposure."""

    name: str
    unit: str  # of the rate, e.g. "per month", "per day"
    prior_shape: float
    prior_rate: float
    events: float
    exposure: float
    # multiplies the rate to give the quantity shown (theta of a site: its planned full rate)
    scale: float = 1.0

    @property
    def shape(self) -> float:
        return self.prior_shape + self.events

    @property
    def rate(self) -> float:
        return self.prior_rate + self.exposure

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.gamma(self.shape, 1.0 / self.rate, size)

    def row(self) -> dict:
        def quantile(shape: float, rate: float, q: float) -> float:
            return float(special.gammaincinv(shape, q) / rate) * self.scale

        return {
            "parameter": self.name,
            "unit": self.unit,
            "prior_mean": self.prior_shape / self.prior_rate * self.scale,
            "prior_q05": quantile(self.prior_shape, self.prior_rate, 0.05),
            "prior_q95": quantile(self.prior_shape, self.prior_rate, 0.95),
            "prior_shape": self.prior_shape,
            "prior_rate": self.prior_rate,
            "observed_events": self.events,
            "observed_exposure": self.exposure,
            "observed_rate": (
                self.events / self.exposure * self.scale if self.exposure > 0 else np.nan
            ),
            "posterior_mean": self.shape / self.rate * self.scale,
            "posterior_q05": quantile(self.shape, self.rate, 0.05),
            "posterior_q95": quantile(self.shape, self.rate, 0.95),
            "posterior_shape": self.shape,
            "posterior_rate": self.rate,
        }


@dataclass(frozen=True)
class BetaFit:
    """Prior Beta(a, b) and posterior Beta(a + hits, b + misses) of a share."""

    name: str
    prior_a: float
    prior_b: float
    hits: float
    misses: float

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.beta(self.prior_a + self.hits, self.prior_b + self.misses, size)

    def row(self) -> dict:
        a, b = self.prior_a + self.hits, self.prior_b + self.misses
        n = self.hits + self.misses
        return {
            "parameter": self.name,
            "unit": "share",
            "prior_mean": self.prior_a / (self.prior_a + self.prior_b),
            "prior_q05": float(special.betaincinv(self.prior_a, self.prior_b, 0.05)),
            "prior_q95": float(special.betaincinv(self.prior_a, self.prior_b, 0.95)),
            "prior_shape": self.prior_a,
            "prior_rate": self.prior_b,
            "observed_events": self.hits,
            "observed_exposure": n,
            "observed_rate": self.hits / n if n else np.nan,
            "posterior_mean": a / (a + b),
            "posterior_q05": float(special.betaincinv(a, b, 0.05)),
            "posterior_q95": float(special.betaincinv(a, b, 0.95)),
            "posterior_shape": a,
            "posterior_rate": b,
        }


def site_rate_fit(
    name: str, full_rate: float, expected: float, randomized: int, prior_shape: float
) -> GammaFit:
    """Posterior of theta_s (the site's rate / its planned rate): prior Gamma(a, a) with
    a = `prior_shape` (e.g. prior_months x full_rate); data: `randomized` over `expected`
    (the plan's expected randomizations to the as-of date). Shown as randomized per month at
    full speed."""
    a = max(prior_shape, 1e-9)
    return GammaFit(
        f"site rate: {name}",
        "randomized per month at full speed",
        a,
        a,
        float(randomized),
        float(expected),
        scale=full_rate,
    )


def hazard_fit(
    name: str,
    planned: float,
    events: float,
    exposure: float,
    prior_events: float,
    unit: str = "per month",
) -> GammaFit:
    """Posterior of a hazard `planned` (per unit time) with a prior worth `prior_events`
    events: Gamma(k, k / planned), plus `events` over `exposure`."""
    k = max(prior_events, 1e-9)
    return GammaFit(name, unit, k, k / planned, float(events), float(exposure))


def exposure_by_piece(entry: np.ndarray, exit_: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Time at risk of each patient in each piece [starts[j], starts[j+1]), summed: (P,).

    `entry` and `exit_` are times since randomization (entry 0 for everyone here)."""
    ends = np.append(starts[1:], np.inf)
    lo = np.maximum(entry[:, None], starts[None, :])
    hi = np.minimum(exit_[:, None], ends[None, :])
    return np.clip(hi - lo, 0.0, None).sum(axis=0)


def events_by_piece(time: np.ndarray, event: np.ndarray, starts: np.ndarray) -> np.ndarray:
    piece = np.searchsorted(starts, time, side="right") - 1
    return np.bincount(piece[event], minlength=len(starts)).astype(float)


def table(fits: list) -> pd.DataFrame:
    """fit.csv: one row per rate."""
    return pd.DataFrame([f.row() for f in fits])
