"""Randomization: stratified permuted blocks (or minimization,
`sim.conduct.randomization_minimization`), vectorized over replicates.

Each stratum of each replicate has its own allocation sequence: blocks whose size is drawn
uniformly from `block_sizes`, each holding control and experimental in the ratio exactly,
in random order. The k-th patient randomized in a stratum takes the k-th allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from sim.conduct.randomization_minimization import (
    FactorLevels,
    draw_covariates,
    factor_levels,
    minimize,
)
from sim.scenario import Randomization

CONTROL, EXPERIMENTAL = 0, 1


def block_patterns(randomization: Randomization) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct arrangement of each block size: table (sizes, patterns, slots), counts.

    A permuted block is a uniformly random arrangement of its multiset of arms, so drawing one
    of the C(b, k) distinct arrangements uniformly is the same as shuffling the block.
    """
    sizes = randomization.block_sizes
    share = randomization.ratio[1] / sum(randomization.ratio)
    layouts = [list(combinations(range(b), round(b * share))) for b in sizes]
    table = np.zeros((len(sizes), max(map(len, layouts)), max(sizes)), dtype=np.int8)
    for i, layout in enumerate(layouts):
        for j, experimental_slots in enumerate(layout):
            table[i, j, list(experimental_slots)] = 1
    return table, np.asarray([len(layout) for layout in layouts])


def rank_within_stratum(stratum: np.ndarray, n_strata: int) -> np.ndarray:
    """0-based order of each patient among those of its stratum (rows in randomization order)."""
    rank = np.zeros(stratum.shape, dtype=np.int64)
    for s in range(n_strata):  # a few strata, not a data loop
        member = stratum == s
        rank += np.where(member, np.cumsum(member, axis=1) - 1, 0)
    return rank


def randomize_by_block(
    stratum: np.ndarray, randomization: Randomization, rng: np.random.Generator
) -> np.ndarray:
    """Arms (R, N) for patients already in randomization order with their strata (R, N).

    Each (replicate, stratum) has its own sequence of blocks; the k-th patient of a stratum
    gets position k of that sequence: block j with cumulative size > k, offset k - start_j.
    """
    n_reps, n = stratum.shape
    n_strata = len(randomization.strata)
    rank = rank_within_stratum(stratum, n_strata)
    length = int(rank.max()) + 1
    table, n_patterns = block_patterns(randomization)
    sizes = np.asarray(randomization.block_sizes)
    n_blocks = -(-length // int(sizes.min()))
    kind = rng.integers(0, len(sizes), (n_reps * n_strata, n_blocks))
    pattern = (rng.random(kind.shape) * n_patterns[kind]).astype(np.int64)
    size = sizes[kind]
    ends = np.cumsum(size, axis=1)
    # One flat searchsorted over all sequences: offset each group's positions by group x span.
    span = int(ends[:, -1].max()) + 1
    group = np.arange(n_reps)[:, None] * n_strata + stratum
    flat_ends = (ends + np.arange(n_reps * n_strata)[:, None] * span).ravel()
    block = np.searchsorted(flat_ends, (group * span + rank).ravel(), side="right")
    start = (flat_ends - size.ravel())[block] - (block // n_blocks) * span
    offset = rank.ravel() - start
    arm = table[kind.ravel()[block], pattern.ravel()[block], offset]
    return arm.reshape(n_reps, n)


@dataclass(frozen=True)
class Allocation:
    """The arms (R, N) and, when the scenario minimizes or draws covariates, the patients'
    levels of the factors whose imbalance is reported (None otherwise)."""

    arm: np.ndarray
    factors: FactorLevels | None = None


def reported_factors(randomization: Randomization) -> tuple[str, ...]:
    """Factors whose imbalance a run reports: minimization's, or with covariates and
    permuted blocks the strata and the covariates (none otherwise)."""
    if randomization.method == "minimization":
        return randomization.minimization_rule.factors
    if randomization.covariates:
        return ("stratum", *randomization.covariates)
    return ()


def allocate_arms(
    randomization: Randomization,
    stratum: np.ndarray,
    site: np.ndarray,
    n_sites: int,
    rng: np.random.Generator,
    covariate_rng: np.random.Generator,
) -> Allocation:
    """Arms of patients in randomization order: permuted blocks from `rng` (the historic
    draws, untouched), or minimization with its uniforms from `rng`; covariates, when the
    scenario has any, from `covariate_rng` (a stream of their own, so the same patients
    whichever the method)."""
    names = reported_factors(randomization)
    factors = None
    if names:
        covariates = draw_covariates(randomization.covariates, stratum.shape, covariate_rng)
        factors = factor_levels(names, stratum, site, covariates, randomization, n_sites)
    if randomization.method == "minimization":
        assert factors is not None
        return Allocation(minimize(factors, randomization, rng), factors)
    return Allocation(randomize_by_block(stratum, randomization, rng), factors)


def rerandomize(
    randomization: Randomization,
    stratum: np.ndarray,
    factors: FactorLevels | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """The same patients (their strata, their factor levels) randomized again by the
    scenario's method with fresh uniforms from `rng`."""
    if randomization.method == "minimization":
        assert factors is not None
        return minimize(factors, randomization, rng)
    return randomize_by_block(stratum, randomization, rng)
