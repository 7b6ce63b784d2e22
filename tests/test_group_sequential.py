"""Group-sequential designs: spending, boundaries and probabilities against rpact; the
simulated looks against rpact's simulator; the scenario's looks; early stops in the trial.

Every rpact figure is in sim/qualify/references/reference_group_sequential.json together with
the R call that produced it; `Rscript benchmarks/rpact/group_sequential_references.R >
sim/qualify/references/reference_group_sequential.json` reproduces the file (rpact 3.3.4, R
4.2.2), so these tests need no R. Tolerances: rpact solves its bounds to about 1e-9 (its design
power reads 0.7999999998), so closed-form comparisons use 1e-6 (the issue's) and are typically
met to 1e-8; simulated shares use 3 combined Monte Carlo standard errors sqrt(p(1-p)/R_ours +
p(1-p)/R_rpact), look times 2%.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sim.qualify import REFERENCES
from sim.scenario import ScenarioError, parse_scenario
from sim.stats.boundaries import boundaries_table, design_rows
from sim.stats.monitoring import SequentialPlan, held_looks, monitor
from sim.stats.sequential import (
    GRID_R,
    Design,
    beta_spending_bounds,
    crossing_probabilities,
    efficacy_bounds,
)
from sim.stats.spending import Spending, spent
from tests.helpers import vary

REFERENCE = json.loads((REFERENCES / "reference_group_sequential.json").read_text())
TOL = 1e-6
FAMILY = {
    "asOF": "obrien_fleming",
    "asP": "pocock",
    "asHSD": "hsd",
    "asKD": "kim_demets",
    "bsOF": "obrien_fleming",
    "bsP": "pocock",
    "bsHSD": "hsd",
    "bsKD": "kim_demets",
}


def vec(value) -> np.ndarray:
    """A JSON number or list as an array (R's toJSON unboxes length-1 vectors)."""
    return np.atleast_1d(np.asarray(value, dtype=float))


def spending_of(kind: str, gamma) -> Spending:
    return Spending(FAMILY[kind], gamma if kind[2:] in ("HSD", "KD") else None)


def rpact_design(ref) -> Design:
    """Our design for one of rpact's getDesignGroupSequential calls."""
    t = vec(ref["information"])
    alpha_spending = spending_of(ref["type"], ref["gammaA"])
    if ref["typeBetaSpending"] != "none":
        eff, fut, drift = beta_spending_bounds(
            t,
            alpha_spending,
            ref["alpha"],
            spending_of(ref["typeBetaSpending"], ref["gammaB"]),
            ref["beta"],
            ref["binding"],
        )
        return Design(t, eff, fut, ref["alpha"], ref["beta"], 1, ref["binding"], drift)
    eff = efficacy_bounds(t, alpha_spending, ref["alpha"], ref["sided"])
    return Design(
        t,
        eff,
        np.full(len(t), -np.inf),
        ref["alpha"],
        ref["beta"],
        ref["sided"],
        False,
        math.sqrt(ref["shift"]),
    )


DESIGNS = REFERENCE["designs"]


@pytest.fixture(scope="module")
def designs():
    return {name: rpact_design(ref) for name, ref in DESIGNS.items()}


# ----------------------------------------------------------------------- spending


@pytest.mark.parametrize("name", DESIGNS)
def test_alpha_spent_matches_rpact(name, record_validation) -> None:
    ref = DESIGNS[name]
    ours = spending_of(ref["type"], ref["gammaA"])(np.asarray(ref["information"]), ref["alpha"])
    # rpact's alphaSpent is the alpha its bounds spend, solved to about 1e-8
    record_validation(
        f"alpha spent by the first look, {name}",
        "rpact alphaSpent",
        ref["alpha_spent"][0],
        ours[0],
        1e-7,
    )
    np.testing.assert_allclose(ours, ref["alpha_spent"], rtol=0, atol=1e-7)


def test_spending_functions_by_hand() -> None:
    t = np.array([0.0, 0.25, 0.5, 1.0])
    # OBF: 2 (1 - Phi(z_{0.9875} / sqrt(0.25))) = 2 (1 - Phi(2.241403 / 0.5)) = 2 x 3.6834e-6
    assert spent("obrien_fleming", 0.25, 0.025) == pytest.approx(7.3668e-6, rel=1e-4)
    assert spent("pocock", 0.5, 0.05) == pytest.approx(0.05 * math.log(1 + (math.e - 1) / 2))
    assert spent("hsd", 0.5, 0.1, 0.0) == pytest.approx(0.05)
    assert spent("kim_demets", 0.5, 0.1, 2.0) == pytest.approx(0.025)
    for family, parameter in (
        ("obrien_fleming", None),
        ("pocock", None),
        ("hsd", -4.0),
        ("kim_demets", 3.0),
    ):
        values = spent(family, t, 0.1, parameter)
        assert values[0] == 0.0 and values[-1] == 0.1 and np.all(np.diff(values) > 0)
    with pytest.raises(ValueError, match="rho"):
        Spending("kim_demets", 0.0)


# ----------------------------------------------------------------------- boundaries


@pytest.mark.parametrize("name", DESIGNS)
def test_bounds_match_rpact(name, designs, record_validation) -> None:
    ref, ours = DESIGNS[name], designs[name]
    record_validation(
        f"final efficacy bound z, {name}",
        "rpact getDesignGroupSequential",
        ref["critical"][-1],
        ours.efficacy[-1],
        TOL,
    )
    np.testing.assert_allclose(ours.efficacy, ref["critical"], rtol=0, atol=TOL)
    if ref["futility"] is not None and ref["typeBetaSpending"] != "none":
        record_validation(
            f"first futility bound z, {name}",
            "rpact getDesignGroupSequential",
            vec(ref["futility"])[0],
            ours.futility[0],
            TOL,
        )
        np.testing.assert_allclose(ours.futility[:-1], vec(ref["futility"]), rtol=0, atol=TOL)


@pytest.mark.parametrize("name", DESIGNS)
def test_drift_and_stopping_probabilities_match_rpact(name, designs, record_validation):
    """shift = drift^2 (beta spending: the drift solved for power 1 - beta), the stage-wise
    rejection and futility probabilities at that drift, and the expected information
    relative to the fixed design (rpact's averageSampleNumber1 / 0)."""
    ref, ours = DESIGNS[name], designs[name]
    record_validation(
        f"drift^2 (shift), {name}",
        "rpact getDesignCharacteristics",
        ref["shift"],
        ours.drift**2,
        10 * TOL,
    )
    assert ours.drift**2 == pytest.approx(ref["shift"], abs=10 * TOL)
    up, low = ours.probabilities(ours.drift)
    np.testing.assert_allclose(up, ref["rejection_h1"], rtol=0, atol=TOL)
    if ref["futility_h1"] is not None and ref["typeBetaSpending"] != "none":
        np.testing.assert_allclose(low[:-1], vec(ref["futility_h1"]), rtol=0, atol=TOL)
    inflation = ref["inflation"]
    record_validation(
        f"power at the design drift, {name}",
        "rpact getDesignCharacteristics",
        sum(ref["rejection_h1"]),
        up.sum(),
        TOL,
    )
    asn1 = ours.expected_fraction(ours.drift) * inflation
    asn0 = ours.expected_fraction(0.0) * inflation
    assert asn1 == pytest.approx(ref["asn_h1"], abs=TOL)
    assert asn0 == pytest.approx(ref["asn_h0"], abs=TOL)


@pytest.mark.parametrize("name", ["obf2_bshsd_nonbinding", "kd4_bskd_binding"])
def test_beta_spending_spends_beta(name, designs) -> None:
    ref, ours = DESIGNS[name], designs[name]
    np.testing.assert_allclose(ours.cumulative_beta(), ref["beta_spent"], rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.cumulative_alpha(), ref["alpha_spent"], rtol=0, atol=TOL)


def test_recursion_is_converged_and_exact_for_one_look() -> None:
    """r = 64 against r = 160: probabilities agree to 1e-9; one look is a normal tail."""
    t = np.array([0.2, 0.45, 0.7, 1.0])
    eff = efficacy_bounds(t, Spending("hsd", -4.0), 0.025)
    fut = np.array([-0.5, 0.3, 1.0, eff[-1]])
    fine = crossing_probabilities(t, eff, fut, 2.8, r=160)
    ours = crossing_probabilities(t, eff, fut, 2.8, r=GRID_R)
    for a, b in zip(ours, fine, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    up, low = crossing_probabilities([1.0], [1.96], [-np.inf], 0.0)
    assert up[0] == pytest.approx(0.0249978951482204, abs=1e-15)


def test_two_looks_match_bivariate_normal() -> None:
    """P(Z1 < b1, Z2 >= b2) by the recursion against scipy's bivariate normal cdf."""
    from scipy.stats import multivariate_normal

    t, b, drift = np.array([0.4, 1.0]), np.array([2.5, 1.9]), 1.3
    up, _ = crossing_probabilities(t, b, [-np.inf, -np.inf], drift)
    rho = math.sqrt(t[0] / t[1])
    mean = drift * np.sqrt(t)
    mvn = multivariate_normal(mean, [[1, rho], [rho, 1]])
    both_below = mvn.cdf(b)
    from scipy.special import ndtr

    reference = ndtr(b[0] - mean[0]) - both_below
    assert up[1] == pytest.approx(reference, abs=1e-7)  # scipy's own accuracy ~1e-8


# ----------------------------------------------------------------------- survival design


def textbook_looks(textbook_data, **changes):
    return vary(textbook_data, **changes)


def test_power_survival_matches_rpact(textbook_data, record_validation) -> None:
    """OBF at 35 and 70 events, HSD(-2) beta spending, the textbook trial at HR 0.6, against
    getPowerSurvival: stage-wise rejection and futility, early stop, expected events, look
    times (Lachin-Foulkes) and bounds on the hazard-ratio scale."""
    ref = REFERENCE["power"]["textbook_obf_bshsd"]
    sc = textbook_looks(
        textbook_data,
        **{
            "analysis.looks": [{"events": 35}, {"events": 70}],
            "analysis.efficacy": {"spending": "obrien_fleming"},
            "analysis.futility": {"spending": {"hsd": {"gamma": -2}}},
        },
    )
    table = boundaries_table(sc)
    rows = {q: v for q, v, _, _ in design_rows(sc)}
    np.testing.assert_allclose(table["p_efficacy_h1"], ref["reject_per_stage"], atol=TOL)
    assert table["p_futility_h1"][0] == pytest.approx(vec(ref["futility_per_stage"])[0], abs=TOL)
    assert rows["gs_early_stop_h1"] == pytest.approx(ref["early_stop"], abs=TOL)
    assert rows["gs_power_h1"] == pytest.approx(ref["overall_reject"], abs=TOL)
    record_validation(
        "expected events, OBF + HSD(-2) futility, HR 0.6",
        "rpact getPowerSurvival",
        ref["expected_events"],
        rows["gs_expected_events_h1"],
        1e-5,
    )
    assert rows["gs_expected_events_h1"] == pytest.approx(ref["expected_events"], abs=1e-5)
    np.testing.assert_allclose(table["expected_months"], ref["analysis_time"], rtol=1e-6)
    assert rows["gs_expected_analysis_months_h1"] == pytest.approx(ref["study_duration"], rel=1e-6)
    np.testing.assert_allclose(table["efficacy_hr"], ref["critical_hr"], rtol=1e-6)
    # rpact rounds futilityBoundsEffectScale to 8 digits in this output
    assert table["futility_hr"][0] == pytest.approx(vec(ref["futility_hr"])[0], abs=1e-8)
    assert list(table.columns[:10]) == [
        "look",
        "events",
        "information",
        "efficacy_z",
        "futility_z",
        "efficacy_p",
        "efficacy_hr",
        "futility_hr",
        "cumulative_alpha",
        "cumulative_beta",
    ]
    assert table["cumulative_alpha"].iloc[-1] == pytest.approx(0.1, abs=1e-9)
    assert table["cumulative_beta"].iloc[-1] == pytest.approx(0.2, abs=1e-8)


def test_power_survival_three_looks_matches_rpact(textbook_data) -> None:
    ref = REFERENCE["power"]["textbook_hsd3_null"]
    sc = textbook_looks(
        textbook_data,
        **{
            "effect.hazard_ratio": 0.75,
            "analysis.looks": [{"information": 1 / 3}, {"information": 2 / 3}, {"events": 70}],
            "analysis.efficacy": {"spending": {"hsd": {"gamma": -4}}},
        },
    )
    table = boundaries_table(sc)
    rows = {q: v for q, v, _, _ in design_rows(sc)}
    np.testing.assert_allclose(table["p_efficacy_h1"], ref["reject_per_stage"], atol=TOL)
    assert rows["gs_expected_events_h1"] == pytest.approx(ref["expected_events"], abs=1e-4)
    np.testing.assert_allclose(table["expected_months"], ref["analysis_time"], rtol=1e-6)
    np.testing.assert_allclose(table["efficacy_hr"], ref["critical_hr"], rtol=1e-6)


def test_design_rows_say_what_the_design_stops_for(textbook_data) -> None:
    """design.csv's power and alpha rows say what the design does: efficacy bounds alone
    without futility bounds (no 'stopping at futility'), the futility stop otherwise, the
    type I error with binding futility bounds counted or non-binding ones ignored, and a
    two-sided design's bounds on both sides."""
    looks = {
        "analysis.looks": [{"events": 35}, {"events": 70}],
        "analysis.efficacy": {"spending": "obrien_fleming"},
    }
    futility = {"spending": {"hsd": {"gamma": -2}}}
    cases = {
        "none": ({}, "no futility bound", "efficacy bounds alone (no futility bound)"),
        "non-binding": (
            {"analysis.futility": futility},
            "non-binding futility ignored",
            "stopping at futility",
        ),
        "binding": (
            {"analysis.futility": {**futility, "binding": True}},
            "binding futility bounds included",
            "stopping at futility",
        ),
        "two-sided": (
            {"analysis.sides": 2},
            "both sides' bounds",
            "efficacy bounds on both sides (no futility bound)",
        ),
    }
    for case, (changes, alpha_words, power_words) in cases.items():
        sc = textbook_looks(textbook_data, **looks, **changes)
        methods = {q: m for q, _, _, m in design_rows(sc)}
        assert methods["gs_alpha_spent"] == (
            f"recursive integration (Armitage-McPherson-Rowe); {alpha_words}"
        ), case
        assert methods["gs_power_h0"] == f"HR 1, 70 events, {power_words}", case
        assert methods["gs_power_h1"] == f"HR 0.6, 70 events, {power_words}", case


# ----------------------------------------------------------------------- scenario


def test_looks_fill_the_event_target(textbook_data) -> None:
    sc = vary(
        textbook_data,
        **{"analysis.event_target": None, "analysis.looks": [{"events": 35}, {"events": 70}]},
    )
    assert sc.analysis.event_target == 70 and sc.analysis.efficacy_rule.spending == "obrien_fleming"


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (
            {"analysis.looks": [{"events": 35, "date": "2027-01-01"}, {"events": 70}]},
            "exactly one trigger",
        ),
        ({"analysis.looks": [{"events": 40}, {"events": 35}, {"events": 70}]}, "analysis.looks.1"),
        ({"analysis.looks": [{"events": 35}, {"information": 0.9}]}, "final look"),
        ({"analysis.looks": [{"events": 35}, {"events": 60}]}, "analysis.event_target"),
        (
            {"analysis.looks": [{"events": 35}, {"events": 70}], "analysis.efficacy": {"z": [2.0]}},
            "analysis.efficacy.z",
        ),
        (
            {
                "analysis.looks": [{"events": 35}, {"events": 70}],
                "analysis.futility": {"z": [0.0], "hazard_ratio": [1.0]},
            },
            "exactly one futility",
        ),
        (
            {
                "analysis.looks": [{"events": 35}, {"events": 70}],
                "analysis.futility": {"hazard_ratio": [1.0, 1.0]},
            },
            "analysis.futility.hazard_ratio",
        ),
        ({"analysis.futility": {"z": [0.0]}}, "bounds need looks"),
        (
            {
                "analysis.looks": [{"events": 30}, {"date": "2028-06-30"}],
                "analysis.event_target": None,
            },
            "use cut: date",
        ),
        (
            {
                "analysis.looks": [{"events": 35}, {"events": 70}],
                "analysis.sides": 2,
                "analysis.futility": {"z": [0.0]},
            },
            "one-sided",
        ),
        (
            {"analysis.event_target": None, "analysis.looks": [{"events": 35}, {"events": 350}]},
            "sample_size",
        ),
    ],
)
def test_bad_looks_name_the_field(textbook_data, changes, needle) -> None:
    with pytest.raises(ScenarioError) as error:
        vary(textbook_data, **changes)
    assert needle in str(error.value)


