"""The clinic of one replicate: a SimPy model of every randomized patient's treatment course.

Outcomes are computed elsewhere (vectorized); the clinic receives, per patient, the day
treatment must stop and why, and the patient's stratum (histology: its regimen). The random
numbers are drawn in bulk for a chunk of replicates by `draw_clinic` (cycle delays, dose
reductions, toxicity, Quad Shot courses and pneumonitis, covariates and so doses, the
clinic's background load on chairs and linacs); the processes only read them, so a
replicate's clinic is a deterministic function of its draws.

Capacity (`sim.clinic.capacity`): infusion chairs and linac slots are per-day appointment books
shared by the trial's patients and the clinic's other patients (the background); a visit
that finds no room waits for the first open day with room, and past its protocol window
that is a deviation. Outputs besides the per-arm summary: monthly series (`supply`: mg and
vials per drug; `resources`: use, utilization and waits) and the `deviations` counts.

Days: the clock is float days since the study start; clinic day d covers [d, d + 1). A stop
or the horizon takes effect at the start of its clinic day, ``floor(day)``: a patient who
progresses, dies or withdraws on day d gets nothing on day d, and nothing happens on or after
the horizon day. Cycles are given at the start of their day (clock d), RT fractions at
``d + hour / 24``.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from operator import itemgetter

import numpy as np
import pandas as pd
import simpy

from sim.clinic.capacity import (
    DayBook,
    SessionBook,
    chair_minutes_per_day,
    draw_background,
    linac_slots_per_session,
)
from sim.clinic.dosing import DosePlan, plan_doses
from sim.clinic.patients import Covariates, draw_covariates
from sim.clinic.radiotherapy import CourseRules
from sim.clinic.safety import (
    AeDraws,
    Consequences,
    EventTable,
    SafetyTables,
    incidence,
    plan_consequences,
    realized_events,
)
from sim.clinic.treatment import (
    LATE_CAPACITY,
    LATE_CLOSURE,
    Clinic,
    CycleRules,
    PatientCourse,
    PatientProcess,
)
from sim.conduct.calendar import StudyCalendar, month_grid
from sim.scenario import Scenario, Treatment

ARMS = ("control", "experimental")  # arm codes 0 and 1, as in sim.conduct.randomization
METRICS = (
    "cycles_given",
    "cycles_delayed",  # by a drawn toxicity delay (per protocol, not a deviation)
    "cycles_out_of_window",  # given after the protocol window (closure or chairs)
    "infusion_wait_days",  # days cycles waited for a chair
    "dose_reductions",
    "toxicity_discontinuations",
    "rt_patients_started",
    "rt_courses_completed",
    "rt_fractions_given",
    "rt_dose_gy",
    "rt_bed10_gy",  # BED10 = n d (1 + d / 10) over the fractions given
    "rt_courses_out_of_window",  # started after start_within_days (closure or linac)
    "rt_wait_days",  # days courses waited for linac slots
    "rt_pneumonitis",
    "rt_stopped_early",  # fewer courses than planned, as drawn (complete_all_courses)
    "protocol_deviations",  # cycles and courses out of window
)
SUMMARY_KEYS = tuple(f"{metric}_{arm}" for metric in METRICS for arm in ARMS)
DEVIATIONS = ("cycle_late_closure", "cycle_late_chairs", "rt_late_closure", "rt_late_linac")
SETUP_CACHE_SIZE = 8


@dataclass(frozen=True)
class ClinicDraws:
    """Bulk random draws for a chunk of R replicates of n patients (numpy arrays).

    Every patient gets every draw whatever the arm, so the two arms share them (common
    random numbers) and the layout of the stream does not depend on the randomization.
    Fields after `rt_courses` may be None: no reductions, no pneumonitis, no covariates
    (no doses), no background load.
    """

    cycle1_offset: np.ndarray  # (R, n) int: U, cycle 1 due on randomization day + U
    delayed: np.ndarray  # (R, n, max_cycles) bool: [..., k - 1] cycle k delayed; [..., 0] False
    toxicity_cycle: np.ndarray  # (R, n) int >= 1: discontinue after this cycle (geometric)
    rt_courses: np.ndarray  # (R, n) int in 1..courses: Quad Shot courses received, if RT arm
    reduced: np.ndarray | None = None  # (R, n, max_cycles) bool: cycle k lowers the dose
    pneumonitis_course: np.ndarray | None = None  # (R, n) int: 0 none, else after course j
    covariates: Covariates | None = None
    doses: DosePlan | None = None
    chair_background: np.ndarray | None = None  # (R, span) int: chair-minutes used by others
    linac_background: np.ndarray | None = None  # (R, span, sessions) int: slots used by others


def require_treatment(scenario: Scenario) -> Treatment:
    if scenario.treatment is None:
        raise ValueError(
            "scenario.treatment = None: the clinic model needs a treatment block "
            "(copy the one in scenarios/nct07271602.yaml)"
        )
    return scenario.treatment


def clinic_months(scenario: Scenario) -> tuple[np.ndarray, int]:
    """(first clock day of each calendar month, days tabulated): the months of
    `sim.conduct.calendar.month_grid` (start month to two years past completion or the cut), and the
    clinic's books cover the days up to the end of the last of them."""

    grid = month_grid(scenario)
    last = np.datetime64(grid["month_labels"][-1], "M") + 1
    span = int((last.astype("datetime64[D]") - np.datetime64(scenario.trial.start_date, "D"))
               .astype(np.int64))
    return grid["month_starts"], span


