"""Hypothesis invariants of the whole pipeline over random scenarios."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.chunk import TrialModel, simulate_chunk
from tests.helpers import vary


@st.composite
def scenario_changes(draw):
    n = draw(st.integers(8, 80))
    changes = {
        "trial.sample_size": n,
        "enrollment.sites.0.screening_rate": [
            {"months": draw(st.floats(0.5, 6)), "per_month": draw(st.floats(0, 6))},
            {"per_month": draw(st.floats(1, 12))},
        ],
        "enrollment.screening_days": {
            "min": (lo := draw(st.integers(0, 10))),
            "max": lo + draw(st.integers(0, 20)),
        },
        "effect.hazard_ratio": draw(st.floats(0.3, 1.5)),
        "dropout.probability": draw(st.floats(0, 0.6)),
        "pfs.death_fraction": draw(st.floats(0, 1)),
        "assessments.schedule": [
            {"weeks": draw(st.integers(6, 60)), "every_weeks": draw(st.integers(2, 12))},
            {"every_weeks": draw(st.integers(4, 16))},
        ],
        "analysis.cut": draw(st.sampled_from(["events", "date", "first"])),
        "analysis.event_target": draw(st.integers(1, n)),
        "analysis.cut_date": draw(st.sampled_from(["2026-09-30", "2027-06-30", "2029-12-31"])),
        "randomization.block_sizes": draw(st.sampled_from([[2], [4], [4, 6], [2, 4, 8]])),
        "treatment": None,
        "radiotherapy": None,
        "local_control": None,  # its own invariants: tests/test_endpoints.py (any death share)
    }
    return changes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=scenario_changes(), seed=st.integers(0, 2**31))
def test_pipeline_invariants(baseline_data, changes, seed):
    scenario = vary(baseline_data, **changes)
    model = TrialModel.from_scenario(scenario)
    result = simulate_chunk(model, seed, 0, 0, 12, keep_patients=12)
    reps, pts = result.replicates, result.patients
    n = scenario.trial.sample_size
    target = scenario.analysis.event_target

    # every replicate randomizes exactly n patients, in date order, none before the start
    assert (pts.groupby("replicate").size() == n).all()
    for _, p in pts.groupby("replicate"):
        assert p["randomization_date"].is_monotonic_increasing
    assert (pts["randomization_date"] >= np.datetime64(scenario.trial.start_date)).all()
    assert (pts["screen_date"] <= pts["randomization_date"]).all()

    # the cut: counted events, who is in the analysis, what was seen by then
    assert (reps["events"] <= reps["n_in_analysis"]).all()
    by_events = reps["cut_reason"] == "events"
    assert (reps.loc[by_events, "events"] >= target).all()
    if scenario.analysis.cut in ("date", "first"):
        assert (reps["data_cut_date"] <= np.datetime64(scenario.analysis.cut_date)).all()
    cut = pts["data_cut_date"]
    assert (pts.loc[pts["in_analysis"], "randomization_date"] <= cut[pts["in_analysis"]]).all()
    seen = pts["pfs_event_at_cut"]
    assert (pts.loc[seen, "pfs_event_seen_date"] <= cut[seen]).all()
    # a progression is never seen after the patient withdrew (NaT: never withdrew)
    withdrew = pts.loc[seen, "withdrawal_date"]
    assert ((pts.loc[seen, "pfs_event_seen_date"] <= withdrew) | withdrew.isna()).all()
    assert (pts["pfs_days_at_cut"] >= 0).all()
    # an event is never seen before it happens
    seen_date = pts["pfs_event_seen_date"]
    assert ((seen_date >= pts["pfs_event_date"]) | seen_date.isna()).all()

    # statistics are well-formed where defined
    p = reps["p_value"].dropna()
    assert ((p >= 0) & (p <= 1)).all()
    hr = reps["hazard_ratio"].dropna()
    assert (hr >= 0).all()
    assert (reps["reject"] <= (reps["p_value"] < scenario.analysis.alpha)).all()
