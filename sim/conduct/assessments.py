"""Tumour assessments: when a progression or a censoring is seen.

With a scan schedule, progression is seen at the first scan on or after it; a death is seen
when it happens; PFS is censored at the last scan on or before the withdrawal or the data cut
(the last adequate assessment). With continuous observation, everything is seen when it
happens. Scan days are offsets from randomization, the same for every patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.conduct.outcomes import LatentOutcomes
from sim.scenario import Assessments

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


@dataclass(frozen=True)
class ScanSchedule:
    """A scan schedule, or None for continuous observation."""

    days: np.ndarray | None

    @classmethod
    def from_assessments(cls, assessments: Assessments) -> ScanSchedule:
        return cls(scan_days(assessments) if assessments.mode == "scheduled" else None)

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


def observe_outcomes(latent: LatentOutcomes, schedule: ScanSchedule) -> ObservedOutcomes:
    seen = np.where(
        latent.is_death, latent.pfs_day, schedule.first_scan_on_or_after(latent.pfs_day)
    )
    withdrawn_first = latent.withdraw_day < seen
    censor = np.where(
        withdrawn_first, schedule.last_scan_on_or_before(latent.withdraw_day), np.inf
    )
    return ObservedOutcomes(
        event_day=np.where(withdrawn_first, np.inf, seen),
        withdraw_day=latent.withdraw_day,
        withdraw_censor_day=censor,
        is_death=latent.is_death,
    )
