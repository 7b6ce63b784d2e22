"""Enrollment: piecewise Poisson screening, screen failure, randomization order and closure."""

from __future__ import annotations

import numpy as np

from sim.conduct.calendar import StudyCalendar
from sim.conduct.enrollment import enroll_patients, invert_intensity
from sim.scenario import DAYS_PER_MONTH, Enrollment, RatePeriod
from tests.helpers import vary


def test_arrival_counts_match_the_piecewise_poisson_mean(baseline, rng):
    # Expected screenings in the first 5 months = 2*4 + 2*6 + 1*7 = 27 (the baseline table);
    # the count is Poisson, so its mean over R replicates has se sqrt(27 / R).
    reps = 4000
    gaps = rng.standard_exponential((reps, 200))
    table = baseline.enrollment.sites[0].screening_rate
    arrivals = invert_intensity(np.cumsum(gaps, axis=1), table)
    counts = (arrivals <= 5 * DAYS_PER_MONTH).sum(axis=1)
    assert abs(counts.mean() - 27) < 3 * np.sqrt(27 / reps)
    assert abs(counts.var() - 27) < 3 * 27 * np.sqrt(2 / reps)  # Poisson: variance = mean


def test_zero_rate_period_has_no_arrivals(rng):
    table = (
        RatePeriod(months=1, per_month=5),
        RatePeriod(months=2, per_month=0),
        RatePeriod(per_month=5),
    )
    arrivals = invert_intensity(np.cumsum(rng.standard_exponential((500, 40)), axis=1), table)
    in_gap = (arrivals > 1 * DAYS_PER_MONTH + 1e-9) & (arrivals < 3 * DAYS_PER_MONTH)
    assert not in_gap.any()
    assert (arrivals > 3 * DAYS_PER_MONTH).any()


def test_enrollment_randomizes_exactly_n_in_order_on_open_days(baseline, rng):
    calendar = StudyCalendar.from_scenario(baseline)
    p = np.array([0.45, 0.55])
    enrolled = enroll_patients(baseline.enrollment, 104, p, calendar, 300, rng)
    assert enrolled.rand_day.shape == (300, 104)
    assert (np.diff(enrolled.rand_day, axis=1) >= 0).all()
    assert calendar.open_day[enrolled.rand_day].all()  # never on a Saturday or Sunday
    # screening takes 7..28 days, then the next open day: at most the longest closure later
    # (9 days: Spring Festival 2026, 15-23 February)
    wait = enrolled.rand_day - enrolled.screen_day
    closed_run = np.diff(np.flatnonzero(calendar.open_day)).max() - 1
    assert closed_run == 9
    assert wait.min() >= 7 and wait.max() <= 28 + closed_run


def test_screen_failure_share(baseline, rng):
    # Each screening fails with probability 0.30 (calibration); the share among those
    # screened before closure is close to it (closure happens at a pass, a slight bias
    # of order 1/n_screened towards passes, far below the 3-SE band here).
    calendar = StudyCalendar.from_scenario(baseline)
    enrolled = enroll_patients(
        baseline.enrollment, 104, np.array([0.45, 0.55]), calendar, 2000, rng
    )
    share = enrolled.n_screen_failed.sum() / enrolled.n_screened.sum()
    se = np.sqrt(0.3 * 0.7 / enrolled.n_screened.sum())
    assert abs(share - 0.30) < 3 * se + 0.3 / enrolled.n_screened.mean()


def test_last_period_closed_table_that_runs_dry_is_an_error(baseline_data, rng):
    import datetime as dt

    import pytest

    from sim.scenario import ScenarioError

    closed_table = [{"months": 3, "per_month": 5}]
    with pytest.raises(ScenarioError, match="open-ended"):  # a scenario: refused before a run
        vary(baseline_data, **{"enrollment.sites.0.screening_rate": closed_table})
    enrollment = Enrollment(screening_rate=(RatePeriod(months=3, per_month=5),))
    calendar = StudyCalendar(dt.date(2026, 1, 30), ())
    with pytest.raises(ValueError, match="open-ended"):  # the enrollment step on its own
        enroll_patients(enrollment, 104, np.array([0.45, 0.55]), calendar, 5, rng)


def test_screening_days_constant_gives_same_day_randomization(rng):
    enrollment = Enrollment(screening_rate=(RatePeriod(per_month=30),))
    import datetime as dt

    calendar = StudyCalendar(dt.date(2026, 1, 30), ())
    enrolled = enroll_patients(enrollment, 50, np.array([1.0]), calendar, 20, rng)
    assert (enrolled.rand_day == enrolled.screen_day).all()
    assert (enrolled.n_screened >= 50).all() and (enrolled.n_screen_failed == 0).all()


def test_a_forecast_that_screens_no_one_new_has_no_wait_to_average(rng):
    """The forecast's patients left to randomize may all have been screened before its
    as-of date (randomize_screened's after_day): that replicate screens no one new, so the
    mean wait for a screening slot has nothing to average: nan (the mean over replicates
    leaves it out), without numpy's 'invalid value' warning on the user's terminal."""
    import datetime as dt
    import warnings

    from sim.conduct.enrollment import attach_screening_draws, randomize_screened
    from sim.scenario import Site

    enrollment = Enrollment(
        screening_rate=(RatePeriod(per_month=30),),
        screening_days={"min": 14, "max": 14},
        screen_failure=0.0,
    )
    calendar = StudyCalendar(dt.date(2026, 1, 30), ())
    arrival = np.array([[100.0, 101.0, 102.0], [100.0, 112.0, 130.0]])
    draws = attach_screening_draws(enrollment, arrival, np.zeros((2, 3), int), np.ones(1), rng)
    site = Site(
        name="A", activation_date=dt.date(2026, 1, 30), screening_rate=(RatePeriod(per_month=30),)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enrolled = randomize_screened(draws, enrollment, (site,), 2, calendar, after_day=110.0)
    # row 0: every screening began by day 102, before the as-of day; row 1: one after it
    assert enrolled.n_screened.tolist() == [0, 1]
    assert np.isnan(enrolled.screening_wait_days_mean[0])
    assert enrolled.screening_wait_days_mean[1] == 0.0
