"""Systemic treatment: QL1706 + doublet for the induction cycles, then QL1706 maintenance.

One SimPy process per patient gives cycles `cycle_days` apart (registry: days 1, 22, 43, 64,
then maintenance q21d) until `max_cycles`, toxicity, or the patient's stop. Induction and
maintenance cycles follow the same timing rules; they differ in their drugs (the regimen of
the patient's stratum), hence in chair time and in whether the dose level applies.

Timing of cycle k + 1: due ``cycle_days`` after the day cycle k was given, plus
``delay.days`` if cycle k + 1 is delayed (so a delay pushes every later cycle), then given on
the day `give_cycle_day` returns: an open clinic day with a free chair, within the protocol
window (`treatment.window`, e.g. -0/+3 days) if there is one (a shift, not a delay),
otherwise the first such day after the window (a protocol deviation, counted by its cause:
the closure, or the chairs). Cycle 1 is due on randomization day + U, U uniform in
0..cycle1_within_days, and is booked on the randomization day; cycle k + 1 is booked when
cycle k is given (appointments are first come, first served).

Dose levels: before cycle k >= 2, with the drawn probability, a patient whose cycle has a
reducible drug drops one dose level (until the lowest); the level is kept from then on.

Toxicity: after cycle k the patient discontinues with probability
``discontinuation_per_cycle``; cycle k and the RT course that starts with it are given,
nothing later (the toxicity is found before the next cycle). A discontinuation drawn after
the last allowed cycle does not count: that patient ends at ``max_cycles``.

Quad Shot RT (arm `radiotherapy.arm` only, `rt_course_chain`): course 1 is due with cycle 1
and each later course `course_interval_days` after the previous course started (the
protocol's "repeated every 3 weeks"), not with the cycles: a delayed cycle does not move the
courses, and a course that had to wait does not bring the next one closer. A course starts
on the first run of open days with linac slots on or after its due day (after the previous
course: the interval is longer than a course); later than `start_within_days` after its due
day it is a protocol deviation. A course due after a discontinuation for toxicity is not
given; a course drawn to end in pneumonitis is the patient's last.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from sim.clinic.capacity import DayBook, SessionBook
from sim.clinic.radiotherapy import (
    CourseRules,
    deliver_rt_course,
    plan_course_start,
)
from sim.clinic.records import PatientCourse
from sim.conduct.calendar import StudyCalendar
from sim.scenario import Treatment, Window

IN_WINDOW, LATE_CLOSURE, LATE_CAPACITY = 0, 1, 2  # why a visit came when it did
LATE_CAUSES = ("in window", "closure", "capacity")


@dataclass(frozen=True, slots=True)
class CycleRules:
    """The scenario's `treatment:` block in the units the process uses."""

    cycle_days: int
    max_cycles: int
    delay_days: int
    induction_cycles: int
    window: Window | None
    n_levels: int  # dose levels below the full dose

    @classmethod
    def from_treatment(cls, treatment: Treatment) -> CycleRules:
        return cls(treatment.cycle_days, treatment.max_cycles, treatment.delay.days,
                   treatment.induction_cycles, treatment.window,
                   len(treatment.dose_reduction.levels))


@dataclass(frozen=True, slots=True)
class Clinic:
    """What the processes of one replicate share: the rules, the calendar, the books
    (None: unlimited) and the log (None: not kept)."""

    calendar: StudyCalendar
    rules: CycleRules
    rt_rules: CourseRules | None
    chairs: DayBook | None
    linac: SessionBook | None
    log: list | None


def calendar_day(calendar: StudyCalendar, due_day: int, window: Window | None,
                 earliest: int) -> int:
    """The day a cycle due on `due_day` is given when chairs are no limit: the first open
    day on or after it if that is inside the window (or there is no window), else the
    latest open day of the window before the due day, else (a deviation) that first day."""
    first = calendar.next_open.item(due_day) if due_day <= calendar.horizon_days else due_day
    if window is None or first - due_day <= window.after_days or window.before_days == 0:
        return first
    for day in range(due_day - 1, max(due_day - window.before_days, earliest) - 1, -1):
        if calendar.is_open(day):
            return day
    return first


