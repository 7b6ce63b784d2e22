"""One chunk of replicates of the trial, from the first screening to the final analysis.

The pipeline, in the order the trial runs: enrollment -> randomization -> latent outcomes
-> what the assessments see -> data cut -> analysis (all vectorized over the chunk), then,
per replicate, the SimPy model of the clinic (treatment cycles, Quad Shot RT) up to the final
analysis, when the scenario describes treatment.

Random streams: chunk c of a run with seed s draws from SeedSequence(s, spawn_key=(c,)),
split into one child stream per pipeline stage, so the same seed gives the same tables
whatever the number of workers, and two scenarios differing only in, say, the hazard ratio
share their enrollment and randomization draws (common random numbers).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.conduct.assessments import ScanSchedule, observe_outcomes, scans_out_of_window
from sim.conduct.calendar import StudyCalendar, month_grid
from sim.conduct.datacut import (
    CUT_INTERIM,
    CutData,
    LookTrigger,
    cut_at_analysis,
    cut_data,
    look_cut_days,
)
from sim.conduct.enrollment import enroll_patients
from sim.conduct.outcomes import draw_latent_outcomes
from sim.conduct.randomization import randomize_by_block
from sim.engine.endpoints import analyze_endpoints, draw_history
from sim.scenario import DAYS_PER_MONTH, Scenario
from sim.stats import analysis

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
CHUNK_SIZE = 500  # replicates per chunk; part of the stream layout, so fixed
TALLY_BATCH = 50  # replicates a worker's clinic holds in records before tallying them
ARMS = ("control", "experimental")
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


def chunk_streams(seed: int, chunk: int) -> dict[str, np.random.Generator]:
    """One independent generator per pipeline stage for chunk `chunk` of a run."""
    children = np.random.SeedSequence(seed, spawn_key=(chunk,)).spawn(len(STAGES))
    return {name: np.random.default_rng(ss) for name, ss in zip(STAGES, children, strict=True)}


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
class TrialModel:
    """Scenario-derived constants, built once per run and shared by all chunks."""

    scenario: Scenario
    calendar: StudyCalendar
    schedule: ScanSchedule
    stratum_p: np.ndarray
    date_cut_day: float
    sites: tuple
    month_starts: np.ndarray  # clock day each calendar month starts (first: the start day)
    month_labels: tuple[str, ...]  # YYYY-MM of each month of the horizon
    # A trial under way (sim.engine.history.TrialHistory): replicates continue its observed
    # patients from the as-of day instead of starting from the first screening.
    history: Any = None
    plan: object | None = None  # sim.stats.monitoring.SequentialPlan with analysis.looks
    triggers: tuple[LookTrigger, ...] = ()  # the interim looks' data-cut triggers

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> TrialModel:
        calendar = StudyCalendar.from_scenario(scenario)
        cut_date = scenario.analysis.cut_date
        return cls(
            scenario=scenario,
            calendar=calendar,
            schedule=ScanSchedule.from_assessments(scenario.assessments, calendar),
            stratum_p=np.asarray(list(scenario.randomization.strata.values())),
            date_cut_day=float(calendar.day_of(cut_date)) if cut_date else np.inf,
            sites=scenario.enrollment.site_list(scenario.trial.start_date),
            **month_grid(scenario),
            **sequential_model(scenario, calendar),
        )

    def month_of(self, day: np.ndarray | float) -> np.ndarray:
        """Index of the calendar month of clock days (-1 before the start; past the end: n)."""
        return np.searchsorted(self.month_starts, day, side="right") - 1


def sequential_model(scenario: Scenario, calendar: StudyCalendar) -> dict:
    """The monitoring plan and interim triggers of a scenario with analysis.looks ({} if
    it has one look in the old form)."""
    a = scenario.analysis
    if not a.looks:
        return {}
    from sim.stats.boundaries import planned_events
    from sim.stats.monitoring import SequentialPlan

    events = planned_events(scenario)
    final = events[-1]

    def day(date) -> float:
        return float(calendar.day_of(date))

    triggers = []
    for look in a.looks[:-1]:
        count = look.events
        if look.information is not None:
            count = max(1, math.ceil(look.information * final - 1e-9))
        triggers.append(
            LookTrigger(
                events=count,
                day=day(look.date) if look.date is not None else None,
                not_before=day(look.not_before) if look.not_before is not None else -np.inf,
                not_after=day(look.not_after) if look.not_after is not None else np.inf,
            )
        )
    allocation = scenario.randomization.ratio[1] / sum(scenario.randomization.ratio)
    return {
        "plan": SequentialPlan.from_analysis(a, events, allocation),
        "triggers": tuple(triggers),
    }


def primary_z(model: TrialModel, time, event, valid, arm, stratum) -> np.ndarray:
    """The primary test's z of each replicate's data set (z < 0: benefit)."""
    a = model.scenario.analysis
    risk = analysis.risk_sets(time, event, arm, stratum if a.stratified else None, valid=valid)
    return analysis.logrank_from_risk_sets(risk).z


@dataclass(frozen=True)
class Sequential:
    """The looks of a chunk: the data set of the analysis that ended each trial, and the
    per-look columns of the replicates table."""

    cut: CutData
    columns: dict
    decisions: object
    final_analysis_day: np.ndarray  # (R,) the final look's analysis day, held or not
    enrolled_until: np.ndarray  # (R,) last day a patient may be randomized (inf: all)


def run_looks(
    model: TrialModel, enrolled, arm, observed, final_cut: CutData, scans=None
) -> Sequential:
    """Each look: cut at its trigger, the primary test, the decision; the trial's data set
    at the look that ended it. Enrollment ends at the analysis date of an early stop."""
    from sim.stats.monitoring import monitor

    sc = model.scenario
    lag = sc.analysis.lag_days
    rand, stratum = enrolled.rand_day, enrolled.stratum
    scans = scans if scans is not None else model.schedule.for_patients(rand)  # scans done
    days, held = look_cut_days(model.triggers, rand, observed, final_cut.cut_day)
    n_reps, k_max = days.shape
    z = np.full((n_reps, k_max), np.nan)
    events = np.zeros((n_reps, k_max), dtype=np.int64)
    for k in range(k_max):
        day = (
            final_cut.cut_day
            if k == k_max - 1
            else np.where(held[:, k], days[:, k], final_cut.cut_day)
        )
        if k == k_max - 1:
            time, event, valid = final_cut.time, final_cut.event, final_cut.valid
        else:
            time, event, valid = cut_data(rand, observed, scans, day)
        z[:, k] = np.where(held[:, k], -primary_z(model, time, event, valid, arm, stratum), np.nan)
        events[:, k] = np.where(held[:, k], event.sum(axis=1), 0)
    decisions = monitor(model.plan, z, events, held)
    stop = decisions.stop_look
    early = stop < k_max - 1
    stop_day = days[np.arange(n_reps), stop]
    if early.any():
        time, event, valid = cut_data(rand, observed, scans, stop_day)
        cut = CutData(
            time,
            event,
            valid,
            stop_day,
            np.where(early, np.nan, final_cut.target_day),
            np.where(early, CUT_INTERIM, final_cut.cut_reason),
        )
    else:
        cut = final_cut
    in_trial = held & (np.arange(k_max)[None, :] <= stop[:, None])
    columns: dict[str, np.ndarray] = {}
    for k in range(k_max):
        analysis_day = np.where(in_trial[:, k], days[:, k] + lag, np.nan)
        columns[f"look{k + 1}_date"] = model.calendar.to_datetime64(analysis_day)
        columns[f"look{k + 1}_months"] = analysis_day / DAYS_PER_MONTH
        columns[f"look{k + 1}_events"] = np.where(in_trial[:, k], events[:, k], np.nan)
        columns[f"look{k + 1}_z_benefit"] = np.where(in_trial[:, k], z[:, k], np.nan)
        columns[f"look{k + 1}_efficacy_bound"] = decisions.efficacy_z[:, k]
        columns[f"look{k + 1}_futility_bound"] = decisions.futility_z[:, k]
        columns[f"look{k + 1}_decision"] = decisions.decision[:, k]
    columns.update(
        stop_look=stop + 1,
        stop_reason=decisions.stop_reason,
        early_stop=early,
        reject_ignoring_futility=decisions.reject_ignoring_futility,
        stop_look_ignoring_futility=decisions.stop_look_ignoring_futility + 1,
        n_randomized=np.where(early[:, None], rand <= (stop_day + lag)[:, None], True).sum(axis=1),
    )
    return Sequential(
        cut, columns, decisions, final_cut.cut_day + lag, np.where(early, stop_day + lag, np.inf)
    )


def milestone_days(model: TrialModel, enrolled, cut) -> dict[str, np.ndarray]:
    n = model.scenario.trial.sample_size
    rand = enrolled.rand_day
    quarter = {q: rand[:, max(int(np.ceil(n * q / 100)) - 1, 0)] for q in (25, 50, 75, 100)}
    return {
        "first_patient_in": enrolled.first_screen_day.astype(float),
        **{f"randomized_{q}pct": d.astype(float) for q, d in quarter.items()},
        "target_events": cut.target_day,
        "data_cut": cut.cut_day,
        "final_analysis": cut.cut_day + model.scenario.analysis.lag_days,
    }


def analyze_cut(model: TrialModel, cut, arm: np.ndarray, stratum: np.ndarray) -> dict:
    """Primary and supportive analyses of every replicate's cut data set (vectorized)."""
    a = model.scenario.analysis
    risk_strat = analysis.risk_sets(cut.time, cut.event, arm, stratum, valid=cut.valid)
    risk_unstrat = analysis.risk_sets(cut.time, cut.event, arm, None, valid=cut.valid)
    strat = analysis.logrank_from_risk_sets(risk_strat)
    unstrat = analysis.logrank_from_risk_sets(risk_unstrat)
    primary = strat if a.stratified else unstrat
    cox = analysis.cox_from_risk_sets(risk_strat if a.stratified else risk_unstrat, a.ties)
    medians = analysis.km_median_from_risk_sets(risk_unstrat)  # km_median, its sort reused
    tests = test_columns(model, risk_strat if a.stratified else risk_unstrat, primary)
    if a.tests[0].kind != "logrank":  # the primary test is another one
        primary = tests.pop("primary")
    tests.pop("primary", None)
    return {
        "z": primary.z,
        "p_value": pick_p(primary, a.sides),
        "reject": decide(primary, a.alpha, a.sides),
        "z_stratified": strat.z,
        "z_unstratified": unstrat.z,
        "reject_stratified": decide(strat, a.alpha, a.sides),
        "reject_unstratified": decide(unstrat, a.alpha, a.sides),
        "hazard_ratio": cox.hr,
        "hr_ci_low": cox.ci_low,
        "hr_ci_high": cox.ci_high,
        "median_pfs_control_months": medians[:, 0] / DAYS_PER_MONTH,
        "median_pfs_experimental_months": medians[:, 1] / DAYS_PER_MONTH,
        **tests,
    }


