"""Shared fixtures: the two shipped scenarios and small helpers to vary them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sim.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"


def scenario_data(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def vary(data: dict[str, Any], **changes: Any) -> Scenario:
    """A copy of `data` with dotted-path changes (``vary(d, **{"effect.hazard_ratio": 1})``)."""
    data = copy.deepcopy(data)
    for path, value in changes.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_scenario(data)


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


def assert_run_rejects(tmp_path: Path, capsys, override: str, needle: str) -> None:
    """`run` with one bad --set: exit 2, one message containing `needle`, nothing written."""
    from sim.commands.cli import main

    out = tmp_path / "out"
    code = main(
        ["run", str(BASELINE), "--set", override, "--reps", "10", "--out", str(out), "--quiet"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") <= 3  # one message, not a traceback
    assert not out.exists() and not list(tmp_path.iterdir())
