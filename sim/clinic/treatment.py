"""Systemic treatment: QL1706 + doublet for the induction cycles, then QL1706 maintenance.

One patient process (`PatientProcess`, SimPy event callbacks) gives cycles `cycle_days`
apart (registry: days 1, 22, 43, 64, then maintenance q21d) until `max_cycles`, toxicity, or
the patient's stop. Induction and maintenance cycles follow the same timing rules; they
differ in their drugs (the regimen of the patient's stratum), hence in chair time and in
whether the dose level applies.

Timing of cycle k + 1: due ``cycle_days`` after the day cycle k was given, plus
``delay.days`` if cycle k + 1 is delayed (so a delay pushes every later cycle), then given
on the day `give_cycle_day` returns: an open clinic day with a free chair, within the
protocol window (`treatment.window`, e.g. -0/+3 days) if there is one (a shift, not a
delay), otherwise the first such day after the window (a protocol deviation, counted by its
cause: the closure, or the chairs). Cycle 1 is due on randomization day + U, U uniform in
0..cycle1_within_days, and is booked on the randomization day; cycle k + 1 is booked when
cycle k is given (appointments are first come, first served).

Dose levels: before cycle k >= 2, with the drawn probability, a patient whose cycle has a
reducible drug drops one dose level (until the lowest); the level is kept from then on.

Toxicity: after cycle k the patient discontinues with probability
``discontinuation_per_cycle``; cycle k and the RT course that starts with it are given,
nothing later (the toxicity is found before the next cycle). A discontinuation drawn after
the last allowed cycle does not count: that patient ends at ``max_cycles``.

Quad Shot RT (arm `radiotherapy.arm` only, the course chain of `PatientProcess`): course 1
is due with cycle 1 and each later course `course_interval_days` after the previous course
started (the protocol's "repeated every 3 weeks"), not with the cycles: a delayed cycle does
not move the courses, and a course that had to wait does not bring the next one closer. A
course starts on the first run of open days with linac slots on or after its due day (after
the previous course: the interval is longer than a course); later than `start_within_days`
after its due day it is a protocol deviation. A course due after a discontinuation for
toxicity is not given; a course drawn to end in pneumonitis is the patient's last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.clinic.capacity import DayBook, SessionBook
from sim.clinic.days import DayClock
from sim.clinic.radiotherapy import CourseRules, plan_course_start
from sim.clinic.records import PatientCourse
from sim.conduct.calendar import StudyCalendar
from sim.scenario import Treatment, Window

IN_WINDOW, LATE_CLOSURE, LATE_CAPACITY = 0, 1, 2  # why a visit came when it did
# days after its due day a cycle without a window stays in it: "no limit", and small
# enough that a day plus it is a one-digit Python int (arithmetic on its fast path)
NO_LIMIT = 1 << 29
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
        return cls(
            treatment.cycle_days,
            treatment.max_cycles,
            treatment.delay.days,
            treatment.induction_cycles,
            treatment.window,
            len(treatment.dose_reduction.levels),
        )


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
    clock: DayClock | None = None  # the run's clock if not SimPy's environment
    run_start: Sequence[int] | None = None  # `sim.clinic.schedule.course_starts`, a list
    day_if_free: Sequence[int] | None = None  # `days_if_free` of the chairs' book (or None)
    after_days: int = field(init=False)  # a cycle is in window up to this long after due
    agenda: dict[int, simpy.Timeout] = field(init=False)  # each day's event (see `wake`)
    next_open: list[int] = field(init=False)  # the calendar's next open day, to its horizon
    chair_used: list[int] = field(init=False)  # the chairs' book (`chairs.used`), its limit
    chair_limit: int = field(init=False)  # and span; with no chairs, a span of 0 (no limit)
    chair_span: int = field(init=False)
    fraction_offsets: tuple[float, ...] = field(init=False)  # of a Quad Shot day (or none)
    # wake(env, day, callback): call `callback` at the start of `day`, after those already
    # waiting for it: the clock's `DayClock.wake`, or on SimPy `wake_on_simpy` (one call)
    wake: Callable[[simpy.Environment, int, Callable[[simpy.Event], None]], None] = field(
        init=False
    )

    def __post_init__(self) -> None:
        window = self.rules.window
        object.__setattr__(self, "after_days", NO_LIMIT if window is None else window.after_days)
        object.__setattr__(self, "agenda", {})
        object.__setattr__(self, "next_open", self.calendar.next_open_list)
        chairs = self.chairs
        object.__setattr__(self, "chair_used", chairs.used if chairs is not None else [])
        object.__setattr__(self, "chair_limit", chairs.limit if chairs is not None else 0)
        object.__setattr__(self, "chair_span", chairs.span if chairs is not None else 0)
        rt = self.rt_rules
        object.__setattr__(self, "fraction_offsets", rt.fraction_offsets if rt is not None else ())
        clock = self.clock
        object.__setattr__(self, "wake", clock.wake if clock is not None else self.wake_on_simpy)

    def wake_on_simpy(
        self, env: simpy.Environment, day: int, callback: Callable[[simpy.Event], None]
    ) -> None:
        """`wake` on SimPy: call `callback` at the start of `day`, after those already
        waiting for it.

        A day has one SimPy timeout, whose callbacks are the processes waiting for that
        day, in the order they asked: the order SimPy gives same-time timeouts (oldest
        first), so nothing is served in another order than with a timeout each. Asked for
        while the day's timeout is being handled (a wake-up later the same day), the day
        gets a new timeout, handled after everything already due then, as a new timeout
        would be. `sim.clinic.days.DayClock` keeps that order without the timeouts."""
        event = self.agenda.get(day)
        if event is None or event.callbacks is None:
            event = self.agenda[day] = env.timeout(day - env.now)
        event.callbacks.append(callback)


def days_if_free(next_open: Sequence[int], after_days: int, span: int) -> list[int]:
    """Per due day of the calendar's table, the day a cycle due then is given if a chair is
    free that day: the first open day on or after it, if that is at most `after_days` later
    and before `span` (the chairs' book); otherwise `span` (`run_days`'s guard day: none)."""
    first = np.asarray(next_open, dtype=np.int64)
    inside = (first - np.arange(len(first)) <= after_days) & (first < span)
    return np.where(inside, first, span).tolist()


def calendar_day(
    calendar: StudyCalendar, due_day: int, window: Window | None, earliest: int
) -> int:
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
    calendar: StudyCalendar,
    due_day: int,
    window: Window | None = None,
    chairs: DayBook | None = None,
    minutes: int = 0,
    earliest: int = 0,
) -> tuple[int, int, int]:
    """(day given, days waited for a chair, IN_WINDOW or why late) of a cycle due `due_day`.

    The rule by which a due day becomes a given day and the chair is booked (`run_days`
    writes out its first branch, through `days_if_free`, and its search of the days after
    the due day: change them with it). The
    day is open and has `minutes` of chair time free; in the window (`window`: -before/
    +after days of the due day, never before `earliest`) if any such day exists, the days
    after the due day first, nearest first; otherwise the first such day after the window,
    which is late: LATE_CLOSURE if the clinic had no open day in the window, else
    LATE_CAPACITY. Without a window a cycle is never late. The wait counts days beyond
    `calendar_day`, the day the cycle would have had with unlimited chairs.
    """
    last = calendar.horizon_days
    first = calendar.next_open_list[due_day] if due_day <= last else due_day
    after = None if window is None else due_day + window.after_days
    if after is None or first <= after:  # the common case: an open day in the window
        on_calendar, closure = first, False
    else:
        on_calendar = calendar_day(calendar, due_day, window, earliest)
        closure = on_calendar > after
    if chairs is None:
        return on_calendar, 0, LATE_CLOSURE if closure else IN_WINDOW
    # `chairs.room` and `chairs.book` written out (a full day's cycles try a few days each)
    used, room, span = chairs.used, chairs.limit - minutes, chairs.span
    day = on_calendar
    if not closure and (day >= span or used[day] <= room):
        if day < span:
            used[day] += minutes
        return day, 0, IN_WINDOW
    is_open = calendar.open_list
    if after is not None:
        assert window is not None
        before = due_day - window.before_days
        if before < earliest:  # (conditionals, not min and max: a builtin call costs more)
            before = earliest
        for days in (range(due_day, after + 1), range(due_day - 1, before - 1, -1)):
            for day in days:
                if (day > last or is_open[day]) and (day >= span or used[day] <= room):
                    chairs.book(day, minutes)
                    return day, day - on_calendar if day > on_calendar else 0, IN_WINDOW
        day = on_calendar if on_calendar > after else after + 1
    while not ((day > last or is_open[day]) and (day >= span or used[day] <= room)):
        day += 1
    chairs.book(day, minutes)
    late = IN_WINDOW if after is None else LATE_CLOSURE if closure else LATE_CAPACITY
    return day, day - on_calendar, late


CyclePlan = tuple[list[int], list[int], list[int]]
"""One patient's cycles as planned, by 0-based cycle index k (`plan_cycles`): the days from
cycle k's day to cycle k + 1's due day (k >= 1), the dose level (0 full) of each cycle if
given, and the chair-minutes of each cycle's visit."""


