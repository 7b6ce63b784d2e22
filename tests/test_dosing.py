"""Doses: BSA, creatinine clearance, Calvert, vials, and the patients' covariates.

Expected values are computed by hand in the comments (the standard formulas, as in the
calibration page's "BSA", "GFR estimate" and "carboplatin Calvert cap" rows).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.clinic.dosing import (
    bsa_dubois,
    bsa_mosteller,
    calvert_dose,
    crcl_cockcroft_gault,
    vials_needed,
)
from sim.clinic.model import draw_clinic
from sim.clinic.patients import truncated_normal
from sim.scenario import Normal
from tests.helpers import vary

# --- formulas against hand-computed values --------------------------------------------------


def test_mosteller_bsa():
    # sqrt(170 x 65 / 3600) = sqrt(3.069444) = 1.75198 m2
    assert bsa_mosteller(170.0, 65.0) == pytest.approx(1.75198, abs=1e-5)
    # sqrt(158 x 55 / 3600) = sqrt(2.413889) = 1.55367 m2
    assert bsa_mosteller(158.0, 55.0) == pytest.approx(1.55367, abs=1e-5)


def test_dubois_bsa():
    # 170^0.725 = exp(0.725 x 5.135798) = exp(3.723454) = 41.407;
    # 65^0.425 = exp(0.425 x 4.174387) = exp(1.774115) = 5.895056;
    # 0.007184 x 41.407 x 5.895056 = 1.7536 m2
    assert bsa_dubois(170.0, 65.0) == pytest.approx(1.7536, abs=1e-4)


def test_cockcroft_gault_with_female_factor_and_floor():
    # (140 - 60) x 70 / (72 x 1.0) = 5600 / 72 = 77.78 mL/min
    assert crcl_cockcroft_gault(60, 70, 1.0, True) == pytest.approx(77.7778, abs=1e-4)
    # women x 0.85: 66.11 mL/min
    assert crcl_cockcroft_gault(60, 70, 1.0, False) == pytest.approx(66.1111, abs=1e-4)
    # creatinine 0.5 floored at 0.7: 5600 / 50.4 = 111.11 mL/min (not 155.6)
    assert crcl_cockcroft_gault(60, 70, 0.5, True, 0.7) == pytest.approx(111.111, abs=1e-3)


def test_calvert_dose_and_cap():
    # AUC 5 x (77.78 + 25) = 513.9 mg; GFR 200 is capped at 125: 5 x 150 = 750 mg (FDA)
    assert calvert_dose(5, 5600 / 72, 125) == pytest.approx(513.889, abs=1e-3)
    assert calvert_dose(5, 200.0, 125) == 750.0


@given(st.floats(0.1, 10), st.floats(0, 1000), st.floats(30, 200))
def test_calvert_never_exceeds_auc_times_cap_plus_25(auc, gfr, cap):
    assert calvert_dose(auc, gfr, cap) <= auc * (cap + 25) * (1 + 1e-12)


# --- vials ----------------------------------------------------------------------------------


def test_vials_single_size_is_ceiling():
    # QL1706 5 mg/kg x 65 kg = 325 mg in 200 mg vials: 2 vials (75 mg wasted)
    assert vials_needed(np.array([325.0, 400.0, 400.1, 0.0]), (200,)).ravel().tolist() == [
        2,
        2,
        3,
        0,
    ]


def test_vials_least_mg_then_fewest_vials():
    # carboplatin 100/450 mg: 700 mg -> 7 x 100 (700 mg) beats 450 + 3 x 100 (750 mg);
    # 900 mg -> 2 x 450 (900 mg, 2 vials) beats 9 x 100 (900 mg, 9 vials).
    got = vials_needed(np.array([700.0, 900.0, 451.0]), (100, 450))
    assert got.tolist() == [[7, 0], [0, 2], [5, 0]]
    # pemetrexed 100/500, sizes listed largest first: 1100 mg -> 2 x 500 + 1 x 100
    assert vials_needed(np.array([1100.0]), (500, 100)).tolist() == [[2, 1]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 2000), min_size=1, max_size=20),
    st.lists(
        st.sampled_from([25, 50, 100, 150, 200, 450, 500]), min_size=1, max_size=3, unique=True
    ),
)
def test_vials_cover_the_dose_with_less_than_a_small_vial_wasted(doses, sizes):
    dose = np.asarray(doses)
    counts = vials_needed(dose, tuple(sizes))
    dispensed = counts @ np.asarray(sizes, dtype=float)
    assert (dispensed >= dose - 1e-6).all()  # dosing.DOSE_TOLERANCE_MG
    assert (dispensed - dose < min(sizes) + 1e-9).all()  # all-smallest is always a candidate
    assert (counts >= 0).all()


def all_combinations_vials(dose, sizes, choice):
    """The reference: every combination of the larger sizes for every dose as an (N, K)
    table, then numpy's argmin along the combinations (the first of equals)."""
    from sim.clinic.dosing import DOSE_TOLERANCE_MG, vial_combinations

    order = np.argsort(sizes)
    small = sizes[order[0]]
    combos = vial_combinations(sizes, float(dose.max(initial=0.0)))
    big_mg = combos @ np.asarray([sizes[i] for i in order[1:]], dtype=float)
    rest = np.maximum(dose[:, None] - big_mg[None, :], 0.0)
    n_small = np.ceil((rest - DOSE_TOLERANCE_MG) / small).clip(0, None)
    dispensed = big_mg[None, :] + n_small * small
    count = combos.sum(axis=1)[None, :] + n_small
    if choice == "fewest_vials":
        fewest = count <= count.min(axis=1, keepdims=True)
        best = np.argmin(np.where(fewest, dispensed, np.inf), axis=1)
    else:
        least = dispensed <= dispensed.min(axis=1, keepdims=True) + 1e-6
        best = np.argmin(np.where(least, count, np.inf), axis=1)
    out = np.empty((dose.size, len(sizes)), dtype=np.int64)
    out[:, order[0]] = n_small[np.arange(dose.size), best]
    out[:, order[1:]] = combos[best]
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 2000), min_size=1, max_size=30),
    st.lists(
        st.sampled_from([25, 50, 100, 150, 200, 450, 500]), min_size=1, max_size=3, unique=True
    ),
    st.sampled_from(["least_waste", "fewest_vials"]),
)
def test_vials_are_the_best_of_all_combinations(doses, sizes, choice):
    # double programming: one combination at a time against all at once
    dose = np.asarray(doses)
    expected = all_combinations_vials(dose, tuple(sizes), choice)
    np.testing.assert_array_equal(vials_needed(dose, tuple(sizes), choice), expected)


