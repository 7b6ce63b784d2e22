"""The trial's other objectives for a chunk of replicates: overall survival, tumour response
(ORR, DCR) and local control of the irradiated lesion, vectorized over the chunk.

Each endpoint is simulated only when its scenario block is there (`overall_survival`,
`response`, `local_control`), each from a stream of its own, so the PFS tables do not change
when an endpoint is added, except for one deliberate rule of the illness-death model: a
patient who progresses and dies before the scan that would have seen the progression has
the death as PFS event (`sim.conduct.survival.pfs_as_seen`).

With OS primary (`analysis.endpoint: os`) PFS is one of them (``pfs_`` columns, and the
``median_pfs_*`` medians), at the primary analysis's cut.

Per-replicate columns are prefixed ``os_``, ``orr_``, ``dcr_``, ``local_control_``;
per-patient columns are those of `EndpointResult.patient_columns`. With subsequent
therapies (overall_survival.subsequent_therapy), the shares treated and the OS analysis had
nobody started one (`subsequent_therapy_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from sim.conduct.assessments import PatientScans, ScanSchedule
from sim.conduct.datacut import CutData
from sim.conduct.outcomes import LatentOutcomes
from sim.conduct.response import (
    BEST_RESPONSES,
    CR,
    PR,
    SD,
    LatentResponse,
    best_response_at_cut,
    draw_response,
)
from sim.conduct.subsequent import NONE
from sim.conduct.survival import (
    IllnessDeathPaths,
    cut_os,
    draw_illness_death,
    os_cut_day,
    pfs_as_seen,
)
from sim.engine.trial import ARMS, Cohort, TrialModel
from sim.scenario import DAYS_PER_MONTH, Analysis, Scenario
from sim.stats import analysis
from sim.stats.binary import cmh_test, newcombe_difference
from sim.stats.landmark import km_at, landmark_difference_z

ENDPOINT_PREFIXES = ("os_", "orr_", "dcr_", "local_control_", "ae_")


@dataclass
class EndpointResult:
    """Per-replicate columns (R,) and per-patient columns (R, N) of the chunk; the latent
    responses, so that the patient table can tell best response at an earlier cut."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    patient_columns: dict[str, np.ndarray] = field(default_factory=dict)
    response: LatentResponse | None = None


def draw_illness_death_paths(
    scenario: Scenario,
    arm: np.ndarray,
    latent: LatentOutcomes,
    schedule: ScanSchedule | PatientScans,
    rng: np.random.Generator,
    therapy_rng: np.random.Generator | None = None,
) -> tuple[IllnessDeathPaths | None, LatentOutcomes]:
    """(illness-death paths or None, PFS outcomes as the scans see them); `therapy_rng`:
    the subsequent therapies' stream (overall_survival.subsequent_therapy)."""
    if scenario.overall_survival is None:
        return None, latent
    paths = draw_illness_death(scenario, arm, latent, rng, therapy_rng)
    return paths, pfs_as_seen(latent, paths, schedule)


def latent_days(
    paths: IllnessDeathPaths | None, latent: LatentOutcomes
) -> tuple[np.ndarray, np.ndarray]:
    """(progression day, death day), inf where none (without OS: only PFS deaths known)."""
    if paths is not None:
        return paths.progression_day, paths.death_day
    return (
        np.where(latent.is_death, np.inf, latent.pfs_day),
        np.where(latent.is_death, latent.pfs_day, np.inf),
    )


def survival_tests(
    model: TrialModel,
    cohort: Cohort,
    prefix: str,
    time: np.ndarray,
    event: np.ndarray,
    valid: np.ndarray,
) -> dict[str, np.ndarray]:
    """Log-rank (stratified as the primary analysis), Cox HR and KM medians of one endpoint."""
    a = model.scenario.analysis
    arm, stratum = cohort.arm, cohort.stratum
    rs = analysis.risk_sets(time, event, arm, stratum if a.stratified else None, valid=valid)
    test = analysis.logrank_from_risk_sets(rs)
    cox = analysis.cox_from_risk_sets(rs, a.ties)
    medians = analysis.km_median(time, event, arm, valid=valid)
    p = test.p_one if a.sides == 1 else test.p_two
    return {
        f"{prefix}z": test.z,
        f"{prefix}p_value": p,
        f"{prefix}reject": np.where(np.isfinite(p), p < a.alpha, False),
        f"{prefix}hazard_ratio": cox.hr,
        f"{prefix}median_control_months": medians[:, 0] / DAYS_PER_MONTH,
        f"{prefix}median_experimental_months": medians[:, 1] / DAYS_PER_MONTH,
    }


