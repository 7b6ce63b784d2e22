"""The blocks of the trial's conduct: the trial itself, enrollment (sites, screening rates,
the screening funnel), randomization, tumour assessments and the clinic calendar."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from sim.scenario.base import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    MAX_SAMPLE_SIZE,
    MAX_STUDY_YEARS,
    Frozen,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from sim.scenario.errors import field_error, format_validation_error
from sim.scenario.sites import MAX_SITES, generate_sites, read_sites_file

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


class RampPeriod(Frozen):
    """One ramp-up period of a generated site: its length and its screening rate."""

    months: PositiveFloat
    """Length of this ramp-up period [months]."""
    per_month: NonNegativeFloat
    """Screening arrivals per month in this period (a Poisson rate) [patients/month]."""


class SiteGenerator(Frozen):
    """`count` alike sites, named `name_prefix` 01, 02, ..., activated evenly over
    `activation_spread_months` from `first_activation` (site i of n, from 0, on
    first_activation + round(i x spread / (n - 1)) days, spread = months x 30.4375): each
    screens at the `ramp` rows from its activation, then at `per_month` from there on.
    Deterministic: the same sites every time (site-to-site variation: `site_heterogeneity`)."""

    count: Annotated[int, Field(gt=0, le=MAX_SITES)]
    """Number of sites [sites]."""
    per_month: PositiveFloat
    """Each site's screening arrivals per month at full speed (after its ramp) [patients/month]."""
    ramp: tuple[RampPeriod, ...] = ()
    """Each site's ramp-up periods from its activation, before full speed; empty: full speed at
    once."""
    first_activation: dt.date | None = None
    """Activation date of the first site; empty: the study start."""
    activation_spread_months: Annotated[float, Field(ge=0.0, le=MAX_STUDY_YEARS * 12)] = 0.0
    """From the first site's activation to the last one's, the others evenly between [months]."""
    cap: PositiveInt | None = None
    """Most patients each site may randomize; empty: no cap [patients]."""
    name_prefix: Annotated[str, Field(min_length=1)] = "site"
    """Site names: this, a space and the site's number (zero-padded: site 01 ... site 20)."""


class Enrollment(Frozen):
    """Screening arrivals (one site: `screening_rate`; several: `sites`, a site table in
    `sites_file`, or alike sites from `site_generator`), screening time, and screen failure
    (overall: `screen_failure`; or a funnel: `criteria`, checked in order, the first failed
    one being the recorded reason)."""

    screening_rate: tuple[RatePeriod, ...] | None = None
    """One site open at the start: its screening arrivals as a table of periods (give this or
    `sites`)."""
    sites: tuple[Site, ...] = ()
    """Several sites, each with its activation date and arrival table (give this or
    `screening_rate`)."""
    sites_file: str | None = Field(default=None, exclude=True)
    """A site table (CSV, path relative to the scenario's YAML file), one line per site, with
    the columns name, activation_date (YYYY-MM-DD), per_month (full speed) and optionally ramp
    (ramp-up periods as months:per_month pairs separated by ';', e.g. 2:4;2:6) and cap; read
    into `sites` when the scenario is loaded (docs/many-sites.md)."""
    site_generator: SiteGenerator | None = Field(default=None, exclude=True)
    """Alike sites activated evenly over a spread of months, made into `sites` when the scenario
    is loaded (docs/many-sites.md)."""
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
        sources = [
            name
            for name in ("screening_rate", "sites", "sites_file", "site_generator")
            if getattr(self, name) not in (None, ())
        ]
        if len(sources) != 1:
            raise ValueError(
                "give one of screening_rate (one site open at the start), sites (a list), "
                "sites_file (a site table) or site_generator (alike sites)"
                + (f"; got {' and '.join(sources)}" if sources else "")
            )
        if self.sites_file is not None:
            object.__setattr__(self, "sites", sites_from_file(self.sites_file))
        if self.site_generator is not None:
            object.__setattr__(self, "sites", sites_from_generator(self.site_generator))
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


