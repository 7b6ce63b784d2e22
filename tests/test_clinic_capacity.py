"""Capacity and the calendar in the clinic: chairs, linac slots, protocol windows, closures.

Unit tests run a few patients with hand-made draws and assert what happened; Hypothesis
checks on random calendars and capacities that no resource is ever over its limit and that
the books hold exactly the background plus the visits given. Day 0 of the baseline
(2026-01-30) is a Friday, so day 3 is a Monday. A squamous induction visit holds a chair
for 180 min (QL1706 60 + carboplatin 30 + nab-paclitaxel 30 + 60 extra, baseline YAML).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.clinic.model import draw_clinic, simulate_clinic
from sim.clinic.radiotherapy import plan_course_start
from sim.clinic.treatment import IN_WINDOW, LATE_CAPACITY, LATE_CLOSURE, give_cycle_day
from sim.conduct.calendar import StudyCalendar
from sim.scenario import Window
from tests.helpers import (
    CONTROL,
    EXPERIMENTAL,
    MONDAY,
    clinic_cases,
    fixed_draws,
    run_clinic,
    vary,
)

ONE_VISIT_A_DAY = {"chairs": 1, "hours_per_day": 4, "extra_minutes_per_visit": 60}
START = dt.date(2026, 1, 30)


def day(date: dt.date) -> int:
    return (date - START).days


@pytest.fixture(scope="module")
def weekdays(baseline) -> StudyCalendar:
    return StudyCalendar(baseline.trial.start_date, ("Sat", "Sun"))


@pytest.fixture(scope="module")
def china(baseline) -> StudyCalendar:
    """The baseline calendar: weekends, China's public holidays and make-up days."""
    return StudyCalendar.from_scenario(baseline)


# --- chairs -----------------------------------------------------------------------------------


def test_full_chairs_push_visits_to_the_next_day_and_past_the_window(baseline_data, weekdays):
    # One 180-min visit fits a 4-h chair day: five patients due Monday go Mon..Fri; the
    # fifth is 4 days late, past the -0/+3 window: a deviation for the chairs.
    scenario = vary(baseline_data, **{"treatment.chairs": ONE_VISIT_A_DAY})
    result = run_clinic(
        scenario, weekdays, fixed_draws(5, 35), MONDAY, CONTROL, horizon_day=MONDAY + 5
    )
    assert result.log == [(MONDAY + i, i, "cycle 1") for i in range(4)] + [
        (MONDAY + 4, 4, "cycle 1 late capacity")
    ]
    assert result.patients.cycle_waits.tolist() == [[0], [1], [2], [3], [4]]
    assert result.summary["infusion_wait_days_control"] == 10
    assert result.summary["cycles_out_of_window_control"] == 1
    assert result.summary["protocol_deviations_control"] == 1
    table = result.sums["deviations"].set_index(["arm", "what"])["count"]
    assert table["control", "cycle_late_chairs"] == 1
    assert table.sum() == 1
    chairs, limit = result.books["chairs"]
    assert limit == 240 and chairs[MONDAY : MONDAY + 5].tolist() == [180] * 5


def test_a_stop_gives_its_chair_back(baseline_data, weekdays):
    # Patient 0 (cycle 1 on Monday) books cycle 2 on day +21; patient 1, randomized that
    # day, then waits a day, unless patient 0 progresses before it and frees the chair.
    scenario = vary(baseline_data, **{"treatment.chairs": ONE_VISIT_A_DAY})
    rand = [MONDAY, MONDAY + 21]
    kept = run_clinic(
        scenario, weekdays, fixed_draws(2, 35), rand, CONTROL, horizon_day=MONDAY + 30
    )
    assert kept.patients.cycle_days.tolist() == [[MONDAY, MONDAY + 21], [MONDAY + 22]]
    freed = run_clinic(
        scenario,
        weekdays,
        fixed_draws(2, 35),
        rand,
        CONTROL,
        stop_day=[MONDAY + 10, math.inf],
        stop_reason=["progression", "none"],
        horizon_day=MONDAY + 30,
    )
    assert freed.patients.cycle_days.tolist() == [[MONDAY], [MONDAY + 21]]
    assert freed.books["chairs"][0][MONDAY + 21] == 180


def test_zero_window_makes_any_wait_a_deviation(baseline_data, weekdays):
    scenario = vary(
        baseline_data,
        **{"treatment.chairs": ONE_VISIT_A_DAY, "treatment.window": {"after_days": 0}},
    )
    result = run_clinic(
        scenario, weekdays, fixed_draws(2, 35), MONDAY, CONTROL, horizon_day=MONDAY + 3
    )
    assert result.patients.cycle_late.tolist() == [[IN_WINDOW], [LATE_CAPACITY]]


# --- closures and the protocol window ----------------------------------------------------------