def draw_clinic(
    scenario: Scenario, n_reps: int, n_patients: int, rng: np.random.Generator
) -> ClinicDraws:
    """All the clinic's random numbers for `n_reps` replicates of `n_patients`, in one go.

    Cycle delays are Bernoulli(delay.probability) per cycle after the first (never when
    delay.days is 0: a delay of no days is no delay). The cycle after which a patient
    discontinues for toxicity is geometric(discontinuation_per_cycle), the same as a
    Bernoulli trial after every cycle. Quad Shot: all `courses` with probability
    complete_all_courses, otherwise 1 .. courses - 1 with equal probability (for 3 courses,
    1 or 2 evenly; RTOG 8502 saw 59% / 20% / 20% for 3 / 2 / 1). Then, in this order:
    dose reductions, Bernoulli(dose_reduction.probability) per cycle after the first;
    pneumonitis with probability radiotherapy.pneumonitis per patient, after a course
    uniform among those the patient is to receive; covariates and doses (with a patients
    block); the background load of chairs and linac per day (with those blocks). Raises
    ValueError if the scenario has no treatment block.
    """
    treatment = require_treatment(scenario)
    shape = (n_reps, n_patients)
    offset = rng.integers(0, treatment.cycle1_within_days + 1, shape)
    delayed = rng.random((*shape, treatment.max_cycles)) < treatment.delay.probability
    delayed[..., 0] = False
    if treatment.delay.days == 0:
        delayed[:] = False
    q = treatment.discontinuation_per_cycle
    toxicity = (
        rng.geometric(q, shape) if q > 0 else np.full(shape, treatment.max_cycles + 1)
    )
    rt = scenario.radiotherapy
    courses = rt.courses if rt is not None else 1
    complete = rng.random(shape) < (rt.complete_all_courses if rt is not None else 1.0)
    partial = rng.integers(1, max(courses - 1, 1) + 1, shape)
    rt_courses = np.where(complete, courses, partial)
    reduced = rng.random((*shape, treatment.max_cycles)) < treatment.dose_reduction.probability
    reduced[..., 0] = False
    u = rng.random((2, *shape))
    pneumonitis = np.where(u[0] < (rt.pneumonitis if rt is not None else 0.0),
                           np.ceil(u[1] * rt_courses).clip(1, None), 0).astype(np.int64)
    covariates = doses = chair_bg = linac_bg = None
    if scenario.patients is not None:
        covariates = draw_covariates(scenario.patients, shape, rng)
        if treatment.drugs:
            doses = plan_doses(treatment, scenario.patients, covariates)
    if treatment.chairs is not None or (rt is not None and rt.linac is not None):
        _, span = clinic_months(scenario)
        if treatment.chairs is not None:
            chairs = treatment.chairs
            chair_bg = draw_background(chair_minutes_per_day(chairs),
                                       chairs.background_utilization, 60, (n_reps, span), rng)
        if rt is not None and rt.linac is not None:
            linac_bg = draw_background(
                linac_slots_per_session(rt.linac), rt.linac.background_utilization, 1,
                (n_reps, span, len(rt.fraction_times)), rng)
    return ClinicDraws(
        cycle1_offset=offset,
        delayed=delayed,
        toxicity_cycle=toxicity,
        rt_courses=rt_courses,
        reduced=reduced,
        pneumonitis_course=pneumonitis,
        covariates=covariates,
        doses=doses,
        chair_background=chair_bg,
        linac_background=linac_bg,
    )