def analyze_at_completion(model: TrialModel, enrolled, observed, arm: np.ndarray, scans) -> dict:
    """Events seen by the registered completion date, and the primary test's decision if the
    data were cut on that date (whatever cut the scenario's analysis uses)."""
    sc = model.scenario
    a = sc.analysis
    day = float(model.calendar.day_of(sc.trial.completion_date))
    n_reps = arm.shape[0]
    time, event, valid = cut_data(enrolled.rand_day, observed, scans, np.full(n_reps, day))
    risk = analysis.risk_sets(
        time, event, arm, enrolled.stratum if a.stratified else None, valid=valid
    )
    test = analysis.logrank_from_risk_sets(risk)
    if a.tests[0].kind != "logrank":  # the primary test is another one (analysis.test)
        from sim.stats import weighted

        test = weighted.run_test(
            a.tests[0], risk, DAYS_PER_MONTH, sides=(a.sides,), precise_near=(a.alpha,)
        )
    return {
        "events_at_completion": event.sum(axis=1),
        "reject_at_completion": decide(test, a.alpha, a.sides),
    }


def test_columns(model: TrialModel, rs, logrank) -> dict:
    """Every test of analysis.tests beyond the log-rank columns (stratified as the primary
    analysis): estimate_<name>, z_<name>, p_<name>, reject_<name>; under "primary", the
    primary test's result. Nothing when the tests are the log-rank alone."""
    a = model.scenario.analysis
    out: dict = {}
    if len(a.tests) == 1 and a.tests[0].kind == "logrank":
        return out
    from sim.stats import weighted

    for i, spec in enumerate(a.tests):
        result = weighted.run_test(
            spec, rs, DAYS_PER_MONTH, sides=(a.sides,), precise_near=(a.alpha,), logrank=logrank
        )
        if i == 0:
            out["primary"] = result
        out[f"estimate_{spec.name}"] = result.estimate
        out[f"z_{spec.name}"] = result.z
        out[f"p_{spec.name}"] = pick_p(result, a.sides)
        out[f"reject_{spec.name}"] = decide(result, a.alpha, a.sides)
    return out