def test_the_interim_scenario_is_valid(baseline) -> None:
    from tests.helpers import ROOT, scenario_data

    sc = parse_scenario(scenario_data(ROOT / "scenarios" / "nct07271602_interim.yaml"))
    assert [look.events for look in sc.analysis.looks] == [35, 70]
    assert sc.analysis.futility.binding is False
    assert not baseline.analysis.looks  # the baseline keeps one look
    # everything but the analysis block is the baseline's
    assert sc.model_dump(exclude={"analysis"}) == baseline.model_dump(exclude={"analysis"})


# ----------------------------------------------------------------------- monitoring


def plan_of(events, **kw) -> SequentialPlan:
    base = dict(
        alpha=0.1,
        sides=1,
        beta=0.2,
        allocation=0.5,
        efficacy_spending=Spending("obrien_fleming"),
        efficacy_z=None,
        futility_kind="none",
        futility_values=None,
        beta_spending=None,
        binding=False,
    )
    base.update(kw)
    return SequentialPlan(planned_events=np.asarray(events, float), **base)


def test_bounds_are_recomputed_at_the_observed_information() -> None:
    plan = plan_of([35, 70])
    eff, _ = plan.bounds((0, 1), (35, 70))
    np.testing.assert_allclose(eff, plan.design.efficacy, atol=1e-12)
    eff_over, _ = plan.bounds((0, 1), (38, 73))  # overshoot at both looks
    direct = efficacy_bounds(np.array([38, 73]) / 70, Spending("obrien_fleming"), 0.1)
    np.testing.assert_allclose(eff_over, direct, atol=1e-12)
    assert eff_over[0] < eff[0]  # more information at the interim: more alpha spent there
    # cumulative alpha over the two observed looks is the full alpha
    up, _ = crossing_probabilities(np.array([38, 73]) / 70, eff_over, [-np.inf] * 2, 0.0)
    assert up.sum() == pytest.approx(0.1, abs=1e-9)


