"""Clinic capacity: appointment books of infusion chairs and linac treatment slots.

A resource is a per-day counter of what is used against a daily limit (whole units: chair
minutes, linac slots), not a SimPy process per chair or slot: visits are appointments booked
ahead (a cycle at the previous cycle, cycle 1 at randomization, a Quad Shot course with its
cycle), so a patient "waits" by being booked on the first open day with room, and the
patient's process then sleeps until that day. Bookings are first come, first served in event
order; a patient who stops gives back the appointments not yet kept.

The clinic's other patients are a background load per day drawn in bulk (`draw_background`);
the trial's patients fit in what is left. Days from `span` on are not tabulated: there, room
is unlimited (the monthly tables end there too).
"""

from __future__ import annotations

import math

import numpy as np

from sim.clinic.streams import count_type, draw_poisson
from sim.scenario import Chairs, Linac

MINUTES_PER_HOUR = 60
BACKGROUND_BLOCK = 1 << 20  # days of background drawn at a time (`draw_background`)


def chair_minutes_per_day(chairs: Chairs) -> int:
    """Chair-minutes a day: chairs x hours_per_day x 60."""
    return round(chairs.chairs * chairs.hours_per_day * MINUTES_PER_HOUR)


def linac_slots_per_session(linac: Linac) -> int:
    return linac.machines * linac.slots_per_session


def draw_background(
    limit: int,
    utilization: float,
    unit: int,
    shape: tuple[int, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    """Background use per day: Poisson(utilization x limit / unit) units of `unit`, capped at
    the limit, as the narrowest signed integers that hold the limit (`count_type`). Chairs:
    units of 60 chair-minutes; linac slots: units of one slot. The numbers of
    `rng.poisson(mean, shape)`, drawn at less cost (`draw_poisson`) BACKGROUND_BLOCK days at
    a time: each variate's uniforms are its own, so the blocks are the same numbers, and
    leave the stream where one call does."""
    mean = utilization * limit / unit
    out = np.empty(math.prod(shape), dtype=count_type(limit))
    for start in range(0, len(out), BACKGROUND_BLOCK):
        drawn = draw_poisson(mean, (min(BACKGROUND_BLOCK, len(out) - start),), rng)
        drawn *= unit
        np.minimum(drawn, limit, out=drawn)
        out[start : start + len(drawn)] = drawn
    return out.reshape(shape)


class DayBook:
    """Use per day of one resource against a daily `limit`; `used` starts at the background.

    `room(day, amount)` says whether `amount` more fits on `day`; `book` and `release` add and
    remove. Days >= span always have room and are not recorded. Callers check that the clinic
    is open: the book knows only amounts.
    """

    __slots__ = ("used", "limit", "span")

    def __init__(self, background: list[int], limit: int) -> None:
        self.used = background
        self.limit = limit
        self.span = len(background)

    def room(self, day: int, amount: int) -> bool:
        return day >= self.span or self.used[day] + amount <= self.limit

    def book(self, day: int, amount: int) -> None:
        if day < self.span:
            self.used[day] += amount

    def release(self, day: int, amount: int) -> None:
        if day < self.span:
            self.used[day] -= amount


class SessionBook:
    """Linac slots: a Quad Shot day holds one slot in every session of the day (a fraction
    time each: a morning and an afternoon slot), so the trial's slots on a day are the same
    in every session and a day has room while the fullest session has: the book keeps
    `room`, the slots left per day in the fullest session, from `background` (span,
    sessions), the clinic's other patients' slots."""

    __slots__ = ("background", "limit", "span", "start", "room")

    def __init__(self, background: np.ndarray, limit: int) -> None:
        self.background, self.limit, self.span = background, limit, len(background)
        # room before the trial: the fullest session's, by sessions (column by column:
        # a maximum along a row of two costs several times more per day)
        peak = np.zeros(len(background), dtype=background.dtype)
        for session in background.T:
            peak = np.maximum(peak, session)
        self.start = limit - peak
        self.room: list[int] = self.start.tolist()

    def book(self, start: int, n_days: int) -> None:
        room = self.room
        for day in range(start, min(start + n_days, self.span)):
            room[day] -= 1

    def release(self, start: int, n_days: int) -> None:
        room = self.room
        for day in range(start, min(start + n_days, self.span)):
            room[day] += 1

    def used(self) -> np.ndarray:
        """(span, sessions) slots used per day and session, the background included."""
        return self.background + (self.start - np.asarray(self.room, dtype=np.int64))[:, None]
