"""Quad Shot RT: course days, fraction times, arms, stops, course counts.

Day 0 of the baseline (2026-01-30) is a Friday: a course due then goes to Monday-Tuesday,
days 3 and 4. Fractions at 08:30 and 15:00 are clock day + 8.5 / 24 and + 15 / 24.
"""

from __future__ import annotations

import datetime as dt
import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings

from sim.clinic.model import draw_clinic, simulate_clinic
from sim.clinic.radiotherapy import first_open_run, fraction_clocks
from sim.conduct.calendar import StudyCalendar
from tests.helpers import (
    CONTROL,
    EXPERIMENTAL,
    MONDAY,
    clinic_cases,
    fixed_draws,
    run_clinic,
    simulate_case,
    vary,
)

AM, PM = 8.5 / 24, 15 / 24


@pytest.fixture(scope="module")
def calendar(baseline) -> StudyCalendar:
    """The baseline's start date, closed at weekends only (whatever holidays it may get)."""
    return StudyCalendar(baseline.trial.start_date, ("Sat", "Sun"))


def rt_entries(result, patient: int = 0) -> list[tuple[float, str]]:
    return [(t, what) for t, p, what in result.log if p == patient and what.startswith("rt")]


# --- the pure scheduling functions ----------------------------------------------------------


def test_first_open_run_skips_weekend(calendar):
    assert first_open_run(calendar, 0, 2) == MONDAY  # Friday: Sat closed, so Mon-Tue
    assert first_open_run(calendar, 1, 2) == MONDAY  # Saturday
    assert first_open_run(calendar, MONDAY, 2) == MONDAY
    assert first_open_run(calendar, MONDAY + 3, 2) == MONDAY + 3  # Thursday-Friday
    assert first_open_run(calendar, MONDAY, 5) == MONDAY  # Mon-Fri
    assert first_open_run(calendar, MONDAY + 1, 5) == MONDAY + 7


def test_first_open_run_skips_a_holiday_inside_the_pair(baseline):
    # Tuesday day 4 closed: a course due Monday cannot use Mon-Tue; Wed-Thu is next.
    calendar = StudyCalendar(
        baseline.trial.start_date,
        ("Sat", "Sun"),
        frozenset({baseline.trial.start_date + dt.timedelta(days=4)}),
    )
    assert first_open_run(calendar, MONDAY, 2) == MONDAY + 2


