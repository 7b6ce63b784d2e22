"""Shared fixtures: the shipped scenarios (parsed once per session), a seeded generator and
the validation log. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from sim.scenario import Scenario, parse_scenario
from tests.helpers import BASELINE, TEXTBOOK, scenario_data


@pytest.fixture(scope="session")
def baseline_data() -> dict[str, Any]:
    return scenario_data(BASELINE)


@pytest.fixture(scope="session")
def textbook_data() -> dict[str, Any]:
    return scenario_data(TEXTBOOK)


@pytest.fixture(scope="session")
def baseline(baseline_data) -> Scenario:
    return parse_scenario(baseline_data)


# The clinic's own toxicity draws, as the baseline had them before its safety block (whose
# adverse events now cause the delays, reductions, discontinuations and RT stops): the
# clinic's mechanics and their pinned values are tested on this scenario.
LEGACY_TOXICITY = {
    "safety": None,
    "treatment.delay.probability": 0.15,
    "treatment.discontinuation_per_cycle": 0.018,
    "treatment.dose_reduction.probability": 0.05,
    "radiotherapy.pneumonitis": 0.05,
}


@pytest.fixture(scope="session")
def legacy_data(baseline_data) -> dict[str, Any]:
    data = copy.deepcopy(baseline_data)
    data.pop("safety", None)
    data["treatment"]["delay"]["probability"] = LEGACY_TOXICITY["treatment.delay.probability"]
    data["treatment"]["discontinuation_per_cycle"] = LEGACY_TOXICITY[
        "treatment.discontinuation_per_cycle"
    ]
    data["treatment"]["dose_reduction"]["probability"] = LEGACY_TOXICITY[
        "treatment.dose_reduction.probability"
    ]
    data["radiotherapy"]["pneumonitis"] = LEGACY_TOXICITY["radiotherapy.pneumonitis"]
    return data


@pytest.fixture(scope="session")
def legacy(legacy_data) -> Scenario:
    return parse_scenario(legacy_data)


@pytest.fixture(scope="session")
def textbook(textbook_data) -> Scenario:
    return parse_scenario(textbook_data)


@pytest.fixture(scope="session")
def scenario_json_schema() -> dict[str, Any]:
    """The scenario's JSON Schema (`python -m sim schema`), built once: building it takes
    seconds (pydantic walks every model). Tests only read it."""
    from sim.commands.schema import scenario_schema

    return scenario_schema()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260130)


@pytest.fixture(scope="session")
def record_validation():
    """Append (quantity, reference, ours, tolerance) rows for docs/validation.md.

    Active only when SIM_VALIDATION_LOG names a file (docs/build_validation.py sets it);
    call it before asserting, so the table shows failures too.
    """
    import json
    import os

    target = os.environ.get("SIM_VALIDATION_LOG")

    def record(
        quantity: str, reference_name: str, reference: float, ours: float, tolerance: float
    ) -> None:
        if not target:
            return
        row = {
            "quantity": quantity,
            "reference_name": reference_name,
            "reference": float(reference),
            "ours": float(ours),
            "difference": float(ours) - float(reference),
            "tolerance": float(tolerance),
        }
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    return record
