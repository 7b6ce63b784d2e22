"""The rest of a trial under way: the forecast model fitted to its data, then continued.

`fit_continuation` turns the observed patients (`sim.conduct.observed.ObservedTrial`) into the
posteriors of `sim.stats.posterior`; `continue_trial` draws, for a chunk of replicates, the
arrays the pipeline of `sim.engine.chunk` expects (enrolled patients, arms, latent and
observed outcomes) with the observed patients first, as they happened, then:

- Enrollment: site rates theta_s drawn from their posterior (prior for sites not yet active)
  multiply the planned rate tables from the as-of date on; screenings are drawn from
  `SCREENING_LOOKBACK` days before it (those still in screening then), and only patients
  randomized after the as-of date are new. Caps count the observed patients.
- Randomization: permuted blocks within strata for everyone; observed arms replace the drawn
  ones in an unblinded forecast. Blinded, each observed patient's arm is drawn from its
  posterior given the patient's follow-up under the replicate's hazards (`observed_arms`):
  arms drawn without it would carry no effect into the final test.
- Blinded is the default, as sponsors forecast while the trial is masked: one pooled hazard
  even when the table has arms. The unblinded forecast (per-arm hazards and the observed
  arms) is fitted only on request (`unblinded=True`) and from a table with arms.
- PFS: hazards per piece drawn from their posteriors, per arm (unblinded) or pooled
  (blinded: the pooled hazard is events over exposure, so an average of the arms' hazards
  weighted by their exposure; with the scenario's HR, the control hazard is the pooled one
  times c = (w_c + w_e) / (w_c + HR w_e), w_a the exposure arm a is expected to have had by
  the as-of day under the plan, and the experimental hazard HR times the control's).
  A patient at risk, event-free at its last assessment L, gets T = H^-1(H(L) + E),
  E ~ Exp(1): the event time given T > L; if T falls before the as-of day a (days since its
  randomization) the event is a progression (a death would be in the data). A patient at
  risk with no dropout by a gets W = a + E' / eta (memoryless). New patients start at 0.
  Patients with an event or a dropout keep theirs.
- Milestones: the first patient in is the first observed randomization (screening dates are
  not in the data); screening counts and waits are those from the as-of day on.

Then scans, the cut, the analysis and the clinic run as for any replicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.conduct.assessments import ObservedOutcomes, ScanSchedule, observe_outcomes
from sim.conduct.calendar import StudyCalendar
from sim.conduct.enrollment import (
    EnrolledPatients,
    attach_screening_draws,
    enroll_remaining,
    expected_screens_needed,
    randomize_screened,
)
from sim.conduct.observed import ObservedTrial
from sim.conduct.outcomes import LatentOutcomes, TrueEffect
from sim.conduct.randomization import randomize_by_block
from sim.scenario import DAYS_PER_MONTH, RatePeriod, Scenario, ScenarioError, Site
from sim.stats import posterior
from sim.stats.accrual_models import (
    AccrualChoice,
    AccrualPrior,
    fit_accrual,
    invert_cumulative,
    plan_accrual_prior,
)
from sim.stats.posterior import BetaFit, GammaFit

if TYPE_CHECKING:
    from sim.engine.chunk import TrialModel
    from sim.engine.trial import Cohort

SCREENING_LOOKBACK_EXTRA = 21  # days beyond screening_days.max: closures, next open day
DEFAULT_PRIOR_MONTHS = 3.0
# The planned hazards' default weight: this share of the event target, in events (at least
# MIN_PRIOR_EVENTS), in all: on the pooled hazard when blinded, half on each arm's when
# unblinded. docs/forecasting.md gives the coverage that justifies it.
DEFAULT_PRIOR_EVENTS_SHARE = 0.20
MIN_PRIOR_EVENTS = 1.0
# The plan's accrual (its ramp-up and full speed) as prior on the fitted time-decay model,
# in patients, unless --prior-months says otherwise: Gamma(6, 6) puts the plan's full speed
# within a factor of about two (90%: 0.44 to 1.75 times it), whatever the trial's size.
DEFAULT_ACCRUAL_PRIOR_PATIENTS = 6.0
SHARE_PRIOR_EVENTS = 10.0  # prior weight of the death share, in PFS events (at least)


@dataclass(frozen=True)
class DataEvidence:
    """What the unblinded data say about the effect at the as-of date, in closed form
    (`sim.stats.predictive`: B-values, Lan and Wittes 1988; Spiegelhalter et al. 1986): the
    unstratified log-rank z of the observed table (> 0 favours the experimental arm; events
    as seen, others censored at their last assessment), its information fraction t = d / D
    (D the final planned events), and from them the conditional power of the final analysis
    (the looks planned after t, their efficacy bounds) under the design HR and under the
    trend, the predictive power and P(HR < hr_threshold | data) under `prior` (the scenario's
    design prior on the HR, else flat)."""

    z: float
    events: int
    final_events: float
    fraction: float
    hr_threshold: float
    prior: str
    conditional_power_design: float
    conditional_power_trend: float
    predictive_power: float
    p_hr_below_threshold: float


@dataclass(frozen=True)
class TrialContinuation:
    """The observed trial and the posteriors the forecast draws from."""

    observed: ObservedTrial
    sites: tuple[GammaFit, ...]  # theta_s of each site of scenario.enrollment.site_list
    hazards: tuple[tuple[GammaFit, ...], ...]  # per arm (unblinded: 2) or pooled (1), per piece
    dropout: GammaFit  # hazard per month, pooled
    death_share: BetaFit  # share of PFS events that are deaths
    starts: np.ndarray  # days: start of each hazard piece
    prior_months: float | None  # None: the scenario's site_heterogeneity is the prior shape
    prior_events: float
    # blinded: control hazard = pooled hazard x this (see the module docstring)
    blinded_factor: float = 1.0
    # with --screening: the sites' theta are screening rates, and this the pass share
    screen_pass: BetaFit | None = None
    planned_pass: float = 1.0  # the scenario's pass share of screening
    # the accrual model (sim.stats.accrual_models); None or "plan": the site rates above
    accrual: AccrualChoice | None = None
    accrual_origin: int = 0  # clock day the accrual models' time starts
    # blinded with a design prior on the HR: c(HR) on a grid of HR (log-linear interpolation)
    factor_curve: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    hr_threshold: float = 1.0  # P(HR < this) is reported (unblinded)
    evidence: DataEvidence | None = None  # unblinded: the data's evidence, closed forms

    @property
    def accrual_model(self) -> str:
        return "plan" if self.accrual is None else self.accrual.model

    @property
    def accrual_prior(self) -> AccrualPrior | None:
        """The plan as prior on the accrual model in use (None: the model has none)."""
        chosen = None if self.accrual is None else self.accrual.chosen
        return None if chosen is None else chosen.prior

    @property
    def as_of_day(self) -> int:
        return self.observed.as_of_day

    @property
    def unblinded(self) -> bool:
        """Per-arm hazards and the observed arms (else one pooled hazard, drawn arms)."""
        return len(self.hazards) == 2

    def fit_table(self) -> pd.DataFrame:
        """fit.csv: prior, observed and posterior of each rate."""
        fits = [
            *self.sites,
            *([self.screen_pass] if self.screen_pass else []),
            *(f for arm in self.hazards for f in arm),
            self.dropout,
            self.death_share,
        ]
        return posterior.table(fits)


def rate_at(periods: tuple[RatePeriod, ...], days: np.ndarray) -> np.ndarray:
    """Planned arrivals per day at `days` since a site's activation."""
    edges, rates = [0.0], []
    for row in periods:
        rates.append(row.per_month / DAYS_PER_MONTH)
        if row.months is None:
            break
        edges.append(edges[-1] + row.months * DAYS_PER_MONTH)
    if periods[-1].months is not None:
        rates.append(0.0)  # a closed table: nothing after its last period
    piece = np.searchsorted(np.asarray(edges), days, side="right") - 1
    return np.asarray(rates)[np.clip(piece, 0, len(rates) - 1)]


