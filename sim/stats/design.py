"""Closed-form design figures for a two-arm time-to-event trial.

Events for a target power (Schoenfeld, Freedman), the expected accrual curve, expected
events over calendar time (Lachin & Foulkes model: deterministic accrual intensity,
piecewise-exponential survival, exponential dropout), the time at which a target number of
events is expected, and the Lachin-Foulkes sample size.

Pure functions on plain numbers and small tables; no scenario class. Time unit: months
(1 month = 30.4375 days). Conventions:

* ``allocation`` is p, the share of patients in the experimental arm; r = p / (1 - p) is
  the allocation ratio n_E / n_C (rpact's ``allocationRatioPlanned``).
* ``hazard_ratio`` is lambda_E / lambda_C (experimental over control): HR < 1 is benefit.
* An accrual table is a sequence of ``(duration_months, rate_per_month)`` periods starting
  at study start; the last duration may be ``None`` (open-ended).
* A hazard table is either one hazard per month (exponential) or a sequence of
  ``(duration_months, hazard_per_month)`` pieces from randomization; the last piece runs on
  for ever whatever its duration (``None`` says so explicitly), as in rpact.
* A dropout hazard is one hazard per month for both arms or ``(control, experimental)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri  # normal cdf and quantile, without scipy.stats

from sim.stats.roots import brentq  # scipy.optimize.brentq, without importing scipy.optimize

DAYS_PER_MONTH = 30.4375  # 365.25 / 12

AccrualTable: TypeAlias = Sequence[tuple[float | None, float]]
HazardSpec: TypeAlias = float | Sequence[tuple[float | None, float]]
DropoutSpec: TypeAlias = float | tuple[float, float]
ArrayLike: TypeAlias = float | Sequence[float] | np.ndarray

# Below this |x| the closed forms (1 - e^-x)/x and (x - 1 + e^-x)/x^2 lose digits to
# cancellation; their Taylor series are exact to double precision there.
_SERIES_CUTOFF = 1e-3


# --------------------------------------------------------------------------- conversions


def hazard_from_median(median_months: float) -> float:
    """Exponential hazard per month with the given median: lambda = log(2) / median."""
    if not median_months > 0:
        raise ValueError(f"median_months must be > 0, got {median_months}")
    return math.log(2.0) / median_months


def dropout_hazard_from_rate(rate: float, time_months: float) -> float:
    """Exponential hazard giving a cumulative probability `rate` by `time_months`.

    eta = -log(1 - rate) / time, the convention of rpact's ``dropoutRate``/``dropoutTime``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    if not time_months > 0:
        raise ValueError(f"time_months must be > 0, got {time_months}")
    return -math.log1p(-rate) / time_months


# ------------------------------------------------------------------ events for a power


def check_test_inputs(hazard_ratio: float, alpha: float, sides: int, allocation: float) -> None:
    """Raise ValueError unless HR > 0 and != 1, 0 < alpha < 1, sides in {1, 2}, 0 < p < 1."""
    if not hazard_ratio > 0 or hazard_ratio == 1.0:
        raise ValueError(f"hazard_ratio must be > 0 and != 1, got {hazard_ratio}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides}")
    if not 0.0 < allocation < 1.0:
        raise ValueError(f"allocation must be in (0, 1), got {allocation}")


def z_alpha(alpha: float, sides: int) -> float:
    """Critical value z_{1 - alpha/sides} of the standard normal."""
    return float(ndtri(1.0 - alpha / sides))


def z_power(power: float) -> float:
    """z_{power}: the standard normal quantile at the target power."""
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    return float(ndtri(power))


def schoenfeld_events(
    hazard_ratio: float, alpha: float, power: float, sides: int = 1, allocation: float = 0.5
) -> float:
    """Events needed by the log-rank test: Schoenfeld (1983), Biometrics 39:499-503.

    D = (z_{1-alpha/sides} + z_{power})^2 / (p (1 - p) log(HR)^2),
    p = allocation (share in the experimental arm). Same as rpact's
    ``getSampleSizeSurvival(typeOfComputation = "Schoenfeld")$maxNumberOfEvents``.
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    z = z_alpha(alpha, sides) + z_power(power)
    return z * z / (allocation * (1.0 - allocation) * math.log(hazard_ratio) ** 2)


def schoenfeld_power(
    events: float, hazard_ratio: float, alpha: float, sides: int = 1, allocation: float = 0.5
) -> float:
    """Power of the log-rank test after `events` events, Schoenfeld (1983).

    power = Phi(sqrt(D p (1 - p)) |log HR| - z_{1-alpha/sides}). For sides = 2 this counts
    only the tail on the side of the true effect; the other tail adds
    Phi(-sqrt(D p (1-p)) |log HR| - z_{1-alpha/2}), negligible at any useful power.
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    drift = math.sqrt(events * allocation * (1.0 - allocation)) * abs(math.log(hazard_ratio))
    return float(ndtr(drift - z_alpha(alpha, sides)))


