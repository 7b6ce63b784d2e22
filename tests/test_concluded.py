"""A trial concluded (stopped at an interim look, or its final analysis held) apart from its
final analysis: the metrics on a hand-made replicates table whose shares are known by
counting, the timeline's rows, dates that read the same day everywhere, and no 'never' for a
trial that stopped early."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from sim.engine.chunk import MILESTONES
from sim.engine.results import date_quantiles, summarize, timeline
from sim.engine.run import run_scenario
from sim.outputs.plots import run_figures
from sim.outputs.plots.timeline import day_text, milestone_spread
from sim.outputs.report import build_report, month_to_date
from sim.scenario import DAYS_PER_MONTH, parse_scenario
from tests.helpers import ROOT, scenario_data

INTERIM = ROOT / "scenarios" / "nct07271602_interim.yaml"
NAT = None

# Ten trials of a design with two looks (registered completion 2028-12-31), by hand:
#   0-2  stopped at look 1: efficacy, efficacy, futility (35 events);
#   3-7  final analysis at the event target (70 events) before the completion date;
#   8    final analysis at the calendar cut 2028-12-31, the target not reached (60 events;
#        follow-up going on would see it on 2029-01-20, after the cut);
#   9    final analysis at the event target after the completion date (2029-02-01).
LOOK1 = ["2027-07-01", "2027-08-01", "2027-09-01"] + ["2027-08-15"] * 7
FINAL = [NAT] * 3 + ["2028-03-01", "2028-04-01", "2028-05-01", "2028-06-01", "2028-07-01"]
FINAL += ["2028-12-31", "2029-02-01"]
TARGET = [NAT] * 3 + FINAL[3:8] + ["2029-01-20", "2029-02-01"]
START = dt.date(2026, 1, 30)
CONCLUDED = LOOK1[:3] + FINAL[3:]


def dates(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(values))


def by_hand(looks: bool = True) -> pd.DataFrame:
    """The ten trials above (without looks: the same dates, nobody stopped early)."""
    table = {f"{name}_date": dates(CONCLUDED) for name in MILESTONES}
    table.update(
        target_events_date=dates(TARGET),
        target_events_months=(dates(TARGET) - pd.Timestamp(START)).dt.days / DAYS_PER_MONTH,
        concluded_date=dates(CONCLUDED),
        events=[35, 35, 35, 70, 70, 70, 70, 70, 60, 70],
        cut_reason=["interim"] * 3 + ["events"] * 5 + ["date", "events"],
    )
    if looks:
        table.update(
            look1_date=dates(LOOK1),
            look2_date=dates(FINAL),
            look1_decision=["efficacy", "efficacy", "futility"] + ["continue"] * 7,
            look2_decision=["not_held"] * 3 + ["final"] * 7,
            stop_look=[1, 1, 1] + [2] * 7,
            stop_reason=["efficacy", "efficacy", "futility"] + ["final"] * 7,
            early_stop=[True] * 3 + [False] * 7,
        )
    return pd.DataFrame(table)


@pytest.fixture(scope="module")
def interim():
    return parse_scenario(scenario_data(INTERIM))


def estimates(table: pd.DataFrame, scenario) -> pd.Series:
    return summarize(table, scenario).set_index("metric")["estimate"]


def test_shares_of_a_hand_made_table_with_looks(interim):
    got = estimates(by_hand(), interim)
    expected = {  # counted from the ten trials above
        "p_concluded_by_completion": 0.9,  # all but trial 9
        "p_target_by_completion": 0.5,  # trials 3-7
        "p_stopped_or_target_by_completion": 0.8,  # 0-2 and 3-7
        "early_stop": 0.3,
        "reject_look1": 0.2,
        "futility_look1": 0.1,
        "p_look1_by_completion": 1.0,
        "p_look2_by_completion": 0.6,  # 3-8: trial 9's final look is later
        "p_analysis_by_completion": 0.9,  # the analysis that concluded it, as concluded
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value), name


def test_without_looks_concluded_is_the_final_analysis(interim):
    table = by_hand(looks=False)
    got = estimates(table, interim)
    assert got["p_concluded_by_completion"] == got["p_analysis_by_completion"] == 0.9
    for name in ("p_stopped_or_target_by_completion", "early_stop", "p_look1_by_completion"):
        assert name not in got.index


def test_timeline_separates_the_concluded_trial_from_its_final_analysis(interim):
    rows = timeline(by_hand(), interim).set_index("milestone")
    concluded, final = rows.loc["concluded"], rows.loc["final_analysis"]
    assert concluded["share_reached"] == 1.0  # every trial is concluded, early stops too
    assert final["share_reached"] == 0.7  # the early stops hold no final analysis
    assert "stopped early" in final["counted"]
    # inverted CDF over the counted dates: the 5th of 10 concluded dates, the 4th of 7 finals
    assert concluded["q50"] == sorted(CONCLUDED)[4] == "2028-04-01"
    assert final["q50"] == sorted(FINAL[3:])[3] == "2028-06-01"
    assert rows.loc["target_events", "share_reached"] == 0.6  # 3-7 and 9: 70 events by the cut
    assert rows.loc["look2", "q50"] == final["q50"]
    # the timeline counts the target seen by the cut: not trial 8's date after its cut (the
    # 3rd of the 6 dates 2028-03-01 ... 2028-07-01, 2029-02-01); the summary's median counts
    # the same six trials (its cut came from the target), so it is the same day
    assert rows.loc["target_events", "q50"] == "2028-05-01"
    median = estimates(by_hand(), interim)["target_events_months_median"]
    assert month_to_date(START, median) == "2028-05-01"
    # the mean still counts trial 8's date after its cut, as the closed form assumes
    mean = estimates(by_hand(), interim)["target_events_months_mean"]
    assert mean == pytest.approx(np.mean(by_hand()["target_events_months"]))


def test_date_quantiles_are_one_replicates_day():
    days = np.array(["2028-06-18", "2028-06-19", "NaT", "2028-06-21"], dtype="datetime64[D]")
    # three dates: the median is the second, never the mean of two days
    assert str(date_quantiles(days, (0.5,))[0]) == "2028-06-19"
    assert np.isnat(date_quantiles(np.array(["NaT"], dtype="datetime64[D]"), (0.5,))[0])


def test_a_fractional_day_is_the_same_date_in_the_report_and_the_tables():
    start = dt.date(2026, 1, 30)
    # a death seen at clock day 870.6: the replicates' date floors it (Calendar.to_datetime64)
    day = 870.6
    on_table = np.datetime64(start, "D") + np.timedelta64(int(np.floor(day)), "D")
    assert month_to_date(start, day / DAYS_PER_MONTH) == str(on_table) == "2028-06-18"
    for whole in range(0, 2000, 7):  # months of a whole day read back as that day
        expect = str(np.datetime64(start, "D") + np.timedelta64(whole, "D"))
        assert month_to_date(start, whole / DAYS_PER_MONTH) == expect


@pytest.fixture(scope="module")
def interim_run(tmp_path_factory, interim):
    out = tmp_path_factory.mktemp("concluded") / "run"
    run_scenario(interim, out, reps=60, seed=1, workers=1, scenario_path=str(INTERIM))
    return out


def test_a_milestone_date_is_the_same_day_in_timeline_summary_figures_and_report(
    interim_run, interim
):
    start = interim.trial.start_date
    rows = pd.read_csv(interim_run / "timeline.csv").set_index("milestone")
    summary = pd.read_csv(interim_run / "summary.csv").set_index("metric")["estimate"]
    replicates = pd.read_parquet(interim_run / "replicates.parquet")
    pairs = {  # summary metric -> timeline milestone
        "lpi_months_median": "randomized_100pct",
        "target_events_months_median": "target_events",  # the same replicates (issue 25)
        "analysis_months_median": "concluded",
        "look1_months_median": "look1",
        "look2_months_median": "look2",
    }
    for metric, milestone in pairs.items():
        assert month_to_date(start, summary[metric]) == rows.loc[milestone, "q50"], metric
    headline = re.search(r'<p class="headline">(.*?)</p>', build_report(interim_run), re.S)
    assert headline is not None
    for words, milestone in {
        "trial concluded": "concluded",
        "interim look 1": "look1",
        "last patient randomized": "randomized_100pct",
        "event target reached": "target_events",
        "final analysis": "look2",
    }.items():  # the headline's median dates are timeline.csv's
        assert f"{words} <b>{rows.loc[milestone, 'q50']}</b>" in headline.group(1), words
    for milestone in ("randomized_100pct", "target_events"):
        spread, share = milestone_spread(replicates, interim, milestone)
        assert spread.startswith(f"median {day_text(np.datetime64(rows.loc[milestone, 'q50']))}")
        assert share == pytest.approx(rows.loc[milestone, "share_reached"])


def figure_texts(panel) -> list[str]:
    texts = [t.get_text() for t in panel.figure.texts]
    for ax in panel.figure.axes:
        texts += [ax.get_title(loc="left"), ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return texts


def test_no_output_says_never_for_a_trial_stopped_early(interim_run):
    replicates = pd.read_parquet(interim_run / "replicates.parquet")
    assert replicates["early_stop"].any()  # the run has early stops to mislabel
    panels = {p.name: p for p in run_figures(interim_run)}
    for name in ("enrollment", "events", "analysis_date"):
        texts = figure_texts(panels[name])
        assert not any("never" in t for t in texts), (name, texts)
        assert any("stopped early" in t for t in texts), name  # early stops named apart
    assert "never" not in (interim_run / "timeline.csv").read_text()
    headline = re.search(r'<p class="headline">(.*?)</p>', build_report(interim_run), re.S)
    assert headline is not None and "never" not in headline.group(1)
    assert "stopped early" in headline.group(1)
