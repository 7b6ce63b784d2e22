"""From a chunk's trial to its clinic: each replicate's patients handed to the SimPy model
of the clinic (`sim.clinic.model`), run up to the replicate's final analysis (and on to the
end of treatment for the drug supply), and the runs tallied into the chunk's clinic tables.

Random streams: the clinic's draws come from the chunk's "clinic" stream in one go, and the
adverse events of each replicate in turn from its "safety" stream, whatever is run: the
same draws with or without an early stop, and for models that share their clinic runs
(`clinic_key`, `run_clinic_shared`). Models whose clinics differ but whose draws do not
(`draws_key`: a sweep's points with another effect, accrual or event probabilities) have
them made once for all (`run_clinic_groups`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.conduct.assessments import ObservedOutcomes
from sim.engine.trial import Cohort, TrialModel

if TYPE_CHECKING:
    from sim.clinic.inputs import ClinicDraws
    from sim.clinic.safety import AeDraws, Consequences
    from sim.clinic.tally import ClinicTables, ReplicateRecords

TALLY_BATCH = 50  # replicates a worker's clinic holds in records before tallying them
# replicates whose adverse events are drawn and planned together (about 1 MB of uniforms
# each): the array calls of the plan shared by 10, the memory of 10
EVENT_BLOCK = 10
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
    "triggers",
    "rerandomization_draws",
)  # read by no clinic


@dataclass(frozen=True)
class ClinicInputs:
    """What a chunk's trial brings its clinic: its patients, the day each replicate's clinic
    is counted to, and which replicates keep their patients' tables.

    `enrolled_until` (R,): after an early stop only the patients randomized by then are
    treated (None or inf: all)."""

    model: TrialModel
    cohort: Cohort
    horizon: np.ndarray  # (R,) clock day of each replicate's final analysis
    first_rep: int
    keep_patients: int = 0  # replicates numbered below it keep their patient tables
    enrolled_until: np.ndarray | None = None

    def keeps(self, r: int) -> bool:
        """Whether replicate r of the chunk keeps its patient table."""
        return self.first_rep + r < self.keep_patients


@dataclass(frozen=True)
class TreatmentDraws:
    """A chunk's clinic draws (`sim.clinic.model.draw_clinic`) and the calendar day each
    patient's treatment must stop, with why (R, N)."""

    draws: ClinicDraws
    stop: np.ndarray
    reason: np.ndarray


@dataclass
class ClinicChunk:
    """The clinic's output for a chunk: per-replicate counts, kept patients, monthly series
    (one row per replicate, columns ``<table>/<item>/<YYYY-MM>``) and additive count tables."""

    rows: pd.DataFrame | None = None
    patients: list[pd.DataFrame] = field(default_factory=list)
    monthly: pd.DataFrame | None = None
    sums: dict[str, pd.DataFrame] = field(default_factory=dict)


def treatment_stop(
    rand_day: np.ndarray, observed: ObservedOutcomes
) -> tuple[np.ndarray, np.ndarray]:
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


def draw_treatment(inputs: ClinicInputs, rng: np.random.Generator) -> TreatmentDraws:
    """The clinic draws of a chunk's replicates from `rng`, and when their treatment stops."""
    from sim.clinic.model import draw_clinic

    cohort = inputs.cohort
    n_reps, n = cohort.arm.shape
    draws = draw_clinic(inputs.model.scenario, n_reps, n, rng)
    return TreatmentDraws(draws, *treatment_stop(cohort.rand_day, cohort.observed))


def replicate_draws(draws: ClinicDraws, rep: int, keep: np.ndarray) -> ClinicDraws:
    """The clinic draws of replicate `rep` for the patients `keep` (bool, (n,)) only, as a
    one-replicate set (the per-day background load is kept whole)."""
    n = len(keep)

    def take(value: object) -> object:
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


def patients_only(draws: AeDraws, keep: np.ndarray) -> AeDraws:
    """Per-patient draws (a dataclass of arrays over patients first) for patients `keep`."""
    return dataclasses.replace(
        draws, **{f.name: getattr(draws, f.name)[keep] for f in dataclasses.fields(draws)}
    )


def run_clinic(inputs: ClinicInputs, rng: dict[str, np.random.Generator]) -> ClinicChunk:
    """Per replicate SimPy model of the clinic, up to each replicate's final analysis (and on
    to the end of treatment for the drug supply, `sim.clinic.model.run_replicate`), its
    draws from the stream rng["clinic"]; with a safety block, each replicate's adverse
    events from rng["safety"], in turn.

    After an early stop (`ClinicInputs.enrolled_until`) the adverse-event draws are made for
    all the patients, as without a stop (common random numbers), and those of the patients
    treated are used."""
    return run_clinic_shared([inputs], rng)[0]


