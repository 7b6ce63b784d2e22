"""The clinic's clock without SimPy's machinery: whole days, each day's events in creation order.

Every event of the clinic is a timeout to the start of a clinic day (`Clinic.wake`): a
cycle's day, a course's due day or course day, a randomization, a stop. SimPy handles them
by (clock, priority, creation order) from one heap, and a run with `until` stops before
anything at that clock. `DayClock` gives the same order with less work: a heap of the days
that have events and, per day, the list of that day's timeouts in creation order (a timeout
made while its day is being handled joins the end of that list, after everything already
due then, where SimPy's heap puts it). It offers what the patients' callbacks use of a SimPy
environment (`now`, `timeout`, `run`) and nothing else: the SimPy environment stays the
reference (`sim.clinic.model.run_replicate(..., shortcut=False)`), and tests/test_schedule.py
runs both on random clinics and on the baseline's draws and compares every record.
"""

from __future__ import annotations

from heapq import heappop, heappush


class DayEvent:
    """A timeout to the start of a day: `callbacks` (None once handled), called with the
    event, whose `env` is the clock."""

    __slots__ = ("env", "callbacks")

    def __init__(self, env: DayClock) -> None:
        self.env = env
        self.callbacks: list | None = []


class DayClock:
    """SimPy's `Environment` for timeouts of whole days only (`delay` an int >= 0)."""

    __slots__ = ("now", "days", "pending")

    def __init__(self) -> None:
        self.now = 0
        self.days: list[int] = []  # heap of the days with events not yet handled
        self.pending: dict[int, list[DayEvent]] = {}  # a day's timeouts, creation order

    def timeout(self, delay: int) -> DayEvent:
        """A timeout `delay` days from now (raises ValueError if negative, as SimPy does)."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        day = self.now + delay
        event = DayEvent(self)
        events = self.pending.get(day)
        if events is None:
            self.pending[day] = [event]
            heappush(self.days, day)
        else:
            events.append(event)
        return event

    def run(self, until: int | None = None) -> None:
        """Handle the events before day `until` (all of them if None), then stand at
        `until`, as `simpy.Environment.run` does (which needs `until` > now)."""
        days, pending = self.days, self.pending
        while days and (until is None or days[0] < until):
            day = heappop(days)
            self.now = day
            for event in pending[day]:  # timeouts made meanwhile for this day join the list
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
            del pending[day]
        if until is not None:
            self.now = until
