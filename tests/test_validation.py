"""Simulation against closed forms on textbook.yaml and variants of it.

References (sim/design.py, itself checked against rpact in tests/test_design.py):
- power: Schoenfeld at the event target; tolerance 0.01 (the approximation's own error at
  70 events) + 3 Monte Carlo standard errors sqrt(p(1-p)/R);
- median date of the event target: the Lachin-Foulkes time at which the expected number of
  events reaches the target; tolerance 3% as the issue sets (the median of the simulated
  time and the time of the expected count differ by a little, and the MC error is ~0.3%);
- median last randomization: the end of the expected accrual curve, 3%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.engine.chunk import TrialModel
from sim.engine.executors import iterate_chunks
from sim.stats.design import design_scenario
from tests.helpers import vary

REPS = 3000
VARIANTS = {
    "textbook": {},
    "hr_0.5": {"effect.hazard_ratio": 0.5},
    "hr_0.7": {"effect.hazard_ratio": 0.7},
    "hr_1.0": {"effect.hazard_ratio": 1.0},
    "no_dropout": {"dropout.probability": 0.0},
    "high_dropout": {"dropout.probability": 0.15},
    "short_accrual": {
        "enrollment.screening_rate": [{"months": 3, "per_month": 6}, {"per_month": 11}]
    },
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request, textbook_data):
    scenario = vary(textbook_data, **VARIANTS[request.param])
    model = TrialModel.from_scenario(scenario)
    table = pd.concat([c.replicates for c in iterate_chunks(model, REPS, 21, workers=1)])
    design = design_scenario(scenario).set_index("quantity")["value"]
    return request.param, table, design


def test_power_matches_schoenfeld(variant, record_validation):
    name, table, design = variant
    power = table["reject"].mean()
    expected = float(design["power_schoenfeld"])
    tolerance = 0.01 + 3 * np.sqrt(power * (1 - power) / REPS)
    record_validation(f"power, {name}", "Schoenfeld", expected, power, tolerance)
    assert abs(power - expected) < tolerance


def test_event_target_date_matches_lachin_foulkes(variant, record_validation):
    name, table, design = variant
    simulated = np.median(table["target_events_months"])
    expected = float(design["target_events_months"])
    record_validation(
        f"months to 70 events (median), {name}",
        "Lachin-Foulkes",
        expected,
        simulated,
        0.03 * expected,
    )
    assert abs(simulated - expected) < 0.03 * expected


def test_accrual_end_matches_expected_accrual(variant, record_validation):
    name, table, design = variant
    simulated = np.median(table["lpi_months"])
    expected = float(design["accrual_end_months"])
    record_validation(
        f"months to last randomization (median), {name}",
        "accrual table",
        expected,
        simulated,
        0.03 * expected,
    )
    assert abs(simulated - expected) < 0.03 * expected
