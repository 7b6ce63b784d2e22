"""Closed-form design figures (sim/design.py) against hand computation, rpact and Monte Carlo.

rpact figures come from rpact 3.3.4 on R 4.2.2 (Debian r-cran-rpact), reproduced by
`Rscript benchmarks/rpact/design_references.R`; they are kept, each with its call, in
sim/qualify/references/design_rpact.json, which `python -m sim.qualify` checks too.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from sim.qualify import REFERENCES
from sim.stats.design import (
    accrual_end_time,
    accrued_patients,
    dropout_hazard_from_rate,
    event_probability,
    expected_event_time,
    expected_events,
    expected_events_by_arm,
    expected_events_limit,
    expected_events_table,
    freedman_events,
    freedman_power,
    hazard_from_median,
    lachin_foulkes_event_probability,
    lachin_foulkes_power,
    lachin_foulkes_sample_size,
    phi1,
    phi2,
    schoenfeld_events,
    schoenfeld_power,
)

RPACT = json.loads((REFERENCES / "design_rpact.json").read_text(encoding="utf-8"))
SAME_METHOD = 1e-6  # relative tolerance where the reference computes the same formula

# The "textbook" design (benchmarks/rpact/textbook.R): 1:1, 104 patients, accrual 2.8, 4.2,
# 4.9 per month over months 0-2, 2-4, 4-6 then 5.6 per month, control median 6.8 months,
# HR 0.6, dropout 5% by month 12 in each arm.
TEXTBOOK_ACCRUAL = [(2.0, 2.8), (2.0, 4.2), (2.0, 4.9), (None, 5.6)]
TEXTBOOK_HAZARD = math.log(2) / 6.8
TEXTBOOK_DROPOUT = -math.log(0.95) / 12
TEXTBOOK = dict(
    accrual=TEXTBOOK_ACCRUAL,
    control_hazards=TEXTBOOK_HAZARD,
    hazard_ratio=0.6,
    dropout_hazard=TEXTBOOK_DROPOUT,
    allocation=0.5,
    sample_size=104,
)

# A harder design: piecewise survival, per-arm dropout, 2:1 allocation, four accrual rates.
PIECEWISE_ACCRUAL = [(3.0, 5.0), (2.0, 2.0), (3.0, 10.0), (None, 12.0)]
PIECEWISE_HAZARDS = [(6.0, 0.1), (6.0, 0.07), (None, 0.04)]
PIECEWISE_DROPOUT = (-math.log(0.95) / 12, -math.log(0.90) / 12)  # (control, experimental)
PIECEWISE = dict(
    accrual=PIECEWISE_ACCRUAL,
    control_hazards=PIECEWISE_HAZARDS,
    hazard_ratio=0.75,
    dropout_hazard=PIECEWISE_DROPOUT,
    allocation=2 / 3,
    sample_size=150,
)


# ----------------------------------------------------------------- Schoenfeld / Freedman


def test_schoenfeld_events_by_hand() -> None:
    # z_0.90 = 1.2815516, z_0.80 = 0.8416212, sum 2.1231728, squared 4.5078627;
    # log(0.6)^2 = 0.2609428; D = 4.5078627 / (0.25 * 0.2609428) = 69.1012.
    # (69.10, not 69.9: the 1:1 figure is 4 (z + z)^2 / log(HR)^2.)
    assert schoenfeld_events(0.6, alpha=0.10, power=0.80) == pytest.approx(69.1012, abs=1e-4)


@pytest.mark.parametrize(
    ("hazard_ratio", "alpha", "power", "sides", "allocation", "schoenfeld", "freedman"),
    # rpact::getSampleSizeSurvival(design = getDesignGroupSequential(kMax = 1, alpha, sided,
    #   beta), typeOfComputation = "Schoenfeld" | "Freedman", hazardRatio,
    #   allocationRatioPlanned, lambda2 = 0.05, accrualTime = c(0, 12),
    #   followUpTime = 12)$maxNumberOfEvents (each call in design_rpact.json)
    [
        (
            e["hazard_ratio"],
            e["alpha"],
            e["power"],
            e["sides"],
            e["allocation_ratio"] / (1 + e["allocation_ratio"]),
            e["schoenfeld"],
            e["freedman"],
        )
        for e in RPACT["events"]
    ],
)
def test_events_match_rpact(
    hazard_ratio: float,
    alpha: float,
    power: float,
    sides: int,
    allocation: float,
    schoenfeld: float,
    freedman: float,
) -> None:
    args = (hazard_ratio, alpha, power, sides, allocation)
    assert schoenfeld_events(*args) == pytest.approx(schoenfeld, rel=SAME_METHOD)
    assert freedman_events(*args) == pytest.approx(freedman, rel=SAME_METHOD)


def test_freedman_one_to_one_is_freedman_1982() -> None:
    # Freedman (1982), Stat Med 1:121-129, equal allocation: D = (z + z)^2 (1+HR)^2/(1-HR)^2;
    # by hand 4.5078627 * 1.6^2 / 0.4^2 = 72.1258.
    assert freedman_events(0.6, 0.10, 0.80) == pytest.approx(72.1258, abs=1e-4)


def test_power_one_sided_matches_rpact() -> None:
    # rpact::getPowerSurvival(design = getDesignGroupSequential(kMax = 1, alpha = 0.1,
    #   sided = 1), typeOfComputation = "Schoenfeld" | "Freedman", hazardRatio = 0.6,
    #   directionUpper = FALSE, maxNumberOfEvents = 70, maxNumberOfSubjects = 104,
    #   lambda2 = log(2)/6.8, accrualTime = c(0, 2, 4, 6),
    #   accrualIntensity = c(2.8, 4.2, 4.9, 5.6), dropoutRate1 = 0.05,
    #   dropoutRate2 = 0.05, dropoutTime = 12)$overallReject
    ref = RPACT["textbook"]
    assert schoenfeld_power(70, 0.6, 0.10) == pytest.approx(
        ref["power_schoenfeld"], rel=SAME_METHOD
    )
    assert freedman_power(70, 0.6, 0.10) == pytest.approx(ref["power_freedman"], rel=SAME_METHOD)


def test_power_two_sided_is_rpact_less_the_far_tail() -> None:
    # rpact::getPowerSurvival(design = getDesignGroupSequential(kMax = 1, alpha = 0.05,
    #   sided = 2), typeOfComputation = "Schoenfeld" | "Freedman", hazardRatio = 0.7,
    #   allocationRatioPlanned = 2, maxNumberOfEvents = 150, maxNumberOfSubjects = 400,
    #   lambda2 = 0.05, accrualTime = c(0, 12))$overallReject
    # rpact counts both tails; ours counts the near one only (documented), so adding
    # Phi(-drift - z_{0.975}) must give rpact's figure.
    z = norm.ppf(0.975)
    p = 2 / 3
    drift_s = math.sqrt(150 * p * (1 - p)) * abs(math.log(0.7))
    drift_f = math.sqrt(150 * 2) * 0.3 / (1 + 2 * 0.7)
    ours_s = schoenfeld_power(150, 0.7, 0.05, sides=2, allocation=p)
    ours_f = freedman_power(150, 0.7, 0.05, sides=2, allocation=p)
    ref = RPACT["two_sided_power"]
    assert ours_s + norm.cdf(-drift_s - z) == pytest.approx(ref["schoenfeld"], rel=SAME_METHOD)
    assert ours_f + norm.cdf(-drift_f - z) == pytest.approx(ref["freedman"], rel=SAME_METHOD)


@pytest.mark.parametrize("sides", [1, 2])
@pytest.mark.parametrize("allocation", [0.5, 2 / 3, 0.25])
@pytest.mark.parametrize("hazard_ratio", [0.6, 1.4])
def test_power_inverts_events(sides: int, allocation: float, hazard_ratio: float) -> None:
    for events, power in ((schoenfeld_events, schoenfeld_power), (freedman_events, freedman_power)):
        d = events(hazard_ratio, 0.05, 0.85, sides, allocation)
        assert power(d, hazard_ratio, 0.05, sides, allocation) == pytest.approx(0.85, rel=1e-12)


@pytest.mark.parametrize(
    "bad",
    [
        dict(hazard_ratio=1.0),
        dict(hazard_ratio=-0.5),
        dict(alpha=0.0),
        dict(power=1.0),
        dict(sides=3),
        dict(allocation=1.0),
    ],
)
def test_events_reject_bad_inputs(bad: dict) -> None:
    args = dict(hazard_ratio=0.6, alpha=0.05, power=0.8, sides=1, allocation=0.5) | bad
    with pytest.raises(ValueError):
        schoenfeld_events(**args)
    with pytest.raises(ValueError):
        freedman_events(**args)


# --------------------------------------------------------------------------- accrual


def test_accrual_curve_by_hand() -> None:
    # 2 * 2.8 = 5.6 by month 2; + 2 * 4.2 = 14.0 by 4; + 2 * 4.9 = 23.8 by 6; then 5.6/month
    n = accrued_patients([0, 1, 2, 4, 6, 10], TEXTBOOK_ACCRUAL)
    np.testing.assert_allclose(n, [0, 2.8, 5.6, 14.0, 23.8, 23.8 + 4 * 5.6], rtol=1e-14)
    assert accrued_patients(1000.0, TEXTBOOK_ACCRUAL, sample_size=104) == pytest.approx(104)


def test_accrual_end_matches_rpact() -> None:
    # 6 + (104 - 23.8) / 5.6 = 20.3214286; rpact's getPowerSurvival(...)$accrualTime for the
    # textbook design (see test_power_one_sided_matches_rpact) ends at 20.3214285714286.
    assert accrual_end_time(104, TEXTBOOK_ACCRUAL) == pytest.approx(
        RPACT["textbook"]["accrual_time"], rel=SAME_METHOD
    )
    # rpact::getEventProbabilities(..., accrualTime = c(0, 3, 5, 8),
    #   accrualIntensity = c(5, 2, 10, 12), maxNumberOfSubjects = 150)$accrualTime ends at
    #   16.4166666666667 = 8 + (150 - 15 - 4 - 30) / 12
    assert accrual_end_time(150, PIECEWISE_ACCRUAL) == pytest.approx(
        RPACT["piecewise"]["accrual_time"], rel=SAME_METHOD
    )


def test_accrual_pause_and_closed_table() -> None:
    table = [(2.0, 5.0), (3.0, 0.0), (4.0, 2.5)]  # 10 in, a 3-month pause, 10 more
    assert accrual_end_time(10, table) == pytest.approx(2.0)
    assert accrual_end_time(12.5, table) == pytest.approx(6.0)  # 5 + 2.5 / 2.5
    assert accrual_end_time(20, table) == pytest.approx(9.0)
    assert accrual_end_time(20.5, table) == math.inf  # a closed table never gets there
    assert accrual_end_time(0, table) == 0.0
    np.testing.assert_allclose(accrued_patients([3.0, 4.0, 100.0], table), [10, 10, 20])
    open_pause = [(2.0, 5.0), (None, 0.0)]
    assert accrual_end_time(11, open_pause) == math.inf
    assert accrued_patients(50.0, open_pause) == pytest.approx(10.0)


def test_accrual_rejects_bad_tables() -> None:
    with pytest.raises(ValueError):
        accrued_patients(1.0, [(None, 2.0), (3.0, 1.0)])  # open-ended period not last
    with pytest.raises(ValueError):
        accrued_patients(1.0, [(2.0, -1.0)])
    with pytest.raises(ValueError):
        accrued_patients(1.0, [])


# -------------------------------------------------------------- event probability


def test_conversions() -> None:
    assert hazard_from_median(6.8) == pytest.approx(math.log(2) / 6.8)
    # rpact: dropoutRate = 0.05 by dropoutTime = 12 means 1 - exp(-12 eta) = 0.05
    assert 1 - math.exp(-12 * dropout_hazard_from_rate(0.05, 12)) == pytest.approx(0.05)


def test_event_probability_exponential_closed_form() -> None:
    # one exponential piece: F(s) = h / (h + eta) (1 - e^{-(h + eta) s})
    h, eta = 0.1, 0.02
    s = np.array([0.0, 0.5, 3.0, 40.0])
    expected = h / (h + eta) * (1 - np.exp(-(h + eta) * s))
    np.testing.assert_allclose(event_probability(s, h, eta), expected, rtol=1e-14, atol=0)
    assert event_probability(math.inf, h, eta) == pytest.approx(h / (h + eta), rel=1e-14)


def test_event_probability_piecewise_matches_quad() -> None:
    hazards = [(2.0, 0.3), (0.5, 0.0), (5.0, 0.05), (None, 0.2)]
    eta = 0.03

    def cum_hazard(x: float) -> float:
        return 0.3 * min(x, 2) + 0.05 * min(max(x - 2.5, 0), 5) + 0.2 * max(x - 7.5, 0)

    def hazard(x: float) -> float:
        return 0.3 if x < 2 else 0.0 if x < 2.5 else 0.05 if x < 7.5 else 0.2

    for s in (0.7, 2.2, 4.0, 7.5, 12.0, 60.0):
        ref, _ = quad(
            lambda x: hazard(x) * math.exp(-cum_hazard(x) - eta * x),
            0,
            s,
            points=[p for p in (2, 2.5, 7.5) if p < s],
            epsabs=1e-14,
            epsrel=1e-13,
        )
        assert event_probability(s, hazards, eta) == pytest.approx(ref, rel=1e-10)


def test_series_helpers_are_continuous_at_the_cutoff() -> None:
    x = np.array([1e-3 * (1 - 1e-9), 1e-3 * (1 + 1e-9)])
    np.testing.assert_allclose(phi1(x)[0], phi1(x)[1], rtol=1e-11)
    np.testing.assert_allclose(phi2(x)[0], phi2(x)[1], rtol=1e-11)
    assert phi1(np.array(0.0)) == 1.0 and phi2(np.array(0.0)) == 0.5


# --------------------------------------------------------------- expected events


def test_expected_events_textbook_matches_rpact() -> None:
    # rpact::getEventProbabilities(time = c(3, 6, 12, 20.5, 30, 60),
    #   accrualTime = c(0, 2, 4, 6), accrualIntensity = c(2.8, 4.2, 4.9, 5.6),
    #   lambda2 = log(2)/6.8, hazardRatio = 0.6, dropoutRate1 = 0.05, dropoutRate2 = 0.05,
    #   dropoutTime = 12, maxNumberOfSubjects = 104)
    # $cumulativeEventProbabilities (expected events / 104) and $eventProbabilities1
    # (experimental arm, expected events / 52). Same closed form: rpact agrees to 1e-15.
    ref = RPACT["textbook"]
    times, cumulative, experimental = ref["times"], ref["cumulative"], ref["experimental"]
    ours = expected_events(times, **TEXTBOOK)
    np.testing.assert_allclose(ours, 104 * np.array(cumulative), rtol=1e-12)
    _, ours_e = expected_events_by_arm(times, **TEXTBOOK)
    np.testing.assert_allclose(ours_e, 52 * np.array(experimental), rtol=1e-12)


def test_expected_event_time_textbook_matches_rpact() -> None:
    # rpact::getPowerSurvival(<textbook call in test_power_one_sided_matches_rpact>)
    # $analysisTime = 27.1105651091225 for 70 events. rpact's uniroot stops within
    # ~5e-10 months, ours within 1e-10, so compare at 1e-8 relative.
    t = expected_event_time(70, **TEXTBOOK)
    assert t == pytest.approx(RPACT["textbook"]["analysis_time"], rel=1e-8)
    assert expected_events(t, **TEXTBOOK) == pytest.approx(70, rel=1e-12)


def piecewise_expected_events_by_quad(t: float) -> float:
    """The PIECEWISE design's E(t) by nested scipy quad, straight from the definition."""
    eta_c, eta_e = PIECEWISE_DROPOUT
    p = PIECEWISE["allocation"]

    def cum_hazard(x: float) -> float:
        return 0.1 * min(x, 6) + 0.07 * min(max(x - 6, 0), 6) + 0.04 * max(x - 12, 0)

    def hazard(x: float) -> float:
        return 0.1 if x < 6 else 0.07 if x < 12 else 0.04

    def cdf(s: float, hr: float, eta: float) -> float:
        integrand = lambda x: hr * hazard(x) * math.exp(-hr * cum_hazard(x) - eta * x)  # noqa: E731
        points = [b for b in (6, 12) if b < s]
        return quad(integrand, 0, s, points=points, epsabs=1e-14, epsrel=1e-13, limit=200)[0]

    def rate(u: float) -> float:
        return 5.0 if u < 3 else 2.0 if u < 5 else 10.0 if u < 8 else 12.0

    top = min(t, accrual_end_time(150, PIECEWISE_ACCRUAL))
    points = [b for b in (3, 5, 8, t - 6, t - 12) if 0 < b < top]
    value, _ = quad(
        lambda u: rate(u) * ((1 - p) * cdf(t - u, 1.0, eta_c) + p * cdf(t - u, 0.75, eta_e)),
        0,
        top,
        points=points,
        epsabs=1e-12,
        epsrel=1e-12,
        limit=200,
    )
    return value


