"""Tumour assessments: when a progression or a censoring is seen.

With a scan schedule, progression is seen at the first scan on or after it; a death is seen
when it happens; PFS is censored at the last scan on or before the withdrawal or the data cut
(the last adequate assessment). With continuous observation, everything is seen when it
happens.

Scan due days are offsets from randomization, the same for every patient. With a visit
window (`assessments.window_days`) and a study calendar, each scan is *done* on an open clinic
day: its due day if open, else the nearest open day within +/- window_days (the earlier on a
tie), else the first open day after the window (a scan out of window). Progression is then
seen, and PFS censored, at the scans actually done: `ScanSchedule.for_patients(rand_day)`
gives the schedule of a chunk's patients, with the same two look-ups, vectorized (no loop
over patients or scans).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.conduct.outcomes import LatentOutcomes
from sim.scenario import Assessments

if TYPE_CHECKING:
    from sim.conduct.calendar import StudyCalendar

SCAN_HORIZON_DAYS = 20 * 365  # schedules are generated this far; beyond, nothing is seen


def scan_days(assessments: Assessments) -> np.ndarray:
    """Scan offsets from randomization in days (e.g. 42, 84, ..., 336, 420, ...)."""
    days, t = [], 0.0
    for period in assessments.schedule:
        step = period.every_weeks * 7
        end = t + period.weeks * 7 if period.weeks is not None else SCAN_HORIZON_DAYS
        k = np.arange(1, int(np.floor((end - t) / step + 1e-9)) + 1)
        days.extend(t + k * step)
        t = end
    return np.asarray(days, dtype=float)


@dataclass(frozen=True)
class ObservedOutcomes:
    """What follow-up can see, in days from randomization, before any data cut."""

    event_day: np.ndarray  # day the PFS event is seen; inf if withdrawal comes first
    withdraw_day: np.ndarray  # day of withdrawal (stops treatment); inf if none
    withdraw_censor_day: np.ndarray  # PFS censoring day due to withdrawal; inf if none
    is_death: np.ndarray


def scan_day_map(calendar: StudyCalendar, window_days: int) -> np.ndarray:
    """For every clock day d of the calendar, the day a scan due on d is done (see the module
    docstring); days past the calendar's horizon are open."""
    open_day = calendar.open_day
    days = np.arange(len(open_day))
    # nearest open day on or before / on or after each day (-inf / +inf if none)
    last_open = np.maximum.accumulate(np.where(open_day, days, -1))
    before = np.where(last_open >= 0, last_open, -(10**9))
    after = calendar.next_open_day(days).astype(np.int64)
    back, ahead = days - before, after - days
    # the earlier open day if nearest (or tied) and inside the window, else the later one:
    # inside the window, or the first open day after it
    earlier = (back <= ahead) & (back <= window_days)
    return np.where(open_day, days, np.where(earlier, before, after)).astype(float)


@dataclass(frozen=True)
class ScanSchedule:
    """A scan schedule, or None for continuous observation; `day_map` (from `scan_day_map`)
    moves scans onto open days, None: scans on their due days."""

    days: np.ndarray | None
    day_map: np.ndarray | None = None

    @classmethod
    def from_assessments(
        cls, assessments: Assessments, calendar: StudyCalendar | None = None
    ) -> ScanSchedule:
        if assessments.mode != "scheduled":
            return cls(None)
        windowed = assessments.window_days is not None and calendar is not None
        return cls(
            scan_days(assessments),
            scan_day_map(calendar, assessments.window_days) if windowed else None,
        )

    def for_patients(self, rand_day: np.ndarray) -> ScanSchedule | PatientScans:
        """The schedule of patients randomized on `rand_day` (R, N): the scans they actually
        have; this schedule itself when scans stay on their due days."""
        if self.days is None or self.day_map is None:
            return self
        moved = self.day_map - np.arange(len(self.day_map))
        return PatientScans(
            self.days,
            self.day_map,
            np.asarray(rand_day, dtype=float),
            float(moved.min()),
            float(moved.max()),
        )

    def first_scan_on_or_after(self, t: np.ndarray) -> np.ndarray:
        if self.days is None:
            return t
        idx = np.searchsorted(self.days, t, side="left")
        padded = np.append(self.days, np.inf)
        return padded[idx]

    def last_scan_on_or_before(self, t: np.ndarray) -> np.ndarray:
        """Last assessment at or before t (0 = randomization when there is none)."""
        if self.days is None:
            return t
        idx = np.searchsorted(self.days, t, side="right")
        padded = np.concatenate([[0.0], self.days])
        return padded[idx]