def plan_cycles(
    rules: CycleRules,
    delayed: np.ndarray,
    reduced: np.ndarray,
    visit_minutes: np.ndarray,
    reducible: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gaps, levels, visit minutes) (n, max_cycles) of every patient's cycles, the arrays
    of `CyclePlan`, from `delayed` and `reduced` (n, max_cycles) and, per phase (induction,
    maintenance), `visit_minutes` and `reducible` (n, 2): a delay adds `delay_days` to the
    gap before the cycle; before cycle k >= 2 a reduction of a cycle whose drugs follow the
    dose level drops one level, down to the lowest."""
    phase = (np.arange(rules.max_cycles) >= rules.induction_cycles).astype(np.int64)
    lower = reduced & reducible[:, phase]
    lower[:, 0] = False
    levels = np.minimum(np.cumsum(lower, axis=1), rules.n_levels)
    gaps = rules.cycle_days + rules.delay_days * delayed.astype(np.int64)
    return gaps, levels, visit_minutes[:, phase]


class PatientProcess(PatientCourse):
    """One patient's treatment course, as SimPy event callbacks; see the module docstring for
    the rules.

    The patient's two processes, the cycles and the Quad Shot course chain, are state kept
    here and advanced by the callbacks of the timeouts they schedule (a cycle's day, a
    course's due day, a course day), not by generators: a replicate has about 1,500 such
    wake-ups, and a generator's resume and its Initialize, Process and Interruption events
    cost as much again as the wake-ups themselves. The order of every booking is that of
    the two processes: each timeout is created at the moment the process would have
    created it, and what a process did at once on an event SimPy handles urgently (a
    chain's start with cycle 1, a stop's interrupt) is done right there, which is what
    SimPy would do next.

    `delayed[k - 1]` says whether cycle k is delayed (entry 0 is ignored: cycle 1 is not);
    `plan` is the patient's `CyclePlan` (`plan_cycles`); both have `rules.max_cycles`
    entries (`delayed` and the levels, read only for the log and the record, may be
    arrays). `toxicity_cycle` is the cycle after which the patient discontinues for
    toxicity (> max_cycles: never); `rt_plan` is (`rt_courses`, `pneumonitis_course`): how
    many Quad Shot courses the patient will receive (0 for none; needs `clinic.rt_rules` if
    > 0), the last ending in pneumonitis if it is `pneumonitis_course` (0: none). `stop` (a
    callback of the timeout of the patient's stop day; whoever schedules it sets `cause`, its
    reason) ends everything: no cycle after it, a Quad Shot course under way ends too, and
    appointments not kept are given back. The process is its own record (the
    `PatientCourse` of patient `patient`: one object a patient, not two); `begin` starts the
    course at clock 0, `close` ends it at the horizon.

    The patient holds no reference to the environment (callbacks get it from their event)
    nor to its own methods, so once the environment's queue is empty nothing of a
    replicate is left for the cyclic garbage collector but the environment itself.
    """

    __slots__ = (
        "clinic",
        "rand_day",
        "first_due",
        "gaps",
        "visit_minutes",
        "last",
        "rt_courses",
        "pneumonitis_course",
        "cause",
        "k",
        "booked",
        "stopped",
        "systemic_done",
        "ended_on",
        "chain_alive",
        "course",
        "course_due",
        "free_from",
        "course_start",
        "course_day",
        "in_course",
    )

    def __init__(
        self,
        clinic: Clinic,
        patient: int,
        rand_day: int,
        first_due: int,
        delayed: Sequence[bool],
        plan: CyclePlan,
        toxicity_cycle: int,
        rt_plan: tuple[int, int],
    ) -> None:
        # the record's fields (`PatientCourse.__init__` written out: one call less); the
        # plan the patient's cycles and fractions follow is kept on it
        self.patient, self.cycles, self.cycle_exceptions, self.rt_days = patient, [], [], []
        self.rt_starts, self.rt_waits, self.rt_late = [], [], []
        self.rt_courses_completed, self.end_reason = 0, None
        self.fraction_offsets = clinic.fraction_offsets
        self.clinic, self.rand_day, self.first_due = clinic, rand_day, first_due
        self.delayed, (self.gaps, self.levels, self.visit_minutes) = delayed, plan
        max_cycles = clinic.rules.max_cycles
        self.last = toxicity_cycle if toxicity_cycle < max_cycles else max_cycles
        self.rt_courses, self.pneumonitis_course = rt_plan
        self.cause = ""  # the stop's reason, set with the stop (`stop`)
        self.k, self.booked = 0, -1  # the cycle booked is cycle k + 1, on day `booked` (-1: none)
        self.stopped = self.systemic_done = self.chain_alive = False
        self.ended_on = -1  # the day systemic treatment ended for toxicity
        # the course chain's state (`course`, `course_due`, `free_from`, `in_course`; then
        # `course_start`, `course_day` with its first course) is set when the chain starts
        # (`start_chain`, or `run_days`' chain start, which writes them out: change both),
        # as no patient without one reads it

    # --- systemic treatment --------------------------------------------------------------

    def begin(self, env: simpy.Environment) -> None:
        """The course at clock 0: wait for randomization, where cycle 1 is booked (the
        callback is the process itself, `__call__`: nothing is booked yet)."""
        if self.rand_day > env.now:
            self.clinic.wake(env, self.rand_day, self)
        else:
            self.book_cycle(env, self.first_due, self.rand_day)

    def randomized(self, event: simpy.Event) -> None:
        if not self.stopped:
            self.book_cycle(event.env, self.first_due, self.rand_day)

    def book_cycle(self, env: simpy.Environment, due: int, earliest: int) -> None:
        """Book the next cycle, due on `due` and not before `earliest` (`give_cycle_day`),
        and sleep until its day."""
        clinic, k = self.clinic, self.k
        minutes = self.visit_minutes[k]
        day, wait, late = give_cycle_day(
            clinic.calendar, due, clinic.rules.window, clinic.chairs, minutes, earliest
        )
        if wait or late:
            self.cycle_exceptions.append((k, wait, late))
        self.booked = day
        clock = clinic.clock  # the process's own callback on its day (`__call__`)
        if clock is not None and day < len(clock.pending) and clock.pending[day] is not None:
            clock.pending[day].append(self)  # `DayClock.wake` written out
        else:
            clinic.wake(env, day, self)

    def cycle_given(self, event: simpy.Event) -> None:
        """The day of a booked cycle: give it, then book the next one (or end). On a
        `DayClock` without a log the run is `run_days`, which has this written out."""
        if self.stopped:
            return
        day = self.booked
        self.cycles.append(day)
        k = self.k = self.k + 1
        if self.clinic.log is not None:
            self.log_cycle(day)
        if k == self.last:
            self.booked = -1
            self.end_systemic(day)
        else:
            self.book_cycle(event.env, day + self.gaps[k], day + 1)
        if k == 1 and self.rt_courses:  # the chain starts with cycle 1, right after
            self.start_chain(event.env, day)

    def __call__(self, event: simpy.Event) -> None:
        """The callback of a booked cycle's day, and of the randomization day, is the
        process itself: no bound method to make for each of a replicate's 1,500 cycles
        (and `run_days` knows it by its type). Before cycle 1 is booked (`booked` < 0,
        as after the last cycle, when nothing of the cycles waits) it is the
        randomization."""
        if self.booked < 0:
            self.randomized(event)
        else:
            self.cycle_given(event)

    def log_cycle(self, day: int) -> None:
        """Log cycle k, given on `day`."""
        k, exceptions = self.k, self.cycle_exceptions
        out = exceptions[-1][2] if exceptions and exceptions[-1][0] == k - 1 else IN_WINDOW
        lower = k > 1 and self.levels[k - 1] > self.levels[k - 2]
        assert self.clinic.log is not None
        self.clinic.log.append(
            (
                day,
                self.patient,
                f"cycle {k}"
                + (" delayed" if k > 1 and self.delayed[k - 1] else "")
                + (" reduced" if lower else "")
                + (f" late {LATE_CAUSES[out]}" if out else ""),
            )
        )

    def end_systemic(self, day: int) -> None:
        record = self
        record.end_reason = "max_cycles" if self.k == self.clinic.rules.max_cycles else "toxicity"
        if record.end_reason == "toxicity":
            self.ended_on = day
        if self.clinic.log is not None:
            self.clinic.log.append((day, record.patient, f"end {record.end_reason}"))
        self.systemic_done = True

    def stop(self, event: simpy.Event) -> None:
        """The patient's stop (`cause`): end the course, give back appointments not kept."""
        if self.stopped or (self.systemic_done and not self.chain_alive):
            return  # nothing left to stop
        self.stopped = True
        record, clinic = self, self.clinic
        if record.end_reason is None:
            record.end_reason = self.cause
        if self.booked >= 0 and clinic.chairs is not None:
            clinic.chairs.release(self.booked, self.visit_minutes[self.k])
        self.booked = -1  # (given back: its day's wake-up, if any, finds nothing booked)
        if clinic.log is not None:
            clinic.log.append((event.env.now, record.patient, f"stop {self.cause}"))
        if self.chain_alive:
            self.chain_alive = False
            if self.in_course and clinic.linac is not None:
                rt = clinic.rt_rules
                assert rt is not None
                clinic.linac.release(
                    self.course_start + self.course_day, rt.days_per_course - self.course_day
                )

    def close(self) -> None:
        """The horizon: whatever is still scheduled does nothing."""
        self.stopped, self.chain_alive, self.booked = True, False, -1

    # --- the Quad Shot course chain --------------------------------------------------------

    def start_chain(self, env: simpy.Environment, day: int) -> None:
        """The course chain starts with cycle 1, given on `day` (today): course 1 is due.
        `run_days` writes this out for its common case: change them together."""
        self.chain_alive, self.course_due, self.course = True, day, 1
        self.in_course, self.free_from = False, 0
        self.advance_chain(env)

    def chain_reached(self, event: simpy.Event) -> None:
        """A wake-up of the course chain on SimPy: the course's due day, or a course day.
        (On a `DayClock` the wake-up is the 1-tuple ``(process,)``, which `run_days` reads.)"""
        if self.chain_alive:
            self.advance_chain(event.env)

    def advance_chain(self, env: simpy.Environment) -> None:
        """The course chain at the start of today (`env.now`): course `course` is due
        (not `in_course`: book it), or one of its days is today (give its fractions); a
        course over, the next one is due `interval_days` after it started (on or before
        today: booked at once), or the chain ends.

        A course is booked unless treatment ended before it was due (`plan_course_start`,
        not before the previous course is over); its start, wait and lateness are
        recorded: later than `start_within_days` after its due day is a deviation
        (LATE_CLOSURE if the calendar alone made it late, else LATE_CAPACITY). Its
        fractions are given day by day, waking at the start of each day (see
        `sim.clinic.radiotherapy`). `run_days` writes out its common case (a course
        booked on its first run of open days, its days' fractions): change them together."""
        clinic, record = self.clinic, self
        rt = clinic.rt_rules
        assert rt is not None
        n_days, log, now = rt.days_per_course, clinic.log, env.now
        while True:  # until the chain waits for a day (`when`) or ends
            if self.in_course:
                start, d = self.course_start, self.course_day
            else:
                due = self.course_due
                if 0 <= self.ended_on < due:
                    self.chain_alive = False
                    return
                free_from = self.free_from
                start, on_calendar = plan_course_start(
                    clinic.calendar,
                    clinic.linac,
                    due if due > free_from else free_from,
                    n_days,
                    clinic.run_start,
                )
                within = rt.start_within_days
                late = IN_WINDOW
                if within is not None and start - due > within:
                    late = LATE_CLOSURE if on_calendar - due > within else LATE_CAPACITY
                record.rt_starts.append(start)
                record.rt_waits.append(start - on_calendar)
                record.rt_late.append(late)
                self.free_from = start + n_days
                self.course_start, self.in_course, d = start, True, 0
            while d < n_days and start + d <= now:
                record.rt_days.append(start + d)
                if log is not None:
                    self.log_fractions(start + d, d)
                d += 1
            self.course_day = d
            if d < n_days:
                when = start + d
                break
            self.in_course = False
            record.rt_courses_completed += 1
            if self.course == self.pneumonitis_course:
                if log is not None:
                    log.append((now, record.patient, "rt pneumonitis"))
                self.chain_alive = False
                return
            if self.course == self.rt_courses:
                self.chain_alive = False
                return
            self.course_due = due = start + rt.interval_days
            self.course += 1
            if due > now:
                when = due
                break
        # the chain's wake-up: on a `DayClock` the 1-tuple (`run_days`), on SimPy a
        # callback; neither is kept on the process (no reference cycle)
        clock = clinic.clock
        if clock is None:
            clinic.wake(env, when, self.chain_reached)
        elif when < len(clock.pending) and (waiting := clock.pending[when]) is not None:
            waiting.append((self,))  # `DayClock.wake` written out for a day with wake-ups
        else:
            clock.wake(clock, when, (self,))

    def log_fractions(self, day: int, d: int) -> None:
        """Log the fractions of day `d` (0-based) of the course under way, given on `day`."""
        clinic = self.clinic
        rt = clinic.rt_rules
        assert rt is not None and clinic.log is not None
        per_day = len(rt.fraction_hours)
        clinic.log.extend(
            (day + offset, self.patient, f"rt {self.course}.{d * per_day + j + 1}")
            for j, offset in enumerate(rt.fraction_offsets)
        )


def run_days(clinic: Clinic, until: int | None = None) -> None:
    """The wake-ups of `clinic.clock` (a `DayClock`) day by day, each day's in the order
    asked for (one asked for meanwhile joins the end), before day `until` (all if None),
    then standing at `until`, as `simpy.Environment.run` does.

    Written out here: `PatientProcess.__call__` (a randomization, or a cycle's day:
    `cycle_given`) for its common case, the cycle's due day open, in the window, with a
    free chair (one look-up in `Clinic.day_if_free`), booked there (`Clinic.wake` inline),
    or its chairs full and a later open day of the window with room (`give_cycle_day`'s
    first search); and the course chain (`PatientProcess.advance_chain`: its wake-ups,
    ``(process,)``, read without a callback) for its common case, a course booked on its
    first run of open days (`plan_course_start`'s first run, every day with a linac slot)
    and its days' fractions given. Most cycles and courses take the common case (the
    baseline's figures: benchmarks/README.md, loop-32); the others, a course that waits
    for the linac and the stops are the processes' own methods, and so is everything with
    a log kept (`run_logged_days`)."""
    clock = clinic.clock
    assert clock is not None
    if clinic.log is not None:  # the processes' own callbacks, which log what they do
        run_logged_days(clinic, until)
        return
    pending = clock.pending
    next_open, after_days = clinic.next_open, clinic.after_days
    used, limit, span = clinic.chair_used, clinic.chair_limit, clinic.chair_span
    Process, n_open, is_open = PatientProcess, len(next_open), clinic.calendar.open_list
    if_free = clinic.day_if_free
    if clinic.chairs is None:  # no book: a scratch one over the calendar's days, never full
        used, limit, span = [0] * n_open, NO_LIMIT, n_open
    if if_free is None:  # a Clinic made without its table (`ClinicSetup.days_if_free`)
        if_free = days_if_free(next_open, after_days, span)
    used.append(limit + 1)  # the guard day `span` of `if_free`: no room (removed at the end)
    n_search = span if span < n_open else n_open  # a window searched inside book and calendar
    rt, linac = clinic.rt_rules, clinic.linac
    n_days = interval = 0
    within = NO_LIMIT  # a course is late if it starts more than this after its due day
    if rt is not None:
        n_days, interval = rt.days_per_course, rt.interval_days
        if rt.start_within_days is not None:
            within = rt.start_within_days
    run_start = clinic.run_start if clinic.run_start is not None else []
    n_run = len(run_start)
    room, room_span = (linac.room, linac.span) if linac is not None else (None, 0)
    # the chairs' book's days at once (a cycle booked later is rare: `book_cycle`); a new
    # day's list inline up to the list's last day but one (`DayClock.grow`)
    if len(pending) <= span:
        clock.grow(span + 1)
    n_pending, marked = len(pending) - 1, clock.marked
    stop_at = NO_LIMIT if until is None else until
    day = marked.find(1, clock.now)
    if day >= 0 and pending[day] is None:  # the day made last (a day made keeps its mark)
        day = marked.find(1, day + 1)
    while 0 <= day < stop_at:
        clock.now = day
        for process in pending[day]:  # wake-ups asked for meanwhile join the list
            if type(process) is Process:  # a cycle's day, or the randomization
                if process.booked == day:  # `cycle_given`: the process's cycle is today
                    process.cycles.append(day)
                    k = process.k = process.k + 1
                    if k == process.last:
                        process.booked = -1
                        process.end_systemic(day)
                        if k == 1 and process.rt_courses:
                            process.start_chain(clock, day)
                        continue
                    due = day + process.gaps[k]
                elif process.stopped:  # (a stop gives its booked day back: `booked` -1)
                    continue
                else:  # the randomization (`randomized`): book cycle 1
                    k, due = 0, process.first_due
                try:  # the common case: an open day in the window and the book (`if_free`)
                    on = if_free[due]
                except IndexError:  # past the calendar: none (`book_cycle`)
                    on = span
                if (filled := used[on] + process.visit_minutes[k]) <= limit:  # a chair free
                    used[on] = filled
                    process.booked = on
                    if (waiting := pending[on]) is not None:  # (the list reaches the book)
                        waiting.append(process)
                    else:
                        pending[on] = [process]
                        marked[on] = 1
                elif on < span and (to := due + after_days) < n_search:
                    # the day's chairs full: the window's next open day with room, if any
                    # (`give_cycle_day`'s search, the days after the due day first)
                    room_left, d = limit - process.visit_minutes[k], on + 1
                    while d <= to and (not is_open[d] or used[d] > room_left):
                        d += 1
                    if d <= to:
                        used[d] += process.visit_minutes[k]
                        process.booked = d
                        process.cycle_exceptions.append((k, d - on, IN_WINDOW))
                        if (waiting := pending[d]) is not None:
                            waiting.append(process)
                        else:
                            pending[d] = [process]
                            marked[d] = 1
                    else:
                        process.book_cycle(clock, due, day + 1 if k else process.rand_day)
                else:
                    # not before the randomization (cycle 1) or the day after the last cycle
                    process.book_cycle(clock, due, day + 1 if k else process.rand_day)
                if k != 1 or not process.rt_courses:
                    continue
                # the chain starts with cycle 1, right after: course 1 is due (`start_chain`)
                process.chain_alive, process.course_due, process.course = True, day, 1
                process.in_course, process.free_from = False, 0
            elif type(process) is tuple:  # the course chain's
                process = process[0]
                if not process.chain_alive:
                    continue
            else:  # a stop
                process(clock)
                continue
            # the course chain (`advance_chain` written out): today a course is due (book
            # it) or one of its days is
            when = day
            if not process.in_course:
                due = process.course_due
                if 0 <= process.ended_on < due:  # treatment ended for toxicity before
                    process.chain_alive = False
                    continue
                free = process.free_from
                earliest = due if due > free else free
                if earliest >= n_run:  # past the calendar's table
                    process.advance_chain(clock)
                    continue
                # the first run of open days (`plan_course_start`): if one of its days
                # has no linac slot, `advance_chain` finds the next run with them
                when = run_start[earliest]
                end = when + n_days
                if room is not None:
                    if end > room_span:
                        process.advance_chain(clock)
                        continue
                    d = when
                    while d < end and room[d] > 0:
                        d += 1
                    if d < end:
                        process.advance_chain(clock)
                        continue
                    while d > when:
                        d -= 1
                        room[d] -= 1
                process.rt_starts.append(when)
                process.rt_waits.append(0)
                process.rt_late.append(LATE_CLOSURE if when - due > within else IN_WINDOW)
                process.free_from, process.course_start = end, when
                process.in_course, process.course_day = True, 0
            if when == day:  # a course day: today's fractions
                process.rt_days.append(day)
                d = process.course_day = process.course_day + 1
                if d < n_days:
                    when = day + 1  # (course days are consecutive)
                else:  # the course over: the next one is due, or the chain ends
                    process.in_course = False
                    process.rt_courses_completed += 1
                    course = process.course
                    if course == process.pneumonitis_course or course == process.rt_courses:
                        process.chain_alive = False
                        continue
                    when = process.course_due = process.course_start + interval
                    process.course = course + 1
                    if when <= day:  # due today: booked at once
                        process.advance_chain(clock)
                        continue
            if when >= n_pending:  # the chain's wake-up on day `when`: ``(process,)``
                clock.wake(clock, when, (process,))
                n_pending = len(pending) - 1
            elif (waiting := pending[when]) is not None:
                waiting.append((process,))
            else:
                pending[when] = [(process,)]
                marked[when] = 1
        # the day's list let go: the clock is freed by the cyclic collector only (its
        # `env` is itself), and with its lists it would hold the whole replicate
        pending[day] = None  # (its mark stays: no day before it is looked at again)
        day += 1
        if not marked[day]:  # (the next day has wake-ups about half the time)
            day = marked.find(1, day)
    del used[span:]  # the guard day
    if until is not None:
        clock.now = until


def run_logged_days(clinic: Clinic, until: int | None = None) -> None:
    """`run_days` with the log kept: each wake-up is its process's own callback (a
    randomization or a cycle's day, `PatientProcess.__call__`; the course chain's,
    ``(process,)``, `PatientProcess.advance_chain`; a stop), which logs what it does."""
    clock = clinic.clock
    assert clock is not None
    pending, marked = clock.pending, clock.marked
    stop_at = NO_LIMIT if until is None else until
    day = marked.find(1, clock.now)
    if day >= 0 and pending[day] is None:  # the day made last (it keeps its mark)
        day = marked.find(1, day + 1)
    while 0 <= day < stop_at:
        clock.now = day
        for process in pending[day]:  # wake-ups asked for meanwhile join the list
            if type(process) is not tuple:
                process(clock)
            elif process[0].chain_alive:
                process[0].advance_chain(clock)
        pending[day] = None
        day = marked.find(1, day + 1)
    if until is not None:
        clock.now = until
