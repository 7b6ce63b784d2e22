"""What every replicate's clinic starts from: the scenario's rules in the units the clinic
uses (`ClinicSetup`, built once per scenario and calendar) and a chunk's bulk draws
(`ClinicDraws`, made by `sim.clinic.model.draw_clinic`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from sim.clinic.capacity import chair_minutes_per_day, linac_slots_per_session
from sim.clinic.dosing import DosePlan
from sim.clinic.patients import Covariates
from sim.clinic.radiotherapy import CourseRules
from sim.clinic.safety import SafetyTables
from sim.clinic.schedule import course_starts
from sim.clinic.treatment import NO_LIMIT, CycleRules, days_if_free
from sim.conduct.calendar import StudyCalendar, month_grid
from sim.scenario import Scenario, Treatment

ARMS = ("control", "experimental")  # arm codes 0 and 1, as in sim.conduct.randomization
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
    # the narrowest ints that hold the limit (`count_type`): widen before summing
    chair_background: np.ndarray | None = None  # (R, span): chair-minutes used by others
    linac_background: np.ndarray | None = None  # (R, span, sessions): slots used by others


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
    span = int(
        (last.astype("datetime64[D]") - np.datetime64(scenario.trial.start_date, "D")).astype(
            np.int64
        )
    )
    return grid["month_starts"], span


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
    course_starts: np.ndarray | None = None  # with RT: `sim.clinic.schedule.course_starts`
    run_start: list[int] | None = None  # the same as a list, for the course-by-course run
    # per stratum, the chair-minutes of each cycle (0-based) as a list, for the same run
    visit_minute_lists: tuple[list[int], ...] = ()
    # `sim.clinic.treatment.days_if_free` of the book's `span` days for that run (without
    # chairs, of the calendar's days)
    days_if_free: list[int] | None = None


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
                regimen, ("induction", "maintenance")[phase]
            )
            reducible[i, phase] = any(treatment.drugs[name].reducible for name in names)
    starts = course_starts(calendar, rt.days_per_course) if rt is not None else None
    phase = (np.arange(treatment.max_cycles) >= treatment.induction_cycles).astype(np.int64)
    window = treatment.window
    # the chair book exists exactly when there are chair-minutes (`open_books`)
    chair_limit = chair_minutes_per_day(treatment.chairs) if treatment.chairs else 0
    return ClinicSetup(
        rules=CycleRules.from_treatment(treatment),
        rt_rules=CourseRules.from_radiotherapy(rt) if rt is not None else None,
        rt_arm=ARMS.index(rt.arm) if rt is not None else -1,
        courses=rt.courses if rt is not None else 0,
        span=span,
        month_of_day=month_of_day,
        open_day=open_day,
        n_months=len(month_starts),
        chair_limit=chair_limit,
        linac_limit=linac_slots_per_session(rt.linac) if rt is not None and rt.linac else 0,
        n_sessions=len(rt.fraction_times) if rt is not None else 0,
        drugs=drugs,
        gives=gives,
        visit_minutes=minutes,
        reducible=reducible,
        safety=SafetyTables.from_scenario(scenario) if scenario.safety is not None else None,
        course_starts=starts,
        run_start=starts.tolist() if starts is not None else None,
        visit_minute_lists=tuple(row.tolist() for row in minutes[:, phase]),
        # over the chair book's days; without one, over the calendar's days (`run_days`'
        # scratch book, never full)
        days_if_free=days_if_free(
            calendar.next_open_list,
            window.after_days if window else NO_LIMIT,
            span if chair_limit else len(calendar.next_open_list),
        ),
    )


def metric_name(text: str) -> str:
    """A drug name as part of a summary key: lower case, non-alphanumerics as '_'."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
