"""The chunk's tally (`sim.clinic.tally`): the tables of a batch of replicates, tallied at once,
against each replicate tallied on its own and against replicate-by-replicate references
(double programming), to the last bit: a float sum keeps its order.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.clinic.inputs import metric_name
from sim.clinic.model import run_replicate
from sim.clinic.tally import (
    Stacked,
    Supply,
    month_bounds,
    running_total,
    tally_replicates,
)
from sim.engine.chunk import TrialModel, replicate_draws
from tests.helpers import assert_same_tables, vary

N_REPS = 6


def batch_records(scenario, n_reps: int = N_REPS, seed: int = 5, subset: int | None = None):
    """Records of the first `n_reps` replicates of chunk 0 as a run makes them (to the end
    of treatment); with `subset`, replicate `subset` treats only its first 80 patients from
    its own one-replicate draws (an early stop's, `replicate_draws`)."""
    from benchmarks.bench_clinic import baseline_inputs

    model = TrialModel.from_scenario(scenario)
    inputs = baseline_inputs(model, seed, n_reps)
    records = []
    for r in range(n_reps):
        keep = np.arange(inputs["rand_day"].shape[1]) < (80 if r == subset else 10**6)
        draws = replicate_draws(inputs["draws"], r, keep) if r == subset else inputs["draws"]
        ae = inputs["adverse_events"][r]
        if ae is not None and r == subset:
            from sim.engine.chunk import patients_only

            ae = patients_only(ae, keep)
        records.append(
            run_replicate(
                scenario,
                model.calendar,
                draws,
                0 if r == subset else r,
                inputs["rand_day"][r][keep],
                inputs["arm"][r][keep],
                inputs["stop_day"][r][keep],
                inputs["stop_reason"][r][keep],
                horizon_day=float(inputs["horizon"][r]),
                stratum=inputs["stratum"][r][keep],
                adverse_events=ae,
                to_end=True,
            ).records
        )
    return records


@pytest.fixture(scope="module")
def records(baseline):
    return batch_records(baseline)


@pytest.mark.parametrize("subset", [None, 2])
def test_a_batch_tallies_as_its_replicates_one_by_one(baseline, records, subset):
    # subset: one replicate from its own draws (an early stop's): the gather of the drug
    # supply goes replicate by replicate then
    reps = records if subset is None else batch_records(baseline, subset=subset)
    together = tally_replicates(reps)
    for i, r in enumerate(reps):
        alone = tally_replicates([r])
        one = type(together)(
            {k: v[i : i + 1] for k, v in together.summary.items()},
            {k: v[i : i + 1] for k, v in together.monthly.items()},
            together.deviations[i : i + 1],
        )
        assert_same_tables(one, alone)


def test_gathered_supply_is_each_replicates_own(records):
    st = Stacked(records)
    for later in (False, True):
        gathered = st.supplies(later)
        own = [r.dispensed(later) for r in records]
        assert np.array_equal(gathered.mg, np.concatenate([x[0] for x in own]).T)
        assert np.array_equal(
            gathered.vials, np.concatenate([x[1] for x in own]).transpose(1, 2, 0)
        )
        assert gathered.vials.dtype == own[0][1].dtype


def test_mg_totals_are_each_replicates_own_float_sums(records):
    # the reference: each replicate's mg of each drug as one sum of its cycles' column
    tables = tally_replicates(records)
    drugs = records[0].setup.drugs
    for j, drug in enumerate(drugs):
        name = metric_name(drug)
        mg = [r.dispensed(False)[0][:, j].sum() for r in records]
        to_end = [a + r.dispensed(True)[0][:, j].sum() for a, r in zip(mg, records, strict=True)]
        assert np.array_equal(tables.summary[f"clinic_{name}_mg"], mg), drug
        assert np.array_equal(tables.summary[f"clinic_{name}_mg_to_end"], to_end), drug
        vials = [r.dispensed(False)[1][:, j].sum() for r in records]
        assert np.array_equal(tables.summary[f"clinic_{name}_vials"], vials), drug


def test_sums_by_replicate_add_as_a_column_sum_does(records):
    rng = np.random.default_rng(1)
    st = Stacked(records)
    total = sum(len(r.cycle_patient) for r in records)
    values = rng.random((total, 3)) * rng.choice([1e-3, 1.0, 1e5], size=3)
    got = st.sums_by_replicate(values.T)
    sizes = np.asarray([len(r.cycle_patient) for r in records])
    ends = np.cumsum(sizes)
    for i, (start, end) in enumerate(zip(ends - sizes, ends, strict=True)):
        assert np.array_equal(got[i], [values[start:end, j].sum() for j in range(3)])


def test_utilization_is_the_open_days_use_over_their_capacity(records):
    # the reference: replicate by replicate, day by day, before each replicate's horizon
    tables = tally_replicates(records)
    setup = records[0].setup
    for i, r in enumerate(records):
        days = np.arange(setup.span)
        before = (days < r.end) & setup.open_day
        minutes = np.zeros(setup.span)
        inside = r.cycle_day < setup.span
        np.add.at(minutes, r.cycle_day[inside], r.chair_minutes()[inside])
        used = (minutes + r.background("chair"))[before].sum()
        assert tables.summary["clinic_chair_utilization"][i] == used / (
            setup.chair_limit * before.sum()
        )
        months = setup.month_of_day[: setup.span]
        share = [
            (minutes + r.background("chair"))[before & (months == m)].sum()
            / (setup.chair_limit * (before & (months == m)).sum())
            for m in range(setup.n_months)
            if (before & (months == m)).any()
        ]
        assert tables.summary["clinic_chair_utilization_peak_month"][i] == max(share)


def test_monthly_adverse_events_count_each_kind_and_arm(records):
    tables = tally_replicates(records)
    setup = records[0].setup
    for i, r in enumerate(records):
        ev = r.events
        month = setup.month_of_day[np.minimum(ev.onset_day, setup.span)]
        for a, arm in enumerate(("control", "experimental")):
            mine = r.arm[ev.patient] == a
            for j, name in enumerate(setup.safety.names):
                expected = np.bincount(month[mine & (ev.kind == j)], minlength=setup.n_months + 1)[
                    : setup.n_months
                ]
                assert np.array_equal(tables.monthly[f"safety/{name} {arm}"][i], expected)
            severe = np.bincount(month[mine & (ev.grade >= 3)], minlength=setup.n_months + 1)[
                : setup.n_months
            ]
            assert np.array_equal(tables.monthly[f"safety/grade 3+ {arm}"][i], severe)


def test_running_total_and_month_bounds(records):
    assert np.array_equal(
        running_total(np.array([[1.0, 2.0, 3.0], [0.0, 5.0, 1.0]])), [[0, 1, 3, 6], [0, 0, 5, 6]]
    )
    setup = records[0].setup
    bounds = month_bounds(setup)
    assert bounds[0] == 0 and bounds[-1] == setup.span and len(bounds) == setup.n_months + 1
    months = setup.month_of_day[: setup.span]
    for m in range(setup.n_months):
        assert (months[bounds[m] : bounds[m + 1]] == m).all()


def test_vials_per_drug_adds_the_sizes():
    supply = Supply(np.array([[1.0, 2.0]]), np.array([[[1, 0], [2, 1]]], dtype=np.int32))
    assert np.array_equal(supply.vials_per_drug, [[3, 1]])


def test_supply_to_the_end_adds_the_cycles_after_the_horizon(records):
    # the reference: each replicate's cycles up to the horizon, then those after it, one
    # bincount by month (mg: a float sum in that order)
    tables = tally_replicates(records)
    setup = records[0].setup
    width = setup.n_months + 1
    for i, r in enumerate(records):
        (mg, vials), (mg_late, vials_late) = r.dispensed(False), r.dispensed(True)
        days = np.concatenate([r.cycle_day, r.later[1]])
        month = setup.month_of_day[np.minimum(days, setup.span)]
        for j, drug in enumerate(setup.drugs):
            expected = np.bincount(month, np.concatenate([mg[:, j], mg_late[:, j]]), width)
            assert np.array_equal(tables.monthly[f"supply_to_end/{drug} mg"][i], expected[:-1]), (
                drug
            )
            count = np.concatenate([vials[:, j].sum(axis=1), vials_late[:, j].sum(axis=1)])
            assert np.array_equal(
                tables.monthly[f"supply_to_end/{drug} vials"][i],
                np.bincount(month, count, width)[:-1],
            ), drug


def test_no_doses_no_supply_and_a_batch_as_one_by_one(baseline_data):
    scenario = vary(
        baseline_data,
        **{
            "treatment.drugs": {},
            "treatment.regimens": {},
            "treatment.chairs": None,
            "patients": None,
        },
    )
    reps = batch_records(scenario, n_reps=3)
    together = tally_replicates(reps)
    assert not any(k.startswith("supply") for k in together.monthly)
    assert not any(k.startswith("resources/chair") for k in together.monthly)
    for i, r in enumerate(reps):
        alone = tally_replicates([r])
        for key, value in alone.summary.items():
            assert np.array_equal(together.summary[key][i : i + 1], value, equal_nan=True), key


def test_monthly_frame_one_column_per_series_and_month(baseline):
    from sim.engine.chunk import monthly_frame

    model = TrialModel.from_scenario(baseline)
    labels = model.month_labels
    series = {
        "b/y": np.arange(2 * len(labels), dtype=float).reshape(2, -1) + 0.1,
        "a/x": np.ones((2, 3)),
    }  # fewer months: zeros after them
    frame = monthly_frame(model, series)
    assert list(frame.columns) == ([f"a/x/{m}" for m in labels] + [f"b/y/{m}" for m in labels])
    assert (frame.dtypes == np.float32).all()
    assert frame[f"a/x/{labels[2]}"].tolist() == [1, 1] and frame[f"a/x/{labels[3]}"].sum() == 0
    assert np.array_equal(frame[f"b/y/{labels[1]}"], np.float32([1.1, len(labels) + 1.1]))
    assert monthly_frame(model, {}) is None
