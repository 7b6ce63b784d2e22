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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.conduct.assessments import ScanSchedule, observe_outcomes
from sim.conduct.calendar import StudyCalendar, month_grid
from sim.conduct.datacut import cut_at_analysis, cut_data
from sim.conduct.enrollment import enroll_patients
from sim.conduct.outcomes import draw_latent_outcomes
from sim.conduct.randomization import randomize_by_block
from sim.engine.endpoints import analyze_endpoints, draw_history
from sim.scenario import DAYS_PER_MONTH, Scenario
from sim.stats import analysis

STAGES = ("enrollment", "randomization", "outcomes", "clinic", "survival", "response",
          "local_control", "safety")
CHUNK_SIZE = 500  # replicates per chunk; part of the stream layout, so fixed
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

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> TrialModel:
        calendar = StudyCalendar.from_scenario(scenario)
        cut_date = scenario.analysis.cut_date
        return cls(
            scenario=scenario,
            calendar=calendar,
            schedule=ScanSchedule.from_assessments(scenario.assessments),
            stratum_p=np.asarray(list(scenario.randomization.strata.values())),
            date_cut_day=float(calendar.day_of(cut_date)) if cut_date else np.inf,
            sites=scenario.enrollment.site_list(scenario.trial.start_date),
            **month_grid(scenario),
        )

    def month_of(self, day: np.ndarray | float) -> np.ndarray:
        """Index of the calendar month of clock days (-1 before the start; past the end: n)."""
        return np.searchsorted(self.month_starts, day, side="right") - 1


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
    medians = analysis.km_median(cut.time, cut.event, arm, valid=cut.valid)
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
    }


def analyze_at_completion(model: TrialModel, enrolled, observed, arm: np.ndarray) -> dict:
    """Events seen by the registered completion date, and the primary test's decision if the
    data were cut on that date (whatever cut the scenario's analysis uses)."""
    sc = model.scenario
    a = sc.analysis
    day = float(model.calendar.day_of(sc.trial.completion_date))
    n_reps = arm.shape[0]
    time, event, valid = cut_data(enrolled.rand_day, observed, model.schedule,
                                  np.full(n_reps, day))
    risk = analysis.risk_sets(time, event, arm, enrolled.stratum if a.stratified else None,
                              valid=valid)
    test = analysis.logrank_from_risk_sets(risk)
    return {"events_at_completion": event.sum(axis=1),
            "reject_at_completion": decide(test, a.alpha, a.sides)}


def pick_p(test, sides: int) -> np.ndarray:
    return test.p_one if sides == 1 else test.p_two


def decide(test, alpha: float, sides: int) -> np.ndarray:
    """Reject H0 at `alpha`; one-sided rejects only in the direction of benefit (Z < 0)."""
    p = pick_p(test, sides)
    return np.where(np.isfinite(p), p < alpha, False)


def simulate_chunk(
    model: TrialModel, seed: int, chunk: int, first_rep: int, n_reps: int,
    keep_patients: int = 0,
) -> ChunkResult:
    """Simulate replicates first_rep .. first_rep + n_reps - 1 (chunk `chunk`)."""
    sc = model.scenario
    rng = chunk_streams(seed, chunk)
    n = sc.trial.sample_size
    if model.history is None:
        enrolled = enroll_patients(
            sc.enrollment, n, model.stratum_p, model.calendar, n_reps, rng["enrollment"]
        )
        arm = randomize_by_block(enrolled.stratum, sc.randomization, rng["randomization"])
        latent = draw_latent_outcomes(sc, arm, rng["outcomes"])
        history, latent = draw_history(sc, arm, latent, model.schedule, rng["survival"])
        observed = observe_outcomes(latent, model.schedule)
    else:
        from sim.engine.history import continue_trial

        # A forecast continues PFS and dropout from the trial's data; the --observed table
        # has no survival after progression, so there is no illness-death history (no OS).
        enrolled, arm, latent, observed = continue_trial(model, model.history, n_reps, rng)
        history = None
    cut = cut_at_analysis(sc.analysis, enrolled.rand_day, observed, model.schedule,
                          model.date_cut_day)
    stats = analyze_cut(model, cut, arm, enrolled.stratum)
    endpoints = analyze_endpoints(model, rng, enrolled, arm, history, latent, observed, cut)
    at_completion = analyze_at_completion(model, enrolled, observed, arm)
    reps = np.arange(first_rep, first_rep + n_reps)
    table = {
        "replicate": reps,
        "seed": np.full(n_reps, seed),
        "chunk": np.full(n_reps, chunk),
        "row_in_chunk": np.arange(n_reps),
    }
    days = milestone_days(model, enrolled, cut)
    for name, value in days.items():
        table[f"{name}_date"] = model.calendar.to_datetime64(value)
    table.update(
        lpi_months=days["randomized_100pct"] / DAYS_PER_MONTH,
        analysis_months=days["final_analysis"] / DAYS_PER_MONTH,
        target_events_months=days["target_events"] / DAYS_PER_MONTH,
        cut_reason=np.asarray(["events", "date", "all_followed"])[cut.cut_reason],
        n_screened=enrolled.n_screened,
        screening_wait_days_mean=enrolled.screening_wait_days_mean,
        n_screen_failed=enrolled.n_screen_failed,
        n_in_analysis=cut.valid.sum(axis=1),
        events=cut.event.sum(axis=1),
        events_control=(cut.event & (arm == 0)).sum(axis=1),
        events_experimental=(cut.event & (arm == 1)).sum(axis=1),
        deaths=(cut.event & observed.is_death).sum(axis=1),
        withdrawals=((enrolled.rand_day + observed.withdraw_day <= cut.cut_day[:, None])
                     & cut.valid).sum(axis=1),
        **stats,
        **endpoints.columns,
        **at_completion,
    )
    replicates = pd.DataFrame(table)
    clinic = run_clinic(
        model, rng["clinic"], enrolled, arm, observed, days["final_analysis"], first_rep,
        keep_patients, rng["safety"],
    )
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
                pd.concat(patient_frames, ignore_index=True), on=["replicate", "patient"],
                how="left",
            )
    if clinic.monthly is not None:
        clinic.monthly.insert(0, "replicate", reps)
    return ChunkResult(replicates, patients, {"screening": enrolled.screening, **clinic.sums},
                       clinic.monthly)


