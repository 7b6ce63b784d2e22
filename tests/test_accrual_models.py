"""The forecast's accrual models (sim.stats.accrual_models): each fit against an independent
reference (a closed form, or scipy's optimiser on a log-likelihood written out here with
scipy.stats and scipy.integrate), the choice by AIC, and the forecast that uses them."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from sim.commands.cli import main
from sim.conduct.observed import check_observed, observed_from_patients
from sim.engine.chunk import TrialModel, chunk_streams, simulate_chunk
from sim.engine.continuation import (
    continue_enrollment,
    expected_randomized,
    fit_continuation,
    planned_daily_randomizations,
)
from sim.scenario import ScenarioError, parse_scenario
from sim.stats.accrual_models import (
    LOG_DELTA_BOUNDS,
    check_accrual_model,
    fit_accrual,
    fit_piecewise,
    fit_plan_shape,
    fit_poisson,
    fit_time_decay,
    invert_cumulative,
    plan_accrual_prior,
    time_decay_beta_posterior,
    time_decay_delta_posterior,
)
from tests.helpers import BASELINE

AS_OF = dt.date(2026, 8, 1)


def nhpp_times(rate, window: float, peak: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival days on [0, window] of a Poisson process with intensity rate(t) <= peak, by
    thinning (Lewis and Shedler 1979): independent of the models' own inversion."""
    count = rng.poisson(peak * window)
    candidates = np.sort(rng.uniform(0, window, count))
    return candidates[rng.random(count) < rate(candidates) / peak]


def test_poisson_fit_is_the_closed_form_and_scipy_likelihood(rng):
    """lambda_hat = n / T; the log-likelihood equals the exponential gaps' log-density plus
    the log-survival of the last open gap (scipy.stats.expon)."""
    times = np.sort(rng.uniform(0, 200, 37))
    fit = fit_poisson(times, 200.0)
    assert fit.params[0] == pytest.approx(37 / 200, rel=1e-12)
    gaps = np.diff(np.concatenate([[0.0], times]))
    scale = 1 / fit.params[0]
    reference = stats.expon.logpdf(gaps, scale=scale).sum() + stats.expon.logsf(
        200 - times[-1], scale=scale
    )
    assert fit.loglik == pytest.approx(reference, rel=1e-10)
    assert fit.aic == pytest.approx(-2 * reference + 2, rel=1e-10)


def test_piecewise_fit_matches_scipy_poisson_counts(rng):
    """Rates per interval maximise the Poisson likelihood of the interval counts
    (scipy.stats.poisson), found by scipy's optimiser."""
    times = np.sort(
        np.concatenate([rng.uniform(0, 60, 6), rng.uniform(60, 150, 25), rng.uniform(150, 180, 9)])
    )
    fit = fit_piecewise(times, 180.0, (60.0, 150.0, 400.0))  # a knot past the data: dropped
    assert fit.knots == (0.0, 60.0, 150.0)
    counts = np.histogram(times, bins=[0, 60, 150, 180])[0]
    widths = np.array([60.0, 90.0, 30.0])

    def minus(log_rates: np.ndarray) -> float:
        return -stats.poisson.logpmf(counts, np.exp(log_rates) * widths).sum()

    best = optimize.minimize(minus, np.zeros(3), method="Nelder-Mead", options={"xatol": 1e-10})
    assert np.exp(best.x) == pytest.approx(fit.params, rel=1e-5)


def time_decay_reference_loglik(times: np.ndarray, window: float, beta: float, delta: float):
    """sum log lambda(t_i) - integral_0^T lambda, the integral by quadrature."""

    def rate(t):
        return beta * (1 - np.exp(-delta * t))

    area = integrate.quad(rate, 0, window)[0]
    return np.log(rate(times)).sum() - area