def reject_z(z: np.ndarray, a: Analysis) -> np.ndarray:
    """z beyond the primary analysis's critical value (one-sided: benefit is z > 0)."""
    crit = special.ndtri(1.0 - a.alpha / a.sides)
    return np.where(np.isfinite(z), (z if a.sides == 1 else np.abs(z)) > crit, False)


def per_arm_counts(prefix: str, flags: np.ndarray, arm: np.ndarray) -> dict[str, np.ndarray]:
    """Per replicate, the patients of each arm `flags` marks: ``<prefix><arm>`` columns."""
    return {f"{prefix}{name}": (flags & (arm == a)).sum(axis=1) for a, name in enumerate(ARMS)}


def analyze_endpoints(
    model: TrialModel, rng: dict[str, np.random.Generator], cohort: Cohort, cut: CutData
) -> EndpointResult:
    """Every secondary endpoint of the chunk (see the module docstring), each from its
    stream of `rng`."""
    sc = model.scenario
    out = EndpointResult()
    rand, arm, observed = cohort.rand_day, cohort.arm, cohort.observed
    paths = cohort.illness_death
    if paths is not None:
        overall_survival(model, out, cohort, cut)
    if sc.analysis.endpoint != "pfs":
        progression_free_survival(model, out, cohort, cut)
    progression_day, death_day = latent_days(paths, cohort.latent)
    horizon = cut.cut_day[:, None] - rand
    if sc.response is not None:
        latent_r = draw_response(
            sc, model.schedule, arm, progression_day, death_day, rng["response"], cohort.scans
        )
        out.response = latent_r
        code, day = best_response_at_cut(latent_r, observed, horizon, cut.valid)
        tumour_response(model, out, cohort, code, cut.valid)
        out.patient_columns["best_response"] = np.asarray(BEST_RESPONSES)[code]
        out.patient_columns["response_day"] = day
    if sc.local_control is not None:
        from sim.conduct.local_control import draw_lesion_involved, local_control_at_cut

        involved = draw_lesion_involved(sc, arm, rng["local_control"])
        time, event = local_control_at_cut(involved, cut.time, cut.event, observed.is_death)
        local_control(model, out, cohort, time, event, cut.valid)
        out.patient_columns["lesion_involved"] = involved
        out.patient_columns["local_progression_day"] = np.where(
            involved & np.isfinite(progression_day), progression_day, np.inf
        )
        out.patient_columns["local_control_days_at_cut"] = time
        out.patient_columns["local_progression_at_cut"] = event
    return out


