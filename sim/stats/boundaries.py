"""The design side of a group-sequential scenario: boundaries.csv and its design.csv rows.

Per look: planned events and information fraction, efficacy and futility bounds on the z,
one-sided nominal p and hazard-ratio scales (Schoenfeld: HR = exp(-z / sqrt(p (1 - p) d))),
cumulative alpha spent under H0 (non-binding futility ignored, as it must be for the type I
error) and cumulative beta (futility stops, and at the last look not rejecting, at the
design drift), the stopping probabilities under H0 and under the scenario's hazard ratio
(H1) at the planned events (p_futility_*: futility stops at the interims; two-sided
designs: the stop for harm), and the look's expected calendar time from the Lachin-Foulkes
event curve. Overall: power, early stopping, expected events and analysis time under H0
and H1, the inflation factor (drift / (z_alpha + z_beta))^2 and the maximum events for the
target power (the fixed-design Schoenfeld events x the inflation factor), as rpact's
getDesignCharacteristics and getPowerSurvival report them.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtr

from sim.stats import design as fixed
from sim.stats.sequential import Design, fixed_design_drift

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.stats.monitoring import SequentialPlan
    from sim.stats.predictive import InterimPrior


def scenario_plan(scenario: Scenario) -> SequentialPlan | None:
    """The scenario's SequentialPlan (None without analysis.looks), worked out once per
    scenario (`look_plan`)."""
    return look_plan(scenario).plan if scenario.analysis.looks else None


def design_prior(scenario: Scenario) -> InterimPrior:
    """The design prior on the hazard ratio of the interim predictive power and the
    Bayesian rule (`prior.hazard_ratio`); None (a flat prior) without one."""
    from sim.stats.priors import hazard_ratio_prior

    prior = scenario.prior
    return hazard_ratio_prior(prior) if prior is not None else None


def allocation(scenario: Scenario) -> float:
    return scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)


OS_GRID_MONTHS = fixed.NPH_GRID_MONTHS  # as `sim.stats.design.nph_design_rows`
_NULLS: list = []  # [(scenario, its os_null_scenario)] of the latest call


def os_null_scenario(scenario: Scenario) -> Scenario:
    """The scenario under H0 for OS: both arms the control's PFS and post-progression
    survival (effect and post-progression hazard ratios 1, no own experimental PFS). The
    same object for the same scenario, so that its expected deaths are computed once."""
    from sim.scenario import Effect

    if _NULLS and _NULLS[0][0] is scenario:
        return _NULLS[0][1]
    os_block = scenario.overall_survival.model_copy(update={"post_progression_hazard_ratio": 1.0})
    pfs = scenario.pfs.model_copy(update={"experimental": None})
    null = scenario.model_copy(
        update={"effect": Effect(hazard_ratio=1.0), "overall_survival": os_block, "pfs": pfs}
    )
    _NULLS[:] = [(scenario, null)]
    return null


def os_expected_deaths(scenario: Scenario, months: np.ndarray, null: bool) -> np.ndarray:
    """Expected deaths by `months` since the start (numeric, `sim.stats.design.
    nph_expected_events` with the illness-death OS); `null`: under H0 (`os_null_scenario`)."""
    chosen = os_null_scenario(scenario) if null else scenario
    return fixed.nph_expected_events(chosen, months)["events"].to_numpy()


def os_grid_deaths(scenario: Scenario, null: bool) -> np.ndarray:
    """`os_expected_deaths` on OS_GRID_MONTHS (computed once per scenario)."""
    chosen = os_null_scenario(scenario) if null else scenario
    return fixed.nph_grid_events(chosen)["events"].to_numpy()


@dataclass(frozen=True)
class OsDesignEffect:
    """The OS effect of the design as the closed-form design states it (gsDesign2's
    gs_power_ahr): at d deaths, log AHR(T_d), the log of the average hazard ratio of OS
    (`sim.stats.design.nph_expected_events`) at T_d, the expected time of d deaths under
    the scenario's illness-death model (linear between the quarter months of
    OS_GRID_MONTHS, as `expected_time`; past the grid, its end). Called with an array of
    death counts, it returns their log AHRs; each array's AHRs are computed once."""

    scenario: Scenario
    deaths: np.ndarray  # expected deaths on OS_GRID_MONTHS
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def average_hazard_ratios(self, events: Sequence[float]) -> np.ndarray:
        """The AHRs of OS at the expected times of `events` deaths (callers must not change
        the array: it is the cached one)."""
        events = np.asarray(events, dtype=float)
        key = tuple(events)
        hit = self.cache.get(key)
        if hit is None:
            months = np.interp(events, self.deaths, OS_GRID_MONTHS)
            table = fixed.nph_expected_events(self.scenario, months)
            hit = self.cache[key] = table["average_hazard_ratio"].to_numpy()
        return hit

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return np.log(self.average_hazard_ratios(events))


