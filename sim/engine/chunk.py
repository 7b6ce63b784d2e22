"""One chunk of replicates of the trial, from the first screening to the final analysis.

The pipeline, in the order the trial runs: enrollment -> randomization -> latent outcomes
-> what the assessments see -> data cut (`draw_cohort`, `sim.conduct`) -> the interim looks
of a group-sequential design (`sim.engine.looks`) -> the analyses (`sim.engine.analyses`,
`sim.engine.endpoints`), all vectorized over the chunk, then, per replicate, the SimPy model
of the clinic (treatment cycles, Quad Shot RT) up to the final analysis, when the scenario
describes treatment (`sim.engine.clinic_bridge`); last, the tables: one row per replicate,
and one per patient of the first replicates (`sim.engine.patient_table`).

Random streams: chunk c of a run with seed s draws from SeedSequence(s, spawn_key=(c,)),
split into one child stream per pipeline stage, so the same seed gives the same tables
whatever the number of workers, and two scenarios differing only in, say, the hazard ratio
share their enrollment and randomization draws (common random numbers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.conduct.assessments import observe_outcomes, scans_out_of_window
from sim.conduct.datacut import (
    CUT_INTERIM,
    TRIGGERS,
    CutData,
    cut_at_analysis,
)
from sim.conduct.enrollment import EnrolledPatients, enroll_patients
from sim.conduct.outcomes import TrueEffect, draw_latent_outcomes
from sim.conduct.randomization import allocate_arms
from sim.conduct.triggers import cut_by_rules
from sim.engine.analyses import analyze_at_completion, analyze_cut
from sim.engine.clinic_bridge import (
    CLINIC_BLIND,
    TALLY_BATCH,
    ClinicChunk,
    ClinicInputs,
    clinic_key,
    draws_key,
    monthly_frame,
    patients_only,
    replicate_draws,
    run_clinic,
    run_clinic_shared,
    run_clinics,
    treatment_stop,
)
from sim.engine.endpoints import EndpointResult, analyze_endpoints, draw_illness_death_paths
from sim.engine.patient_table import add_endpoint_columns, add_look_columns, patient_table
from sim.engine.primary import pfs_at_cut, primary_cohort
from sim.engine.rerandomization import imbalance_columns, rerandomization_columns
from sim.engine.trial import ARMS, Cohort, TrialModel
from sim.scenario import DAYS_PER_MONTH
from sim.stats.priors import control_median_prior, hazard_ratio_prior

if TYPE_CHECKING:
    from sim.engine.looks import Sequential

# The names callers import from here, wherever they now live.
__all__ = [
    "ARMS",
    "CHUNK_SIZE",
    "PRIOR_STREAM",
    "CLINIC_BLIND",
    "MILESTONES",
    "STAGES",
    "TALLY_BATCH",
    "ChunkResult",
    "Cohort",
    "TrialModel",
    "chunk_streams",
    "clinic_key",
    "draws_key",
    "monthly_frame",
    "patients_only",
    "replicate_draws",
    "run_clinic_shared",
    "simulate_chunk",
    "simulate_chunks",
    "treatment_stop",
]

STAGES = (
    "enrollment",
    "randomization",
    "outcomes",
    "clinic",
    "survival",
    "response",
    "local_control",
    "safety",
)
# The design prior's stream: spawned after STAGES (child len(STAGES) of the chunk's
# SeedSequence), so that adding a prior leaves every other stream, hence every other draw
# of a replicate, as it was; a run without a prior never reads it.
PRIOR_STREAM = "prior"
# Streams of later features, spawned after the prior's for the same reason: patients'
# covariates (randomization.covariates), the re-randomization test's fresh coins, and who
# starts a subsequent therapy after progression.
LATER_STREAMS = ("covariates", "rerandomization", "subsequent_therapy")
CHUNK_SIZE = 500  # replicates per chunk; part of the stream layout, so fixed
MILESTONES = (
    "first_patient_in",
    "randomized_25pct",
    "randomized_50pct",
    "randomized_75pct",
    "randomized_100pct",
    "target_events",
    "data_cut",
    "final_analysis",
)
CUT_REASONS = np.asarray(["events", "date", "all_followed", "interim"])  # by cut_reason code


def chunk_streams(seed: int, chunk: int) -> dict[str, np.random.Generator]:
    """One independent generator per pipeline stage for chunk `chunk` of a run, and the
    design prior's (`PRIOR_STREAM`, after them), then `LATER_STREAMS`."""
    names = (*STAGES, PRIOR_STREAM, *LATER_STREAMS)
    children = np.random.SeedSequence(seed, spawn_key=(chunk,)).spawn(len(names))
    return {name: np.random.default_rng(ss) for name, ss in zip(names, children, strict=True)}


