"""Doses and vials: body-surface area, creatinine clearance, Calvert, single-use vials.

Formulas (vectorized over numpy arrays):
- BSA, Mosteller: sqrt(height_cm x weight_kg / 3600) m2;
  DuBois: 0.007184 x height_cm^0.725 x weight_kg^0.425 m2.
- Creatinine clearance, Cockcroft-Gault: (140 - age) x weight_kg / (72 x creatinine_mg_dl),
  x 0.85 for women, from the measured creatinine: the patient's one clearance, the value
  the eligibility rule (`patients.min_crcl_ml_min`) applies to and the patient table shows
  (`crcl_ml_min`).
- Carboplatin, Calvert: dose_mg = AUC x (GFR + 25), with the dosing GFR of the carboplatin
  convention: Cockcroft-Gault with creatinine floored (0.7 mg/dL in the baseline) before
  dividing, capped (125 mL/min in the baseline, so AUC 5 gives at most 750 mg); the patient
  table shows it as `calvert_gfr_ml_min`. The floor and cap are dosing rules only.
- mg/kg doses scale with weight, mg/m2 doses with BSA; flat doses are mg.
- Single-use vials: each dose gets the combination of vial sizes that covers it, chosen by
  the scenario's `treatment.vial_choice`: `least_waste` (default) the least mg dispensed
  (the cheapest when price is proportional to mg), then the fewest vials; `fewest_vials` the
  fewest vials (least handling), then the least mg. With one size both are ceil(dose / size)
  vials. The rest of the last vial is waste.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.clinic.streams import count_type
from sim.scenario import Drug, Patients, Treatment

if TYPE_CHECKING:
    from sim.clinic.patients import Covariates

FEMALE_CG_FACTOR = 0.85  # Cockcroft-Gault's factor for women
DOSE_TOLERANCE_MG = 1e-6  # rounding noise: 400.0000000001 mg fits two 200 mg vials
MAX_COMBINATIONS = 4096  # vial combinations enumerated per drug; more sizes is an error
# doses whose vials are chosen at a time: a few arrays per combination of this many doses
VIAL_BLOCK = 1 << 14


def bsa_mosteller(height_cm: np.ndarray, weight_kg: np.ndarray) -> np.ndarray:
    """Mosteller body-surface area, m2: sqrt(height_cm x weight_kg / 3600)."""
    return np.sqrt(np.asarray(height_cm) * weight_kg / 3600.0)


def bsa_dubois(height_cm: np.ndarray, weight_kg: np.ndarray) -> np.ndarray:
    """DuBois body-surface area, m2: 0.007184 x height_cm^0.725 x weight_kg^0.425."""
    return 0.007184 * np.power(height_cm, 0.725) * np.power(weight_kg, 0.425)


def crcl_cockcroft_gault(
    age: np.ndarray,
    weight_kg: np.ndarray,
    creatinine_mg_dl: np.ndarray,
    male: np.ndarray,
    floor_mg_dl: float = 0.0,
) -> np.ndarray:
    """Creatinine clearance, mL/min: (140 - age) x weight / (72 x max(creatinine, floor)),
    x 0.85 for women (`male` False)."""
    creatinine = np.maximum(creatinine_mg_dl, floor_mg_dl)
    sex = np.where(male, 1.0, FEMALE_CG_FACTOR)
    return (140.0 - np.asarray(age)) * weight_kg / (72.0 * creatinine) * sex


def calvert_dose(auc: float, gfr_ml_min: np.ndarray, cap_ml_min: float) -> np.ndarray:
    """Carboplatin dose, mg: AUC x (min(GFR, cap) + 25); never above AUC x (cap + 25)."""
    return auc * (np.minimum(gfr_ml_min, cap_ml_min) + 25.0)


def full_dose(
    drug: Drug,
    weight_kg: np.ndarray,
    bsa_m2: np.ndarray,
    gfr_ml_min: np.ndarray,
    gfr_cap_ml_min: float,
) -> np.ndarray:
    """The drug's full dose in mg for each patient."""
    if drug.per == "kg":
        return drug.dose * np.asarray(weight_kg, dtype=float)
    if drug.per == "m2":
        return drug.dose * np.asarray(bsa_m2, dtype=float)
    if drug.per == "auc":
        return calvert_dose(drug.dose, gfr_ml_min, gfr_cap_ml_min)
    return np.full(np.shape(weight_kg), float(drug.dose))


def vial_combinations(sizes: tuple[float, ...], max_dose: float) -> np.ndarray:
    """Counts (K, S-1) of every size but the smallest worth trying for doses <= max_dose;
    the smallest size then fills the rest. Sizes in the order given."""
    order = np.argsort(sizes)
    larger = [sizes[i] for i in order[1:]]
    ranges = [range(int(np.ceil(max_dose / s)) + 1) for s in larger]
    if np.prod([len(r) for r in ranges]) > MAX_COMBINATIONS:
        raise ValueError(
            f"vial sizes {list(sizes)}: too many combinations for doses up to "
            f"{max_dose:.0f} mg; give fewer or larger vial sizes"
        )
    combos = list(itertools.product(*ranges))
    return np.asarray(combos, dtype=np.int64).reshape(len(combos), len(larger))


VIAL_CHOICES = ("least_waste", "fewest_vials")