class LookPlan:
    """What the design of a scenario with analysis.looks is planned from, each part worked
    out once per scenario, as design.csv's rows, boundaries.csv and a run's monitoring plan
    all read them: the planned events of the looks, with OS primary the OS effect of the
    design (`OsDesignEffect`), the hazard ratio of the design's h1 rows and the
    SequentialPlan. Scenarios are frozen, so the same object has the same plan."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    @functools.cached_property
    def events(self) -> tuple[float, ...]:
        """Planned events at each look: its events, its fraction of the final look's events,
        or (a date) the Lachin-Foulkes expected events then, under the scenario's effect
        (with OS primary, the numeric expected deaths)."""
        scenario = self.scenario
        a = scenario.analysis

        def expected(date: dt.date) -> float:
            months = (date - scenario.trial.start_date).days / fixed.DAYS_PER_MONTH
            if a.endpoint == "os":
                return float(os_expected_deaths(scenario, np.asarray([months]), null=False)[0])
            return float(
                fixed.expected_events(
                    months,
                    fixed.scenario_accrual(scenario),
                    fixed.scenario_hazards(scenario),
                    scenario.effect.hazard_ratio,
                    scenario.dropout.hazard_per_day * fixed.DAYS_PER_MONTH,
                    allocation(scenario),
                    scenario.trial.sample_size,
                )
            )

        final = a.looks[-1]
        total = float(final.events) if final.events is not None else expected(final.date)
        out = []
        for look in a.looks[:-1]:
            if look.events is not None:
                out.append(float(look.events))
            elif look.information is not None:
                out.append(look.information * total)
            else:
                out.append(expected(look.date))
        return (*out, total)

    @functools.cached_property
    def os_effect(self) -> OsDesignEffect | None:
        """With OS primary, the OS effect of the design whatever its size; None with PFS."""
        if self.scenario.analysis.endpoint != "os":
            return None
        return OsDesignEffect(self.scenario, os_grid_deaths(self.scenario, null=False))

    @functools.cached_property
    def hazard_ratio(self) -> float:
        """`design_hazard_ratio`."""
        if self.os_effect is None:
            return self.scenario.effect.hazard_ratio
        return float(self.os_effect.average_hazard_ratios(self.events[-1:])[0])

    @functools.cached_property
    def design_effect(self) -> OsDesignEffect | None:
        """`design_effect`: the OS effect, unless its AHR at the final look is 1."""
        effect = self.os_effect
        if effect is None or abs(float(effect(self.events[-1:])[0])) < 1e-12:
            return None
        return effect

    @functools.cached_property
    def plan(self) -> SequentialPlan:
        from sim.stats.monitoring import SequentialPlan

        return SequentialPlan.from_analysis(
            self.scenario.analysis,
            list(self.events),
            allocation(self.scenario),
            design_prior(self.scenario),
            design_effect=self.design_effect,
        )


_LOOK_PLANS: list = []  # [(scenario, its LookPlan)] of the latest call


def look_plan(scenario: Scenario) -> LookPlan:
    """The scenario's LookPlan: the same object for the same scenario (as long as no other
    scenario was asked about since), so that each part is computed once."""
    if _LOOK_PLANS and _LOOK_PLANS[0][0] is scenario:
        return _LOOK_PLANS[0][1]
    found = LookPlan(scenario)
    _LOOK_PLANS[:] = [(scenario, found)]
    return found


def design_effect(scenario: Scenario) -> OsDesignEffect | None:
    """The design's effect when it is not one hazard ratio: with OS primary and an OS
    effect, `OsDesignEffect` (the drifts of design.csv's h1 rows, and the effect "under the
    design" of the looks' conditional power and its futility bounds). None with PFS primary,
    and for OS without an effect (AHR 1 at the final look: a run under H0), where the plan
    uses the one hazard ratio with the target power at the planned events, as for PFS."""
    if scenario.analysis.endpoint != "os" or not scenario.analysis.looks:
        return None
    return look_plan(scenario).design_effect


def design_hazard_ratio(scenario: Scenario) -> float:
    """The hazard ratio of the primary endpoint behind the design's drift and its H1 rows:
    effect.hazard_ratio (PFS); with OS primary, the average hazard ratio of OS at the
    final look's planned deaths (gsDesign2's AHR, `sim.stats.design.nph_expected_events`)."""
    if scenario.analysis.endpoint != "os":
        return scenario.effect.hazard_ratio
    return look_plan(scenario).hazard_ratio


def expected_time(scenario: Scenario, events: float, hazard_ratio: float) -> float:
    """Months from the start until `events` events are expected: Lachin-Foulkes (PFS), or
    with OS primary the numeric expected deaths of the scenario (under H0 when
    `hazard_ratio` is 1)."""
    if scenario.analysis.endpoint == "os":
        deaths = os_grid_deaths(scenario, null=hazard_ratio == 1.0)
        if deaths[-1] < events:
            return math.inf
        return float(np.interp(events, deaths, OS_GRID_MONTHS))
    return fixed.expected_event_time(
        events,
        fixed.scenario_accrual(scenario),
        fixed.scenario_hazards(scenario),
        hazard_ratio,
        scenario.dropout.hazard_per_day * fixed.DAYS_PER_MONTH,
        allocation(scenario),
        scenario.trial.sample_size,
    )


def planned_events(scenario: Scenario) -> list[float]:
    """Planned events at each look (`LookPlan.events`, computed once per scenario)."""
    return list(look_plan(scenario).events)


def look_months(scenario: Scenario, plan: SequentialPlan, hazard_ratio: float) -> np.ndarray:
    """Expected month of each look's data cut (dates as given; not_before / not_after and
    the calendar cut of the final applied)."""
    a = scenario.analysis
    start = scenario.trial.start_date

    def months(date: dt.date) -> float:
        return (date - start).days / fixed.DAYS_PER_MONTH

    out = []
    for look, events in zip(a.looks, plan.planned_events, strict=True):
        t = (
            months(look.date)
            if look.date is not None
            else expected_time(scenario, events, hazard_ratio)
        )
        if look.not_before is not None:
            t = max(t, months(look.not_before))
        if look.not_after is not None:
            t = min(t, months(look.not_after))
        out.append(t)
    if a.cut in ("first", "date") and a.cut_date is not None:
        out[-1] = min(out[-1], months(a.cut_date))
    return np.maximum.accumulate(np.asarray(out, dtype=float))


def effect_drift(plan: SequentialPlan, hazard_ratio: float) -> float:
    """Drift of the scenario's hazard ratio at the planned final events (z > 0: benefit)."""
    return -math.log(hazard_ratio) * math.sqrt(plan.variance_factor * plan.max_events)


