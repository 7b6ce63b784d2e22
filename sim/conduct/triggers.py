"""Composite analysis triggers (`analysis.triggers`, `analysis.looks[k].triggers`), vectorized
over replicates: when the data cut comes, which rule set it, and when the analysis is held.

The final cut, in order: the event trigger (the k_s-th PFS event seen in each named stratum
s, the last of them with `every`; with `every_or_total` that or the total event target,
whichever comes first), or the calendar cut, as `analysis.cut` says
(`sim.conduct.datacut.choose_cut_day`); then raised to the floor, the later of `not_before`
and the last randomization plus `min_followup_months`; then lowered to the cap, the earlier
of `not_after` and `planned_date` + `max_extension_months` (the cap wins over the floor:
a protocol's last date is the last date). The rule that set the cut is recorded per
replicate (`sim.conduct.datacut.TRIGGERS`). The analysis is held `analysis.lag_days` (data
cleaning) after the cut, or, with DMC meetings, at the first meeting on or after that day;
meetings fall on open clinic days (each due date moved to the next open day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.conduct.assessments import ObservedOutcomes, ScanSchedule
from sim.conduct.calendar import StudyCalendar
from sim.conduct.datacut import (
    BY_DATE,
    BY_EVENTS,
    BY_EXTENSION,
    BY_MIN_FOLLOWUP,
    BY_NOT_AFTER,
    BY_NOT_BEFORE,
    BY_STRATUM_EVENTS,
    CUT_DATE,
    CUT_EVENTS,
    CutData,
    choose_cut_day,
    cut_data,
    kth_event_day,
)
from sim.scenario import DAYS_PER_MONTH, DAYS_PER_YEAR, MAX_STUDY_YEARS, Analysis, Scenario
from sim.scenario.triggers import (
    AnalysisTriggers,
    DmcMeetings,
    LookTriggers,
    planned_cut_date,
)


@dataclass(frozen=True)
class StratumTargets:
    """Per-stratum event targets of one analysis: (stratum index, events) pairs, the rule,
    the total target (`every_or_total`) and the minimum follow-up in days (None: none)."""

    targets: tuple[tuple[int, int], ...]
    every_or_total: bool
    total: int | None
    min_followup_days: float | None

    @classmethod
    def from_triggers(
        cls, triggers: LookTriggers, strata: list[str], total: int | None
    ) -> StratumTargets:
        months = triggers.min_followup_months
        return cls(
            tuple((strata.index(name), n) for name, n in triggers.stratum_events.items()),
            triggers.stratum_rule == "every_or_total",
            total,
            None if months is None else months * DAYS_PER_MONTH,
        )

    def event_day(
        self, event_cal: np.ndarray, stratum: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(day, by_strata) per replicate: the event trigger's day (inf: never) and whether
        the strata set it; None without per-stratum targets."""
        if not self.targets:
            return None
        day = np.full(event_cal.shape[0], -np.inf)
        for s, n in self.targets:  # a few strata, not a data loop
            mine = np.where(stratum == s, event_cal, np.inf)
            day = np.maximum(day, kth_event_day(mine, n))
        by_strata = np.ones(day.shape, dtype=bool)
        if self.every_or_total and self.total is not None:
            total = kth_event_day(event_cal, self.total)
            by_strata = day <= total
            day = np.minimum(day, total)
        return day, by_strata

    def floor_day(self, rand_day: np.ndarray) -> np.ndarray:
        """The last randomization plus the minimum follow-up (-inf without one)."""
        if self.min_followup_days is None:
            return np.full(rand_day.shape[0], -np.inf)
        return rand_day.max(axis=1) + self.min_followup_days


