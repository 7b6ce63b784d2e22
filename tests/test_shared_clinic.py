"""Sweep points that differ only in their analysis share one clinic: one SimPy run of each
replicate, counted at each point's own final analysis. Points whose clinics differ but draw
the same numbers (the treatment, Quad Shot and patients blocks alike: other effects,
accrual, dropout, event probabilities) share the draws: made once for all, and so are the
events' consequences of points with the same events and arms. The tables are
those of one run per point, to the last bit (double programming: the shared paths against
the plain one).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from sim.clinic.model import run_replicate, run_replicate_horizons, tally_replicates
from sim.engine.chunk import TrialModel, clinic_key, draws_key, simulate_chunk, simulate_chunks
from sim.engine.executors import PointJob, shared_tasks, write_order
from tests.helpers import assert_same_tables, vary

N_REPS = 12  # replicates per chunk here: with 2 kept (the patient-table path), 10 shared
SMALL = {"trial.sample_size": 40, "analysis.event_target": 30}  # the baseline, for speed


@pytest.fixture(scope="module")
def models(baseline_data) -> list[TrialModel]:
    """The baseline (a smaller trial, for speed) and three points changing its analysis."""
    return [
        TrialModel.from_scenario(vary(baseline_data, **{**SMALL, **change}))
        for change in (
            {},
            {"analysis.alpha": 0.05},
            {"analysis.event_target": 20},
            {"analysis.event_target": 35, "analysis.lag_days": 45},
        )
    ]


def test_analysis_settings_share_the_clinic_and_the_rest_does_not(baseline_data, models):
    from sim.engine.chunk import CLINIC_BLIND
    from sim.scenario import Analysis

    assert set(CLINIC_BLIND) <= set(Analysis.model_fields)  # a renamed field shares nothing
    assert len({clinic_key(m) for m in models}) == 1
    other = TrialModel.from_scenario(vary(baseline_data, **{"effect.hazard_ratio": 0.8}))
    assert clinic_key(other) != clinic_key(models[0])  # other outcomes, other patients
    cut = TrialModel.from_scenario(vary(baseline_data, **{"analysis.cut_date": "2029-06-30"}))
    assert clinic_key(cut) != clinic_key(models[0])  # the monthly tables' months differ
    looks = TrialModel.from_scenario(
        vary(baseline_data, **{"analysis.looks": [{"events": 35}, {"events": 70}]})
    )
    assert clinic_key(looks) is None  # an early stop changes who is treated


def assert_same_chunk(a, b) -> None:
    pd.testing.assert_frame_equal(a.replicates, b.replicates, check_exact=True)
    for x, y in ((a.patients, b.patients), (a.monthly, b.monthly)):
        assert (x is None) == (y is None)
        if x is not None:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
    assert list(a.sums) == list(b.sums)
    for name in a.sums:
        pd.testing.assert_frame_equal(a.sums[name], b.sums[name], check_exact=True)


def test_shared_chunks_are_each_points_own(models, monkeypatch):
    import sim.engine.clinic_bridge as bridge

    calls = []
    share = bridge.run_clinic_shared
    monkeypatch.setattr(bridge, "run_clinic_shared", lambda *a: calls.append(1) or share(*a))
    shared = simulate_chunks(models, 3, 1, 500, N_REPS, keep_patients=502)
    assert calls == [1]  # the four points' clinic in one
    horizons = {float(r.replicates["analysis_months"].mean()) for r in shared}
    assert len(horizons) == 3  # three horizons (alpha changes none): a real test
    for model, result in zip(models, shared, strict=True):
        assert_same_chunk(result, simulate_chunk(model, 3, 1, 500, N_REPS, keep_patients=502))


def test_points_not_sharing_a_clinic_run_their_own(baseline_data, models):
    other = TrialModel.from_scenario(vary(baseline_data, **SMALL, **{"effect.hazard_ratio": 0.8}))
    together = simulate_chunks([models[0], other], 2, 0, 0, 4)
    for model, result in zip([models[0], other], together, strict=True):
        assert_same_chunk(result, simulate_chunk(model, 2, 0, 0, 4))


def test_one_run_split_at_each_horizon_is_a_run_per_horizon(models):
    from benchmarks.bench_clinic import baseline_inputs, replicate_call

    model = models[0]
    inputs = baseline_inputs(model, 4, 3)
    for r in range(3):
        args, named = replicate_call(model, inputs, r)
        first = named.pop("horizon_day")
        rest = named
        horizons = [first, first - 90.5, np.inf, first, first + 200, 0.0]  # any order
        split = run_replicate_horizons(*args, horizons=horizons, **rest)
        for horizon, run in zip(horizons, split, strict=True):
            alone = run_replicate(*args, horizon_day=horizon, to_end=True, **rest)
            assert_same_tables(tally_replicates([run.records]), tally_replicates([alone.records]))


def test_several_horizons_need_a_run_to_the_end(models):
    from benchmarks.bench_clinic import baseline_inputs
    from sim.clinic.model import run_course

    model = models[0]
    inputs = baseline_inputs(model, 4, 1)
    with pytest.raises(ValueError, match="several horizons"):
        run_course(
            model.scenario,
            model.calendar,
            inputs["draws"],
            0,
            inputs["rand_day"][0],
            inputs["arm"][0],
            inputs["stop_day"][0],
            inputs["stop_reason"][0],
            horizons=(100.0, 200.0),
            keep_log=True,
            stratum=None,
            adverse_events=None,
            to_end=True,
            keep_records=False,
            shortcut=True,
        )


def test_a_chunk_is_computed_once_for_every_point_sharing_it(tmp_path):
    jobs = [PointJob(tmp_path / str(i), 1200, 1, 3) for i in range(5)]
    jobs[3] = None  # finished before a resume
    jobs[4] = PointJob(tmp_path / "4", 1200, 2, 3)  # another seed: nothing to share
    keys = ["a", None, "a", "a", "a"]
    done = [{1}, set(), {0}, set(), set()]  # chunks kept from an interrupted run
    tasks = shared_tasks(jobs, done, keys)
    assert [(t.point, t.spec.chunk, t.shared) for t in tasks] == [
        (0, 0, ()),
        (0, 2, (2,)),  # point 2 has chunk 0; point 0 has chunk 1
        (1, 0, ()),
        (1, 1, ()),
        (1, 2, ()),
        (2, 1, ()),  # point 0 had it, point 2 has not
        (4, 0, ()),
        (4, 1, ()),
        (4, 2, ()),
    ]
    assert [t.spec.chunk for t in shared_tasks(jobs, done, None) if t.point == 0] == [0, 2]
    # each point once its last chunk is in: point 2's chunk 1 comes after point 1's; point
    # 3 (finished) is not written
    assert write_order(jobs, tasks) == [0, 1, 2, 4]
    assert write_order(jobs, tasks[:2] + tasks[5:6]) == [1, 4, 0, 2]  # 1, 4: no task


def test_a_sweep_sharing_its_clinic_and_draws_writes_the_tables_of_one_without(
    baseline_data, tmp_path, monkeypatch
):
    import sim.engine.executors as executors
    from sim.engine.sweep import expand_points, run_sweep

    data = copy.deepcopy(baseline_data)
    data["trial"]["sample_size"], data["analysis"]["event_target"] = 40, 30
    variants = [
        ("base", {}),
        ("target 20", {"analysis.event_target": 20}),  # the base's clinic
        ("HR 0.8", {"effect.hazard_ratio": 0.8}),  # a clinic of its own, the base's draws
    ]
    points = expand_points(data, {}, variants, "small")
    kwargs = {
        "reps": 20,
        "seed": 4,
        "workers": 1,
        "grid": {},
        "variants": variants,
        "keep_patients": 2,
    }
    planned = []
    plan = executors.shared_tasks
    monkeypatch.setattr(
        executors, "shared_tasks", lambda *a: planned.append(plan(*a)) or planned[-1]
    )
    run_sweep(points, points[0].scenario, tmp_path / "shared", **kwargs)
    monkeypatch.setattr(executors, "clinic_keys", lambda models: [None] * len(models))
    monkeypatch.setattr(executors, "draws_keys", lambda models: [None] * len(models))
    run_sweep(points, points[0].scenario, tmp_path / "alone", **kwargs)
    assert [[t.points for t in tasks] for tasks in planned] == [[(0, 1, 2)], [(0,), (1,), (2,)]]
    files = sorted(
        p.relative_to(tmp_path / "alone")
        for p in (tmp_path / "alone").rglob("*")
        if p.suffix in (".csv", ".parquet")
    )
    assert len(files) > 10
    for name in files:
        a, b = tmp_path / "alone" / name, tmp_path / "shared" / name
        if name.suffix == ".csv":
            assert a.read_bytes() == b.read_bytes(), name
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)


def test_a_task_shares_a_clinic_among_a_few_points_at_most(tmp_path):
    from sim.engine.executors import SHARED_POINTS

    jobs = [PointJob(tmp_path / str(i), 500, 1, 0) for i in range(2 * SHARED_POINTS + 1)]
    tasks = shared_tasks(jobs, [set() for _ in jobs], ["a"] * len(jobs))
    assert [t.points for t in tasks] == [
        tuple(range(0, SHARED_POINTS)),
        tuple(range(SHARED_POINTS, 2 * SHARED_POINTS)),
        (2 * SHARED_POINTS,),
    ]


@pytest.fixture(scope="module")
def drawn_alike(baseline_data, models) -> list[TrialModel]:
    """Points of other clinics that draw the baseline's clinic numbers: another effect,
    every adverse event delaying its next cycle, slower accrual; and one that shares the
    baseline's clinic itself."""
    return [
        models[0],
        TrialModel.from_scenario(vary(baseline_data, **SMALL, **{"effect.hazard_ratio": 0.8})),
        TrialModel.from_scenario(
            vary(
                baseline_data,
                **SMALL,
                **{"safety.events.0.delay": {2: 1.0, 3: 1.0, 4: 1.0}},
            )
        ),
        models[2],
        TrialModel.from_scenario(
            vary(baseline_data, **SMALL, **{"enrollment.sites.0.screening_rate.3.per_month": 5})
        ),
    ]