def full_rate(periods: tuple[RatePeriod, ...]) -> float:
    """Screenings per month at full speed: the open-ended row, else the highest."""
    last = periods[-1]
    return last.per_month if last.months is None else max(p.per_month for p in periods)


def screening_delay_cdf(scenario: Scenario, days: np.ndarray) -> np.ndarray:
    """P(randomized within `days` of arriving): screening days uniform min..max, plus about a
    day to the next open day at arrival and at randomization."""
    window = scenario.enrollment.screening_days
    lengths = np.arange(window.min, window.max + 1) + 1.0
    return (lengths[None, :] <= np.asarray(days)[:, None]).mean(axis=1)


def expected_randomized(
    scenario: Scenario, site: Site, activation_day: int, as_of_day: int
) -> float:
    """Randomizations the plan expects at `site` by the as-of day (theta = 1)."""
    span = as_of_day - activation_day
    if span <= 0:
        return 0.0
    t = np.arange(span) + 0.5
    pass_p = 1.0 - scenario.enrollment.failure_probability
    return float(
        pass_p * (rate_at(site.screening_rate, t) * screening_delay_cdf(scenario, span - t)).sum()
    )


def default_prior_events(scenario: Scenario, *, unblinded: bool = False) -> float:
    """Each planned PFS hazard's weight when none is given: DEFAULT_PRIOR_EVENTS_SHARE of the
    event target, in events, on the one pooled hazard (blinded: 14 events for a 70-event
    target), or half of it on each arm's (unblinded: 7 each), so that the plan tells the
    same about the event rate either way; at least MIN_PRIOR_EVENTS. A trial cut by date
    alone has no target: its sample size stands in."""
    target = scenario.analysis.event_target or scenario.trial.sample_size
    share = DEFAULT_PRIOR_EVENTS_SHARE / (2 if unblinded else 1)
    return max(MIN_PRIOR_EVENTS, share * target)


def accrual_prior(
    scenario: Scenario, calendar: StudyCalendar, plan_daily: np.ndarray, prior_months: float | None
) -> AccrualPrior:
    """The plan as prior on the time-decay accrual model (`sim.stats.accrual_models`): worth
    `prior_months` months of the plan's full speed (every site at its full screening rate
    times the pass share), or by default DEFAULT_ACCRUAL_PRIOR_PATIENTS patients."""
    pass_p = 1.0 - scenario.enrollment.failure_probability
    sites = scenario.enrollment.site_list(calendar.start_date)
    full = pass_p * sum(full_rate(site.screening_rate) for site in sites)
    n = scenario.trial.sample_size
    weight = DEFAULT_ACCRUAL_PRIOR_PATIENTS if prior_months is None else prior_months * full
    return plan_accrual_prior(plan_daily, n, weight, full)


