"""Kaplan-Meier survival at fixed times (landmarks) of many replicates at once.

Inputs as in `sim.stats.analysis`: (R, n) time, event, a boolean `member` mask (the group
whose curve is estimated: an arm, and valid). Each row is sorted by time with events before
censorings at the same time (a patient censored at t is at risk at t); walking the sorted
row, the element i of the group has m_i group members still at risk (itself included), and
an event multiplies S by (m_i - 1) / m_i: for d tied events at n at risk the factors
telescope to (n - d) / n, and the Greenwood terms 1 / (m_i (m_i - 1)) telescope to
d / (n (n - d)). Both are exact, not approximations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Landmark:
    """S(t) per row and its Greenwood variance S^2 sum d / (n (n - d)), shape (R,);
    nan where the group is empty or nobody is at risk at t (follow-up ended before t)."""

    surv: np.ndarray
    var: np.ndarray


def km_at(time: np.ndarray, event: np.ndarray, member: np.ndarray, t: float) -> Landmark:
    """Kaplan-Meier S(t) of the members of each row (see the module docstring)."""
    time = np.asarray(time, float)
    event = np.asarray(event, bool) & member
    order = np.lexsort((~event, np.where(member, time, np.inf)), axis=-1)
    ts = np.take_along_axis(np.where(member, time, np.inf), order, axis=-1)
    ev = np.take_along_axis(event, order, axis=-1)
    mem = np.take_along_axis(np.asarray(member, bool), order, axis=-1)
    at_risk = np.cumsum(mem[:, ::-1], axis=1)[:, ::-1].astype(float)
    upto = ev & (ts <= t)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_factor = np.where(upto, np.log(np.where(upto, (at_risk - 1.0) / at_risk, 1.0)), 0.0)
        green = np.where(upto & (at_risk > 1), 1.0 / (at_risk * (at_risk - 1.0)), 0.0)
    surv = np.exp(log_factor.sum(axis=1))
    var = surv**2 * green.sum(axis=1)
    # still at risk at t: some member with time >= t, or the curve has reached 0
    followed = (mem & (ts >= t)).any(axis=1) | (surv == 0.0)
    return Landmark(np.where(followed, surv, np.nan), np.where(followed, var, np.nan))


def landmark_difference_z(a: Landmark, b: Landmark) -> np.ndarray:
    """z = (S_b - S_a) / sqrt(V_a + V_b), the test of equal S(t) (Klein et al. 2007, the
    linear one); nan where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(a.var + b.var)
        return np.where(se > 0, (b.surv - a.surv) / se, np.nan)


def greenwood_interval(lm: Landmark, conf_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Log-log interval S^exp(+/- z se / log S), se = sqrt(V) / S (lifelines' default)."""
    z = special.ndtri(0.5 + conf_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(lm.surv)
        swing = z * np.sqrt(lm.var) / lm.surv / log_s
        low = np.exp(-np.exp(np.log(-log_s) - swing))
        high = np.exp(-np.exp(np.log(-log_s) + swing))
    low = np.where(lm.surv == 1.0, 1.0, np.where(lm.surv == 0.0, 0.0, low))
    high = np.where(lm.surv == 1.0, 1.0, np.where(lm.surv == 0.0, 0.0, high))
    return low, high