def vials_needed(
    dose_mg: np.ndarray, sizes: tuple[float, ...], choice: str = "least_waste"
) -> np.ndarray:
    """Vials of each size (shape dose.shape + (S,), sizes in the order given) covering each
    dose (to DOSE_TOLERANCE_MG): with `choice` "least_waste", the least mg dispensed, then the
    fewest vials; with "fewest_vials", the fewest vials, then the least mg. A dose of 0 needs
    no vial. Each dose's choice is its own: the doses are chosen for VIAL_BLOCK at a time
    (`choose_vials`), so the arrays per combination stay small."""
    dose = np.asarray(dose_mg, dtype=float)
    flat = dose.ravel()
    combos = vial_combinations(sizes, float(flat.max(initial=0.0)))  # (K, S-1)
    out = np.empty((flat.size, len(sizes)), dtype=np.int64)
    for start in range(0, flat.size, VIAL_BLOCK):
        block = slice(start, start + VIAL_BLOCK)
        choose_vials(flat[block], sizes, combos, choice, out[block])
    return out.reshape(*dose.shape, len(sizes))


def choose_vials(
    dose: np.ndarray,
    sizes: tuple[float, ...],
    combos: np.ndarray,
    choice: str,
    out: np.ndarray,
) -> None:
    """`vials_needed` of the doses `dose` (1-D) written into `out` (len(dose), S), among the
    combinations `combos` of the larger sizes (`vial_combinations`)."""
    order = np.argsort(sizes)
    small = sizes[order[0]]
    larger = np.asarray([sizes[i] for i in order[1:]], dtype=float)
    big_mg = combos @ larger  # (K,)
    big_count = combos.sum(axis=1)
    # each combination in turn, over all the doses (K is small, the doses many)
    n_small = [
        np.ceil((np.maximum(dose - big, 0.0) - DOSE_TOLERANCE_MG) / small).clip(0, None)
        for big in big_mg.tolist()
    ]
    dispensed = [big + n * small for big, n in zip(big_mg.tolist(), n_small, strict=True)]
    count = [c + n for c, n in zip(big_count.tolist(), n_small, strict=True)]
    if choice == "fewest_vials":  # the fewest vials, then the least mg among those
        first, then, margin = count, dispensed, 0.0
    else:  # least mg dispensed (to 1e-6 mg), then the fewest vials among those
        first, then, margin = dispensed, count, 1e-6
    floor = np.minimum.reduce(first) + margin if len(first) > 1 else first[0] + margin
    # the first combination with the least `then` among those within `margin` of the least
    # `first` (argmin's rule: the first of equals)
    best = np.zeros(dose.size, dtype=np.intp)
    best_then = np.where(first[0] <= floor, then[0], np.inf)
    best_small = n_small[0].copy()
    for k in range(1, len(first)):
        value = np.where(first[k] <= floor, then[k], np.inf)
        better = value < best_then
        best[better] = k
        best_small[better] = n_small[k][better]
        np.minimum(best_then, value, out=best_then)
    out[:, order[0]] = best_small
    out[:, order[1:]] = combos[best]


@dataclass(frozen=True)
class DosePlan:
    """Doses of every drug for every patient of a chunk at every dose level.

    `mg` (R, n, D, L + 1) float: dose at level 0 (full) .. L (the lowest); drugs not
    `reducible` have the full dose at every level. `vials` (R, n, D, L + 1, V) int, the
    narrowest type that holds them (`count_type`): vials of each of the drug's sizes
    (``sizes[d]``; V the most sizes of any drug, the rest 0).
    """

    drugs: tuple[str, ...]
    sizes: tuple[tuple[float, ...], ...]
    mg: np.ndarray
    vials: np.ndarray
    bsa_m2: np.ndarray  # (R, n)
    crcl_ml_min: np.ndarray  # (R, n), measured creatinine: the eligibility value
    calvert_gfr_ml_min: np.ndarray  # (R, n), floored creatinine, capped: Calvert's GFR


def plan_doses(treatment: Treatment, patients: Patients, covariates: Covariates) -> DosePlan:
    """Doses and vials of the scenario's drugs for covariates of shape (R, n)."""
    c = covariates
    bsa_formula = bsa_mosteller if patients.bsa_formula == "mosteller" else bsa_dubois
    bsa = bsa_formula(c.height_cm, c.weight_kg)
    crcl = crcl_cockcroft_gault(
        c.age, c.weight_kg, c.creatinine_mg_dl, c.male, patients.creatinine_floor_mg_dl
    )  # dosing: floored
    names = tuple(treatment.drugs)
    factors = (1.0, *treatment.dose_reduction.levels)
    n_sizes = max((len(d.vial_mg) for d in treatment.drugs.values()), default=1)
    shape = c.age.shape
    mg = np.zeros((*shape, len(names), len(factors)))
    vials = np.zeros((*shape, len(names), len(factors), n_sizes), dtype=np.int32)
    for j, name in enumerate(names):
        drug = treatment.drugs[name]
        full = full_dose(drug, c.weight_kg, bsa, crcl, patients.gfr_cap_ml_min)
        levels = np.asarray(factors if drug.reducible else (1.0,) * len(factors))
        mg[..., j, :] = full[..., None] * levels
        # a drug not reducible has its full dose, so its vials, at every level
        needed = vials_needed(
            mg[..., j, :] if drug.reducible else full[..., None],
            drug.vial_mg,
            treatment.vial_choice,
        )
        vials[..., j, :, : len(drug.vial_mg)] = needed
    vials = vials.astype(count_type(int(vials.max(initial=0))))  # kept for the whole chunk
    measured = crcl_cockcroft_gault(c.age, c.weight_kg, c.creatinine_mg_dl, c.male)
    return DosePlan(
        names,
        tuple(treatment.drugs[n].vial_mg for n in names),
        mg,
        vials,
        bsa,
        measured,
        np.minimum(crcl, patients.gfr_cap_ml_min),
    )
