"""The blocks of the analysis: the test-spec language of the primary and supportive tests,
the data cut, the group-sequential looks and their efficacy and futility bounds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import Days, Frozen, PositiveFloat, PositiveInt
from sim.scenario.errors import field_error
from sim.scenario.outcomes import check_cut_trigger
from sim.scenario.triggers import AnalysisTriggers, LookTriggers

# --- the test-spec language ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TestSpec:
    """One test of the treatment effect, parsed from its spec string (see `parse_test`).

    kind: logrank, fh, mb, maxcombo, rmst, milestone or ahr; rho, gamma: FH exponents;
    months: t* (mb), tau (rmst, ahr; None = all follow-up) or t (milestone) [months];
    w_max: mb's weight cap; combo: the (rho, gamma) of MaxCombo's FH tests.
    name: for columns (power_<name>); label: for tables (FH(0,1), MaxCombo, RMST(12)).
    """

    kind: str
    rho: float = 0.0
    gamma: float = 0.0
    months: float | None = None
    w_max: float = math.inf
    combo: tuple[tuple[float, float], ...] = ()
    spec: str = ""

    @property
    def name(self) -> str:
        def g(x: float) -> str:
            return f"{x:g}".replace(".", "p").replace("-", "m")

        if self.kind == "fh":
            return f"fh_{g(self.rho)}_{g(self.gamma)}"
        if self.kind == "maxcombo":
            if self.combo == MAXCOMBO_DEFAULT:
                return "maxcombo"
            return "maxcombo_" + "_".join(f"{g(r)}_{g(q)}" for r, q in self.combo)
        if self.kind == "mb":
            cap = "" if math.isinf(self.w_max) else f"_{g(self.w_max)}"
            return f"mb_{g(self.months)}{cap}"  # type: ignore[arg-type]
        if self.months is not None:
            return f"{self.kind}_{g(self.months)}"
        return self.kind

    @property
    def label(self) -> str:
        if self.kind == "logrank":
            return "log-rank"
        if self.kind == "fh":
            return f"FH({self.rho:g},{self.gamma:g})"
        if self.kind == "maxcombo":
            if self.combo == MAXCOMBO_DEFAULT:
                return "MaxCombo"
            return "MaxCombo(" + "; ".join(f"{r:g},{q:g}" for r, q in self.combo) + ")"
        if self.kind == "mb":
            cap = "" if math.isinf(self.w_max) else f",{self.w_max:g}"
            return f"MB({self.months:g}{cap})"
        if self.kind == "rmst":
            return f"RMST({self.months:g})"
        if self.kind == "milestone":
            return f"milestone({self.months:g})"
        return "AHR" if self.months is None else f"AHR({self.months:g})"


MAXCOMBO_DEFAULT = ((0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0))  # Lin et al. 2020
TEST_SYNTAX = (
    "logrank, fh:RHO:GAMMA, mb:TSTAR[:WMAX], maxcombo[:RHO:GAMMA+RHO:GAMMA...], "
    "rmst:TAU, milestone:T, ahr[:TAU] (times in months)"
)


def parse_test(spec: str) -> TestSpec:
    """A test from its spec string, e.g. ``fh:0:1``, ``maxcombo``, ``rmst:12``; ValueError
    naming the syntax otherwise."""
    text = str(spec).strip().lower()
    kind, _, rest = text.partition(":")
    fail = ValueError(f"unknown test {spec!r}: use one of {TEST_SYNTAX}")

    def numbers(part: str, count: tuple[int, ...]) -> list[float]:
        try:
            values = [float(x) for x in part.split(":")] if part else []
        except ValueError:
            raise fail from None
        if len(values) not in count or any(not math.isfinite(v) for v in values):
            raise fail
        return values

    if kind == "logrank" and not rest:
        return TestSpec("logrank", spec=text)
    if kind == "fh":
        rho, gamma = numbers(rest, (2,))
        if rho < 0 or gamma < 0:
            raise ValueError(f"test {spec!r}: FH exponents must be >= 0 (e.g. fh:0:1)")
        return TestSpec("fh", rho=rho, gamma=gamma, spec=text)
    if kind == "mb":
        values = numbers(rest, (1, 2))
        if values[0] <= 0 or (len(values) == 2 and values[1] < 1):
            raise ValueError(
                f"test {spec!r}: t* must be > 0 months and WMAX >= 1 (e.g. mb:6 or mb:6:2)"
            )
        return TestSpec(
            "mb", months=values[0], w_max=values[1] if len(values) == 2 else math.inf, spec=text
        )
    if kind == "maxcombo":
        if not rest:
            return TestSpec("maxcombo", combo=MAXCOMBO_DEFAULT, spec=text)
        combo = tuple(tuple(numbers(part, (2,))) for part in rest.split("+"))
        if len(combo) < 2 or any(r < 0 or q < 0 for r, q in combo):
            raise ValueError(
                f"test {spec!r}: MaxCombo needs >= 2 FH tests with exponents "
                ">= 0, e.g. maxcombo:0:0+0:1"
            )
        return TestSpec("maxcombo", combo=combo, spec=text)  # type: ignore[arg-type]
    if kind in ("rmst", "milestone", "ahr"):
        values = numbers(rest, (0, 1) if kind == "ahr" else (1,))
        if values and values[0] <= 0:
            raise ValueError(f"test {spec!r}: the time must be > 0 months (e.g. {kind}:12)")
        return TestSpec(kind, months=values[0] if values else None, spec=text)
    raise fail


# --- the data cut and the looks ------------------------------------------------------------

# The words of each primary endpoint (analysis.endpoint), for every label and metric meaning:
# its name, what its events are called (and the unit of a count of them), the primary endpoint
# in a phrase, how an event is seen, the effect an interim look's conditional power "under the
# design" assumes from the look on.
ENDPOINT_WORDS = {
    "pfs": {
        "endpoint": "PFS",
        "events": "PFS events",
        "count": "PFS events",  # a number of them: "70 PFS events"
        "unit": "events",  # the unit of a count of them (summary.csv's unit column)
        "seen_by": "PFS events seen by",
        "target_reached": "event target reached",
        "primary": "primary endpoint (PFS)",
        "seen": "at scans, or deaths",
        "design_effect": "hazard ratio the design is powered for",
    },
    "os": {
        "endpoint": "OS",
        "events": "deaths (OS events)",
        "count": "deaths",
        "unit": "deaths",
        "seen_by": "Deaths by",
        "target_reached": "death target reached (OS)",
        "primary": "primary endpoint (OS)",
        "seen": "deaths, on the day they happen",
        "design_effect": "OS effect of the closed-form design (its average hazard ratio at "
        "each look, as design.csv's h1 rows; for the deaths still to come, their average)",
    },
}


class Look(Frozen):
    """One analysis of a group-sequential design: triggered by `events` seen, by an
    `information` fraction of the final look's events, or on a `date`; with `not_before`
    (`not_after`), interim looks only, it is held at the later (earlier) of its trigger and
    that date."""

    events: PositiveInt | None = None
    """Events of the primary endpoint seen (PFS: at a scan, or a death; OS: deaths) that
    trigger the look [events]."""
    information: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """Share of the final look's planned events that triggers the look [share]."""
    date: dt.date | None = None
    """Calendar date of the data cut of the look [date]."""
    not_before: dt.date | None = None
    """The look's data cut is not before this date: the later of the trigger and this [date]."""
    not_after: dt.date | None = None
    """The look's data cut is not after this date: the earlier of the trigger and this [date]."""
    triggers: LookTriggers | None = None
    """Interim looks triggered by events: event targets per stratum and a minimum follow-up
    after the last randomization (docs/conduct.md)."""

    @model_validator(mode="after")
    def check_one_trigger(self) -> Look:
        given = [
            name for name in ("events", "information", "date") if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"a look needs exactly one trigger of events, information or date (got "
                f"{given or 'none'}): e.g. {{events: 35}}, {{information: 0.5}} or "
                "{date: 2027-12-31}"
            )
        return self


