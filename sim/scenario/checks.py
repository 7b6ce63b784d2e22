"""Cross-field checks: the rules of a scenario that join its blocks (an event target within
the sample size, enrollment that can fill the trial within a study, an effect for the
experimental arm, a regimen per stratum, secondary endpoints the PFS model allows).

`check_scenario` runs them in a fixed order, so that of several problems the same one is
reported first; each raises ValueError, or a `field_error` naming the culprit field, inside
the `Scenario` model's validator.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from sim.scenario.base import DAYS_PER_MONTH, DAYS_PER_YEAR, MAX_STUDY_YEARS
from sim.scenario.conduct import expected_fill_months, randomization_pieces
from sim.scenario.errors import field_error
from sim.scenario.outcomes import post_progression_death_probability
from sim.scenario.triggers import check_triggers

if TYPE_CHECKING:
    from sim.scenario.clinic import Treatment
    from sim.scenario.model import Scenario


def check_scenario(scenario: Scenario) -> None:
    """Every cross-field rule of `scenario`, in the order its problems are reported."""
    check_event_targets(scenario)
    check_triggers(scenario)
    check_study_length(scenario)
    check_calendar(scenario)
    check_sites(scenario)
    check_effect(scenario)  # before the event-time check, which needs the effect's hazards
    check_event_time(scenario)
    if scenario.radiotherapy is not None and scenario.treatment is None:
        raise ValueError("radiotherapy starts with cycle 1, so it needs a treatment block")
    if scenario.treatment is not None and scenario.treatment.regimens:
        check_regimens(scenario, scenario.treatment)
    check_secondary_endpoints(scenario)
    check_primary_endpoint(scenario)


def check_primary_endpoint(scenario: Scenario) -> None:
    """An OS primary endpoint needs the illness-death model (the overall_survival block),
    and its analysis is the primary one: no own OS cut beside it."""
    if scenario.analysis.endpoint != "os":
        return
    os_block = scenario.overall_survival
    if os_block is None:
        raise field_error(
            ("analysis", "endpoint"),
            "os",
            "an OS primary endpoint needs the overall_survival block (the illness-death "
            "model that gives each patient's death): add overall_survival: "
            "{post_progression: {median_months: 9}} (see scenarios/phase3_os.yaml), or use "
            "endpoint: pfs",
        )
    if scenario.prior is not None and scenario.prior.hazard_ratio is not None:
        raise field_error(
            ("prior", "hazard_ratio"),
            "...",
            "a design prior on the hazard ratio is a prior on the PFS effect, and its "
            "assurance is computed for PFS; with analysis.endpoint: os it would be read as "
            "the OS effect: drop prior.hazard_ratio, or use endpoint: pfs",
        )
    if os_block.cut != "pfs":
        raise field_error(
            ("overall_survival", "cut"),
            os_block.cut,
            "with analysis.endpoint: os the OS analysis is the primary analysis (cut at "
            "analysis.event_target deaths or analysis.cut_date): drop overall_survival.cut, "
            "event_target and cut_date",
        )


def check_event_targets(scenario: Scenario) -> None:
    """The event targets within the sample size, the looks' dates after the start."""
    target = scenario.analysis.event_target
    if target is not None and target > scenario.trial.sample_size:
        raise ValueError(
            f"analysis.event_target {target} is above trial.sample_size "
            f"{scenario.trial.sample_size}: a patient has at most one "
            f"{scenario.analysis.endpoint.upper()} event, so lower the target or raise the "
            "sample size"
        )
    for i, look in enumerate(scenario.analysis.looks):
        if look.events is not None and look.events > scenario.trial.sample_size:
            raise field_error(
                ("analysis", "looks", i, "events"),
                look.events,
                f"above trial.sample_size {scenario.trial.sample_size}: a patient has "
                f"at most one {scenario.analysis.endpoint.upper()} event; lower it",
            )
        for name in ("date", "not_before", "not_after"):
            day = getattr(look, name)
            if day is not None and day <= scenario.trial.start_date:
                raise field_error(
                    ("analysis", "looks", i, name),
                    str(day),
                    f"not after trial.start_date {scenario.trial.start_date}: put the look later",
                )


