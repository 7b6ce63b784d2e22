"""Screening slots: each site starts at most `screening_slots_per_day` screenings per open day,
first come first served; without the field, enrollment is unchanged."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.commands.cli import main
from sim.conduct.calendar import StudyCalendar
from sim.conduct.enrollment import draw_screenings, enroll_patients, start_screenings_with_slots
from sim.scenario import Enrollment, RatePeriod, ScenarioError
from tests.helpers import BASELINE, vary


def three_sites(rates: list[float], slots: int | None) -> Enrollment:
    sites = tuple(
        {
            "name": f"site {s + 1}",
            "activation_date": dt.date(2026, 1, 30) + dt.timedelta(20 * s),
            "screening_rate": [{"per_month": rate}],
        }
        for s, rate in enumerate(rates)
    )
    return Enrollment.model_validate(
        {
            "sites": sites,
            "screening_days": {"min": 3, "max": 10},
            "screen_failure": 0.3,
            "screening_slots_per_day": slots,
        }
    )


def start_one_by_one(first_open, site, finite, slots, calendar):
    """Reference (double programming): each screening in arrival order scans the open days
    from its first open day for one with fewer than `slots` started at its site."""
    start = first_open.copy()
    for r in range(first_open.shape[0]):
        taken: dict[tuple[int, int], int] = {}
        for j in range(first_open.shape[1]):
            if not finite[r, j]:
                continue
            day = int(first_open[r, j])
            while taken.get((int(site[r, j]), day), 0) >= slots:
                day = int(calendar.next_open_day(day + 1))
            taken[(int(site[r, j]), day)] = taken.get((int(site[r, j]), day), 0) + 1
            start[r, j] = day
    return start


@settings(max_examples=40, deadline=None)
@given(
    slots=st.integers(1, 4),
    rates=st.lists(st.floats(1, 90), min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_slots_are_never_exceeded_and_go_first_come_first_served(slots, rates, seed):
    rng = np.random.default_rng(seed)
    calendar = StudyCalendar(
        dt.date(2026, 1, 30),
        ("Sat", "Sun"),
        frozenset({dt.date(2026, 2, 16), dt.date(2026, 2, 17)}),
    )
    enrollment = three_sites(rates, slots)
    sites = enrollment.site_list(calendar.start_date)
    start_day = np.asarray([calendar.day_of(s.activation_date) for s in sites], dtype=float)
    draws = draw_screenings(enrollment, sites, start_day, 6, 40, np.array([1.0]), rng)
    finite = np.isfinite(draws["arrival"])
    first_open = calendar.next_open_day(np.floor(draws["arrival"]).astype(np.int64))
    start = start_screenings_with_slots(
        first_open, draws["site"], finite, len(sites), slots, calendar
    )
    assert (start >= first_open).all()
    assert calendar.open_day[start].all()
    for r in range(start.shape[0]):
        _, per_day = np.unique(np.stack([draws["site"][r], start[r]]), axis=1, return_counts=True)
        assert per_day.max() <= slots
    assert (start == start_one_by_one(first_open, draws["site"], finite, slots, calendar)).all()


@settings(max_examples=15, deadline=None)
@given(slots=st.integers(1, 3), per_month=st.floats(5, 120), seed=st.integers(0, 2**32 - 1))
def test_randomized_patients_never_share_a_full_screening_day(slots, per_month, seed):
    enrollment = Enrollment(
        screening_rate=(RatePeriod(per_month=per_month),), screening_slots_per_day=slots
    )
    calendar = StudyCalendar(dt.date(2026, 1, 30))
    enrolled = enroll_patients(
        enrollment, 40, np.array([1.0]), calendar, 8, np.random.default_rng(seed)
    )
    for r in range(8):
        _, per_day = np.unique(enrolled.screen_day[r], return_counts=True)
        assert per_day.max() <= slots
    assert calendar.open_day[enrolled.screen_day].all()
    assert (enrolled.screening_wait_days_mean >= 0).all()


def test_one_slot_a_day_makes_a_queue_and_delays_randomization():
    # 60 arrivals a month is ~2.8 per open weekday, against 1 slot: a queue builds up.
    calendar = StudyCalendar(dt.date(2026, 1, 30))
    runs = {}
    for slots in (None, 1):
        enrollment = Enrollment(
            screening_rate=(RatePeriod(per_month=60),),
            screening_days={"min": 7, "max": 28},
            screen_failure=0.3,
            screening_slots_per_day=slots,
        )
        runs[slots] = enroll_patients(
            enrollment, 104, np.array([1.0]), calendar, 200, np.random.default_rng(7)
        )
    plain, queued = runs[None], runs[1]
    assert (plain.screening_wait_days_mean == 0).all()
    assert (queued.screening_wait_days_mean > 0).all()
    # Same draws, every screening starts no earlier: each replicate closes no earlier.
    assert (queued.rand_day[:, -1] >= plain.rand_day[:, -1]).all()
    assert queued.rand_day[:, -1].mean() > plain.rand_day[:, -1].mean() + 30
    # 1 slot per open day: ~149 screenings need ~149 open days, about 7 months.
    assert queued.rand_day[:, -1].min() > 140


def assert_same(a, b):
    for f in dataclasses.fields(a):
        if f.name == "log":  # what the counts compared here were made of
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x.equals(y)


def test_slots_none_leaves_enrollment_unchanged(baseline_data, baseline):
    explicit = vary(baseline_data, **{"enrollment.screening_slots_per_day": None})
    calendar = StudyCalendar.from_scenario(baseline)
    p = np.array([0.45, 0.55])
    before = enroll_patients(baseline.enrollment, 104, p, calendar, 300, np.random.default_rng(11))
    after = enroll_patients(explicit.enrollment, 104, p, calendar, 300, np.random.default_rng(11))
    assert_same(before, after)
    assert (after.screening_wait_days_mean == 0).all()
    # Slots that never bind take the sequential path and give the same patients.
    roomy = vary(baseline_data, **{"enrollment.screening_slots_per_day": 1000})
    assert_same(
        before, enroll_patients(roomy.enrollment, 104, p, calendar, 300, np.random.default_rng(11))
    )


def test_zero_slots_is_an_error(baseline_data):
    with pytest.raises(ScenarioError) as info:
        vary(baseline_data, **{"enrollment.screening_slots_per_day": 0})
    assert "enrollment.screening_slots_per_day = 0" in str(info.value)
    assert "greater than 0" in str(info.value)


def test_zero_slots_override_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(BASELINE),
            "--set",
            "enrollment.screening_slots_per_day=0",
            "--reps",
            "10",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "enrollment.screening_slots_per_day = 0" in err and "greater than 0" in err
    assert err.count("\n") <= 3
    assert not out.exists() and not list(tmp_path.iterdir())
