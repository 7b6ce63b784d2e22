"""Plots: drawn headless, the right artists on each axes, curves that match the run."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from sim.engine.run import run_scenario
from sim.outputs.plots import (
    check_replay,
    count_by_day,
    figure_png,
    follow_up_days,
    km_steps,
    milestone_follow_up,
    new_axes,
    plot_analysis_dates,
    plot_enrollment,
    plot_events,
    plot_km,
    plot_power_curve,
    plot_power_tradeoff,
    quantile_bands,
    register,
    run_figures,
)
from sim.scenario import parse_scenario
from tests.helpers import TEXTBOOK, lifelines_reference, python_output, run_command
from tests.references.datasets import plot_km_data

START = dt.date(2026, 1, 30)
COMPLETION = dt.date(2028, 12, 31)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory, textbook):
    out = tmp_path_factory.mktemp("plots") / "run"
    run_scenario(
        textbook, out, reps=300, seed=4, workers=1, keep_patients=2, scenario_path=str(TEXTBOOK)
    )
    return out


@pytest.fixture
def bands() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    days = np.sort(rng.uniform(0, 600, size=(50, 104)), axis=1)
    grid = np.arange(0, 700, 7)
    return quantile_bands(count_by_day(days, grid), grid, START)


def test_enrollment_plot_has_median_target_and_two_bands(bands):
    ax = plot_enrollment(bands, 104)
    assert len(ax.lines) == 2  # median, sample size
    assert len(ax.collections) == 2  # 50% and 90% bands
    assert ax.get_ylabel() and ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "sample size: 104 patients"
    assert figure_png(ax.get_figure()).startswith(PNG)


def test_events_plot_adds_completion_and_a_different_cut_date(bands):
    assert len(plot_events(bands, 70, COMPLETION).lines) == 3  # median, target, completion
    ax = plot_events(bands, 70, COMPLETION, cut_date=dt.date(2028, 6, 30))
    assert len(ax.lines) == 4
    assert len(ax.collections) == 2


def test_plot_functions_draw_on_the_axes_they_are_given(bands):
    ax = new_axes()
    assert plot_enrollment(bands, 104, ax=ax) is ax


def test_analysis_date_ecdf_one_line_per_label_and_the_share_by_completion():
    dates = pd.to_datetime(["2028-06-01", "2028-11-30", "2029-02-01", "2028-01-01"])
    frame = pd.DataFrame({"date": dates, "label": ["a", "a", "a", "b"]})
    ax = plot_analysis_dates(frame, COMPLETION)
    assert len(ax.lines) == 3  # a, b, completion
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["a: 66.6% by completion", "b: 100% by completion"]


def test_kaplan_meier_matches_lifelines():
    # lifelines: KaplanMeierFitter().fit(time, event).survival_function_, committed in
    # tests/references/lifelines.json; read at t as survival_function_at_times does (the
    # last step at or before t)
    time, event = plot_km_data()
    t, s = km_steps(time, event)
    ref = lifelines_reference("plot km", time, event)
    steps = np.searchsorted(ref["time"], t[1:], side="right") - 1
    expected = np.asarray(ref["survival"])[steps]
    np.testing.assert_allclose(s[1:], expected, rtol=1e-12)


def test_km_plot_has_two_arms_censor_ticks_and_numbers_at_risk(run):
    patients = pd.read_parquet(run / "patients.parquet")
    one = patients[patients["replicate"] == 0]
    ax = plot_km(one)
    # per arm a step line and a censor-tick line, plus the legend's censor marker
    assert len(ax.lines) == 5
    ticks = len(ax.get_xticks())
    assert len(ax.texts) == 1 + 2 * (ticks + 1)  # header; per arm a label and one per tick
    at_zero = sorted(
        int(t.get_text()) for t in ax.texts if t.get_text().isdigit() and t.get_position()[0] == 0
    )
    assert sum(at_zero) == one["in_analysis"].sum()


def test_power_curve_one_errorbar_per_group_and_reference_lines():
    table = pd.DataFrame(
        {
            "hr": [0.6, 0.8, 0.6, 0.8],
            "power": [0.8, 0.4, 0.7, 0.3],
            "power_mc_se": [0.01] * 4,
            "target": [60, 60, 70, 70],
        }
    )
    ax = plot_power_curve(table, "hr", hue="target", alpha=0.1)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2
    assert len(ax.get_legend().get_texts()) == 4  # 2 groups, 80% power, alpha


def test_power_tradeoff_labels_every_point_and_joins_groups():
    table = pd.DataFrame(
        {
            "label": ["hr 0.6", "hr 0.8", "hr 0.6", "hr 0.8"],
            "power": [0.8, 0.4, 0.7, 0.3],
            "power_mc_se": [0.01] * 4,
            "analysis_months_median": [27.0, 25.0, 24.0, 22.0],
            "analysis_months_median_mc_se": [0.2] * 4,
            "target": [70, 70, 60, 60],
        }
    )
    ax = plot_power_tradeoff(table.iloc[:2], START, COMPLETION)
    assert sorted(t.get_text() for t in ax.texts) == ["hr 0.6", "hr 0.8"]
    assert len(ax.containers) == 1
    ax = plot_power_tradeoff(table, START, COMPLETION, hue="target")
    assert len(ax.containers) == 2 and len(ax.texts) == 4
    joined = [c.lines[0] for c in ax.containers]  # the data line of each errorbar
    assert all(line.get_linestyle() == "-" for line in joined)


def test_replayed_curves_match_the_run_exactly(run):
    import json

    manifest = json.loads((run / "manifest.json").read_text())
    replicates = pd.read_parquet(run / "replicates.parquet")
    follow = follow_up_days(run, manifest, replicates)
    assert follow.exact
    assert follow.rand_day.shape == (300, 104)
    tampered = replicates.assign(
        randomized_100pct_date=replicates["randomized_100pct_date"] + pd.Timedelta(days=1)
    )
    assert not follow_up_days(run, manifest, tampered).exact  # falls back, does not lie


def test_milestone_fallback_passes_through_the_milestones(run, textbook):
    replicates = pd.read_parquet(run / "replicates.parquet")
    follow = milestone_follow_up(replicates, textbook)
    assert (np.diff(follow.rand_day, axis=1) >= 0).all()
    assert check_replay(follow, replicates, textbook)  # exact at the milestones themselves


def test_run_figures_and_the_plot_command(run, tmp_path):
    panels = run_figures(run)
    assert [p.name for p in panels] == ["enrollment", "events", "analysis_date", "km"]
    assert all(p.caption for p in panels)
    out = tmp_path / "png"
    assert run_command(["plot", str(run), "--out", str(out)], register) == 0
    files = sorted(out.glob("*.png"))  # beside the manifest that marks the folder as sim's
    assert [f.name for f in files] == [
        "analysis_date.png",
        "enrollment.png",
        "events.png",
        "km.png",
    ]
    assert all(f.read_bytes().startswith(PNG) for f in files)


def test_plot_of_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    assert run_command(["plot", str(tmp_path)], register) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_manifest_scenario_reads_back(run, textbook):
    import json

    manifest = json.loads((run / "manifest.json").read_text())
    assert parse_scenario(manifest["scenario"]) == textbook


def test_heatmap_writes_every_cell_and_scales_with_the_grid():
    from sim.outputs.plots import plot_heatmap

    table = pd.DataFrame(
        [
            {"hr": h, "target": t, "power": 1 - h / 2 + t / 1000}
            for h in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
            for t in range(40, 100, 2)
        ]
    )
    ax = plot_heatmap(table, "hr", "target", "power")
    assert len(ax.texts) == len(table) == 180  # a value in every cell, no legend to cover it
    assert ax.get_legend() is None
    assert ax.get_figure().get_size_inches()[1] > 15  # rows get room, labels do not overlap


def test_a_sweep_of_designs_with_looks_maps_the_trial_concluded_on_time(textbook):
    """A sweep's 'on time' heat map: the event target seen by the completion date, or, with
    interim looks (early_stop among the metrics), the trial concluded by then, since a trial
    stopped early concludes without its target."""
    from sim.outputs.plots.sweep import heatmap_panels

    table = pd.DataFrame(
        [
            {"hr": h, "alpha": a, "p_target_by_completion": 0.67, "power": 0.7}
            for h in (0.6, 0.8)
            for a in (0.05, 0.1)
        ]
    )
    looks = table.assign(p_concluded_by_completion=1.0, early_stop=0.3)

    def target_map(frame):
        (panel,) = [p for p in heatmap_panels(frame, "hr", "alpha", textbook) if "target" in p.name]
        return panel.figure.get_suptitle(), {t.get_text() for t in panel.figure.axes[0].texts}

    assert target_map(table) == ("Event target reached by 31 Dec 2028 across the grid", {"67%"})
    assert target_map(looks) == ("Trial concluded by 31 Dec 2028 across the grid", {"100%"})


def test_a_heat_map_cell_short_of_100_percent_does_not_read_100():
    from sim.outputs.plots.sweep import cell_percent

    assert [cell_percent(v) for v in (0.66, 0.996, 1.0, 0.0004, 0.0)] == [
        "66%",
        "99.6%",
        "100%",
        "0.04%",
        "0%",
    ]


def test_rows_plot_labels_every_point_directly():
    from sim.outputs.plots import plot_metric_rows, rows_figure

    table = pd.DataFrame(
        {
            "label": [f"variant {k}" for k in range(17)],
            "power": np.linspace(0.5, 0.9, 17),
            "power_mc_se": 0.01,
        }
    )
    fig, (ax, _) = rows_figure(len(table), 2)
    plot_metric_rows(table, "power", list(table["label"]), ax)
    ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True))
    assert ticks[max(ticks)] == "variant 0"  # the first point at the top
    assert len(ax.texts) == 17 and ax.get_legend() is None
    assert fig.get_size_inches()[1] >= 0.3 * 17


def test_analysis_date_plot_marks_the_share_cut_at_the_date():
    dates = pd.to_datetime(["2028-03-01", "2028-06-01", "2028-12-31", "2028-12-31"])
    frame = pd.DataFrame(
        {
            "date": dates,
            "label": "run",
            "target_reached": [1, 1, 0, 0],
            "cut_by_date": [False, False, True, True],
        }
    )
    ax = plot_analysis_dates(frame, COMPLETION)
    assert any(t.get_text().startswith("50.0% cut at the calendar date") for t in ax.texts)


def test_importing_the_plots_module_leaves_seaborn_unimported():
    # seaborn (with scipy.stats, ~1.5 s) is imported by the first figure, not by the module
    code = "import sys, sim.outputs.plots; print('seaborn' in sys.modules)"
    assert python_output(code).strip() == "False"


def test_a_date_axis_of_four_and_a_half_years_ticks_without_a_warning():
    """4.5 to 5 years (a trial followed past its completion date, as the supply figure of a
    design with looks) are too few years and too many half-years for matplotlib's 5-10
    ticks: it warned on the user's terminal; now it ticks a year apart, silently."""
    import warnings

    from sim.outputs.plots.style import figure_png, format_date_axis

    ax = new_axes()
    days = np.array(["2026-01-01", "2030-06-01"], dtype="datetime64[D]")
    ax.plot(days, [0, 1])
    format_date_axis(ax)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert figure_png(ax.get_figure()).startswith(PNG)
    years = {label.get_text().split("\n")[-1] for label in ax.get_xticklabels()}
    assert len(years) == len(ax.get_xticklabels()) >= 5  # one tick a year
