"""The data sets that reference values are computed on: numpy and pandas only, so that the
tests and `make_lifelines_references.py` (in an environment of its own) build the same
arrays. `fingerprint` names a data set's bytes: a reference is used only on the data it was
made from."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def fingerprint(*arrays: np.ndarray) -> str:
    """sha256 of the arrays' values (as float64, or as text for strings), in order."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind in "OUST":
            digest.update("\x1f".join(map(str, a.ravel())).encode())
        else:
            digest.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        digest.update(b"\x1e")
    return digest.hexdigest()


def scan_data(seed: int, n: int = 90) -> dict[str, np.ndarray]:
    """A trial-like data set full of ties: PFS seen at 42-day scans, unequal arms (60:40).

    Half the censorings fall on scan days (ties with events and with each other), half on
    arbitrary days; three strata with different baseline hazards.
    """
    rng = np.random.default_rng(seed)
    arm = (rng.random(n) < 0.6).astype(int)
    stratum = rng.integers(0, 3, n)
    pfs = rng.exponential(250.0 * np.where(arm == 1, 1.4, 1.0) * np.array([0.7, 1, 1.5])[stratum])
    seen = np.ceil(pfs / 42.0) * 42.0
    censor = np.where(
        rng.random(n) < 0.5,
        np.floor(rng.uniform(0, 700, n) / 42.0) * 42.0,
        rng.uniform(0, 700, n).round(1),
    )
    return {
        "time": np.minimum(seen, censor),
        "event": seen <= censor,
        "arm": arm,
        "stratum": stratum,
    }


def headline_data() -> pd.DataFrame:
    """tests/test_references.py's tied, censored, stratified data set (240 patients)."""
    rng = np.random.default_rng(7)
    n = 240
    arm = (rng.random(n) < 0.5).astype(int)
    stratum = (rng.random(n) < 0.45).astype(int)
    latent = rng.exponential(np.where(arm == 1, 330, 200) * np.where(stratum == 1, 0.8, 1.0))
    time = np.ceil(latent / 42) * 42  # scan days: many ties
    censor = rng.uniform(0, 900, n)
    event = time <= censor
    time = np.where(event, time, np.floor(censor))
    return pd.DataFrame({"time": time, "event": event.astype(int), "arm": arm, "stratum": stratum})


ANALYZE_SEED = 20260130  # tests/conftest.py's `rng` fixture


def analyze_table(rng: np.random.Generator) -> pd.DataFrame:
    """tests/test_analyze.py's table: 300 patients, scan ties, arms and histology as text."""
    n = 300
    arm = np.where(rng.random(n) < 0.5, "control", "experimental")
    time = np.ceil(rng.exponential(np.where(arm == "control", 200, 320)) / 42) * 42  # scan ties
    event = (rng.random(n) < 0.8).astype(int)
    stratum = np.where(rng.random(n) < 0.45, "squamous", "adenocarcinoma")
    return pd.DataFrame({"t": time, "e": event, "group": arm, "histology": stratum})


def plot_km_data() -> tuple[np.ndarray, np.ndarray]:
    """tests/test_plots.py's Kaplan-Meier data: 80 patients, times rounded to make ties."""
    rng = np.random.default_rng(3)
    time = np.round(rng.exponential(10, 80), 1)  # rounding makes ties
    event = rng.random(80) < 0.7
    return time, event


# tests/test_analysis.py's half-plateau curve (arm 0): S is exactly 0.5 from t = 3 to 5
HALF_PLATEAU_TIME = np.array([1, 2, 3, 3.5, 5, 6.0])
HALF_PLATEAU_EVENT = np.array([1, 1, 1, 0, 1, 0], bool)
