"""OS as the primary endpoint (`analysis.endpoint: os`): the simulation against its own
closed-form design (Schoenfeld power under the average hazard ratio of the illness-death
OS at the simulated deaths, the expected time of the death target), the group-sequential
design of scenarios/phase3_os.yaml, every label saying OS, bad input refused through the
command line, and the PFS-primary run unchanged in name."""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.commands.cli import main
from sim.conduct.survival import os_survival_closed_form
from sim.engine.metric_table import METRICS, SECTIONS
from sim.errors import ScenarioError
from sim.scenario import DAYS_PER_MONTH, load_scenario
from sim.stats.design import design_scenario, os_survival_days, schoenfeld_power
from sim.stats.sequential import crossing_probabilities
from tests.helpers import BASELINE, ROOT, TEXTBOOK

SMALL = ROOT / "tests" / "data" / "os_primary_small.yaml"
PHASE3 = ROOT / "scenarios" / "phase3_os.yaml"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """1000 replicates of the small OS-primary scenario (no scans), saved with plots' data."""
    out = tmp_path_factory.mktemp("os") / "run"
    return api.simulate(
        SMALL, reps=1000, seed=5, workers=1, keep_patients=1, out=out, progress=False
    )


@pytest.fixture(scope="module")
def phase3_run():
    return api.simulate(PHASE3, reps=800, seed=21, workers=2, keep_patients=0, progress=False)


def design_of(path) -> pd.Series:
    return design_scenario(load_scenario(path)).set_index("quantity")["value"]


# --- the OS distribution of the design ------------------------------------------------------


def test_os_survival_of_the_design_is_the_illness_death_closed_form():
    """Exponential h01, h02, h12: os_survival_days (numeric convolution on a 1-day grid)
    against S_OS(t) = e^(-l t) + h01 / (l - h12) (e^(-h12 t) - e^(-l t)), l = h01 + h02
    (`os_survival_closed_form`), in both arms of the small scenario (PFS median 6 months,
    HR 0.6, death share 0.2, post-progression median 8 months)."""
    scenario = load_scenario(SMALL)
    t = np.arange(0.0, 3650.0, 7.0)
    pfs = math.log(2) / 6 / DAYS_PER_MONTH
    h12 = math.log(2) / 8 / DAYS_PER_MONTH
    for arm, hr in ((0, 1.0), (1, 0.6)):
        expected = os_survival_closed_form(t, 0.8 * pfs * hr, 0.2 * pfs * hr, h12)
        assert np.max(np.abs(os_survival_days(scenario, arm, t) - expected)) < 1e-6


def test_os_survival_of_the_design_mixes_the_subsequent_therapies():
    """With subsequent therapies (control: 40% immunotherapy, HR 0.7 on h12; experimental:
    20% docetaxel, HR 0.9) each patient who progresses takes one or none independently of
    the path so far, so S_OS is the mixture sum_j w_j S_OS(t; h12 x ratio_j) of the closed
    forms (the rest, 1 - sum w_j, with h12 itself), as the simulator draws it."""
    therapy = (
        "overall_survival.subsequent_therapy={control: [{name: io, share: 0.4, hazard_ratio: "
        "0.7, immunotherapy: true}], experimental: [{name: doce, share: 0.2, hazard_ratio: 0.9}]}"
    )
    scenario = load_scenario(SMALL, [therapy])
    t = np.arange(0.0, 3650.0, 7.0)
    pfs = math.log(2) / 6 / DAYS_PER_MONTH
    h12 = math.log(2) / 8 / DAYS_PER_MONTH
    for arm, hr, mix in ((0, 1.0, ((0.4, 0.7), (0.6, 1.0))), (1, 0.6, ((0.2, 0.9), (0.8, 1.0)))):
        expected = sum(
            w * os_survival_closed_form(t, 0.8 * pfs * hr, 0.2 * pfs * hr, h12 * m) for w, m in mix
        )
        assert np.max(np.abs(os_survival_days(scenario, arm, t) - expected)) < 1e-6


