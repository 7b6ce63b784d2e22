"""Latent outcomes: PFS time, whether the PFS event is a death, and withdrawal time.

All times are days from randomization, drawn in bulk for (R, N) patients. PFS is piecewise
exponential in the control arm (exponential = one piece); the experimental arm multiplies
every piece's hazard by the hazard ratio (proportional hazards). Times are drawn by inverting
the cumulative hazard, T = H^-1(E) with E ~ Exp(1), so that two scenarios differing only in
the hazard ratio share the same E (common random numbers give monotone coupling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Scenario


@dataclass(frozen=True)
class LatentOutcomes:
    pfs_day: np.ndarray  # (R, N) latent PFS time
    is_death: np.ndarray  # (R, N) bool: the PFS event is a death (seen when it happens)
    withdraw_day: np.ndarray  # (R, N) withdrawal / loss to follow-up (inf if none)


def invert_piecewise_hazard(
    e: np.ndarray, starts: np.ndarray, hazards: np.ndarray
) -> np.ndarray:
    """T with cumulative hazard H(T) = e for hazards[j] on [starts[j], starts[j+1])."""
    if len(hazards) == 1:  # exponential: no piece to look up
        return e / hazards[0] if hazards[0] > 0 else np.full_like(e, np.inf)
    widths = np.diff(starts)
    cum = np.concatenate([[0.0], np.cumsum(hazards[:-1] * widths)])
    piece = np.searchsorted(cum, e, side="right") - 1
    h = hazards[piece]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(h > 0, starts[piece] + (e - cum[piece]) / h, np.inf)


def draw_latent_outcomes(
    scenario: Scenario, arm: np.ndarray, rng: np.random.Generator
) -> LatentOutcomes:
    shape = arm.shape
    e_pfs = rng.standard_exponential(shape)
    u_death = rng.random(shape)
    e_drop = rng.standard_exponential(shape)
    starts, hazards = (np.asarray(x, dtype=float) for x in scenario.pfs.control.hazard_table())
    control = invert_piecewise_hazard(e_pfs, starts, hazards)
    experimental = invert_piecewise_hazard(
        e_pfs, starts, hazards * scenario.effect.hazard_ratio
    )
    eta = scenario.dropout.hazard_per_day
    withdraw = e_drop / eta if eta > 0 else np.full(shape, np.inf)
    return LatentOutcomes(
        pfs_day=np.where(arm == 1, experimental, control),
        is_death=u_death < scenario.pfs.death_fraction,
        withdraw_day=withdraw,
    )
