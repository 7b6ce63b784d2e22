"""Accrual models fitted to a trial's own randomization dates (the enrollment models of
eventPred, Lu 2023; Zhang and Long 2010, Stat Med 29:649-658), beside the plan-shaped one.

Each is a non-homogeneous Poisson process (NHPP) of randomizations on t = days since the
accrual's origin (the first day a patient can be randomized), observed on [0, T] (T: the
as-of day) with randomizations at t_1 .. t_n. Its log-likelihood is

    l = sum_i log lambda(t_i) - Lambda(T),    Lambda(t) = integral_0^t lambda(u) du.

- ``plan_shape``: lambda(t) = a r(t), r the plan's expected randomizations per day (every
  site's ramp-up and activation, also those still to come), one scale a: a_hat = n / R(T),
  R the integral of r. (``plan``, the forecast's default, is not fitted here: it keeps the
  plan's site-by-site Poisson-gamma model with its prior, `sim.engine.continuation`.)
- ``poisson``: lambda(t) = lambda: lambda_hat = n / T, l = n log(n / T) - n.
- ``time_decay``: lambda(t) = (mu / delta)(1 - exp(-delta t)), a rate that rises to
  beta = mu / delta (the ramp-up, fitted): Lambda(t) = beta (t - (1 - exp(-delta t)) / delta).
  Parametrised by (beta, delta); for a fixed delta, beta_hat(delta) = n / A(delta), A(delta)
  = T - (1 - exp(-delta T)) / delta, and the profile likelihood is maximised over log delta
  within LOG_DELTA_BOUNDS (ramp half-times of a day to two years).
- ``piecewise``: a constant rate on each interval between knots (days),
  lambda_j_hat = n_j / T_j; the forecast continues at the last interval's rate.

The criterion is AIC = -2 l + 2 p (eventPred reports AIC and BIC; the fits' table gives both):
``auto`` takes the model with the smallest AIC among those that can be fitted; with no
randomization yet, none can, and the plan stands.

Parameter uncertainty, one draw per replicate: the Poisson and piecewise rates and the plan
shape's scale from their posteriors under Jeffreys' prior, lambda_j ~ Gamma(n_j + 1/2, T_j)
(a ~ Gamma(n + 1/2, R(T))) (mean close to the MLE,
log-scale variance about 1 / n_j, the sampling variance eventPred draws from); time-decay's
from their posterior under a uniform prior on log delta within LOG_DELTA_BOUNDS and the
same beta^(-1/2) on beta: given delta the likelihood is a gamma kernel in beta, so
beta | delta ~ Gamma(n + 1/2, A(delta)) and log delta has the marginal density
prod_i (1 - exp(-delta t_i)) A(delta)^-(n + 1/2), drawn on a grid of DELTA_GRID points.
(eventPred draws (log mu, log delta) from the normal with the inverse observed information;
with few randomizations the two are nearly confounded, and that normal puts mass on rates the
data exclude: a full speed of one patient a decade, or thousands a month.)

The plan as prior (`AccrualPrior`, time-decay only): a power prior (Ibrahim and Chen 2000,
Stat Sci 15:46-60) whose "historical data" are the plan's expected randomizations over its
planned accrual, r_k on day k of [0, T_p] (summing to N, the sample size), with the
likelihood raised to a0 = w / N, so that the plan is worth w patients:

    log prior(beta, delta) = a0 [sum_k r_k log lambda(k + 1/2) - Lambda(T_p)]
                           = w log beta + a0 sum_k r_k log(1 - exp(-delta (k + 1/2)))
                             - a0 beta A_p(delta),
    A_p(delta) = T_p - (1 - exp(-delta T_p)) / delta.

It keeps beta conjugate: beta | delta ~ Gamma(n + w + 1/2, A(delta) + a0 A_p(delta)), and
log delta's marginal gains the prior's ramp term, a0 sum_k r_k log(1 - exp(-delta (k + 1/2))),
with the exponent n + w + 1/2 on the summed exposure. With w = 0 it is the prior above. The
fit (`params`, `loglik`, AIC) stays the data's alone; the draws are the posterior's.
(eventPred combines a design-stage prior with the fitted parameters by their normal
approximations; the power prior keeps the exact posterior.)

Pure functions on arrays of days; no scenario class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

FITTED_MODELS = ("plan_shape", "poisson", "time_decay", "piecewise")
ACCRUAL_CHOICES = ("plan", *FITTED_MODELS, "auto")
# Fewer randomizations than this leave the trial's own accrual unfitted: the plan stands.
MIN_RANDOMIZED = {"plan_shape": 1, "poisson": 1, "piecewise": 2, "time_decay": 3}
# per day: the ramp's half-time (log 2 / delta) between two years and a day
LOG_DELTA_BOUNDS = (float(np.log(np.log(2) / 730)), float(np.log(np.log(2))))
DELTA_GRID = 400
JEFFREYS = 0.5


@dataclass(frozen=True)
class AccrualPrior:
    """The plan as a power prior on the time-decay model (module docstring): `expected[k]`
    the plan's expected randomizations on day k of its planned accrual (from the origin to
    the day it expects the last patient), worth `weight` patients in all; `months` the same
    weight in months of the plan's full speed (`full_per_month` randomized a month)."""

    weight: float  # patients
    expected: tuple[float, ...]
    months: float
    full_per_month: float

    @property
    def power(self) -> float:
        """a0 = w / N, N the plan's expected randomizations (the sample size)."""
        return self.weight / float(np.sum(self.expected))

    @property
    def window(self) -> float:
        """T_p, days of the planned accrual."""
        return float(len(self.expected))

    def describe(self) -> str:
        return (
            f"the plan's ramp-up and full speed ({self.full_per_month:.1f} randomized/month), "
            f"worth {self.weight:.1f} patients ({self.months:.2g} months at full speed)"
        )