@pytest.mark.parametrize("t", [0.001, 2.0, 7.0, 15.0, 24.0, 48.0])
def test_expected_events_piecewise_matches_quad(t: float) -> None:
    ours = expected_events(t, **PIECEWISE)
    assert ours == pytest.approx(piecewise_expected_events_by_quad(t), rel=1e-9)


def test_expected_events_piecewise_matches_rpact() -> None:
    # rpact::getEventProbabilities(time = c(2, 4, 7, 10, 15, 24, 48),
    #   accrualTime = c(0, 3, 5, 8), accrualIntensity = c(5, 2, 10, 12),
    #   piecewiseSurvivalTime = c(0, 6, 12), lambda2 = c(0.1, 0.07, 0.04),
    #   hazardRatio = 0.75, allocationRatioPlanned = 2, dropoutRate1 = 0.1,
    #   dropoutRate2 = 0.05, dropoutTime = 12, maxNumberOfSubjects = 150)
    # $cumulativeEventProbabilities and $eventProbabilities1 (experimental, n = 100).
    # rpact is off by up to 1.1e-6 relative at 7, 15 and 24 months in this piecewise case
    # (ours agrees with nested quad to 1e-15 there: test above), hence 2e-6.
    ref = RPACT["piecewise"]
    times, cumulative, experimental = ref["times"], ref["cumulative"], ref["experimental"]
    np.testing.assert_allclose(
        expected_events(times, **PIECEWISE), 150 * np.array(cumulative), rtol=2e-6
    )
    _, ours_e = expected_events_by_arm(times, **PIECEWISE)
    np.testing.assert_allclose(ours_e, 100 * np.array(experimental), rtol=2e-6)
    # rpact::getPowerSurvival(design = getDesignGroupSequential(kMax = 1, alpha = 0.025,
    #   sided = 1), directionUpper = FALSE, maxNumberOfEvents = 80, <same model>)
    #   $analysisTime = 22.1928341019336 (rpact's event curve above is off by ~1e-6)
    assert expected_event_time(80, **PIECEWISE) == pytest.approx(ref["analysis_time"], rel=1e-6)


