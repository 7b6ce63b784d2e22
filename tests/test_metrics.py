"""The metric registry (unit and meaning of every summary metric) and the headline figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.metric_table import describe_metric
from sim.engine.metrics import UNDESCRIBED, difference_with_se, format_number, format_with_se
from sim.engine.results import SUMMARY_COLUMNS, summarize, timeline
from tests.helpers import vary


def summary_of(scenario, reps: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    replicates = simulate_chunk(TrialModel.from_scenario(scenario), seed, 0, 0, reps).replicates
    return summarize(replicates, scenario), replicates


@pytest.mark.parametrize("which", ["textbook", "baseline"])
def test_every_summary_metric_has_a_unit_and_a_meaning(which, request):
    summary, _ = summary_of(request.getfixturevalue(which), 12)
    assert list(summary.columns[: len(SUMMARY_COLUMNS)]) == list(SUMMARY_COLUMNS)
    undescribed = summary.loc[summary["meaning"] == UNDESCRIBED, "metric"].tolist()
    assert undescribed == []
    assert (summary["unit"] != "").all(), summary.loc[summary["unit"] == "", "metric"].tolist()


def test_registry_rules_and_arm_suffixes():
    assert describe_metric("power_weighted_logrank")[0] == "share"
    unit, meaning = describe_metric("cycles_given_experimental_mean")
    assert unit == "cycles" and "experimental arm" in meaning and "mean over" in meaning
    assert describe_metric("clinic_ql1706_mg_mean")[0] == "mg"
    assert describe_metric("clinic_chair_utilization_peak_month_mean")[0] == "share"
    assert describe_metric("no_such_thing_mean") == ("", UNDESCRIBED)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (365923.79, "mg", "365,900 mg"),
        (0.782, "share", "78.2%"),
        (0.000163, "share", "0.016%"),
        (0.9996, "share", "99.96%"),  # 9,996 of 10,000: not a reassuring 100.0%
        (0.99999, "share", "99.99%"),
        (1.0, "share", "100.0%"),
        (28.846, "", "28.85"),
        (4e-19, "", "0"),
        (2380.874, "vials", "2,381 vials"),
        (None, "", ""),
        (float("inf"), "", "never"),
    ],
)
def test_numbers_read_without_exponents(value, unit, text):
    assert format_number(value, unit) == text


@pytest.mark.parametrize(
    ("value", "se", "unit", "text"),
    [
        (80.4812, 0.3077, "", "80.48 ± 0.31"),  # the SE to 2 significant digits,
        (70.0105, 0.02125, "", "70.010 ± 0.021"),  # the estimate to the same place
        (375312.0, 5810.0, "", "375,300 ± 5,800"),
        (0.5609, 0.04209, "", "0.561 ± 0.042"),
        (0.99, 0.007, "share", "99.0% ± 0.7%"),  # shares as format_number gives them
        (70.0, 0.0, "", "70 ± 0"),  # every replicate alike
        (5.0, float("nan"), "", "5"),  # no SE
        (float("nan"), 0.1, "", ""),
    ],
)
def test_estimates_carry_only_the_digits_their_se_supports(value, se, unit, text):
    assert format_with_se(value, se, unit) == text


def test_a_share_of_all_or_none_is_not_read_as_certain_in_tables():
    """Its SE of 0 is not certainty: no '100.0% ± 0.0%' in the sweep's tables."""
    assert format_with_se(1.0, 0.0, "share", 200) == "100.0% (all 200)"
    assert format_with_se(0.0, 0.0, "share", 2000) == "0.0% (none of 2,000)"
    assert format_with_se(1.0, 0.0, "share") == "100.0% (all)"
    assert format_with_se(0.0, 0.0, "share") == "0.0% (none)"
    assert format_with_se(0.995, 0.005, "share", 200) == "99.5% ± 0.5%"
    assert format_with_se(70.0, 0.0, "", 200) == "70 ± 0"  # not a share: every replicate alike


@pytest.mark.parametrize(
    ("difference", "se", "share", "shown"),
    [
        (-0.06571, 0.1203, False, ("-0.07", "0.12")),  # to the SE's second digit
        (-0.235, 0.014, True, ("-23.5", "1.4")),  # shares in percentage points
        (0.01, 0.0022, True, ("+1.00", "0.22")),
        (-0.0004, 0.012, False, ("+0.000", "0.012")),  # rounds to 0: never -0
        (0.0, 0.0, False, ("+0", "0")),  # no positive SE: 4 significant digits
        (0.02, float("nan"), True, ("+2.00", "")),
        (float("nan"), 0.01, False, ("", "0.010")),
    ],
)
def test_differences_carry_the_digits_their_se_supports(difference, se, share, shown):
    """One rule for `compare` in the terminal and on the page."""
    assert difference_with_se(difference, se, share) == shown


def test_headline_figures_follow_their_definitions(baseline):
    summary, reps = summary_of(baseline, 200)
    s = summary.set_index("metric")["estimate"]
    completion = np.datetime64(baseline.trial.completion_date, "D")
    target = reps["target_events_date"].to_numpy("datetime64[D]")
    assert s["p_target_by_completion"] == pytest.approx(np.mean(target <= completion))
    assert s["events_at_completion_mean"] == pytest.approx(reps["events_at_completion"].mean())
    shares = s[["p_cut_by_events", "p_cut_by_date", "p_cut_all_followed"]]
    assert shares.sum() == pytest.approx(1.0)
    # events seen by the completion date are at least those of an analysis done before it
    early = reps["data_cut_date"] <= pd.Timestamp(baseline.trial.completion_date)
    assert (reps.loc[early, "events_at_completion"] >= reps.loc[early, "events"]).all()


def test_power_at_completion_is_the_power_of_a_cut_on_that_date(textbook_data):
    completion = dt.date.fromisoformat(str(textbook_data["trial"]["completion_date"]))
    scenario = vary(textbook_data, **{"analysis.cut": "date", "analysis.cut_date": completion})
    _, reps = summary_of(scenario, 300)
    assert (reps["reject_at_completion"] == reps["reject"]).all()
    assert (reps["events_at_completion"] == reps["events"]).all()


def test_timeline_counts_the_event_target_only_before_the_cut(baseline_data):
    # a calendar cut early enough that many replicates are cut by the date
    scenario = vary(
        baseline_data,
        **{"analysis.cut_date": dt.date(2028, 6, 20), "treatment": None, "radiotherapy": None},
    )
    summary, reps = summary_of(scenario, 200)
    table = timeline(reps, scenario).set_index("milestone")
    by_events = summary.set_index("metric").at["p_cut_by_events", "estimate"]
    assert 0.1 < by_events < 0.9
    assert table.at["target_events", "share_reached"] == pytest.approx(by_events)
    assert "before the data cut" in table.at["target_events", "counted"]
    assert pd.Timestamp(table.at["target_events", "q95"]) <= pd.Timestamp("2028-06-20")


def test_a_share_of_every_or_no_replicate_is_given_with_its_interval():
    """An MC SE of 0 (every or no replicate) is not certainty: the words give the 95%
    interval, its lower bound rounded down and its upper up; nothing for other shares."""
    from sim.engine.metrics import all_or_none

    assert all_or_none(1.0, 0.0, 0.99617, 1.0) == "every simulated trial; 95% CI 99.6% to 100.0%"
    assert all_or_none(0.0, 0.0, 0.0, 0.00383) == "no simulated trial; 95% CI 0.0% to 0.4%"
    assert all_or_none(0.785, 0.0092, 0.76, 0.80) == ""
    assert all_or_none(1.0, 0.0, float("nan"), 1.0) == ""  # no interval to give
