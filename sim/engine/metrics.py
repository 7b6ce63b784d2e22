"""What a reported metric is: the metric table's row type, how the table is read, and how a
metric's numbers read.

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
from the row's statistic. A `Bound` metric is a row with its placeholders filled;
`MetricTable` gives a run's metrics in summary.csv's order and the row of a metric's name.

Units are words a planner reads (``share``, ``months``, ``mg``, ``vials``); ``share`` is a
proportion of replicates (0 to 1). ``months since start`` is counted from `trial.start_date`,
a month being 30.4375 days.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.scenario import ENDPOINT_WORDS

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
    # OS at its own cut, at the PFS analysis's cut, or at the OS analysis's cut had no
    # patient started a subsequent therapy (overall_survival.subsequent_therapy)
    "os_cut": "os|os_at_pfs_cut|os_without_subsequent",
    "kind": r"[0-9a-z_]+",  # a kind of adverse event ("all": any kind)
    "grade": "any|grade3plus",
    "n": r"\d+",
    "m": r"[\d.]+",  # a landmark, months
    "factor": r"[a-z][0-9a-z_]*",  # a randomization factor: stratum, site, a covariate
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# A meaning's {primary}, {events}, {endpoint} and {seen} say the run's analysis.endpoint
# (`ENDPOINT_WORDS`): the metrics of the primary endpoint keep their names whichever it is,
# their meanings say which it is.
# The unit of a count of the primary endpoint's events: "events" (PFS), "deaths" (OS).
PRIMARY_COUNT = "{unit}"
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
    # `compare` pairs a median by a paired bootstrap (shares and means pair always)
    paired: bool = False
    derive: Derive | None = None  # None: the first column's values as they are
    requires: tuple[str, ...] = ()  # further columns without which it does not apply
    key: int = 0  # rank among the key metrics that lead sweep tables (0: not one)
    looks_key: int = 0  # the same, for a design with interim looks (`key_metrics_of`)
    plan: int = 0  # rank in the forecast's comparison.csv (0: not in it)
    heading: str = ""  # a column heading in words (the sweep report, the page's compare tab)
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
    def column_affixes(self) -> tuple[str, str]:
        """The text before the first placeholder of the first column read and after its
        last: a column `column_pattern` matches starts and ends with them (a test that
        spares compiling the pattern of every metric of a run that has no such column)."""
        parts = PLACEHOLDER.split(self.columns[0])
        return parts[0], parts[-1]

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

    def bind(self, keys: Mapping[str, str], endpoint: str = "pfs") -> Bound:
        return Bound(self, {k: v for k, v in keys.items() if v is not None}, endpoint)


@dataclass(frozen=True)
class Bound:
    """A metric with its placeholders filled: one metric of one run."""

    metric: Metric
    keys: dict[str, str] = field(default_factory=dict)
    endpoint: str = "pfs"  # the run's analysis.endpoint: what {primary} and {events} say

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
        """The row's unit; PRIMARY_COUNT says the run's (events, or deaths with OS primary)."""
        return self.metric.unit.format(**ENDPOINT_WORDS[self.endpoint])

    @property
    def meaning(self) -> str:
        m = self.metric
        return m.meaning.format(
            **self.keys,
            **ENDPOINT_WORDS[self.endpoint],
            over=STATISTICS[m.statistic],
            stat=m.statistic,
        )

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


def stopped_or_by_completion(
    read: Sequence[Any], context: Context, keys: Mapping[str, str]
) -> np.ndarray:
    """Columns (early_stop, a date): stopped early at a look, or the date is on or before the
    registered completion date."""
    early = read[0].to_numpy(dtype=bool)
    return early | (read[1].to_numpy("datetime64[D]") <= context.completion)


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


def went_on_past_look(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
    """Columns (a look's value, stop_look): the value where the trial went on past look {k}
    (did not stop there), NaN where it stopped there or did not hold it."""
    values = read[0].to_numpy(dtype=float)
    return np.where(read[1].to_numpy() == int(keys["k"]), np.nan, values)


def efficacy_first_at_look(
    read: Sequence[Any], context: Context, keys: Mapping[str, str]
) -> np.ndarray:
    """Columns (stop_look_ignoring_futility, reject_ignoring_futility): the efficacy bounds
    alone are first crossed at look {k}."""
    return (read[0].to_numpy() == int(keys["k"])) & read[1].to_numpy()


def happened(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
    """The column is finite (e.g. a look's months: the look was held)."""
    return np.isfinite(read[0].to_numpy(dtype=float))


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """Consecutive rows of summary.csv; `order` "table" or "columns" (`MetricTable`)."""

    name: str
    order: str
    rows: tuple[Metric, ...]


def row(
    name: str,
    statistic: str,
    columns: str | tuple[str, ...],
    unit: str,
    group: str,
    meaning: str,
    **options: Any,
) -> Metric:
    """A row of the table; `columns` one column's name or several; `options` the other
    fields of `Metric` (paired, derive, requires, key, looks_key, plan, heading, where)."""
    read = (columns,) if isinstance(columns, str) else tuple(columns)
    return Metric(name, statistic, read, unit, group, meaning, **options)


def with_quantiles(
    stem: str, column: str, unit: str, group: str, meaning: str
) -> tuple[Metric, ...]:
    """A count's mean and its 5%, 50% and 95% quantiles over replicates: four metrics,
    ``<stem>_mean`` (which `compare` pairs), ``_q05``, ``_q50`` and ``_q95``."""
    return tuple(
        row(f"{stem}_{stat}", stat, column, unit, group, meaning, paired=stat == "mean")
        for stat in ("mean", "q05", "q50", "q95")
    )


def look_count(columns: Container[str]) -> int:
    """Number of looks of a group-sequential run (0: the single-look form) whose replicates
    table has `columns` (or is `columns`: a DataFrame answers `in` by its columns)."""
    k = 0
    while f"look{k + 1}_decision" in columns:
        k += 1
    return k


class MetricTable:
    """The sections of summary.csv, read three ways: the metrics of a run (`run_metrics`),
    the row of a metric's name (`find`), and the rows ranked for a consumer (`key_metrics`,
    `plan_metrics`).

    A run's metrics come section by section. In a section ordered by ``"table"`` the rows
    come in the table's order, a run of rows over looks ({k}) or tests ({test}) look by look
    (test by test); a row applies when the replicates table has every column it reads (and
    `requires`). In a section ordered by ``"columns"``, each row applies once per replicates
    column matching its first column (placeholders filled from the column's name), in the
    order of those columns."""

    def __init__(self, sections: Sequence[Section]) -> None:
        self.sections = tuple(sections)
        self.metrics = tuple(m for section in self.sections for m in section.rows)
        self.exact = {m.name: m for m in self.metrics if not m.placeholders}
        self.families = tuple(m for m in self.metrics if m.placeholders)
        ranked = sorted((m for m in self.metrics if m.key), key=lambda m: m.key)
        self.key_metrics = tuple(m.name for m in ranked)  # sweep tables lead with these
        ranked = sorted((m for m in self.metrics if m.looks_key), key=lambda m: m.looks_key)
        self.looks_key_metrics = tuple(m.name for m in ranked)
        self.run_metrics_cached = functools.lru_cache(maxsize=32)(self.run_metrics_of)
        self.find = functools.lru_cache(maxsize=4096)(self.find_uncached)

    def run_metrics(
        self, columns: Sequence[str], tests: Sequence[str], endpoint: str = "pfs"
    ) -> list[Bound]:
        """The metrics of a run whose replicates table has `columns` (in its order), whose
        analysis.tests have the names `tests` and whose primary endpoint is `endpoint`
        (analysis.endpoint), in the order of summary.csv."""
        return list(self.run_metrics_cached(tuple(columns), tuple(tests), endpoint))

    def run_metrics_of(
        self, columns: tuple[str, ...], tests: tuple[str, ...], endpoint: str
    ) -> tuple[Bound, ...]:
        present = set(columns)
        keys = {"k": [str(k) for k in range(1, look_count(present) + 1)], "test": list(tests)}
        found: list[Bound] = []
        for section in self.sections:
            if section.order == "columns":
                found += column_ordered(section, columns, present)
            else:
                found += table_ordered(section, keys, present)
        return tuple(dataclasses.replace(bound, endpoint=endpoint) for bound in found)

    def find_uncached(self, name: str, endpoint: str = "pfs") -> Bound | None:
        """The row of the metric named `name` in summary.csv, placeholders filled, its meaning
        for the primary `endpoint`; None if the table has no such metric. A whole name wins
        over a family's pattern."""
        if name in self.exact:
            return self.exact[name].bind({}, endpoint)
        for metric in self.families:
            match = metric.name_pattern.fullmatch(name)
            if match is not None:
                return metric.bind(match.groupdict(), endpoint)
        return None

    @staticmethod
    def with_looks(names: Iterable[str]) -> bool:
        """Whether a run (or sweep, or comparison) with these metric `names` has interim
        looks (``early_stop`` among them): a trial stopped early concludes without its event
        target, so what it prints leads with whether the trial concluded by the completion
        date, not with the event target alone, which would read as a risk to the timeline."""
        return "early_stop" in set(names)

    def key_metrics_of(self, names: Iterable[str]) -> tuple[str, ...]:
        """The key metrics that lead what a run (or sweep, or comparison) with these metric
        `names` prints (`with_looks`: the `looks_key` ranks, else the `key` ranks)."""
        return self.looks_key_metrics if self.with_looks(names) else self.key_metrics

    def heading(self, name: str) -> str:
        """The metric's column heading in words (its row's `heading`), else its name."""
        found = self.exact.get(name)
        return found.heading if found is not None and found.heading else name

    def describe(self, name: str, endpoint: str = "pfs") -> tuple[str, str]:
        """(unit, meaning) of a summary metric of a run whose primary endpoint is `endpoint`;
        ("", UNDESCRIBED) if the table lacks it."""
        found = self.find(name, endpoint)
        return ("", UNDESCRIBED) if found is None else (found.unit, found.meaning)

    def describe_all(
        self, names: Sequence[str], endpoint: str = "pfs"
    ) -> tuple[list[str], list[str]]:
        """Units and meanings of a sequence of metric names (the two summary.csv columns)."""
        pairs = [self.describe(n, endpoint) for n in names]
        return [u for u, _ in pairs], [m for _, m in pairs]

    def plan_metrics(self, names: Sequence[str]) -> list[str]:
        """The metrics among `names` that the forecast's comparison.csv shows, in its order
        (by `plan`, then as in `names`)."""
        ranked = [(found.metric.plan, name) for name in names if (found := self.find(name))]
        return [name for plan, name in sorted(ranked, key=lambda r: r[0]) if plan]


def column_ordered(section: Section, columns: Sequence[str], present: set[str]) -> list[Bound]:
    """A section's metrics by the replicates columns they read, in the columns' order."""
    placed = []
    for i, metric in enumerate(section.rows):
        prefix, suffix = metric.column_affixes
        for position, column in enumerate(columns):
            if not (column.startswith(prefix) and column.endswith(suffix)):
                continue
            match = metric.column_pattern.fullmatch(column)
            if match is not None:
                placed.append((position, i, metric.bind(match.groupdict())))
    placed.sort(key=lambda p: p[:2])
    return [bound for *_, bound in placed if bound.applies(present)]


def table_ordered(section: Section, keys: dict[str, list[str]], present: set[str]) -> list[Bound]:
    """A section's metrics in the table's order; a run of rows over one loop ({k} or
    {test}) key by key."""
    found: list[Bound] = []
    rows = section.rows
    i = 0
    while i < len(rows):
        loop = rows[i].loop
        j = i + 1
        while loop is not None and j < len(rows) and rows[j].loop == loop:
            j += 1
        if loop is None:
            found.append(rows[i].bind({}))
        else:
            for value in keys[loop]:
                for metric in rows[i:j]:
                    match = metric.loop_pattern.fullmatch(value)
                    if match is not None:
                        found.append(metric.bind(match.groupdict()))
        i = j
    return [bound for bound in found if bound.applies(present)]


# --- numbers as a planner reads them -------------------------------------------------------


def format_with_se(value: object, se: object, unit: str = "", n: int | None = None) -> str:
    """An estimate and its Monte Carlo SE as a planner reads them, ``80.48 ± 0.31``: shares
    as `format_number` gives them; other values with the SE to 2 significant digits and the
    estimate to the same decimal place (no digits the SE does not support). Blank for a
    missing estimate; the estimate alone (`format_number`) without an SE. A share of every
    or no replicate has an SE of 0, which is not certainty: ``100.0% (all 200)``, ``0.0%
    (none of 200)`` with `n` replicates, not ``100.0% ± 0.0%``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if unit == "share" and se is not None and float(se) == 0 and float(value) in (0.0, 1.0):
        count = f" {n:,}" if n else ""
        words = f"all{count}" if float(value) == 1 else f"none of{count}" if n else "none"
        return f"{format_number(float(value), unit)} ({words})"
    place = se_place(se)
    if place is None or unit == "share" or not math.isfinite(float(value)):
        if se is None or not math.isfinite(float(se)):
            return format_number(value, unit)
        return f"{format_number(float(value), unit)} ± {format_number(float(se), unit)}"
    return f"{format_to_place(value, place)} ± {format_to_place(se, place)}"


def se_place(se: object) -> int | None:
    """The decimal place of a Monte Carlo SE's second significant digit (2 for 0.31, -2 for
    5,800): where an estimate with that SE stops being supported. None without a positive
    finite SE."""
    if se is None or not math.isfinite(s := float(se)) or s <= 0:
        return None
    return 1 - int(math.floor(math.log10(s)))


def format_to_place(value: object, place: int, *, sign: bool = False) -> str:
    """`value` rounded to the decimal `place` (`se_place`), with thousands separators; with
    `sign`, a + before a positive value (a difference). A value that rounds to 0 is 0,
    never -0."""
    rounded = round(float(value), place) + 0.0  # -0.0 + 0.0 is 0.0
    return f"{rounded:{'+' if sign else ''},.{max(0, place)}f}"


def difference_with_se(difference: object, se: object, share: bool) -> tuple[str, str]:
    """A difference between two runs and its Monte Carlo SE as `compare` and the page show
    them: both to the decimal place the SE supports (`se_place`), a difference of shares
    (and its SE) in percentage points, the difference signed. Without a positive SE, the
    difference to 2 decimals (points) or 4 significant digits and the SE to 2 significant
    digits. "" for a missing part."""
    scale = 100 if share else 1
    missing_se = se is None or math.isnan(float(se))
    se_value = None if missing_se else scale * float(se)
    place = se_place(se_value)
    if difference is None or math.isnan(float(difference)):
        shown = ""
    elif place is not None:
        shown = format_to_place(scale * float(difference), place, sign=True)
    else:
        d = scale * float(difference)
        shown = f"{d:+.2f}" if share else f"{d:+.4g}"
    if se_value is None:
        return shown, ""
    return shown, format_to_place(se_value, place) if place is not None else f"{se_value:.2g}"


def reached_words(milestone: Mapping[str, Any]) -> str:
    """How many trials reach a milestone of timeline.csv that not all reach, "69.2% of
    trials get there" (its dates are quantiles over those that do: a trial stopped early at
    an interim look randomizes nobody after the stop); "" when every trial reaches it."""
    reached = milestone.get("share_reached", 1.0)
    if reached is None or not math.isfinite(float(reached)) or float(reached) >= 1:
        return ""
    return f"{format_number(float(reached), 'share')} of trials get there"


def all_or_none(estimate: object, se: object, low: object, high: object) -> str:
    """A share of every or of no replicate, whose Monte Carlo SE of 0 is not certainty, in
    words with its 95% interval (summary.csv's Wilson ci_low and ci_high, the lower bound
    rounded down and the upper up): "every simulated trial; 95% CI 99.6% to 100.0%". ""
    for any other share, or without the interval."""
    values = [estimate, se, low, high]
    if any(v is None or not math.isfinite(float(v)) for v in values) or float(se) != 0:
        return ""
    if float(estimate) not in (0.0, 1.0):
        return ""
    which = "every simulated trial" if float(estimate) == 1 else "no simulated trial"
    down = math.floor(float(low) * 1000) / 10
    up = math.ceil(float(high) * 1000) / 10
    return f"{which}; 95% CI {down:.1f}% to {up:.1f}%"


def format_number(value: object, unit: str = "") -> str:
    """A number as a planner reads it: shares as percentages (``78.2%``; below 1% to 2
    significant digits, ``0.38%``; short of 100% never shown as 100%, ``99.96%``), other
    values to 4 significant digits with thousands separators and no exponent (``365,900``),
    the unit appended when given (``365,900 mg``); blank for a missing value."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    v = float(value)
    if not math.isfinite(v):
        return "" if math.isnan(v) else ("never" if v > 0 else "-inf")
    if unit == "share":
        if 0.9995 <= v < 1:  # not 100.0%: short of every replicate, to the digit that shows it
            return f"{math.floor(v * 10000) / 100:.2f}%"
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