def test_time_decay_fit_matches_scipy_on_the_quadrature_likelihood(rng):
    """The profile-likelihood MLE equals scipy's Nelder-Mead on the full two-parameter
    log-likelihood (its integral by scipy.integrate.quad)."""
    beta, delta = 0.2, 1 / 40  # per day: a rate rising to 6 a month, half of it in 28 days
    times = nhpp_times(lambda t: beta * (1 - np.exp(-delta * t)), 240.0, beta, rng)
    fit = fit_time_decay(times, 240.0)

    def minus(x: np.ndarray) -> float:
        return -time_decay_reference_loglik(times, 240.0, *np.exp(x))

    best = optimize.minimize(
        minus, np.log([0.1, 0.1]), method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12}
    )
    assert np.asarray(fit.params) == pytest.approx(np.exp(best.x), rel=1e-4)
    assert fit.loglik == pytest.approx(-best.fun, abs=1e-8)


def test_time_decay_draws_follow_the_posterior_by_quadrature(rng):
    """log delta's draws have the posterior mean that a double quadrature of likelihood x
    prior (uniform on log delta within the bounds, beta^(-1/2)) gives, within 3 MC SE; and
    the grid density equals the quadrature's marginal at several delta."""
    times = nhpp_times(lambda t: 0.2 * (1 - np.exp(-t / 60)), 120.0, 0.2, rng)
    fit = fit_time_decay(times, 120.0)
    peak = fit.loglik

    def marginal(log_delta: float) -> float:
        def joint(log_beta: float) -> float:
            b, d = np.exp(log_beta), np.exp(log_delta)
            # beta^(-1/2) d(beta) = beta^(1/2) d(log beta)
            return np.exp(time_decay_reference_loglik(times, 120.0, b, d) - peak + log_beta / 2)

        return integrate.quad(joint, np.log(fit.params[0]) - 8, np.log(fit.params[0]) + 8)[0]

    lo, hi = LOG_DELTA_BOUNDS
    total = integrate.quad(marginal, lo, hi, limit=200)[0]
    mean = integrate.quad(lambda x: x * marginal(x), lo, hi, limit=200)[0] / total
    grid, density = time_decay_delta_posterior(times, 120.0)
    for k in (50, 200, 350):
        assert density[k] / density[200] == pytest.approx(
            marginal(grid[k]) / marginal(grid[200]), rel=1e-5
        )
    draws = np.log(fit.draw(20_000, rng)[:, 1])
    assert abs(draws.mean() - mean) < 3 * draws.std() / np.sqrt(len(draws)) + grid[1] - grid[0]


def test_time_decay_plan_prior_is_the_power_prior_by_quadrature(rng):
    """With the plan as prior (a power prior: the plan's expected randomizations as data,
    the likelihood raised to w / N), the marginal of log delta on the grid equals a double
    quadrature of data likelihood x plan likelihood^(w/N) x beta^(-1/2), both likelihoods
    written out here (the plan's as a Poisson process whose count on day k is r_k, its
    integral by quadrature); beta | delta is the gamma whose mean is the quadrature's
    E[beta | delta]; and the prior narrows the randomizations expected by a later day."""
    times = nhpp_times(lambda t: 0.1 * (1 - np.exp(-t / 30)), 70.0, 0.1, rng)  # a slow start
    expected = np.minimum(np.arange(300) / 60, 1.0) * 0.2  # the plan: 6 a month after 2
    prior = plan_accrual_prior(expected, int(expected.sum()), 6.0, 0.2 * 30.4375)
    assert prior.weight == 6.0 and sum(prior.expected) >= int(expected.sum())
    a0 = prior.power
    days = np.arange(len(prior.expected)) + 0.5
    r = np.asarray(prior.expected)

    def log_joint(log_beta: float, log_delta: float) -> float:
        b, d = np.exp(log_beta), np.exp(log_delta)
        planned = np.sum(r * np.log(b * (1 - np.exp(-d * days))))
        planned -= integrate.quad(lambda t: b * (1 - np.exp(-d * t)), 0, len(r))[0]
        return time_decay_reference_loglik(times, 70.0, b, d) + a0 * planned - log_beta / 2

    peak = log_joint(np.log(0.2), np.log(1 / 30))

    def marginal(log_delta: float, power: int = 0) -> float:
        def joint(log_beta: float) -> float:
            # d(beta) = beta d(log beta)
            return np.exp(log_joint(log_beta, log_delta) - peak + (1 + power) * log_beta)

        return integrate.quad(joint, np.log(0.2) - 6, np.log(0.2) + 6, limit=100)[0]

    grid, density = time_decay_delta_posterior(times, 70.0, prior)
    for k in (100, 250, 320):
        assert density[k] / density[250] == pytest.approx(
            marginal(grid[k]) / marginal(grid[250]), rel=1e-4
        )
    shape, area = time_decay_beta_posterior(len(times), 70.0, np.exp(grid[250]), prior)
    assert shape / area == pytest.approx(marginal(grid[250], 1) / marginal(grid[250]), rel=1e-4)
    spans = []  # the 90% range of randomizations by day 300, without and with the prior
    for fit in (fit_time_decay(times, 70.0), fit_time_decay(times, 70.0, prior)):
        draws = fit.draw(4000, np.random.default_rng(1))
        count = fit.cumulative(np.full((4000, 1), 300.0), draws)[:, 0]
        spans.append(np.quantile(count, [0.05, 0.95]))
    assert np.ptp(spans[1]) < 0.8 * np.ptp(spans[0])  # narrower, and still holds the plan's
    assert spans[1][0] < expected.sum() < spans[1][1]