def test_vials_of_many_doses_are_chosen_block_by_block_as_one_by_one():
    # more doses than dosing.VIAL_BLOCK: each block's choice is that of its doses alone
    from sim.clinic.dosing import VIAL_BLOCK

    dose = np.random.default_rng(3).uniform(0.0, 1500.0, 2 * VIAL_BLOCK + 17)
    for choice in ("least_waste", "fewest_vials"):
        expected = all_combinations_vials(dose, (100.0, 450.0), choice)
        np.testing.assert_array_equal(vials_needed(dose, (100.0, 450.0), choice), expected)


# --- covariates and doses of drawn patients ---------------------------------------------------


def test_truncated_normal_stays_in_bounds_and_inverts():
    dist = Normal(mean=62, sd=8, min=18, max=75)
    u = np.linspace(0, 1, 1001)
    x = truncated_normal(dist, u)
    assert x.min() >= 18 and x.max() <= 75 and (np.diff(x) >= 0).all()
    assert truncated_normal(dist, np.array([0.5]))[0] == pytest.approx(61.49, abs=0.05)


def test_drawn_covariates_match_the_calibration(baseline, rng):
    # Calibration "patients": 75% male, age 62 (sd 8) within 18-75, weight 65 / 55 kg.
    # Each share or mean is checked within 4 standard errors of its truncated target.
    draws = draw_clinic(baseline, 20, 104, rng)
    c = draws.covariates
    n = c.age.size
    assert abs(c.male.mean() - 0.75) < 4 * math.sqrt(0.75 * 0.25 / n)
    assert c.age.min() >= 18 and c.age.max() <= 75
    assert abs(c.age.mean() - 61.4) < 4 * 8 / math.sqrt(n)  # truncation at 75 lowers it
    men, women = c.weight_kg[c.male], c.weight_kg[~c.male]
    assert abs(men.mean() - 65) < 4 * 10 / math.sqrt(men.size)
    assert abs(women.mean() - 55) < 4 * 9 / math.sqrt(women.size)
    # Eligibility (registry inclusion 7): creatinine clearance >= 60 mL/min, unfloored
    crcl = crcl_cockcroft_gault(c.age, c.weight_kg, c.creatinine_mg_dl, c.male)
    assert crcl.min() >= 60 - 1e-6


