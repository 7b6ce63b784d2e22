"""Error-spending functions for group-sequential designs.

A spending function f(t; total) gives the cumulative type I (alpha) or type II (beta) error
spent by information fraction t in [0, 1], with f(0) = 0 and f(1) = total (Lan & DeMets 1983,
Biometrika 70:659-663). The families, with rpact's names (`typeOfDesign`, `typeBetaSpending`):

* ``obrien_fleming`` (rpact asOF / bsOF, gsDesign sfLDOF):
  f(t) = 2 (1 - Phi(Phi^-1(1 - total / 2) / sqrt(t))).
* ``pocock`` (asP / bsP, sfLDPocock): f(t) = total log(1 + (e - 1) t).
* ``hsd`` (asHSD / bsHSD, sfHSD), Hwang, Shih & DeCani (1990) Stat Med 9:1439-1445:
  f(t) = total (1 - e^(-gamma t)) / (1 - e^(-gamma)); gamma = 0 is linear.
* ``kim_demets`` (asKD / bsKD, sfPower), Kim & DeMets (1987) Biometrika 74:149-154:
  f(t) = total t^rho, rho > 0.

Pure functions of numbers; no scenario class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

FAMILIES = ("obrien_fleming", "pocock", "hsd", "kim_demets")


@dataclass(frozen=True)
class Spending:
    """One spending function: `family` (one of FAMILIES) and its parameter (gamma for hsd,
    rho for kim_demets; ignored otherwise)."""

    family: str
    parameter: float | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown spending family {self.family!r}: use one of {FAMILIES}")
        if self.family == "hsd" and self.parameter is None:
            raise ValueError("hsd spending needs gamma (e.g. -4)")
        if self.family == "kim_demets" and not (self.parameter or 0) > 0:
            raise ValueError("kim_demets spending needs rho > 0 (e.g. 3)")

    def __call__(self, t: float | np.ndarray, total: float) -> np.ndarray:
        """Cumulative error spent by fraction(s) t (clipped to [0, 1]) out of `total`."""
        return spent(self.family, t, total, self.parameter)

    @property
    def label(self) -> str:
        names = {
            "obrien_fleming": "Lan-DeMets O'Brien-Fleming",
            "pocock": "Lan-DeMets Pocock",
            "hsd": f"Hwang-Shih-DeCani (gamma = {self.parameter:g})"
            if self.family == "hsd"
            else "",
            "kim_demets": f"Kim-DeMets (rho = {self.parameter:g})"
            if self.family == "kim_demets"
            else "",
        }
        return names[self.family]


def spent(
    family: str, t: float | np.ndarray, total: float, parameter: float | None = None
) -> np.ndarray:
    """Cumulative error spent by fraction t of a `family` spending function (see module)."""
    if not 0.0 < total < 1.0:
        raise ValueError(f"total error must be in (0, 1), got {total}")
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if family == "obrien_fleming":
        with np.errstate(divide="ignore"):
            z = ndtri(1.0 - total / 2.0) / np.sqrt(t)
        out = 2.0 * ndtr(-z)
    elif family == "pocock":
        out = total * np.log1p((math.e - 1.0) * t)
    elif family == "hsd":
        gamma = float(parameter if parameter is not None else 0.0)
        out = total * t if gamma == 0.0 else total * np.expm1(-gamma * t) / math.expm1(-gamma)
    elif family == "kim_demets":
        out = total * t ** float(parameter)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown spending family {family!r}: use one of {FAMILIES}")
    return np.where(t >= 1.0, total, np.where(t <= 0.0, 0.0, out))