SpendingFamily = Literal["obrien_fleming", "pocock"]


class HsdParameter(Frozen):
    gamma: float
    """Hwang-Shih-DeCani gamma: -4 is O'Brien-Fleming-like, 1 Pocock-like, 0 linear."""


class HsdSpending(Frozen):
    hsd: HsdParameter
    """Hwang-Shih-DeCani spending, f(t) = total (1 - e^(-gamma t)) / (1 - e^(-gamma))."""


class KimDemetsParameter(Frozen):
    rho: PositiveFloat
    """Kim-DeMets power rho: 3 is O'Brien-Fleming-like, 1 linear."""


class KimDemetsSpending(Frozen):
    kim_demets: KimDemetsParameter
    """Kim-DeMets (power family) spending, f(t) = total t^rho."""


SpendingChoice = SpendingFamily | HsdSpending | KimDemetsSpending


def spending_name(choice: SpendingChoice) -> tuple[str, float | None]:
    """(family, parameter) of a spending choice, as sim.stats.spending.Spending takes them."""
    if isinstance(choice, HsdSpending):
        return "hsd", choice.hsd.gamma
    if isinstance(choice, KimDemetsSpending):
        return "kim_demets", choice.kim_demets.rho
    return choice, None


class Efficacy(Frozen):
    """Efficacy bounds: an alpha-spending function (Lan-DeMets), or fixed z bounds."""

    spending: SpendingChoice | None = None
    """Alpha spending: obrien_fleming (Lan-DeMets), pocock, {hsd: {gamma: -4}} or
    {kim_demets: {rho: 3}}; bounds recomputed at each look's observed information."""
    z: tuple[float, ...] | None = None
    """Fixed efficacy bounds, one per look, on the z scale (positive: benefit) [z]."""

    @model_validator(mode="after")
    def check_one_rule(self) -> Efficacy:
        if (self.spending is None) == (self.z is None):
            raise ValueError(
                "give exactly one of spending (e.g. obrien_fleming) or z (e.g. [2.96, 1.97])"
            )
        return self


