"""The data cut: when the final analysis happens and what is known then.

The cut comes at the calendar day the `event_target`-th PFS event is *seen* (observed events
only: at a scan, or a death), at the calendar `cut_date`, or whichever comes first. At the
cut, a patient's PFS is an event if it was seen on or before the cut; otherwise it is censored
at the last assessment on or before the cut (or the withdrawal censoring, if earlier).
Patients randomized after the cut are not in the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.conduct.assessments import ObservedOutcomes, ScanSchedule
from sim.scenario import Analysis

if TYPE_CHECKING:
    from sim.conduct.triggers import StratumTargets

CUT_EVENTS, CUT_DATE, CUT_ALL_FOLLOWED = 0, 1, 2
# The rules that can set a data cut with analysis triggers (`sim.conduct.triggers`), by
# code: the words of the `analysis_trigger` and `look<k>_trigger` columns.
TRIGGERS = np.asarray(
    [
        "events",  # the event target (the total; an interim look's events or information)
        "date",  # analysis.cut_date, or an interim look's date
        "all_followed",  # the target never reached: the end of follow-up
        "stratum_events",  # every named stratum reached its target
        "min_followup",  # raised to the last randomization + min_followup_months
        "not_before",  # raised to the calendar floor
        "not_after",  # lowered to the calendar cap
        "max_extension",  # lowered to planned_date + max_extension_months
    ]
)
(
    BY_EVENTS,
    BY_DATE,
    BY_ALL_FOLLOWED,
    BY_STRATUM_EVENTS,
    BY_MIN_FOLLOWUP,
    BY_NOT_BEFORE,
    BY_NOT_AFTER,
    BY_EXTENSION,
) = range(len(TRIGGERS))


@dataclass(frozen=True)
class CutData:
    """Analysis data set at the cut, shape (R, N), plus the cut per replicate."""

    time: np.ndarray
    event: np.ndarray
    valid: np.ndarray
    cut_day: np.ndarray  # (R,) clock day of the data cut
    target_day: np.ndarray  # (R,) day the event target was seen (nan if never)
    cut_reason: np.ndarray  # (R,) CUT_EVENTS, CUT_DATE or CUT_ALL_FOLLOWED


def kth_event_day(event_cal_day: np.ndarray, k: int) -> np.ndarray:
    """Calendar day the k-th event is seen per row (inf if fewer than k events)."""
    return np.partition(event_cal_day, k - 1, axis=1)[:, k - 1]


def choose_cut_day(
    analysis: Analysis,
    rand_day: np.ndarray,
    observed: ObservedOutcomes,
    date_cut_day: float,
    target: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cut_day, target_day, reason) per replicate according to `analysis.cut`; `target`:
    the event trigger's day when another rule than the total event target sets it
    (`sim.conduct.triggers`)."""
    n_reps = rand_day.shape[0]
    event_cal = rand_day + observed.event_day
    if target is None and analysis.event_target is not None:
        target = kth_event_day(event_cal, analysis.event_target)
    elif target is None:
        target = np.full(n_reps, np.inf)
    # If the target is never reached (dropout), the trial ends when follow-up ends.
    followed = rand_day + np.minimum(observed.event_day, observed.withdraw_censor_day)
    end_of_followup = np.max(np.where(np.isfinite(followed), followed, rand_day), axis=1)
    by_events = np.where(np.isfinite(target), target, end_of_followup)
    reason_events = np.where(np.isfinite(target), CUT_EVENTS, CUT_ALL_FOLLOWED)
    if analysis.cut == "events":
        cut, reason = by_events, reason_events
    elif analysis.cut == "date":
        cut, reason = np.full(n_reps, date_cut_day), np.full(n_reps, CUT_DATE)
    else:
        use_date = date_cut_day < by_events
        cut = np.where(use_date, date_cut_day, by_events)
        reason = np.where(use_date, CUT_DATE, reason_events)
    target_day = np.where(np.isfinite(target), target, np.nan)
    return cut.astype(float), target_day, reason