def test_expected_events_monte_carlo() -> None:
    """Same model simulated patient by patient with plain numpy: within 3 standard errors."""
    accrual = [(2.0, 3.0), (1.5, 0.0), (3.0, 8.0), (None, 6.0)]  # with a pause
    hazards = [(4.0, 0.12), (8.0, 0.06), (None, 0.03)]
    hazard_ratio, dropout, p, n_total = 0.7, (0.01, 0.03), 0.6, 60
    rng = np.random.default_rng(20240601)
    n = 200_000

    # entry: the accrual intensity, cut at 60 patients (6 + 0 + 24 + 30 by month 11.5),
    # normalized to a density: pick a period by its share of patients, uniform within it
    starts, widths = np.array([0.0, 3.5, 6.5]), np.array([2.0, 3.0, 5.0])
    counts = np.array([6.0, 24.0, 30.0])
    period = rng.choice(3, size=n, p=counts / counts.sum())
    entry = starts[period] + widths[period] * rng.random(n)

    # arm, event time by inverting the piecewise cumulative hazard, dropout time
    experimental = rng.random(n) < p
    scale = np.where(experimental, hazard_ratio, 1.0)
    breaks, rates = np.array([0.0, 4.0, 12.0]), np.array([0.12, 0.06, 0.03])
    cum_at_breaks = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(breaks))])
    level = rng.exponential(size=n) / scale
    piece = np.searchsorted(cum_at_breaks, level, side="right") - 1
    event = breaks[piece] + (level - cum_at_breaks[piece]) / rates[piece]
    eta = np.where(experimental, dropout[1], dropout[0])
    drop = rng.exponential(size=n) / eta

    times = np.array([1.0, 3.0, 5.0, 8.0, 12.0, 20.0, 40.0])
    seen = (event[:, None] + entry[:, None] <= times) & (event <= drop)[:, None]
    mc_mean = n_total * seen.mean(axis=0)
    mc_se = n_total * seen.std(axis=0, ddof=1) / math.sqrt(n)
    ours = expected_events(times, accrual, hazards, hazard_ratio, dropout, p, n_total)
    assert np.all(np.abs(ours - mc_mean) <= 3 * mc_se), (ours, mc_mean, mc_se)