def check_study_length(scenario: Scenario) -> None:
    """Enrollment that fills within MAX_STUDY_YEARS, and a cut date inside the study."""
    fill = expected_fill_months(scenario.trial, scenario.enrollment)  # inf: check_sites refuses it
    if MAX_STUDY_YEARS * 12 < fill < math.inf:
        raise ValueError(
            f"at the screening rates of enrollment, trial.sample_size "
            f"{scenario.trial.sample_size} patients would take {fill / 12:,.3g} years to "
            f"randomize (more than {MAX_STUDY_YEARS}), so the run could not finish: check "
            "the rates (per_month is patients screened per month)"
        )
    cut = scenario.analysis.cut_date
    start = scenario.trial.start_date
    if cut is not None and (cut - start).days > MAX_STUDY_YEARS * DAYS_PER_YEAR:
        raise ValueError(
            f"analysis.cut_date {cut} is more than {MAX_STUDY_YEARS} years "
            f"after trial.start_date {scenario.trial.start_date}: check the year"
        )
    if cut is not None and cut <= scenario.trial.start_date:
        raise ValueError(
            f"analysis.cut_date {cut} is not after trial.start_date "
            f"{scenario.trial.start_date}: dates out of order (put the cut later)"
        )


def primary_event_probabilities(scenario: Scenario, arm: int, months: int) -> list[float]:
    """P(an event of the primary endpoint within k + 1/2 months of randomization), k = 0 ..
    months - 1, for a multiplier-1 patient of arm 0 / 1, no dropout, events seen when they
    happen. PFS: 1 - S(t), S the arm's PFS survival. OS (the illness-death model of the
    overall_survival block): the deaths without progression, d (1 - S(t)), d =
    pfs.death_fraction, plus the progressions of each half-month cell [a, b),
    (1 - d) (S(a) - S(b)), each followed by a death within t - a
    (`post_progression_death_probability`): a progression put at its cell's start dies no
    later than it would, so this is an upper bound on the deaths, as the early estimate of
    `event_target_expected_within` must be."""
    if scenario.analysis.endpoint != "os":
        return [
            -math.expm1(-scenario.pfs_cumulative_hazard(arm, (k + 0.5) * DAYS_PER_MONTH))
            for k in range(months)
        ]
    assert scenario.overall_survival is not None  # check_primary_endpoint asks for it
    half = DAYS_PER_MONTH / 2.0
    d = scenario.pfs.death_fraction
    alive = [math.exp(-scenario.pfs_cumulative_hazard(arm, j * half)) for j in range(2 * months)]
    dies_after = [
        post_progression_death_probability(scenario.overall_survival, arm, i * half)
        for i in range(2 * months)
    ]
    return [
        d * (1.0 - alive[2 * k + 1])
        + (1.0 - d)
        * sum((alive[j] - alive[j + 1]) * dies_after[2 * k + 1 - j] for j in range(2 * k + 1))
        for k in range(months)
    ]


def event_target_expected_within(scenario: Scenario, horizon: int) -> bool:
    """Whether the event target (deaths with OS primary) is expected within `horizon` months
    of the start: patients randomized at the accrual rates (caps ignored, up to the sample
    size), each arm's events of the primary endpoint for a multiplier-1 patient
    (`primary_event_probabilities`), no dropout and events seen when they happen, on a
    monthly grid: an early estimate, so a study it refuses would run longer still. Checked
    at 12, 24, 48, ... months, so a trial that reaches its target early costs little."""
    pieces = randomization_pieces(scenario.trial, scenario.enrollment)
    ratio = scenario.randomization.ratio
    weights = (ratio[0] / sum(ratio), ratio[1] / sum(ratio))
    target = scenario.analysis.event_target or 0
    entered: list[float] = []  # patients randomized in each month of the study
    total, month = 0.0, 12
    while True:
        month = min(month, horizon)
        for k in range(len(entered), month):
            gained = sum(
                rate * max(0.0, min(end, k + 1) - max(start, k)) for start, end, rate in pieces
            )
            entered.append(min(gained, scenario.trial.sample_size - total))
            total += entered[-1]
        by_arm = [primary_event_probabilities(scenario, arm, month) for arm in (0, 1)]
        # P(event within k + 1/2 months of randomization), arms weighted
        share = [sum(w * p[k] for p, w in zip(by_arm, weights, strict=True)) for k in range(month)]
        # the expected count never quite reaches a target equal to the sample size: half an
        # event short is reached (every patient's event comes with probability -> 1)
        if sum(entered[k] * share[month - 1 - k] for k in range(month)) >= target - 0.5:
            return True
        if month == horizon:
            return False
        month *= 2


