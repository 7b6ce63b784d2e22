"""Enrollment: screening arrivals, the screening period, screen failure, randomization order.

Vectorized over a chunk of R replicates. Screening arrivals are a non-homogeneous Poisson
process with a piecewise-constant rate (the ramp-up table), drawn by inverting the cumulative
intensity: arrival k = Lambda^-1(E_1 + ... + E_k), E_i ~ Exp(1). A screened patient takes a
whole number of days to screen, fails with probability `screen_failure`, and otherwise is
randomized on the first open clinic day after screening, until `sample_size` are randomized;
then enrollment closes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.calendar import StudyCalendar
from sim.scenario import DAYS_PER_MONTH, Enrollment, RatePeriod

MAX_TOP_UPS = 50
SORT_KEY_MAX = np.iinfo(np.int16).max  # clinic days beyond ~89 years sort together


@dataclass(frozen=True)
class EnrolledPatients:
    """Randomized patients of R replicates, in randomization order, shape (R, N)."""

    rand_day: np.ndarray  # int: clinic day of randomization
    stratum: np.ndarray  # int: index into scenario.randomization.strata
    screen_day: np.ndarray  # int: day screening started
    first_screen_day: np.ndarray  # (R,) first patient in
    n_screened: np.ndarray  # (R,) screenings started up to the day enrollment closed
    n_screen_failed: np.ndarray  # (R,)


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
    """Screenings to draw per replicate: the mean plus 6 sd of the negative binomial, plus 8."""
    p = 1.0 - enrollment.screen_failure
    mean = sample_size / p
    sd = np.sqrt(sample_size * (1 - p)) / p
    return int(np.ceil(mean + 6 * sd)) + 8


def draw_screenings(
    enrollment: Enrollment, n_reps: int, n_screens: int, n_strata: int,
    stratum_p: np.ndarray, rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Bulk draws for `n_screens` consecutive screenings of each replicate."""
    gaps = rng.standard_exponential((n_reps, n_screens))
    days = rng.integers(
        enrollment.screening_days.min, enrollment.screening_days.max + 1, (n_reps, n_screens)
    )
    passed = rng.random((n_reps, n_screens)) >= enrollment.screen_failure
    stratum = np.minimum(
        np.searchsorted(np.cumsum(stratum_p), rng.random((n_reps, n_screens)), side="right"),
        n_strata - 1,
    )
    return {"gaps": gaps, "days": days, "passed": passed, "stratum": stratum}


def enroll_patients(
    enrollment: Enrollment, sample_size: int, stratum_p: np.ndarray,
    calendar: StudyCalendar, n_reps: int, rng: np.random.Generator,
) -> EnrolledPatients:
    """Screen until `sample_size` are randomized in every replicate; see the module docstring."""
    n_screens = expected_screens_needed(enrollment, sample_size)
    draws = draw_screenings(enrollment, n_reps, n_screens, len(stratum_p), stratum_p, rng)
    for _ in range(MAX_TOP_UPS):
        short = draws["passed"].sum(axis=1) < sample_size
        if not short.any():
            break
        # Rare: some replicate screened fewer passes than needed; extend every replicate
        # (draws stay a deterministic function of the chunk's stream).
        more = draw_screenings(enrollment, n_reps, n_screens, len(stratum_p), stratum_p, rng)
        draws = {k: np.concatenate([draws[k], more[k]], axis=1) for k in draws}
    else:
        raise RuntimeError("screening never produced enough randomized patients")
    return randomize_screened(draws, enrollment, sample_size, calendar)


def randomize_screened(
    draws: dict[str, np.ndarray], enrollment: Enrollment, sample_size: int,
    calendar: StudyCalendar,
) -> EnrolledPatients:
    arrival = invert_intensity(np.cumsum(draws["gaps"], axis=1), enrollment.screening_rate)
    finite = np.isfinite(arrival)
    screen_day = calendar.next_open_day(np.where(finite, np.floor(arrival), 0).astype(np.int64))
    ready = screen_day + draws["days"]
    rand_day = calendar.next_open_day(ready)
    eligible = draws["passed"] & finite
    if (eligible.sum(axis=1) < sample_size).any():
        raise ValueError(
            "enrollment.screening_rate: the rate table ends (months given for every row) "
            f"before {sample_size} patients can be randomized; make the last row open-ended"
        )
    # Randomization order: by randomization day, then by screening order (stable sort).
    # A stable sort on a 16-bit key is a radix sort: fast, and ties keep screening order.
    key = np.where(eligible, np.minimum(rand_day, SORT_KEY_MAX - 1), SORT_KEY_MAX)
    order = np.argsort(key.astype(np.int16), axis=1, kind="stable")[:, :sample_size]
    rand_sorted = np.take_along_axis(rand_day, order, axis=1)
    close_day = rand_sorted[:, -1]
    screened = finite & (screen_day <= close_day[:, None])
    failed = screened & ~draws["passed"]
    return EnrolledPatients(
        rand_day=rand_sorted,
        stratum=np.take_along_axis(draws["stratum"], order, axis=1),
        screen_day=np.take_along_axis(screen_day, order, axis=1),
        first_screen_day=screen_day[:, 0],
        n_screened=screened.sum(axis=1),
        n_screen_failed=failed.sum(axis=1),
    )