def test_futility_rules_on_the_z_scale() -> None:
    hr = plan_of([35, 70], futility_kind="hazard_ratio", futility_values=np.array([1.0]))
    assert hr.bounds((0, 1), (35, 70))[1][0] == pytest.approx(0.0, abs=1e-12)
    cp = plan_of([35, 70], futility_kind="conditional_power", futility_values=np.array([0.1]))
    a = cp.bounds((0, 1), (35, 70))[1][0]
    # conditional power at the bound equals the threshold, under the design effect
    from scipy.special import ndtr

    theta = -cp.design_log_hr
    i1, i2 = 0.25 * 35, 0.25 * 70
    b2 = cp.bounds((0, 1), (35, 70))[0][1]
    power = ndtr((a * math.sqrt(i1) + theta * (i2 - i1) - b2 * math.sqrt(i2)) / math.sqrt(i2 - i1))
    assert power == pytest.approx(0.1, abs=1e-9)


def test_monitor_decides_look_by_look() -> None:
    plan = plan_of([35, 70], futility_kind="z", futility_values=np.array([0.0]))
    b1 = plan.design.efficacy[0]
    z = np.array([[b1 + 0.1, 0.0], [-0.5, 3.0], [0.5, 3.0], [0.5, 0.2], [np.nan, 3.0]])
    events = np.array([[35, 70], [35, 70], [35, 70], [35, 70], [0, 70]])
    held = np.array([[True, True]] * 4 + [[False, True]])
    out = monitor(plan, z, events, held)
    assert out.stop_reason.tolist() == ["efficacy", "futility", "efficacy", "final", "efficacy"]
    assert out.stop_look.tolist() == [0, 0, 1, 1, 1]
    assert out.reject.tolist() == [True, False, True, False, True]
    # the futility stop 'would have continued' to reject at the final look
    assert out.reject_ignoring_futility.tolist() == [True, True, True, False, True]
    # a final look alone spends the whole alpha: the fixed-design bound z_0.9
    assert out.efficacy_z[4, 1] == pytest.approx(1.2815515655446004, abs=1e-9)


