"""The Lachin & Foulkes model of a two-arm time-to-event trial: the expected accrual curve,
expected events over calendar time (deterministic accrual intensity, piecewise-exponential
survival, exponential dropout), the time at which a target number of events is expected,
and the Lachin-Foulkes sample size and power.

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
from scipy.special import ndtr  # normal cdf, without scipy.stats

from sim.stats.roots import brentq  # scipy.optimize.brentq, without importing scipy.optimize
from sim.stats.schoenfeld import check_test_inputs, z_alpha, z_power

AccrualTable: TypeAlias = Sequence[tuple[float | None, float]]
HazardSpec: TypeAlias = float | Sequence[tuple[float | None, float]]
DropoutSpec: TypeAlias = float | tuple[float, float]
ArrayLike: TypeAlias = float | Sequence[float] | np.ndarray

# Below this |x| the closed forms (1 - e^-x)/x and (x - 1 + e^-x)/x^2 lose digits to
# cancellation; their Taylor series are exact to double precision there.
_SERIES_CUTOFF = 1e-3


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
    *,
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
    *,
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
