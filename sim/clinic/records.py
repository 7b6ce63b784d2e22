"""What one patient received in the clinic: the record the SimPy processes fill in."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class PatientCourse:
    """What one patient received, filled in by the processes while a replicate runs.

    Mutable because the processes append to it; the frozen outputs are the summary and the
    patient table built from it at the end of the replicate (`sim.clinic.model`).
    """

    patient: int
    cycle_days: list[int] = field(default_factory=list)  # clinic day of each cycle given
    cycle_delayed: list[bool] = field(default_factory=list)  # parallel to cycle_days
    cycle_levels: list[int] = field(default_factory=list)  # dose level (0 full) of each
    cycle_waits: list[int] = field(default_factory=list)  # days waited for a chair
    cycle_late: list[int] = field(default_factory=list)  # IN_WINDOW or a LATE_ cause
    rt_fractions: list[float] = field(default_factory=list)  # clock time of each fraction
    rt_starts: list[int] = field(default_factory=list)  # first day of each course started
    rt_waits: list[int] = field(default_factory=list)  # days each course waited for the linac
    rt_late: list[int] = field(default_factory=list)  # IN_WINDOW or a LATE_ cause
    rt_courses_completed: int = 0
    end_reason: str | None = None  # a stop code, "toxicity", "max_cycles"; None = still on

    def mark(self) -> tuple[int, int, int, int, str | None]:
        """Where the record stands: what `cut_back` returns it to."""
        return (len(self.cycle_days), len(self.rt_fractions), len(self.rt_starts),
                self.rt_courses_completed, self.end_reason)

    def cut_back(self, mark: tuple[int, int, int, int, str | None]) -> list[int]:
        """Back to where it stood at `mark`, the later cycles' (day, level, 0-based index)
        returned flat: [day, level, index, day, level, index, ...]."""
        cycles, fractions, starts, completed, end_reason = mark
        later = [x for k in range(cycles, len(self.cycle_days))
                 for x in (self.cycle_days[k], self.cycle_levels[k], k)]
        for name in ("cycle_days", "cycle_delayed", "cycle_levels", "cycle_waits",
                     "cycle_late"):
            del getattr(self, name)[cycles:]
        del self.rt_fractions[fractions:]
        for name in ("rt_starts", "rt_waits", "rt_late"):
            del getattr(self, name)[starts:]
        self.rt_courses_completed, self.end_reason = completed, end_reason
        return later
