"""Enrollment: sites, screening arrivals, the screening funnel, randomization order, closure.

Vectorized over a chunk of R replicates. Each site's screening arrivals are a non-homogeneous
Poisson process from its activation day with a piecewise-constant rate (its ramp-up table),
drawn by inverting the cumulative intensity: arrival k = Lambda^-1(E_1 + ... + E_k),
E_i ~ Exp(1). With `site_heterogeneity` (a gamma shape a), each site's rate in each replicate
is multiplied by G ~ Gamma(a, 1/a) (mean 1, variance 1/a): the Poisson-gamma model of
Anisimov & Fedorov (2007), so that planners see the extra spread of site performance.

A screening starts on the first open day on or after the arrival (with
`screening_slots_per_day`, the first such day with a free slot at its site, first come first
served), takes a whole number of days, and fails with the funnel's probability (criteria
checked in order, the first failed one recorded as the reason); a pass is randomized on the
first open day after screening, up to a site's cap, until `sample_size` are randomized; then
enrollment closes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.conduct.calendar import StudyCalendar
from sim.scenario import DAYS_PER_MONTH, Enrollment, RatePeriod, Site

MAX_TOP_UPS = 6
SORT_KEY_MAX = np.iinfo(np.int16).max  # clinic days beyond ~89 years sort together
PASSED = -1  # reason code of a screening that passed every criterion


@dataclass(frozen=True)
class ScreeningLog:
    """Every screening drawn for a chunk, (R, M), and the randomized patients, (R, N), as
    enrollment counted them: what `close_screening` recounts when a trial stops early."""

    calendar: StudyCalendar
    sites: tuple[Site, ...]
    reasons: list[str]
    screen_day: np.ndarray  # day each screening started
    draws: dict[str, np.ndarray]  # site, reason, ... of each screening (draw_screenings)
    screened: np.ndarray  # counted: started while enrollment was open
    wait: np.ndarray  # days each screening waited for a slot
    rand_day: np.ndarray  # (R, N) randomization day of the randomized
    rand_site: np.ndarray  # (R, N) their sites


@dataclass(frozen=True)
class EnrolledPatients:
    """Randomized patients of R replicates, in randomization order, shape (R, N)."""

    rand_day: np.ndarray  # int: clinic day of randomization
    stratum: np.ndarray  # int: index into scenario.randomization.strata
    site: np.ndarray  # int: index into the site list
    screen_day: np.ndarray  # int: day screening started
    first_screen_day: np.ndarray  # (R,) first patient in
    n_screened: np.ndarray  # (R,) screenings started while enrollment was open
    n_screen_failed: np.ndarray  # (R,)
    screening: pd.DataFrame  # counts summed over the chunk: site, month, what, count
    # (R,) mean days a screening started while enrollment was open waited for a free slot
    # (0 without screening_slots_per_day)
    screening_wait_days_mean: np.ndarray
    log: ScreeningLog | None = None  # what the counts above were made of


def close_screening(enrolled: EnrolledPatients, until: np.ndarray) -> EnrolledPatients:
    """`enrolled` with its counts (screened, failed, waits, the per-site monthly table) as if
    screening and randomization ended after clinic day `until` (R,) of each replicate (inf:
    as drawn): a trial stopped at an interim look screens and randomizes nobody after the
    stop. The patients' own arrays are left as drawn (the engine masks those after the
    stop). Unchanged without a log."""
    log = enrolled.log
    if log is None:
        return enrolled
    screened = log.screened & (log.screen_day <= until[:, None])
    failed = screened & (log.draws["reason"] != PASSED)
    n_screened = screened.sum(axis=1)
    return dataclasses.replace(
        enrolled,
        n_screened=n_screened,
        n_screen_failed=failed.sum(axis=1),
        screening=screening_counts(
            log.calendar,
            log.sites,
            log.reasons,
            log.screen_day,
            log.draws,
            screened,
            log.rand_day,
            log.rand_site,
            randomized=log.rand_day <= until[:, None],
        ),
        screening_wait_days_mean=mean_over(np.where(screened, log.wait, 0).sum(axis=1), n_screened),
    )


def mean_over(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """total / count per replicate; nan, without numpy's warning, where the count is 0 (a
    forecast whose remaining patients were all screened before its as-of date screens no
    one new: no wait to average; the mean over replicates leaves such replicates out)."""
    return np.divide(total, count, out=np.full(np.shape(total), np.nan), where=count > 0)


def cumulative_intensity(periods: tuple[RatePeriod, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """Breakpoints (days) and Lambda at them, plus the rate per day after the last break."""
    times, lam, t, total = [0.0], [0.0], 0.0, 0.0
    for row in periods:
        if row.months is None:
            break
        t += row.months * DAYS_PER_MONTH
        total += row.per_month * row.months
        times.append(t)
        lam.append(total)
    last = periods[-1]
    tail_rate = last.per_month / DAYS_PER_MONTH if last.months is None else 0.0
    return np.asarray(times), np.asarray(lam), tail_rate


def invert_intensity(levels: np.ndarray, periods: tuple[RatePeriod, ...]) -> np.ndarray:
    """Clock days at which the cumulative intensity reaches `levels` (inf past a closed table)."""
    times, lam, tail_rate = cumulative_intensity(periods)
    # A zero-rate period makes Lambda flat: repeated xp values in np.interp send a level just
    # below the flat value to the run's start and one just above to its end, so the inverse
    # jumps over the gap, as a Poisson process with no arrivals there does.
    inside = np.interp(levels, lam, times)
    if tail_rate > 0:
        beyond = times[-1] + (levels - lam[-1]) / tail_rate
    else:
        beyond = np.full_like(levels, np.inf)
    return np.where(levels <= lam[-1], inside, beyond)


def expected_screens_needed(enrollment: Enrollment, sample_size: int) -> int:
    """Screenings to draw per site: the mean plus 6 sd of the negative binomial, plus 8."""
    p = 1.0 - enrollment.failure_probability
    mean = sample_size / p
    sd = np.sqrt(sample_size * (1 - p)) / p
    return int(np.ceil(mean + 6 * sd)) + 8


def funnel_thresholds(enrollment: Enrollment) -> np.ndarray:
    """Cumulative pass probabilities c_k = p_1...p_k; one overall step without criteria."""
    if enrollment.criteria:
        return np.cumprod([c.pass_probability for c in enrollment.criteria])
    return np.asarray([1.0 - enrollment.failure_probability])


def failure_reasons(enrollment: Enrollment) -> list[str]:
    if enrollment.criteria:
        return [c.name for c in enrollment.criteria]
    return ["screen failure"]


def draw_site_arrivals(
    sites: tuple[Site, ...],
    start_day: np.ndarray,
    heterogeneity: float | None,
    n_reps: int,
    n_screens: int,
    rng: np.random.Generator,
    frailty: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Arrival clock days (R, S * M) of M screenings per site, and each one's site index.

    `frailty` (R, S), when given, multiplies each site's rate instead of a draw from
    `heterogeneity` (the forecast passes posterior draws of the site rates)."""
    if frailty is None:
        frailty = (
            rng.gamma(heterogeneity, 1.0 / heterogeneity, (n_reps, len(sites)))
            if heterogeneity is not None
            else np.ones((n_reps, len(sites)))
        )
    columns = []
    for s, site in enumerate(sites):
        levels = np.cumsum(rng.standard_exponential((n_reps, n_screens)), axis=1)
        columns.append(
            start_day[s] + invert_intensity(levels / frailty[:, s : s + 1], site.screening_rate)
        )
    arrival = np.concatenate(columns, axis=1)
    site = np.repeat(np.arange(len(sites)), n_screens)
    return arrival, np.broadcast_to(site, arrival.shape)