def test_per_look_drifts_match_a_monte_carlo_of_the_canonical_process():
    """Crossing probabilities with one drift per look (E[Z_k] = drift_k sqrt(t_k), as an OS
    hazard ratio changing over the looks) against 400,000 draws of the Brownian motion with
    means drift_k t_k; tolerance 4 Monte Carlo SE."""
    t = np.array([0.6, 1.0])
    upper, lower = np.array([2.669, 1.981]), np.full(2, -np.inf)
    drift = np.array([3.1, 2.6])
    up, _ = crossing_probabilities(t, upper, lower, drift)
    rng = np.random.default_rng(np.random.SeedSequence(2026))
    n = 400_000
    b1 = rng.normal(drift[0] * t[0], math.sqrt(t[0]), n)
    b2 = b1 + rng.normal(drift[1] * t[1] - drift[0] * t[0], math.sqrt(t[1] - t[0]), n)
    first = b1 / math.sqrt(t[0]) >= upper[0]
    second = ~first & (b2 >= upper[1])
    for p, hits in ((up[0], first), (up[1], second)):
        assert abs(p - hits.mean()) < 4 * math.sqrt(p * (1 - p) / n)
    same, _ = crossing_probabilities(t, upper, lower, np.array([2.8, 2.8]))
    assert np.array_equal(same, crossing_probabilities(t, upper, lower, 2.8)[0])


# --- the simulation against its own closed form ---------------------------------------------


def test_small_os_trial_power_and_death_timing_agree_with_the_design(small_run):
    """Simulated power within 3 MC SE of Schoenfeld's under the OS average hazard ratio at
    the simulated mean deaths; the mean time to the death target within 3% of the design's
    (no scans: deaths are seen when they happen, as the closed form assumes)."""
    design = design_of(SMALL)
    reps = small_run.replicates
    power = reps["reject"].mean()
    se = math.sqrt(power * (1 - power) / len(reps))
    a = small_run.scenario.analysis
    expected = schoenfeld_power(reps["events"].mean(), design["average_hazard_ratio"], a.alpha)
    assert abs(power - expected) < 3 * se
    months = reps["target_events_months"].mean()
    assert abs(months / design["target_events_months"] - 1) < 0.03
    assert (reps["deaths"] == reps["events"]).all()  # every primary event is a death


def test_phase3_os_simulation_agrees_with_its_group_sequential_design(phase3_run):
    """scenarios/phase3_os.yaml (interim at 60% of 280 deaths, O'Brien-Fleming spending):
    power and early stopping within 3 MC SE of the design's recursive integration with the
    OS average hazard ratio at each look; mean months to the death target within 3%."""
    from sim.stats.boundaries import design_rows

    scenario = phase3_run.scenario
    design = {q: v for q, v, _, _ in design_rows(scenario)}
    target_months = design_of(PHASE3)["target_events_months"]
    reps = phase3_run.replicates
    for column, quantity in (("reject", "gs_power_h1"), ("early_stop", "gs_early_stop_h1")):
        share = reps[column].mean()
        se = math.sqrt(share * (1 - share) / len(reps))
        assert abs(share - design[quantity]) < 3 * se, column
    assert abs(reps["target_events_months"].mean() / target_months - 1) < 0.03
    assert design["gs_power_h0"] == pytest.approx(scenario.analysis.alpha, abs=1e-6)


# --- every label says OS --------------------------------------------------------------------

PFS_NAMED = re.compile(r"^(median_pfs_|pfs_)")  # metrics whose name carries PFS: secondary


def test_summary_meanings_of_the_primary_say_os(small_run):
    summary = small_run.summary
    primary = summary[~summary["metric"].str.match(PFS_NAMED)]
    assert not primary["meaning"].str.contains("PFS").any(), list(
        primary.loc[primary["meaning"].str.contains("PFS"), "metric"]
    )
    meanings = summary.set_index("metric")["meaning"]
    for metric in ("power", "events_at_analysis_mean", "hazard_ratio_median", "p_cut_by_events"):
        assert "OS" in meanings[metric], metric
    assert "median_os_control_months_mean" in meanings
    assert "secondary" in meanings["pfs_power"]


def test_summary_units_of_the_primarys_counts_say_deaths(small_run):
    """summary.csv's unit of a count of the primary's events is deaths with OS primary (the
    words of ENDPOINT_WORDS, as the meanings); PFS's (a secondary endpoint) and adverse
    events' counts stay events; a PFS run's counts stay events."""
    from sim.engine.metric_table import describe_metric

    units = small_run.summary.set_index("metric")["unit"]
    for metric in ("events_at_analysis_mean", "events_at_completion_mean"):
        assert units[metric] == "deaths", metric
    events = units[units == "events"].index
    assert all(m.startswith(("pfs_", "ae_events_")) for m in events), list(events)
    assert describe_metric("events_at_analysis_mean")[0] == "events"
    assert describe_metric("look2_events_mean", "os")[0] == "deaths"
    assert describe_metric("expected_events", "os")[0] == "deaths"
    assert describe_metric("estimate_logrank_median", "os")[0] == "deaths"
    assert describe_metric("estimate_logrank_median")[0] == "events"


