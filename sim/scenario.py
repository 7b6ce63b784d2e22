"""The scenario: one YAML file -> one validated, frozen description of a trial.

`load_scenario` is the only way in: ``yaml.safe_load`` -> ``--set`` overrides -> pydantic
validation. Model code never sees a raw dict. Every validation failure becomes a
`ScenarioError` whose message names the dotted field path, the value, the rule and a fix.

Units: calendar fields are dates; durations in the YAML say their unit in the key
(``months``, ``days``, ``weeks``); the simulation clock is days from ``trial.start_date``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.errors import ScenarioError  # noqa: F401 (re-exported: sim.scenario.ScenarioError)

DAYS_PER_MONTH = 30.4375  # 365.25 / 12: months in every output are days / 30.4375
DAYS_PER_YEAR = 365.25
MAX_STUDY_YEARS = 50  # a study (its dates, its accrual) longer than this cannot be simulated
MAX_SAMPLE_SIZE = 20_000  # a chunk of replicates of a trial is held in memory at once
MAX_HAZARD_RATIO = 1000.0  # hazard ratios outside [1/1000, 1000] are no trial's effect
MAX_DAYS = 366 * MAX_STUDY_YEARS  # a treatment gap, window or interval longer than a study
MAX_CYCLES = 520  # cycles or courses of one patient: weekly for ten years

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
PositiveDays = Annotated[int, Field(gt=0, le=MAX_DAYS)]
Cycles = Annotated[int, Field(gt=0, le=MAX_CYCLES)]


class Frozen(BaseModel):
    """Base of every scenario block: immutable, unknown keys rejected.

    Each field carries a docstring on the line below it: what it means, then its unit in
    square brackets (``[months]``, ``[mg/m2]``, ``[share]``); these become the descriptions and
    units of the JSON Schema (``python -m sim schema``) and of ``docs/scenario.md``. They are
    read from this file's source when the schema is made (`sim.commands.schema`), not at
    import: pydantic's ``use_attribute_docstrings`` would cost every command ~0.3 s.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def refuse_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        """`true` is not 1: a boolean where the field (or a row of it) is a number is an error
        (pydantic would read it as 1 or 0). Non-finite numbers: ``allow_inf_nan=False``."""
        if info.field_name is None:
            return value
        where = find_bool_for_number(value, cls.model_fields[info.field_name].annotation)
        if where is not None:
            at = f" (at {where})" if where else ""
            raise ValueError(
                f"a boolean{at} where a number is expected: write the number, "
                "e.g. 1 (true and false are not numbers)"
            )
        return value


def find_bool_for_number(value: Any, annotation: Any) -> str | None:
    """Where in `value` a bool stands for a number of `annotation` ("" for the value itself,
    "2" for row 2 of a table, "squamous" for a dict entry); None if nowhere."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return find_bool_for_number(value, typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if bool in args:
            return None
        hits = [find_bool_for_number(value, a) for a in args if a is not type(None)]
        return next((h for h in hits if h is not None), None)
    if origin is Literal:
        numbers = [
            a
            for a in typing.get_args(annotation)
            if isinstance(a, int | float) and not isinstance(a, bool)
        ]
        return "" if isinstance(value, bool) and numbers else None
    if annotation in (int, float):
        return "" if isinstance(value, bool) else None
    if origin is tuple and isinstance(value, list | tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        for i, item in enumerate(value):
            arg = args[0] if len(args) == 1 else args[i] if i < len(args) else None
            hit = find_bool_for_number(item, arg) if arg is not None else None
            if hit is not None:
                return ".".join(x for x in (str(i), hit) if x)
        return None
    if origin is dict and isinstance(value, dict):
        arg = typing.get_args(annotation)[1]
        for key, item in value.items():
            hit = find_bool_for_number(item, arg)
            if hit is not None:
                return ".".join(x for x in (str(key), hit) if x)
    return None


# --- trial ---------------------------------------------------------------------------------


class Trial(Frozen):
    """The trial: registry identifier, dates and sample size."""

    id: str
    """Registry identifier of the trial, e.g. NCT07271602."""
    title: str = ""
    """Short title, shown in reports."""
    start_date: dt.date
    """First day of the study: day 0 of the simulation clock."""
    completion_date: dt.date
    """Registered (primary) completion date: the date the planner must meet."""
    sample_size: Annotated[int, Field(gt=0, le=MAX_SAMPLE_SIZE)]
    """Patients to randomize; enrollment closes at this number [patients]."""

    @model_validator(mode="after")
    def check_dates_in_order(self) -> Trial:
        if self.completion_date <= self.start_date:
            raise ValueError(
                f"completion_date {self.completion_date} is not after start_date "
                f"{self.start_date}: dates out of order (put the completion date later)"
            )
        if (self.completion_date - self.start_date).days > MAX_STUDY_YEARS * DAYS_PER_YEAR:
            raise field_error(
                ("completion_date",),
                self.completion_date.isoformat(),
                f"more than {MAX_STUDY_YEARS} years after start_date {self.start_date}: no "
                "trial runs that long (check the year)",
            )
        return self


# --- enrollment ----------------------------------------------------------------------------


class RatePeriod(Frozen):
    """One row of a piecewise-constant rate table; `months` None means 'from here on'."""

    months: PositiveFloat | None = None
    """Length of this period; empty on the last row means 'from here on' [months]."""
    per_month: NonNegativeFloat
    """Screening arrivals per month in this period (a Poisson rate) [patients/month]."""


def check_rate_table(periods: tuple[RatePeriod, ...]) -> tuple[RatePeriod, ...]:
    if not periods:
        raise ValueError("the rate table is empty: give at least one {per_month: ...} row")
    for row in periods[:-1]:
        if row.months is None:
            raise ValueError(
                "only the last period may be open-ended: give `months` for every earlier row"
            )
    if periods[-1].months is None and periods[-1].per_month == 0:
        raise ValueError("the open-ended last period has rate 0: patients would never come")
    if all(row.per_month == 0 for row in periods):
        raise ValueError("every period has rate 0: give at least one positive per_month")
    return periods


class DayRange(Frozen):
    """A duration drawn uniformly in whole days from min to max inclusive."""

    min: NonNegativeInt = 0
    """Shortest duration [days]."""
    max: NonNegativeInt = 0
    """Longest duration (drawn uniformly from min to max) [days]."""

    @model_validator(mode="after")
    def check_order(self) -> DayRange:
        if self.max < self.min:
            raise ValueError(f"max {self.max} < min {self.min}: put max >= min")
        return self


class Site(Frozen):
    """A site: screening arrivals from its activation date, with its own ramp-up table."""

    name: str
    """Site name, unique in the scenario."""
    activation_date: dt.date
    """Date the site starts screening."""
    screening_rate: tuple[RatePeriod, ...]
    """The site's screening arrivals as a table of periods from its activation."""
    cap: PositiveInt | None = None
    """Most patients this site may randomize; empty: no cap [patients]."""

    _check_rates = field_validator("screening_rate")(check_rate_table)


class Criterion(Frozen):
    """One eligibility check of the screening funnel, passed with `pass_probability`."""

    name: str
    """Name of the eligibility check, recorded as the screen-failure reason."""
    pass_probability: Annotated[float, Field(gt=0.0, le=1.0)]
    """Probability that a screened patient passes this check [probability]."""


class Enrollment(Frozen):
    """Screening arrivals (one site: `screening_rate`; several: `sites`), screening time, and
    screen failure (overall: `screen_failure`; or a funnel: `criteria`, checked in order, the
    first failed one being the recorded reason)."""

    screening_rate: tuple[RatePeriod, ...] | None = None
    """One site open at the start: its screening arrivals as a table of periods (give this or
    `sites`)."""
    sites: tuple[Site, ...] = ()
    """Several sites, each with its activation date and arrival table (give this or
    `screening_rate`)."""
    site_heterogeneity: PositiveFloat | None = None
    """Poisson-gamma shape of the sites' rates (Anisimov-Fedorov): smaller means more spread between
    sites; empty: every site at its stated rate."""
    screening_days: DayRange = DayRange()
    """Time from screening start to the eligibility decision [days]."""
    screen_failure: Probability | None = None
    """Probability that a screened patient is not eligible (or give `criteria`) [probability]."""
    criteria: tuple[Criterion, ...] = ()
    """Screening funnel: checks in order, the first failed one is the recorded reason (instead of
    `screen_failure`)."""
    # New screenings a site can start per open clinic day; None: unlimited.
    screening_slots_per_day: PositiveInt | None = None
    """New screenings a site can start per open clinic day (first come, first served); empty:
    unlimited [patients/day]."""

    @field_validator("screening_rate")
    @classmethod
    def check_rates(cls, value: tuple[RatePeriod, ...] | None) -> tuple[RatePeriod, ...] | None:
        return None if value is None else check_rate_table(value)

    @model_validator(mode="after")
    def check_one_source_each(self) -> Enrollment:
        if (self.screening_rate is None) == (not self.sites):
            raise ValueError(
                "give either screening_rate (one site open at the start) or sites (a list)"
            )
        if self.screen_failure is not None and self.criteria:
            raise ValueError("give either screen_failure or criteria (a funnel), not both")
        if self.failure_probability >= 1.0:
            raise ValueError("screen failure is 1: nobody would ever be randomized; lower it")
        names = [site.name for site in self.sites]
        if len(set(names)) != len(names):
            raise ValueError(f"site names repeat in {names}: give each site its own name")
        names = [criterion.name for criterion in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError(
                f"criterion names repeat in {names}: give each criterion its own "
                "name (or merge the two into one)"
            )
        return self

    @property
    def failure_probability(self) -> float:
        if self.criteria:
            return 1.0 - math.prod(c.pass_probability for c in self.criteria)
        return self.screen_failure or 0.0

    def site_list(self, start: dt.date) -> tuple[Site, ...]:
        """The sites; the one-site shortcut becomes a site open at the study start."""
        if self.sites:
            return self.sites
        assert self.screening_rate is not None
        return (Site(name="site 1", activation_date=start, screening_rate=self.screening_rate),)


# --- randomization -------------------------------------------------------------------------


class Randomization(Frozen):
    """Allocation: ratio, permuted blocks of random size, strata and their shares."""

    ratio: tuple[PositiveInt, PositiveInt] = (1, 1)
    """Allocation ratio: control, then experimental (e.g. [1, 1] or [1, 2])."""
    block_sizes: tuple[PositiveInt, ...] = (4,)
    """Permuted block sizes, drawn uniformly per block; each a multiple of the ratio's total
    [patients]."""
    strata: dict[str, Probability] = Field(default_factory=lambda: {"all": 1.0})
    """Strata and the share of patients in each (they sum to 1); randomization is stratified by them
    [share]."""

    @model_validator(mode="after")
    def check_blocks_and_strata(self) -> Randomization:
        unit = sum(self.ratio)
        for size in self.block_sizes:
            if size % unit:
                raise field_error(
                    ("block_sizes",),
                    list(self.block_sizes),
                    f"block size {size} is not a multiple of ratio total {unit}: "
                    f"use multiples of {unit} (e.g. {2 * unit}, {3 * unit})",
                )
        total = sum(self.strata.values())
        if abs(total - 1.0) > 1e-9:
            raise field_error(
                ("strata",),
                dict(self.strata),
                f"stratum shares sum to {total:g}, not 1: rescale them (e.g. 0.45 and 0.55)",
            )
        return self


# --- outcomes ------------------------------------------------------------------------------


def piece_table(pieces, value: str) -> tuple[list[float], list[float]]:
    """(starts_days, values) of consecutive pieces, each `months` long (the last open-ended),
    `value` the attribute each piece holds (a hazard per day, a hazard ratio)."""
    starts, values, t = [], [], 0.0
    for row in pieces:
        starts.append(t)
        values.append(getattr(row, value))
        t += (row.months or 0.0) * DAYS_PER_MONTH
    return starts, values


class HazardPeriod(Frozen):
    """One piece of a piecewise-constant hazard: its length and its hazard."""

    months: PositiveFloat | None = None
    """Length of this piece; empty on the last piece (open-ended) [months]."""
    median_months: PositiveFloat | None = None
    """The piece's hazard given as the median of an exponential with that hazard (or give
    `per_month`) [months]."""
    per_month: PositiveFloat | None = None
    """The piece's hazard (or give `median_months`) [1/month]."""

    @model_validator(mode="after")
    def check_one_rate(self) -> HazardPeriod:
        if (self.median_months is None) == (self.per_month is None):
            raise ValueError("give exactly one of median_months or per_month (hazard per month)")
        return self

    @property
    def hazard_per_day(self) -> float:
        per_month = self.per_month if self.per_month is not None else 0.0
        if self.median_months is not None:
            per_month = math.log(2.0) / self.median_months
        return per_month / DAYS_PER_MONTH


class Survival(Frozen):
    """One arm's PFS: exponential (`median_months`), piecewise exponential (`pieces`) or
    Weibull (`shape` with `scale_months` or `median_months`), with an optional cure
    (mixture) fraction on top: S(t) = cure + (1 - cure) S_uncured(t)."""

    distribution: Literal["exponential", "piecewise_exponential", "weibull"] = "exponential"
    """Shape of the time to the event: `exponential`, `piecewise_exponential` or `weibull`."""
    median_months: PositiveFloat | None = None
    """Median of the exponential distribution [months]."""
    pieces: tuple[HazardPeriod, ...] = ()
    """Pieces of the piecewise-constant hazard, from time 0; the last one open-ended."""
    shape: PositiveFloat | None = None
    """Weibull shape k: hazard rising (k > 1) or falling (k < 1) as t^(k-1) [1]."""
    scale_months: PositiveFloat | None = None
    """Weibull scale: S(t) = exp(-(t / scale)^shape) for the uncured [months]."""
    cure_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Share of patients who never have the event (mixture cure); the distribution above
    (and any hazard ratio) is that of the others [share]."""

    @model_validator(mode="after")
    def check_shape(self) -> Survival:
        if self.distribution == "weibull":
            if self.shape is None or self.pieces:
                raise ValueError("weibull needs shape (and no pieces), e.g. shape: 1.3")
            if (self.scale_months is None) == (self.median_months is None):
                raise ValueError("weibull needs exactly one of scale_months or median_months")
            return self
        if self.shape is not None or self.scale_months is not None:
            raise ValueError(
                f"shape and scale_months are Weibull fields: drop them or use "
                f"distribution: weibull (not {self.distribution})"
            )
        if self.distribution == "exponential":
            if self.median_months is None or self.pieces:
                raise ValueError("exponential needs median_months (and no pieces)")
        else:
            if not self.pieces or self.median_months is not None:
                raise ValueError("piecewise_exponential needs pieces (and no median_months)")
            for row in self.pieces[:-1]:
                if row.months is None:
                    raise ValueError("only the last piece may be open-ended: give its months")
            if self.pieces[-1].months is not None:
                raise ValueError("the last piece must be open-ended: drop its months")
        return self

    @property
    def weibull_scale_days(self) -> float:
        """Weibull scale in days (from scale_months, or median = scale (ln 2)^(1/shape))."""
        assert self.shape is not None
        if self.scale_months is not None:
            return self.scale_months * DAYS_PER_MONTH
        assert self.median_months is not None
        return self.median_months * DAYS_PER_MONTH / math.log(2.0) ** (1.0 / self.shape)

    @property
    def is_piecewise_exponential(self) -> bool:
        """Exponential or piecewise exponential, no cure fraction: the closed forms' case."""
        return self.distribution != "weibull" and self.cure_fraction == 0.0

    def uncured_cumulative_hazard(self, day: float) -> float:
        """H(day) of the distribution (the uncured), day in days."""
        if self.distribution == "weibull":
            assert self.shape is not None
            return (day / self.weibull_scale_days) ** self.shape
        starts, hazards = self.hazard_table()
        bounds = [*starts[1:], math.inf]
        return sum(
            h * max(0.0, min(day, b) - a) for a, b, h in zip(starts, bounds, hazards, strict=True)
        )

    def hazard_table(self) -> tuple[list[float], list[float]]:
        """(starts_days, hazards_per_day) of the piecewise-constant hazard (of the uncured)."""
        if self.distribution == "weibull":
            raise ValueError("a Weibull hazard has no piecewise-constant table")
        if self.distribution == "exponential":
            assert self.median_months is not None
            return [0.0], [math.log(2.0) / self.median_months / DAYS_PER_MONTH]
        return piece_table(self.pieces, "hazard_per_day")


class Pfs(Frozen):
    """Progression-free survival of the control arm, and the share of PFS events that are deaths."""

    control: Survival
    """Progression-free survival of the control arm."""
    death_fraction: Probability = 0.0
    """Share of PFS events that are deaths without progression (seen when they happen, not at a
    scan) [share]."""
    experimental: Survival | None = None
    """The experimental arm's own PFS distribution instead of an `effect` on the control's
    (then give no effect block, or an empty one) [-]."""
    stratum_hazard_multiplier: dict[str, PositiveFloat] = Field(default_factory=dict)
    """Prognostic strata: the (uncured) PFS hazard of each arm in a stratum is multiplied by
    this; the `control` distribution is that of a multiplier-1 patient; strata not named
    get 1 [ratio]."""


class HazardRatioPeriod(Frozen):
    """One row of a piecewise hazard ratio; the last row is open-ended."""

    months: PositiveFloat | None = None
    """Length of this period from randomization; None on the last row [months]."""
    hazard_ratio: PositiveFloat
    """Experimental over control (uncured) hazard during this period [ratio]."""


class Effect(Frozen):
    """The experimental arm's PFS relative to the control's: one `hazard_ratio`
    (proportional hazards) or a `piecewise_hazard_ratio` over time since randomization
    (a delayed effect: [{months: 3, hazard_ratio: 1.0}, {hazard_ratio: 0.5}])."""

    hazard_ratio: PositiveFloat | None = None
    """Hazard ratio of the experimental arm against control (proportional hazards; the intention-to-
    treat effect) [ratio]."""
    piecewise_hazard_ratio: tuple[HazardRatioPeriod, ...] = ()
    """Hazard ratio by period since randomization, the last row open-ended [ratio]."""
    cure_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    """The experimental arm's cure fraction; None: the control's [share]."""

    @model_validator(mode="after")
    def check_one_effect(self) -> Effect:
        rows = self.piecewise_hazard_ratio
        if self.hazard_ratio is not None and rows:
            raise ValueError("give hazard_ratio or piecewise_hazard_ratio, not both")
        for row in rows[:-1]:
            if row.months is None:
                raise ValueError(
                    "only the last piecewise_hazard_ratio row may be "
                    "open-ended: give months for the others"
                )
        if rows and rows[-1].months is not None:
            raise ValueError(
                "the last piecewise_hazard_ratio row must be open-ended: drop its months"
            )
        return self

    @property
    def is_empty(self) -> bool:
        return self.hazard_ratio is None and not self.piecewise_hazard_ratio

    def ratio_table(self) -> tuple[list[float], list[float]]:
        """(starts_days, hazard_ratios) of the piecewise-constant hazard ratio."""
        if self.hazard_ratio is not None:
            return [0.0], [self.hazard_ratio]
        return piece_table(self.piecewise_hazard_ratio, "hazard_ratio")

    @field_validator("hazard_ratio")
    @classmethod
    def check_plausible(cls, value: float | None) -> float | None:
        if value is not None and not 1 / MAX_HAZARD_RATIO <= value <= MAX_HAZARD_RATIO:
            raise ValueError(
                f"outside {1 / MAX_HAZARD_RATIO:g} to {MAX_HAZARD_RATIO:g}: no "
                "treatment changes a hazard that much (e.g. 0.6)"
            )
        return value


class Dropout(Frozen):
    """Withdrawal / loss to follow-up: exponential, `probability` of dropping out by `months`
    (or a piecewise-exponential hazard, `pieces`); the experimental arm may have its own."""

    probability: Probability = 0.0
    """Probability of withdrawal or loss to follow-up by `months` (exponential) [probability]."""
    months: PositiveFloat = 12.0
    """Time at which `probability` of patients have dropped out [months]."""
    pieces: tuple[HazardPeriod, ...] = ()
    """Piecewise-exponential withdrawal hazard instead of probability/months, e.g.
    [{months: 6, per_month: 0.01}, {per_month: 0.004}] [per month]."""
    experimental: Dropout | None = None
    """The experimental arm's own dropout (same fields); None: as the control arm [-]."""

    @model_validator(mode="after")
    def check_pieces(self) -> Dropout:
        if self.pieces:
            for row in self.pieces[:-1]:
                if row.months is None:
                    raise ValueError("only the last dropout piece may be open-ended")
            if self.pieces[-1].months is not None:
                raise ValueError("the last dropout piece must be open-ended: drop its months")
        if self.experimental is not None and self.experimental.experimental is not None:
            raise ValueError("dropout.experimental cannot have its own experimental block")
        return self

    def hazard_table(self) -> tuple[list[float], list[float]]:
        """(starts_days, hazards_per_day) of this arm's withdrawal hazard."""
        if not self.pieces:
            return [0.0], [self.hazard_per_day]
        return piece_table(self.pieces, "hazard_per_day")

    def arm(self, arm: int) -> Dropout:
        """The dropout of arm 0 (control) or 1 (experimental)."""
        return self.experimental if arm == 1 and self.experimental is not None else self

    @field_validator("probability")
    @classmethod
    def check_below_one(cls, value: float) -> float:
        if value >= 1.0:
            raise ValueError("probability 1 means everyone drops out at once: use < 1")
        return value

    @property
    def hazard_per_day(self) -> float:
        return -math.log1p(-self.probability) / (self.months * DAYS_PER_MONTH)


def check_cut_trigger(
    cut: str, event_target: int | None, cut_date: dt.date | None, target_example: str
) -> None:
    """A data cut by events needs its target, one by date its date ("first": both)."""
    if cut in ("events", "first") and event_target is None:
        raise ValueError(f"cut '{cut}' needs event_target ({target_example})")
    if cut in ("date", "first") and cut_date is None:
        raise ValueError(f"cut '{cut}' needs cut_date (e.g. 2028-12-31)")


class OverallSurvival(Frozen):
    """Overall survival by an illness-death model. From randomization a patient progresses
    (hazard h01) or dies without progression (h02): the scenario's PFS hazard is h01 + h02
    and `pfs.death_fraction` is h02 / (h01 + h02). After a progression the patient dies with
    hazard h12 on the time since progression (`post_progression`, semi-Markov; for
    exponential h12 the same as Markov). OS >= PFS for every patient, a PFS death is the OS
    death, and dropout censors both."""

    post_progression: Survival
    """Control-arm survival after progression (h12): exponential or piecewise exponential."""
    post_progression_hazard_ratio: PositiveFloat = 1.0
    """Hazard of death after progression, experimental over control [ratio]."""
    cut: Literal["pfs", "events", "date", "first"] = "pfs"
    """OS's own analysis: at the PFS analysis cut, at `event_target` deaths, at `cut_date`,
    or whichever of the two comes first."""
    event_target: PositiveInt | None = None
    """Deaths that trigger the OS analysis (cut "events" or "first") [deaths]."""
    cut_date: dt.date | None = None
    """Calendar cut of the OS analysis (cut "date" or "first") [date]."""
    maturity_date: dt.date | None = None
    """Date at which OS maturity (deaths so far) is counted; None: trial.completion_date
    [date]."""

    @model_validator(mode="after")
    def check_cut_fields(self) -> OverallSurvival:
        check_cut_trigger(self.cut, self.event_target, self.cut_date, "deaths, e.g. 60")
        return self


class PerArm(Frozen):
    """One probability per arm."""

    control: Probability
    """Control arm [share]."""
    experimental: Probability
    """Experimental arm [share]."""


class Response(Frozen):
    """Best overall response (RECIST-like) at the scheduled scans. A patient progression-free
    and alive at the first scan responds with the probability that makes the arm's share of
    responders among all randomized patients `objective_response` (without dropout or cut);
    a responder's response is seen at the first scan and lasts until the progression. Of
    the responders, `complete_share` are complete responses (CR), the others partial (PR);
    a non-responder progression-free at a scan has stable disease (SD); a progression seen
    at a scan before any response is PD; no scan before the death, withdrawal or cut: not
    evaluable (NE), counted as a non-responder."""

    objective_response: PerArm
    """Objective response rate (CR + PR) of all randomized patients, per arm [share]."""
    complete_share: Probability = 0.1
    """Share of the responders whose best response is complete [share]."""


class LocalControl(Frozen):
    """Local control of the irradiated (index) lesion, followed in both arms. A progression
    involves the index lesion with a per-arm probability chosen so that the lesion's
    cumulative hazard of progression by `months` gives `progression_by_months` (cause-
    specific hazard proportional to the progression hazard h01); the local progression is
    then seen with the overall progression, never after it, and after a progression that
    spares the lesion, or a death, the lesion is no longer followed (censored)."""

    progression_by_months: PerArm
    """Probability of local progression of the index lesion by `months`, per arm, in the
    absence of death and dropout [share]."""
    months: PositiveFloat = 12.0
    """Time at which `progression_by_months` holds [months]."""
    landmarks_months: tuple[PositiveFloat, ...] = (6.0, 12.0)
    """Times at which the local-control rate is estimated (Kaplan-Meier) [months]."""


GradeTable = dict[Annotated[int, Field(ge=1, le=4)], Probability]


class AdverseEvent(Frozen):
    """One kind of treatment-related adverse event (CTCAE-like grades 1-4). After each cycle
    of `phase` the patient has an event with probability `per_cycle` of the arm, and after
    each Quad Shot course with probability `per_course`; its grade is drawn from `grades`
    and its onset uniformly between the cycle (course end) and the next cycle. Its
    consequences, each drawn with the probability of its grade, are the clinic's: `delay`
    the next cycle by treatment.delay.days, `reduce` the dose level from the next cycle,
    `discontinue` all treatment, `stop_rt` the remaining Quad Shot courses."""

    name: str
    """Category reported in the outputs, e.g. haematologic, immune-related, pneumonitis."""
    per_cycle: PerArm = PerArm(control=0.0, experimental=0.0)
    """Probability of an event after each cycle of `phase`, per arm [share per cycle]."""
    phase: Literal["induction", "maintenance", "all"] = "all"
    """Cycles at risk: induction (chemotherapy), maintenance or all."""
    per_course: Probability = 0.0
    """Probability of an event after each Quad Shot course [share per course]."""
    grades: GradeTable
    """Grade distribution of an event, {grade: probability}, summing to 1 [share]."""
    delay: GradeTable = Field(default_factory=dict)
    """Probability that an event of each grade delays the next cycle [share]."""
    reduce: GradeTable = Field(default_factory=dict)
    """Probability that an event of each grade lowers the dose level [share]."""
    discontinue: GradeTable = Field(default_factory=dict)
    """Probability that an event of each grade ends all treatment [share]."""
    stop_rt: GradeTable = Field(default_factory=dict)
    """Probability that an event of each grade ends Quad Shot RT [share]."""

    @model_validator(mode="after")
    def check_grades(self) -> AdverseEvent:
        total = sum(self.grades.values())
        if abs(total - 1.0) > 1e-9:
            raise field_error(
                ("grades",),
                dict(self.grades),
                f"grade probabilities sum to {total:g}, not 1: rescale them "
                "(e.g. {2: 0.5, 3: 0.4, 4: 0.1})",
            )
        return self


class Safety(Frozen):
    """Adverse events drive the clinic: every toxicity delay, dose reduction, discontinuation
    and RT stop is the consequence of an event of `events` (one process); so with a safety
    block treatment.delay.probability, treatment.dose_reduction.probability,
    treatment.discontinuation_per_cycle and radiotherapy.pneumonitis must be 0. Without a
    treatment block there are no cycles, hence no events."""

    events: tuple[AdverseEvent, ...]
    """The kinds of adverse events."""
    watch: str | None = None
    """Category whose count of patients is reported as P(at least k) (e.g. pneumonitis)."""
    at_least: tuple[PositiveInt, ...] = (1, 2, 3, 5)
    """The k of P(at least k patients with a `watch` event) [patients]."""

    @model_validator(mode="after")
    def check_events(self) -> Safety:
        names = [e.name for e in self.events]
        if not names:
            raise ValueError("safety.events is empty: give at least one kind of event")
        if len(set(names)) != len(names):
            raise ValueError(f"event names repeat in {names}: give each its own name")
        if self.watch is not None and self.watch not in names:
            raise field_error(("watch",), self.watch, f"not an event name: use one of {names}")
        return self


# --- tumour assessments --------------------------------------------------------------------


class ScanPeriod(Frozen):
    """One period of the scan schedule: its length and the interval between scans."""

    weeks: PositiveFloat | None = None
    """Length of this period of the schedule, from randomization; empty on the last row (until
    progression) [weeks]."""
    every_weeks: PositiveFloat
    """Interval between tumour assessments in this period [weeks]."""


class Assessments(Frozen):
    """`continuous`: progression seen when it happens; `scheduled`: at the next scan."""

    mode: Literal["continuous", "scheduled"] = "scheduled"
    """`scheduled`: progression is seen at the first scan on or after it; `continuous`: when it
    happens."""
    schedule: tuple[ScanPeriod, ...] = ()
    """The scan schedule from randomization, as periods (e.g. every 6 weeks for 48 weeks, then every
    12)."""
    window_days: NonNegativeInt | None = None
    """Visit window of a scan: a scan due on a closed clinic day is done on the nearest open day
    within +/- this many days of its due date (the earlier on a tie), or, with none open, on
    the first open day after the window; empty: scans on their due days whatever the
    calendar [days]."""

    @model_validator(mode="after")
    def check_schedule(self) -> Assessments:
        if self.mode == "scheduled":
            if not self.schedule:
                raise ValueError("scheduled assessments need a schedule: [{every_weeks: 6}]")
            for row in self.schedule[:-1]:
                if row.weeks is None:
                    raise ValueError("only the last schedule period may be open-ended")
            if self.schedule[-1].weeks is not None:
                raise ValueError("the last schedule period must be open-ended: drop its weeks")
        return self


# --- treatment and radiotherapy ------------------------------------------------------------


class Delay(Frozen):
    """Cycle delays: each cycle after the first is delayed with `probability`, by `days`."""

    probability: Probability = 0.0
    """Probability that a cycle is delayed (toxicity or logistics) [probability]."""
    days: Days = 0
    """Length of a delay [days]."""


def field_error(loc: tuple[str | int, ...], value: Any, message: str) -> ValidationError:
    """A validation error at `loc` (relative to the model raising it), for cross-field rules
    whose culprit is one field: the message then names that field's dotted path."""
    from pydantic_core import InitErrorDetails, PydanticCustomError

    detail = InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=loc, input=value
    )
    return ValidationError.from_exception_data("Scenario", [detail])


class Window(Frozen):
    """A protocol window around a due day: a visit may be given from `before_days` before to
    `after_days` after it (a "-0/+3 days" window is before_days 0, after_days 3)."""

    before_days: Annotated[int, Field(le=MAX_DAYS)] = 0
    """A visit may be given this many days before its due day [days]."""
    after_days: Annotated[int, Field(le=MAX_DAYS)] = 0
    """A visit may be given this many days after its due day; later is a deviation [days]."""

    @field_validator("before_days", "after_days")
    @classmethod
    def check_not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(
                "a protocol window cannot be shorter than zero days: use 0 or more "
                "(a -0/+3 days window is before_days: 0, after_days: 3)"
            )
        return value


class DoseReduction(Frozen):
    """Before each cycle after the first, with `probability`, the patient's reducible drugs
    drop one level; `levels` are the fractions of the full dose at levels -1, -2, ..."""

    probability: Probability = 0.0
    """Probability, before each cycle after the first, that the reducible drugs drop one dose level
    [probability]."""
    levels: tuple[Annotated[float, Field(gt=0.0, lt=1.0)], ...] = (0.8, 0.6)
    """Fractions of the full dose at levels -1, -2, ... (decreasing) [share]."""

    @field_validator("levels")
    @classmethod
    def check_decreasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(b >= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("dose levels must be a non-empty, decreasing list, e.g. [0.8, 0.6]")
        return value


class Drug(Frozen):
    """One drug: its dose (`per`: mg/kg of body weight, mg/m2 of BSA, a Calvert AUC in
    mg/mL x min, or flat mg), its single-use vial sizes and its infusion time."""

    dose: PositiveFloat
    """Dose per unit of `per`: mg/kg, mg/m2, the Calvert target AUC (mg/mL x min) or flat mg."""
    per: Literal["kg", "m2", "auc", "flat"]
    """What the dose is per: `kg` of body weight, `m2` of body surface area, `auc` (Calvert
    carboplatin), or `flat`."""
    vial_mg: tuple[float, ...]
    """Single-use vial sizes on the label [mg]."""
    infusion_minutes: NonNegativeInt = 0
    """Infusion time of the drug, holding a chair [minutes]."""
    reducible: bool = True
    """Whether the drug follows the patient's dose level (immunotherapy: false)."""

    @field_validator("vial_mg")
    @classmethod
    def check_vials(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(v <= 0 for v in value):
            raise ValueError(
                "every vial size must be > 0 mg (a vial of 0 mg never covers a dose): "
                "give the sizes on the label, e.g. [100, 450]"
            )
        if len(set(value)) != len(value):
            raise ValueError("vial sizes repeat: list each size once, e.g. [100, 450]")
        return value


class Regimen(Frozen):
    """The drugs of one stratum's cycles: induction cycles, then maintenance."""

    induction: tuple[str, ...]
    """Drugs of each induction cycle (names of `treatment.drugs`)."""
    maintenance: tuple[str, ...] = ()
    """Drugs of each maintenance cycle after induction (names of `treatment.drugs`)."""


class Chairs(Frozen):
    """Infusion chairs, each open `hours_per_day` on open clinic days. A visit holds a chair
    for its drugs' infusion times plus `extra_minutes_per_visit` (premedication,
    observation); the clinic's other patients take a Poisson number of chair-hours each day,
    with mean `background_utilization` of the day's chair-hours."""

    chairs: int
    """Infusion chairs in the day unit [chairs]."""
    hours_per_day: PositiveFloat = 8.0
    """Hours each chair is open on an open clinic day [hours]."""
    extra_minutes_per_visit: NonNegativeInt = 0
    """Chair time of a visit beyond its infusions (premedication, observation) [minutes]."""
    background_utilization: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Mean share of the day's chair-hours taken by the clinic's other patients (Poisson) [share].
    """

    @field_validator("chairs")
    @classmethod
    def check_some(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(
                "every patient on treatment needs a chair: give at least 1 "
                "(or drop treatment.chairs for unlimited chairs)"
            )
        return value


class Treatment(Frozen):
    """Systemic therapy: induction cycles, then maintenance, every `cycle_days`."""

    cycle1_within_days: Days = 3
    """Cycle 1 is given within this many days of randomization [days]."""
    cycle_days: PositiveDays = 21
    """Cycle length: the next cycle is due this many days after the last [days]."""
    induction_cycles: Cycles = 4
    """Cycles of induction (chemotherapy with immunotherapy) before maintenance [cycles]."""
    max_cycles: Cycles = 35
    """Most cycles a patient may receive, induction included [cycles]."""
    delay: Delay = Delay()
    """Cycle delays."""
    discontinuation_per_cycle: Probability = 0.0
    """Probability, at each cycle, of stopping treatment for toxicity [probability]."""
    window: Window | None = None
    """Protocol window around each cycle's due day; empty: a closed day only shifts a cycle, never a
    deviation."""
    dose_reduction: DoseReduction = DoseReduction()
    """Dose reductions of the reducible drugs."""
    drugs: dict[str, Drug] = Field(default_factory=dict)
    """The drugs by name, with dose, vials and infusion time."""
    vial_choice: Literal["least_waste", "fewest_vials"] = "least_waste"
    """How a dose is made up from single-use vials of several sizes: `least_waste` (the least mg
    dispensed, then the fewest vials) or `fewest_vials` (the fewest vials, then the least mg)."""
    regimens: dict[str, Regimen] = Field(default_factory=dict)
    """The regimen of each stratum (one per stratum of `randomization.strata`)."""
    chairs: Chairs | None = None
    """Infusion chairs; empty: unlimited."""

    @model_validator(mode="after")
    def check_cycles(self) -> Treatment:
        if self.max_cycles < self.induction_cycles:
            raise ValueError(
                f"max_cycles {self.max_cycles} < induction_cycles {self.induction_cycles}: "
                "max_cycles counts every cycle, so make it >= induction_cycles"
            )
        if self.window is not None and self.window.before_days >= self.cycle_days:
            raise field_error(
                ("window", "before_days"),
                self.window.before_days,
                f"a cycle may not come forward a whole cycle ({self.cycle_days} days): "
                f"use before_days < cycle_days",
            )
        for name in self.drugs:
            if "/" in name:
                raise field_error(
                    ("drugs", name),
                    name,
                    "drug names may not contain '/': rename it (e.g. 'nab-paclitaxel')",
                )
        if bool(self.drugs) != bool(self.regimens):
            missing = "regimens" if self.drugs else "drugs"
            raise field_error(
                (missing,),
                {},
                f"drugs and regimens come together: give "
                f"treatment.{missing} too (see scenarios/nct07271602.yaml)",
            )
        for stratum, regimen in self.regimens.items():
            for phase in ("induction", "maintenance"):
                for i, drug in enumerate(getattr(regimen, phase)):
                    if drug not in self.drugs:
                        raise field_error(
                            ("regimens", stratum, phase, i),
                            drug,
                            f"unknown drug: use one of treatment.drugs {sorted(self.drugs)}",
                        )
        if self.chairs is not None:
            if not self.regimens:
                raise field_error(
                    ("chairs",),
                    {},
                    "a chair is held for the regimen's "
                    "infusion times: give treatment.drugs and treatment.regimens",
                )
            longest = max(
                self.visit_minutes(r, p)
                for r in self.regimens.values()
                for p in ("induction", "maintenance")
            )
            if longest > self.chairs.hours_per_day * 60:
                raise field_error(
                    ("chairs", "hours_per_day"),
                    self.chairs.hours_per_day,
                    f"the longest visit takes {longest} min, more than a chair's day: "
                    f"open chairs at least {math.ceil(longest / 60)} h",
                )
        return self

    def visit_minutes(self, regimen: Regimen, phase: str) -> int:
        """Chair minutes of a visit: its drugs' infusion times plus the chairs' extra time."""
        extra = self.chairs.extra_minutes_per_visit if self.chairs is not None else 0
        return extra + sum(self.drugs[d].infusion_minutes for d in getattr(regimen, phase))


class Linac(Frozen):
    """Linear accelerators: each has `slots_per_session` treatment slots in every session of
    an open day, one session per fraction time (a morning and an afternoon one for Quad
    Shot); the clinic's other patients take a Poisson number of slots each session, with
    mean `background_utilization` of them."""

    machines: int
    """Linear accelerators available to the trial [machines]."""
    slots_per_session: PositiveInt
    """Treatment slots per machine in each session (morning, afternoon) of an open day [slots]."""
    background_utilization: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Mean share of the slots taken by the clinic's other patients (Poisson) [share]."""

    @field_validator("machines")
    @classmethod
    def check_some(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(
                "the Quad Shot patients need a linac: give at least 1 machine "
                "(or drop radiotherapy.linac for unlimited slots)"
            )
        return value


class Radiotherapy(Frozen):
    """Quad Shot: courses of `days_per_course` consecutive working days, `fraction_times` each."""

    arm: Literal["control", "experimental"] = "experimental"
    """Arm that receives the radiotherapy."""
    courses: Cycles = 3
    """Courses of Quad Shot [courses]."""
    course_interval_days: PositiveDays = 21
    """Interval between the starts of consecutive courses [days]."""
    days_per_course: PositiveDays = 2
    """Consecutive open days of one course [days]."""
    fraction_times: tuple[dt.time, ...] = (dt.time(8, 30), dt.time(15, 0))
    """Clock time of each fraction on a treatment day (HH:MM), in order [time]."""
    dose_per_fraction_gy: PositiveFloat = 3.7
    """Dose of one fraction [Gy]."""
    min_gap_hours: NonNegativeFloat = 6.0
    """Least time between two fractions of a day [hours]."""
    complete_all_courses: Probability = 1.0
    """Probability that a patient who starts RT completes every course (otherwise stops after a
    course) [probability]."""
    pneumonitis: Probability = 0.0
    """Probability, per irradiated patient, of pneumonitis, which stops RT after a course
    [probability]."""
    start_within_days: Days | None = None
    """A course starts within this many days after its cycle; later is a deviation; empty: no window
    [days]."""
    linac: Linac | None = None
    """Linac capacity; empty: unlimited treatment slots."""

    @model_validator(mode="after")
    def check_fraction_gap(self) -> Radiotherapy:
        times = [t.hour + t.minute / 60 for t in self.fraction_times]
        if not times:
            raise ValueError("fraction_times is empty: give e.g. ['08:30', '15:00']")
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        if any(g < self.min_gap_hours for g in gaps):
            raise ValueError(
                f"fraction_times {[t.strftime('%H:%M') for t in self.fraction_times]} are less "
                f"than min_gap_hours {self.min_gap_hours:g} h apart (or not in order): "
                "space them further apart, e.g. ['08:30', '15:00']"
            )
        return self


# --- patients ------------------------------------------------------------------------------


class Normal(Frozen):
    """A normal distribution truncated to [min, max] (None: no bound)."""

    mean: float
    """Mean of the normal distribution (in the unit of the quantity)."""
    sd: NonNegativeFloat
    """Standard deviation (in the unit of the quantity)."""
    min: float | None = None
    """Lower truncation bound; empty: none."""
    max: float | None = None
    """Upper truncation bound; empty: none."""

    @model_validator(mode="after")
    def check_bounds(self) -> Normal:
        if self.min is not None and self.max is not None and self.max <= self.min:
            raise ValueError(f"max {self.max} <= min {self.min}: put max above min")
        return self


class BySex(Frozen):
    """A distribution for men and one for women."""

    male: Normal
    """Distribution in men."""
    female: Normal
    """Distribution in women."""


class Patients(Frozen):
    """Covariates of randomized patients, for doses: age, sex, height, weight, serum
    creatinine; BSA (Mosteller or DuBois) and creatinine clearance (Cockcroft-Gault) follow.
    A patient has one creatinine clearance, from the measured creatinine: creatinine is drawn
    given clearance >= `min_crcl_ml_min` (an eligibility criterion) and the patient table
    shows that value. Carboplatin's Calvert GFR is a dosing rule on top: creatinine floored
    at `creatinine_floor_mg_dl`, clearance capped at `gfr_cap_ml_min`."""

    age: Normal
    """Age at randomization [years]."""
    male: Probability
    """Share of men [share]."""
    height_cm: BySex
    """Height by sex [cm]."""
    weight_kg: BySex
    """Body weight by sex [kg]."""
    creatinine_mg_dl: BySex
    """Serum creatinine by sex [mg/dL]."""
    bsa_formula: Literal["mosteller", "dubois"] = "mosteller"
    """Body surface area formula: `mosteller` or `dubois`."""
    creatinine_floor_mg_dl: NonNegativeFloat = 0.7
    """Creatinine below this is raised to it for the Calvert GFR (a common carboplatin dosing
    rule; eligibility uses the measured creatinine) [mg/dL]."""
    gfr_cap_ml_min: PositiveFloat = 125.0
    """Calvert formula: GFR capped at this value (FDA: AUC 5 gives at most 750 mg) [mL/min]."""
    min_crcl_ml_min: NonNegativeFloat = 0.0
    """Eligibility: creatinine clearance at least this (Cockcroft-Gault, measured creatinine,
    no floor) [mL/min]."""

    @model_validator(mode="after")
    def check_positive_bounds(self) -> Patients:
        for name in ("height_cm", "weight_kg", "creatinine_mg_dl"):
            for sex in ("male", "female"):
                dist = getattr(getattr(self, name), sex)
                if dist.min is None or dist.min <= 0:
                    raise field_error(
                        (name, sex, "min"),
                        dist.min,
                        "must be > 0 (a body measure is positive), e.g. min: 0.3",
                    )
        return self


# --- calendar and analysis -----------------------------------------------------------------


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


Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class Closure(Frozen):
    """A range of days the clinic is closed."""

    start: dt.date
    """First closed day."""
    end: dt.date
    """Last closed day."""
    reason: str = ""
    """Why the clinic is closed (shown in tables)."""

    @model_validator(mode="after")
    def check_order(self) -> Closure:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}: dates out of order")
        return self


class Calendar(Frozen):
    """Open clinic days: not a closed weekday, not a public holiday of `holidays` (a country
    code of the `holidays` library, e.g. CN), not in `closures`; `makeup_working_days` are
    open whatever the weekday (China's adjusted working weekends; with `holidays`, the ones
    the library names as substitutes are added automatically)."""

    closed_weekdays: tuple[Weekday, ...] = ("Sat", "Sun")
    """Weekdays the clinic is closed (Mon ... Sun)."""
    holidays: str | None = None
    """Country whose public holidays close the clinic (ISO code of the `holidays` library, e.g. CN);
    empty: none."""
    subdivision: str | None = None
    """Province or state of the holidays, where the library distinguishes them."""
    closures: tuple[Closure, ...] = ()
    """Further closures (site moves, strikes), each a range of dates."""
    makeup_working_days: tuple[dt.date, ...] = ()
    """Days open whatever their weekday (China's adjusted working weekends)."""

    @field_validator("closed_weekdays")
    @classmethod
    def check_some_day_open(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) >= 7:
            raise ValueError(
                "every weekday is closed, so no visit could ever happen and the run would "
                "never finish: leave at least one weekday open, e.g. [Sat, Sun]"
            )
        return value

    @field_validator("holidays")
    @classmethod
    def check_country(cls, value: str | None) -> str | None:
        if value is None:
            return value
        # the codes (aliases included, as list_supported_countries gives them), without
        # importing every country's module
        from holidays.registry import EntityLoader

        supported = set(EntityLoader.get_country_codes(include_aliases=True))
        if value not in supported:
            raise ValueError(
                f"unknown holiday country {value!r}: use an ISO 3166 code the holidays "
                "library supports, e.g. CN, US, DE (or null for no public holidays)"
            )
        return value


class Look(Frozen):
    """One analysis of a group-sequential design: triggered by `events` seen, by an
    `information` fraction of the final look's events, or on a `date`; with `not_before`
    (`not_after`), interim looks only, it is held at the later (earlier) of its trigger and
    that date."""

    events: PositiveInt | None = None
    """PFS events seen (at a scan, or a death) that trigger the look [events]."""
    information: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """Share of the final look's planned events that triggers the look [share]."""
    date: dt.date | None = None
    """Calendar date of the data cut of the look [date]."""
    not_before: dt.date | None = None
    """The look's data cut is not before this date: the later of the trigger and this [date]."""
    not_after: dt.date | None = None
    """The look's data cut is not after this date: the earlier of the trigger and this [date]."""

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


class Futility(Frozen):
    """Futility bounds at the interim looks (none at the final): beta spending at the drift
    for the target power (rpact typeBetaSpending), fixed z bounds, hazard-ratio bounds, or a
    conditional-power threshold under the design effect."""

    spending: SpendingChoice | None = None
    """Beta spending: obrien_fleming, pocock, {hsd: {gamma: -2}} or {kim_demets: {rho: 2}}."""
    z: tuple[float, ...] | None = None
    """Futility z bounds, one per interim look: stop if z is below (positive: benefit) [z]."""
    hazard_ratio: tuple[PositiveFloat, ...] | None = None
    """Futility hazard ratios, one per interim look: stop if the estimate is above [ratio]."""
    conditional_power: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """Stop if the conditional power under the design hazard ratio is below this [probability]."""
    binding: bool = False
    """Whether futility is binding: efficacy bounds computed given the futility stops."""

    @model_validator(mode="after")
    def check_one_rule(self) -> Futility:
        given = [
            name
            for name in ("spending", "z", "hazard_ratio", "conditional_power")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one futility rule of spending, z, hazard_ratio or "
                f"conditional_power (got {given or 'none'}): e.g. spending: {{hsd: {{gamma: -2}}}}"
            )
        return self


class Analysis(Frozen):
    """Final analysis: data cut at `event_target` events, at `cut_date`, or whichever first.

    With `looks` (a group-sequential design) the last look is the final analysis: its events
    are the event target (and `cut` defaults to events, or first when `cut_date` is given);
    earlier looks are interim analyses with `efficacy` and optional `futility` bounds."""

    cut: Literal["events", "date", "first"] = "first"
    """What triggers the data cut: `events` (the event target), `date` (cut_date), or `first`
    (whichever comes first)."""
    event_target: PositiveInt | None = None
    """PFS events seen that trigger the cut [events]."""
    cut_date: dt.date | None = None
    """Calendar date of the cut."""
    lag_days: NonNegativeInt = 0
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

    @model_validator(mode="before")
    @classmethod
    def final_look_is_the_cut(cls, data: Any) -> Any:
        """With looks, the final look's trigger fills event_target / cut_date and cut."""
        if not isinstance(data, dict) or not data.get("looks"):
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
            for name in ("efficacy", "futility"):
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


class Scenario(Frozen):
    """A whole scenario: the trial, its conduct, its clinic and its analysis, block by block."""

    trial: Trial
    """The trial: identifier, dates, sample size."""
    enrollment: Enrollment
    """Screening and enrollment: sites, arrival rates, screening time and failure."""
    randomization: Randomization = Randomization()
    """Allocation ratio, permuted blocks and strata."""
    pfs: Pfs
    """Progression-free survival: each arm's distribution, deaths, prognostic strata."""
    effect: Effect = Effect()
    """Treatment effect of the experimental arm (none when pfs.experimental is given)."""
    dropout: Dropout = Dropout()
    """Withdrawal and loss to follow-up."""
    assessments: Assessments
    """Tumour assessments: when progression is seen."""
    calendar: Calendar = Calendar()
    """Open clinic days: weekdays, public holidays, closures."""
    treatment: Treatment | None = None
    """Systemic therapy: cycles, delays, drugs, regimens, chairs; empty: no clinic model."""
    radiotherapy: Radiotherapy | None = None
    """Quad Shot radiotherapy and the linac; empty: none."""
    patients: Patients | None = None
    """Patients' covariates (for doses); needed with drugs."""
    analysis: Analysis
    """The data cut and the primary analysis."""
    overall_survival: OverallSurvival | None = None
    """Overall survival (illness-death model); None: OS is not simulated."""
    response: Response | None = None
    """Tumour response at the scans; None: not simulated."""
    local_control: LocalControl | None = None
    """Local control of the irradiated lesion; None: not simulated."""
    safety: Safety | None = None
    """Adverse events that drive the clinic's toxicity; None: the treatment block's own
    toxicity probabilities."""

    @model_validator(mode="after")
    def check_cross_fields(self) -> Scenario:
        target = self.analysis.event_target
        if target is not None and target > self.trial.sample_size:
            raise ValueError(
                f"analysis.event_target {target} is above trial.sample_size "
                f"{self.trial.sample_size}: a patient has at most one PFS event, so lower "
                "the target or raise the sample size"
            )
        for i, look in enumerate(self.analysis.looks):
            if look.events is not None and look.events > self.trial.sample_size:
                raise field_error(
                    ("analysis", "looks", i, "events"),
                    look.events,
                    f"above trial.sample_size {self.trial.sample_size}: a "
                    "patient has at most one PFS event; lower it",
                )
            for name in ("date", "not_before", "not_after"):
                day = getattr(look, name)
                if day is not None and day <= self.trial.start_date:
                    raise field_error(
                        ("analysis", "looks", i, name),
                        str(day),
                        f"not after trial.start_date {self.trial.start_date}: put the look later",
                    )
        fill = self.expected_fill_months()  # inf (tables that end): refused below
        if MAX_STUDY_YEARS * 12 < fill < math.inf:
            raise ValueError(
                f"at the screening rates of enrollment, trial.sample_size "
                f"{self.trial.sample_size} patients would take {fill / 12:,.3g} years to "
                f"randomize (more than {MAX_STUDY_YEARS}), so the run could not finish: check "
                "the rates (per_month is patients screened per month)"
            )
        cut = self.analysis.cut_date
        if cut is not None and (cut - self.trial.start_date).days > MAX_STUDY_YEARS * DAYS_PER_YEAR:
            raise ValueError(
                f"analysis.cut_date {cut} is more than {MAX_STUDY_YEARS} years "
                f"after trial.start_date {self.trial.start_date}: check the year"
            )
        if cut is not None and cut <= self.trial.start_date:
            raise ValueError(
                f"analysis.cut_date {cut} is not after trial.start_date "
                f"{self.trial.start_date}: dates out of order (put the cut later)"
            )
        for i, site in enumerate(self.enrollment.sites):
            if not self.trial.start_date <= site.activation_date < self.trial.completion_date:
                raise ValueError(
                    f"enrollment.sites.{i}.activation_date {site.activation_date} is outside "
                    f"the study ({self.trial.start_date} to {self.trial.completion_date}): "
                    "activate the site between the start and the completion date"
                )
        lasting = [
            site.cap
            for site in self.enrollment.site_list(self.trial.start_date)
            if site.screening_rate[-1].months is None
        ]
        reach = sum(math.inf if cap is None else cap for cap in lasting)
        if reach < self.trial.sample_size:
            raise ValueError(
                f"enrollment: no site screens for as long as it takes (every rate table ends, "
                f"or the open-ended sites' caps add up to {reach:g} < trial.sample_size "
                f"{self.trial.sample_size}), so some trials would never fill and the run "
                "could not finish: make the last rate row of a site open-ended (drop its "
                "months) or raise its cap"
            )
        caps = [site.cap for site in self.enrollment.sites]
        if caps and None not in caps and sum(caps) < self.trial.sample_size:  # type: ignore[arg-type]
            raise ValueError(
                f"enrollment.sites caps add up to {sum(caps)} < trial.sample_size "  # type: ignore[arg-type]
                f"{self.trial.sample_size}: raise a cap or remove one"
            )
        self.check_effect()
        if self.radiotherapy is not None and self.treatment is None:
            raise ValueError("radiotherapy starts with cycle 1, so it needs a treatment block")
        if self.treatment is not None and self.treatment.regimens:
            self.check_regimens(self.treatment)
        self.check_secondary_endpoints()
        return self

    def check_safety(self) -> None:
        """With a safety block, toxicity comes only from its events (one process)."""
        if self.safety is None or self.treatment is None:
            return  # without a treatment block there are no cycles, so no events
        legacy = {
            ("treatment", "delay", "probability"): self.treatment.delay.probability,
            (
                "treatment",
                "dose_reduction",
                "probability",
            ): self.treatment.dose_reduction.probability,
            ("treatment", "discontinuation_per_cycle"): self.treatment.discontinuation_per_cycle,
        }
        if self.radiotherapy is not None:
            legacy[("radiotherapy", "pneumonitis")] = self.radiotherapy.pneumonitis
        for loc, value in legacy.items():
            if value:
                raise field_error(
                    loc,
                    value,
                    "must be 0 with a safety block: its adverse "
                    "events cause the delays, reductions, discontinuations and "
                    "RT stops (give them there)",
                )

    def check_secondary_endpoints(self) -> None:
        """OS, response and local control must be possible under the PFS model."""
        self.check_safety()
        os_block = self.overall_survival
        if os_block is not None and os_block.event_target is not None:
            if os_block.event_target > self.trial.sample_size:
                raise field_error(
                    ("overall_survival", "event_target"),
                    os_block.event_target,
                    f"above trial.sample_size {self.trial.sample_size}: a "
                    "patient dies once; lower the target",
                )
        if self.response is not None:
            if self.assessments.mode != "scheduled":
                raise field_error(
                    ("response",),
                    "...",
                    "a response is seen at a scan: use "
                    "scheduled assessments (or drop the response block)",
                )
            first = self.assessments.schedule[0].every_weeks * 7.0
            for a, arm in enumerate(("control", "experimental")):
                orr = getattr(self.response.objective_response, arm)
                alive = math.exp(-self.pfs_cumulative_hazard(a, first))
                if orr > alive:
                    raise field_error(
                        ("response", "objective_response", arm),
                        orr,
                        f"above the {alive:.3f} of patients progression-free at the first "
                        f"scan (day {first:g}): responders must reach a scan; lower it",
                    )
        if self.local_control is not None:
            lc = self.local_control
            for a, arm in enumerate(("control", "experimental")):
                p = getattr(lc.progression_by_months, arm)
                share = self.local_progression_share(a)
                if share > 1.0:
                    h01 = (1 - self.pfs.death_fraction) * self.pfs_cumulative_hazard(
                        a, lc.months * DAYS_PER_MONTH
                    )
                    raise field_error(
                        ("local_control", "progression_by_months", arm),
                        p,
                        f"needs more progressions than PFS gives (at most "
                        f"{-math.expm1(-h01):.3f} by {lc.months:g} months): lower it",
                    )

    def pfs_cumulative_hazard(self, arm: int, day: float) -> float:
        """PFS cumulative hazard H(day) = -log S(day) of arm 0 (control) or 1 (experimental)
        for a multiplier-1 patient: the (piecewise) hazard ratio, the experimental arm's own
        distribution and the cure fraction as the simulator draws them."""
        if arm == 1 and self.pfs.experimental is not None:
            survival, cure = self.pfs.experimental, self.pfs.experimental.cure_fraction
            total = survival.uncured_cumulative_hazard(day)
        elif arm == 1:
            survival = self.pfs.control
            cure = (
                survival.cure_fraction
                if self.effect.cure_fraction is None
                else self.effect.cure_fraction
            )
            starts, ratios = self.effect.ratio_table()
            bounds = [*starts[1:], math.inf]
            total = sum(
                r
                * (
                    survival.uncured_cumulative_hazard(min(day, b))
                    - survival.uncured_cumulative_hazard(a)
                )
                for a, b, r in zip(starts, bounds, ratios, strict=True)
                if a < day
            )
        else:
            survival, cure = self.pfs.control, self.pfs.control.cure_fraction
            total = survival.uncured_cumulative_hazard(day)
        if cure == 0.0:
            return total
        return -math.log(cure + (1.0 - cure) * math.exp(-total))

    def local_progression_share(self, arm: int) -> float:
        """Share of the arm's progressions that involve the index lesion: the lesion's
        cumulative hazard by `local_control.months`, -log(1 - p), over h01's."""
        lc = self.local_control
        assert lc is not None
        p = getattr(lc.progression_by_months, ("control", "experimental")[arm])
        h01 = (1.0 - self.pfs.death_fraction) * self.pfs_cumulative_hazard(
            arm, lc.months * DAYS_PER_MONTH
        )
        if p == 0.0:
            return 0.0
        return math.inf if h01 == 0.0 or p == 1.0 else -math.log1p(-p) / h01

    def check_effect(self) -> None:
        if self.pfs.experimental is None and self.effect.is_empty:
            raise field_error(
                ("effect", "hazard_ratio"),
                None,
                "the experimental arm needs an effect: give effect.hazard_ratio "
                "(e.g. 0.6), effect.piecewise_hazard_ratio, or pfs.experimental",
            )
        if self.pfs.experimental is not None and not self.effect.is_empty:
            raise field_error(
                ("effect",),
                self.effect.model_dump(exclude_defaults=True),
                "pfs.experimental gives the experimental arm's own PFS: drop "
                "the effect block (or pfs.experimental)",
            )
        if self.pfs.experimental is not None and self.effect.cure_fraction is not None:
            raise field_error(
                ("effect", "cure_fraction"),
                self.effect.cure_fraction,
                "give the cure fraction in pfs.experimental instead",
            )
        if self.analysis.looks and self.effect.hazard_ratio is None:
            raise field_error(
                ("analysis", "looks"),
                "...",
                "the group-sequential design side "
                "needs one effect.hazard_ratio (not a piecewise one or "
                "pfs.experimental): drop the looks or give a hazard ratio",
            )
        for name in self.pfs.stratum_hazard_multiplier:
            if name not in self.randomization.strata:
                raise field_error(
                    ("pfs", "stratum_hazard_multiplier", name),
                    name,
                    f"not a stratum: use the names of randomization.strata {self.strata_names}",
                )

    def expected_fill_months(self) -> float:
        """Months from the start until trial.sample_size patients are expected to be
        randomized (each site's screening rates x the screen-pass probability, caps ignored:
        a lower bound); inf if never."""
        keep = 1.0 - self.enrollment.failure_probability
        pieces = []  # (start, end, randomized per month) in months from the study start
        for site in self.enrollment.site_list(self.trial.start_date):
            t = (site.activation_date - self.trial.start_date).days / DAYS_PER_MONTH
            for row in site.screening_rate:
                end = math.inf if row.months is None else t + row.months
                pieces.append((t, end, row.per_month * keep))
                t = end
        cuts = sorted({p[0] for p in pieces} | {p[1] for p in pieces if math.isfinite(p[1])})
        total, need = 0.0, float(self.trial.sample_size)
        for a, b in zip(cuts, [*cuts[1:], math.inf], strict=True):
            rate = sum(r for start, end, r in pieces if start <= a < end)
            if rate > 0 and total + rate * (b - a) >= need:
                return a + (need - total) / rate
            if math.isfinite(b):
                total += rate * (b - a)
        return math.inf

    def check_regimens(self, treatment: Treatment) -> None:
        strata = list(self.randomization.strata)
        for stratum in strata:
            if stratum not in treatment.regimens:
                raise field_error(
                    ("treatment", "regimens"),
                    dict(treatment.regimens),
                    f"no regimen for stratum {stratum!r}: give one per stratum of "
                    f"randomization.strata {strata}",
                )
        for stratum in treatment.regimens:
            if stratum not in strata:
                raise field_error(
                    ("treatment", "regimens", stratum),
                    stratum,
                    f"not a stratum: use the names of randomization.strata {strata}",
                )
        if self.patients is None:
            raise field_error(
                ("patients",),
                None,
                "doses need body size and creatinine: "
                "add a patients block (see scenarios/nct07271602.yaml)",
            )

    @property
    def strata_names(self) -> list[str]:
        return list(self.randomization.strata)


# --- loading -------------------------------------------------------------------------------


def shown_value(value: Any, limit: int = 80) -> str | None:
    """The value as the message shows it; None for a whole block (a cross-field rule names
    the fields itself: a dump of the block would bury it)."""
    if isinstance(value, dict) or (
        isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value)
    ):
        return None
    text = "<missing>" if value is _MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


def format_validation_error(error: ValidationError, data: Any) -> str:
    """One line per problem: `path = value: rule (fix)` (`path: rule` for a block)."""
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        value = lookup_path(data, item["loc"])
        rule = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            rule = "unknown key (check the spelling against scenarios/nct07271602.yaml)"
        elif item["type"] == "missing":
            rule = "required field is missing (add it; see scenarios/nct07271602.yaml)"
        shown = shown_value(value)
        fix = suggest_fix(item)
        if not path:  # a rule across blocks: it names its fields itself
            lines.append(f"{rule}{fix}")
        else:
            lines.append(
                f"{path}: {rule}{fix}" if shown is None else f"{path} = {shown}: {rule}{fix}"
            )
    return "\n".join(dict.fromkeys(lines))


_MISSING = object()

FIXES = {
    "greater_than": "use a value > {gt}",
    "greater_than_equal": "use a value >= {ge}",
    "less_than": "use a value < {lt}",
    "less_than_equal": "use a value <= {le}",
    "float_parsing": "write a plain number, e.g. 0.6",
    "float_type": "write a plain number, e.g. 0.6",
    "int_parsing": "write a whole number, e.g. 70",
    "int_type": "write a whole number, e.g. 70",
    "int_from_float": "write a whole number, e.g. 70",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_type": "write a date as YYYY-MM-DD",
    "literal_error": "use one of the values listed",
    "bool_parsing": "write true or false",
    "model_type": "write a block of key: value lines",
    "tuple_type": "write a list, e.g. [4, 6]",
    "dict_type": "write a block of key: value lines",
    "time_parsing": "write a time as HH:MM",
    "finite_number": "write a finite number, e.g. 0.6: .inf and .nan are not values a trial "
    "can have",
}


def suggest_fix(item: Any) -> str:
    template = FIXES.get(item["type"])
    if template is None:
        return ""
    try:
        return f" ({template.format(**item.get('ctx', {}))})"
    except (KeyError, IndexError):
        return ""


def lookup_path(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for key in loc:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list | tuple) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return _MISSING
    return node


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.path=yaml_value`` override in place; list indices are numbers."""
    if "=" not in assignment:
        raise ScenarioError(
            f"--set {assignment!r}: must be PATH=VALUE (e.g. effect.hazard_ratio=0.79)"
        )
    path, raw = assignment.split("=", 1)
    value = parse_yaml(raw, f"--set {assignment!r}: the value")
    keys = path.strip().split(".")
    node: Any = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(
                    f"--set {path}: {where} is not an index of a {len(node)}-row table "
                    f"(use 0..{len(node) - 1})"
                )
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
            continue
        if not isinstance(node, dict):
            raise ScenarioError(f"--set {path}: {'.'.join(keys[:i])} is a value, not a block")
        if last:
            node[key] = value
        else:
            node = node.setdefault(key, {})


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source}: the file is not a YAML mapping of blocks (trial:, enrollment:, ...)"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        details = format_validation_error(exc, data)
        first, *others = details.splitlines()
        if others:  # one line still: the first problem in full, then where the others are
            where = [line.split(" = ")[0].split(": ")[0] for line in others]
            first += (
                f" (and {len(others)} more problem{'s' if len(others) > 1 else ''}, "
                f"at {', '.join(where)})"
            )
        raise ScenarioError(f"{source}: invalid scenario: {first}") from exc


MAX_YAML_BYTES = 1_000_000  # a scenario is a few kB; a sweep's variants some tens of kB
MAX_YAML_VALUES = 100_000  # values after anchors and aliases are expanded


class ScenarioLoader(yaml.SafeLoader):
    """`yaml.SafeLoader`, stricter: a key given twice in one block is an error (the last one
    would silently win), and so is a date that is not in the calendar (2026-02-30)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: PyYAML says so below
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice in one block (first on line "
                    f"{first.line + 1}); the second would silently replace the first: keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value} is not a calendar date ({exc}); write a real date "
                "as YYYY-MM-DD, e.g. 2026-02-28",
                node.start_mark,
            ) from None


ScenarioLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", ScenarioLoader.construct_checked_timestamp
)


def expanded_size(node: yaml.Node, label: str) -> int:
    """How many values `node` holds once every alias is expanded (memoized per node, so
    linear in the file); a recursive alias is an error."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(item: yaml.Node) -> int:
        key = id(item)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ScenarioError(
                f"{label}: line {item.start_mark.line + 1}: an alias refers to "
                "the block that contains it (a recursive structure); remove it"
            )
        active.add(key)
        if isinstance(item, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in item.value)
        elif isinstance(item, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in item.value)
        else:
            total = 1
        active.discard(key)
        sizes[key] = total
        return total

    return size(node)


def yaml_problem(exc: yaml.YAMLError, text: str = "") -> str:
    """A YAML error in one line: `line L, column C: problem (context)`."""
    if isinstance(exc, yaml.reader.ReaderError):
        pos = exc.position
        line, column = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
        return (
            f"line {line}, column {column}: character {exc.character!r} is not allowed in "
            "YAML (a control character: delete it)"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        return f"{where}{exc.problem}{context}"
    return str(exc).splitlines()[0]


def fast_loader() -> type | None:
    """`ScenarioLoader` on libyaml's parser (PyYAML's C extension), when it is there."""
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    return type("FastScenarioLoader", (yaml.CSafeLoader, ScenarioLoader), {})


FAST_LOADER = fast_loader()


def parse_yaml_fast(text: str) -> tuple[bool, Any]:
    """(True, data) from libyaml's parser, 5-10x faster than PyYAML's own on a scenario
    (~40 ms of `validate`), with the same constructors (so the same data); (False, None)
    when it is not installed, when the text holds what the two parsers disagree on (a tab
    or a byte-order mark inside the text: libyaml accepts both where PyYAML refuses), or on
    any error: then `parse_yaml` parses with PyYAML's parser, which accepts and refuses
    exactly what it always did, with its messages."""
    if FAST_LOADER is None or "\t" in text or "\ufeff" in text:
        return False, None
    loader = None
    try:
        loader = FAST_LOADER(text)
        node = loader.get_single_node()
        if node is None or expanded_size(node, "") > MAX_YAML_VALUES:
            return False, None
        return True, loader.construct_document(node)
    except Exception:  # the slow path below says what is wrong
        return False, None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml(text: str, label: str) -> Any:
    """`yaml.safe_load` with `ScenarioLoader`, and anchors/aliases that expand to more than
    MAX_YAML_VALUES values refused; every failure is a ScenarioError starting with `label`."""
    done, data = parse_yaml_fast(text)
    if done:
        return data
    loader = None
    try:
        loader = ScenarioLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        values = expanded_size(node, label)
        if values > MAX_YAML_VALUES:
            raise ScenarioError(
                f"{label}: anchors and aliases expand to {values:,} values, more than the "
                f"{MAX_YAML_VALUES:,} a scenario may hold; write the blocks out instead of "
                "nesting aliases"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ScenarioError(
            f"{label}: malformed YAML at {yaml_problem(exc, text)}; fix it there"
        ) from exc
    except RecursionError:
        raise ScenarioError(f"{label}: the YAML is nested too deeply; flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text_file(path: Path, label: str, limit: int = MAX_YAML_BYTES) -> str:
    """A small UTF-8 text file (a BOM is fine); otherwise ScenarioError starting with
    `label`: missing, too large (the bound is `limit` bytes), or not UTF-8 (line, column)."""
    if not path.is_file():
        raise ScenarioError(f"{label}: no such file (check the path)")
    try:
        size = path.stat().st_size
        if size > limit:
            raise ScenarioError(
                f"{label}: {size:,} bytes, more than the {limit:,} a scenario "
                "file may have; is this the right file?"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(
            f"{label}: cannot read it ({exc.strerror}); check the path and its permissions"
        ) from exc
    if len(raw) > limit:
        raise ScenarioError(f"{label}: more than the {limit:,} bytes a scenario file may have")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError(
            f"{label}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column "
            f"{column}; save the file as UTF-8"
        ) from None


def load_yaml_file(path: str | Path, label: str) -> Any:
    """`parse_yaml` of a file; a missing, large, non-UTF-8 file or bad YAML is a
    ScenarioError that starts with `label` (e.g. the path, or '--variants PATH')."""
    path = Path(path)
    return parse_yaml(read_text_file(path, label), label)


def read_scenario_yaml(path: str | Path) -> dict[str, Any]:
    data = load_yaml_file(path, f"{path}")
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: the file is not a YAML mapping of blocks (trial:, ...)")
    return data


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read, override (``--set`` strings) and validate a scenario; raise ScenarioError."""
    data = read_scenario_yaml(path)
    for assignment in overrides:
        apply_override(data, assignment)
    return parse_scenario(data, str(path))


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain JSON-able data (for manifests)."""
    return scenario.model_dump(mode="json")
