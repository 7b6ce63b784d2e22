"""What one patient received in the clinic: the record the SimPy processes fill in; and what
all the patients of a replicate received, as flat arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import numpy as np


@dataclass(slots=True)
class PatientCourse:
    """What one patient received, filled in by the processes while a replicate runs.

    Mutable because the processes append to it; the frozen outputs are the summary and the
    patient table built from it at the end of the replicate (`sim.clinic.model`).
    """

    patient: int
    # each cycle given: (clinic day, delayed, dose level (0 full), days waited for a chair,
    # IN_WINDOW or a LATE_ cause); one tuple a cycle is what the processes append fastest
    cycles: list[tuple[int, bool, int, int, int]] = field(default_factory=list)
    rt_fractions: list[float] = field(default_factory=list)  # clock time of each fraction
    rt_starts: list[int] = field(default_factory=list)  # first day of each course started
    rt_waits: list[int] = field(default_factory=list)  # days each course waited for the linac
    rt_late: list[int] = field(default_factory=list)  # IN_WINDOW or a LATE_ cause
    rt_courses_completed: int = 0
    end_reason: str | None = None  # a stop code, "toxicity", "max_cycles"; None = still on

    CYCLE_FIELDS = ("cycle_days", "cycle_delayed", "cycle_levels", "cycle_waits", "cycle_late")

    def cycle_lists(self) -> dict[str, list]:
        """The cycles as one list per field of their tuples (`CYCLE_FIELDS`)."""
        columns = list(zip(*self.cycles, strict=True)) or [()] * len(self.CYCLE_FIELDS)
        return {name: list(values) for name, values in zip(self.CYCLE_FIELDS, columns,
                                                           strict=True)}

    def mark(self) -> tuple[int, int, int, int, str | None]:
        """Where the record stands: what `cut_back` returns it to."""
        return (len(self.cycles), len(self.rt_fractions), len(self.rt_starts),
                self.rt_courses_completed, self.end_reason)

    def cut_back(self, mark: tuple[int, int, int, int, str | None]) -> None:
        """Back to where it stood at `mark`."""
        cycles, fractions, starts, completed, end_reason = mark
        del self.cycles[cycles:]
        del self.rt_fractions[fractions:]
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


def flat_ints(lists: list[list], total: int) -> np.ndarray:
    return np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=total)


def flatten_records(records: list[PatientCourse],
                    marks: list[tuple[int, int, int, int, str | None]] | None = None,
                    to_end: bool = False) -> CourseArrays:
    """The patients' records as `CourseArrays`. With `marks` (each record's `mark` at the
    horizon, the records having gone on past it), the arrays are those of the records cut
    back to their marks, and the cycles after the marks are `later`; without, `later` is
    empty with `to_end` (nothing came after the horizon), else None."""
    n = len(records)
    patients = np.arange(n)
    counts = np.asarray([len(r.cycles) for r in records], dtype=np.int64)
    total = int(counts.sum())
    cycles = np.fromiter(chain.from_iterable(chain.from_iterable(r.cycles for r in records)),
                         dtype=np.int64, count=5 * total).reshape(total, 5)
    starts = np.asarray([len(r.rt_starts) for r in records], dtype=np.int64)
    n_starts = int(starts.sum())
    n_fractions = np.asarray([len(r.rt_fractions) for r in records], dtype=np.int64)
    cycle_patient, cycle_index = np.repeat(patients, counts), positions(counts)
    rt_patient, fraction_patient = np.repeat(patients, starts), np.repeat(patients, n_fractions)
    fraction_day = np.floor(np.fromiter(
        chain.from_iterable(r.rt_fractions for r in records), dtype=float,
        count=int(n_fractions.sum()))).astype(np.int64)
    rt_columns = [flat_ints([r.rt_starts for r in records], n_starts),
                  flat_ints([r.rt_waits for r in records], n_starts),
                  flat_ints([r.rt_late for r in records], n_starts)]
    if marks is None:
        completed = np.asarray([r.rt_courses_completed for r in records], dtype=np.int64)
        toxicity_end = np.asarray([r.end_reason == "toxicity" for r in records], dtype=bool)
        empty = np.zeros(0, dtype=np.int64)
        later = (empty, empty, empty, empty) if to_end else None
    else:
        at_mark = list(zip(*marks, strict=True)) if n else [()] * 5
        completed = np.asarray(at_mark[3], dtype=np.int64)
        toxicity_end = np.asarray([reason == "toxicity" for reason in at_mark[4]], dtype=bool)
        before = cycle_index < np.asarray(at_mark[0], dtype=np.int64)[cycle_patient]
        after = ~before
        later = (cycle_patient[after], cycles[after, 0], cycles[after, 2], cycle_index[after])
        cycles, cycle_patient, cycle_index = cycles[before], cycle_patient[before], \
            cycle_index[before]
        kept = positions(starts) < np.asarray(at_mark[2], dtype=np.int64)[rt_patient]
        rt_patient, rt_columns = rt_patient[kept], [column[kept] for column in rt_columns]
        given = (positions(n_fractions)
                 < np.asarray(at_mark[1], dtype=np.int64)[fraction_patient])
        fraction_patient, fraction_day = fraction_patient[given], fraction_day[given]
    return CourseArrays(
        cycle_patient=cycle_patient,
        cycle_index=cycle_index,  # 0-based cycle k - 1
        cycle_day=cycles[:, 0].copy(),
        cycle_level=cycles[:, 2].copy(),
        cycle_wait=cycles[:, 3].copy(),
        cycle_late=cycles[:, 4].copy(),
        cycle_delayed=cycles[:, 1].copy(),
        rt_patient=rt_patient,
        rt_start=rt_columns[0],
        rt_wait=rt_columns[1],
        rt_late=rt_columns[2],
        fraction_patient=fraction_patient,
        fraction_day=fraction_day,
        completed=completed,
        toxicity_end=toxicity_end,
        later=later,
    )


def positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., counts[0] - 1, 0, 1, ..., counts[1] - 1, ...: each item's place in its
    group, for groups of `counts` items laid end to end."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
