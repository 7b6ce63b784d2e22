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


@pytest.fixture(scope="session")
def textbook(textbook_data) -> Scenario:
    return parse_scenario(textbook_data)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260130)
