"""Scenarios as the API takes them: a sim.Scenario, a YAML path or a mapping, with overrides
(a mapping of dotted paths to values, or ``PATH=VALUE`` strings as ``--set`` takes them)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.scenario import Scenario, ScenarioError, parse_scenario

ScenarioLike = Scenario | str | Path | Mapping[str, Any]
Overrides = Mapping[str, Any] | Sequence[str] | None


def load_scenario(path: str | Path | Mapping[str, Any], overrides: Overrides = None) -> Scenario:
    """A validated scenario from a YAML file (or an already-parsed mapping), with overrides.

    `overrides` maps dotted paths to values (``{"effect.hazard_ratio": 0.7}``, values as
    Python objects) or is a list of ``PATH=VALUE`` strings as ``--set`` takes them.
    """
    return load_scenario_data(path, override_strings(overrides))[0]


def load_scenario_data(
    path: str | Path | Mapping[str, Any], assignments: list[str]
) -> tuple[Scenario, dict[str, Any], str]:
    """(the scenario, its data as read with the overrides applied, its source name)."""
    import copy

    from sim.scenario import apply_override, read_scenario_yaml

    if isinstance(path, Mapping):
        data = json.loads(json.dumps(dict(path), default=str))  # a deep, plain copy
        source = "<mapping>"
    else:
        path = as_path(path, "scenario", "a YAML file's path, a mapping or a sim.Scenario")
        data, source = read_scenario_yaml(path), str(path)
    for assignment in assignments:
        apply_override(data, assignment)
    return parse_scenario(copy.deepcopy(data), source), data, source


def as_path(value: object, name: str, what: str) -> Path:
    """`value` as a Path; ScenarioError naming `name` and what it takes if it is not one
    (None, a number: not Python's TypeError from deep inside)."""
    import os

    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise ScenarioError(f"{name} = {value!r} (of type {type(value).__name__}): give {what}")


def override_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        from sim.engine.sweep import yaml_text

        strings = []
        for key, value in overrides.items():
            try:
                strings.append(f"{key}={yaml_text(value)}")
            except ScenarioError as error:
                raise ScenarioError(f"overrides {key}: {error}") from None
        return strings
    if isinstance(overrides, str):
        raise ScenarioError(
            f"overrides {overrides!r}: give a mapping or a list of "
            "PATH=VALUE strings, e.g. {'effect.hazard_ratio': 0.7}"
        )
    return [str(item) for item in overrides]


def resolve_scenario(
    scenario: ScenarioLike, overrides: Overrides
) -> tuple[Scenario, str, list[str]]:
    """(the scenario, the path the manifest records, the overrides it records): a path or a
    mapping is loaded with `overrides`; a Scenario is taken as it is (then no overrides)."""
    assignments = override_strings(overrides)
    if isinstance(scenario, Scenario):
        if assignments:
            raise ScenarioError(
                f"overrides {assignments}: a loaded Scenario takes none; give the scenario's "
                "path instead, or apply them with sim.load_scenario(path, overrides=...)"
            )
        return scenario, "", []
    loaded, _, source = load_scenario_data(scenario, assignments)
    return loaded, "" if isinstance(scenario, Mapping) else source, assignments