@dataclass(frozen=True)
class ClinicSetup:
    """What every replicate of a scenario shares: rules, month grid, regimen tables."""

    rules: CycleRules
    rt_rules: CourseRules | None
    rt_arm: int
    courses: int
    span: int  # days tabulated (books, monthly series)
    month_of_day: np.ndarray  # (span + 1,) month index; the last entry: n_months (dropped)
    open_day: np.ndarray  # (span,) bool
    n_months: int
    chair_limit: int  # chair-minutes a day; 0: no chairs block
    linac_limit: int  # slots per session; 0: no linac block
    n_sessions: int
    drugs: tuple[str, ...]
    gives: np.ndarray  # (strata, 2, drugs) bool: drug given in induction / maintenance
    visit_minutes: np.ndarray  # (strata, 2) int
    reducible: np.ndarray  # (strata, 2) bool: a drug of the phase follows the dose level
    safety: SafetyTables | None = None  # with a safety block: its events' tables


_SETUPS: dict[tuple[int, int], tuple[Scenario, StudyCalendar, ClinicSetup]] = {}


def clinic_setup(scenario: Scenario, calendar: StudyCalendar) -> ClinicSetup:
    """The scenario's `ClinicSetup`, built once per (scenario, calendar) and cached."""
    key = (id(scenario), id(calendar))
    hit = _SETUPS.get(key)
    if hit is not None and hit[0] is scenario and hit[1] is calendar:
        return hit[2]
    setup = build_setup(scenario, calendar)
    if len(_SETUPS) >= SETUP_CACHE_SIZE:
        _SETUPS.pop(next(iter(_SETUPS)))
    _SETUPS[key] = (scenario, calendar, setup)
    return setup


def build_setup(scenario: Scenario, calendar: StudyCalendar) -> ClinicSetup:
    treatment = require_treatment(scenario)
    rt = scenario.radiotherapy
    month_starts, span = clinic_months(scenario)
    days = np.arange(span + 1)
    month_of_day = np.searchsorted(month_starts, days, side="right") - 1
    month_of_day[-1] = len(month_starts)
    inside = min(span, calendar.horizon_days + 1)  # later days count as open (calendar)
    open_day = np.concatenate([calendar.open_day[:inside], np.ones(span - inside, bool)])
    strata = scenario.strata_names
    drugs = tuple(treatment.drugs)
    gives = np.zeros((len(strata), 2, len(drugs)), dtype=bool)
    minutes = np.zeros((len(strata), 2), dtype=np.int64)
    reducible = np.zeros((len(strata), 2), dtype=bool)
    for i, stratum in enumerate(strata):
        regimen = treatment.regimens.get(stratum)
        if regimen is None:
            continue
        for phase, names in enumerate((regimen.induction, regimen.maintenance)):
            for name in names:
                gives[i, phase, drugs.index(name)] = True
            minutes[i, phase] = treatment.visit_minutes(
                regimen, ("induction", "maintenance")[phase])
            reducible[i, phase] = any(treatment.drugs[name].reducible for name in names)
    return ClinicSetup(
        rules=CycleRules.from_treatment(treatment),
        rt_rules=CourseRules.from_radiotherapy(rt) if rt is not None else None,
        rt_arm=ARMS.index(rt.arm) if rt is not None else -1,
        courses=rt.courses if rt is not None else 0,
        span=span,
        month_of_day=month_of_day,
        open_day=open_day,
        n_months=len(month_starts),
        chair_limit=chair_minutes_per_day(treatment.chairs) if treatment.chairs else 0,
        linac_limit=linac_slots_per_session(rt.linac) if rt is not None and rt.linac else 0,
        n_sessions=len(rt.fraction_times) if rt is not None else 0,
        drugs=drugs,
        gives=gives,
        visit_minutes=minutes,
        reducible=reducible,
        safety=SafetyTables.from_scenario(scenario) if scenario.safety is not None else None,
    )