def freedman_events(
    hazard_ratio: float, alpha: float, power: float, sides: int = 1, allocation: float = 0.5
) -> float:
    """Events needed by the log-rank test: Freedman (1982), Stat Med 1:121-129.

    D = (z_{1-alpha/sides} + z_{power})^2 (1 + r HR)^2 / (r (1 - HR)^2), r = p / (1 - p) =
    n_E / n_C. Freedman's paper gives the 1:1 case, D = (z + z)^2 (1 + HR)^2 / (1 - HR)^2;
    the allocation-ratio form is the one rpact implements
    (``typeOfComputation = "Freedman"``, ``allocationRatioPlanned`` = r), checked against it.
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    r = allocation / (1.0 - allocation)
    z = z_alpha(alpha, sides) + z_power(power)
    return z * z * (1.0 + r * hazard_ratio) ** 2 / (r * (1.0 - hazard_ratio) ** 2)


def freedman_power(
    events: float, hazard_ratio: float, alpha: float, sides: int = 1, allocation: float = 0.5
) -> float:
    """Power after `events` events by Freedman (1982): the inverse of `freedman_events`.

    power = Phi(sqrt(D r) |1 - HR| / (1 + r HR) - z_{1-alpha/sides}); for sides = 2 only the
    tail on the side of the true effect is counted (as in `schoenfeld_power`).
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    r = allocation / (1.0 - allocation)
    drift = math.sqrt(events * r) * abs(1.0 - hazard_ratio) / (1.0 + r * hazard_ratio)
    return float(ndtr(drift - z_alpha(alpha, sides)))


# --------------------------------------------------------------------------- accrual