FUTILITY_SCALES = ("conditional_power", "predictive_power")
THRESHOLD_RULE = (
    "must be strictly between 0 and 1 (the probability of success below which the trial "
    "stops at an interim look; 0 or 1 would never or always stop it), e.g. threshold: 0.10"
)


class Futility(Frozen):
    """Futility bounds at the interim looks (none at the final): beta spending at the drift
    for the target power (rpact typeBetaSpending), fixed z bounds, hazard-ratio bounds, or a
    threshold on the conditional power under the design effect or on the predictive power
    (`scale` and `threshold`)."""

    spending: SpendingChoice | None = None
    """Beta spending: obrien_fleming, pocock, {hsd: {gamma: -2}} or {kim_demets: {rho: 2}}."""
    z: tuple[float, ...] | None = None
    """Futility z bounds, one per interim look: stop if z is below (positive: benefit) [z]."""
    hazard_ratio: tuple[PositiveFloat, ...] | None = None
    """Futility hazard ratios, one per interim look: stop if the estimate is above [ratio]."""
    conditional_power: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """Stop if the conditional power under the design hazard ratio is below this (the same
    rule as scale: conditional_power with this threshold) [probability]."""
    scale: Literal["conditional_power", "predictive_power"] | None = None
    """Scale of a threshold rule, with `threshold`: `conditional_power` (the chance that the
    final analysis rejects if the design hazard ratio holds from the look on) or
    `predictive_power` (that chance averaged over the posterior of the hazard ratio given the
    look's z: from the design prior `prior.hazard_ratio` when the scenario has one, else
    from a flat prior) [-]."""
    threshold: float | None = None
    """With `scale`: stop at an interim look if the probability on that scale is below this
    (converted to a z bound at the look's observed events) [probability]."""
    binding: bool = False
    """Whether futility is binding: efficacy bounds computed given the futility stops."""

    @field_validator("threshold")
    @classmethod
    def check_threshold(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and 0.0 < value < 1.0):
            raise ValueError(THRESHOLD_RULE)
        return value

    @model_validator(mode="after")
    def check_one_rule(self) -> Futility:
        given = [
            name
            for name in ("spending", "z", "hazard_ratio", "conditional_power", "scale")
            if getattr(self, name) is not None
        ]
        if self.threshold is not None and self.scale is None:
            raise field_error(
                ("scale",),
                None,
                "a futility threshold needs its scale: add scale: conditional_power or "
                "scale: predictive_power",
            )
        if self.scale is not None and self.threshold is None:
            raise field_error(
                ("threshold",),
                None,
                f"futility on the {self.scale} scale needs a threshold strictly between 0 "
                "and 1: add threshold: 0.10",
            )
        if len(given) != 1:
            raise ValueError(
                f"give exactly one futility rule of spending, z, hazard_ratio, "
                f"conditional_power or scale with threshold (got {given or 'none'}): e.g. "
                "spending: {hsd: {gamma: -2}} or {scale: predictive_power, threshold: 0.10}"
            )
        return self

    @property
    def threshold_rule(self) -> tuple[str, float] | None:
        """(scale, threshold) of a threshold rule (conditional_power: q is one); else None."""
        if self.scale is not None and self.threshold is not None:
            return self.scale, self.threshold
        if self.conditional_power is not None:
            return "conditional_power", self.conditional_power
        return None