def sites_from_file(value: str) -> tuple[Site, ...]:
    """The sites of the site table `value` (sim.scenario.sites); a field_error naming
    `sites_file`, the line, the column and a fix otherwise."""
    if not value.strip():
        raise field_error(("sites_file",), value, "empty: give the site table's file name")
    try:
        rows = read_sites_file(Path(value))
        return tuple(validated_site(row, f"line {line}") for line, row in rows)
    except ValueError as exc:  # a ValidationError of a site is one too: already worded
        raise field_error(("sites_file",), value, str(exc)) from None


def sites_from_generator(generator: SiteGenerator) -> tuple[Site, ...]:
    """The generator's sites; a field_error naming `site_generator` if its rows are not sites."""
    if generator.first_activation is None:
        raise field_error(
            ("site_generator", "first_activation"),
            None,
            "required field is missing (give the first site's activation date, e.g. 2026-03-01)",
        )
    rows = generate_sites(generator.model_dump(), generator.first_activation)
    try:
        return tuple(validated_site(row, row["name"]) for row in rows)
    except ValueError as exc:
        raise field_error(("site_generator",), "...", str(exc)) from None


def validated_site(row: dict[str, Any], where: str) -> Site:
    """`row` as a Site; ValueError starting with `where` (a line of the table, a site's name)."""
    try:
        return Site.model_validate(row)
    except ValidationError as exc:
        raise ValueError(f"{where}: {format_validation_error(exc, row).splitlines()[0]}") from None


def randomization_pieces(trial: Trial, enrollment: Enrollment) -> list[tuple[float, float, float]]:
    """(start, end, randomized per month) of every site's rate rows, in months from the
    study start (screening rates x the screen-pass probability; caps ignored)."""
    keep = 1.0 - enrollment.failure_probability
    pieces = []
    for site in enrollment.site_list(trial.start_date):
        t = (site.activation_date - trial.start_date).days / DAYS_PER_MONTH
        for row in site.screening_rate:
            end = math.inf if row.months is None else t + row.months
            pieces.append((t, end, row.per_month * keep))
            t = end
    return pieces


def expected_fill_months(trial: Trial, enrollment: Enrollment) -> float:
    """Months from the start until trial.sample_size patients are expected to be
    randomized (each site's screening rates x the screen-pass probability, caps ignored:
    a lower bound); inf if never."""
    pieces = randomization_pieces(trial, enrollment)
    cuts = sorted({p[0] for p in pieces} | {p[1] for p in pieces if math.isfinite(p[1])})
    total, need = 0.0, float(trial.sample_size)
    for a, b in zip(cuts, [*cuts[1:], math.inf], strict=True):
        rate = sum(r for start, end, r in pieces if start <= a < end)
        if rate > 0 and total + rate * (b - a) >= need:
            return a + (need - total) / rate
        if math.isfinite(b):
            total += rate * (b - a)
    return math.inf


# --- randomization -------------------------------------------------------------------------


MINIMIZATION_FACTORS = ("stratum", "site")  # factors every scenario has, besides covariates
FACTOR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Minimization(Frozen):
    """Pocock-Simon minimization (1975): each patient, in randomization order, goes with
    probability `p` to the arm that makes the weighted sum over `factors` of the imbalance
    of the patient's own levels smallest (counts divided by the allocation ratio), otherwise
    to the other arm; a tie is broken at random in the allocation ratio."""

    factors: tuple[str, ...] = ("stratum",)
    """Factors balanced: stratum (the randomization strata), site, or a covariate of
    randomization.covariates (e.g. [stratum, site, sex])."""
    weights: dict[str, float] = Field(default_factory=dict)
    """Weight of each factor in the sum of imbalances (> 0); a factor not named weighs 1
    [weight]."""
    imbalance: Literal["range", "variance"] = "range"
    """Imbalance of a factor level across the arms: `range` (largest minus smallest
    ratio-adjusted count) or `variance` (their variance)."""
    p: float = 0.8
    """Probability of assigning the arm that minimizes the imbalance (the biased coin; 1:
    deterministic minimization, ties aside) [probability]."""

    @field_validator("p")
    @classmethod
    def check_coin(cls, value: float) -> float:
        if not 0.5 < value <= 1.0:
            raise ValueError(
                "the biased coin must be in (0.5, 1]: above 0.5 so that the preferred arm is "
                "favoured, at most 1 (deterministic); e.g. 0.8"
            )
        return value

    @field_validator("weights")
    @classmethod
    def check_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not weight > 0:
                raise ValueError(
                    f"weight {weight:g} of factor {name!r} is not > 0: give each factor a "
                    "positive weight (e.g. 1; drop a factor from `factors` to ignore it)"
                )
        return value