def hypothesis_drift(
    scenario: Scenario, plan: SequentialPlan, hazard_ratio: float
) -> float | np.ndarray:
    """The drift of the looks at `hazard_ratio` (`effect_drift`). With OS primary and an
    effect (hazard_ratio not 1), OS has no proportional hazards: one drift per look, from
    the average hazard ratio of OS at the look's expected time (gsDesign2's gs_power_ahr:
    E[Z_k] = -log AHR(t_k) sqrt(p (1 - p) d_k))."""
    if scenario.analysis.endpoint != "os" or hazard_ratio == 1.0:
        return effect_drift(plan, hazard_ratio)
    effect = look_plan(scenario).os_effect
    return -effect(plan.planned_events) * math.sqrt(plan.variance_factor * plan.max_events)


def boundaries_table(scenario: Scenario) -> pd.DataFrame:
    """boundaries.csv: one row per look (see the module docstring)."""
    plan = scenario_plan(scenario)
    d = plan.design
    lag = scenario.analysis.lag_days / fixed.DAYS_PER_MONTH
    hr = design_hazard_ratio(scenario)
    scale = np.sqrt(plan.variance_factor * plan.planned_events)
    eff0, fut0 = d.probabilities(0.0)
    eff1, fut1 = d.probabilities(hypothesis_drift(scenario, plan, hr))
    if d.sides == 1:  # no futility stop at the final look (not rejecting is cumulative_beta)
        fut0[-1] = fut1[-1] = np.nan
    months = look_months(scenario, plan, hr) + lag
    start = np.datetime64(scenario.trial.start_date, "D")
    futility = np.where(np.arange(d.looks) < d.looks - 1, d.futility, np.nan)
    futility = np.where(np.isfinite(futility), futility, np.nan)
    with np.errstate(over="ignore"):
        table = pd.DataFrame(
            {
                "look": np.arange(1, d.looks + 1),
                "events": plan.planned_events,
                "information": d.fractions,
                "efficacy_z": d.efficacy,
                "futility_z": futility,
                "efficacy_p": ndtr(-d.efficacy),
                "efficacy_hr": np.exp(-d.efficacy / scale),
                "futility_hr": np.exp(-futility / scale),
                "cumulative_alpha": d.cumulative_alpha(),
                "cumulative_beta": d.cumulative_beta(),
                "p_efficacy_h0": eff0,
                "p_futility_h0": fut0,
                "p_efficacy_h1": eff1,
                "p_futility_h1": fut1,
                "expected_months": months,
                "expected_date": [
                    str(start + np.timedelta64(int(m * fixed.DAYS_PER_MONTH), "D"))
                    if np.isfinite(m)
                    else "never"
                    for m in months
                ],
            }
        )
    return table


