"""Forecast from the trial's own data: the observed table, the posteriors, the continuation,
the commands, and a small calibration check (the full one: benchmarks/forecast_coverage.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from sim.commands.cli import main
from sim.conduct.observed import (
    COLUMNS,
    check_observed,
    observed_from_patients,
    read_observed,
)
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.continuation import (
    cumulative_hazard,
    default_prior_events,
    expected_randomized,
    fit_continuation,
    invert_cumulative_hazard,
)
from sim.scenario import DAYS_PER_MONTH, ScenarioError, parse_scenario
from sim.stats.posterior import hazard_fit, site_rate_fit
from tests.helpers import BASELINE, ROOT

AS_OF = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def dates_only(baseline_data):
    data = dict(baseline_data, treatment=None, radiotherapy=None)
    return parse_scenario(data)


@pytest.fixture(scope="module")
def simulated(dates_only):
    """Three complete simulated trials of the dates-only baseline (seed 5)."""
    model = TrialModel.from_scenario(dates_only)
    return model, simulate_chunk(model, 5, 0, 0, 3, keep_patients=3)


@pytest.fixture(scope="module")
def observed_table(simulated):
    _, out = simulated
    return observed_from_patients(out.patients[out.patients["replicate"] == 0], AS_OF)


def test_export_gives_a_table_the_checks_accept(observed_table, dates_only):
    assert list(observed_table.columns) == list(COLUMNS)
    obs = check_observed(observed_table, dates_only, AS_OF)
    assert 0 < obs.n < dates_only.trial.sample_size
    assert (obs.rand_day <= obs.as_of_day).all()
    seen = np.isfinite(obs.event_day)
    assert (obs.rand_day[seen] + obs.event_day[seen] <= obs.as_of_day).all()
    assert (obs.last_day[obs.at_risk] <= obs.as_of_day - obs.rand_day[obs.at_risk]).all()


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("randomized", "2027-01-05", "after --as-of"),
        ("event_date", "2026-01-31", "an event cannot precede randomization"),
        ("site", "Nowhere Hospital", "is not a site of the scenario"),
        ("stratum", "small cell", "is not a stratum of the scenario"),
        ("patient_id", "P0001", "duplicate patient_id"),
    ],
)
def test_bad_rows_name_the_row_and_the_rule(observed_table, dates_only, column, value, rule):
    bad = observed_table.copy()
    bad.loc[3, column] = value
    if column == "event_date":
        bad.loc[3, "event_type"] = "progression"
    with pytest.raises(ScenarioError, match=rule) as caught:
        check_observed(bad, dates_only, AS_OF)
    assert "row 5 " in str(caught.value)  # data row 3 is line 5 (header, then rows from 0)


def test_bad_observed_file_exits_2_and_writes_nothing(observed_table, tmp_path, capsys):
    bad = observed_table.copy()
    bad.loc[0, "site"] = "Nowhere Hospital"
    path = tmp_path / "observed.csv"
    bad.to_csv(path, index=False)
    out = tmp_path / "fc"
    code = main(
        [
            "forecast",
            str(BASELINE),
            "--observed",
            str(path),
            "--as-of",
            str(AS_OF),
            "--reps",
            "10",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 2
    assert "row 2 (patient_id P0001)" in capsys.readouterr().err
    assert not out.exists()


def test_mixed_blinding_is_refused(observed_table, dates_only):
    bad = observed_table.copy()
    bad.loc[2, "arm"] = ""
    with pytest.raises(ScenarioError, match="give every arm"):
        check_observed(bad, dates_only, AS_OF)


def test_parquet_and_csv_read_the_same(observed_table, dates_only, tmp_path):
    observed_table.to_csv(tmp_path / "o.csv", index=False)
    observed_table.to_parquet(tmp_path / "o.parquet", index=False)
    a = read_observed(tmp_path / "o.csv", dates_only, AS_OF)
    b = read_observed(tmp_path / "o.parquet", dates_only, AS_OF)
    for field in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))


# --- posteriors: independent references ----------------------------------------------------


def test_gamma_posterior_matches_numerical_bayes(record_validation):
    """Conjugate update vs prior x Poisson likelihood integrated on a grid (scipy.integrate)."""
    fit = site_rate_fit("site", full_rate=5.6, expected=20.0, randomized=14, prior_shape=3 * 5.6)
    a = 3 * 5.6
    unnorm = lambda t: stats.gamma.pdf(t, a, scale=1 / a) * stats.poisson.pmf(14, 20.0 * t)  # noqa: E731
    z = integrate.quad(unnorm, 0, 5)[0]
    mean = integrate.quad(lambda t: t * unnorm(t), 0, 5)[0] / z
    row = fit.row()
    record_validation(
        "forecast: site-rate posterior mean (Poisson-gamma)",
        "scipy.integrate prior x likelihood",
        mean * 5.6,
        row["posterior_mean"],
        1e-6 * mean * 5.6,
    )
    assert row["posterior_mean"] == pytest.approx(mean * 5.6, rel=1e-6)
    q95 = stats.gamma.ppf(0.95, a + 14, scale=1 / (a + 20.0)) * 5.6
    assert row["posterior_q95"] == pytest.approx(q95, rel=1e-9)


def test_hazard_prior_is_worth_the_stated_events():
    fit = hazard_fit("h", planned=0.1, events=0, exposure=0, prior_events=3)
    assert fit.shape / fit.rate == pytest.approx(0.1)
    assert fit.shape == 3  # cv 1/sqrt(3): worth 3 events


def test_conditional_event_times_follow_the_truncated_law(rng):
    """T | T > L for a piecewise hazard vs S(t) / S(L) (Kolmogorov-Smirnov, scipy)."""
    starts = np.asarray([0.0, 60.0, 200.0])
    h = np.asarray([0.004, 0.01, 0.002])
    L = 90.0
    n = 4000
    hh = np.broadcast_to(h, (1, n, 3))
    level = cumulative_hazard(np.full((1, n), L), starts, hh) + rng.standard_exponential((1, n))
    t = invert_cumulative_hazard(level, starts, hh)[0]
    assert (t > L).all()

    def cum(x):
        return cumulative_hazard(
            np.atleast_1d(x)[None, :], starts, np.broadcast_to(h, (1, np.size(x), 3))
        )[0]

    cdf = lambda x: 1 - np.exp(-(cum(x) - cum(L)))  # noqa: E731
    assert stats.kstest(t, cdf).pvalue > 0.001


def test_planned_exposure_is_unbiased(dates_only, record_validation):
    """Mean randomized by 6 months over plan trials = the plan's expected randomizations
    (the exposure of the site-rate posterior), within 4 MC SE."""
    model = TrialModel.from_scenario(dates_only)
    reps = simulate_chunk(model, 11, 0, 0, 400, keep_patients=400).patients
    as_of_day = int(round(6 * DAYS_PER_MONTH))
    cutoff = np.datetime64(dates_only.trial.start_date, "D") + as_of_day
    counts = (
        reps.assign(n=reps["randomization_date"].to_numpy("datetime64[D]") <= cutoff)
        .groupby("replicate")["n"]
        .sum()
    )
    site = dates_only.enrollment.site_list(dates_only.trial.start_date)[0]
    expected = expected_randomized(dates_only, site, 0, as_of_day)
    se = counts.std() / np.sqrt(len(counts))
    record_validation(
        "forecast: randomized by month 6 (exposure of the site-rate fit)",
        "simulated plan trials (mean)",
        counts.mean(),
        expected,
        4 * se,
    )
    assert abs(counts.mean() - expected) < 4 * se


# --- the continuation ----------------------------------------------------------------------


def test_forecast_keeps_the_observed_patients(observed_table, dates_only, simulated):
    model, _ = simulated
    obs = check_observed(observed_table, dates_only, AS_OF)
    # unblinded: the observed arms are kept (blinded, they are drawn: see below)
    history = fit_continuation(dates_only, model.calendar, model.schedule, obs, unblinded=True)
    out = simulate_chunk(
        dataclasses.replace(model, continuation=history), 3, 0, 0, 40, keep_patients=40
    )
    p = out.patients
    first = p[p["patient"] < obs.n]
    start = np.datetime64(dates_only.trial.start_date, "D")
    rand = (first["randomization_date"].to_numpy("datetime64[D]") - start).astype(int)
    np.testing.assert_array_equal(rand.reshape(40, obs.n), np.tile(obs.rand_day, (40, 1)))
    arms = first["arm"].to_numpy().reshape(40, obs.n)
    assert (
        arms == observed_table.set_index("patient_id").loc[obs.patient_id, "arm"].to_numpy()
    ).all()
    later = p[p["patient"] >= obs.n]["randomization_date"].to_numpy("datetime64[D]")
    assert (later > start + obs.as_of_day).all()
    seen = np.isfinite(obs.event_day)
    events = first["pfs_event_seen_date"].to_numpy("datetime64[D]").reshape(40, obs.n)
    known = start + (obs.rand_day + np.where(seen, obs.event_day, 0)).astype(int)
    assert (events[:, seen] == known[seen]).all()
    at_risk_events = events[:, obs.at_risk]
    after = ~np.isnat(at_risk_events)
    at_risk_last = (start + (obs.rand_day + obs.last_day).astype(int))[obs.at_risk]
    assert (
        at_risk_events[after] > np.broadcast_to(at_risk_last, at_risk_events.shape)[after]
    ).all()
    assert (out.replicates["events"] >= seen.sum()).all()


def test_blinded_data_fit_one_pooled_hazard(observed_table, dates_only, simulated):
    model, _ = simulated
    blind = observed_table.assign(arm="")
    obs = check_observed(blind, dates_only, AS_OF)
    assert obs.blinded
    fit = fit_continuation(dates_only, model.calendar, model.schedule, obs).fit_table()
    assert [p for p in fit["parameter"] if p.startswith("PFS")] == ["PFS hazard: pooled"]
    out = simulate_chunk(
        dataclasses.replace(
            model, continuation=fit_continuation(dates_only, model.calendar, model.schedule, obs)
        ),
        3,
        0,
        0,
        20,
    )
    assert len(out.replicates) == 20


def test_event_forecast_is_blinded_unless_asked(observed_table, dates_only, simulated):
    """A table with arms still gets one pooled hazard and drawn arms by default; per-arm
    hazards and the observed arms only with unblinded=True, which a table without arms
    refuses."""
    model, _ = simulated
    obs = check_observed(observed_table, dates_only, AS_OF)
    assert not obs.blinded
    blinded = fit_continuation(dates_only, model.calendar, model.schedule, obs)
    assert not blinded.unblinded
    assert [f.name for group in blinded.hazards for f in group] == ["PFS hazard: pooled"]
    assert blinded.blinded_factor > 1  # control above the pooled hazard when HR < 1
    out = simulate_chunk(
        dataclasses.replace(model, continuation=blinded), 3, 0, 0, 20, keep_patients=20
    ).patients
    arms = out[out["patient"] < obs.n]["arm"].to_numpy().reshape(20, obs.n)
    observed_arms = observed_table.set_index("patient_id").loc[obs.patient_id, "arm"].to_numpy()
    assert not (arms == observed_arms).all()  # drawn, not read from the table
    unblinded = fit_continuation(dates_only, model.calendar, model.schedule, obs, unblinded=True)
    assert unblinded.unblinded
    assert [f.name for group in unblinded.hazards for f in group] == [
        "PFS hazard: control",
        "PFS hazard: experimental",
    ]
    masked = check_observed(observed_table.assign(arm=""), dates_only, AS_OF)
    with pytest.raises(ScenarioError, match="no arms"):
        fit_continuation(dates_only, model.calendar, model.schedule, masked, unblinded=True)


def test_default_hazard_prior_is_a_fifth_of_the_event_target(observed_table, dates_only):
    """70-event target: the planned pooled hazard is worth 14 events (Gamma(14, 14 / h));
    unblinded, each arm's is worth half of that, 7; a given weight overrides it."""
    model = TrialModel.from_scenario(dates_only)
    obs = check_observed(observed_table, dates_only, AS_OF)
    assert default_prior_events(dates_only) == pytest.approx(14.0)
    assert default_prior_events(dates_only, unblinded=True) == pytest.approx(7.0)
    fit = fit_continuation(dates_only, model.calendar, model.schedule, obs)
    assert fit.prior_events == pytest.approx(14.0)
    assert fit.hazards[0][0].prior_shape == pytest.approx(14.0)
    arms = fit_continuation(dates_only, model.calendar, model.schedule, obs, unblinded=True)
    assert [h[0].prior_shape for h in arms.hazards] == pytest.approx([7.0, 7.0])
    given = fit_continuation(dates_only, model.calendar, model.schedule, obs, prior_events=2.5)
    assert given.hazards[0][0].prior_shape == pytest.approx(2.5)


