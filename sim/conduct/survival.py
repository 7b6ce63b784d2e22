"""Overall survival: the illness-death model on top of the latent PFS.

States: 0 alive without progression, 1 progressed, 2 dead. The latent PFS of
`sim.conduct.outcomes` is the first transition out of state 0 (hazard h01 + h02, the arm's PFS
hazard) and its `is_death` flag picks 0 -> 2 with probability h02 / (h01 + h02) (the
scenario's death share: proportional cause-specific hazards). This module adds 1 -> 2: after
a progression the patient dies after a post-progression time drawn from h12 (per arm,
exponential or piecewise on the time since progression), by inverting its cumulative hazard
from a stream of its own, so the PFS draws are untouched and scenarios differing only in h12
share every other random number.

For exponential transitions the OS survival function is the closed form
``S(t) = exp(-(h01 + h02) t) + h01 / (h01 + h02 - h12) (exp(-h12 t) - exp(-(h01 + h02) t))``
(`os_survival_closed_form`; the limit ``(1 + h01 t) exp(-h12 t)`` when h01 + h02 = h12).

What the scans see (`pfs_as_seen`): a progression is seen at the next scan, unless the
patient dies before that scan; then the PFS event is the death, on its day (the progression
was never documented). So the PFS event seen is never after the OS death, and a PFS death is
the OS death.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.conduct.assessments import ScanSchedule
from sim.conduct.datacut import kth_event_day
from sim.conduct.outcomes import EventTimeModel, LatentOutcomes, draw_event_times
from sim.conduct.subsequent import TherapyDraws, draw_subsequent_therapy
from sim.scenario import OverallSurvival, Scenario


@dataclass(frozen=True)
class IllnessDeathPaths:
    """One illness-death paths per patient, days from randomization, shape (R, N)."""

    progression_day: np.ndarray  # latent progression; inf if the patient dies first
    death_day: np.ndarray  # latent death (after or without progression)
    # with overall_survival.subsequent_therapy: who starts what at progression, and the
    # death day had nobody started any (the same draws: the therapy's dilution of the OS HR)
    therapy: TherapyDraws | None = None
    death_day_without_therapy: np.ndarray | None = None


def draw_post_progression(
    os_block: OverallSurvival,
    arm: np.ndarray,
    rng: np.random.Generator,
    multiplier: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Post-progression survival times (days), h12 of each patient's arm, by inversion of
    the cumulative hazard (one Exp(1) per patient, shared by both arms' hazards), with the
    PFS machinery (`EventTimeModel`: exponential, piecewise, Weibull, cure fraction). With
    `multiplier` (a subsequent therapy's ratio per patient): (times with it, times without)
    from the same Exp(1)."""
    e = rng.standard_exponential(arm.shape)
    survival = os_block.post_progression
    models = (
        EventTimeModel.from_survival(survival),
        EventTimeModel.from_survival(survival, ([0.0], [os_block.post_progression_hazard_ratio])),
    )
    if multiplier is None:
        return draw_event_times(e, arm, models)
    treated = np.where(arm == 1, models[1].invert(e, multiplier), models[0].invert(e, multiplier))
    return treated, draw_event_times(e, arm, models)


def draw_illness_death(
    scenario: Scenario,
    arm: np.ndarray,
    latent: LatentOutcomes,
    rng: np.random.Generator,
    therapy_rng: np.random.Generator | None = None,
) -> IllnessDeathPaths:
    """The patients' illness-death paths given their latent PFS (see the module
    docstring); with overall_survival.subsequent_therapy, who starts which therapy at
    progression from `therapy_rng` (`sim.conduct.subsequent`). Raises ValueError without an
    overall_survival block."""
    os_block = scenario.overall_survival
    if os_block is None:
        raise ValueError(
            "scenario.overall_survival = None: OS needs that block (see scenarios/nct07271602.yaml)"
        )
    progression = np.where(latent.is_death, np.inf, latent.pfs_day)
    if os_block.subsequent_therapy is None:
        pps = draw_post_progression(os_block, arm, rng)
        death = np.where(latent.is_death, latent.pfs_day, latent.pfs_day + pps)
        return IllnessDeathPaths(progression_day=progression, death_day=death)
    if therapy_rng is None:
        raise ValueError("subsequent therapy needs its own stream: pass therapy_rng")
    therapy = draw_subsequent_therapy(os_block.subsequent_therapy, arm, therapy_rng)
    treated, untreated = draw_post_progression(os_block, arm, rng, therapy.multiplier)
    return IllnessDeathPaths(
        progression_day=progression,
        death_day=np.where(latent.is_death, latent.pfs_day, latent.pfs_day + treated),
        therapy=therapy,
        death_day_without_therapy=np.where(
            latent.is_death, latent.pfs_day, latent.pfs_day + untreated
        ),
    )


