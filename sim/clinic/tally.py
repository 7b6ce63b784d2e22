"""What the clinic's replicates add up to: per-arm counts, trial-wide figures, monthly
series and protocol deviations, tabulated for a whole chunk of replicates at once.

Each replicate's SimPy run leaves its patients' records (`sim.clinic.records.PatientCourse`);
`ReplicateRecords` flattens them into arrays as soon as the replicate ends (one entry per
cycle given, per course started, per fraction), and `tally_replicates` turns the arrays of
all the replicates of a chunk into tables with one row per replicate: a bincount by
(replicate, arm) or (replicate, month) per figure, instead of a few hundred small array
operations per replicate. Sums whose order matters in floating point (milligrams) are still
taken replicate by replicate; every other sum is of whole numbers, exact in any order, so
the tables are those a replicate-by-replicate tally gives, to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.clinic.capacity import DayBook, SessionBook
from sim.clinic.inputs import ARMS, ClinicDraws, ClinicSetup, metric_name
from sim.clinic.records import CourseArrays, PatientCourse
from sim.clinic.safety import AeDraws, Consequences, EventTable, metric_label, realized_events
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
DEVIATIONS = ("cycle_late_closure", "cycle_late_chairs", "rt_late_closure", "rt_late_linac")


class ReplicateRecords:
    """One replicate's records as flat arrays (row `rep` of `draws`; `end` the horizon day,
    capped at the tabulated span): `arrays`, from the SimPy run's `records`
    (`sim.clinic.records.flatten_records`) or from the schedule on the calendar alone
    (`sim.clinic.schedule`, `records` None). `records` is kept for the patient table and
    dropped (None) once a chunk no longer needs it."""

    def __init__(self, scenario: Scenario, setup: ClinicSetup, draws: ClinicDraws, rep: int,
                 arrays: CourseArrays, records: list[PatientCourse] | None, arm: np.ndarray,
                 strata: np.ndarray, courses: np.ndarray, pneumonitis: np.ndarray,
                 end: float) -> None:
        self.scenario, self.setup, self.draws, self.rep = scenario, setup, draws, rep
        self.records: list[PatientCourse] | None = records
        self.arm, self.strata = np.asarray(arm), strata
        self.courses, self.pneumonitis = courses, pneumonitis
        self.end = min(end, setup.span)
        self.n = len(self.arm)
        a = arrays
        self.cycle_patient, self.cycle_index, self.cycle_day = (
            a.cycle_patient, a.cycle_index, a.cycle_day)
        self.cycle_level, self.cycle_wait, self.cycle_late = (
            a.cycle_level, a.cycle_wait, a.cycle_late)
        self.cycle_delayed = a.cycle_delayed
        self.rt_patient, self.rt_start, self.rt_wait, self.rt_late = (
            a.rt_patient, a.rt_start, a.rt_wait, a.rt_late)
        self.fraction_patient, self.fraction_day = a.fraction_patient, a.fraction_day
        self.phase = (self.cycle_index >= setup.rules.induction_cycles).astype(np.int64)
        self.cycle_arm = self.arm[self.cycle_patient]
        self.rt_arm = self.arm[self.rt_patient]
        self.fraction_arm = self.arm[self.fraction_patient]
        self.completed, self.toxicity_end = a.completed, a.toxicity_end
        self.events: EventTable | None = None
        # the cycles given after the horizon (a run's treatment to its end), or None
        self.later: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = a.later
        self.supplies: dict[bool, tuple[np.ndarray, np.ndarray] | None] = {}  # supply()'s

    def add_events(self, plan: Consequences, ae: AeDraws, stop_day: np.ndarray) -> None:
        """The adverse events that happened (`sim.clinic.safety.realized_events`)."""
        n, k = self.n, self.setup.rules.max_cycles
        cycle_days = np.full((n, k), np.nan)
        cycle_days[self.cycle_patient, self.cycle_index] = self.cycle_day
        c = ae.course.shape[1]
        rt_starts = np.full((n, c), np.nan)
        if len(self.rt_patient) and c:
            counts = np.bincount(self.rt_patient, minlength=n)
            first = np.cumsum(counts) - counts
            index = np.arange(len(self.rt_patient)) - first[self.rt_patient]
            inside = index < c
            rt_starts[self.rt_patient[inside], index[inside]] = self.rt_start[inside]
        rt = self.setup.rt_rules
        self.events = realized_events(
            plan, ae, cycle_days, rt_starts, stop_day, self.end, self.setup.rules.cycle_days,
            rt.interval_days if rt is not None else 0, rt.days_per_course if rt else 1)

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
        return bg[self.rep].sum(axis=1) if bg is not None else np.zeros(self.setup.span)

    # --- the replicate's patient table ----------------------------------------------------

    def patient_frame(self) -> pd.DataFrame:
        """One row per patient; the dates of cycles and fractions as list columns."""
        records, rep = self.records, self.rep
        assert records is not None, "the records were dropped"
        frame: dict[str, object] = {"patient": [r.patient for r in records]}
        cycle_lists = [r.cycle_lists() for r in records]
        c = self.draws.covariates
        if c is not None:
            frame.update(age=c.age[rep], male=c.male[rep], height_cm=c.height_cm[rep],
                         weight_kg=c.weight_kg[rep], creatinine_mg_dl=c.creatinine_mg_dl[rep])
        doses = self.draws.doses
        if doses is not None:
            frame.update(bsa_m2=doses.bsa_m2[rep], crcl_ml_min=doses.crcl_ml_min[rep],
                         calvert_gfr_ml_min=doses.calvert_gfr_ml_min[rep])
            for j, drug in enumerate(doses.drugs):
                frame[f"dose_{metric_name(drug)}_mg"] = doses.mg[rep, :, j, 0]
        frame.update({
            **{name: [lists[name] for lists in cycle_lists]
               for name in PatientCourse.CYCLE_FIELDS},
            "rt_fraction_clocks": [r.rt_fractions for r in records],
            "rt_starts": [r.rt_starts for r in records],
            "rt_waits": [r.rt_waits for r in records],
            "rt_late": [r.rt_late for r in records],
            "rt_courses_completed": [r.rt_courses_completed for r in records],
            "rt_pneumonitis": (self.pneumonitis > 0) & (self.completed >= self.pneumonitis),
            "treatment_end": [r.end_reason for r in records],
        })
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
        out: dict[str, list] = {"ae_categories": [], "ae_grades": [], "ae_onset_days": [],
                                "ae_sources": []}
        for i in range(n):
            sel = order[bounds[i]:bounds[i + 1]]
            out["ae_categories"].append(names[ev.kind[sel]].tolist())
            out["ae_grades"].append(ev.grade[sel].tolist())
            out["ae_onset_days"].append(ev.onset_day[sel].tolist())
            out["ae_sources"].append(ev.source[sel].tolist())
        return out


def books(chairs: DayBook | None, linac: SessionBook | None) -> dict[str, tuple[np.ndarray, int]]:
    """Each resource's per-day use (background included) and its limit, for checks."""
    out = {}
    if chairs is not None:
        out["chairs"] = (np.asarray(chairs.used), chairs.limit)
    if linac is not None:
        for s, book in enumerate(linac.sessions):
            out[f"linac session {s}"] = (np.asarray(book.used), book.limit)
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
        return cls({k: np.concatenate([p.summary[k] for p in parts]) for k in first.summary},
                   {k: np.concatenate([p.monthly[k] for p in parts]) for k in first.monthly},
                   np.concatenate([p.deviations for p in parts]))

    def deviation_frame(self) -> pd.DataFrame:
        """The deviations as rows (arm, what, count), replicate by replicate."""
        n_reps = len(self.deviations)
        return pd.DataFrame({
            "arm": [arm for _ in range(n_reps) for _ in DEVIATIONS for arm in ARMS],
            "what": [kind for _ in range(n_reps) for kind in DEVIATIONS for _ in ARMS],
            "count": self.deviations.reshape(-1).astype(float),
        })