def test_time_decay_recovers_its_truth(rng):
    """The truth lies inside the 99.9% likelihood-ratio region of the fit (Wilks: twice the
    log-likelihood drop is chi-square with 2 degrees of freedom)."""
    beta, delta = 0.5, 1 / 60
    times = nhpp_times(lambda t: beta * (1 - np.exp(-delta * t)), 600.0, beta, rng)
    fit = fit_time_decay(times, 600.0)
    drop = 2 * (fit.loglik - time_decay_reference_loglik(times, 600.0, beta, delta))
    assert 0 <= drop < stats.chi2(2).ppf(0.999)


def test_plan_shape_scale_is_events_over_planned_count():
    daily = np.r_[np.zeros(10), np.full(50, 0.1), np.full(100, 0.2)]
    times = np.array([12.0, 30.5, 70.2, 80.0, 99.0, 120.0, 150.0])
    fit = fit_plan_shape(times, 160.0, daily)
    assert fit.params[0] == pytest.approx(7 / daily.sum())
    expected = np.log(fit.params[0] * daily[times.astype(int)]).sum() - 7
    assert fit.loglik == pytest.approx(expected)


def test_auto_takes_the_smallest_aic(rng):
    """Homogeneous arrivals against a plan that ramps up: Poisson wins; a slow ramp with
    many arrivals: time-decay wins; the reason lists every AIC."""
    ramp = np.minimum(np.arange(300) / 150, 1.0) * 0.2
    flat = nhpp_times(lambda t: np.full_like(t, 0.15), 300.0, 0.15, rng)
    choice = fit_accrual(flat, 300.0, ramp)
    aics = {f.model: f.aic for f in choice.fits}
    assert choice.model == min(aics, key=aics.get)
    # piecewise, one parameter more, beats it by chance (P(chi2_1 > 2) = 0.16): not asserted
    assert aics["poisson"] < min(aics["plan_shape"], aics["time_decay"])
    assert "smallest AIC" in choice.reason and "time_decay" in choice.reason
    slow = nhpp_times(lambda t: 0.6 * (1 - np.exp(-t / 150)), 300.0, 0.6, rng)
    assert fit_accrual(slow, 300.0, np.full(300, 0.2)).model == "time_decay"
    # too few randomizations for the model asked: the plan, and the reason says why
    few = fit_accrual(np.array([20.0, 40.0]), 90.0, ramp[:90], requested="time_decay")
    assert few.model == "plan" and "too few" in few.reason
    assert fit_accrual(np.array([]), 90.0, ramp[:90]).model == "plan"


