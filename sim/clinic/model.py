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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from itertools import repeat
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
from sim.clinic.days import DayClock
from sim.clinic.dosing import plan_doses
from sim.clinic.inputs import (  # noqa: F401 (ARMS, ClinicSetup: also read from here)
    ARMS,
    ClinicDraws,
    ClinicSetup,
    clinic_months,
    clinic_setup,
    require_treatment,
)
from sim.clinic.patients import draw_covariates
from sim.clinic.records import CourseArrays, Marks, PackedRecords, mark_records, pack_records
from sim.clinic.safety import AeDraws, Consequences, plan_consequences
from sim.clinic.schedule import PatientPlans, schedule_on_calendar, worth_trying
from sim.clinic.streams import draw_below
from sim.clinic.tally import (  # noqa: F401 (METRICS, SUMMARY_KEYS: also read from here)
    DEVIATIONS,
    METRICS,
    SUMMARY_KEYS,
    ReplicateRecords,
    books,
    tally_replicates,
)
from sim.clinic.treatment import Clinic, PatientCourse, PatientProcess, plan_cycles, run_days
from sim.conduct.calendar import StudyCalendar
from sim.scenario import Scenario


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
    # a delay of no days is no delay: all False, as with probability 0
    p_delay = treatment.delay.probability if treatment.delay.days > 0 else 0.0
    delayed = draw_below(p_delay, (*shape, treatment.max_cycles), rng)
    if p_delay > 0:  # (otherwise all False, read-only: `draw_below`)
        delayed[..., 0] = False
    q = treatment.discontinuation_per_cycle
    toxicity = rng.geometric(q, shape) if q > 0 else np.full(shape, treatment.max_cycles + 1)
    rt = scenario.radiotherapy
    courses = rt.courses if rt is not None else 1
    complete = rng.random(shape) < (rt.complete_all_courses if rt is not None else 1.0)
    partial = rng.integers(1, max(courses - 1, 1) + 1, shape)
    rt_courses = np.where(complete, courses, partial)
    p_reduce = treatment.dose_reduction.probability
    reduced = draw_below(p_reduce, (*shape, treatment.max_cycles), rng)
    if p_reduce > 0:
        reduced[..., 0] = False
    u = rng.random((2, *shape))
    pneumonitis = np.where(
        u[0] < (rt.pneumonitis if rt is not None else 0.0),
        np.ceil(u[1] * rt_courses).clip(1, None),
        0,
    ).astype(np.int64)
    covariates = doses = chair_bg = linac_bg = None
    if scenario.patients is not None:
        covariates = draw_covariates(scenario.patients, shape, rng)
        if treatment.drugs:
            doses = plan_doses(treatment, scenario.patients, covariates)
    if treatment.chairs is not None or (rt is not None and rt.linac is not None):
        _, span = clinic_months(scenario)
        if treatment.chairs is not None:
            chairs = treatment.chairs
            chair_bg = draw_background(
                chair_minutes_per_day(chairs),
                chairs.background_utilization,
                60,
                (n_reps, span),
                rng,
            )
        if rt is not None and rt.linac is not None:
            linac_bg = draw_background(
                linac_slots_per_session(rt.linac),
                rt.linac.background_utilization,
                1,
                (n_reps, span, len(rt.fraction_times)),
                rng,
            )
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