def check_event_time(scenario: Scenario) -> None:
    """A cut that waits for events (cut: events, no date to cap it) whose target is expected
    within MAX_STUDY_YEARS; after `check_sites`, whose message is the more telling one when
    enrollment itself never fills. With OS primary the target counts deaths of the
    illness-death model (without an overall_survival block, `check_primary_endpoint`
    reports the missing block instead)."""
    if scenario.analysis.cut == "events" and scenario.analysis.event_target is not None:
        if scenario.analysis.endpoint == "os" and scenario.overall_survival is None:
            return  # check_primary_endpoint names the missing block
        if not event_target_expected_within(scenario, MAX_STUDY_YEARS * 12):
            rates = (
                "and PFS rates"
                if scenario.analysis.endpoint == "pfs"
                else "rates and deaths of the illness-death model (PFS, then death after "
                "progression: overall_survival.post_progression), the target counting deaths"
            )
            raise field_error(
                ("analysis", "event_target"),
                scenario.analysis.event_target,
                f"not expected within {MAX_STUDY_YEARS} years of trial.start_date "
                f"{scenario.trial.start_date} (even without dropout) at these accrual "
                f"{rates}, and the cut waits for it (cut: events), so the run could "
                "not finish: lower the target, or cap the cut by a date (cut: first with "
                "cut_date)",
            )


def check_calendar(scenario: Scenario) -> None:
    """Closures, make-up days and the looks' dates inside the study's limit (MAX_STUDY_YEARS
    from the start: no simulated study runs longer), and closures that leave the clinic some
    open day before the completion date (else no patient could be screened in the study)."""
    start = scenario.trial.start_date
    limit = start + dt.timedelta(days=int(MAX_STUDY_YEARS * DAYS_PER_YEAR))
    dated: list[tuple[tuple[str | int, ...], dt.date]] = []
    for i, closure in enumerate(scenario.calendar.closures):
        dated.append((("calendar", "closures", i, "end"), closure.end))
    for i, day in enumerate(scenario.calendar.makeup_working_days):
        dated.append((("calendar", "makeup_working_days", i), day))
    for i, look in enumerate(scenario.analysis.looks):
        for name in ("date", "not_before", "not_after"):
            if getattr(look, name) is not None:
                dated.append((("analysis", "looks", i, name), getattr(look, name)))
    for loc, day in dated:
        if day > limit:
            raise field_error(
                loc,
                day.isoformat(),
                f"more than {MAX_STUDY_YEARS} years after trial.start_date {start} (after "
                f"{limit}): no study is simulated that long, so the run could not finish; "
                "check the year",
            )
    shut: list[tuple[dt.date, dt.date]] = sorted(
        (c.start, c.end) for c in scenario.calendar.closures
    )
    covered = start
    for first, last in shut:  # the closures joined, from the start on
        if first > covered:
            break
        covered = max(covered, last + dt.timedelta(days=1))
    if shut and covered > scenario.trial.completion_date:
        raise field_error(
            ("calendar", "closures"),
            "...",
            f"the closures shut the clinic every day from trial.start_date {start} to "
            f"trial.completion_date {scenario.trial.completion_date}: no patient could be "
            "screened in the study; shorten them (a closure is a range of days the clinic "
            "is shut, e.g. {start: 2026-10-01, end: 2026-10-07})",
        )


def check_sites(scenario: Scenario) -> None:
    """Sites activated inside the study, and enough of them screening for as long as it
    takes to fill the trial (an open-ended last rate row, caps that reach the sample size)."""
    for i, site in enumerate(scenario.enrollment.sites):
        if not scenario.trial.start_date <= site.activation_date < scenario.trial.completion_date:
            raise ValueError(
                f"enrollment.sites.{i}.activation_date {site.activation_date} is outside "
                f"the study ({scenario.trial.start_date} to {scenario.trial.completion_date}): "
                "activate the site between the start and the completion date"
            )
    lasting = [
        site.cap
        for site in scenario.enrollment.site_list(scenario.trial.start_date)
        if site.screening_rate[-1].months is None
    ]
    reach = sum(math.inf if cap is None else cap for cap in lasting)
    if reach < scenario.trial.sample_size:
        raise ValueError(
            f"enrollment: no site screens for as long as it takes (every rate table ends, "
            f"or the open-ended sites' caps add up to {reach:g} < trial.sample_size "
            f"{scenario.trial.sample_size}), so some trials would never fill and the run "
            "could not finish: make the last rate row of a site open-ended (drop its "
            "months) or raise its cap"
        )
    caps = [site.cap for site in scenario.enrollment.sites]
    if caps and None not in caps and sum(caps) < scenario.trial.sample_size:  # type: ignore[arg-type]
        raise ValueError(
            f"enrollment.sites caps add up to {sum(caps)} < trial.sample_size "  # type: ignore[arg-type]
            f"{scenario.trial.sample_size}: raise a cap or remove one"
        )


