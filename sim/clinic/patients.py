"""Patients' covariates for dosing: age, sex, height, weight and serum creatinine.

Drawn in bulk for a chunk of replicates from the scenario's `patients:` block, from uniform
numbers by inverting truncated normal distributions, so that every draw lies inside its
bounds without rejection loops. Creatinine is drawn given the eligibility rule creatinine
clearance (Cockcroft-Gault, unfloored creatinine) >= `min_crcl_ml_min`: its upper bound is
the creatinine at which a patient of that age, weight and sex has exactly that clearance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from sim.clinic.dosing import FEMALE_CG_FACTOR
from sim.scenario import BySex, Normal, Patients

N_UNIFORMS = 5  # age, sex, height, weight, creatinine: the layout of the stream


@dataclass(frozen=True)
class Covariates:
    """One value per patient, arrays of shape (R, n)."""

    age: np.ndarray  # years
    male: np.ndarray  # bool
    height_cm: np.ndarray
    weight_kg: np.ndarray
    creatinine_mg_dl: np.ndarray  # measured (unfloored)


def truncated_normal(
    dist: Normal, u: np.ndarray, upper: np.ndarray | float | None = None
) -> np.ndarray:
    """Inverse CDF of `dist` truncated to [min, max] (and to `upper` when given) at `u`.

    x = mean + sd * Phi^-1(Phi(a) + u (Phi(b) - Phi(a))) with a, b the standardized bounds.
    An empty interval (upper below min) gives min.
    """
    if dist.sd == 0:
        return np.full(np.shape(u), dist.mean)
    lo = -np.inf if dist.min is None else (dist.min - dist.mean) / dist.sd
    hi = np.inf if dist.max is None else (dist.max - dist.mean) / dist.sd
    if upper is not None:
        hi = np.minimum(hi, (np.asarray(upper) - dist.mean) / dist.sd)
    p_lo, p_hi = ndtr(lo), ndtr(np.maximum(hi, lo))
    x = dist.mean + dist.sd * ndtri(p_lo + u * (p_hi - p_lo))
    low = -np.inf if dist.min is None else dist.min
    return np.clip(np.nan_to_num(x, nan=low), low, np.inf if dist.max is None else dist.max)


def by_sex(
    dists: BySex, male: np.ndarray, u: np.ndarray, upper: np.ndarray | None = None
) -> np.ndarray:
    return np.where(
        male, truncated_normal(dists.male, u, upper), truncated_normal(dists.female, u, upper)
    )


def draw_covariates(
    patients: Patients, shape: tuple[int, int], rng: np.random.Generator
) -> Covariates:
    """Covariates of `shape` = (R, n) patients from one block of uniforms (see N_UNIFORMS)."""
    u = rng.random((N_UNIFORMS, *shape))
    male = u[1] < patients.male
    age = truncated_normal(patients.age, u[0])
    height = by_sex(patients.height_cm, male, u[2])
    weight = by_sex(patients.weight_kg, male, u[3])
    upper = None
    if patients.min_crcl_ml_min > 0:
        # Cockcroft-Gault solved for creatinine at clearance min_crcl_ml_min.
        sex = np.where(male, 1.0, FEMALE_CG_FACTOR)
        upper = (140.0 - age) * weight * sex / (72.0 * patients.min_crcl_ml_min)
    creatinine = by_sex(patients.creatinine_mg_dl, male, u[4], upper)
    return Covariates(age, male, height, weight, creatinine)