def pick_p(test, sides: int) -> np.ndarray:
    return test.p_one if sides == 1 else test.p_two


def decide(test, alpha: float, sides: int) -> np.ndarray:
    """Reject H0 at `alpha`; one-sided rejects only in the direction of benefit (Z < 0)."""
    p = pick_p(test, sides)
    return np.where(np.isfinite(p), p < alpha, False)


def simulate_chunk(
    model: TrialModel,
    seed: int,
    chunk: int,
    first_rep: int,
    n_reps: int,
    keep_patients: int = 0,
) -> ChunkResult:
    """Simulate replicates first_rep .. first_rep + n_reps - 1 (chunk `chunk`)."""
    trial = trial_to_clinic(model, seed, chunk, first_rep, n_reps)
    return finish_chunk(trial, trial.run_clinic(keep_patients), keep_patients)


def simulate_chunks(
    models: Sequence[TrialModel],
    seed: int,
    chunk: int,
    first_rep: int,
    n_reps: int,
    keep_patients: int = 0,
) -> list[ChunkResult]:
    """`simulate_chunk` of each of `models`, the same chunk; when they share a clinic
    (`clinic_key`) and their trials bring it the same patients, its SimPy runs are shared:
    one run per replicate, counted at each model's horizon (`run_clinic_shared`). The same
    results as one `simulate_chunk` per model."""
    trials = [trial_to_clinic(model, seed, chunk, first_rep, n_reps) for model in models]
    if len(trials) > 1 and same_clinic(trials):
        clinics = run_clinic_shared(trials, keep_patients)
    else:
        clinics = [trial.run_clinic(keep_patients) for trial in trials]
    return [
        finish_chunk(trial, clinic, keep_patients)
        for trial, clinic in zip(trials, clinics, strict=True)
    ]