def test_a_final_on_the_same_events_replaces_the_look_before() -> None:
    assert held_looks(np.array([True, True, True]), np.array([30, 50, 50])) == [0, 2]
    assert held_looks(np.array([True, True, True]), np.array([0, 50, 70])) == [1, 2]


# ----------------------------------------------------------------------- simulation

SIMULATED = REFERENCE["simulation"]
SIM_LOOKS = {
    "obf2_bshsd": dict(
        efficacy={"spending": "obrien_fleming"}, futility={"spending": {"hsd": {"gamma": -2}}}
    ),
    "hsd3": dict(efficacy={"spending": {"hsd": {"gamma": -4}}}),
    "pocock3_bsp": dict(efficacy={"spending": "pocock"}, futility={"spending": "pocock"}),
    "kim_demets4": dict(efficacy={"spending": {"kim_demets": {"rho": 3}}}),
}
SIM_REPS = {0.6: 1000, 1.0: 1500}


def simulate(textbook_data, name: str, hazard_ratio: float, reps: int, events=None) -> pd.DataFrame:
    """Replicates of the textbook trial with design `name` of SIM_LOOKS at `events`
    (default: rpact's planned events for that design)."""
    from sim.engine.chunk import TrialModel
    from sim.engine.executors import iterate_chunks

    if events is None:
        events = SIMULATED[f"{name}_hr{hazard_ratio:g}"]["events"]
    changes = {
        "effect.hazard_ratio": hazard_ratio,
        "analysis.looks": [{"events": e} for e in events],
        **{f"analysis.{k}": v for k, v in SIM_LOOKS[name].items()},
    }
    model = TrialModel.from_scenario(vary(textbook_data, **changes))
    return pd.concat(
        [c.replicates for c in iterate_chunks(model, reps, seed=11, workers=1)], ignore_index=True
    )


