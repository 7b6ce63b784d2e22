"""Beyond proportional hazards: PFS models by arm, the weighted and restricted-time tests, and
the design side (issue 12). Reference values come from R (benchmarks/nph/references.R, on
sim/qualify/references/nph_reference.csv, its figures in nph_r.json there) and lifelines,
committed with the calls that produced them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from sim.commands.cli import main
from sim.conduct.outcomes import EventTimeModel, draw_latent_outcomes, pfs_models
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.results import summarize
from sim.qualify import REFERENCES
from sim.scenario import DAYS_PER_MONTH, ScenarioError, parse_test
from sim.stats import analysis, design, weighted
from sim.stats.final_analysis import TIDY_COLUMNS
from tests.helpers import ROOT, vary

DATA = REFERENCES / "nph_reference.csv"
DELAY = {"piecewise_hazard_ratio": [{"months": 3, "hazard_ratio": 1.0}, {"hazard_ratio": 0.5}]}


@pytest.fixture(scope="module")
def ref():
    d = pd.read_csv(DATA)
    t, e, a, s = (d[c].to_numpy() for c in ("time", "event", "arm", "stratum"))
    return {
        "unstrat": analysis.risk_sets(t, e, a, None),
        "strat": analysis.risk_sets(t, e, a, s),
        "data": (t, e, a, s),
    }


# --- scenario ------------------------------------------------------------------------------


def test_old_effect_form_stays_valid(baseline):
    assert baseline.effect.hazard_ratio == 0.6
    assert [t.name for t in baseline.analysis.tests] == ["logrank"]


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"effect": {"hazard_ratio": 0.6, **DELAY}}, "not both"),
        (
            {"effect": {"piecewise_hazard_ratio": [{"months": 3, "hazard_ratio": 1.0}]}},
            "open-ended",
        ),
        ({"effect": {}}, "needs an effect"),
        ({"pfs.experimental": {"median_months": 9}}, "drop the effect block"),
        ({"pfs.stratum_hazard_multiplier": {"squamus": 1.3}}, "not a stratum"),
        ({"pfs.control": {"distribution": "weibull", "median_months": 6.8}}, "shape"),
        ({"analysis.supportive_tests": ["fh:0"]}, "unknown test"),
        ({"analysis.test": "rmst:-3"}, "> 0 months"),
    ],
)
def test_bad_nph_fields_name_the_rule(baseline_data, changes, words):
    with pytest.raises(ScenarioError, match=words):
        vary(baseline_data, **changes)


def test_test_specs_names_and_labels():
    assert [
        (parse_test(s).name, parse_test(s).label)
        for s in ("logrank", "fh:0:1", "maxcombo", "rmst:12", "milestone:12", "mb:6:2", "ahr")
    ] == [
        ("logrank", "log-rank"),
        ("fh_0_1", "FH(0,1)"),
        ("maxcombo", "MaxCombo"),
        ("rmst_12", "RMST(12)"),
        ("milestone_12", "milestone(12)"),
        ("mb_6_2", "MB(6,2)"),
        ("ahr", "AHR"),
    ]


# --- models --------------------------------------------------------------------------------


def ks_p(sample, cdf) -> float:
    return stats.kstest(sample[np.isfinite(sample)], cdf).pvalue


def test_weibull_with_cure_matches_its_distribution(baseline_data, rng):
    # Weibull shape 1.4, median 6.8 months for the uncured; 20% cured (never progress).
    sc = vary(
        baseline_data,
        **{
            "pfs.control": {
                "distribution": "weibull",
                "shape": 1.4,
                "median_months": 6.8,
                "cure_fraction": 0.2,
            }
        },
    )
    arm = np.zeros((40000, 1), int)
    t = draw_latent_outcomes(sc, arm, rng).pfs_day[:, 0]
    cured = ~np.isfinite(t)
    assert abs(cured.mean() - 0.2) < 3 * np.sqrt(0.2 * 0.8 / len(t))
    scale = 6.8 * DAYS_PER_MONTH / np.log(2) ** (1 / 1.4)
    assert ks_p(t, stats.weibull_min(1.4, scale=scale).cdf) > 1e-3


def test_delayed_effect_matches_the_piecewise_cdf(baseline_data, rng):
    # HR 1 for 3 months, then 0.5: H_E(t) = lam min(t, b) + 0.5 lam (t - b)+.
    sc = vary(baseline_data, effect=DELAY)
    t = draw_latent_outcomes(sc, np.ones((40000, 1), int), rng).pfs_day[:, 0]
    lam, b = np.log(2) / (6.8 * DAYS_PER_MONTH), 3 * DAYS_PER_MONTH

    def cdf(x):
        return 1 - np.exp(-(lam * np.minimum(x, b) + 0.5 * lam * np.maximum(x - b, 0)))

    assert ks_p(t, cdf) > 1e-3


def test_weibull_with_piecewise_ratio_inverts_its_cumulative_hazard(rng):
    model = EventTimeModel(
        shape=0.8,
        scale=200.0,
        ratio_starts=np.array([0.0, 90.0]),
        ratios=np.array([1.0, 0.4]),
        cure=0.1,
    )
    e = rng.standard_exponential(1000)
    t = model.invert(e)
    finite = np.isfinite(t)
    surv = model.survival(t[finite])
    np.testing.assert_allclose(surv, np.exp(-e[finite]), rtol=1e-10)


def test_stratum_multiplier_and_dropout_by_arm(baseline_data, rng):
    sc = vary(
        baseline_data,
        **{
            "pfs.stratum_hazard_multiplier": {"squamous": 1.5},
            "dropout": {
                "probability": 0.05,
                "months": 12,
                "experimental": {"probability": 0.2, "months": 12},
            },
        },
    )
    n = 30000
    arm = np.tile([0, 1], (n, 1))
    stratum = np.tile([0, 0], (n, 1))  # squamous
    out = draw_latent_outcomes(sc, arm, rng, stratum)
    lam = 1.5 * np.log(2) / (6.8 * DAYS_PER_MONTH)
    assert ks_p(out.pfs_day[:, 0], stats.expon(scale=1 / lam).cdf) > 1e-3
    for col, prob in ((0, 0.05), (1, 0.2)):
        share = (out.withdraw_day[:, col] <= 12 * DAYS_PER_MONTH).mean()
        assert abs(share - prob) < 3 * np.sqrt(prob * (1 - prob) / n)


def test_common_random_numbers_across_effects(baseline_data, rng):
    # Same uniforms: control times identical, experimental times ordered with the effect.
    arm = np.tile([0, 1], (2000, 1))
    seeds = np.random.SeedSequence(4)
    a = draw_latent_outcomes(
        vary(baseline_data, effect={"hazard_ratio": 0.6}), arm, np.random.default_rng(seeds)
    )
    b = draw_latent_outcomes(vary(baseline_data, effect=DELAY), arm, np.random.default_rng(seeds))
    np.testing.assert_array_equal(a.pfs_day[:, 0], b.pfs_day[:, 0])
    np.testing.assert_array_equal(a.withdraw_day, b.withdraw_day)
    null = draw_latent_outcomes(
        vary(baseline_data, effect={"hazard_ratio": 1.0}), arm, np.random.default_rng(seeds)
    )
    early = null.pfs_day[:, 1] < 3 * DAYS_PER_MONTH  # HR 1 there: the control's time
    np.testing.assert_allclose(b.pfs_day[early, 1], null.pfs_day[early, 1], rtol=1e-12)
    assert (b.pfs_day[~early, 1] > null.pfs_day[~early, 1]).all()


def test_pfs_models_fold_a_single_ratio_into_the_pieces(baseline):
    control, experimental = pfs_models(baseline)
    np.testing.assert_array_equal(experimental.hazards, control.hazards * 0.6)


# --- tests against R and lifelines -----------------------------------------------------------

# R's figures (benchmarks/nph/references.R), with their calls: sim/qualify/references/nph_r.json
R_FIGURES = json.loads((REFERENCES / "nph_r.json").read_text(encoding="utf-8"))
# survdiff(Surv(time, event) ~ arm [+ strata(stratum)], rho = rho): (O - E, var) of arm 1
SURVDIFF = {
    ("strat" if row["stratified"] else "unstrat", row["rho"]): (row["o_minus_e"], row["variance"])
    for row in R_FIGURES["survdiff"]
}


@pytest.mark.parametrize("key", sorted(SURVDIFF, key=str))
def test_fh_rho_0_matches_survdiff(ref, key):
    strat, rho = key
    result = weighted.fleming_harrington(ref[strat], rho, 0.0)
    o_e, var = SURVDIFF[key]
    assert result.estimate[0] == pytest.approx(o_e, abs=1e-9)
    assert result.se[0] ** 2 == pytest.approx(var, abs=1e-9)


# lifelines.statistics.logrank_test(t1, t0, e1, e0, weightings="fleming-harrington", p, q)
LIFELINES_CHI2 = {
    (0, 1): 7.670047872838455,
    (1, 1): 7.319149428252329,
    (1, 0): 7.042010565835986,
    (0.5, 2): 6.878033554005663,
}


@pytest.mark.parametrize("pq", sorted(LIFELINES_CHI2))
def test_fh_rho_gamma_matches_lifelines(ref, pq):
    z = weighted.fleming_harrington(ref["unstrat"], *pq).z[0]
    assert z * z == pytest.approx(LIFELINES_CHI2[pq], rel=1e-10)


def test_rmst_matches_survival_and_lifelines(ref):
    # summary(survfit(Surv(time, event) ~ arm), rmean = 12)$table: rmean, se(rmean);
    # lifelines restricted_mean_survival_time(KaplanMeierFitter, t=12) gives the same means.
    r = R_FIGURES["rmst"]  # 6.67603954455, 8.63301368888; se 0.556939349741, 0.566746181108
    (a0, v0), (a1, v1) = weighted.rmst_by_arm(ref["unstrat"], 12.0)
    start = weighted.stratum_starts(ref["unstrat"])[0]
    assert [a0[start], a1[start]] == pytest.approx(r["rmean"], abs=1e-9)
    assert [np.sqrt(v0[start]), np.sqrt(v1[start])] == pytest.approx(r["se"], abs=1e-9)
    result = weighted.rmst_difference(ref["unstrat"], 12.0)[0]
    assert result.estimate[0] == pytest.approx(r["rmean"][1] - r["rmean"][0], abs=1e-9)
    assert result.z[0] < 0  # arm 1 lives longer: z < 0 favours it


def test_milestone_matches_summary_survfit(ref):
    # summary(survfit(...), times = 12): survival 0.1420928075563 (se 0.0548801720820) in
    # arm 0, 0.4461805180626 (se 0.0760093347668) in arm 1.
    r = R_FIGURES["milestone"]
    result = weighted.milestone_difference(ref["unstrat"], 12.0)
    assert result.estimate[0] == pytest.approx(r["survival"][1] - r["survival"][0], abs=1e-10)
    assert result.se[0] == pytest.approx(np.hypot(*r["se"]), abs=1e-10)


def test_maxcombo_matches_mvtnorm(ref):
    # 1 - pmvnorm(lower = rep(z, 4), upper = Inf, corr = C) with C and z from these data
    # (benchmarks/nph/references.R): one-sided 0.003197400312, two-sided 0.006394830929.
    result, corr = weighted.maxcombo(ref["unstrat"], ((0, 0), (0, 1), (1, 1), (1, 0)), abs_tol=1e-6)
    assert result.estimate[0] == pytest.approx(-3.0088763163202747, abs=1e-10)
    assert corr[0, 0, 1] == pytest.approx(0.8084180410078081, abs=1e-12)
    r = R_FIGURES["maxcombo"]
    assert result.p_one[0] == pytest.approx(r["p_one_sided"], abs=2e-6)
    assert result.p_two[0] == pytest.approx(r["p_two_sided"], abs=2e-6)


def test_mvn_probability_matches_closed_forms():
    # independent: Phi(b)^k; equicorrelated 0.5 orthant of 3: 1/8 + 3 asin(0.5) / (4 pi) = 1/4
    b = np.array([[1.0, 0.5, 2.0], [0.0, 0.0, 0.0]])
    corr = np.stack([np.eye(3), np.full((3, 3), 0.5) + 0.5 * np.eye(3)])
    p = weighted.mvn_box_probability(np.full_like(b, -np.inf), b, corr)
    assert p[0] == pytest.approx(np.prod(stats.norm.cdf(b[0])), abs=1e-5)
    assert p[1] == pytest.approx(0.25, abs=1e-5)


def test_ahr_is_the_hazard_ratio_under_proportional_hazards(rng):
    # KP AHR = P(T1 < T0) / P(T0 < T1) = HR for exponentials; 40 replicates of 400.
    n, hr = 400, 0.6
    arm = np.tile(np.repeat([0, 1], n // 2), (40, 1))
    t = rng.standard_exponential(arm.shape) / np.where(arm == 1, hr, 1.0)
    rs = analysis.risk_sets(t, np.ones_like(t, bool), arm)
    est = weighted.average_hazard_ratio(rs)
    log_ahr = np.log(est.estimate)
    assert abs(log_ahr.mean() - np.log(hr)) < 3 * log_ahr.std() / np.sqrt(40) + 0.01
    assert np.std(log_ahr) == pytest.approx(np.mean(est.se), rel=0.3)


def test_batched_rows_equal_single_rows(ref):
    t, e, a, s = ref["data"]
    both = analysis.risk_sets(
        np.stack([t, t[::-1]]),
        np.stack([e, e[::-1]]),
        np.stack([a, a[::-1]]),
        np.stack([s, s[::-1]]),
    )
    spec = [parse_test(x) for x in ("fh:0:1", "mb:6", "rmst:10", "milestone:8", "ahr")]
    for sp in spec:
        batch = weighted.run_test(sp, both, 1.0)
        single = weighted.run_test(sp, ref["strat"], 1.0)
        assert batch.z[0] == pytest.approx(single.z[0], rel=1e-12)
        assert batch.z[1] == pytest.approx(single.z[0], rel=1e-12)  # same patients reordered


# --- simulation and design ---------------------------------------------------------------------

TESTS = ["fh:0:1", "fh:1:1", "mb:6", "maxcombo", "rmst:12", "milestone:12", "ahr"]


def test_type_one_error_of_every_test_under_hr_1(textbook_data):
    # 500 replicates of textbook.yaml under HR 1: each test rejects at one-sided 0.10 within
    # 3 MC SE (0.040) of alpha.
    sc = vary(textbook_data, **{"effect.hazard_ratio": 1.0, "analysis.supportive_tests": TESTS})
    reps = simulate_chunk(TrialModel.from_scenario(sc), 7, 0, 0, 500).replicates
    se = np.sqrt(0.1 * 0.9 / 500)
    for name in ["logrank"] + [parse_test(t).name for t in TESTS]:
        assert abs(reps[f"reject_{name}"].mean() - 0.1) < 3 * se, name


def test_delayed_effect_power_and_summary(textbook_data):
    # HR 1 for 3 months then 0.5: FH(0,1) (late weights) beats the log-rank; power_<name>
    # lands in the summary for every test. Paired (same replicates): difference > 0.
    sc = vary(textbook_data, effect=DELAY, **{"analysis.supportive_tests": TESTS})
    reps = simulate_chunk(TrialModel.from_scenario(sc), 3, 0, 0, 400).replicates
    diff = reps["reject_fh_0_1"].astype(float) - reps["reject_logrank"].astype(float)
    assert diff.mean() > 3 * diff.std() / np.sqrt(len(diff)) - 0.02
    summary = summarize(reps, sc).set_index("metric")
    for name in ["logrank"] + [parse_test(t).name for t in TESTS]:
        assert f"power_{name}" in summary.index
    assert summary.loc["power", "estimate"] == summary.loc["power_logrank", "estimate"]


def test_primary_test_drives_power(textbook_data):
    sc = vary(textbook_data, effect=DELAY, **{"analysis.test": "fh:0:1"})
    reps = simulate_chunk(TrialModel.from_scenario(sc), 3, 0, 0, 100).replicates
    np.testing.assert_array_equal(reps["reject"], reps["reject_fh_0_1"])


def test_design_numeric_events_equal_lachin_foulkes_under_ph(baseline):
    closed = design.scenario_events_table(baseline, np.array([12.0, 24.0, 36.0]))
    numeric = design.nph_expected_events(baseline, np.array([12.0, 24.0, 36.0]))
    np.testing.assert_allclose(numeric["events"], closed["events"], atol=1e-3)
    np.testing.assert_allclose(numeric["average_hazard_ratio"], 0.6, rtol=1e-9)


def test_design_ahr_of_a_delayed_effect_matches_quadrature(textbook_data):
    # AHR(T) = exp(sum_j E_j log HR_j / E): E_j (both arms) by double quadrature over entry
    # time and patient time, the textbook's accrual table, no dropout.
    sc = vary(textbook_data, effect=DELAY, **{"dropout.probability": 0.0})
    T = 30.0
    got = design.nph_expected_events(sc, np.array([T]))
    lam = np.log(2) / sc.pfs.control.median_months
    accrual = design.scenario_accrual(sc)
    n = sc.trial.sample_size
    end = design.accrual_end_time(n, accrual)

    def rate(v):  # entries per month at month v (the accrual table, until n are in)
        return (
            float(
                design.accrued_patients(v + 1e-6, accrual, n)
                - design.accrued_patients(v - 1e-6, accrual, n)
            )
            / 2e-6
        )

    def dens(u, hr_late):  # event density of arm at patient time u (months)
        h = lam if u < 3 else lam * hr_late
        cum = lam * min(u, 3) + lam * hr_late * max(u - 3, 0)
        return h * np.exp(-cum)

    events = {}
    for arm, hr_late in ((0, 1.0), (1, 0.5)):
        for j, (lo, hi) in enumerate(((0, 3), (3, np.inf))):

            def inner(v, lo=lo, hi=hi, hr_late=hr_late):
                top = min(hi, T - v)
                return integrate.quad(dens, lo, top, args=(hr_late,))[0] if top > lo else 0.0

            events[arm, j] = integrate.quad(
                lambda v, f=inner: rate(v) * f(v) / 2, 0, min(end, T), points=[2, 4, 6], limit=200
            )[0]
    total = sum(events.values())
    ahr = np.exp((events[1, 1] + events[0, 1]) * np.log(0.5) / total)
    assert got["events"].iloc[0] == pytest.approx(total, rel=2e-3)
    assert got["average_hazard_ratio"].iloc[0] == pytest.approx(ahr, abs=2e-3)


def test_design_command_under_a_delay(tmp_path, capsys):
    code = main(
        [
            "design",
            str(ROOT / "scenarios" / "nct07271602.yaml"),
            "--set",
            "effect={piecewise_hazard_ratio: [{months: 3, hazard_ratio: 1.0}, "
            "{hazard_ratio: 0.5}]}",
            "--out",
            str(tmp_path / "d"),
        ]
    )
    assert code == 0
    table = pd.read_csv(tmp_path / "d" / "design.csv").set_index("quantity")
    assert 0.5 < float(table.loc["average_hazard_ratio", "value"]) < 1.0
    assert "average_hazard_ratio" in pd.read_csv(tmp_path / "d" / "expected_events.csv")


# --- analyze --tests ---------------------------------------------------------------------------


def test_analyze_tests_rows(tmp_path, capsys):
    out = tmp_path / "tests.csv"
    code = main(
        [
            "analyze",
            str(DATA),
            "--time",
            "time",
            "--event",
            "event",
            "--arm",
            "arm",
            "--control",
            "0",
            "--strata",
            "stratum",
            "--time-unit",
            "months",
            "--tests",
            "logrank,fh:0:1,fh:1:1,maxcombo,rmst:12,milestone:12",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == list(TIDY_COLUMNS)
    table = table.set_index(["test", "stratified"]).sort_index()
    for test in ("fh:0:1", "maxcombo", "rmst:12", "milestone:12"):
        assert (test, True) in table.index and (test, False) in table.index
    assert table.loc[("rmst:12", False), "estimate"] == pytest.approx(1.95697414433, abs=1e-9)
    assert table.loc[("rmst:12", False), "unit"] == "months"
    assert table.loc[("fh:0:1", False), "z"] ** 2 == pytest.approx(7.670047872838455)
    printed = capsys.readouterr().out
    assert "RMST(12), unstratified" in printed and "FH(0,1), stratified" in printed


def test_analyze_bad_test_exits_2(capsys):
    code = main(
        [
            "analyze",
            str(DATA),
            "--time",
            "time",
            "--event",
            "event",
            "--arm",
            "arm",
            "--control",
            "0",
            "--tests",
            "fh:1",
        ]
    )
    assert code == 2
    assert "unknown test" in capsys.readouterr().err


# --- scenarios/nph.yaml and the sweep figure ---------------------------------------------------


def test_nph_variants_are_valid_scenarios(baseline_data):
    import copy

    from sim.engine.sweep import read_variants
    from sim.scenario import apply_override, parse_scenario, yaml

    variants = read_variants(ROOT / "scenarios" / "nph.yaml")
    assert len(variants) == 12  # delay 0/2/4/6 months x cure 0/10/20%
    for name, settings in variants:
        data = copy.deepcopy(baseline_data)
        for path, value in settings.items():
            apply_override(data, f"{path}={yaml.safe_dump(value, default_flow_style=True)}")
        sc = parse_scenario(data, name)
        assert len(sc.analysis.tests) == 8


def test_power_by_test_figure(baseline_data):
    from sim.outputs.plots import plot_power_by_test, test_power_columns

    sc = vary(baseline_data, **{"analysis.supportive_tests": ["fh:0:1", "maxcombo"]})
    table = pd.DataFrame(
        {
            "label": ["a", "b"],
            "power_logrank": [0.8, 0.5],
            "power_logrank_mc_se": [0.01, 0.01],
            "power_fh_0_1": [0.7, 0.6],
            "power_fh_0_1_mc_se": [0.01, 0.01],
        }
    )
    tests = test_power_columns(table, [sc])
    assert tests == [("power_logrank", "log-rank"), ("power_fh_0_1", "FH(0,1)")]
    ax = plot_power_by_test(table, tests, alpha=0.1)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "FH(0,1)" in labels and "log-rank" in labels
