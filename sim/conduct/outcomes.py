"""Latent outcomes: PFS time, whether the PFS event is a death, and withdrawal time.

All times are days from randomization, drawn in bulk for (R, N) patients. Each arm's PFS is
an `EventTimeModel`: a base cumulative hazard H0 (piecewise exponential, exponential = one
piece, or Weibull), times a piecewise-constant ratio over time (the hazard ratio, or a
delayed effect), times a prognostic multiplier per stratum, with a cure (mixture) fraction
on top. Times are drawn by inverting the cumulative hazard, T = H^-1(E) with E ~ Exp(1), so
that two scenarios differing only in the effect share the same E (common random numbers
give monotone coupling). `draw_event_times` is the reusable piece: any endpoint with a
hazard spec per arm (and stratum) gets its times from the same uniforms the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.scenario import Scenario, Survival


@dataclass(frozen=True)
class TrueEffect:
    """Each replicate's truth drawn from the design prior (`scenario.prior`), shape (R,):
    the experimental arm's hazard ratio and the control arm's PFS median (months); None
    where the prior says nothing of it (the scenario's value holds)."""

    hazard_ratio: np.ndarray | None = None
    control_median_months: np.ndarray | None = None


@dataclass(frozen=True)
class LatentOutcomes:
    pfs_day: np.ndarray  # (R, N) latent PFS time
    is_death: np.ndarray  # (R, N) bool: the PFS event is a death (seen when it happens)
    withdraw_day: np.ndarray  # (R, N) withdrawal / loss to follow-up (inf if none)


def invert_piecewise_hazard(e: np.ndarray, starts: np.ndarray, hazards: np.ndarray) -> np.ndarray:
    """T with cumulative hazard H(T) = e for hazards[j] on [starts[j], starts[j+1])."""
    if len(hazards) == 1:  # exponential: no piece to look up
        return e / hazards[0] if hazards[0] > 0 else np.full_like(e, np.inf)
    widths = np.diff(starts)
    cum = np.concatenate([[0.0], np.cumsum(hazards[:-1] * widths)])
    piece = np.searchsorted(cum, e, side="right") - 1
    h = hazards[piece]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(h > 0, starts[piece] + (e - cum[piece]) / h, np.inf)


def piecewise_cumulative_hazard(
    t: np.ndarray, starts: np.ndarray, hazards: np.ndarray
) -> np.ndarray:
    """H(t) = integral of the piecewise-constant hazard (hazards[j] from starts[j]) to t."""
    t = np.asarray(t, dtype=float)
    ends = np.append(starts[1:], np.inf)
    with np.errstate(invalid="ignore"):
        covered = np.clip(t[..., None] - starts, 0.0, ends - starts)
    return (covered * hazards).sum(axis=-1)


def merge_pieces(
    starts: np.ndarray, hazards: np.ndarray, ratio_starts: np.ndarray, ratios: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The piecewise-constant hazard h(t) r(t) on the union of both tables' breakpoints."""
    cuts = np.union1d(starts, ratio_starts)
    h = hazards[np.searchsorted(starts, cuts, side="right") - 1]
    r = ratios[np.searchsorted(ratio_starts, cuts, side="right") - 1]
    return cuts, h * r


@dataclass(frozen=True)
class EventTimeModel:
    """One arm's event-time distribution, by its cumulative hazard (time in days).

    For a patient with prognostic multiplier m, among the uncured (share 1 - cure):
    H(t) = m sum_j r_j [H0(min(t, b_{j+1})) - H0(b_j)] over the ratio periods [b_j, b_{j+1})
    (r_j = 1 when there is no effect), with H0 the base: piecewise exponential (`starts`,
    `hazards` per day) or Weibull H0(t) = (t / scale)^shape. Population survival:
    S(t) = cure + (1 - cure) exp(-H(t)).
    """

    starts: np.ndarray | None = None  # piecewise base: piece starts [days]
    hazards: np.ndarray | None = None  # piecewise base: hazards [per day]
    shape: float | None = None  # Weibull base: shape
    scale: float | None = None  # Weibull base: scale [days]
    ratio_starts: np.ndarray = field(default_factory=lambda: np.zeros(1))  # periods' starts [days]
    ratios: np.ndarray = field(default_factory=lambda: np.ones(1))  # ratio in each period
    cure: float = 0.0

    @classmethod
    def from_survival(
        cls,
        survival: Survival,
        ratio_table: tuple[list[float], list[float]] | None = None,
        cure: float | None = None,
    ) -> EventTimeModel:
        """From a scenario distribution, optionally times a ratio table (starts, ratios),
        with the cure fraction `cure` instead of the distribution's own when given."""
        cure = survival.cure_fraction if cure is None else cure
        r_starts, ratios = (np.asarray(x, float) for x in (ratio_table or ([0.0], [1.0])))
        if survival.distribution == "weibull":
            return cls(
                shape=survival.shape,
                scale=survival.weibull_scale_days,
                ratio_starts=r_starts,
                ratios=ratios,
                cure=cure,
            )
        starts, hazards = (np.asarray(x, float) for x in survival.hazard_table())
        if len(ratios) == 1:  # proportional: fold the ratio in (the historic arithmetic)
            return cls(starts=starts, hazards=hazards * ratios[0], cure=cure)
        starts, hazards = merge_pieces(starts, hazards, r_starts, ratios)
        return cls(starts=starts, hazards=hazards, cure=cure)

    @property
    def is_piecewise(self) -> bool:
        return self.starts is not None

    def base_cumulative(self, t: np.ndarray) -> np.ndarray:
        if self.is_piecewise:
            return piecewise_cumulative_hazard(t, self.starts, self.hazards)
        return (np.asarray(t, float) / self.scale) ** self.shape

    def base_inverse(self, h: np.ndarray) -> np.ndarray:
        if self.is_piecewise:
            return invert_piecewise_hazard(h, self.starts, self.hazards)
        return self.scale * np.asarray(h, float) ** (1.0 / self.shape)

    def cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        """H(t) of the uncured with multiplier 1."""
        if self.is_piecewise or (len(self.ratios) == 1 and self.ratios[0] == 1.0):
            return self.base_cumulative(t)
        b = np.append(self.ratio_starts, np.inf)
        h0 = self.base_cumulative(np.minimum(np.asarray(t, float)[..., None], b[1:]))
        h0_start = self.base_cumulative(self.ratio_starts)
        return (np.maximum(h0 - h0_start, 0.0) * self.ratios).sum(axis=-1)

    def invert_uncured(self, e: np.ndarray) -> np.ndarray:
        """T with H(T) = e (multiplier 1, no cure)."""
        if self.is_piecewise or (len(self.ratios) == 1 and self.ratios[0] == 1.0):
            return self.base_inverse(e)
        h0_start = self.base_cumulative(self.ratio_starts)
        widths = np.diff(self.base_cumulative(np.append(self.ratio_starts, np.inf)))
        cum = np.concatenate([[0.0], np.cumsum(self.ratios[:-1] * widths[:-1])])
        piece = np.searchsorted(cum, e, side="right") - 1
        return self.base_inverse(h0_start[piece] + (e - cum[piece]) / self.ratios[piece])

    def invert(self, e: np.ndarray, multiplier: np.ndarray | float = 1.0) -> np.ndarray:
        """Event times from unit exponentials `e`: inf for the cured (exp(-e) <= cure),
        else H^-1 of the uncured's share; `multiplier` scales the uncured hazard."""
        if self.cure > 0.0:
            surv = np.exp(-e)
            cured = surv <= self.cure
            with np.errstate(divide="ignore", invalid="ignore"):
                e = np.where(cured, 0.0, -np.log((surv - self.cure) / (1.0 - self.cure)))
        if not np.isscalar(multiplier) or multiplier != 1.0:
            e = e / multiplier
        t = self.invert_uncured(e)
        return np.where(cured, np.inf, t) if self.cure > 0.0 else t

    def survival(self, t: np.ndarray, multiplier: float = 1.0) -> np.ndarray:
        """Population S(t) = cure + (1 - cure) exp(-m H(t))."""
        return self.cure + (1.0 - self.cure) * np.exp(-multiplier * self.cumulative_hazard(t))


def pfs_models(scenario: Scenario) -> tuple[EventTimeModel, EventTimeModel]:
    """(control, experimental) PFS models of a scenario."""
    pfs, effect = scenario.pfs, scenario.effect
    control = EventTimeModel.from_survival(pfs.control)
    if pfs.experimental is not None:
        return control, EventTimeModel.from_survival(pfs.experimental)
    return control, EventTimeModel.from_survival(
        pfs.control, effect.ratio_table(), effect.cure_fraction
    )


def stratum_multipliers(scenario: Scenario) -> np.ndarray | None:
    """Hazard multiplier of each stratum index (None when all are 1)."""
    table = scenario.pfs.stratum_hazard_multiplier
    values = np.asarray([table.get(name, 1.0) for name in scenario.strata_names])
    return None if np.all(values == 1.0) else values


def draw_event_times(
    e: np.ndarray,
    arm: np.ndarray,
    models: tuple[EventTimeModel, EventTimeModel],
    stratum: np.ndarray | None = None,
    multipliers: np.ndarray | None = None,
) -> np.ndarray:
    """Event times (days) of patients with arms `arm` from unit exponentials `e` (same
    shape): each arm's model inverted at the same e, so scenarios differing in one arm's
    model share the other draws. `multipliers[stratum]` scales each patient's hazard."""
    m = 1.0 if multipliers is None or stratum is None else np.asarray(multipliers)[stratum]
    control = models[0].invert(e, m)
    experimental = models[1].invert(e, m)
    return np.where(arm == 1, experimental, control)


def dropout_times(scenario: Scenario, arm: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Withdrawal times (days) by arm from unit exponentials `e` (inf: never)."""
    dropout = scenario.dropout
    if dropout.experimental is None and not dropout.pieces:
        eta = dropout.hazard_per_day  # the historic arithmetic, bit for bit
        if eta <= 0:
            return np.full(e.shape, np.inf)
        with np.errstate(over="ignore"):  # a rate too small for a double: never (inf)
            return e / eta
    times = [
        invert_piecewise_hazard(e, *(np.asarray(x, float) for x in dropout.arm(a).hazard_table()))
        for a in (0, 1)
    ]
    return np.where(arm == 1, times[1], times[0])


def draw_true_event_times(
    scenario: Scenario,
    e: np.ndarray,
    arm: np.ndarray,
    stratum: np.ndarray | None,
    truth: TrueEffect,
) -> np.ndarray:
    """PFS times (days) from unit exponentials `e`, (R, N), with each replicate's truth.

    A drawn hazard ratio r (one per replicate) replaces effect.hazard_ratio: the
    experimental arm's (uncured) hazard is r times the control's, as a multiplier beside
    the stratum's. A drawn control median m stretches both arms' times by m /
    pfs.control.median_months: the control's median becomes m, and the hazard ratio, a
    ratio at the same stretched time, is kept. The same `e` as without a prior, so the
    prior changes only what it draws (common random numbers)."""
    control, experimental = pfs_models(scenario)
    table = stratum_multipliers(scenario)
    m = 1.0 if table is None or stratum is None else table[stratum]
    m_experimental = m
    if truth.hazard_ratio is not None:
        cure = scenario.effect.cure_fraction
        experimental = EventTimeModel.from_survival(scenario.pfs.control, None, cure)
        m_experimental = m * np.asarray(truth.hazard_ratio, float)[:, None]
    times = np.where(arm == 1, experimental.invert(e, m_experimental), control.invert(e, m))
    if truth.control_median_months is not None:
        nominal = scenario.pfs.control.median_months
        assert nominal is not None  # sim.scenario.prior.check_prior_fits
        times = times * (np.asarray(truth.control_median_months, float) / nominal)[:, None]
    return times


def draw_latent_outcomes(
    scenario: Scenario,
    arm: np.ndarray,
    rng: np.random.Generator,
    stratum: np.ndarray | None = None,
    truth: TrueEffect | None = None,
) -> LatentOutcomes:
    """Latent PFS, death-or-progression and withdrawal of (R, N) patients from `rng`;
    `truth`: each replicate's effect drawn from the design prior (None: the scenario's)."""
    shape = arm.shape
    e_pfs = rng.standard_exponential(shape)
    u_death = rng.random(shape)
    e_drop = rng.standard_exponential(shape)
    if truth is None:
        multipliers = stratum_multipliers(scenario)
        pfs = draw_event_times(e_pfs, arm, pfs_models(scenario), stratum, multipliers)
    else:
        pfs = draw_true_event_times(scenario, e_pfs, arm, stratum, truth)
    return LatentOutcomes(
        pfs_day=pfs,
        is_death=u_death < scenario.pfs.death_fraction,
        withdraw_day=dropout_times(scenario, arm, e_drop),
    )