def test_inverse_of_the_cumulative_intensity(rng):
    times = nhpp_times(lambda t: 0.3 * (1 - np.exp(-t / 30)), 200.0, 0.3, rng)
    ramp = np.minimum(np.arange(400) / 100, 1.0) * 0.3  # 400 days tabulated: beyond, the last
    for fit in (
        fit_poisson(times, 200.0),
        fit_piecewise(times, 200.0, (100.0,)),
        fit_time_decay(times, 200.0),
        fit_plan_shape(times, 200.0, ramp),
    ):
        params = fit.draw(5, rng)
        lower = np.full((5, 1), 150.0)
        levels = fit.cumulative(lower, params) + np.cumsum(rng.exponential(size=(5, 80)), axis=1)
        t = invert_cumulative(fit, levels, params, lower)
        assert (t >= 150.0).all()
        assert fit.cumulative(t, params) == pytest.approx(levels, rel=1e-7)


def test_parameter_draws_follow_their_stated_laws(rng):
    """Poisson rates from Gamma(n + 1/2, T) (scipy.stats.gamma's mean and variance), the
    plan shape's scale from Gamma(n + 1/2, R(T))."""
    times = np.sort(rng.uniform(0, 100, 20))
    draws = fit_poisson(times, 100.0).draw(40_000, rng)[:, 0]
    law = stats.gamma(20.5, scale=1 / 100)
    assert draws.mean() == pytest.approx(law.mean(), abs=4 * law.std() / 200)
    assert draws.var() == pytest.approx(law.var(), rel=0.03)  # SE of a variance ~ 1%
    daily = np.r_[np.zeros(10), np.full(150, 0.25)]
    fit = fit_plan_shape(times, 100.0, daily)
    scales = fit.draw(40_000, rng)[:, 0]
    law = stats.gamma(20.5, scale=1 / daily[:100].sum())  # R(T): the plan's count by T
    assert scales.mean() == pytest.approx(law.mean(), abs=4 * law.std() / 200)


@pytest.fixture(scope="module")
def dates_only(baseline_data):
    return parse_scenario(dict(baseline_data, treatment=None, radiotherapy=None))


def half_accrual_table(scenario):
    """The --observed table of a simulated trial with half the planned accrual, at AS_OF."""
    data = json.loads(json.dumps(scenario.model_dump(mode="json")))
    for row in data["enrollment"]["sites"][0]["screening_rate"]:
        row["per_month"] *= 0.5
    truth = TrialModel.from_scenario(parse_scenario(data))
    return observed_from_patients(
        simulate_chunk(truth, 3, 0, 0, 1, keep_patients=1).patients, AS_OF
    )


@pytest.fixture(scope="module")
def six_months(dates_only):
    """A simulated trial with half the planned accrual, cut at AS_OF (6 months in)."""
    return check_observed(half_accrual_table(dates_only), dates_only, AS_OF)


def test_planned_curve_sums_to_the_planned_exposure(dates_only):
    """The plan's daily randomizations add up to the plan's expected count by the as-of day
    (sim.engine.continuation.expected_randomized, computed day by day without convolution)."""
    model = TrialModel.from_scenario(dates_only)
    day = model.calendar.day_of(AS_OF)
    curve = planned_daily_randomizations(dates_only, model.calendar, 0, day)
    site = dates_only.enrollment.site_list(dates_only.trial.start_date)[0]
    expected = expected_randomized(
        dates_only, site, model.calendar.day_of(site.activation_date), day
    )
    assert curve.sum() == pytest.approx(expected, rel=1e-9)