def check_effect(scenario: Scenario) -> None:
    """One source of the experimental arm's PFS (an effect or its own distribution), a
    single hazard ratio for the looks' design, prognostic multipliers of real strata."""
    if scenario.pfs.experimental is None and scenario.effect.is_empty:
        raise field_error(
            ("effect", "hazard_ratio"),
            None,
            "the experimental arm needs an effect: give effect.hazard_ratio "
            "(e.g. 0.6), effect.piecewise_hazard_ratio, or pfs.experimental",
        )
    if scenario.pfs.experimental is not None and not scenario.effect.is_empty:
        raise field_error(
            ("effect",),
            scenario.effect.model_dump(exclude_defaults=True),
            "pfs.experimental gives the experimental arm's own PFS: drop "
            "the effect block (or pfs.experimental)",
        )
    if scenario.pfs.experimental is not None and scenario.effect.cure_fraction is not None:
        raise field_error(
            ("effect", "cure_fraction"),
            scenario.effect.cure_fraction,
            "give the cure fraction in pfs.experimental instead",
        )
    if scenario.analysis.looks and scenario.effect.hazard_ratio is None:
        raise field_error(
            ("analysis", "looks"),
            "...",
            "the group-sequential design side "
            "needs one effect.hazard_ratio (not a piecewise one or "
            "pfs.experimental): drop the looks or give a hazard ratio",
        )
    for name in scenario.pfs.stratum_hazard_multiplier:
        if name not in scenario.randomization.strata:
            raise field_error(
                ("pfs", "stratum_hazard_multiplier", name),
                name,
                f"not a stratum: use the names of randomization.strata {scenario.strata_names}",
            )


def check_regimens(scenario: Scenario, treatment: Treatment) -> None:
    """One regimen per stratum of randomization.strata, and the patients block doses need."""
    strata = list(scenario.randomization.strata)
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
    if scenario.patients is None:
        raise field_error(
            ("patients",),
            None,
            "doses need body size and creatinine: "
            "add a patients block (see scenarios/nct07271602.yaml)",
        )


def check_safety(scenario: Scenario) -> None:
    """With a safety block, toxicity comes only from its events (one process)."""
    if scenario.safety is None or scenario.treatment is None:
        return  # without a treatment block there are no cycles, so no events
    legacy = {
        ("treatment", "delay", "probability"): scenario.treatment.delay.probability,
        (
            "treatment",
            "dose_reduction",
            "probability",
        ): scenario.treatment.dose_reduction.probability,
        ("treatment", "discontinuation_per_cycle"): scenario.treatment.discontinuation_per_cycle,
    }
    if scenario.radiotherapy is not None:
        legacy[("radiotherapy", "pneumonitis")] = scenario.radiotherapy.pneumonitis
    for loc, value in legacy.items():
        if value:
            raise field_error(
                loc,
                value,
                "must be 0 with a safety block: its adverse "
                "events cause the delays, reductions, discontinuations and "
                "RT stops (give them there)",
            )


def check_secondary_endpoints(scenario: Scenario) -> None:
    """OS, response and local control must be possible under the PFS model."""
    check_safety(scenario)
    os_block = scenario.overall_survival
    if os_block is not None and os_block.event_target is not None:
        if os_block.event_target > scenario.trial.sample_size:
            raise field_error(
                ("overall_survival", "event_target"),
                os_block.event_target,
                f"above trial.sample_size {scenario.trial.sample_size}: a "
                "patient dies once; lower the target",
            )
    if scenario.response is not None:
        if scenario.assessments.mode != "scheduled":
            raise field_error(
                ("response",),
                "...",
                "a response is seen at a scan: use "
                "scheduled assessments (or drop the response block)",
            )
        first = scenario.assessments.schedule[0].every_weeks * 7.0
        for a, arm in enumerate(("control", "experimental")):
            orr = getattr(scenario.response.objective_response, arm)
            alive = math.exp(-scenario.pfs_cumulative_hazard(a, first))
            if orr > alive:
                raise field_error(
                    ("response", "objective_response", arm),
                    orr,
                    f"above the {alive:.3f} of patients progression-free at the first "
                    f"scan (day {first:g}): responders must reach a scan; lower it",
                )
    if scenario.local_control is not None:
        lc = scenario.local_control
        for a, arm in enumerate(("control", "experimental")):
            p = getattr(lc.progression_by_months, arm)
            share = scenario.local_progression_share(a)
            if share > 1.0:
                h01 = (1 - scenario.pfs.death_fraction) * scenario.pfs_cumulative_hazard(
                    a, lc.months * DAYS_PER_MONTH
                )
                raise field_error(
                    ("local_control", "progression_by_months", arm),
                    p,
                    f"needs more progressions than PFS gives (at most "
                    f"{-math.expm1(-h01):.3f} by {lc.months:g} months): lower it",
                )