class Bayesian(Frozen):
    """A rule on the posterior of the hazard ratio at the interim looks: P(HR < hr_below |
    data) > probability, the posterior from the design prior `prior.hazard_ratio` and the
    look's log-rank z (normal approximation, Spiegelhalter, Freedman and Blackburn 1986)."""

    hr_below: PositiveFloat
    """The hazard ratio c of P(HR < c | data): 1.0 for any benefit, 0.8 for a clinically
    relevant one [ratio]."""
    probability: float
    """The posterior probability q the rule needs: it holds when P(HR < c | data) > q
    [probability]."""
    action: Literal["efficacy", "go_no_go"]
    """`efficacy`: at an interim look the trial stops for efficacy when the rule holds
    (beside the efficacy bounds, whichever is crossed first; the alpha spending does not
    count it, so the run's power under HR 1 is its type I error); `go_no_go`: at an interim
    look the trial goes on only when the rule holds, and stops (no-go, counted as a
    futility stop, non-binding) when it does not [-]."""

    @field_validator("probability")
    @classmethod
    def check_probability(cls, value: float) -> float:
        if not (math.isfinite(value) and 0.0 < value < 1.0):
            raise ValueError(
                "must be strictly between 0 and 1 (the posterior probability of HR < "
                "hr_below the rule needs; 0 or 1 would always or never hold), e.g. "
                "probability: 0.90"
            )
        return value


