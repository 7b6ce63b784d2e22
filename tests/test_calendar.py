"""The study calendar: weekends, China's public holidays and make-up days, closures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.conduct.calendar import StudyCalendar, first_open_from
from sim.scenario import ScenarioError
from tests.helpers import vary

START = dt.date(2026, 1, 30)


def day(date: dt.date) -> int:
    return (date - START).days


def test_spring_festival_2026_closed_and_makeup_saturday_open(baseline):
    cal = StudyCalendar.from_scenario(baseline)
    # China's 2026 Spring Festival break runs 15-23 February; Saturday 14 February and
    # Saturday 28 February are official make-up working days (State Council schedule,
    # as the holidays library encodes it with "substituted from" day-off names).
    for d in range(15, 24):
        assert not cal.is_open(day(dt.date(2026, 2, d))), d
    assert cal.is_open(day(dt.date(2026, 2, 14)))
    assert cal.is_open(day(dt.date(2026, 2, 28)))
    assert cal.is_open(day(dt.date(2026, 2, 24)))
    # National Day week 2026: 1-7 October closed
    assert not any(cal.is_open(day(dt.date(2026, 10, d))) for d in range(1, 8))


def test_plain_weekends_close():
    cal = StudyCalendar(START)  # a Friday
    assert [cal.is_open(d) for d in range(7)] == [True, False, False, True, True, True, True]
    assert list(cal.next_open_day(np.array([0, 1, 2, 3]))) == [0, 3, 3, 3]


def test_closures_and_makeup_days_from_the_scenario(baseline_data):
    scenario = vary(
        baseline_data,
        **{
            "calendar.closures": [{"start": "2026-03-02", "end": "2026-03-04", "reason": "audit"}],
            "calendar.makeup_working_days": ["2026-03-07"],
        },
    )
    cal = StudyCalendar.from_scenario(scenario)
    assert not any(cal.is_open(day(dt.date(2026, 3, d))) for d in (2, 3, 4))
    assert cal.is_open(day(dt.date(2026, 3, 5)))
    assert cal.is_open(day(dt.date(2026, 3, 7)))  # a Saturday declared working


def test_unknown_holiday_country_is_an_error(baseline_data):
    with pytest.raises(ScenarioError, match="unknown holiday country 'XX'"):
        vary(baseline_data, **{"calendar.holidays": "XX"})


def test_closure_dates_out_of_order_is_an_error(baseline_data):
    with pytest.raises(ScenarioError, match="out of order"):
        vary(baseline_data, **{"calendar.closures": [{"start": "2026-03-04", "end": "2026-03-02"}]})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_first_open_from_is_the_first_true_at_or_after(flags):
    open_day = np.asarray(flags)
    nxt = first_open_from(open_day)
    for i in range(len(flags)):
        later = [j for j in range(i, len(flags)) if flags[j]]
        assert nxt[i] == (later[0] if later else len(flags))