def test_pfs_run_keeps_pfs_words_and_names(baseline):
    """The same rows read for a PFS-primary run: the generic meanings say PFS, the medians
    of the primary keep their PFS names."""
    from sim.engine.metric_table import describe_metric

    assert "primary endpoint (PFS)" in describe_metric("power")[1]
    assert "primary endpoint (OS)" in describe_metric("power", "os")[1]
    assert "PFS events" in describe_metric("events_at_analysis_mean")[1]
    assert baseline.analysis.endpoint == "pfs"


def test_timeline_plots_and_report_say_os(small_run, tmp_path):
    from sim.outputs.plots import run_figures
    from sim.outputs.report import build_report

    folder = small_run.folder
    timeline = pd.read_csv(folder / "timeline.csv")
    assert not timeline.astype(str).apply(lambda c: c.str.contains("PFS")).any().any()
    panels = {panel.name: panel for panel in run_figures(folder)}
    for name, panel in panels.items():
        texts = [t.get_text() for t in panel.figure.findobj(match=lambda o: hasattr(o, "get_text"))]
        words = " ".join([*texts, panel.caption])
        if name == "pfs_km":  # PFS, the secondary endpoint, says so
            assert "secondary" in words
        else:
            assert "PFS" not in words, name
    assert "OS" in " ".join(t.get_text() for t in panels["events"].figure.texts)
    assert "interpolated" not in panels["events"].caption  # the replay of deaths checks out
    report = build_report(folder)
    headline = re.search(r'<p class="headline">(.*?)</p>', report, re.S).group(1)
    assert "primary endpoint (OS)" in headline and "PFS" not in headline
    assert "death target reached (OS) <b>" in headline and "event target reached" not in headline


# --- bad input ------------------------------------------------------------------------------


def run_rejects(tmp_path, capsys, scenario, override: str, needles: tuple[str, ...]) -> None:
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--set", override, "--reps", "10", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") <= 3, err  # one message, not a traceback
    for needle in needles:
        assert needle in err, (needle, err)
    assert not out.exists()


def test_unknown_endpoint_is_refused(tmp_path, capsys):
    run_rejects(
        tmp_path, capsys, BASELINE, "analysis.endpoint=dfs", ("analysis.endpoint", "'dfs'", "'os'")
    )


def test_os_primary_without_overall_survival_is_refused(tmp_path, capsys):
    run_rejects(
        tmp_path,
        capsys,
        TEXTBOOK,
        "analysis.endpoint=os",
        ("analysis.endpoint = 'os'", "needs the overall_survival block", "add overall_survival"),
    )


def test_os_primary_with_an_own_os_cut_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(BASELINE),
            "--set",
            "analysis.endpoint=os",
            "--set",
            "overall_survival.cut=events",
            "--set",
            "overall_survival.event_target=40",
            "--reps",
            "10",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "overall_survival.cut = 'events'" in err and "primary analysis" in err


def test_forecast_of_an_os_primary_trial_is_refused():
    with pytest.raises(ScenarioError, match="analysis.endpoint = 'os'.*cannot forecast"):
        api.forecast(
            BASELINE,
            observed="never-read.csv",
            as_of=dt.date(2027, 6, 1),
            overrides={"analysis.endpoint": "os"},
            progress=False,
        )


# --- the metric table ----------------------------------------------------------------------


def test_power_like_meanings_say_what_they_count():
    """power, power_stratified, power_unstratified, power_ignoring_futility,
    power_at_completion: which test, which bounds, and how a futility stop counts."""
    meaning = {m.name: m.meaning for m in METRICS}
    assert "futility stop counts as a failure" in meaning["power"]
    assert "binding futility" in meaning["power"]
    for name in ("power_stratified", "power_unstratified", "power_at_completion"):
        assert "nominal analysis.alpha" in meaning[name], name
        assert "{primary}" in meaning[name], name
    assert "futility stop counts by that test" in meaning["power_stratified"]
    assert "futility stops ignored" in meaning["power_ignoring_futility"]
    assert "the same bounds as power" in meaning["power_ignoring_futility"]
    assert "add up to power" in meaning["reject_look{k}"]
    assert all(section.rows for section in SECTIONS)


