"""Survival analysis of many replicates at once: log-rank, Cox PH, Kaplan-Meier medians.

Batched inputs are 2-D arrays of shape (R, n): R replicates (rows) of n patient slots.
- `time`: float >= 0, time from randomization (any unit); finite for valid patients.
- `event`: bool, True = event observed at `time`, False = censored at `time`.
- `arm`: int in {0 = control, 1 = experimental}.
- `stratum`: int labels (any integers, usually 0..S-1) or None for no strata.
- `valid`: bool or None; False = the slot is not a patient and is ignored entirely (its
  time, event, arm and stratum may hold anything, even nan), so rows can differ in size.
A 1-D input is read as one row (R = 1).

The batched functions never loop over replicates or patients. Each row is sorted once by
(stratum, time) and the sorted rows are laid end to end; tie groups and strata are runs
found where the row, stratum or time changes, and risk-set counts are differences of
prefix counts taken at run boundaries (`tabulate_risk_sets`). With one binary covariate
the Cox risk-set sums reduce to counts at risk per arm, so Newton-Raphson iterates on
fixed per-event arrays, all rows in lockstep.

`kaplan_meier` and `km_median_ci` describe one data set (not the hot path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

# print.survfit (survival::survmean) treats S(t) within sqrt(machine eps) of 0.5 as
# exactly 0.5 (the all.equal tolerance), so round-off in the product cannot move a median.
MEDIAN_TOL = float(np.sqrt(np.finfo(float).eps))
NEWTON_TOL = 1e-12  # stop when |beta step| is below this
NEWTON_MAX_ITER = 50
MAX_HALVINGS = 60  # 2**-60 shrinks any step below NEWTON_TOL
# A trial step is refused only if it lowers the log-likelihood by more than round-off.
LOGLIK_SLACK = 1e-12


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogrankResult:
    """Per-row log-rank statistics, each of shape (R,).

    o1, e1: observed and expected events in arm 1; var: hypergeometric variance of O1 - E1
    (all summed over strata); z = (o1 - e1) / sqrt(var), negative when arm 1 does better;
    chi2 = z**2; p_one = Phi(z) (one-sided, small when arm 1 benefits); p_two = 2 Phi(-|z|).
    Rows with var == 0 (no events, or no event where both arms are at risk) have
    z = chi2 = p_one = p_two = nan.
    """

    o1: np.ndarray
    e1: np.ndarray
    var: np.ndarray
    z: np.ndarray
    chi2: np.ndarray
    p_one: np.ndarray
    p_two: np.ndarray


@dataclass(frozen=True)
class CoxResult:
    """Per-row Cox fit of the log hazard ratio of arm 1 vs arm 0, each of shape (R,).

    beta = log HR; se = 1/sqrt(information at beta); hr = exp(beta);
    ci_low, ci_high = exp(beta -/+ z_{1-(1-conf_level)/2} se); z = beta / se (Wald);
    p_two = 2 Phi(-|z|); p_one = Phi(z) (small when arm 1 benefits);
    converged: |Newton step| < 1e-12 reached; n_iter: Newton iterations taken.
    When the MLE does not exist, no iteration is run and converged = False:
    - no arm-1 event while an arm-0 patient was at risk, but some arm-0 event with an arm-1
      patient at risk: beta = -inf, hr = 0;
    - the mirror case: beta = +inf, hr = inf;
    - neither kind of event (e.g. no events, or one arm empty): beta = hr = nan;
    in all three se, z, p_one, p_two, ci_low, ci_high are nan.
    """

    beta: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    z: np.ndarray
    p_one: np.ndarray
    p_two: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


@dataclass(frozen=True)
class MedianCI:
    """Kaplan-Meier median and its Brookmeyer-Crowley interval (nan = not reached)."""

    median: float
    ci_low: float
    ci_high: float


# --- input handling and risk sets ------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Validated (R, n) inputs; invalid slots are neutralised (no event, in no arm)."""

    time: np.ndarray  # float64; invalid slots set to 0 so sorting never sees nan
    event: np.ndarray  # bool; False on invalid slots
    arm1: np.ndarray  # bool; patient is valid and in arm 1
    arm0: np.ndarray  # bool; patient is valid and in arm 0
    stratum: np.ndarray | None  # int64; 0 on invalid slots


