"""Quad Shot radiotherapy: when a course's fractions fall, and the process that gives them.

A course is `days_per_course` consecutive open clinic days (two in the registry), starting on
the first such run on or after its due day (course 1: cycle 1; then `course_interval_days`
after the previous course started) in which the linac has a free slot in every session of
every day (`plan_course_start`: a course never straddles a
closure, and waits for the linac); each of those days has one fraction at each of
`fraction_times` (08:30 and 15:00: more than 6 h apart, as the registry asks), each holding
a slot of its session. Fraction times are clock floats, ``day + hour / 24``. When courses are
due, and their delivery, is the course chain of `sim.clinic.treatment.PatientProcess`: it
wakes once per course day, at the start of the day (stops and the horizon take effect at the
start of a clinic day, `sim.clinic.model`, so a day's fractions are given all together or not
at all), and a stop gives the slots of the days not yet treated back to the linac. How many
courses a patient receives (early stops, pneumonitis) comes from the draws
(`sim.clinic.model.draw_clinic`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.clinic.capacity import SessionBook
from sim.conduct.calendar import StudyCalendar
from sim.scenario import Radiotherapy

HOURS_PER_DAY = 24.0


@dataclass(frozen=True, slots=True)
class CourseRules:
    """The scenario's `radiotherapy:` block in the units the processes use."""

    interval_days: int  # a course is due this long after the previous one started
    days_per_course: int
    fraction_hours: tuple[float, ...]  # hours after midnight, in order
    dose_per_fraction_gy: float
    start_within_days: int | None  # a course starting later after its cycle is a deviation
    fraction_offsets: tuple[float, ...] = ()  # fraction_hours / 24: clock = day + offset

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "fraction_offsets", tuple(h / HOURS_PER_DAY for h in self.fraction_hours)
        )

    @classmethod
    def from_radiotherapy(cls, radiotherapy: Radiotherapy) -> CourseRules:
        return cls(
            interval_days=radiotherapy.course_interval_days,
            days_per_course=radiotherapy.days_per_course,
            fraction_hours=tuple(
                t.hour + t.minute / 60 + t.second / 3600 for t in radiotherapy.fraction_times
            ),
            dose_per_fraction_gy=radiotherapy.dose_per_fraction_gy,
            start_within_days=radiotherapy.start_within_days,
        )


def first_open_run(calendar: StudyCalendar, day: int, n_days: int) -> int:
    """First day on or after `day` that starts `n_days` consecutive open clinic days.

    Days past the calendar's table count as open (as in `StudyCalendar.is_open`), so there is
    always an answer; with a calendar that never has `n_days` open days in a row, it lies past
    the table, i.e. after any horizon the model reaches.
    """
    open_day, last = calendar.open_list, calendar.horizon_days
    start, d = day, day
    while d - start < n_days:
        if d <= last and not open_day[d]:
            start = d + 1
        d += 1
    return start


def plan_course_start(
    calendar: StudyCalendar,
    linac: SessionBook | None,
    earliest: int,
    n_days: int,
    run_start: Sequence[int] | None = None,
) -> tuple[int, int]:
    """(start, calendar start) of a course of `n_days` from `earliest`, and book its slots.

    The calendar start is the first run of `n_days` consecutive open days (a course never
    straddles a closure); the start is the first such run in which every day has a free slot
    in every session (morning and afternoon); the gap between the two is the course's wait
    for the linac. Without a linac book, both are the calendar start. `run_start`: the
    calendar's first runs from each day of its table (`sim.clinic.schedule.course_starts`
    as a list), read instead of `first_open_run` where it reaches. `run_days`
    (`sim.clinic.treatment`) writes out its first run for its common case: change them
    together.
    """
    n_table = len(run_start) if run_start is not None else 0
    if earliest < n_table:
        assert run_start is not None
        on_calendar = run_start[earliest]
    else:
        on_calendar = first_open_run(calendar, earliest, n_days)
    if linac is None:
        return on_calendar, on_calendar
    # the first day of the run lacking a slot in a session; from it, on to the next run after it
    room, span = linac.room, linac.span
    start = day = on_calendar
    while day < start + n_days:
        if day < span and room[day] <= 0:
            after = day + 1
            if after < n_table:
                assert run_start is not None
                start = day = run_start[after]
            else:
                start = day = first_open_run(calendar, after, n_days)
        else:
            day += 1
    end = start + n_days if start + n_days < span else span  # `linac.book` written out
    for day in range(start, end):
        room[day] -= 1
    return start, on_calendar


def fraction_clocks(start_day: int, n_days: int, fraction_hours: tuple[float, ...]) -> list[float]:
    """Clock times of a course's fractions: each of `n_days` days from `start_day`, each hour."""
    return [start_day + d + h / HOURS_PER_DAY for d in range(n_days) for h in fraction_hours]