def fit_continuation(
    scenario: Scenario,
    calendar: StudyCalendar,
    schedule: ScanSchedule,
    observed: ObservedTrial,
    prior_months: float | None = None,
    prior_events: float | None = None,
    screening: pd.DataFrame | None = None,
    *,
    unblinded: bool = False,
    accrual_model: str = "plan",
    accrual_knots: tuple[float, ...] | None = None,
    hr_threshold: float = 1.0,
) -> TrialContinuation:
    """Posteriors of site rates, PFS hazards, dropout and the death share (module docstring).

    `prior_events` None: `default_prior_events` (blinded or not). `unblinded` fits a hazard
    per arm from the table's arms (it must have them: ScenarioError otherwise); by default
    one pooled hazard, whether or not the table has arms.

    With `screening` (totals per site, `sim.conduct.observed.read_screening`) the site rates
    are fitted to the screened counts against the planned screening intensity, and the pass
    share of screening gets a beta posterior with a prior worth the screenings of
    `prior_months` at full speed.

    `prior_months` None: the scenario's `site_heterogeneity` h, when it has one, is every
    site's prior shape (theta_s ~ Gamma(h, h), the plan's own spread of site rates); else
    DEFAULT_PRIOR_MONTHS. The time-decay accrual model's prior (the plan's accrual as a power
    prior, `accrual_prior`) is worth `prior_months` months of the plan's full speed; None:
    DEFAULT_ACCRUAL_PRIOR_PATIENTS patients.

    `accrual_model` (`sim.stats.accrual_models.ACCRUAL_CHOICES`): "plan" keeps the site rates'
    Poisson-gamma model; the others fit the trial's accrual as a whole ("auto": smallest AIC);
    `accrual_knots` are the piecewise model's knots in months since the start date.

    Blinded, with a design prior on the HR (`scenario.prior.hazard_ratio`), each replicate
    draws its HR from that prior and its control hazard is the pooled one times c(HR)
    (`blinded_factor` at that HR). Unblinded, `evidence` holds the closed forms of the data's
    evidence on the effect (`DataEvidence`, with P(HR < `hr_threshold`))."""
    pfs = scenario.pfs
    if (
        scenario.effect.hazard_ratio is None
        or pfs.experimental is not None
        or not pfs.control.is_piecewise_exponential
    ):
        raise ScenarioError(
            "a forecast fits piecewise-exponential PFS with one hazard ratio: "
            "give effect.hazard_ratio and a (piecewise) exponential pfs.control "
            "without cure (not a delayed effect, Weibull or pfs.experimental)"
        )
    sites = scenario.enrollment.site_list(calendar.start_date)
    pass_p = 1.0 - scenario.enrollment.failure_probability
    heterogeneity = scenario.enrollment.site_heterogeneity
    months = prior_months if prior_months is not None else DEFAULT_PRIOR_MONTHS
    from_scenario = prior_months is None and heterogeneity is not None

    def shape(rate: float) -> float:
        return float(heterogeneity) if from_scenario else months * rate

    site_fits, screen_pass = [], None
    for s, site in enumerate(sites):
        active = calendar.day_of(site.activation_date)
        if screening is None:
            rate = full_rate(site.screening_rate) * pass_p
            site_fits.append(
                posterior.site_rate_fit(
                    site.name,
                    rate,
                    expected_randomized(scenario, site, active, observed.as_of_day),
                    int((observed.site == s).sum()),
                    shape(rate),
                )
            )
        else:
            span = max(observed.as_of_day - active, 0)
            planned = float(rate_at(site.screening_rate, np.arange(span) + 0.5).sum())
            rate = full_rate(site.screening_rate)
            fit = posterior.site_rate_fit(
                site.name, rate, planned, int(screening["screened"].iloc[s]), shape(rate)
            )
            site_fits.append(
                GammaFit(
                    fit.name.replace("site rate", "site screening rate"),
                    "screened per month at full speed",
                    fit.prior_shape,
                    fit.prior_rate,
                    fit.events,
                    fit.exposure,
                    fit.scale,
                )
            )
    if screening is not None:
        w = months * sum(full_rate(site.screening_rate) for site in sites)
        failed = float(screening["failed"].sum())
        screen_pass = BetaFit(
            "screening pass share",
            w * pass_p,
            w * (1 - pass_p) + 1e-9,
            float(screening["screened"].sum()) - failed,
            failed,
        )
    starts_l, hazards_l = scenario.pfs.control.hazard_table()
    starts, planned = np.asarray(starts_l), np.asarray(hazards_l) * DAYS_PER_MONTH
    hr = scenario.effect.hazard_ratio
    time, event = pfs_follow_up(observed, schedule)
    if prior_events is None:
        prior_events = default_prior_events(scenario, unblinded=unblinded and observed.n > 0)
    if unblinded and observed.blinded:
        raise ScenarioError(
            "unblinded forecast: the observed table has no arms (its arm column is empty); "
            "give the arms, or drop --unblinded for the blinded (pooled) forecast"
        )
    factor, curve = 1.0, None
    if not unblinded or observed.n == 0:
        factor = blinded_factor(scenario, observed)
        if scenario.prior is not None and scenario.prior.hazard_ratio is not None:
            grid = np.geomspace(*FACTOR_GRID_HR, FACTOR_GRID_POINTS)
            curve = (
                tuple(float(h) for h in grid),
                tuple(blinded_factor(scenario, observed, float(h)) for h in grid),
            )
        groups = {"pooled": (np.ones(observed.n, bool), planned / factor)}
    else:
        groups = {
            "control": (observed.arm == 0, planned),
            "experimental": (observed.arm == 1, planned * hr),
        }
    hazard_fits = []
    for label, (member, plan) in groups.items():
        exposure = posterior.exposure_by_piece(np.zeros(member.sum()), time[member], starts)
        events = posterior.events_by_piece(time[member], event[member], starts)
        hazard_fits.append(
            tuple(
                posterior.hazard_fit(
                    piece_name(label, starts, j),
                    plan[j],
                    events[j],
                    exposure[j] / DAYS_PER_MONTH,
                    prior_events,
                )
                for j in range(len(starts))
            )
        )
    drop_time, drop_event = dropout_follow_up(observed)
    eta = scenario.dropout.hazard_per_day * DAYS_PER_MONTH
    dropout = posterior.hazard_fit(
        "dropout hazard",
        eta if eta > 0 else 1e-6,
        drop_event.sum(),
        drop_time.sum() / DAYS_PER_MONTH,
        prior_events,
    )
    has_event = np.isfinite(observed.event_day)
    deaths = int((observed.is_death & has_event).sum())
    f0 = min(max(scenario.pfs.death_fraction, 1e-3), 1 - 1e-3)
    w = max(prior_events, SHARE_PRIOR_EVENTS)
    death = BetaFit(
        "death share of PFS events", w * f0, w * (1 - f0), deaths, int(has_event.sum()) - deaths
    )
    origin = accrual_origin(scenario, calendar)
    plan_daily = planned_daily_randomizations(scenario, calendar, origin, horizon_day())
    accrual = fit_accrual(
        observed.rand_day.astype(float) - origin,
        float(observed.as_of_day - origin),
        plan_daily,
        requested=accrual_model,
        knots=(
            None
            if accrual_knots is None
            else tuple(k * DAYS_PER_MONTH - origin for k in accrual_knots)
        ),
        prior=accrual_prior(scenario, calendar, plan_daily, prior_months),
    )
    return TrialContinuation(
        observed,
        tuple(site_fits),
        tuple(hazard_fits),
        dropout,
        death,
        starts,
        prior_months,
        prior_events,
        factor,
        screen_pass,
        pass_p,
        accrual,
        origin,
        curve,
        hr_threshold,
        data_evidence(scenario, observed, hr_threshold) if unblinded else None,
    )


