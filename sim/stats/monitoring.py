"""Interim monitoring of a group-sequential design: the plan and each replicate's decisions.

`SequentialPlan` turns the scenario's `analysis` block (looks, efficacy, futility, alpha,
sides, target power) and the planned events of each look into a `sim.stats.sequential.Design`
at the planned information fractions (events / planned final events). `monitor` then takes
every replicate's looks (events seen, log-rank z) and decides, look by look:

* efficacy: z >= b_k (two-sided: |z| >= b_k), with b_k recomputed from the alpha-spending
  function at the *observed* information fractions d_j / D (Lan-DeMets; the final look
  spends all the alpha left, whatever its events); fixed z bounds are used as given;
* futility (interim looks only): z <= a_k; beta-spending bounds recomputed at the observed
  information fractions of the interim looks held, the final at 1 (rpact's
  getDesignGroupSequential with those informationRates; the design's own at the planned
  events, as rpact's simulator uses them), z bounds as given, hazard-ratio bounds
  converted at the observed events (z = -log(HR) sqrt(p (1 - p) d)), and a
  conditional-power threshold c under the design effect (the hazard ratio the design is
  powered for, not the simulated truth; with OS primary, whose hazard ratio changes over
  time, the OS effect of the closed-form design: its AHR at each look, `log_hr_to_come`)
  converted at the observed events, and a
  predictive-power threshold (averaged over the posterior from the design prior, or a flat
  prior) converted likewise (`sim.stats.predictive.z_for_predictive_power`);
* a Bayesian rule P(HR < c | data) > q at the interim looks (`sim.scenario.Bayesian`),
  converted to the z above which it holds at the observed events
  (`sim.stats.predictive.z_for_posterior_probability`): an efficacy rule lowers the
  efficacy bound to that z where it is lower; a go/no-go rule raises the futility bound to
  it (no-go is a futility stop; it never enters the alpha spending).

A futility stop ends the trial ("stops at futility"); with non-binding futility the
simulator also records what the efficacy bounds alone would have concluded ("would have
continued"). A look with no more events than the previous one held brings no information
and is skipped (a final with no new events replaces the look before it).

z here is on the benefit scale (z > 0 favours the experimental arm): the log-rank z of
`sim.stats.analysis` with its sign flipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from sim.stats.sequential import (
    Z_MAX,
    Design,
    beta_spending_bounds,
    drift_for_power,
    efficacy_bounds,
)
from sim.stats.spending import Spending

if TYPE_CHECKING:
    from sim.scenario import Analysis
    from sim.stats.predictive import InterimPrior

EFFICACY, FUTILITY, FINAL = "efficacy", "futility", "final"
THRESHOLD_KINDS = ("conditional_power", "predictive_power")  # bounds depend on the final's


@dataclass(frozen=True)
class SequentialPlan:
    """The monitoring rules of a design with `looks` analyses (see the module docstring)."""

    planned_events: np.ndarray  # (K,) events planned at each look; the last is D
    alpha: float
    sides: int
    beta: float  # 1 - target power
    allocation: float  # share in the experimental arm
    efficacy_spending: Spending | None
    efficacy_z: np.ndarray | None
    futility_kind: str  # none, spending, z, hazard_ratio, conditional_power, predictive_power
    futility_values: np.ndarray | None
    beta_spending: Spending | None
    binding: bool
    prior: InterimPrior = None  # of predictive power and the Bayesian rule (None: flat)
    bayesian: tuple[str, float, float] | None = None  # (action, hr_below, probability)
    # log HR of the design at d events when it is not one hazard ratio (OS primary:
    # `sim.stats.boundaries.OsDesignEffect`); None: the one of `design_log_hr`
    design_effect: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)
    design: Design = field(init=False)
    cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "design", self.plan_design())

    @classmethod
    def from_analysis(
        cls,
        analysis: Analysis,
        planned_events: Sequence[float],
        allocation: float,
        prior: InterimPrior = None,
        *,
        design_effect: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> SequentialPlan:
        """The plan of a scenario's `analysis` block (sim.scenario.Analysis with looks);
        `prior` the design prior on the hazard ratio (None: flat), for predictive power and
        the Bayesian rule; `design_effect` the design's log HR at d events when it is not
        one hazard ratio (see the field)."""
        from sim.scenario import spending_name

        eff = analysis.efficacy_rule
        fut = analysis.futility
        kind, values, beta_spending = "none", None, None
        if fut is not None:
            if fut.spending is not None:
                kind, beta_spending = "spending", Spending(*spending_name(fut.spending))
            elif fut.z is not None:
                kind, values = "z", np.asarray(fut.z, float)
            elif fut.hazard_ratio is not None:
                kind, values = "hazard_ratio", np.asarray(fut.hazard_ratio, float)
            else:
                kind, threshold = fut.threshold_rule  # type: ignore[misc]
                values = np.asarray([threshold])
        rule = analysis.bayesian
        return cls(
            planned_events=np.asarray(planned_events, dtype=float),
            alpha=analysis.alpha,
            sides=analysis.sides,
            beta=1.0 - analysis.target_power,
            allocation=allocation,
            efficacy_spending=(
                Spending(*spending_name(eff.spending)) if eff.spending is not None else None
            ),
            efficacy_z=np.asarray(eff.z, float) if eff.z is not None else None,
            futility_kind=kind,
            futility_values=values,
            beta_spending=beta_spending,
            binding=bool(fut.binding) if fut is not None else False,
            prior=prior,
            bayesian=((rule.action, rule.hr_below, rule.probability) if rule is not None else None),
            design_effect=design_effect,
        )

    @property
    def looks(self) -> int:
        return len(self.planned_events)

    @property
    def max_events(self) -> float:
        return float(self.planned_events[-1])

    @property
    def fractions(self) -> np.ndarray:
        return self.planned_events / self.max_events

    @property
    def variance_factor(self) -> float:
        """p (1 - p): information per event of the log hazard ratio."""
        return self.allocation * (1.0 - self.allocation)

    def plan_design(self) -> Design:
        t = self.fractions
        k = self.looks
        nan = float("nan")
        if self.futility_kind == "spending":
            eff, fut, drift = beta_spending_bounds(
                t, self.efficacy_spending, self.alpha, self.beta_spending, self.beta, self.binding
            )
            return Design(t, eff, fut, self.alpha, self.beta, self.sides, self.binding, drift)
        lower = np.full(k, -np.inf)
        if self.futility_kind in ("z", "hazard_ratio"):
            lower[:-1] = self.futility_at(np.arange(k - 1), self.planned_events[:-1], nan)
        eff = self.efficacy_z
        drift = nan
        # conditional power bounds depend on the final bound and the design drift, which
        # depend on them (binding) or on the power lost to them: a fixed point, a few steps
        for _ in range(30 if self.futility_kind in THRESHOLD_KINDS else 1):
            if self.efficacy_z is None:
                eff = efficacy_bounds(
                    t,
                    self.efficacy_spending,
                    self.alpha,
                    self.sides,
                    lower if self.binding else None,
                )
            lower = np.minimum(lower, eff)
            drift = self.solve_drift(
                Design(t, eff, lower, self.alpha, self.beta, self.sides, self.binding, nan)
            )
            if self.futility_kind not in THRESHOLD_KINDS:
                break
            new = np.append(
                self.futility_at(np.arange(k - 1), self.planned_events[:-1], eff[-1], drift),
                -np.inf,
            )
            new = np.minimum(new, eff)
            done = np.allclose(new[:-1], lower[:-1], atol=1e-11, rtol=0)
            lower = new
            if done:
                break
        return Design(t, eff, lower, self.alpha, self.beta, self.sides, self.binding, drift)

    def solve_drift(self, design: Design) -> float:
        """Drift at which the design (with its futility stops) has power 1 - beta."""
        try:
            return drift_for_power(design.power, 1.0 - self.beta)
        except ValueError:
            return float("nan")

    @property
    def design_log_hr(self) -> float:
        """log of the hazard ratio the design is powered for: -drift / sqrt(p(1-p) D)."""
        return -self.design.drift / math.sqrt(self.variance_factor * self.max_events)

    def log_hr_to_come(self, events: np.ndarray) -> np.ndarray:
        """log HR of the design over the events still to come after looks at `events`: the
        effect "under the design" of the conditional power from a look on. One hazard ratio:
        `design_log_hr` at every look. With a design effect (OS: log AHR(d) at d events),
        the average over the events to come, (D log AHR(D) - d log AHR(d)) / (D - d), so
        that from the look's mean E[S_d] = -log AHR(d) p (1 - p) d of the log-rank score the
        score's mean grows to the design's at the final analysis (gsDesign2's gs_power_ahr);
        log AHR(D) at or past the final D events. Cached by the events."""
        events = np.minimum(np.asarray(events, dtype=float), self.max_events)
        if self.design_effect is None:
            return np.full(events.shape, self.design_log_hr)
        key = ("to_come", tuple(events))
        hit = self.cache.get(key)
        if hit is None:
            log_ahr = self.design_effect(np.append(events, self.max_events))
            final, at = float(log_ahr[-1]), log_ahr[:-1]
            rest = self.max_events - events
            with np.errstate(divide="ignore", invalid="ignore"):
                averaged = (self.max_events * final - events * at) / rest
            hit = self.cache[key] = np.where(rest > 0.0, averaged, final)
        return hit

    def futility_at(
        self,
        indices: np.ndarray,
        events: np.ndarray,
        final_bound: float,
        drift: float | None = None,
    ) -> np.ndarray:
        """Futility z bounds at interim looks `indices` (planned positions) given the events
        seen there; -inf when the plan has none."""
        indices = np.asarray(indices, dtype=int)
        events = np.asarray(events, dtype=float)
        kind = self.futility_kind
        if kind == "none":
            return np.full(len(indices), -np.inf)
        if kind == "spending":
            return self.beta_futility_at(indices, events)
        if kind == "z":
            return self.futility_values[indices]
        info = self.variance_factor * events
        if kind == "hazard_ratio":
            return -np.log(self.futility_values[indices]) * np.sqrt(info)
        if kind == "predictive_power":
            return self.z_at_fractions(events, final_bound, "predictive_power")
        # conditional power c under the design effect theta = -log HR_design (one HR), or
        # theta the log HR to come of the design (OS: one AHR per look)
        if self.design_effect is None:
            drift = self.design.drift if drift is None else drift
            theta = drift / math.sqrt(self.variance_factor * self.max_events)
        else:
            theta = -self.log_hr_to_come(events)
        info_max = self.variance_factor * np.maximum(self.max_events, events + 1e-9)
        rest = info_max - info
        c = float(self.futility_values[0])
        return (
            final_bound * np.sqrt(info_max) - theta * rest + float(ndtri(c)) * np.sqrt(rest)
        ) / np.sqrt(info)

    def beta_futility_at(self, indices: np.ndarray, events: np.ndarray) -> np.ndarray:
        """Beta-spending futility bounds of the interim looks `indices` held at their
        observed `events`: the design recomputed at information rates (d_1 / D, ..., 1)
        (`beta_spending_bounds`, the drift solved again for the target power there). The
        design's own bounds when those rates are not increasing within (0, 1)."""
        t = np.asarray(events, dtype=float) / self.max_events
        if len(t) == 0 or t[0] <= 0.0 or t[-1] >= 1.0 or np.any(np.diff(t) <= 0.0):
            return self.design.futility[indices]
        key = ("beta", tuple(t))
        hit = self.cache.get(key)
        if hit is None:
            _, fut, _ = beta_spending_bounds(
                np.append(t, 1.0),
                self.efficacy_spending,
                self.alpha,
                self.beta_spending,
                self.beta,
                self.binding,
            )
            hit = self.cache[key] = fut[:-1]
        return hit

    def z_at_fractions(self, events: np.ndarray, final_bound: float, scale: str) -> np.ndarray:
        """Per interim look (its observed `events`), the z at which a threshold rule flips:
        the predictive power equals the futility threshold (`scale` predictive_power), or
        P(HR < c | data) equals the Bayesian rule's q (`scale` posterior; +inf: it never
        holds, -inf: always). At or past the final events: -inf for futility (nothing left
        to predict), nan (no rule) for the posterior."""
        from sim.stats.predictive import z_for_posterior_probability, z_for_predictive_power

        info_max = self.variance_factor * self.max_events
        out = np.full(len(events), -np.inf if scale == "predictive_power" else np.nan)
        for j, d in enumerate(np.asarray(events, dtype=float)):
            t = d / self.max_events
            if not 0.0 < t < 1.0:
                continue
            if scale == "predictive_power":
                out[j] = z_for_predictive_power(
                    float(self.futility_values[0]),
                    t,
                    information=info_max,
                    prior=self.prior,
                    critical=final_bound,
                )
            else:
                _, hr_below, probability = self.bayesian  # type: ignore[misc]
                out[j] = z_for_posterior_probability(
                    probability, t, information=info_max, prior=self.prior, hazard_ratio=hr_below
                )
        return out

    def with_bayesian_rule(
        self, events: np.ndarray, eff: np.ndarray, fut: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(efficacy, futility) bounds of the held looks with the Bayesian rule at their
        interim looks (all but the last): efficacy lowered to the z above which the rule
        holds, or futility raised to it (go/no-go)."""
        action = self.bayesian[0]  # type: ignore[index]
        rule = np.append(self.z_at_fractions(events[:-1], math.nan, "posterior"), np.nan)
        interim = np.arange(len(events)) < len(events) - 1
        usable = interim & ~np.isnan(rule)
        if action == "efficacy":
            eff = np.where(usable, np.minimum(eff, rule), eff)
        else:
            fut = np.where(usable, np.maximum(fut, rule), fut)
        return eff, fut

    def bounds(
        self, indices: tuple[int, ...], events: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(efficacy, futility) z bounds of the looks held (planned positions `indices`,
        the last being the final) at their observed events. Cached by the events."""
        key = (indices, events)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        idx = np.asarray(indices, dtype=int)
        d = np.asarray(events, dtype=float)
        k_final = self.design.efficacy[-1]
        if self.efficacy_z is not None:
            eff = self.efficacy_z[idx]
            fut = np.append(self.futility_at(idx[:-1], d[:-1], eff[-1]), -np.inf)
        else:
            fut = np.append(self.futility_at(idx[:-1], d[:-1], k_final), -np.inf)
            t = d / self.max_events
            eff = efficacy_bounds(
                t, self.efficacy_spending, self.alpha, self.sides, fut if self.binding else None
            )
            if self.futility_kind in THRESHOLD_KINDS:  # against the observed final bound
                fut = np.append(self.futility_at(idx[:-1], d[:-1], eff[-1]), -np.inf)
        if self.bayesian is not None:
            eff, fut = self.with_bayesian_rule(d, eff, fut)
        fut = np.minimum(fut, eff)
        self.cache[key] = (eff, fut)
        return eff, fut


def held_looks(held: np.ndarray, events: np.ndarray) -> list[int]:
    """Positions of the looks held, dropping those with no new events (see module)."""
    looks: list[int] = []
    for k in np.flatnonzero(held):
        k = int(k)
        last = k == len(held) - 1
        while looks and events[k] <= events[looks[-1]] and last:
            looks.pop()  # the final on the same data replaces the look before it
        if looks and events[k] <= events[looks[-1]]:
            continue
        if events[k] <= 0 and not last:
            continue
        looks.append(k)
    return looks


@dataclass(frozen=True)
class Decisions:
    """Per replicate (R,) and per replicate x look (R, K)."""

    stop_look: np.ndarray  # (R,) 0-based position of the look that ended the trial
    stop_reason: np.ndarray  # (R,) efficacy, futility or final
    reject: np.ndarray  # (R,) efficacy at some look, the trial stopping at futility
    reject_ignoring_futility: np.ndarray  # (R,) the same by the efficacy bounds alone
    stop_look_ignoring_futility: np.ndarray  # (R,) 0-based look ending it by efficacy alone
    efficacy_z: np.ndarray  # (R, K) bound used at each look (nan: not held)
    futility_z: np.ndarray  # (R, K) futility bound used (-inf none, nan not held)
    decision: np.ndarray  # (R, K) efficacy/futility/continue/final/skipped/not_held


def monitor(plan: SequentialPlan, z: np.ndarray, events: np.ndarray, held: np.ndarray) -> Decisions:
    """Decisions of every replicate (z on the benefit scale, events, held: (R, K))."""
    n_reps, k_max = z.shape
    stop_look = np.full(n_reps, k_max - 1)
    stop_reason = np.full(n_reps, FINAL, dtype=object)
    reject = np.zeros(n_reps, bool)
    reject_nb = np.zeros(n_reps, bool)
    stop_look_nb = np.full(n_reps, k_max - 1)
    eff_z = np.full((n_reps, k_max), np.nan)
    fut_z = np.full((n_reps, k_max), np.nan)
    decision = np.where(held, "skipped", "not_held").astype(object)
    ev = np.asarray(events)
    for r in range(n_reps):
        looks = held_looks(held[r], ev[r])
        eff, fut = plan.bounds(tuple(looks), tuple(int(e) for e in ev[r, looks]))
        stopped = stopped_nb = False
        for j, k in enumerate(looks):
            eff_z[r, k], fut_z[r, k] = eff[j], fut[j]
            value = z[r, k]
            stat = abs(value) if plan.sides == 2 else value
            cross = bool(np.isfinite(stat) and stat >= eff[j] and eff[j] < Z_MAX)
            final = j == len(looks) - 1
            if not stopped_nb and cross:
                reject_nb[r], stopped_nb = True, True
                stop_look_nb[r] = k
            elif not stopped_nb and final:
                stop_look_nb[r] = k
            if stopped:
                continue
            if cross:
                reject[r], stopped = True, True
                stop_look[r], stop_reason[r] = k, EFFICACY
                decision[r, k] = EFFICACY
            elif not final and np.isfinite(value) and value <= fut[j]:
                stopped = True
                stop_look[r], stop_reason[r] = k, FUTILITY
                decision[r, k] = FUTILITY
            elif final:
                stop_look[r], decision[r, k] = k, FINAL
            else:
                decision[r, k] = "continue"
        for k in range(k_max):  # looks after the stop were never held
            if k > stop_look[r] and held[r, k]:
                decision[r, k] = "after_stop"
    return Decisions(
        stop_look,
        stop_reason.astype(str),
        reject,
        reject_nb,
        stop_look_nb,
        eff_z,
        fut_z,
        decision.astype(str),
    )