class Analysis(Frozen):
    """Final analysis: data cut at `event_target` events, at `cut_date`, or whichever first.

    With `looks` (a group-sequential design) the last look is the final analysis: its events
    are the event target (and `cut` defaults to events, or first when `cut_date` is given);
    earlier looks are interim analyses with `efficacy` and optional `futility` bounds."""

    endpoint: Literal["pfs", "os"] = "pfs"
    """The primary endpoint: `pfs` (progression or death, progression seen at a scan) or
    `os` (death, seen the day it happens; needs an overall_survival block). The event
    target, the looks, the tests, the design and every label follow it; the other endpoint
    is reported as secondary."""
    cut: Literal["events", "date", "first"] = "first"
    """What triggers the data cut: `events` (the event target), `date` (cut_date), or `first`
    (whichever comes first)."""
    event_target: PositiveInt | None = None
    """Events of the primary endpoint seen that trigger the cut (PFS events, or deaths
    with endpoint: os) [events]."""
    cut_date: dt.date | None = None
    """Calendar date of the cut."""
    lag_days: Days = 0
    """From the data cut to the analysis (cleaning, database lock) [days]."""
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    """Type I error of the primary test [probability]."""
    sides: Literal[1, 2] = 1
    """Sidedness of the test: 1 (the experimental arm better) or 2."""
    target_power: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.80
    """Power the design calculator aims for [probability]."""
    stratified: bool = True
    """Whether the primary log-rank test is stratified by the randomization strata."""
    ties: Literal["efron", "breslow"] = "efron"
    """Handling of tied event times in the Cox model: `efron` or `breslow`."""
    looks: tuple[Look, ...] = ()
    """Analyses in time order, the last being the final (empty: one look, at the cut)."""
    efficacy: Efficacy | None = None
    """Efficacy bounds of the looks (default with looks: Lan-DeMets O'Brien-Fleming)."""
    futility: Futility | None = None
    """Futility bounds of the interim looks (none if absent)."""
    triggers: AnalysisTriggers | None = None
    """Composite triggers of the final analysis: event targets per stratum, minimum
    follow-up, calendar floor and cap, maximum extension, DMC meetings (docs/conduct.md)."""
    rerandomization_draws: Annotated[int, Field(ge=19, le=100_000)] | None = None
    """Re-randomization test beside the stratified log-rank (for minimized trials): the
    patients randomized again this many times by the scenario's method with fresh coins,
    p = (1 + re-randomized z at least as extreme) / (draws + 1); empty: no such test
    [re-randomizations]."""
    bayesian: Bayesian | None = None
    """A Bayesian efficacy or go/no-go rule at the interim looks on P(HR < c | data), beside
    the efficacy and futility bounds (none if absent; needs prior.hazard_ratio)."""

    @model_validator(mode="before")
    @classmethod
    def final_look_is_the_cut(cls, data: Any) -> Any:
        """With looks, the final look's trigger fills event_target / cut_date and cut."""
        if not isinstance(data, dict) or not isinstance(data.get("looks"), list | tuple):
            return data  # not a list of looks: the field's own validation says so
        if not data["looks"]:
            return data
        final = data["looks"][-1]
        if not isinstance(final, dict):
            return data
        data = dict(data)
        if final.get("events") is not None:
            if data.get("event_target") is None:
                data["event_target"] = final["events"]
            if data.get("cut") is None:
                data["cut"] = "first" if data.get("cut_date") is not None else "events"
        elif final.get("date") is not None:
            if data.get("cut_date") is None:
                data["cut_date"] = final["date"]
            if data.get("cut") is None:
                data["cut"] = "date"
        return data

    @model_validator(mode="after")
    def check_looks(self) -> Analysis:
        if not self.looks:
            for name in ("efficacy", "futility", "bayesian"):
                if getattr(self, name) is not None:
                    raise field_error(
                        (name,), "...", "bounds need looks: add looks: [{events: 35}, {events: 70}]"
                    )
            return self
        final = self.looks[-1]
        k = len(self.looks)
        if (
            final.information is not None
            or final.not_before is not None
            or final.not_after is not None
        ):
            raise field_error(
                ("looks", k - 1),
                final.model_dump(mode="json", exclude_none=True),
                "the final look is triggered by events or a date (no "
                "information, not_before or not_after; a calendar cap of the "
                "final is cut_date): e.g. {events: 70}",
            )
        if final.events is not None and final.events != self.event_target:
            raise field_error(
                ("event_target",),
                self.event_target,
                f"differs from the final look's events {final.events}: drop "
                "event_target (the final look sets it) or make them equal",
            )
        if final.date is not None and self.cut == "events":
            raise field_error(
                ("cut",),
                self.cut,
                "the final look is on a date: use cut: date "
                "(or drop cut; first with an event_target caps it by events)",
            )
        if final.date is not None and final.date != self.cut_date:
            raise field_error(
                ("cut_date",),
                str(self.cut_date),
                f"differs from the final look's date {final.date}: drop "
                "cut_date or make them equal",
            )
        if any(look.information is not None for look in self.looks) and final.events is None:
            raise field_error(
                ("looks",),
                "...",
                "information fractions need a final look "
                "triggered by events: e.g. [{information: 0.5}, {events: 70}]",
            )
        sizes = [
            look.events or (look.information or 0) * (self.event_target or 0) for look in self.looks
        ]
        for i in range(1, k):
            both = self.looks[i].date is None and self.looks[i - 1].date is None
            if both and sizes[i] <= sizes[i - 1]:
                shown = self.looks[i].model_dump(mode="json", exclude_none=True)
                raise field_error(
                    ("looks", i),
                    shown,
                    f"look {i + 1} comes at no more events than look {i}: "
                    "give the looks in time order with increasing events",
                )
        dates = [(i, look.date) for i, look in enumerate(self.looks) if look.date is not None]
        for (_, a), (j, b) in zip(dates, dates[1:], strict=False):
            if b <= a:
                raise field_error(
                    ("looks", j, "date"),
                    str(b),
                    "look dates must increase: give the looks in time order",
                )
        if self.efficacy is not None and self.efficacy.z is not None and len(self.efficacy.z) != k:
            raise field_error(
                ("efficacy", "z"),
                list(self.efficacy.z),
                f"needs one bound per look ({k}), e.g. {[2.96, 1.97][:k]}",
            )
        if self.bayesian is not None and (self.sides != 1 or k == 1):
            raise field_error(
                ("bayesian",),
                "...",
                "a Bayesian rule acts at interim looks of a one-sided test: set sides: 1 and "
                "add an interim look, or drop the bayesian block",
            )
        fut = self.futility
        if fut is not None:
            if self.sides != 1:
                raise field_error(
                    ("futility",),
                    "...",
                    "futility bounds are for one-sided "
                    "tests: set sides: 1 or drop the futility block",
                )
            if k == 1:
                raise field_error(
                    ("futility",),
                    "...",
                    "futility needs an interim look: "
                    "add one before the final, or drop the futility block",
                )
            for name in ("z", "hazard_ratio"):
                values = getattr(fut, name)
                if values is not None and len(values) != k - 1:
                    raise field_error(
                        ("futility", name),
                        list(values),
                        f"needs one value per interim look ({k - 1})",
                    )
            if (
                fut.spending is not None
                and self.efficacy is not None
                and self.efficacy.z is not None
            ):
                raise field_error(
                    ("futility", "spending"),
                    "...",
                    "beta spending needs "
                    "efficacy spending (not fixed z bounds): use z or "
                    "hazard_ratio futility bounds instead",
                )
        return self

    @property
    def endpoint_name(self) -> str:
        """The primary endpoint as every label names it: PFS or OS."""
        return ENDPOINT_WORDS[self.endpoint]["endpoint"]

    @property
    def events_label(self) -> str:
        """What the primary endpoint's events are called: PFS events, deaths (OS events)."""
        return ENDPOINT_WORDS[self.endpoint]["events"]

    @property
    def efficacy_rule(self) -> Efficacy:
        """The efficacy bounds; Lan-DeMets O'Brien-Fleming when the looks give none."""
        return self.efficacy or Efficacy(spending="obrien_fleming")

    test: str = "logrank"
    """The primary test (its rejections are `power`): logrank, fh:RHO:GAMMA,
    mb:TSTAR_MONTHS[:WMAX], maxcombo[:RHO:GAMMA+RHO:GAMMA...], rmst:TAU_MONTHS,
    milestone:T_MONTHS, ahr[:TAU_MONTHS] [-]."""
    supportive_tests: tuple[str, ...] = ()
    """Further tests computed in every replicate, each with power_<name> in summary.csv
    (same syntax as `test`) [-]."""

    @field_validator("test")
    @classmethod
    def check_test(cls, value: str) -> str:
        parse_test(value)
        return value

    @field_validator("supportive_tests")
    @classmethod
    def check_supportive(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = [parse_test(v).name for v in value]
        if len(set(names)) != len(names):
            raise ValueError(f"supportive_tests repeat a test ({names}): list each once")
        return value

    @model_validator(mode="after")
    def check_test_with_looks(self) -> Analysis:
        if self.looks and parse_test(self.test).kind != "logrank":
            raise field_error(
                ("test",),
                self.test,
                "group-sequential looks test the "
                "log-rank: keep test: logrank with looks (supportive_tests are "
                "computed at the analysis that ended each trial)",
            )
        return self

    @property
    def tests(self) -> tuple[TestSpec, ...]:
        """The primary test, then the supportive ones not equal to it."""
        primary = parse_test(self.test)
        return (
            primary,
            *(t for t in map(parse_test, self.supportive_tests) if t.name != primary.name),
        )

    @model_validator(mode="after")
    def check_cut_fields(self) -> Analysis:
        check_cut_trigger(self.cut, self.event_target, self.cut_date, "e.g. 70")
        return self


def check_bayesian_prior(scenario: object) -> None:
    """A Bayesian rule's posterior needs a design prior on the hazard ratio.

    `scenario` is a `sim.scenario.model.Scenario` (not imported: model imports this)."""
    rule = scenario.analysis.bayesian  # type: ignore[attr-defined]
    prior = getattr(scenario, "prior", None)
    if rule is not None and (prior is None or prior.hazard_ratio is None):
        raise field_error(
            ("analysis", "bayesian"),
            None,
            f"the rule P(HR < {rule.hr_below:g} | data) > {rule.probability:g} needs a "
            "posterior, hence a design prior on the hazard ratio: add prior: {hazard_ratio: "
            "{distribution: lognormal, median: 0.6, sd_log: 0.25}} (or drop analysis.bayesian)",
        )