def plan_accrual_prior(
    plan_daily_rate: np.ndarray, sample_size: int, weight: float, full_per_month: float
) -> AccrualPrior:
    """The plan's expected randomizations per day from the origin until they sum to the
    sample size (the whole calendar when they never do), as a prior worth `weight`
    patients."""
    cumulative = np.cumsum(plan_daily_rate)
    end = int(np.searchsorted(cumulative, sample_size)) + 1
    expected = np.asarray(plan_daily_rate[: min(end, len(plan_daily_rate))], dtype=float)
    return AccrualPrior(
        float(weight),
        tuple(map(float, expected)),
        float(weight / full_per_month) if full_per_month > 0 else float("nan"),
        float(full_per_month),
    )


@dataclass(frozen=True)
class AccrualFit:
    """One model's maximum-likelihood fit (module docstring); `params` are rates per day
    (poisson: lambda; piecewise: one per interval; time_decay: beta, delta; plan_shape: the
    scale a); `times` the randomization days (time_decay draws from its posterior given
    them); `plan_rate` the plan's expected randomizations on each day from the origin on
    (plan_shape: its shape, to the end of the study calendar)."""

    model: str
    params: tuple[float, ...]
    loglik: float
    n: int  # randomizations fitted
    window: float  # T, days observed
    knots: tuple[float, ...] = ()  # piecewise: interval starts (days), the first 0
    # randomizations and exposure per rate (piecewise: days per interval; poisson: T;
    # plan_shape: R(T), the plan's expected count): the rates' gamma posteriors
    counts: tuple[int, ...] = ()
    widths: tuple[float, ...] = ()
    times: tuple[float, ...] = ()
    plan_rate: tuple[float, ...] = ()
    prior: AccrualPrior | None = None  # time_decay: the plan as prior (None: flat)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_params * np.log(max(self.n, 1))

    @property
    def rate_now(self) -> float:
        """The fitted rate (per day) at the end of the window: what the forecast starts at."""
        if self.model == "time_decay":
            beta, delta = self.params
            return float(beta * -np.expm1(-delta * self.window))
        return float(self.params[-1])

    def describe(self) -> str:
        """The fit in words, rates per month (30.4375 days)."""
        month = 30.4375
        if self.model == "poisson":
            return f"homogeneous Poisson, {self.params[0] * month:.2f} randomized/month"
        if self.model == "piecewise":
            starts = ", ".join(f"{k / month:.1f}" for k in self.knots)
            rates = ", ".join(f"{r * month:.2f}" for r in self.params)
            return f"piecewise Poisson, intervals from month {starts} of accrual: {rates}/month"
        if self.model == "time_decay":
            beta, delta = self.params
            return (
                f"time-decay, {self.rate_now * month:.2f}/month now, rising to "
                f"{beta * month:.2f}/month (half of it after {np.log(2) / delta:.0f} days)"
            )
        return f"the plan's shape (ramp-up, sites to open) x {self.params[0]:.2f}"

    def draw(self, n_reps: int, rng: np.random.Generator) -> np.ndarray:
        """(n_reps, p) parameter draws (module docstring: their distributions)."""
        if self.model in ("poisson", "piecewise", "plan_shape"):
            shape = np.asarray(self.counts, dtype=float) + JEFFREYS
            return rng.gamma(shape, 1.0 / np.asarray(self.widths), (n_reps, len(shape)))
        if self.model == "time_decay":
            grid, density = time_decay_delta_posterior(
                np.asarray(self.times), self.window, self.prior
            )
            step = grid[1] - grid[0]
            cell = rng.choice(len(grid), size=n_reps, p=density / density.sum())
            delta = np.exp(grid[cell] + step * (rng.random(n_reps) - 0.5))
            shape, area = time_decay_beta_posterior(self.n, self.window, delta, self.prior)
            beta = rng.gamma(shape, 1.0 / area)
            return np.column_stack([beta, delta])
        raise ValueError(f"the {self.model} fit has no draws")

    def cumulative(self, t: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Lambda(t) for days t (R, M) and parameter draws (R, p); t >= 0."""
        t = np.maximum(t, 0.0)
        if self.model == "poisson":
            return params[:, :1] * t
        if self.model == "time_decay":
            return time_decay_cumulative(t, params[:, :1], params[:, 1:2])
        if self.model == "piecewise":
            knots = np.asarray(self.knots)
            width = np.append(np.diff(knots), np.inf)
            inside = np.clip(t[..., None] - knots, 0.0, width)  # (R, M, J)
            return (inside * params[:, None, :]).sum(axis=-1)
        if self.model == "plan_shape":
            rate = np.asarray(self.plan_rate)
            cum = np.concatenate([[0.0], np.cumsum(rate)])
            days = np.arange(len(cum), dtype=float)
            inside = np.interp(t, days, cum)
            beyond = cum[-1] + rate[-1] * (t - days[-1])  # the last day's rate goes on
            return params[:, :1] * np.where(t <= days[-1], inside, beyond)
        raise ValueError(f"the {self.model} fit has no cumulative intensity")


def time_decay_cumulative(t: np.ndarray, beta: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """beta (t - (1 - exp(-delta t)) / delta), computed without cancellation."""
    x = delta * t
    # t - (1 - e^-x) / delta = (x + expm1(-x)) / delta; for small x it is x^2 / 2 / delta
    small = x < 1e-4
    core = np.where(small, x * x / 2 - x**3 / 6, x + np.expm1(-x))
    return beta / delta * core


def invert_cumulative(
    fit: AccrualFit, levels: np.ndarray, params: np.ndarray, lower: np.ndarray
) -> np.ndarray:
    """Days t >= lower (R, 1) with Lambda(t) = levels (R, M): bisection, as every model's
    Lambda is continuous and increasing (inf where a rate is zero beyond the data)."""
    lo = np.broadcast_to(lower, levels.shape).astype(float).copy()
    hi = lo + 1.0
    for _ in range(60):  # double until Lambda(hi) >= level (or give up: never)
        short = fit.cumulative(hi, params) < levels
        if not short.any():
            break
        hi = np.where(short, lo + 2.0 * (hi - lo), hi)
    reached = fit.cumulative(hi, params) >= levels
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        below = fit.cumulative(mid, params) < levels
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.where(reached, hi, np.inf)


def fit_poisson(times: np.ndarray, window: float) -> AccrualFit:
    n = len(times)
    rate = n / window
    loglik = n * np.log(rate) - n
    return AccrualFit("poisson", (rate,), loglik, n, window, counts=(n,), widths=(window,))


def fit_piecewise(times: np.ndarray, window: float, knots: tuple[float, ...]) -> AccrualFit:
    """`knots`: interval starts in days (0 first is added; knots at or after the window are
    dropped, as eventPred truncates them at the data cut)."""
    starts = np.unique(np.concatenate([[0.0], [k for k in knots if 0 < k < window]]))
    edges = np.append(starts, window)
    counts = np.histogram(np.clip(times, 0, window), bins=edges)[0]
    widths = np.diff(edges)
    rates = counts / widths
    logs = np.log(rates, out=np.zeros_like(rates), where=counts > 0)  # 0 log 0 = 0
    loglik = float(np.sum(counts * logs) - counts.sum())
    return AccrualFit(
        "piecewise",
        tuple(float(r) for r in rates),
        loglik,
        len(times),
        window,
        tuple(float(s) for s in starts),
        tuple(int(c) for c in counts),
        tuple(float(w) for w in widths),
    )


def time_decay_loglik(times: np.ndarray, window: float, beta: float, delta: float) -> float:
    rate = beta * -np.expm1(-delta * np.maximum(times, 1e-9))
    cum = time_decay_cumulative(np.asarray(window), np.asarray(beta), np.asarray(delta))
    return float(np.log(rate).sum() - cum)


def fit_time_decay(
    times: np.ndarray, window: float, prior: AccrualPrior | None = None
) -> AccrualFit:
    """MLE by the profile likelihood over log delta (module docstring); `prior` is kept for
    the draws and does not move the fit."""
    n = len(times)

    def beta_of(delta: float) -> float:
        return n / float(time_decay_cumulative(np.asarray(window), 1.0, np.asarray(delta)))

    def minus_profile(log_delta: float) -> float:
        delta = np.exp(log_delta)
        return -time_decay_loglik(times, window, beta_of(delta), delta)

    best = minimize_scalar(
        minus_profile, bounds=LOG_DELTA_BOUNDS, method="bounded", options={"xatol": 1e-8}
    )
    delta = float(np.exp(best.x))
    beta = beta_of(delta)
    return AccrualFit(
        "time_decay",
        (beta, delta),
        time_decay_loglik(times, window, beta, delta),
        n,
        window,
        times=tuple(float(t) for t in times),
        prior=prior,
    )


def time_decay_beta_posterior(
    n: int, window: float, delta: np.ndarray, prior: AccrualPrior | None
) -> tuple[float, np.ndarray]:
    """(shape, rate) of beta's gamma posterior given delta: n + w + 1/2 and
    A(delta) + a0 A_p(delta) (module docstring; w = 0 without a prior)."""
    area = time_decay_cumulative(np.asarray(window), 1.0, delta)
    if prior is None:
        return n + JEFFREYS, area
    planned = time_decay_cumulative(np.asarray(prior.window), 1.0, delta)
    return n + prior.weight + JEFFREYS, area + prior.power * planned


def time_decay_delta_posterior(
    times: np.ndarray, window: float, prior: AccrualPrior | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(grid of log delta, its marginal posterior density up to a constant): module
    docstring."""
    grid = np.linspace(*LOG_DELTA_BOUNDS, DELTA_GRID)
    delta = np.exp(grid)[:, None]
    ramp = np.log(-np.expm1(-delta * np.maximum(times, 1e-9)[None, :])).sum(axis=1)
    if prior is not None:
        days = np.arange(len(prior.expected)) + 0.5
        ramp = ramp + prior.power * (
            np.log(-np.expm1(-delta * days[None, :])) @ np.asarray(prior.expected)
        )
    shape, area = time_decay_beta_posterior(len(times), window, delta[:, 0], prior)
    log_density = ramp - shape * np.log(area)
    return grid, np.exp(log_density - log_density.max())


def fit_plan_shape(times: np.ndarray, window: float, daily_rate: np.ndarray) -> AccrualFit:
    """The plan's shape with one scale: `daily_rate[k]` the plan's expected randomizations
    on day k of the accrual (k = 0, 1, ..., at least to the window; the forecast goes on
    with the rest), the rate constant within a day."""
    days = np.clip(np.floor(times).astype(int), 0, len(daily_rate) - 1)
    total = float(daily_rate[: int(np.ceil(window))].sum())
    n = len(times)
    scale = n / total if total > 0 else 0.0
    with np.errstate(divide="ignore"):
        loglik = float(np.log(scale * daily_rate[days]).sum() - scale * total)
    return AccrualFit(
        "plan_shape",
        (scale,),
        loglik,
        n,
        window,
        counts=(n,),
        widths=(total,),
        plan_rate=tuple(map(float, daily_rate)),
    )


@dataclass(frozen=True)
class AccrualChoice:
    """The accrual model the forecast uses (`chosen`; None: the plan's site-by-site model),
    every fit beside it, and why it was chosen."""

    chosen: AccrualFit | None
    fits: tuple[AccrualFit, ...]
    requested: str  # a model's name or "auto"
    reason: str

    @property
    def model(self) -> str:
        return "plan" if self.chosen is None else self.chosen.model


def fit_accrual(
    times: np.ndarray,
    window: float,
    plan_daily_rate: np.ndarray,
    *,
    requested: str = "auto",
    knots: tuple[float, ...] | None = None,
    prior: AccrualPrior | None = None,
) -> AccrualChoice:
    """Fit every model the data allow (MIN_RANDOMIZED) and choose `requested`, or for
    "auto" the smallest AIC. `plan_daily_rate`: the plan's expected randomizations per day
    from the origin to the end of the calendar. `knots` (days; piecewise) None: one knot
    halfway through the window, so that the forecast continues at the recent half's rate.
    `prior`: the plan as prior on time-decay's parameters (None: flat). "plan", or a model
    the data cannot fit, leaves the plan's site-by-site model (chosen None), and the reason
    says why."""
    times = np.sort(np.asarray(times, dtype=float))
    n = len(times)
    fits = []
    if window > 0:
        makers = {
            "plan_shape": lambda: fit_plan_shape(times, window, plan_daily_rate),
            "poisson": lambda: fit_poisson(times, window),
            "piecewise": lambda: fit_piecewise(
                times, window, (window / 2,) if knots is None else knots
            ),
            "time_decay": lambda: fit_time_decay(times, window, prior),
        }
        fits = [make() for name, make in makers.items() if n >= MIN_RANDOMIZED[name]]
    fits = [f for f in fits if np.isfinite(f.aic)]
    by_name = {f.model: f for f in fits}
    if requested == "plan":
        return AccrualChoice(None, tuple(fits), requested, "requested")
    if requested == "auto":
        if not fits:
            reason = "no randomization yet to fit the trial's own accrual: the plan"
            return AccrualChoice(None, (), requested, reason)
        listing = ", ".join(f"{f.model} {f.aic:.1f}" for f in fits)
        reason = f"smallest AIC among the models fitted to the data ({listing})"
        return AccrualChoice(min(fits, key=lambda f: f.aic), tuple(fits), requested, reason)
    if requested in by_name:
        return AccrualChoice(by_name[requested], tuple(fits), requested, "requested")
    return AccrualChoice(
        None,
        tuple(fits),
        requested,
        f"{requested} requested, but {n} randomizations are too few to fit it (at least "
        f"{MIN_RANDOMIZED[requested]}): the plan",
    )


def fits_table(choice: AccrualChoice) -> list[dict]:
    """accrual.csv's rows: every fitted model, its fit in words, log-likelihood, AIC, BIC,
    and whether the forecast uses it (and why)."""
    return [
        {
            "accrual_model": fit.model,
            "fit": fit.describe(),
            "parameters": fit.n_params,
            "randomized": fit.n,
            "days_observed": fit.window,
            "loglik": fit.loglik,
            "aic": fit.aic,
            "bic": fit.bic,
            "chosen": fit.model == choice.model,
            "why": choice.reason if fit.model == choice.model else "",
        }
        for fit in choice.fits
    ]


def check_accrual_model(name: str, knots: tuple[float, ...] | None) -> None:
    """Raises ScenarioError unless `name` is one of ACCRUAL_CHOICES and the knots (months
    since the start date) are positive and increasing, given to a model that uses them
    (piecewise, and auto, which fits it)."""
    from sim.errors import ScenarioError

    if name not in ACCRUAL_CHOICES:
        raise ScenarioError(
            f"--accrual-model {name!r}: must be one of {', '.join(ACCRUAL_CHOICES)} (the "
            "accrual model of the forecast); e.g. --accrual-model auto"
        )
    if knots is not None and (
        any(not k > 0 for k in knots)
        or any(b <= a for a, b in zip(knots[:-1], knots[1:], strict=True))
    ):
        raise ScenarioError(
            f"--accrual-knots {' '.join(f'{k:g}' for k in knots)}: must be positive and "
            "increasing (months since the start date where the piecewise Poisson rate may "
            "change); e.g. --accrual-knots 3 6"
        )
    if knots is not None and name not in ("piecewise", "auto"):
        raise ScenarioError(
            f"--accrual-knots {' '.join(f'{k:g}' for k in knots)}: only the piecewise model "
            f"uses knots (and auto, which fits it), not {name}; add --accrual-model piecewise, "
            "or leave the knots out"
        )
