"""Closed-form designs: `design` (``python -m sim design``) and `boundaries`."""

from __future__ import annotations

import pandas as pd

from sim.api.loading import ScenarioLike, resolve_scenario
from sim.scenario import ScenarioError


def design(scenario: ScenarioLike) -> pd.DataFrame:
    """Closed-form design of a scenario: the table `python -m sim design` prints (with
    analysis.looks, the group-sequential rows too; with a prior, its assurance rows)."""
    from sim.stats.design import design_scenario

    scenario = resolve_scenario(scenario, None)[0]
    table = design_scenario(scenario)
    if scenario.analysis.looks:
        from sim.stats.boundaries import design_rows

        extra = pd.DataFrame(design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    if scenario.analysis.triggers is not None:  # when each analysis trigger is expected
        from sim.stats.trigger_design import trigger_design_rows

        extra = pd.DataFrame(trigger_design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    if scenario.prior is not None:  # assurance and its parts under the design prior
        from sim.stats.assurance import prior_design_rows

        extra = pd.DataFrame(prior_design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    return table


def boundaries(scenario: ScenarioLike) -> pd.DataFrame:
    """Group-sequential boundaries of a scenario with analysis.looks: boundaries.csv of
    `python -m sim design --out` (one row per look)."""
    scenario = resolve_scenario(scenario, None)[0]
    if not scenario.analysis.looks:
        raise ScenarioError(
            "analysis.looks is empty: boundaries need a group-sequential "
            "design, e.g. looks: [{events: 35}, {events: 70}]"
        )
    from sim.stats.boundaries import boundaries_table

    return boundaries_table(scenario)
