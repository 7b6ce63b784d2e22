"""The clinic's schedule on the calendar alone: the SimPy run's records when no book fills.

A replicate's SimPy run (`sim.clinic.model.run_replicate`) books chairs and linac slots
first come, first served, and the order of the bookings matters only when one of them
finds its day full. If on every day the clinic's background load plus every booking the
trial's patients make for that day (kept, or given back at a stop) fits the day's limit,
no booking ever finds a day full, whatever their order. Then every cycle is given on the
day the calendar alone gives it (`give_cycle_day` without a chair book), every Quad Shot
course starts on its first run of open days, and each patient's course is a function of
the patient's own draws, computed here for all patients at once, cycle by cycle and course
by course (`schedule_on_calendar`), with the bookings made (`Bookings.fit`). When they fit,
these records are the SimPy run's to the last entry (tests/test_schedule.py runs both on
clinics with and without full days); when they do not, the replicate runs in SimPy.

The SimPy run's rules, as they act on one patient (`sim.clinic.treatment`): an event at
clock t happens if t is before the patient's limit, the floor of the stop day (a stop
comes before anything else on its day), and, without `to_end`, before the horizon (nothing
happens from the horizon day on). Cycle 1 is booked at randomization (at clock 0 if that is
day 0 or earlier, before any stop), cycle k + 1 when cycle k is given, up to the last cycle
(`max_cycles`, or the one after which the patient discontinues for toxicity). A cycle is
given on its day; its dose level is the count of reductions so far (at most the lowest
level). Course 1 is booked on cycle 1's day, course c + 1 on its due day (course c's start
plus the course interval) or, if that came first, on course c's last day, unless course c
ended in pneumonitis or was the last to receive, or the patient ended systemic treatment
for toxicity before the course was due. A course's fractions are given day by day; a course
is completed when its last day's fractions are. With `to_end`, the records are those of the
events before the horizon, and the cycles given from the horizon on are kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.clinic.radiotherapy import CourseRules
from sim.clinic.records import CourseArrays
from sim.clinic.treatment import IN_WINDOW, LATE_CLOSURE, CycleRules, give_cycle_day
from sim.conduct.calendar import StudyCalendar


@dataclass(frozen=True)
class PatientPlans:
    """What each patient of a replicate is to receive, as drawn (or as the adverse events
    decide), built once per replicate, shape (n,) unless said: `rand_day`, `first_due`
    (cycle 1's due day), `delayed` (n, max_cycles) bool and `cycles` its
    `sim.clinic.treatment.plan_cycles` (gaps, levels, chair-minutes), `toxicity` (the cycle
    after which treatment ends for toxicity; > max_cycles: never), `rt_courses` (Quad Shot
    courses to receive, 0: none), `pneumonitis` (the course ending in pneumonitis, 0: none),
    `stops` (the floor of the stop day; inf: none)."""

    rand_day: np.ndarray
    first_due: np.ndarray
    delayed: np.ndarray
    cycles: tuple[np.ndarray, np.ndarray, np.ndarray]
    toxicity: np.ndarray
    rt_courses: np.ndarray
    pneumonitis: np.ndarray
    stops: np.ndarray


@dataclass(frozen=True)
class Bookings:
    """Every booking the schedule makes: chair-minutes per day (cycles) and the days each
    course holds a slot in every linac session."""

    chair_day: np.ndarray
    chair_minutes: np.ndarray
    linac_day: np.ndarray

    def fit(
        self,
        span: int,
        chair_limit: int,
        chair_background: np.ndarray | None,
        linac_limit: int,
        linac_background: np.ndarray | None,
    ) -> bool:
        """Whether the background plus all the bookings fit every day's limit (days from
        `span` on have no limit; a limit of 0 means no book). `chair_background` (span,),
        `linac_background` (span, sessions)."""
        if chair_limit:
            inside = self.chair_day < span
            used = np.bincount(
                self.chair_day[inside], weights=self.chair_minutes[inside], minlength=span
            )
            if chair_background is not None:
                used = used + chair_background
            if used.max(initial=0) > chair_limit:
                return False
        if linac_limit:
            inside = self.linac_day < span
            used = np.bincount(self.linac_day[inside], minlength=span)
            peak = used[:, None] + linac_background if linac_background is not None else used
            if peak.max(initial=0) > linac_limit:
                return False
        return True


def worth_trying(
    first_day: int,
    smallest_visit: int,
    chair_limit: int,
    chair_background: np.ndarray | None,
    linac_limit: int,
    linac_background: np.ndarray | None,
) -> bool:
    """Whether the schedule may fit: no day from `first_day` on (the first randomization)
    whose background alone leaves no room for the smallest chair visit or a linac slot.
    Such a day fails `Bookings.fit` as soon as a patient is due on it, as happens in nearly
    every replicate of a busy clinic (the baseline's 80% and 75% background fill 2-3% of
    its days), and there the SimPy run is all there is to do."""
    if (
        chair_limit
        and chair_background is not None
        and (chair_background[first_day:] > chair_limit - smallest_visit).any()
    ):
        return False
    return not (
        linac_limit
        and linac_background is not None
        and (linac_background[first_day:] >= linac_limit).any()
    )


def calendar_days(
    calendar: StudyCalendar, due: np.ndarray, rules: CycleRules, earliest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(day given, IN_WINDOW or LATE_CLOSURE) of cycles due on `due` with unlimited chairs:
    `give_cycle_day` without a book, vectorized (the first open day on or after the due day
    when it is in the window; otherwise `give_cycle_day` itself, entry by entry)."""
    first = calendar.next_open_day(due)
    late = np.zeros(len(due), dtype=np.int64)
    window = rules.window
    if window is None:
        return first, late
    outside = np.flatnonzero(first > due + window.after_days)
    for i in outside:  # a closure longer than the window's days after the due day (rare)
        first[i], _, late[i] = give_cycle_day(
            calendar, int(due[i]), window, None, 0, int(earliest[i])
        )
    return first, late