def plan_adverse_events(
    scenario: Scenario,
    calendar: StudyCalendar,
    draws: ClinicDraws,
    reps: range,
    arm: np.ndarray,
    adverse_events: AeDraws,
) -> list[Consequences]:
    """The consequences of the adverse events of the chunk's replicates `reps` (rows of
    `draws`), planned for all their patients at once: `arm` (len(reps), n) their arms,
    `adverse_events` their draws end to end (`sim.clinic.safety.draw_adverse_event_block`).
    Replicate reps[i]'s is the plan of rows i n .. (i + 1) n: each patient's plan is its
    own row, so it is `plan_consequences` of that replicate alone, number for number, at a
    fraction of the array calls (`run_replicate(..., consequences=)`). Needs a safety block."""
    setup = clinic_setup(scenario, calendar)
    assert setup.safety is not None
    n = arm.shape[1]
    planned = np.where(arm == setup.rt_arm, draws.rt_courses[reps.start : reps.stop], 0)
    plan = plan_consequences(
        scenario, setup.safety, adverse_events, arm.reshape(-1), planned.reshape(-1)
    )
    return [plan.rows(i * n, (i + 1) * n) for i in range(len(reps))]


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
    `sums`: {"deviations": arm, what, count}. `books`: when the log or the patients'
    records are kept, each resource's per-day use (background included) and its limit, for
    checks.
    """

    summary: dict[str, float]
    patients: pd.DataFrame | None
    log: list[tuple[float, int, str]] | None
    monthly: dict[str, np.ndarray] | None = None
    sums: dict[str, pd.DataFrame] | None = None
    books: dict[str, tuple[np.ndarray, int]] | None = None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while replicates run (a decorator of
    `run_replicate`, or a `with` block around a chunk's replicates; nested pauses are one).

    A replicate allocates a few thousand events; every 700 allocations the collector would
    scan the young objects, and now and then all of them (about 13% of the clinic's time,
    measured with benchmarks/bench_clinic.py). Reference counting frees a replicate's events
    and patients as they pass: the only cycle a replicate leaves is its (empty) SimPy
    environment, a few objects collected as soon as the collector runs again. Pausing for a
    whole chunk rather than per replicate saves the collection that re-enabling it triggers
    after every replicate (the young objects then include the replicate's records).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@cache
def minutes_up_to(limit: int) -> np.ndarray:
    """0 .. `limit` as an object array of Python ints (for `open_books`)."""
    return np.array(range(limit + 1), dtype=object)


def open_books(
    setup: ClinicSetup, draws: ClinicDraws, rep: int
) -> tuple[DayBook | None, SessionBook | None]:
    """The replicate's chair and linac books, starting from its background load."""
    chairs = linac = None
    if setup.chair_limit:
        background = [0] * setup.span
        if draws.chair_background is not None:
            row = draws.chair_background[rep]
            values = minutes_up_to(setup.chair_limit)
            # the day's minutes as shared int objects: a gather of references costs less
            # than making an int per day (`tolist`); out of 0 .. limit, made one by one
            within = len(row) == 0 or (row.min() >= 0 and row.max() < len(values))
            background = values.take(row).tolist() if within else row.tolist()
        chairs = DayBook(background, setup.chair_limit)
    if setup.linac_limit:
        background = (
            draws.linac_background[rep]
            if draws.linac_background is not None
            else np.zeros((setup.span, setup.n_sessions), dtype=np.int64)
        )
        linac = SessionBook(background, setup.linac_limit)
    return chairs, linac


