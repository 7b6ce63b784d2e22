"""Safety: treatment-related adverse events, and the clinic's toxicity as their consequences.

One process (`scenario.safety`): after each cycle k of a patient, each kind of event e
(haematologic, immune-related, pneumonitis, ...) happens with the arm's per-cycle
probability if cycle k is in the kind's phase, and after each Quad Shot course j with its
per-course probability; its grade comes from the kind's grade table and, given the grade,
each consequence with its probability: `delay` cycle k + 1 (by treatment.delay.days),
`reduce` the dose level from cycle k + 1, `discontinue` all treatment after cycle k,
`stop_rt` the courses after j (after a cycle event: the courses after those of cycles
1 .. k). A course event acts on the cycle the course goes with (course
j with cycle 1 + ceil((j - 1) interval / cycle_days): cycles 1, 2, 3 in the registry).
So the delays, reductions, discontinuations and RT stops the clinic applies are exactly
the consequences of the events (`plan_consequences`), not draws of their own.

An event exists only if the patient had the cycle (the course completed) and its onset,
uniform over the whole days from the cycle (the course's last day) to the next due cycle
(the next course), comes before the patient's stop (progression seen, death, withdrawal)
and the analysis horizon (`realized_events`). Uniforms are drawn for every patient, cycle
and kind whatever the arm (common random numbers), one replicate at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from sim.scenario import Scenario

ACTIONS = ("delay", "reduce", "discontinue", "stop_rt")
GRADES = (1, 2, 3, 4)


@dataclass(frozen=True)
class AeDraws:
    """Uniforms of one replicate of n patients, K = max_cycles cycles, C courses, E kinds:
    (n, K, E) for cycles and (n, C, E) for courses; `*_action` have a last axis of
    len(ACTIONS)."""

    cycle: np.ndarray
    cycle_grade: np.ndarray
    cycle_onset: np.ndarray
    cycle_action: np.ndarray
    course: np.ndarray
    course_grade: np.ndarray
    course_onset: np.ndarray
    course_action: np.ndarray

    def rows(self, start: int, stop: int) -> AeDraws:
        """The draws of patients `start` .. `stop` - 1 (views)."""
        return AeDraws(*(getattr(self, name)[start:stop] for name in AE_FIELDS))


AE_FIELDS = tuple(AeDraws.__dataclass_fields__)


def draw_adverse_events(scenario: Scenario, n: int, rng: np.random.Generator) -> AeDraws:
    """The uniforms of one replicate (see `AeDraws`). Raises ValueError without a safety
    or treatment block."""
    return draw_adverse_event_block(scenario, n, 1, rng)


def draw_adverse_event_block(
    scenario: Scenario, n: int, n_reps: int, rng: np.random.Generator
) -> AeDraws:
    """The uniforms of `n_reps` replicates of `n` patients, their patients end to end
    (replicate i's are rows i n .. (i + 1) n, `AeDraws.rows`): the same numbers as
    `draw_adverse_events` of each replicate in turn. A replicate's uniforms are
    consecutive numbers of the stream: per cycle and kind four (event, grade, onset, and
    one not used) as four (n, K, E) blocks, then the cycle actions, then the same for the
    courses; each block is drawn straight into its rows of the block's arrays. Raises
    ValueError without a safety or treatment block."""
    if scenario.safety is None or scenario.treatment is None:
        raise ValueError("adverse events need scenario.safety and scenario.treatment")
    k = scenario.treatment.max_cycles
    c = scenario.radiotherapy.courses if scenario.radiotherapy is not None else 0
    e, a, size = len(scenario.safety.events), len(ACTIONS), n_reps * n
    cycle = [np.empty((size, k, e)) for _ in range(3)]
    cycle_action = np.empty((size, k, e, a))
    course = [np.empty((size, c, e)) for _ in range(3)]
    course_action = np.empty((size, c, e, a))
    skip = skipper(rng)
    for r in range(n_reps):
        rows = slice(r * n, (r + 1) * n)
        for x in cycle:
            rng.random(out=x[rows])
        skip((n, k, e))
        rng.random(out=cycle_action[rows])
        for x in course:
            rng.random(out=x[rows])
        skip((n, c, e))
        rng.random(out=course_action[rows])
    return AeDraws(*cycle, cycle_action, *course, course_action)


def skipper(rng: np.random.Generator) -> Callable[[tuple[int, ...]], None]:
    """Passes over uniforms not used, of a shape: the stream moves on as if they were
    drawn. PCG64's `advance` jumps at once (one 64-bit output a uniform); other bit
    generators draw them."""
    bits = rng.bit_generator

    def jump(shape: tuple[int, ...]) -> None:
        bits.advance(math.prod(shape))

    def draw(shape: tuple[int, ...]) -> None:
        rng.random(shape)

    return jump if isinstance(bits, np.random.PCG64 | np.random.PCG64DXSM) else draw


@dataclass(frozen=True)
class SafetyTables:
    """Per kind of event, arrays over (arm, phase) and grades, read by `plan_consequences`."""

    names: tuple[str, ...]
    per_cycle: np.ndarray  # (2 arms, 2 phases, E): probability after a cycle
    per_course: np.ndarray  # (E,)
    grade_cdf: np.ndarray  # (E, 4): P(grade <= g)
    action_p: np.ndarray  # (E, 4 grades, len(ACTIONS))

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> SafetyTables:
        safety = scenario.safety
        assert safety is not None
        events = safety.events
        per_cycle = np.zeros((2, 2, len(events)))
        for j, ev in enumerate(events):
            phases = {"induction": (0,), "maintenance": (1,), "all": (0, 1)}[ev.phase]
            for a, arm in enumerate(("control", "experimental")):
                for phase in phases:
                    per_cycle[a, phase, j] = getattr(ev.per_cycle, arm)
        grades = np.asarray([[ev.grades.get(g, 0.0) for g in GRADES] for ev in events])
        actions = np.asarray(
            [[[getattr(ev, act).get(g, 0.0) for act in ACTIONS] for g in GRADES] for ev in events]
        )
        return cls(
            tuple(ev.name for ev in events),
            per_cycle,
            np.asarray([ev.per_course for ev in events]),
            np.cumsum(grades, axis=1),
            actions,
        )


@dataclass(frozen=True)
class PlannedEvents:
    """The events of one source (cycles or courses) that happen if their cycle or course
    is given, as a list: `at` their flat positions over `shape` (n, S, E) in C order
    (patient by patient, then cycle or course, then kind), `grade` (m,) and `acts`
    (m, A) their grades and consequences. The dense arrays (`event`, `grades`,
    `actions`) are made when asked for."""

    shape: tuple[int, int, int]
    at: np.ndarray
    grade: np.ndarray
    acts: np.ndarray

    def rows(self, start: int, stop: int) -> PlannedEvents:
        """The events of patients `start` .. `stop` - 1, as if planned for them alone."""
        per_patient = self.shape[1] * self.shape[2]
        lo, hi = np.searchsorted(self.at, (start * per_patient, stop * per_patient)).tolist()
        return PlannedEvents(
            (stop - start, *self.shape[1:]),
            self.at[lo:hi] - start * per_patient,
            self.grade[lo:hi],
            self.acts[lo:hi],
        )

    @property
    def cells(self) -> np.ndarray:
        """Each event's (patient, cycle or course) cell, flat over (n, S)."""
        return self.at // self.shape[2]

    @property
    def event(self) -> np.ndarray:
        """(n, S, E) whether there is an event."""
        dense = np.zeros(math.prod(self.shape), dtype=bool)
        dense[self.at] = True
        return dense.reshape(self.shape)

    @property
    def grades(self) -> np.ndarray:
        """(n, S, E) each event's grade, 0 where there is no event."""
        dense = np.zeros(math.prod(self.shape), dtype=np.int64)
        dense[self.at] = self.grade
        return dense.reshape(self.shape)

    @property
    def actions(self) -> np.ndarray:
        """(n, S, E, A) each event's consequences, none where there is no event."""
        dense = np.zeros((math.prod(self.shape), self.acts.shape[1]), dtype=bool)
        dense[self.at] = self.acts
        return dense.reshape(*self.shape, self.acts.shape[1])


@dataclass(frozen=True)
class Consequences:
    """What the events of one replicate do to its clinic, and the events themselves.

    `delayed`, `reduced` (n, K) as `ClinicDraws.delayed` / `.reduced` rows; `toxicity_cycle`
    (n,) the cycle after which treatment ends (K + 1: never); `stop_rt_course` (n,) the
    course after which RT ends early (0: never, or not before the last planned course).
    `cycles` and `courses`: the events as planned, before knowing which cycles happen
    (`PlannedEvents`; their dense arrays made when asked for)."""

    delayed: np.ndarray
    reduced: np.ndarray
    toxicity_cycle: np.ndarray
    stop_rt_course: np.ndarray
    cycles: PlannedEvents
    courses: PlannedEvents

    def rows(self, start: int, stop: int) -> Consequences:
        """The consequences for patients `start` .. `stop` - 1: each patient's are its own
        row, whatever the other patients planned with it."""
        return Consequences(
            self.delayed[start:stop],
            self.reduced[start:stop],
            self.toxicity_cycle[start:stop],
            self.stop_rt_course[start:stop],
            self.cycles.rows(start, stop),
            self.courses.rows(start, stop),
        )


def course_cycle_index(course: int, interval_days: int, cycle_days: int) -> int:
    """0-based index of the cycle that course `course` (1-based) goes with."""
    return math.ceil((course - 1) * interval_days / cycle_days)


def plan_events(
    event: np.ndarray, u_grade: np.ndarray, u_action: np.ndarray, tables: SafetyTables
) -> PlannedEvents:
    """Grades and consequences of the events `event` (n, S, E), computed at the events only
    (they are rare): the grade is 1 plus the number of the kind's first three cumulative
    grade probabilities at or below its uniform; each consequence happens when its uniform
    is below its probability at that grade."""
    n_kinds, n_actions = tables.action_p.shape[0], tables.action_p.shape[-1]
    at = np.flatnonzero(event)  # flat over (n, S, E)
    kind = at % n_kinds
    u = u_grade.reshape(-1).take(at)
    cdf = tables.grade_cdf.T  # (4, E)
    grade = (
        1
        + (u >= cdf[0].take(kind)).astype(np.int64)
        + (u >= cdf[1].take(kind))
        + (u >= cdf[2].take(kind))
    )
    # take, not fancy indexing: the same numbers, gathered several times faster
    acts = u_action.reshape(-1, n_actions).take(at, axis=0) < tables.action_p.reshape(
        -1, n_actions
    ).take(kind * len(GRADES) + grade - 1, axis=0)  # (m, A)
    return PlannedEvents(event.shape, at, grade, acts)


def first_per_patient(n: int, patient: np.ndarray, value: np.ndarray, none: int) -> np.ndarray:
    """(n,) each patient's least `value`, `none` for a patient without one."""
    first = np.full(n, none, dtype=np.int64)
    np.minimum.at(first, patient, value)
    return first


def plan_consequences(
    scenario: Scenario,
    tables: SafetyTables,
    ae: AeDraws,
    arm: np.ndarray,
    planned_courses: np.ndarray,
) -> Consequences:
    """Events, grades and consequences of one replicate (module docstring); `arm` (n,) 0/1,
    `planned_courses` (n,) the Quad Shot courses each patient is to receive (0: none).
    Worked out on the list of events (they are rare), not on every cycle and kind."""
    treatment = scenario.treatment
    assert treatment is not None
    n, k, n_kinds = ae.cycle.shape
    phase = (np.arange(k) >= treatment.induction_cycles).astype(np.int64)  # (K,)
    p = tables.per_cycle[:, phase].take(arm, axis=0)  # (n, K, E): each patient's arm's
    cycles = plan_events(ae.cycle < p, ae.cycle_grade, ae.cycle_action, tables)

    c = ae.course.shape[1]
    course_event = ae.course < tables.per_course
    course_event &= np.arange(1, c + 1)[None, :, None] <= planned_courses[:, None, None]
    courses = plan_events(course_event, ae.course_grade, ae.course_action, tables)

    # each event's patient and the cycle index (0-based) after which its consequences act:
    # a course event's delay, reduction and discontinuation act after its course's cycle
    patient, index = np.divmod(cycles.cells, k)
    by_course, course = np.divmod(courses.cells, c) if c else (courses.cells, courses.cells)
    rt = scenario.radiotherapy
    on_treatment = (patient, index, cycles.acts)
    if rt is not None and c:
        # the (0-based) cycle each course goes with
        of_cycle = np.asarray(
            [
                course_cycle_index(j + 1, rt.course_interval_days, treatment.cycle_days)
                for j in range(c)
            ]
        )
        on_treatment = (
            np.concatenate([patient, by_course]),
            np.concatenate([index, np.minimum(of_cycle, k - 1).take(course)]),
            np.concatenate([cycles.acts[:, :3], courses.acts[:, :3]]),
        )
    who, after, acts = on_treatment
    delayed = np.zeros((n, k), dtype=bool)
    reduced = np.zeros((n, k), dtype=bool)
    for flags, action in ((delayed, 0), (reduced, 1)):
        if action == 0 and treatment.delay.days == 0:
            continue
        hit = acts[:, action] & (after < k - 1)
        flags[who[hit], after[hit] + 1] = True
    stops = acts[:, 2]
    toxicity = first_per_patient(n, who[stops], after[stops] + 1, k + 1)
    stop_rt = np.zeros(n, dtype=np.int64)
    if rt is not None and c:
        # RT ends after the first course with a stop_rt event, or after the courses given
        # up to a cycle followed by one (the courses of cycles 1 .. k: k's own is given)
        rt_stop = courses.acts[:, 3]
        first_course = first_per_patient(n, by_course[rt_stop], course[rt_stop] + 1, c + 1)
        done = (of_cycle[None, :] <= np.arange(k)[:, None]).sum(axis=1)  # (K,) courses given
        cycle_stop = cycles.acts[:, 3]  # a cycle event with stop_rt
        first_cycle = first_per_patient(n, patient[cycle_stop], index[cycle_stop], k)
        by_cycle = np.where(first_cycle < k, done.take(np.minimum(first_cycle, k - 1)), c + 1)
        first = np.minimum(first_course, by_cycle)
        stop_rt = np.where(first < planned_courses, first, 0)  # a stop that cuts RT short
    return Consequences(
        delayed,
        reduced,
        toxicity,
        np.asarray(stop_rt, dtype=np.int64),
        cycles,
        courses,
    )


@dataclass(frozen=True)
class EventTable:
    """The adverse events that happened in one replicate, one entry per event."""

    patient: np.ndarray
    kind: np.ndarray  # index into SafetyTables.names
    grade: np.ndarray
    onset_day: np.ndarray  # clinic day
    source: np.ndarray  # "cycle k" or "course j"

    def __len__(self) -> int:
        return len(self.patient)


def realized_events(
    plan: Consequences,
    ae: AeDraws,
    cycle_days: np.ndarray,
    rt_starts: np.ndarray,
    stop_day: np.ndarray,
    end: float,
    *,
    cycle_gap: int,
    course_gap: int,
    days_per_course: int,
) -> EventTable:
    """The planned events whose cycle was given (course completed) and whose onset is before
    the patient's stop day and the horizon. `cycle_days` (n, K) and `rt_starts` (n, C): clinic
    day of each cycle given / completed course started (nan if none). Onsets are computed
    at the planned events only; the events come patient by patient, cycles (courses) and
    kinds in order, cycles' first. (`planned_onsets`, then `realize_onsets`.)"""
    planned = planned_onsets(
        plan, ae, cycle_gap=cycle_gap, course_gap=course_gap, days_per_course=days_per_course
    )
    return realize_onsets(planned, cycle_days, rt_starts, np.minimum(stop_day, end))


@dataclass(frozen=True)
class PlannedOnsets:
    """The planned events of one replicate (or of several end to end, `stack`) before its
    clinic runs: for the cycles' events, each one's (patient, cycle) cell flat over (n, K)
    (`cell_c`), kind, grade and floor(u cycle_gap) (u its onset uniform: the days from its
    cycle's day to its onset); the same for the courses' (cells over (n, C), floor(u
    course_gap)); K, C and the days of a course."""

    cell_c: np.ndarray
    kind_c: np.ndarray
    grade_c: np.ndarray
    after_c: np.ndarray
    cell_r: np.ndarray
    kind_r: np.ndarray
    grade_r: np.ndarray
    after_r: np.ndarray
    cycles: int
    courses: int
    days_per_course: int

    @classmethod
    def stack(cls, parts: Sequence[PlannedOnsets], patients: Sequence[int]) -> PlannedOnsets:
        """`parts` end to end, the patients of part i (`patients[i]` of them) numbered
        after those of the parts before it."""
        first = parts[0]
        before = np.cumsum(patients) - patients
        return cls(
            cell_c=np.concatenate(
                [p.cell_c + k * first.cycles for p, k in zip(parts, before, strict=True)]
            ),
            kind_c=np.concatenate([p.kind_c for p in parts]),
            grade_c=np.concatenate([p.grade_c for p in parts]),
            after_c=np.concatenate([p.after_c for p in parts]),
            cell_r=np.concatenate(
                [p.cell_r + k * first.courses for p, k in zip(parts, before, strict=True)]
            ),
            kind_r=np.concatenate([p.kind_r for p in parts]),
            grade_r=np.concatenate([p.grade_r for p in parts]),
            after_r=np.concatenate([p.after_r for p in parts]),
            cycles=first.cycles,
            courses=first.courses,
            days_per_course=first.days_per_course,
        )


def planned_onsets(
    plan: Consequences, ae: AeDraws, *, cycle_gap: int, course_gap: int, days_per_course: int
) -> PlannedOnsets:
    """The `PlannedOnsets` of `plan` and its draws `ae`: an event's onset is
    floor(u cycle_gap) days after its cycle's day, or days_per_course - 1 + floor(u
    course_gap) days after its course's start (u its onset uniform)."""
    cycle, course = ae.cycle_onset.shape, ae.course_onset.shape
    at_c, cell_c = plan.cycles.at, plan.cycles.cells
    at_r, cell_r = plan.courses.at, plan.courses.cells
    return PlannedOnsets(
        cell_c=cell_c,
        kind_c=at_c % cycle[2],
        grade_c=plan.cycles.grade,
        after_c=np.floor(ae.cycle_onset.reshape(-1).take(at_c) * cycle_gap),
        cell_r=cell_r,
        kind_r=at_r % course[2],
        grade_r=plan.courses.grade,
        after_r=np.floor(ae.course_onset.reshape(-1).take(at_r) * course_gap),
        cycles=cycle[1],
        courses=course[1],
        days_per_course=days_per_course,
    )


def realize_onsets(
    planned: PlannedOnsets, cycle_days: np.ndarray, rt_starts: np.ndarray, limit: np.ndarray
) -> EventTable:
    """The events of `planned` whose cycle was given (course completed: `cycle_days` (n, K),
    `rt_starts` (n, C), nan if not) and whose onset is before the patient's `limit` (n,)."""
    p = planned
    onset_c = cycle_days.reshape(-1).take(p.cell_c) + p.after_c
    onset_r = rt_starts.reshape(-1).take(p.cell_r) + p.days_per_course - 1 + p.after_r
    pc, pr = p.cell_c // p.cycles, p.cell_r // p.courses
    keep_c = onset_c < limit.take(pc)  # a nan onset (no such cycle) compares False
    keep_r = onset_r < limit.take(pr)
    kc, kr = p.cell_c[keep_c] % p.cycles, p.cell_r[keep_r] % p.courses
    return EventTable(
        patient=np.concatenate([pc[keep_c], pr[keep_r]]),
        kind=np.concatenate([p.kind_c[keep_c], p.kind_r[keep_r]]),
        grade=np.concatenate([p.grade_c[keep_c], p.grade_r[keep_r]]),
        onset_day=np.concatenate([onset_c[keep_c], onset_r[keep_r]]).astype(np.int64),
        source=np.concatenate(
            [source_labels("cycle", p.cycles).take(kc), source_labels("course", p.courses).take(kr)]
        ),
    )


@cache
def source_labels(what: str, count: int) -> np.ndarray:
    """``"<what> 1"`` .. ``"<what> <count>"`` (object array): where an event comes from."""
    return np.asarray([f"{what} {i + 1}" for i in range(count)], dtype=object)


def incidence(
    events: EventTable,
    names: tuple[str, ...],
    arm: np.ndarray,
    treated: np.ndarray,
    watch: str | None,
    at_least: tuple[int, ...],
) -> dict[str, float]:
    """Per arm: patients with an event (any grade, grade >= 3) of each kind and of any kind
    (``ae_patients_<kind>_<any|grade3plus>_<arm>``), the same over the treated patients
    (``ae_incidence_...``), events (``ae_events_<arm>``), the treated
    (``ae_treated_<arm>``), and whether at least k patients had a `watch` event
    (``ae_at_least_<k>_<watch>``)."""
    n = len(arm)
    out: dict[str, float] = {}
    kinds = [*names, "all"]
    flags = np.zeros((len(kinds), 2, n), dtype=bool)  # (kind, any/grade3plus, patient)
    for j in range(len(names)):
        mine = events.kind == j
        flags[j, 0, events.patient[mine]] = True
        flags[j, 1, events.patient[mine & (events.grade >= 3)]] = True
    flags[-1] = flags[:-1].any(axis=0)
    treated_n = [float((treated & (arm == a)).sum()) for a in (0, 1)]
    for j, kind in enumerate(kinds):
        label = metric_label(kind)
        for g, grade in enumerate(("any", "grade3plus")):
            for a, arm_name in enumerate(("control", "experimental")):
                count = float((flags[j, g] & (arm == a)).sum())
                out[f"ae_patients_{label}_{grade}_{arm_name}"] = count
                out[f"ae_incidence_{label}_{grade}_{arm_name}"] = (
                    count / treated_n[a] if treated_n[a] else math.nan
                )
    for a, arm_name in enumerate(("control", "experimental")):
        out[f"ae_events_{arm_name}"] = float((arm[events.patient] == a).sum())
        out[f"ae_treated_{arm_name}"] = treated_n[a]
    if watch is not None:
        total = float(flags[names.index(watch), 0].sum())
        for k in at_least:
            out[f"ae_at_least_{k}_{metric_label(watch)}"] = float(total >= k)
    return out


def metric_label(text: str) -> str:
    """A kind's name as part of a column name: lower case, non-alphanumerics as '_'."""
    import re

    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
