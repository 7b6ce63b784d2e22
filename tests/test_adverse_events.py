"""Safety: adverse events and the clinic's toxicity as their consequences (one process).

Unit tests on hand-made uniforms; a binomial check of incidence against the per-cycle
probabilities; invariants of whole chunks (every AE before the patient's death and the
analysis; no delay, reduction or discontinuation without an event).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.clinic.model import draw_clinic, simulate_clinic
from sim.clinic.safety import AeDraws, SafetyTables, draw_adverse_events, plan_consequences
from sim.conduct.calendar import StudyCalendar
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.results import summarize
from sim.scenario import ScenarioError
from tests.helpers import vary

UNLIMITED = {"radiotherapy.linac": None, "treatment.chairs": None}
MONDAY = 3  # day 3 of the baseline (2026-02-02) is a Monday


def quiet_draws(scenario, n: int) -> AeDraws:
    """Uniforms under which nothing happens (all 1 - eps), to be edited by hand."""
    ae = draw_adverse_events(scenario, n, np.random.default_rng(0))
    return AeDraws(
        *(
            np.full_like(x, 0.999999)
            for x in (
                ae.cycle,
                ae.cycle_grade,
                ae.cycle_onset,
                ae.cycle_action,
                ae.course,
                ae.course_grade,
                ae.course_onset,
                ae.course_action,
            )
        )
    )


def test_an_event_delays_reduces_and_discontinues_the_next_cycles(baseline):
    # Kind 0 (haematologic, induction) after cycle 2 with grade 4 (grade uniform 0.99):
    # delay 1.0, reduce 1.0 at grade 4 -> cycle 3 delayed and reduced; kind 1
    # (immune-related) after cycle 5 with grade 4 (discontinue 1.0, no delay at grade 4) ->
    # treatment ends after cycle 5. Nothing else happens.
    ae = quiet_draws(baseline, 1)
    ae.cycle[0, 1, 0] = 0.0
    ae.cycle_grade[0, 1, 0] = 0.99
    ae.cycle_action[0, 1, 0, :] = 0.0
    ae.cycle[0, 4, 1] = 0.0
    ae.cycle_grade[0, 4, 1] = 0.99
    ae.cycle_action[0, 4, 1, :] = 0.0
    plan = plan_consequences(
        baseline, SafetyTables.from_scenario(baseline), ae, np.array([0]), np.array([0])
    )
    assert [k + 1 for k, d in enumerate(plan.delayed[0]) if d] == [3]
    assert [k + 1 for k, r in enumerate(plan.reduced[0]) if r] == [3]
    assert plan.toxicity_cycle.tolist() == [5]
    assert plan.cycles.grades[0, 1, 0] == 4


def test_pneumonitis_after_course_1_ends_rt(baseline):
    # Pneumonitis (kind 2) after course 1, grade 2 (uniform 0.5: P(grade <= 1) = 0.3,
    # <= 2 = 0.75): stop_rt 1.0 -> RT ends after course 1 of 3; delay 1.0 at grade 2 ->
    # cycle 2 (the cycle of course 1 is cycle 1) is delayed; no discontinuation (grade 2).
    ae = quiet_draws(baseline, 1)
    ae.course[0, 0, 2] = 0.0
    ae.course_grade[0, 0, 2] = 0.5
    ae.course_action[0, 0, 2, :] = 0.0
    plan = plan_consequences(
        baseline, SafetyTables.from_scenario(baseline), ae, np.array([1]), np.array([3])
    )
    assert plan.stop_rt_course.tolist() == [1]
    assert plan.delayed[0][1] and sum(plan.delayed[0]) == 1
    assert plan.toxicity_cycle.tolist() == [baseline.treatment.max_cycles + 1]


def test_no_event_means_no_toxicity_at_all(baseline):
    # One process: with every event probability 0 there is no delay, reduction,
    # discontinuation or RT stop, whatever the clinic's other draws.
    calendar = StudyCalendar.from_scenario(baseline)
    ae = quiet_draws(baseline, 4)
    draws = draw_clinic(baseline, 1, 4, np.random.default_rng(3))
    result = simulate_clinic(
        baseline,
        calendar,
        draws,
        0,
        np.full(4, MONDAY),
        np.array([0, 1, 0, 1]),
        np.full(4, np.inf),
        np.full(4, "none"),
        horizon_day=2000.0,
        stratum=np.array([0, 1, 0, 1]),
        adverse_events=ae,
        keep_patients=True,
    )
    s = result.summary
    for metric in (
        "cycles_delayed",
        "dose_reductions",
        "toxicity_discontinuations",
        "rt_pneumonitis",
    ):
        assert s[f"{metric}_control"] == s[f"{metric}_experimental"] == 0, metric
    assert s["ae_events_control"] == s["ae_events_experimental"] == 0
    assert result.patients["ae_grades"].map(len).sum() == 0


def test_incidence_matches_the_per_cycle_probabilities(baseline_data):
    # Control patients who never stop get 4 induction cycles: haematologic events (0.22
    # per induction cycle, baseline YAML) reach 1 - 0.78^4 of them; discontinuations
    # (immune-related, pneumonitis, other) only shorten maintenance, never induction.
    # Binomial tolerance: 4 SE over n patients.
    scenario = vary(baseline_data, **UNLIMITED)
    n = 1500
    calendar = StudyCalendar.from_scenario(scenario)
    draws = draw_clinic(scenario, 1, n, np.random.default_rng(11))
    ae = draw_adverse_events(scenario, n, np.random.default_rng(12))
    result = simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.full(n, MONDAY),
        np.zeros(n, np.int64),
        np.full(n, np.inf),
        np.full(n, "none"),
        horizon_day=MONDAY + 120.0,
        adverse_events=ae,
    )
    p = 1 - 0.78**4
    share = result.summary["ae_incidence_haematologic_any_control"]
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_safety_and_the_clinic_toxicity_draws_exclude_each_other(baseline_data):
    with pytest.raises(ScenarioError, match="treatment.delay.probability"):
        vary(baseline_data, **{"treatment.delay.probability": 0.15})


def test_safety_summary_rows(baseline_data):
    scenario = vary(baseline_data, **UNLIMITED)
    reps = simulate_chunk(TrialModel.from_scenario(scenario), 2, 0, 0, 6).replicates
    summary = summarize(reps, scenario).set_index("metric")
    for name in (
        "ae_incidence_all_grade3plus_control_mean",
        "ae_patients_pneumonitis_any_experimental_q05",
        "ae_patients_pneumonitis_any_experimental_q95",
        "ae_at_least_2_pneumonitis",
        "ae_events_experimental_mean",
    ):
        assert name in summary.index, name


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    hr=st.floats(0.4, 1.3),
    cut=st.sampled_from(["2026-12-31", "2027-09-30", "2029-12-31"]),
)
def test_every_adverse_event_comes_before_death_and_the_analysis(baseline_data, seed, hr, cut):
    scenario = vary(
        baseline_data,
        **UNLIMITED,
        **{
            "effect.hazard_ratio": hr,
            "analysis.cut_date": cut,
            "trial.sample_size": 40,
            "analysis.event_target": 30,
        },
    )
    result = simulate_chunk(TrialModel.from_scenario(scenario), seed, 0, 0, 2, keep_patients=2)
    pts = result.patients
    start = np.datetime64(scenario.trial.start_date, "D")
    for _, p in pts.iterrows():
        onsets = start + np.asarray(p["ae_onset_days"], dtype=np.int64).astype("timedelta64[D]")
        if not len(onsets):
            continue
        assert (onsets < p["data_cut_date"] + np.timedelta64(1, "D")).all()
        if p["death_date"] is not None and not np.isnat(np.datetime64(p["death_date"])):
            assert (onsets <= np.datetime64(p["death_date"], "D")).all()
        assert (onsets >= np.datetime64(p["randomization_date"], "D")).all()
        # an event after a cycle follows a cycle that was given
        cycles = [int(s.split()[1]) for s in p["ae_sources"] if s.startswith("cycle")]
        assert max(cycles, default=0) <= len(p["cycle_days"])
    # every toxicity discontinuation, delay and reduction has an event behind it
    reps = result.replicates
    for arm in ("control", "experimental"):
        assert (reps[f"toxicity_discontinuations_{arm}"] <= reps[f"ae_events_{arm}"]).all()


def dense_plan_events(event, u_grade, u_action, tables):
    """The reference: grades and consequences everywhere, then kept at the events."""
    cdf = tables.grade_cdf
    kind = np.broadcast_to(np.arange(event.shape[-1]), event.shape)
    grade = 1 + sum((u_grade >= cdf[kind, g]).astype(np.int64) for g in range(3))
    acts = u_action < tables.action_p[kind, grade - 1]
    grade, acts = np.where(event, grade, 0), acts & event[..., None]
    return grade, acts, acts.any(axis=-2)


def dense_realized(
    plan, ae, cycle_days, rt_starts, stop_day, end, cycle_gap, course_gap, days_per_course
):
    """The reference: every onset, then the events before the limit in np.nonzero order."""
    onset_c = cycle_days[..., None] + np.floor(ae.cycle_onset * cycle_gap)
    onset_r = rt_starts[..., None] + days_per_course - 1 + np.floor(ae.course_onset * course_gap)
    limit = np.minimum(stop_day, end)[:, None, None]
    pc, kc, ec = np.nonzero(plan.cycles.event & (onset_c < limit))
    pr, jr, er = np.nonzero(plan.courses.event & (onset_r < limit))
    return (
        np.concatenate([pc, pr]),
        np.concatenate([ec, er]),
        np.concatenate([plan.cycles.grades[pc, kc, ec], plan.courses.grades[pr, jr, er]]),
        np.concatenate([onset_c[pc, kc, ec], onset_r[pr, jr, er]]).astype(np.int64),
        [f"cycle {k + 1}" for k in kc] + [f"course {j + 1}" for j in jr],
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_events_planned_and_realized_at_the_events_only_are_the_dense_ones(baseline, seed):
    # double programming: the sparse plan and onsets against grades, consequences and
    # onsets computed at every (patient, cycle, kind) of 300 patients
    from sim.clinic.safety import plan_events, realized_events

    rng = np.random.default_rng(seed)
    n = 300
    tables = SafetyTables.from_scenario(baseline)
    ae = draw_adverse_events(baseline, n, rng)
    arm = rng.integers(0, 2, n)
    plan = plan_consequences(baseline, tables, ae, arm, rng.integers(0, 4, n))
    for planned, u_grade, u_action in (
        (plan.cycles, ae.cycle_grade, ae.cycle_action),
        (plan.courses, ae.course_grade, ae.course_action),
    ):
        event = planned.event
        ref_grade, ref_acts, _ = dense_plan_events(event, u_grade, u_action, tables)
        assert np.array_equal(planned.grades, ref_grade)
        assert np.array_equal(planned.actions, ref_acts)
        again = plan_events(event, u_grade, u_action, tables)
        assert np.array_equal(again.at, planned.at) and np.array_equal(again.acts, planned.acts)
    k, c = ae.cycle.shape[1], ae.course.shape[1]
    given = rng.integers(0, k + 1, n)  # cycles given, every 21 days from a random start
    cycle_days = np.where(
        np.arange(k)[None, :] < given[:, None],
        rng.integers(0, 50, n)[:, None] + 21.0 * np.arange(k),
        np.nan,
    )
    rt_starts = np.where(rng.random((n, c)) < 0.6, rng.integers(0, 200, (n, c)), np.nan)
    stop = np.where(rng.random(n) < 0.5, np.inf, rng.integers(0, 700, n).astype(float))
    args = (plan, ae, cycle_days, rt_starts, stop, 600.0)
    rhythm = {"cycle_gap": 21, "course_gap": 21, "days_per_course": 5}
    got, ref = realized_events(*args, **rhythm), dense_realized(*args, **rhythm)
    for name, expected in zip(("patient", "kind", "grade", "onset_day"), ref[:4], strict=True):
        value = getattr(got, name)
        assert value.dtype == expected.dtype and np.array_equal(value, expected), name
    assert got.source.dtype == object and got.source.tolist() == ref[4]


def one_replicate_draws(scenario, n: int, rng: np.random.Generator) -> AeDraws:
    """The reference: one replicate's uniforms as `draw_adverse_events` drew them before
    the block draw, four calls of the stream."""
    k, c = scenario.treatment.max_cycles, scenario.radiotherapy.courses
    e = len(scenario.safety.events)
    cycle = rng.random((4, n, k, e))
    cycle_action = rng.random((n, k, e, 4))
    course = rng.random((4, n, c, e))
    course_action = rng.random((n, c, e, 4))
    return AeDraws(*cycle[:3], cycle_action, *course[:3], course_action)


@pytest.mark.parametrize("n_reps", [1, 3])
@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.MT19937])
def test_a_block_of_draws_is_each_replicates_own_in_turn(baseline, n_reps, bits):
    # the same generator calls' numbers: the block's rows i n .. (i + 1) n are replicate i's
    # four draws, and the stream stands where the replicate-by-replicate draws leave it
    # (PCG64, a run's: the uniforms not used are jumped over; MT19937: drawn)
    from sim.clinic.safety import draw_adverse_event_block

    n = 7
    block_rng, own_rng = np.random.Generator(bits(11)), np.random.Generator(bits(11))
    block = draw_adverse_event_block(baseline, n, n_reps, block_rng)
    for i in range(n_reps):
        own, rows = one_replicate_draws(baseline, n, own_rng), block.rows(i * n, (i + 1) * n)
        for name in AeDraws.__dataclass_fields__:
            assert np.array_equal(getattr(rows, name), getattr(own, name)), name
    assert block_rng.random() == own_rng.random()


def dense_consequences(scenario, tables, ae, arm, planned_courses):
    """The reference: consequences worked out on every (patient, cycle, kind), as flags
    after each cycle (course), then each patient's first."""
    from sim.clinic.safety import course_cycle_index

    treatment, rt = scenario.treatment, scenario.radiotherapy
    n, k, _ = ae.cycle.shape
    c = ae.course.shape[1]
    phase = (np.arange(k) >= treatment.induction_cycles).astype(np.int64)
    event = ae.cycle < tables.per_cycle[:, phase][arm]
    after = dense_plan_events(event, ae.cycle_grade, ae.cycle_action, tables)[2].copy()
    course_event = (ae.course < tables.per_course) & (
        np.arange(1, c + 1)[None, :, None] <= planned_courses[:, None, None]
    )
    by_course = dense_plan_events(course_event, ae.course_grade, ae.course_action, tables)[2]
    interval, cycle_days = rt.course_interval_days, treatment.cycle_days
    of_cycle = [course_cycle_index(j + 1, interval, cycle_days) for j in range(c)]
    for j in range(c):
        after[:, min(of_cycle[j], k - 1), :3] |= by_course[:, j, :3]
    delayed, reduced = np.zeros((n, k), dtype=bool), np.zeros((n, k), dtype=bool)
    delayed[:, 1:], reduced[:, 1:] = after[:, :-1, 0], after[:, :-1, 1]
    stops = after[:, :, 2]
    toxicity = np.where(stops.any(axis=1), np.argmax(stops, axis=1) + 1, k + 1)
    rt_stop = by_course[..., 3]
    first_course = np.where(rt_stop.any(axis=1), np.argmax(rt_stop, axis=1) + 1, c + 1)
    done = (np.asarray(of_cycle)[None, :] <= np.arange(k)[:, None]).sum(axis=1)
    cycle_stop = after[..., 3]
    by_cycle = np.where(cycle_stop.any(axis=1), done[np.argmax(cycle_stop, axis=1)], c + 1)
    first = np.minimum(first_course, by_cycle)
    return delayed, reduced, toxicity, np.where(first < planned_courses, first, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("arms_differ", [False, True])
def test_consequences_from_the_list_of_events_are_the_dense_ones(
    baseline, baseline_data, seed, arms_differ
):
    # double programming: plan_consequences on the events alone against flags on every
    # cycle, 400 patients, the baseline's events (and the arms' probabilities apart)
    scenario = baseline
    if arms_differ:
        per_cycle = {"control": 0.1, "experimental": 0.4}
        scenario = vary(baseline_data, **{"safety.events.0.per_cycle": per_cycle})
    rng = np.random.default_rng(seed)
    n = 400
    tables = SafetyTables.from_scenario(scenario)
    ae = draw_adverse_events(scenario, n, rng)
    arm, courses = rng.integers(0, 2, n), rng.integers(0, 4, n)
    plan = plan_consequences(scenario, tables, ae, arm, courses)
    expected = dense_consequences(scenario, tables, ae, arm, courses)
    got = (plan.delayed, plan.reduced, plan.toxicity_cycle, plan.stop_rt_course)
    for mine, ref in zip(got, expected, strict=True):
        np.testing.assert_array_equal(mine, ref)
    assert (plan.toxicity_cycle <= scenario.treatment.max_cycles).any()


CONSEQUENCE_ARRAYS = (
    "delayed",
    "reduced",
    "toxicity_cycle",
    "stop_rt_course",
)  # and the lists of events, `cycles` and `courses`, whose dense arrays follow from them


def test_consequences_planned_for_a_block_are_each_replicates_own(baseline):
    # double programming: plan_adverse_events (all the block's patients at once) against
    # plan_consequences of each replicate alone, every field to the last element
    from sim.clinic.inputs import clinic_setup
    from sim.clinic.model import plan_adverse_events
    from sim.clinic.safety import draw_adverse_event_block

    n, n_reps = 104, 4
    calendar = StudyCalendar.from_scenario(baseline)
    rng = np.random.default_rng(3)
    draws = draw_clinic(baseline, n_reps + 2, n, rng)
    arm = rng.integers(0, 2, (n_reps + 2, n))
    reps = range(2, 2 + n_reps)
    aes = draw_adverse_event_block(baseline, n, n_reps, rng)
    plans = plan_adverse_events(baseline, calendar, draws, reps, arm[2:], aes)
    setup = clinic_setup(baseline, calendar)
    for i, r in enumerate(reps):
        courses = np.where(arm[r] == setup.rt_arm, draws.rt_courses[r], 0)
        own = plan_consequences(
            baseline, setup.safety, aes.rows(i * n, (i + 1) * n), arm[r], courses
        )
        for name in CONSEQUENCE_ARRAYS:
            mine, ref = getattr(plans[i], name), getattr(own, name)
            assert mine.dtype == ref.dtype and np.array_equal(mine, ref), name
        for source in ("cycles", "courses"):  # the lists of events themselves
            mine, ref = getattr(plans[i], source), getattr(own, source)
            assert mine.shape == ref.shape
            for name in ("at", "grade", "acts"):
                got, expected = getattr(mine, name), getattr(ref, name)
                assert got.dtype == expected.dtype and np.array_equal(got, expected), name