def overall_survival(model: TrialModel, out: EndpointResult, cohort: Cohort, cut: CutData) -> None:
    """Overall survival at the PFS cut, at its own cut (os.cut) and by the maturity date:
    deaths per arm, the log-rank, Cox and KM columns; the patients' illness-death days."""
    sc = model.scenario
    os_block = sc.overall_survival
    rand, arm, paths = cohort.rand_day, cohort.arm, cohort.illness_death
    withdraw = cohort.observed.withdraw_day
    at_pfs = cut_os(rand, paths, withdraw, cut.cut_day)
    cols = out.columns
    if sc.analysis.endpoint == "pfs":  # with OS primary, OS at the cut is the primary analysis
        cols["os_deaths_at_pfs_cut"] = at_pfs.event.sum(axis=1)
        cols.update(per_arm_counts("os_deaths_at_pfs_cut_", at_pfs.event, arm))
        cols.update(
            survival_tests(model, cohort, "os_at_pfs_cut_", at_pfs.time, at_pfs.event, at_pfs.valid)
        )
    if os_block.cut != "pfs":
        cut_day = os_cut_day(os_block, rand, paths, withdraw, cut.cut_day, model_os_date_day(model))
        own = cut_os(rand, paths, withdraw, cut_day)
        cols["os_cut_date"] = model.calendar.to_datetime64(cut_day)
        cols["os_analysis_months"] = cut_day / DAYS_PER_MONTH
        cols["os_deaths"] = own.event.sum(axis=1)
        cols.update(per_arm_counts("os_deaths_", own.event, arm))
        cols.update(survival_tests(model, cohort, "os_", own.time, own.event, own.valid))
    maturity = os_block.maturity_date or sc.trial.completion_date
    day = float(model.calendar.day_of(maturity))
    by = cut_os(rand, paths, withdraw, np.full(rand.shape[0], day))
    cols["os_deaths_by_maturity"] = by.event.sum(axis=1)
    cols.update(per_arm_counts("os_deaths_by_maturity_", by.event, arm))
    randomized = by.valid.sum(axis=1)
    cols["os_maturity"] = np.where(
        randomized > 0, by.event.sum(axis=1) / np.maximum(randomized, 1), np.nan
    )
    if paths.therapy is not None:
        own_cut = os_block.cut != "pfs"
        cols.update(subsequent_therapy_columns(model, cohort, cut_day if own_cut else cut.cut_day))
    out.patient_columns["progression_day"] = paths.progression_day
    out.patient_columns["death_day"] = paths.death_day
    out.patient_columns["os_days_at_cut"] = at_pfs.time
    out.patient_columns["os_event_at_cut"] = at_pfs.event


PREFIX = "os_without_subsequent_"  # the OS analysis had nobody started a subsequent therapy


def subsequent_therapy_columns(
    model: TrialModel, cohort: Cohort, cut_day: np.ndarray
) -> dict[str, np.ndarray]:
    """Per replicate, at the OS analysis's cut `cut_day` (its own cut, or the primary
    analysis's): `subsequent_therapy_<arm>` and `subsequent_immunotherapy_<arm>` (shares of
    the arm's patients with a progression by the cut, before any withdrawal), the
    `os_without_subsequent_*` tests, and `os_hr_dilution` = the OS Cox hazard ratio at that
    cut / the one without subsequent therapy (nothing without subsequent therapies)."""
    paths = cohort.illness_death
    if paths is None or paths.therapy is None or paths.death_day_without_therapy is None:
        return {}
    rand, arm = cohort.rand_day, cohort.arm
    withdraw = cohort.observed.withdraw_day
    progressed = (rand + paths.progression_day <= cut_day[:, None]) & (
        paths.progression_day <= withdraw
    )
    started = progressed & (paths.therapy.index != NONE)
    columns: dict[str, np.ndarray] = {}
    for a, name in enumerate(ARMS):
        mine = progressed & (arm == a)
        n = mine.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns[f"subsequent_therapy_{name}"] = (started & mine).sum(axis=1) / n
            columns[f"subsequent_immunotherapy_{name}"] = (
                started & mine & paths.therapy.immunotherapy
            ).sum(axis=1) / n
    untreated = IllnessDeathPaths(paths.progression_day, paths.death_day_without_therapy)
    without = cut_os(rand, untreated, withdraw, cut_day)
    columns.update(
        survival_tests(model, cohort, PREFIX, without.time, without.event, without.valid)
    )
    treated = cut_os(rand, paths, withdraw, cut_day)
    hazard_ratio = os_hazard_ratio(model, cohort, treated.time, treated.event, treated.valid)
    columns["os_hr_dilution"] = hazard_ratio / columns[f"{PREFIX}hazard_ratio"]
    return columns


