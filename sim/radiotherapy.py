"""Quad Shot radiotherapy: when a course's fractions fall, and the process that gives them.

A course is `days_per_course` consecutive open clinic days (two in the registry), starting on
the first such run on or after the day of the cycle it goes with; each of those days has one
fraction at each of `fraction_times` (08:30 and 15:00: more than 6 h apart, as the registry
asks). Fraction times are clock floats, ``day + hour / 24``. Which cycles carry a course, and
how many courses a patient receives, is decided by the treatment process (`sim.treatment`).
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
    env: simpy.Environment, calendar: StudyCalendar, rules: CourseRules,
    record: PatientCourse, course: int, cycle_day: int, log: list | None,
) -> Generator[simpy.Event, object, None]:
    """SimPy process: give course `course` (1-based) starting on or after `cycle_day`.

    Each fraction given is appended to ``record.rt_fractions`` (its clock time); the course
    counts in ``record.rt_courses_completed`` only if every fraction was given. An interrupt
    (the patient's stop, forwarded by the treatment process) ends the course: no fraction at
    or after it.
    """
    start = first_open_run(calendar, cycle_day, rules.days_per_course)
    try:
        for j, clock in enumerate(fraction_clocks(start, rules.days_per_course,
                                                  rules.fraction_hours), 1):
            yield env.timeout(clock - env.now)
            # The planned clock, not env.now: now + (clock - now) can miss it by a rounding
            # error, which would put a 00:00 fraction on the day before.
            record.rt_fractions.append(clock)
            if log is not None:
                log.append((clock, record.patient, f"rt {course}.{j}"))
        record.rt_courses_completed += 1
    except simpy.Interrupt:
        pass