class Stacked:
    """The flat arrays of a chunk's replicates end to end, with group codes: (replicate,
    arm) as 2 r + arm, patients numbered across replicates."""

    def __init__(self, reps: list[ReplicateRecords]) -> None:
        self.reps = reps
        self.n_reps = len(reps)
        self.built: dict[tuple[str, str], np.ndarray] = {}
        sizes = np.asarray([r.n for r in reps], dtype=np.int64)
        self.patient_offset = np.cumsum(sizes) - sizes
        self.patient_rep = np.repeat(np.arange(self.n_reps), sizes)
        self.patient_group = 2 * self.patient_rep + self.cat("arm")

    def cat(self, name: str) -> np.ndarray:
        """The flat array `name` of every replicate, end to end (built once)."""
        return self.once(("cat", name), lambda: np.concatenate(
            [getattr(r, name) for r in self.reps]))

    def rep_of(self, name: str) -> np.ndarray:
        """The replicate of each entry of the flat array `name`."""
        return self.once(("rep", name), lambda: np.repeat(
            np.arange(self.n_reps), [len(getattr(r, name)) for r in self.reps]))

    def groups(self, patient_name: str) -> np.ndarray:
        """(replicate, arm) codes of the entries of a flat array indexed by `patient_name`."""
        return self.once(("groups", patient_name),
                         lambda: self.patient_group[self.global_patients(patient_name)])

    def global_patients(self, patient_name: str) -> np.ndarray:
        return self.once(("patients", patient_name), lambda: np.concatenate(
            [r_off + getattr(r, patient_name)
             for r, r_off in zip(self.reps, self.patient_offset, strict=True)]))

    def once(self, key: tuple[str, str], build) -> np.ndarray:
        """Each stacked array is built once per tally, however many figures read it."""
        if key not in self.built:
            self.built[key] = build()
        return self.built[key]

    def per_arm(self, groups: np.ndarray, values=None) -> np.ndarray:
        """(R, 2) sums of `values` (or 1 each) by (replicate, arm)."""
        return np.bincount(groups, weights=values, minlength=2 * self.n_reps).reshape(-1, 2)