def replicate_blocks(n_reps: int, size: int = EVENT_BLOCK) -> list[range]:
    """A chunk's replicates in blocks of `size`, in order."""
    return [range(b, min(b + size, n_reps)) for b in range(0, n_reps, size)]


def draw_event_block(
    inputs: ClinicInputs, block: range, rng: np.random.Generator
) -> AeDraws | None:
    """The adverse-event uniforms of `block`'s replicates from `rng`, in one call
    (`sim.clinic.safety.draw_adverse_event_block`); None without a safety block."""
    sc = inputs.model.scenario
    if sc.safety is None:
        return None
    from sim.clinic.safety import draw_adverse_event_block

    return draw_adverse_event_block(sc, inputs.cohort.arm.shape[1], len(block), rng)


def adverse_events(
    inputs: ClinicInputs, treatment: TreatmentDraws, block: range, aes: AeDraws | None
) -> list[tuple[AeDraws | None, Consequences | None]]:
    """Each replicate of `block`'s adverse-event draws (its rows of `aes`, the block's:
    `draw_event_block`) and their consequences, planned for the block at once
    (`sim.clinic.model.plan_adverse_events`); None without a safety block."""
    if aes is None:
        return [(None, None)] * len(block)
    from sim.clinic.model import plan_adverse_events

    sc = inputs.model.scenario
    arm = inputs.cohort.arm[block.start : block.stop]
    n = arm.shape[1]
    plans = plan_adverse_events(sc, inputs.model.calendar, treatment.draws, block, arm, aes)
    return [(aes.rows(i * n, (i + 1) * n), plan) for i, plan in enumerate(plans)]


def run_clinic_shared(
    trials: list[ClinicInputs], rng: dict[str, np.random.Generator]
) -> list[ClinicChunk]:
    """`run_clinic` of each of `trials`, which bring the clinic the same patients
    (`same_clinic`) but count it to their own horizons: one SimPy run of each replicate,
    split at each trial's final analysis (`sim.clinic.model.run_replicate_horizons`); the
    kept replicates, whose patient tables are cut back to the horizon, one run per trial.
    The streams `rng` are the first trial's (all the trials' are the same). Without a
    treatment block there is no clinic: empty chunks."""
    if trials[0].model.scenario.treatment is None:
        return [ClinicChunk() for _ in trials]
    return run_clinic_groups([trials], rng)[0]


def run_clinics(
    trials: list[ClinicInputs], rngs: list[dict[str, np.random.Generator]]
) -> list[ClinicChunk]:
    """`run_clinic` of each of `trials` (the same chunk of points of one run or sweep, each
    with its streams `rngs`), the same tables as one by one: the trials that bring their
    clinic the same patients share its SimPy runs (`clinic_groups`, `run_clinic_shared`),
    and when every trial draws the same clinic numbers (`same_draws`), those are drawn once
    for all (`run_clinic_groups`)."""
    groups = clinic_groups(trials)
    members = [[trials[i] for i in group] for group in groups]
    if len(groups) > 1 and same_draws(trials):
        runs = run_clinic_groups(members, rngs[0])
    else:  # each group on its first trial's streams
        runs = [run_clinic_shared(m, rngs[g[0]]) for g, m in zip(groups, members, strict=True)]
    chunks = {}
    for group, group_runs in zip(groups, runs, strict=True):
        chunks.update(zip(group, group_runs, strict=True))
    return [chunks[i] for i in range(len(trials))]


