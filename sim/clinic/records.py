"""What one patient received in the clinic: the record the SimPy processes fill in; and what
all the patients of a replicate received, as flat arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import eq
from struct import pack_into

import numpy as np


@dataclass(slots=True, init=False)
class PatientCourse:
    """What one patient received, filled in by the processes while a replicate runs.

    Mutable because the processes append to it; the frozen outputs are the summary and the
    patient table built from it at the end of the replicate (`sim.clinic.model`). What a
    cycle's plan fixes (whether it is delayed, its dose level) and a Quad Shot day fixes
    (its fractions' hours) is not repeated per cycle and per fraction: the record keeps the
    plan it follows (`follow`), the days, and the few cycles that waited or came late.
    """

    patient: int
    cycles: list[int] = field(default_factory=list)  # clinic day of each cycle given
    # (0-based cycle, days waited for a chair, LATE_ cause) of the cycles booked that waited
    # or came late; entries for cycles not given (past `cycles`) do not count
    cycle_exceptions: list[tuple[int, int, int]] = field(default_factory=list)
    rt_days: list[int] = field(default_factory=list)  # each day a course's fractions were given
    rt_starts: list[int] = field(default_factory=list)  # first day of each course started
    rt_waits: list[int] = field(default_factory=list)  # days each course waited for the linac
    rt_late: list[int] = field(default_factory=list)  # IN_WINDOW or a LATE_ cause
    rt_courses_completed: int = 0
    end_reason: str | None = None  # a stop code, "toxicity", "max_cycles"; None = still on
    delayed: Sequence[bool] = ()  # the plan: each cycle delayed (entry 0 ignored)
    levels: Sequence[int] = ()  # and its dose level (0 full); lists or arrays
    fraction_offsets: Sequence[float] = ()  # fraction hours / 24 of a Quad Shot day

    CYCLE_FIELDS = ("cycle_days", "cycle_delayed", "cycle_levels", "cycle_waits", "cycle_late")

    def __init__(self, patient: int) -> None:
        # written out: a replicate makes one per patient, and the generated __init__ calls
        # a default factory per list
        self.patient = patient
        self.cycles, self.cycle_exceptions, self.rt_days = [], [], []
        self.rt_starts, self.rt_waits, self.rt_late = [], [], []
        self.rt_courses_completed, self.end_reason = 0, None
        self.delayed, self.levels, self.fraction_offsets = (), (), ()

    def cycle_lists(self) -> dict[str, list]:
        """The cycles given, one list per field (`CYCLE_FIELDS`)."""
        n = len(self.cycles)
        waits, late = [0] * n, [0] * n
        for k, wait, cause in self.cycle_exceptions:
            if k < n:
                waits[k], late[k] = wait, cause
        delayed = np.asarray(self.delayed[:n], dtype=bool).tolist()
        return {
            "cycle_days": list(self.cycles),
            "cycle_delayed": [delayed[k] if k else False for k in range(n)],
            "cycle_levels": np.asarray(self.levels[:n], dtype=np.int64).tolist(),
            "cycle_waits": waits,
            "cycle_late": late,
        }

    @property
    def rt_fractions(self) -> list[float]:
        """The clock time of each fraction given."""
        return [day + offset for day in self.rt_days for offset in self.fraction_offsets]

    def cut_back(self, mark: tuple[int, int, int, int, str | None]) -> None:
        """Back to where it stood at `mark` (its entries of `mark_records`)."""
        cycles, rt_days, starts, completed, end_reason = mark
        del self.cycles[cycles:]
        del self.rt_days[rt_days:]
        del self.rt_starts[starts:]
        del self.rt_waits[starts:]
        del self.rt_late[starts:]
        self.rt_courses_completed, self.end_reason = completed, end_reason


@dataclass
class CourseArrays:
    """One replicate's records as flat arrays, patient by patient and in time order within
    a patient (`sim.clinic.tally.ReplicateRecords` holds them): the cycles given (patient,
    0-based index, day, dose level, days waited, lateness, delayed), the courses started
    (patient, start day, days waited, lateness), the fractions (patient, day), per patient
    the courses completed and whether systemic treatment ended for toxicity, and the
    cycles given after the horizon ((patient, day, level, index), or None)."""

    cycle_patient: np.ndarray
    cycle_index: np.ndarray
    cycle_day: np.ndarray
    cycle_level: np.ndarray
    cycle_wait: np.ndarray
    cycle_late: np.ndarray
    cycle_delayed: np.ndarray
    rt_patient: np.ndarray
    rt_start: np.ndarray
    rt_wait: np.ndarray
    rt_late: np.ndarray
    fraction_patient: np.ndarray
    fraction_day: np.ndarray
    completed: np.ndarray
    toxicity_end: np.ndarray
    later: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None


Marks = tuple[list[int], list[int], list[int], list[int], list[str | None]]
"""Where each of a replicate's records stands (`mark_records`), what `PatientCourse.cut_back`
returns it to: per record, the cycles given, the Quad Shot days given, the courses started,
the courses completed and the end reason."""


def mark_records(records: list[PatientCourse]) -> Marks:
    """Where each record stands now (`Marks`), column by column (comprehensions: a slot
    read in one is specialized, an `attrgetter` call is not)."""
    return (
        [len(record.cycles) for record in records],
        [len(record.rt_days) for record in records],
        [len(record.rt_starts) for record in records],
        [record.rt_courses_completed for record in records],
        [record.end_reason for record in records],
    )


def as_int64(values: list[int]) -> np.ndarray:
    """`values` (Python ints) as an int64 array, packed by `struct` in one call: about half
    the cost per number of `np.fromiter` or `np.asarray` of the list."""
    out = bytearray(8 * len(values))
    pack_into(f"{len(values)}q", out, 0, *values)
    return np.frombuffer(out, dtype=np.int64)


@dataclass(frozen=True)
class PackedRecords:
    """One replicate's records as they leave its run (`pack_records`): every number of them
    in one int64 array, `values`, and what it takes to read it, decoded for a whole batch of
    replicates at once (`unpack_records`).

    `values`: per patient (`n` of them) nine columns, the lengths of its lists of cycles
    given, courses started, Quad Shot days given and cycle exceptions, where each stood at
    the horizon (cycles, days, courses: their marks, or their lengths without marks), the
    courses completed and whether systemic treatment ended for toxicity (1); then the lists'
    items field by field, patient by patient: the cycles' days (`total`), the courses'
    starts, waits and lateness (`n_starts` each), the days (`n_days`), the exceptions'
    triples. `delayed`, `levels` (n, max_cycles): the plan the cycles followed; `per_day`
    the fractions of a Quad Shot day; `later` whether the cycles after the horizon are kept
    apart (`CourseArrays.later`)."""

    values: np.ndarray
    n: int
    total: int
    n_starts: int
    n_days: int
    per_day: int
    later: bool
    delayed: np.ndarray
    levels: np.ndarray


def pack_records(
    records: list[PatientCourse],
    delayed: np.ndarray,
    levels: np.ndarray,
    marks: Marks | None = None,
    to_end: bool = False,
) -> PackedRecords:
    """The patients' records as `PackedRecords`, with the plan they followed (`delayed`,
    `levels`: (n, max_cycles), as `PatientCourse.follow`). With `marks` (`mark_records` at
    the horizon, the records having gone on past it), what came after the marks is kept
    apart as the cycles after the horizon (`later`); without, nothing came after the
    horizon, and `later` is empty with `to_end`, else None.

    Every number crosses into numpy in one `as_int64`; the rest (patients numbered, the
    marks applied, the plan gathered) is `unpack_records`, for many replicates at once."""
    n = len(records)
    cycles = [record.cycles for record in records]  # (as in `mark_records`)
    rt_starts = [record.rt_starts for record in records]
    rt_day_lists = [record.rt_days for record in records]
    exception_lists = [record.cycle_exceptions for record in records]
    flat = list(map(len, cycles))
    flat += map(len, rt_starts)
    flat += map(len, rt_day_lists)
    flat += map(len, exception_lists)
    if marks is None:  # each record stands where it ends
        flat += flat[:n]
        flat += flat[2 * n : 3 * n]
        flat += flat[n : 2 * n]
        flat += [record.rt_courses_completed for record in records]
        reasons: list[str | None] = [record.end_reason for record in records]
    else:
        for column in marks[:4]:
            flat += column
        reasons = marks[4]
    flat += map(eq, reasons, repeat("toxicity"))
    head = len(flat)
    for items in cycles:
        flat += items
    total = len(flat) - head
    for items in rt_starts:
        flat += items
    for record in records:
        flat += record.rt_waits
    for record in records:
        flat += record.rt_late
    n_starts = (len(flat) - head - total) // 3
    for items in rt_day_lists:
        flat += items
    n_days = len(flat) - head - total - 3 * n_starts
    flat += chain.from_iterable(chain.from_iterable(exception_lists))
    return PackedRecords(
        values=as_int64(flat),
        n=n,
        total=total,
        n_starts=n_starts,
        n_days=n_days,
        per_day=len(records[0].fraction_offsets) if n else 0,  # the same in every record
        later=marks is not None or to_end,
        delayed=delayed,
        levels=levels,
    )


def unpack_records(packs: Sequence[PackedRecords]) -> CourseArrays:
    """The records of `packs` (replicates of one scenario) as one `CourseArrays`, the
    replicates end to end and their patients numbered across them (replicate i's patients
    after the `n` of the ones before it): one array call per figure for all of them, and
    for one pack its own arrays. The cycles and courses after a pack's marks are dropped,
    and the cycles kept apart as `later` when every pack keeps them (else None)."""
    heads, cycle_days, rt_columns, rt_days, exception_lists = [], [], [], [], []
    for pack in packs:
        values, n = pack.values, pack.n
        at = 9 * n
        heads.append(values[:at].reshape(9, n))
        cycle_days.append(values[at : at + pack.total])
        at += pack.total
        rt_columns.append(values[at : at + 3 * pack.n_starts].reshape(3, pack.n_starts))
        at += 3 * pack.n_starts
        rt_days.append(values[at : at + pack.n_days])
        exception_lists.append(values[at + pack.n_days :])
    (
        counts,
        starts,
        day_counts,
        exception_counts,
        mark_cycles,
        mark_days,
        mark_starts,
        completed,
        toxic,
    ) = joined(heads, axis=1)
    cycle_day, rt_start, rt_wait, rt_late = joined(cycle_days), *joined(rt_columns, axis=1)
    fraction_day, exceptions = joined(rt_days), joined(exception_lists).reshape(-1, 3)
    levels = joined([pack.levels for pack in packs])
    delayed = joined([pack.delayed for pack in packs])
    patients = np.arange(len(counts))
    cycle_patient, cycle_index = patients.repeat(counts), positions(counts)
    rt_patient = patients.repeat(starts)
    rt_day_patient = patients.repeat(day_counts)
    before = cycle_index < mark_cycles[cycle_patient]
    later = None
    if all(pack.later for pack in packs):
        after = ~before
        later_patient, later_index = cycle_patient[after], cycle_index[after]
        later = (later_patient, cycle_day[after], levels[later_patient, later_index], later_index)
    cycle_day, cycle_patient, cycle_index = (
        cycle_day[before],
        cycle_patient[before],
        cycle_index[before],
    )
    kept = positions(starts) < mark_starts[rt_patient]
    rt_patient, rt_start, rt_wait, rt_late = (
        rt_patient[kept],
        rt_start[kept],
        rt_wait[kept],
        rt_late[kept],
    )
    given = positions(day_counts) < mark_days[rt_day_patient]
    rt_day_patient, fraction_day = rt_day_patient[given], fraction_day[given]
    cycle_wait, cycle_late = cycle_exceptions(
        exceptions, exception_counts, mark_cycles, len(cycle_day)
    )
    per_day = max((pack.per_day for pack in packs), default=0)
    return CourseArrays(
        cycle_patient=cycle_patient,
        cycle_index=cycle_index,  # 0-based cycle k - 1
        cycle_day=cycle_day,
        cycle_level=levels[cycle_patient, cycle_index],
        cycle_wait=cycle_wait,
        cycle_late=cycle_late,
        cycle_delayed=(delayed[cycle_patient, cycle_index] & (cycle_index > 0)).astype(np.int64),
        rt_patient=rt_patient,
        rt_start=rt_start,
        rt_wait=rt_wait,
        rt_late=rt_late,
        fraction_patient=rt_day_patient.repeat(per_day),
        fraction_day=fraction_day.repeat(per_day),
        completed=completed,
        toxicity_end=toxic.astype(bool),
        later=later,
    )


def joined(parts: list[np.ndarray], axis: int = 0) -> np.ndarray:
    """`parts` end to end along `axis` (the one part itself, not a copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


def cycle_exceptions(
    entries: np.ndarray, counts: np.ndarray, given: np.ndarray, total: int
) -> tuple[np.ndarray, np.ndarray]:
    """(days waited, lateness) of each of the `total` cycles given, patient by patient, the
    first `given[i]` cycles of patient i: zero but for the records' `cycle_exceptions`,
    `entries` (m, 3) of them patient by patient, `counts[i]` patient i's."""
    wait, late = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.int64)
    if len(entries):
        patient = np.arange(len(counts)).repeat(counts)
        k = entries[:, 0]
        counted = k < given[patient]  # entries for cycles not given do not count
        at = (np.cumsum(given) - given)[patient[counted]] + k[counted]
        wait[at], late[at] = entries[counted, 1], entries[counted, 2]
    return wait, late


def positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., counts[0] - 1, 0, 1, ..., counts[1] - 1, ...: each item's place in its
    group, for groups of `counts` items laid end to end."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
