"""Clinic figures: utilization by month and the drug-supply fan chart."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.commands.cli import main
from sim.outputs.plots import plot_supply, plot_utilization, run_figures
from tests.helpers import BASELINE


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("clinic") / "run"
    assert (
        main(
            [
                "run",
                str(BASELINE),
                "--reps",
                "30",
                "--out",
                str(out),
                "--quiet",
                "--workers",
                "1",
                "--keep-patients",
                "1",
            ]
        )
        == 0
    )
    return out


def test_utilization_has_a_line_per_resource_and_the_capacity_line(run):
    resources = pd.read_csv(run / "resources.csv")
    ax = plot_utilization(resources)
    labels = [line.get_label() for line in ax.get_lines()]
    assert sum("chair utilization" in label for label in labels) == 1
    assert sum("linac utilization" in label for label in labels) == 1
    assert "full capacity" in labels
    assert len(ax.collections) == 2  # one 90% band per resource


def test_supply_has_a_line_per_drug(run):
    supply = pd.read_csv(run / "supply.csv")
    ax = plot_supply(supply)
    drugs = {line.get_label() for line in ax.get_lines() if line.get_linestyle() == "-"}
    assert drugs == {"QL1706", "carboplatin", "nab-paclitaxel", "pemetrexed"}
    # treatment after the analysis: QL1706 maintenance goes on (dashed, to the end)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) >= 1
    assert any(
        "to the end of treatment" in t.get_text()
        for t in ax.texts
        if t.get_text().startswith("QL1706")
    )


def test_run_figures_include_the_clinic_panels(run):
    names = [panel.name for panel in run_figures(run)]
    assert names[-2:] == ["utilization", "supply"]


def test_supply_is_in_mg_with_the_vials_of_each_size(run):
    supply = pd.read_csv(run / "supply.csv")
    ax = plot_supply(supply)
    labels = [t.get_text() for t in ax.texts]
    carboplatin = next(t for t in labels if t.startswith("carboplatin"))
    assert " g to the analysis\n(" in carboplatin
    assert "x 100 mg" in carboplatin and "x 450 mg" in carboplatin
    assert "vials" not in ax.get_ylabel() and "g" in ax.get_ylabel()


def test_utilization_quotes_the_summary_busiest_month(run):
    from sim.outputs.plots import utilization_panel

    summary = pd.read_csv(run / "summary.csv")
    peak = summary.set_index("metric").at["clinic_chair_utilization_peak_month_mean", "estimate"]
    panel = utilization_panel(pd.read_csv(run / "resources.csv"), summary)
    title = panel.figure.axes[0].get_title(loc="left")
    assert f"chairs {peak:.0%}" in title