@dataclass(frozen=True)
class PatientScans:
    """The scans a chunk's patients actually have: scan k of patient (r, i) is done on clock
    day day_map[rand_day + days[k]], i.e. at days-from-randomization `done(k)`.

    The look-ups use that the move of a scan (done - due) lies in [lo, hi] and that the day
    map is non-decreasing (a nearest-open-day projection, ties and the fallback both keeping
    the order), so done(k) is non-decreasing in k: start from the first scan that can be the
    answer and step over the few that are not.
    """

    days: np.ndarray  # due offsets (K,)
    day_map: np.ndarray  # clock day -> day the scan is done
    rand_day: np.ndarray  # (R, N)
    lo: float  # smallest move of a scan (<= 0)
    hi: float  # largest move of a scan (>= 0)

    def done(self, k: np.ndarray) -> np.ndarray:
        """Days from randomization of scan k (k may be -1: randomization, 0; or K: never)."""
        padded = np.concatenate([[-np.inf], self.days, [np.inf]])
        due = padded[k + 1]
        clock = self.rand_day + due
        finite = np.isfinite(clock)
        inside = finite & (clock < len(self.day_map))
        index = np.where(inside, clock, 0).astype(np.int64)
        moved = np.where(inside, self.day_map[index], clock)
        out = np.where(finite, moved - self.rand_day, due)
        return np.where(k < 0, 0.0, out)

    def first_scan_on_or_after(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        # scans due before t - hi are done before t; step forward while the scan is early
        k = np.searchsorted(self.days, t - self.hi, side="left")
        done = self.done(k)
        while True:
            early = (done < t) & (k < len(self.days))
            if not early.any():
                return done
            k = np.where(early, k + 1, k)
            done = np.where(early, self.done(k), done)

    def last_scan_on_or_before(self, t: np.ndarray) -> np.ndarray:
        """Last scan done at or before t (0 = randomization when there is none)."""
        t = np.asarray(t, dtype=float)
        k = np.searchsorted(self.days, t - self.lo, side="right") - 1
        done = self.done(k)
        while True:
            late = (done > t) & (k >= 0)
            if not late.any():
                return done
            k = np.where(late, k - 1, k)
            done = np.where(late, self.done(k), done)


def scans_out_of_window(
    schedule: ScanSchedule, window_days: int | None, rand_day: np.ndarray, until: np.ndarray
) -> np.ndarray:
    """(R, N) scans each patient had out of the visit window (done more than `window_days`
    after the due day: the clinic was closed all the window through), among the scans done
    on or before `until` (days from randomization: the event seen, the withdrawal or the
    data cut). Zero without a window. The due clock days whose scan falls out of window are
    few (long closures), so it loops over them, vectorized over the patients."""
    rand_day = np.asarray(rand_day)
    out = np.zeros(rand_day.shape, dtype=np.int64)
    if schedule.days is None or schedule.day_map is None or window_days is None:
        return out
    day_map, offsets = schedule.day_map, schedule.days
    for clock in np.flatnonzero(day_map - np.arange(len(day_map)) > window_days):
        due = clock - rand_day  # the offset a scan due that day would have
        k = np.minimum(np.searchsorted(offsets, due), len(offsets) - 1)
        scheduled = offsets[k] == due
        out += scheduled & (day_map[clock] - rand_day <= until)
    return out


def observe_outcomes(
    latent: LatentOutcomes, schedule: ScanSchedule | PatientScans
) -> ObservedOutcomes:
    seen = np.where(
        latent.is_death, latent.pfs_day, schedule.first_scan_on_or_after(latent.pfs_day)
    )
    withdrawn_first = latent.withdraw_day < seen
    censor = np.where(withdrawn_first, schedule.last_scan_on_or_before(latent.withdraw_day), np.inf)
    return ObservedOutcomes(
        event_day=np.where(withdrawn_first, np.inf, seen),
        withdraw_day=latent.withdraw_day,
        withdraw_censor_day=censor,
        is_death=latent.is_death,
    )
