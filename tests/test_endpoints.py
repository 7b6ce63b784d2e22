"""The trial's other objectives: OS (illness-death model), tumour response, local control.

Validated against closed forms (the illness-death OS survival function, the binomial ORR),
statsmodels (CMH, Newcombe), the package's Kaplan-Meier table (itself checked against R and
lifelines in test_analysis.py), and Hypothesis invariants of whole chunks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from sim.conduct.assessments import ScanSchedule, observe_outcomes
from sim.conduct.outcomes import LatentOutcomes, draw_latent_outcomes
from sim.conduct.response import draw_response
from sim.conduct.survival import (
    IllnessDeathPaths,
    cut_os,
    draw_illness_death,
    os_survival_closed_form,
    pfs_as_seen,
)
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.results import summarize
from sim.scenario import DAYS_PER_MONTH, ScenarioError
from sim.stats.analysis import kaplan_meier
from sim.stats.binary import cmh_test, newcombe_difference, power_difference
from sim.stats.landmark import km_at
from tests.helpers import vary

NO_CLINIC = {"treatment": None, "radiotherapy": None}


# --- overall survival: illness-death model ----------------------------------------------------


def baseline_hazards(scenario, arm: int) -> tuple[float, float, float]:
    """(h01, h02, h12) per day of the baseline's exponential transitions."""
    hr = scenario.effect.hazard_ratio if arm else 1.0
    lam = math.log(2) / scenario.pfs.control.median_months / DAYS_PER_MONTH * hr
    d = scenario.pfs.death_fraction
    os_block = scenario.overall_survival
    h12 = (
        math.log(2)
        / os_block.post_progression.median_months
        / DAYS_PER_MONTH
        * (os_block.post_progression_hazard_ratio if arm else 1.0)
    )
    return (1 - d) * lam, d * lam, h12


@pytest.mark.parametrize("arm", [0, 1])
def test_os_distribution_matches_the_illness_death_closed_form(
    baseline_data, arm, rng, record_validation
):
    # S(t) = exp(-(h01+h02)t) + h01/(h01+h02-h12) (exp(-h12 t) - exp(-(h01+h02)t)) with the
    # baseline's h01, h02 (PFS median 6.8 months, 10% deaths, HR 0.6 in arm 1) and h12
    # (post-progression median 11 months; HR 0.8 here so the arms differ): KS on 100,000
    # patients, and the median against the closed form's root within 4 MC SE
    # (se = sqrt(1/4n) / f(median)).
    scenario = vary(baseline_data, **{"overall_survival.post_progression_hazard_ratio": 0.8})
    n = 100_000
    arms = np.full((1, n), arm)
    latent = draw_latent_outcomes(scenario, arms, rng)
    death = draw_illness_death(scenario, arms, latent, rng).death_day.ravel()
    h01, h02, h12 = baseline_hazards(scenario, arm)

    def cdf(t):
        return 1.0 - os_survival_closed_form(t, h01, h02, h12)

    assert stats.kstest(death, cdf).pvalue > 1e-3
    median = optimize.brentq(lambda t: cdf(t) - 0.5, 1.0, 1e5)
    density = cdf(median + 0.5) - cdf(median - 0.5)
    se = math.sqrt(0.25 / n) / density
    record_validation(
        f"median OS arm {arm} (days)", "illness-death closed form", median, np.median(death), 4 * se
    )
    assert abs(np.median(death) - median) < 4 * se


def test_closed_form_limit_when_hazards_coincide():
    t = np.array([0.0, 100.0, 400.0])
    h01, h02 = 0.002, 0.001
    near = os_survival_closed_form(t, h01, h02, h01 + h02 + 1e-9)
    np.testing.assert_allclose(os_survival_closed_form(t, h01, h02, h01 + h02), near, rtol=1e-6)


def test_every_patient_dies_after_progression_and_pfs_deaths_are_os_deaths(baseline, rng):
    arms = rng.integers(0, 2, (50, 104))
    latent = draw_latent_outcomes(baseline, arms, rng)
    paths = draw_illness_death(baseline, arms, latent, rng)
    assert (paths.death_day >= latent.pfs_day).all()
    np.testing.assert_array_equal(paths.death_day[latent.is_death], latent.pfs_day[latent.is_death])
    assert np.isinf(paths.progression_day[latent.is_death]).all()
    progressed = ~latent.is_death
    assert (paths.death_day[progressed] > paths.progression_day[progressed]).all()