def test_expected_events_limits_and_long_horizon() -> None:
    limit = expected_events_limit(**TEXTBOOK)
    eta, h = TEXTBOOK_DROPOUT, TEXTBOOK_HAZARD
    by_hand = 52 * (h / (h + eta) + 0.6 * h / (0.6 * h + eta))
    assert limit == pytest.approx(by_hand, rel=1e-14)
    # far past every hazard change the tail form keeps the digits
    assert expected_events(1e6, **TEXTBOOK) == pytest.approx(limit, rel=1e-12)
    assert expected_event_time(limit, **TEXTBOOK) == math.inf
    assert expected_event_time(limit + 1, **TEXTBOOK) == math.inf
    assert expected_event_time(0, **TEXTBOOK) == 0.0
    assert expected_events(0.0, **TEXTBOOK) == 0.0


def test_expected_events_open_accrual_never_saturates() -> None:
    args = dict(TEXTBOOK, sample_size=None)
    assert expected_events_limit(**args) == math.inf
    t = expected_event_time(500, **args)
    assert math.isfinite(t) and expected_events(t, **args) == pytest.approx(500, rel=1e-10)


def test_expected_events_table() -> None:
    table = expected_events_table(np.arange(0, 37, 6), **TEXTBOOK)
    assert list(table.columns) == [
        "month",
        "accrued",
        "events_control",
        "events_experimental",
        "events",
    ]
    np.testing.assert_allclose(table["events"], expected_events(table["month"], **TEXTBOOK))
    np.testing.assert_allclose(table["accrued"].iloc[-1], 104)
    assert (np.diff(table["events"]) >= 0).all()
    assert (table["events_control"] >= table["events_experimental"]).all()  # HR < 1


