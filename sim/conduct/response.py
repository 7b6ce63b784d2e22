"""Tumour response at the scheduled scans: best overall response, ORR and DCR.

One course of response per patient, consistent with PFS: a patient who is progression-free and alive
at the first scan (day f) responds with probability ``q = ORR / S_PFS(f)`` of the arm
(`scenario.response`), so that the share of responders among all randomized patients is the
scenario's ORR when nobody drops out; a responder's response is seen at the first scan and
lasts until the progression (the progression ends it; nothing is seen after). A
responder is a complete response with probability `complete_share`, else partial. A patient
progression-free at the first scan who does not respond has stable disease; a progression
seen at a scan before any response is progressive disease; without any scan before the
death, the withdrawal or the data cut the patient is not evaluable (NE, a non-responder in
the ORR of all randomized patients).

The draws come from a stream of their own: the PFS draws do not change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.conduct.assessments import ObservedOutcomes, PatientScans, ScanSchedule
from sim.scenario import Scenario

BEST_RESPONSES = ("CR", "PR", "SD", "PD", "NE")
CR, PR, SD, PD, NE = range(5)


@dataclass(frozen=True)
class LatentResponse:
    """Per patient (R, N): would respond (and completely) if followed to the first scan;
    the day the first scan is done (from randomization; a scalar when every patient's scans
    fall on their due days)."""

    responder: np.ndarray
    complete: np.ndarray
    first_scan_day: float | np.ndarray


def responder_probability(scenario: Scenario, first_scan_day: float) -> np.ndarray:
    """q per arm (control, experimental): ORR / P(progression-free and alive at the first
    scan)."""
    response = scenario.response
    assert response is not None
    orr = (response.objective_response.control, response.objective_response.experimental)
    return np.asarray(
        [orr[a] / math.exp(-scenario.pfs_cumulative_hazard(a, first_scan_day)) for a in (0, 1)]
    )


def draw_response(
    scenario: Scenario,
    schedule: ScanSchedule,
    arm: np.ndarray,
    progression_day: np.ndarray,
    death_day: np.ndarray,
    rng: np.random.Generator,
    scans: ScanSchedule | PatientScans | None = None,
) -> LatentResponse:
    """Who responds at the first scan (see the module docstring); `progression_day` and
    `death_day` are latent (inf if none); `scans`: the patients' scans as done
    (`ScanSchedule.for_patients`; None: on their due days). q uses the due day of the first
    scan. Raises ValueError without a response block or a scan schedule."""
    if scenario.response is None or schedule.days is None:
        raise ValueError("response needs scenario.response and scheduled assessments")
    due = float(schedule.days[0])
    first = (
        due
        if scans is None or scans is schedule
        else scans.first_scan_on_or_after(np.zeros(arm.shape))
    )
    u = rng.random((2, *arm.shape))
    q = responder_probability(scenario, due)[arm]
    free = (progression_day > first) & (death_day > first)
    responder = free & (u[0] < q)
    return LatentResponse(responder, responder & (u[1] < scenario.response.complete_share), first)


def best_response_at_cut(
    latent: LatentResponse, observed: ObservedOutcomes, horizon: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(best response code, response day or inf) per patient as known at the cut, with
    `horizon` = cut day - randomization day (R, N). A scan counts if it is on or before the
    cut and the withdrawal, and the patient has not had a PFS event before it."""
    first = latent.first_scan_day
    scanned = (first <= horizon) & (first <= observed.withdraw_day) & (observed.event_day >= first)
    progressed = (
        np.isfinite(observed.event_day) & ~observed.is_death & (observed.event_day <= horizon)
    )
    # the first scan sees the progression (event_day == first) or the patient free of it
    free_at_first = scanned & (observed.event_day > first)
    code = np.full(horizon.shape, NE, dtype=np.int8)
    code = np.where(progressed, PD, code)
    code = np.where(free_at_first, SD, code)
    responded = free_at_first & latent.responder
    code = np.where(responded, np.where(latent.complete, CR, PR), code)
    code = np.where(valid, code, NE).astype(np.int8)
    return code, np.where(responded & valid, first, np.inf)