def test_spring_festival_cycle_moves_within_window_or_counts_as_delay(china):
    # Spring Festival 2026: closed Sun 15 - Mon 23 February; Sat 14 and Sat 28 are make-up
    # working days. A cycle due Thu 19 Feb can only go to Tue 24 Feb, 5 days late.
    due = day(dt.date(2026, 2, 19))
    assert give_cycle_day(china, due, Window(before_days=0, after_days=3)) == (
        day(dt.date(2026, 2, 24)),
        0,
        LATE_CLOSURE,
    )
    # A wider window (+5) takes it: a shift, not a delay.
    assert give_cycle_day(china, due, Window(after_days=5)) == (
        day(dt.date(2026, 2, 24)),
        0,
        IN_WINDOW,
    )
    # Due Mon 16 Feb with -3 days allowed: the make-up Saturday 14 Feb, early.
    early = day(dt.date(2026, 2, 16))
    assert give_cycle_day(china, early, Window(before_days=3, after_days=3)) == (
        day(dt.date(2026, 2, 14)),
        0,
        IN_WINDOW,
    )
    # ... but never before `earliest` (the previous cycle, or randomization).
    assert (
        give_cycle_day(china, early, Window(before_days=3, after_days=3), earliest=early - 1)[2]
        == LATE_CLOSURE
    )


def test_spring_festival_delay_is_counted_in_the_clinic(baseline, china):
    # Randomized Thu 19 Feb 2026 (closed) with U = 0: cycle 1 on Tue 24 Feb, out of window.
    rand = day(dt.date(2026, 2, 19))
    result = run_clinic(baseline, china, fixed_draws(1, 35), rand, CONTROL, horizon_day=rand + 10)
    assert result.log == [(day(dt.date(2026, 2, 24)), 0, "cycle 1 late closure")]
    assert result.summary["cycles_out_of_window_control"] == 1
    table = result.sums["deviations"].set_index(["arm", "what"])["count"]
    assert table["control", "cycle_late_closure"] == 1


def test_no_window_means_no_deviation(baseline_data, china):
    scenario = vary(baseline_data, **{"treatment.window": None})
    rand = day(dt.date(2026, 2, 19))
    result = run_clinic(scenario, china, fixed_draws(1, 35), rand, CONTROL, horizon_day=rand + 10)
    assert result.log == [(day(dt.date(2026, 2, 24)), 0, "cycle 1")]


def test_quad_shot_course_never_straddles_the_spring_festival(china):
    # From Fri 13 Feb 2026: Fri 13 and the make-up Sat 14 are two open days in a row.
    assert plan_course_start(china, None, day(dt.date(2026, 2, 13)), 2)[0] == day(
        dt.date(2026, 2, 13)
    )
    # From Sat 14: Sun 15 is closed, so the first pair is Tue 24 - Wed 25.
    start, on_calendar = plan_course_start(china, None, day(dt.date(2026, 2, 14)), 2)
    assert start == on_calendar == day(dt.date(2026, 2, 24))


# --- linac slots --------------------------------------------------------------------------------


def test_one_slot_per_session_queues_courses(baseline_data, weekdays):
    # One machine, one slot a session: three patients with cycle 1 on Monday get Quad Shot
    # on Mon-Tue, Wed-Thu, then (Fri-Sat straddles a weekend) Mon-Tue a week later, which
    # is 7 days after the cycle: past start_within_days 3, a deviation for the linac.
    scenario = vary(
        baseline_data,
        **{"treatment.chairs": None, "radiotherapy.linac": {"machines": 1, "slots_per_session": 1}},
    )
    result = run_clinic(
        scenario,
        weekdays,
        fixed_draws(3, 35, rt_courses=1),
        MONDAY,
        EXPERIMENTAL,
        horizon_day=MONDAY + 12,
    )
    frame = result.patients
    assert frame.rt_starts.tolist() == [[MONDAY], [MONDAY + 2], [MONDAY + 7]]
    assert frame.rt_waits.tolist() == [[0], [2], [7]]
    assert frame.rt_late.tolist() == [[IN_WINDOW], [IN_WINDOW], [LATE_CAPACITY]]
    assert result.summary["rt_courses_out_of_window_experimental"] == 1
    assert result.summary["rt_wait_days_experimental"] == 9
    for session in ("linac session 0", "linac session 1"):
        used, limit = result.books[session]
        assert limit == 1 and used.max() == 1


def test_a_stop_mid_course_gives_the_second_day_back(baseline_data, weekdays):
    scenario = vary(
        baseline_data,
        **{"treatment.chairs": None, "radiotherapy.linac": {"machines": 1, "slots_per_session": 1}},
    )
    result = run_clinic(
        scenario,
        weekdays,
        fixed_draws(1, 35, rt_courses=1),
        MONDAY,
        EXPERIMENTAL,
        stop_day=MONDAY + 1.2,
        stop_reason="death",
        horizon_day=MONDAY + 10,
    )
    used, _ = result.books["linac session 1"]
    assert used[MONDAY : MONDAY + 2].tolist() == [1, 0]


# --- invariants ---------------------------------------------------------------------------------


