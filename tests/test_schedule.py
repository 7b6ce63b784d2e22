"""The schedule on the calendar alone (`sim.clinic.schedule`) against the SimPy run itself.

The shortcut claims to give the SimPy run's records whenever no booking could find its day
full; the oracle is `run_replicate(..., shortcut=False)`, the SimPy run, on random
calendars, rules, stops, horizons, windows and books (Hypothesis), and on the baseline's
own draws with and without the clinic's capacity blocks.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.clinic.model import draw_clinic, run_replicate, tally_replicates
from sim.clinic.radiotherapy import first_open_run
from sim.clinic.safety import draw_adverse_events
from sim.clinic.schedule import course_starts
from sim.conduct.calendar import StudyCalendar
from sim.errors import ScenarioError
from tests.helpers import clinic_cases, vary

FIELDS = (
    "cycle_patient",
    "cycle_index",
    "cycle_day",
    "cycle_level",
    "cycle_wait",
    "cycle_late",
    "cycle_delayed",
    "rt_patient",
    "rt_start",
    "rt_wait",
    "rt_late",
    "fraction_patient",
    "fraction_day",
    "completed",
    "toxicity_end",
    "phase",
)


def assert_same_records(fast, simpy_run) -> None:
    a, b = fast.records, simpy_run.records
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert (a.later is None) == (b.later is None)
    if a.later is not None:
        assert all(np.array_equal(x, y) for x, y in zip(a.later, b.later, strict=True))
    if b.events is not None:
        for name in ("patient", "kind", "grade", "onset_day", "source"):
            assert np.array_equal(getattr(a.events, name), getattr(b.events, name)), name
    ta, tb = tally_replicates([a]), tally_replicates([b])
    for key, value in tb.summary.items():
        assert np.array_equal(ta.summary[key], value, equal_nan=True), key
    for key, value in tb.monthly.items():
        assert np.array_equal(ta.monthly[key], value, equal_nan=True), key


def both_ways(
    scenario,
    calendar,
    draws,
    rep,
    rand,
    arm,
    stop,
    reason,
    horizon,
    stratum=None,
    events=None,
    to_end=False,
):
    runs = [
        run_replicate(
            scenario,
            calendar,
            draws,
            rep,
            rand,
            arm,
            stop,
            reason,
            horizon_day=horizon,
            stratum=stratum,
            adverse_events=events,
            to_end=to_end,
            shortcut=shortcut,
        )
        for shortcut in (True, False)
    ]
    assert runs[1].simpy
    return runs


def test_course_starts_are_first_open_runs():
    start = dt.date(2026, 1, 30)
    holidays = frozenset(start + dt.timedelta(days=d) for d in (3, 4, 10, 40, 41, 42, 43))
    calendar = StudyCalendar(start, ("Sat", "Sun"), holidays, horizon_days=120)
    for n_days in (1, 2, 3, 6):
        starts = course_starts(calendar, n_days)
        assert starts.tolist() == [
            first_open_run(calendar, d, n_days) for d in range(calendar.horizon_days + 2)
        ]


@st.composite
def cases(draw):
    """`tests.test_treatment.clinic_cases` (calendars, rules, patients, stops, horizons),
    with windows, books, adverse events and the other clinic rules drawn too, stops on the
    randomization day and a horizon at the start."""
    case = draw(clinic_cases())
    cycle_days = case["changes"]["treatment.cycle_days"]
    window = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(  # the schema: before < cycle
                {
                    "before_days": st.integers(0, min(4, cycle_days - 1)),
                    "after_days": st.integers(0, 4),
                }
            ),
        )
    )
    case["changes"].update(
        {
            "treatment.induction_cycles": draw(st.integers(1, 4)),
            "treatment.window": window,
            "radiotherapy.start_within_days": draw(st.one_of(st.none(), st.integers(0, 5))),
            "radiotherapy.pneumonitis": draw(st.floats(0, 0.5)),
            "treatment.chairs.chairs": draw(st.integers(1, 12)),
            "treatment.chairs.background_utilization": draw(st.floats(0, 0.9)),
            "radiotherapy.linac.slots_per_session": draw(st.integers(1, 24)),
            "radiotherapy.linac.background_utilization": draw(st.floats(0, 0.9)),
        }
    )
    n = len(case["rand"])
    at_randomization = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    case["stop"] = [
        float(r) if now else stop
        for r, stop, now in zip(case["rand"], case["stop"], at_randomization, strict=True)
    ]
    if draw(st.booleans()):
        case["horizon"] = draw(st.one_of(st.just(0.0), st.floats(0, 800)))
    case.update(
        safety=draw(st.booleans()),
        to_end=draw(st.booleans()),
        stratum=draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
    )
    return case


def case_runs(baseline_data, case, **options) -> list:
    """The case's replicate with the shortcut (on the calendar alone, or on `DayClock`)
    and without (on SimPy), `options` to both (`run_replicate`'s)."""
    changes = dict(case["changes"])
    if not case["safety"]:
        changes["safety"] = None
    try:
        scenario = vary(baseline_data, **changes)
    except ScenarioError:  # a combination the schema rejects (it names the rule)
        assume(False)
    calendar = StudyCalendar(case["start"], case["closed"], case["holidays"])
    n = len(case["rand"])
    rng = np.random.default_rng(case["seed"])
    draws = draw_clinic(scenario, 1, n, rng)
    events = draw_adverse_events(scenario, n, rng) if scenario.safety else None
    stop = np.asarray(case["stop"])
    runs = [
        run_replicate(
            scenario,
            calendar,
            draws,
            0,
            np.asarray(case["rand"]),
            np.asarray(case["arm"]),
            stop,
            np.where(np.isfinite(stop), "progression", "none"),
            horizon_day=case["horizon"],
            stratum=np.asarray(case["stratum"]),
            adverse_events=events,
            to_end=case["to_end"],
            shortcut=shortcut,
            **options,
        )
        for shortcut in (True, False)
    ]
    assert runs[1].simpy
    return runs


def assert_same_log_books_patients(fast, slow) -> None:
    """The log entry for entry, the books and the patient table, then the records."""
    assert fast.log == slow.log
    assert fast.books.keys() == slow.books.keys()
    for key, (used, limit) in slow.books.items():
        assert np.array_equal(fast.books[key][0], used) and fast.books[key][1] == limit
    assert fast.records.patient_frame().equals(slow.records.patient_frame())
    assert_same_records(fast, slow)


@settings(max_examples=120, deadline=None)
@given(cases())
def test_shortcut_gives_the_simpy_records(baseline_data, case):
    fast, slow = case_runs(baseline_data, case)
    assert_same_records(fast, slow)  # on the calendar alone or on `DayClock`


@pytest.mark.parametrize("capacity", ["none", "low", "baseline"])
def test_baseline_draws_on_the_calendar_alone(baseline_data, capacity):
    """The baseline's patients (a run's chunk): without chairs and linac blocks every
    replicate takes the shortcut; with the baseline's busy clinic (80% and 75% background)
    days fill in every replicate, and they all run in SimPy."""
    changes = {
        "none": {"treatment.chairs": None, "radiotherapy.linac": None},
        "low": {
            "treatment.chairs.background_utilization": 0.3,
            "radiotherapy.linac.background_utilization": 0.3,
        },
        "baseline": {},
    }[capacity]
    from benchmarks.bench_clinic import baseline_inputs, replicate_call
    from sim.engine.chunk import TrialModel

    model = TrialModel.from_scenario(vary(baseline_data, **changes))
    inputs = baseline_inputs(model, 11, 12)
    taken = 0
    for r in range(12):
        for to_end in (False, True):
            args, named = replicate_call(model, inputs, r)
            fast, slow = both_ways(*args, *named.values(), to_end)
            taken += not fast.simpy
            assert_same_records(fast, slow)  # on the calendar alone or on `DayClock`
    assert taken == {"none": 24, "low": taken, "baseline": 0}[capacity]
    if capacity == "low":
        assert taken > 12


def test_day_clock_keeps_simpy_log_books_and_patients(baseline_data):
    """With the log and the patients' records kept (no shortcut to the calendar), the run on
    `DayClock` gives SimPy's log entry for entry, its books and its patient table."""
    from benchmarks.bench_clinic import baseline_inputs, replicate_call
    from sim.engine.chunk import TrialModel

    model = TrialModel.from_scenario(vary(baseline_data))
    inputs = baseline_inputs(model, 5, 4)
    for r in range(4):
        args, named = replicate_call(model, inputs, r)
        for to_end in (False, True):
            runs = [
                run_replicate(
                    *args,
                    **named,
                    to_end=to_end,
                    keep_log=True,
                    keep_records=True,
                    shortcut=shortcut,
                )
                for shortcut in (True, False)
            ]
            fast, slow = runs
            assert len(fast.log) > 1000
            assert_same_log_books_patients(fast, slow)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_day_clock_keeps_simpy_log_on_random_clinics(baseline_data, case):
    """With the log kept the run is always day by day (no schedule on the calendar alone):
    on random clinics, `DayClock` (`run_days`: its written-out cycles, randomizations and
    course chain) gives SimPy's log entry for entry, its books and its records."""
    fast, slow = case_runs(baseline_data, case, keep_log=True, keep_records=True)
    assert_same_log_books_patients(fast, slow)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_day_clock_without_log_keeps_simpy_patients_on_random_clinics(baseline_data, case):
    """With the patients' records kept and no log the run is always day by day on
    `DayClock`'s written-out path (`run_days`: its cycles, their search for a chair in the
    window, the course chain's bookings and days): SimPy's books, patient table and
    records."""
    fast, slow = case_runs(baseline_data, case, keep_records=True)
    assert fast.log is None and slow.log is None
    assert_same_log_books_patients(fast, slow)