def give_cycle_day(
    calendar: StudyCalendar, due_day: int, window: Window | None = None,
    chairs: DayBook | None = None, minutes: int = 0, earliest: int = 0,
) -> tuple[int, int, int]:
    """(day given, days waited for a chair, IN_WINDOW or why late) of a cycle due `due_day`.

    The one place where a due day becomes a given day, and where the chair is booked. The
    day is open and has `minutes` of chair time free; in the window (`window`: -before/
    +after days of the due day, never before `earliest`) if any such day exists, the days
    after the due day first, nearest first; otherwise the first such day after the window,
    which is late: LATE_CLOSURE if the clinic had no open day in the window, else
    LATE_CAPACITY. Without a window a cycle is never late. The wait counts days beyond
    `calendar_day`, the day the cycle would have had with unlimited chairs.
    """
    first = calendar.next_open.item(due_day) if due_day <= calendar.horizon_days else due_day
    after = None if window is None else due_day + window.after_days
    if after is None or first <= after:  # the common case: an open day in the window
        on_calendar, closure = first, False
    else:
        on_calendar = calendar_day(calendar, due_day, window, earliest)
        closure = on_calendar > after
    if chairs is None:
        return on_calendar, 0, LATE_CLOSURE if closure else IN_WINDOW
    if not closure and chairs.room(on_calendar, minutes):
        chairs.book(on_calendar, minutes)
        return on_calendar, 0, IN_WINDOW
    day = on_calendar
    if after is not None:
        assert window is not None
        before = max(due_day - window.before_days, earliest)
        for day in (*range(due_day, after + 1), *range(due_day - 1, before - 1, -1)):
            if calendar.is_open(day) and chairs.room(day, minutes):
                chairs.book(day, minutes)
                return day, max(day - on_calendar, 0), IN_WINDOW
        day = max(on_calendar, after + 1)
    while not (calendar.is_open(day) and chairs.room(day, minutes)):
        day += 1
    chairs.book(day, minutes)
    late = IN_WINDOW if after is None else LATE_CLOSURE if closure else LATE_CAPACITY
    return day, day - on_calendar, late


def treat_patient(
    env: simpy.Environment, clinic: Clinic, record: PatientCourse, rand_day: int,
    first_due: int, delayed: Sequence[bool], reduced: Sequence[bool], toxicity_cycle: int,
    rt_courses: int, pneumonitis_course: int, visit_minutes: tuple[int, int],
    reducible: tuple[bool, bool],
) -> Generator[simpy.Event, object, None]:
    """SimPy process of one patient's treatment; see the module docstring for the rules.

    `delayed[k - 1]` / `reduced[k - 1]` say whether cycle k is delayed / starts a lower dose
    level (entry 0 is ignored: cycle 1 is neither) and need `rules.max_cycles` entries;
    `toxicity_cycle` is the cycle after which the patient discontinues for toxicity
    (> max_cycles: never); `rt_courses` is how many Quad Shot courses the patient will
    receive (0 for none; needs `clinic.rt_rules` if > 0), the last ending in pneumonitis if
    it is `pneumonitis_course` (0: none). `visit_minutes` and `reducible` are per phase
    (induction, maintenance): chair minutes of a visit, and whether its drugs follow the
    dose level. The patient's stop is an interrupt whose cause is the stop reason: no cycle
    after it, a Quad Shot course under way is interrupted too, and appointments not kept are
    given back. Results go into `record`.
    """
    # Locals: this loop runs about a thousand times per replicate.
    timeout, calendar, rules, log = env.timeout, clinic.calendar, clinic.rules, clinic.log
    chairs, window = clinic.chairs, rules.window
    add_day, add_flag = record.cycle_days.append, record.cycle_delayed.append
    add_level, add_wait, add_late = (
        record.cycle_levels.append, record.cycle_waits.append, record.cycle_late.append)
    gap, late_gap = rules.cycle_days, rules.cycle_days + rules.delay_days
    last = min(rules.max_cycles, toxicity_cycle)
    induction, n_levels = rules.induction_cycles, rules.n_levels
    rt_processes: list[simpy.Process] = []  # the Quad Shot courses, a process of their own
    ended_on: list[int] = []  # the day systemic treatment ended (no course due later starts)
    booked, minutes = -1, 0  # a chair appointment not yet kept
    try:
        if rand_day > env.now:
            yield timeout(rand_day - env.now)  # cycle 1 is booked at randomization
        due, k, late, level, earliest = first_due, 0, False, 0, rand_day
        while True:
            phase = 0 if k < induction else 1
            minutes = visit_minutes[phase]
            day, wait, out = give_cycle_day(calendar, due, window, chairs, minutes, earliest)
            booked = day
            yield timeout(day - env.now)
            booked = -1
            k += 1
            lower = k > 1 and reduced[k - 1] and reducible[phase] and level < n_levels
            level += lower
            add_day(day)
            add_flag(late)
            add_level(level)
            add_wait(wait)
            add_late(out)
            if log is not None:
                log.append((day, record.patient, f"cycle {k}" + (" delayed" if late else "")
                            + (" reduced" if lower else "")
                            + (f" late {LATE_CAUSES[out]}" if out else "")))
            if k == 1 and rt_courses:
                rt_processes.append(env.process(rt_course_chain(
                    env, clinic, record, day, rt_courses, pneumonitis_course, ended_on)))
            if k == last:
                break
            late = delayed[k]
            due = day + (late_gap if late else gap)
            earliest = day + 1
        record.end_reason = "max_cycles" if k == rules.max_cycles else "toxicity"
        if record.end_reason == "toxicity":
            ended_on.append(day)
        if log is not None:
            log.append((day, record.patient, f"end {record.end_reason}"))
        for course in rt_processes:
            if course.is_alive:
                yield course  # stay interruptible while a course is under way
    except simpy.Interrupt as stop:
        if record.end_reason is None:
            record.end_reason = stop.cause
        if booked >= 0 and chairs is not None:
            chairs.release(booked, minutes)
        if log is not None:
            log.append((env.now, record.patient, f"stop {stop.cause}"))
        for course in rt_processes:
            if course.is_alive:
                course.interrupt(stop.cause)


