"""The study calendar: days from the study start <-> dates, and which days the clinic is open.

The simulation clock is a float number of days since ``trial.start_date`` (day 0). A clinic
day is an integer day; day ``d`` covers the clock interval ``[d, d + 1)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sim.scenario import DAYS_PER_MONTH, Scenario

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CALENDAR_YEARS = 12  # days beyond this horizon are treated as open (never reached in practice)
DATE_LIMIT_DAYS = 200 * 365  # clock days beyond this are shown as NaT in dated tables


@dataclass(frozen=True)
class StudyCalendar:
    """Open clinic days as a boolean table over the study horizon, built once per scenario."""

    start_date: dt.date
    closed_weekdays: tuple[str, ...] = ("Sat", "Sun")
    closed_dates: frozenset[dt.date] = frozenset()
    open_dates: frozenset[dt.date] = frozenset()  # make-up working days: open whatever else
    horizon_days: int = int(CALENDAR_YEARS * 365.25)
    # Closures (a site move, a strike) close a make-up working day too: the clinic is shut,
    # whatever the national calendar says.
    closure_dates: frozenset[dt.date] = frozenset()
    open_day: np.ndarray = field(init=False, repr=False)
    next_open: np.ndarray = field(init=False, repr=False)
    month_starts: np.ndarray = field(init=False, repr=False)
    month_of_day: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        first = np.datetime64(self.start_date, "M")
        months = np.arange(first, first + CALENDAR_YEARS * 12 + 1)
        starts = months.astype("datetime64[D]") - np.datetime64(self.start_date, "D")
        starts = np.maximum(starts.astype(np.int64), 0)
        object.__setattr__(self, "month_starts", starts)
        table = np.searchsorted(starts, np.arange(self.horizon_days + 1), side="right") - 1
        object.__setattr__(self, "month_of_day", table.astype(np.int32))
        weekday0 = self.start_date.weekday()
        days = np.arange(self.horizon_days + 1)
        closed = np.isin((weekday0 + days) % 7, [WEEKDAYS.index(d) for d in self.closed_weekdays])
        closed[self.day_indices(self.closed_dates)] = True
        closed[self.day_indices(self.open_dates)] = False
        closed[self.day_indices(self.closure_dates)] = True
        if closed.all():
            raise ValueError("calendar.closed_weekdays closes every day: leave some open")
        object.__setattr__(self, "open_day", ~closed)
        object.__setattr__(self, "next_open", first_open_from(~closed))

    def day_indices(self, dates: frozenset[dt.date]) -> np.ndarray:
        days = np.asarray([(d - self.start_date).days for d in dates], dtype=np.int64)
        return days[(days >= 0) & (days <= self.horizon_days)]

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> StudyCalendar:
        cal = scenario.calendar
        start = scenario.trial.start_date
        closed, makeup = public_holidays(cal.holidays, cal.subdivision, start)
        shut: set[dt.date] = set()
        for closure in cal.closures:
            n = (closure.end - closure.start).days
            shut |= {closure.start + dt.timedelta(days=k) for k in range(n + 1)}
        # a closure past the default horizon is kept whole (validation bounds it by the
        # study's limit), not treated as open beyond the horizon
        last = max(((d - start).days for d in shut), default=0)
        return cls(
            start,
            cal.closed_weekdays,
            frozenset(closed | shut),
            frozenset(makeup | set(cal.makeup_working_days)),
            horizon_days=max(int(CALENDAR_YEARS * 365.25), last + 1),
            closure_dates=frozenset(shut),
        )

    def closed_reason(self, day: int) -> str:
        """Why a clinic day is closed ('' if open), for audit tables."""
        date = self.to_date(day)
        if self.is_open(day):
            return ""
        if date in self.closed_dates:
            return "holiday or closure"
        return "weekend"

    def is_open(self, day: int) -> bool:
        return bool(self.open_day[day]) if day <= self.horizon_days else True

    @cached_property
    def open_list(self) -> list[bool]:
        """`open_day` as a list of bools, for per-event look-ups."""
        return self.open_day.tolist()

    @cached_property
    def next_open_list(self) -> list[int]:
        """`next_open` as a list of ints: what a per-event look-up reads fastest."""
        return self.next_open.tolist()

    def next_open_day(self, day: np.ndarray | int) -> np.ndarray:
        """The first open day on or after each `day` (integer days, vectorized)."""
        day = np.asarray(day, dtype=np.int64)
        inside = np.clip(day, 0, self.horizon_days)
        return np.where(day <= self.horizon_days, self.next_open[inside], day)

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Calendar month of clock days, counted from the start date's month (0, 1, ...)."""
        days = np.asarray(days)
        inside = days.size and days.min() >= 0 and days.max() <= self.horizon_days
        if days.dtype.kind in "iu" and inside:
            return self.month_of_day[days]  # a table look-up beats a binary search
        return np.searchsorted(self.month_starts, days, side="right") - 1

    def month_label(self, index: np.ndarray) -> np.ndarray:
        """YYYY-MM labels of month indices."""
        first = np.datetime64(self.start_date, "M")
        return (first + np.asarray(index).astype("timedelta64[M]")).astype(str)

    def to_date(self, day: float) -> dt.date:
        return self.start_date + dt.timedelta(days=int(np.floor(day)))

    def to_datetime64(self, days: np.ndarray) -> np.ndarray:
        """Calendar dates (datetime64[D]) of clock days; NaN, inf and days more than
        DATE_LIMIT_DAYS away (a latent time that will never matter, and past what pandas
        can hold) become NaT."""
        days = np.asarray(days, dtype=float)
        shown = np.isfinite(days) & (np.abs(days) <= DATE_LIMIT_DAYS)
        whole = np.where(shown, np.floor(days), 0).astype("int64")
        dates = np.datetime64(self.start_date, "D") + whole.astype("timedelta64[D]")
        return np.where(shown, dates, np.datetime64("NaT"))

    def day_of(self, date: dt.date) -> int:
        return (date - self.start_date).days


