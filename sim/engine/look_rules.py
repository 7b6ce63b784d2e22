"""The rules of the looks beyond the bounds: what a data monitoring committee reads at each
interim look, and the end of enrollment at an early stop.

What a data monitoring committee reads at each interim look of a simulated trial: the
conditional power under the design effect and under the current trend, the predictive power,
and with a Bayesian rule the posterior probability P(HR < c | data) (issue 26), one column
per interim look of the replicates table (vectorized over the chunk).

At look k with d_k events seen of the D planned for the final analysis, t = d_k / D and
I_max = D p (1 - p) (p the experimental arm's share); the final critical value c is the
design's last efficacy bound at the planned events (the value the committee is given), and
the formulas are the B-value closed forms of `sim.stats.predictive` with the look's z (z > 0
favours the experimental arm). The conditional power "under the design" assumes the design's
effect on the events still to come: the hazard ratio the design is powered for; with OS
primary, whose hazard ratio is not constant under the illness-death model, the OS effect of
the closed-form design (its average hazard ratio at the expected time of d deaths, as its
h1 rows), averaged over the deaths to come (`SequentialPlan.log_hr_to_come`), so that its
mean under the design is the design's power at the final bound. The predictive power and
the posterior use the design prior (`prior.hazard_ratio`) when the scenario has one, else a
flat prior. A look the trial did not hold (stopped before it, or not triggered) is blank
(nan).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from sim.conduct.enrollment import close_screening
from sim.stats import predictive

if TYPE_CHECKING:
    from sim.engine.looks import Sequential
    from sim.engine.trial import Cohort
    from sim.stats.monitoring import SequentialPlan

# the per-look quantities, each a column look<k>_<name> of the interim looks
LOOK_PROBABILITIES = (
    "conditional_power_design",
    "conditional_power_trend",
    "predictive_power",
)
POSTERIOR = "posterior_probability"  # with analysis.bayesian only


def look_probabilities(
    plan: SequentialPlan, z: np.ndarray, events: np.ndarray, in_trial: np.ndarray
) -> dict[str, np.ndarray]:
    """Columns look<k>_<quantity> (quantities: LOOK_PROBABILITIES, and POSTERIOR with a
    Bayesian rule) of each interim look k, from the looks' z (benefit scale), events and
    whether the trial held them (`in_trial`), all (R, K)."""
    n_reps, k_max = z.shape
    names = LOOK_PROBABILITIES + ((POSTERIOR,) if plan.bayesian is not None else ())
    columns: dict[str, np.ndarray] = {}
    for k in range(k_max - 1):
        values = {name: np.full(n_reps, np.nan) for name in names}
        fraction = events[:, k] / plan.max_events
        usable = in_trial[:, k] & np.isfinite(z[:, k]) & (fraction > 0.0) & (fraction < 1.0)
        # events are whole numbers: one closed-form call per distinct fraction
        for t in np.unique(fraction[usable]):
            rows = usable & (fraction == t)
            for name, value in probabilities_at(plan, z[rows, k], float(t), names).items():
                values[name][rows] = value
        columns.update({f"look{k + 1}_{name}": value for name, value in values.items()})
    return columns


def probabilities_at(
    plan: SequentialPlan, z: np.ndarray, fraction: float, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """The quantities `names` at one information fraction for the looks' z (see module)."""
    info_max = plan.variance_factor * plan.max_events
    critical = float(plan.design.efficacy[-1])
    # the design's effect on the events still to come (one HR: the one the design is powered
    # for, nan when no drift reaches the target power; OS: its AHRs, `log_hr_to_come`)
    to_come = plan.log_hr_to_come(np.asarray([fraction * plan.max_events]))
    design_hr = math.exp(float(to_come[0]))
    out = {
        "conditional_power_design": (
            predictive.conditional_power(
                z, fraction, information=info_max, hazard_ratio=design_hr, critical=critical
            )
            if math.isfinite(design_hr)
            else np.full(z.shape, np.nan)
        ),
        "conditional_power_trend": predictive.conditional_power_trend(
            z, fraction, critical=critical
        ),
        "predictive_power": predictive.predictive_power(
            z, fraction, information=info_max, prior=plan.prior, critical=critical
        ),
    }
    if POSTERIOR in names:
        _, hr_below, _ = plan.bayesian  # type: ignore[misc]
        out[POSTERIOR] = predictive.posterior_probability(
            z, fraction, information=info_max, prior=plan.prior, hazard_ratio=hr_below
        )
    return out


def stop_enrollment(cohort: Cohort, looks: Sequential) -> Cohort:
    """`cohort` with screening and randomization ended at the analysis date of each early
    stop (`sim.conduct.enrollment.close_screening`): its screening counts and monthly table
    count nobody screened or randomized after it. The same cohort when no trial of the
    chunk stopped early."""
    until = looks.enrolled_until
    if not np.isfinite(until).any():
        return cohort
    return dataclasses.replace(cohort, enrolled=close_screening(cohort.enrolled, until))
