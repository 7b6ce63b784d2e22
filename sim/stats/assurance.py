"""Assurance: the probability that the trial succeeds, averaged over what we believe.

Power answers "if the hazard ratio is exactly 0.6"; assurance (O'Hagan, Stevens and Campbell
2005, Pharm Stat 4:187-201) answers "given the design prior, how likely is success":

    assurance = E_prior[ power(theta) ] = integral of power(theta) p(theta) d theta,

with theta = -log(HR) (theta > 0: benefit) and power(theta) the probability that the design
rejects on the side of benefit when the effect is theta. The log-rank z after d events with
a share p of patients on the experimental arm is approximately Normal(theta sqrt(I), 1) with
information I = d p (1 - p) (Schoenfeld 1981, Biometrika 68:316-319).

* Fixed design, normal prior theta ~ N(mu, sd^2), critical value z_{1-alpha}: Z is then
  N(mu sqrt(I), 1 + I sd^2) before the trial, so (O'Hagan et al. 2005)

      assurance = Phi( (mu sqrt(I) - z_{1-alpha}) / sqrt(1 + I sd^2) ).

* Group-sequential design (a `sim.stats.sequential.Design`): power(theta) is the design's
  probability of crossing an efficacy bound at drift theta sqrt(I_max) (recursive
  integration), averaged over the prior by 40-node Gauss-Hermite quadrature in theta.
* Mixture prior: the exact sum of the weights times the power at each value.

Beside it, with a hazard ratio HR_0 that means "no benefit" (1 unless stated):
``p_effective`` = P(HR < HR_0) under the prior, ``p_success_given_effective`` =
P(success | HR < HR_0) and ``p_false_success`` = P(success and HR >= HR_0), a joint
probability, so that assurance = p_success_given_effective p_effective + p_false_success.
The truncated integrals use composite Gauss-Legendre quadrature on the normal prior.

Pure functions; a design and a prior in, probabilities out. For a scenario with a `prior:`
block, `prior_design` gives its prior, planned final events and design, and
`prior_design_rows` design.csv's rows (`sim.api.design` adds them).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import ndtr

from sim.errors import ScenarioError
from sim.stats.priors import (
    QUADRATURE_NODES,
    HazardRatioPrior,
    LognormalHazardRatio,
    MixtureHazardRatio,
    check_positive,
    hazard_ratio_prior,
)
from sim.stats.schoenfeld import z_alpha
from sim.stats.sequential import Design

if TYPE_CHECKING:
    from sim.scenario import Scenario

# Composite Gauss-Legendre for integrals of a normal prior over a half-line: pieces of
# one sd, 12 nodes each, out to 12 sd (the mass beyond is below 1e-32).
_PIECE_NODES = 12
_TAIL_SDS = 12.0
QUADRATURE = f"{QUADRATURE_NODES}-node Gauss-Hermite"  # how design.csv says it averaged


def check_allocation(allocation: float) -> float:
    """`allocation` as a float; raises ScenarioError unless 0 < allocation < 1."""
    if not (isinstance(allocation, numbers.Real) and 0.0 < allocation < 1.0):
        raise ScenarioError(
            f"allocation = {allocation!r}: must be the share of patients on the experimental "
            "arm, strictly between 0 and 1; e.g. 0.5 for 1:1, 2/3 for 2:1"
        )
    return float(allocation)


def event_information(events: float, allocation: float = 0.5) -> float:
    """Fisher information of log(HR) after `events` events: I = d p (1 - p), p = `allocation`
    (the experimental arm's share). Raises ScenarioError if events <= 0 or p outside (0, 1)."""
    d = check_positive("events", events, meaning="events at the final analysis", example="70")
    p = check_allocation(allocation)
    return d * p * (1.0 - p)


def fixed_design(alpha: float, sides: int = 1) -> Design:
    """A single-look design rejecting when Z >= z_{1 - alpha / sides} (z > 0: benefit).

    Raises ScenarioError unless 0 < alpha < 1 and sides is 1 or 2."""
    if sides not in (1, 2):
        raise ScenarioError(f"sides = {sides!r}: must be 1 or 2 (a one- or two-sided test); e.g. 1")
    if not 0.0 < alpha < 1.0:
        raise ScenarioError(
            f"alpha = {alpha!r}: must be a type I error strictly between 0 and 1; e.g. 0.025"
        )
    return Design(
        fractions=np.array([1.0]),
        efficacy=np.array([z_alpha(alpha, sides)]),
        futility=np.array([-np.inf]),
        alpha=float(alpha),
        beta=math.nan,
        sides=sides,
        binding=False,
        drift=math.nan,
    )


def power_curve(
    hazard_ratio: float | np.ndarray,
    events: float,
    *,
    design: Design,
    allocation: float = 0.5,
    with_futility: bool = True,
) -> np.ndarray:
    """Power of `design` at each hazard ratio after `events` final events: the probability of
    crossing an efficacy bound on the side of benefit at drift -log(HR) sqrt(I_max),
    I_max = events p (1 - p). A single look gives Phi(-log(HR) sqrt(I) - z_{1-alpha})
    (Schoenfeld). `with_futility=False` ignores the futility bounds (non-binding futility:
    what the efficacy bounds alone conclude)."""
    theta = -np.log(np.asarray(hazard_ratio, dtype=float))
    drift = theta * math.sqrt(event_information(events, allocation))
    if design.looks == 1:
        return ndtr(drift - design.efficacy[0])
    flat = np.array([design.power(float(x), with_futility) for x in np.ravel(drift)])
    return flat.reshape(np.shape(drift))


def assurance_normal(
    theta_mean: float, theta_sd: float, *, information: float, critical: float
) -> float:
    """Closed-form assurance of a single-look test for theta ~ Normal(theta_mean, theta_sd^2):
    Phi((theta_mean sqrt(I) - critical) / sqrt(1 + I theta_sd^2)) (O'Hagan et al. 2005).

    `critical` is the z the final statistic must reach (z_{1-alpha} one-sided)."""
    root = math.sqrt(information)
    return float(ndtr((theta_mean * root - critical) / math.sqrt(1.0 + information * theta_sd**2)))


def assurance(
    prior: HazardRatioPrior,
    events: float,
    *,
    design: Design,
    allocation: float = 0.5,
    with_futility: bool = True,
    nodes: int = QUADRATURE_NODES,
) -> float:
    """Power of `design` after `events` final events averaged over `prior`.

    Lognormal prior and a single look: the closed form (`assurance_normal`); lognormal and
    a group-sequential design: `nodes`-point Gauss-Hermite in theta; a mixture: the exact
    weighted sum. See the module docstring for the formulas."""
    if isinstance(prior, LognormalHazardRatio) and design.looks == 1:
        return assurance_normal(
            prior.theta_mean,
            prior.theta_sd,
            information=event_information(events, allocation),
            critical=float(design.efficacy[0]),
        )
    hr, weights = prior.nodes(nodes)
    power = power_curve(
        hr, events, design=design, allocation=allocation, with_futility=with_futility
    )
    return float(weights @ power)


def _success_without_benefit(
    prior: HazardRatioPrior,
    events: float,
    *,
    design: Design,
    allocation: float,
    with_futility: bool,
    no_benefit_hr: float,
) -> float:
    """P(success and HR >= no_benefit_hr) under the prior."""
    if isinstance(prior, MixtureHazardRatio):
        hr = np.asarray(prior.values)
        keep = hr >= no_benefit_hr
        if not keep.any():
            return 0.0
        power = power_curve(
            hr[keep], events, design=design, allocation=allocation, with_futility=with_futility
        )
        return float(np.asarray(prior.weights)[keep] @ power)
    # theta <= -log(HR_0): integrate power x normal density over the half-line, piecewise
    mean, sd = prior.theta_mean, prior.theta_sd
    upper = min(-math.log(no_benefit_hr), mean + _TAIL_SDS * sd)
    lower = mean - _TAIL_SDS * sd
    if upper <= lower:
        return 0.0
    pieces = max(1, math.ceil((upper - lower) / sd))
    x, w = leggauss(_PIECE_NODES)
    edges = np.linspace(lower, upper, pieces + 1)
    half = np.diff(edges)[:, None] / 2.0
    theta = (edges[:-1, None] + half + half * x[None, :]).ravel()
    weight = (half * w[None, :]).ravel()
    density = np.exp(-0.5 * ((theta - mean) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
    power = power_curve(
        np.exp(-theta), events, design=design, allocation=allocation, with_futility=with_futility
    )
    return float((weight * density) @ power)


@dataclass(frozen=True)
class ProbabilityOfSuccess:
    """Assurance and its parts under one prior, design and final events.

    assurance = p_success_given_effective * p_effective + p_false_success."""

    assurance: float  # P(success), averaged over the prior
    p_effective: float  # prior P(HR < no_benefit_hr)
    p_success_given_effective: float  # P(success | HR < no_benefit_hr); nan if p_effective = 0
    p_false_success: float  # P(success and HR >= no_benefit_hr): joint, not conditional
    no_benefit_hr: float  # the hazard ratio at and above which the drug does not work
    central_hazard_ratio: float  # exp(-E[theta]): the prior's median HR if lognormal
    power_at_central: float  # the design's power at central_hazard_ratio


def probability_of_success(
    prior: HazardRatioPrior,
    events: float,
    *,
    design: Design,
    allocation: float = 0.5,
    no_benefit_hr: float = 1.0,
    with_futility: bool = True,
) -> ProbabilityOfSuccess:
    """Assurance, P(HR < HR_0), P(success | HR < HR_0), P(success and HR >= HR_0) and the
    power at exp(-E[theta]), for `design` after `events` final events (module docstring).

    Raises ScenarioError if no_benefit_hr <= 0."""
    h0 = check_positive(
        "prior.no_benefit_hr",
        no_benefit_hr,
        meaning="the hazard ratio at and above which the treatment does not work",
        example="no_benefit_hr: 1.0",
    )
    total = assurance(
        prior, events, design=design, allocation=allocation, with_futility=with_futility
    )
    false = _success_without_benefit(
        prior,
        events,
        design=design,
        allocation=allocation,
        with_futility=with_futility,
        no_benefit_hr=h0,
    )
    effective = prior.probability_below(h0)
    centre = prior.central_hazard_ratio
    return ProbabilityOfSuccess(
        assurance=total,
        p_effective=effective,
        p_success_given_effective=(total - false) / effective if effective > 0 else math.nan,
        p_false_success=false,
        no_benefit_hr=h0,
        central_hazard_ratio=centre,
        power_at_central=float(
            power_curve(
                centre, events, design=design, allocation=allocation, with_futility=with_futility
            )
        ),
    )


def p_success_given_effective(
    prior: HazardRatioPrior,
    events: float,
    *,
    design: Design,
    allocation: float = 0.5,
    no_benefit_hr: float = 1.0,
    with_futility: bool = True,
) -> float:
    """P(success | HR < no_benefit_hr) under the prior: the power of the design averaged over
    the effects that are real (nan if the prior gives them no mass)."""
    return probability_of_success(
        prior,
        events,
        design=design,
        allocation=allocation,
        no_benefit_hr=no_benefit_hr,
        with_futility=with_futility,
    ).p_success_given_effective


def p_false_success(
    prior: HazardRatioPrior,
    events: float,
    *,
    design: Design,
    allocation: float = 0.5,
    no_benefit_hr: float = 1.0,
    with_futility: bool = True,
) -> float:
    """P(success and HR >= no_benefit_hr) under the prior: the chance, before the trial, of
    a positive trial of a treatment that does not work (a joint probability)."""
    return _success_without_benefit(
        prior,
        events,
        design=design,
        allocation=allocation,
        with_futility=with_futility,
        no_benefit_hr=check_positive(
            "prior.no_benefit_hr",
            no_benefit_hr,
            meaning="the hazard ratio at and above which the treatment does not work",
            example="no_benefit_hr: 1.0",
        ),
    )


# ------------------------------------------------------------- a scenario's design prior


def analysis_design(scenario: Scenario) -> tuple[Design, float, float] | None:
    """(the design of the primary analysis, its final planned events, the experimental arm's
    allocation share): the group-sequential design of `analysis.looks`, else a single look at
    the event target; None for a cut by date alone (no planned events)."""
    a = scenario.analysis
    p = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    if a.looks:
        # imported here: the group-sequential plan is needed only with looks
        from sim.stats.boundaries import design_prior, planned_events
        from sim.stats.monitoring import SequentialPlan

        events = planned_events(scenario)
        plan = SequentialPlan.from_analysis(a, events, p, design_prior(scenario))
        return plan.design, float(events[-1]), p
    if a.event_target is not None:
        return fixed_design(a.alpha, a.sides), float(a.event_target), p
    return None


def prior_design(scenario: Scenario) -> tuple[HazardRatioPrior, float, Design, float, str] | None:
    """(prior on the HR, final planned events, the design, allocation, how assurance is
    computed) of a scenario with a prior on the hazard ratio; None without one, or without
    planned events (a cut by date alone)."""
    if scenario.prior is None or scenario.prior.hazard_ratio is None:
        return None
    found = analysis_design(scenario)
    if found is None:
        return None
    design, final, p = found
    mixture = scenario.prior.hazard_ratio.distribution == "mixture"
    if len(design.fractions) > 1:
        how = f"{len(design.fractions)}-look design, " + (
            "the mixture's weighted sum of powers" if mixture else f"{QUADRATURE} over the prior"
        )
    else:
        how = "the mixture's weighted sum of powers" if mixture else "closed form, O'Hagan 2005"
    prior = hazard_ratio_prior(scenario.prior)
    assert prior is not None
    return prior, final, design, p, how


def prior_design_rows(scenario: Scenario) -> list[tuple[str, object, str, str]]:
    """design.csv's rows of the design prior on the hazard ratio: assurance, P(success |
    HR < no_benefit_hr), P(success and HR >= no_benefit_hr) and the power at the prior's
    mean of log HR, at the final analysis's planned events (`sim.stats.assurance`: the
    closed form for a lognormal prior and one look, quadrature otherwise; `prior_design`).
    None without a prior on the HR or without planned events (a cut by date alone)."""
    found = prior_design(scenario)
    if found is None:
        return []
    prior, events, design, p, how = found
    assert scenario.prior is not None
    pos = probability_of_success(
        prior, events, design=design, allocation=p, no_benefit_hr=scenario.prior.no_benefit_hr
    )
    at = f"at {events:g} events"
    h0 = f"{pos.no_benefit_hr:g}"
    return [
        ("assurance", pos.assurance, "probability", f"power averaged over the prior, {at}; {how}"),
        ("p_effective", pos.p_effective, "probability", f"prior P(HR < {h0})"),
        (
            "p_success_given_effective",
            pos.p_success_given_effective,
            "probability",
            f"P(success | HR < {h0}), {at}",
        ),
        (
            "p_false_success",
            pos.p_false_success,
            "probability",
            f"P(success and HR >= {h0}), joint, {at}",
        ),
        (
            "power_at_prior_mean",
            pos.power_at_central,
            "probability",
            f"at HR {pos.central_hazard_ratio:.4g} = exp(prior mean of log HR), {at}",
        ),
    ]
