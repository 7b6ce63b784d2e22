"""Sweeps: every point validated before any runs, common random numbers, the output contract."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.commands.cli import EXIT_BAD_INPUT
from sim.engine.sweep import check_schema_path, expand_points, parse_grid, run_sweep
from sim.scenario import ScenarioError, parse_scenario
from tests.helpers import TEXTBOOK, run_command, scenario_data

REPS = 200  # per point: enough for the contract, small enough to keep the file at ~2 s
MILESTONE_DATES = [
    "first_patient_in_date",
    "randomized_25pct_date",
    "randomized_50pct_date",
    "randomized_75pct_date",
    "randomized_100pct_date",
]


def sweep_args(out, *extra: str) -> list[str]:
    return [
        "sweep",
        str(TEXTBOOK),
        "--reps",
        str(REPS),
        "--seed",
        "7",
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def hr_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "hr"
    assert run_command(sweep_args(out, "--grid", "effect.hazard_ratio=0.6,1.0")) == 0
    return out


def test_grid_values_are_yaml_and_lists_stay_whole():
    assert parse_grid("effect.hazard_ratio=0.5,0.6,1") == ("effect.hazard_ratio", [0.5, 0.6, 1])
    assert parse_grid("randomization.block_sizes=[4, 6],[4]")[1] == [[4, 6], [4]]


def test_sweep_writes_one_run_per_point_and_the_table(hr_sweep):
    names = sorted(p.name for p in hr_sweep.iterdir())
    assert names == [
        "01_hazard_ratio-0.6",
        "02_hazard_ratio-1.0",
        "manifest.json",
        "plots",
        "sweep.csv",
        "sweep_long.csv",
    ]
    for point in names[:2]:
        assert {"summary.csv", "timeline.csv", "manifest.json", "replicates.parquet"} <= {
            p.name for p in (hr_sweep / point).iterdir()
        }
    table = pd.read_csv(hr_sweep / "sweep.csv")
    summary = pd.read_csv(hr_sweep / names[0] / "summary.csv")
    assert table["effect.hazard_ratio"].tolist() == [0.6, 1.0]
    for metric in summary["metric"]:
        assert {metric, f"{metric}_mc_se"} <= set(table.columns)
    assert table.loc[0, "power"] == summary.set_index("metric").at["power", "estimate"]
    assert table.loc[0, "power"] > table.loc[1, "power"]  # HR 0.6 beats no effect
    manifest = json.loads((hr_sweep / "manifest.json").read_text())
    assert manifest["kind"] == "sweep"
    assert manifest["grid"] == {"effect.hazard_ratio": [0.6, 1.0]}
    assert (manifest["seed"], manifest["replicates"]) == (7, REPS)
    assert [p["name"] for p in manifest["points"]] == names[:2]
    point = json.loads((hr_sweep / names[1] / "manifest.json").read_text())
    assert point["seed"] == 7 and point["overrides"] == ["effect.hazard_ratio=1.0"]
    assert sorted(p.name for p in (hr_sweep / "plots").glob("*.png")) == [
        "analysis_date.png",
        "power_curve.png",
        "power_tradeoff.png",
    ]


def api_hr_sweep(out):
    """`sim.sweep` of the `hr_sweep` command's points into `out`."""
    import sim

    return sim.sweep(
        TEXTBOOK,
        {"effect.hazard_ratio": [0.6, 1.0]},
        reps=REPS,
        seed=7,
        workers=1,
        progress=False,
        out=out,
    )


def test_api_sweep_writes_the_commands_folder(hr_sweep, tmp_path):
    results = api_hr_sweep(tmp_path / "api")
    assert (tmp_path / "api" / "sweep.csv").read_bytes() == (hr_sweep / "sweep.csv").read_bytes()
    assert results.table("sweep")["label"].tolist() == ["hazard_ratio=0.6", "hazard_ratio=1.0"]
    mine, theirs = (
        json.loads((f / "manifest.json").read_text()) for f in (tmp_path / "api", hr_sweep)
    )
    assert mine["points"] == theirs["points"] and mine["scenario_path"] == str(TEXTBOOK)


def test_a_sweep_imports_its_figures_while_the_chunks_compute(tmp_path, monkeypatch):
    # the figures' libraries (matplotlib, seaborn: about 0.55 s) are imported once the
    # chunks are asked for, before the first is read, not once the last point is in
    import sim.outputs.plots as plots
    from sim.engine import executors

    chunks: list[int] = []
    prepared: list[int] = []
    real_run_points = executors.run_points

    def run_points(executor, jobs, on_chunk=None, **kwargs):
        def counted(n):
            chunks.append(n)
            if on_chunk:
                on_chunk(n)

        return real_run_points(executor, jobs, counted, **kwargs)

    monkeypatch.setattr(executors, "run_points", run_points)
    monkeypatch.setattr(plots, "theme", lambda: prepared.append(len(chunks)))
    api_hr_sweep(tmp_path / "sweep")
    assert prepared == [0] and len(chunks) == 2
    assert sorted(p.name for p in (tmp_path / "sweep" / "plots").glob("*.png"))


def test_points_differing_only_in_hr_share_enrollment(hr_sweep):
    # Common random numbers: the same seed at every point gives replicate r the same
    # enrollment draws, so milestone dates agree replicate by replicate; outcomes differ.
    a = pd.read_parquet(hr_sweep / "01_hazard_ratio-0.6" / "replicates.parquet")
    b = pd.read_parquet(hr_sweep / "02_hazard_ratio-1.0" / "replicates.parquet")
    pd.testing.assert_frame_equal(a[MILESTONE_DATES], b[MILESTONE_DATES])
    assert (a["hazard_ratio"] != b["hazard_ratio"]).any()