@pytest.mark.parametrize("key", list(SIMULATED))
def test_simulated_looks_match_rpact_simulation(key, textbook_data, record_validation):
    """Per-look efficacy and futility stopping shares against getSimulationSurvival (20,000
    iterations) within 3 combined MC SEs; mean look times within 2%. rpact's hsd3 cuts at
    23 and 47 events with bounds at 1/3 and 2/3; we recompute them at 23/70 and 47/70."""
    name, hr = key.rsplit("_hr", 1)
    ref = SIMULATED[key]
    reps = SIM_REPS[float(hr)]
    reps_table = simulate(textbook_data, name, float(hr), reps)
    k_max = len(ref["events"])
    futility = [*vec(ref["futility_per_stage"]), 0.0]
    for k in range(1, k_max + 1):
        at_k = reps_table["stop_look"] == k
        for label, reason, expected in (
            ("efficacy", "efficacy", ref["reject_per_stage"]),
            ("futility", "futility", futility),
        ):
            p_ref = expected[k - 1]
            ours = float((at_k & (reps_table["stop_reason"] == reason)).mean())
            p = max((ours + p_ref) / 2, 1 / reps)
            se = math.sqrt(p * (1 - p) / reps + p * (1 - p) / ref["iterations"])
            record_validation(
                f"P({label} stop at look {k}), {name}, HR {hr}",
                "rpact getSimulationSurvival",
                p_ref,
                ours,
                3 * se,
            )
            assert abs(ours - p_ref) <= 3 * se, (label, k, ours, p_ref)
        months = reps_table[f"look{k}_months"].mean()
        record_validation(
            f"mean time of look {k} [months], {name}, HR {hr}",
            "rpact getSimulationSurvival",
            ref["analysis_time"][k - 1],
            months,
            0.02 * ref["analysis_time"][k - 1],
        )
        assert months == pytest.approx(ref["analysis_time"][k - 1], rel=0.02)
    events = reps_table["events"]
    se = events.std() * math.sqrt(1 / reps + 1 / ref["iterations"])
    record_validation(
        f"expected events, {name}, HR {hr}",
        "rpact getSimulationSurvival",
        ref["expected_events"],
        events.mean(),
        3 * se,
    )
    assert abs(events.mean() - ref["expected_events"]) <= 3 * se


