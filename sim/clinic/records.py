"""What one patient received in the clinic: the record the SimPy processes fill in; and what
all the patients of a replicate received, as flat arrays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def is_toxicity(reasons: Iterable[str | None], n: int) -> np.ndarray:
    """Whether each end reason is "toxicity"."""
    return np.fromiter(map(eq, reasons, repeat("toxicity")), dtype=bool, count=n)


def flatten_records(
    records: list[PatientCourse],
    delayed: np.ndarray,
    levels: np.ndarray,
    marks: Marks | None = None,
    to_end: bool = False,
) -> CourseArrays:
    """The patients' records as `CourseArrays`, with the plan they followed (`delayed`,
    `levels`: (n, max_cycles), as `PatientCourse.follow`). With `marks` (`mark_records` at
    the horizon, the records having gone on past it), the arrays are those of the records
    cut back to their marks, and the cycles after the marks are `later`; without, `later`
    is empty with `to_end` (nothing came after the horizon), else None.

    Every number of the records crosses into numpy in one `as_int64`: per patient the
    lengths of its lists and its marks (or courses completed), then the lists' items
    field by field, patient by patient."""
    n = len(records)
    cycles = [record.cycles for record in records]  # (as in `mark_records`)
    rt_starts = [record.rt_starts for record in records]
    rt_day_lists = [record.rt_days for record in records]
    exception_lists = [record.cycle_exceptions for record in records]
    flat = list(map(len, cycles))
    flat += map(len, rt_starts)
    flat += map(len, rt_day_lists)
    flat += map(len, exception_lists)
    if marks is None:
        flat += [record.rt_courses_completed for record in records]
    else:
        for column in marks[:4]:
            flat += column
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
    values = as_int64(flat)
    counts, starts, day_counts, exception_counts = values[: 4 * n].reshape(4, n)
    at = head
    cycle_day = values[at : at + total]
    at += total
    rt_columns = list(values[at : at + 3 * n_starts].reshape(3, n_starts))
    at += 3 * n_starts
    rt_days = values[at : at + n_days]
    exceptions = values[at + n_days :].reshape(-1, 3)
    patients = np.arange(n)
    cycle_patient, cycle_index = patients.repeat(counts), positions(counts)
    rt_patient = patients.repeat(starts)
    rt_day_patient = patients.repeat(day_counts)
    mark_cycles = counts
    if marks is None:
        completed = values[4 * n : 5 * n]
        toxicity_end = is_toxicity([record.end_reason for record in records], n)
        empty = np.zeros(0, dtype=np.int64)
        later = (empty, empty, empty, empty) if to_end else None
    else:
        mark_cycles, mark_days, mark_starts, completed = values[4 * n : 8 * n].reshape(4, n)
        toxicity_end = is_toxicity(marks[4], n)
        before = cycle_index < mark_cycles[cycle_patient]
        after = ~before
        later_patient, later_index = cycle_patient[after], cycle_index[after]
        later = (
            later_patient,
            cycle_day[after],
            levels[later_patient, later_index],
            later_index,
        )
        cycle_day, cycle_patient, cycle_index = (
            cycle_day[before],
            cycle_patient[before],
            cycle_index[before],
        )
        kept = positions(starts) < mark_starts[rt_patient]
        rt_patient, rt_columns = rt_patient[kept], [column[kept] for column in rt_columns]
        given = positions(day_counts) < mark_days[rt_day_patient]
        rt_day_patient, rt_days = rt_day_patient[given], rt_days[given]
    cycle_wait, cycle_late = cycle_exceptions(
        exceptions, exception_counts, mark_cycles, len(cycle_day)
    )
    per_day = len(records[0].fraction_offsets) if n else 0  # the same in every record
    return CourseArrays(
        cycle_patient=cycle_patient,
        cycle_index=cycle_index,  # 0-based cycle k - 1
        cycle_day=cycle_day,
        cycle_level=levels[cycle_patient, cycle_index],
        cycle_wait=cycle_wait,
        cycle_late=cycle_late,
        cycle_delayed=(delayed[cycle_patient, cycle_index] & (cycle_index > 0)).astype(np.int64),
        rt_patient=rt_patient,
        rt_start=rt_columns[0],
        rt_wait=rt_columns[1],
        rt_late=rt_columns[2],
        fraction_patient=rt_day_patient.repeat(per_day),
        fraction_day=rt_days.repeat(per_day),
        completed=completed,
        toxicity_end=toxicity_end,
        later=later,
    )


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
