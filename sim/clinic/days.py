"""The clinic's clock without SimPy's machinery: whole days, each day's wake-ups in order.

Every event of the clinic is a wake-up at the start of a clinic day (`Clinic.wake`): a
cycle's day, a course's due day or course day, a randomization, a stop. On SimPy a day has
one timeout whose callbacks are the processes waiting for it in the order they asked
(SimPy handles same-time timeouts oldest first), and a run with `until` stops before
anything at that clock. `DayClock` gives the same order with less work: per day, the list of
its callbacks in the order they were asked for (one asked for while its day is being
handled joins the end of that list, after everything already due then, where SimPy puts a
new timeout), the days' lists in a list indexed by the day, with a byte per day saying
whether it has wake-ups (the next such day is the day after, or one `bytearray.find`,
where a heap of the days costs a push and a pop per day with a Python comparison per
step), made by `sim.clinic.treatment.run_days` with the common cycle, randomization and Quad
Shot course written out (with a log kept, `run_logged_days` calls each wake-up's own
callback, which logs). The
callbacks get the clock as their event (its `env` is itself, its `now` the day). The SimPy
environment stays the reference (`sim.clinic.model.run_replicate(..., shortcut=False)`);
tests/test_schedule.py runs both on random clinics and on the baseline's draws and compares
every record, the log and the books.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

GROW = 512  # days added at least when a wake-up lies past the list (a few times a replicate)


class DayClock:
    """Wake-ups at the start of whole days; `sim.clinic.treatment.run_days` makes them day
    by day."""

    __slots__ = ("now", "pending", "marked")

    def __init__(self) -> None:
        self.now = 0
        # pending[day]: the day's callbacks in asking order (None: none); run_days reads
        # the entries of the day-by-day run's own making (a process: its cycle or its
        # randomization; a 1-tuple of a process: its course chain) without calling them
        self.pending: list[list[Any] | None] = []
        # marked[day] 1: pending[day] is a list (after the day made last, which keeps its
        # mark with its list let go)
        self.marked = bytearray()

    @property
    def env(self) -> DayClock:
        """The environment of the event a callback gets: the clock is both (a property,
        not an attribute: no reference cycle, so reference counting frees the clock)."""
        return self

    def wake(self, env: object, day: int, callback: Callable[[DayClock], None] | Any) -> None:
        """Call `callback` at the start of `day` (>= now), after those already waiting.
        `env` is the caller's environment, this clock (the processes ask SimPy's
        environment and the clock the same way: `sim.clinic.treatment.Clinic.wake`)."""
        pending = self.pending
        if day >= len(pending) - 1:  # the last day stays free (see `grow`)
            self.grow(day + 2)
        waiting = pending[day]
        if waiting is None:
            pending[day] = [callback]
            self.marked[day] = 1
        else:
            waiting.append(callback)

    def wake_each(self, days: list[int], callbacks: Iterable[Any]) -> None:
        """`wake` for each day of `days` and callback of `callbacks` in turn (the same order,
        one call for a replicate's stops or randomizations)."""
        pending, marked = self.pending, self.marked
        if days and max(days) >= len(pending) - 1:
            self.grow(max(days) + 2)
        for day, callback in zip(days, callbacks, strict=True):
            waiting = pending[day]
            if waiting is None:
                pending[day] = [callback]
                marked[day] = 1
            else:
                waiting.append(callback)

    def grow(self, n_days: int) -> None:
        """Room for at least `n_days` days (GROW more at a time). The last day of the
        lists never has wake-ups: `run_days` looks at the day after each day it makes."""
        more = max(n_days - len(self.pending), GROW)
        self.pending.extend([None] * more)
        self.marked.extend(bytes(more))