def draw_truth(model: TrialModel, rng: np.random.Generator, n_reps: int) -> TrueEffect | None:
    """Each replicate's true hazard ratio and control median drawn from the design prior
    with `rng` (the prior's stream): n_reps draws for the hazard ratio first, then n_reps
    for the median (None without a prior)."""
    prior = model.scenario.prior
    if prior is None:
        return None
    hr, median = hazard_ratio_prior(prior), control_median_prior(prior)
    return TrueEffect(
        hazard_ratio=None if hr is None else hr.draw(rng, n_reps),
        control_median_months=None if median is None else median.draw(rng, n_reps),
    )


@dataclass(frozen=True)
class ChunkResult:
    """One chunk's rows: per replicate, per kept patient, and additive tables.

    `sums` are counts summed over the chunk's replicates (key columns + a `count` column);
    the run adds them over chunks and divides by the replicate count.
    """

    replicates: pd.DataFrame
    patients: pd.DataFrame | None
    sums: dict[str, pd.DataFrame]
    monthly: pd.DataFrame | None = None


@dataclass(frozen=True)
class TrialToClinic:
    """A chunk's trial up to the clinic: its streams, patients and outcomes, the replicates
    table so far, and the day each replicate's clinic is counted to (`simulate_chunk`)."""

    model: TrialModel
    rng: dict[str, np.random.Generator]
    first_rep: int
    n_reps: int
    cohort: Cohort
    cut: CutData
    endpoints: EndpointResult
    looks: Sequential | None
    replicates: pd.DataFrame
    horizon: np.ndarray  # (R,) clock day the clinic of each replicate is counted to
    enrolled_until: np.ndarray | None  # (R,) after an early stop: last day treated patients

    def to_clinic(self, keep_patients: int) -> ClinicInputs:
        """What the clinic needs of this trial; replicates numbered below `keep_patients`
        keep their patient tables."""
        return ClinicInputs(
            self.model,
            self.cohort,
            self.horizon,
            self.first_rep,
            keep_patients,
            self.enrolled_until,
        )


def simulate_chunk(
    model: TrialModel,
    seed: int,
    chunk: int,
    first_rep: int,
    n_reps: int,
    *,
    keep_patients: int = 0,
) -> ChunkResult:
    """Simulate replicates first_rep .. first_rep + n_reps - 1 (chunk `chunk`); those
    numbered below `keep_patients` keep their patient tables."""
    trial = trial_to_clinic(model, seed, chunk, first_rep, n_reps)
    clinic = run_clinic(trial.to_clinic(keep_patients), trial.rng)
    return finish_chunk(trial, clinic, keep_patients)


def simulate_chunks(
    models: Sequence[TrialModel],
    seed: int,
    chunk: int,
    first_rep: int,
    n_reps: int,
    *,
    keep_patients: int = 0,
) -> list[ChunkResult]:
    """`simulate_chunk` of each of `models`, the same chunk; when some share a clinic
    (`clinic_key`) and their trials bring it the same patients, its SimPy runs are shared:
    one run per replicate, counted at each model's horizon (`run_clinic_shared`); when all
    draw the same clinic numbers (`draws_key`), those are drawn once (`run_clinics`). The
    same results as one `simulate_chunk` per model."""
    trials = [trial_to_clinic(model, seed, chunk, first_rep, n_reps) for model in models]
    inputs = [trial.to_clinic(keep_patients) for trial in trials]
    clinics = run_clinics(inputs, [trial.rng for trial in trials])
    return [
        finish_chunk(trial, clinic, keep_patients)
        for trial, clinic in zip(trials, clinics, strict=True)
    ]