def test_compare_refuses_runs_of_different_primary_endpoints(small_run, tmp_path, capsys):
    pfs = tmp_path / "pfs"
    api.simulate(
        SMALL,
        reps=20,
        seed=5,
        workers=1,
        keep_patients=0,
        overrides={"analysis.endpoint": "pfs"},
        out=pfs,
        progress=False,
    )
    assert main(["compare", str(small_run.folder), str(pfs)]) == 2
    err = capsys.readouterr().err
    assert "analysis.endpoint differs between the runs" in err and "has os" in err


def test_a_hazard_ratio_prior_with_os_primary_is_refused(baseline_data):
    from tests.helpers import vary

    with pytest.raises(ScenarioError, match=r"prior\.hazard_ratio.*PFS effect"):
        vary(
            baseline_data,
            **{
                "analysis.endpoint": "os",
                "prior": {
                    "hazard_ratio": {"distribution": "lognormal", "median": 0.7, "sd_log": 0.3}
                },
            },
        )


# --- the event target against what the patients can give: deaths with OS primary ------------

NEVER_DIE = (  # 60% of the patients who progress are cured: 104 of 200 die, ever
    "overall_survival.post_progression="
    "{distribution: exponential, median_months: 8, cure_fraction: 0.6}"
)


def test_the_check_counts_deaths_of_the_illness_death_model():
    """`primary_event_probabilities` with OS primary, exponential h01, h02, h12 (the small
    scenario): an upper bound on P(death by k + 1/2 months) that puts each progression at
    the start of its half-month cell, so it lies between the closed form at t and at t + half
    a month (`os_survival_closed_form`); with PFS primary, 1 - S_PFS(t) itself."""
    from sim.scenario.checks import primary_event_probabilities

    scenario = load_scenario(SMALL)
    pfs_data = load_scenario(SMALL, ["analysis.endpoint=pfs"])
    months = 60
    t = (np.arange(months) + 0.5) * DAYS_PER_MONTH
    pfs = math.log(2) / 6 / DAYS_PER_MONTH
    h12 = math.log(2) / 8 / DAYS_PER_MONTH
    for arm, hr in ((0, 1.0), (1, 0.6)):
        dies = np.asarray(primary_event_probabilities(scenario, arm, months))
        hazards = (0.8 * pfs * hr, 0.2 * pfs * hr, h12)
        exact = 1.0 - os_survival_closed_form(t, *hazards)
        later = 1.0 - os_survival_closed_form(t + DAYS_PER_MONTH / 2, *hazards)
        assert np.all(dies >= exact - 1e-12) and np.all(dies <= later + 1e-12)
        assert np.max(dies - exact) < 0.03  # half a month of deaths at most
        progressed = np.asarray(primary_event_probabilities(pfs_data, arm, months))
        np.testing.assert_allclose(progressed, -np.expm1(-pfs * hr * t), rtol=1e-12)
        assert np.all(progressed > dies)  # the PFS figures would overstate the deaths


def test_a_death_target_the_patients_cannot_give_is_refused_naming_deaths(tmp_path, capsys):
    """120 deaths of 200 patients when 0.2 + 0.8 x 0.4 = 52% ever die: refused
    (the cut would wait for ever), the message saying deaths; before, the check counted PFS
    events (every patient has one) and the run went on to an analysis a century later."""
    needles = ("analysis.event_target = 120", "deaths of the illness-death model", "deaths")
    run_rejects(tmp_path, capsys, SMALL, NEVER_DIE, needles)


def test_a_pfs_target_is_not_refused_for_the_deaths_of_its_os_block():
    """The same scenario with PFS primary: 120 PFS events of 200 are reachable (OS, now
    secondary, would not reach 120 deaths, which is not the event target's business)."""
    scenario = load_scenario(SMALL, ["analysis.endpoint=pfs", NEVER_DIE])
    assert scenario.analysis.event_target == 120


