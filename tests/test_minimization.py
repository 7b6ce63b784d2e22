"""Minimization (Pocock-Simon) and the re-randomization test.

Validated by a hand-worked sequence (deterministic minimization, p = 1), by double
programming (a patient-by-patient reference written from the paper's definition), against
permuted blocks on the same patients (smaller imbalance), and by the type I error of the
stratified log-rank and of the re-randomization test under HR 1 (within 3 Monte Carlo SE
of alpha).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.conduct.randomization_minimization import (
    FactorLevels,
    factor_imbalance,
    minimize_with_uniforms,
)
from sim.engine.chunk import TrialModel, simulate_chunk
from tests.helpers import assert_run_rejects, vary

NO_CLINIC = {"treatment": None, "radiotherapy": None}
SEX = {"male": 0.75, "female": 0.25}


def levels_of(rows: list[tuple[int, ...]], n_levels: tuple[int, ...]) -> FactorLevels:
    names = tuple(f"f{i}" for i in range(len(n_levels)))
    return FactorLevels(names, np.asarray([rows]), n_levels)


def test_deterministic_minimization_follows_the_hand_worked_sequence():
    # Two factors (stratum, sex), weights 1, range, 1:1, p = 1; a tie goes to experimental
    # (tie uniform 0 < share 0.5). Counts of the patient's own levels (control, experimental):
    # 1 (s0, m): all 0, tie -> E.
    # 2 (s0, f): s0 (0,1), f (0,0): C gives 0 + 1 = 1, E gives 2 + 1 = 3 -> C.
    # 3 (s1, m): s1 (0,0), m (0,1): C gives 1 + 0 = 1, E gives 1 + 2 = 3 -> C.
    # 4 (s1, f): s1 (1,0), f (1,0): C gives 2 + 2 = 4, E gives 0 + 0 = 0 -> E.
    # 5 (s0, m): s0 (1,1), m (1,1): C gives 1 + 1, E gives 1 + 1: tie -> E.
    # 6 (s0, m): s0 (1,2), m (1,2): C gives 0 + 0, E gives 2 + 2 -> C.
    factors = levels_of([(0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (0, 0)], (2, 2))
    uniforms = np.zeros((2, 1, 6))
    arms = minimize_with_uniforms(factors, np.ones(2), (1, 1), 1.0, "range", uniforms)
    assert arms.tolist() == [[1, 0, 0, 1, 1, 0]]
    # the coin: with uniform 0.9 >= p = 0.8 patient 2 goes against its preferred arm (to E)
    uniforms[1, 0, 1] = 0.9
    arms = minimize_with_uniforms(factors, np.ones(2), (1, 1), 0.8, "range", uniforms)
    assert arms[0, :2].tolist() == [1, 1]


def reference_minimization(levels, weights, ratio, p, imbalance, uniforms):
    """Patient by patient, as Pocock and Simon define it (double programming)."""
    n = len(levels)
    counts = {}
    arms = []
    share = ratio[1] / sum(ratio)
    for i in range(n):
        g = []
        for a in (0, 1):
            total = 0.0
            for f, level in enumerate(levels[i]):
                c = [counts.get((f, level, 0), 0), counts.get((f, level, 1), 0)]
                c[a] += 1
                d = c[0] / ratio[0] - c[1] / ratio[1]
                total += weights[f] * (abs(d) if imbalance == "range" else d * d / 4)
            g.append(total)
        if math.isclose(g[0], g[1], abs_tol=1e-12):
            preferred = int(uniforms[0][i] < share)
        else:
            preferred = int(g[1] < g[0])
        arm = preferred if uniforms[1][i] < p else 1 - preferred
        arms.append(arm)
        for f, level in enumerate(levels[i]):
            counts[(f, level, arm)] = counts.get((f, level, arm), 0) + 1
    return arms


@pytest.mark.parametrize("imbalance", ["range", "variance"])
@pytest.mark.parametrize("ratio", [(1, 1), (1, 2)])
def test_minimization_matches_a_patient_by_patient_reference(imbalance, ratio, rng):
    n_levels = (2, 3, 4)
    levels = np.stack([rng.integers(0, k, (20, 60)) for k in n_levels], axis=-1)
    factors = FactorLevels(("a", "b", "c"), levels, n_levels)
    weights = np.array([2.0, 1.0, 0.5])
    uniforms = rng.random((2, 20, 60))
    arms = minimize_with_uniforms(factors, weights, ratio, 0.8, imbalance, uniforms)
    for r in range(20):
        expected = reference_minimization(
            levels[r].tolist(), weights, ratio, 0.8, imbalance, uniforms[:, r]
        )
        assert arms[r].tolist() == expected


def test_imbalance_counts_each_level():
    factors = levels_of([(0,), (0,), (1,), (1,), (1,)], (2,))
    arm = np.array([[1, 1, 0, 1, 1]])
    # level 0: 2 E, 0 C -> 2; level 1: 2 E, 1 C -> 1
    assert factor_imbalance(factors, arm, (1, 1))["f0"].tolist() == [3.0]


def minimized(data: dict, **changes) -> object:
    settings = {
        **NO_CLINIC,
        "randomization.covariates": {"sex": SEX},
        "randomization.method": "minimization",
        "randomization.minimization": {"factors": ["stratum", "sex"], "p": 0.8},
    }
    return vary(data, **{**settings, **changes})


def test_minimization_balances_better_than_permuted_blocks_on_the_same_patients(baseline_data):
    # Same seed: the same patients (enrollment, strata, covariates from their own streams).
    # Stratified blocks of 4 or 6 balance each stratum to within a half block, the sex only
    # by chance; minimization with p = 0.8 trades a little stratum balance for the sex
    # (the weighted sum it minimizes is smaller), and with p = 1 both are smaller.
    blocks = vary(baseline_data, **NO_CLINIC, **{"randomization.covariates": {"sex": SEX}})
    a = simulate_chunk(TrialModel.from_scenario(blocks), 7, 0, 0, 400).replicates
    columns = ["imbalance_stratum", "imbalance_sex"]
    for p in (0.8, 1.0):
        rule = {"factors": ["stratum", "sex"], "p": p}
        mini = minimized(baseline_data, **{"randomization.minimization": rule})
        b = simulate_chunk(TrialModel.from_scenario(mini), 7, 0, 0, 400).replicates
        np.testing.assert_array_equal(a["n_screened"], b["n_screened"])  # same patients
        assert b[columns].sum(axis=1).mean() < a[columns].sum(axis=1).mean()
        assert b["imbalance_sex"].mean() < 0.5 * a["imbalance_sex"].mean()
        if p == 1.0:
            assert (b[columns].mean() < a[columns].mean()).all()


def test_a_run_without_minimization_draws_and_reports_nothing_new(baseline):
    row = simulate_chunk(TrialModel.from_scenario(baseline), 3, 0, 0, 5).replicates
    assert not [c for c in row.columns if "imbalance" in c or "rerandomization" in c]


def test_type_one_error_of_stratified_logrank_and_rerandomization_test(baseline_data):
    # HR 1, alpha 0.10 one-sided, minimization over stratum and sex with p = 0.8: the share
    # rejecting is within 3 MC SE (sqrt(alpha (1 - alpha) / reps)) of alpha for both tests.
    reps = 1000
    sc = minimized(
        baseline_data, **{"effect.hazard_ratio": 1.0, "analysis.rerandomization_draws": 99}
    )
    model = TrialModel.from_scenario(sc)
    rows = [simulate_chunk(model, 11, c, c * 500, 500).replicates for c in range(reps // 500)]
    alpha = sc.analysis.alpha
    se = math.sqrt(alpha * (1 - alpha) / reps)
    for column in ("reject_stratified", "reject_rerandomization"):
        share = np.mean(np.concatenate([r[column].to_numpy() for r in rows]))
        assert abs(share - alpha) < 3 * se, (column, share)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (
            ["randomization.minimization={factors: [stratum, smoking]}"],
            "randomization.minimization.factors = ['stratum', 'smoking']: factor 'smoking' "
            "does not exist",
        ),
        (
            ["randomization.minimization={factors: [stratum], weights: {stratum: 0}}"],
            "randomization.minimization.weights: weight 0 of factor 'stratum' is not > 0",
        ),
        (
            ["randomization.minimization={p: 0.4}"],
            "randomization.minimization.p = 0.4: the biased coin must be in (0.5, 1]",
        ),
        (
            ["randomization.minimization={p: 1.2}"],
            "randomization.minimization.p = 1.2: the biased coin must be in (0.5, 1]",
        ),
    ],
)
def test_bad_minimization_input_exits_2_with_one_message(tmp_path, capsys, overrides, needle):
    assert_run_rejects(tmp_path, capsys, ["randomization.method=minimization", *overrides], needle)


def test_the_minimization_scenario_is_the_baseline_but_its_randomization(baseline_data):
    from tests.helpers import ROOT, scenario_data

    data = scenario_data(ROOT / "scenarios" / "nct07271602_minimization.yaml")
    assert data["randomization"]["method"] == "minimization"
    assert data.pop("randomization") != baseline_data["randomization"]
    assert data["analysis"].pop("rerandomization_draws") == 199
    assert data == {k: v for k, v in baseline_data.items() if k != "randomization"}
