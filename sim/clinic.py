"""The clinic of one replicate: a SimPy model of every randomized patient's treatment course.

Outcomes are computed elsewhere (vectorized); the clinic receives, per patient, the day
treatment must stop and why. The random numbers are drawn in bulk for a chunk of replicates
by `draw_clinic`; the processes only read them, so a replicate's clinic is a deterministic
function of its draws.

Days: the clock is float days since the study start; clinic day d covers [d, d + 1). A stop
or the horizon takes effect at the start of its clinic day, ``floor(day)``: a patient who
progresses, dies or withdraws on day d gets nothing on day d, and nothing happens on or after
the horizon day. Cycles are given at the start of their day (clock d), RT fractions at
``d + hour / 24``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import pandas as pd
import simpy

from sim.calendar import StudyCalendar
from sim.radiotherapy import CourseRules
from sim.scenario import Scenario, Treatment
from sim.treatment import CycleRules, PatientCourse, treat_patient

ARMS = ("control", "experimental")  # arm codes 0 and 1, as in sim.randomization
METRICS = (
    "cycles_given",
    "cycles_delayed",
    "toxicity_discontinuations",
    "rt_patients_started",
    "rt_courses_completed",
    "rt_fractions_given",
    "rt_dose_gy",
)
SUMMARY_KEYS = tuple(f"{metric}_{arm}" for metric in METRICS for arm in ARMS)


@dataclass(frozen=True)
class ClinicDraws:
    """Bulk random draws for a chunk of R replicates of n patients (numpy arrays).

    Every patient gets every draw whatever the arm, so the two arms share them (common
    random numbers) and the layout of the stream does not depend on the randomization.
    """

    cycle1_offset: np.ndarray  # (R, n) int: U, cycle 1 due on randomization day + U
    delayed: np.ndarray  # (R, n, max_cycles) bool: [..., k - 1] cycle k delayed; [..., 0] False
    toxicity_cycle: np.ndarray  # (R, n) int >= 1: discontinue after this cycle (geometric)
    rt_courses: np.ndarray  # (R, n) int in 1..courses: Quad Shot courses received, if RT arm


def require_treatment(scenario: Scenario) -> Treatment:
    if scenario.treatment is None:
        raise ValueError(
            "scenario.treatment = None: the clinic model needs a treatment block "
            "(copy the one in scenarios/nct07271602.yaml)"
        )
    return scenario.treatment


def draw_clinic(
    scenario: Scenario, n_reps: int, n_patients: int, rng: np.random.Generator
) -> ClinicDraws:
    """All the clinic's random numbers for `n_reps` replicates of `n_patients`, in one go.

    Cycle delays are Bernoulli(delay.probability) per cycle after the first (never when
    delay.days is 0: a delay of no days is no delay). The cycle after which a patient
    discontinues for toxicity is geometric(discontinuation_per_cycle), the same as a
    Bernoulli trial after every cycle. Quad Shot: all `courses` with probability
    complete_all_courses, otherwise 1 .. courses - 1 with equal probability (for 3 courses,
    1 or 2 evenly; RTOG 8502 saw 59% / 20% / 20% for 3 / 2 / 1). Raises ValueError if the
    scenario has no treatment block.
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
    return ClinicDraws(
        cycle1_offset=offset,
        delayed=delayed,
        toxicity_cycle=toxicity,
        rt_courses=np.where(complete, courses, partial),
    )


@dataclass
class ClinicResult:
    """What one replicate's clinic produced.

    `summary`: per-arm counts, keys ``<metric>_<arm>`` for every metric in METRICS and arm in
    ARMS (always all of them, in that order). `patients`: one row per patient when asked for
    (columns patient, cycle_days, cycle_delayed, rt_fraction_clocks, rt_courses_completed,
    treatment_end), else None. `log`: when asked for, else None, (clock, patient, what) in
    clock order, `what` one of "cycle 3", "cycle 3 delayed", "rt 2.4" (course 2, fraction
    4), "end toxicity", "end max_cycles" (logged on the last cycle's day) and "stop
    progression" (or the other stop codes; logged when the stop interrupts a process).
    """

    summary: dict[str, float]
    patients: pd.DataFrame | None
    log: list[tuple[float, int, str]] | None


def stop_at(env: simpy.Environment, process: simpy.Process, day: float, cause: str) -> None:
    """Interrupt `process` with `cause` at clock `day`, before anything else due then.

    Call before env.run: the stop's timeout is then older than any timeout the processes
    create for the same time, and SimPy handles same-time events oldest first; the interrupt
    itself is urgent, so it also comes before them.
    """

    def stop(_event: simpy.Event) -> None:
        if process.is_alive:
            process.interrupt(cause)

    env.timeout(day).callbacks.append(stop)