def test_immature_data_get_one_line(observed_table, dates_only):
    """Few events: one line naming the count and the arms; none once the data are mature."""
    from sim.engine.forecast import maturity_note

    model = TrialModel.from_scenario(dates_only)
    tiny = observed_table.head(4)
    obs = check_observed(tiny, dates_only, AS_OF)
    events = int(np.isfinite(obs.event_day).sum())
    experimental = int((np.isfinite(obs.event_day) & (obs.arm == 1)).sum())
    note = maturity_note(
        fit_continuation(dates_only, model.calendar, model.schedule, obs), dates_only
    )
    assert note.startswith(f"Only {events} PFS events so far of the 70 targeted")
    assert f"({experimental} on the experimental arm" in note
    assert "leans on the plan" in note and note.count("\n") == 0
    assert "probability of success" not in note  # blinded: the design's effect, not the data's
    unblinded = maturity_note(
        fit_continuation(dates_only, model.calendar, model.schedule, obs, unblinded=True),
        dates_only,
    )
    # the probability of success and the posterior HR rest on the same few events
    assert unblinded.startswith(note[:-1]) and unblinded.count("\n") == 0
    assert "probability of success and posterior hazard ratio as mostly the prior's" in unblinded
    masked = check_observed(tiny.assign(arm=""), dates_only, AS_OF)
    masked_note = maturity_note(
        fit_continuation(dates_only, model.calendar, model.schedule, masked), dates_only
    )
    assert "(arms masked)" in masked_note
    # 30 events, 15 per arm (over 10 and 15% of 70, both arms well above 2): no note
    later = dataclasses.replace(
        obs,
        event_day=np.full(30, 40.0),
        arm=np.repeat([0, 1], 15),
        is_death=np.zeros(30, bool),
        **{
            f.name: np.resize(getattr(obs, f.name), 30)
            for f in dataclasses.fields(obs)
            if isinstance(getattr(obs, f.name), np.ndarray)
            and f.name not in ("event_day", "arm", "is_death")
        },
    )
    mature = dataclasses.replace(
        fit_continuation(dates_only, model.calendar, model.schedule, obs), observed=later
    )
    assert maturity_note(mature, dates_only) == ""
    lopsided = dataclasses.replace(
        mature, observed=dataclasses.replace(later, arm=np.r_[np.zeros(28, int), [1, 1]])
    )
    assert "(2 on the experimental arm, 28 on control)" in maturity_note(lopsided, dates_only)
    # unblinded with enough events for the dates, but an arm below its prior's weight (7
    # events on each arm): the effect rests as much on the prior as on the data
    unblinded_mature = dataclasses.replace(
        fit_continuation(dates_only, model.calendar, model.schedule, obs, unblinded=True),
        observed=later,
    )
    assert unblinded_mature.prior_events == 7
    assert maturity_note(unblinded_mature, dates_only) == ""  # 15 on each arm
    few_on_one = dataclasses.replace(
        unblinded_mature,
        observed=dataclasses.replace(later, arm=np.r_[np.zeros(26, int), np.ones(4, int)]),
    )
    note = maturity_note(few_on_one, dates_only)
    assert note.startswith("4 PFS events so far on the experimental arm, 26 on control")
    assert "rest as much on the prior as on the data" in note