def test_points_of_other_clinics_draw_alike_and_others_do_not(baseline_data, drawn_alike):
    keys = {draws_key(m) for m in drawn_alike}
    assert len(keys) == 1 and None not in keys
    assert len({clinic_key(m) for m in drawn_alike}) == 4  # clinics of their own, but two
    for change in (
        {"radiotherapy.complete_all_courses": 0.59},  # other courses drawn
        {"treatment.cycle1_within_days": 14},  # other first-cycle offsets
        {"analysis.cut_date": "2029-06-30"},  # the background load of more days
        {"trial.sample_size": 44},  # more patients a replicate
    ):
        other = TrialModel.from_scenario(vary(baseline_data, **{**SMALL, **change}))
        assert draws_key(other) != draws_key(drawn_alike[0]), change
    looks = TrialModel.from_scenario(
        vary(baseline_data, **SMALL, **{"analysis.looks": [{"events": 15}, {"events": 30}]})
    )
    assert draws_key(looks) is None


def test_points_drawing_alike_draw_once_and_keep_their_own_tables(drawn_alike, monkeypatch):
    import sim.clinic.model as clinic_model
    import sim.clinic.safety as safety
    from sim.engine.clinic_bridge import replicate_blocks

    counts = {"clinic": 0, "events": 0, "plans": 0}
    draw_clinic, draw_block = clinic_model.draw_clinic, safety.draw_adverse_event_block
    plan = clinic_model.plan_adverse_events

    def counted(name, function):
        def call(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(clinic_model, "draw_clinic", counted("clinic", draw_clinic))
    monkeypatch.setattr(safety, "draw_adverse_event_block", counted("events", draw_block))
    monkeypatch.setattr(clinic_model, "plan_adverse_events", counted("plans", plan))
    together = simulate_chunks(drawn_alike, 3, 1, 500, N_REPS, keep_patients=502)
    blocks = len(replicate_blocks(N_REPS))
    # planned three times a block: once for the points of the base's events and arms (the
    # base, another effect), once for the point whose events delay every next cycle, once
    # for slower accrual (other patients randomized in the block: other arms)
    assert counts == {"clinic": 1, "events": blocks, "plans": 3 * blocks}
    monkeypatch.undo()
    for model, result in zip(drawn_alike, together, strict=True):
        assert_same_chunk(result, simulate_chunk(model, 3, 1, 500, N_REPS, keep_patients=502))


def test_a_task_takes_its_clinic_first_then_its_draws(tmp_path):
    from sim.engine.executors import SHARED_POINTS

    jobs = [PointJob(tmp_path / str(i), 500, 1, 0) for i in range(8)]
    clinics = ["a", "b", "c", "a", None, "d", "a", "e"]
    draws = ["x", "x", "x", "x", None, "y", "x", "x"]
    tasks = shared_tasks(jobs, [set() for _ in jobs], clinics, draws)
    assert SHARED_POINTS == 4
    assert [t.points for t in tasks] == [(0, 1, 3, 6), (2, 7), (4,), (5,)]
    # written as their last chunk comes in: 3 and 6 with 0, before 2 and 5; 7 with 2
    assert write_order(jobs, tasks) == [0, 1, 3, 6, 2, 7, 4, 5]
    assert [t.points for t in shared_tasks(jobs, [set() for _ in jobs], clinics)] == [
        (0, 3, 6),
        (1,),
        (2,),
        (4,),
        (5,),
        (7,),
    ]