def pfs_as_seen(
    latent: LatentOutcomes, paths: IllnessDeathPaths, schedule: ScanSchedule
) -> LatentOutcomes:
    """The latent PFS outcomes with a death before the scan that would have seen the
    progression made the PFS event (a death on its day); everything else unchanged."""
    seen_at = schedule.first_scan_on_or_after(latent.pfs_day)
    dies_first = ~latent.is_death & (paths.death_day < seen_at)
    return LatentOutcomes(
        pfs_day=np.where(dies_first, paths.death_day, latent.pfs_day),
        is_death=latent.is_death | dies_first,
        withdraw_day=latent.withdraw_day,
    )


@dataclass(frozen=True)
class OsCut:
    """OS analysis data set at a cut, shape (R, N), and the cut per replicate (clock days)."""

    time: np.ndarray
    event: np.ndarray
    valid: np.ndarray
    cut_day: np.ndarray


def cut_os(
    rand_day: np.ndarray, paths: IllnessDeathPaths, withdraw_day: np.ndarray, cut_day: np.ndarray
) -> OsCut:
    """OS at each replicate's cut: a death is an event if it happens on or before the cut and
    before the withdrawal; otherwise OS is censored at the withdrawal or the cut, whichever
    first (a death is known the day it happens; alive patients are known alive at the cut)."""
    horizon = cut_day[:, None] - rand_day
    valid = horizon >= 0
    dead = (rand_day + paths.death_day <= cut_day[:, None]) & (paths.death_day <= withdraw_day)
    censor = np.minimum(withdraw_day, np.maximum(horizon, 0.0))
    time = np.where(dead, paths.death_day, censor)
    return OsCut(time, dead & valid, valid, cut_day)


def os_cut_day(
    os_block: OverallSurvival,
    rand_day: np.ndarray,
    paths: IllnessDeathPaths,
    withdraw_day: np.ndarray,
    pfs_cut_day: np.ndarray,
    date_cut_day: float,
) -> np.ndarray:
    """Clock day of OS's own analysis per replicate: the PFS cut, the day of the
    `event_target`-th death seen (before withdrawal; never reached: the last death, or the
    PFS cut if nobody dies), the calendar cut, or the first of the two."""
    if os_block.cut == "pfs":
        return pfs_cut_day
    deaths = np.where(paths.death_day <= withdraw_day, rand_day + paths.death_day, np.inf)
    if os_block.event_target is not None:
        by_events = kth_event_day(deaths, os_block.event_target)
        last = np.max(np.where(np.isfinite(deaths), deaths, -np.inf), axis=1)
        by_events = np.where(
            np.isfinite(by_events), by_events, np.where(np.isfinite(last), last, pfs_cut_day)
        )
    if os_block.cut == "events":
        return by_events
    if os_block.cut == "date":
        return np.full(rand_day.shape[0], date_cut_day)
    return np.minimum(by_events, date_cut_day)


def os_survival_closed_form(t: np.ndarray, h01: float, h02: float, h12: float) -> np.ndarray:
    """S_OS(t) of the illness-death model with constant hazards h01, h02, h12 (per day)."""
    t = np.asarray(t, dtype=float)
    lam = h01 + h02
    if abs(lam - h12) < 1e-12 * max(lam, h12):
        return (1.0 + h01 * t) * np.exp(-h12 * t)
    return np.exp(-lam * t) + h01 / (lam - h12) * (np.exp(-h12 * t) - np.exp(-lam * t))