def os_hazard_ratio(
    model: TrialModel, cohort: Cohort, time: np.ndarray, event: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """The Cox hazard ratio of an OS data set, stratified as the primary analysis."""
    a = model.scenario.analysis
    stratum = cohort.stratum if a.stratified else None
    rs = analysis.risk_sets(time, event, cohort.arm, stratum, valid=valid)
    return analysis.cox_from_risk_sets(rs, a.ties).hr


def progression_free_survival(
    model: TrialModel, out: EndpointResult, cohort: Cohort, cut: CutData
) -> None:
    """PFS as the secondary endpoint of an OS-primary trial, at the primary analysis's cut
    (`cut`: PFS seen at the scans by that day): PFS events, the log-rank (stratified as the
    primary analysis), the Cox hazard ratio and the Kaplan-Meier medians (median_pfs_*, as
    a PFS-primary run names them)."""
    cols = out.columns
    tests = survival_tests(model, cohort, "pfs_", cut.time, cut.event, cut.valid)
    cols["pfs_events"] = cut.event.sum(axis=1)
    for key in ("z", "p_value", "reject", "hazard_ratio"):
        cols[f"pfs_{key}"] = tests[f"pfs_{key}"]
    for arm in ARMS:
        cols[f"median_pfs_{arm}_months"] = tests[f"pfs_median_{arm}_months"]


def model_os_date_day(model: TrialModel) -> float:
    """Clock day of overall_survival.cut_date (inf: none)."""
    date = model.scenario.overall_survival.cut_date
    return float(model.calendar.day_of(date)) if date is not None else np.inf


def tumour_response(
    model: TrialModel, out: EndpointResult, cohort: Cohort, code: np.ndarray, valid: np.ndarray
) -> None:
    """ORR and DCR per arm among the randomized patients in the analysis, their difference
    with Newcombe's interval, and the CMH test across strata (one- or two-sided as the
    primary analysis)."""
    a = model.scenario.analysis
    arm, stratum = cohort.arm, cohort.stratum
    n_strata = len(model.scenario.strata_names)
    cols = out.columns
    for prefix, hit in (
        ("orr_", (code == CR) | (code == PR)),
        ("dcr_", (code == CR) | (code == PR) | (code == SD)),
    ):
        hit = hit & valid
        x = np.stack([(hit & (arm == k)).sum(axis=1) for k in (0, 1)], axis=-1)
        n = np.stack([(valid & (arm == k)).sum(axis=1) for k in (0, 1)], axis=-1)
        diff = newcombe_difference(x[:, 0], n[:, 0], x[:, 1], n[:, 1])
        cell = stratum * 2 + arm
        reps = np.arange(arm.shape[0])[:, None]
        responders = np.zeros((arm.shape[0], n_strata * 2))
        totals = np.zeros_like(responders)
        np.add.at(responders, (reps, cell), hit)
        np.add.at(totals, (reps, cell), valid)
        cmh = cmh_test(responders.reshape(-1, n_strata, 2), totals.reshape(-1, n_strata, 2))
        p = cmh.p_one if a.sides == 1 else cmh.p_two
        cols.update(
            {
                f"{prefix}control": diff.p0,
                f"{prefix}experimental": diff.p1,
                f"{prefix}difference": diff.diff,
                f"{prefix}difference_ci_low": diff.ci_low,
                f"{prefix}difference_ci_high": diff.ci_high,
                f"{prefix}cmh_z": cmh.z,
                f"{prefix}cmh_p_value": p,
                f"{prefix}reject": np.where(np.isfinite(p), p < a.alpha, False),
            }
        )


def local_control(
    model: TrialModel,
    out: EndpointResult,
    cohort: Cohort,
    time: np.ndarray,
    event: np.ndarray,
    valid: np.ndarray,
) -> None:
    """Local-control rate per arm at the landmarks (KM), the z test of the difference at
    each (Greenwood variances), and the log-rank test of time to local progression."""
    arm = cohort.arm
    cols = out.columns
    for months in model.scenario.local_control.landmarks_months:
        t = months * DAYS_PER_MONTH
        control = km_at(time, event, valid & (arm == 0), t)
        experimental = km_at(time, event, valid & (arm == 1), t)
        label = f"local_control_{months:g}m_"
        cols[f"{label}control"] = control.surv
        cols[f"{label}experimental"] = experimental.surv
        cols[f"{label}difference"] = experimental.surv - control.surv
        z = landmark_difference_z(control, experimental)
        cols[f"{label}z"] = z
        cols[f"{label}reject"] = reject_z(z, model.scenario.analysis)
    cols["local_control_progressions"] = event.sum(axis=1)
    tests = survival_tests(model, cohort, "local_control_logrank_", time, event, valid)
    for key in ("z", "p_value", "reject", "hazard_ratio"):
        cols[f"local_control_logrank_{key}"] = tests[f"local_control_logrank_{key}"]