def test_death_before_the_scan_is_the_pfs_event(baseline):
    # Progression on day 50, death on day 70: the scan of day 84 comes too late, so the PFS
    # event is the death on day 70. Death on day 90 (after the scan of day 84): PFS is the
    # progression seen at 84. A PFS death (is_death) stays as it is.
    schedule = ScanSchedule.from_assessments(baseline.assessments)
    latent = LatentOutcomes(
        np.array([[50.0, 50.0, 30.0]]), np.array([[False, False, True]]), np.full((1, 3), np.inf)
    )
    paths = IllnessDeathPaths(np.array([[50.0, 50.0, np.inf]]), np.array([[70.0, 90.0, 30.0]]))
    seen = observe_outcomes(pfs_as_seen(latent, paths, schedule), schedule)
    np.testing.assert_array_equal(seen.event_day, [[70.0, 84.0, 30.0]])
    np.testing.assert_array_equal(seen.is_death, [[True, False, True]])


def test_os_at_a_cut_censors_at_withdrawal_and_at_the_cut():
    # Randomized day 0: dies day 100 (event at a cut on day 200); dies day 300 (censored at
    # the cut, 200); withdraws day 50 then dies day 150 (censored at 50: dropout censors OS);
    # randomized day 250 (after the cut: not in the analysis).
    rand = np.array([[0.0, 0.0, 0.0, 250.0]])
    paths = IllnessDeathPaths(np.full((1, 4), np.inf), np.array([[100.0, 300.0, 150.0, 10.0]]))
    withdraw = np.array([[np.inf, np.inf, 50.0, np.inf]])
    cut = cut_os(rand, paths, withdraw, np.array([200.0]))
    np.testing.assert_array_equal(cut.time[0, :3], [100.0, 200.0, 50.0])
    np.testing.assert_array_equal(cut.event, [[True, False, False, False]])
    np.testing.assert_array_equal(cut.valid, [[True, True, True, False]])


def test_os_own_cut_at_the_death_target(baseline_data):
    scenario = vary(
        baseline_data,
        **NO_CLINIC,
        **{"overall_survival.cut": "events", "overall_survival.event_target": 50},
    )
    reps = simulate_chunk(TrialModel.from_scenario(scenario), 3, 0, 0, 20).replicates
    assert (reps["os_deaths"] == 50).all()
    assert (reps["os_analysis_months"] > 0).all()


def test_os_maturity_counts_deaths_by_the_completion_date(baseline_data):
    scenario = vary(baseline_data, **NO_CLINIC)
    result = simulate_chunk(TrialModel.from_scenario(scenario), 5, 0, 0, 30, keep_patients=30)
    pts, reps = result.patients, result.replicates
    # As the PFS date cut: the cut is the clock start of 2028-12-31, so a death during that
    # day (dates are floored clock days) comes after it.
    completion = np.datetime64("2028-12-31")
    dead = (pts["death_date"] < completion) & (
        (pts["death_date"] <= pts["withdrawal_date"]) | pts["withdrawal_date"].isna()
    )
    np.testing.assert_array_equal(
        dead.groupby(pts["replicate"]).sum().to_numpy(), reps["os_deaths_by_maturity"].to_numpy()
    )
    assert (
        reps["os_deaths_by_maturity_control"] + reps["os_deaths_by_maturity_experimental"]
        == reps["os_deaths_by_maturity"]
    ).all()


# --- tumour response ------------------------------------------------------------------------