def test_forecast_figure_counts_every_replicate(observed_table, dates_only):
    """The final-analysis share is over all forecast replicates (one never reaching it
    counts as not by completion), and each panel says what it shows."""
    from sim.engine.forecast import maturity_note
    from sim.outputs.forecast import forecast_figure

    model = TrialModel.from_scenario(dates_only)
    obs = check_observed(observed_table, dates_only, AS_OF)
    model = dataclasses.replace(
        model, continuation=fit_continuation(dates_only, model.calendar, model.schedule, obs)
    )
    dates = np.array(["2028-06-01", "2028-07-01", "NaT", "NaT"], dtype="datetime64[D]")
    note = maturity_note(model.continuation, dates_only)
    fig = forecast_figure(model, 1, 4, dates, note)
    top, bottom = fig.axes
    completion = dates_only.trial.completion_date
    assert f"on or before the registered completion {completion} in 50.0% of the 4" in (
        bottom.get_title(loc="left")
    )
    assert "90% prediction interval 2028-06-01 to not within the calendar" in bottom.get_title(
        loc="left"
    )
    assert "middle 50% / 90% of 4 forecast replicates" in top.get_title(loc="left")
    headline = fig._suptitle.get_text()
    assert "Event model: blinded (one pooled PFS hazard" in headline
    assert "worth 14 events" in headline
    assert note and " ".join(note.split()) in " ".join(headline.split())
    fitted = dataclasses.replace(
        model,
        continuation=fit_continuation(
            dates_only, model.calendar, model.schedule, obs, accrual_model="time_decay"
        ),
    )
    headline = forecast_figure(fitted, 1, 4, dates, note)._suptitle.get_text()
    assert "accrual model: time_decay" in headline
    assert "Priors: the plan's accrual worth 6 patients, the plan's hazards worth 14" in headline