def public_holidays(
    country: str | None, subdivision: str | None, start: dt.date
) -> tuple[set[dt.date], set[dt.date]]:
    """(closed public holidays, make-up working days) from the `holidays` library.

    The library names a day off moved from a weekend "Day off (substituted from MM/DD/YYYY)";
    that weekend date is then a working day (China's adjusted working weekends).
    """
    if country is None:
        return set(), set()
    import holidays as holidays_lib

    years = range(start.year, start.year + CALENDAR_YEARS + 1)
    table = holidays_lib.country_holidays(country, subdiv=subdivision, years=years)
    makeup = set()
    for name in table.values():
        for part in name.split(";"):
            if "substituted from" in part:
                text = part.split("substituted from")[1].strip(" )")
                makeup.add(dt.datetime.strptime(text, "%m/%d/%Y").date())
    return set(table.keys()), makeup


def first_open_from(open_day: np.ndarray) -> np.ndarray:
    """For each index, the index of the first True at or after it (len(a) if none)."""
    n = len(open_day)
    idx = np.where(open_day, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1]


def days_to_months(days: np.ndarray | float) -> np.ndarray | float:
    return np.asarray(days) / DAYS_PER_MONTH


def month_grid(scenario: Scenario) -> dict:
    """Calendar months from the study start to two years after the later of completion and
    the calendar cut: the horizon of monthly tables (later activity is not tabulated)."""
    end = max(scenario.trial.completion_date, scenario.analysis.cut_date or dt.date.min)
    first = np.datetime64(scenario.trial.start_date, "M")
    months = np.arange(first, np.datetime64(end, "M") + 25)
    starts = months.astype("datetime64[D]") - np.datetime64(scenario.trial.start_date, "D")
    starts = np.maximum(starts.astype(np.int64), 0)
    return {"month_starts": starts, "month_labels": tuple(str(m) for m in months)}