def test_first_open_run_past_the_table_when_no_pair_exists(baseline):
    # Open on Mondays only: never two open days in a row inside the calendar's table.
    calendar = StudyCalendar(baseline.trial.start_date, ("Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    assert first_open_run(calendar, 0, 2) > calendar.horizon_days - 1


def test_fraction_clocks_two_a_day():
    assert fraction_clocks(3, 2, (8.5, 15.0)) == [3 + AM, 3 + PM, 4 + AM, 4 + PM]


# --- the course in the clinic -----------------------------------------------------------------


def test_course_due_friday_goes_to_monday_tuesday(baseline, calendar):
    result = run_clinic(
        baseline, calendar, fixed_draws(1, 35, rt_courses=1), 0, EXPERIMENTAL, horizon_day=10
    )
    assert result.log == [
        (0, 0, "cycle 1"),
        (MONDAY + AM, 0, "rt 1.1"),
        (MONDAY + PM, 0, "rt 1.2"),
        (MONDAY + 1 + AM, 0, "rt 1.3"),
        (MONDAY + 1 + PM, 0, "rt 1.4"),
    ]
    assert result.patients.rt_courses_completed.tolist() == [1]
    assert result.summary["rt_dose_gy_experimental"] == pytest.approx(14.8)  # registry


def test_courses_are_spaced_by_the_protocol_interval_not_by_the_cycles(baseline, calendar):
    # Cycle 2 delayed by 7 days (day 28): the courses keep their 21-day rhythm from course 1.
    draws = fixed_draws(1, 35, delayed_cycles=(2,), rt_courses=3)
    result = run_clinic(baseline, calendar, draws, MONDAY, EXPERIMENTAL)
    starts = sorted({math.floor(t) for t, what in rt_entries(result) if what.endswith(".1")})
    assert starts == [MONDAY, MONDAY + 21, MONDAY + 42]
    assert result.patients.rt_courses_completed.tolist() == [3]
    assert result.patients.rt_late.tolist() == [[0, 0, 0]]
    assert result.summary["rt_dose_gy_experimental"] == pytest.approx(3 * 14.8)  # 44.4 Gy


def test_a_course_pushed_by_a_closure_is_late_and_the_next_keeps_the_interval(baseline):
    # Course 2 due Monday day 24 falls in a week-long closure (days 24-30): it starts on day
    # 31, 7 days late (start_within_days 3: a deviation); course 3 is due 21 days after
    # course 2 started, day 52, not after cycle 3.
    start = baseline.trial.start_date
    closed = frozenset(start + dt.timedelta(days=d) for d in range(MONDAY + 21, MONDAY + 28))
    calendar = StudyCalendar(start, ("Sat", "Sun"), closed)
    result = run_clinic(baseline, calendar, fixed_draws(1, 35, rt_courses=3), MONDAY, EXPERIMENTAL)
    assert result.patients.rt_starts.tolist() == [[MONDAY, MONDAY + 28, MONDAY + 49]]
    assert result.patients.rt_late.tolist() == [[0, 1, 0]]
    assert result.summary["rt_courses_out_of_window_experimental"] == 1


def test_fractions_are_min_gap_apart_within_a_day(baseline, calendar):
    result = run_clinic(baseline, calendar, fixed_draws(1, 35), MONDAY, EXPERIMENTAL)
    clocks = result.patients.rt_fraction_clocks[0]
    assert len(clocks) == 12
    for a, b in pairwise(clocks):
        if math.floor(a) == math.floor(b):
            assert (b - a) * 24 >= baseline.radiotherapy.min_gap_hours


def test_control_arm_gets_no_rt(baseline, calendar):
    result = run_clinic(baseline, calendar, fixed_draws(3, 35), MONDAY, CONTROL)
    assert rt_entries(result, 0) == rt_entries(result, 1) == rt_entries(result, 2) == []
    assert result.summary["rt_patients_started_control"] == 0
    assert result.summary["rt_fractions_given_control"] == 0


def test_rt_arm_is_configurable(baseline_data, calendar):
    scenario = vary(baseline_data, **{"radiotherapy.arm": "control"})
    result = run_clinic(scenario, calendar, fixed_draws(2, 35), MONDAY, [CONTROL, EXPERIMENTAL])
    assert result.summary["rt_courses_completed_control"] == 3
    assert result.summary["rt_courses_completed_experimental"] == 0


def test_no_rt_block_means_no_rt(baseline_data, calendar):
    data = {k: v for k, v in baseline_data.items() if k != "radiotherapy"}
    scenario = vary(data)
    result = run_clinic(scenario, calendar, fixed_draws(1, 35), MONDAY, EXPERIMENTAL)
    assert rt_entries(result) == []
    assert result.summary["rt_dose_gy_experimental"] == 0


@pytest.mark.parametrize("courses", [1, 2])
def test_course_count_follows_the_draw(baseline, calendar, courses):
    result = run_clinic(
        baseline, calendar, fixed_draws(1, 35, rt_courses=courses), MONDAY, EXPERIMENTAL
    )
    assert result.patients.rt_courses_completed.tolist() == [courses]
    assert len(result.patients.rt_fraction_clocks[0]) == 4 * courses


def test_stop_on_second_rt_day_cuts_the_course(baseline, calendar):
    # Course 1 on Monday-Tuesday; a death on Tuesday 07:00 leaves the Monday fractions only.
    result = run_clinic(
        baseline,
        calendar,
        fixed_draws(1, 35),
        MONDAY,
        EXPERIMENTAL,
        stop_day=MONDAY + 1 + 7 / 24,
        stop_reason="death",
    )
    assert result.log == [
        (MONDAY, 0, "cycle 1"),
        (MONDAY + AM, 0, "rt 1.1"),
        (MONDAY + PM, 0, "rt 1.2"),
        (MONDAY + 1, 0, "stop death"),
    ]
    assert result.patients.rt_courses_completed.tolist() == [0]
    assert result.summary["rt_patients_started_experimental"] == 1


def test_toxicity_after_cycle_1_keeps_course_1_only(baseline, calendar):
    result = run_clinic(
        baseline, calendar, fixed_draws(1, 35, toxicity_cycle=1), MONDAY, EXPERIMENTAL
    )
    assert len(rt_entries(result)) == 4
    assert result.patients.rt_courses_completed.tolist() == [1]
    assert result.patients.treatment_end.tolist() == ["toxicity"]


def test_course_longer_than_a_cycle_runs_as_its_own_process(baseline_data, calendar):
    # 2-day cycles from a Friday: course 1 (Mon-Tue) outlasts the next cycle due, so it runs
    # beside the cycles, and a stop on Tuesday interrupts it as well as the cycles.
    scenario = vary(
        baseline_data, **{"treatment.cycle_days": 2, "radiotherapy.course_interval_days": 30}
    )
    result = run_clinic(
        scenario,
        calendar,
        fixed_draws(1, 35, rt_courses=1),
        0,
        EXPERIMENTAL,
        stop_day=MONDAY + 1.2,
        stop_reason="progression",
    )
    assert result.log == [
        (0, 0, "cycle 1"),
        (MONDAY, 0, "cycle 2"),  # due Sunday
        (MONDAY + AM, 0, "rt 1.1"),
        (MONDAY + PM, 0, "rt 1.2"),
        (MONDAY + 1, 0, "stop progression"),
    ]
    assert result.patients.rt_courses_completed.tolist() == [0]


def test_patient_waits_for_own_course_after_last_cycle(baseline_data, calendar):
    # Toxicity after cycle 1 while course 1 runs as its own process: the course is finished.
    scenario = vary(baseline_data, **{"treatment.cycle_days": 2})
    result = run_clinic(
        scenario, calendar, fixed_draws(1, 35, toxicity_cycle=1, rt_courses=1), 0, EXPERIMENTAL
    )
    assert result.patients.rt_courses_completed.tolist() == [1]
    assert result.patients.treatment_end.tolist() == ["toxicity"]


# --- invariants ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(clinic_cases())
def test_fractions_on_open_days_apart_and_before_stop(baseline_data, case):
    scenario, calendar, result = simulate_case(baseline_data, case)
    rt = scenario.radiotherapy
    per_course = rt.days_per_course * len(rt.fraction_times)
    for row in result.patients.itertuples():
        clocks = row.rt_fraction_clocks
        end = np.floor(min(case["stop"][row.patient], case["horizon"]))
        assert all(t < end for t in clocks)
        assert all(calendar.is_open(math.floor(t)) for t in clocks)
        for a, b in pairwise(clocks):
            assert b > a
            if math.floor(a) == math.floor(b):
                assert (b - a) * 24 >= rt.min_gap_hours - 1e-9
        # Each course: days_per_course consecutive days from its first, all on open days.
        for c in range(0, len(clocks), per_course):
            days = sorted({math.floor(t) for t in clocks[c : c + per_course]})
            assert days == list(range(days[0], days[0] + len(days)))
        assert row.rt_courses_completed == len(clocks) // per_course
        if case["arm"][row.patient] != 1:
            assert clocks == []


# --- statistical --------------------------------------------------------------------------


UNLIMITED = {"radiotherapy.linac": None, "treatment.chairs": None}  # thousands on one day


def run_rt_patients(scenario, calendar, n: int, seed: int):
    """n experimental patients randomized on a Monday, no stop, horizon after cycle 4."""
    draws = draw_clinic(scenario, 1, n, np.random.default_rng(seed))
    result = simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.full(n, MONDAY),
        np.full(n, EXPERIMENTAL),
        np.full(n, np.inf),
        np.full(n, "none"),
        horizon_day=MONDAY + 80.0,
        keep_patients=True,
    )
    return result.patients.rt_courses_completed.to_numpy()


def test_course_completion_matches_complete_all_courses(baseline_data, calendar):
    # Without toxicity, pneumonitis or stop, a patient receives all 3 courses with
    # probability complete_all_courses = 0.75 (baseline YAML, calibration "RT course
    # completion"), otherwise 1 or 2 with probability 0.125 each; each share is binomial.
    scenario = vary(
        baseline_data,
        **{
            "treatment.discontinuation_per_cycle": 0.0,
            "radiotherapy.pneumonitis": 0.0,
            **UNLIMITED,
        },
    )
    n = 4000
    courses = run_rt_patients(scenario, calendar, n, seed=11)
    c = scenario.radiotherapy.complete_all_courses
    for k, p in ((3, c), (2, (1 - c) / 2), (1, (1 - c) / 2)):
        assert abs(np.mean(courses == k) - p) < 3 * math.sqrt(p * (1 - p) / n)


def test_course_completion_with_toxicity(baseline_data, calendar):
    # With toxicity q = 0.018 per cycle (baseline YAML, EST from KEYNOTE-407), course 3 needs
    # no discontinuation after cycles 1 and 2, and no pneumonitis (rate r = 0.05, calibration
    # "pneumonitis, ICI + SBRT") after course 1 or 2 (2 of the 3 courses it may follow):
    # P(3 courses) = c (1 - q)^2 (1 - 2 r / 3) = 0.7232 x 0.9667 = 0.6991.
    n = 4000
    baseline = vary(baseline_data, **UNLIMITED)
    courses = run_rt_patients(baseline, calendar, n, seed=12)
    c = baseline.radiotherapy.complete_all_courses
    q = baseline.treatment.discontinuation_per_cycle
    r = baseline.radiotherapy.pneumonitis
    p = c * (1 - q) ** 2 * (1 - 2 * r / 3)
    assert abs(np.mean(courses == 3) - p) < 3 * math.sqrt(p * (1 - p) / n)