def test_time_decay_prior_weight_is_six_patients_or_prior_months_of_full_speed(
    dates_only, six_months
):
    """The plan's accrual as prior on time-decay: 6 patients by default; --prior-months M
    makes it M months of the plan's full speed (8 screened a month at the one site, times
    the pass share); its expected randomizations run to the sample size; the other models
    carry none."""
    model = TrialModel.from_scenario(dates_only)
    common = (dates_only, model.calendar, model.schedule, six_months)
    default = fit_continuation(*common, accrual_model="time_decay")
    assert default.accrual_prior.weight == 6.0
    assert sum(default.accrual_prior.expected) == pytest.approx(104, abs=1.0)
    pass_share = 1 - dates_only.enrollment.failure_probability
    given = fit_continuation(*common, prior_months=2.0, accrual_model="time_decay")
    assert given.accrual_prior.weight == pytest.approx(2.0 * 8 * pass_share)
    assert fit_continuation(*common, accrual_model="poisson").accrual_prior is None
    assert fit_continuation(*common, accrual_model="plan").accrual_prior is None


def test_forecast_randomizes_at_the_drawn_poisson_rate(dates_only, six_months):
    """Under the Poisson model, randomizations between 60 and 240 days after the as-of day
    average E[lambda] x 180 = (n + 1/2) / T x 180 over replicates (within 3 MC SE; the
    screening delay and the clinic calendar shift days, not counts, that far from the
    as-of day)."""
    model = TrialModel.from_scenario(dates_only)
    history = fit_continuation(
        dates_only, model.calendar, model.schedule, six_months, accrual_model="poisson"
    )
    assert history.accrual_model == "poisson"
    fit = history.accrual.chosen
    reps = 400
    enrolled = continue_enrollment(model, history, reps, chunk_streams(8, 0)["enrollment"])
    a = six_months.as_of_day
    counts = ((enrolled.rand_day >= a + 60) & (enrolled.rand_day < a + 240)).sum(axis=1)
    expected = (fit.n + 0.5) / fit.window * 180
    assert abs(counts.mean() - expected) < 3 * counts.std() / np.sqrt(reps)


def test_bad_accrual_options_name_the_flag():
    with pytest.raises(ScenarioError, match="--accrual-model 'spline': must be one of"):
        check_accrual_model("spline", None)
    with pytest.raises(ScenarioError, match="--accrual-knots 6 3: must be positive and increasing"):
        check_accrual_model("piecewise", (6.0, 3.0))
    check_accrual_model("auto", (3.0, 6.0))  # auto fits the piecewise model too
    with pytest.raises(ScenarioError, match="--accrual-knots 3 6: only the piecewise model"):
        check_accrual_model("time_decay", (3.0, 6.0))