def test_responders_among_all_patients_match_the_orr(baseline, rng):
    # Without dropout or cut, the share of responders among all randomized is the
    # scenario's ORR (45% / 55%): within 4 binomial SE on 100,000 patients per arm.
    n = 100_000
    arms = np.repeat([[0], [1]], n, axis=1)
    latent = draw_latent_outcomes(baseline, arms, rng)
    paths = draw_illness_death(baseline, arms, latent, rng)
    schedule = ScanSchedule.from_assessments(baseline.assessments)
    r = draw_response(baseline, schedule, arms, paths.progression_day, paths.death_day, rng)
    for a, orr in enumerate((0.45, 0.55)):
        share = r.responder[a].mean()
        assert abs(share - orr) < 4 * math.sqrt(orr * (1 - orr) / n)
    assert not (
        r.responder & (np.minimum(paths.progression_day, paths.death_day) <= r.first_scan_day)
    ).any()
    cr = r.complete[r.responder].mean()
    assert abs(cr - 0.05) < 4 * math.sqrt(0.05 * 0.95 / r.responder.sum())


def test_orr_above_progression_free_share_at_the_first_scan_is_refused(baseline_data):
    # 87% of the control arm is progression-free at the first scan (day 42): ORR 0.95 is
    # impossible when responses are seen at scans.
    with pytest.raises(ScenarioError, match="response.objective_response.control"):
        vary(baseline_data, **{"response.objective_response.control": 0.95})


def test_cmh_matches_statsmodels(rng, record_validation):
    # statsmodels.stats.contingency_tables.StratifiedTable(tables).test_null_odds(
    # correction=False).statistic, tables [[x1, n1 - x1], [x0, n0 - x0]] per stratum.
    from statsmodels.stats.contingency_tables import StratifiedTable

    totals = rng.integers(3, 40, (20, 3, 2))
    responders = rng.binomial(totals, [0.4, 0.55])
    ours = cmh_test(responders, totals)
    for r in range(20):
        tables = [
            np.array(
                [
                    [responders[r, s, 1], totals[r, s, 1] - responders[r, s, 1]],
                    [responders[r, s, 0], totals[r, s, 0] - responders[r, s, 0]],
                ]
            )
            for s in range(3)
        ]
        ref = StratifiedTable(tables)
        if r == 0:
            record_validation(
                "CMH chi-square, 3 strata",
                "statsmodels StratifiedTable",
                ref.test_null_odds(correction=False).statistic,
                ours.chi2[r],
                1e-10 * ours.chi2[r],
            )
        assert ours.chi2[r] == pytest.approx(
            ref.test_null_odds(correction=False).statistic, rel=1e-10
        )
        assert ours.or_mh[r] == pytest.approx(ref.oddsratio_pooled, rel=1e-10)


def test_newcombe_interval_matches_statsmodels(rng):
    from statsmodels.stats.proportion import confint_proportions_2indep

    n = rng.integers(5, 60, (30, 2))
    x = rng.binomial(n, 0.5)
    ours = newcombe_difference(x[:, 0], n[:, 0], x[:, 1], n[:, 1])
    for r in range(30):
        low, high = confint_proportions_2indep(
            x[r, 1], n[r, 1], x[r, 0], n[r, 0], method="newcomb", compare="diff"
        )
        assert (ours.ci_low[r], ours.ci_high[r]) == pytest.approx((low, high), abs=1e-12)


def test_orr_power_matches_the_normal_approximation(rng, record_validation):
    # One stratum, 52 per arm, ORR 45% vs 65%, one-sided alpha 0.10: the CMH test (= the
    # pooled two-proportion z test with the (N - 1)/N variance factor) on 20,000 binomial
    # data sets against Phi((d - z_a se0) / se1); tolerance 4 MC SE plus 0.01 for the
    # normal approximation at n = 52.
    reps, n = 20_000, 52
    totals = np.full((reps, 1, 2), n)
    responders = rng.binomial(totals, [0.45, 0.65])
    z = cmh_test(responders, totals).z
    simulated = (stats.norm.sf(z) < 0.10).mean()
    closed = power_difference(0.45, 0.65, n, n, 0.10, sides=1)
    tolerance = 4 * math.sqrt(closed * (1 - closed) / reps) + 0.01
    record_validation(
        "ORR power, 52 per arm, 45% vs 65%", "normal approximation", closed, simulated, tolerance
    )
    assert abs(simulated - closed) < tolerance


# --- local control --------------------------------------------------------------------------