def draw_cohort(model: TrialModel, rng: dict[str, np.random.Generator], n_reps: int) -> Cohort:
    """The chunk's patients, from their enrollment to what follow-up sees of them, each
    stage from its stream of `rng`; a trial under way (`TrialModel.continuation`) continues its
    observed patients."""
    sc = model.scenario
    if model.continuation is None:
        enrolled = enroll_patients(
            sc.enrollment,
            sc.trial.sample_size,
            model.stratum_p,
            model.calendar,
            n_reps,
            rng["enrollment"],
        )
        allocation = allocate_arms(
            sc.randomization,
            enrolled.stratum,
            enrolled.site,
            len(model.sites),
            rng["randomization"],
            rng["covariates"],
        )
        arm = allocation.arm
        truth = draw_truth(model, rng[PRIOR_STREAM], n_reps)
        latent = draw_latent_outcomes(sc, arm, rng["outcomes"], enrolled.stratum, truth)
        scans = model.schedule.for_patients(enrolled.rand_day)  # the scans actually done
        illness_death, latent = draw_illness_death_paths(
            sc, arm, latent, scans, rng["survival"], rng["subsequent_therapy"]
        )
        observed = observe_outcomes(latent, scans)
        return Cohort(
            enrolled, arm, latent, observed, scans, illness_death, truth, allocation.factors
        )
    from sim.engine.continuation import continue_trial

    # A forecast continues PFS and dropout from the trial's data; the --observed table
    # has no survival after progression, so there are no illness-death paths (no OS).
    enrolled, arm, latent, observed, truth = continue_trial(model, model.continuation, n_reps, rng)
    scans = model.schedule.for_patients(enrolled.rand_day)
    return Cohort(enrolled, arm, latent, observed, scans, truth=truth)


def trial_to_clinic(
    model: TrialModel, seed: int, chunk: int, first_rep: int, n_reps: int
) -> TrialToClinic:
    """Replicates first_rep .. first_rep + n_reps - 1 of chunk `chunk`, from the first
    screening to the final analysis, all but the clinic."""
    sc = model.scenario
    rng = chunk_streams(seed, chunk)
    cohort = draw_cohort(model, rng, n_reps)
    primary = primary_cohort(model, cohort)  # as the primary endpoint's analysis sees it
    trigger = None
    if model.rules is None:
        cut = cut_at_analysis(
            sc.analysis, primary.rand_day, primary.observed, primary.scans, model.date_cut_day
        )
    else:
        cut, trigger = cut_by_rules(
            model.rules,
            sc.analysis,
            primary.rand_day,
            primary.observed,
            primary.scans,
            primary.stratum,
            model.date_cut_day,
        )
    looks = None
    if model.plan is not None:
        # imported here: the looks' rules and predictive probabilities only where there are
        # looks (a run without them does not import or compile them)
        from sim.engine.look_rules import stop_enrollment
        from sim.engine.looks import run_looks

        looks = run_looks(model, primary, cut)
        cut = looks.cut
        cohort = stop_enrollment(cohort, looks)  # nobody screened after an early stop
        primary = primary_cohort(model, cohort)
    stats = analyze_cut(model, primary, cut)
    if looks is not None:
        stats["reject"] = looks.decisions.reject
    stats.update(
        rerandomization_columns(model, primary, cut, stats["z_stratified"], rng["rerandomization"])
    )
    pfs_cut = pfs_at_cut(model, cohort, cut)
    endpoints = analyze_endpoints(model, rng, cohort, pfs_cut)
    at_completion = analyze_at_completion(model, primary)
    days = milestone_days(model, cohort.enrolled, cut)
    if looks is not None:  # a trial stopped early randomizes nobody after the stop
        for name in days:
            if name.startswith("randomized_"):
                days[name] = np.where(days[name] <= looks.enrolled_until, days[name], np.nan)
    table = {
        "replicate": np.arange(first_rep, first_rep + n_reps),
        "seed": np.full(n_reps, seed),
        "chunk": np.full(n_reps, chunk),
        "row_in_chunk": np.arange(n_reps),
        **{f"{name}_date": model.calendar.to_datetime64(value) for name, value in days.items()},
        # the analysis that concluded the trial: the final analysis, or the interim look
        # that stopped it (final_analysis_date says the same, a name kept for old readers)
        "concluded_date": model.calendar.to_datetime64(days["final_analysis"]),
        "lpi_months": days["randomized_100pct"] / DAYS_PER_MONTH,
        "analysis_months": days["final_analysis"] / DAYS_PER_MONTH,
        "target_events_months": days["target_events"] / DAYS_PER_MONTH,
        "cut_reason": CUT_REASONS[cut.cut_reason],
        **conduct_columns(model, primary, cut),
        **scan_deviations(model, cohort, pfs_cut),
        **stats,
        **endpoints.columns,
        **at_completion,
        **effect_columns(model, cohort),
        **imbalance_columns(model, cohort),
        **trigger_columns(model, cut, trigger, days),
    }
    horizon = days["final_analysis"]
    enrolled_until = None
    if looks is not None:
        table.update(looks.columns)
        table.update(look_trigger_columns(model, looks))
        # treatment goes on per protocol after a stop: the clinic runs to the day the final
        # look would have come, with the patients randomized up to the stop
        horizon = np.maximum(looks.final_analysis_day, days["final_analysis"])
        enrolled_until = looks.enrolled_until
    return TrialToClinic(
        model,
        rng,
        first_rep,
        n_reps,
        without_screening_log(cohort),
        pfs_cut,
        endpoints,
        looks,
        pd.DataFrame(table),
        horizon,
        enrolled_until,
    )