def draw_screenings(
    enrollment: Enrollment,
    sites: tuple[Site, ...],
    start_day: np.ndarray,
    n_reps: int,
    n_screens: int,
    stratum_p: np.ndarray,
    rng: np.random.Generator,
    frailty: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Bulk draws for `n_screens` screenings per site of each replicate, in arrival order."""
    arrival, site = draw_site_arrivals(
        sites, start_day, enrollment.site_heterogeneity, n_reps, n_screens, rng, frailty
    )
    return attach_screening_draws(enrollment, arrival, site, stratum_p, rng)


def attach_screening_draws(
    enrollment: Enrollment,
    arrival: np.ndarray,
    site: np.ndarray,
    stratum_p: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Each screening's length, funnel outcome and stratum for arrivals (R, M) at sites
    `site`, all in arrival order (the forecast's accrual models bring their own arrivals)."""
    shape = arrival.shape
    days = rng.integers(enrollment.screening_days.min, enrollment.screening_days.max + 1, shape)
    reason = np.searchsorted(-funnel_thresholds(enrollment), -rng.random(shape), side="right")
    n_reasons = len(funnel_thresholds(enrollment))
    stratum = np.minimum(
        np.searchsorted(np.cumsum(stratum_p), rng.random(shape), side="right"),
        len(stratum_p) - 1,
    )
    draws = {
        "arrival": arrival,
        "site": site,
        "days": days,
        "reason": np.where(reason >= n_reasons, PASSED, reason),
        "stratum": stratum,
    }
    if (arrival[:, 1:] >= arrival[:, :-1]).all():  # one site: arrivals come in order, and
        return draws  # a stable sort of rows in order is the identity
    order = np.argsort(arrival, axis=1, kind="stable")
    return {k: np.take_along_axis(v, order, axis=1) for k, v in draws.items()}


def rank_within_group(group: np.ndarray, n_groups: int, mask: np.ndarray) -> np.ndarray:
    """0-based order of each masked element among masked elements of its group, per row."""
    rank = np.zeros(group.shape, dtype=np.int64)
    for g in range(n_groups):  # a few groups (sites), not a data loop
        member = (group == g) & mask
        rank += np.where(group == g, np.cumsum(member, axis=1) - 1, 0)
    return rank


def enroll_patients(
    enrollment: Enrollment,
    sample_size: int,
    stratum_p: np.ndarray,
    calendar: StudyCalendar,
    n_reps: int,
    rng: np.random.Generator,
) -> EnrolledPatients:
    """Screen until `sample_size` are randomized in every replicate; see the module docstring."""
    sites = enrollment.site_list(calendar.start_date)
    start_day = np.asarray([calendar.day_of(s.activation_date) for s in sites], dtype=float)
    n_screens = expected_screens_needed(enrollment, sample_size)
    for _ in range(MAX_TOP_UPS):
        draws = draw_screenings(enrollment, sites, start_day, n_reps, n_screens, stratum_p, rng)
        enrolled = randomize_screened(draws, enrollment, sites, sample_size, calendar)
        if enrolled is not None:
            return enrolled
        # Rare: some replicate ran out of drawn screenings (caps, slow sites); draw twice as
        # many. Draws stay a deterministic function of the chunk's stream.
        n_screens *= 2
    raise ValueError(
        "enrollment: the sites cannot randomize trial.sample_size patients (rate tables that "
        "end, or caps too low); make each site's last rate row open-ended or raise the caps"
    )


def enroll_remaining(
    enrollment: Enrollment,
    sites: tuple[Site, ...],
    start_day: np.ndarray,
    frailty: np.ndarray,
    n_remaining: int,
    after_day: int,
    stratum_p: np.ndarray,
    calendar: StudyCalendar,
    *,
    rng: np.random.Generator,
) -> EnrolledPatients:
    """The last `n_remaining` patients of a trial under way (the forecast).

    `sites` carry the rate tables from each site's `start_day` on (clock days, possibly
    before `after_day`, so that screenings already under way are drawn), and `frailty`
    (R, S) multiplies their rates. Only randomizations after clinic day `after_day` are
    new (earlier ones are in the data), and only screenings started after it are counted.
    """
    n_reps = frailty.shape[0]
    n_screens = expected_screens_needed(enrollment, n_remaining)
    for _ in range(MAX_TOP_UPS):
        draws = draw_screenings(
            enrollment, sites, start_day, n_reps, n_screens, stratum_p, rng, frailty
        )
        enrolled = randomize_screened(draws, enrollment, sites, n_remaining, calendar, after_day)
        if enrolled is not None:
            return enrolled
        n_screens *= 2
    raise ValueError(
        "enrollment: the sites cannot randomize the remaining patients (rate tables that "
        "end, or caps reached); make each site's last rate row open-ended or raise the caps"
    )


def randomize_screened(
    draws: dict[str, np.ndarray],
    enrollment: Enrollment,
    sites: tuple[Site, ...],
    sample_size: int,
    calendar: StudyCalendar,
    after_day: float = -np.inf,
) -> EnrolledPatients | None:
    arrival = draws["arrival"]
    finite = np.isfinite(arrival)
    first_open = calendar.next_open_day(np.where(finite, np.floor(arrival), 0).astype(np.int64))
    if enrollment.screening_slots_per_day is None:
        screen_day = first_open
    else:
        screen_day = start_screenings_with_slots(
            first_open,
            draws["site"],
            finite,
            len(sites),
            enrollment.screening_slots_per_day,
            calendar,
        )
    rand_day = calendar.next_open_day(screen_day + draws["days"])
    eligible = (draws["reason"] == PASSED) & finite & (rand_day > after_day)
    # Randomization order: by randomization day, then by screening order (stable sort).
    # A stable sort on a 16-bit key is a radix sort: fast, and ties keep screening order.
    key = np.where(eligible, np.minimum(rand_day, SORT_KEY_MAX - 1), SORT_KEY_MAX)
    order = np.argsort(key.astype(np.int16), axis=1, kind="stable")
    caps = np.asarray([s.cap or sample_size for s in sites])
    elig_sorted = np.take_along_axis(eligible, order, axis=1)
    if any(s.cap for s in sites):
        site_sorted = np.take_along_axis(draws["site"], order, axis=1)
        within_cap = elig_sorted & (
            rank_within_group(site_sorted, len(sites), elig_sorted) < caps[site_sorted]
        )
        if (within_cap.sum(axis=1) < sample_size).any():
            return None
        # The first sample_size within-cap patients in randomization order are randomized.
        picked = np.argsort(~within_cap, axis=1, kind="stable")[:, :sample_size]
        take = np.take_along_axis(order, picked, axis=1)
    else:  # no caps: the eligible already sort first
        if (elig_sorted.sum(axis=1) < sample_size).any():
            return None
        take = order[:, :sample_size]
    # np.take at flat positions: take_along_axis(x, take, axis=1) for each x, several times
    # faster once the positions are computed (the same index for every table)
    flat_take = take + arrival.shape[1] * np.arange(take.shape[0])[:, None]
    rand_sorted = np.take(rand_day, flat_take)
    site_taken = np.take(draws["site"], flat_take)
    close_day = rand_sorted[:, -1]
    if any(s.cap for s in sites):
        site_full_day = cap_reached_day(rand_sorted, site_taken, caps, len(sites))
        site_close = np.minimum(close_day[:, None], site_full_day)
        screened = finite & (screen_day <= np.take_along_axis(site_close, draws["site"], axis=1))
    else:
        screened = finite & (screen_day <= close_day[:, None])
    screened &= screen_day > after_day
    failed = screened & (draws["reason"] != PASSED)
    wait = np.where(screened, screen_day - first_open, 0)
    reasons = failure_reasons(enrollment)
    return EnrolledPatients(
        rand_day=rand_sorted,
        stratum=np.take(draws["stratum"], flat_take),
        site=site_taken,
        screen_day=np.take(screen_day, flat_take),
        first_screen_day=np.where(screened, screen_day, SORT_KEY_MAX).min(axis=1),
        n_screened=screened.sum(axis=1),
        n_screen_failed=failed.sum(axis=1),
        screening=screening_counts(
            calendar, sites, reasons, screen_day, draws, screened, rand_sorted, site_taken
        ),
        screening_wait_days_mean=mean_over(wait.sum(axis=1), screened.sum(axis=1)),
        log=ScreeningLog(
            calendar,
            sites,
            reasons,
            screen_day,
            draws,
            screened,
            screen_day - first_open,
            rand_sorted,
            site_taken,
        ),
    )


def start_screenings_with_slots(
    first_open: np.ndarray,
    site: np.ndarray,
    finite: np.ndarray,
    n_sites: int,
    slots: int,
    calendar: StudyCalendar,
) -> np.ndarray:
    """Start day (R, M) of each screening when a site starts at most `slots` per open day.

    Screenings come in arrival order (columns) and each takes the first open day on or after
    `first_open` with a free slot at its site, first come first served. Start days at a site
    then never decrease, so a site's state is its latest start day and how many started on
    it: the pass walks the columns once, vectorized over replicates. Screenings that never
    arrive (not `finite`) keep `first_open` and take no slot.
    """
    n_reps = first_open.shape[0]
    rows = np.arange(n_reps)
    day = np.full((n_reps, n_sites), -1, dtype=np.int64)  # latest start day per site
    used = np.zeros((n_reps, n_sites), dtype=np.int64)  # screenings started on that day
    start = first_open.copy()
    for j in range(first_open.shape[1]):
        s, arrive, live = site[:, j], first_open[:, j], finite[:, j]
        latest, count = day[rows, s], used[rows, s]
        later = arrive > latest
        full = ~later & (count >= slots)
        begin = np.where(later, arrive, np.where(full, calendar.next_open_day(latest + 1), latest))
        count = np.where(later | full, 1, count + 1)
        start[:, j] = np.where(live, begin, arrive)
        day[rows, s] = np.where(live, begin, latest)
        used[rows, s] = np.where(live, count, used[rows, s])
    return start


def cap_reached_day(
    rand_day: np.ndarray, site: np.ndarray, caps: np.ndarray, n_sites: int
) -> np.ndarray:
    """(R, S) day each site randomized its cap-th patient (large if never): it stops screening."""
    rank = rank_within_group(site, n_sites, np.ones_like(site, dtype=bool))
    at_cap = rank == caps[site] - 1
    out = np.full((rand_day.shape[0], n_sites), np.iinfo(np.int64).max // 4, dtype=np.int64)
    rows, cols = np.nonzero(at_cap)
    out[rows, site[rows, cols]] = rand_day[rows, cols]
    return out


def screening_counts(
    calendar: StudyCalendar,
    sites: tuple[Site, ...],
    reasons: list[str],
    screen_day: np.ndarray,
    draws: dict[str, np.ndarray],
    screened: np.ndarray,
    rand_day: np.ndarray,
    rand_site: np.ndarray,
    *,
    randomized: np.ndarray | None = None,
) -> pd.DataFrame:
    """Screened, failed by reason and randomized per site and calendar month, summed over
    the chunk's replicates (divide by the replicate count for a per-trial mean);
    `randomized` (like rand_day) masks the randomized counted (default: all)."""
    n_sites, whats = len(sites), ["screened", *[f"failed: {r}" for r in reasons], "randomized"]
    s_month = calendar.month_index(np.where(screened, screen_day, 0))
    r_month = calendar.month_index(rand_day)
    n_months = int(max(s_month[screened].max(initial=0), r_month.max())) + 1
    n_what = len(whats)
    site = draws["site"]

    def flat(site_idx: np.ndarray, month: np.ndarray, what: np.ndarray | int) -> np.ndarray:
        return (site_idx * n_months + month) * n_what + what

    failed = screened & (draws["reason"] != PASSED)
    index = np.concatenate(
        [
            flat(site[screened], s_month[screened], 0),
            flat(site[failed], s_month[failed], 1 + draws["reason"][failed]),
            flat(rand_site[randomized], r_month[randomized], n_what - 1)
            if randomized is not None
            else flat(rand_site.ravel(), r_month.ravel(), n_what - 1),
        ]
    )
    counts = np.bincount(index, minlength=n_sites * n_months * n_what)
    nonzero = np.flatnonzero(counts)
    s_idx, rest = np.divmod(nonzero, n_months * n_what)
    m_idx, w_idx = np.divmod(rest, n_what)
    return pd.DataFrame(
        {
            "site": np.asarray([s.name for s in sites])[s_idx],
            "month": calendar.month_label(m_idx),
            "what": pd.Categorical.from_codes(w_idx, categories=whats, ordered=True),
            "count": counts[nonzero].astype(float),
        }
    )