def test_km_at_landmarks_matches_the_kaplan_meier_table(rng):
    time = np.round(rng.exponential(100, (15, 40)))  # rounded: ties
    event = rng.random((15, 40)) < 0.7
    member = rng.random((15, 40)) < 0.6
    for t in (30.0, 90.0):
        lm = km_at(time, event, member, t)
        for r in range(15):
            table = kaplan_meier(time[r, member[r]], event[r, member[r]])
            before = table[table["time"] <= t]
            surv = before["survival"].iloc[-1] if len(before) else 1.0
            se = before["std_err"].iloc[-1] if len(before) else 0.0
            if (time[r, member[r]] >= t).any():
                assert lm.surv[r] == pytest.approx(surv, abs=1e-12)
                assert math.sqrt(lm.var[r]) == pytest.approx(se, abs=1e-12)


def test_local_control_rate_at_12_months_matches_the_scenario(baseline_data, record_validation):
    # Continuous observation (no scan delay), no dropout, no cut before 12 months of follow-
    # up: KM local control at 12 months estimates 1 - 0.45 (control) and 1 - 0.20
    # (experimental); tolerance 4 MC SE of the mean over 200 replicates.
    scenario = vary(
        baseline_data,
        **NO_CLINIC,
        **{
            "response": None,
            "assessments": {"mode": "continuous"},
            "dropout.probability": 0.0,
            "analysis.cut": "date",
            "analysis.cut_date": "2031-12-31",
        },
    )
    reps = simulate_chunk(TrialModel.from_scenario(scenario), 7, 0, 0, 200).replicates
    for arm, p in (("control", 0.45), ("experimental", 0.20)):
        values = reps[f"local_control_12m_{arm}"]
        tolerance = 4 * values.std() / math.sqrt(len(values))
        record_validation(
            f"local control at 12 months, {arm}",
            "1 - scenario probability",
            1 - p,
            values.mean(),
            tolerance,
        )
        assert abs(values.mean() - (1 - p)) < tolerance


def test_local_control_needs_enough_progressions(baseline_data):
    with pytest.raises(ScenarioError, match="local_control.progression_by_months.experimental"):
        vary(baseline_data, **{"local_control.progression_by_months.experimental": 0.9})


# --- outputs --------------------------------------------------------------------------------


def test_summary_has_every_endpoint_with_mc_se(baseline_data):
    scenario = vary(baseline_data, **NO_CLINIC)
    reps = simulate_chunk(TrialModel.from_scenario(scenario), 1, 0, 0, 40).replicates
    summary = summarize(reps, scenario).set_index("metric")
    for name in (
        "os_at_pfs_cut_power",
        "os_deaths_by_maturity_mean",
        "os_deaths_by_maturity_q05",
        "os_deaths_by_maturity_q95",
        "os_maturity_mean",
        "os_at_pfs_cut_hazard_ratio_median",
        "orr_control_mean",
        "orr_experimental_mean",
        "orr_difference_mean",
        "orr_power",
        "dcr_power",
        "local_control_12m_control_mean",
        "local_control_6m_experimental_mean",
        "local_control_logrank_power",
        "local_control_12m_power",
    ):
        assert name in summary.index, name
        assert np.isfinite(summary.loc[name, "mc_se"]), name
    assert not any(
        m.startswith("os_") and m.endswith("_control_mean") and "clinic" in m for m in summary.index
    )


# --- invariants -----------------------------------------------------------------------------


@st.composite
def endpoint_changes(draw):
    n = draw(st.integers(8, 60))
    return {
        **NO_CLINIC,
        "trial.sample_size": n,
        "effect.hazard_ratio": draw(st.floats(0.4, 1.3)),
        "dropout.probability": draw(st.floats(0, 0.5, allow_subnormal=False)),
        "pfs.death_fraction": draw(st.floats(0, 0.4)),
        "overall_survival.post_progression.median_months": draw(st.floats(0.5, 30)),
        "overall_survival.post_progression_hazard_ratio": draw(st.floats(0.5, 1.5)),
        "assessments.schedule": [
            {"weeks": draw(st.integers(6, 60)), "every_weeks": draw(st.integers(2, 6))},
            {"every_weeks": draw(st.integers(4, 16))},
        ],
        "response.objective_response": {
            "control": draw(st.floats(0, 0.5)),
            "experimental": draw(st.floats(0, 0.5)),
        },
        "local_control.progression_by_months": {
            "control": draw(st.floats(0, 0.3)),
            "experimental": draw(st.floats(0, 0.3)),
        },
        "analysis.cut": draw(st.sampled_from(["events", "date", "first"])),
        "analysis.event_target": draw(st.integers(1, n)),
        "analysis.cut_date": draw(st.sampled_from(["2026-09-30", "2027-06-30", "2029-12-31"])),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=endpoint_changes(), seed=st.integers(0, 2**31))
