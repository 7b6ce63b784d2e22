"""Figures of a run and of a sweep, for a steering committee (PNG, drawn headless).

Plot functions take data and ``ax=None`` and return the axes; `run_figures` and
`sweep_figures` assemble them into captioned figures from an output folder. One module per
family of figures, the look they share in `style`:

    style       colours, theme, axes, headlines, `Panel`, PNG bytes
    timeline    enrollment, PFS events and the final analysis date across replicates
    survival    Kaplan-Meier of one simulated final analysis (PFS, OS)
    response    response, local control and adverse-event rates by arm
    clinic      chair and linac utilization, drug supply
    sequential  stopping, the dates of the looks and the interim predictive power of a
                group-sequential run
    sweep       power, calendar risk and analysis dates across sweep points
    run         a run folder's figures
    command     ``python -m sim plot`` and writing the PNG files

Importing this package leaves seaborn unimported: it comes with the first figure.
"""

from __future__ import annotations

from sim.outputs.plots.clinic import plot_supply, plot_utilization, supply_panel, utilization_panel
from sim.outputs.plots.command import cmd_plot, register, write_figures
from sim.outputs.plots.response import plot_incidence, plot_rate_bands
from sim.outputs.plots.run import run_figures
from sim.outputs.plots.sequential import plot_look_dates, plot_predictive_power, plot_stopping
from sim.outputs.plots.style import (
    ARM_COLORS,
    BAND_COLOR,
    LINE_COLOR,
    QUANTILES,
    REFERENCE_COLOR,
    Panel,
    draw_bands,
    draw_date_line,
    figure_png,
    finish,
    format_date_axis,
    new_axes,
    percent,
    theme,
    themed,
)
from sim.outputs.plots.survival import km_steps, plot_km
from sim.outputs.plots.sweep import (
    plot_date_rows,
    plot_heatmap,
    plot_metric_rows,
    plot_power_by_test,
    plot_power_curve,
    plot_power_tradeoff,
    rows_figure,
    sweep_figures,
    test_power_columns,
)
from sim.outputs.plots.timeline import (
    MAX_CURVE_REPS,
    FollowUp,
    check_replay,
    count_by_day,
    follow_up_days,
    milestone_follow_up,
    plot_analysis_dates,
    plot_enrollment,
    plot_events,
    quantile_bands,
)

__all__ = [
    "ARM_COLORS",
    "BAND_COLOR",
    "LINE_COLOR",
    "MAX_CURVE_REPS",
    "QUANTILES",
    "REFERENCE_COLOR",
    "FollowUp",
    "Panel",
    "check_replay",
    "cmd_plot",
    "count_by_day",
    "draw_bands",
    "draw_date_line",
    "figure_png",
    "finish",
    "follow_up_days",
    "format_date_axis",
    "km_steps",
    "milestone_follow_up",
    "new_axes",
    "percent",
    "plot_analysis_dates",
    "plot_date_rows",
    "plot_enrollment",
    "plot_events",
    "plot_heatmap",
    "plot_incidence",
    "plot_km",
    "plot_look_dates",
    "plot_metric_rows",
    "plot_power_by_test",
    "plot_power_curve",
    "plot_power_tradeoff",
    "plot_predictive_power",
    "plot_rate_bands",
    "plot_stopping",
    "plot_supply",
    "plot_utilization",
    "quantile_bands",
    "register",
    "rows_figure",
    "run_figures",
    "supply_panel",
    "sweep_figures",
    "test_power_columns",
    "theme",
    "themed",
    "utilization_panel",
    "write_figures",
]