CLINIC_BLIND = (
    "cut",
    "event_target",
    "lag_days",
    "alpha",
    "sides",
    "target_power",
    "stratified",
    "ties",
    "test",
    "supportive_tests",
)  # read by no clinic


def clinic_key(model: TrialModel) -> str | None:
    """What the clinic of a model's replicates depends on but the horizon: two models of one
    key give the same clinic runs (the same streams and patients), counted up to their own
    final analyses. None when nothing is to share: no treatment, interim looks (a stop
    changes who is treated) or a trial under way."""
    sc = model.scenario
    if sc.treatment is None or model.plan is not None or model.history is not None:
        return None
    from sim.scenario import scenario_to_dict

    data = scenario_to_dict(sc)
    analysis = data.get("analysis") or {}
    data["analysis"] = {k: v for k, v in analysis.items() if k not in CLINIC_BLIND}
    return repr(data)


def same_clinic(trials: list[TrialToClinic]) -> bool:
    """Whether the trials bring their clinic the same patients (a check of `clinic_key`)."""
    first = trials[0]
    keys = {clinic_key(trial.model) for trial in trials}
    return (
        None not in keys
        and len(keys) == 1
        and all(
            np.array_equal(t.enrolled.rand_day, first.enrolled.rand_day)
            and np.array_equal(t.arm, first.arm)
            and np.array_equal(t.enrolled.stratum, first.enrolled.stratum)
            and np.array_equal(t.observed.event_day, first.observed.event_day)
            and np.array_equal(t.observed.withdraw_day, first.observed.withdraw_day)
            and np.array_equal(t.observed.is_death, first.observed.is_death)
            for t in trials[1:]
        )
    )


@dataclass
class TrialToClinic:
    """A chunk's trial up to the clinic: its streams, patients and outcomes, the replicates
    table so far, and the day each replicate's clinic is counted to (`simulate_chunk`)."""

    model: TrialModel
    rng: dict[str, np.random.Generator]
    first_rep: int
    n_reps: int
    enrolled: Any
    arm: np.ndarray
    latent: Any
    observed: Any
    cut: CutData
    endpoints: Any
    looks: Sequential | None
    replicates: pd.DataFrame
    horizon: np.ndarray
    enrolled_until: np.ndarray | None

    def run_clinic(self, keep_patients: int) -> ClinicChunk:
        return run_clinic(
            self.model,
            self.rng["clinic"],
            self.enrolled,
            self.arm,
            self.observed,
            self.horizon,
            self.first_rep,
            keep_patients,
            self.rng["safety"],
            self.enrolled_until,
        )


