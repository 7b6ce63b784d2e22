"""The blocks of the outcomes: PFS and the treatment effect, dropout, overall survival,
response, local control and adverse events, with the hazard arithmetic they share."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import (
    DAYS_PER_MONTH,
    MAX_HAZARD_RATIO,
    Frozen,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from sim.scenario.errors import field_error

if TYPE_CHECKING:
    from collections.abc import Sequence


def piece_table(
    pieces: Sequence[HazardPeriod] | Sequence[HazardRatioPeriod], value: str
) -> tuple[list[float], list[float]]:
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


# Weibull shapes a scenario may have: within these, the closed forms of `design` (numeric,
# on a 1-day grid over 120 months) and the simulation agree for the medians of real trials;
# a shape of 7 with a median of 6.8 months already leaves no average hazard ratio.
MIN_WEIBULL_SHAPE = 0.5
MAX_WEIBULL_SHAPE = 5.0


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
    """Weibull shape k: hazard rising (k > 1) or falling (k < 1) as t^(k-1); from 0.5 to 5 [1]."""
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
            if not MIN_WEIBULL_SHAPE <= self.shape <= MAX_WEIBULL_SHAPE:
                raise field_error(
                    ("shape",),
                    self.shape,
                    f"outside {MIN_WEIBULL_SHAPE:g} to {MAX_WEIBULL_SHAPE:g}: beyond these "
                    "the distribution is nearly a step at its scale (large shapes) or puts "
                    "most events past the design's 120-month horizon (small ones), and the "
                    "closed forms of `design` stop agreeing with the simulation; published "
                    "survival fits lie within this range (e.g. 0.8 or 1.3)",
                )
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
    """Hazard ratio of the experimental arm against control (proportional hazards; the
    intention-to-treat effect) [ratio]."""
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


class SubsequentTherapy(Frozen):
    """A therapy some patients of an arm start at progression (a later line; in the control
    arm, immunotherapy is crossover to the experimental arm's kind of drug): it multiplies
    the patient's hazard of death after progression (h12) by `hazard_ratio`."""

    name: Annotated[str, Field(min_length=1)]
    """Name of the therapy, shown in tables (e.g. docetaxel, immunotherapy)."""
    share: float
    """Share of the arm's patients who progress that start it [share]."""
    hazard_ratio: Annotated[float, Field(gt=1.0 / MAX_HAZARD_RATIO, le=MAX_HAZARD_RATIO)]
    """Its hazard of death after progression relative to no subsequent therapy [ratio]."""
    immunotherapy: bool = False
    """Whether it is an immunotherapy (counted in subsequent_immunotherapy_<arm>)."""

    @field_validator("share")
    @classmethod
    def check_share(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(
                "a share of the arm's patients who progress must be in [0, 1]: e.g. 0.3 "
                "(30% start this therapy)"
            )
        return value


class SubsequentTherapies(Frozen):
    """The subsequent therapies of each arm after progression; each patient who progresses
    starts at most one, therapy j with its share (the rest: none)."""

    control: tuple[SubsequentTherapy, ...] = ()
    """Control arm's subsequent therapies (crossover: an immunotherapy here)."""
    experimental: tuple[SubsequentTherapy, ...] = ()
    """Experimental arm's subsequent therapies."""

    @model_validator(mode="after")
    def check_total_share(self) -> SubsequentTherapies:
        for name in ("control", "experimental"):
            total = sum(t.share for t in getattr(self, name))
            if total > 1.0 + 1e-9:
                raise field_error(
                    (name,),
                    "...",
                    f"the shares add up to {total:g}, above 1: each patient starts at most "
                    "one subsequent therapy; lower them",
                )
        return self

    def arm(self, arm: int) -> tuple[SubsequentTherapy, ...]:
        return self.experimental if arm else self.control


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
    subsequent_therapy: SubsequentTherapies | None = None
    """Therapies started at progression, per arm, each with its share and its hazard ratio
    on h12 (docs/conduct.md); empty: none [-]."""

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


# --- hazard arithmetic ---------------------------------------------------------------------


def pfs_cumulative_hazard(pfs: Pfs, effect: Effect, arm: int, day: float) -> float:
    """PFS cumulative hazard H(day) = -log S(day) of arm 0 (control) or 1 (experimental)
    for a multiplier-1 patient: the (piecewise) hazard ratio, the experimental arm's own
    distribution and the cure fraction as the simulator draws them."""
    if arm == 1 and pfs.experimental is not None:
        survival, cure = pfs.experimental, pfs.experimental.cure_fraction
        total = survival.uncured_cumulative_hazard(day)
    elif arm == 1:
        survival = pfs.control
        cure = survival.cure_fraction if effect.cure_fraction is None else effect.cure_fraction
        starts, ratios = effect.ratio_table()
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
        survival, cure = pfs.control, pfs.control.cure_fraction
        total = survival.uncured_cumulative_hazard(day)
    if cure == 0.0:
        return total
    return -math.log(cure + (1.0 - cure) * math.exp(-total))


def post_progression_mix(os_block: OverallSurvival, arm: int) -> list[tuple[float, float]]:
    """[(share, ratio)] of arm 0 / 1's patients who progress: the ratio on the post-progression
    hazard h12, as the simulator draws it (`sim.conduct.survival.draw_post_progression`):
    post_progression_hazard_ratio in arm 1, times each subsequent therapy's hazard ratio for
    the share of the arm that starts it; the rest (share 1 - the therapies') none."""
    ratio = os_block.post_progression_hazard_ratio if arm == 1 else 1.0
    therapies = os_block.subsequent_therapy.arm(arm) if os_block.subsequent_therapy else ()
    mix = [(t.share, ratio * t.hazard_ratio) for t in therapies]
    return [*mix, (1.0 - sum(t.share for t in therapies), ratio)]


def post_progression_death_probability(os_block: OverallSurvival, arm: int, day: float) -> float:
    """P(death within `day` days of a progression) in arm 0 / 1: the post-progression
    survival (its cure fraction, its hazard times the ratios of `post_progression_mix`)."""
    after = os_block.post_progression
    h12 = after.uncured_cumulative_hazard(day)
    alive = sum(
        w * (after.cure_fraction + (1.0 - after.cure_fraction) * math.exp(-m * h12))
        for w, m in post_progression_mix(os_block, arm)
    )
    return 1.0 - alive


def local_progression_share(lc: LocalControl, pfs: Pfs, effect: Effect, arm: int) -> float:
    """Share of the arm's progressions that involve the index lesion: the lesion's
    cumulative hazard by `lc.months`, -log(1 - p), over h01's."""
    p = getattr(lc.progression_by_months, ("control", "experimental")[arm])
    h01 = (1.0 - pfs.death_fraction) * pfs_cumulative_hazard(
        pfs, effect, arm, lc.months * DAYS_PER_MONTH
    )
    if p == 0.0:
        return 0.0
    return math.inf if h01 == 0.0 or p == 1.0 else -math.log1p(-p) / h01