# ----------------------------------------------------------------- Lachin-Foulkes


def test_lachin_foulkes_event_probability_matches_rpact() -> None:
    # Uniform entry over R = 12, study end T = 36, dropout 10% by 12 months:
    # rpact::getEventProbabilities(time = 36, accrualTime = c(0, 12),
    #   accrualIntensity = 200/12, lambda2 = 0.05, hazardRatio = 0.7, dropoutRate1 = 0.1,
    #   dropoutRate2 = 0.1, dropoutTime = 12, maxNumberOfSubjects = 200)
    #   $eventProbabilities1 = 0.581994744915847 (lambda = 0.035),
    #   $eventProbabilities2 = 0.701737041332378 (lambda = 0.05)
    ref = RPACT["lachin_foulkes"]
    eta = -math.log(0.9) / 12
    assert lachin_foulkes_event_probability(0.035, eta, 12, 24) == pytest.approx(
        ref["p_experimental"], rel=1e-12
    )
    assert lachin_foulkes_event_probability(0.05, eta, 12, 24) == pytest.approx(
        ref["p_control"], rel=1e-12
    )
    # rpact::getSampleSizeSurvival(design = getDesignGroupSequential(kMax = 1,
    #   alpha = 0.025, sided = 1, beta = 0.1), hazardRatio = 0.7, lambda2 = 0.05,
    #   accrualTime = c(0, 12), followUpTime = 24, dropoutRate1 = 0.1, dropoutRate2 = 0.1,
    #   dropoutTime = 12)$maxNumberOfSubjects = 514.714861005907: Schoenfeld events over
    #   the mean event probability (not Lachin-Foulkes; checks the probability again)
    mean_p = 0.5 * (
        lachin_foulkes_event_probability(0.035, eta, 12, 24)
        + lachin_foulkes_event_probability(0.05, eta, 12, 24)
    )
    assert schoenfeld_events(0.7, 0.025, 0.9) / mean_p == pytest.approx(
        ref["sample_size"], rel=1e-12
    )


