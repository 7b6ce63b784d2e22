"""Subsequent therapy after progression (and crossover: the control arm's immunotherapy).

Each patient draws, from a stream of its own, which of the arm's subsequent therapies it
would start at progression (therapy j with its share; the rest none): one uniform per
patient, so the PFS and post-progression draws are untouched and a scenario differing only
in the therapies shares every other random number. The therapy multiplies the patient's
hazard of death after progression (h12) by its hazard ratio from the progression on
(latent progression: the model's, before a scan documents it). With exponential h12 the OS
survival of an arm is then a mixture of illness-death closed forms, one per therapy with
h12 x its ratio, weighted by the shares (`sim.conduct.survival.os_survival_closed_form`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import SubsequentTherapies

NONE = -1  # therapy index of a patient starting none


@dataclass(frozen=True)
class TherapyDraws:
    """Per patient (R, N): the subsequent therapy's index in its arm's list (NONE: none),
    the multiplier of h12, and whether it is an immunotherapy."""

    index: np.ndarray
    multiplier: np.ndarray
    immunotherapy: np.ndarray


def draw_subsequent_therapy(
    therapies: SubsequentTherapies, arm: np.ndarray, rng: np.random.Generator
) -> TherapyDraws:
    """Each patient's subsequent therapy from one uniform (see the module docstring)."""
    u = rng.random(arm.shape)
    index = np.full(arm.shape, NONE)
    multiplier = np.ones(arm.shape)
    immuno = np.zeros(arm.shape, dtype=bool)
    for a in (0, 1):
        listed = therapies.arm(a)
        if not listed:
            continue
        edges = np.cumsum([t.share for t in listed])
        j = np.searchsorted(edges, u, side="right")
        mine = (arm == a) & (j < len(listed))
        jj = np.minimum(j, len(listed) - 1)
        index = np.where(mine, jj, index)
        multiplier = np.where(mine, np.asarray([t.hazard_ratio for t in listed])[jj], multiplier)
        immuno = np.where(mine, np.asarray([t.immunotherapy for t in listed])[jj], immuno)
    return TherapyDraws(index, multiplier, immuno)
