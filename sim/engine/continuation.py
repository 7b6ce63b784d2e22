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
  ones in an unblinded forecast. Blinded, the observed patients get drawn arms.
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
    enroll_remaining,
)
from sim.conduct.observed import ObservedTrial
from sim.conduct.outcomes import LatentOutcomes
from sim.conduct.randomization import randomize_by_block
from sim.scenario import DAYS_PER_MONTH, RatePeriod, Scenario, ScenarioError, Site
from sim.stats import posterior
from sim.stats.posterior import BetaFit, GammaFit

if TYPE_CHECKING:
    from sim.engine.chunk import TrialModel

SCREENING_LOOKBACK_EXTRA = 21  # days beyond screening_days.max: closures, next open day
DEFAULT_PRIOR_MONTHS = 3.0
# The planned hazards' default weight: this share of the event target, in events (at least
# MIN_PRIOR_EVENTS). docs/forecasting.md gives the coverage that justifies it.
DEFAULT_PRIOR_EVENTS_SHARE = 0.10
MIN_PRIOR_EVENTS = 1.0
SHARE_PRIOR_EVENTS = 10.0  # prior weight of the death share, in PFS events (at least)


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


def default_prior_events(scenario: Scenario) -> float:
    """The planned hazards' weight when none is given: DEFAULT_PRIOR_EVENTS_SHARE of the
    event target, in events (at least MIN_PRIOR_EVENTS): 7 events for a 70-event target. A
    trial cut by date alone has no target: the same share of its sample size stands in."""
    target = scenario.analysis.event_target or scenario.trial.sample_size
    return max(MIN_PRIOR_EVENTS, DEFAULT_PRIOR_EVENTS_SHARE * target)


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
) -> TrialContinuation:
    """Posteriors of site rates, PFS hazards, dropout and the death share (module docstring).

    `prior_events` None: `default_prior_events(scenario)`. `unblinded` fits a hazard per arm
    from the table's arms (it must have them: ScenarioError otherwise); by default one pooled
    hazard, whether or not the table has arms.

    With `screening` (totals per site, `sim.conduct.observed.read_screening`) the site rates
    are fitted to the screened counts against the planned screening intensity, and the pass
    share of screening gets a beta posterior with a prior worth the screenings of
    `prior_months` at full speed.

    `prior_months` None: the scenario's `site_heterogeneity` h, when it has one, is every
    site's prior shape (theta_s ~ Gamma(h, h), the plan's own spread of site rates); else
    DEFAULT_PRIOR_MONTHS."""
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
        prior_events = default_prior_events(scenario)
    if unblinded and observed.blinded:
        raise ScenarioError(
            "unblinded forecast: the observed table has no arms (its arm column is empty); "
            "give the arms, or drop --unblinded for the blinded (pooled) forecast"
        )
    factor = 1.0
    if not unblinded or observed.n == 0:
        factor = blinded_factor(scenario, observed)
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
    )


def blinded_factor(scenario: Scenario, observed: ObservedTrial) -> float:
    """c = (w_c + w_e) / (w_c + HR w_e): control hazard over the pooled (exposure-weighted)
    one, w_a = p_a x sum over patients of E[time at risk by the as-of day | arm a] under the
    planned PFS (the integral of the survival curve); without patients, allocation weights."""
    hr = scenario.effect.hazard_ratio
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
) -> tuple[EnrolledPatients, np.ndarray, LatentOutcomes, ObservedOutcomes]:
    """The arrays of a chunk of R replicates of the whole trial (observed patients first);
    `model` is a `sim.engine.chunk.TrialModel`, `rng` its stage streams."""
    sc, obs = model.scenario, continuation.observed
    enrolled = continue_enrollment(model, continuation, n_reps, rng["enrollment"])
    arm = randomize_by_block(enrolled.stratum, sc.randomization, rng["randomization"])
    if obs.n and continuation.unblinded:
        arm[:, : obs.n] = obs.arm
    latent, observed = continue_outcomes(
        model, continuation, enrolled.rand_day, arm, rng["outcomes"]
    )
    return enrolled, arm, latent, observed


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
    continuation: TrialContinuation, scenario: Scenario, n_reps: int, rng: np.random.Generator
) -> np.ndarray:
    """(R, 2, P) hazards per day of control and experimental, drawn from the posterior."""
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
    control = draws[:, 0] * continuation.blinded_factor
    return np.stack([control, scenario.effect.hazard_ratio * control], axis=1)


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


def continue_outcomes(
    model: TrialModel,
    continuation: TrialContinuation,
    rand_day: np.ndarray,
    arm: np.ndarray,
    rng: np.random.Generator,
) -> tuple[LatentOutcomes, ObservedOutcomes]:
    sc, obs = model.scenario, continuation.observed
    n_reps, n = arm.shape
    hazards = arm_hazards(continuation, sc, n_reps, rng)
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
        return latent, seen
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
    return latent, ObservedOutcomes(event_day, withdraw_day, censor, is_death)


def months_from(
    monthly: pd.DataFrame | None, calendar: StudyCalendar, as_of_day: int
) -> pd.DataFrame | None:
    """Monthly clinic columns (``table/item/YYYY-MM``) from the month of the as-of day on."""
    if monthly is None:
        return None
    label = str(np.datetime64(calendar.to_date(as_of_day), "M"))
    keep = [c for c in monthly.columns if c.count("/") != 2 or c.rsplit("/", 1)[1] >= label]
    return monthly[keep]
