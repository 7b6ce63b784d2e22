"""Monte Carlo runs: reproducible whatever the workers, outputs complete, nothing overwritten."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

from sim.commands.cli import main
from sim.engine.chunk import CHUNK_SIZE, TrialModel, simulate_chunk
from sim.engine.executors import iterate_chunks, plan_chunks
from tests.helpers import BASELINE, TEXTBOOK

SUMMARY_METRICS = {
    "power",
    "events_at_analysis_mean",
    "lpi_months_median",
    "analysis_months_median",
    "p_analysis_by_completion",
    "hazard_ratio_median",
}


def test_chunks_cover_every_replicate_once():
    specs = plan_chunks(1001, chunk_size=250)
    assert sum(s.n_reps for s in specs) == 1001
    assert [s.first_rep for s in specs] == [0, 250, 500, 750, 1000]
    assert [s.n_reps for s in plan_chunks(1200)] == [CHUNK_SIZE, CHUNK_SIZE, 1200 - 2 * CHUNK_SIZE]


def test_same_seed_same_table_whatever_the_workers(textbook):
    model = TrialModel.from_scenario(textbook)
    one = pd.concat([c.replicates for c in iterate_chunks(model, 600, 5, workers=1)])
    two = pd.concat([c.replicates for c in iterate_chunks(model, 600, 5, workers=2)])
    pd.testing.assert_frame_equal(one.reset_index(drop=True), two.reset_index(drop=True))


def test_a_replicate_is_reproducible_from_its_chunk(textbook):
    model = TrialModel.from_scenario(textbook)
    full = pd.concat([c.replicates for c in iterate_chunks(model, 2 * CHUNK_SIZE, 9, 1)])
    again = simulate_chunk(model, 9, 1, CHUNK_SIZE, CHUNK_SIZE).replicates
    pd.testing.assert_frame_equal(full.iloc[CHUNK_SIZE:].reset_index(drop=True), again)


def test_different_seeds_differ(textbook):
    model = TrialModel.from_scenario(textbook)
    a = simulate_chunk(model, 1, 0, 0, 50).replicates
    b = simulate_chunk(model, 2, 0, 0, 50).replicates
    assert not np.array_equal(a["z"], b["z"])


def test_common_random_numbers_across_hazard_ratios(textbook_data):
    # Scenarios that differ only in the HR share enrollment and randomization draws.
    from tests.helpers import vary

    a = TrialModel.from_scenario(vary(textbook_data, **{"effect.hazard_ratio": 0.6}))
    b = TrialModel.from_scenario(vary(textbook_data, **{"effect.hazard_ratio": 0.8}))
    ra, rb = simulate_chunk(a, 3, 0, 0, 40).replicates, simulate_chunk(b, 3, 0, 0, 40).replicates
    assert (ra["randomized_100pct_date"] == rb["randomized_100pct_date"]).all()
    assert (ra["hazard_ratio"] != rb["hazard_ratio"]).any()


def test_seeded_regression_values(textbook):
    # Pinned values for seed 1, replicates 0..249 of textbook.yaml: any change to the stream
    # layout or the pipeline shows up here (update deliberately, with the reason, if so).
    table = simulate_chunk(TrialModel.from_scenario(textbook), 1, 0, 0, CHUNK_SIZE).replicates
    pinned = json.loads((BASELINE.parent.parent / "tests" / "regression_textbook.json").read_text())
    assert table["reject"].sum() == pinned["rejections"]
    assert table["events"].sum() == pinned["events"]
    np.testing.assert_allclose(table["z"].to_numpy()[:5], pinned["z_first5"], rtol=1e-10)
    np.testing.assert_allclose(table["lpi_months"].median(), pinned["lpi_months_median"])


def test_run_writes_the_output_contract(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            str(BASELINE),
            "--reps",
            "60",
            "--seed",
            "3",
            "--out",
            str(out),
            "--workers",
            "1",
            "--keep-patients",
            "2",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert {p.name for p in out.iterdir()} >= {
        "summary.csv",
        "timeline.csv",
        "manifest.json",
        "replicates.parquet",
        "patients.parquet",
        "screening.csv",
    }
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == [
        "metric",
        "unit",
        "estimate",
        "mc_se",
        "ci_low",
        "ci_high",
        "q05",
        "q95",
        "meaning",
    ]
    assert SUMMARY_METRICS <= set(summary["metric"])
    timeline = pd.read_csv(out / "timeline.csv")
    assert list(timeline["milestone"])[:5] == [
        "first_patient_in",
        "randomized_25pct",
        "randomized_50pct",
        "randomized_75pct",
        "randomized_100pct",
    ]
    assert (pd.to_datetime(timeline["q50"]) >= pd.Timestamp("2026-01-30")).all()
    reps = pd.read_parquet(out / "replicates.parquet")
    assert len(reps) == 60 and reps["replicate"].tolist() == list(range(60))
    patients = pd.read_parquet(out / "patients.parquet")
    assert sorted(patients["replicate"].unique()) == [0, 1]
    assert len(patients) == 2 * 104
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["replicates"] == 60
    assert manifest["scenario"]["effect"]["hazard_ratio"] == 0.6
    assert "numpy" in manifest["versions"]


def test_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", str(TEXTBOOK), "--reps", "20", "--out", str(out), "--quiet", "--workers", "1"]
    assert main(args) == 0
    before = (out / "replicates.parquet").read_bytes()
    assert main(args + ["--seed", "8"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "replicates.parquet").read_bytes() == before
    assert main(args + ["--seed", "8", "--force"]) == 0
    assert (out / "replicates.parquet").read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folders left


@pytest.mark.parametrize("override", ["effect.hazard_ratio=0.79", "analysis.cut=events"])
def test_set_overrides_reach_the_manifest(tmp_path, override):
    out = tmp_path / "o"
    assert (
        main(
            [
                "run",
                str(TEXTBOOK),
                "--set",
                override,
                "--reps",
                "10",
                "--out",
                str(out),
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    path, value = override.split("=")
    block, key = path.split(".")
    assert str(manifest["scenario"][block][key]) == value
    assert manifest["overrides"] == [override]


def test_clinic_tables_identical_whatever_the_workers(tmp_path):
    # The SimPy clinic draws from its chunk's own stream, so its tables do not depend on how
    # chunks are spread over processes (two chunks: 500 + 20 replicates).
    tables = (
        "summary.csv",
        "timeline.csv",
        "supply.csv",
        "resources.csv",
        "deviations.csv",
        "screening.csv",
    )
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        assert (
            main(
                [
                    "run",
                    str(BASELINE),
                    "--reps",
                    "520",
                    "--seed",
                    "4",
                    "--out",
                    str(out),
                    "--workers",
                    workers,
                    "--quiet",
                    "--keep-patients",
                    "0",
                ]
            )
            == 0
        )
        outs.append(out)
    for name in tables:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_a_fresh_run_starts_the_chunks_run_points_would_plan(tmp_path):
    # start_fresh asks for a run's chunks before run_points is called: the same tasks as
    # run_points plans for a folder that keeps none
    from sim.engine.executors import PointJob, shared_tasks, start_fresh

    class Recorder:
        def map_ordered(self, tasks):
            self.tasks = tasks
            return iter(())

    pool = Recorder()
    start_fresh(pool, 1234, 7, 3)
    job = PointJob(tmp_path, 1234, 7, 3)
    assert pool.tasks == shared_tasks([job], [set()], None)


def test_the_pool_gets_its_first_chunks_when_asked_not_when_read(textbook):
    # the workers compute while the main process prepares the run's folder
    from sim.engine.executors import ChunkTask, LocalExecutor

    tasks = [ChunkTask(0, spec, 5, 0) for spec in plan_chunks(4 * CHUNK_SIZE)]
    with LocalExecutor([TrialModel.from_scenario(textbook)], 2) as executor:
        results = executor.map_ordered(tasks)
        assert executor.pool is not None and executor.processes  # forked, submitted
        assert [r[0].chunk for r in results] == [0, 1, 2, 3]


def test_a_pool_told_to_exit_after_its_last_chunk_serves_a_second_batch(textbook):
    # the last chunk in releases the pool (its workers exit while the tables are written);
    # the same executor asked for more starts a new pool
    from sim.engine.executors import ChunkTask, LocalExecutor

    tasks = [ChunkTask(0, spec, 5, 0) for spec in plan_chunks(2 * CHUNK_SIZE)]
    with LocalExecutor([TrialModel.from_scenario(textbook)], 2) as executor:
        first = [r[0].files for r in executor.map_ordered(tasks)]
        assert executor.exiting is not None  # released, not yet joined
        second = [r[0].files for r in executor.map_ordered(tasks)]
    assert first == second


def hang_at_exit(task):
    """A chunk whose worker then hangs on exit (a thread that sleeps: Python joins it)."""
    from sim.engine.executors import _run_task

    threading.Thread(target=time.sleep, args=(600,)).start()
    return _run_task(task)


def test_a_released_pool_whose_workers_hang_is_stopped_after_a_failure(textbook, monkeypatch):
    # told to exit after the last chunk, the workers do not; a failure then (the tables'
    # writing, Ctrl-C) stops them instead of leaving them behind
    from sim.engine import executors
    from sim.engine.executors import ChunkTask, LocalExecutor
    from sim.storage import lifetime

    monkeypatch.setattr(executors, "STOP_SECONDS", 0.5)
    monkeypatch.setattr(lifetime, "STOP_SECONDS", 0.5)
    tasks = [ChunkTask(0, spec, 5, 0) for spec in plan_chunks(2 * CHUNK_SIZE)]
    executor = LocalExecutor([TrialModel.from_scenario(textbook)], 2)
    assert len(list(executor.map_ordered(tasks, hang_at_exit))) == 2
    manager, processes = executor.exiting, list(executor.processes.values())
    assert manager is not None and any(p.is_alive() for p in processes)
    executor.close(failed=True)
    manager.join(30)
    assert not manager.is_alive() and not any(p.is_alive() for p in processes)
