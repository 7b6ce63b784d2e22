"""Tests made for non-proportional hazards, vectorized over replicates like the log-rank.

Every function reads the sorted risk-set table of `sim.stats.analysis.risk_sets` (compute it
once per data cut, stratified or not, and share it with the log-rank and the Cox model).
Times are in the unit of the table; `tau`, `t` and `t_star` are in that unit too.

- `fleming_harrington`: FH(rho, gamma) weighted log-rank, weights S(t-)^rho (1 - S(t-))^gamma
  from the pooled (within stratum) Kaplan-Meier at t-, as survival::survdiff(rho=) and
  lifelines' weightings="fleming-harrington"; the hypergeometric variance with ties.
- `magirr_burman`: the modestly weighted log-rank, w(t) = min(1 / max(S(t-), S(t*)), w_max).
- `maxcombo`: the minimum of several FH z's, its p-value from their joint normal law (the
  correlation from the weights: cov_jk = sum w_j w_k v) by `mvn_box_probability`.
- `rmst_difference`: restricted mean survival to tau per arm (Kaplan-Meier area) with
  survival's print(survfit, rmean=tau) standard error.
- `milestone_difference`: Kaplan-Meier survival at t per arm with the Greenwood SE.
- `average_hazard_ratio`: Kalbfleisch-Prentice's AHR = int S0 S1 dL1 / int S0 S1 dL0
  (= P(T1 < T0) / P(T0 < T1) up to tau), Kaplan-Meier and Nelson-Aalen plug-in.

Strata: the weighted log-rank tests add the strata's weighted O - E and variances; RMST,
milestone and AHR combine the strata's estimates with weights n_s / n (the trial's stratum
mix). Sign convention: z < 0 favours arm 1 (experimental) for every test, so the one-sided
p = Phi(z) is small when arm 1 does better; estimates keep their natural sign (RMST and
milestone differences are arm 1 minus arm 0, positive when arm 1 does better).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from sim.stats.analysis import RiskSets

if TYPE_CHECKING:
    from sim.scenario import TestSpec
    from sim.stats.analysis import LogrankResult

LOG_ZERO = -700.0  # log of a Kaplan-Meier factor 0 (everybody at risk dies): exp() is 0
MVN_ABS_TOL = 1e-5  # absolute error of the MaxCombo p-values (3 QMC standard errors)


@dataclass(frozen=True)
class TestResult:
    """Per-row results of one test, each of shape (R,): estimate (the test's effect measure:
    weighted O - E, RMST or survival difference, AHR, min z of MaxCombo), its se (nan where
    none), z (< 0 favours arm 1), one-sided p = Phi(z) and two-sided p."""

    estimate: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p_one: np.ndarray
    p_two: np.ndarray


def from_z(estimate: np.ndarray, se: np.ndarray, z: np.ndarray) -> TestResult:
    return TestResult(estimate, se, z, special.ndtr(z), 2.0 * special.ndtr(-np.abs(z)))


# --- layout helpers ----------------------------------------------------------------------------


def need_layout(rs: RiskSets) -> None:
    if rs.time is None or rs.group_first is None or rs.stratum_first is None:
        raise ValueError(
            "this RiskSets table has no layout fields: build it with sim.stats.analysis.risk_sets"
        )


def exclusive_cumsum(x: np.ndarray) -> np.ndarray:
    """C[p] = sum of the flat array x[:p] within p's row (x: (R, n)), as a flat (R n,) array
    indexed by flat sorted positions (running sums restart each row, keeping them small)."""
    n_rows, n = x.shape
    c = np.zeros((n_rows, n + 1))
    np.cumsum(x, axis=1, out=c[:, 1:])
    return c[:, :-1].ravel(), c[:, -1]


def km_log_factors_pooled(rs: RiskSets) -> np.ndarray:
    """Per event element, log((m - 1) / m) with m = at risk minus the tied events before it:
    summed over a tie group these telescope to log((n - d) / n), the pooled KM factor."""
    n = rs.n0 + rs.n1
    m = np.where(rs.event, n - rs.rank, 2.0)
    with np.errstate(divide="ignore"):
        lf = np.where(rs.event, np.log((m - 1.0) / m), 0.0)
    return np.maximum(lf, LOG_ZERO)


def surv_before(rs: RiskSets, log_factors: np.ndarray) -> np.ndarray:
    """S(t_i-) per sorted element from per-element log factors: the product of the factors
    of the elements of i's stratum sorted before i's tie group (R, n)."""
    c, _ = exclusive_cumsum(log_factors)
    return np.exp(c[rs.group_first.ravel()] - c[rs.stratum_first.ravel()]).reshape(rs.time.shape)


def stratum_sum(rs: RiskSets, x: np.ndarray) -> np.ndarray:
    """Per (row, stratum) sum of x, as a flat array keyed by the stratum's first position
    (zeros at positions that start no stratum)."""
    return np.bincount(rs.stratum_first.ravel(), weights=x.ravel(), minlength=x.size)


def stratum_starts(rs: RiskSets) -> np.ndarray:
    """Flat positions where a stratum starts."""
    first = rs.stratum_first.ravel()
    return np.flatnonzero(first == np.arange(first.size))


# --- weighted log-rank ---------------------------------------------------------------------------


def variance_terms(rs: RiskSets) -> tuple[np.ndarray, np.ndarray]:
    """Per event element: arm1 - n1/n (O - E) and the hypergeometric variance share."""
    n = np.where(rs.event, rs.n0 + rs.n1, 1.0)
    frac = np.where(rs.event, rs.n1 / n, 0.0)
    o_minus_e = np.where(rs.event, rs.arm1 - frac, 0.0)
    var_term = frac * (1.0 - frac) * (rs.n0 + rs.n1 - rs.d) / np.maximum(n - 1.0, 1.0)
    return o_minus_e, np.where(rs.event, var_term, 0.0)


def fh_weights(rs: RiskSets, rho: float, gamma: float) -> np.ndarray:
    """S(t-)^rho (1 - S(t-))^gamma from the pooled Kaplan-Meier of each stratum (0^0 = 1)."""
    s = surv_before(rs, km_log_factors_pooled(rs))
    return s**rho * (1.0 - s) ** gamma


def mb_weights(rs: RiskSets, t_star: float, w_max: float = np.inf) -> np.ndarray:
    """Magirr-Burman: 1 / max(S(t-), S(t*)), capped at w_max (S pooled, within stratum)."""
    lf = np.where(rs.time <= t_star, km_log_factors_pooled(rs), 0.0)
    return np.minimum(1.0 / surv_before(rs, lf), w_max)


def weighted_logrank(rs: RiskSets, weights: np.ndarray) -> TestResult:
    """Weighted log-rank: U = sum w (O1 - E1), V = sum w^2 v over events; z = U / sqrt(V);
    estimate = U, se = sqrt(V)."""
    o_minus_e, var_term = variance_terms(rs)
    u = (weights * o_minus_e).sum(axis=1)
    v = (weights * weights * var_term).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(v > 0, u / np.sqrt(v), np.nan)
    return from_z(u, np.sqrt(v), z)


def fleming_harrington(rs: RiskSets, rho: float, gamma: float) -> TestResult:
    return weighted_logrank(rs, fh_weights(rs, rho, gamma))


def magirr_burman(rs: RiskSets, t_star: float, w_max: float = np.inf) -> TestResult:
    return weighted_logrank(rs, mb_weights(rs, t_star, w_max))


# --- MaxCombo ----------------------------------------------------------------------------------


def maxcombo(
    rs: RiskSets,
    combo: tuple[tuple[float, float], ...],
    sides: tuple[int, ...] = (1, 2),
    abs_tol: float = MVN_ABS_TOL,
    precise_near: tuple[float, ...] | None = None,
) -> tuple[TestResult, np.ndarray]:
    """MaxCombo over FH(rho, gamma) tests: z_min = min_k z_k, one-sided
    p = 1 - P(Z_k > z_min for all k), two-sided p = 1 - P(|Z_k| < max_k |z_k| for all k),
    Z ~ N(0, C), C_jk = sum w_j w_k v / sqrt(V_j V_k). Returns the result (estimate = z_min,
    z = Phi^-1(one-sided p), so z < 0 favours arm 1) and the correlations (R, K, K).
    `sides` limits which p-values are computed (the other is nan).

    p-values are accurate to `abs_tol` (3 QMC standard errors). With `precise_near`
    (significance levels, as in the simulation), only rows whose p might lie within
    COARSE_TOL of one of them get that accuracy; the others keep a COARSE_TOL one, which
    cannot change a decision at those levels (a speed-up of ~50x for a chunk)."""
    o_minus_e, var_term = variance_terms(rs)
    s = surv_before(rs, km_log_factors_pooled(rs))
    w = np.stack([s**rho * (1.0 - s) ** gamma for rho, gamma in combo])  # (K, R, n)
    u = (w * o_minus_e).sum(axis=2).T  # (R, K)
    cov = np.einsum("jrn,krn,rn->rjk", w, w, var_term)
    var = np.diagonal(cov, axis1=1, axis2=2)
    ok = np.all(var > 0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(np.where(ok[:, None], var, 1.0))
        z = u / sd
        corr = cov / (sd[:, :, None] * sd[:, None, :])
    corr = np.where(ok[:, None, None], corr, np.eye(len(combo)))
    z_min = np.where(ok, z.min(axis=1), np.nan)
    p_one = np.full(len(z), np.nan)
    p_two = np.full(len(z), np.nan)
    k = len(combo)
    if 1 in sides and ok.any():
        upper = np.repeat(-z_min[ok, None], k, axis=1)
        p_one[ok] = 1.0 - tiered_probability(
            np.full_like(upper, -np.inf), upper, corr[ok], abs_tol, precise_near, complement=True
        )
    if 2 in sides and ok.any():
        m = np.abs(z[ok]).max(axis=1)
        upper = np.repeat(m[:, None], k, axis=1)
        p_two[ok] = 1.0 - tiered_probability(
            -upper, upper, corr[ok], abs_tol, precise_near, complement=True
        )
    p_one = np.clip(p_one, 0.0, 1.0)
    p_two = np.clip(p_two, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        z_adj = special.ndtri(p_one)
    return TestResult(z_min, np.full(len(z), np.nan), z_adj, p_one, p_two), corr


COARSE_TOL = 2e-3  # first-pass accuracy of the replicate MaxCombo p-values away from alpha


def tiered_probability(
    lower: np.ndarray,
    upper: np.ndarray,
    corr: np.ndarray,
    abs_tol: float,
    precise_near: tuple[float, ...] | None,
    complement: bool = False,
) -> np.ndarray:
    """`mvn_box_probability`, to `abs_tol` everywhere (precise_near None) or only where the
    p-value (1 - probability if `complement`) may be within 2 COARSE_TOL of a level."""
    if precise_near is None:
        return mvn_box_probability(lower, upper, corr, abs_tol)
    prob = mvn_box_probability(lower, upper, corr, COARSE_TOL, max_points=2**12)
    p = 1.0 - prob if complement else prob
    near = np.zeros(len(p), bool)
    for level in precise_near:
        near |= np.abs(p - level) < 2.0 * COARSE_TOL
    if near.any():
        prob[near] = mvn_box_probability(lower[near], upper[near], corr[near], abs_tol)
    return prob


def mvn_box_probability(
    lower: np.ndarray,
    upper: np.ndarray,
    corr: np.ndarray,
    abs_tol: float = MVN_ABS_TOL,
    max_points: int = 2**16,
    seed: int = 20240601,
) -> np.ndarray:
    """P(lower < Z < upper) for Z ~ N(0, corr[r]), every row r at once.

    Genz's (1992) separation of variables on a Cholesky factor L (Z = L Y, Y ~ N(0, I)),
    Y_i drawn truncated to the bounds its row puts on it given Y_1..Y_{i-1}. A singular
    matrix is handled as Genz & Bretz (2009): a row with no pivot left (L_ii^2 < 1e-10,
    e.g. FH(0,0) = FH(0,1) + FH(1,0) in the default MaxCombo) is a linear constraint on the
    earlier Y's and narrows the bounds of its last Y (so the integrand stays smooth). The
    integral over the free uniforms is by randomized quasi-Monte Carlo (rank-1 Richtmyer
    lattice with the baker's transform, 10 random shifts), doubling the points until
    3 standard errors are below `abs_tol` in every row (or `max_points`). A fixed seed
    makes the result a deterministic function of the inputs."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    n_rows, k = upper.shape
    chol, free = singular_cholesky(np.asarray(corr, float))
    n_dims = max(int(free.sum(axis=1).max()) - 1, 1)
    result = np.zeros(n_rows)
    todo = np.arange(n_rows)
    rng = np.random.default_rng(seed)
    n_shifts = 10
    primes = np.array([2.0, 3.0, 5.0, 7.0, 11.0, 13.0, 17.0, 19.0, 23.0, 29.0, 31.0, 37.0])
    alpha = np.sqrt(primes[:n_dims])
    points = 512
    while True:
        shifts = rng.random((n_shifts, n_dims))
        base = np.outer(np.arange(1, points + 1), alpha) % 1.0
        estimates = np.empty((n_shifts, len(todo)))
        for s in range(n_shifts):
            w = np.abs(2.0 * ((base + shifts[s]) % 1.0) - 1.0)  # baker's transform
            estimates[s] = genz_integrand(lower[todo], upper[todo], chol[todo], free[todo], w).mean(
                axis=1
            )
        result[todo] = estimates.mean(axis=0)
        err = 3.0 * estimates.std(axis=0, ddof=1) / np.sqrt(n_shifts)
        done = err < abs_tol
        if done.all() or points * 2 > max_points:
            break
        todo = todo[~done]
        points *= 2
    return result


def singular_cholesky(corr: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factors (R, K, K) of positive semi-definite matrices, with zero
    columns where no pivot is left (pivot^2 < tol), and the mask (R, K) of rows with a
    pivot (free variables)."""
    n_rows, k, _ = corr.shape
    chol = np.zeros_like(corr)
    free = np.zeros((n_rows, k), bool)
    for j in range(k):
        pivot = corr[:, j, j] - (chol[:, j, :j] ** 2).sum(axis=1)
        free[:, j] = pivot > tol
        root = np.sqrt(np.where(free[:, j], pivot, 1.0))
        chol[:, j, j] = np.where(free[:, j], root, 0.0)
        for i in range(j + 1, k):
            value = (corr[:, i, j] - (chol[:, i, :j] * chol[:, j, :j]).sum(axis=1)) / root
            chol[:, i, j] = np.where(free[:, j], value, 0.0)
    return chol, free


def genz_integrand(
    lower: np.ndarray, upper: np.ndarray, chol: np.ndarray, free: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """The separation-of-variables integrand at lattice points w (M, D) for rows (R,):
    f = prod over free i of (e_i - d_i), d_i, e_i = Phi of the bounds on Y_i from row i and
    from the pivotless rows whose last nonzero coefficient is i, and
    Y_i = Phi^-1(d_i + w (e_i - d_i)) (w: the next lattice coordinate). Returns (R, M)."""
    n_rows, k = upper.shape
    m = w.shape[0]
    y = np.zeros((k, n_rows, m))
    f = np.ones((n_rows, m))
    nonzero = np.abs(chol) > 1e-8  # round-off of an exact dependence is ~1e-15
    anchor = k - 1 - np.argmax(nonzero[:, :, ::-1], axis=2)  # last nonzero column per row
    dim = np.cumsum(free, axis=1) - 1  # the lattice coordinate Y_i uses
    for i in range(k):
        if not free[:, i].any():
            continue
        lo = np.full((n_rows, m), -np.inf)
        hi = np.full((n_rows, m), np.inf)
        for row in range(i, k):
            applies = (anchor[:, row] == i) & free[:, i] & ((row == i) | ~free[:, row])
            if not applies.any():
                continue
            coef = np.where(applies, chol[:, row, i], 1.0)[:, None]
            shift = np.einsum("rj,jrm->rm", chol[:, row, :i], y[:i]) if i else 0.0
            a = (lower[:, row, None] - shift) / coef
            b = (upper[:, row, None] - shift) / coef
            low, high = np.where(coef > 0, a, b), np.where(coef > 0, b, a)
            lo = np.where(applies[:, None], np.maximum(lo, low), lo)
            hi = np.where(applies[:, None], np.minimum(hi, high), hi)
        d = special.ndtr(lo)
        e = special.ndtr(np.maximum(hi, lo))
        f = np.where(free[:, i, None], f * (e - d), f)
        if dim[:, i].min() < w.shape[1] and i < k - 1:
            coord = np.clip(dim[:, i], 0, w.shape[1] - 1)
            u = w[:, coord].T  # (R, M)
            q = np.clip(d + u * (e - d), 1e-300, 1.0 - 1e-16)
            y[i] = np.where(free[:, i, None], special.ndtri(q), 0.0)
    return f


# --- per-arm Kaplan-Meier: RMST, milestone, AHR ------------------------------------------------


@dataclass(frozen=True)
class ArmCurves:
    """Per arm a (0, 1), on the sorted layout: group-level KM log factors placed on each tie
    group's first element (lf), events d_a and at-risk n_a there, and S_a(t-) per element."""

    lf: tuple[np.ndarray, np.ndarray]
    d: tuple[np.ndarray, np.ndarray]
    n: tuple[np.ndarray, np.ndarray]
    s_before: tuple[np.ndarray, np.ndarray]
    is_first: np.ndarray


def arm_curves(rs: RiskSets) -> ArmCurves:
    need_layout(rs)
    flat = np.arange(rs.time.size).reshape(rs.time.shape)
    is_first = rs.group_first == flat
    d_arm = (rs.d - rs.d1, rs.d1)
    n_arm = (rs.n0, rs.n1)
    lfs, ds, ns, sb = [], [], [], []
    for d, n in zip(d_arm, n_arm, strict=True):
        d = np.where(is_first, d, 0.0)
        n = np.where(is_first, n, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lf = np.where(d > 0, np.log(np.maximum(n - d, 0.0) / np.where(n > 0, n, 1.0)), 0.0)
        lf = np.maximum(lf, LOG_ZERO)
        lfs.append(lf)
        ds.append(d)
        ns.append(n)
        sb.append(surv_before(rs, lf))
    return ArmCurves(tuple(lfs), tuple(ds), tuple(ns), tuple(sb), is_first)


def combine_strata(rs: RiskSets, est: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row estimates and variances from per-stratum ones (flat arrays keyed by the stratum's
    first position), weighted by stratum size n_s / n."""
    starts = stratum_starts(rs)
    n_rows, n = rs.time.shape
    size = (rs.n0 + rs.n1).ravel()[starts]  # everyone of the stratum is at risk at its start
    row = starts // n
    total = np.bincount(row, weights=size, minlength=n_rows)
    weight = np.where(size > 0, size / total[row], 0.0)
    e = np.bincount(row, weights=weight * np.where(size > 0, est[starts], 0.0), minlength=n_rows)
    bad = np.bincount(row, weights=(size > 0) & ~np.isfinite(est[starts]), minlength=n_rows)
    v = np.bincount(row, weights=weight**2 * np.where(size > 0, var[starts], 0.0), minlength=n_rows)
    return np.where(bad > 0, np.nan, e), np.where(bad > 0, np.nan, v)


def stratum_arm_sizes(rs: RiskSets) -> tuple[np.ndarray, np.ndarray]:
    """Flat (keyed by stratum start) number of arm-0 and arm-1 patients per stratum."""
    size0 = np.zeros(rs.time.size)
    size1 = np.zeros(rs.time.size)
    starts = stratum_starts(rs)
    size0[starts] = rs.n0.ravel()[starts]
    size1[starts] = rs.n1.ravel()[starts]
    return size0, size1


def rmst_by_arm(rs: RiskSets, tau: float, curves: ArmCurves | None = None):
    """Per stratum and arm: (RMST to tau, its variance), flat arrays keyed by stratum start.

    RMST = int_0^tau S(u) du of the Kaplan-Meier (flat after the last observation);
    var = sum over event times t_g <= tau of A_g^2 d / (n (n - d)), A_g = int_{t_g}^tau S
    (0 where n = d), as survival's print(survfit, rmean = tau)."""
    curves = curves or arm_curves(rs)
    t = np.minimum(rs.time, tau)
    flat = np.arange(rs.time.size).reshape(rs.time.shape)
    prev = np.concatenate([np.zeros((t.shape[0], 1)), t[:, :-1]], axis=1)
    prev = np.where(rs.stratum_first == flat, 0.0, prev)
    delta = t - prev
    out = []
    for a in (0, 1):
        piece = delta * curves.s_before[a]
        tail_s = np.exp(stratum_sum(rs, curves.lf[a]))
        last_t = np.zeros(rs.time.size)
        last_pos = rs.stratum_end.ravel() - 1
        last_t[rs.stratum_first.ravel()] = t.ravel()[last_pos]
        area = stratum_sum(rs, piece) + tail_s * (tau - last_t)
        c, _ = exclusive_cumsum(piece)
        upto = c + piece.ravel() - c[rs.stratum_first.ravel()]  # int_0^{t_i} S at element i
        d, n = curves.d[a].ravel(), curves.n[a].ravel()
        rest = area[rs.stratum_first.ravel()] - upto
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where((d > 0) & (n > d) & (rs.time.ravel() <= tau), d / (n * (n - d)), 0.0)
        var = stratum_sum(rs, (h * rest * rest).reshape(rs.time.shape))
        out.append((area, var))
    size0, size1 = stratum_arm_sizes(rs)
    for a, size in ((0, size0), (1, size1)):
        out[a] = (np.where(size > 0, out[a][0], np.nan), out[a][1])
    return out


def rmst_difference(rs: RiskSets, tau: float) -> tuple[TestResult, np.ndarray, np.ndarray]:
    """RMST(arm 1) - RMST(arm 0) to tau with its SE (strata combined by n_s / n);
    z = -difference / se. Also returns each arm's RMST per row (unstratified rows: the
    arm's RMST; stratified: the n_s / n mix)."""
    (a0, v0), (a1, v1) = rmst_by_arm(rs, tau)
    diff, var = combine_strata(rs, a1 - a0, v0 + v1)
    r0, _ = combine_strata(rs, a0, v0)
    r1, _ = combine_strata(rs, a1, v1)
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, -diff / se, np.nan)
    return from_z(diff, se, z), r0, r1


def milestone_by_arm(rs: RiskSets, t: float, curves: ArmCurves | None = None):
    """Per stratum and arm: (KM S(t), Greenwood variance S^2 sum d / (n (n - d))), flat
    keyed by stratum start; nan where nobody of the arm is followed to t (and S > 0)."""
    curves = curves or arm_curves(rs)
    upto = rs.time <= t
    out = []
    for a in (0, 1):
        s = np.exp(stratum_sum(rs, np.where(upto, curves.lf[a], 0.0)))
        d, n = curves.d[a], curves.n[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where((d > 0) & (n > d) & upto, d / (n * (n - d)), 0.0)
        member = (~rs.arm1 if a == 0 else rs.arm1) & (rs.valid if rs.valid is not None else True)
        followed = stratum_sum(rs, (member & (rs.time >= t)).astype(float))
        size = stratum_sum(rs, member.astype(float))
        s = np.where((followed > 0) | (s <= 0.0), s, np.nan)
        s = np.where(size > 0, s, np.nan)
        out.append((s, s * s * stratum_sum(rs, g)))
    return out


def milestone_difference(rs: RiskSets, t: float) -> TestResult:
    """S_1(t) - S_0(t) (Kaplan-Meier) with the Greenwood SE; z = -difference / se."""
    (s0, v0), (s1, v1) = milestone_by_arm(rs, t)
    diff, var = combine_strata(rs, s1 - s0, v0 + v1)
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, -diff / se, np.nan)
    return from_z(diff, se, z)


def average_hazard_ratio(rs: RiskSets, tau: float = np.inf) -> TestResult:
    """Kalbfleisch-Prentice average hazard ratio of arm 1 vs arm 0 up to tau:
    AHR = A1 / A0, A_a = sum_{t_g <= tau} S0(t_g-) S1(t_g-) d_a / n_a (per-arm KM and
    Nelson-Aalen), which estimates P(T1 < T0) / P(T0 < T1) (= HR under proportional hazards).
    Var(log AHR) = V1 / A1^2 + V0 / A0^2 with V_a = sum W^2 d_a / n_a^2 (the weight W is
    predictable, so under H0 z = log(AHR) / se is asymptotically N(0, 1)). Strata: A_a and
    V_a combined with weights n_s / n and (n_s / n)^2. estimate = AHR, se = se(log AHR)."""
    curves = arm_curves(rs)
    weight = curves.s_before[0] * curves.s_before[1]
    upto = rs.time <= tau
    a_sum, v_sum = [], []
    for a in (0, 1):
        d, n = curves.d[a], curves.n[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where((d > 0) & upto, d / np.where(n > 0, n, 1.0), 0.0)
            var = np.where((d > 0) & upto, d / np.where(n > 0, n * n, 1.0), 0.0)
        area, _ = combine_strata(rs, stratum_sum(rs, weight * inc), np.zeros(rs.time.size))
        a_sum.append(area)
        v_sum.append(strata_square_weighted(rs, stratum_sum(rs, weight * weight * var)))
    a0, a1 = a_sum
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ahr = np.log(a1 / a0)
        se = np.sqrt(v_sum[1] / a1**2 + v_sum[0] / a0**2)
        z = np.where((a0 > 0) & (a1 > 0) & (se > 0), log_ahr / se, np.nan)
    return from_z(np.exp(log_ahr), se, z)


def strata_square_weighted(rs: RiskSets, var: np.ndarray) -> np.ndarray:
    """sum_s (n_s / n)^2 var_s per row (var keyed by stratum start)."""
    _, v = combine_strata(rs, np.zeros(rs.time.size), var)
    return v


# --- one test from its spec ----------------------------------------------------------------------


def run_test(
    spec: TestSpec,
    rs: RiskSets,
    time_scale: float = 1.0,
    sides: tuple[int, ...] = (1, 2),
    precise_near: tuple[float, ...] | None = None,
    logrank: LogrankResult | None = None,
    abs_tol: float = MVN_ABS_TOL,
) -> TestResult:
    """The test `spec` (a `sim.scenario.TestSpec`) on a risk-set table whose times are in
    units with `time_scale` units per month (30.4375 for days): the spec's months are
    converted, and RMST estimates are reported in months. `logrank`: an already computed
    `LogrankResult` of the same table, reused for the log-rank."""
    kind = spec.kind
    if kind == "logrank":
        if logrank is None:
            from sim.stats.analysis import logrank_from_risk_sets

            logrank = logrank_from_risk_sets(rs)
        return TestResult(
            logrank.o1 - logrank.e1, np.sqrt(logrank.var), logrank.z, logrank.p_one, logrank.p_two
        )
    if kind == "fh":
        return fleming_harrington(rs, spec.rho, spec.gamma)
    if kind == "mb":
        return magirr_burman(rs, spec.months * time_scale, spec.w_max)
    if kind == "maxcombo":
        return maxcombo(rs, spec.combo, sides, abs_tol, precise_near)[0]
    if kind == "rmst":
        result = rmst_difference(rs, spec.months * time_scale)[0]
        return TestResult(
            result.estimate / time_scale,
            result.se / time_scale,
            result.z,
            result.p_one,
            result.p_two,
        )
    if kind == "milestone":
        return milestone_difference(rs, spec.months * time_scale)
    if kind == "ahr":
        tau = np.inf if spec.months is None else spec.months * time_scale
        return average_hazard_ratio(rs, tau)
    raise ValueError(f"unknown test kind {kind!r}")