@pytest.mark.parametrize("name", list(SIM_LOOKS))
def test_type_one_error_is_alpha(name, textbook_data, record_validation) -> None:
    """Under HR = 1 every spending design rejects at rate alpha (0.10) by its efficacy
    bounds alone (non-binding futility ignored), within 3 MC SE."""
    reps = SIM_REPS[1.0]
    events = [20, 40, 55, 70] if name == "kim_demets4" else None
    table = simulate(textbook_data, name, 1.0, reps, events)
    ours = float(table["reject_ignoring_futility"].mean())
    se = math.sqrt(0.1 * 0.9 / reps)
    record_validation(f"type I error, {name}, HR 1", "alpha (one-sided 0.10)", 0.1, ours, 3 * se)
    assert abs(ours - 0.1) <= 3 * se


# ----------------------------------------------------------------------- the trial


def test_an_early_stop_ends_enrollment_and_the_clinic_treats_only_those_in(baseline_data):
    """Efficacy bound -10 at the interim: every trial stops there. Nobody is randomized
    after the stop's analysis date, and the clinic (same draws) gives fewer cycles; the
    clinic runs on to the day the final look would have come."""
    from sim.engine.chunk import TrialModel, simulate_chunk

    looks = {"analysis.looks": [{"events": 35}, {"events": 70}]}
    stopped = TrialModel.from_scenario(
        vary(baseline_data, **looks, **{"analysis.efficacy": {"z": [-10.0, 1.28]}})
    )
    going = TrialModel.from_scenario(
        vary(baseline_data, **looks, **{"analysis.efficacy": {"z": [10.0, 1.28]}})
    )
    a = simulate_chunk(stopped, 5, 0, 0, 3, keep_patients=3)
    b = simulate_chunk(going, 5, 0, 0, 3, keep_patients=3)
    ra, rb = a.replicates, b.replicates
    assert (ra["stop_look"] == 1).all() and ra["early_stop"].all()
    assert (ra["stop_reason"] == "efficacy").all() and ra["reject"].all()
    assert (rb["stop_look"] == 2).all() and not rb["early_stop"].any()
    assert (ra["n_randomized"] < 104).all() and (rb["n_randomized"] == 104).all()
    assert ra["randomized_100pct_date"].isna().all()
    assert (ra["final_analysis_date"] == ra["look1_date"]).all()
    assert (ra["events"] == ra["look1_events"]).all() and (ra["cut_reason"] == "interim").all()
    # the interim looks of the two runs are the same data
    np.testing.assert_array_equal(ra["look1_z_benefit"], rb["look1_z_benefit"])
    cycles = ["cycles_given_control", "cycles_given_experimental"]
    assert (ra[cycles].sum(axis=1) < rb[cycles].sum(axis=1)).all()
    pa = a.patients
    late = ~pa["enrolled"]
    assert late.any() and pa.loc[late, "cycle_days"].isna().all()
    assert pa.loc[~late, "cycle_days"].notna().all()
    rand = pd.to_datetime(pa["randomization_date"])
    stop = pa["replicate"].map(ra.set_index("replicate")["look1_date"])
    assert ((rand <= stop) == pa["enrolled"]).all()


