"""Scenario loading: the shipped files validate; each kind of bad input gets a clear message,
exit status 2, and nothing written."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from sim.commands.cli import main
from sim.scenario import ScenarioError, load_scenario, parse_scenario
from tests.helpers import BASELINE, TEXTBOOK, assert_run_rejects, vary


def test_shipped_scenarios_validate():
    for path in (BASELINE, TEXTBOOK):
        scenario = load_scenario(path)
        assert scenario.trial.sample_size == 104


def test_scenario_is_frozen(baseline):
    with pytest.raises(ValidationError, match="frozen"):
        baseline.effect.hazard_ratio = 0.5  # type: ignore[misc]


def test_override_changes_one_field():
    scenario = load_scenario(
        BASELINE, ["effect.hazard_ratio=0.79", "enrollment.sites.0.screening_rate.3.per_month=10"]
    )
    assert scenario.effect.hazard_ratio == 0.79
    assert scenario.enrollment.sites[0].screening_rate[3].per_month == 10


def test_every_baseline_number_has_a_source_comment():
    # The baseline promises a source for every number: registry, calibration, EST or assumption.
    words = ("registry", "calibration", "assumption", "est")
    for line in BASELINE.read_text().splitlines():
        body = line.split("#")[0]
        if any(ch.isdigit() for ch in body) and ":" in body:
            comment = line.split("#", 1)[1].lower() if "#" in line else ""
            assert any(w in comment for w in words), line


BAD_FIELDS = [
    # (dotted path, value, text the message must contain)
    ("enrollment.sites.0.screening_rate.0.per_month", -3, "greater than or equal to 0 (use"),
    ("effect.hazard_ratio", 0, "greater than 0 (use a value > 0"),
    ("effect.hazard_ratio", -0.6, "greater than 0"),
    ("effect.hazard_ratio", "strong", "unable to parse string as a number (write a plain number"),
    ("trial.start_date", "30 Jan 2026", "YYYY-MM-DD"),
    ("analysis.cut", "sometime", "'events', 'date' or 'first'"),
    ("dropout.probability", 1.5, "less than or equal to 1"),
    ("analysis.event_target", 150, "above trial.sample_size"),
    ("trial.completion_date", "2025-01-01", "out of order"),
    ("analysis.cut_date", "2025-06-01", "out of order"),
    ("randomization.block_sizes", [5], "not a multiple"),
    ("radiotherapy.fraction_times", ["08:30", "12:00"], "min_gap_hours"),
    ("analysis.looks", 2, "valid tuple (write a list"),
]


@pytest.mark.parametrize(("path", "value", "rule"), BAD_FIELDS)
def test_bad_field_names_path_value_and_rule(baseline_data, path, value, rule):
    with pytest.raises(ScenarioError) as info:
        vary(baseline_data, **{path: value})
    message = str(info.value)
    assert rule in message
    assert path.split(".")[0] in message and path.split(".")[-1] in message
    assert repr(value) in message or str(value) in message


def test_unknown_key_is_an_error(baseline_data):
    data = dict(baseline_data, efect={"hazard_ratio": 0.6})
    with pytest.raises(ScenarioError, match=r"efect: unknown key"):
        parse_scenario(data)


def write(tmp_path, text: str):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("trial: [unclosed\n", "malformed YAML"),
        ("- just\n- a list\n", "the file is a list, not a scenario"),
        ("- {name: a, set: {}}\n", "--variants"),  # a sweep's variants given as a scenario
        ("42\n", "the file is a single value, not a scenario"),
        ("# nothing but a comment\n", "the file is empty"),
        ("!!python/object/apply:os.system ['echo hi']\n", "malformed YAML"),  # safe_load only
    ],
)
def test_bad_files_exit_2_and_write_nothing(tmp_path, capsys, text, needle):
    path = write(tmp_path, text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--reps", "10", "--out", str(out), "--quiet"])
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("effect.hazard_ratio=-1", "effect.hazard_ratio = -1"),
        ("analysis.event_target=200", "above trial.sample_size"),
        ("enrollment.sites.0.screening_rate.0.per_month=-2", "screening_rate.0.per_month = -2"),
        ("efect.hazard_ratio=0.5", "unknown key"),
        ("trial.start_date=2029-01-01", "out of order"),
        ("effect.hazard_ratio", "PATH=VALUE"),
    ],
)
def test_bad_overrides_exit_2_and_write_nothing(tmp_path, capsys, override, needle):
    assert_run_rejects(tmp_path, capsys, override, needle)


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--reps", "-5", "--out", str(tmp_path / "o")]) == 2
    assert "-5: must be a whole number from 1 to 10,000,000" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.yaml: no such file" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_validate_prints_resolved_scenario(capsys):
    assert main(["validate", str(BASELINE), "--set", "effect.hazard_ratio=0.79"]) == 0
    out = capsys.readouterr().out
    assert "hazard_ratio: 0.79" in out
