"""The Python API (`import sim`): the example of docs/api.md runs as written, and the API gives
the tables the command line writes for the same seed."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import sim
from sim.commands.cli import main
from tests.helpers import ROOT, TEXTBOOK, python_output


def api_page_example() -> str:
    """The first Python block of docs/api.md (the README's "Python API" section until issue 30)."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_api_page_example_runs_as_written(tmp_path, monkeypatch):
    code = api_page_example()
    assert "sim.simulate(scenario, reps=2000" in code  # the page shows a real run size
    code = code.replace("reps=2000", "reps=40").replace('"results/', f'"{tmp_path}/results/')
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)
    results, again = namespace["results"], namespace["again"]
    assert (tmp_path / "results" / "hr07" / "manifest.json").is_file()
    pd.testing.assert_frame_equal(results.summary, again.summary)
    assert results.scenario.effect.hazard_ratio == 0.7
    assert {"summary", "timeline", "replicates", "supply"} <= set(again.tables)


def test_api_tables_match_the_command_line(tmp_path):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "run",
                str(TEXTBOOK),
                "--set",
                "effect.hazard_ratio=0.7",
                "--reps",
                "600",
                "--seed",
                "5",
                "--workers",
                "2",
                "--keep-patients",
                "2",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    scenario = sim.load_scenario(TEXTBOOK, overrides={"effect.hazard_ratio": 0.7})
    results = sim.simulate(scenario, reps=600, seed=5, workers=1, keep_patients=2, progress=False)
    cli = sim.read_results(out)
    for name in ("summary", "timeline", "replicates", "patients"):
        pd.testing.assert_frame_equal(results.table(name), cli.table(name), check_exact=True)
    design = sim.design(scenario)
    assert "power_schoenfeld" in set(design["quantity"])


def test_api_analyze_matches_the_analyze_command(tmp_path, capsys):
    results = sim.simulate(TEXTBOOK, reps=20, seed=2, keep_patients=1, progress=False)
    patients = results.table("patients")
    table = sim.analyze(
        patients, time="pfs_days_at_cut", event="pfs_event_at_cut", arm="arm", strata="stratum"
    )
    path = tmp_path / "patients.parquet"
    patients.to_parquet(path)
    out = tmp_path / "a.csv"
    assert main(["analyze", str(path), "--strata", "stratum", "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(table, pd.read_csv(out), check_exact=False, rtol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: sim.load_scenario(TEXTBOOK, overrides={"effect.hazard_ratio": -1}),
            "effect.hazard_ratio = -1",
        ),
        (lambda: sim.load_scenario(ROOT / "nope.yaml"), "no such file"),
        (lambda: sim.simulate(TEXTBOOK, reps=0), "reps = 0"),
        (lambda: sim.simulate(TEXTBOOK, reps=10, adam=-1), "adam = -1: must be a whole number"),
        (lambda: sim.read_results(ROOT / "scenarios"), "not a run folder"),
        (lambda: sim.analyze(42), "not a pandas DataFrame, a file or a folder"),
        (lambda: sim.analyze("not a frame"), "not a frame: no such file"),
        (lambda: sim.sweep(TEXTBOOK, {"effect.hazard_ratio": []}), "must be a non-empty list"),
        (lambda: sim.sweep(TEXTBOOK, {"effect.hazard_rate": [0.5]}), "did you mean"),
        (lambda: sim.sweep(TEXTBOOK), "nothing to sweep"),
        (
            lambda: sim.simulate(sim.load_scenario(TEXTBOOK), overrides=["trial.sample_size=9"]),
            "a loaded Scenario takes none",
        ),
    ],
)
def test_api_bad_input_raises_the_cli_error(call, message):
    with pytest.raises(sim.ScenarioError, match=re.escape(message)):
        call()


def test_import_sim_is_light():
    code = "import sys, sim; print('pandas' in sys.modules, 'sim.api' in sys.modules)"
    shown = python_output(code).split()
    assert shown == ["False", "False"]


def test_api_options_past_the_first_two_arguments_are_keyword_only():
    import inspect

    from sim import api

    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for name in sim.API:
        function = getattr(api, name)
        if not inspect.isfunction(function):
            continue
        parameters = inspect.signature(function).parameters.values()
        assert len([p for p in parameters if p.kind in positional]) <= 2, name
        assert all(p.annotation is not inspect.Parameter.empty for p in parameters), name


def test_the_api_never_imports_the_command_line():
    code = "import sys, sim.api; print(any(m.startswith('sim.commands') for m in sys.modules))"
    shown = python_output(code).split()
    assert shown == ["False"]


def test_a_notebook_shows_a_results_answers(tmp_path):
    """In a notebook a result displays the answers its report opens with (a sweep: the key
    metrics per point), under the repr's line; a folder that cannot give them shows the
    plain repr (None)."""
    results = sim.simulate(TEXTBOOK, reps=50, seed=2, workers=1, progress=False)
    shown = results._repr_html_()
    from sim.outputs.report import answers_html

    body = answers_html(results.folder, results.manifest, results.summary, results.timeline)
    assert shown.endswith("\n".join(body))
    assert "<b>On time?</b>" in shown and "Power at the analysis as planned" in shown
    swept = sim.sweep(
        TEXTBOOK, grid={"effect.hazard_ratio": [0.6, 0.8]}, reps=50, workers=1, progress=False
    )
    assert 'data-table="sweep_key"' in swept._repr_html_()
    from sim.api.results import Results

    folder = results.save(tmp_path / "run")
    (folder / "timeline.csv").unlink()  # cut short: no answers to show
    assert Results(folder)._repr_html_() is None
