"""The design prior: what the trial team believes about the effect and the control arm
before the trial (issue 26). Each replicate of a run draws its own true hazard ratio (and
control median) from it; `design` reports the assurance, the power averaged over it.

The names are a contract (docs/probability-of-success.md):
``prior.hazard_ratio: {distribution: lognormal, median: 0.6, sd_log: 0.25}`` (that is,
-log(HR) ~ Normal(-log 0.6, 0.25^2)) or ``{distribution: mixture, values: [0.6, 1.0],
weights: [0.7, 0.3]}``; ``prior.control_median_months: {distribution: lognormal, median: 6.8,
sd_log: 0.2}``; ``prior.no_benefit_hr`` (1.0 unless stated). The statistics of these priors
are `sim.stats.priors`; this module only states and validates them.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import field_validator, model_validator

from sim.scenario.base import MAX_HAZARD_RATIO, Frozen, PositiveFloat
from sim.scenario.errors import field_error

WEIGHT_TOLERANCE = 1e-9  # how far from 1 a mixture's weights may sum (as sim.stats.priors)


def check_sd_log(value: float | None) -> float | None:
    """sd_log > 0: a point belief is no prior."""
    if value is not None and value <= 0:
        raise ValueError(
            "must be > 0 (the prior's sd of the log; a point belief is no prior: state the "
            "value itself, e.g. effect.hazard_ratio), e.g. sd_log: 0.25"
        )
    return value


def check_median(value: float | None) -> float | None:
    """median > 0."""
    if value is not None and value <= 0:
        raise ValueError("must be > 0 (the prior's median), e.g. median: 0.6")
    return value


class HazardRatioPrior(Frozen):
    """The prior on the hazard ratio, experimental over control: lognormal (`median`,
    `sd_log`) or a mixture of point values (`values`, `weights`)."""

    distribution: Literal["lognormal", "mixture"]
    """`lognormal`: -log(HR) ~ Normal(-log(median), sd_log^2); `mixture`: HR is one of
    `values`, each with the probability in `weights`."""
    median: float | None = None
    """Lognormal: the prior's median hazard ratio (half the belief below it) [ratio]."""
    sd_log: float | None = None
    """Lognormal: the prior's standard deviation of log(HR) (0.25: HR within a factor 1.63 of the
    median with 95% probability) [log ratio]."""
    values: tuple[float, ...] = ()
    """Mixture: the hazard ratios the treatment may have, e.g. [0.6, 1.0] for 'works as
    planned' and 'does nothing' [ratio]."""
    weights: tuple[float, ...] = ()
    """Mixture: the probability of each value, summing to 1, e.g. [0.7, 0.3] [share]."""

    @field_validator("sd_log")
    @classmethod
    def check_sd(cls, value: float | None) -> float | None:
        return check_sd_log(value)

    @field_validator("median")
    @classmethod
    def check_positive_median(cls, value: float | None) -> float | None:
        return check_median(value)

    @field_validator("values")
    @classmethod
    def check_values(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        bad = [v for v in values if not 1 / MAX_HAZARD_RATIO <= v <= MAX_HAZARD_RATIO]
        if bad:
            raise ValueError(
                f"every value must be a hazard ratio > 0 ({bad[0]!r} is not; within "
                f"{1 / MAX_HAZARD_RATIO:g} to {MAX_HAZARD_RATIO:g}), e.g. [0.6, 1.0]"
            )
        return values

    @model_validator(mode="after")
    def check_fields(self) -> HazardRatioPrior:
        if self.distribution == "lognormal":
            if self.values or self.weights:
                raise ValueError(
                    "a lognormal prior has median and sd_log, not values or weights "
                    "(drop them, or write distribution: mixture)"
                )
            if self.median is None or self.sd_log is None:
                raise ValueError(
                    "a lognormal prior needs median and sd_log, e.g. "
                    "{distribution: lognormal, median: 0.6, sd_log: 0.25}"
                )
            return self
        if self.median is not None or self.sd_log is not None:
            raise ValueError(
                "a mixture prior has values and weights, not median or sd_log (drop them, "
                "or write distribution: lognormal)"
            )
        if not self.values:
            raise field_error(
                ("values",),
                [],
                "a mixture needs at least one hazard ratio, e.g. values: [0.6, 1.0]",
            )
        if len(self.weights) != len(self.values):
            raise field_error(
                ("weights",),
                list(self.weights),
                f"one weight per value ({len(self.values)} values, {len(self.weights)} "
                f"weights): give {len(self.values)} weights that sum to 1",
            )
        if any(w < 0 for w in self.weights):
            raise field_error(
                ("weights",), list(self.weights), "every weight must be >= 0, e.g. [0.7, 0.3]"
            )
        total = math.fsum(self.weights)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            fix = (
                f"rescale them to {[round(w / total, 6) for w in self.weights]!r}"
                if total > 0
                else "give at least one weight > 0"
            )
            raise field_error(
                ("weights",),
                list(self.weights),
                f"weights must sum to 1 (within {WEIGHT_TOLERANCE:g}), they sum to "
                f"{total:.12g}: {fix}",
            )
        return self


class ControlMedianPrior(Frozen):
    """The prior on the control arm's PFS median: log(median) ~ Normal(log(m), sd_log^2)."""

    distribution: Literal["lognormal"] = "lognormal"
    """`lognormal` (the only one)."""
    median: float
    """The prior's median of the control arm's PFS median [months]."""
    sd_log: float
    """The prior's standard deviation of log(control median) (0.2: within a factor 1.48 of the
    median with 95% probability) [log months]."""

    @field_validator("sd_log")
    @classmethod
    def check_sd(cls, value: float) -> float:
        return check_sd_log(value)  # type: ignore[return-value]

    @field_validator("median")
    @classmethod
    def check_positive_median(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be > 0 (the control arm's median PFS), e.g. median: 6.8")
        return value


class Prior(Frozen):
    """The design prior: each replicate draws its true hazard ratio (and control median)
    from it, on a stream of its own; `design` and `run` report the assurance (the chance of
    success averaged over it) beside the power at the scenario's effect."""

    hazard_ratio: HazardRatioPrior | None = None
    """Prior on the experimental arm's hazard ratio; replaces effect.hazard_ratio in every
    replicate of a run (empty: the effect as stated)."""
    control_median_months: ControlMedianPrior | None = None
    """Prior on the control arm's PFS median: each replicate's PFS times (both arms) are
    stretched so that the control median is the one drawn (empty: pfs.control as
    stated)."""
    no_benefit_hr: PositiveFloat = 1.0
    """The hazard ratio at and above which the treatment does not work: a success when the
    drawn HR is >= this is a false success [ratio]."""

    @model_validator(mode="after")
    def check_something(self) -> Prior:
        if self.hazard_ratio is None and self.control_median_months is None:
            raise ValueError(
                "a prior block needs hazard_ratio or control_median_months, e.g. "
                "hazard_ratio: {distribution: lognormal, median: 0.6, sd_log: 0.25}"
            )
        return self


def check_prior_fits(scenario: object) -> None:
    """The prior's cross-field rules: a prior on the HR replaces a proportional-hazards
    effect (not an experimental arm's own distribution, nor a piecewise hazard ratio), and
    one on the control median needs a control distribution with a median_months.

    `scenario` is a `sim.scenario.model.Scenario` (not imported: model imports this)."""
    prior = getattr(scenario, "prior", None)
    if prior is None:
        return
    pfs, effect = scenario.pfs, scenario.effect  # type: ignore[attr-defined]
    if prior.hazard_ratio is not None:
        if pfs.experimental is not None:
            raise field_error(
                ("prior", "hazard_ratio"),
                None,
                "a prior on the hazard ratio needs the experimental arm as a hazard ratio on "
                "the control's: drop pfs.experimental and give effect.hazard_ratio",
            )
        if effect.piecewise_hazard_ratio:
            raise field_error(
                ("prior", "hazard_ratio"),
                None,
                "a prior on the hazard ratio replaces a proportional-hazards effect, not "
                "effect.piecewise_hazard_ratio: give effect.hazard_ratio instead",
            )
    if prior.control_median_months is not None and pfs.control.median_months is None:
        raise field_error(
            ("prior", "control_median_months"),
            None,
            "the control median's prior stretches pfs.control, so pfs.control needs "
            "median_months (exponential, or weibull with median_months)",
        )