def test_design_warnings_use_the_primary_endpoints_effect():
    """The power warning from the primary endpoint's figures only: PFS HR 0.9 with a large
    post-progression benefit (HR 0.4) is hopeless for PFS (Schoenfeld: 2828 events) and
    fine for OS (AHR 0.53, 76 deaths); PFS HR 0.6 with post-progression harm (HR 1.3) the
    other way round (PFS 120 events; OS AHR 0.78, 497 deaths). OS lines say deaths."""
    from sim.stats.design import design_warnings

    def warnings(endpoint: str, pfs_hr: float, after_hr: float) -> list[str]:
        overrides = [
            f"analysis.endpoint={endpoint}",
            f"effect.hazard_ratio={pfs_hr}",
            f"overall_survival.post_progression_hazard_ratio={after_hr}",
        ]
        return design_warnings(load_scenario(SMALL, overrides))

    assert warnings("os", 0.9, 0.4) == []
    (pfs_line,) = warnings("pfs", 0.9, 0.4)
    assert "needs 2828 events (Schoenfeld)" in pfs_line
    assert warnings("pfs", 0.6, 1.3) == []
    (os_line,) = warnings("os", 0.6, 1.3)
    assert "needs 497 deaths (Schoenfeld under the OS average hazard ratio 0.778)" in os_line
    assert "events" not in os_line


def test_a_death_target_beyond_the_designs_horizon_is_warned_in_deaths():
    """Post-progression median 120 months: 160 deaths of 200 come within 50 years (the run
    can finish) but not within the 120 months the numeric design follows; the warning says
    deaths and that horizon."""
    from sim.stats.design import design_warnings

    scenario = load_scenario(
        SMALL,
        [
            "overall_survival.post_progression={distribution: exponential, median_months: 120}",
            "analysis.event_target=160",
        ],
    )
    (line,) = [w for w in design_warnings(scenario) if w.startswith("only")]
    assert "deaths are expected within 120 months" in line
    assert "death target 160" in line and "events" not in line


def test_the_os_design_output_names_deaths_and_os(capsys):
    """Every line of `python -m sim design scenarios/phase3_os.yaml` that counts or names the
    primary's events says deaths or OS: no unit 'events', no method saying events or PFS; the
    looks' table says its events are deaths."""
    table = api.design(PHASE3)
    assert "events" not in set(table["unit"])
    for quantity, method in zip(table["quantity"], table["method"], strict=True):
        assert "PFS" not in method and not re.search(r"\bevents?\b", method), (quantity, method)
    assert main(["design", str(PHASE3)]) == 0
    out = capsys.readouterr().out
    assert "looks of the OS analysis: events are deaths" in out
    assert "PFS" not in out


def test_the_os_design_says_it_has_no_futility_bound_and_rounds_the_ahr():
    """phase3_os.yaml has efficacy bounds alone: its power rows say so (never 'stopping at
    futility'), its alpha row names no futility rule to ignore; the OS AHR of the h1 rows is
    written with 3 significant digits (0.71), as design.csv's other ratios are rounded."""
    methods = api.design(PHASE3).set_index("quantity")["method"]
    assert methods["gs_alpha_spent"].endswith("; no futility bound")
    for label in ("h0", "h1"):
        assert methods[f"gs_power_{label}"].endswith(
            "280 deaths, efficacy bounds alone (no futility bound)"
        )
    assert not methods.str.contains("futility ignored|stopping at futility").any()
    assert methods["gs_power_h1"].startswith("OS AHR 0.71 at the final look")
    assert not methods.str.contains(r"\d\.\d{4,}").any(), list(methods)


def test_the_os_design_effect_is_computed_once(monkeypatch):
    """design.csv's group-sequential rows and boundaries.csv of phase3_os.yaml ask for the
    OS average hazard ratio off the expected-deaths grid once per set of death counts: the
    final look's (the design HR; whether the design has an effect) and the looks' (the h1
    drifts), besides the fixed design's at the death target; the planned events and the
    SequentialPlan are the same objects for both tables."""
    from sim.stats import boundaries
    from sim.stats import design as fixed

    scenario = load_scenario(PHASE3)
    fixed.nph_grid_events(scenario)  # the grids (of the scenario and of H0) are cached apart
    fixed.nph_grid_events(boundaries.os_null_scenario(scenario))
    asked: list[list[float]] = []
    original = fixed.nph_expected_events

    def counted(scenario_: object, months: object) -> pd.DataFrame:
        asked.append(list(np.atleast_1d(months)))
        return original(scenario_, months)

    monkeypatch.setattr(fixed, "nph_expected_events", counted)
    api.design(scenario)
    api.boundaries(scenario)
    assert len(asked) == 3, asked  # the death target's, the final look's, the looks'
    assert boundaries.scenario_plan(scenario) is boundaries.scenario_plan(scenario)
    assert boundaries.planned_events(scenario) == [168.0, 280.0]