@dataclass(frozen=True)
class AnalysisRules:
    """The composite triggers of a scenario, in clock days, built once per run."""

    final: StratumTargets
    not_before: float
    not_after: float
    extension_cap: float
    meetings: np.ndarray | None  # clock days of the DMC meetings (None: none)
    lag_days: float

    @classmethod
    def from_scenario(cls, scenario: Scenario, calendar: StudyCalendar) -> AnalysisRules | None:
        """None when the scenario has no triggers anywhere."""
        a = scenario.analysis
        looks = [look.triggers for look in a.looks if look.triggers is not None]
        if a.triggers is None and not looks:
            return None
        t = a.triggers or AnalysisTriggers()

        def day(date: object, default: float) -> float:
            return default if date is None else float(calendar.day_of(date))

        extension = np.inf
        if t.max_extension_months is not None:
            planned = calendar.day_of(planned_cut_date(scenario))
            extension = planned + t.max_extension_months * DAYS_PER_MONTH
        return cls(
            StratumTargets.from_triggers(t, scenario.strata_names, a.event_target),
            day(t.not_before, -np.inf),
            day(t.not_after, np.inf),
            extension,
            None if t.dmc_meetings is None else meeting_days(t.dmc_meetings, calendar),
            float(a.lag_days),
        )

    def analysis_day(self, cut_day: np.ndarray) -> np.ndarray:
        """The day the analysis is held: the cut plus the lag, then the first DMC meeting
        on or after it (nan stays nan)."""
        ready = np.asarray(cut_day, float) + self.lag_days
        if self.meetings is None:
            return ready
        index = np.searchsorted(self.meetings, np.where(np.isnan(ready), 0.0, ready), "left")
        held = self.meetings[np.minimum(index, len(self.meetings) - 1)]
        return np.where(np.isnan(ready), np.nan, np.where(index < len(self.meetings), held, ready))

    def final_cut_day(
        self,
        cut: np.ndarray,
        reason: np.ndarray,
        rand_day: np.ndarray,
        by_strata: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cut day, TRIGGERS code) per replicate from the cut `choose_cut_day` made (with
        the event trigger of `StratumTargets.event_day`) and its reason."""
        code = np.where(reason == CUT_EVENTS, BY_EVENTS, np.where(reason == CUT_DATE, BY_DATE, 2))
        if by_strata is not None:
            code = np.where((reason == CUT_EVENTS) & by_strata, BY_STRATUM_EVENTS, code)
        followup = self.final.floor_day(rand_day)
        floor = np.maximum(followup, self.not_before)
        raised = cut < floor
        code = np.where(
            raised, np.where(followup >= self.not_before, BY_MIN_FOLLOWUP, BY_NOT_BEFORE), code
        )
        cut = np.where(raised, floor, cut)
        cap = min(self.not_after, self.extension_cap)
        lowered = cut > cap
        code = np.where(
            lowered, BY_NOT_AFTER if self.not_after <= self.extension_cap else BY_EXTENSION, code
        )
        return np.where(lowered, cap, cut), code


def meeting_days(meetings: DmcMeetings, calendar: StudyCalendar) -> np.ndarray:
    """Clock days of the DMC meetings over the longest study: each due date (first + k x
    every_weeks weeks, rounded down to a day) moved to the first open clinic day."""
    first = calendar.day_of(meetings.first)
    step = meetings.every_weeks * 7.0
    count = int(MAX_STUDY_YEARS * DAYS_PER_YEAR / step) + 2
    due = np.floor(first + step * np.arange(count)).astype(np.int64)
    return np.unique(calendar.next_open_day(due)).astype(float)


def cut_by_rules(
    rules: AnalysisRules,
    analysis: Analysis,
    rand_day: np.ndarray,
    observed: ObservedOutcomes,
    scans: ScanSchedule,
    stratum: np.ndarray,
    date_cut_day: float,
) -> tuple[CutData, np.ndarray]:
    """The final analysis's data set at the cut the rules set, and the rule's code
    (`sim.conduct.datacut.TRIGGERS`) per replicate (see the module docstring)."""
    event_cal = rand_day + observed.event_day
    by_events = rules.final.event_day(event_cal, stratum)
    target = None if by_events is None else by_events[0]
    cut, target_day, reason = choose_cut_day(analysis, rand_day, observed, date_cut_day, target)
    cut, code = rules.final_cut_day(
        cut, reason, rand_day, None if by_events is None else by_events[1]
    )
    time, event, valid = cut_data(rand_day, observed, scans, cut)
    return CutData(time, event, valid, cut, target_day, reason), code
