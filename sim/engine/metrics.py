"""What a reported metric is: the row type of the metric table, and how its numbers read.

Every metric that summary.csv, `compare`, the forecast's comparison.csv, the report and the
sweep's key columns show is one `Metric`, a row of `sim.engine.metric_table`: its name as
summary.csv has it, how it is computed from the replicates table (a `statistic` over
replicates of the per-replicate values read from `columns`, through `derive` when they are
not a column as it is), its unit and meaning, its group, and which consumers take it.

A family (per arm, per look, per drug, per test, ...) is one row whose name, columns and
meaning hold placeholders, ``{arm}``, ``{k}``, ``{drug}``: `PLACEHOLDERS` gives the pattern of
each, a row may narrow one with `where` (named groups inside it fill placeholders of the
meaning, e.g. the ``{tau}`` of ``rmst_{tau}``). The meaning may also use ``{over}`` ("mean
over replicates", "5% quantile over replicates", ...) and ``{stat}`` (mean, q05, ...), filled
from the row's statistic. A `Bound` metric is a row with its placeholders filled.

Units are words a planner reads (``share``, ``months``, ``mg``, ``vials``); ``share`` is a
proportion of replicates (0 to 1). ``months since start`` is counted from `trial.start_date`,
a month being 30.4375 days.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNDESCRIBED = "(not described: add its row to sim/engine/metric_table.py)"
MONTHS_SINCE_START = "months since start"

# statistic -> words of the meaning's {over}; `sim.engine.results` computes each
STATISTICS = {
    "share": "share of replicates",
    "mean": "mean over replicates",
    "median": "median over replicates",  # never happened (NaN) counts as +inf
    "median_finite": "median over the replicates where it happened",
    "q05": "5% quantile over replicates",
    "q50": "median over replicates",
    "q95": "95% quantile over replicates",
}
MEDIANS = ("median", "median_finite")  # `compare` pairs these by a paired bootstrap

PLACEHOLDERS = {
    "arm": "control|experimental",
    "k": r"\d+",  # a group-sequential look, 1-based
    "test": r"[0-9a-z_]+",  # a test of analysis.tests (TestSpec.name)
    "drug": r"[0-9a-z_]+",
    "resource": "chair|linac",
    "os_cut": "os|os_at_pfs_cut",  # OS at its own cut, or at the PFS analysis's cut
    "kind": r"[0-9a-z_]+",  # a kind of adverse event ("all": any kind)
    "grade": "any|grade3plus",
    "n": r"\d+",
    "m": r"[\d.]+",  # a landmark, months
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
LOOPS = ("k", "test")  # placeholders a table-ordered section enumerates (looks, tests)


@dataclass(frozen=True)
class Context:
    """What a metric's values need besides the replicates table."""

    completion: np.datetime64  # trial.completion_date, as datetime64[D]