def test_lachin_foulkes_event_probability_agrees_with_expected_events() -> None:
    # uniform accrual of 200 over 12 months, study end 36: E(36) / 200 is the same probability
    eta = 0.01
    e = expected_events(36.0, [(12.0, 200 / 12)], 0.05, 0.7, eta, 0.5, None)
    lf = 0.5 * (
        lachin_foulkes_event_probability(0.05, eta, 12, 24)
        + lachin_foulkes_event_probability(0.035, eta, 12, 24)
    )
    assert e / 200 == pytest.approx(lf, rel=1e-12)


@pytest.mark.parametrize("gamma", [-0.2, 0.15, 0.07])  # 0.07 = lambda + eta: the 0/0 case
def test_lachin_foulkes_exponential_entry_matches_quad(gamma: float) -> None:
    # entry density g(u) = gamma e^{-gamma u} / (1 - e^{-gamma R}) on [0, R], R = 10, T = 25
    lam, eta, r, t_end = 0.05, 0.02, 10.0, 25.0

    def density(u: float) -> float:
        return gamma * math.exp(-gamma * u) / -math.expm1(-gamma * r)

    def observed(u: float) -> float:
        return lam / (lam + eta) * -math.expm1(-(lam + eta) * (t_end - u))

    ref, _ = quad(lambda u: density(u) * observed(u), 0, r, epsabs=1e-14, epsrel=1e-13)
    ours = lachin_foulkes_event_probability(lam, eta, r, t_end - r, accrual_shape=gamma)
    assert ours == pytest.approx(ref, rel=1e-10)
    uniform = lachin_foulkes_event_probability(lam, eta, r, t_end - r)
    assert lachin_foulkes_event_probability(
        lam, eta, r, t_end - r, accrual_shape=1e-9
    ) == pytest.approx(uniform, rel=1e-8)


