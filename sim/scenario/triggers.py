"""The analysis triggers protocols write beside the event count: event targets per stratum, a
minimum follow-up after the last randomization, a calendar floor and cap, a maximum
extension beyond the planned date, and the data monitoring committee's meeting cadence
(`analysis.triggers`; an interim look's own: `analysis.looks[k].triggers`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.base import DAYS_PER_MONTH, MAX_STUDY_YEARS, Frozen, PositiveInt
from sim.scenario.errors import field_error

if TYPE_CHECKING:
    from sim.scenario.model import Scenario

Months = Annotated[float, Field(ge=0.0, le=MAX_STUDY_YEARS * 12)]


class DmcMeetings(Frozen):
    """Data monitoring committee meetings: from `first`, every `every_weeks` weeks, each on
    the first open clinic day on or after its due date (the clinic's working-day calendar)."""

    first: dt.date
    """Due date of the first meeting [date]."""
    every_weeks: Annotated[float, Field(gt=0.0, le=MAX_STUDY_YEARS * 52)]
    """Weeks between meetings [weeks]."""


class LookTriggers(Frozen):
    """Event targets per stratum and a minimum follow-up for one interim look."""

    stratum_events: dict[str, PositiveInt] = Field(default_factory=dict)
    """PFS events seen per stratum that trigger the cut (strata not named: no target), e.g.
    {squamous: 32, adenocarcinoma: 38} [events]."""
    stratum_rule: Literal["every", "every_or_total"] = "every"
    """With stratum_events: `every` cuts when every named stratum has reached its target;
    `every_or_total` at that or at the total event target, whichever comes first."""
    min_followup_months: Months | None = None
    """The cut is no earlier than this long after the last patient's randomization [months]."""


class AnalysisTriggers(LookTriggers):
    """The final analysis's triggers. The cut is the event trigger (per stratum, or the
    total) or the calendar cut as `analysis.cut` says; then no earlier than the floor (the
    later of `not_before` and the minimum follow-up) and no later than the cap (the earlier of
    `not_after` and `planned_date` + `max_extension_months`): the cap wins over the floor.
    The analysis is held at the first DMC meeting on or after the cut plus
    `analysis.lag_days` (the data-cleaning lag), for interim looks too."""

    not_before: dt.date | None = None
    """Calendar floor: the data cut is not before this date [date]."""
    not_after: dt.date | None = None
    """Calendar cap: the data cut is not after this date [date]."""
    planned_date: dt.date | None = None
    """Planned date of the data cut, from which max_extension_months counts; empty:
    analysis.cut_date, or else trial.completion_date [date]."""
    max_extension_months: Months | None = None
    """The data cut is no later than this long after planned_date [months]."""
    dmc_meetings: DmcMeetings | None = None
    """DMC meeting cadence; empty: the analysis is held lag_days after the cut."""

    @model_validator(mode="after")
    def check_floor_before_cap(self) -> AnalysisTriggers:
        if (
            self.not_before is not None
            and self.not_after is not None
            and self.not_after < self.not_before
        ):
            raise field_error(
                ("not_after",),
                self.not_after,
                f"the calendar cap is before the floor not_before {self.not_before}: put "
                "not_after on or after not_before (or drop one of them)",
            )
        return self


def planned_cut_date(scenario: Scenario) -> dt.date:
    """The date max_extension_months counts from."""
    triggers = scenario.analysis.triggers
    planned = triggers.planned_date if triggers is not None else None
    return planned or scenario.analysis.cut_date or scenario.trial.completion_date


def check_triggers(scenario: Scenario) -> None:
    """Per-stratum targets name strata the scenario has, within the sample size, with a cut
    that events trigger; the cap not before the floor; no triggers on the final look."""
    a = scenario.analysis
    strata = scenario.strata_names
    blocks: list[tuple[tuple[str | int, ...], LookTriggers]] = []
    if a.triggers is not None:
        blocks.append((("analysis", "triggers"), a.triggers))
    for i, look in enumerate(a.looks):
        if look.triggers is None:
            continue
        where = ("analysis", "looks", i, "triggers")
        if i == len(a.looks) - 1:
            raise field_error(
                where,
                "...",
                "the final look's triggers are analysis.triggers: move them there",
            )
        if look.events is None and look.information is None:
            raise field_error(
                where,
                "...",
                "a look on a date has no event trigger to refine: trigger it by events "
                "(e.g. {events: 35}) or drop its triggers",
            )
        blocks.append((where, look.triggers))
    for where, triggers in blocks:
        for name, target in triggers.stratum_events.items():
            if name not in strata:
                raise field_error(
                    (*where, "stratum_events"),
                    dict(triggers.stratum_events),
                    f"stratum {name!r} does not exist: the strata are {', '.join(strata)} "
                    "(randomization.strata); name those",
                )
            if target > scenario.trial.sample_size:
                raise field_error(
                    (*where, "stratum_events", name),
                    target,
                    f"above trial.sample_size {scenario.trial.sample_size}: lower it",
                )
    triggers = a.triggers
    if triggers is None:
        return
    if triggers.stratum_events and a.cut == "date":
        raise field_error(
            ("analysis", "triggers", "stratum_events"),
            dict(triggers.stratum_events),
            "analysis.cut is date, so events trigger nothing: use cut: events or first, or "
            "drop stratum_events",
        )
    if triggers.stratum_rule == "every_or_total" and a.event_target is None:
        raise field_error(
            ("analysis", "triggers", "stratum_rule"),
            triggers.stratum_rule,
            "every_or_total needs analysis.event_target (the total): give it, or use every",
        )
    if triggers.max_extension_months is not None and triggers.not_before is not None:
        cap = planned_cut_date(scenario) + dt.timedelta(
            days=int(triggers.max_extension_months * DAYS_PER_MONTH)
        )
        if cap < triggers.not_before:
            raise field_error(
                ("analysis", "triggers", "max_extension_months"),
                triggers.max_extension_months,
                f"the cap it sets ({cap}) is before the floor not_before "
                f"{triggers.not_before}: lengthen it or move not_before earlier",
            )