# Per-replicate values from the columns read (in the row's order), the context and the
# filled placeholders.
Derive = Callable[[Sequence[Any], Context, Mapping[str, str]], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One row of the metric table (see the module docstring)."""

    name: str
    statistic: str
    columns: tuple[str, ...]
    unit: str
    group: str
    meaning: str
    paired: bool = False  # `compare` pairs it over replicates (same seed and replicates)
    derive: Derive | None = None  # None: the first column's values as they are
    requires: tuple[str, ...] = ()  # further columns without which it does not apply
    key: int = 0  # rank among the key metrics that lead sweep tables (0: not one)
    plan: int = 0  # rank in the forecast's comparison.csv (0: not in it)
    where: tuple[tuple[str, str], ...] = ()  # narrower patterns of placeholders

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"metric {self.name}: statistic {self.statistic!r} is not one of "
                f"{', '.join(STATISTICS)}"
            )

    @functools.cached_property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(PLACEHOLDER.findall(self.name)))

    @functools.cached_property
    def loop(self) -> str | None:
        """The placeholder a table-ordered section enumerates ({k} or {test}), if any."""
        return next((p for p in self.placeholders if p in LOOPS), None)

    def pattern_of(self, placeholder: str) -> str:
        return dict(self.where).get(placeholder, PLACEHOLDERS[placeholder])

    @functools.cached_property
    def name_pattern(self) -> re.Pattern[str]:
        return self.template_pattern(self.name)

    @functools.cached_property
    def column_pattern(self) -> re.Pattern[str]:
        """The pattern of the first column read (its placeholders named as in the name)."""
        return self.template_pattern(self.columns[0])

    @functools.cached_property
    def loop_pattern(self) -> re.Pattern[str]:
        assert self.loop is not None
        return re.compile(f"(?P<{self.loop}>{self.pattern_of(self.loop)})")

    def template_pattern(self, template: str) -> re.Pattern[str]:
        parts = PLACEHOLDER.split(template)  # text, name, text, name, ..., text
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>{self.pattern_of(part)})"
            for i, part in enumerate(parts)
        )
        return re.compile(regex)

    def bind(self, keys: Mapping[str, str]) -> Bound:
        return Bound(self, {k: v for k, v in keys.items() if v is not None})


@dataclass(frozen=True)
class Bound:
    """A metric with its placeholders filled: one metric of one run."""

    metric: Metric
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.metric.name.format(**self.keys)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.format(**self.keys) for c in self.metric.columns)

    @property
    def needed(self) -> tuple[str, ...]:
        """Every column that must be in the replicates table for the metric to apply."""
        return (*self.columns, *(c.format(**self.keys) for c in self.metric.requires))

    @property
    def unit(self) -> str:
        return self.metric.unit

    @property
    def meaning(self) -> str:
        m = self.metric
        return m.meaning.format(**self.keys, over=STATISTICS[m.statistic], stat=m.statistic)

    def applies(self, columns: Container[str]) -> bool:
        return all(c in columns for c in self.needed)

    def values(self, replicates: Any, context: Context) -> np.ndarray:
        """The per-replicate values the statistic is taken over (as floats or booleans)."""
        read = [replicates[c] for c in self.columns]
        if self.metric.derive is None:
            return read[0].to_numpy(dtype=float)
        return self.metric.derive(read, context, self.keys)


# --- derived per-replicate values ------------------------------------------------------------


def by_completion(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
    """The date column is on or before the registered completion date (NaT: never, False)."""
    return read[0].to_numpy("datetime64[D]") <= context.completion


def equal_to(value: str) -> Derive:
    """The column equals `value` (e.g. cut_reason == "events")."""

    def derive(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
        return read[0].to_numpy() == value

    return derive


def stopped_at_look(reason: str) -> Derive:
    """Columns (stop_look, stop_reason): the trial stopped at look {k} for `reason`."""

    def derive(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
        return (read[0].to_numpy() == int(keys["k"])) & (read[1].to_numpy() == reason)

    return derive


def efficacy_first_at_look(
    read: Sequence[Any], context: Context, keys: Mapping[str, str]
) -> np.ndarray:
    """Columns (stop_look_ignoring_futility, reject_ignoring_futility): the efficacy bounds
    alone are first crossed at look {k}."""
    return (read[0].to_numpy() == int(keys["k"])) & read[1].to_numpy()


def happened(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
    """The column is finite (e.g. a look's months: the look was held)."""
    return np.isfinite(read[0].to_numpy(dtype=float))


# --- numbers as a planner reads them -------------------------------------------------------


def format_number(value: object, unit: str = "") -> str:
    """A number as a planner reads it: shares as percentages (``78.2%``), other values to 4
    significant digits with thousands separators and no exponent (``365,900``), the unit
    appended when given (``365,900 mg``); blank for a missing value."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    v = float(value)
    if not math.isfinite(v):
        return "" if math.isnan(v) else ("never" if v > 0 else "-inf")
    if unit == "share":
        return f"{v * 100:.2g}%" if 0 < abs(v) < 0.01 else f"{v:.1%}"
    if v == 0:
        text = "0"
    elif abs(v) >= 1000:
        digits = 3 - int(math.floor(math.log10(abs(v))))
        text = f"{round(v, digits):,.0f}"
    elif abs(v) < 1e-3:
        text = f"{v:.2g}" if abs(v) >= 1e-12 else "0"
    else:
        text = f"{v:.4g}"
    show_unit = unit and unit not in ("ratio", MONTHS_SINCE_START)
    return f"{text} {unit}" if show_unit else text
