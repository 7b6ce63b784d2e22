"""The randomization's own outputs for a chunk: each factor's imbalance between the arms,
and the re-randomization test (analysis.rerandomization_draws).

Re-randomization test (Rosenberger and Lachin, ch. 6; the test regulators ask for after
minimization, EMA 2015 guideline on baseline covariates): the same patients, in the same
order with the same factor levels and the same outcomes at the cut, are randomized again
by the scenario's method with fresh uniforms, B times; each time the stratified log-rank
z is recomputed. The p-value is (1 + the number of re-randomized z at least as extreme as
the observed) / (B + 1): one-sided, z at or below the observed (benefit: z < 0);
two-sided, |z| at or above |observed| (the +1 counts the observed allocation itself, so
the test keeps its level whatever B).
"""

from __future__ import annotations

import numpy as np

from sim.conduct.datacut import CutData
from sim.conduct.randomization import rerandomize
from sim.conduct.randomization_minimization import FactorLevels, factor_imbalance
from sim.engine.trial import Cohort, TrialModel
from sim.stats import analysis

DRAWS_PER_BLOCK = 50  # re-randomizations stacked per batch (memory: 50 x R x N per array)


def imbalance_columns(model: TrialModel, cohort: Cohort) -> dict[str, np.ndarray]:
    """`imbalance_<factor>` per replicate for the reported factors (nothing without any)."""
    if cohort.factors is None:
        return {}
    ratio = model.scenario.randomization.ratio
    imbalance = factor_imbalance(cohort.factors, cohort.arm, ratio)
    return {f"imbalance_{name}": value for name, value in imbalance.items()}


def stratified_z(
    time: np.ndarray, event: np.ndarray, arm: np.ndarray, stratum: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """The stratified log-rank z of each row (z < 0: benefit)."""
    return analysis.logrank_from_risk_sets(
        analysis.risk_sets(time, event, arm, stratum, valid=valid)
    ).z


def tile_factors(factors: FactorLevels | None, times: int) -> FactorLevels | None:
    if factors is None:
        return None
    return FactorLevels(factors.names, np.tile(factors.levels, (times, 1, 1)), factors.n_levels)


def rerandomization_p(
    model: TrialModel,
    cohort: Cohort,
    cut: CutData,
    observed: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The re-randomization test's p-value of each replicate (see the module docstring);
    `observed`: the stratified log-rank z of the trial's own allocation (`analyze_cut`'s
    z_stratified)."""
    a = model.scenario.analysis
    draws = a.rerandomization_draws
    assert draws is not None
    randomization = model.scenario.randomization
    n_reps = observed.shape[0]
    # the same patients and cut data in every re-randomization: stacked once, a block's
    # first b copies taken from them
    most = min(DRAWS_PER_BLOCK, draws)
    stacked = [np.tile(x, (most, 1)) for x in (cohort.stratum, cut.time, cut.event, cut.valid)]
    factors = tile_factors(cohort.factors, most)
    extreme = np.zeros(n_reps)
    done = 0
    while done < draws:
        b = min(DRAWS_PER_BLOCK, draws - done)
        stratum, time, event, valid = (x[: b * n_reps] for x in stacked)
        block_factors = factors
        if factors is not None and b < most:
            block_factors = FactorLevels(
                factors.names, factors.levels[: b * n_reps], factors.n_levels
            )
        arm = rerandomize(randomization, stratum, block_factors, rng)
        z = stratified_z(time, event, arm, stratum, valid).reshape(b, n_reps)
        if a.sides == 1:
            hit = z <= observed + 1e-12
        else:
            hit = np.abs(z) >= np.abs(observed) - 1e-12
        extreme += np.where(np.isnan(z), False, hit).sum(axis=0)  # nan: no information
        done += b
    p = (1.0 + extreme) / (draws + 1.0)
    return np.where(np.isnan(observed), np.nan, p)


def rerandomization_columns(
    model: TrialModel,
    cohort: Cohort,
    cut: CutData,
    observed: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """`p_rerandomization` and `reject_rerandomization` (p < alpha) at the analysis that
    concluded each trial, `observed` its stratified log-rank z; nothing without
    analysis.rerandomization_draws."""
    a = model.scenario.analysis
    if a.rerandomization_draws is None:
        return {}
    p = rerandomization_p(model, cohort, cut, observed, rng)
    return {
        "p_rerandomization": p,
        "reject_rerandomization": np.where(np.isfinite(p), p < a.alpha, False),
    }