def tally_replicates(reps: list[ReplicateRecords]) -> ClinicTables:
    """The clinic tables of a chunk's replicates (all of one scenario), one row each."""
    st = Stacked(reps)
    setup, scenario = reps[0].setup, reps[0].scenario
    summary = per_arm_counts(st, scenario, setup)
    daily = daily_use(st, setup)
    summary.update(trial_figures(st, setup, daily))
    if setup.safety is not None and all(r.events is not None for r in reps):
        summary.update(incidence(st, setup, scenario))
    return ClinicTables(summary, monthly(st, setup, daily), deviations(st))


def per_arm_counts(st: Stacked, scenario: Scenario, setup: ClinicSetup) -> dict[str, np.ndarray]:
    """``<metric>_<arm>`` for every metric in METRICS and arm in ARMS."""
    rt = scenario.radiotherapy
    dose = rt.dose_per_fraction_gy if rt is not None else 0.0
    cycle_group, rt_group = st.groups("cycle_patient"), st.groups("rt_patient")
    patient_group = st.patient_group
    fractions = st.per_arm(st.groups("fraction_patient"))
    levels_reached = np.zeros(len(patient_group))
    np.maximum.at(levels_reached, st.global_patients("cycle_patient"), st.cat("cycle_level"))
    started = np.zeros(len(patient_group), dtype=bool)
    started[st.global_patients("fraction_patient")] = True
    courses, pneumonitis, completed = st.cat("courses"), st.cat("pneumonitis"), st.cat("completed")
    had_pneumonitis = (pneumonitis > 0) & (completed >= pneumonitis)
    early = ((courses > 0) & (courses < setup.courses) & (pneumonitis == 0)
             & (completed == courses))
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
    return {f"{metric}_{arm}": per_arm[metric][:, a].astype(float)
            for metric in METRICS for a, arm in enumerate(ARMS)}