def data_evidence(
    scenario: Scenario, observed: ObservedTrial, hr_threshold: float
) -> DataEvidence | None:
    """The closed forms of `DataEvidence` from a table with arms; None for a cut by date
    alone (no planned events) or without patients. Values are nan when no event has been
    seen or the events already reach the final analysis (nothing is left to predict)."""
    from sim.stats.analysis import logrank_test
    from sim.stats.assurance import analysis_design, event_information
    from sim.stats.predictive import (
        conditional_power_sequential,
        posterior_probability,
        predictive_power_sequential,
    )
    from sim.stats.priors import hazard_ratio_prior

    found = analysis_design(scenario)
    if found is None or observed.n == 0 or observed.blinded:
        return None
    design, final, share = found
    seen = np.isfinite(observed.event_day)
    time = np.where(seen, observed.event_day, observed.last_day)
    z = -float(logrank_test(time[None, :], seen[None, :], observed.arm[None, :]).z[0])
    events = int(seen.sum())
    t = events / final
    prior = hazard_ratio_prior(scenario.prior) if scenario.prior is not None else None
    named = "flat" if prior is None else f"the design prior ({scenario.prior.hazard_ratio!r})"
    values = [np.nan] * 4
    if 0.0 < t < 1.0 and np.isfinite(z) and design.fractions[-1] > t:
        info = event_information(final, share)
        common = dict(design=design, information=info)
        values = [
            float(
                conditional_power_sequential(
                    z, t, **common, hazard_ratio=scenario.effect.hazard_ratio
                )
            ),
            float(conditional_power_sequential(z, t, **common, hazard_ratio=None)),
            float(predictive_power_sequential(z, t, **common, prior=prior)),
            float(
                posterior_probability(
                    z, t, information=info, prior=prior, hazard_ratio=hr_threshold
                )
            ),
        ]
    return DataEvidence(z, events, final, t, hr_threshold, named, *values)


def screening_lengths(scenario: Scenario) -> np.ndarray:
    """Days from arrival to randomization, each equally likely: screening days min..max plus
    about a day to the next open day (as `screening_delay_cdf`)."""
    window = scenario.enrollment.screening_days
    return np.arange(window.min, window.max + 1) + 1.0


def horizon_day() -> int:
    """The last clock day of the study calendar (the plan shape's rate is tabulated to it)."""
    from sim.conduct.calendar import CALENDAR_YEARS

    return int(CALENDAR_YEARS * 365.25)


def accrual_origin(scenario: Scenario, calendar: StudyCalendar) -> int:
    """Clock day the accrual models' time starts: the first site's activation plus the
    shortest screening, the first day a patient can be randomized."""
    sites = scenario.enrollment.site_list(calendar.start_date)
    first = min(calendar.day_of(site.activation_date) for site in sites)
    return int(first + scenario.enrollment.screening_days.min)


def planned_daily_randomizations(
    scenario: Scenario, calendar: StudyCalendar, origin: int, until: int
) -> np.ndarray:
    """The plan's expected randomizations on each clock day origin .. until - 1, every site
    summed: its screening rate table from activation, passed through the screening delay."""
    lengths = screening_lengths(scenario).astype(int)
    pmf = np.zeros(lengths.max() + 1)
    pmf[lengths] = 1.0 / len(lengths)
    end = max(until, origin + 1)
    screened = np.zeros(end)
    for site in scenario.enrollment.site_list(calendar.start_date):
        active = calendar.day_of(site.activation_date)
        if active < end:
            screened[active:] += rate_at(site.screening_rate, np.arange(end - active) + 0.5)
    pass_p = 1.0 - scenario.enrollment.failure_probability
    return pass_p * np.convolve(screened, pmf)[:end][origin:end]