def trial_to_clinic(
    model: TrialModel, seed: int, chunk: int, first_rep: int, n_reps: int
) -> TrialToClinic:
    """Replicates first_rep .. first_rep + n_reps - 1 of chunk `chunk`, from the first
    screening to the final analysis, all but the clinic."""
    sc = model.scenario
    rng = chunk_streams(seed, chunk)
    n = sc.trial.sample_size
    if model.history is None:
        enrolled = enroll_patients(
            sc.enrollment, n, model.stratum_p, model.calendar, n_reps, rng["enrollment"]
        )
        arm = randomize_by_block(enrolled.stratum, sc.randomization, rng["randomization"])
        latent = draw_latent_outcomes(sc, arm, rng["outcomes"], enrolled.stratum)
        scans = model.schedule.for_patients(enrolled.rand_day)  # the scans actually done
        history, latent = draw_history(sc, arm, latent, scans, rng["survival"])
        observed = observe_outcomes(latent, scans)
    else:
        from sim.engine.history import continue_trial

        # A forecast continues PFS and dropout from the trial's data; the --observed table
        # has no survival after progression, so there is no illness-death history (no OS).
        enrolled, arm, latent, observed = continue_trial(model, model.history, n_reps, rng)
        scans = model.schedule.for_patients(enrolled.rand_day)
        history = None
    cut = cut_at_analysis(sc.analysis, enrolled.rand_day, observed, scans, model.date_cut_day)
    looks = None
    if model.plan is not None:
        looks = run_looks(model, enrolled, arm, observed, cut, scans)
        cut = looks.cut
    stats = analyze_cut(model, cut, arm, enrolled.stratum)
    if looks is not None:
        stats["reject"] = looks.decisions.reject
    endpoints = analyze_endpoints(model, rng, enrolled, arm, history, latent, observed, cut)
    at_completion = analyze_at_completion(model, enrolled, observed, arm, scans)
    reps = np.arange(first_rep, first_rep + n_reps)
    table = {
        "replicate": reps,
        "seed": np.full(n_reps, seed),
        "chunk": np.full(n_reps, chunk),
        "row_in_chunk": np.arange(n_reps),
    }
    days = milestone_days(model, enrolled, cut)
    if looks is not None:  # a trial stopped early randomizes nobody after the stop
        for name in days:
            if name.startswith("randomized_"):
                days[name] = np.where(days[name] <= looks.enrolled_until, days[name], np.nan)
    for name, value in days.items():
        table[f"{name}_date"] = model.calendar.to_datetime64(value)
    table.update(
        lpi_months=days["randomized_100pct"] / DAYS_PER_MONTH,
        analysis_months=days["final_analysis"] / DAYS_PER_MONTH,
        target_events_months=days["target_events"] / DAYS_PER_MONTH,
        cut_reason=np.asarray(["events", "date", "all_followed", "interim"])[cut.cut_reason],
        n_screened=enrolled.n_screened,
        screening_wait_days_mean=enrolled.screening_wait_days_mean,
        n_screen_failed=enrolled.n_screen_failed,
        n_in_analysis=cut.valid.sum(axis=1),
        events=cut.event.sum(axis=1),
        events_control=(cut.event & (arm == 0)).sum(axis=1),
        events_experimental=(cut.event & (arm == 1)).sum(axis=1),
        deaths=(cut.event & observed.is_death).sum(axis=1),
        withdrawals=(
            (enrolled.rand_day + observed.withdraw_day <= cut.cut_day[:, None]) & cut.valid
        ).sum(axis=1),
        **scan_deviations(model, enrolled.rand_day, observed, cut, arm),
        **stats,
        **endpoints.columns,
        **at_completion,
    )
    horizon = days["final_analysis"]
    enrolled_until = None
    if looks is not None:
        table.update(looks.columns)
        # treatment goes on per protocol after a stop: the clinic runs to the day the final
        # look would have come, with the patients randomized up to the stop
        horizon = np.maximum(looks.final_analysis_day, days["final_analysis"])
        enrolled_until = looks.enrolled_until
    return TrialToClinic(
        model,
        rng,
        first_rep,
        n_reps,
        enrolled,
        arm,
        latent,
        observed,
        cut,
        endpoints,
        looks,
        pd.DataFrame(table),
        horizon,
        enrolled_until,
    )


def finish_chunk(trial: TrialToClinic, clinic: ClinicChunk, keep_patients: int) -> ChunkResult:
    """The chunk's tables: the trial's replicates with its clinic's, the kept patients."""
    model, first_rep, n_reps = trial.model, trial.first_rep, trial.n_reps
    enrolled, arm, latent, observed = trial.enrolled, trial.arm, trial.latent, trial.observed
    cut, endpoints, looks, replicates = trial.cut, trial.endpoints, trial.looks, trial.replicates
    reps = np.arange(first_rep, first_rep + n_reps)
    if clinic.rows is not None:
        replicates = pd.concat([replicates, clinic.rows], axis=1)
    if model.history is not None:  # a forecast tabulates the months from the as-of date on
        from sim.engine.history import months_from

        clinic.monthly = months_from(clinic.monthly, model.calendar, model.history.as_of_day)
    patient_frames = clinic.patients
    patients = None
    n_keep = max(0, min(keep_patients - first_rep, n_reps))
    if n_keep:
        patients = patient_table(model, enrolled, arm, latent, observed, cut, first_rep, n_keep)
        patients = add_endpoint_columns(model, patients, enrolled.rand_day, endpoints, n_keep)
        if patient_frames:
            patients = patients.merge(
                pd.concat(patient_frames, ignore_index=True),
                on=["replicate", "patient"],
                how="left",
            )
    if patients is not None and looks is not None:  # randomized by the stop (all if none)
        until = looks.enrolled_until[:n_keep]
        patients["enrolled"] = (enrolled.rand_day[:n_keep] <= until[:, None]).ravel()
    if clinic.monthly is not None:
        clinic.monthly.insert(0, "replicate", reps)
    return ChunkResult(
        replicates, patients, {"screening": enrolled.screening, **clinic.sums}, clinic.monthly
    )


