"""Toxicity and the treatment course: dose reductions, pneumonitis, early RT stops, BED,
and what the supply tables count.

Unit tests use hand-made draws (`dataclasses.replace` on real ones, so doses exist);
statistical checks compare shares with the scenario's probabilities within 3 binomial
standard errors. Day 3 of the baseline is a Monday.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim.clinic.model import draw_clinic, simulate_clinic
from sim.conduct.calendar import StudyCalendar
from tests.helpers import CONTROL, EXPERIMENTAL, MONDAY, fixed_draws, run_clinic, vary

UNLIMITED = {"radiotherapy.linac": None, "treatment.chairs": None}  # many on one day


@pytest.fixture(scope="module")
def calendar(baseline) -> StudyCalendar:
    return StudyCalendar(baseline.trial.start_date, ("Sat", "Sun"))


def with_draws(draws, **fields):
    return dataclasses.replace(draws, **fields)


def reductions_at(n: int, max_cycles: int, cycles: tuple[int, ...]) -> np.ndarray:
    reduced = np.zeros((1, n, max_cycles), dtype=bool)
    for k in cycles:
        reduced[0, :, k - 1] = True
    return reduced


# --- dose reductions ------------------------------------------------------------------------


def test_reduction_lowers_every_later_induction_dose(baseline, calendar):
    draws = with_draws(fixed_draws(1, 35), reduced=reductions_at(1, 35, (2,)))
    result = run_clinic(baseline, calendar, draws, MONDAY, CONTROL, horizon_day=MONDAY + 100)
    assert result.patients.cycle_levels.tolist() == [[0, 1, 1, 1, 1]]
    assert (MONDAY + 21, 0, "cycle 2 reduced") in result.log
    assert result.summary["dose_reductions_control"] == 1


def test_reductions_stop_at_the_lowest_level_and_skip_maintenance(baseline, calendar):
    # Levels [0.8, 0.6] (baseline YAML): reductions drawn at cycles 2, 3, 4 reach level 2
    # and no further; one drawn at cycle 6 (QL1706 maintenance, not reducible) is ignored.
    draws = with_draws(fixed_draws(1, 35), reduced=reductions_at(1, 35, (2, 3, 4, 6)))
    result = run_clinic(baseline, calendar, draws, MONDAY, CONTROL, horizon_day=MONDAY + 130)
    assert result.patients.cycle_levels.tolist() == [[0, 1, 2, 2, 2, 2, 2]]
    assert result.summary["dose_reductions_control"] == 2


def test_reduced_doses_reach_the_supply_table(baseline, calendar, rng):
    # One squamous patient, 4 induction cycles, reduced from cycle 3: carboplatin mg =
    # full x (1 + 1 + 0.8 + 0.8); QL1706 is never reduced: 4 x 5 mg/kg.
    real = draw_clinic(baseline, 1, 1, rng)
    draws = with_draws(
        real,
        cycle1_offset=np.zeros((1, 1), np.int64),
        delayed=np.zeros((1, 1, 35), bool),
        toxicity_cycle=np.full((1, 1), 4),
        reduced=reductions_at(1, 35, (3,)),
    )
    result = run_clinic(baseline, calendar, draws, MONDAY, CONTROL)
    d = real.doses
    carbo = d.drugs.index("carboplatin")
    total = result.summary["clinic_carboplatin_mg"]
    assert total == pytest.approx(d.mg[0, 0, carbo, 0] * 3.6)
    assert result.summary["clinic_ql1706_mg"] == pytest.approx(
        4 * 5 * real.covariates.weight_kg[0, 0]
    )
    assert result.monthly["supply/carboplatin mg"].sum() == pytest.approx(total)
    assert result.monthly["supply/pemetrexed mg"].sum() == 0  # squamous: nab-paclitaxel
    vials = result.monthly["supply/carboplatin vials"]
    by_size = (
        result.monthly["supply/carboplatin vials 100 mg"]
        + result.monthly["supply/carboplatin vials 450 mg"]
    )
    np.testing.assert_array_equal(vials, by_size)


def test_share_of_reduced_induction_cycles(legacy_data, calendar):
    # Cycles 2-4 each start a lower level with probability 0.05 (baseline YAML); a patient
    # can drop at most 2 levels, so count the drops in cycles 2 and 3 only (level <= 1 before
    # them can always drop): a binomial share over 2 n cycles.
    scenario = vary(
        legacy_data,
        **{
            "treatment.discontinuation_per_cycle": 0.0,
            "treatment.delay.probability": 0.0,
            **UNLIMITED,
        },
    )
    n = 3000
    draws = draw_clinic(scenario, 1, n, np.random.default_rng(5))
    result = simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.full(n, MONDAY),
        np.zeros(n, np.int64),
        np.full(n, np.inf),
        np.full(n, "none"),
        horizon_day=MONDAY + 50.0,
        keep_patients=True,
    )
    levels = np.asarray(result.patients.cycle_levels.tolist())  # 3 cycles each
    drops = np.diff(levels, axis=1)
    p = scenario.treatment.dose_reduction.probability
    share = drops.mean()
    assert abs(share - p) < 3 * math.sqrt(p * (1 - p) / drops.size)


# --- pneumonitis and early stops ------------------------------------------------------------


def test_pneumonitis_stops_rt_and_is_counted(baseline, calendar):
    draws = with_draws(fixed_draws(1, 35, rt_courses=3), pneumonitis_course=np.ones((1, 1), int))
    result = run_clinic(baseline, calendar, draws, MONDAY, EXPERIMENTAL, horizon_day=MONDAY + 80)
    assert result.patients.rt_courses_completed.tolist() == [1]
    assert result.patients.rt_pneumonitis.tolist() == [True]
    assert (MONDAY + 1, 0, "rt pneumonitis") in result.log
    assert result.summary["rt_pneumonitis_experimental"] == 1
    assert result.summary["rt_stopped_early_experimental"] == 0
    assert result.summary["cycles_given_experimental"] == 4  # systemic therapy goes on


def test_pneumonitis_drawn_for_the_control_arm_is_ignored(baseline, calendar):
    draws = with_draws(fixed_draws(1, 35), pneumonitis_course=np.ones((1, 1), int))
    result = run_clinic(baseline, calendar, draws, MONDAY, CONTROL, horizon_day=MONDAY + 80)
    assert result.summary["rt_pneumonitis_control"] == 0


def test_early_stop_is_counted_when_reached(baseline, calendar):
    result = run_clinic(
        baseline,
        calendar,
        fixed_draws(2, 35, rt_courses=2),
        MONDAY,
        EXPERIMENTAL,
        stop_day=[math.inf, MONDAY + 10],
        stop_reason=["none", "progression"],
        horizon_day=MONDAY + 80,
    )
    # patient 0 stops RT after 2 courses as drawn; patient 1 progresses after course 1
    assert result.patients.rt_courses_completed.tolist() == [2, 1]
    assert result.summary["rt_stopped_early_experimental"] == 1


def test_bed10_of_three_full_courses(baseline, calendar):
    # 12 fractions of 3.7 Gy: 44.4 Gy, BED10 = 12 x 3.7 x (1 + 3.7 / 10) = 60.828 Gy
    result = run_clinic(
        baseline, calendar, fixed_draws(1, 35), MONDAY, EXPERIMENTAL, horizon_day=MONDAY + 80
    )
    assert result.summary["rt_dose_gy_experimental"] == pytest.approx(44.4)
    assert result.summary["rt_bed10_gy_experimental"] == pytest.approx(60.828)


def test_pneumonitis_share_among_irradiated_patients(legacy_data, calendar):
    # Calibration "pneumonitis, ICI + SBRT": 5% of irradiated patients; without stops or
    # toxicity every experimental patient starts RT, so the share is binomial.
    scenario = vary(legacy_data, **{"treatment.discontinuation_per_cycle": 0.0, **UNLIMITED})
    n = 4000
    draws = draw_clinic(scenario, 1, n, np.random.default_rng(8))
    result = simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.full(n, MONDAY),
        np.ones(n, np.int64),
        np.full(n, np.inf),
        np.full(n, "none"),
        horizon_day=MONDAY + 80.0,
    )
    s = result.summary
    assert s["rt_patients_started_experimental"] == n
    p = scenario.radiotherapy.pneumonitis
    share = s["rt_pneumonitis_experimental"] / n
    assert abs(share - p) < 3 * math.sqrt(p * (1 - p) / n)
