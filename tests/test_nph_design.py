"""The closed-form design beyond proportional hazards against the simulation and against an
independent quadrature: hazards that cross (flagged, with the expected log-rank score's
power beside the AHR's), a delayed effect (where the AHR describes the log-rank test).

The scenarios are scenarios/textbook.yaml with the experimental arm's PFS replaced:

* crossing: `pfs.experimental: {distribution: weibull, shape: 5, median_months: 10}` and no
  effect block (the Weibull's hazard starts near 0 and ends above the control's);
* delayed: `effect.piecewise_hazard_ratio: [{months: 3, hazard_ratio: 1.0}, {hazard_ratio: 0.6}]`.

Simulated powers are committed with the command that produced them (sim at the commit
that added this file; `python -m sim run CASE.yaml --reps R --seed S --workers 1`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from scipy.integrate import quad

from sim.api import load_scenario
from sim.commands.cli import main
from sim.scenario import Scenario
from sim.stats.design import (
    design_scenario,
    design_warnings,
    logrank_power,
    nph_logrank_moments,
)

TEXTBOOK = Path(__file__).resolve().parents[1] / "scenarios" / "textbook.yaml"
CONTROL_LINE = "  control: {distribution: exponential, median_months: 6.8}   # registry\n"
EFFECT_LINE = "  hazard_ratio: 0.60            # calibration\n"

# python -m sim run crossing.yaml --reps 20000 --seed 3 --workers 1: power 0.37465, MC SE 0.00342
CROSSING_SIM_POWER, CROSSING_SIM_SE = 0.37465, 0.0034226
# python -m sim run delayed.yaml --reps 2000 --seed 1 --workers 1: power 0.494, MC SE 0.01118
DELAYED_SIM_POWER, DELAYED_SIM_SE = 0.494, 0.0111795


def textbook_variant(tmp_path: Path, name: str, kind: str) -> Path:
    text = TEXTBOOK.read_text()
    assert CONTROL_LINE in text and EFFECT_LINE in text
    if kind == "crossing":
        text = text.replace(
            CONTROL_LINE,
            CONTROL_LINE + "  experimental: {distribution: weibull, shape: 5, median_months: 10}\n",
        )
        text = text.replace("effect:\n" + EFFECT_LINE, "")
    else:
        text = text.replace(
            EFFECT_LINE,
            "  piecewise_hazard_ratio: [{months: 3, hazard_ratio: 1.0}, {hazard_ratio: 0.6}]\n",
        )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def crossing(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(textbook_variant(tmp_path_factory.mktemp("x"), "crossing", "crossing"))


@pytest.fixture(scope="module")
def delayed(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(textbook_variant(tmp_path_factory.mktemp("d"), "delayed", "delayed"))


def rows(scenario: Scenario) -> dict[str, tuple[object, str]]:
    table = design_scenario(scenario)
    return {
        q: (v, m)
        for q, v, m in zip(table["quantity"], table["value"], table["method"], strict=True)
    }


def test_crossing_hazards_are_flagged_beside_the_ahr_power(crossing: Scenario) -> None:
    got = rows(crossing)
    # Schoenfeld under the AHR: 0.9999, the number the hostile pass found; it stays, marked
    assert float(got["power_schoenfeld"][0]) > 0.999
    assert "NOT the log-rank's" in got["power_schoenfeld"][1]
    assert "NOT the log-rank's" in got["average_hazard_ratio"][1]
    assert got["hazards_cross"][0] == "yes"
    assert "power_logrank" in got
    assert any("hazards cross" in w for w in design_warnings(crossing))


def test_crossing_design_command_prints_a_warning(tmp_path: Path) -> None:
    path = textbook_variant(tmp_path, "crossing", "crossing")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert main(["design", str(path), "--out", str(tmp_path / "plan")]) == 0
    assert "hazards_cross" in out.getvalue()
    assert "warning: the hazards cross" in err.getvalue()
    csv = (tmp_path / "plan" / "design.csv").read_text()
    assert "hazards_cross,yes,flag," in csv


def test_logrank_moments_match_scipy_quadrature(crossing: Scenario) -> None:
    """The same integrals by scipy quadrature of the closed-form hazards and numbers at
    risk (the 1-day grid of `nph_logrank_moments` is the method under test):
    mean = int_0^T Y_C Y_E / Y (h_E - h_C) ds, var0 = int_0^T Y_C Y_E (Y_C h_C + Y_E h_E) / Y^2,
    var1 = int_0^T (Y_C^2 Y_E h_E + Y_E^2 Y_C h_C) / Y^2, Y_arm(s) = N(T - s) / 2 S_arm(s)
    G(s), the textbook's accrual N, exponential control (median 6.8), Weibull experimental
    (shape 5, median 10), exponential dropout (5% by 12 months)."""
    lam_c = math.log(2) / 6.8
    shape, scale = 5.0, 10.0 / math.log(2) ** (1 / 5.0)
    eta = -math.log(0.95) / 12
    month = 24.36
    periods = [(2.0, 2.8), (2.0, 4.2), (2.0, 4.9), (math.inf, 5.6)]

    def entered(u: float) -> float:
        total, start = 0.0, 0.0
        for width, rate in periods:
            total += rate * min(max(u - start, 0.0), width)
            start += width
        return min(total, 104.0)

    def at_risk(arm: int, s: float) -> float:
        log_s = -lam_c * s if arm == 0 else -((s / scale) ** shape)
        return 0.5 * entered(month - s) * math.exp(log_s - eta * s)

    def hazard(arm: int, s: float) -> float:
        return lam_c if arm == 0 else shape / scale * (s / scale) ** (shape - 1)

    def integral(f: Callable[[float], float]) -> float:
        full = 6.0 + (104.0 - 23.8) / 5.6  # accrual reaches 104 patients (kink of N)
        kinks = [month - 2, month - 4, month - 6, month - full]
        return quad(f, 0, month, points=kinks, limit=400, epsabs=1e-12, epsrel=1e-12)[0]

    def score_mean(s: float) -> float:
        c, e = at_risk(0, s), at_risk(1, s)
        return c * e / (c + e) * (hazard(1, s) - hazard(0, s))

    def score_var0(s: float) -> float:
        c, e = at_risk(0, s), at_risk(1, s)
        return c * e * (c * hazard(0, s) + e * hazard(1, s)) / (c + e) ** 2

    def score_var1(s: float) -> float:
        c, e = at_risk(0, s), at_risk(1, s)
        return (c * c * e * hazard(1, s) + e * e * c * hazard(0, s)) / (c + e) ** 2

    mean, var0, var1 = integral(score_mean), integral(score_var0), integral(score_var1)
    got = nph_logrank_moments(crossing, month)
    # the grid's error (1-day cells, midpoint rule) is far below these tolerances
    assert got["mean"] == pytest.approx(mean, rel=2e-4)
    assert got["var0"] == pytest.approx(var0, rel=2e-4)
    assert got["var1"] == pytest.approx(var1, rel=2e-4)
    assert got["crossing"] == 1.0


def test_crossing_logrank_power_against_simulation(crossing: Scenario) -> None:
    """The expected-score power is an approximation where hazards cross: it takes the
    numbers at risk at their expectations and the cut at the expected time of the event
    target. Measured at this commit: 0.340 against the simulated 0.3747 +- 0.0034 (10 MC SE,
    so not within Monte Carlo error; at 4x the patients and events, 0.638 against
    0.668 +- 0.011). The design prints it as approximate and flags the crossing; this test
    pins that it stays within 0.05 of the simulation, where the AHR's power is off by 0.6."""
    got = rows(crossing)
    assert float(got["power_schoenfeld"][0]) - CROSSING_SIM_POWER > 0.6
    assert abs(float(got["power_logrank"][0]) - CROSSING_SIM_POWER) < 0.05
    assert "approximate" in got["power_logrank"][1]