def rt_course_chain(
    env: simpy.Environment, clinic: Clinic, record: PatientCourse, first_day: int,
    n_courses: int, pneumonitis_course: int, ended_on: list[int],
) -> Generator[simpy.Event, object, None]:
    """SimPy process of a patient's Quad Shot courses: course 1 due on `first_day` (cycle 1),
    course c + 1 due `interval_days` after course c started (the protocol's "every 3
    weeks", whatever the cycles do), each booked when due and started on the first run of
    open days with linac slots (`start_rt_course`). A course due after the day systemic
    treatment ended for toxicity (`ended_on`, filled by the treatment process) does not
    start; the pneumonitis course is the last. An interrupt (the patient's stop) ends it."""
    rt = clinic.rt_rules
    assert rt is not None
    due, free_from = first_day, 0
    try:
        for course in range(1, n_courses + 1):
            if due > env.now:
                yield env.timeout(due - env.now)
            if ended_on and due > ended_on[0]:
                return
            start = start_rt_course(clinic, record, due, free_from)
            free_from = start + rt.days_per_course
            yield from deliver_rt_course(env, rt, record, course, start, clinic.log,
                                         clinic.linac, course == pneumonitis_course)
            if course == pneumonitis_course:
                return
            due = start + rt.interval_days
    except simpy.Interrupt:
        pass


def start_rt_course(clinic: Clinic, record: PatientCourse, due_day: int,
                    free_from: int) -> int:
    """Book the Quad Shot course due on `due_day` (not before `free_from`); record its start,
    wait and lateness: later than `start_within_days` after its due day is a deviation
    (LATE_CLOSURE if the calendar alone made it late, else LATE_CAPACITY)."""
    rt = clinic.rt_rules
    assert rt is not None
    start, on_calendar = plan_course_start(clinic.calendar, clinic.linac,
                                           max(due_day, free_from), rt.days_per_course)
    within = rt.start_within_days
    late = IN_WINDOW
    if within is not None and start - due_day > within:
        late = LATE_CLOSURE if on_calendar - due_day > within else LATE_CAPACITY
    record.rt_starts.append(start)
    record.rt_waits.append(start - on_calendar)
    record.rt_late.append(late)
    return start