def test_one_creatinine_clearance_for_eligibility_and_the_patient_table(baseline, rng):
    # The clearance the patient table shows is the one eligibility applies to (measured
    # creatinine, >= 60 mL/min for every patient); the floor (0.7 mg/dL) and cap (125 mL/min)
    # shape only the Calvert GFR of the carboplatin dose.
    draws = draw_clinic(baseline, 5, 104, rng)
    c, doses = draws.covariates, draws.doses
    assert doses.crcl_ml_min.min() >= baseline.patients.min_crcl_ml_min - 1e-6
    np.testing.assert_allclose(
        doses.crcl_ml_min, crcl_cockcroft_gault(c.age, c.weight_kg, c.creatinine_mg_dl, c.male)
    )
    floored = crcl_cockcroft_gault(c.age, c.weight_kg, c.creatinine_mg_dl, c.male, 0.7)
    np.testing.assert_allclose(doses.calvert_gfr_ml_min, np.minimum(floored, 125.0))
    assert (doses.calvert_gfr_ml_min <= doses.crcl_ml_min + 1e-9).all()


def test_planned_doses_follow_the_regimen_rules(baseline, rng):
    draws = draw_clinic(baseline, 10, 104, rng)
    c, d = draws.covariates, draws.doses
    j = {name: i for i, name in enumerate(d.drugs)}
    # QL1706 5 mg/kg (registry); not reducible, so the same at every level
    np.testing.assert_allclose(d.mg[..., j["QL1706"], 0], 5 * c.weight_kg)
    np.testing.assert_allclose(d.mg[..., j["QL1706"], 2], 5 * c.weight_kg)
    # nab-paclitaxel 260 mg/m2 Mosteller; levels 0.8 and 0.6 of it
    bsa = bsa_mosteller(c.height_cm, c.weight_kg)
    np.testing.assert_allclose(d.mg[..., j["nab-paclitaxel"], 0], 260 * bsa)
    np.testing.assert_allclose(d.mg[..., j["nab-paclitaxel"], 1], 0.8 * 260 * bsa)
    # carboplatin AUC 5: never above 750 mg (GFR capped at 125 mL/min)
    assert d.mg[..., j["carboplatin"], :].max() <= 750 + 1e-9
    # vials cover every dose
    sizes = np.zeros(d.vials.shape[-1])
    for name, k in j.items():
        sizes[: len(d.sizes[k])] = d.sizes[k]
        dispensed = (d.vials[..., k, :, :] * sizes).sum(axis=-1)
        assert (dispensed >= d.mg[..., k, :] - 1e-9).all(), name
        sizes[:] = 0


def test_dubois_by_choice(baseline_data, rng):
    scenario = vary(baseline_data, **{"patients.bsa_formula": "dubois"})
    d = draw_clinic(scenario, 2, 50, rng)
    c = d.covariates
    k = d.doses.drugs.index("pemetrexed")
    np.testing.assert_allclose(d.doses.mg[..., k, 0], 500 * bsa_dubois(c.height_cm, c.weight_kg))


def test_vial_choice_least_waste_or_fewest_vials():
    # 500 mg from 100 and 450 mg vials: least waste is 5 x 100 (no waste, 5 vials); the fewest
    # vials are 450 + 100 (2 vials, 50 mg wasted); with one size both give ceil(dose / size).
    sizes = (100.0, 450.0)
    np.testing.assert_array_equal(vials_needed(np.array([500.0]), sizes), [[5, 0]])
    np.testing.assert_array_equal(vials_needed(np.array([500.0]), sizes, "fewest_vials"), [[1, 1]])
    np.testing.assert_array_equal(vials_needed(np.array([350.0]), (200.0,), "fewest_vials"), [[2]])


def test_vial_choice_is_a_scenario_choice(baseline_data, rng):
    from tests.helpers import vary

    fewest = vary(baseline_data, **{"treatment.vial_choice": "fewest_vials"})
    least = vary(baseline_data, **{"treatment.vial_choice": "least_waste"})
    a = draw_clinic(least, 2, 104, np.random.default_rng(3)).doses
    b = draw_clinic(fewest, 2, 104, np.random.default_rng(3)).doses
    np.testing.assert_array_equal(a.mg, b.mg)
    assert b.vials.sum() <= a.vials.sum()
    sizes = np.asarray([s + (0.0,) * (a.vials.shape[-1] - len(s)) for s in a.sizes])
    sizes = sizes[:, None, :]  # (drugs, levels, sizes) against vials (R, n, D, L, V)
    assert (a.vials * sizes).sum() < (b.vials * sizes).sum()  # less mg dispensed