def test_delayed_effect_ahr_power_within_3_mc_se(delayed: Scenario) -> None:
    """Piecewise HR 1 then 0.6 (no crossing): gsDesign2's AHR with Schoenfeld describes the
    log-rank test at the simulated 70 events, and so does the expected-score power."""
    got = rows(delayed)
    assert "hazards_cross" not in got and "power_logrank" not in got
    assert "NOT" not in got["power_schoenfeld"][1]
    assert float(got["power_schoenfeld"][0]) == pytest.approx(
        DELAYED_SIM_POWER, abs=3 * DELAYED_SIM_SE
    )
    moments = nph_logrank_moments(delayed, float(got["target_events_months"][0]))
    assert moments["crossing"] == 0.0 and moments["share_harm"] == 0.0
    assert logrank_power(moments, 0.10, 1) == pytest.approx(
        DELAYED_SIM_POWER, abs=3 * DELAYED_SIM_SE
    )


def test_proportional_hazards_design_has_no_crossing_rows() -> None:
    got = rows(load_scenario(TEXTBOOK))
    assert "hazards_cross" not in got and "power_logrank" not in got
    assert design_warnings(load_scenario(TEXTBOOK)) == []


def test_logrank_power_sides_and_direction() -> None:
    """Phi((|m| - z sqrt(v0)) / sqrt(v1)) on the side of the mean; harm under a one-sided
    test of benefit gets the far tail; two-sided adds both (z = 1.959964 at 0.05)."""
    m = {"mean": -4.0, "var0": 4.0, "var1": 4.0}
    z1, z2 = 1.6448536269514722, 1.959963984540054
    assert logrank_power(m, 0.05, 1) == pytest.approx(0.5 * math.erfc(-(2.0 - z1) / 2**0.5))
    harm = {**m, "mean": 4.0}
    assert logrank_power(harm, 0.05, 1) == pytest.approx(0.5 * math.erfc((2.0 + z1) / 2**0.5))
    two = 0.5 * math.erfc(-(2.0 - z2) / 2**0.5) + 0.5 * math.erfc((2.0 + z2) / 2**0.5)
    assert logrank_power(harm, 0.05, 2) == pytest.approx(two)