def simulate_clinic(
    scenario: Scenario,
    calendar: StudyCalendar,
    draws: ClinicDraws,
    rep: int,
    rand_day: np.ndarray,
    arm: np.ndarray,
    stop_day: np.ndarray,
    stop_reason: np.ndarray,
    *,
    horizon_day: float,
    keep_patients: bool = False,
    keep_log: bool = False,
    stratum: np.ndarray | None = None,
    adverse_events: AeDraws | None = None,
    to_end: bool = False,
    consequences: Consequences | None = None,
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
    draws' own are used (hand-made draws in tests). With `to_end` (what a run does), the
    summary and the monthly series also give the drug supply to the end of treatment
    (``clinic_<drug>_mg_to_end``, ``"supply_to_end/<drug> mg"``, ...), all else is to the
    horizon. `consequences`: the plan of `adverse_events` when it was made for several
    replicates at once (`plan_adverse_events`; None: planned here, the same rows). Raises
    ValueError if the scenario has no treatment block, the arrays do not match the draws,
    or `horizon_day` is NaN.
    """
    run = run_replicate(
        scenario,
        calendar,
        draws,
        rep,
        rand_day,
        arm,
        stop_day,
        stop_reason,
        horizon_day=horizon_day,
        keep_log=keep_log,
        stratum=stratum,
        adverse_events=adverse_events,
        to_end=to_end,
        keep_records=keep_patients,
        consequences=consequences,
    )
    tables = tally_replicates([run.records])
    return ClinicResult(
        summary={key: float(values[0]) for key, values in tables.summary.items()},
        patients=run.records.patient_frame() if keep_patients else None,
        log=run.log,
        monthly={key: values[0] for key, values in tables.monthly.items()},
        sums={"deviations": tables.deviation_frame()},
        books=run.books,
    )


@dataclass
class ReplicateRun:
    """What one replicate's SimPy run leaves: its records as arrays; when the log is
    kept, the log (clock order); when the log or the records are kept, the resources' books."""

    records: ReplicateRecords
    log: list[tuple[float, int, str]] | None
    books: dict[str, tuple[np.ndarray, int]] | None
    simpy: bool = True  # False: the schedule on the calendar alone (no book could fill)
    # True: day by day, the patients' callbacks (on SimPy or `DayClock`)


@collector_paused()
def run_replicate(
    scenario: Scenario,
    calendar: StudyCalendar,
    draws: ClinicDraws,
    rep: int,
    rand_day: np.ndarray,
    arm: np.ndarray,
    stop_day: np.ndarray,
    stop_reason: np.ndarray,
    *,
    horizon_day: float,
    keep_log: bool = False,
    stratum: np.ndarray | None = None,
    adverse_events: AeDraws | None = None,
    to_end: bool = False,
    keep_records: bool = False,
    shortcut: bool = True,
    consequences: Consequences | None = None,
) -> ReplicateRun:
    """The SimPy run of replicate `rep` (arguments as `simulate_clinic`), not yet tallied:
    a chunk tallies all its replicates at once (`sim.clinic.tally.tally_replicates`).

    Without a log or the patients' records (`keep_records`, for the patient table) to keep,
    and with `shortcut`, a replicate whose bookings cannot find a day full is not run in
    SimPy: its records are its schedule on the calendar alone, which is what the SimPy run
    gives (`sim.clinic.schedule`); `ReplicateRun.simpy` says which it was. With `shortcut`
    the day-by-day run is on `sim.clinic.days.DayClock` (SimPy's order, less work); without,
    on SimPy's own environment, the reference.

    With `to_end`, the clinic goes on after the horizon until every patient's treatment is
    over (treatment does not stop at the final analysis), and the cycles given after the
    horizon are kept apart, for the supply to the end of treatment: everything else is
    as at the horizon (the records, the log and the books are those of the horizon; what
    happens before it does not depend on what comes after)."""
    return run_course(
        scenario,
        calendar,
        draws,
        rep,
        rand_day,
        arm,
        stop_day,
        stop_reason,
        horizons=(horizon_day,),
        keep_log=keep_log,
        stratum=stratum,
        adverse_events=adverse_events,
        to_end=to_end,
        keep_records=keep_records,
        shortcut=shortcut,
        consequences=consequences,
    )[0]


def run_replicate_horizons(
    scenario: Scenario,
    calendar: StudyCalendar,
    draws: ClinicDraws,
    rep: int,
    rand_day: np.ndarray,
    arm: np.ndarray,
    stop_day: np.ndarray,
    stop_reason: np.ndarray,
    *,
    horizons: Sequence[float],
    stratum: np.ndarray | None = None,
    adverse_events: AeDraws | None = None,
    consequences: Consequences | None = None,
) -> list[ReplicateRun]:
    """`run_replicate(..., to_end=True)` at each of `horizons` from one run of the clinic:
    run to the end of treatment, the clinic does not depend on the horizon (only what is
    counted before it does), so the records are split at each horizon in turn. The same
    records, item for item, as one run per horizon; no log or patients' records."""
    with collector_paused():
        return run_course(
            scenario,
            calendar,
            draws,
            rep,
            rand_day,
            arm,
            stop_day,
            stop_reason,
            horizons=tuple(horizons),
            keep_log=False,
            stratum=stratum,
            adverse_events=adverse_events,
            to_end=True,
            keep_records=False,
            shortcut=True,
            consequences=consequences,
        )


def run_course(
    scenario: Scenario,
    calendar: StudyCalendar,
    draws: ClinicDraws,
    rep: int,
    rand_day: np.ndarray,
    arm: np.ndarray,
    stop_day: np.ndarray,
    stop_reason: np.ndarray,
    *,
    horizons: tuple[float, ...],
    keep_log: bool,
    stratum: np.ndarray | None,
    adverse_events: AeDraws | None,
    to_end: bool,
    keep_records: bool,
    shortcut: bool,
    consequences: Consequences | None = None,
) -> list[ReplicateRun]:
    """`run_replicate` at every horizon of `horizons` (several only `to_end`, without a log
    or records)."""
    setup = clinic_setup(scenario, calendar)
    rules = setup.rules
    if any(math.isnan(h) for h in horizons):
        raise ValueError("horizon_day = nan: give the final analysis day (inf for no horizon)")
    if len(horizons) != 1 and not (to_end and not keep_log and not keep_records):
        raise ValueError("several horizons need to_end, without a log or records to keep")
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
        plan = consequences
        if plan is None:
            plan = plan_consequences(
                scenario, setup.safety, adverse_events, np.asarray(arm), courses
            )
        pneumonitis = np.where(in_rt, plan.stop_rt_course, 0)
    else:
        pneumonitis = (
            np.where(in_rt, draws.pneumonitis_course[rep], 0)
            if draws.pneumonitis_course is not None
            else np.zeros(n, np.int64)
        )
    courses = np.where(pneumonitis > 0, np.minimum(pneumonitis, courses), courses)
    first_due = rand_day + draws.cycle1_offset[rep]
    delayed = draws.delayed[rep]
    reduced = (
        draws.reduced[rep]
        if draws.reduced is not None
        else np.zeros((n, rules.max_cycles), dtype=bool)
    )
    toxicity = draws.toxicity_cycle[rep]
    if plan is not None:
        delayed, reduced, toxicity = plan.delayed, plan.reduced, plan.toxicity_cycle
    ends = [math.floor(h) if math.isfinite(h) else math.inf for h in horizons]
    stop_days = np.floor(stop_day)
    plan_arrays = plan_cycles(
        rules, delayed, reduced, setup.visit_minutes[strata], setup.reducible[strata]
    )
    chair_bg = draws.chair_background[rep] if draws.chair_background is not None else None
    linac_bg = draws.linac_background[rep] if draws.linac_background is not None else None

    def tallied(
        arrays: CourseArrays | PackedRecords, records: list[PatientCourse] | None, end: float
    ) -> ReplicateRecords:
        tally = ReplicateRecords(
            scenario,
            setup,
            draws,
            rep,
            arrays,
            records,
            arm,
            strata,
            courses=courses,
            pneumonitis=pneumonitis,
            end=end,
        )
        if plan is not None:
            tally.add_events(plan, adverse_events, stop_days)
        return tally

    if (
        shortcut
        and not keep_log
        and not keep_records
        and n
        and worth_trying(
            max(int(rand_day.min()), 0),
            int(setup.visit_minutes.min()),
            setup.chair_limit,
            chair_bg,
            setup.linac_limit,
            linac_bg,
        )
    ):
        patient_plans = PatientPlans(
            np.asarray(rand_day),
            first_due,
            delayed,
            plan_arrays,
            toxicity,
            courses,
            pneumonitis,
            stop_days,
        )
        schedules = [
            schedule_on_calendar(
                calendar, rules, setup.rt_rules, setup.course_starts, patient_plans, end, to_end
            )
            for end in ends
        ]  # with several, to_end: the same bookings at each
        if schedules[0][1].fit(
            setup.span, setup.chair_limit, chair_bg, setup.linac_limit, linac_bg
        ):
            return [
                ReplicateRun(tallied(arrays, None, end), None, None, simpy=False)
                for (arrays, _), end in zip(schedules, ends, strict=True)
            ]
    first_due = first_due.tolist()
    gaps, levels, _ = plan_arrays  # lists for what the callbacks read per cycle
    # a cycle's chair-minutes depend on the stratum and the phase alone: one list a stratum
    minutes = map(setup.visit_minute_lists.__getitem__, strata.tolist())
    # each patient's row of `delayed` and of the levels is read only by the log and the
    # patient table (the records' arrays take them from the whole arrays); so are the books
    rows = keep_log or keep_records
    plans = zip(gaps.tolist(), levels if rows else repeat((), n), minutes, strict=True)
    reasons = stop_reason.tolist()

    log: list[tuple[float, int, str]] | None = [] if keep_log else None
    chairs, linac = open_books(setup, draws, rep)
    # the reference is SimPy's environment; `DayClock` makes the same wake-ups in the same
    # order with less work (`sim.clinic.days`)
    clock = DayClock() if shortcut else None
    env = clock if clock is not None else simpy.Environment()
    clinic = Clinic(
        calendar,
        rules,
        setup.rt_rules,
        chairs,
        linac,
        log,
        clock,
        setup.run_start,
        setup.days_if_free,
    )

    def run(until: float | None = None) -> None:
        if clock is not None:
            run_days(clinic, None if until is None else int(until))
        else:
            env.run(until=until)

    rand_days = rand_day.tolist()
    patients = [
        PatientProcess(clinic, i, r, due, late, plan, toxic, rt_plan)
        for i, r, due, late, plan, toxic, rt_plan in zip(
            range(n),
            rand_days,
            first_due,
            delayed if rows else repeat((), n),
            plans,
            toxicity.tolist(),
            zip(courses.tolist(), pneumonitis.tolist(), strict=True),
            strict=True,
        )
    ]
    records: list[PatientCourse] = patients  # (each process is its patient's record)
    # Stops first: a stop is then the first callback of its day's timeout (`Clinic.wake`),
    # older than any the patients create for the same clock, and SimPy handles same-time
    # events oldest first (a stop on day d comes before anything else on day d); a day's
    # stops in patient order. Then each patient's course starts, in patient order.
    last_stop = math.inf if to_end else ends[0]  # stops on or after the horizon do nothing
    stopping = np.flatnonzero(stop_days < last_stop)
    stop_on = stop_days[stopping].astype(np.int64).tolist()
    stopping = stopping.tolist()
    for i in stopping:
        patients[i].cause = reasons[i]
    if clock is not None and min(rand_days, default=0) > 0:  # `begin` of each: it waits
        clock.wake_each(stop_on, [patients[i].stop for i in stopping])
        clock.wake_each(rand_days, patients)
    else:
        for i, day in zip(stopping, stop_on, strict=True):
            clinic.wake(env, day, patients[i].stop)
        for patient in patients:
            patient.begin(env)
    # each horizon in turn: the run stops before its day, and `run` goes on from there the
    # same as if it had not stopped (SimPy's `until` is an event of its own)
    marks: dict[float, Marks | None] = {}
    at_horizon = None
    for end in sorted(set(ends)):
        if end > env.now:
            run(None if end == math.inf else end)
        at_horizon = books(chairs, linac) if rows else None
        marks[end] = mark_records(records) if to_end and end < math.inf else None
    if any(mark is not None for mark in marks.values()):  # treatment goes on: to its end
        logged = len(log) if log is not None else 0
        run()
        if log is not None:
            del log[logged:]
    else:
        for patient in patients:
            patient.close()
        run()  # empty the queue (callbacks that do nothing now): no garbage left behind
    clinic.agenda.clear()
    runs = []
    for end in ends:
        arrays = pack_records(records, delayed, levels, marks[end], to_end)
        if keep_records:  # the patient table: as at the horizon
            mark = marks[end]
            if mark is not None:
                for record, at_mark in zip(records, zip(*mark, strict=True), strict=True):
                    record.cut_back(at_mark)
            for record in records:
                if record.end_reason is None:
                    record.end_reason = "horizon"
        if log is not None:
            log.sort(key=itemgetter(0))  # stable: same-clock entries stay in event order
        runs.append(
            ReplicateRun(tallied(arrays, records if keep_records else None, end), log, at_horizon)
        )
    return runs
