"""The design's view of the analysis triggers (`analysis.triggers`): when each rule is expected
to fire and which one is expected to set the final data cut, from the Lachin-Foulkes
expected events (`sim.stats.lachin_foulkes`).

A stratum of share w is a trial of its own with accrual w x the trial's and w x the sample
size (each patient's stratum is drawn independently), so its expected k-th event is
`expected_event_time` of that smaller trial. The floor and cap are dates; the minimum
follow-up counts from the expected end of accrual. Scans, the calendar and the spread
between replicates are outside these figures: the simulation's `p_trigger_<rule>` rows say
how often each rule fires.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.scenario import DAYS_PER_MONTH
from sim.scenario.triggers import planned_cut_date
from sim.stats.design import is_proportional, scenario_accrual, scenario_hazards
from sim.stats.lachin_foulkes import accrual_end_time, expected_event_time

if TYPE_CHECKING:
    from sim.scenario import Scenario

Row = tuple[str, object, str, str]


def trigger_design_rows(scenario: Scenario) -> list[Row]:
    """Rows (quantity, value, unit, method) of the expected trigger months and the rule
    expected to set the final cut; none without analysis.triggers."""
    a = scenario.analysis
    t = a.triggers
    if t is None:
        return []
    start = scenario.trial.start_date
    n = scenario.trial.sample_size
    accrual = scenario_accrual(scenario)
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    dropout = scenario.dropout.hazard_per_day * DAYS_PER_MONTH
    proportional = is_proportional(scenario)
    hr = scenario.effect.hazard_ratio

    def months_of(date: object) -> float:
        return (date - start).days / DAYS_PER_MONTH  # type: ignore[operator]

    def event_month(target: int, share: float) -> float:
        scaled = [(months, rate * share) for months, rate in accrual]
        return expected_event_time(
            target, scaled, scenario_hazards(scenario), hr, dropout, p, n * share
        )

    rows: list[Row] = []
    candidates: list[tuple[str, float]] = []  # (rule, month) of the event or date trigger
    if t.stratum_events and proportional:
        shares = scenario.randomization.strata
        months = []
        for name, target in t.stratum_events.items():
            month = event_month(target, shares[name])
            months.append(month)
            rows.append(
                (
                    f"stratum_events_months_{name}",
                    month,
                    "months",
                    f"Lachin-Foulkes, {target} events of stratum {name} (share {shares[name]:g})",
                )
            )
        event_trigger, rule = max(months), "stratum_events"
        if t.stratum_rule == "every_or_total" and a.event_target is not None:
            total = event_month(a.event_target, 1.0)
            if total < event_trigger:
                event_trigger, rule = total, "events"
        candidates.append((rule, event_trigger))
    elif a.event_target is not None and proportional:
        candidates.append(("events", event_month(a.event_target, 1.0)))
    if a.cut in ("date", "first") and a.cut_date is not None:
        candidates.append(("date", months_of(a.cut_date)))
    if a.cut == "date":
        candidates = [c for c in candidates if c[0] == "date"]
    if not candidates:
        return rows
    rule, month = min(candidates, key=lambda c: c[1])
    floors = [(-math.inf, "")]
    if t.min_followup_months is not None:
        floor = accrual_end_time(n, accrual) + t.min_followup_months
        rows.append(("min_followup_months", floor, "months", "accrual end + min_followup"))
        floors.append((floor, "min_followup"))
    if t.not_before is not None:
        floors.append((months_of(t.not_before), "not_before"))
    caps = [(math.inf, "")]
    if t.not_after is not None:
        caps.append((months_of(t.not_after), "not_after"))
    if t.max_extension_months is not None:
        caps.append(
            (months_of(planned_cut_date(scenario)) + t.max_extension_months, "max_extension")
        )
    floor, floor_rule = max(floors)
    cap, cap_rule = min(caps)
    if month < floor:
        month, rule = floor, floor_rule
    if month > cap:
        month, rule = cap, cap_rule
    cut_day = month * DAYS_PER_MONTH
    ready = cut_day + a.lag_days
    analysis_day = ready
    if t.dmc_meetings is not None:
        first = (t.dmc_meetings.first - start).days
        step = t.dmc_meetings.every_weeks * 7.0
        analysis_day = first + step * max(0.0, math.ceil((ready - first) / step))
    day = np.datetime64(start, "D")
    rows += [
        ("analysis_trigger_expected", rule, "rule", "the rule setting the expected data cut"),
        (
            "analysis_cut_months_expected",
            month,
            "months",
            "expected event or date trigger, then floor and cap",
        ),
        (
            "analysis_date_expected",
            str(day + np.timedelta64(int(math.floor(analysis_day)), "D")),
            "date",
            "data cut + lag_days, then the next DMC meeting due (open days aside)",
        ),
    ]
    return rows