# The HR range of the blinded factor's grid (a design prior's draws beyond it take its ends).
FACTOR_GRID_HR = (0.05, 5.0)
FACTOR_GRID_POINTS = 61


def blinded_factor(
    scenario: Scenario, observed: ObservedTrial, hazard_ratio: float | None = None
) -> float:
    """c = (w_c + w_e) / (w_c + HR w_e): control hazard over the pooled (exposure-weighted)
    one, w_a = p_a x sum over patients of E[time at risk by the as-of day | arm a] under the
    planned control PFS and `hazard_ratio` (None: the scenario's) for the experimental arm
    (the integral of the survival curve); without patients, allocation weights."""
    hr = scenario.effect.hazard_ratio if hazard_ratio is None else hazard_ratio
    ratio = np.asarray(scenario.randomization.ratio, dtype=float)
    p = ratio / ratio.sum()
    follow = (observed.as_of_day - observed.rand_day).astype(float)
    if observed.n == 0 or follow.max() <= 0:
        return float(1.0 / (p[0] + p[1] * hr))
    starts_l, hazards_l = scenario.pfs.control.hazard_table()
    starts, h = np.asarray(starts_l), np.asarray(hazards_l)
    u = np.arange(int(follow.max()) + 1) + 0.5
    weights = []
    for a, scale in enumerate((1.0, hr)):
        cum = cumulative_hazard(
            u[None, :], starts, np.broadcast_to(h * scale, (1, len(u), len(h)))
        )[0]
        at_risk = np.concatenate([[0.0], np.cumsum(np.exp(-cum))])  # integral of S to day k
        weights.append(p[a] * at_risk[np.clip(follow.astype(int), 0, len(u))].sum())
    w_c, w_e = weights
    return float((w_c + w_e) / (w_c + hr * w_e))


def piece_name(label: str, starts: np.ndarray, j: int) -> str:
    if len(starts) == 1:
        return f"PFS hazard: {label}"
    lo = starts[j] / DAYS_PER_MONTH
    hi = f"{starts[j + 1] / DAYS_PER_MONTH:g}" if j + 1 < len(starts) else "inf"
    return f"PFS hazard: {label}, months {lo:g}-{hi}"


def pfs_follow_up(observed: ObservedTrial, schedule: ScanSchedule) -> tuple[np.ndarray, np.ndarray]:
    """(time, event) on the time-since-randomization axis for the hazard fit: a progression
    seen at a scan is put midway since the previous scan, a death at its day; a patient
    without an event is censored at the last assessment."""
    has_event = np.isfinite(observed.event_day)
    seen = np.where(has_event, observed.event_day, 0.0)
    before = schedule.last_scan_on_or_before(np.maximum(seen - 1.0, 0.0))
    before = np.minimum(before, seen)
    progression = np.where(schedule.days is None, seen, 0.5 * (before + seen))
    time = np.where(has_event, np.where(observed.is_death, seen, progression), observed.last_day)
    return np.maximum(time, 0.0), has_event


def dropout_follow_up(observed: ObservedTrial) -> tuple[np.ndarray, np.ndarray]:
    """(time at risk of dropout, dropped out): from randomization to the dropout, the PFS
    event (after which dropout is not recorded) or the as-of day."""
    to_as_of = observed.as_of_day - observed.rand_day.astype(float)
    time = np.minimum(np.minimum(observed.dropout_day, observed.event_day), to_as_of)
    return np.maximum(time, 0.0), np.isfinite(observed.dropout_day)


# --- continuing the trial ------------------------------------------------------------------


def shift_periods(periods: tuple[RatePeriod, ...], months: float) -> tuple[RatePeriod, ...]:
    """The rate table from `months` after its start on."""
    out, t = [], 0.0
    for row in periods:
        if row.months is None:
            out.append(row)
            break
        end = t + row.months
        if end > months + 1e-12:
            out.append(RatePeriod(months=end - max(t, months), per_month=row.per_month))
        t = end
    if not out:  # a closed table that has ended
        out.append(RatePeriod(per_month=0.0))
    return tuple(out)


def remaining_sites(
    model: TrialModel, continuation: TrialContinuation
) -> tuple[tuple[Site, ...], np.ndarray]:
    """Sites with their rate tables from the forecast's screening start on, and that day."""
    sc, obs = model.scenario, continuation.observed
    first = obs.as_of_day - sc.enrollment.screening_days.max - SCREENING_LOOKBACK_EXTRA
    sites, start = [], []
    for s, site in enumerate(model.sites):
        active = model.calendar.day_of(site.activation_date)
        begin = max(active, first)
        table = shift_periods(site.screening_rate, (begin - active) / DAYS_PER_MONTH)
        cap = site.cap
        if cap is not None:
            left = cap - int((obs.site == s).sum())
            if left <= 0:  # full: it screens no more
                table, cap = (RatePeriod(per_month=0.0),), None
            else:
                cap = left
        sites.append(site.model_copy(update={"screening_rate": table, "cap": cap}))
        start.append(begin)
    return tuple(sites), np.asarray(start, dtype=float)


