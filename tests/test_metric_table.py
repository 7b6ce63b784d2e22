"""The metric table: every metric a run reports has its row, every row is reported by some run,
and every column of the replicates table is read by a row or is known not to be a metric."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pandas as pd
import pytest

from sim.conduct.observed import check_observed, observed_from_patients
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.continuation import fit_continuation
from sim.engine.metric_table import (
    KEY_METRICS,
    METRICS,
    SECTIONS,
    TABLE,
    find_metric,
    plan_metrics,
    run_metrics,
)
from sim.engine.metrics import PLACEHOLDERS, STATISTICS
from sim.engine.results import summarize
from sim.scenario import Scenario, parse_scenario
from tests.helpers import ROOT, scenario_data, vary

REPS = 8
AS_OF = dt.date(2027, 6, 1)
INTERIM = ROOT / "scenarios" / "nct07271602_interim.yaml"
INTERIM_PP = ROOT / "scenarios" / "nct07271602_interim_pp.yaml"  # a Bayesian rule's metric
EVERY_TEST_KIND = ["fh:0:1", "mb:6:2", "maxcombo:0:0+0:1", "rmst:12", "milestone:12", "ahr:12"]

# Columns of the replicates table that are no summary metric (a new column that is neither
# read by a row of sim/engine/metric_table.py nor listed here fails the test below).
NOT_METRICS = re.compile(
    r"replicate|seed|chunk|row_in_chunk"  # where the replicate's numbers come from
    r"|.+_date"  # milestone and look dates: timeline.csv
    r"|(.+_)?(z|p_value)|[zp]_.+|look\d+_z_benefit"  # test statistics (their decisions are)
    r"|hr_ci_(low|high)|look\d+_(decision|efficacy_bound|futility_bound)"
    r"|n_in_analysis|n_randomized|deaths|events_(control|experimental)"
    r"|true_control_median_months"  # a design prior's draw (true_hr: assurance reads it)
)


@pytest.fixture(scope="module")
def runs(baseline_data) -> dict[str, tuple[pd.DataFrame, Scenario]]:
    """Replicates tables of small runs that between them report every metric: the baseline,
    a forecast from its first replicate (blinded and unblinded), the interim scenario
    (looks), and variants with OS at its own cut, with every kind of test and with OS the
    primary endpoint."""
    baseline = parse_scenario(baseline_data)
    model = TrialModel.from_scenario(baseline)
    base = simulate_chunk(model, 7, 0, 0, REPS, keep_patients=1)
    observed = observed_from_patients(base.patients[base.patients["replicate"] == 0], AS_OF)
    history = fit_continuation(
        baseline, model.calendar, model.schedule, check_observed(observed, baseline, AS_OF)
    )
    forecast = dataclasses.replace(model, continuation=history)
    # unblinded (the DMC's view): the probability-of-success rows
    unblinded = dataclasses.replace(
        model,
        continuation=fit_continuation(
            baseline,
            model.calendar,
            model.schedule,
            check_observed(observed, baseline, AS_OF),
            unblinded=True,
        ),
    )
    variants = {
        "interim": parse_scenario(scenario_data(INTERIM)),
        "minimization": parse_scenario(
            scenario_data(ROOT / "scenarios" / "nct07271602_minimization.yaml")
        ),
        "triggers": parse_scenario(scenario_data(ROOT / "scenarios" / "nct07271602_triggers.yaml")),
        "crossover": parse_scenario(
            scenario_data(ROOT / "scenarios" / "nct07271602_crossover.yaml")
        ),
        "interim_pp": parse_scenario(scenario_data(INTERIM_PP)),
        "os_own_cut": vary(
            baseline_data,
            **{"overall_survival.cut": "events", "overall_survival.event_target": 30},
        ),
        "tests": vary(baseline_data, **{"analysis.supportive_tests": EVERY_TEST_KIND}),
        "os_primary": vary(baseline_data, **{"analysis.endpoint": "os"}),
        "prior": vary(
            baseline_data,
            prior={
                "hazard_ratio": {"distribution": "lognormal", "median": 0.6, "sd_log": 0.25},
                "control_median_months": {"median": 6.8, "sd_log": 0.2},
            },
        ),
    }
    out = {
        "baseline": (base.replicates, baseline),
        "forecast": (simulate_chunk(forecast, 4, 0, 0, REPS).replicates, baseline),
        "unblinded": (simulate_chunk(unblinded, 4, 0, 0, REPS).replicates, baseline),
    }
    for name, scenario in variants.items():
        out[name] = (
            simulate_chunk(TrialModel.from_scenario(scenario), 3, 0, 0, REPS).replicates,
            scenario,
        )
    return out


def metrics_of(replicates: pd.DataFrame, scenario: Scenario):
    return run_metrics(list(replicates.columns), [t.name for t in scenario.analysis.tests])


@pytest.mark.parametrize("which", ["baseline", "interim", "forecast", "unblinded", "os_primary"])
def test_every_reported_metric_has_its_row(runs, which):
    replicates, scenario = runs[which]
    summary = summarize(replicates, scenario)
    reported = metrics_of(replicates, scenario)
    assert list(summary["metric"]) == [m.name for m in reported]
    for metric in reported:  # the name leads back to the row and placeholders that made it
        found = find_metric(metric.name)
        assert found is not None, metric.name
        assert (found.metric, found.keys) == (metric.metric, metric.keys), metric.name
    assert summary["metric"].is_unique


def test_every_row_is_reported_by_some_run(runs):
    reported = {
        id(m.metric) for reps, scenario in runs.values() for m in metrics_of(reps, scenario)
    }
    assert [m.name for m in METRICS if id(m) not in reported] == []


def test_every_column_is_read_by_a_row_or_is_no_metric(runs):
    unread = set()
    for replicates, scenario in runs.values():
        read = {c for m in metrics_of(replicates, scenario) for c in m.needed}
        unread |= {c for c in replicates.columns if c not in read}
    assert sorted(c for c in unread if not NOT_METRICS.fullmatch(c)) == []


def test_rows_are_well_formed():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(zip(names, [m.where for m in METRICS], strict=True)))
    for metric in METRICS:
        assert metric.statistic in STATISTICS
        assert set(metric.placeholders) <= set(PLACEHOLDERS), metric.name
        for column in metric.columns:  # a column's placeholders are the name's
            assert set(re.findall(r"\{(\w+)\}", column)) <= set(metric.placeholders), metric.name
    assert {s.order for s in SECTIONS} == {"table", "columns"}


def test_key_metrics_and_the_forecast_comparison_follow_their_ranks(runs):
    assert KEY_METRICS == (
        "p_target_by_completion",
        "events_at_completion_mean",
        "power",
        "power_at_completion",
        "p_cut_by_date",
        "lpi_months_median",
        "analysis_months_median",
        "events_at_analysis_mean",
    )
    replicates, scenario = runs["baseline"]
    names = list(summarize(replicates, scenario)["metric"])
    assert TABLE.key_metrics_of(names) == KEY_METRICS
    # with interim looks: whether the trial concluded, and how often a look stopped it,
    # instead of the event target alone (which a trial stopped early does not need)
    assert TABLE.key_metrics_of([*names, "early_stop"]) == (
        "p_concluded_by_completion",
        "early_stop",
        *(
            m
            for m in KEY_METRICS
            if m not in ("p_target_by_completion", "events_at_completion_mean")
        ),
    )
    shown = plan_metrics(names)
    assert shown[:9] == [
        "power",
        "p_analysis_by_completion",
        "p_target_reached",
        "events_at_analysis_mean",
        "lpi_months_median",
        "target_events_months_median",
        "analysis_months_median",
        "n_screened_mean",
        "withdrawals_mean",
    ]
    assert shown[9:] == [
        n
        for n in names
        if find_metric(n).metric.group in ("clinic", "supply") and n.startswith("clinic_")
    ]


def test_the_worked_example_of_the_docs_still_fits_the_code():
    """docs/adding-a-metric.md shows a real diff: each hunk's old lines are still in its file
    as they were (else the page needs the example made again)."""
    page = (ROOT / "docs" / "adding-a-metric.md").read_text(encoding="utf-8")
    diff = page.split("```diff\n", 1)[1].split("```\n", 1)[0]
    files = re.split(r"^diff --git a/(\S+) .*\n", diff, flags=re.M)[1:]
    changed = set()
    for path, text in zip(files[::2], files[1::2], strict=True):
        source = (ROOT / path).read_text(encoding="utf-8")
        for hunk in re.split(r"^@@.*\n", text, flags=re.M)[1:]:
            lines = hunk.splitlines()
            before = [line[1:] for line in lines if line[:1] in (" ", "-")]
            assert "\n".join(before) in source, f"{path}: the example no longer fits"
        changed.add(path)
    assert len({p for p in changed if p.startswith("sim/")}) <= 2