def treatment_stop(rand_day: np.ndarray, observed) -> tuple[np.ndarray, np.ndarray]:
    """Calendar day treatment must stop, and why: seen progression/death, or withdrawal."""
    event = rand_day + observed.event_day
    withdraw = rand_day + observed.withdraw_day
    stop = np.minimum(event, withdraw)
    reason = np.where(
        ~np.isfinite(stop), "none",
        np.where(event <= withdraw, np.where(observed.is_death, "death", "progression"),
                 "withdrawal"),
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


def run_clinic(model, rng, enrolled, arm, observed, horizon, first_rep, keep_patients,
               safety_rng=None):
    """Per replicate SimPy model of the clinic, up to each replicate's final analysis; with
    a safety block, each replicate's adverse events come from `safety_rng`, in turn."""
    sc = model.scenario
    if sc.treatment is None:
        return ClinicChunk()
    from sim.clinic.model import draw_clinic, simulate_clinic
    from sim.clinic.safety import draw_adverse_events

    n_reps, n = arm.shape
    draws = draw_clinic(sc, n_reps, n, rng)
    stop, reason = treatment_stop(enrolled.rand_day, observed)
    out = ClinicChunk()
    rows, monthly, sums = [], [], []
    for r in range(n_reps):
        keep = first_rep + r < keep_patients
        result = simulate_clinic(
            sc, model.calendar, draws, r, enrolled.rand_day[r], arm[r], stop[r], reason[r],
            float(horizon[r]), keep_patients=keep, stratum=enrolled.stratum[r],
            adverse_events=(draw_adverse_events(sc, n, safety_rng) if sc.safety is not None
                            else None),
        )
        rows.append(result.summary)
        monthly.append(getattr(result, "monthly", None) or {})
        sums.append(getattr(result, "sums", None) or {})
        if keep and result.patients is not None:
            frame = result.patients.copy()
            frame.insert(0, "replicate", first_rep + r)
            out.patients.append(frame)
    out.rows = pd.DataFrame(rows)
    out.monthly = monthly_frame(model, monthly)
    for name in {k for d in sums for k in d}:
        out.sums[name] = pd.concat([d[name] for d in sums if name in d], ignore_index=True)
    return out


def monthly_frame(model: TrialModel, series: list[dict[str, np.ndarray]]) -> pd.DataFrame | None:
    """Wide per-replicate monthly table; every replicate has the same columns (zeros)."""
    keys = sorted({k for d in series for k in d})
    if not keys:
        return None
    labels = model.month_labels
    columns = {}
    for key in keys:
        block = np.zeros((len(series), len(labels)), dtype=np.float32)
        for i, d in enumerate(series):
            if key in d:
                values = np.asarray(d[key])[: len(labels)]
                block[i, : len(values)] = values
        for j, label in enumerate(labels):
            columns[f"{key}/{label}"] = block[:, j]
    return pd.DataFrame(columns)


def patient_table(model, enrolled, arm, latent, observed, cut, first_rep, n_keep) -> pd.DataFrame:
    """One row per patient of the first replicates, every date that happened to them."""
    cal = model.calendar
    rand = enrolled.rand_day[:n_keep]
    n = rand.shape[1]

    def dates(rel: np.ndarray) -> np.ndarray:
        return cal.to_datetime64((rand + rel[:n_keep]).ravel())

    strata = np.asarray(model.scenario.strata_names)
    return pd.DataFrame({
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
    })


def scan_date_lists(model, rand, observed, cut, n_keep) -> list:
    """Each patient's tumour assessments up to the event seen, withdrawal or the data cut
    (empty under continuous observation: there are no scans)."""
    offsets = model.schedule.days
    if offsets is None:
        return [[] for _ in range(rand.size)]
    last = np.minimum(np.minimum(observed.event_day[:n_keep], observed.withdraw_day[:n_keep]),
                      cut.cut_day[:n_keep, None] - rand)
    count = np.searchsorted(offsets, last.ravel(), side="right")
    start = np.datetime64(model.calendar.start_date, "D")
    return [(start + (r + offsets[:k]).astype("timedelta64[D]")).tolist()
            for r, k in zip(rand.ravel(), count, strict=True)]


def add_endpoint_columns(model, patients: pd.DataFrame, rand: np.ndarray, endpoints,
                         n_keep: int) -> pd.DataFrame:
    """The kept patients' secondary-endpoint columns; `*_day` latent days become dates."""
    extra = {}
    for name, values in endpoints.patient_columns.items():
        values = values[:n_keep]
        if name.endswith("_day"):
            extra[name.removesuffix("_day") + "_date"] = model.calendar.to_datetime64(
                (rand[:n_keep] + values).ravel())
        else:
            extra[name] = values.ravel()
    return patients.assign(**extra) if extra else patients