def simulate_clinic(
    scenario: Scenario, calendar: StudyCalendar, draws: ClinicDraws, rep: int,
    rand_day: np.ndarray, arm: np.ndarray, stop_day: np.ndarray, stop_reason: np.ndarray,
    horizon_day: float, keep_patients: bool = False, keep_log: bool = False,
) -> ClinicResult:
    """Run the treatment course of every patient of replicate `rep` (row `rep` of `draws`).

    Inputs per patient, shape (n,): `rand_day` int clinic day of randomization; `arm` 0
    control, 1 experimental; `stop_day` clock day treatment must stop (inf if none);
    `stop_reason` its code ("progression", "death", "withdrawal", "none"). Nothing happens on
    or after clinic day floor(`horizon_day`) (inf: run until every course is over). A
    patient still on treatment then ends with "horizon"; otherwise with the stop code,
    "toxicity" or "max_cycles". Raises ValueError if the scenario has no treatment block,
    the arrays do not match the draws, or `horizon_day` is NaN.
    """
    rules = CycleRules.from_treatment(require_treatment(scenario))
    if math.isnan(horizon_day):
        raise ValueError("horizon_day = nan: give the final analysis day (inf for no horizon)")
    n = len(rand_day)
    if draws.delayed.shape[1:] != (n, rules.max_cycles):
        raise ValueError(
            f"draws.delayed has shape {draws.delayed.shape}: needs (R, {n}, "
            f"{rules.max_cycles}) for {n} patients; draw them with draw_clinic for this scenario"
        )
    rt = scenario.radiotherapy
    rt_rules = CourseRules.from_radiotherapy(rt) if rt is not None else None
    rt_arm = ARMS.index(rt.arm) if rt is not None else -1
    arms = arm.tolist()
    courses = np.where(arm == rt_arm, draws.rt_courses[rep], 0).tolist()
    first_due = (rand_day + draws.cycle1_offset[rep]).tolist()
    delayed = draws.delayed[rep].tolist()
    toxicity = draws.toxicity_cycle[rep].tolist()
    end = math.floor(horizon_day) if math.isfinite(horizon_day) else math.inf
    stops = np.floor(stop_day).tolist()
    reasons = stop_reason.tolist()

    env = simpy.Environment()
    log: list[tuple[float, int, str]] | None = [] if keep_log else None
    records = [PatientCourse(i) for i in range(n)]
    processes = [
        env.process(treat_patient(env, calendar, rules, record, due, late, toxic, rt_rules,
                                  n_courses, log))
        for record, due, late, toxic, n_courses
        in zip(records, first_due, delayed, toxicity, courses, strict=True)
    ]
    for process, stop, reason in zip(processes, stops, reasons, strict=True):
        if stop < end:
            stop_at(env, process, stop, reason)
    if end > env.now:
        env.run(until=None if end == math.inf else end)
    for record in records:
        if record.end_reason is None:
            record.end_reason = "horizon"
    if log is not None:
        log.sort(key=itemgetter(0))  # stable: same-clock entries stay in event order
    dose = rt_rules.dose_per_fraction_gy if rt_rules is not None else 0.0
    return ClinicResult(
        summary=summarize_clinic(records, arms, dose),
        patients=patient_frame(records) if keep_patients else None,
        log=log,
    )


def summarize_clinic(
    records: list[PatientCourse], arms: list[int], dose_per_fraction_gy: float
) -> dict[str, float]:
    """Per-arm counts of a replicate, keyed ``<metric>_<arm>`` (see METRICS)."""
    cycles, delays, toxic, started, courses, fractions = ([0, 0] for _ in range(6))
    for record, a in zip(records, arms, strict=True):
        cycles[a] += len(record.cycle_days)
        delays[a] += record.cycle_delayed.count(True)
        toxic[a] += record.end_reason == "toxicity"
        started[a] += bool(record.rt_fractions)
        courses[a] += record.rt_courses_completed
        fractions[a] += len(record.rt_fractions)
    gy = [f * dose_per_fraction_gy for f in fractions]
    per_arm = dict(zip(METRICS, (cycles, delays, toxic, started, courses, fractions, gy),
                       strict=True))
    return {f"{metric}_{arm}": float(per_arm[metric][a])
            for metric in METRICS for a, arm in enumerate(ARMS)}


def patient_frame(records: list[PatientCourse]) -> pd.DataFrame:
    """One row per patient; the dates of cycles and fractions as list columns."""
    return pd.DataFrame({
        "patient": [r.patient for r in records],
        "cycle_days": [r.cycle_days for r in records],
        "cycle_delayed": [r.cycle_delayed for r in records],
        "rt_fraction_clocks": [r.rt_fractions for r in records],
        "rt_courses_completed": [r.rt_courses_completed for r in records],
        "treatment_end": [r.end_reason for r in records],
    })