def treatment_stop(rand_day: np.ndarray, observed) -> tuple[np.ndarray, np.ndarray]:
    """Calendar day treatment must stop, and why: seen progression/death, or withdrawal."""
    event = rand_day + observed.event_day
    withdraw = rand_day + observed.withdraw_day
    stop = np.minimum(event, withdraw)
    reason = np.where(
        ~np.isfinite(stop),
        "none",
        np.where(
            event <= withdraw, np.where(observed.is_death, "death", "progression"), "withdrawal"
        ),
    )
    return stop, reason


@dataclass
class ClinicChunk:
    """The clinic's output for a chunk: per-replicate counts, kept patients, monthly series
    (one row per replicate, columns ``<table>/<item>/<YYYY-MM>``) and additive count tables."""

    rows: pd.DataFrame | None = None
    patients: list[pd.DataFrame] = field(default_factory=list)
    monthly: pd.DataFrame | None = None
    sums: dict[str, pd.DataFrame] = field(default_factory=dict)


def replicate_draws(draws, rep: int, keep: np.ndarray):
    """The clinic draws of replicate `rep` for the patients `keep` (bool, (n,)) only, as a
    one-replicate set (the per-day background load is kept whole)."""
    n = len(keep)

    def take(value):
        if isinstance(value, np.ndarray):
            row = value[rep : rep + 1]
            return row[:, keep] if value.ndim >= 2 and value.shape[1] == n else row
        if dataclasses.is_dataclass(value):
            return dataclasses.replace(
                value, **{f.name: take(getattr(value, f.name)) for f in dataclasses.fields(value)}
            )
        return value

    per_day = {"chair_background", "linac_background"}
    return dataclasses.replace(
        draws,
        **{
            f.name: (
                getattr(draws, f.name)[rep : rep + 1]
                if f.name in per_day and getattr(draws, f.name) is not None
                else take(getattr(draws, f.name))
            )
            for f in dataclasses.fields(draws)
        },
    )


def patients_only(draws, keep: np.ndarray):
    """Per-patient draws (a dataclass of arrays over patients first) for patients `keep`."""
    return dataclasses.replace(
        draws, **{f.name: getattr(draws, f.name)[keep] for f in dataclasses.fields(draws)}
    )


def run_clinic(
    model,
    rng,
    enrolled,
    arm,
    observed,
    horizon,
    first_rep,
    keep_patients,
    safety_rng=None,
    enrolled_until=None,
):
    """Per replicate SimPy model of the clinic, up to each replicate's final analysis (and on
    to the end of treatment for the drug supply, `sim.clinic.model.run_replicate`); with
    a safety block, each replicate's adverse events come from `safety_rng`, in turn.

    `enrolled_until` (R,): after an early stop only the patients randomized by then are
    treated (None or inf: all); the adverse-event draws are made for all, as without a stop
    (common random numbers), and those of the patients treated are used."""
    sc = model.scenario
    if sc.treatment is None:
        return ClinicChunk()
    from sim.clinic.model import collector_paused, draw_clinic
    from sim.clinic.safety import draw_adverse_events

    n_reps, n = arm.shape
    draws = draw_clinic(sc, n_reps, n, rng)
    stop, reason = treatment_stop(enrolled.rand_day, observed)
    out = ClinicChunk()
    tally = ChunkTally()
    with collector_paused():  # for the chunk, not per replicate: see collector_paused
        for r in range(n_reps):
            aes = draw_adverse_events(sc, n, safety_rng) if sc.safety is not None else None
            tally.add(
                clinic_replicate(
                    model,
                    draws,
                    r,
                    first_rep,
                    keep_patients,
                    enrolled,
                    arm,
                    stop,
                    reason,
                    horizon,
                    aes,
                    enrolled_until,
                    out,
                )
            )
    return tally.into(model, out)