def as_rows(x: np.ndarray, dtype: type) -> np.ndarray:
    """`x` as an array of `dtype`, a 1-D array read as one row."""
    x = np.asarray(x, dtype=dtype)
    return x[None, :] if x.ndim == 1 else x


def as_batch(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    stratum: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> Batch:
    """Check shapes and arm values, promote 1-D to one row, and mask invalid slots.

    The caller guarantees finite (or +inf) times for valid patients; nan would sort
    arbitrarily. Arm values of invalid slots are not checked.
    """
    time = as_rows(time, float)
    if time.ndim != 2:
        raise ValueError(f"time must be 1-D or 2-D (R, n), got shape {time.shape}")

    def conform(name: str, x: np.ndarray, dtype: type) -> np.ndarray:
        x = as_rows(x, dtype)
        if x.shape != time.shape:
            raise ValueError(f"{name} has shape {x.shape}, time has {time.shape}")
        return x

    event = conform("event", event, bool)
    arm_raw = conform("arm", arm, np.int64)
    ok = np.ones(time.shape, bool) if valid is None else conform("valid", valid, bool)
    if np.any(ok & (arm_raw != 0) & (arm_raw != 1)):
        raise ValueError("arm must be 0 (control) or 1 (experimental)")
    in_arm1 = ok & (arm_raw == 1)
    strat = None if stratum is None else np.where(ok, conform("stratum", stratum, np.int64), 0)
    if valid is not None:
        time = np.where(ok, time, 0.0)
    if time.shape[1] == 0:  # rows without slots: give them one empty slot to sort
        pad = np.zeros((time.shape[0], 1), bool)
        return Batch(pad + 0.0, pad, pad, pad, None if strat is None else pad + 0)
    return Batch(time, event & ok, in_arm1, ok & ~in_arm1, strat)


def sort_rows(time: np.ndarray, stratum: np.ndarray | None) -> np.ndarray:
    """Flat indices into the raveled (R, n) arrays that sort each row by (stratum, time).

    Sorts by time, then stably by stratum: a radix sort when the labels fit in 16 bits,
    about twice as fast as np.lexsort on trial-sized rows.
    """
    n_rows, n = time.shape
    row_start = n * np.arange(n_rows)[:, None]
    flat = np.argsort(time, axis=1) + row_start
    if stratum is not None:  # np.take at flat positions: take_along_axis, faster
        s = np.take(stratum, flat)
        small = s.size == 0 or (s.min() >= -(2**15) and s.max() < 2**15)
        by_stratum = np.argsort(s.astype(np.int16) if small else s, axis=1, kind="stable")
        flat = np.take(flat, by_stratum + row_start)
    return flat.ravel()


@dataclass(frozen=True)
class TieGroups:
    """Tie groups (same stratum and time) of the raveled batch, rows sorted by sort_rows.

    order: (R n,) flat indices giving the sorted layout; group: (R n,) group of each
    sorted element, numbered 0..G-1 in sorted order; first, end: (G,) sorted positions
    where each group starts and ends (exclusive); stratum_end: (G,) where the group's
    stratum ends in its row (the row's end when unstratified).
    """

    order: np.ndarray
    group: np.ndarray
    first: np.ndarray
    end: np.ndarray
    stratum_end: np.ndarray
    stratum_first: np.ndarray | None = None  # (G,) where the group's stratum starts


def find_tie_groups(time: np.ndarray, stratum: np.ndarray | None) -> TieGroups:
    """Sort every row and number its tie groups, all on the raveled batch.

    A group starts where the row, the stratum or the time changes; group ids are the
    running count of starts, so no group (or stratum) ever spans two rows.
    """
    n_rows, n = time.shape
    order = sort_rows(time, stratum)
    t = time.ravel()[order]
    stratum_start = np.zeros(t.size, bool)
    stratum_start[::n] = True
    if stratum is not None:
        s = stratum.ravel()[order]
        stratum_start[1:] |= s[1:] != s[:-1]
    group_start = stratum_start.copy()
    group_start[1:] |= t[1:] != t[:-1]
    first = np.flatnonzero(group_start)
    end = np.append(first[1:], t.size)
    # an explicit dtype keeps numpy on its fast integer scan (bool -> default is slow)
    group = np.cumsum(group_start, dtype=np.int64) - 1
    if stratum is None:
        stratum_end = (first // n + 1) * n
        group_stratum_first = (first // n) * n
    else:
        stratum_first = np.flatnonzero(stratum_start)
        stratum_of = np.cumsum(stratum_start, dtype=np.int64) - 1
        stratum_end = np.append(stratum_first[1:], t.size)[stratum_of[first]]
        group_stratum_first = stratum_first[stratum_of[first]]
    return TieGroups(order, group, first, end, stratum_end, group_stratum_first)


def prefix_count(x: np.ndarray) -> np.ndarray:
    """P[j] = number of True in x[:j], length len(x) + 1."""
    out = np.zeros(x.size + 1, np.int64)
    np.cumsum(x, dtype=np.int64, out=out[1:])
    return out


@dataclass(frozen=True)
class RiskSets:
    """Per-element quantities on rows sorted by (stratum, time), each (R, n) float/bool.

    For element i in tie group g (same stratum and time): n0, n1 = patients of arm 0 / 1 in
    i's stratum with time >= t_g; d, d1 = events (all / arm 1) in g; rank = number of
    events of g sorted before i (0..d-1 for the events of g: Efron's index l).
    """

    event: np.ndarray
    arm1: np.ndarray
    n0: np.ndarray
    n1: np.ndarray
    d: np.ndarray
    d1: np.ndarray
    rank: np.ndarray
    batch: Batch | None = field(default=None, repr=False)  # the unsorted inputs
    groups: TieGroups | None = field(default=None, repr=False)  # their sort and tie groups

    # For the weighted tests and per-arm curves (sim.stats.weighted): the sorted times, and
    # the flat sorted positions where i's tie group, its stratum start and its stratum ends;
    # gathered on first use (the log-rank test and the Cox model need none of them).

    @cached_property
    def time(self) -> np.ndarray:
        return self.batch.time.ravel()[self.groups.order].reshape(self.event.shape)

    @cached_property
    def group_first(self) -> np.ndarray:
        return self.groups.first[self.groups.group].reshape(self.event.shape)

    @cached_property
    def stratum_first(self) -> np.ndarray:
        return self.groups.stratum_first[self.groups.group].reshape(self.event.shape)

    @cached_property
    def stratum_end(self) -> np.ndarray:
        return self.groups.stratum_end[self.groups.group].reshape(self.event.shape)

    @cached_property
    def valid(self) -> np.ndarray:
        """A patient (not a padding slot) in the sorted layout."""
        return (
            (self.batch.arm0 | self.batch.arm1).ravel()[self.groups.order].reshape(self.event.shape)
        )


def tabulate_risk_sets(batch: Batch) -> RiskSets:
    """Sort each row by (stratum, time) and read risk sets off prefix counts.

    On the raveled sorted batch, with P(x)[j] = number of x among elements < j (running
    across rows, which cancels in differences within a row) and group g spanning
    [first_g, end_g) in a stratum ending at e_s: n_arm = P(arm)[e_s] - P(arm)[first_g],
    d = P(event)[end_g] - P(event)[first_g], rank_i = P(event)[i] - P(event)[first_g].
    """
    shape = batch.time.shape
    g = find_tie_groups(batch.time, batch.stratum)
    event = batch.event.ravel()[g.order]
    arm1 = batch.arm1.ravel()[g.order]
    counts = {}
    for name, x in (("n0", batch.arm0.ravel()[g.order]), ("n1", arm1)):
        p = prefix_count(x)
        counts[name] = (p[g.stratum_end] - p[g.first]).astype(float)[g.group]
    p_event = prefix_count(event)
    for name, x in (("d", p_event), ("d1", prefix_count(event & arm1))):
        counts[name] = (x[g.end] - x[g.first]).astype(float)[g.group]
    rank = (p_event[:-1] - p_event[g.first][g.group]).astype(float)
    return RiskSets(
        event=event.reshape(shape),
        arm1=arm1.reshape(shape),
        rank=rank.reshape(shape),
        **{name: value.reshape(shape) for name, value in counts.items()},
        batch=batch,
        groups=g,
    )


# --- log-rank --------------------------------------------------------------------------------


def logrank_test(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    stratum: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> LogrankResult:
    """(Stratified) log-rank test of arm 1 vs arm 0 for every row, exact under ties.

    At each distinct event time t of a stratum, with n at risk (time >= t), n1 of them in
    arm 1, d events: E1 += d n1/n, V += d (n1/n)(1 - n1/n)(n - d)/(n - 1) (hypergeometric,
    0 when n = 1), as survival::survdiff; strata add O1, E1 and V. Each of the d events of
    a time carries 1/d of that time's terms, so the sums run over events, not times.
    """
    return logrank_from_risk_sets(risk_sets(time, event, arm, stratum, valid))


def risk_sets(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    stratum: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> RiskSets:
    """The sorted risk-set table both the log-rank test and the Cox model read: compute it
    once and pass it to `logrank_from_risk_sets` and `cox_from_risk_sets`."""
    return tabulate_risk_sets(as_batch(time, event, arm, stratum, valid))


def logrank_from_risk_sets(rs: RiskSets) -> LogrankResult:
    """`logrank_test` on a precomputed risk-set table."""
    n = np.where(rs.event, rs.n0 + rs.n1, 1.0)  # >= 1 at events: the event itself is at risk
    frac = np.where(rs.event, rs.n1 / n, 0.0)
    var_term = frac * (1.0 - frac) * (n - rs.d) / np.maximum(n - 1.0, 1.0)
    o1 = (rs.event & rs.arm1).sum(axis=1).astype(float)
    e1 = frac.sum(axis=1)
    var = var_term.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (o1 - e1) / np.sqrt(var), np.nan)
    return LogrankResult(
        o1=o1,
        e1=e1,
        var=var,
        z=z,
        chi2=z * z,
        p_one=special.ndtr(z),
        p_two=2.0 * special.ndtr(-np.abs(z)),
    )


# --- Cox proportional hazards ----------------------------------------------------------------


def cox_terms(
    beta: np.ndarray, a: np.ndarray, b: np.ndarray, o1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log-likelihood, score, information) at `beta` for per-event terms (a, b).

    Each event k contributes the risk-set sum S0_k = a_k + b_k e^beta (b_k e^beta is the
    arm-1 part S1_k = S2_k); with p_k = b_k e^beta / S0_k:
    loglik = beta O1 - sum log S0_k, score = O1 - sum p_k, info = sum a_k b_k e^beta / S0_k^2.
    Non-event slots must hold a = 1, b = 0 (they then add nothing).
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        b_eb = b * np.exp(beta)[:, None]
        s0 = a + b_eb
        loglik = beta * o1 - np.log(s0).sum(axis=1)
        score = o1 - (b_eb / s0).sum(axis=1)
        info = (a * b_eb / (s0 * s0)).sum(axis=1)  # p(1 - p) without cancellation
    return loglik, score, info


def efron_terms(rs: RiskSets, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-event (a, b) with S0 = a + b e^beta: at-risk counts minus Efron's tie share.

    Efron: the event of rank l in a group of d tied events (d1 in arm 1) sees
    a = n0 - (l/d)(d - d1), b = n1 - (l/d) d1; Breslow: a = n0, b = n1.
    """
    if ties == "efron":
        share = np.where(rs.event, rs.rank / np.maximum(rs.d, 1.0), 0.0)
        a = rs.n0 - share * (rs.d - rs.d1)
        b = rs.n1 - share * rs.d1
    elif ties == "breslow":
        a, b = rs.n0, rs.n1
    else:
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    return np.where(rs.event, a, 1.0), np.where(rs.event, b, 0.0)


def fit_newton(
    a: np.ndarray, b: np.ndarray, o1: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Newton-Raphson for all `active` rows in lockstep from beta = 0.

    A row stops once |step| < NEWTON_TOL (converged) or after NEWTON_MAX_ITER iterations.
    A step that lowers the log-likelihood (beyond round-off) is halved until it does not.
    Returns (beta, information at beta, converged, iterations). The caller must pass only
    rows whose MLE is finite as active: elsewhere the loop would chase an infinite beta.
    """
    beta = np.zeros(len(o1))
    loglik, score, info = cox_terms(beta, a, b, o1)
    converged = np.zeros(len(o1), bool)
    n_iter = np.zeros(len(o1), np.int64)
    for _ in range(NEWTON_MAX_ITER):
        active = active & ~converged
        if not active.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(active, score / info, 0.0)
        trial = cox_terms(beta + step, a, b, o1)
        for _ in range(MAX_HALVINGS):
            # `not >=` also refuses nan, from e^beta overflowing on a wild first step.
            worse = active & ~(trial[0] >= loglik - LOGLIK_SLACK * (1.0 + np.abs(loglik)))
            if not worse.any():
                break
            step = np.where(worse, step / 2.0, step)
            halved = cox_terms(beta + step, a, b, o1)
            trial = tuple(np.where(worse, new, old) for new, old in zip(halved, trial, strict=True))
        beta = np.where(active, beta + step, beta)
        loglik, score, info = (
            np.where(active, new, old)
            for new, old in zip(trial, (loglik, score, info), strict=True)
        )
        n_iter += active
        converged |= active & (np.abs(step) < NEWTON_TOL)
    return beta, info, converged, n_iter


def cox_ph(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    stratum: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    conf_level: float = 0.95,
) -> CoxResult:
    """Cox model log h(t) = log h0_s(t) + beta * arm for every row (stratified if given).

    Partial likelihood over the events k: L = prod exp(beta arm_k) / S0_k, with S0_k the
    sum of exp(beta arm) over k's risk set (same stratum, time >= t_k), Efron- or
    Breslow-corrected for ties (see `efron_terms`), as survival::coxph. See `CoxResult`
    for what rows without a finite MLE get.
    """
    return cox_from_risk_sets(risk_sets(time, event, arm, stratum, valid), ties, conf_level)


def cox_from_risk_sets(
    rs: RiskSets, ties: Literal["efron", "breslow"] = "efron", conf_level: float = 0.95
) -> CoxResult:
    """`cox_ph` on a precomputed risk-set table."""
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    a, b = efron_terms(rs, ties)
    o1 = (rs.event & rs.arm1).sum(axis=1).astype(float)
    # The score O1 - sum p_k falls from (arm-1 events with an arm-0 patient at risk) at
    # beta = -inf to -(arm-0 events with an arm-1 patient at risk) at +inf: a root exists
    # iff both counts are positive.
    up = (rs.event & rs.arm1 & (rs.n0 > 0)).sum(axis=1)
    down = (rs.event & ~rs.arm1 & (rs.n1 > 0)).sum(axis=1)
    finite = (up > 0) & (down > 0)
    beta, info, converged, n_iter = fit_newton(a, b, o1, finite)
    beta = np.where(finite, beta, np.where(up > 0, np.inf, np.where(down > 0, -np.inf, np.nan)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se = np.where(finite, 1.0 / np.sqrt(info), np.nan)
        z = beta / se
        half = special.ndtri(0.5 + conf_level / 2.0) * se
        return CoxResult(
            beta=beta,
            se=se,
            hr=np.exp(beta),
            ci_low=np.exp(beta - half),
            ci_high=np.exp(beta + half),
            z=z,
            p_one=special.ndtr(z),
            p_two=2.0 * special.ndtr(-np.abs(z)),
            converged=converged,
            n_iter=n_iter,
        )


# --- Kaplan-Meier medians --------------------------------------------------------------------


def km_median(
    time: np.ndarray, event: np.ndarray, arm: np.ndarray, valid: np.ndarray | None = None
) -> np.ndarray:
    """Kaplan-Meier median per row and arm, shape (R, 2): column 0 control, 1 experimental.

    The median is the first time t with S(t) <= 0.5, nan if never reached, with R's
    print.survfit convention for a flat: if S(t) == 0.5 (within MEDIAN_TOL) and the curve
    drops again at a later event time t', the median is (t + t') / 2; if it stays at 0.5 to
    the end of follow-up it is t. (lifelines returns t, or t' by round-off; R's quantile()
    would return (t + last follow-up time) / 2 for the flat at the end.)
    S is the cumulative product over the events of an arm of (m - 1)/m, m = that arm's
    number at risk minus the events already counted at the same time: for d tied events
    the factors telescope to (n - d)/n.
    """
    batch = as_batch(time, event, arm, None, valid)
    return medians_of_sorted(batch, find_tie_groups(batch.time, None))


def km_median_from_risk_sets(rs: RiskSets) -> np.ndarray:
    """`km_median` of the data of an unstratified risk-set table (`risk_sets` without
    stratum), reusing its sort: the same medians, to the last bit."""
    if rs.batch is None or rs.groups is None or rs.batch.stratum is not None:
        raise ValueError("km_median_from_risk_sets needs an unstratified risk_sets table")
    return medians_of_sorted(rs.batch, rs.groups)


def medians_of_sorted(batch: Batch, g: TieGroups) -> np.ndarray:
    """`km_median` of `batch`, its rows sorted by time into the tie groups `g`."""
    n_rows, n = batch.time.shape
    t = batch.time.ravel()[g.order].reshape(n_rows, n)
    last_of_group = ((g.end - 1) % n)[g.group].reshape(n_rows, n)
    event = batch.event.ravel()[g.order]
    out = np.empty((n_rows, 2))
    for col, member in enumerate((batch.arm0, batch.arm1)):  # 2 arms, not a data loop
        member = member.ravel()[g.order]
        ev = member & event
        p_member, p_event = prefix_count(member), prefix_count(ev)
        # at risk in this arm, minus the arm's events of the same time sorted before
        at_risk = (p_member[g.stratum_end] - p_member[g.first])[g.group]
        m = (at_risk - (p_event[:-1] - p_event[g.first][g.group])).astype(float)
        factor = np.where(ev, (m - 1.0) / np.where(ev, m, 1.0), 1.0)
        surv = np.cumprod(factor.reshape(n_rows, n), axis=1)
        out[:, col] = median_from_curve(t, surv, last_of_group)
    return out


def median_from_curve(t: np.ndarray, surv: np.ndarray, last_of_group: np.ndarray) -> np.ndarray:
    """Per row, R's median of a step curve `surv` at sorted times `t` (see `km_median`).

    `surv` must be non-increasing along each row; last_of_group[i] is the last index with
    time t[i], where the curve's value at that time is read.
    """
    reached = surv < 0.5 + MEDIAN_TOL
    i1 = np.argmax(reached, axis=1)[:, None]
    t1 = np.take_along_axis(t, i1, axis=1)[:, 0]
    s1 = np.take_along_axis(surv, np.take_along_axis(last_of_group, i1, axis=1), axis=1)
    later = surv < s1  # strict: only a later event moves the curve
    t2 = np.take_along_axis(t, np.argmax(later, axis=1)[:, None], axis=1)[:, 0]
    flat = (np.abs(s1[:, 0] - 0.5) < MEDIAN_TOL) & later.any(axis=1)
    return np.where(reached.any(axis=1), np.where(flat, (t1 + t2) / 2.0, t1), np.nan)


# --- one data set: Kaplan-Meier table and median confidence interval -------------------------


CONF_TYPES = ("log", "log-log")  # pointwise Kaplan-Meier bands; "log" is R's default


def check_conf_type(conf_type: str) -> None:
    if conf_type not in CONF_TYPES:
        raise ValueError(
            f"conf_type {conf_type!r}: must be one of {CONF_TYPES} "
            "(log: R survfit's default; log-log: lifelines' default)"
        )


def kaplan_meier(
    time: np.ndarray, event: np.ndarray, conf_level: float = 0.95, conf_type: str = "log"
) -> pd.DataFrame:
    """Kaplan-Meier table of one data set, one row per distinct time (events or censorings).

    Columns: time, n_at_risk (time >= t), n_event, n_censor, survival S(t) = prod (1 - d/n),
    std_err = S(t) sqrt(G(t)) (Greenwood, G(t) = sum d/(n(n - d)) over event times <= t;
    nan where S = 0, as R and statsmodels), and the pointwise band ci_low, ci_high of
    `conf_type` (raises ValueError for another):
    - "log" (R survfit's default, `log_band`): S exp(-/+ z sqrt(G)), the upper end capped at
      1; (1, 1) where S = 1, nan where S = 0 (R's NA);
    - "log-log" ("exponential Greenwood", lifelines' default):
      exp(-exp(log(-log S) +/- z sqrt(G)/log S)), i.e. S^exp(-/+ z sqrt(G)/log S); (1, 1)
      where S = 1 and (0, 0) where S = 0, as lifelines.
    z = Phi^-1((1 + conf_level)/2).
    """
    check_conf_type(conf_type)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    times, which = np.unique(time, return_inverse=True)
    n_event = np.bincount(which, weights=event, minlength=len(times))
    n_total = np.bincount(which, minlength=len(times)).astype(float)
    n_at_risk = np.cumsum(n_total[::-1])[::-1]
    surv = np.cumprod(1.0 - n_event / n_at_risk)
    greenwood = np.cumsum(
        np.where(
            n_at_risk > n_event, n_event / (n_at_risk * np.maximum(n_at_risk - n_event, 1)), 0.0
        )
    )
    z = special.ndtri(0.5 + conf_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        swing = z * np.sqrt(greenwood) / log_s
        ci_low = np.exp(-np.exp(np.log(-log_s) - swing))
        ci_high = np.exp(-np.exp(np.log(-log_s) + swing))
    ci_low = np.where(surv == 1.0, 1.0, np.where(surv == 0.0, 0.0, ci_low))
    ci_high = np.where(surv == 1.0, 1.0, np.where(surv == 0.0, 0.0, ci_high))
    std_err = np.where(surv > 0, surv * np.sqrt(greenwood), np.nan)
    if conf_type == "log":
        ci_low, ci_high = log_band(surv, std_err, conf_level)
    return pd.DataFrame(
        {
            "time": times,
            "n_at_risk": n_at_risk.astype(np.int64),
            "n_event": n_event.astype(np.int64),
            "n_censor": (n_total - n_event).astype(np.int64),
            "survival": surv,
            "std_err": std_err,
            "ci_low": ci_low,
            "ci_high": ci_high,
        }
    )


def r_median(times: np.ndarray, values: np.ndarray) -> float:
    """survival::survmean's minmin: the median of a step curve as print.survfit reports it.

    Among times whose value is < 0.5 + tol (nan values skipped), take the first, t; if its
    value is 0.5 within tol and a later value is smaller, return the mean of t and the first
    such later time; otherwise t; nan if no value gets below 0.5 + tol.
    """
    keep = ~np.isnan(values) & (values < 0.5 + MEDIAN_TOL)
    if not keep.any():
        return float("nan")
    x, y = times[keep], values[keep]
    lower = y < y[0]
    if abs(y[0] - 0.5) < MEDIAN_TOL and lower.any():
        return float((x[0] + x[np.argmax(lower)]) / 2.0)
    return float(x[0])


def km_median_ci(
    time: np.ndarray, event: np.ndarray, conf_level: float = 0.95, conf_type: str = "log"
) -> MedianCI:
    """Median and Brookmeyer-Crowley interval as print(survival::survfit(..., conf.type))
    reports them.

    The band of `conf_type` (see `kaplan_meier`): "log", survfit's default, lower(t) =
    S exp(-z se), upper(t) = min(S exp(z se), 1), se = sqrt(G(t)) the Greenwood se of log S;
    or "log-log". Either is nan where S = 0 (R's NA). The interval is the set of t whose band
    contains 0.5, reported as in survmean: ci_low = R's median of the lower band (the first
    time lower(t) <= 0.5) and ci_high = R's median of the upper band (the first time
    upper(t) <= 0.5, i.e. the first time after the set), each with the 0.5-flat midpoint
    rule of `r_median`; nan (R's NA) if never reached.
    """
    table = kaplan_meier(time, event, conf_level, conf_type)
    times = table["time"].to_numpy()
    surv = table["survival"].to_numpy()
    zero = surv == 0.0
    lower = np.where(zero, np.nan, table["ci_low"].to_numpy())
    upper = np.where(zero, np.nan, table["ci_high"].to_numpy())
    return MedianCI(r_median(times, surv), r_median(times, lower), r_median(times, upper))


def log_band(
    surv: np.ndarray, std_err: np.ndarray, conf_level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """survfit's default conf.type = "log" pointwise band of S, as (lower, upper).

    lower = S exp(-z se), upper = min(S exp(z se), 1) with se = std_err / S the Greenwood
    se of log S and z = Phi^-1((1 + conf_level)/2); nan where S = 0 (R's NA).
    """
    surv = np.asarray(surv, dtype=float)
    positive = surv > 0
    safe = np.where(positive, surv, 1.0)
    swing = np.exp(special.ndtri(0.5 + conf_level / 2.0) * np.asarray(std_err) / safe)
    lower = np.where(positive, surv / swing, np.nan)
    upper = np.where(positive, np.minimum(surv * swing, 1.0), np.nan)
    return lower, upper