def course_starts(calendar: StudyCalendar, n_days: int) -> np.ndarray:
    """`sim.clinic.radiotherapy.first_open_run` of every day of the calendar's table and the
    day after it (later days start their own run: days past the table count as open)."""
    horizon = calendar.horizon_days
    open_day = np.concatenate([calendar.open_day[: horizon + 1], np.ones(n_days, bool)])
    total = np.concatenate([[0], np.cumsum(open_day)])
    runs = total[n_days : n_days + horizon + 2] - total[: horizon + 2] == n_days
    idx = np.where(runs, np.arange(horizon + 2), horizon + 1)
    return np.minimum.accumulate(idx[::-1])[::-1]


def schedule_on_calendar(
    calendar: StudyCalendar,
    rules: CycleRules,
    rt_rules: CourseRules | None,
    run_start: np.ndarray | None,
    plans: PatientPlans,
    end: float,
    to_end: bool,
) -> tuple[CourseArrays, Bookings]:
    """Every patient's cycles and courses as the SimPy run gives them when no booking finds
    its day full (module docstring), and the bookings made.

    `plans`: the patients' plans; `end` the horizon day (inf: none); `run_start` the
    `course_starts` of the calendar (with RT). `to_end`: as `sim.clinic.model.run_replicate`.
    """
    rand_day, first_due, delayed = plans.rand_day, plans.first_due, plans.delayed
    toxicity, rt_courses, pneumonitis = plans.toxicity, plans.rt_courses, plans.pneumonitis
    stops = plans.stops
    n, k_max = delayed.shape
    limit = stops if to_end else np.minimum(stops, end)  # events at clock >= limit: none
    last = np.minimum(toxicity, rules.max_cycles)
    rows = np.arange(n)
    day = np.zeros((n, k_max), dtype=np.int64)
    late = np.zeros((n, k_max), dtype=np.int64)
    booked = np.zeros((n, k_max), dtype=bool)
    given = np.zeros((n, k_max), dtype=bool)
    books = (rand_day <= 0) | (rand_day < limit)  # cycle 1's booking is made
    due, earliest = np.asarray(first_due, dtype=np.int64), np.asarray(rand_day, dtype=np.int64)
    gaps, level, minutes = plans.cycles
    for j in range(k_max):  # cycle j + 1
        if not books.any():
            break
        day[:, j], late[:, j] = calendar_days(calendar, due, rules, earliest)
        booked[:, j] = books
        given[:, j] = books & (day[:, j] < limit)
        books = given[:, j] & (j + 1 < last)
        if j + 1 < k_max:
            due = day[:, j] + gaps[:, j + 1]
            earliest = day[:, j] + 1
    was_delayed = delayed.copy()
    was_delayed[:, 0] = False
    n_given = given.sum(axis=1)
    toxic = (last < rules.max_cycles) & (n_given == last)
    toxicity_day = np.where(toxic, day[rows, np.maximum(last - 1, 0)], np.inf)

    rt = rt_courses_given(
        rt_rules, run_start, day[:, 0], given[:, 0], rt_courses, pneumonitis, toxicity_day, limit
    )
    horizon = end if to_end else np.inf  # with to_end: what came before the horizon
    now = given & (day < horizon)
    patient, index = np.nonzero(now)
    arrays = CourseArrays(
        cycle_patient=patient,
        cycle_index=index,
        cycle_day=day[now],
        cycle_level=level[now],
        cycle_wait=np.zeros(len(patient), dtype=np.int64),
        cycle_late=late[now],
        cycle_delayed=was_delayed[now].astype(np.int64),
        rt_patient=np.zeros(0, dtype=np.int64),
        rt_start=np.zeros(0, dtype=np.int64),
        rt_wait=np.zeros(0, dtype=np.int64),
        rt_late=np.zeros(0, dtype=np.int64),
        fraction_patient=np.zeros(0, dtype=np.int64),
        fraction_day=np.zeros(0, dtype=np.int64),
        completed=np.zeros(n, dtype=np.int64),
        toxicity_end=toxic & (toxicity_day < horizon),
        later=None,
    )
    linac_day = np.zeros(0, dtype=np.int64)
    if rt is not None:
        start, course_late, booked_at, held, fraction_given, completion = rt
        kept = held & (booked_at < horizon)
        arrays.rt_patient, _ = np.nonzero(kept)
        arrays.rt_start, arrays.rt_late = start[kept], course_late[kept]
        arrays.rt_wait = np.zeros(len(arrays.rt_patient), dtype=np.int64)
        n_days = rt_rules.days_per_course
        days = start[:, :, None] + np.arange(n_days)  # (n, C, days)
        fractions = np.repeat(
            (fraction_given & (days < horizon))[..., None], len(rt_rules.fraction_hours), axis=-1
        )
        arrays.fraction_patient, *_ = np.nonzero(fractions)
        arrays.fraction_day = np.broadcast_to(days[..., None], fractions.shape)[fractions]
        arrays.completed = (fraction_given.all(axis=2) & held & (completion < horizon)).sum(1)
        linac_day = days[held].ravel()
    if to_end:
        after = given & (day >= horizon)
        patient, index = np.nonzero(after)
        arrays.later = (patient, day[after], level[after], index)
    bookings = Bookings(day[booked], minutes[booked], linac_day)
    return arrays, bookings