def continue_trial(
    model: TrialModel,
    continuation: TrialContinuation,
    n_reps: int,
    rng: dict[str, np.random.Generator],
) -> tuple[EnrolledPatients, np.ndarray, LatentOutcomes, ObservedOutcomes, TrueEffect]:
    """The arrays of a chunk of R replicates of the whole trial (observed patients first),
    and each replicate's hazard ratio (`arm_hazards`); `model` is a
    `sim.engine.chunk.TrialModel`, `rng` its stage streams (the design prior's included)."""
    sc = model.scenario
    enrolled = continue_enrollment(model, continuation, n_reps, rng["enrollment"])
    arm = randomize_by_block(enrolled.stratum, sc.randomization, rng["randomization"])
    arm, latent, observed, hazard_ratio = continue_outcomes(
        model, continuation, enrolled.rand_day, arm, rng["outcomes"], rng.get("prior")
    )
    return enrolled, arm, latent, observed, TrueEffect(hazard_ratio=hazard_ratio)


def continue_enrollment(
    model: TrialModel, continuation: TrialContinuation, n_reps: int, rng: np.random.Generator
) -> EnrolledPatients:
    sc, obs = model.scenario, continuation.observed
    theta = np.column_stack([fit.draw(n_reps, rng) for fit in continuation.sites])
    if continuation.screen_pass is not None:
        # The funnel stays the planned one; scaling the screening rates by the drawn pass
        # share over the planned one gives the drawn rate of randomizations.
        theta = (
            theta
            * (continuation.screen_pass.draw(n_reps, rng) / continuation.planned_pass)[:, None]
        )
    n_left = sc.trial.sample_size - obs.n

    def tile(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values, (n_reps, obs.n))

    first_in = float(obs.rand_day.min()) if obs.n else np.nan
    if n_left == 0:
        return EnrolledPatients(
            rand_day=tile(obs.rand_day).copy(),
            stratum=tile(obs.stratum).copy(),
            site=tile(obs.site).copy(),
            screen_day=np.full((n_reps, obs.n), np.nan),
            first_screen_day=np.full(n_reps, first_in),
            n_screened=np.zeros(n_reps, int),
            n_screen_failed=np.zeros(n_reps, int),
            screening=pd.DataFrame(columns=["site", "month", "what", "count"]),
            screening_wait_days_mean=np.zeros(n_reps),
        )
    sites, start = remaining_sites(model, continuation)
    if continuation.accrual_model != "plan":
        new = enroll_by_accrual_model(model, continuation, sites, n_left, n_reps, rng)
        return join_enrolled(obs, new, n_reps)
    new = enroll_remaining(
        sc.enrollment,
        sites,
        start,
        theta,
        n_left,
        obs.as_of_day,
        model.stratum_p,
        model.calendar,
        rng=rng,
    )
    return join_enrolled(obs, new, n_reps)


def enroll_by_accrual_model(
    model: TrialModel,
    continuation: TrialContinuation,
    sites: tuple[Site, ...],
    n_left: int,
    n_reps: int,
    rng: np.random.Generator,
) -> EnrolledPatients:
    """The remaining patients from the trial-level accrual model (`continuation.accrual`):
    each replicate draws the model's parameters on a stream of its own (a child of the
    enrollment stream), then screenings arrive at rate lambda(u + m) / p (u the accrual's
    time, m the mean screening length, p the pass share), so that randomizations follow
    lambda; each goes to a site in proportion to the site rates' posterior means (sites
    open by the as-of day, not full, their rate tables not ended). Screenings are drawn
    from SCREENING_LOOKBACK days before the as-of day, and run through the funnel, slots,
    caps and calendar as any screening."""
    sc, obs = model.scenario, continuation.observed
    fit = continuation.accrual.chosen
    params = fit.draw(n_reps, rng.spawn(1)[0])
    pass_p = 1.0 - sc.enrollment.failure_probability
    shift = float(screening_lengths(sc).mean())
    first = obs.as_of_day - sc.enrollment.screening_days.max - SCREENING_LOOKBACK_EXTRA
    u0 = np.full((n_reps, 1), max(first + shift - continuation.accrual_origin, 0.0))
    active = np.asarray(
        [model.calendar.day_of(site.activation_date) <= obs.as_of_day for site in model.sites]
    )
    weight = np.asarray([f.shape / f.rate * f.scale for f in continuation.sites])
    weight = np.where(active, weight, 0.0) if active.any() else weight
    # a site whose cap is reached, or whose rate table has ended, screens no more
    weight = np.where([full_rate(site.screening_rate) > 0 for site in sites], weight, 0.0)
    if not weight.sum() > 0:
        raise ValueError(
            "enrollment: every site is full or closed, yet patients remain to randomize; "
            "raise the caps or give a site an open-ended rate row"
        )
    n_screens = expected_screens_needed(sc.enrollment, n_left)
    for _ in range(8):  # as enroll_remaining: draw more screenings when too few randomize
        levels = fit.cumulative(u0, params) + pass_p * np.cumsum(
            rng.standard_exponential((n_reps, n_screens)), axis=1
        )
        u = invert_cumulative(fit, levels, params, u0)
        arrival = u + continuation.accrual_origin - shift
        site = rng.choice(len(sites), size=arrival.shape, p=weight / weight.sum())
        draws = attach_screening_draws(sc.enrollment, arrival, site, model.stratum_p, rng)
        enrolled = randomize_screened(
            draws, sc.enrollment, sites, n_left, model.calendar, obs.as_of_day
        )
        if enrolled is not None:
            return enrolled
        n_screens *= 2
    raise ValueError(
        f"enrollment: the {fit.model} accrual model cannot randomize the remaining "
        "patients within the study calendar (caps reached, or a fitted rate of zero); "
        "choose --accrual-model plan"
    )