def test_grid_axes_multiply_and_one_bar_counts_every_replicate(tmp_path, textbook):
    grid = {"effect.hazard_ratio": [0.6, 0.8], "analysis.event_target": [60, 70]}
    points = expand_points(scenario_data(TEXTBOOK), grid, [], str(TEXTBOOK))
    assert [p.params for p in points] == [
        {"effect.hazard_ratio": 0.6, "analysis.event_target": 60},
        {"effect.hazard_ratio": 0.6, "analysis.event_target": 70},
        {"effect.hazard_ratio": 0.8, "analysis.event_target": 60},
        {"effect.hazard_ratio": 0.8, "analysis.event_target": 70},
    ]
    done = []
    table = run_sweep(
        points,
        textbook,
        tmp_path / "s",
        reps=60,
        seed=2,
        workers=1,
        grid=grid,
        variants=[],
        keep_patients=0,
        on_chunk=done.append,
    )
    assert sum(done) == 4 * 60  # the progress bar's total: points x reps
    assert table[["effect.hazard_ratio", "analysis.event_target"]].values.tolist() == [
        [0.6, 60],
        [0.6, 70],
        [0.8, 60],
        [0.8, 70],
    ]


def test_variants_file_names_the_points(tmp_path):
    variants = tmp_path / "variants.yaml"
    variants.write_text(
        "- name: slow accrual\n  set: {enrollment.screening_rate.3.per_month: 4}\n"
        "- name: high dropout\n  set: {dropout.probability: 0.2}\n"
    )
    out = tmp_path / "v"
    assert run_command(sweep_args(out, "--variants", str(variants))) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert table["variant"].tolist() == ["slow accrual", "high dropout"]
    # each row shows every swept path; a point that leaves one alone shows the base value
    assert table["dropout.probability"].tolist() == [0.05, 0.2]
    assert table["enrollment.screening_rate.3.per_month"].tolist() == [4, 5.6]
    assert table.loc[0, "lpi_months_median"] > table.loc[1, "lpi_months_median"]


@pytest.mark.parametrize(
    "grid, words",
    [
        (["--grid", "effect.hazard_ration=0.5,0.6"], ["effect.hazard_ration", "hazard_ratio"]),
        (["--grid", "effect.hazard_ratio="], ["effect.hazard_ratio", "empty"]),
        (["--grid", "effect.hazard_ratio=0.5,abc"], ["effect.hazard_ratio", "'abc'", "number"]),
        (["--grid", "trial.sample_size=104,100.5"], ["trial.sample_size", "100.5", "whole"]),
        (["--grid", "effect.hazard_ratio=0.5,-1"], ["point 2", "effect.hazard_ratio", "> 0"]),
        (["--grid", "enrollment.screening_rate.9.per_month=3"], ["screening_rate.9", "0..3"]),
        (["--grid", "effect.hazard_ratio.x=1"], ["effect.hazard_ratio", "not a block"]),
        ([], ["nothing to sweep", "--grid"]),
    ],
)
def test_bad_grid_fails_fast_with_one_message_and_writes_nothing(tmp_path, capsys, grid, words):
    out = tmp_path / "bad"
    assert run_command(sweep_args(out, *grid)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    for word in words:
        assert word in err
    assert list(tmp_path.iterdir()) == []  # not the sweep, not a staging folder, no point


def test_schema_paths_follow_tables_and_optional_blocks():
    check_schema_path("enrollment.screening_rate.3.per_month", "--grid")
    check_schema_path("treatment.delay.probability", "--grid")  # optional block
    check_schema_path("randomization.strata.squamous", "--grid")  # free dict keys
    with pytest.raises(ScenarioError, match="row number"):
        check_schema_path("enrollment.screening_rate.last.per_month", "--grid")


def test_existing_sweep_folder_needs_force(hr_sweep, capsys):
    before = (hr_sweep / "sweep.csv").read_bytes()
    assert run_command(sweep_args(hr_sweep, "--grid", "effect.hazard_ratio=0.7")) == 2
    assert "--force" in capsys.readouterr().err
    assert (hr_sweep / "sweep.csv").read_bytes() == before


def test_sweep_points_are_valid_scenarios_of_the_base(textbook_data):
    points = expand_points(textbook_data, {"dropout.probability": [0.1]}, [], "t")
    expected = parse_scenario({**textbook_data, "dropout": {"probability": 0.1, "months": 12}})
    assert points[0].scenario == expected


def test_shipped_sensitivity_variants_are_valid_scenarios():
    # scenarios/sensitivity.yaml is a planner's ready-made sweep: every variant must validate.
    from sim.engine.sweep import expand_points, read_variants
    from sim.scenario import read_scenario_yaml
    from tests.helpers import BASELINE

    variants = read_variants(BASELINE.parent / "sensitivity.yaml")
    points = expand_points(read_scenario_yaml(BASELINE), {}, variants, str(BASELINE))
    assert len(points) == len(variants) >= 15
    by_name = {p.variant: p.scenario for p in points}
    assert by_name["HR 1.0 (null)"].effect.hazard_ratio == 1.0
    assert by_name["scans every 9 weeks"].assessments.schedule[0].every_weeks == 9