def test_endpoint_invariants(baseline_data, changes, seed):
    try:
        scenario = vary(baseline_data, **changes)
    except ScenarioError as exc:  # a draw the schema rejects (e.g. more local progressions
        assume("progression_by_months" not in str(exc))  # than PFS gives): not a trial
        raise
    result = simulate_chunk(TrialModel.from_scenario(scenario), seed, 0, 0, 6, keep_patients=6)
    pts = result.patients
    death = pts["death_date"]
    # OS >= PFS: the PFS event seen and the latent progression never after the death
    seen = pts["pfs_event_seen_date"]
    assert ((seen <= death) | seen.isna()).all()
    assert ((pts["progression_date"] <= death) | pts["progression_date"].isna()).all()
    # a PFS death is the OS death
    dead = pts["pfs_event_is_death"]
    assert (pts.loc[dead, "pfs_event_date"] == death[dead]).all()
    # OS at the cut: never longer than the time to the cut, events only for real deaths
    assert (
        pts.loc[pts["os_event_at_cut"], "death_date"]
        <= pts.loc[pts["os_event_at_cut"], "data_cut_date"]
    ).all()
    assert (pts["os_days_at_cut"] >= pts["pfs_days_at_cut"] - 1e-9)[pts["in_analysis"]].all()
    # no response after progression, and a response only at a scan before the cut
    responded = pts["response_date"].notna()
    assert pts.loc[responded, "best_response"].isin(["CR", "PR"]).all()
    # (dates are floored days: a progression later on the day of the scan has its date)
    assert (pts.loc[responded, "response_date"] <= pts.loc[responded, "pfs_event_date"]).all()
    assert (
        pts.loc[responded, "response_date"]
        <= pts.loc[responded, "progression_date"].fillna(np.datetime64("2200-01-01"))
    ).all()
    assert (pts.loc[responded, "response_date"] <= pts.loc[responded, "data_cut_date"]).all()
    assert (pts.loc[~pts["in_analysis"], "best_response"] == "NE").all()
    # local progression: with the progression, never after it, never after the death
    local = pts["local_progression_date"].notna()
    assert (pts.loc[local, "local_progression_date"] == pts.loc[local, "progression_date"]).all()
    assert (pts.loc[local, "local_progression_date"] <= death[local]).all()
    lc_event = pts["local_progression_at_cut"]
    assert pts.loc[lc_event, "pfs_event_at_cut"].all()
    assert (~pts.loc[lc_event, "pfs_event_is_death"]).all()


# --- figures and report ----------------------------------------------------------------------


def test_figures_and_report_show_every_endpoint(tmp_path, baseline):
    from sim.engine.run import run_scenario
    from sim.outputs.plots import run_figures
    from sim.outputs.report import build_report
    from tests.helpers import BASELINE

    out = tmp_path / "run"
    run_scenario(
        baseline,
        out,
        reps=12,
        seed=3,
        workers=1,
        keep_patients=1,
        scenario_path=str(BASELINE),
        overrides=[],
    )
    names = [panel.name for panel in run_figures(out)]
    assert {"os_km", "response", "adverse_events"} <= set(names)
    html = build_report(out)
    appendix = html.split('id="appendix"', 1)[1]  # each endpoint: its group of metrics
    for title in ("Overall survival", "Tumour response", "Local control", "Safety"):
        assert f"<h3>{title}</h3>" in appendix
    assert (out / "safety.csv").exists()