def join_enrolled(obs: ObservedTrial, new: EnrolledPatients, n_reps: int) -> EnrolledPatients:
    """The observed patients, then the new ones, in every replicate."""

    def tile(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values, (n_reps, obs.n))

    first_in = float(obs.rand_day.min()) if obs.n else np.nan
    return EnrolledPatients(
        rand_day=np.concatenate([tile(obs.rand_day), new.rand_day], axis=1),
        stratum=np.concatenate([tile(obs.stratum), new.stratum], axis=1),
        site=np.concatenate([tile(obs.site), new.site], axis=1),
        screen_day=np.concatenate(
            [np.full((n_reps, obs.n), np.nan), new.screen_day.astype(float)], axis=1
        ),
        first_screen_day=(np.full(n_reps, first_in) if obs.n else new.first_screen_day),
        n_screened=new.n_screened,
        n_screen_failed=new.n_screen_failed,
        screening=new.screening,
        screening_wait_days_mean=new.screening_wait_days_mean,
        log=new.log,  # the new screenings: what an early stop at a look recounts
    )


def arm_hazards(
    continuation: TrialContinuation,
    scenario: Scenario,
    n_reps: int,
    rng: np.random.Generator,
    prior_rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(R, 2, P) hazards per day of control and experimental, drawn from the posterior.
    Blinded: the control hazard is the pooled one times c, the experimental HR times it; HR
    the scenario's, or with a design prior on it (`continuation.factor_curve`) drawn per
    replicate from that prior with `prior_rng` (c at the drawn HR)."""
    draws = (
        np.stack(
            [
                np.column_stack([f.draw(n_reps, rng) for f in group])
                for group in continuation.hazards
            ],
            axis=1,
        )
        / DAYS_PER_MONTH
    )
    if draws.shape[1] == 2:
        return draws
    if continuation.factor_curve is None:
        control = draws[:, 0] * continuation.blinded_factor
        return np.stack([control, scenario.effect.hazard_ratio * control], axis=1)
    from sim.stats.priors import hazard_ratio_prior

    hr = hazard_ratio_prior(scenario.prior).draw(prior_rng, n_reps)
    grid, factor = (np.log(np.asarray(v)) for v in continuation.factor_curve)
    c = np.exp(np.interp(np.log(hr), grid, factor))
    control = draws[:, 0] * c[:, None]
    return np.stack([control, hr[:, None] * control], axis=1)


def replicate_hazard_ratio(hazards: np.ndarray) -> np.ndarray:
    """(R,) each replicate's hazard ratio, experimental over control: the geometric mean
    over the pieces of the hazard table (exact for one piece)."""
    return np.exp(np.log(hazards[:, 1] / hazards[:, 0]).mean(axis=-1))


def forecast_columns(model: TrialModel, cohort: Cohort) -> dict[str, np.ndarray]:
    """A forecast's columns of the replicates table (a blinded one with a design prior on
    the HR has a run's `sim.engine.chunk.truth_columns` instead): unblinded, each
    continuation's HR drawn from the posterior (`posterior_hr`), whether it is below the
    threshold, and the closed forms of `DataEvidence` (the same in every replicate);
    nothing otherwise."""
    continuation = model.continuation
    if not continuation.unblinded:
        return {}
    hr = cohort.truth.hazard_ratio
    columns = {
        "posterior_hr": hr,
        "posterior_hr_below_threshold": hr < continuation.hr_threshold,
    }
    evidence = continuation.evidence
    if evidence is not None:
        for column, name in (
            ("conditional_power_design", "conditional_power_design"),
            ("conditional_power_trend", "conditional_power_trend"),
            ("predictive_power_closed_form", "predictive_power"),
            ("p_hr_below_threshold_closed_form", "p_hr_below_threshold"),
        ):
            columns[column] = np.full(len(hr), getattr(evidence, name))
    return columns


def cumulative_hazard(t: np.ndarray, starts: np.ndarray, h: np.ndarray) -> np.ndarray:
    """H(t) for per-patient piecewise hazards h (R, N, P) on pieces starting at `starts`."""
    widths = np.diff(starts)
    inside = np.clip(t[..., None] - starts, 0.0, np.append(widths, np.inf))
    return (inside * h).sum(axis=-1)


def invert_cumulative_hazard(e: np.ndarray, starts: np.ndarray, h: np.ndarray) -> np.ndarray:
    """T with H(T) = e for per-patient piecewise hazards h (R, N, P)."""
    widths = np.diff(starts)
    cum = np.concatenate(
        [np.zeros(h.shape[:-1] + (1,)), np.cumsum(h[..., :-1] * widths, axis=-1)], axis=-1
    )
    piece = (cum <= e[..., None]).sum(axis=-1) - 1
    hp = np.take_along_axis(h, piece[..., None], axis=-1)[..., 0]
    cp = np.take_along_axis(cum, piece[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hp > 0, starts[piece] + (e - cp) / hp, np.inf)


def observed_arms(
    continuation: TrialContinuation,
    hazards: np.ndarray,
    ratio: tuple[int, int] | list[int],
    rng: np.random.Generator,
) -> np.ndarray:
    """(R, k) arms of the k observed patients. Unblinded, the table's. Blinded, each drawn
    from its posterior given the patient's own follow-up under the replicate's hazards
    (`hazards`, (R, 2, P) per day): P(experimental | t, d) is proportional to
    p_e h_e(t)^d exp(-H_e(t)) against p_c h_c(t)^d exp(-H_c(t)), t the days to the PFS event
    (d = 1) or to the last assessment (d = 0), p the randomization ratio; a dropout's
    hazard is the same in both arms and cancels. Drawn arms that ignored the outcomes would
    carry no effect into the final test: the events already seen would dilute it towards
    alpha as they accumulate. The blinded draws come from a child of `rng` (the outcomes
    stream), whose own draws stay as they were."""
    obs = continuation.observed
    if continuation.unblinded:
        return np.broadcast_to(obs.arm, (hazards.shape[0], obs.n)).copy()
    rng = rng.spawn(1)[0]
    has_event = np.isfinite(obs.event_day)
    t = np.where(has_event, obs.event_day, np.nan_to_num(obs.last_day, nan=0.0, posinf=0.0))
    t = np.broadcast_to(np.maximum(t, 0.0), (hazards.shape[0], obs.n))
    starts = continuation.starts
    h_c = np.broadcast_to(hazards[:, None, 0, :], (*t.shape, hazards.shape[-1]))
    h_e = np.broadcast_to(hazards[:, None, 1, :], (*t.shape, hazards.shape[-1]))
    piece = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    log_ratio_at_t = np.log(
        np.take_along_axis(h_e, piece[..., None], axis=-1)[..., 0]
        / np.take_along_axis(h_c, piece[..., None], axis=-1)[..., 0]
    )
    log_odds = (
        np.log(ratio[1] / ratio[0])
        + np.where(has_event, log_ratio_at_t, 0.0)
        - (cumulative_hazard(t, starts, h_e) - cumulative_hazard(t, starts, h_c))
    )
    p_experimental = 1.0 / (1.0 + np.exp(-log_odds))
    return (rng.random(t.shape) < p_experimental).astype(np.int8)


def continue_outcomes(
    model: TrialModel,
    continuation: TrialContinuation,
    rand_day: np.ndarray,
    arm: np.ndarray,
    rng: np.random.Generator,
    prior_rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, LatentOutcomes, ObservedOutcomes, np.ndarray]:
    """Every patient's arm (the observed patients' by `observed_arms`, the others' as
    randomized in `arm`), their outcomes (module docstring) and each replicate's hazard
    ratio."""
    sc, obs = model.scenario, continuation.observed
    n_reps, n = arm.shape
    hazards = arm_hazards(continuation, sc, n_reps, rng, prior_rng)
    hazard_ratio = replicate_hazard_ratio(hazards)
    if obs.n:
        arm = arm.copy()
        arm[:, : obs.n] = observed_arms(continuation, hazards, sc.randomization.ratio, rng)
    eta = continuation.dropout.draw(n_reps, rng) / DAYS_PER_MONTH
    death = continuation.death_share.draw(n_reps, rng)
    e_pfs = rng.standard_exponential((n_reps, n))
    u_death = rng.random((n_reps, n))
    e_drop = rng.standard_exponential((n_reps, n))
    h = np.where(arm[..., None] == 1, hazards[:, None, 1, :], hazards[:, None, 0, :])
    entry = np.zeros((n_reps, n))
    drop_from = np.zeros((n_reps, n))
    k = obs.n
    if k:
        entry[:, :k] = np.where(obs.at_risk, obs.last_day, 0.0)
        drop_from[:, :k] = np.where(obs.at_risk, obs.as_of_day - obs.rand_day, 0.0)
    level = cumulative_hazard(entry, continuation.starts, h) + e_pfs
    pfs = invert_cumulative_hazard(level, continuation.starts, h)
    withdraw = drop_from + e_drop / eta[:, None]
    is_death = u_death < death[:, None]
    # A death before the as-of day would be in the data: a patient at risk then, whose PFS
    # event falls before it, has an unseen progression (seen at a later scan).
    is_death &= pfs > drop_from
    latent = LatentOutcomes(pfs_day=pfs, is_death=is_death, withdraw_day=withdraw)
    seen = observe_outcomes(latent, model.schedule.for_patients(rand_day))  # scans done
    if not k:
        return arm, latent, seen, hazard_ratio
    known = ~obs.at_risk  # an event or a dropout by the as-of day: as it happened
    has_event = np.isfinite(obs.event_day)
    event_day, withdraw_day = seen.event_day.copy(), seen.withdraw_day.copy()
    censor, is_death = seen.withdraw_censor_day.copy(), latent.is_death.copy()
    pfs_day = latent.pfs_day.copy()
    event_day[:, :k] = np.where(known, obs.event_day, event_day[:, :k])
    withdraw_day[:, :k] = np.where(known, obs.dropout_day, withdraw_day[:, :k])
    censor[:, :k] = np.where(
        known, np.where(has_event, np.inf, np.minimum(obs.last_day, obs.dropout_day)), censor[:, :k]
    )
    is_death[:, :k] = np.where(known, obs.is_death & has_event, is_death[:, :k])
    pfs_day[:, :k] = np.where(known, obs.event_day, pfs_day[:, :k])
    latent = LatentOutcomes(pfs_day, is_death, latent.withdraw_day.copy())
    latent.withdraw_day[:, :k] = withdraw_day[:, :k]
    return arm, latent, ObservedOutcomes(event_day, withdraw_day, censor, is_death), hazard_ratio


def months_from(
    monthly: pd.DataFrame | None, calendar: StudyCalendar, as_of_day: int
) -> pd.DataFrame | None:
    """Monthly clinic columns (``table/item/YYYY-MM``) from the month of the as-of day on."""
    if monthly is None:
        return None
    label = str(np.datetime64(calendar.to_date(as_of_day), "M"))
    keep = [c for c in monthly.columns if c.count("/") != 2 or c.rsplit("/", 1)[1] >= label]
    return monthly[keep]