@pytest.fixture(scope="module")
def gs_run(textbook_data, tmp_path_factory):
    from sim.engine.run import run_scenario

    sc = vary(
        textbook_data,
        **{
            "analysis.looks": [{"events": 35}, {"events": 70}],
            "analysis.futility": {"spending": {"hsd": {"gamma": -2}}},
        },
    )
    return run_scenario(
        sc, tmp_path_factory.mktemp("gs") / "run", reps=300, seed=3, workers=1, keep_patients=2
    )


def test_run_writes_look_metrics_and_timeline(gs_run) -> None:
    out = gs_run
    summary = out.summary.set_index("metric")
    for name in (
        "power",
        "early_stop",
        "expected_events",
        "expected_analysis_months",
        "power_ignoring_futility",
        "futility_stop",
        "reject_look1",
        "futility_look1",
        "look1_months_mean",
        "look1_months_median",
        "look1_events_mean",
        "reject_look2",
        "futility_look2",
        "look2_months_mean",
        "look2_months_median",
        "look2_events_mean",
    ):
        assert name in summary.index, name
        assert np.isfinite(summary.loc[name, "estimate"]) and summary.loc[name, "mc_se"] >= 0
    parts = summary.loc[["reject_look1", "reject_look2"], "estimate"].sum()
    assert parts == pytest.approx(summary.loc["power", "estimate"], abs=1e-12)
    stops = summary.loc[["reject_look1", "futility_look1"], "estimate"].sum()
    assert stops == pytest.approx(summary.loc["early_stop", "estimate"], abs=1e-12)
    timeline = out.timeline.set_index("milestone")
    assert timeline.loc["look1", "share_reached"] == 1.0
    assert timeline.loc["look2", "share_reached"] == pytest.approx(
        1 - summary.loc["early_stop", "estimate"]
    )
    assert timeline.loc["look1", "q50"] < timeline.loc["look2", "q50"]


def test_design_writes_boundaries(tmp_path, capsys) -> None:
    from sim.commands.cli import main
    from tests.helpers import ROOT

    out = tmp_path / "design"
    assert (
        main(["design", str(ROOT / "scenarios" / "nct07271602_interim.yaml"), "--out", str(out)])
        == 0
    )
    table = pd.read_csv(out / "boundaries.csv")
    assert table["look"].tolist() == [1, 2] and table["events"].tolist() == [35, 70]
    assert table["efficacy_z"].iloc[0] == pytest.approx(2.0535578, abs=1e-6)  # rpact
    design = pd.read_csv(out / "design.csv").set_index("quantity")
    assert float(design.loc["gs_inflation_factor", "value"]) > 1.0
    shown = capsys.readouterr().out
    assert "gs_power_h1" in shown and "cumulative_alpha" in shown


def test_the_two_sequential_plots(gs_run) -> None:
    from sim.outputs.plots import run_figures

    panels = {p.name: p for p in run_figures(gs_run.folder)}
    assert {"stopping", "look_dates"} <= set(panels)
    ax = panels["stopping"].figure.axes[0]
    assert len(ax.patches) == 4  # efficacy and futility bars at two looks
    assert "Early stop" in panels["stopping"].figure.texts[0].get_text()
    assert len(panels["look_dates"].figure.axes[0].get_yticklabels()) == 2


def test_every_sequential_metric_is_described(gs_run) -> None:
    from sim.engine.metrics import UNDESCRIBED

    summary = gs_run.summary
    assert (summary["meaning"] != UNDESCRIBED).all(), summary.loc[
        summary["meaning"] == UNDESCRIBED, "metric"
    ].tolist()
    units = summary.set_index("metric")["unit"]
    assert units["reject_look2"] == "share" and units["look1_events_mean"] == "events"
    assert units["power_ignoring_futility"] == "share"


