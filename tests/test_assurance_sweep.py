"""Assurance curves (issue 26 item 2: "a sweep over the prior's sd or mean draws assurance
curves, with common random numbers", and "power beside it at the prior's mean").

Checked: the prior's draws are on their own stream, so sweep points differing only in
prior.hazard_ratio.sd_log share their standard normals (each replicate's drawn log HR is
an exact scaling around log median); summary.csv's closed-form rows are design.csv's and
O'Hagan's formula Phi((mu sqrt(I) - z) / sqrt(1 + I sd^2)), I = d r (1 - r), computed here
with scipy; the sweep figure says assurance and draws the closed form beside the points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.commands.cli import main
from sim.outputs.plots.sweep import sweep_figures
from sim.scenario import load_scenario
from sim.stats.assurance import prior_design_rows

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"  # 70 events, one-sided alpha 0.10, 1:1
PRIOR = "prior.hazard_ratio={distribution: lognormal, median: 0.6, sd_log: 0.1}"
SDS = (0.05, 0.25, 0.5)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's sweep, fewer replicates."""
    out = tmp_path_factory.mktemp("assurance_sweep") / "sweep"
    grid = "prior.hazard_ratio.sd_log=" + ",".join(map(str, SDS))
    argv = ["sweep", str(TEXTBOOK), "--set", PRIOR, "--grid", grid, "--reps", "300"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


def point_folders(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and p.name[:2].isdigit())


def o_hagan(sd: float, median: float = 0.6, events: float = 70, alpha: float = 0.10) -> float:
    """Closed-form assurance of the single-look design, written out independently."""
    information = events * 0.5 * 0.5
    z = stats.norm.ppf(1 - alpha)
    mu = -np.log(median)
    return float(stats.norm.cdf((mu * np.sqrt(information) - z) / np.sqrt(1 + information * sd**2)))


def test_points_differing_in_sd_share_their_draws_scaled(sweep: Path) -> None:
    drawn = [
        np.log(pd.read_parquet(p / "replicates.parquet", columns=["true_hr"])["true_hr"])
        for p in point_folders(sweep)
    ]
    standard = [(d - np.log(0.6)) / sd for d, sd in zip(drawn, SDS, strict=True)]
    np.testing.assert_allclose(standard[1], standard[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(standard[2], standard[0], rtol=1e-9, atol=1e-12)
    assert np.std(standard[0]) > 0.8  # standard normals, not a constant


def test_summary_has_the_closed_form_assurance_and_power_at_the_prior_mean(sweep: Path) -> None:
    for folder, sd in zip(point_folders(sweep), SDS, strict=True):
        summary = pd.read_csv(folder / "summary.csv").set_index("metric")["estimate"]
        scenario = load_scenario(TEXTBOOK, [PRIOR, f"prior.hazard_ratio.sd_log={sd}"])
        design = {q: v for q, v, _, _ in prior_design_rows(scenario)}
        assert summary["assurance_closed_form"] == pytest.approx(design["assurance"], abs=1e-12)
        assert summary["assurance_closed_form"] == pytest.approx(o_hagan(sd), abs=1e-12)
        power = design["power_at_prior_mean"]
        assert summary["power_at_prior_mean"] == pytest.approx(power, abs=1e-12)
        # Schoenfeld at HR 0.6, 70 events, one-sided 0.10
        schoenfeld = stats.norm.cdf(-np.log(0.6) * np.sqrt(70 / 4) - stats.norm.ppf(0.9))
        assert power == pytest.approx(schoenfeld, abs=1e-12)
        assert summary["power"] == summary["assurance"]  # the same replicates


def test_a_run_without_prior_has_no_closed_form_assurance_rows(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", str(TEXTBOOK), "--reps", "50", "--out", str(out), "--quiet"]) == 0
    metrics = set(pd.read_csv(out / "summary.csv")["metric"])
    assert not {"assurance", "assurance_closed_form", "power_at_prior_mean"} & metrics


def test_run_prints_the_power_at_the_prior_mean_beside_the_assurance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["run", str(TEXTBOOK), "--set", PRIOR, "--reps", "50", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    line = next(t for t in printed.splitlines() if t.startswith("power at the prior mean"))
    scenario = load_scenario(TEXTBOOK, [PRIOR])
    power = {q: v for q, v, _, _ in prior_design_rows(scenario)}["power_at_prior_mean"]
    assert line.split()[-1] == f"{power:.1%}"  # a share, as the answers table gives it
    assert any(t.startswith("assurance (power over the prior)") for t in printed.splitlines())


def test_the_sweep_figure_says_assurance_with_the_closed_form_beside(sweep: Path) -> None:
    panels = {p.name: p for p in sweep_figures(sweep)}
    figure = panels["power_curve"].figure
    ax = figure.axes[0]
    assert figure._suptitle.get_text() == "Assurance by prior sd of log HR"
    assert ax.get_xlabel() == "prior sd of log HR"
    assert ax.get_ylabel().startswith("assurance")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("closed form") for t in legend)
    assert any(t.startswith("simulated") for t in legend)
    assert not any("power" in t.lower() and "averaged" not in t for t in legend)
    closed = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    np.testing.assert_allclose(closed.get_xdata(), SDS)
    np.testing.assert_allclose(closed.get_ydata(), [o_hagan(sd) for sd in SDS], atol=1e-12)
    assert "Power" not in panels["power_tradeoff"].figure._suptitle.get_text()
