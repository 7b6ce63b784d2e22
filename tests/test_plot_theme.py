"""The figures' seaborn look, kept as data in sim.outputs.plots (importing seaborn costs
~1.5 s), is seaborn's own: its style, context and palettes, value for value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim.outputs import plots


def test_theme_is_seaborns_whitegrid_notebook():
    sns = pytest.importorskip("seaborn")
    reference = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook")}
    del reference["image.cmap"]  # "rocket": seaborn's colormap, which no figure uses
    assert plots.THEME == reference and list(plots.THEME) == list(reference)


@pytest.mark.parametrize("name", ["deep", "colorblind", "viridis"])
def test_color_palette_is_seaborns(name):
    sns = pytest.importorskip("seaborn")
    for n in (None, 1, 2, 3, 6, 7, 10, 11, 13):
        assert plots.color_palette(name, n) == list(sns.color_palette(name, n)), n


def test_plots_module_does_not_import_seaborn():
    code = "import sys, sim.outputs.plots; print('seaborn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