def run_clinic_shared(trials: list[TrialToClinic], keep_patients: int) -> list[ClinicChunk]:
    """`run_clinic` of each of `trials`, which bring the clinic the same patients
    (`same_clinic`) but count it to their own horizons: one SimPy run of each replicate,
    split at each trial's final analysis (`sim.clinic.model.run_replicate_horizons`); the
    kept replicates, whose patient tables are cut back to the horizon, one run per trial."""
    from sim.clinic.model import collector_paused, draw_clinic, run_replicate_horizons
    from sim.clinic.safety import draw_adverse_events

    first = trials[0]
    model, enrolled, arm = first.model, first.enrolled, first.arm
    sc = model.scenario
    n_reps, n = arm.shape
    draws = draw_clinic(sc, n_reps, n, first.rng["clinic"])
    stop, reason = treatment_stop(enrolled.rand_day, first.observed)
    outs = [ClinicChunk() for _ in trials]
    tallies = [ChunkTally() for _ in trials]
    with collector_paused():
        for r in range(n_reps):
            aes = draw_adverse_events(sc, n, first.rng["safety"]) if sc.safety is not None else None
            if first.first_rep + r < keep_patients:
                runs = [
                    clinic_replicate(
                        t.model,
                        draws,
                        r,
                        t.first_rep,
                        keep_patients,
                        enrolled,
                        arm,
                        stop,
                        reason,
                        t.horizon,
                        aes,
                        None,
                        out,
                    )
                    for t, out in zip(trials, outs, strict=True)
                ]
            else:
                runs = [
                    run.records
                    for run in run_replicate_horizons(
                        sc,
                        model.calendar,
                        draws,
                        r,
                        enrolled.rand_day[r],
                        arm[r],
                        stop[r],
                        reason[r],
                        horizons=[float(t.horizon[r]) for t in trials],
                        stratum=enrolled.stratum[r],
                        adverse_events=aes,
                    )
                ]
            for tally, records in zip(tallies, runs, strict=True):
                tally.add(records)
    return [tally.into(t.model, out) for tally, t, out in zip(tallies, trials, outs, strict=True)]


class ChunkTally:
    """A chunk's clinic records tallied TALLY_BATCH replicates at a time (the records'
    memory goes as they are tallied), in replicate order."""

    def __init__(self) -> None:
        self.batches: list = []
        self.records: list = []

    def add(self, records) -> None:
        from sim.clinic.model import tally_replicates

        self.records.append(records)
        if len(self.records) == TALLY_BATCH:
            self.batches.append(tally_replicates(self.records))
            self.records = []

    def into(self, model: TrialModel, out: ClinicChunk) -> ClinicChunk:
        """`out` with the chunk's clinic tables."""
        from sim.clinic.model import tally_replicates
        from sim.clinic.tally import ClinicTables

        if self.records:
            self.batches.append(tally_replicates(self.records))
            self.records = []
        tables = ClinicTables.stack(self.batches)
        out.rows = pd.DataFrame(tables.summary)
        out.monthly = monthly_frame(model, tables.monthly)
        out.sums["deviations"] = tables.deviation_frame()
        return out


def clinic_replicate(
    model,
    draws,
    r,
    first_rep,
    keep_patients,
    enrolled,
    arm,
    stop,
    reason,
    horizon,
    aes,
    enrolled_until,
    out,
):
    """Replicate r of a chunk in the clinic (`run_clinic`), its adverse events `aes`: its
    SimPy run, its patient table into `out` when kept; returns its records for the chunk's
    tally."""
    from sim.clinic.model import run_replicate

    sc = model.scenario
    keep = first_rep + r < keep_patients
    enrolled_mask = None
    if enrolled_until is not None and np.isfinite(enrolled_until[r]):
        enrolled_mask = enrolled.rand_day[r] <= enrolled_until[r]
    if enrolled_mask is None or enrolled_mask.all():
        run = run_replicate(
            sc,
            model.calendar,
            draws,
            r,
            enrolled.rand_day[r],
            arm[r],
            stop[r],
            reason[r],
            horizon_day=float(horizon[r]),
            stratum=enrolled.stratum[r],
            adverse_events=aes,
            to_end=True,
            keep_records=keep,
        )
        patient_ids = None
    else:
        m = enrolled_mask
        run = run_replicate(
            sc,
            model.calendar,
            replicate_draws(draws, r, m),
            0,
            enrolled.rand_day[r][m],
            arm[r][m],
            stop[r][m],
            reason[r][m],
            horizon_day=float(horizon[r]),
            stratum=enrolled.stratum[r][m],
            adverse_events=patients_only(aes, m) if aes is not None else None,
            to_end=True,
            keep_records=keep,
        )
        patient_ids = np.flatnonzero(m)
    if keep:
        frame = run.records.patient_frame()
        if patient_ids is not None:
            frame["patient"] = patient_ids[frame["patient"]]
        frame.insert(0, "replicate", first_rep + r)
        out.patients.append(frame)
    run.records.records = None  # the arrays are all the tally needs
    return run.records