def test_forecast_command_states_its_accrual_model(dates_only, six_months, tmp_path, capsys):
    """--accrual-model auto: the choice and why on the terminal, in accrual.csv, forecast.csv
    and the manifest; a bad knot exits 2."""
    obs = tmp_path / "obs.csv"
    half_accrual_table(dates_only).to_csv(obs, index=False)
    out = tmp_path / "fc"
    args = ["forecast", str(BASELINE), "--set", "treatment=null", "--set", "radiotherapy=null"]
    args += ["--observed", str(obs), "--as-of", str(AS_OF), "--reps", "20", "--workers", "1"]
    assert main([*args, "--accrual-model", "auto", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())["forecast"]
    fits = pd.read_csv(out / "accrual.csv")
    assert set(fits["accrual_model"]) == {"plan_shape", "poisson", "piecewise", "time_decay"}
    chosen = fits.loc[fits["chosen"], "accrual_model"].item()
    assert chosen == fits.loc[fits["aic"].idxmin(), "accrual_model"] == manifest["accrual_model"]
    assert manifest["accrual"] in printed and "smallest AIC" in manifest["accrual"]
    assert (pd.read_csv(out / "forecast.csv")["accrual_model"] == chosen).all()
    bad = [
        *args,
        "--accrual-model",
        "piecewise",
        "--accrual-knots",
        "0",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main(bad) == 2
    assert "--accrual-knots 0: must be positive" in capsys.readouterr().err


def test_api_forecast_takes_the_accrual_model(dates_only, six_months, tmp_path):
    """sim.forecast(accrual_model=...): the table `accrual` and the manifest say which model
    forecast; an unknown model is one ScenarioError naming it."""
    import sim

    obs = tmp_path / "obs.csv"
    half_accrual_table(dates_only).to_csv(obs, index=False)
    common = dict(as_of=AS_OF, reps=10, workers=1, progress=False)
    results = sim.forecast(dates_only, obs, accrual_model="time_decay", **common)
    assert results.manifest["forecast"]["accrual_model"] == "time_decay"
    assert results.table("accrual").set_index("accrual_model").loc["time_decay", "chosen"]
    with pytest.raises(ScenarioError, match="--accrual-model 'spline'"):
        sim.forecast(dates_only, obs, accrual_model="spline", **common)


def test_the_accrual_statement_says_what_the_screening_counts_and_prior_informed(
    dates_only, tmp_path
):
    """The printed accrual line (manifest `accrual`) gives the plan model's prior weight
    and, with --screening, what the screened counts informed: the plan model's site rates
    and pass share; a fitted model's share of screenings among the sites only (as
    continue_enrollment and enroll_by_accrual_model use them)."""
    import sim

    obs = tmp_path / "obs.csv"
    table = half_accrual_table(dates_only)
    table.to_csv(obs, index=False)
    screening = tmp_path / "counts.csv"
    pd.DataFrame(
        {"site": table["site"].iloc[0], "month": ["2026-03", "2026-04"], "screened": [4, 6]}
        | {"failed": [1, 2]}
    ).to_csv(screening, index=False)
    common = dict(as_of=AS_OF, reps=4, workers=1, progress=False)
    plan = sim.forecast(
        dates_only, obs, accrual_model="plan", prior_months=2, screening=screening, **common
    ).manifest["forecast"]
    assert (
        "prior worth 2 months of the plan's full speed, set with --prior-months"
        in (plan["accrual"])
    )
    assert plan["site_prior"] == "2 months"
    assert "the screened counts of counts.csv fit each site's screening rate" in plan["accrual"]
    fitted = sim.forecast(
        dates_only, obs, accrual_model="poisson", screening=screening, **common
    ).manifest["forecast"]["accrual"]
    assert "the screened counts of counts.csv only share the screenings among the sites" in (fitted)
    default = sim.forecast(dates_only, obs, accrual_model="plan", **common).manifest["forecast"]
    assert "screened counts" not in default["accrual"]
    assert f"prior worth {default['site_prior']}" in default["accrual"]


def test_fitted_accrual_sends_patients_to_open_sites_within_their_caps():
    """Three sites as of 2027-03-01 (all open), time-decay accrual: every replicate
    randomizes the sample size, no site passes its cap, and the default accrual model is
    the plan while a site is still to open (2026-11-02: the third opens in January)."""
    import dataclasses

    from sim.engine.forecast import default_accrual_model
    from sim.scenario import load_scenario
    from tests.helpers import ROOT

    three = load_scenario(
        ROOT / "scenarios" / "nct07271602_three_sites.yaml", ["treatment=null", "radiotherapy=null"]
    )
    model = TrialModel.from_scenario(three)
    truth = simulate_chunk(model, 4, 0, 0, 1, keep_patients=1).patients
    as_of = dt.date(2027, 3, 1)
    obs = check_observed(observed_from_patients(truth, as_of), three, as_of)
    history = fit_continuation(
        three, model.calendar, model.schedule, obs, accrual_model="time_decay"
    )
    assert history.accrual_model == "time_decay"
    out = simulate_chunk(
        dataclasses.replace(model, continuation=history), 2, 0, 0, 30, keep_patients=30
    ).patients
    per_site = out.groupby(["replicate", "site"]).size().unstack(fill_value=0)
    for site in three.enrollment.sites:
        if site.cap:
            assert per_site[site.name].max() <= site.cap
    assert (per_site.sum(axis=1) == three.trial.sample_size).all()
    assert default_accrual_model(three, model, as_of)[0] == "time_decay"
    early, why = default_accrual_model(three, model, dt.date(2026, 11, 2))
    assert early == "plan" and "1 after the as-of date" in why