def gsdesign_nsurvival_rd(
    lambda1: float,
    lambda2: float,
    ts: float,
    tr: float,
    eta: float,
    ratio: float,
    alpha: float,
    beta: float,
    sided: int,
) -> float:
    """gsDesign::nSurvival(type = "rd", approx = FALSE, entry = "unif")$n, transcribed line by
    line from gsDesign's R/gsSurvival.R (lambda1 control, lambda2 experimental)."""

    def pe(lam: float) -> float:
        q1 = lam / (lam + eta)
        q2 = math.exp(-(lam + eta) * (ts - tr)) - math.exp(-(lam + eta) * ts)
        q3 = (lam + eta) * tr
        return q1 * (1 - q2 / q3)

    xi0 = 1 / (1 + ratio)
    xi1 = 1 - xi0
    ave_haz = lambda1 * xi0 + lambda2 * xi1
    zalpha = norm.ppf(1 - alpha / sided)
    zbeta = norm.ppf(1 - beta)
    power = zalpha * (xi0 * xi1 * pe(ave_haz) / ave_haz**2) ** (-0.5) + zbeta * math.sqrt(
        lambda1**2 / (xi0 * pe(lambda1)) + lambda2**2 / (xi1 * pe(lambda2))
    )
    return (power / (lambda1 - lambda2)) ** 2