@dataclass
class ClinicResult:
    """What one replicate's clinic produced.

    `summary`: per-arm counts, keys ``<metric>_<arm>`` for every metric in METRICS and arm in
    ARMS (always all of them, in that order), then trial-wide figures ``clinic_<name>``
    (utilization of chairs and linac over the open days before the horizon, and at the
    busiest month; mg and vials of each drug), the same keys in every replicate of a
    scenario. `patients`: one row per patient when asked for (columns patient, the
    covariates and full doses when drawn, cycle_days, cycle_delayed, cycle_levels,
    cycle_waits, cycle_late, rt_fraction_clocks, rt_starts, rt_waits, rt_late,
    rt_courses_completed, rt_pneumonitis, treatment_end), else None. `log`: when asked
    for, else None, (clock, patient, what) in clock order, `what` one of "cycle 3", "cycle 3
    delayed" (and/or " reduced", " late closure", " late capacity"), "rt 2.4" (course 2,
    fraction 4), "rt pneumonitis", "end toxicity", "end max_cycles" (logged on the last
    cycle's day) and "stop progression" (or the other stop codes; logged when the stop
    interrupts a process). `monthly`: ``"supply/<drug> mg"``, ``"resources/chair
    utilization"``, ... -> array over the calendar months of `sim.conduct.calendar.month_grid`.
    `sums`: {"deviations": arm, what, count}. `books`: when the log is kept, each
    resource's per-day use (background included) and its limit, for checks.
    """

    summary: dict[str, float]
    patients: pd.DataFrame | None
    log: list[tuple[float, int, str]] | None
    monthly: dict[str, np.ndarray] | None = None
    sums: dict[str, pd.DataFrame] | None = None
    books: dict[str, tuple[np.ndarray, int]] | None = None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a replicate runs (a decorator of
    `simulate_clinic`, or a `with` block).

    A replicate allocates a few thousand events; every 700 allocations the collector would
    scan the young objects, and now and then all of them (about 13% of the clinic's time,
    measured with benchmarks/bench_clinic.py). Reference counting still frees events as
    they pass; the few reference cycles a replicate leaves (its processes and environment)
    are collected as soon as the collector runs again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def open_books(setup: ClinicSetup, draws: ClinicDraws, rep: int
               ) -> tuple[DayBook | None, SessionBook | None]:
    """The replicate's chair and linac books, starting from its background load."""
    chairs = linac = None
    if setup.chair_limit:
        background = (draws.chair_background[rep].tolist() if draws.chair_background is not None
                      else [0] * setup.span)
        chairs = DayBook(background, setup.chair_limit)
    if setup.linac_limit:
        books = []
        for s in range(setup.n_sessions):
            background = (draws.linac_background[rep, :, s].tolist()
                          if draws.linac_background is not None else [0] * setup.span)
            books.append(DayBook(background, setup.linac_limit))
        linac = SessionBook(books)
    return chairs, linac


@collector_paused()
def simulate_clinic(
    scenario: Scenario, calendar: StudyCalendar, draws: ClinicDraws, rep: int,
    rand_day: np.ndarray, arm: np.ndarray, stop_day: np.ndarray, stop_reason: np.ndarray,
    horizon_day: float, keep_patients: bool = False, keep_log: bool = False,
    stratum: np.ndarray | None = None, adverse_events: AeDraws | None = None,
) -> ClinicResult:
    """Run the treatment course of every patient of replicate `rep` (row `rep` of `draws`).

    Inputs per patient, shape (n,): `rand_day` int clinic day of randomization; `arm` 0
    control, 1 experimental; `stop_day` clock day treatment must stop (inf if none);
    `stop_reason` its code ("progression", "death", "withdrawal", "none"); `stratum` int
    index into scenario.randomization.strata, which picks the regimen (None: every patient
    in the first stratum). Nothing happens on or after clinic day floor(`horizon_day`)
    (inf: run until every course is over). A patient still on treatment then ends with
    "horizon"; otherwise with the stop code, "toxicity" or "max_cycles". With a safety
    block and `adverse_events` (`sim.clinic.safety.draw_adverse_events` for this
    replicate; the engine always gives them), the consequences of the events replace the
    draws' delays, reductions, toxicity and pneumonitis; without `adverse_events` the
    draws' own are used (hand-made draws in tests). Raises ValueError if the scenario has
    no treatment block, the arrays do not match the draws, or `horizon_day` is NaN.
    """
    setup = clinic_setup(scenario, calendar)
    rules = setup.rules
    if math.isnan(horizon_day):
        raise ValueError("horizon_day = nan: give the final analysis day (inf for no horizon)")
    n = len(rand_day)
    if draws.delayed.shape[1:] != (n, rules.max_cycles):
        raise ValueError(
            f"draws.delayed has shape {draws.delayed.shape}: needs (R, {n}, "
            f"{rules.max_cycles}) for {n} patients; draw them with draw_clinic for this scenario"
        )
    strata = np.zeros(n, dtype=np.int64) if stratum is None else np.asarray(stratum)
    in_rt = arm == setup.rt_arm
    courses = np.where(in_rt, draws.rt_courses[rep], 0)
    plan = None
    if setup.safety is not None and adverse_events is not None:
        plan = plan_consequences(scenario, setup.safety, adverse_events, np.asarray(arm),
                                 courses)
        pneumonitis = np.where(in_rt, plan.stop_rt_course, 0)
    else:
        pneumonitis = (np.where(in_rt, draws.pneumonitis_course[rep], 0)
                       if draws.pneumonitis_course is not None else np.zeros(n, np.int64))
    courses = np.where(pneumonitis > 0, np.minimum(pneumonitis, courses), courses)
    first_due = (rand_day + draws.cycle1_offset[rep]).tolist()
    delayed = draws.delayed[rep].tolist()
    reduced = (draws.reduced[rep].tolist() if draws.reduced is not None
               else [[False] * rules.max_cycles] * n)
    toxicity = draws.toxicity_cycle[rep]
    if plan is not None:
        delayed, reduced, toxicity = plan.delayed, plan.reduced, plan.toxicity_cycle
    visit = [tuple(v) for v in setup.visit_minutes[strata].tolist()]
    reducible = [tuple(v) for v in setup.reducible[strata].tolist()]
    end = math.floor(horizon_day) if math.isfinite(horizon_day) else math.inf
    stops = np.floor(stop_day).tolist()
    reasons = stop_reason.tolist()

    log: list[tuple[float, int, str]] | None = [] if keep_log else None
    chairs, linac = open_books(setup, draws, rep)
    clinic = Clinic(calendar, rules, setup.rt_rules, chairs, linac, log)
    records = [PatientCourse(i) for i in range(n)]
    env = simpy.Environment()
    patients = [
        PatientProcess(env, clinic, record, r, due, late, lower, toxic, n_courses, pneu,
                       minutes, red, reason)
        for record, r, due, late, lower, toxic, n_courses, pneu, minutes, red, reason in zip(
            records, rand_day.tolist(), first_due, delayed, reduced, toxicity.tolist(),
            courses.tolist(), pneumonitis.tolist(), visit, reducible, reasons, strict=True)
    ]
    # Stops first: a stop's timeout is then older than any the patients create for the same
    # clock, and SimPy handles same-time events oldest first (a stop on day d comes before
    # anything else on day d); then each patient's course starts, in patient order.
    for patient, stop in zip(patients, stops, strict=True):
        if stop < end:
            env.timeout(stop).callbacks.append(patient.stop)
    for patient in patients:
        patient.begin()
    if end > env.now:
        env.run(until=None if end == math.inf else end)
    for record in records:
        if record.end_reason is None:
            record.end_reason = "horizon"
    if log is not None:
        log.sort(key=itemgetter(0))  # stable: same-clock entries stay in event order
    tally = ReplicateTally(scenario, setup, draws, rep, records, arm, strata, courses,
                           pneumonitis, end)
    if plan is not None:
        tally.add_events(plan, adverse_events, np.asarray(stops, dtype=float))
    return ClinicResult(
        summary=tally.summary(),
        patients=tally.patient_frame() if keep_patients else None,
        log=log,
        monthly=tally.monthly(),
        sums={"deviations": tally.deviations()},
        books=tally.books(chairs, linac) if keep_log else None,
    )