def clinic_groups(trials: list[ClinicInputs]) -> list[list[int]]:
    """The trials (their indices) in groups that bring their clinic the same patients
    (`same_clinic` with the group's first), each group in order, the groups by their
    first."""
    groups: list[list[int]] = []
    for i, trial in enumerate(trials):
        group = next((g for g in groups if same_clinic([trials[g[0]], trial])), None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    return groups


def run_clinic_groups(
    groups: list[list[ClinicInputs]], rng: dict[str, np.random.Generator]
) -> list[list[ClinicChunk]]:
    """The clinic of each trial of `groups`, whose trials draw the same clinic numbers
    (`same_draws`: its draws from rng["clinic"] and each block's adverse-event uniforms from
    rng["safety"] are made once for all) and, within a group, bring it the same patients
    (`same_clinic`: one SimPy run of each replicate, `run_shared_block`). Each trial's tables
    are those of its own `run_clinic`. The streams `rng` are the first trial's (all the
    trials' are the same)."""
    from sim.clinic.model import collector_paused

    first = groups[0][0]
    n_reps = first.cohort.arm.shape[0]
    drawn = draw_treatment(first, rng["clinic"])
    treatments = [
        TreatmentDraws(drawn.draws, *treatment_stop(g[0].cohort.rand_day, g[0].cohort.observed))
        for g in groups
    ]
    outs = [[ClinicChunk() for _ in group] for group in groups]
    tallies = [[ChunkTally(t.model, n_reps) for t in group] for group in groups]
    plans = [plans_key(group[0].model) if len(groups) > 1 else None for group in groups]
    with collector_paused():  # for the chunk, not per replicate: see collector_paused
        for block in replicate_blocks(n_reps):
            # tallied once the block's draws are gone (`run_group_blocks`)
            runs = run_group_blocks(groups, treatments, block, rng["safety"], outs, plans)
            for group_tallies, group_runs in zip(tallies, runs, strict=True):
                for records in group_runs:
                    for tally, record in zip(group_tallies, records, strict=True):
                        tally.add(record)
    return [
        [tally.into(out) for tally, out in zip(group_tallies, group_outs, strict=True)]
        for group_tallies, group_outs in zip(tallies, outs, strict=True)
    ]


def run_group_blocks(
    groups: list[list[ClinicInputs]],
    treatments: list[TreatmentDraws],
    block: range,
    rng: np.random.Generator,
    outs: list[list[ClinicChunk]],
    plans: list[str | None],
) -> list[list[list[ReplicateRecords]]]:
    """`run_clinic_groups`' replicates `block`, group by group, each replicate's records
    for each trial of the group (`run_shared_block`), the block's adverse events drawn from
    `rng` once (`draw_event_block`) and their consequences planned once for the groups of
    one `plans` key (`plans_key`; None: its own) whose patients in the block have the same
    arms (`adverse_events`): the block's draws go when it returns, before its records are
    tallied and the next block's draws are made."""
    aes = draw_event_block(groups[0][0], block, rng)
    planned: list[tuple[str | None, np.ndarray, list]] = []  # (key, arms, events) so far
    runs = []
    for group, treatment, group_outs, key in zip(groups, treatments, outs, plans, strict=True):
        arm = group[0].cohort.arm[block.start : block.stop]
        events = next(
            (
                done
                for other, arms, done in planned
                if key is not None and other == key and np.array_equal(arms, arm)
            ),
            None,
        )
        if events is None:
            events = adverse_events(group[0], treatment, block, aes)
            planned.append((key, arm, events))
        runs.append(run_shared_block(group, treatment, block, events, group_outs))
    return runs


def run_shared_block(
    trials: list[ClinicInputs],
    treatment: TreatmentDraws,
    block: range,
    events: list[tuple[AeDraws | None, Consequences | None]],
    outs: list[ClinicChunk],
) -> list[list[ReplicateRecords]]:
    """Replicates `block` of `trials`, which bring the clinic the same patients: each one's
    records for each trial, their adverse events and consequences `events` (the block's,
    `adverse_events`). One trial: each replicate's own run (`clinic_replicate`); several:
    one SimPy run of each replicate split at each trial's horizon, but a replicate that
    keeps its patient table is run for each trial."""
    from sim.clinic.model import run_replicate_horizons

    first = trials[0]
    sc = first.model.scenario
    cohort = first.cohort
    draws, stop, reason = treatment.draws, treatment.stop, treatment.reason
    out = []
    for r, (ae, plan) in zip(block, events, strict=True):
        if len(trials) == 1 or first.keeps(r):
            runs = [
                clinic_replicate(t, treatment, r, ae, out_t, plan)
                for t, out_t in zip(trials, outs, strict=True)
            ]
        else:
            runs = [
                run.records
                for run in run_replicate_horizons(
                    sc,
                    first.model.calendar,
                    draws,
                    r,
                    cohort.rand_day[r],
                    cohort.arm[r],
                    stop[r],
                    reason[r],
                    horizons=[float(t.horizon[r]) for t in trials],
                    stratum=cohort.stratum[r],
                    adverse_events=ae,
                    consequences=plan,
                )
            ]
        out.append(runs)
    return out


class ChunkTally:
    """A chunk's clinic records tallied TALLY_BATCH replicates at a time (the records'
    memory goes as they are tallied), in replicate order; each batch's monthly series go
    straight into the chunk's monthly table (`MonthlyBlock`)."""

    def __init__(self, model: TrialModel, n_reps: int) -> None:
        self.model, self.n_reps = model, n_reps
        self.batches: list[ClinicTables] = []
        self.records: list[ReplicateRecords] = []
        self.monthly: MonthlyBlock | None = None
        self.tallied = 0  # replicates in `batches`

    def add(self, records: ReplicateRecords) -> None:
        self.records.append(records)
        if len(self.records) == TALLY_BATCH:
            self.tally()

    def tally(self) -> None:
        """The records so far as a batch: its summary and deviations kept, its monthly
        series written into the monthly table."""
        from sim.clinic.model import tally_replicates

        tables = tally_replicates(self.records)
        rows = range(self.tallied, self.tallied + len(self.records))
        self.records = []
        if tables.monthly:
            if self.monthly is None:
                self.monthly = MonthlyBlock.of(self.model, sorted(tables.monthly), self.n_reps)
            self.monthly.fill(tables.monthly, rows)
        self.batches.append(dataclasses.replace(tables, monthly={}))
        self.tallied = rows.stop

    def into(self, out: ClinicChunk) -> ClinicChunk:
        """`out` with the chunk's clinic tables."""
        from sim.clinic.tally import ClinicTables

        if self.records:
            self.tally()
        tables = ClinicTables.stack(self.batches)
        out.rows = pd.DataFrame(tables.summary)
        out.monthly = self.monthly.frame() if self.monthly is not None else None
        out.sums["deviations"] = tables.deviation_frame()
        return out


def clinic_replicate(
    inputs: ClinicInputs,
    treatment: TreatmentDraws,
    r: int,
    aes: AeDraws | None,
    out: ClinicChunk,
    plan: Consequences | None = None,
) -> ReplicateRecords:
    """Replicate r of a chunk in the clinic (`run_clinic`), its adverse events `aes` (and
    their consequences `plan`, planned with its block's): its SimPy run, its patient table
    into `out` when kept; returns its records for the chunk's tally. After an early stop
    the patients treated are planned again on their own (the same rows)."""
    from sim.clinic.model import run_replicate

    model, cohort = inputs.model, inputs.cohort
    rand_day, arm, stratum = cohort.rand_day, cohort.arm, cohort.stratum
    draws, stop, reason = treatment.draws, treatment.stop, treatment.reason
    enrolled_until = inputs.enrolled_until
    keep = inputs.keeps(r)
    enrolled_mask = None
    if enrolled_until is not None and np.isfinite(enrolled_until[r]):
        enrolled_mask = rand_day[r] <= enrolled_until[r]
    if enrolled_mask is None or enrolled_mask.all():
        run = run_replicate(
            model.scenario,
            model.calendar,
            draws,
            r,
            rand_day[r],
            arm[r],
            stop[r],
            reason[r],
            horizon_day=float(inputs.horizon[r]),
            stratum=stratum[r],
            adverse_events=aes,
            to_end=True,
            keep_records=keep,
            consequences=plan,
        )
        patient_ids = None
    else:
        m = enrolled_mask
        run = run_replicate(
            model.scenario,
            model.calendar,
            replicate_draws(draws, r, m),
            0,
            rand_day[r][m],
            arm[r][m],
            stop[r][m],
            reason[r][m],
            horizon_day=float(inputs.horizon[r]),
            stratum=stratum[r][m],
            adverse_events=patients_only(aes, m) if aes is not None else None,
            to_end=True,
            keep_records=keep,
        )
        patient_ids = np.flatnonzero(m)
    if keep:
        frame = run.records.patient_frame()
        if patient_ids is not None:
            frame["patient"] = patient_ids[frame["patient"]]
        frame.insert(0, "replicate", inputs.first_rep + r)
        out.patients.append(frame)
    run.records.records = None  # the arrays are all the tally needs
    return run.records


def monthly_frame(model: TrialModel, series: dict[str, np.ndarray]) -> pd.DataFrame | None:
    """Wide per-replicate monthly table (float32) from `series` -> (R, months) arrays, keys in
    sorted order, one column per key and month label (zeros past a series' months)."""
    keys = sorted(series)
    if not keys:
        return None
    block = MonthlyBlock.of(model, keys, len(series[keys[0]]))
    block.fill(series, range(block.values.shape[1]))
    return block.frame()


@dataclass(frozen=True)
class MonthlyBlock:
    """A chunk's monthly table as `monthly_frame` lays it out, filled a batch of replicates
    at a time: `values` (keys x months, R) float32, a column of the table a row (zeros
    past a series' months)."""

    keys: list[str]
    labels: list[str]
    values: np.ndarray

    @classmethod
    def of(cls, model: TrialModel, keys: list[str], n_reps: int) -> MonthlyBlock:
        labels = list(model.month_labels)
        return cls(keys, labels, np.zeros((len(keys) * len(labels), n_reps), dtype=np.float32))

    def fill(self, series: dict[str, np.ndarray], rows: range) -> None:
        """The series of the replicates `rows` ((len(rows), months) each, keys as `keys`),
        cast to float32 as they are written."""
        width = len(self.labels)
        for i, key in enumerate(self.keys):
            values = np.asarray(series[key])[:, :width]
            self.values[i * width : i * width + values.shape[1], rows.start : rows.stop] = values.T

    def frame(self) -> pd.DataFrame:
        """The table, one column per key and month label (the values not copied)."""
        columns = [f"{key}/{label}" for key in self.keys for label in self.labels]
        return pd.DataFrame(self.values.T, columns=columns, copy=False)


def clinic_key(model: TrialModel) -> str | None:
    """What the clinic of a model's replicates depends on but the horizon: two models of one
    key give the same clinic runs (the same streams and patients), counted up to their own
    final analyses. None when nothing is to share: no treatment, interim looks (a stop
    changes who is treated) or a trial under way."""
    sc = model.scenario
    if sc.treatment is None or model.plan is not None or model.continuation is not None:
        return None
    from sim.scenario import scenario_to_dict

    data = scenario_to_dict(sc)
    analysis = data.get("analysis") or {}
    data["analysis"] = {k: v for k, v in analysis.items() if k not in CLINIC_BLIND}
    return repr(data)


def draws_key(model: TrialModel) -> str | None:
    """What a chunk's clinic draws depend on besides the chunk's streams and size: its
    draws from the "clinic" stream (`sim.clinic.model.draw_clinic`: the treatment, the
    Quad Shot and patients blocks, the days the background load covers) and the adverse
    events' uniforms from the "safety" stream (`draw_event_block`: the cycles, courses and
    kinds of event), and the patients a replicate. Two models of one key draw the same
    numbers for a chunk of the same seed and replicates, whatever their patients' outcomes
    and the events' probabilities (common random numbers); their clinic runs differ. None
    where `clinic_key` is None."""
    if clinic_key(model) is None:
        return None
    from sim.clinic.inputs import clinic_months
    from sim.scenario import scenario_to_dict

    sc = model.scenario
    data = scenario_to_dict(sc)
    return repr(
        {
            "patients_a_replicate": sc.trial.sample_size,  # the draws' shape
            "treatment": data.get("treatment"),
            "radiotherapy": data.get("radiotherapy"),
            "patients": data.get("patients"),
            "clinic_days": clinic_months(sc)[1],
            "event_kinds": len(sc.safety.events) if sc.safety is not None else None,
        }
    )


def plans_key(model: TrialModel) -> str:
    """What a block's adverse-event consequences depend on besides its draws and its
    patients' arms (`sim.clinic.model.plan_adverse_events`): the safety, treatment and
    Quad Shot blocks. Trials of one `draws_key` and one plans key whose patients have the
    same arms have the same consequences (another effect, control median or dropout; not
    another accrual, whose randomization gives a block other arms)."""
    from sim.scenario import scenario_to_dict

    data = scenario_to_dict(model.scenario)
    return repr({name: data.get(name) for name in ("safety", "treatment", "radiotherapy")})


def same_draws(trials: list[ClinicInputs]) -> bool:
    """Whether the trials' chunks draw the same clinic numbers (a check of `draws_key`):
    one key, and as many replicates of as many patients."""
    keys = {draws_key(trial.model) for trial in trials}
    shape = trials[0].cohort.arm.shape
    return (
        None not in keys
        and len(keys) == 1
        and all(trial.cohort.arm.shape == shape for trial in trials)
    )


def same_clinic(trials: list[ClinicInputs]) -> bool:
    """Whether the trials bring their clinic the same patients (a check of `clinic_key`)."""
    first = trials[0].cohort
    keys = {clinic_key(trial.model) for trial in trials}
    return (
        None not in keys
        and len(keys) == 1
        and all(
            np.array_equal(t.cohort.rand_day, first.rand_day)
            and np.array_equal(t.cohort.arm, first.arm)
            and np.array_equal(t.cohort.stratum, first.stratum)
            and np.array_equal(t.cohort.observed.event_day, first.observed.event_day)
            and np.array_equal(t.cohort.observed.withdraw_day, first.observed.withdraw_day)
            and np.array_equal(t.cohort.observed.is_death, first.observed.is_death)
            for t in trials[1:]
        )
    )