def rt_courses_given(
    rt_rules: CourseRules | None,
    run_start: np.ndarray | None,
    cycle1_day: np.ndarray,
    cycle1_given: np.ndarray,
    rt_courses: np.ndarray,
    pneumonitis: np.ndarray,
    toxicity_day: np.ndarray,
    limit: np.ndarray,
) -> tuple[np.ndarray, ...] | None:
    """The Quad Shot courses on the calendar alone, (n, C) each: start day, lateness, the
    clock of its booking, whether it was booked, (n, C, days) whether each day's fractions
    were given, and the clock of its last day; None without RT."""
    if rt_rules is None or not (rt_courses > 0).any():
        return None
    assert run_start is not None
    n, n_courses = len(rt_courses), int(rt_courses.max())
    n_days, within = rt_rules.days_per_course, rt_rules.start_within_days
    start = np.zeros((n, n_courses), dtype=np.int64)
    course_late = np.zeros((n, n_courses), dtype=np.int64)
    booked_at = np.zeros((n, n_courses))
    held = np.zeros((n, n_courses), dtype=bool)
    fraction_given = np.zeros((n, n_courses, n_days), dtype=bool)
    alive = cycle1_given & (rt_courses > 0)
    due, free, at = cycle1_day.astype(np.int64), np.zeros(n, dtype=np.int64), cycle1_day
    horizon = len(run_start) - 1
    for c in range(n_courses):  # course c + 1
        alive = alive & (at < limit) & ~(toxicity_day < due)
        if not alive.any():
            break
        earliest = np.maximum(due, free)
        s = np.where(earliest <= horizon, run_start[np.minimum(earliest, horizon)], earliest)
        start[:, c], booked_at[:, c], held[:, c] = s, at, alive
        if within is not None:
            course_late[:, c] = np.where(s - due > within, LATE_CLOSURE, IN_WINDOW)
        fraction_given[:, c] = alive[:, None] & (s[:, None] + np.arange(n_days) < limit[:, None])
        done = fraction_given[:, c].all(axis=1)
        alive = done & (pneumonitis != c + 1) & (rt_courses > c + 1)
        due, free = s + rt_rules.interval_days, s + n_days
        at = np.maximum(due, s + n_days - 1)  # course c + 2 is booked then
    completion = start + n_days - 1
    return start, course_late, booked_at, held, fraction_given, completion