def without_screening_log(cohort: Cohort) -> Cohort:
    """`cohort` without its screening log (`EnrolledPatients.log`: several arrays over each
    replicate's screenings), read only by an early stop's recount (`stop_enrollment`, in
    `trial_to_clinic`): the clinic and the chunk's tables do without it."""
    if cohort.enrolled.log is None:
        return cohort
    return dataclasses.replace(cohort, enrolled=dataclasses.replace(cohort.enrolled, log=None))


def effect_columns(model: TrialModel, cohort: Cohort) -> dict[str, np.ndarray]:
    """A run's `truth_columns`, and a blinded forecast's with a design prior on the HR (its
    continuations' HR drawn from that prior: assurance); other forecasts their own
    (`sim.engine.continuation.forecast_columns`: `cohort.truth` is each continuation's
    hazard ratio, from the posterior)."""
    if model.continuation is None or model.continuation.factor_curve is not None:
        return truth_columns(model, cohort)
    from sim.engine.continuation import forecast_columns

    return forecast_columns(model, cohort)


def trigger_columns(
    model: TrialModel, cut: CutData, trigger: np.ndarray | None, days: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """With analysis triggers: `analysis_trigger`, the rule that set the data cut of the
    analysis that concluded each trial (`interim`: a look stopped it), and with DMC meetings
    `dmc_wait_days`, from the data ready (cut + lag) to the meeting; nothing otherwise."""
    if trigger is None or model.rules is None:
        return {}
    label = np.where(cut.cut_reason == CUT_INTERIM, "interim", TRIGGERS[trigger])
    columns = {"analysis_trigger": label}
    if model.rules.meetings is not None:
        ready = cut.cut_day + model.scenario.analysis.lag_days
        columns["dmc_wait_days"] = days["final_analysis"] - ready
    return columns


def look_trigger_columns(model: TrialModel, looks: Sequential) -> dict[str, np.ndarray]:
    """With analysis triggers, `look<k>_trigger` of each interim look the trial held: the
    rule that set its data cut (empty where it was not held); nothing otherwise."""
    if model.rules is None:
        return {}
    codes = looks.trigger_codes  # as the looks were cut: on the primary endpoint's events
    return {
        f"look{k + 1}_trigger": np.where(
            pd.isna(looks.columns[f"look{k + 1}_date"]), "", TRIGGERS[codes[:, k]]
        )
        for k in range(codes.shape[1])
    }


def truth_columns(model: TrialModel, cohort: Cohort) -> dict[str, np.ndarray]:
    """Per replicate, the truth drawn from the design prior: `true_hr`, `truly_effective`
    (true_hr < prior.no_benefit_hr) and `true_control_median_months`; nothing without one."""
    truth, prior = cohort.truth, model.scenario.prior
    if truth is None or prior is None:
        return {}
    columns = {}
    if truth.hazard_ratio is not None:
        columns["true_hr"] = truth.hazard_ratio
        columns["truly_effective"] = truth.hazard_ratio < prior.no_benefit_hr
    if truth.control_median_months is not None:
        columns["true_control_median_months"] = truth.control_median_months
    n_reps = len(next(iter(columns.values())))
    closed = model.prior_closed_form
    columns.update({name: np.full(n_reps, value) for name, value in closed.items()})
    return columns


def milestone_days(
    model: TrialModel, enrolled: EnrolledPatients, cut: CutData
) -> dict[str, np.ndarray]:
    """Clock day of each of MILESTONES per replicate (nan: never reached)."""
    n = model.scenario.trial.sample_size
    rand = enrolled.rand_day
    quarter = {q: rand[:, max(int(np.ceil(n * q / 100)) - 1, 0)] for q in (25, 50, 75, 100)}
    return {
        "first_patient_in": enrolled.first_screen_day.astype(float),
        **{f"randomized_{q}pct": d.astype(float) for q, d in quarter.items()},
        "target_events": cut.target_day,
        "data_cut": cut.cut_day,
        "final_analysis": model.analysis_day(cut.cut_day),
    }


def conduct_columns(model: TrialModel, cohort: Cohort, cut: CutData) -> dict[str, np.ndarray]:
    """Per replicate: screening, the analysis data set's patients and events, withdrawals
    and scans out of window by the cut."""
    enrolled, arm, observed = cohort.enrolled, cohort.arm, cohort.observed
    return {
        "n_screened": enrolled.n_screened,
        "screening_wait_days_mean": enrolled.screening_wait_days_mean,
        "n_screen_failed": enrolled.n_screen_failed,
        "n_in_analysis": cut.valid.sum(axis=1),
        "events": cut.event.sum(axis=1),
        "events_control": (cut.event & (arm == 0)).sum(axis=1),
        "events_experimental": (cut.event & (arm == 1)).sum(axis=1),
        "deaths": (cut.event & observed.is_death).sum(axis=1),
        "withdrawals": (
            (enrolled.rand_day + observed.withdraw_day <= cut.cut_day[:, None]) & cut.valid
        ).sum(axis=1),
    }


def scan_deviations(model: TrialModel, cohort: Cohort, cut: CutData) -> dict[str, np.ndarray]:
    """Per arm, scans done out of the visit window (`assessments.window_days`) up to the event
    seen, the withdrawal or the data cut; nothing without a window."""
    window = model.scenario.assessments.window_days
    if window is None or model.schedule.day_map is None:
        return {}
    rand, observed = cohort.rand_day, cohort.observed
    until = np.minimum(
        np.minimum(observed.event_day, observed.withdraw_day), cut.cut_day[:, None] - rand
    )
    late = scans_out_of_window(model.schedule, window, rand, until)
    return {
        f"scans_out_of_window_{name}": (late * (cohort.arm == a)).sum(axis=1)
        for a, name in enumerate(ARMS)
    }


def finish_chunk(trial: TrialToClinic, clinic: ClinicChunk, keep_patients: int) -> ChunkResult:
    """The chunk's tables: the trial's replicates with its clinic's, the kept patients."""
    model, first_rep, n_reps = trial.model, trial.first_rep, trial.n_reps
    cohort, looks, replicates = trial.cohort, trial.looks, trial.replicates
    if clinic.rows is not None:
        replicates = pd.concat([replicates, clinic.rows], axis=1)
    if model.continuation is not None:  # a forecast tabulates the months from the as-of date on
        from sim.engine.continuation import months_from

        clinic.monthly = months_from(clinic.monthly, model.calendar, model.continuation.as_of_day)
    patients = None
    n_keep = max(0, min(keep_patients - first_rep, n_reps))
    if n_keep:
        patients = patient_table(model, cohort, trial.cut, first_rep, n_keep)
        patients = add_endpoint_columns(model, patients, cohort.rand_day, trial.endpoints, n_keep)
        if clinic.patients:
            patients = patients.merge(
                pd.concat(clinic.patients, ignore_index=True),
                on=["replicate", "patient"],
                how="left",
            )
    if patients is not None and looks is not None:  # randomized by the stop (all if none)
        until = looks.enrolled_until[:n_keep]
        patients["enrolled"] = (cohort.rand_day[:n_keep] <= until[:, None]).ravel()
        patients = add_look_columns(model, patients, cohort, looks, trial.endpoints, n_keep)
    if clinic.monthly is not None:
        clinic.monthly.insert(0, "replicate", np.arange(first_rep, first_rep + n_reps))
    return ChunkResult(
        replicates,
        patients,
        {"screening": cohort.enrolled.screening, **clinic.sums},
        clinic.monthly,
    )
