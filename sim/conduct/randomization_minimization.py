"""Minimization (Pocock and Simon 1975), vectorized over replicates.

Patients come in randomization order, each with a level of every factor (its stratum, its
site, covariates drawn per patient with the scenario's shares). For patient i and each arm a,
the counts of the patient's own level of every factor f are taken as if i went to a; the
imbalance of f is the range (or the variance) of those counts divided by the allocation
ratio, and G_a = sum_f w_f x imbalance_f. The arm with the smaller G is preferred (a tie:
each arm with its allocation share) and assigned with probability p, the other arm with
1 - p. Only the levels of patient i enter, as in Pocock and Simon's paper: the other levels'
counts do not change whichever arm i goes to.

The uniforms are drawn in bulk before the sequence (two per patient: the tie-break and the
coin), so the same stream gives the same arms however the loop is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sim.scenario import Randomization


@dataclass(frozen=True)
class FactorLevels:
    """The level of every patient on every factor, in randomization order."""

    names: tuple[str, ...]  # factor names: stratum, site, covariates
    levels: np.ndarray  # (R, N, F) int: level of patient n on factor f
    n_levels: tuple[int, ...]  # levels of each factor


def draw_covariates(
    covariates: Mapping[str, Mapping[str, float]], shape: tuple[int, int], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Each covariate's level index per patient, (R, N), drawn with its shares (one uniform
    per patient and covariate, covariates in the scenario's order)."""
    drawn = {}
    for name, shares in covariates.items():
        edges = np.cumsum(list(shares.values()))
        level = np.searchsorted(edges, rng.random(shape), side="right")
        drawn[name] = np.minimum(level, len(shares) - 1)  # a share sum of 1 - 1e-16
    return drawn


def factor_levels(
    names: tuple[str, ...],
    stratum: np.ndarray,
    site: np.ndarray,
    covariates: Mapping[str, np.ndarray],
    randomization: Randomization,
    n_sites: int,
) -> FactorLevels:
    """The levels of the named factors: stratum, site and the drawn covariates."""
    columns, counts = [], []
    for name in names:
        if name == "stratum":
            columns.append(stratum)
            counts.append(len(randomization.strata))
        elif name == "site":
            columns.append(site)
            counts.append(n_sites)
        else:
            columns.append(covariates[name])
            counts.append(len(randomization.covariates[name]))
    return FactorLevels(names, np.stack(columns, axis=-1).astype(np.int64), tuple(counts))


def minimize_with_uniforms(
    factors: FactorLevels,
    weights: np.ndarray,
    ratio: tuple[int, int],
    p: float,
    imbalance: str,
    uniforms: np.ndarray,
) -> np.ndarray:
    """Arms (R, N) by minimization; `uniforms` (2, R, N): the tie-breaks, then the coins.

    weights (F,): each factor's weight; imbalance: "range" or "variance" (of two values:
    (x0 - x1)^2 / 4); ratio: control, experimental. A tie goes to experimental when its
    uniform is below the experimental share; the preferred arm is kept when the coin's
    uniform is below p."""
    n_reps, n, n_factors = factors.levels.shape
    width = max(factors.n_levels)
    counts = np.zeros((n_reps, n_factors, width, 2))
    scale = 1.0 / np.asarray(ratio, float)
    share = ratio[1] / sum(ratio)
    rows = np.arange(n_reps)[:, None]
    cols = np.arange(n_factors)[None, :]
    arms = np.empty((n_reps, n), dtype=np.int8)
    for i in range(n):  # a sequential rule: each patient's arm depends on those before
        level = factors.levels[:, i, :]
        mine = counts[rows, cols, level]  # (R, F, 2)
        control, experimental = mine[..., 0], mine[..., 1]
        g = []
        # the imbalance with the patient on control, then on experimental
        for diff in (
            (control + 1.0) * scale[0] - experimental * scale[1],
            control * scale[0] - (experimental + 1.0) * scale[1],
        ):
            per_factor = np.abs(diff) if imbalance == "range" else diff * diff / 4.0
            g.append(per_factor @ weights)
        tie = np.isclose(g[0], g[1], rtol=0.0, atol=1e-12)
        preferred = np.where(tie, uniforms[0, :, i] < share, g[1] < g[0])
        arm = np.where(uniforms[1, :, i] < p, preferred, ~preferred).astype(np.int8)
        arms[:, i] = arm
        counts[rows, cols, level, arm[:, None]] += 1.0
    return arms


def minimize(
    factors: FactorLevels, randomization: Randomization, rng: np.random.Generator
) -> np.ndarray:
    """Arms (R, N) by the scenario's minimization rule, its uniforms from `rng`."""
    rule = randomization.minimization_rule
    weights = np.asarray([rule.weights.get(name, 1.0) for name in factors.names])
    n_reps, n, _ = factors.levels.shape
    uniforms = rng.random((2, n_reps, n))
    return minimize_with_uniforms(
        factors, weights, randomization.ratio, rule.p, rule.imbalance, uniforms
    )


def factor_imbalance(
    factors: FactorLevels, arm: np.ndarray, ratio: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Per factor, per replicate: the sum over the factor's levels of |n_experimental -
    n_control x ratio_e / ratio_c| among the patients randomized (|n_e - n_c| at 1:1)."""
    out = {}
    factor = ratio[1] / ratio[0]
    for f, name in enumerate(factors.names):
        total = np.zeros(arm.shape[0])
        for level in range(factors.n_levels[f]):  # a few levels, not a data loop
            member = factors.levels[:, :, f] == level
            n_e = (member & (arm == 1)).sum(axis=1)
            n_c = (member & (arm == 0)).sum(axis=1)
            total += np.abs(n_e - n_c * factor)
        out[name] = total
    return out
