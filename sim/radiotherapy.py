"""Quad Shot radiotherapy: when a course's fractions fall, and the process that gives them.

A course is `days_per_course` consecutive open clinic days (two in the registry), starting on
the first such run on or after the day of the cycle it goes with; each of those days has one
fraction at each of `fraction_times` (08:30 and 15:00: more than 6 h apart, as the registry
asks). Fraction times are clock floats, ``day + hour / 24``. Which cycles carry a course is
decided by the treatment process (`sim.treatment`); how many courses a patient receives, by
the draws (`sim.clinic.draw_clinic`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from sim.calendar import StudyCalendar
from sim.scenario import Radiotherapy

if TYPE_CHECKING:
    from sim.treatment import PatientCourse

HOURS_PER_DAY = 24.0


@dataclass(frozen=True, slots=True)
class CourseRules:
    """The scenario's `radiotherapy:` block in the units the processes use."""

    interval_days: int  # a course starts with a cycle at least this long after the last one
    days_per_course: int
    fraction_hours: tuple[float, ...]  # hours after midnight, in order
    dose_per_fraction_gy: float

    @classmethod
    def from_radiotherapy(cls, radiotherapy: Radiotherapy) -> CourseRules:
        return cls(
            interval_days=radiotherapy.course_interval_days,
            days_per_course=radiotherapy.days_per_course,
            fraction_hours=tuple(
                t.hour + t.minute / 60 + t.second / 3600 for t in radiotherapy.fraction_times
            ),
            dose_per_fraction_gy=radiotherapy.dose_per_fraction_gy,
        )


def first_open_run(calendar: StudyCalendar, day: int, n_days: int) -> int:
    """First day on or after `day` that starts `n_days` consecutive open clinic days.

    Days past the calendar's table count as open (as in `StudyCalendar.is_open`), so there is
    always an answer; with a calendar that never has `n_days` open days in a row, it lies past
    the table, i.e. after any horizon the model reaches.
    """
    open_day, last = calendar.open_day, calendar.horizon_days
    start, d = day, day
    while d - start < n_days:
        if d <= last and not open_day[d]:
            start = d + 1
        d += 1
    return start


def fraction_clocks(start_day: int, n_days: int, fraction_hours: tuple[float, ...]) -> list[float]:
    """Clock times of a course's fractions: each of `n_days` days from `start_day`, each hour."""
    return [start_day + d + h / HOURS_PER_DAY for d in range(n_days) for h in fraction_hours]


def deliver_rt_course(
    env: simpy.Environment, rules: CourseRules, record: PatientCourse, course: int,
    start_day: int, log: list | None,
) -> Generator[simpy.Event, object, None]:
    """Give Quad Shot course `course` (1-based) on the open days from `start_day`.

    A generator of SimPy events, run inside the patient's treatment process (``yield from``;
    an interrupt then ends the course and reaches the patient) or as a process of its own
    (`rt_course_process`). Each fraction given is appended to ``record.rt_fractions`` (its
    clock time) and the course counts in ``record.rt_courses_completed`` once every fraction
    is given. The process wakes once per course day, at the start of the day: stops and the
    horizon take effect at the start of a clinic day (`sim.clinic`), so a day's fractions are
    given all together or not at all; whole-day wake-ups keep the clock exact (the next cycle
    is due on a whole day) and save an event per fraction.
    """
    per_day = len(rules.fraction_hours)
    clocks = fraction_clocks(start_day, rules.days_per_course, rules.fraction_hours)
    for d in range(rules.days_per_course):
        day = start_day + d
        if day > env.now:
            yield env.timeout(day - env.now)
        given = clocks[d * per_day:(d + 1) * per_day]
        record.rt_fractions.extend(given)
        if log is not None:
            log.extend((clock, record.patient, f"rt {course}.{d * per_day + j + 1}")
                       for j, clock in enumerate(given))
    record.rt_courses_completed += 1


def rt_course_process(
    env: simpy.Environment, rules: CourseRules, record: PatientCourse, course: int,
    start_day: int, log: list | None,
) -> Generator[simpy.Event, object, None]:
    """`deliver_rt_course` as a SimPy process of its own: an interrupt ends it quietly."""
    try:
        yield from deliver_rt_course(env, rules, record, course, start_day, log)
    except simpy.Interrupt:
        pass
