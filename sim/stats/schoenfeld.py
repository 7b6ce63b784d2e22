"""Events needed by the log-rank test for a power, and its power after a number of events:
Schoenfeld (1983) and Freedman (1982); exponential hazards from medians and dropout rates.

Pure functions on plain numbers. Time unit: months (1 month = 30.4375 days). Conventions:

* ``allocation`` is p, the share of patients in the experimental arm; r = p / (1 - p) is
  the allocation ratio n_E / n_C (rpact's ``allocationRatioPlanned``).
* ``hazard_ratio`` is lambda_E / lambda_C (experimental over control): HR < 1 is benefit.
"""

from __future__ import annotations

import math

from scipy.special import ndtr, ndtri  # normal cdf and quantile, without scipy.stats

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
    events: float,
    hazard_ratio: float,
    alpha: float,
    sides: int = 1,
    allocation: float = 0.5,
    *,
    benefit_only: bool = False,
) -> float:
    """Power of the log-rank test after `events` events, Schoenfeld (1983).

    power = Phi(sqrt(D p (1 - p)) |log HR| - z_{1-alpha/sides}). For sides = 2 this counts
    only the tail on the side of the true effect; the other tail adds
    Phi(-sqrt(D p (1-p)) |log HR| - z_{1-alpha/2}), negligible at any useful power.
    With `benefit_only` (a one-sided test that rejects only for HR < 1, as sim's), an
    HR > 1 (harm) gives the far tail, Phi(-sqrt(D p (1 - p)) |log HR| - z_{1-alpha}), as
    rpact's ``directionUpper = FALSE``.
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    drift = math.sqrt(events * allocation * (1.0 - allocation)) * abs(math.log(hazard_ratio))
    return tail_power(drift, hazard_ratio, alpha, sides, benefit_only)


def tail_power(
    drift: float, hazard_ratio: float, alpha: float, sides: int, benefit_only: bool
) -> float:
    """Phi(drift - z_{1-alpha/sides}); for a one-sided test of benefit under harm (HR > 1,
    `benefit_only`), Phi(-drift - z_{1-alpha}): the test rejects only on the other side."""
    if benefit_only and sides == 1 and hazard_ratio > 1.0:
        return float(ndtr(-drift - z_alpha(alpha, sides)))
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
    events: float,
    hazard_ratio: float,
    alpha: float,
    sides: int = 1,
    allocation: float = 0.5,
    *,
    benefit_only: bool = False,
) -> float:
    """Power after `events` events by Freedman (1982): the inverse of `freedman_events`.

    power = Phi(sqrt(D r) |1 - HR| / (1 + r HR) - z_{1-alpha/sides}); for sides = 2 only the
    tail on the side of the true effect is counted, and `benefit_only` is as in
    `schoenfeld_power`.
    """
    check_test_inputs(hazard_ratio, alpha, sides, allocation)
    r = allocation / (1.0 - allocation)
    drift = math.sqrt(events * r) * abs(1.0 - hazard_ratio) / (1.0 + r * hazard_ratio)
    return tail_power(drift, hazard_ratio, alpha, sides, benefit_only)