@pytest.mark.parametrize(
    ("name", "looks", "sides"),
    [
        ("calendar interim", [{"date": "2027-05-01"}, {"events": 70}], 1),
        (
            "interim not before a date",
            [{"events": 25, "not_before": "2027-06-01"}, {"events": 70}],
            1,
        ),
        (
            "information and a capped interim",
            [{"information": 0.3}, {"events": 50, "not_after": "2027-09-01"}, {"events": 70}],
            1,
        ),
        ("two-sided Pocock", [{"events": 35}, {"events": 70}], 2),
    ],
)
def test_observed_information_keeps_the_type_one_error(
    name, looks, sides, textbook_data, record_validation
) -> None:
    """Looks whose events vary from replicate to replicate (a calendar date, a date floor or
    cap): the efficacy bounds recomputed at each replicate's observed information keep the
    type I error at alpha (within 3 MC SE), and the bounds do vary."""
    from sim.engine.chunk import TrialModel
    from sim.engine.executors import iterate_chunks

    changes = {"effect.hazard_ratio": 1.0, "analysis.looks": looks, "analysis.sides": sides}
    if sides == 2:
        changes["analysis.efficacy"] = {"spending": "pocock"}
    model = TrialModel.from_scenario(vary(textbook_data, **changes))
    reps = 1500
    # one seed per case: with common random numbers the cases would share one draw of luck
    seed = 100 + len(name)
    table = pd.concat(
        [c.replicates for c in iterate_chunks(model, reps, seed=seed, workers=1)], ignore_index=True
    )
    ours = float(table["reject_ignoring_futility"].mean())
    se = math.sqrt(0.1 * 0.9 / reps)
    record_validation(f"type I error, {name}, HR 1", "alpha (0.10)", 0.1, ours, 3 * se)
    assert abs(ours - 0.1) <= 3 * se
    if sides == 1:
        k = 2 if len(looks) == 3 else 1  # the look whose events vary
        assert table[f"look{k}_events"].nunique() > 1
        assert table[f"look{k}_efficacy_bound"].nunique() > 1
    if "not_before" in looks[0]:
        floor = np.datetime64(looks[0]["not_before"])
        assert (table["look1_date"].dropna().to_numpy("datetime64[D]") >= floor).all()
    if len(looks) == 3:
        cap = np.datetime64(looks[1]["not_after"])
        assert (table["look2_date"].dropna().to_numpy("datetime64[D]") <= cap).all()


def test_would_have_continued_splits_by_look(gs_run) -> None:
    summary = gs_run.summary.set_index("metric")["estimate"]
    parts = summary[["reject_look1_ignoring_futility", "reject_look2_ignoring_futility"]]
    assert parts.sum() == pytest.approx(summary["power_ignoring_futility"], abs=1e-12)
    # the interim efficacy stops are the same either way (efficacy is checked first)
    assert summary["reject_look1_ignoring_futility"] == summary["reject_look1"]
    assert summary["power_ignoring_futility"] >= summary["power"]


def test_binding_futility_spends_alpha_with_the_futility_stops(
    textbook_data, record_validation
) -> None:
    """Binding HSD(-2) beta spending: the efficacy bounds are lower (they count on the
    futility stops), so the type I error is alpha when the futility stops are obeyed (and
    more than alpha if they were ignored)."""
    from sim.engine.chunk import TrialModel
    from sim.engine.executors import iterate_chunks

    changes = {
        "effect.hazard_ratio": 1.0,
        "analysis.looks": [{"events": 35}, {"events": 70}],
        "analysis.futility": {"spending": {"hsd": {"gamma": -2}}, "binding": True},
    }
    model = TrialModel.from_scenario(vary(textbook_data, **changes))
    np.testing.assert_allclose(
        model.plan.design.efficacy, DESIGNS["obf2_bshsd_binding"]["critical"], atol=TOL
    )
    reps = 1500
    table = pd.concat(
        [c.replicates for c in iterate_chunks(model, reps, seed=31, workers=1)], ignore_index=True
    )
    ours = float(table["reject"].mean())
    se = math.sqrt(0.1 * 0.9 / reps)
    record_validation(
        "type I error, binding futility obeyed, HR 1", "alpha (0.10)", 0.1, ours, 3 * se
    )
    assert abs(ours - 0.1) <= 3 * se
    assert table["reject_ignoring_futility"].mean() >= ours
