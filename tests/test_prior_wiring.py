"""The design prior wired through a run (issue 26): the scenario's prior block, each
replicate's own truth on its own stream, and assurance in design.csv and summary.csv.

How each is validated:
- the truth's effect on the draws: double programming, the per-replicate hazard ratio (and
  the control median's stretch) against the scenario's own arithmetic at the same uniforms;
- the streams: adding a prior leaves every other stream's draws as they were;
- assurance: the simulated share of the textbook design within 3 MC SE of the closed form
  (O'Hagan et al. 2005; checked against rpact's getPowerSurvival averaged over the prior in
  tests/test_assurance.py) and of rpact's getSimulationSurvival power averaged over the
  prior's 40 Gauss-Hermite nodes (tests/references/assurance_simulation_rpact.json, with the
  R call; tests/references/assurance_simulation_rpact.R remakes it).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from sim.api import design, simulate
from sim.commands.cli import main
from sim.conduct.outcomes import TrueEffect, draw_latent_outcomes
from sim.engine.chunk import PRIOR_STREAM, STAGES, chunk_streams
from sim.scenario import ScenarioError, parse_scenario
from tests.helpers import ROOT

LOGNORMAL = {"distribution": "lognormal", "median": 0.6, "sd_log": 0.25}
MIXTURE = {"distribution": "mixture", "values": [0.6, 1.0], "weights": [0.7, 0.3]}
SIMULATION_REFERENCE = json.loads(
    (Path(__file__).parent / "references" / "assurance_simulation_rpact.json").read_text()
)


def with_prior(data: dict, **prior: object) -> dict:
    out = copy.deepcopy(data)
    out["prior"] = prior
    return out


# --------------------------------------------------------------------------- the scenario


def test_prior_block_reads_both_forms(textbook_data):
    lognormal = parse_scenario(with_prior(textbook_data, hazard_ratio=LOGNORMAL)).prior
    assert lognormal.hazard_ratio.median == 0.6 and lognormal.no_benefit_hr == 1.0
    mixture = parse_scenario(
        with_prior(textbook_data, hazard_ratio=MIXTURE, no_benefit_hr=0.95)
    ).prior
    assert mixture.hazard_ratio.weights == (0.7, 0.3) and mixture.no_benefit_hr == 0.95
    assert parse_scenario(textbook_data).prior is None


@pytest.mark.parametrize(
    ("prior", "needle"),
    [
        (
            {"hazard_ratio": {**LOGNORMAL, "sd_log": -0.25}},
            "prior.hazard_ratio.sd_log = -0.25: must be > 0",
        ),
        (
            {"hazard_ratio": {**LOGNORMAL, "sd_log": 0}},
            "prior.hazard_ratio.sd_log = 0: must be > 0",
        ),
        (
            {"hazard_ratio": {**MIXTURE, "weights": [0.7, 0.2]}},
            "prior.hazard_ratio.weights = [0.7, 0.2]: weights must sum to 1 (within 1e-09), they "
            "sum to 0.9: rescale them to [0.777778, 0.222222]",
        ),
        (
            {"hazard_ratio": {**MIXTURE, "values": [0.6, -1.0]}},
            "prior.hazard_ratio.values = [0.6, -1.0]: every value must be a hazard ratio > 0",
        ),
        (
            {"hazard_ratio": {**MIXTURE, "values": [0.6, 0]}},
            "prior.hazard_ratio.values = [0.6, 0]: every value must be a hazard ratio > 0",
        ),
        (
            {"hazard_ratio": {**LOGNORMAL, "median": 0}},
            "prior.hazard_ratio.median = 0: must be > 0",
        ),
        (
            {"control_median_months": {"median": 6.8, "sd_log": -1}},
            "prior.control_median_months.sd_log = -1: must be > 0",
        ),
        ({"hazard_ratio": LOGNORMAL, "no_benefit_hr": 0}, "prior.no_benefit_hr = 0"),
        ({}, "prior: a prior block needs hazard_ratio or control_median_months"),
    ],
)
def test_bad_prior_is_one_message_naming_field_value_rule_and_fix(
    tmp_path, capsys, textbook_data, prior, needle
):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_prior(textbook_data, **prior)))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") <= 3  # one message, not a traceback


def test_prior_on_the_hazard_ratio_needs_a_proportional_effect(textbook_data):
    data = with_prior(textbook_data, hazard_ratio=LOGNORMAL)
    data["effect"] = {
        "piecewise_hazard_ratio": [{"months": 3, "hazard_ratio": 1.0}, {"hazard_ratio": 0.5}]
    }
    with pytest.raises(ScenarioError, match="prior.hazard_ratio: a prior on the hazard ratio"):
        parse_scenario(data)


def test_shipped_prior_scenario_is_the_baseline_plus_its_prior():
    shipped = yaml.safe_load((ROOT / "scenarios" / "nct07271602_prior.yaml").read_text())
    baseline = yaml.safe_load((ROOT / "scenarios" / "nct07271602.yaml").read_text())
    assert shipped.pop("prior") == {"hazard_ratio": LOGNORMAL, "no_benefit_hr": 1.0}
    assert shipped == baseline


# ------------------------------------------------------------------------------ the draws


def test_prior_stream_leaves_the_other_streams_alone():
    streams = chunk_streams(11, 3)
    before = np.random.SeedSequence(11, spawn_key=(3,)).spawn(len(STAGES))
    for name, seq in zip(STAGES, before, strict=True):
        assert streams[name].random(5).tolist() == np.random.default_rng(seq).random(5).tolist()
    assert PRIOR_STREAM in streams and PRIOR_STREAM not in STAGES


def test_drawn_hazard_ratio_is_the_experimental_arms_hazard_ratio(textbook_data):
    """Double programming: a replicate whose drawn HR is h has the PFS times of the scenario
    with effect.hazard_ratio = h, at the same uniforms; and a drawn control median m stretches
    both arms by m / 6.8."""
    reps, n = 4, 50
    arm = np.tile(np.arange(n) % 2, (reps, 1))
    hrs = np.array([0.4, 0.6, 1.0, 1.3])
    prior = parse_scenario(with_prior(textbook_data, hazard_ratio=LOGNORMAL))
    drawn = draw_latent_outcomes(
        prior, arm, np.random.default_rng(5), truth=TrueEffect(hazard_ratio=hrs)
    )
    for r, h in enumerate(hrs):
        fixed = parse_scenario({**textbook_data, "effect": {"hazard_ratio": float(h)}})
        plain = draw_latent_outcomes(fixed, arm, np.random.default_rng(5))
        np.testing.assert_allclose(drawn.pfs_day[r], plain.pfs_day[r], rtol=1e-12)
        np.testing.assert_array_equal(drawn.withdraw_day[r], plain.withdraw_day[r])
    medians = np.array([3.4, 6.8, 13.6, 20.0])
    stretched = draw_latent_outcomes(
        prior,
        arm,
        np.random.default_rng(5),
        truth=TrueEffect(hazard_ratio=hrs, control_median_months=medians),
    )
    np.testing.assert_allclose(stretched.pfs_day, drawn.pfs_day * (medians / 6.8)[:, None])
    control = parse_scenario({**textbook_data, "pfs": {"control": {"median_months": 13.6}}})
    plain = draw_latent_outcomes(control, arm, np.random.default_rng(5))
    np.testing.assert_allclose(
        stretched.pfs_day[2][arm[2] == 0], plain.pfs_day[2][arm[2] == 0], rtol=1e-12
    )


@pytest.fixture(scope="module")
def textbook_prior_run(textbook_data, tmp_path_factory):
    scenario = parse_scenario(with_prior(textbook_data, hazard_ratio=LOGNORMAL))
    out = tmp_path_factory.mktemp("prior") / "run"
    return scenario, simulate(scenario, reps=4000, seed=3, workers=1, progress=False, out=out)


def test_replicates_record_their_drawn_truth(textbook_prior_run):
    _, result = textbook_prior_run
    reps = result.replicates
    log_hr = np.log(reps["true_hr"].to_numpy())
    # the drawn log HR is Normal(log 0.6, 0.25^2): Kolmogorov-Smirnov at the 0.1% level
    assert stats.kstest(log_hr, stats.norm(math.log(0.6), 0.25).cdf).pvalue > 1e-3
    assert (reps["truly_effective"] == (reps["true_hr"] < 1.0)).all()
    assert "true_control_median_months" not in reps.columns


def test_a_run_without_prior_has_no_truth_and_no_assurance(textbook_data):
    result = simulate(parse_scenario(textbook_data), reps=20, seed=3, workers=1, progress=False)
    assert not {"true_hr", "truly_effective"} & set(result.replicates.columns)
    assert not {"assurance", "p_false_success"} & set(result.summary["metric"])


# ------------------------------------------------------------------------------- assurance


def summary_row(result, metric: str) -> tuple[float, float]:
    table = result.summary.set_index("metric")
    return float(table.loc[metric, "estimate"]), float(table.loc[metric, "mc_se"])


def test_simulated_assurance_matches_the_closed_form(textbook_prior_run):
    """The textbook design (Schoenfeld's assumptions) with the prior: the simulated share of
    successes, the conditional and the joint one within 3 MC SE of design.csv's closed
    forms (assurance: Phi((mu sqrt(I) - z) / sqrt(1 + I sd^2)), I = 70 / 4)."""
    scenario, result = textbook_prior_run
    rows = design(scenario).set_index("quantity")["value"]
    mu, sd, info, z = -math.log(0.6), 0.25, 70 / 4, stats.norm.ppf(0.9)
    closed = stats.norm.cdf((mu * math.sqrt(info) - z) / math.sqrt(1 + info * sd**2))
    assert float(rows["assurance"]) == pytest.approx(closed, abs=1e-12)
    for metric in ("assurance", "p_success_given_effective", "p_false_success"):
        estimate, se = summary_row(result, metric)
        expected = float(rows[metric])
        se = max(se, math.sqrt(expected * (1 - expected) / 4000))  # p_false_success ~ 0.001
        assert abs(estimate - expected) < 3 * se, (metric, estimate, expected, se)


def test_simulated_assurance_matches_rpact_simulation_over_the_prior(textbook_prior_run):
    """rpact's getSimulationSurvival power at each of the 40 Gauss-Hermite nodes, averaged
    with their weights (its own MC SE, from the nodes' binomial shares), against ours: within
    3 SE of the difference."""
    _, result = textbook_prior_run
    ref = SIMULATION_REFERENCE
    estimate, se = summary_row(result, "assurance")
    both = math.hypot(se, ref["assurance_mc_se"])
    assert abs(estimate - ref["assurance"]) < 3 * both, (estimate, ref["assurance"], both)


def test_mixture_prior_assurance_matches_the_weighted_powers(textbook_data):
    scenario = parse_scenario(with_prior(textbook_data, hazard_ratio=MIXTURE))
    rows = design(scenario).set_index("quantity")["value"]
    z = stats.norm.ppf(0.9)
    power = [stats.norm.cdf(-math.log(h) * math.sqrt(70 / 4) - z) for h in (0.6, 1.0)]
    assert float(rows["assurance"]) == pytest.approx(0.7 * power[0] + 0.3 * power[1], abs=1e-12)
    assert float(rows["p_false_success"]) == pytest.approx(0.3 * 0.1, abs=1e-12)
    result = simulate(scenario, reps=2000, seed=4, workers=1, progress=False)
    estimate, se = summary_row(result, "assurance")
    assert abs(estimate - float(rows["assurance"])) < 3 * se
    drawn = result.replicates["true_hr"]
    assert set(drawn.unique()) == {0.6, 1.0}
    # the replicates that drew HR 1: their rejections are the type I error, alpha = 0.10
    share = drawn.eq(1.0).mean()
    assert abs(share - 0.3) < 3 * math.sqrt(0.3 * 0.7 / 2000)
    estimate, se = summary_row(result, "p_false_success")
    assert abs(estimate - 0.03) < 3 * max(se, math.sqrt(0.03 * 0.97 / 2000))


def test_group_sequential_design_has_quadrature_assurance():
    data = yaml.safe_load((ROOT / "scenarios" / "nct07271602_interim.yaml").read_text())
    scenario = parse_scenario(with_prior(data, hazard_ratio=LOGNORMAL))
    rows = design(scenario).set_index("quantity")
    assert "Gauss-Hermite" in rows.loc["assurance", "method"]
    pos = {q: float(rows.loc[q, "value"]) for q in ("assurance", "p_effective")}
    parts = float(rows.loc["p_success_given_effective", "value"]) * pos["p_effective"]
    assert pos["assurance"] == pytest.approx(parts + float(rows.loc["p_false_success", "value"]))
    assert float(rows.loc["assurance", "value"]) < float(rows.loc["power_at_prior_mean", "value"])


def test_assurance_figure_of_a_run_with_a_prior(textbook_prior_run):
    from sim.outputs.plots.assurance import assurance_panels, simulated_by_hazard_ratio

    scenario, result = textbook_prior_run
    table = simulated_by_hazard_ratio(result.replicates)
    assert table["count"].sum() == 4000
    assert table["hr"].is_monotonic_increasing and table["share"].iloc[0] > table["share"].iloc[-1]
    (panel,) = assurance_panels(result.folder, scenario, result.replicates)
    assert panel.name == "assurance" and "assurance" in panel.caption


def test_report_says_the_probability_of_success_in_words(textbook_prior_run, tmp_path):
    _, result = textbook_prior_run
    out = tmp_path / "report.html"
    assert main(["report", str(result.folder), "--out", str(out)]) == 0
    page = out.read_text()
    assert '<h2 id="success">Probability of success</h2>' in page  # linked from the contents
    assert "lognormal, median 0.6, sd of log HR 0.25" in page
    assert 'alt="' in page and "assurance" in page
