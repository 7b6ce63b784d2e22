"""The scenario's JSON Schema (`python -m sim schema`) and its reference page: every shipped
scenario validates against the exported schema with the `jsonschema` package (an independent
validator), bad ones do not, and the committed docs/scenario.md and docs/scenario.schema.json
are what the code generates today."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from sim.commands.cli import main
from sim.commands.schema import scenario_markdown, split_unit
from tests.helpers import BASELINE, ROOT

REGENERATE = (
    "regenerate: python -m sim schema > docs/scenario.schema.json && "
    "python -m sim schema --markdown > docs/scenario.md"
)


def as_json(data):
    """YAML data as JSON would carry it (dates as ISO strings), as an editor validates it."""
    return json.loads(json.dumps(data, default=str))


def scenario_files():
    return [
        p
        for p in sorted((ROOT / "scenarios").glob("*.yaml"))
        if isinstance(yaml.safe_load(p.read_text()), dict)
    ]


@pytest.fixture(scope="session")
def validator(scenario_json_schema):
    jsonschema.Draft202012Validator.check_schema(scenario_json_schema)
    return jsonschema.Draft202012Validator(scenario_json_schema)


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.name)
def test_every_scenario_validates_against_the_exported_schema(path, validator):
    errors = [e.message for e in validator.iter_errors(as_json(yaml.safe_load(path.read_text())))]
    assert not errors, errors
    header = "# yaml-language-server: $schema=../docs/scenario.schema.json"
    assert path.read_text().startswith(header)


@pytest.mark.parametrize(
    "change, where",
    [
        ({"effect": {"hazard_ratio": -0.6}}, "hazard_ratio"),
        ({"analysis": {"cut": "sometime"}}, "cut"),
        (
            {
                "trial": {
                    "id": "X",
                    "start_date": "2026-01-30",
                    "completion_date": "2028-12-31",
                    "sample_size": 104,
                    "sample_sise": 1,
                }
            },
            "sample_sise",
        ),
    ],
)
def test_schema_rejects_what_the_models_reject(change, where, validator):
    data = as_json(yaml.safe_load(BASELINE.read_text()))
    for block, fields in change.items():
        data[block] = {**data[block], **fields}
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert where in messages or any(where in str(list(e.path)) for e in validator.iter_errors(data))


def test_schema_carries_descriptions_units_and_defaults(scenario_json_schema):
    schema = scenario_json_schema
    hr = schema["$defs"]["Effect"]["properties"]["hazard_ratio"]
    hr = next(x for x in hr.get("anyOf", [hr]) if "exclusiveMinimum" in x)  # optional (NPH)
    assert hr["exclusiveMinimum"] == 0
    analysis = schema["$defs"]["Analysis"]["properties"]
    assert analysis["alpha"]["default"] == 0.05
    assert split_unit("Median PFS [months].") == ("Median PFS.", "months")
    assert split_unit("Allocation ratio (e.g. [1, 1]).") == (
        "Allocation ratio (e.g. [1, 1]).",
        None,
    )


def test_every_field_has_a_description(scenario_json_schema):
    schema = scenario_json_schema
    missing = [
        f"{name}.{field}"
        for name, model in schema["$defs"].items()
        for field, node in model.get("properties", {}).items()
        if not node.get("description")
    ]
    missing += [
        f"Scenario.{f}" for f, n in schema["properties"].items() if not n.get("description")
    ]
    assert not missing, (
        "fields without a docstring (add one on the line below the field, "
        f"unit in [brackets]): {missing}"
    )


def test_schema_command_prints_the_schema(capsys, scenario_json_schema):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(scenario_json_schema))


def test_committed_schema_and_docs_are_current(scenario_json_schema):
    committed = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert committed == json.loads(json.dumps(scenario_json_schema)), REGENERATE
    assert (ROOT / "docs" / "scenario.md").read_text() == scenario_markdown(), REGENERATE