def metric_name(text: str) -> str:
    """A drug name as part of a summary key: lower case, non-alphanumerics as '_'."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


class ReplicateTally:
    """The replicate's records as flat arrays, and the tables built from them once, at the
    end of the replicate (records first, tables at the edge)."""

    def __init__(self, scenario: Scenario, setup: ClinicSetup, draws: ClinicDraws, rep: int,
                 records: list[PatientCourse], arm: np.ndarray, strata: np.ndarray,
                 courses: np.ndarray, pneumonitis: np.ndarray, end: float) -> None:
        self.scenario, self.setup, self.draws, self.rep = scenario, setup, draws, rep
        self.records, self.arm, self.strata = records, np.asarray(arm), strata
        self.courses, self.pneumonitis = courses, pneumonitis
        self.end = min(end, setup.span)
        counts = np.asarray([len(r.cycle_days) for r in records], dtype=np.int64)
        self.cycle_patient = np.repeat(np.arange(len(records)), counts)
        total = int(counts.sum())
        first = np.cumsum(counts) - counts
        self.cycle_index = np.arange(total) - np.repeat(first, counts)  # 0-based cycle k - 1

        def flat(name: str) -> np.ndarray:
            return np.fromiter(chain.from_iterable(getattr(r, name) for r in records),
                               dtype=np.int64, count=total)

        self.cycle_day = flat("cycle_days")
        self.cycle_level = flat("cycle_levels")
        self.cycle_wait = flat("cycle_waits")
        self.cycle_late = flat("cycle_late")
        starts = np.asarray([len(r.rt_starts) for r in records], dtype=np.int64)
        self.rt_patient = np.repeat(np.arange(len(records)), starts)
        self.rt_start = np.fromiter(chain.from_iterable(r.rt_starts for r in records),
                                    dtype=np.int64, count=int(starts.sum()))
        self.rt_wait = np.fromiter(chain.from_iterable(r.rt_waits for r in records),
                                   dtype=np.int64, count=int(starts.sum()))
        self.rt_late = np.fromiter(chain.from_iterable(r.rt_late for r in records),
                                   dtype=np.int64, count=int(starts.sum()))
        n_fractions = np.asarray([len(r.rt_fractions) for r in records], dtype=np.int64)
        self.fraction_patient = np.repeat(np.arange(len(records)), n_fractions)
        self.fraction_day = np.floor(np.fromiter(
            chain.from_iterable(r.rt_fractions for r in records), dtype=float,
            count=int(n_fractions.sum()))).astype(np.int64)
        self.phase = (self.cycle_index >= setup.rules.induction_cycles).astype(np.int64)
        self.cycle_arm = self.arm[self.cycle_patient]
        self.rt_arm = self.arm[self.rt_patient]
        self.fraction_arm = self.arm[self.fraction_patient]
        self.completed = np.asarray([r.rt_courses_completed for r in records], dtype=np.int64)
        self.events: EventTable | None = None

    def add_events(self, plan: Consequences, ae: AeDraws, stop_day: np.ndarray) -> None:
        """The adverse events that happened (`sim.clinic.safety.realized_events`)."""
        n, k = len(self.records), self.setup.rules.max_cycles
        cycle_days = np.full((n, k), np.nan)
        cycle_days[self.cycle_patient, self.cycle_index] = self.cycle_day
        c = ae.course.shape[1]
        rt_starts = np.full((n, c), np.nan)
        if len(self.rt_patient) and c:
            counts = np.bincount(self.rt_patient, minlength=n)
            first = np.cumsum(counts) - counts
            index = np.arange(len(self.rt_patient)) - first[self.rt_patient]
            inside = index < c
            rt_starts[self.rt_patient[inside], index[inside]] = self.rt_start[inside]
        rt = self.setup.rt_rules
        self.events = realized_events(
            plan, ae, cycle_days, rt_starts, stop_day, self.end, self.setup.rules.cycle_days,
            rt.interval_days if rt is not None else 0, rt.days_per_course if rt else 1)

    # --- per arm ------------------------------------------------------------------------

    @staticmethod
    def per_arm(arm: np.ndarray, values=None) -> np.ndarray:
        """Sums of `values` (or 1 each) by arm code, rows labelled by `arm`: (2,)."""
        return np.bincount(arm, weights=values, minlength=2)[:2]

    def summary(self) -> dict[str, float]:
        """Per-arm counts keyed ``<metric>_<arm>`` (see METRICS), then trial-wide figures."""
        setup = self.setup
        rt = self.scenario.radiotherapy
        dose = rt.dose_per_fraction_gy if rt is not None else 0.0
        fractions = self.per_arm(self.fraction_arm)
        levels_reached = np.zeros(len(self.records))
        np.maximum.at(levels_reached, self.cycle_patient, self.cycle_level)
        ended = np.asarray([r.end_reason for r in self.records])
        started = np.zeros(len(self.records), dtype=bool)
        started[self.fraction_patient] = True
        pneumonitis = (self.pneumonitis > 0) & (self.completed >= self.pneumonitis)
        early = ((self.courses > 0) & (self.courses < setup.courses) & (self.pneumonitis == 0)
                 & (self.completed == self.courses))
        cycle_out = self.per_arm(self.cycle_arm, self.cycle_late > 0)
        rt_out = self.per_arm(self.rt_arm, self.rt_late > 0)
        per_arm = {
            "cycles_given": self.per_arm(self.cycle_arm),
            "cycles_delayed": self.per_arm(
                self.arm, [r.cycle_delayed.count(True) for r in self.records]),
            "cycles_out_of_window": cycle_out,
            "infusion_wait_days": self.per_arm(self.cycle_arm, self.cycle_wait),
            "dose_reductions": self.per_arm(self.arm, levels_reached),
            "toxicity_discontinuations": self.per_arm(self.arm, ended == "toxicity"),
            "rt_patients_started": self.per_arm(self.arm, started),
            "rt_courses_completed": self.per_arm(self.arm, self.completed),
            "rt_fractions_given": fractions,
            "rt_dose_gy": fractions * dose,
            "rt_bed10_gy": fractions * dose * (1 + dose / 10),
            "rt_courses_out_of_window": rt_out,
            "rt_wait_days": self.per_arm(self.rt_arm, self.rt_wait),
            "rt_pneumonitis": self.per_arm(self.arm, pneumonitis),
            "rt_stopped_early": self.per_arm(self.arm, early),
            "protocol_deviations": cycle_out + rt_out,
        }
        out = {f"{metric}_{arm}": float(per_arm[metric][a])
               for metric in METRICS for a, arm in enumerate(ARMS)}
        out.update(self.trial_figures())
        if self.events is not None:
            safety = self.scenario.safety
            treated = np.bincount(self.cycle_patient, minlength=len(self.records)) > 0
            out.update(incidence(self.events, self.setup.safety.names, self.arm, treated,
                                 safety.watch, safety.at_least))
        return out

    # --- trial-wide -------------------------------------------------------------------------

    def chair_minutes(self) -> np.ndarray:
        """Chair-minutes of each cycle given."""
        return self.setup.visit_minutes[self.strata[self.cycle_patient], self.phase]

    @cached_property
    def daily_use(self) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
        """Per resource: (trial use per day, background per day, daily capacity), over the
        tabulated days; capacity counts all sessions of the linac."""
        setup, span = self.setup, self.setup.span
        out = {}
        if setup.chair_limit:
            inside = self.cycle_day < span
            trial = np.bincount(self.cycle_day[inside], weights=self.chair_minutes()[inside],
                                minlength=span)
            bg = self.draws.chair_background
            out["chair"] = (trial, bg[self.rep] if bg is not None else np.zeros(span),
                            setup.chair_limit)
        if setup.linac_limit:
            inside = self.fraction_day < span
            trial = np.bincount(self.fraction_day[inside], minlength=span).astype(float)
            bg = self.draws.linac_background
            out["linac"] = (trial, bg[self.rep].sum(axis=1) if bg is not None
                            else np.zeros(span), setup.linac_limit * setup.n_sessions)
        return out

    def trial_figures(self) -> dict[str, float]:
        setup, out = self.setup, {}
        months = setup.month_of_day[: setup.span]
        before = np.arange(setup.span) < self.end
        for name, (trial, bg, limit) in self.daily_use.items():
            used = np.where(setup.open_day, trial + bg, 0.0)
            capacity = np.where(setup.open_day, limit, 0)
            total_cap = capacity[before].sum()
            out[f"clinic_{name}_utilization"] = (float(used[before].sum() / total_cap)
                                                 if total_cap else 0.0)
            mask = before & setup.open_day
            by_month = np.bincount(months[mask], weights=used[mask], minlength=setup.n_months)
            cap_month = np.bincount(months[mask], weights=capacity[mask],
                                    minlength=setup.n_months)
            share = np.divide(by_month, cap_month, out=np.zeros(setup.n_months),
                              where=cap_month > 0)
            out[f"clinic_{name}_utilization_peak_month"] = float(share.max(initial=0.0))
        supply = self.supply
        for j, drug in enumerate(setup.drugs):
            mg, vials = (supply[0][:, j].sum(), supply[1][:, j].sum()) if supply else (0, 0)
            out[f"clinic_{metric_name(drug)}_mg"] = float(mg)
            out[f"clinic_{metric_name(drug)}_vials"] = float(vials)
        return out

    @cached_property
    def supply(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(mg (cycles, drugs), vials (cycles, drugs, sizes)) of every cycle given, 0 for the
        drugs not in the cycle's regimen; None without doses."""
        doses = self.draws.doses
        if doses is None:
            return None
        patient, level = self.cycle_patient, self.cycle_level
        gives = self.setup.gives[self.strata[patient], self.phase]  # (cycles, drugs)
        mg = doses.mg[self.rep, patient, :, level] * gives
        vials = doses.vials[self.rep, patient, :, level] * gives[..., None]
        return mg, vials

    # --- monthly and sums -------------------------------------------------------------------

    def by_month(self, days: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        setup = self.setup
        months = setup.month_of_day[np.minimum(days, setup.span)]
        return np.bincount(months, weights=values, minlength=setup.n_months + 1)[
            : setup.n_months].astype(float)

    def monthly(self) -> dict[str, np.ndarray]:
        """Supply (mg and vials per drug, and per vial size) and resources (use,
        utilization, waits) per calendar month of the grid."""
        setup, out = self.setup, {}
        doses, supply = self.draws.doses, self.supply
        if doses is not None and supply is not None:
            mg, vials = supply
            for j, drug in enumerate(setup.drugs):
                out[f"supply/{drug} mg"] = self.by_month(self.cycle_day, mg[:, j])
                out[f"supply/{drug} vials"] = self.by_month(self.cycle_day,
                                                            vials[:, j].sum(axis=1))
                sizes = doses.sizes[j]
                if len(sizes) > 1:
                    for s, size in enumerate(sizes):
                        out[f"supply/{drug} vials {size:g} mg"] = self.by_month(
                            self.cycle_day, vials[:, j, s])
        months = setup.month_of_day[: setup.span]
        for name, (trial, bg, limit) in self.daily_use.items():
            open_day = setup.open_day
            used = np.bincount(months[open_day], weights=(trial + bg)[open_day],
                               minlength=setup.n_months)
            capacity = np.bincount(months[open_day], minlength=setup.n_months) * limit
            label = "chair hours used" if name == "chair" else "linac slots used"
            scale = 60.0 if name == "chair" else 1.0
            out[f"resources/{label}"] = np.bincount(months, weights=trial,
                                                    minlength=setup.n_months) / scale
            out[f"resources/{name} utilization"] = np.divide(
                used, capacity, out=np.zeros(setup.n_months), where=capacity > 0)
        if setup.chair_limit:
            out["resources/infusion wait days"] = self.by_month(self.cycle_day, self.cycle_wait)
        if setup.linac_limit:
            out["resources/rt wait days"] = self.by_month(self.rt_start, self.rt_wait)
        if self.events is not None:
            ev = self.events
            ev_arm = self.arm[ev.patient]
            for a, arm in enumerate(ARMS):
                mine = ev_arm == a
                for j, name in enumerate(setup.safety.names):
                    out[f"safety/{name} {arm}"] = self.by_month(ev.onset_day[mine & (ev.kind == j)])
                out[f"safety/grade 3+ {arm}"] = self.by_month(ev.onset_day[mine & (ev.grade >= 3)])
        return out

    def deviations(self) -> pd.DataFrame:
        """Protocol deviations of the replicate: arm, what (a DEVIATIONS kind), count."""
        counts = (
            self.per_arm(self.cycle_arm, self.cycle_late == LATE_CLOSURE),
            self.per_arm(self.cycle_arm, self.cycle_late == LATE_CAPACITY),
            self.per_arm(self.rt_arm, self.rt_late == LATE_CLOSURE),
            self.per_arm(self.rt_arm, self.rt_late == LATE_CAPACITY),
        )
        return pd.DataFrame({
            "arm": [arm for _ in DEVIATIONS for arm in ARMS],
            "what": [kind for kind in DEVIATIONS for _ in ARMS],
            "count": np.concatenate(counts),
        })

    def books(self, chairs: DayBook | None, linac: SessionBook | None
              ) -> dict[str, tuple[np.ndarray, int]]:
        out = {}
        if chairs is not None:
            out["chairs"] = (np.asarray(chairs.used), chairs.limit)
        if linac is not None:
            for s, book in enumerate(linac.sessions):
                out[f"linac session {s}"] = (np.asarray(book.used), book.limit)
        return out

    def patient_frame(self) -> pd.DataFrame:
        """One row per patient; the dates of cycles and fractions as list columns."""
        records, rep = self.records, self.rep
        frame: dict[str, object] = {"patient": [r.patient for r in records]}
        c = self.draws.covariates
        if c is not None:
            frame.update(age=c.age[rep], male=c.male[rep], height_cm=c.height_cm[rep],
                         weight_kg=c.weight_kg[rep], creatinine_mg_dl=c.creatinine_mg_dl[rep])
        doses = self.draws.doses
        if doses is not None:
            frame.update(bsa_m2=doses.bsa_m2[rep], crcl_ml_min=doses.crcl_ml_min[rep],
                         calvert_gfr_ml_min=doses.calvert_gfr_ml_min[rep])
            for j, drug in enumerate(doses.drugs):
                frame[f"dose_{metric_name(drug)}_mg"] = doses.mg[rep, :, j, 0]
        frame.update({
            "cycle_days": [r.cycle_days for r in records],
            "cycle_delayed": [r.cycle_delayed for r in records],
            "cycle_levels": [r.cycle_levels for r in records],
            "cycle_waits": [r.cycle_waits for r in records],
            "cycle_late": [r.cycle_late for r in records],
            "rt_fraction_clocks": [r.rt_fractions for r in records],
            "rt_starts": [r.rt_starts for r in records],
            "rt_waits": [r.rt_waits for r in records],
            "rt_late": [r.rt_late for r in records],
            "rt_courses_completed": [r.rt_courses_completed for r in records],
            "rt_pneumonitis": (self.pneumonitis > 0) & (self.completed >= self.pneumonitis),
            "treatment_end": [r.end_reason for r in records],
        })
        if self.events is not None:
            frame.update(self.event_lists())
        return pd.DataFrame(frame)

    def event_lists(self) -> dict[str, list]:
        """Each patient's adverse events in onset order: kind, grade, onset day, source."""
        ev, n = self.events, len(self.records)
        order = np.lexsort((ev.onset_day, ev.patient))
        names = np.asarray(self.setup.safety.names, dtype=object)
        bounds = np.searchsorted(ev.patient[order], np.arange(n + 1))
        out: dict[str, list] = {"ae_categories": [], "ae_grades": [], "ae_onset_days": [],
                                "ae_sources": []}
        for i in range(n):
            sel = order[bounds[i]:bounds[i + 1]]
            out["ae_categories"].append(names[ev.kind[sel]].tolist())
            out["ae_grades"].append(ev.grade[sel].tolist())
            out["ae_onset_days"].append(ev.onset_day[sel].tolist())
            out["ae_sources"].append(ev.source[sel].tolist())
        return out
