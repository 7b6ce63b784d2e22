"""The records every stage of a chunk shares: the trial's constants, built once per run
(`TrialModel`), and a chunk's patients with what happened to them (`Cohort`).

Arrays are over replicates and patients, shape (R, N), or over replicates, shape (R,): a
record is built once per chunk, never per patient.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.conduct.assessments import ObservedOutcomes, PatientScans, ScanSchedule
from sim.conduct.calendar import StudyCalendar, month_grid
from sim.conduct.datacut import LookTrigger
from sim.conduct.enrollment import EnrolledPatients
from sim.conduct.outcomes import LatentOutcomes, TrueEffect
from sim.conduct.randomization_minimization import FactorLevels
from sim.conduct.survival import IllnessDeathPaths
from sim.conduct.triggers import AnalysisRules, StratumTargets
from sim.scenario import Scenario, Site

if TYPE_CHECKING:
    import datetime as dt

    from sim.engine.continuation import TrialContinuation
    from sim.stats.monitoring import SequentialPlan

ARMS = ("control", "experimental")  # arm codes 0 and 1, as in sim.conduct.randomization


@dataclass(frozen=True)
class TrialModel:
    """Scenario-derived constants, built once per run and shared by all chunks."""

    scenario: Scenario
    calendar: StudyCalendar
    schedule: ScanSchedule
    stratum_p: np.ndarray
    date_cut_day: float
    sites: tuple[Site, ...]
    month_starts: np.ndarray  # clock day each calendar month starts (first: the start day)
    month_labels: tuple[str, ...]  # YYYY-MM of each month of the horizon
    # A trial under way: replicates continue its observed patients from the as-of day
    # instead of starting from the first screening.
    continuation: TrialContinuation | None = None
    plan: SequentialPlan | None = None  # the monitoring plan of a scenario with analysis.looks
    triggers: tuple[LookTrigger, ...] = ()  # the interim looks' data-cut triggers
    rules: AnalysisRules | None = None  # composite triggers (analysis.triggers), if any

    @functools.cached_property
    def prior_closed_form(self) -> dict[str, float]:
        """The design's closed-form figures under the prior on the hazard ratio, the same in
        every replicate, so that summary.csv shows them beside the simulated assurance:
        `assurance_closed_form` and `power_at_prior_mean` (at exp(prior mean of log HR)), at
        the final planned events, as design.csv computes them (`sim.stats.assurance`);
        nothing without a prior on the hazard ratio or without planned events. Computed once
        per model (a design's bounds and a quadrature over the prior), not per chunk."""
        from sim.stats.assurance import assurance, power_curve, prior_design

        found = prior_design(self.scenario)
        if found is None:
            return {}
        prior, events, design, allocation, _ = found
        centre = prior.central_hazard_ratio
        return {
            "assurance_closed_form": assurance(prior, events, design=design, allocation=allocation),
            "power_at_prior_mean": float(
                power_curve(centre, events, design=design, allocation=allocation)
            ),
        }

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> TrialModel:
        calendar = StudyCalendar.from_scenario(scenario)
        cut_date = scenario.analysis.cut_date
        return cls(
            scenario=scenario,
            calendar=calendar,
            schedule=ScanSchedule.from_assessments(scenario.assessments, calendar),
            stratum_p=np.asarray(list(scenario.randomization.strata.values())),
            date_cut_day=float(calendar.day_of(cut_date)) if cut_date else np.inf,
            sites=scenario.enrollment.site_list(scenario.trial.start_date),
            **month_grid(scenario),
            rules=AnalysisRules.from_scenario(scenario, calendar),
            **sequential_model(scenario, calendar),
        )

    def analysis_day(self, cut_day: np.ndarray) -> np.ndarray:
        """The day an analysis is held after its data cut: lag_days later, or with DMC
        meetings (analysis.triggers) the first meeting on or after that."""
        if self.rules is None:
            return cut_day + self.scenario.analysis.lag_days
        return self.rules.analysis_day(cut_day)

    def month_of(self, day: np.ndarray | float) -> np.ndarray:
        """Index of the calendar month of clock days (-1 before the start; past the end: n)."""
        return np.searchsorted(self.month_starts, day, side="right") - 1


def sequential_model(scenario: Scenario, calendar: StudyCalendar) -> dict:
    """The monitoring plan and interim triggers of a scenario with analysis.looks ({} if
    it has one look in the old form)."""
    a = scenario.analysis
    if not a.looks:
        return {}
    from sim.stats.boundaries import planned_events, scenario_plan

    events = planned_events(scenario)
    final = events[-1]

    def day(date: dt.date) -> float:
        return float(calendar.day_of(date))

    triggers = []
    for look in a.looks[:-1]:
        count = look.events
        if look.information is not None:
            count = max(1, math.ceil(look.information * final - 1e-9))
        triggers.append(
            LookTrigger(
                events=count,
                day=day(look.date) if look.date is not None else None,
                not_before=day(look.not_before) if look.not_before is not None else -np.inf,
                not_after=day(look.not_after) if look.not_after is not None else np.inf,
                stratum_targets=None
                if look.triggers is None
                else StratumTargets.from_triggers(look.triggers, scenario.strata_names, count),
            )
        )
    return {
        # the plan of design.csv (with OS primary, the OS effect of the closed-form design)
        "plan": scenario_plan(scenario),
        "triggers": tuple(triggers),
    }


@dataclass(frozen=True)
class Cohort:
    """A chunk's patients and what happened to them, shape (R, N): who was randomized when
    and in which stratum, their arms, their latent outcomes, what follow-up sees of them,
    the scans actually done, and, with an overall_survival block, the illness-death draws
    (None without one, and in a forecast: the observed table has no survival after
    progression). `truth`: each replicate's effect drawn from the design prior (None
    without a prior); `factors`: the patients' levels of the factors minimized or
    reported (None without minimization or covariates)."""

    enrolled: EnrolledPatients
    arm: np.ndarray
    latent: LatentOutcomes
    observed: ObservedOutcomes
    scans: ScanSchedule | PatientScans
    illness_death: IllnessDeathPaths | None = None
    truth: TrueEffect | None = None
    factors: FactorLevels | None = None  # levels of the factors whose imbalance is reported

    @property
    def rand_day(self) -> np.ndarray:
        return self.enrolled.rand_day

    @property
    def stratum(self) -> np.ndarray:
        return self.enrolled.stratum
