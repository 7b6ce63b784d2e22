"""Binary endpoints (objective response, disease control) of many replicates at once.

Inputs are counts per replicate, and per stratum where the test is stratified: arrays whose
last axis is the arm (0 control, 1 experimental). The difference is experimental minus
control throughout, so a benefit is a positive difference and a positive z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Difference:
    """Per-row rate difference p1 - p0 and its Newcombe interval, each of shape (R,)."""

    p0: np.ndarray
    p1: np.ndarray
    diff: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


@dataclass(frozen=True)
class CmhResult:
    """Per-row Cochran-Mantel-Haenszel test of arm 1 vs arm 0 across strata, shape (R,).

    z = sum_s (a_s - E a_s) / sqrt(sum_s V_s) with a_s the responders of arm 1 in stratum s,
    E a_s = n1_s m_s / N_s, V_s = n1_s n0_s m_s (N_s - m_s) / (N_s^2 (N_s - 1)) (the
    hypergeometric variance; strata with N_s < 2 add nothing); chi2 = z^2 is
    statsmodels' ``StratifiedTable.test_null_odds(correction=False)`` statistic;
    p_one = 1 - Phi(z) (small when arm 1 responds more), p_two = 2 Phi(-|z|); nan where the
    variance is 0. or_mh: the Mantel-Haenszel common odds ratio (arm 1 over arm 0).
    """

    z: np.ndarray
    chi2: np.ndarray
    p_one: np.ndarray
    p_two: np.ndarray
    or_mh: np.ndarray


def wilson_interval(
    x: np.ndarray, n: np.ndarray, conf_level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of x / n (nan where n = 0)."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    z = special.ndtri(0.5 + conf_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return centre - half, centre + half


def newcombe_difference(
    x0: np.ndarray, n0: np.ndarray, x1: np.ndarray, n1: np.ndarray, conf_level: float = 0.95
) -> Difference:
    """p1 - p0 with Newcombe's hybrid score interval (his method 10, from the two Wilson
    intervals): low = d - sqrt((p1 - l1)^2 + (u0 - p0)^2), high = d + sqrt((u1 - p1)^2 +
    (p0 - l0)^2); as statsmodels' ``confint_proportions_2indep(method="newcomb")``."""
    x0, n0, x1, n1 = (np.asarray(v, float) for v in (x0, n0, x1, n1))
    with np.errstate(divide="ignore", invalid="ignore"):
        p0, p1 = x0 / n0, x1 / n1
    l0, u0 = wilson_interval(x0, n0, conf_level)
    l1, u1 = wilson_interval(x1, n1, conf_level)
    d = p1 - p0
    low = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Difference(p0, p1, d, low, high)


def cmh_test(responders: np.ndarray, totals: np.ndarray) -> CmhResult:
    """CMH test per row; `responders` and `totals` of shape (R, S, 2) (strata, arms)."""
    a = np.asarray(responders, float)
    n = np.asarray(totals, float)
    n0, n1 = n[..., 0], n[..., 1]
    x0, x1 = a[..., 0], a[..., 1]
    big_n = n0 + n1
    m = x0 + x1
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(big_n > 0, n1 * m / big_n, 0.0)
        var = np.where(big_n > 1, n1 * n0 * m * (big_n - m) / (big_n**2 * (big_n - 1.0)), 0.0)
        num = (x1 - expected).sum(axis=-1)
        total_var = var.sum(axis=-1)
        z = np.where(total_var > 0, num / np.sqrt(total_var), np.nan)
        # MH odds ratio: sum(a d / N) / sum(b c / N), a = x1, b = n1 - x1, c = x0, d = n0 - x0
        top = np.where(big_n > 0, x1 * (n0 - x0) / big_n, 0.0).sum(axis=-1)
        bottom = np.where(big_n > 0, (n1 - x1) * x0 / big_n, 0.0).sum(axis=-1)
        or_mh = top / bottom
    return CmhResult(
        z=z, chi2=z * z, p_one=special.ndtr(-z), p_two=2.0 * special.ndtr(-np.abs(z)), or_mh=or_mh
    )


def power_difference(
    p0: float, p1: float, n0: float, n1: float, alpha: float, sides: int = 1
) -> float:
    """Normal-approximation power of the test of p1 = p0 (unpooled variance under the
    alternative, pooled under the null): Phi((|p1 - p0| - z_a se0) / se1), z_a the
    1 - alpha / sides quantile, se0 = sqrt(pbar (1 - pbar) (1/n0 + 1/n1)),
    se1 = sqrt(p0 (1 - p0) / n0 + p1 (1 - p1) / n1)."""
    z_a = special.ndtri(1.0 - alpha / sides)
    pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
    se0 = np.sqrt(pbar * (1 - pbar) * (1 / n0 + 1 / n1))
    se1 = np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    delta = (p1 - p0) if sides == 1 else abs(p1 - p0)
    return float(special.ndtr((delta - z_a * se0) / se1))