@st.composite
def capacity_cases(draw):
    case = draw(clinic_cases())
    case["changes"].update(
        {
            "treatment.chairs": {
                "chairs": draw(st.integers(1, 3)),
                "hours_per_day": draw(st.floats(3, 10)),
                "extra_minutes_per_visit": 60,
                "background_utilization": draw(st.floats(0, 0.95)),
            },
            "treatment.window": {
                "before_days": draw(st.integers(0, 3)),
                "after_days": draw(st.integers(0, 5)),
            },
            "radiotherapy.linac": {
                "machines": draw(st.integers(1, 2)),
                "slots_per_session": draw(st.integers(1, 3)),
                "background_utilization": draw(st.floats(0, 0.95)),
            },
            "radiotherapy.start_within_days": draw(st.integers(0, 5)),
        }
    )
    cycle = case["changes"]["treatment.cycle_days"]
    window = case["changes"]["treatment.window"]
    window["before_days"] = min(window["before_days"], cycle - 1)
    case["stratum"] = draw(
        st.lists(st.integers(0, 1), min_size=len(case["rand"]), max_size=len(case["rand"]))
    )
    return case


@settings(max_examples=120, deadline=None)
@given(capacity_cases())
def test_no_resource_is_ever_over_its_limit_and_books_balance(baseline_data, case):
    scenario = vary(baseline_data, **{"safety": None, **case["changes"]})
    calendar = StudyCalendar(case["start"], case["closed"], case["holidays"])
    n = len(case["rand"])
    draws = draw_clinic(scenario, 1, n, np.random.default_rng(case["seed"]))
    stop = np.asarray(case["stop"])
    stratum = np.asarray(case["stratum"])
    result = simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.asarray(case["rand"]),
        np.asarray(case["arm"]),
        stop,
        np.where(np.isfinite(stop), "progression", "none"),
        horizon_day=case["horizon"],
        keep_patients=True,
        keep_log=True,
        stratum=stratum,
    )
    t = scenario.treatment
    minutes = {}
    for s, name in enumerate(scenario.strata_names):
        regimen = t.regimens[name]
        minutes[s] = (
            t.visit_minutes(regimen, "induction"),
            t.visit_minutes(regimen, "maintenance"),
        )
    chairs, limit = result.books["chairs"]
    span = len(chairs)
    end = min(math.floor(case["horizon"]) if math.isfinite(case["horizon"]) else span, span)
    expected = draws.chair_background[0].astype(np.int64)
    treated = np.zeros(span, dtype=np.int64)
    for row in result.patients.itertuples():
        for k, d in enumerate(row.cycle_days):
            assert calendar.is_open(d)
            if d < span:
                expected[d] += minutes[stratum[row.patient]][k >= t.induction_cycles]
        for d in {math.floor(c) for c in row.rt_fraction_clocks}:
            if d < span:
                treated[d] += 1
        assert all(w >= 0 for w in row.cycle_waits + row.rt_waits)
        assert len(row.cycle_late) == len(row.cycle_days)
    assert (chairs <= limit).all()  # no chair double-booked
    np.testing.assert_array_equal(chairs[:end], expected[:end])  # nothing leaked
    for s in range(len(scenario.radiotherapy.fraction_times)):
        used, slots = result.books[f"linac session {s}"]
        assert (used <= slots).all()
        background = draws.linac_background[0, :, s].astype(np.int64)
        np.testing.assert_array_equal(used[:end], (background + treated)[:end])


# --- the linac book and the course start, against their plain definitions ------------------


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 3),  # sessions
    st.integers(1, 3),  # slots per session
    st.integers(10, 40),  # span
    st.integers(1, 3),  # days per course
    st.integers(0, 2**32 - 1),
)
def test_linac_book_is_every_session_at_once(china, sessions, limit, span, n_days, seed):
    """`SessionBook` keeps only the room of the fullest session: a course's search and its
    books are those of one book per session, each checked and booked on every course day
    (the book before issue 32), and the course start read from `course_starts` is
    `first_open_run`'s, on random backgrounds and courses."""
    from sim.clinic.capacity import SessionBook
    from sim.clinic.radiotherapy import first_open_run
    from sim.clinic.schedule import course_starts

    rng = np.random.default_rng(seed)
    background = rng.integers(0, limit + 1, (span, sessions)).astype(np.int32)
    book = SessionBook(background, limit)
    used = background.astype(np.int64).T.copy()  # the reference: one book per session
    run_start = course_starts(china, n_days).tolist()
    for _ in range(8):
        earliest = int(rng.integers(0, span + 5))
        # the reference search: a run of open days, every day with a slot in every session
        start = first_open_run(china, earliest, n_days)
        while (
            full := next(
                (
                    d
                    for d in range(start, start + n_days)
                    if d < span and (used[:, d] >= limit).any()
                ),
                -1,
            )
        ) >= 0:
            start = first_open_run(china, full + 1, n_days)
        on_calendar = first_open_run(china, earliest, n_days)
        assert plan_course_start(china, book, earliest, n_days, run_start) == (start, on_calendar)
        used[:, start : min(start + n_days, span)] += 1
        assert np.array_equal(book.used(), used.T)
        if rng.random() < 0.3:  # a stop gives the course's days back
            book.release(start, n_days)
            used[:, start : min(start + n_days, span)] -= 1
            assert np.array_equal(book.used(), used.T)