def cut_data(
    rand_day: np.ndarray,
    observed: ObservedOutcomes,
    schedule: ScanSchedule,
    cut_day: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, event, valid) of the analysis data set at each replicate's cut."""
    horizon = cut_day[:, None] - rand_day
    valid = horizon >= 0
    # Compare calendar days, not horizon lengths: cut_day is itself a sum rand + event_day,
    # and subtracting back could lose the last bit and drop the target event.
    seen = rand_day + observed.event_day <= cut_day[:, None]
    admin = schedule.last_scan_on_or_before(np.maximum(horizon, 0.0))
    censor = np.minimum(admin, observed.withdraw_censor_day)
    time = np.where(seen, observed.event_day, censor)
    return time, seen & valid, valid


def cut_at_analysis(
    analysis: Analysis,
    rand_day: np.ndarray,
    observed: ObservedOutcomes,
    schedule: ScanSchedule,
    date_cut_day: float,
) -> CutData:
    cut, target, reason = choose_cut_day(analysis, rand_day, observed, date_cut_day)
    time, event, valid = cut_data(rand_day, observed, schedule, cut)
    return CutData(time, event, valid, cut, target, reason)


CUT_INTERIM = 3  # cut_reason of a trial that ended at an interim look


@dataclass(frozen=True)
class LookTrigger:
    """When an interim look's data cut comes: at the `events`-th event seen (or at the
    per-stratum targets of `stratum_targets`) or on clock day `day`, then no earlier than
    `not_before` (and the minimum follow-up) and no later than `not_after` (clock days)."""

    events: int | None = None
    day: float | None = None
    not_before: float = -np.inf
    not_after: float = np.inf
    stratum_targets: StratumTargets | None = None  # per-stratum targets, minimum follow-up


def look_cut_days(
    triggers: tuple[LookTrigger, ...],
    rand_day: np.ndarray,
    observed: ObservedOutcomes,
    final_cut_day: np.ndarray,
    stratum: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(cut_day, held), shape (R, K): the interim looks' cut days, then the final cut.

    A look comes no earlier than the one before it; an interim look whose cut would come on
    or after the final cut (too few events, a late date) is not held (cut_day nan)."""
    days, held, _ = look_cut_days_and_rules(triggers, rand_day, observed, final_cut_day, stratum)
    return days, held


def look_cut_days_and_rules(
    triggers: tuple[LookTrigger, ...],
    rand_day: np.ndarray,
    observed: ObservedOutcomes,
    final_cut_day: np.ndarray,
    stratum: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`look_cut_days` and, shape (R, K - 1), the `TRIGGERS` code of the rule that set each
    interim look's cut (a look held back to the one before it keeps its own rule)."""
    n_reps = rand_day.shape[0]
    event_cal = rand_day + observed.event_day
    days = np.empty((n_reps, len(triggers) + 1))
    codes = np.empty((n_reps, len(triggers)), dtype=np.int64)
    previous = np.full(n_reps, -np.inf)
    for k, trigger in enumerate(triggers):
        if trigger.events is not None:
            day = kth_event_day(event_cal, trigger.events)
            code = np.full(n_reps, BY_EVENTS)
        else:
            day = np.full(n_reps, float(trigger.day))
            code = np.full(n_reps, BY_DATE)
        if trigger.stratum_targets is not None and stratum is not None:
            rule = trigger.stratum_targets
            by_strata = rule.event_day(event_cal, stratum)
            if by_strata is not None:
                day = by_strata[0]
                code = np.where(by_strata[1], BY_STRATUM_EVENTS, BY_EVENTS)
            floor = rule.floor_day(rand_day)
            code = np.where(day < floor, BY_MIN_FOLLOWUP, code)
            day = np.maximum(day, floor)
        code = np.where(day < trigger.not_before, BY_NOT_BEFORE, code)
        code = np.where(np.maximum(day, trigger.not_before) > trigger.not_after, BY_NOT_AFTER, code)
        day = np.minimum(np.maximum(day, trigger.not_before), trigger.not_after)
        day = np.maximum(day, previous)
        days[:, k] = day
        codes[:, k] = code
        previous = day
    days[:, -1] = final_cut_day
    held = days < final_cut_day[:, None]
    held[:, -1] = True
    return np.where(held, days, np.nan), held, codes
