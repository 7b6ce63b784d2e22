"""Systemic treatment: QL1706 + doublet for the induction cycles, then QL1706 maintenance.

One SimPy process per patient gives cycles `cycle_days` apart (registry: days 1, 22, 43, 64,
then maintenance q21d) until `max_cycles`, toxicity, or the patient's stop. Induction and
maintenance cycles follow the same timing rules, so the process does not tell them apart.

Timing of cycle k + 1: due ``cycle_days`` after the day cycle k was given, plus
``delay.days`` if cycle k + 1 is delayed (so a delay pushes every later cycle), then given on
the day `give_cycle_day` returns (the first open clinic day; that move is a shift, not a
delay). Cycle 1 is due on randomization day + U, U uniform in 0..cycle1_within_days.

Toxicity: after cycle k the patient discontinues with probability
``discontinuation_per_cycle``; cycle k and the RT course that starts with it are given,
nothing later (the toxicity is found before the next cycle). A discontinuation drawn after
the last allowed cycle does not count: that patient ends at ``max_cycles``.

Quad Shot RT (arm `radiotherapy.arm` only): course 1 starts with cycle 1 and each later
course with the first cycle given at least `course_interval_days` after the cycle of the
previous course, i.e. with cycles 2 and 3 when the interval equals `cycle_days`. A course
starts on the first run of open days on or after its cycle's day and after the previous
course (courses never overlap, even with cycles shorter than a course).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import simpy

from sim.calendar import StudyCalendar
from sim.radiotherapy import CourseRules, deliver_rt_course, first_open_run, rt_course_process
from sim.scenario import Treatment


@dataclass(frozen=True, slots=True)
class CycleRules:
    """The scenario's `treatment:` block in the units the process uses."""

    cycle_days: int
    max_cycles: int
    delay_days: int

    @classmethod
    def from_treatment(cls, treatment: Treatment) -> CycleRules:
        return cls(treatment.cycle_days, treatment.max_cycles, treatment.delay.days)


@dataclass(slots=True)
class PatientCourse:
    """What one patient received, filled in by the processes while a replicate runs.

    Mutable because the processes append to it; the frozen outputs are the summary and the
    patient table built from it at the end of the replicate (`sim.clinic`).
    """

    patient: int
    cycle_days: list[int] = field(default_factory=list)  # clinic day of each cycle given
    cycle_delayed: list[bool] = field(default_factory=list)  # parallel to cycle_days
    rt_fractions: list[float] = field(default_factory=list)  # clock time of each fraction
    rt_courses_completed: int = 0
    end_reason: str | None = None  # a stop code, "toxicity", "max_cycles"; None = still on


def give_cycle_day(calendar: StudyCalendar, due_day: int) -> int:
    """The day a cycle due on `due_day` is given: the first open clinic day on or after it.

    The one place where a due day becomes a given day (protocol windows belong here).
    """
    if due_day > calendar.horizon_days:
        return due_day
    return calendar.next_open.item(due_day)


def treat_patient(
    env: simpy.Environment, calendar: StudyCalendar, rules: CycleRules,
    record: PatientCourse, first_due: int, delayed: Sequence[bool], toxicity_cycle: int,
    rt_rules: CourseRules | None, rt_courses: int, log: list | None,
) -> Generator[simpy.Event, object, None]:
    """SimPy process of one patient's treatment; see the module docstring for the rules.

    `delayed[k - 1]` says whether cycle k is delayed (entry 0 is ignored: cycle 1 is never
    delayed) and needs `rules.max_cycles` entries; `toxicity_cycle` is the cycle after which
    the patient discontinues for toxicity (> max_cycles: never); `rt_courses` is how many
    Quad Shot courses the patient will receive (0 for none; needs `rt_rules` if > 0).
    The patient's stop is an interrupt whose cause is the stop reason: no cycle after it, and
    a Quad Shot course under way is interrupted too. Results go into `record`.
    """
    # Locals: this loop runs about a thousand times per replicate.
    timeout = env.timeout
    add_day, add_flag = record.cycle_days.append, record.cycle_delayed.append
    gap, late_gap = rules.cycle_days, rules.cycle_days + rules.delay_days
    last = min(rules.max_cycles, toxicity_cycle)
    rt_processes: list[simpy.Process] = []  # courses given as processes of their own
    courses_started, next_course_from, rt_free_from = 0, first_due, 0
    try:
        due, k, late = first_due, 0, False
        while True:
            day = give_cycle_day(calendar, due)
            yield timeout(day - env.now)
            k += 1
            add_day(day)
            add_flag(late)
            if log is not None:
                log.append((day, record.patient, f"cycle {k} delayed" if late else f"cycle {k}"))
            if courses_started < rt_courses and day >= next_course_from:
                courses_started += 1
                next_course_from = day + rt_rules.interval_days
                start = first_open_run(calendar, max(day, rt_free_from),
                                       rt_rules.days_per_course)
                rt_free_from = start + rt_rules.days_per_course
                if rt_free_from <= day + gap:
                    # Over before the next cycle can be due: give it in this process, which
                    # saves a process per course.
                    yield from deliver_rt_course(
                        env, rt_rules, record, courses_started, start, log)
                else:
                    rt_processes.append(env.process(rt_course_process(
                        env, rt_rules, record, courses_started, start, log)))
            if k == last:
                break
            late = delayed[k]
            due = day + (late_gap if late else gap)
        record.end_reason = "max_cycles" if k == rules.max_cycles else "toxicity"
        if log is not None:
            log.append((day, record.patient, f"end {record.end_reason}"))
        for course in rt_processes:
            if course.is_alive:
                yield course  # stay interruptible while a course is under way
    except simpy.Interrupt as stop:
        if record.end_reason is None:
            record.end_reason = stop.cause
        if log is not None:
            log.append((env.now, record.patient, f"stop {stop.cause}"))
        for course in rt_processes:
            if course.is_alive:
                course.interrupt(stop.cause)