def monthly_frame(model: TrialModel, series: dict[str, np.ndarray]) -> pd.DataFrame | None:
    """Wide per-replicate monthly table (float32) from `series` -> (R, months) arrays, keys in
    sorted order, one column per key and month label (zeros past a series' months)."""
    keys = sorted(series)
    if not keys:
        return None
    labels = model.month_labels
    width = len(labels)
    n_reps = len(series[keys[0]])
    block = np.zeros((len(keys) * width, n_reps), dtype=np.float32)  # a column a row
    for i, key in enumerate(keys):
        values = np.asarray(series[key])[:, :width]
        block[i * width : i * width + values.shape[1]] = values.T
    return pd.DataFrame(block.T, columns=[f"{key}/{label}" for key in keys for label in labels])


def patient_table(model, enrolled, arm, latent, observed, cut, first_rep, n_keep) -> pd.DataFrame:
    """One row per patient of the first replicates, every date that happened to them."""
    cal = model.calendar
    rand = enrolled.rand_day[:n_keep]
    n = rand.shape[1]

    def dates(rel: np.ndarray) -> np.ndarray:
        return cal.to_datetime64((rand + rel[:n_keep]).ravel())

    strata = np.asarray(model.scenario.strata_names)
    return pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(first_rep, first_rep + n_keep), n),
            "patient": np.tile(np.arange(n), n_keep),
            "stratum": strata[enrolled.stratum[:n_keep].ravel()],
            "site": np.asarray([s.name for s in model.sites])[enrolled.site[:n_keep].ravel()],
            "arm": np.asarray(ARMS)[arm[:n_keep].ravel()],
            "screen_date": cal.to_datetime64(enrolled.screen_day[:n_keep].ravel()),
            "randomization_date": cal.to_datetime64(rand.ravel()),
            "pfs_event_date": dates(latent.pfs_day),
            "pfs_event_is_death": latent.is_death[:n_keep].ravel(),
            "pfs_event_seen_date": dates(observed.event_day),
            "withdrawal_date": dates(observed.withdraw_day),
            "in_analysis": cut.valid[:n_keep].ravel(),
            "pfs_days_at_cut": cut.time[:n_keep].ravel(),
            "pfs_event_at_cut": cut.event[:n_keep].ravel(),
            "data_cut_date": np.repeat(cal.to_datetime64(cut.cut_day[:n_keep]), n),
            "scan_dates": scan_date_lists(model, rand, observed, cut, n_keep),
        }
    )


def scan_deviations(model, rand, observed, cut, arm) -> dict[str, np.ndarray]:
    """Per arm, scans done out of the visit window (`assessments.window_days`) up to the event
    seen, the withdrawal or the data cut; nothing without a window."""
    window = model.scenario.assessments.window_days
    if window is None or model.schedule.day_map is None:
        return {}
    until = np.minimum(
        np.minimum(observed.event_day, observed.withdraw_day), cut.cut_day[:, None] - rand
    )
    late = scans_out_of_window(model.schedule, window, rand, until)
    return {
        f"scans_out_of_window_{name}": (late * (arm == a)).sum(axis=1)
        for a, name in enumerate(ARMS)
    }


def scan_date_lists(model, rand, observed, cut, n_keep) -> list:
    """Each patient's tumour assessments up to the event seen, withdrawal or the data cut
    (empty under continuous observation: there are no scans)."""
    offsets = model.schedule.days
    if offsets is None:
        return [[] for _ in range(rand.size)]
    last = np.minimum(
        np.minimum(observed.event_day[:n_keep], observed.withdraw_day[:n_keep]),
        cut.cut_day[:n_keep, None] - rand,
    )
    start = np.datetime64(model.calendar.start_date, "D")
    day_map = model.schedule.day_map
    if day_map is None:
        count = np.searchsorted(offsets, last.ravel(), side="right")
        return [
            (start + (r + offsets[:k]).astype("timedelta64[D]")).tolist()
            for r, k in zip(rand.ravel(), count, strict=True)
        ]
    due = rand.ravel()[:, None] + offsets[None, :]  # the scans actually done (visit window)
    inside = due < len(day_map)
    done = np.where(inside, day_map[np.where(inside, due, 0).astype(np.int64)], due)
    count = (done - rand.ravel()[:, None] <= last.ravel()[:, None]).sum(axis=1)
    return [
        (start + d[:k].astype("timedelta64[D]")).tolist() for d, k in zip(done, count, strict=True)
    ]


def add_endpoint_columns(
    model, patients: pd.DataFrame, rand: np.ndarray, endpoints, n_keep: int
) -> pd.DataFrame:
    """The kept patients' secondary-endpoint columns; `*_day` latent days become dates."""
    extra = {}
    for name, values in endpoints.patient_columns.items():
        values = values[:n_keep]
        if name.endswith("_day"):
            extra[name.removesuffix("_day") + "_date"] = model.calendar.to_datetime64(
                (rand[:n_keep] + values).ravel()
            )
        else:
            extra[name] = values.ravel()
    return patients.assign(**extra) if extra else patients
