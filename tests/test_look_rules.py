"""Decisions on the probability of success at the interim looks (issue 26 item 3): the per-look
conditional and predictive power of a simulated trial, futility on those scales, a Bayesian
efficacy or go/no-go rule, and their bad input.

Validated against closed forms: each replicate's values are the B-value formulas of
`sim.stats.predictive` at its z; their averages over replicates are the expectations of those
formulas when Z_t ~ Normal(theta sqrt(I_t), 1) (derived below, independently of the code);
under HR 1 a predictive-power futility rule keeps the type I error at alpha (binding: the
efficacy bounds account for it; non-binding: the efficacy bounds alone)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import ndtr

from sim.commands.cli import main
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.stats import predictive
from sim.stats.monitoring import SequentialPlan
from sim.stats.priors import LognormalHazardRatio
from sim.stats.spending import Spending
from tests.helpers import ROOT, TEXTBOOK, scenario_data, vary

INTERIM = ROOT / "scenarios" / "nct07271602_interim.yaml"
INTERIM_PP = ROOT / "scenarios" / "nct07271602_interim_pp.yaml"
LOOKS = [{"events": 35}, {"events": 70}]  # the textbook design with an interim at t = 1/2
LOGNORMAL = {"distribution": "lognormal", "median": 0.6, "sd_log": 0.25}


def textbook(**changes):
    return vary(scenario_data(TEXTBOOK), **{"analysis.looks": LOOKS, **changes})


def simulate(scenario, reps: int, seed: int):
    model = TrialModel.from_scenario(scenario)
    return model.plan, simulate_chunk(model, seed, 0, 0, reps).replicates


def test_each_replicate_has_the_closed_forms_at_its_z():
    plan, reps = simulate(textbook(prior={"hazard_ratio": LOGNORMAL}), 40, 5)
    z = reps["look1_z_benefit"].to_numpy()
    t = reps["look1_events"].to_numpy() / 70
    info, c = 0.25 * 70, plan.design.efficacy[-1]
    prior = LognormalHazardRatio(0.6, 0.25)
    for r in range(len(reps)):
        expected = {
            "conditional_power_design": predictive.conditional_power(
                z[r],
                t[r],
                information=info,
                hazard_ratio=math.exp(plan.design_log_hr),
                critical=c,
            ),
            "conditional_power_trend": predictive.conditional_power_trend(z[r], t[r], critical=c),
            "predictive_power": predictive.predictive_power(
                z[r], t[r], information=info, prior=prior, critical=c
            ),
        }
        for name, value in expected.items():
            assert reps[f"look1_{name}"].iloc[r] == pytest.approx(float(value), abs=1e-12)
    assert reps["look2_z_benefit"].notna().any()
    assert "look2_predictive_power" not in reps  # nothing is left to predict at the final


def test_simulated_per_look_probabilities_average_to_the_closed_forms():
    """Textbook design (exponential PFS, uniform-ish accrual, continuous assessment,
    unstratified log-rank), HR 0.6, flat prior, interim at 35 of 70 events. With
    Z_t ~ N(mu, 1), mu = theta sqrt(t I_max), and E Phi((X + a) / s) = Phi((m + a) /
    sqrt(s^2 + v)) for X ~ N(m, v):
    E CP_design = Phi(theta sqrt(I_max) t + theta_d sqrt(I_max) (1 - t) - c),
    E CP_trend = Phi((mu - c sqrt t) / sqrt(1 + t (1 - t))),
    E PP_flat = Phi((mu - c sqrt t) / sqrt(2 - t))."""
    plan, reps = simulate(textbook(), 10_000, 11)
    assert (reps["look1_events"] == 35).all()
    t, i_max, c = 0.5, 0.25 * 70, float(plan.design.efficacy[-1])
    theta, theta_d = -math.log(0.6), -plan.design_log_hr
    mu = theta * math.sqrt(t * i_max)
    expected = {
        "conditional_power_design": ndtr(
            theta * math.sqrt(i_max) * t + theta_d * math.sqrt(i_max) * (1 - t) - c
        ),
        "conditional_power_trend": ndtr((mu - c * math.sqrt(t)) / math.sqrt(1 + t * (1 - t))),
        "predictive_power": ndtr((mu - c * math.sqrt(t)) / math.sqrt(2 - t)),
    }
    for name, value in expected.items():
        x = reps[f"look1_{name}"].to_numpy()
        se = x.std(ddof=1) / math.sqrt(len(x))
        assert abs(x.mean() - value) < 3 * se, (name, x.mean(), value, se)


# --- OS primary: the design's effect is the OS average hazard ratio of each look ------------

OS_SMALL = ROOT / "tests" / "data" / "os_primary_small.yaml"
OS_LOOKS = {  # an interim at half of the 120 deaths
    "analysis.looks": [{"information": 0.5}, {"events": 120}],
    "analysis.efficacy": {"spending": "obrien_fleming"},
}


def os_small(**changes):
    return vary(scenario_data(OS_SMALL), **{**OS_LOOKS, **changes})


def os_log_ahr(scenario):
    """log AHR(T_d) at d deaths, T_d the expected time of d deaths: the closed-form design's
    OS effect, from `sim.stats.design.nph_expected_events` (the expected deaths on its
    quarter-month grid, linear between; the AHR at T_d), independently of the plan."""
    from sim.stats.design import NPH_GRID_MONTHS, nph_expected_events

    deaths = nph_expected_events(scenario, NPH_GRID_MONTHS)["events"].to_numpy()

    def at(d: float) -> float:
        month = float(np.interp(d, deaths, NPH_GRID_MONTHS))
        table = nph_expected_events(scenario, [month])
        return math.log(float(table["average_hazard_ratio"].iloc[0]))

    return at


def os_conditional_power(z, d, final, critical, log_ahr):
    """The B-value closed form on the score scale, I = p (1 - p) d, with the design's mean
    of the log-rank score E[S_d] = -log AHR(T_d) I_d (gsDesign2's gs_power_ahr):
    CP = 1 - Phi((c sqrt(I_F) - z sqrt(I_k) - (theta_F I_F - theta_k I_k)) / sqrt(I_F - I_k)),
    theta_d = -log AHR(T_d)."""
    i_k, i_f = 0.25 * d, 0.25 * final
    rest = -log_ahr(final) * i_f + log_ahr(d) * i_k
    return 1.0 - ndtr(
        (critical * math.sqrt(i_f) - z * math.sqrt(i_k) - rest) / math.sqrt(i_f - i_k)
    )


def test_os_conditional_power_under_the_design_is_the_closed_form_at_its_z():
    """OS primary (illness-death OS, the small scenario, interim at 60 of 120 deaths): each
    replicate's conditional power under the design is the B-value closed form with the OS
    AHR of the look and of the final analysis, to 1e-12; and those AHRs are the drifts of
    design.csv's h1 rows (`hypothesis_drift`), so CP's design is the design's."""
    from sim.stats.boundaries import design_hazard_ratio, hypothesis_drift

    scenario = os_small()
    plan, reps = simulate(scenario, 40, 5)
    log_ahr = os_log_ahr(scenario)
    c = float(plan.design.efficacy[-1])
    z = reps["look1_z_benefit"].to_numpy()
    d = reps["look1_events"].to_numpy()
    cp = reps["look1_conditional_power_design"].to_numpy()
    assert np.isfinite(cp).sum() >= 35
    for r in np.flatnonzero(np.isfinite(cp)):
        expected = os_conditional_power(z[r], d[r], 120, c, log_ahr)
        assert cp[r] == pytest.approx(expected, abs=1e-12)
    drifts = hypothesis_drift(scenario, plan, design_hazard_ratio(scenario))
    scale = math.sqrt(0.25 * 120)
    np.testing.assert_allclose(
        drifts, [-log_ahr(60) * scale, -log_ahr(120) * scale], rtol=0, atol=1e-12
    )
    # the one hazard ratio a PFS design is powered for is not the OS effect: it differs
    constant = predictive.conditional_power(
        z[0], d[0] / 120, information=30.0, hazard_ratio=math.exp(plan.design_log_hr), critical=c
    )
    assert abs(float(constant) - cp[0]) > 0.01


def test_os_conditional_power_under_the_design_averages_to_the_designs_power():
    """8,000 replicates of the small OS scenario: with Z_t ~ N(m_t / sqrt(t), 1), m_t =
    -log AHR(T_t) sqrt(I_max) t the design's B-value mean, E CP_design = E Phi((Z sqrt(t) +
    m_1 - m_t - c) / sqrt(1 - t)) = Phi(m_1 - c): the design's power at the final bound
    (the interim stops ignored), -log AHR(T_120) sqrt(30) - c. The mean within 3 MC SE;
    the constant hazard ratio used before (the one with the target power at 120 deaths)
    is far from it."""
    scenario = os_small()
    plan, reps = simulate(scenario, 8_000, 11)
    assert (reps["look1_events"] == 60).all()
    c = float(plan.design.efficacy[-1])
    log_ahr = os_log_ahr(scenario)
    x = reps["look1_conditional_power_design"].to_numpy()
    se = x.std(ddof=1) / math.sqrt(len(x))
    expected = float(ndtr(-log_ahr(120) * math.sqrt(30.0) - c))
    assert abs(x.mean() - expected) < 3 * se, (x.mean(), expected, se)
    t, theta_d = 0.5, -plan.design_log_hr
    before = float(
        ndtr(-log_ahr(60) * math.sqrt(30.0) * t + theta_d * math.sqrt(30.0) * (1 - t) - c)
    )
    assert abs(before - expected) > 20 * se


def test_os_conditional_power_futility_stops_where_the_reported_cp_is_below_it():
    """A conditional-power futility rule (threshold 0.2) with OS primary: the z bound of
    the interim gives the threshold back in the OS closed form, and a replicate stops for
    futility exactly when its reported conditional power under the design is below 0.2."""
    scenario = os_small(**{"analysis.futility": {"scale": "conditional_power", "threshold": 0.2}})
    plan, reps = simulate(scenario, 400, 7)
    eff, fut = plan.bounds((0, 1), (60, 120))
    log_ahr = os_log_ahr(scenario)
    assert os_conditional_power(fut[0], 60, 120, eff[-1], log_ahr) == pytest.approx(0.2, abs=1e-9)
    cp = reps["look1_conditional_power_design"].to_numpy()
    decision = reps["look1_decision"].to_numpy()
    held = np.isfinite(cp) & (decision != "efficacy")
    assert ((decision[held] == "futility") == (cp[held] < 0.2)).all()
    assert 0 < (decision == "futility").mean() < 1


@pytest.mark.parametrize("binding", [True, False])
def test_type_one_error_with_predictive_power_futility(binding):
    """HR 1, futility when the predictive power (flat prior) is below 0.10 at the interim:
    binding, the efficacy bounds computed given the futility stops keep the type I error at
    alpha; non-binding, the efficacy bounds alone do (and the futility stops only lower it)."""
    scenario = textbook(
        **{
            "effect.hazard_ratio": 1.0,
            "analysis.futility": {
                "scale": "predictive_power",
                "threshold": 0.10,
                "binding": binding,
            },
        }
    )
    _, reps = simulate(scenario, 8_000, 12)
    alpha = scenario.analysis.alpha
    se = math.sqrt(alpha * (1 - alpha) / len(reps))
    assert (reps["stop_reason"] == "futility").mean() > 0.3  # the rule acts
    rate = reps["reject"].mean() if binding else reps["reject_ignoring_futility"].mean()
    assert abs(rate - alpha) < 3 * se, (rate, alpha, se)
    assert reps["reject"].mean() <= reps["reject_ignoring_futility"].mean()


def test_futility_bound_is_where_the_predictive_power_is_the_threshold():
    """The z bound the monitor uses at the interim gives the threshold back when put into
    the predictive power (design prior), at the final bound the look was checked against."""
    scenario = textbook(
        prior={"hazard_ratio": LOGNORMAL},
        **{"analysis.futility": {"scale": "predictive_power", "threshold": 0.2}},
    )
    plan = TrialModel.from_scenario(scenario).plan
    eff, fut = plan.bounds((0, 1), (35, 70))
    pp = predictive.predictive_power(
        fut[0],
        0.5,
        information=17.5,
        prior=LognormalHazardRatio(0.6, 0.25),
        critical=eff[-1],
    )
    assert float(pp) == pytest.approx(0.2, abs=1e-9)


@pytest.mark.parametrize("action", ["efficacy", "go_no_go"])
def test_bayesian_rule_decides_on_the_posterior(action):
    """Efficacy: every interim with P(HR < 0.8 | data) > 0.9 stops for efficacy; go/no-go:
    every interim without it stops (futility, unless the efficacy bound is crossed), every
    one with it goes on or stops for efficacy."""
    rule = {"hr_below": 0.8, "probability": 0.9, "action": action}
    scenario = textbook(prior={"hazard_ratio": LOGNORMAL}, **{"analysis.bayesian": rule})
    _, reps = simulate(scenario, 400, 13)
    posterior = reps["look1_posterior_probability"].to_numpy()
    decision = reps["look1_decision"].to_numpy()
    holds = posterior > 0.9
    assert 0 < holds.mean() < 1
    if action == "efficacy":
        assert (decision[holds] == "efficacy").all()
    else:
        assert np.isin(decision[~holds], ["futility", "efficacy"]).all()
        assert (decision[~holds] == "futility").any()
        assert np.isin(decision[holds], ["continue", "efficacy"]).all()


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        (
            "analysis.futility={scale: predictive_power, threshold: 1.2}",
            ["analysis.futility.threshold = 1.2", "strictly between 0 and 1", "threshold: 0.10"],
        ),
        (
            "analysis.futility={scale: posterior_power, threshold: 0.1}",
            ["analysis.futility.scale = 'posterior_power'", "'predictive_power'"],
        ),
        (
            "analysis.futility={scale: conditional_power}",
            ["analysis.futility.threshold", "needs a threshold", "threshold: 0.10"],
        ),
        (
            "analysis.bayesian={hr_below: 1.0, probability: 0.9, action: efficacy}",
            ["analysis.bayesian", "needs a posterior", "prior: {hazard_ratio:"],
        ),
        (
            "analysis.bayesian={hr_below: 1.0, probability: 1.0, action: go_no_go}",
            ["analysis.bayesian.probability = 1.0", "strictly between 0 and 1"],
        ),
    ],
)
def test_bad_rules_get_one_message_and_exit_2(tmp_path, capsys, override, needles):
    out = tmp_path / "out"
    code = main(["run", str(INTERIM), "--set", override, "--reps", "4", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, (needle, err)
    assert err.count("\n") <= 3  # one message, not a traceback
    assert not out.exists()


def test_example_scenario_reports_the_per_look_rows(tmp_path):
    out = tmp_path / "out"
    code = main(["run", str(INTERIM_PP), "--reps", "6", "--seed", "3", "--out", str(out)])
    assert code == 0
    summary = (out / "summary.csv").read_text()
    for name in (
        "look1_conditional_power_design_mean",
        "look1_conditional_power_trend_mean",
        "look1_predictive_power_mean",
        "look1_predictive_power_q05",
        "look1_predictive_power_q95",
        "look1_posterior_probability_mean",
    ):
        assert f"\n{name},probability," in summary
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "Probability of success at the interim looks" in page
    assert "Its no-go stops count as futility stops" in page


def test_an_early_stop_ends_screening_and_randomization():
    """Issue 31 item 4: a trial stopped at its interim screens and randomizes nobody after
    the analysis date of the stop; the same draws with bounds that never stop early screen
    as many or more (as many in the trials not stopped), and the monthly screening table
    adds up to the per-replicate counts."""
    data = scenario_data(INTERIM)
    stopping = TrialModel.from_scenario(vary(data))
    never = TrialModel.from_scenario(
        vary(data, **{"analysis.efficacy": {"z": [8.0, 1.2816]}, "analysis.futility": None})
    )
    result = simulate_chunk(stopping, 3, 0, 0, 60)
    reps = result.replicates
    full = simulate_chunk(never, 3, 0, 0, 60).replicates
    early = reps["early_stop"].to_numpy()
    assert early.any() and not full["early_stop"].any()
    n = data["trial"]["sample_size"]
    assert (reps["not_randomized_at_stop"] == n - reps["n_randomized"]).all()
    assert (reps["not_randomized_at_stop"][~early] == 0).all()
    assert (reps["not_randomized_at_stop"][early] > 0).any()
    for column in ("n_screened", "n_screen_failed"):
        assert (reps[column][~early] == full[column][~early]).all()
        assert (reps[column][early] <= full[column][early]).all()
    assert (reps["n_screened"][early] < full["n_screened"][early]).any()
    table = result.sums["screening"]
    for what, column in (("screened", "n_screened"), ("randomized", "n_randomized")):
        assert table.loc[table["what"] == what, "count"].sum() == reps[column].sum()


BETA_REFERENCE = json.loads(
    (ROOT / "tests" / "references" / "beta_spending_observed_rpact.json").read_text()
)
SPENDING = {"asOF": "obrien_fleming", "asP": "pocock", "bsOF": "obrien_fleming", "bsP": "pocock"}


def spending_of(kind: str, gamma: float | None) -> Spending:
    return Spending("hsd", gamma) if kind == "bsHSD" else Spending(SPENDING[kind], None)


@pytest.mark.parametrize("case", BETA_REFERENCE["cases"], ids=lambda c: c["name"])
def test_beta_spending_futility_at_the_observed_information_is_rpacts(case):
    """The monitor's bounds at looks held at `events` (planned at equal spacing) equal
    rpact's getDesignGroupSequential at the observed information rates (the call is in the
    JSON; tests/references/beta_spending_observed_rpact.R made it), to 1e-6."""
    events = case["events"]
    k = len(events)
    planned = [round(events[-1] * (j + 1) / k) for j in range(k)]
    assert planned != list(events)  # the observed information differs from the plan
    plan = SequentialPlan(
        planned_events=np.asarray(planned, dtype=float),
        alpha=case["alpha"],
        sides=1,
        beta=case["beta"],
        allocation=0.5,
        efficacy_spending=spending_of(case["typeOfDesign"], None),
        efficacy_z=None,
        futility_kind="spending",
        futility_values=None,
        beta_spending=spending_of(case["typeBetaSpending"], case["gammaB"]),
        binding=case["binding"],
    )
    eff, fut = plan.bounds(tuple(range(k)), tuple(events))
    np.testing.assert_allclose(fut[:-1], np.atleast_1d(case["futilityBounds"]), atol=1e-6)
    np.testing.assert_allclose(eff, case["criticalValues"], atol=1e-6)


def test_predictive_power_figure_shows_each_interim_look():
    import pandas as pd

    from sim.outputs.plots import plot_predictive_power

    rng = np.random.default_rng(1)
    replicates = pd.DataFrame(
        {
            "look1_predictive_power": rng.uniform(size=50),
            "look2_predictive_power": np.r_[rng.uniform(size=30), [np.nan] * 20],
            "look3_decision": "final",
        }
    )
    ax = plot_predictive_power(replicates, 3, threshold=0.1)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["look 1\n(100% held)", "look 2\n(60.0% held)"]
    assert len(ax.collections) >= 2  # one violin per interim look, then the 5-95% bars
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "futility: stop below this" in legend