def test_forecast_and_export_commands(tmp_path, capsys):
    """run -> export-observed -> forecast (with the clinic): the folder and its tables."""
    run = tmp_path / "base"
    assert (
        main(
            [
                "run",
                str(BASELINE),
                "--set",
                "treatment=null",
                "--set",
                "radiotherapy=null",
                "--reps",
                "4",
                "--keep-patients",
                "2",
                "--workers",
                "1",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    obs_path = tmp_path / "obs.csv"
    assert (
        main(
            [
                "export-observed",
                str(run),
                "--replicate",
                "1",
                "--as-of",
                str(AS_OF),
                "--out",
                str(obs_path),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "export-observed",
                str(run),
                "--replicate",
                "1",
                "--as-of",
                str(AS_OF),
                "--out",
                str(obs_path),
            ]
        )
        == 2
    )  # never overwritten without --force
    out = tmp_path / "fc"
    capsys.readouterr()
    assert (
        main(
            [
                "forecast",
                str(BASELINE),
                "--observed",
                str(obs_path),
                "--as-of",
                str(AS_OF),
                "--reps",
                "6",
                "--workers",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    for name in (
        "summary.csv",
        "timeline.csv",
        "supply.csv",
        "resources.csv",
        "fit.csv",
        "forecast.csv",
        "comparison.csv",
        "observed.csv",
        "forecast.png",
        "plan/summary.csv",
    ):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["forecast"]["as_of"] == str(AS_OF)  # a run with a forecast block
    assert manifest["forecast"]["event_model"] == "blinded"  # the default, arms or not
    assert manifest["forecast"]["prior_events"] == 14  # 20% of the 70-event target
    assert manifest["forecast"]["accrual_prior_patients"] == 6  # on the time-decay model
    printed = capsys.readouterr().out
    assert "event forecast: blinded (one pooled PFS hazard" in printed
    assert "prior: the plan's hazards, worth 14 events (20% of the 70-event target)" in printed
    assert manifest["forecast"]["prior"] in printed
    assert "prior: the plan's ramp-up and full speed" in manifest["forecast"]["accrual"]
    assert manifest["forecast"]["accrual"] in printed
    # the answers, short: as-of date and data, milestones beside the plan, the probability of
    # success, where the files are; summary.csv's rows only with --verbose
    assert len(printed.splitlines()) <= 25
    assert f"forecast as of {AS_OF} from {manifest['forecast']['patients']} patients" in printed
    assert "randomized_100pct" in printed and "plan (80% PI)" in printed
    assert "power (blinded: the share of continuations that succeed at the design HR)" in printed
    assert f"milestones: {out / 'forecast.csv'}" in printed and "(or --verbose)" in printed
    assert "cycles_given_control_mean" not in printed
    assert manifest["forecast"]["success"] not in printed
    verbose = tmp_path / "fc-verbose"
    args = ["forecast", str(BASELINE), "--observed", str(obs_path), "--as-of", str(AS_OF)]
    args += ["--reps", "6", "--workers", "1", "--quiet", "--verbose", "--out", str(verbose)]
    assert main(args) == 0
    everything = capsys.readouterr().out
    assert "cycles_given_control_mean" in everything and "randomized_100pct" in everything
    assert manifest["forecast"]["success"] in everything
    assert manifest["forecast"]["prior"] in everything
    supply = pd.read_csv(out / "supply.csv")
    assert supply["month"].min() == "2026-12"  # the vials still to come, from the as-of month
    table = pd.read_csv(out / "forecast.csv").set_index("milestone")
    assert table.loc["randomized_100pct", "median"] > str(AS_OF)
    assert "plan_median" in table.columns
    assert (table["event_model"] == "blinded").all() and (table["prior_events"] == 14).all()
    fit = pd.read_csv(out / "fit.csv")
    assert {"prior_mean", "observed_events", "posterior_mean"} <= set(fit.columns)
    report = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(report)]) == 0
    text = report.read_text()
    assert f"Forecast as of {AS_OF} against the plan" in text
    # the answers are those of the continuations of one trial: how likely success is given
    # the data, as the command says it; no power against the design's target
    from sim.engine.forecast import success_answer

    success = success_answer(
        pd.read_csv(out / "summary.csv"),
        pd.read_csv(out / "comparison.csv"),
        manifest["forecast"]["hr_threshold"],
    )
    assert f"<b>How likely is success?</b> <b>{success.estimate}</b>" in text
    assert "Success at the analysis, given the data so far" in text
    assert "of simulated continuations" in text and "of simulated trials" not in text
    assert "the design&#x27;s target" not in text and "the design's target" not in text


def test_forecast_refuses_an_as_of_before_the_start(observed_table, tmp_path):
    path = tmp_path / "o.csv"
    observed_table.to_csv(path, index=False)
    assert (
        main(
            [
                "forecast",
                str(BASELINE),
                "--observed",
                str(path),
                "--as-of",
                "2025-01-01",
                "--reps",
                "5",
                "--out",
                str(tmp_path / "fc"),
                "--quiet",
            ]
        )
        == 2
    )


# --- calibration (small; the full check is benchmarks/forecast_coverage.py) ----------------


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "forecast_coverage", ROOT / "benchmarks" / "forecast_coverage.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_forecast_intervals_cover_a_truth_unlike_the_plan():
    """30 truths (accrual 30% slower, control median 5.5), as of 10 months: the 90% intervals
    cover at least 22 of 30 (P < 0.01 if the true coverage were 90%: binomial), and the plan,
    which ignores the data, covers fewer last-patient dates than the forecast."""
    table = load_benchmark().forecast_coverage((10,), truths=30, reps=200, seed=7)
    t = table.set_index(["milestone", "level"])
    for milestone in ("last patient randomized", "event target reached"):
        assert t.loc[(milestone, 0.9), "coverage"] >= 22 / 30
        assert t.loc[(milestone, 0.8), "coverage"] >= 18 / 30
    lpi = t.loc[("last patient randomized", 0.9)]
    assert lpi["plan_coverage"] < lpi["coverage"] - 0.3


# --- sites, screening counts, piecewise hazards ----------------------------------------------

THREE_SITES = ROOT / "scenarios" / "nct07271602_three_sites.yaml"


@pytest.fixture(scope="module")
def three_sites():
    from sim.scenario import load_scenario

    return load_scenario(THREE_SITES, ["treatment=null", "radiotherapy=null"])


def test_sites_not_yet_open_keep_the_prior_and_caps_hold(three_sites):
    """As of 2026-11-02 the third site (opens 2027-01-04) has no data: its posterior is its
    prior, Gamma(h, h) from the scenario's site_heterogeneity; no site passes its cap."""
    model = TrialModel.from_scenario(three_sites)
    truth = simulate_chunk(model, 4, 0, 0, 1, keep_patients=1).patients
    as_of = dt.date(2026, 11, 2)
    obs = check_observed(observed_from_patients(truth, as_of), three_sites, as_of)
    history = fit_continuation(three_sites, model.calendar, model.schedule, obs)
    h = three_sites.enrollment.site_heterogeneity
    third = history.sites[2]
    assert (third.shape, third.rate) == (h, h)
    assert history.sites[0].events == (obs.site == 0).sum() > 0
    out = simulate_chunk(
        dataclasses.replace(model, continuation=history), 2, 0, 0, 30, keep_patients=30
    ).patients
    per_site = out.groupby(["replicate", "site"]).size().unstack(fill_value=0)
    caps = {s.name: s.cap for s in three_sites.enrollment.sites if s.cap}
    for name, cap in caps.items():
        assert per_site[name].max() <= cap
    assert (per_site.sum(axis=1) == three_sites.trial.sample_size).all()


def test_screening_counts_fit_the_screening_rate_and_pass_share(
    observed_table, dates_only, simulated, tmp_path
):
    from sim.conduct.observed import read_screening

    model, _ = simulated
    path = tmp_path / "screening.csv"
    site = dates_only.enrollment.site_list(dates_only.trial.start_date)[0].name
    pd.DataFrame(
        {
            "site": [site, site],
            "month": ["2026-05", "2026-06"],
            "screened": [30, 25],
            "failed": [10, 5],
        }
    ).to_csv(path, index=False)
    counts = read_screening(path, dates_only, AS_OF)
    obs = check_observed(observed_table, dates_only, AS_OF)
    fit = (
        fit_continuation(dates_only, model.calendar, model.schedule, obs, screening=counts)
        .fit_table()
        .set_index("parameter")
    )
    assert fit.loc[f"site screening rate: {site}", "observed_events"] == 55
    share = fit.loc["screening pass share"]
    assert share["observed_events"] == 40 and share["observed_exposure"] == 55
    bad = pd.DataFrame(
        {
            "site": [site, "Nowhere"],
            "month": ["2027-02", "2026-05"],
            "screened": [3, 2],
            "failed": [1, 5],
        }
    )
    bad.to_csv(path, index=False)
    with pytest.raises(ScenarioError) as caught:
        read_screening(path, dates_only, AS_OF)
    text = str(caught.value)
    assert "row 2: month 2027-02 is after --as-of" in text
    assert "row 3: site 'Nowhere'" in text and "failed 5 > screened 2" in text


def test_piecewise_hazards_get_one_posterior_per_piece(baseline_data, observed_table):
    data = dict(baseline_data, treatment=None, radiotherapy=None)
    data["pfs"] = {
        "control": {
            "distribution": "piecewise_exponential",
            "pieces": [{"months": 3, "median_months": 9.0}, {"median_months": 5.0}],
        },
        "death_fraction": 0.1,
    }
    scenario = parse_scenario(data)
    model = TrialModel.from_scenario(scenario)
    obs = check_observed(observed_table, scenario, AS_OF)
    history = fit_continuation(scenario, model.calendar, model.schedule, obs, unblinded=True)
    names = [f.name for arm in history.hazards for f in arm]
    assert names == [
        "PFS hazard: control, months 0-3",
        "PFS hazard: control, months 3-inf",
        "PFS hazard: experimental, months 0-3",
        "PFS hazard: experimental, months 3-inf",
    ]
    exposure = sum(f.exposure for arm in history.hazards for f in arm)
    has_event = np.isfinite(obs.event_day)
    assert sum(f.events for arm in history.hazards for f in arm) == has_event.sum()
    assert exposure > 0
    out = simulate_chunk(dataclasses.replace(model, continuation=history), 1, 0, 0, 20)
    assert (out.replicates["events"] >= has_event.sum()).all()


def test_remaining_accrual_is_the_compound_gamma(textbook, record_validation):
    """Closed form (double programming): with a constant rate lambda per day, no screening
    delay or failure and every day open, the time T from the as-of day to the m-th further
    randomization is Gamma(m, theta lambda) given theta; with theta ~ Gamma(a, b), its
    posterior, T lambda / b ~ BetaPrime(m, a) (the compound gamma). Kolmogorov-Smirnov of
    2,000 forecast last-patient days against scipy.stats.betaprime."""
    model = TrialModel.from_scenario(textbook)
    truth = simulate_chunk(model, 9, 0, 0, 1, keep_patients=1).patients
    as_of = dt.date(2026, 11, 30)  # 10 months: past the ramp-up, at 5.6 per month
    obs = check_observed(observed_from_patients(truth, as_of), textbook, as_of)
    history = fit_continuation(textbook, model.calendar, model.schedule, obs)
    out = simulate_chunk(dataclasses.replace(model, continuation=history), 3, 0, 0, 2000)
    days = out.replicates["lpi_months"].to_numpy() * DAYS_PER_MONTH - obs.as_of_day
    fit, lam = history.sites[0], 5.6 / DAYS_PER_MONTH
    m = textbook.trial.sample_size - obs.n
    law = stats.betaprime(m, fit.shape)
    x = days * lam / fit.rate
    record_validation(
        "forecast: median days to the last patient (Poisson-gamma)",
        "compound gamma (beta prime)",
        law.median() * fit.rate / lam,
        np.median(days),
        3 * np.std(days) / np.sqrt(len(days)),
    )
    assert stats.kstest(x, law.cdf).pvalue > 0.001


def test_a_milestone_some_trials_never_reach_reads_never_and_says_how_many_do():
    """forecast.csv leaves a prediction bound blank when more than 10% of the continuations
    never reach the milestone (a trial stopped at an interim look randomizes nobody after
    it): the terminal says "never" there, not "(2027-10-06 to )", and how many get there."""
    from sim.commands.forecast import format_forecast

    table = pd.DataFrame(
        {
            "milestone": ["randomized_100pct", "final_analysis"],
            "median": ["2027-12-08", "2028-07-20"],
            "pi80_low": ["2027-10-06", "2027-09-13"],
            "pi80_high": [float("nan"), "2028-12-31"],
            "share_reached": [0.686, 1.0],
            "p_by_completion": [0.686, 1.0],
            "plan_median": ["2027-11-29", "2028-04-28"],
            "plan_pi80_low": ["2027-08-30", "2027-07-07"],
            "plan_pi80_high": [float("nan"), "2028-09-11"],
            "plan_share_reached": [0.7, 1.0],
            "plan_p_by_completion": [0.7, 1.0],
        }
    )
    lines = format_forecast(table).splitlines()
    assert "2027-12-08 (2027-10-06 to never)" in lines[1]
    assert "2027-11-29 (2027-08-30 to never)" in lines[1]
    assert "never" not in lines[2]
    assert lines[3].startswith("never: more than 10% of the simulated trials never get there")
    assert lines[3].endswith("those that do: randomized_100pct 68.6% (the plan 70.0%)")
