"""The study calendar: days from the study start <-> dates, and which days the clinic is open.

The simulation clock is a float number of days since ``trial.start_date`` (day 0). A clinic
day is an integer day; day ``d`` covers the clock interval ``[d, d + 1)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sim.scenario import DAYS_PER_MONTH, Scenario

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CALENDAR_YEARS = 12  # days beyond this horizon are treated as weekdays-only (never reached)


@dataclass(frozen=True)
class StudyCalendar:
    """Open clinic days as a boolean table over the study horizon, built once per scenario."""

    start_date: dt.date
    closed_weekdays: tuple[str, ...] = ("Sat", "Sun")
    horizon_days: int = int(CALENDAR_YEARS * 365.25)
    open_day: np.ndarray = field(init=False, repr=False)
    next_open: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        weekday0 = self.start_date.weekday()
        days = np.arange(self.horizon_days + 1)
        closed = np.isin((weekday0 + days) % 7, [WEEKDAYS.index(d) for d in self.closed_weekdays])
        if closed.all():
            raise ValueError("calendar.closed_weekdays closes every day: leave some open")
        object.__setattr__(self, "open_day", ~closed)
        object.__setattr__(self, "next_open", first_open_from(~closed))

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> StudyCalendar:
        return cls(scenario.trial.start_date, scenario.calendar.closed_weekdays)

    def is_open(self, day: int) -> bool:
        return bool(self.open_day[day]) if day <= self.horizon_days else True

    def next_open_day(self, day: np.ndarray | int) -> np.ndarray:
        """The first open day on or after each `day` (integer days, vectorized)."""
        day = np.asarray(day, dtype=np.int64)
        inside = np.clip(day, 0, self.horizon_days)
        return np.where(day <= self.horizon_days, self.next_open[inside], day)

    def to_date(self, day: float) -> dt.date:
        return self.start_date + dt.timedelta(days=int(np.floor(day)))

    def to_datetime64(self, days: np.ndarray) -> np.ndarray:
        """Calendar dates (datetime64[D]) of clock days; NaN/inf become NaT."""
        days = np.asarray(days, dtype=float)
        whole = np.where(np.isfinite(days), np.floor(days), 0).astype("int64")
        dates = np.datetime64(self.start_date, "D") + whole.astype("timedelta64[D]")
        return np.where(np.isfinite(days), dates, np.datetime64("NaT"))

    def day_of(self, date: dt.date) -> int:
        return (date - self.start_date).days


def first_open_from(open_day: np.ndarray) -> np.ndarray:
    """For each index, the index of the first True at or after it (len(a) if none)."""
    n = len(open_day)
    idx = np.where(open_day, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1]


def days_to_months(days: np.ndarray | float) -> np.ndarray | float:
    return np.asarray(days) / DAYS_PER_MONTH
