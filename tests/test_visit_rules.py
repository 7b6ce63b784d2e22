"""The protocol's visit rules: scans on open days within their window, progression seen at
the scan actually done (checked against a patient-by-patient loop: double programming)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.conduct.assessments import ScanSchedule, scan_day_map
from sim.conduct.calendar import StudyCalendar
from sim.engine.chunk import TrialModel, simulate_chunk
from tests.helpers import vary


@pytest.fixture(scope="module")
def china(baseline) -> StudyCalendar:
    return StudyCalendar.from_scenario(baseline)


def test_scans_due_on_closed_days_move_to_the_nearest_open_day_in_the_window(china):
    window = 7
    done = scan_day_map(china, window).astype(int)
    days = np.arange(len(done))
    opened = china.open_day
    assert (done[opened] == days[opened]).all()  # an open due day is kept
    assert (np.diff(done) >= 0).all()  # the order of scans is kept
    moved = done - days
    inside = np.abs(moved) <= window
    assert opened[done[inside]].all()  # every scan is done on an open day
    for d in np.flatnonzero(~opened)[:400]:  # brute force: nearest open day, earlier on a tie
        candidates = [
            d + k
            for k in sorted(range(-window, window + 1), key=lambda k: (abs(k), k))
            if 0 <= d + k < len(opened) and opened[d + k]
        ]
        expected = candidates[0] if candidates else china.next_open_day(d)
        assert done[d] == expected, d


def loop_scans(offsets, day_map, rand):
    """Scans done by one patient, days from randomization, by a plain loop."""
    out = []
    for due in offsets:
        clock = int(rand + due)
        out.append((day_map[clock] if clock < len(day_map) else clock) - rand)
    return np.asarray(out)


def test_patient_scans_agree_with_a_loop_over_patients(baseline, china, rng):
    schedule = ScanSchedule.from_assessments(
        baseline.assessments.model_copy(update={"window_days": 7}), china
    )
    rand = china.next_open_day(rng.integers(0, 900, (6, 40))).astype(float)
    scans = schedule.for_patients(rand)
    t = rng.uniform(0, 1500, rand.shape)
    t[0, :5] = np.inf
    first, last = scans.first_scan_on_or_after(t), scans.last_scan_on_or_before(t)
    for (r, i), ti in np.ndenumerate(t):
        done = loop_scans(schedule.days, schedule.day_map, rand[r, i])
        after, before = done[done >= ti], done[done <= ti]
        assert first[r, i] == (after[0] if len(after) else np.inf)
        assert last[r, i] == (before[-1] if len(before) else 0.0)


def test_baseline_scans_fall_on_open_days_and_see_the_progressions(baseline):
    model = TrialModel.from_scenario(baseline)
    assert baseline.assessments.window_days == 7
    chunk = simulate_chunk(model, 1, 0, 0, 20, keep_patients=3)
    patients = chunk.patients
    start = np.datetime64(baseline.trial.start_date, "D")
    scans = [d for dates in patients["scan_dates"] for d in dates]
    assert len(scans) > 500
    days = [(np.datetime64(d, "D") - start).astype(int) for d in scans]
    assert all(model.calendar.is_open(d) for d in days)
    # a progression (not a death) is seen on a scan the patient actually had
    seen = patients[patients["pfs_event_at_cut"] & ~patients["pfs_event_is_death"]]
    assert len(seen) > 20
    for row in seen.itertuples():
        assert np.datetime64(row.pfs_event_seen_date, "D") in {
            np.datetime64(d, "D") for d in row.scan_dates
        }


def test_no_window_keeps_scans_on_their_due_days(baseline_data):
    scenario = vary(baseline_data, **{"assessments.window_days": None})
    model = TrialModel.from_scenario(scenario)
    assert model.schedule.day_map is None
    assert model.schedule.for_patients(np.zeros((1, 2))) is model.schedule


def test_scans_out_of_window_are_counted_as_deviations(baseline_data):
    # With a window of 1 day, a scan due on a day with no open day within 1 day (long
    # weekends, the Spring Festival and National Day weeks) is done after the window: a
    # deviation. The replicate columns equal a patient-by-patient, scan-by-scan count of the
    # scans done, out of window, up to the event seen, the withdrawal or the data cut.
    scenario = vary(
        baseline_data, **{"treatment": None, "radiotherapy": None, "assessments.window_days": 1}
    )
    model = TrialModel.from_scenario(scenario)
    result = simulate_chunk(model, 5, 0, 0, 4, keep_patients=4)
    pts, reps = result.patients, result.replicates
    start = np.datetime64(scenario.trial.start_date, "D")
    offsets, day_map = model.schedule.days, model.schedule.day_map
    expected = np.zeros((4, 2), dtype=int)
    for row in pts.itertuples():
        rand = int((np.datetime64(row.randomization_date, "D") - start).astype(int))
        until = (np.datetime64(row.data_cut_date, "D") - start).astype(int) - rand
        for when in (row.pfs_event_seen_date, row.withdrawal_date):
            if not pd.isna(when):
                until = min(until, (np.datetime64(when, "D") - start).astype(int) - rand)
        for offset in offsets:
            due = rand + int(offset)
            done = int(day_map[due])
            if done - rand > until:
                break
            expected[row.replicate, int(row.arm == "experimental")] += done - due > 1
    got = reps[["scans_out_of_window_control", "scans_out_of_window_experimental"]].to_numpy()
    assert expected.sum() > 0  # the check has something to check
    np.testing.assert_array_equal(got, expected)


def test_the_baseline_window_never_runs_out():
    # +/- 7 days: no closure of the baseline calendar (weekends, Chinese public holidays with
    # their make-up days) is long enough to push a scan out of its window.
    from sim.scenario import load_scenario
    from tests.helpers import BASELINE

    model = TrialModel.from_scenario(load_scenario(BASELINE))
    day_map = model.schedule.day_map
    assert (day_map - np.arange(len(day_map)) <= 7).all()
