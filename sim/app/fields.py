"""The form: the scenario fields a planner changes most, described by the scenario's schema.

Each field is a dotted path into the scenario (list indices as numbers, as ``--set`` takes
them); its label comes from here, its unit, help text and bounds from the JSON Schema that
``python -m sim schema`` prints, so the form says what the reference page says.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.api import value_at

# (path, label): the order of the form. Paths with {site}/{last} are expanded per scenario.
PLANNER_FIELDS: tuple[tuple[str, str], ...] = (
    ("trial.sample_size", "Sample size"),
    ("pfs.control.median_months", "Control arm: median PFS"),
    ("effect.hazard_ratio", "Hazard ratio, experimental vs control (below 1: experimental better)"),
    ("dropout.probability", "Dropout: share of patients lost by the horizon below"),
    ("dropout.months", "Dropout: the horizon"),
    ("analysis.event_target", "Events that trigger the final analysis"),
    ("analysis.alpha", "Alpha (type I error) of the primary test"),
    ("assessments.schedule.0.every_weeks", "Scan interval (first phase)"),
)
SITE_RATE = "enrollment.sites.{site}.screening_rate.{last}.per_month"
# Generated sites (a multi-site trial's `site_generator`): after the sample size.
GENERATED_SITES = (
    ("enrollment.site_generator.count", "Sites"),
    ("enrollment.site_generator.per_month", "Screening rate per site at full speed"),
)
# OS primary: the deaths trigger the analysis, and OS after progression follows the PFS
# effect (the illness-death model): its fields after the hazard ratio.
OS_FIELDS = (
    ("overall_survival.post_progression.median_months", "OS: median survival after progression"),
    (
        "overall_survival.post_progression_hazard_ratio",
        "OS: hazard ratio of death after progression, experimental vs control",
    ),
)


@dataclass(frozen=True)
class Field:
    """One form input: where it lives in the scenario, and what the schema says of it."""

    path: str
    label: str
    value: float | int
    integer: bool
    unit: str
    help: str
    minimum: float | None
    maximum: float | None

    @property
    def input_id(self) -> str:
        """A Shiny input id: letters, digits and underscores only."""
        return "f_" + re.sub(r"\W", "_", self.path)


@functools.cache
def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario, as ``python -m sim schema`` prints it (with units and
    descriptions); the pydantic schema of the model (no units) should that command fail."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sim", "schema"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        import sim

        model = type(sim.load_scenario(shipped_scenarios()[next(iter(shipped_scenarios()))]))
        return model.model_json_schema(mode="validation")


def shipped_scenarios() -> dict[str, Any]:
    """{file name: path} of the scenarios shipped beside the package (scenarios/*.yaml)."""
    from pathlib import Path

    import sim

    folder = Path(sim.__file__).resolve().parents[1] / "scenarios"
    return {p.name: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def schema_node(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema of the value at `path`: description and unit of the property itself, type
    and bounds from what it refers to (through $ref and a nullable anyOf)."""

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        merged = dict(node)
        while "$ref" in merged or "anyOf" in merged:
            if "$ref" in merged:
                target = schema["$defs"][merged.pop("$ref").rsplit("/", 1)[1]]
            else:
                options = [o for o in merged.pop("anyOf") if o.get("type") != "null"]
                target = options[0] if options else {}
            merged = {**target, **merged}  # the property's own words win over its type's
        return merged

    node = resolve(schema)
    for key in path.split("."):
        if key.isdigit():
            node = resolve(node.get("items", {}))
        else:
            node = resolve(node.get("properties", {}).get(key, {}))
    return node


def field_paths(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, label) of the form for this scenario: the fixed fields, then each site's
    full-speed screening rate (the last row of its table) after the sample size."""
    paths = list(PLANNER_FIELDS)
    if value_at(data, "analysis.endpoint") == "os":
        at = [p for p, _ in paths].index("effect.hazard_ratio")
        paths[at] = (
            "effect.hazard_ratio",
            "PFS hazard ratio, experimental vs control (OS "
            "follows from it; below 1: experimental better)",
        )
        paths[at + 1 : at + 1] = OS_FIELDS
        target = [p for p, _ in paths].index("analysis.event_target")
        paths[target] = (
            "analysis.event_target",
            "Deaths that trigger the final analysis (OS primary)",
        )
    paths[1:1] = GENERATED_SITES
    sites = value_at(data, "enrollment.sites") or []
    for i, site in enumerate(sites if isinstance(sites, list) else []):
        rates = site.get("screening_rate") if isinstance(site, dict) else None
        if isinstance(rates, list) and rates:
            name = site.get("name", f"site {i + 1}")
            label = f"Screening rate at full speed: {name}"
            paths.insert(1 + i, (SITE_RATE.format(site=i, last=len(rates) - 1), label))
    return paths


def scenario_fields(data: Mapping[str, Any], schema: dict[str, Any]) -> list[Field]:
    """The form's fields present (as numbers) in this scenario, described by the schema."""
    fields = []
    for path, label in field_paths(data):
        value = value_at(data, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # absent or not a number here: the YAML editor has it
        node = schema_node(schema, path)
        low = node.get("minimum", node.get("exclusiveMinimum"))
        high = node.get("maximum", node.get("exclusiveMaximum"))
        fields.append(
            Field(
                path=path,
                label=label,
                value=value,
                integer=node.get("type") == "integer",
                unit=str(node.get("unit", "")),
                help=str(node.get("description", "")),
                minimum=low,
                maximum=high,
            )
        )
    return fields


def field_messages(message: str, paths: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split a ScenarioError's text into lines for the fields they name and the rest.

    The text is ``<source>: invalid scenario: PATH = VALUE: rule (fix)``, one line per
    problem; a line goes beside a field when it starts with that field's path.
    """
    by_field: dict[str, str] = {}
    rest = []
    for line in message.splitlines():
        text = re.sub(r"^<mapping>: (invalid scenario: )?", "", line.strip())
        for path in sorted(paths, key=len, reverse=True):
            if re.match(rf"(--set )?{re.escape(path)}( =|:|\b)", text):
                by_field[path] = text
                break
        else:
            if text:
                rest.append(text)
    return by_field, rest
