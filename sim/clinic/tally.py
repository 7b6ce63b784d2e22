"""What the clinic's replicates add up to: per-arm counts, trial-wide figures, monthly
series and protocol deviations, tabulated for a batch of a chunk's replicates at once
(`sim.engine.clinic_bridge.TALLY_BATCH`).

Each replicate's SimPy run leaves its patients' records (`sim.clinic.records.PatientCourse`);
each replicate's are packed into one array as it ends (`sim.clinic.records.pack_records`)
and a batch's are decoded at once into `ReplicateRecords` (one entry per cycle given, per
course started, per fraction), and `tally_replicates` turns the arrays of all the
replicates of a batch into tables with one row per replicate: a bincount by
(replicate, arm) or (replicate, month) per figure, instead of a few hundred small array
operations per replicate. Sums whose order matters in floating point (milligrams) are still
taken replicate by replicate; every other sum is of whole numbers, exact in any order, so
the tables are those a replicate-by-replicate tally gives, to the last bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
import pandas as pd

from sim.clinic.capacity import DayBook, SessionBook
from sim.clinic.inputs import ARMS, ClinicDraws, ClinicSetup, metric_name
from sim.clinic.records import (
    CourseArrays,
    PackedRecords,
    PatientCourse,
    joined,
    positions,
    unpack_records,
)
from sim.clinic.safety import (
    AeDraws,
    Consequences,
    EventTable,
    PlannedOnsets,
    metric_label,
    planned_onsets,
    realize_onsets,
)
from sim.clinic.treatment import LATE_CAPACITY, LATE_CLOSURE
from sim.scenario import Scenario

METRICS = (
    "cycles_given",
    "cycles_delayed",  # by a drawn toxicity delay (per protocol, not a deviation)
    "cycles_out_of_window",  # given after the protocol window (closure or chairs)
    "infusion_wait_days",  # days cycles waited for a chair
    "dose_reductions",
    "toxicity_discontinuations",
    "rt_patients_started",
    "rt_courses_completed",
    "rt_fractions_given",
    "rt_dose_gy",
    "rt_bed10_gy",  # BED10 = n d (1 + d / 10) over the fractions given
    "rt_courses_out_of_window",  # started after start_within_days (closure or linac)
    "rt_wait_days",  # days courses waited for linac slots
    "rt_pneumonitis",
    "rt_stopped_early",  # fewer courses than planned, as drawn (complete_all_courses)
    "protocol_deviations",  # cycles and courses out of window
)
SUMMARY_KEYS = tuple(f"{metric}_{arm}" for metric in METRICS for arm in ARMS)
COURSE_FIELDS = frozenset(f.name for f in fields(CourseArrays))
DEVIATIONS = ("cycle_late_closure", "cycle_late_chairs", "rt_late_closure", "rt_late_linac")


class ReplicateRecords:
    """One replicate's records as flat arrays (row `rep` of `draws`; `end` the horizon day,
    capped at the tabulated span): `source`, the SimPy run's `records` packed
    (`sim.clinic.records.pack_records`) or the arrays of the schedule on the calendar alone
    (`sim.clinic.schedule`, `records` None). The fields of `CourseArrays` (`cycle_day`, ...,
    `later`) are read from `arrays`, the pack decoded when first asked for; a chunk's tally
    decodes the packs of all its replicates at once instead (`Stacked.arrays`). `records`
    is kept for the patient table and dropped (None) once a chunk no longer needs it."""

    def __init__(
        self,
        scenario: Scenario,
        setup: ClinicSetup,
        draws: ClinicDraws,
        rep: int,
        source: CourseArrays | PackedRecords,
        records: list[PatientCourse] | None,
        arm: np.ndarray,
        strata: np.ndarray,
        *,
        courses: np.ndarray,
        pneumonitis: np.ndarray,
        end: float,
    ) -> None:
        self.scenario, self.setup, self.draws, self.rep = scenario, setup, draws, rep
        self.source = source
        self.records: list[PatientCourse] | None = records
        self.arm, self.strata = np.asarray(arm), strata
        self.courses, self.pneumonitis = courses, pneumonitis
        self.end = min(end, setup.span)
        self.n = len(self.arm)
        # the adverse events planned and each patient's last day for one (`add_events`)
        self.planned: PlannedOnsets | None = None
        self.limit: np.ndarray | None = None
        self.realized: EventTable | None = None
        self.supplies: dict[bool, tuple[np.ndarray, np.ndarray] | None] = {}  # supply()'s

    @cached_property
    def arrays(self) -> CourseArrays:
        """The replicate's `CourseArrays` (its patients numbered from 0)."""
        source = self.source
        return source if isinstance(source, CourseArrays) else unpack_records([source])

    def __getattr__(self, name: str) -> object:
        if name in COURSE_FIELDS:  # (only called for what is not an attribute)
            return getattr(self.arrays, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def phase(self) -> np.ndarray:
        """0 for an induction cycle given, 1 for maintenance."""
        return (self.cycle_index >= self.setup.rules.induction_cycles).astype(np.int64)

    def add_events(self, plan: Consequences, ae: AeDraws, stop_day: np.ndarray) -> None:
        """The adverse events of `plan` and their draws `ae` before each patient's
        `stop_day` and the horizon: `events` (what it takes of them is kept, not them)."""
        rt = self.setup.rt_rules
        self.planned = planned_onsets(
            plan,
            ae,
            cycle_gap=self.setup.rules.cycle_days,
            course_gap=rt.interval_days if rt is not None else 0,
            days_per_course=rt.days_per_course if rt else 1,
        )
        self.limit = np.minimum(stop_day, self.end)

    @property
    def events(self) -> EventTable | None:
        """The adverse events that happened (`sim.clinic.safety.realized_events`), None
        without `add_events`; realized when first asked for (a chunk's tally realizes those
        of all its replicates at once: `Stacked.events`)."""
        if self.realized is None and self.planned is not None:
            self.realized = realize_events([self], self.arrays)
        return self.realized

    # --- per cycle and per day --------------------------------------------------------------

    def chair_minutes(self) -> np.ndarray:
        """Chair-minutes of each cycle given."""
        return self.setup.visit_minutes[self.strata[self.cycle_patient], self.phase]

    def supply(self, later: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """(mg (cycles, drugs), vials (cycles, drugs, sizes)) of every cycle given (`later`:
        of every cycle given after the horizon), 0 for the drugs not in the cycle's regimen;
        None without doses (or, with `later`, without a run to the end of treatment)."""
        if later in self.supplies:
            return self.supplies[later]
        self.supplies[later] = self.dispensed(later)
        return self.supplies[later]

    def dispensed(self, later: bool) -> tuple[np.ndarray, np.ndarray] | None:
        doses = self.draws.doses
        if doses is None or (later and self.later is None):
            return None
        if later:
            patient, _, level, index = self.later
            phase = (index >= self.setup.rules.induction_cycles).astype(np.int64)
        else:
            patient, level, phase = self.cycle_patient, self.cycle_level, self.phase
        gives = self.setup.gives[self.strata[patient], phase]  # (cycles, drugs)
        mg = doses.mg[self.rep, patient, :, level] * gives
        vials = doses.vials[self.rep, patient, :, level] * gives[..., None]
        return mg, vials

    def background(self, name: str) -> np.ndarray:
        """The clinic's other patients' use per day of `name` ("chair": minutes, "linac":
        slots over all sessions); zeros without a background draw."""
        if name == "chair":
            bg = self.draws.chair_background
            return bg[self.rep] if bg is not None else np.zeros(self.setup.span)
        bg = self.draws.linac_background
        if bg is None:
            return np.zeros(self.setup.span)
        total = bg[self.rep, :, 0].astype(np.int64)
        for s in range(1, bg.shape[2]):  # sessions one by one: a sum over 2 is slow in numpy
            total += bg[self.rep, :, s]
        return total

    # --- the replicate's patient table ----------------------------------------------------

    def patient_frame(self) -> pd.DataFrame:
        """One row per patient; the dates of cycles and fractions as list columns."""
        records, rep = self.records, self.rep
        assert records is not None, "the records were dropped"
        frame: dict[str, object] = {"patient": [r.patient for r in records]}
        cycle_lists = [r.cycle_lists() for r in records]
        c = self.draws.covariates
        if c is not None:
            frame.update(
                age=c.age[rep],
                male=c.male[rep],
                height_cm=c.height_cm[rep],
                weight_kg=c.weight_kg[rep],
                creatinine_mg_dl=c.creatinine_mg_dl[rep],
            )
        doses = self.draws.doses
        if doses is not None:
            frame.update(
                bsa_m2=doses.bsa_m2[rep],
                crcl_ml_min=doses.crcl_ml_min[rep],
                calvert_gfr_ml_min=doses.calvert_gfr_ml_min[rep],
            )
            for j, drug in enumerate(doses.drugs):
                frame[f"dose_{metric_name(drug)}_mg"] = doses.mg[rep, :, j, 0]
        frame.update(
            {
                **{
                    name: [lists[name] for lists in cycle_lists]
                    for name in PatientCourse.CYCLE_FIELDS
                },
                "rt_fraction_clocks": [r.rt_fractions for r in records],
                "rt_starts": [r.rt_starts for r in records],
                "rt_waits": [r.rt_waits for r in records],
                "rt_late": [r.rt_late for r in records],
                "rt_courses_completed": [r.rt_courses_completed for r in records],
                "rt_pneumonitis": (self.pneumonitis > 0) & (self.completed >= self.pneumonitis),
                "treatment_end": [r.end_reason for r in records],
            }
        )
        if self.events is not None:
            frame.update(self.event_lists())
        return pd.DataFrame(frame)

    def event_lists(self) -> dict[str, list]:
        """Each patient's adverse events in onset order: kind, grade, onset day, source."""
        ev, n = self.events, self.n
        assert ev is not None
        order = np.lexsort((ev.onset_day, ev.patient))
        names = np.asarray(self.setup.safety.names, dtype=object)
        bounds = np.searchsorted(ev.patient[order], np.arange(n + 1))
        out: dict[str, list] = {
            "ae_categories": [],
            "ae_grades": [],
            "ae_onset_days": [],
            "ae_sources": [],
        }
        for i in range(n):
            sel = order[bounds[i] : bounds[i + 1]]
            out["ae_categories"].append(names[ev.kind[sel]].tolist())
            out["ae_grades"].append(ev.grade[sel].tolist())
            out["ae_onset_days"].append(ev.onset_day[sel].tolist())
            out["ae_sources"].append(ev.source[sel].tolist())
        return out


def realize_events(reps: list[ReplicateRecords], arrays: CourseArrays) -> EventTable:
    """The adverse events that happened in `reps` (each with `add_events`), whose records
    are `arrays` (theirs end to end, patients numbered across them: `unpack_records`):
    `sim.clinic.safety.realized_events` of them all at once, the events' patients numbered
    the same way."""
    n = sum(r.n for r in reps)
    planned = [r.planned for r in reps]
    assert all(p is not None for p in planned)
    stacked = planned[0] if len(reps) == 1 else PlannedOnsets.stack(planned, [r.n for r in reps])
    cycle_days = np.full((n, reps[0].setup.rules.max_cycles), np.nan)
    cycle_days[arrays.cycle_patient, arrays.cycle_index] = arrays.cycle_day
    c = stacked.courses
    rt_starts = np.full((n, c), np.nan)
    rt_patient = arrays.rt_patient
    if len(rt_patient) and c:
        index = positions(np.bincount(rt_patient, minlength=n))
        inside = index < c
        rt_starts[rt_patient[inside], index[inside]] = arrays.rt_start[inside]
    limit = joined([r.limit for r in reps])
    return realize_onsets(stacked, cycle_days, rt_starts, limit)


def join_arrays(parts: list[CourseArrays], patient_offset: np.ndarray) -> CourseArrays:
    """`parts` (replicates' `CourseArrays`) end to end, the patients of part i numbered
    from `patient_offset[i]`; `later` None unless every part has it."""

    def join(arrays: list[np.ndarray], renumber: bool) -> np.ndarray:
        if renumber:
            arrays = [a + off for a, off in zip(arrays, patient_offset, strict=True)]
        return np.concatenate(arrays)

    patients = ("cycle_patient", "rt_patient", "fraction_patient")
    joined_fields = {
        f.name: join([getattr(p, f.name) for p in parts], f.name in patients)
        for f in fields(CourseArrays)
        if f.name != "later"
    }
    later = None
    if all(p.later is not None for p in parts):
        later = tuple(join([p.later[i] for p in parts], i == 0) for i in range(4))
    return CourseArrays(**joined_fields, later=later)


def books(chairs: DayBook | None, linac: SessionBook | None) -> dict[str, tuple[np.ndarray, int]]:
    """Each resource's per-day use (background included) and its limit, for checks."""
    out = {}
    if chairs is not None:
        out["chairs"] = (np.asarray(chairs.used), chairs.limit)
    if linac is not None:
        used = linac.used()
        for s in range(used.shape[1]):
            out[f"linac session {s}"] = (used[:, s], linac.limit)
    return out


@dataclass(frozen=True)
class ClinicTables:
    """A chunk's clinic tables, one row per replicate: `summary` metric -> (R,) (keys as
    `sim.clinic.model.ClinicResult.summary`, in its order), `monthly` series -> (R, months),
    `deviations` (R, 2 x len(DEVIATIONS)) counts, kind-major then arm (`deviation_frame`)."""

    summary: dict[str, np.ndarray]
    monthly: dict[str, np.ndarray]
    deviations: np.ndarray

    @classmethod
    def stack(cls, parts: list[ClinicTables]) -> ClinicTables:
        """The tables of consecutive batches of replicates as one (rows in order)."""
        first = parts[0]
        return cls(
            {k: np.concatenate([p.summary[k] for p in parts]) for k in first.summary},
            {k: np.concatenate([p.monthly[k] for p in parts]) for k in first.monthly},
            np.concatenate([p.deviations for p in parts]),
        )

    def deviation_frame(self) -> pd.DataFrame:
        """The deviations as rows (arm, what, count), replicate by replicate."""
        n_reps = len(self.deviations)
        return pd.DataFrame(
            {
                "arm": [arm for _ in range(n_reps) for _ in DEVIATIONS for arm in ARMS],
                "what": [kind for _ in range(n_reps) for kind in DEVIATIONS for _ in ARMS],
                "count": self.deviations.reshape(-1).astype(float),
            }
        )


class Stacked:
    """The flat arrays of a chunk's replicates end to end, with group codes: (replicate,
    arm) as 2 r + arm, patients numbered across replicates."""

    def __init__(self, reps: list[ReplicateRecords]) -> None:
        self.reps = reps
        self.n_reps = len(reps)
        self.setup = reps[0].setup
        self.built: dict[tuple[str, str], np.ndarray] = {}
        sizes = np.asarray([r.n for r in reps], dtype=np.int64)
        self.patient_offset = np.cumsum(sizes) - sizes
        self.patient_rep = np.repeat(np.arange(self.n_reps), sizes)
        self.patient_group = 2 * self.patient_rep + self.cat("arm")

    def arrays(self) -> CourseArrays:
        """The replicates' `CourseArrays` end to end, patients numbered across them: their
        packs decoded at once (`unpack_records`), or their arrays joined (built once)."""
        if "arrays" not in self.built:
            sources = [r.source for r in self.reps]
            if all(isinstance(source, PackedRecords) for source in sources):
                self.built["arrays"] = unpack_records(sources)
            else:
                self.built["arrays"] = join_arrays(
                    [r.arrays for r in self.reps], self.patient_offset
                )
        return self.built["arrays"]

    def events(self) -> EventTable:
        """The replicates' adverse events (each with `add_events`), patients numbered
        across them: realized at once (`realize_events`; built once)."""
        if "events" not in self.built:
            self.built["events"] = realize_events(self.reps, self.arrays())
        return self.built["events"]

    def has_events(self) -> bool:
        """Whether every replicate's adverse events were added (`add_events`)."""
        return all(r.planned is not None for r in self.reps)

    def cat(self, name: str) -> np.ndarray:
        """The flat array `name` of every replicate, end to end (built once): a field of
        their `CourseArrays` (`arrays`), `phase`, or an array of each replicate's."""
        if name in COURSE_FIELDS:
            return getattr(self.arrays(), name)
        if name == "phase":
            return self.once(
                ("cat", name),
                lambda: (self.cat("cycle_index") >= self.setup.rules.induction_cycles).astype(
                    np.int64
                ),
            )
        return self.once(
            ("cat", name), lambda: np.concatenate([getattr(r, name) for r in self.reps])
        )

    def rep_of(self, patient_name: str) -> np.ndarray:
        """The replicate of each entry of the flat arrays indexed by `patient_name`."""
        return self.once(
            ("rep", patient_name), lambda: self.patient_rep.take(self.global_patients(patient_name))
        )

    def groups(self, patient_name: str) -> np.ndarray:
        """(replicate, arm) codes of the entries of a flat array indexed by `patient_name`."""
        return self.once(
            ("groups", patient_name),
            lambda: self.patient_group.take(self.global_patients(patient_name)),
        )

    def global_patients(self, patient_name: str) -> np.ndarray:
        """The patients (numbered across replicates) of the field `patient_name` of
        `arrays` ("cycle_patient", "rt_patient", "fraction_patient")."""
        return getattr(self.arrays(), patient_name)

    def later(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(patient across replicates, day, level, 0-based index) of every replicate's
        cycles after the horizon, end to end; None unless every replicate kept them."""
        return self.arrays().later

    def later_rep(self) -> np.ndarray:
        """The replicate of each cycle after the horizon (`later`)."""
        later = self.later()
        assert later is not None
        return self.once(("rep", "later"), lambda: self.patient_rep.take(later[0]))

    def once(self, key: tuple[str, str], build: Callable[[], np.ndarray]) -> np.ndarray:
        """Each stacked array is built once per tally, however many figures read it."""
        if key not in self.built:
            self.built[key] = build()
        return self.built[key]

    def per_arm(self, groups: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """(R, 2) sums of `values` (or 1 each) by (replicate, arm)."""
        return np.bincount(groups, weights=values, minlength=2 * self.n_reps).reshape(-1, 2)

    def month_cells(self, rep: np.ndarray, days: np.ndarray) -> np.ndarray:
        """(replicate, calendar month) codes rep (months + 1) + month of `days` (days past
        the tabulated span go to the extra month, dropped by `by_month`)."""
        setup = self.setup
        return rep * (setup.n_months + 1) + setup.month_of_day.take(np.minimum(days, setup.span))

    def cells_of(self, days_name: str, patient_name: str) -> np.ndarray:
        """`month_cells` of the flat array of days `days_name`, indexed by `patient_name`
        (built once)."""
        return self.once(
            ("cells", days_name),
            lambda: self.month_cells(self.rep_of(patient_name), self.cat(days_name)),
        )

    def supplies(self, later: bool = False) -> Supply | None:
        """The `Supply` of every replicate's cycles given up to the horizon (with `later`:
        after it), end to end; None without doses (or, with `later`, without a run to the
        end of treatment). One gather for all when the replicates share a chunk's draws,
        else `ReplicateRecords.supply` replicate by replicate: the same numbers."""
        key = ("supplies", str(later))
        if key not in self.built:
            self.built[key] = self.gather_supplies(later)
        return self.built[key]

    def gather_supplies(self, later: bool) -> Supply | None:
        reps, setup = self.reps, self.setup
        draws = reps[0].draws
        doses = draws.doses
        if doses is None or (later and self.later() is None):
            return None
        if (
            any(r.draws is not draws for r in reps)
            or not doses.mg.flags.c_contiguous
            or not doses.vials.flags.c_contiguous
        ):
            parts = [r.supply(later) for r in reps]
            return Supply(
                np.concatenate([p[0] for p in parts]).T.copy(),
                np.concatenate([p[1] for p in parts]).transpose(1, 2, 0).copy(),
            )
        if later:
            global_patient, _, level, index = self.later()
            phase = (index >= setup.rules.induction_cycles).astype(np.int64)
        else:
            level, phase = self.cat("cycle_level"), self.cat("phase")
            global_patient = self.global_patients("cycle_patient")
        mg_table, vials_table = self.dose_tables()
        n_levels = doses.mg.shape[-1]
        at = (global_patient * n_levels + level) * 2 + phase  # rows of the tables
        return Supply(
            mg_table.take(at, axis=0).T.copy(),
            vials_table.take(at, axis=0).transpose(1, 2, 0).copy(),
        )

    def dose_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """What a cycle dispenses, by (patient across replicates, dose level, phase): mg
        (rows, drugs) and vials (rows, drugs, sizes), 0 for the drugs not in the phase's
        regimen of the patient's stratum; row ((patient * levels) + level) * 2 + phase. A
        cycle's supply is then one row gathered (built once per tally, for its replicates:
        a few numbers per patient, against a dozen gathers per cycle)."""

        def build() -> tuple[np.ndarray, np.ndarray]:
            doses = self.reps[0].draws.doses
            assert doses is not None
            rows = np.asarray([r.rep for r in self.reps], dtype=np.int64)
            _, n, n_drugs, n_levels = doses.mg.shape
            n_sizes = doses.vials.shape[-1]
            patients = len(rows) * n
            mg_dose = doses.mg[rows].reshape(patients, n_drugs, n_levels)
            vial_dose = doses.vials[rows].reshape(patients, n_drugs, n_levels, n_sizes)
            gives = self.setup.gives[self.cat("strata")]  # (patients, 2 phases, drugs)
            # (patients, levels, 2 phases, drugs[, sizes]): the product of the same numbers
            # as a dose gathered per cycle times whether the cycle gives the drug (1 or 0 of
            # the dose's type, what a product with a flag converts it to); one product over
            # the patients per level, phase and drug (numpy's products of a few items along
            # the last axis cost far more)
            mg = np.empty((patients, n_levels, 2, n_drugs), dtype=mg_dose.dtype)
            vials = np.empty((*mg.shape, n_sizes), dtype=vial_dose.dtype)
            mg_gives, vial_gives = gives.astype(mg.dtype), gives.astype(vials.dtype)
            for level in range(n_levels):
                for phase in range(2):
                    for drug in range(n_drugs):
                        np.multiply(
                            mg_dose[:, drug, level],
                            mg_gives[:, phase, drug],
                            out=mg[:, level, phase, drug],
                        )
                        for size in range(n_sizes):
                            np.multiply(
                                vial_dose[:, drug, level, size],
                                vial_gives[:, phase, drug],
                                out=vials[:, level, phase, drug, size],
                            )
            return mg.reshape(-1, n_drugs), vials.reshape(-1, n_drugs, n_sizes)

        key = ("doses", "tables")
        if key not in self.built:
            self.built[key] = build()
        return self.built[key]

    def sums_by_replicate(self, columns: np.ndarray, later: bool = False) -> np.ndarray:
        """(R, rows of `columns`) sums of each row of `columns` (one value per cycle given,
        or with `later` after the horizon, end to end) over each replicate's own cycles:
        one 1-D float sum each, as ``values_r[:, j].sum()`` adds them (the order of a float
        sum matters)."""
        rep = self.later_rep() if later else self.rep_of("cycle_patient")
        sizes = np.bincount(rep, minlength=self.n_reps)
        ends = np.cumsum(sizes)
        columns = np.ascontiguousarray(columns)
        out = np.empty((self.n_reps, columns.shape[0]))
        for i, (start, end) in enumerate(zip(ends - sizes, ends, strict=True)):
            out[i] = np.add.reduce(columns[:, start:end], axis=1)
        return out


@dataclass(frozen=True)
class Supply:
    """What cycles given dispensed, drug by drug (a row per drug, a column per cycle):
    `mg` (drugs, cycles) float, `vials` (drugs, sizes, cycles) int; 0 for the drugs not in
    a cycle's regimen."""

    mg: np.ndarray
    vials: np.ndarray

    @cached_property
    def vials_per_drug(self) -> np.ndarray:
        """(drugs, cycles) vials of all sizes."""
        total = self.vials[:, 0].astype(np.int64)
        for s in range(1, self.vials.shape[1]):
            total += self.vials[:, s]
        return total


def tally_replicates(reps: list[ReplicateRecords]) -> ClinicTables:
    """The clinic tables of a chunk's replicates (all of one scenario), one row each."""
    st = Stacked(reps)
    setup, scenario = reps[0].setup, reps[0].scenario
    summary = per_arm_counts(st, scenario, setup)
    daily = daily_use(st, setup)
    summary.update(trial_figures(st, setup, daily))
    if setup.safety is not None and st.has_events():
        summary.update(incidence(st, setup, scenario))
    return ClinicTables(summary, monthly(st, setup, daily), deviations(st))


def per_arm_counts(st: Stacked, scenario: Scenario, setup: ClinicSetup) -> dict[str, np.ndarray]:
    """``<metric>_<arm>`` for every metric in METRICS and arm in ARMS."""
    rt = scenario.radiotherapy
    dose = rt.dose_per_fraction_gy if rt is not None else 0.0
    cycle_group, rt_group = st.groups("cycle_patient"), st.groups("rt_patient")
    patient_group = st.patient_group
    fractions = st.per_arm(st.groups("fraction_patient"))
    levels_reached = np.zeros(len(patient_group), dtype=np.int64)  # one dtype: ufunc.at's fast way
    np.maximum.at(levels_reached, st.global_patients("cycle_patient"), st.cat("cycle_level"))
    started = np.zeros(len(patient_group), dtype=bool)
    started[st.global_patients("fraction_patient")] = True
    courses, pneumonitis, completed = st.cat("courses"), st.cat("pneumonitis"), st.cat("completed")
    had_pneumonitis = (pneumonitis > 0) & (completed >= pneumonitis)
    early = (courses > 0) & (courses < setup.courses) & (pneumonitis == 0) & (completed == courses)
    cycle_late, rt_late = st.cat("cycle_late"), st.cat("rt_late")
    cycle_out = st.per_arm(cycle_group, cycle_late > 0)
    rt_out = st.per_arm(rt_group, rt_late > 0)
    per_arm = {
        "cycles_given": st.per_arm(cycle_group),
        "cycles_delayed": st.per_arm(cycle_group, st.cat("cycle_delayed")),
        "cycles_out_of_window": cycle_out,
        "infusion_wait_days": st.per_arm(cycle_group, st.cat("cycle_wait")),
        "dose_reductions": st.per_arm(patient_group, levels_reached),
        "toxicity_discontinuations": st.per_arm(patient_group, st.cat("toxicity_end")),
        "rt_patients_started": st.per_arm(patient_group, started),
        "rt_courses_completed": st.per_arm(patient_group, completed),
        "rt_fractions_given": fractions,
        "rt_dose_gy": fractions * dose,
        "rt_bed10_gy": fractions * dose * (1 + dose / 10),
        "rt_courses_out_of_window": rt_out,
        "rt_wait_days": st.per_arm(rt_group, st.cat("rt_wait")),
        "rt_pneumonitis": st.per_arm(patient_group, had_pneumonitis),
        "rt_stopped_early": st.per_arm(patient_group, early),
        "protocol_deviations": cycle_out + rt_out,
    }
    return {
        f"{metric}_{arm}": per_arm[metric][:, a].astype(float)
        for metric in METRICS
        for a, arm in enumerate(ARMS)
    }


@dataclass(frozen=True)
class DailyUse:
    """One resource over the tabulated days of a chunk's replicates: `trial` (R, span) the
    trial's use per day, `open_total` (R, span + 1) the running total of trial and
    background use over the open days (0 first: `open_total[:, d]` is the use of days
    before d), `limit` the daily capacity (all sessions of the linac).

    Every figure is a whole number of minutes or slots, so its sums are exact in any order:
    a sum over days is a difference of running totals."""

    trial: np.ndarray
    open_total: np.ndarray
    limit: int


def running_total(values: np.ndarray) -> np.ndarray:
    """(R, D + 1) sums of the first 0 .. D columns of `values` (R, D)."""
    out = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def daily_use(st: Stacked, setup: ClinicSetup) -> dict[str, DailyUse]:
    """Per resource ("chair": chair-minutes, "linac": slots) its `DailyUse`."""
    span, n_reps, out = setup.span, st.n_reps, {}
    if setup.chair_limit:
        day, rep = st.cat("cycle_day"), st.rep_of("cycle_patient")
        strata = st.cat("strata").take(st.global_patients("cycle_patient"))
        minutes = setup.visit_minutes[strata, st.cat("phase")]  # of each cycle given
        inside = day < span
        if not inside.all():
            day, rep, minutes = day[inside], rep[inside], minutes[inside]
        trial = np.bincount(rep * span + day, weights=minutes, minlength=n_reps * span).reshape(
            n_reps, span
        )
        background = np.stack([r.background("chair") for r in st.reps])
        out["chair"] = DailyUse(
            trial,
            running_total(np.where(setup.open_day, trial + background, 0.0)),
            setup.chair_limit,
        )
    if setup.linac_limit:
        day, rep = st.cat("fraction_day"), st.rep_of("fraction_patient")
        inside = day < span
        if not inside.all():
            day, rep = day[inside], rep[inside]
        trial = (
            np.bincount(rep * span + day, minlength=n_reps * span)
            .reshape(n_reps, span)
            .astype(float)
        )
        background = np.stack([r.background("linac") for r in st.reps])
        out["linac"] = DailyUse(
            trial,
            running_total(np.where(setup.open_day, trial + background, 0.0)),
            setup.linac_limit * setup.n_sessions,
        )
    return out


def month_bounds(setup: ClinicSetup) -> np.ndarray:
    """(months + 1,) first tabulated day of each calendar month, then the span (the months
    are consecutive runs of days)."""
    return np.searchsorted(setup.month_of_day[: setup.span], np.arange(setup.n_months + 1))


def trial_figures(
    st: Stacked, setup: ClinicSetup, daily: dict[str, DailyUse]
) -> dict[str, np.ndarray]:
    """Utilization of chairs and linac over the open days before the horizon, and at the
    busiest month; mg and vials of each drug."""
    n_reps, out = st.n_reps, {}
    ends = np.asarray([r.end for r in st.reps], dtype=float)
    before = np.clip(np.ceil(ends), 0, setup.span).astype(np.int64)  # days 0 .. before - 1
    open_days = np.concatenate([[0], np.cumsum(setup.open_day)])  # open days before d
    bounds = month_bounds(setup)
    low = np.minimum(bounds[None, :-1], before[:, None])  # (R, months): each month's days
    high = np.minimum(bounds[None, 1:], before[:, None])  # before the horizon
    rows = np.arange(n_reps)
    for name, use in daily.items():
        total = use.open_total
        total_cap = use.limit * open_days[before]
        out[f"clinic_{name}_utilization"] = np.divide(
            total[rows, before], total_cap, out=np.zeros(n_reps), where=total_cap > 0
        )
        by_month = np.take_along_axis(total, high, axis=1) - np.take_along_axis(total, low, axis=1)
        cap_month = use.limit * (open_days[high] - open_days[low])
        share = np.divide(by_month, cap_month, out=np.zeros(by_month.shape), where=cap_month > 0)
        out[f"clinic_{name}_utilization_peak_month"] = share.max(axis=1, initial=0.0)
    out.update(supply_totals(st, setup))
    return out


def supply_totals(st: Stacked, setup: ClinicSetup) -> dict[str, np.ndarray]:
    """mg and vials of each drug up to the horizon (``clinic_<drug>_mg``, ``..._vials``)
    and, when the replicates went on to the end of treatment, to its end (``..._to_end``);
    zeros without doses. Each replicate's mg is its own float sum; vials are whole numbers."""
    n_reps, out = st.n_reps, {}
    to_end = st.later() is not None
    supply = st.supplies()
    later = st.supplies(later=True) if supply is not None and to_end else None
    zeros = np.zeros((n_reps, len(setup.drugs)))
    mg, vials = zeros, zeros
    if supply is not None:
        mg = st.sums_by_replicate(supply.mg)
        vials = vials_by_replicate(st.rep_of("cycle_patient"), supply, n_reps)
    mg_end, vials_end = mg.copy(), vials.copy()
    if later is not None:
        mg_end += st.sums_by_replicate(later.mg, later=True)
        vials_end += vials_by_replicate(st.later_rep(), later, n_reps)
    mg, vials, mg_end, vials_end = (x.T.copy() for x in (mg, vials, mg_end, vials_end))
    for j, drug in enumerate(setup.drugs):
        name = metric_name(drug)
        out[f"clinic_{name}_mg"] = mg[j]
        out[f"clinic_{name}_vials"] = vials[j]
    if to_end:
        for j, drug in enumerate(setup.drugs):
            name = metric_name(drug)
            out[f"clinic_{name}_mg_to_end"] = mg_end[j]
            out[f"clinic_{name}_vials_to_end"] = vials_end[j]
    return out


def vials_by_replicate(rep: np.ndarray, supply: Supply, n_reps: int) -> np.ndarray:
    """(R, drugs) vials of each drug by replicate `rep` of each cycle of `supply`."""
    per_drug = supply.vials_per_drug
    out = np.zeros((n_reps, len(per_drug)))
    for j, vials in enumerate(per_drug):
        out[:, j] = np.bincount(rep, weights=vials, minlength=n_reps)
    return out


def by_month(
    st: Stacked, setup: ClinicSetup, cells: np.ndarray, values: np.ndarray | None = None
) -> np.ndarray:
    """(R, months) sums of `values` (or 1 each) by (replicate, calendar month) `cells`
    (`Stacked.month_cells`; days past the tabulated span are dropped), each in the order of
    the entries."""
    width = setup.n_months + 1
    return (
        np.bincount(cells, weights=values, minlength=st.n_reps * width)
        .reshape(st.n_reps, width)[:, : setup.n_months]
        .astype(float)
    )


def monthly(st: Stacked, setup: ClinicSetup, daily: dict[str, DailyUse]) -> dict[str, np.ndarray]:
    """Supply (mg and vials per drug, and per vial size) and resources (use, utilization,
    waits) per calendar month of the grid, and adverse events by onset month."""
    out: dict[str, np.ndarray] = {}
    n_months = setup.n_months
    cycle_cells = st.cells_of("cycle_day", "cycle_patient")
    supply = st.supplies()
    out.update(monthly_supply(st, setup, "supply", cycle_cells, supply))
    later = st.later()
    if supply is not None and later is not None:  # to the end
        later_cells = st.month_cells(st.later_rep(), later[1])
        out.update(
            monthly_supply_to_end(
                st, setup, out, cycle_cells, supply, later_cells, st.supplies(later=True)
            )
        )
    months = setup.month_of_day[: setup.span]
    open_day = setup.open_day
    bounds = month_bounds(setup)
    capacity_days = np.bincount(months[open_day], minlength=n_months)
    for name, use in daily.items():
        used = use.open_total[:, bounds[1:]] - use.open_total[:, bounds[:-1]]
        capacity = capacity_days * use.limit
        label = "chair hours used" if name == "chair" else "linac slots used"
        scale = 60.0 if name == "chair" else 1.0
        trial = running_total(use.trial)
        out[f"resources/{label}"] = (trial[:, bounds[1:]] - trial[:, bounds[:-1]]) / scale
        out[f"resources/{name} utilization"] = np.divide(
            used, capacity, out=np.zeros(used.shape), where=capacity > 0
        )
    if setup.chair_limit:
        out["resources/infusion wait days"] = by_month(st, setup, cycle_cells, st.cat("cycle_wait"))
    if setup.linac_limit:
        out["resources/rt wait days"] = by_month(
            st, setup, st.cells_of("rt_start", "rt_patient"), st.cat("rt_wait")
        )
    if setup.safety is not None and st.has_events():
        out.update(monthly_events(st, setup))
    return out


def monthly_events(st: Stacked, setup: ClinicSetup) -> dict[str, np.ndarray]:
    """``safety/<kind> <arm>`` and ``safety/grade 3+ <arm>``: adverse events by onset month,
    one count of all the series at once (whole numbers: exact in any order)."""
    assert setup.safety is not None
    names = setup.safety.names
    events = st.events()
    onset, kind, grade, patient = events.onset_day, events.kind, events.grade, events.patient
    rep = st.patient_rep.take(patient)
    arm = st.cat("arm")[patient].astype(np.int64)
    cells = st.month_cells(rep, onset)
    series = len(names) + 1  # each kind, then grade 3+
    size = st.n_reps * (setup.n_months + 1)
    severe = grade >= 3
    codes = np.concatenate(
        [
            (arm * series + kind) * size + cells,
            (arm[severe] * series + len(names)) * size + cells[severe],
        ]
    )
    counts = (
        np.bincount(codes, minlength=2 * series * size)
        .reshape(2, series, st.n_reps, setup.n_months + 1)[..., : setup.n_months]
        .astype(float)
    )
    out: dict[str, np.ndarray] = {}
    for a, arm_name in enumerate(ARMS):
        for j, name in enumerate(names):
            out[f"safety/{name} {arm_name}"] = counts[a, j]
        out[f"safety/grade 3+ {arm_name}"] = counts[a, -1]
    return out


def monthly_supply(
    st: Stacked,
    setup: ClinicSetup,
    table: str,
    cells: np.ndarray,
    supply: Supply | None,
    mg_series: Callable[[int], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """``<table>/<drug> mg``, ``.../<drug> vials`` and, for drugs of several vial sizes,
    ``.../<drug> vials <size> mg`` by month, from what each cycle dispensed (`supply`)
    given in the (replicate, month) `cells`; nothing without doses. `mg_series(j)`, if
    given, is drug j's mg series instead. A drug's vials of several sizes are the sum of
    its sizes' series (whole numbers: the same sums as counted at once)."""
    out: dict[str, np.ndarray] = {}
    doses = st.reps[0].draws.doses
    if doses is None or supply is None:
        return out
    for j, drug in enumerate(setup.drugs):
        out[f"{table}/{drug} mg"] = (
            by_month(st, setup, cells, supply.mg[j]) if mg_series is None else mg_series(j)
        )
        sizes = doses.sizes[j]
        if len(sizes) > 1:
            by_size = [by_month(st, setup, cells, vials) for vials in supply.vials[j]]
            total = by_size[0].copy()
            for series in by_size[1:]:
                total += series
            out[f"{table}/{drug} vials"] = total
            for size, series in zip(sizes, by_size, strict=True):
                out[f"{table}/{drug} vials {size:g} mg"] = series
        else:
            out[f"{table}/{drug} vials"] = by_month(st, setup, cells, supply.vials_per_drug[j])
    return out


def monthly_supply_to_end(
    st: Stacked,
    setup: ClinicSetup,
    before: dict[str, np.ndarray],
    cells: np.ndarray,
    supply: Supply,
    later_cells: np.ndarray,
    later: Supply,
) -> dict[str, np.ndarray]:
    """``supply_to_end/...`` by month (`monthly_supply`'s series), from the series up to the
    horizon `before` and the cycles after it: each (replicate, month) adds its mg of the
    cycles up to the horizon, then those after it, in that order (a float sum); vials are
    whole numbers, the series up to the horizon plus those after it."""
    both = np.concatenate([cells, later_cells])

    def mg_to_end(j: int) -> np.ndarray:
        return by_month(st, setup, both, np.concatenate([supply.mg[j], later.mg[j]]))

    out = monthly_supply(st, setup, "supply_to_end", later_cells, later, mg_to_end)
    mg = {f"supply_to_end/{drug} mg" for drug in setup.drugs}
    for key in out:
        if key not in mg:
            out[key] = before[key.replace("supply_to_end/", "supply/", 1)] + out[key]
    return out


def deviations(st: Stacked) -> np.ndarray:
    """(R, 8): cycles late for closure, for chairs; courses late for closure, for the
    linac; each per arm."""
    cycle_group, rt_group = st.groups("cycle_patient"), st.groups("rt_patient")
    cycle_late, rt_late = st.cat("cycle_late"), st.cat("rt_late")
    return np.concatenate(
        [
            st.per_arm(cycle_group, cycle_late == LATE_CLOSURE),
            st.per_arm(cycle_group, cycle_late == LATE_CAPACITY),
            st.per_arm(rt_group, rt_late == LATE_CLOSURE),
            st.per_arm(rt_group, rt_late == LATE_CAPACITY),
        ],
        axis=1,
    )


def incidence(st: Stacked, setup: ClinicSetup, scenario: Scenario) -> dict[str, np.ndarray]:
    """Per arm: patients with an event (any grade, grade >= 3) of each kind and of any kind
    (``ae_patients_<kind>_<any|grade3plus>_<arm>``), the same over the treated patients
    (``ae_incidence_...``), events (``ae_events_<arm>``), the treated
    (``ae_treated_<arm>``), and whether at least k patients had a `watch` event
    (``ae_at_least_<k>_<watch>``)."""
    safety = scenario.safety
    assert safety is not None and setup.safety is not None
    names = setup.safety.names
    events = st.events()  # (their order does not matter: counts of whole numbers)
    patient, kind, grade = events.patient, events.kind, events.grade
    n = len(st.patient_group)
    kinds = [*names, "all"]
    flags = np.zeros((len(kinds), 2, n), dtype=bool)  # (kind, any/grade3plus, patient)
    for j in range(len(names)):
        mine = kind == j
        flags[j, 0, patient[mine]] = True
        flags[j, 1, patient[mine & (grade >= 3)]] = True
    flags[-1] = flags[:-1].any(axis=0)
    treated = np.zeros(n, dtype=bool)
    treated[st.global_patients("cycle_patient")] = True
    treated_n = st.per_arm(st.patient_group, treated)
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(kinds):
        label = metric_label(name)
        for g, grade_name in enumerate(("any", "grade3plus")):
            counts = st.per_arm(st.patient_group, flags[j, g])
            share = np.divide(
                counts, treated_n, out=np.full(counts.shape, np.nan), where=treated_n > 0
            )
            for a, arm in enumerate(ARMS):
                out[f"ae_patients_{label}_{grade_name}_{arm}"] = counts[:, a]
                out[f"ae_incidence_{label}_{grade_name}_{arm}"] = share[:, a]
    per_event = st.per_arm(st.patient_group.take(patient))
    for a, arm in enumerate(ARMS):
        out[f"ae_events_{arm}"] = per_event[:, a].astype(float)
        out[f"ae_treated_{arm}"] = treated_n[:, a]
    if safety.watch is not None:
        total = np.bincount(
            st.patient_rep, weights=flags[names.index(safety.watch), 0], minlength=st.n_reps
        )
        for k in safety.at_least:
            out[f"ae_at_least_{k}_{metric_label(safety.watch)}"] = (total >= k).astype(float)
    return out