def daily_use(st: Stacked, setup: ClinicSetup) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Per resource: (trial use per day (R, span), background per day (R, span), daily
    capacity) over the tabulated days; capacity counts all sessions of the linac."""
    span, n_reps, out = setup.span, st.n_reps, {}
    if setup.chair_limit:
        day, rep = st.cat("cycle_day"), st.rep_of("cycle_day")
        minutes = np.concatenate([r.chair_minutes() for r in st.reps])
        inside = day < span
        trial = np.bincount(rep[inside] * span + day[inside], weights=minutes[inside],
                            minlength=n_reps * span).reshape(n_reps, span)
        out["chair"] = (trial, np.stack([r.background("chair") for r in st.reps]),
                        setup.chair_limit)
    if setup.linac_limit:
        day, rep = st.cat("fraction_day"), st.rep_of("fraction_day")
        inside = day < span
        trial = np.bincount(rep[inside] * span + day[inside],
                            minlength=n_reps * span).reshape(n_reps, span).astype(float)
        out["linac"] = (trial, np.stack([r.background("linac") for r in st.reps]),
                        setup.linac_limit * setup.n_sessions)
    return out


def trial_figures(st: Stacked, setup: ClinicSetup, daily: dict) -> dict[str, np.ndarray]:
    """Utilization of chairs and linac over the open days before the horizon, and at the
    busiest month; mg and vials of each drug."""
    n_reps, span, n_months, out = st.n_reps, setup.span, setup.n_months, {}
    months = setup.month_of_day[:span]
    ends = np.asarray([r.end for r in st.reps], dtype=float)
    before = np.arange(span)[None, :] < ends[:, None]  # (R, span)
    cells = np.arange(n_reps)[:, None] * n_months + months[None, :]
    for name, (trial, bg, limit) in daily.items():
        used = np.where(setup.open_day, trial + bg, 0.0)
        capacity = np.where(setup.open_day, limit, 0)
        total_cap = (capacity * before).sum(axis=1)
        used_before = (used * before).sum(axis=1)
        out[f"clinic_{name}_utilization"] = np.divide(
            used_before, total_cap, out=np.zeros(n_reps), where=total_cap > 0)
        mask = before & setup.open_day
        by_month = np.bincount(cells[mask], weights=used[mask],
                               minlength=n_reps * n_months).reshape(n_reps, n_months)
        cap_month = np.bincount(cells[mask], weights=np.broadcast_to(capacity, mask.shape)[mask],
                                minlength=n_reps * n_months).reshape(n_reps, n_months)
        share = np.divide(by_month, cap_month, out=np.zeros(by_month.shape), where=cap_month > 0)
        out[f"clinic_{name}_utilization_peak_month"] = share.max(axis=1, initial=0.0)
    supplies = [r.supply() for r in st.reps]
    for j, drug in enumerate(setup.drugs):
        mg = np.zeros(n_reps)
        vials = np.zeros(n_reps)
        for i, supply in enumerate(supplies):
            if supply is not None:  # per replicate: the order of a float sum matters
                mg[i], vials[i] = supply[0][:, j].sum(), supply[1][:, j].sum()
        out[f"clinic_{metric_name(drug)}_mg"] = mg
        out[f"clinic_{metric_name(drug)}_vials"] = vials
    if all(r.later is not None for r in st.reps):
        more = [r.supply(later=True) for r in st.reps]
        for j, drug in enumerate(setup.drugs):
            name = metric_name(drug)
            mg, vials = out[f"clinic_{name}_mg"].copy(), out[f"clinic_{name}_vials"].copy()
            for i, supply in enumerate(more):
                if supply is not None:
                    mg[i] += supply[0][:, j].sum()
                    vials[i] += supply[1][:, j].sum()
            out[f"clinic_{name}_mg_to_end"] = mg
            out[f"clinic_{name}_vials_to_end"] = vials
    return out


def by_month(st: Stacked, setup: ClinicSetup, rep: np.ndarray, days: np.ndarray,
             values: np.ndarray | None = None) -> np.ndarray:
    """(R, months) sums of `values` (or 1 each) by replicate and calendar month of `days`
    (days past the tabulated span are dropped)."""
    width = setup.n_months + 1
    months = setup.month_of_day[np.minimum(days, setup.span)]
    return np.bincount(rep * width + months, weights=values, minlength=st.n_reps * width
                       ).reshape(st.n_reps, width)[:, : setup.n_months].astype(float)


def monthly(st: Stacked, setup: ClinicSetup, daily: dict) -> dict[str, np.ndarray]:
    """Supply (mg and vials per drug, and per vial size) and resources (use, utilization,
    waits) per calendar month of the grid, and adverse events by onset month."""
    out: dict[str, np.ndarray] = {}
    n_reps, n_months = st.n_reps, setup.n_months
    cycle_day, cycle_rep = st.cat("cycle_day"), st.rep_of("cycle_day")
    out.update(monthly_supply(st, setup, "supply", cycle_rep, cycle_day,
                              [r.supply() for r in st.reps]))
    if all(r.later is not None for r in st.reps):  # to the end of treatment
        days = [np.concatenate([r.cycle_day, r.later[1]]) for r in st.reps]
        rep = np.repeat(np.arange(n_reps), [len(d) for d in days])
        supplies = []
        for r in st.reps:
            a, b = r.supply(), r.supply(later=True)
            supplies.append(None if a is None or b is None else
                            (np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])))
        out.update(monthly_supply(st, setup, "supply_to_end", rep, np.concatenate(days),
                                  supplies))
    months = setup.month_of_day[: setup.span]
    open_day = setup.open_day
    cells = np.arange(n_reps)[:, None] * n_months + months[None, :]
    for name, (trial, bg, limit) in daily.items():
        used = np.bincount(cells[:, open_day].ravel(), weights=(trial + bg)[:, open_day].ravel(),
                           minlength=n_reps * n_months).reshape(n_reps, n_months)
        capacity = np.bincount(months[open_day], minlength=n_months) * limit
        label = "chair hours used" if name == "chair" else "linac slots used"
        scale = 60.0 if name == "chair" else 1.0
        out[f"resources/{label}"] = np.bincount(
            cells.ravel(), weights=trial.ravel(), minlength=n_reps * n_months
        ).reshape(n_reps, n_months) / scale
        out[f"resources/{name} utilization"] = np.divide(
            used, capacity, out=np.zeros(used.shape), where=capacity > 0)
    if setup.chair_limit:
        out["resources/infusion wait days"] = by_month(st, setup, cycle_rep, cycle_day,
                                                       st.cat("cycle_wait"))
    if setup.linac_limit:
        out["resources/rt wait days"] = by_month(st, setup, st.rep_of("rt_start"),
                                                 st.cat("rt_start"), st.cat("rt_wait"))
    if setup.safety is not None and all(r.events is not None for r in st.reps):
        events = [r.events for r in st.reps]
        rep = np.repeat(np.arange(n_reps), [len(ev) for ev in events])
        onset = np.concatenate([ev.onset_day for ev in events])
        kind = np.concatenate([ev.kind for ev in events])
        grade = np.concatenate([ev.grade for ev in events])
        ev_arm = np.concatenate([r.arm[ev.patient] for r, ev in zip(st.reps, events,
                                                                     strict=True)])
        for a, arm in enumerate(ARMS):
            mine = ev_arm == a
            for j, name in enumerate(setup.safety.names):
                sel = mine & (kind == j)
                out[f"safety/{name} {arm}"] = by_month(st, setup, rep[sel], onset[sel])
            sel = mine & (grade >= 3)
            out[f"safety/grade 3+ {arm}"] = by_month(st, setup, rep[sel], onset[sel])
    return out


def monthly_supply(st: Stacked, setup: ClinicSetup, table: str, rep: np.ndarray,
                   days: np.ndarray, supplies: list) -> dict[str, np.ndarray]:
    """``<table>/<drug> mg``, ``.../<drug> vials`` and, for drugs of several vial sizes,
    ``.../<drug> vials <size> mg`` by month, from each replicate's (mg, vials) per cycle
    (`ReplicateRecords.supply`) given on `days` (`rep`: their replicates)."""
    out: dict[str, np.ndarray] = {}
    doses = st.reps[0].draws.doses
    if doses is None or any(s is None for s in supplies):
        return out
    mg = np.concatenate([s[0] for s in supplies])
    vials = np.concatenate([s[1] for s in supplies])
    for j, drug in enumerate(setup.drugs):
        out[f"{table}/{drug} mg"] = by_month(st, setup, rep, days, mg[:, j])
        out[f"{table}/{drug} vials"] = by_month(st, setup, rep, days, vials[:, j].sum(axis=1))
        sizes = doses.sizes[j]
        if len(sizes) > 1:
            for s, size in enumerate(sizes):
                out[f"{table}/{drug} vials {size:g} mg"] = by_month(st, setup, rep, days,
                                                                    vials[:, j, s])
    return out


def deviations(st: Stacked) -> np.ndarray:
    """(R, 8): cycles late for closure, for chairs; courses late for closure, for the
    linac; each per arm."""
    cycle_group, rt_group = st.groups("cycle_patient"), st.groups("rt_patient")
    cycle_late, rt_late = st.cat("cycle_late"), st.cat("rt_late")
    return np.concatenate([
        st.per_arm(cycle_group, cycle_late == LATE_CLOSURE),
        st.per_arm(cycle_group, cycle_late == LATE_CAPACITY),
        st.per_arm(rt_group, rt_late == LATE_CLOSURE),
        st.per_arm(rt_group, rt_late == LATE_CAPACITY),
    ], axis=1)


def incidence(st: Stacked, setup: ClinicSetup, scenario: Scenario) -> dict[str, np.ndarray]:
    """Per arm: patients with an event (any grade, grade >= 3) of each kind and of any kind
    (``ae_patients_<kind>_<any|grade3plus>_<arm>``), the same over the treated patients
    (``ae_incidence_...``), events (``ae_events_<arm>``), the treated
    (``ae_treated_<arm>``), and whether at least k patients had a `watch` event
    (``ae_at_least_<k>_<watch>``)."""
    safety = scenario.safety
    assert safety is not None and setup.safety is not None
    names = setup.safety.names
    events = [r.events for r in st.reps]
    patient = np.concatenate([off + ev.patient for off, ev
                              in zip(st.patient_offset, events, strict=True)])
    kind = np.concatenate([ev.kind for ev in events])
    grade = np.concatenate([ev.grade for ev in events])
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
            share = np.divide(counts, treated_n, out=np.full(counts.shape, np.nan),
                              where=treated_n > 0)
            for a, arm in enumerate(ARMS):
                out[f"ae_patients_{label}_{grade_name}_{arm}"] = counts[:, a]
                out[f"ae_incidence_{label}_{grade_name}_{arm}"] = share[:, a]
    per_event = st.per_arm(st.patient_group[patient])
    for a, arm in enumerate(ARMS):
        out[f"ae_events_{arm}"] = per_event[:, a].astype(float)
        out[f"ae_treated_{arm}"] = treated_n[:, a]
    if safety.watch is not None:
        total = np.bincount(st.patient_rep, weights=flags[names.index(safety.watch), 0],
                            minlength=st.n_reps)
        for k in safety.at_least:
            out[f"ae_at_least_{k}_{metric_label(safety.watch)}"] = (total >= k).astype(float)
    return out