class Randomization(Frozen):
    """Allocation: ratio, permuted blocks of random size (or minimization), strata and their
    shares, covariates drawn per patient."""

    ratio: tuple[PositiveInt, PositiveInt] = (1, 1)
    """Allocation ratio: control, then experimental (e.g. [1, 1] or [1, 2])."""
    block_sizes: tuple[PositiveInt, ...] = (4,)
    """Permuted block sizes, drawn uniformly per block; each a multiple of the ratio's total
    [patients]."""
    strata: dict[str, Probability] = Field(default_factory=lambda: {"all": 1.0})
    """Strata and the share of patients in each (they sum to 1); randomization is stratified by them
    [share]."""
    method: Literal["permuted_blocks", "minimization"] = "permuted_blocks"
    """How arms are allocated: `permuted_blocks` (stratified permuted blocks of block_sizes)
    or `minimization` (Pocock-Simon over minimization.factors)."""
    minimization: Minimization | None = None
    """Settings of method: minimization (factors, weights, imbalance, biased coin p); empty
    with that method: balance the strata, range, p = 0.8."""
    covariates: dict[str, dict[str, Probability]] = Field(default_factory=dict)
    """Patient covariates drawn per patient with the stated shares, e.g. sex: {male: 0.75,
    female: 0.25}; factors for minimization, their imbalance reported [share]."""

    @model_validator(mode="after")
    def check_blocks_and_strata(self) -> Randomization:
        unit = sum(self.ratio)
        if not self.block_sizes:
            raise field_error(
                ("block_sizes",),
                [],
                f"the list is empty: give at least one block size, e.g. [{2 * unit}, {3 * unit}]",
            )
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
        self.check_covariates()
        self.check_minimization()
        return self

    def check_covariates(self) -> None:
        for name, shares in self.covariates.items():
            if not FACTOR_NAME.match(name) or name in MINIMIZATION_FACTORS:
                raise field_error(
                    ("covariates",),
                    name,
                    "a covariate's name is lower-case letters, digits and _ (it names "
                    "columns), not stratum or site: e.g. sex or age_group",
                )
            total = sum(shares.values())
            if not shares or abs(total - 1.0) > 1e-9:
                raise field_error(
                    ("covariates", name),
                    dict(shares),
                    f"the shares of its levels sum to {total:g}, not 1: give every level "
                    "its share, e.g. {male: 0.75, female: 0.25}",
                )

    def check_minimization(self) -> None:
        if self.method == "permuted_blocks":
            if self.minimization is not None:
                raise field_error(
                    ("minimization",),
                    "...",
                    "minimization settings with method permuted_blocks: set method: "
                    "minimization, or drop the minimization block",
                )
            return
        known = [*MINIMIZATION_FACTORS, *self.covariates]
        rule = self.minimization_rule
        for name in rule.factors:
            if name not in known:
                raise field_error(
                    ("minimization", "factors"),
                    list(rule.factors),
                    f"factor {name!r} does not exist: use {', '.join(known)} (declare a "
                    "covariate under randomization.covariates first)",
                )
        if not rule.factors or len(set(rule.factors)) != len(rule.factors):
            raise field_error(
                ("minimization", "factors"),
                list(rule.factors),
                "give each factor once, at least one (e.g. [stratum, site])",
            )
        for name in rule.weights:
            if name not in rule.factors:
                raise field_error(
                    ("minimization", "weights"),
                    dict(rule.weights),
                    f"weight for {name!r}, which is not one of the factors "
                    f"{list(rule.factors)}: add it to factors or drop its weight",
                )

    @property
    def minimization_rule(self) -> Minimization:
        """The minimization settings (defaults when method minimization gives none)."""
        return self.minimization or Minimization()


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


# --- calendar ------------------------------------------------------------------------------


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