def stopping_words(d: Design) -> tuple[str, str]:
    """What the design's alpha and power rows count, in words: (how the type I error treats
    the futility bounds, what stops the trial besides an efficacy bound). A design without
    futility bounds stops for efficacy alone; a two-sided one at its bounds on both sides
    (a futility bound does not apply there)."""
    if d.sides == 2:
        return "both sides' bounds", "efficacy bounds on both sides (no futility bound)"
    if not np.isfinite(d.futility[:-1]).any():
        return "no futility bound", "efficacy bounds alone (no futility bound)"
    if d.binding:
        return "binding futility bounds included", "stopping at futility"
    return "non-binding futility ignored", "stopping at futility"


def design_rows(scenario: Scenario) -> list[tuple[str, object, str, str]]:
    """Rows for design.csv of a group-sequential scenario (quantity, value, unit, method)."""
    plan = scenario_plan(scenario)
    if plan is None:
        return []
    a = scenario.analysis
    d = plan.design
    hr = design_hazard_ratio(scenario)
    p = allocation(scenario)
    lag = a.lag_days / fixed.DAYS_PER_MONTH
    inflation = (d.drift / fixed_design_drift(a.alpha, 1 - a.target_power, a.sides)) ** 2
    os_primary = a.endpoint == "os"
    noun = "deaths" if os_primary else "events"  # what the looks count
    alpha_words, stopping = stopping_words(d)
    rows: list[tuple[str, object, str, str]] = [
        (
            "gs_looks",
            d.looks,
            "looks",
            ", ".join(f"{e:g}" for e in plan.planned_events) + f" {noun}",
        ),
        (
            "gs_alpha_spent",
            d.null_alpha(),
            "probability",
            f"recursive integration (Armitage-McPherson-Rowe); {alpha_words}",
        ),
        (
            "gs_inflation_factor",
            inflation,
            "ratio",
            f"(drift / (z_alpha + z_beta))^2, power {a.target_power:g}",
        ),
        (
            "gs_design_hazard_ratio",
            math.exp(plan.design_log_hr),
            "ratio",
            f"constant OS HR with power {a.target_power:g} at {plan.max_events:g} deaths (OS "
            "hazards are not proportional: the h1 rows and the looks' conditional power "
            "under the design use the OS AHR of each look)"
            if os_primary
            else f"HR with power {a.target_power:g} at {plan.max_events:g} events",
        ),
    ]
    if hr != 1.0:
        rows.append(
            (
                "gs_max_events_for_power",
                fixed.schoenfeld_events(hr, a.alpha, a.target_power, a.sides, p) * inflation,
                noun,
                "Schoenfeld deaths under the OS AHR x inflation factor"
                if os_primary
                else "Schoenfeld events x inflation factor",
            )
        )
    timing = "numeric expected deaths" if os_primary else "Lachin-Foulkes"
    for label, ratio in (("h0", 1.0), ("h1", hr)):
        if not os_primary:
            ratio_words = f"HR {ratio:g}"
        elif ratio == 1.0:
            ratio_words = "OS HR 1"
        else:  # gsDesign2's average HR: the final look's here, each look its own
            ratio_words = f"OS AHR {ratio:.3g} at the final look (one AHR per look)"
        drift = hypothesis_drift(scenario, plan, ratio)
        eff, fut = d.probabilities(drift)
        stop = eff + fut
        stop[-1] = 1.0 - stop[:-1].sum()
        months = look_months(scenario, plan, ratio) + lag
        rows += [
            (
                f"gs_power_{label}",
                float(eff.sum()),
                "probability",
                f"{ratio_words}, {plan.max_events:g} {noun}, {stopping}",
            ),
            (
                f"gs_power_ignoring_futility_{label}",
                d.power(drift, with_futility=False),
                "probability",
                f"{ratio_words}, efficacy bounds alone",
            ),
            (
                f"gs_early_stop_{label}",
                float(stop[:-1].sum()),
                "probability",
                ratio_words,
            ),
            (
                f"gs_expected_events_{label}",
                float(stop @ plan.planned_events),
                noun,
                ratio_words,
            ),
            (
                f"gs_expected_analysis_months_{label}",
                float(stop @ months),
                "months",
                f"{ratio_words}, {timing} look times",
            ),
        ]
    return rows