@pytest.mark.parametrize(
    ("hr", "alpha", "power", "sides", "ratio", "r", "follow", "lam", "eta"),
    [
        (0.7, 0.025, 0.90, 1, 1.0, 12.0, 24.0, 0.05, -math.log(0.9) / 12),
        (0.6, 0.05, 0.80, 2, 2.0, 20.3, 6.7, math.log(2) / 6.8, -math.log(0.95) / 12),
        (1.3, 0.10, 0.85, 1, 0.5, 6.0, 30.0, 0.02, 0.0),
    ],
)
def test_lachin_foulkes_sample_size_formula(
    hr: float,
    alpha: float,
    power: float,
    sides: int,
    ratio: float,
    r: float,
    follow: float,
    lam: float,
    eta: float,
) -> None:
    # Lachin & Foulkes (1986) with variance under H0 and H1, as implemented by gsDesign's
    # nSurvival(type = "rd", approx = FALSE) (transcribed above; R package not in Debian)
    p = ratio / (1 + ratio)
    n = lachin_foulkes_sample_size(hr, alpha, power, sides, r, follow, lam, eta, allocation=p)
    ref = gsdesign_nsurvival_rd(lam, lam * hr, r + follow, r, eta, ratio, alpha, 1 - power, sides)
    assert n == pytest.approx(ref, rel=1e-12)
    assert lachin_foulkes_power(
        n, hr, alpha, sides, r, follow, lam, eta, allocation=p
    ) == pytest.approx(power, rel=1e-12)


def test_lachin_foulkes_sample_size_by_hand_no_censoring() -> None:
    # All patients followed to the event (P = 1: eta = 0, follow-up -> long): N =
    # (z_a sqrt(lbar^2 / (p q)) + z_b sqrt(lE^2 / p + lC^2 / q))^2 / (lC - lE)^2,
    # lC = 0.1, lE = 0.05, p = q = 1/2, lbar = 0.075, alpha 0.05 one-sided, power 0.9:
    # 1.6448536 * 0.15 = 0.2467280, 1.2815516 * sqrt(0.025) = 1.2815516 * 0.1581139
    # = 0.2026312, (0.2467280 + 0.2026312)^2 / 0.0025 = 0.2019237 / 0.0025 = 80.7695
    n = lachin_foulkes_sample_size(0.5, 0.05, 0.9, 1, 1.0, 1e4, 0.1, 0.0)
    assert n == pytest.approx(80.7695, abs=1e-4)


def test_lachin_foulkes_per_arm_dropout_reduces_to_common() -> None:
    common = lachin_foulkes_sample_size(0.7, 0.025, 0.9, 1, 12, 24, 0.05, 0.01)
    pair = lachin_foulkes_sample_size(0.7, 0.025, 0.9, 1, 12, 24, 0.05, (0.01, 0.01))
    assert pair == pytest.approx(common, rel=1e-15)
    more_loss = lachin_foulkes_sample_size(0.7, 0.025, 0.9, 1, 12, 24, 0.05, (0.01, 0.05))
    assert more_loss > common
