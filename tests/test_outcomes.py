"""Latent outcomes, what the scans see, and the data cut."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.conduct.assessments import ScanSchedule, observe_outcomes, scan_days
from sim.conduct.datacut import cut_at_analysis
from sim.conduct.outcomes import LatentOutcomes, draw_latent_outcomes, invert_piecewise_hazard
from sim.scenario import DAYS_PER_MONTH, Analysis
from tests.helpers import vary


def test_scan_schedule_q6w_for_48_weeks_then_q12w(baseline):
    days = scan_days(baseline.assessments)
    assert list(days[:9]) == [42, 84, 126, 168, 210, 252, 294, 336, 420]
    assert days[9] == 504


def test_exponential_pfs_matches_scipy(baseline, rng):
    # Control PFS is exponential with median 6.8 months (registry): KS test against scipy's
    # expon with scale = median / ln 2; the experimental arm's scale is divided by the HR.
    arm = np.repeat([[0, 1]], 20000, axis=0)
    latent = draw_latent_outcomes(baseline, arm, rng)
    scale = 6.8 * DAYS_PER_MONTH / np.log(2)
    assert stats.kstest(latent.pfs_day[:, 0], "expon", args=(0, scale)).pvalue > 1e-3
    assert stats.kstest(latent.pfs_day[:, 1], "expon", args=(0, scale / 0.6)).pvalue > 1e-3


def test_piecewise_inverse_matches_closed_form_cdf(rng):
    # Hazards 0.01/day on [0, 100), 0.03 on [100, 250), 0.005 after: F(t) = 1 - exp(-H(t)).
    starts, hazards = np.array([0.0, 100.0, 250.0]), np.array([0.01, 0.03, 0.005])
    t = invert_piecewise_hazard(rng.standard_exponential(50000), starts, hazards)

    def cdf(x):
        h = (
            0.01 * np.minimum(x, 100)
            + 0.03 * np.clip(x - 100, 0, 150)
            + 0.005 * np.maximum(x - 250, 0)
        )
        return 1 - np.exp(-h)

    assert stats.kstest(t, cdf).pvalue > 1e-3


def test_dropout_probability_by_12_months(baseline, rng):
    # dropout: 5% by 12 months (calibration); binomial se over the draws.
    arm = np.zeros((40000, 1), dtype=int)
    w = draw_latent_outcomes(baseline, arm, rng).withdraw_day
    share = (w <= 12 * DAYS_PER_MONTH).mean()
    assert abs(share - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 40000)


def latent(pfs, death, withdraw) -> LatentOutcomes:
    return LatentOutcomes(
        np.atleast_2d(np.asarray(pfs, float)),
        np.atleast_2d(np.asarray(death, bool)),
        np.atleast_2d(np.asarray(withdraw, float)),
    )


def test_progression_seen_at_next_scan_death_when_it_happens(baseline):
    schedule = ScanSchedule.from_assessments(baseline.assessments)
    obs = observe_outcomes(
        latent([50, 50, 42, 400, 30], [0, 1, 0, 0, 0], [np.inf, np.inf, np.inf, np.inf, 40]),
        schedule,
    )
    # 50 -> scan at 84; death at 50 seen at 50; 42 is a scan day; 400 -> 420 (q12w phase);
    # withdrawal at day 40 before the progression is seen: censored at day 0 (no scan yet).
    assert list(obs.event_day[0]) == [84, 50, 42, 420, np.inf]
    assert obs.withdraw_censor_day[0, 4] == 0


def test_withdrawal_between_progression_and_its_scan_censors_at_last_scan(baseline):
    schedule = ScanSchedule.from_assessments(baseline.assessments)
    obs = observe_outcomes(latent([100], [0], [120]), schedule)  # progression 100, scan 126
    assert obs.event_day[0, 0] == np.inf and obs.withdraw_censor_day[0, 0] == 84


def test_cut_at_target_events_censors_at_last_scan_before_cut(baseline):
    schedule = ScanSchedule.from_assessments(baseline.assessments)
    rand = np.array([[0, 10, 20, 30]])
    obs = observe_outcomes(latent([30, 50, 1000, 5], [0, 0, 0, 0], [np.inf] * 4), schedule)
    # events seen at 0+42, 10+84=94, never(1000->1008+20), 30+42=72 -> 2nd event on day 72
    analysis = Analysis(cut="events", event_target=2)
    cut = cut_at_analysis(analysis, rand, obs, schedule, np.inf)
    assert cut.cut_day[0] == 72
    assert list(cut.event[0]) == [True, False, False, True]
    # patient 2 (rand day 10): 62 days of follow-up at the cut -> last scan day 42
    assert list(cut.time[0]) == [42, 42, 42, 42]


def test_cut_by_date_when_first_and_excludes_later_randomized(baseline):
    schedule = ScanSchedule.from_assessments(baseline.assessments)
    rand = np.array([[0, 100]])
    obs = observe_outcomes(latent([500, 10], [0, 0], [np.inf, np.inf]), schedule)
    analysis = Analysis(cut="first", event_target=2, cut_date="2026-03-01")
    cut = cut_at_analysis(analysis, rand, obs, schedule, 90.0)
    assert cut.cut_day[0] == 90 and cut.cut_reason[0] == 1
    assert list(cut.valid[0]) == [True, False]
    assert cut.event.sum() == 0 and cut.time[0, 0] == 84


def test_continuous_observation_sees_everything_when_it_happens(textbook_data, rng):
    scenario = vary(textbook_data)
    schedule = ScanSchedule.from_assessments(scenario.assessments)
    obs = observe_outcomes(latent([12.5, 7.0], [0, 0], [np.inf, 3.3]), schedule)
    assert obs.event_day[0, 0] == 12.5 and obs.withdraw_censor_day[0, 1] == 3.3