def accrual_periods(accrual: AccrualTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end (inf if open-ended) and rate of each accrual period, as arrays."""
    if len(accrual) == 0:
        raise ValueError("accrual table is empty")
    starts, ends, rates, t = [], [], [], 0.0
    for i, (duration, rate) in enumerate(accrual):
        if rate < 0:
            raise ValueError(f"accrual period {i}: rate must be >= 0, got {rate}")
        if duration is None:
            if i != len(accrual) - 1:
                raise ValueError(f"accrual period {i}: only the last period may be open-ended")
            end = math.inf
        elif duration < 0:
            raise ValueError(f"accrual period {i}: duration must be >= 0, got {duration}")
        else:
            end = t + duration
        starts.append(t)
        ends.append(end)
        rates.append(rate)
        t = end
    return np.asarray(starts), np.asarray(ends), np.asarray(rates, dtype=float)


def accrual_end_time(sample_size: float, accrual: AccrualTable) -> float:
    """Months from study start until N(t) reaches `sample_size`; inf if it never does.

    Inverts the piecewise-linear N(t) = sum_j a_j * clip(t - b_j, 0, e_j - b_j).
    """
    if sample_size < 0:
        raise ValueError(f"sample_size must be >= 0, got {sample_size}")
    if sample_size == 0:
        return 0.0
    starts, ends, rates = accrual_periods(accrual)
    total = 0.0
    for start, end, rate in zip(starts, ends, rates, strict=True):
        if rate > 0 and total + rate * (end - start) >= sample_size:
            return float(start + (sample_size - total) / rate)
        total += rate * (end - start) if rate > 0 else 0.0
    return math.inf


def truncate_accrual(
    accrual: AccrualTable, sample_size: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accrual periods cut at the time `sample_size` patients are in (no cut if None)."""
    starts, ends, rates = accrual_periods(accrual)
    if sample_size is None:
        return starts, ends, rates
    stop = accrual_end_time(sample_size, accrual)
    keep = starts < stop
    if not keep.any():  # sample_size 0: one empty period keeps the shapes valid
        return np.zeros(1), np.zeros(1), np.zeros(1)
    return starts[keep], np.minimum(ends[keep], stop), rates[keep]


def accrued_patients(
    t: ArrayLike, accrual: AccrualTable, sample_size: float | None = None
) -> float | np.ndarray:
    """Expected patients randomized by month t: N(t) = sum_j a_j clip(t - b_j, 0, e_j - b_j).

    Accrual stops once `sample_size` is reached (N(t) is then flat at sample_size).
    """
    starts, ends, rates = truncate_accrual(accrual, sample_size)
    times = np.asarray(t, dtype=float)
    width = np.clip(times[..., None] - starts, 0.0, ends - starts)
    # A zero rate over an open-ended period would give 0 * inf; there are no patients there.
    width = np.where(rates > 0, width, 0.0)
    total = (rates * width).sum(axis=-1)
    return float(total) if total.ndim == 0 else total


# -------------------------------------------------------------------- survival pieces


def hazard_pieces(hazards: HazardSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, width (inf for the last) and hazard of each piece of a hazard table."""
    if isinstance(hazards, numbers.Real):
        rows: Sequence[tuple[float | None, float]] = [(None, float(hazards))]
    else:
        rows = hazards
    if len(rows) == 0:
        raise ValueError("hazard table is empty")
    starts, widths, values, t = [], [], [], 0.0
    for i, (duration, hazard) in enumerate(rows):
        if hazard < 0:
            raise ValueError(f"hazard piece {i}: hazard must be >= 0, got {hazard}")
        last = i == len(rows) - 1
        if not last and (duration is None or duration < 0):
            raise ValueError(f"hazard piece {i}: only the last piece may be open-ended")
        width = math.inf if last else float(duration)
        starts.append(t)
        widths.append(width)
        values.append(float(hazard))
        t += width
    return np.asarray(starts), np.asarray(widths), np.asarray(values)


def split_dropout(dropout_hazard: DropoutSpec) -> tuple[float, float]:
    """(control, experimental) dropout hazards from one hazard or a pair."""
    if isinstance(dropout_hazard, numbers.Real):
        pair = (float(dropout_hazard), float(dropout_hazard))
    else:
        pair = (float(dropout_hazard[0]), float(dropout_hazard[1]))
    if min(pair) < 0:
        raise ValueError(f"dropout hazards must be >= 0, got {dropout_hazard}")
    return pair


def phi1(x: np.ndarray) -> np.ndarray:
    """(1 - e^{-x}) / x, = 1 at x = 0; the series near 0 avoids cancellation."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < _SERIES_CUTOFF
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x / 2.0 + x * x / 6.0 - x**3 / 24.0, -np.expm1(-safe) / safe)


def phi2(x: np.ndarray) -> np.ndarray:
    """(x - 1 + e^{-x}) / x^2, = 1/2 at x = 0; the series near 0 avoids cancellation."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < _SERIES_CUTOFF
    safe = np.where(small, 1.0, x)
    series = 0.5 - x / 6.0 + x * x / 24.0 - x**3 / 120.0
    return np.where(small, series, (safe + np.expm1(-safe)) / (safe * safe))


class EventModel:
    """Closed forms for one arm: event hazard h(x) piecewise constant, dropout eta.

    With total hazard lam_k = h_k + eta on piece k = [c_k, c_k + d_k) and
    Q_k = exp(-sum_{j<k} lam_j d_j) the probability of being event- and dropout-free at c_k,

    F(s) = int_0^s h(x) S(x) e^{-eta x} dx = sum_k h_k Q_k w_k phi1(lam_k w_k),
    w_k = clip(s - c_k, 0, d_k): the probability that the event is observed within s months
    of randomization, dropout competing (Lachin & Foulkes 1986, Biometrics 42:507-519,
    extended piece by piece). Its integral, needed for staggered entry, is
    int_0^s F = sum_k [F(c_k) w_k + h_k Q_k w_k^2 phi2(lam_k w_k)].
    """

    def __init__(self, hazards: HazardSpec, dropout_hazard: float) -> None:
        self.starts, self.widths, self.hazards = hazard_pieces(hazards)
        self.total = self.hazards + dropout_hazard
        finite = np.where(np.isinf(self.widths), 0.0, self.widths)
        # survival (event and dropout) to the start of each piece
        self.q = np.exp(-np.concatenate([[0.0], np.cumsum(self.total * finite)[:-1]]))
        mass = self.hazards * self.q * finite * phi1(self.total * finite)
        last_total = self.total[-1]
        # the open-ended last piece holds h Q / lam, or nothing when lam = 0 (then h = 0)
        mass[-1] = self.hazards[-1] * self.q[-1] / last_total if last_total > 0 else 0.0
        self.f_at_start = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
        self.f_limit = float(mass.sum())
        self.mass_after = self.f_limit - self.f_at_start  # F(inf) - F(c_k)

    def widths_in(self, s: np.ndarray) -> np.ndarray:
        """w_k = clip(s - c_k, 0, d_k), shape s.shape + (pieces,)."""
        return np.clip(np.asarray(s, dtype=float)[..., None] - self.starts, 0.0, self.widths)

    def cdf(self, s: ArrayLike) -> np.ndarray:
        """F(s): probability of an observed event within s months of randomization."""
        w = self.widths_in(s)
        return (self.hazards * self.q * w * phi1(self.total * w)).sum(axis=-1)

    def cdf_integral(self, s: ArrayLike) -> np.ndarray:
        """int_0^s F(v) dv."""
        w = self.widths_in(s)
        terms = self.f_at_start * w + self.hazards * self.q * w * w * phi2(self.total * w)
        return terms.sum(axis=-1)

    def tail_integral(self, s: ArrayLike) -> np.ndarray:
        """int_0^s (F(inf) - F(v)) dv: bounded in s, so long horizons keep their digits.

        On a finite piece: (F(inf) - F(c_k)) w - h Q w^2 phi2(lam w); on the open-ended
        last piece where F(inf) - F(c_K) = h Q / lam it equals h Q w phi1(lam w) / lam.
        """
        w = self.widths_in(s)
        terms = self.mass_after * w - self.hazards * self.q * w * w * phi2(self.total * w)
        last_w = w[..., -1]
        lam = self.total[-1]
        last = self.hazards[-1] * self.q[-1] * last_w * phi1(lam * last_w) / lam if lam > 0 else 0
        terms[..., -1] = last
        return terms.sum(axis=-1)

    def cdf_integral_between(self, lo: np.ndarray, hi: np.ndarray, width: np.ndarray) -> np.ndarray:
        """int_lo^hi F(v) dv, width = hi - lo given exactly, from whichever form cancels less.

        Early on (little event mass) the direct integral is accurate; late (hi far beyond
        the hazard changes) F(inf) width minus the tail integral is.
        """
        direct = self.cdf_integral(hi) - self.cdf_integral(lo)
        via_tail = self.f_limit * width - (self.tail_integral(hi) - self.tail_integral(lo))
        return np.where(direct < 0.5 * self.f_limit * width, direct, via_tail)


def event_probability(
    s: ArrayLike, hazards: HazardSpec, dropout_hazard: float = 0.0
) -> float | np.ndarray:
    """P(event observed within s months of randomization) for one arm.

    F(s) = int_0^s h(x) exp(-H(x) - eta x) dx, in closed form per exponential piece (see
    `EventModel`). s = inf gives the probability of ever observing the event.
    """
    model = EventModel(hazards, dropout_hazard)
    s_arr = np.asarray(s, dtype=float)
    out = np.where(np.isinf(s_arr), model.f_limit, model.cdf(np.where(np.isinf(s_arr), 0, s_arr)))
    return float(out) if out.ndim == 0 else out


# -------------------------------------------------------------- expected events (L&F)


def scale_hazards(hazards: HazardSpec, factor: float) -> HazardSpec:
    """The hazard table multiplied by `factor` (proportional hazards)."""
    if isinstance(hazards, numbers.Real):
        return float(hazards) * factor
    return [(duration, hazard * factor) for duration, hazard in hazards]


def arm_models(
    control_hazards: HazardSpec, hazard_ratio: float, dropout_hazard: DropoutSpec
) -> tuple[EventModel, EventModel]:
    """Event models of the (control, experimental) arms under proportional hazards."""
    if not hazard_ratio > 0:
        raise ValueError(f"hazard_ratio must be > 0, got {hazard_ratio}")
    eta_c, eta_e = split_dropout(dropout_hazard)
    control = EventModel(control_hazards, eta_c)
    experimental = EventModel(scale_hazards(control_hazards, hazard_ratio), eta_e)
    return control, experimental


def expected_events_by_arm(
    t: ArrayLike,
    accrual: AccrualTable,
    control_hazards: HazardSpec,
    hazard_ratio: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    sample_size: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected observed events by calendar month t in the (control, experimental) arms.

    E_arm(t) = share_arm int_0^{min(t, T_acc)} a(u) F_arm(t - u) du
             = share_arm sum_j a_j int_{t - min(t, e_j)}^{t - b_j} F_arm(s) ds
    for accrual periods [b_j, e_j) with rate a_j, cut at `sample_size` (Lachin & Foulkes
    1986, Biometrics 42:507-519: expected events with staggered entry; same as rpact's
    ``getEventProbabilities`` times the number of patients).
    """
    if not 0.0 <= allocation <= 1.0:
        raise ValueError(f"allocation must be in [0, 1], got {allocation}")
    control, experimental = arm_models(control_hazards, hazard_ratio, dropout_hazard)
    starts, ends, rates = truncate_accrual(accrual, sample_size)
    times = np.asarray(t, dtype=float)[..., None]
    hi = np.clip(times - starts, 0.0, None)
    lo = np.clip(times - ends, 0.0, None)
    # hi - lo straight from the period bounds: at large t the difference would lose digits
    width = np.clip(times - starts, 0.0, ends - starts)
    live = rates > 0  # skip zero-rate periods: an open one would give 0 * inf
    totals = []
    for model in (control, experimental):
        integral = np.where(live, model.cdf_integral_between(lo, hi, width), 0.0)
        totals.append((np.where(live, rates, 0.0) * integral).sum(axis=-1))
    return (1.0 - allocation) * totals[0], allocation * totals[1]


def expected_events(
    t: ArrayLike,
    accrual: AccrualTable,
    control_hazards: HazardSpec,
    hazard_ratio: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    sample_size: float | None = None,
) -> float | np.ndarray:
    """Expected number of observed events, both arms, by calendar month t from study start.

    E(t) = int_0^{min(t, T_acc)} a(u) [(1-p) F_C(t-u) + p F_E(t-u)] du, with a(u) the
    accrual intensity stopped at `sample_size`, F_arm as in `event_probability`,
    experimental hazard = control hazard x HR (Lachin & Foulkes 1986; closed form per
    exponential piece, see `expected_events_by_arm`).
    """
    control, experimental = expected_events_by_arm(
        t, accrual, control_hazards, hazard_ratio, dropout_hazard, allocation, sample_size
    )
    total = control + experimental
    return float(total) if total.ndim == 0 else total


def expected_events_limit(
    accrual: AccrualTable,
    control_hazards: HazardSpec,
    hazard_ratio: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    sample_size: float | None = None,
) -> float:
    """lim_{t->inf} E(t) = N [(1-p) F_C(inf) + p F_E(inf)]; inf if accrual never stops."""
    patients = accrued_patients(math.inf, accrual, sample_size)
    if math.isinf(patients):
        return math.inf
    control, experimental = arm_models(control_hazards, hazard_ratio, dropout_hazard)
    return patients * ((1.0 - allocation) * control.f_limit + allocation * experimental.f_limit)


def expected_event_time(
    target: float,
    accrual: AccrualTable,
    control_hazards: HazardSpec,
    hazard_ratio: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    sample_size: float | None = None,
) -> float:
    """Calendar month t at which E(t) = target (rpact's ``analysisTime``); inf if never.

    E(t) is continuous and non-decreasing, so the root is bracketed by doubling and found by
    Brent's method to 1e-10 months.
    """
    if target <= 0:
        return 0.0
    args = (accrual, control_hazards, hazard_ratio, dropout_hazard, allocation, sample_size)
    if target >= expected_events_limit(*args):
        return math.inf

    def gap(t: float) -> float:
        return float(expected_events(t, *args)) - target

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
        if hi > 1e12:  # target a hair below the limit: the root is beyond any real horizon
            return math.inf
    return float(brentq(gap, 0.0, hi, xtol=1e-10, rtol=4 * np.finfo(float).eps))


def expected_events_table(
    months: ArrayLike,
    accrual: AccrualTable,
    control_hazards: HazardSpec,
    hazard_ratio: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    sample_size: float | None = None,
) -> pd.DataFrame:
    """Expected accrual and events over a grid of calendar months, for plotting.

    Columns: month, accrued, events_control, events_experimental, events.
    """
    grid = np.atleast_1d(np.asarray(months, dtype=float))
    control, experimental = expected_events_by_arm(
        grid, accrual, control_hazards, hazard_ratio, dropout_hazard, allocation, sample_size
    )
    return pd.DataFrame(
        {
            "month": grid,
            "accrued": accrued_patients(grid, accrual, sample_size),
            "events_control": control,
            "events_experimental": experimental,
            "events": control + experimental,
        }
    )


# -------------------------------------------------------- Lachin-Foulkes sample size


def lachin_foulkes_event_probability(
    hazard: float,
    dropout_hazard: float,
    accrual_duration: float,
    follow_up: float,
    accrual_shape: float = 0.0,
) -> float:
    """P(event observed by study end), entry over [0, R], study end T = R + follow_up.

    Lachin & Foulkes (1986), Biometrics 42:507-519 (their event probability): with entry density
    g(u) = gamma e^{-gamma u} / (1 - e^{-gamma R}) (gamma = accrual_shape; 0 = uniform,
    > 0 more entries early, < 0 more late) and lambda + eta the total hazard,
    P = lambda/(lambda+eta) [1 - e^{-(lambda+eta) T} int_0^R g(u) e^{(lambda+eta) u} du].
    Uniform entry gives their
    P = lambda/(lambda+eta) [1 - (e^{-(lambda+eta)(T-R)} - e^{-(lambda+eta)T}) /
    ((lambda+eta) R)].
    """
    if accrual_duration <= 0 or follow_up < 0:
        raise ValueError("accrual_duration must be > 0 and follow_up >= 0")
    if hazard < 0 or dropout_hazard < 0:
        raise ValueError("hazard and dropout_hazard must be >= 0")
    if hazard == 0:
        return 0.0
    total = hazard + dropout_hazard
    r, t_end = accrual_duration, accrual_duration + follow_up
    c = total - accrual_shape
    # int_0^R g(u) e^{c' u} du with c' = lambda + eta: (R phi1(-c R)) / (R phi1(gamma R))
    mean_growth = float(phi1(np.asarray(-c * r)) / phi1(np.asarray(accrual_shape * r)))
    return hazard / total * (1.0 - math.exp(-total * t_end) * mean_growth)


def lachin_foulkes_variances(
    hazard_ratio: float,
    accrual_duration: float,
    follow_up: float,
    control_hazard: float,
    dropout_hazard: DropoutSpec,
    allocation: float,
    accrual_shape: float,
) -> tuple[float, float, float]:
    """(d, V0, V1) of Lachin & Foulkes (1986): N = (z_a sqrt(V0) + z_b sqrt(V1))^2 / d^2.

    d = lambda_C - lambda_E.
    phi(lambda, eta) = lambda^2 / P(event | lambda, eta) is the variance of the hazard
    estimate per patient. Under H1, V1 = phi(lambda_E, eta_E)/p + phi(lambda_C, eta_C)/(1-p);
    under H0 both arms have the pooled lambda_bar = p lambda_E + (1-p) lambda_C:
    V0 = phi(lambda_bar, eta_E)/p + phi(lambda_bar, eta_C)/(1-p), which with equal losses is
    their phi(lambda_bar) (1/Q_E + 1/Q_C).
    """
    eta_c, eta_e = split_dropout(dropout_hazard)
    lam_c = control_hazard
    lam_e = control_hazard * hazard_ratio
    lam_bar = allocation * lam_e + (1.0 - allocation) * lam_c

    def phi(lam: float, eta: float) -> float:
        prob = lachin_foulkes_event_probability(
            lam, eta, accrual_duration, follow_up, accrual_shape
        )
        return lam * lam / prob

    v0 = phi(lam_bar, eta_e) / allocation + phi(lam_bar, eta_c) / (1.0 - allocation)
    v1 = phi(lam_e, eta_e) / allocation + phi(lam_c, eta_c) / (1.0 - allocation)
    return lam_c - lam_e, v0, v1


def lachin_foulkes_sample_size(
    hazard_ratio: float,
    alpha: float,
    power: float,
    sides: int,
    accrual_duration: float,
    follow_up: float,
    control_hazard: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    accrual_shape: float = 0.0,
) -> float:
    """Total patients N, Lachin & Foulkes (1986), Biometrics 42:507-519.

    Test of the hazard difference with variance under the null and the alternative:

    sqrt(N) |lambda_C - lambda_E| = z_{1-alpha/sides} sqrt(phi(lambda_bar)(1/Q_E + 1/Q_C))
                                    + z_{power} sqrt(phi(lambda_E)/Q_E + phi(lambda_C)/Q_C),

    phi(lambda) = lambda^2 / P(event | lambda, eta, R, T) (see
    `lachin_foulkes_event_probability`), Q_E = p, Q_C = 1 - p, lambda_bar = Q_E lambda_E +
    Q_C lambda_C; exponential survival and losses, accrual over R = accrual_duration months
    (uniform, or truncated exponential of shape gamma = accrual_shape), total duration
    T = R + follow_up. Same formula as gsDesign's ``nSurvival(type = "rd", approx = FALSE)``.
    Not rounded up.
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    diff, v0, v1 = lachin_foulkes_variances(
        hazard_ratio,
        accrual_duration,
        follow_up,
        control_hazard,
        dropout_hazard,
        allocation,
        accrual_shape,
    )
    root_n = (z_alpha(alpha, sides) * math.sqrt(v0) + z_power(power) * math.sqrt(v1)) / diff
    return root_n * root_n


def lachin_foulkes_power(
    sample_size: float,
    hazard_ratio: float,
    alpha: float,
    sides: int,
    accrual_duration: float,
    follow_up: float,
    control_hazard: float,
    dropout_hazard: DropoutSpec,
    allocation: float = 0.5,
    accrual_shape: float = 0.0,
) -> float:
    """Power with N patients, the Lachin & Foulkes (1986) equation solved for z_{power}.

    power = Phi((sqrt(N) |lambda_C - lambda_E| - z_{1-alpha/sides} sqrt(V0)) / sqrt(V1)),
    one tail for sides = 2 (see `lachin_foulkes_variances`).
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    diff, v0, v1 = lachin_foulkes_variances(
        hazard_ratio,
        accrual_duration,
        follow_up,
        control_hazard,
        dropout_hazard,
        allocation,
        accrual_shape,
    )
    drift = math.sqrt(sample_size) * abs(diff) - z_alpha(alpha, sides) * math.sqrt(v0)
    return float(ndtr(drift / math.sqrt(v1)))


# --------------------------------------------------------------------------- scenario adapter


def scenario_accrual(scenario) -> list[tuple[float | None, float]]:
    """Randomizations per month: the sites' screening tables added up (each from its
    activation), x (1 - screen failure), shifted by the mean screening time. Site caps and
    rate heterogeneity (mean 1) are outside the closed form."""
    enrollment = scenario.enrollment
    passed = 1.0 - enrollment.failure_probability
    delay = (enrollment.screening_days.min + enrollment.screening_days.max) / 2 / DAYS_PER_MONTH
    start = scenario.trial.start_date
    pieces = []  # (start_month, end_month or inf, rate) per site row
    for site in enrollment.site_list(start):
        t = (site.activation_date - start).days / DAYS_PER_MONTH + delay
        for row in site.screening_rate:
            end = t + row.months if row.months is not None else math.inf
            pieces.append((t, end, row.per_month * passed))
            t = end
    cuts = sorted({0.0, *(p[0] for p in pieces), *(p[1] for p in pieces if p[1] < math.inf)})
    table: list[tuple[float | None, float]] = []
    for lo, hi in zip(cuts, [*cuts[1:], math.inf], strict=True):
        rate = sum(r for a, b, r in pieces if a <= lo < b)
        table.append((None if hi == math.inf else hi - lo, rate))
    return table


def scenario_hazards(scenario) -> list[tuple[float | None, float]]:
    """Control-arm PFS hazards per month as (duration_months, hazard) pieces."""
    starts, hazards = scenario.pfs.control.hazard_table()
    ends = [*starts[1:], None]
    return [
        (None if end is None else (end - start) / DAYS_PER_MONTH, h * DAYS_PER_MONTH)
        for start, end, h in zip(starts, ends, hazards, strict=True)
    ]


_LAST_DESIGN: list = []  # [(scenario, table)] of the latest design_scenario call


def design_scenario(scenario) -> pd.DataFrame:
    """`closed_form_design` of `scenario`, computed once for the latest scenario asked about
    (a run asks three times: warnings before and after, closed-form lines; ~20 ms each).
    Scenarios are frozen, so the same object has the same design."""
    if not (_LAST_DESIGN and _LAST_DESIGN[0][0] is scenario):
        _LAST_DESIGN[:] = [(scenario, closed_form_design(scenario))]
    return _LAST_DESIGN[0][1].copy()


def closed_form_design(scenario) -> pd.DataFrame:
    """The closed-form side of a scenario: one row per quantity (quantity, value, unit, method).

    Events for the target power (Schoenfeld, Freedman), power at the event target, expected
    end of accrual and date of the event target (Lachin-Foulkes integrals over the accrual
    table, piecewise-exponential PFS and exponential dropout), and the Lachin-Foulkes sample
    size for that accrual duration and follow-up. Conduct details (scan schedule, calendar,
    stratification, treatment) are outside the closed forms by design.
    """
    if not is_proportional(scenario):
        return design_nph_scenario(scenario)
    a = scenario.analysis
    hr = scenario.effect.hazard_ratio
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    n = scenario.trial.sample_size
    accrual = scenario_accrual(scenario)
    hazards = scenario_hazards(scenario)
    dropout = scenario.dropout.hazard_per_day * DAYS_PER_MONTH
    start = np.datetime64(scenario.trial.start_date, "D")

    def date(months: float) -> str:
        if not np.isfinite(months):
            return "never"
        return str(start + np.timedelta64(int(np.floor(months * DAYS_PER_MONTH)), "D"))

    rows: list[tuple[str, object, str, str]] = []
    if hr != 1.0:
        rows += [
            (
                "events_needed_schoenfeld",
                schoenfeld_events(hr, a.alpha, a.target_power, a.sides, p),
                "events",
                f"Schoenfeld 1981, power {a.target_power:g}",
            ),
            (
                "events_needed_freedman",
                freedman_events(hr, a.alpha, a.target_power, a.sides, p),
                "events",
                f"Freedman 1982, power {a.target_power:g}",
            ),
        ]
    accrual_end = accrual_end_time(n, accrual)
    rows += [
        ("accrual_end_months", accrual_end, "months", "accrual table x (1 - screen failure)"),
        ("accrual_end_date", date(accrual_end), "date", ""),
    ]
    total = expected_events_limit(accrual, hazards, hr, dropout, p, n)
    rows.append(("events_expected_eventually", total, "events", "Lachin-Foulkes, t -> inf"))
    if a.event_target is not None:
        d = a.event_target
        t_target = expected_event_time(d, accrual, hazards, hr, dropout, p, n)
        # Under HR = 1 the rejection rate of a level-alpha test is alpha, by definition.
        null = hr == 1.0
        rows += [
            (
                "power_schoenfeld",
                a.alpha if null else schoenfeld_power(d, hr, a.alpha, a.sides, p),
                "probability",
                f"at {d} events",
            ),
            (
                "power_freedman",
                a.alpha if null else freedman_power(d, hr, a.alpha, a.sides, p),
                "probability",
                f"at {d} events",
            ),
            ("target_events_months", t_target, "months", f"Lachin-Foulkes, {d} events expected"),
            ("target_events_date", date(t_target), "date", ""),
        ]
        if hr != 1.0 and np.isfinite(t_target) and t_target > accrual_end and len(hazards) == 1:
            rows.append(
                (
                    "sample_size_lachin_foulkes",
                    lachin_foulkes_sample_size(
                        hr,
                        a.alpha,
                        a.target_power,
                        a.sides,
                        accrual_end,
                        t_target - accrual_end,
                        hazards[0][1],
                        dropout,
                        p,
                    ),
                    "patients",
                    f"uniform accrual over {accrual_end:.1f} months, follow-up "
                    f"{t_target - accrual_end:.1f} months",
                )
            )
    return pd.DataFrame(rows, columns=["quantity", "value", "unit", "method"])


def design_nph_scenario(scenario) -> pd.DataFrame:
    """`design_scenario` for scenarios beyond proportional hazards (see `nph_design_rows`)."""
    n = scenario.trial.sample_size
    accrual_end = accrual_end_time(n, scenario_accrual(scenario))
    start = np.datetime64(scenario.trial.start_date, "D")

    def date(months: float) -> str:
        if not np.isfinite(months):
            return "never"
        return str(start + np.timedelta64(int(np.floor(months * DAYS_PER_MONTH)), "D"))

    rows: list[tuple[str, object, str, str]] = [
        ("accrual_end_months", accrual_end, "months", "accrual table x (1 - screen failure)"),
        ("accrual_end_date", date(accrual_end), "date", ""),
    ]
    for row in nph_design_rows(scenario):
        rows.append(row)
        if row[0] == "target_events_months":
            rows.append(("target_events_date", date(float(row[1])), "date", ""))
    return pd.DataFrame(rows, columns=["quantity", "value", "unit", "method"])


def scenario_events_table(scenario, months: np.ndarray | None = None) -> pd.DataFrame:
    """Expected accrual and events (per arm, total) by month since study start (and the
    average hazard ratio, beyond proportional hazards)."""
    if months is None:
        months = np.arange(0, 61, 1.0)
    if not is_proportional(scenario):
        return nph_expected_events(scenario, months)
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    return expected_events_table(
        months,
        scenario_accrual(scenario),
        scenario_hazards(scenario),
        scenario.effect.hazard_ratio,
        scenario.dropout.hazard_per_day * DAYS_PER_MONTH,
        p,
        scenario.trial.sample_size,
    )


def design_warnings(scenario) -> list[str]:
    """Where the design cannot meet its own goal, in one line each (a run still goes ahead):
    Schoenfeld events for the target power above the sample size, fewer events expected
    eventually than the event target, accrual expected to end after the completion date, a
    calendar cut after the registered completion date."""
    table = design_scenario(scenario).set_index("quantity")["value"]
    trial, a = scenario.trial, scenario.analysis
    found = []
    needed = table.get("events_needed_schoenfeld")
    if needed is not None and float(needed) > trial.sample_size:
        found.append(
            f"{a.target_power:.0%} power needs {float(needed):.0f} events (Schoenfeld), more "
            f"than trial.sample_size {trial.sample_size}: the design cannot reach its target "
            "power however long it runs"
        )
    eventually = float(table["events_expected_eventually"])
    if a.event_target is not None and eventually < a.event_target:
        found.append(
            f"only {eventually:.1f} events are expected ever (Lachin-Foulkes) for the event "
            f"target {a.event_target}: most trials would never reach it"
        )
    end = str(table["accrual_end_date"])
    if end == "never" or end > trial.completion_date.isoformat():
        found.append(
            f"accrual is expected to end {end}, after trial.completion_date {trial.completion_date}"
        )
    if a.cut_date is not None and a.cut_date > trial.completion_date:
        found.append(
            f"analysis.cut_date {a.cut_date} is after trial.completion_date "
            f"{trial.completion_date}: the final analysis would come after the "
            "registered completion"
        )
    return found


# ------------------------------------------------- beyond proportional hazards (numeric)


def is_proportional(scenario) -> bool:
    """The scenario is what the closed forms above assume: piecewise-exponential PFS
    without cure, one hazard ratio, no stratum multipliers, one exponential dropout."""
    pfs, dropout = scenario.pfs, scenario.dropout
    return (
        pfs.experimental is None
        and scenario.effect.hazard_ratio is not None
        and pfs.control.is_piecewise_exponential
        and scenario.effect.cure_fraction is None
        and all(v == 1.0 for v in pfs.stratum_hazard_multiplier.values())
        and not dropout.pieces
        and dropout.experimental is None
    )


def cumulative_hazard_days(survival, t: np.ndarray) -> np.ndarray:
    """H0(t) of a scenario distribution (the uncured), t in days."""
    if survival.distribution == "weibull":
        return (t / survival.weibull_scale_days) ** survival.shape
    starts, hazards = (np.asarray(x, float) for x in survival.hazard_table())
    ends = np.append(starts[1:], np.inf)
    return (np.clip(t[:, None] - starts, 0.0, ends - starts) * hazards).sum(axis=1)


def arm_survival_days(scenario, arm: int, t: np.ndarray, multiplier: float = 1.0) -> np.ndarray:
    """Population PFS survival S(t) of arm 0 / 1 for a patient with hazard multiplier m:
    cure + (1 - cure) exp(-m H(t)), H the (uncured) cumulative hazard, with the effect's
    (piecewise) hazard ratio applied to the control's hazard for arm 1, as the simulator."""
    pfs, effect = scenario.pfs, scenario.effect
    if arm == 1 and pfs.experimental is not None:
        survival, cure = pfs.experimental, pfs.experimental.cure_fraction
        h = cumulative_hazard_days(survival, t)
    else:
        survival = pfs.control
        cure = survival.cure_fraction
        h = cumulative_hazard_days(survival, t)
        if arm == 1:
            if effect.cure_fraction is not None:
                cure = effect.cure_fraction
            starts, ratios = (np.asarray(x, float) for x in effect.ratio_table())
            b = np.append(starts, np.inf)
            h0 = cumulative_hazard_days(survival, np.minimum(t[:, None], b[1:]).ravel())
            h0 = h0.reshape(len(t), len(ratios))
            h0_start = cumulative_hazard_days(survival, starts)
            h = (np.maximum(h0 - h0_start, 0.0) * ratios).sum(axis=1)
    return cure + (1.0 - cure) * np.exp(-multiplier * h)


def dropout_survival_days(scenario, arm: int, t: np.ndarray) -> np.ndarray:
    starts, hazards = (np.asarray(x, float) for x in scenario.dropout.arm(arm).hazard_table())
    ends = np.append(starts[1:], np.inf)
    return np.exp(-(np.clip(t[:, None] - starts, 0.0, ends - starts) * hazards).sum(axis=1))


def nph_event_cells(scenario, horizon_months: float = 120.0, step_days: float = 1.0):
    """Per arm and stratum, on a grid of patient time (cells of `step_days`): probability of
    a PFS event seen in the cell (dropout competing) and the log hazard ratio in the cell
    (population hazards, arm 1 over arm 0, from the cumulative-hazard increments).
    Returns (cell midpoints [months], probs (2, S, cells), log_hr (S, cells), weights (2, S))."""
    t = np.arange(0.0, horizon_months * DAYS_PER_MONTH + step_days, step_days)
    ratio = scenario.randomization.ratio
    p_arm = np.array([ratio[0], ratio[1]], float) / sum(ratio)
    strata = scenario.randomization.strata
    mult = scenario.pfs.stratum_hazard_multiplier
    probs, dh = [], []
    for arm in (0, 1):
        g = dropout_survival_days(scenario, arm, t)
        g_mid = (g[:-1] + g[1:]) / 2.0
        rows_p, rows_h = [], []
        for name in strata:
            s = arm_survival_days(scenario, arm, t, mult.get(name, 1.0))
            rows_p.append((s[:-1] - s[1:]) * g_mid)
            with np.errstate(divide="ignore"):
                rows_h.append(np.log(s[:-1]) - np.log(s[1:]))
        probs.append(rows_p)
        dh.append(rows_h)
    probs, dh = np.asarray(probs), np.asarray(dh)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_hr = np.where((dh[0] > 0) & (dh[1] > 0), np.log(dh[1] / dh[0]), 0.0)
    weights = p_arm[:, None] * np.asarray(list(strata.values()))[None, :]
    mid = (t[:-1] + t[1:]) / 2.0 / DAYS_PER_MONTH
    return mid, probs, log_hr, weights


def nph_expected_events(scenario, months: np.ndarray) -> pd.DataFrame:
    """Expected events by calendar month since study start (per arm, total) and the average
    hazard ratio of gsDesign2's ahr(): AHR(T) = exp(sum E_cell(T) log HR_cell / sum E(T)),
    E_cell(T) = expected events (both arms) in a cell of patient time by calendar time T,
    log HR_cell the log hazard ratio there; numerically on a 1-day grid of patient time,
    with the scenario's accrual table (as `scenario_accrual`), PFS by arm and stratum,
    cure fractions, (piecewise) hazard ratios and dropout by arm."""
    months = np.atleast_1d(np.asarray(months, float))
    horizon = float(max(months.max(), 1.0))
    mid, probs, log_hr, weights = nph_event_cells(scenario, horizon)
    n = scenario.trial.sample_size
    accrual = scenario_accrual(scenario)
    rows = []
    for month in months:
        entered = accrued_patients(np.maximum(month - mid, 0.0), accrual, n)  # (cells,)
        entered = np.where(mid < month, entered, 0.0)
        cells = weights[:, :, None] * probs * entered[None, None, :]  # (2, S, cells)
        by_arm = cells.sum(axis=(1, 2))
        total = by_arm.sum()
        both = cells.sum(axis=0)  # (S, cells)
        ahr = float(np.exp((both * log_hr).sum() / total)) if total > 0 else np.nan
        rows.append(
            {
                "month": month,
                "accrued": accrued_patients(month, accrual, n),
                "events_control": by_arm[0],
                "events_experimental": by_arm[1],
                "events": total,
                "average_hazard_ratio": ahr,
            }
        )
    return pd.DataFrame(rows)


def nph_design_rows(scenario) -> list[tuple[str, object, str, str]]:
    """Closed-form side of a scenario beyond proportional hazards: the time of the event
    target and the AHR there, Schoenfeld's events and power under that AHR."""
    a = scenario.analysis
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    grid = np.arange(0.0, 120.25, 0.25)
    table = nph_expected_events(scenario, grid)
    events = table["events"].to_numpy()
    rows: list[tuple[str, object, str, str]] = [
        (
            "events_expected_eventually",
            float(events[-1]),
            "events",
            "numeric (1-day grid), 120 months",
        ),
    ]
    if a.event_target is None:
        return rows
    d = a.event_target
    if events[-1] < d:
        rows.append(("target_events_months", math.inf, "months", f"{d} events never expected"))
        return rows
    t_target = float(np.interp(d, events, grid))
    ahr = float(nph_expected_events(scenario, [t_target])["average_hazard_ratio"].iloc[0])
    rows.append(
        ("average_hazard_ratio", ahr, "ratio", f"gsDesign2-style AHR at the {d}-event time")
    )
    if ahr != 1.0 and np.isfinite(ahr):
        rows += [
            (
                "events_needed_schoenfeld",
                schoenfeld_events(ahr, a.alpha, a.target_power, a.sides, p),
                "events",
                f"Schoenfeld 1981 under the AHR, power {a.target_power:g}",
            ),
            (
                "power_schoenfeld",
                schoenfeld_power(d, ahr, a.alpha, a.sides, p),
                "probability",
                f"at {d} events, under the AHR",
            ),
        ]
    else:
        rows.append(("power_schoenfeld", a.alpha, "probability", f"at {d} events (AHR 1)"))
    rows.append(
        ("target_events_months", t_target, "months", f"numeric expected events, {d} events")
    )
    return rows
