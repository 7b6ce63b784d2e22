"""Composite analysis triggers: per-stratum event targets, minimum follow-up, calendar floor
and cap, maximum extension, data-cleaning lag and DMC meetings on working days.

Hand-worked cases of each rule on tiny arrays, then invariants of whole chunks (every
stratum has its events at a cut the strata set, the analysis is on a meeting day that is
an open clinic day, the floor and cap hold), per-look targets, the design rows, and bad
input through the command line.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.api import design
from sim.conduct.datacut import (
    BY_EVENTS,
    BY_EXTENSION,
    BY_MIN_FOLLOWUP,
    BY_NOT_AFTER,
    BY_NOT_BEFORE,
    BY_STRATUM_EVENTS,
)
from sim.conduct.triggers import AnalysisRules, StratumTargets, meeting_days
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.results import timeline
from sim.scenario import DAYS_PER_MONTH
from sim.scenario.triggers import DmcMeetings
from tests.helpers import ROOT, assert_run_rejects, scenario_data, vary

NO_CLINIC = {"treatment": None, "radiotherapy": None}
TRIGGERS = ROOT / "scenarios" / "nct07271602_triggers.yaml"


def test_every_stratum_reaches_its_target_or_the_total_comes_first():
    # Stratum 0 sees events on days 10, 20, 30; stratum 1 on 5, 50. Targets: 2 in stratum 0
    # (day 20), 2 in stratum 1 (day 50): every -> day 50. The total's 3rd event is day 20.
    event_cal = np.array([[10.0, 20.0, 30.0, 5.0, 50.0]])
    stratum = np.array([[0, 0, 0, 1, 1]])
    every = StratumTargets(((0, 2), (1, 2)), False, None, None)
    day, by_strata = every.event_day(event_cal, stratum)
    assert day.tolist() == [50.0] and by_strata.tolist() == [True]
    either = StratumTargets(((0, 2), (1, 2)), True, 3, None)
    day, by_strata = either.event_day(event_cal, stratum)
    assert day.tolist() == [20.0] and by_strata.tolist() == [False]
    never = StratumTargets(((1, 3),), False, None, None)
    assert np.isinf(never.event_day(event_cal, stratum)[0]).all()


def rules(**kw) -> AnalysisRules:
    final = StratumTargets((), False, None, kw.pop("min_followup_days", None))
    args = {
        "final": final,
        "not_before": -np.inf,
        "not_after": np.inf,
        "extension_cap": np.inf,
        "meetings": None,
        "lag_days": 0.0,
    }
    return AnalysisRules(**{**args, **kw})


def test_the_floor_raises_and_the_cap_lowers_the_cut():
    # Cuts by events on days 100, 300, 500, 700; the last patient randomized on day 200.
    cut = np.array([100.0, 300.0, 500.0, 700.0])
    reason = np.zeros(4, dtype=int)  # CUT_EVENTS
    rand = np.array([[0, 200]] * 4)
    r = rules(min_followup_days=150.0, not_before=280.0, not_after=650.0, extension_cap=600.0)
    day, code = r.final_cut_day(cut, reason, rand, None)
    # floor = max(200 + 150, 280) = 350 (follow-up); cap = min(650, 600) = 600 (extension)
    assert day.tolist() == [350.0, 350.0, 500.0, 600.0]
    assert code.tolist() == [BY_MIN_FOLLOWUP, BY_MIN_FOLLOWUP, BY_EVENTS, BY_EXTENSION]
    r = rules(not_before=400.0, not_after=550.0)
    day, code = r.final_cut_day(cut, reason, rand, np.ones(4, bool))
    assert day.tolist() == [400.0, 400.0, 500.0, 550.0]
    assert code.tolist() == [BY_NOT_BEFORE, BY_NOT_BEFORE, BY_STRATUM_EVENTS, BY_NOT_AFTER]
    # a cap before the floor: the cap wins (a protocol's last date is the last date)
    day, code = rules(not_before=400.0, not_after=300.0).final_cut_day(cut, reason, rand, None)
    assert day.tolist() == [300.0] * 4 and set(code.tolist()) == {BY_NOT_AFTER}


def test_meetings_fall_on_working_days_and_the_analysis_waits_for_the_next(baseline):
    model = TrialModel.from_scenario(baseline)
    calendar = model.calendar
    meetings = meeting_days(DmcMeetings(first=dt.date(2026, 10, 1), every_weeks=4), calendar)
    assert all(calendar.is_open(int(d)) for d in meetings[:100])
    # 2026-10-01 starts China's National Day holiday (Oct 1-7 closed in the `holidays`
    # library's CN calendar): the first meeting moves to Thursday Oct 8
    closed = [calendar.is_open(calendar.day_of(dt.date(2026, 10, d))) for d in range(1, 8)]
    assert not any(closed)
    assert calendar.to_date(meetings[0]) == dt.date(2026, 10, 8)
    r = rules(meetings=meetings, lag_days=30.0)
    cut = np.array([meetings[3] - 30.0, meetings[3] - 29.5, np.nan])
    held = r.analysis_day(cut)
    assert held[0] == meetings[3] and held[1] == meetings[4] and np.isnan(held[2])


def test_a_run_with_triggers_keeps_every_rule(baseline_data):
    sc = vary(scenario_data(TRIGGERS), **NO_CLINIC)
    model = TrialModel.from_scenario(sc)
    result = simulate_chunk(model, 5, 0, 0, 300, keep_patients=300)
    reps, patients = result.replicates, result.patients
    cal = model.calendar
    cut = (reps["data_cut_date"].to_numpy("datetime64[D]") - np.datetime64(cal.start_date)).astype(
        int
    )
    held = (
        reps["final_analysis_date"].to_numpy("datetime64[D]") - np.datetime64(cal.start_date)
    ).astype(int)
    meetings = set(model.rules.meetings.astype(int).tolist())
    assert all(int(d) in meetings and cal.is_open(int(d)) for d in held)
    assert (held >= cut + sc.analysis.lag_days).all()
    cap = min(cal.day_of(dt.date(2028, 12, 31)), cal.day_of(dt.date(2029, 3, 31)))
    assert (cut <= cap).all() and (cut >= cal.day_of(dt.date(2027, 12, 1))).all()
    last = (
        reps["randomized_100pct_date"].to_numpy("datetime64[D]") - np.datetime64(cal.start_date)
    ).astype(int)
    capped = reps["analysis_trigger"].isin(["not_after", "max_extension", "date"]).to_numpy()
    assert ((cut >= np.floor(last + 6 * DAYS_PER_MONTH)) | capped).all()
    by_strata = reps["analysis_trigger"].to_numpy() == "stratum_events"
    assert by_strata.mean() > 0.3
    events = patients.groupby(["replicate", "stratum"])["pfs_event_at_cut"].sum().unstack()
    targets = sc.analysis.triggers.stratum_events
    for name, target in targets.items():
        assert (events.loc[by_strata, name] >= target).all()
    rows = timeline(reps, sc).set_index("milestone")
    for rule, share in reps["analysis_trigger"].value_counts(normalize=True).items():
        assert rows.loc[f"concluded_by_{rule}", "share_reached"] == pytest.approx(share)
    assert set(reps["analysis_trigger"]) <= {
        "stratum_events",
        "min_followup",
        "not_before",
        "not_after",
        "max_extension",
        "date",
    }


def test_an_interim_look_waits_for_its_stratum_targets(baseline_data):
    interim = scenario_data(ROOT / "scenarios" / "nct07271602_interim.yaml")
    looks = interim["analysis"]["looks"]
    looks[0]["triggers"] = {"stratum_events": {"squamous": 20, "adenocarcinoma": 20}}
    sc = vary(interim, **NO_CLINIC)
    result = simulate_chunk(TrialModel.from_scenario(sc), 5, 0, 0, 200).replicates
    plain = simulate_chunk(
        TrialModel.from_scenario(
            vary(scenario_data(ROOT / "scenarios" / "nct07271602_interim.yaml"), **NO_CLINIC)
        ),
        5,
        0,
        0,
        200,
    ).replicates
    held = result["look1_events"].notna()
    # 20 + 20 events: never fewer than the 35 of the plain look, and later or on the same day
    assert (result.loc[held, "look1_events"] >= 40).all()
    both = held & plain["look1_events"].notna()
    assert (result.loc[both, "look1_date"] >= plain.loc[both, "look1_date"]).all()
    assert set(result.loc[held, "look1_trigger"]) == {"stratum_events"}
    assert (result.loc[~held, "look1_trigger"] == "").all()
    rows = timeline(result, sc).set_index("milestone")
    assert rows.loc["look1_by_stratum_events", "share_reached"] == pytest.approx(held.mean())


def test_design_reports_the_rule_expected_to_set_the_cut():
    sc = vary(scenario_data(TRIGGERS))
    table = design(sc).set_index("quantity")["value"]
    assert table["analysis_trigger_expected"] == "stratum_events"
    assert table["stratum_events_months_squamous"] > table["target_events_months"] - 3
    assert "analysis_date_expected" in table


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (
            "analysis.triggers={stratum_events: {squamous: 30, large_cell: 10}}",
            "analysis.triggers.stratum_events: stratum 'large_cell' does not exist: the "
            "strata are squamous, adenocarcinoma",
        ),
        (
            "analysis.triggers={not_before: 2028-06-01, not_after: 2028-01-01}",
            "analysis.triggers.not_after = 2028-01-01: the calendar cap is before the floor",
        ),
        (
            "analysis.triggers={not_before: 2029-06-01, max_extension_months: 2}",
            "analysis.triggers.max_extension_months = 2: the cap it sets (2029-03-01) is "
            "before the floor",
        ),
        (
            "analysis.triggers={dmc_meetings: {first: 2026-07-01, every_weeks: 0}}",
            "analysis.triggers.dmc_meetings.every_weeks = 0",
        ),
    ],
)
def test_bad_trigger_input_exits_2_with_one_message(tmp_path, capsys, override, needle):
    assert_run_rejects(tmp_path, capsys, override, needle)


def test_the_triggers_scenario_is_the_baseline_but_its_analysis_triggers(baseline_data):
    data = scenario_data(TRIGGERS)
    triggers = data["analysis"].pop("triggers")
    assert triggers["stratum_events"] == {"squamous": 32, "adenocarcinoma": 38}
    assert data["analysis"].pop("lag_days") == 30
    expected = {k: v for k, v in baseline_data.items()}
    expected["analysis"] = {k: v for k, v in baseline_data["analysis"].items() if k != "lag_days"}
    assert data == expected
