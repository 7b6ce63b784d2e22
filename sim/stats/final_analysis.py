"""The final analysis of a patient-level table (`sim.analyze`, ``python -m sim analyze``).

A table's columns checked and coded (`patients_from_frame`: one message naming the column and
the rows at fault), then: log-rank (unstratified and stratified, exact with ties), Cox HR with
Wald CI (Efron and Breslow, stratified and not), Kaplan-Meier median per arm with the
Brookmeyer-Crowley interval (`analyze_patients`), or the tests of a test spec
(`analyze_tests`). The same functions (`sim.stats.analysis`) analyze every simulated data cut.

Both return one tidy table (`TIDY_COLUMNS`: test, stratified, arm, estimate, se, z,
p_one_sided, p_two_sided, ci_low, ci_high, n, events, unit) that code filters on its columns;
`printed_analysis` is the same table as people read it (a named row per analysis).

Units: times are read in `--time-unit` (days, as the simulator writes them, or months) and
every time returned is in months (30.4375 days); each result row says its unit. The log-rank
estimate is O - E, observed minus expected events of the experimental arm (negative: fewer
events than expected under H0, i.e. benefit). The Kaplan-Meier band and the median's interval
use `--conf-type`: ``log`` (R survfit's default) or ``log-log``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.scenario import DAYS_PER_MONTH, ScenarioError, TestSpec, parse_test
from sim.scenario.loading import why_not_a_file
from sim.stats import analysis

TIME_UNITS = {"days": 1.0 / DAYS_PER_MONTH, "months": 1.0}  # factor to months

SIMULATOR_COLUMNS = {
    "time": "pfs_days_at_cut",
    "event": "pfs_event_at_cut",
    "arm": "arm",
    "strata": "stratum",
}


TABLE_HINT = "give a CSV or Parquet table with one row per patient"


def read_patient_table(path: Path) -> pd.DataFrame:
    """The table, or ScenarioError: missing, empty, truncated, not CSV/Parquet, no rows."""
    if not path.is_file():
        raise ScenarioError(f"{path}: {why_not_a_file(path)}; {TABLE_HINT}")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv", ".txt"):
        raise ScenarioError(f"{path}: unknown table type {path.suffix!r} (use .csv or .parquet)")
    try:
        frame = pd.read_parquet(path) if suffix in (".parquet", ".pq") else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ScenarioError(f"{path}: the file is empty ({TABLE_HINT})") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:  # ArrowInvalid, bad UTF-8
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise ScenarioError(
            f"{path}: not a readable {kind} table ({reason}); it may be "
            f"truncated or of another format ({TABLE_HINT})"
        ) from exc
    if frame.empty:
        raise ScenarioError(f"{path}: the table has no rows ({TABLE_HINT})")
    return frame


@dataclass(frozen=True)
class PatientData:
    time: np.ndarray
    event: np.ndarray
    arm: np.ndarray  # 0 control, 1 experimental
    stratum: np.ndarray | None
    arm_labels: tuple[str, str]
    strata_labels: tuple[str, ...]


@dataclass(frozen=True)
class ResponseData:
    """A response table's columns checked and coded: responder (CR or PR), arm 0/1, stratum."""

    responder: np.ndarray
    arm: np.ndarray  # 0 control, 1 experimental
    stratum: np.ndarray | None
    arm_labels: tuple[str, str]
    strata_labels: tuple[str, ...]


def responses_from_frame(
    frame: pd.DataFrame, arm: str, strata: str | None, control: str | None, source: str
) -> ResponseData:
    """A response table (`sim.adam.response_table`: responder, arm, stratum) checked as
    `patients_from_frame` checks a time-to-event table."""
    a, arm_labels = check_arm(check_column(frame, "arm", arm), arm, control)
    s, strata_labels = (None, ())
    if strata:
        s, strata_labels = check_strata(check_column(frame, "strata", strata), strata, a)
    responder = frame["responder"].to_numpy(bool)
    return ResponseData(responder, a, s, arm_labels, strata_labels)


def analyze_response(data: ResponseData, conf_level: float = 0.95) -> pd.DataFrame:
    """The tidy table (`TIDY_COLUMNS`) of a best-overall-response analysis:

    - ``orr``: each arm's objective response rate (CR or PR) with its Wilson interval;
    - ``orr_difference``: experimental - control with Newcombe's hybrid score interval, and
      the Cochran-Mantel-Haenszel z of one stratum (z > 0: the experimental arm responds
      more; p_one_sided = 1 - Phi(z));
    - ``cmh``: the Mantel-Haenszel common odds ratio with the CMH test, unstratified and,
      with strata, stratified.

    Units: proportion (rates and their difference), ratio (the odds ratio); `events` counts
    responders."""
    from sim.stats import binary

    n, events = len(data.arm), int(data.responder.sum())
    counts = [(data.responder & (data.arm == k)).sum() for k in (0, 1)]
    totals = [(data.arm == k).sum() for k in (0, 1)]
    rows = []
    for k, name in enumerate(data.arm_labels):
        low, high = binary.wilson_interval(counts[k], totals[k], conf_level)
        rows.append(
            tidy_row(
                "orr",
                False,
                name,
                "proportion",
                estimate=counts[k] / totals[k],
                ci_low=float(low),
                ci_high=float(high),
                n=int(totals[k]),
                events=int(counts[k]),
            )
        )
    experimental = data.arm_labels[1]
    options = [(False, np.zeros(n, np.int64))]
    if data.stratum is not None:
        options.append((True, data.stratum))
    for stratified, stratum in options:
        cells = np.zeros((1, int(stratum.max()) + 1, 2))
        sizes = np.zeros_like(cells)
        np.add.at(cells[0], (stratum, data.arm), data.responder.astype(float))
        np.add.at(sizes[0], (stratum, data.arm), 1.0)
        cmh = binary.cmh_test(cells, sizes)
        test = {
            "z": float(cmh.z[0]),
            "p_one_sided": float(cmh.p_one[0]),
            "p_two_sided": float(cmh.p_two[0]),
            "n": n,
            "events": events,
        }
        if not stratified:
            d = binary.newcombe_difference(counts[0], totals[0], counts[1], totals[1], conf_level)
            rows.append(
                tidy_row(
                    "orr_difference",
                    False,
                    experimental,
                    "proportion",
                    estimate=float(d.diff),
                    ci_low=float(d.ci_low),
                    ci_high=float(d.ci_high),
                    **test,
                )
            )
        rows.append(
            tidy_row("cmh", stratified, experimental, "ratio", estimate=float(cmh.or_mh[0]), **test)
        )
    return tidy_frame(rows)


def rows_at_fault(mask: np.ndarray, index: pd.Index, limit: int = 8) -> str:
    rows = [str(i) for i in index[mask][:limit]]
    more = int(mask.sum()) - len(rows)
    return ", ".join(rows) + (f" and {more} more" if more > 0 else "")


def check_column(frame: pd.DataFrame, role: str, column: str) -> pd.Series:
    if column not in frame.columns:
        raise ScenarioError(
            f"--{role} {column!r}: no such column (the table has {list(frame.columns)}); "
            f"name the {role} column with --{role}"
        )
    return frame[column]


def check_time(values: pd.Series, column: str) -> np.ndarray:
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna().to_numpy()
    if bad.any():
        raise ScenarioError(
            f"column {column!r}: times must be numbers; rows {rows_at_fault(bad, values.index)} "
            "are not (fix or drop those rows)"
        )
    negative = (numeric < 0).to_numpy()
    if negative.any():
        raise ScenarioError(
            f"column {column!r}: times must be >= 0; rows "
            f"{rows_at_fault(negative, values.index)} are negative"
        )
    infinite = ~np.isfinite(numeric.to_numpy(dtype=float))
    if infinite.any():
        raise ScenarioError(
            f"column {column!r}: times must be finite; rows "
            f"{rows_at_fault(infinite, values.index)} are infinite (give the censoring time)"
        )
    if len(numeric) and (numeric == 0).all():
        raise ScenarioError(
            f"column {column!r}: every time is 0, so nobody was followed; is this the time "
            "column (name it with --time)?"
        )
    return numeric.to_numpy(dtype=float)


def check_event(values: pd.Series, column: str) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    numeric = pd.to_numeric(values, errors="coerce")
    bad = ~numeric.isin([0, 1]).to_numpy()
    if bad.any():
        raise ScenarioError(
            f"column {column!r}: event flags must be 0 (censored) or 1 (event); rows "
            f"{rows_at_fault(bad, values.index)} are not"
        )
    return numeric.to_numpy() == 1


def check_arm(values: pd.Series, column: str, control: str | None) -> tuple[np.ndarray, tuple]:
    missing = (values.isna() | (values.astype(object).astype(str).str.strip() == "")).to_numpy()
    if missing.any():
        raise ScenarioError(
            f"column {column!r}: every patient needs an arm; rows "
            f"{rows_at_fault(missing, values.index)} have none (give each its arm, or leave "
            "the patient out)"
        )
    labels = sorted(values.astype(str).unique())
    if control is None and len(labels) == 2 and "control" not in labels:
        raise ScenarioError(
            f"column {column!r}: arms {labels}, neither is called 'control': say which is the "
            f"control arm, e.g. --control {labels[0]} (it decides the direction of the "
            "hazard ratio)"
        )
    if control is None:
        control = "control"
    if len(labels) != 2 or control not in labels:
        raise ScenarioError(
            f"column {column!r}: needs exactly two arms with patients, one of them the control "
            f"{control!r}; found {labels} (an arm with no patients cannot be compared; set "
            "--control to the control arm's label)"
        )
    experimental = next(label for label in labels if label != control)
    return (values.astype(str) == experimental).to_numpy().astype(np.int8), (control, experimental)


def check_strata(values: pd.Series, column: str, arm: np.ndarray) -> tuple[np.ndarray, tuple]:
    codes, labels = pd.factorize(values.astype(str), sort=True)
    for k, label in enumerate(labels):
        arms = set(arm[codes == k])
        if len(arms) < 2:
            rows = rows_at_fault(codes == k, values.index)
            raise ScenarioError(
                f"column {column!r}: stratum {label!r} has patients of one arm only (rows "
                f"{rows}); it carries no comparison: merge it with another stratum or drop it"
            )
    return codes.astype(np.int64), tuple(labels)


# Columns that name a patient (sim's patients.parquet: `patient`; --observed: `patient_id`;
# CDISC: USUBJID), compared without regard to case.
PATIENT_ID_COLUMNS = ("patient", "patient_id", "subject", "subject_id", "usubjid")


def check_one_row_per_patient(frame: pd.DataFrame, source: str) -> None:
    """Raise ScenarioError if a patient id column holds an id twice: a table concatenated
    with itself would double n and shrink every p-value, silently."""
    for column in frame.columns:
        if str(column).strip().lower() not in PATIENT_ID_COLUMNS:
            continue
        twice = frame[column][frame[column].duplicated()]
        if not twice.empty:
            raise ScenarioError(
                f"column {column!r}: {twice.nunique()} patient id(s) appear more than once "
                f"in {source} (e.g. {str(twice.iloc[0])!r}); each patient is one row: remove the "
                "duplicated rows (or give one replicate of a simulated table)"
            )


def patients_from_frame(
    frame: pd.DataFrame,
    time: str,
    event: str,
    arm: str,
    strata: str | None,
    control: str | None = None,
    replicate: int | None = None,
    source: str = "the table",
) -> PatientData:
    """Check a patient table's columns and code them for `sim.stats.analysis`; a simulator
    table (with a `replicate` column) is cut to one replicate and its analysed patients."""
    if "replicate" in frame.columns:
        chosen = int(frame["replicate"].min()) if replicate is None else replicate
        frame = frame[frame["replicate"] == chosen]
        if frame.empty:
            raise ScenarioError(
                f"--replicate {replicate}: not in {source} (see its replicate column)"
            )
    check_one_row_per_patient(frame, source)
    if "in_analysis" in frame.columns:
        frame = frame[frame["in_analysis"].astype(bool)]
    t = check_time(check_column(frame, "time", time), time)
    e = check_event(check_column(frame, "event", event), event)
    if not e.any():
        raise ScenarioError(
            f"column {event!r}: no events in {len(e)} patients; log-rank and Cox need at "
            "least one event (is this the event column? name it with --event)"
        )
    a, arm_labels = check_arm(check_column(frame, "arm", arm), arm, control)
    s, strata_labels = (None, ())
    if strata:
        s, strata_labels = check_strata(check_column(frame, "strata", strata), strata, a)
    return PatientData(t, e, a, s, arm_labels, strata_labels)


TIDY_COLUMNS = (
    "test",
    "stratified",
    "arm",
    "estimate",
    "se",
    "z",
    "p_one_sided",
    "p_two_sided",
    "ci_low",
    "ci_high",
    "n",
    "events",
    "unit",
)
# The unit of each test's estimate (`--tests` kinds; the default table's rows are below).
TEST_UNITS = {
    "logrank": "events",  # O - E of the experimental arm
    "fh": "weighted events",  # weighted O - E
    "mb": "weighted events",
    "maxcombo": "z",  # the smallest of the FH z statistics
    "rmst": "months",  # RMST difference, experimental - control
    "milestone": "probability",  # survival difference at t
    "ahr": "ratio",  # average hazard ratio
}
# The largest time of a table in days below which it looks like months, and of a table in
# months above which it looks like days: a trial followed for under 100 days (3.3 months)
# is rare, one followed for over 240 months (20 years) rarer still.
DAYS_LOOK_LIKE_MONTHS = 100.0
MONTHS_LOOK_LIKE_DAYS = 240.0


class TimeUnitWarning(UserWarning):
    """The time column's values look like another unit than the one stated."""


def time_unit_doubt(time: np.ndarray, time_unit: str, column: str) -> str | None:
    """A one-line warning when times stated in days look like months, or the reverse."""
    largest = float(np.max(time)) if len(time) else 0.0
    if time_unit == "days" and 0 < largest < DAYS_LOOK_LIKE_MONTHS:
        return (
            f"the time column {column!r} looks like months, but time_unit says days: its "
            f"largest time is {largest:g} ({largest / DAYS_PER_MONTH:.2g} months if days, a "
            "very short follow-up); if the times are months, say time_unit='months' "
            "(--time-unit months)"
        )
    if time_unit == "months" and largest > MONTHS_LOOK_LIKE_DAYS:
        return (
            f"the time column {column!r} looks like days, but time_unit says months: its "
            f"largest time is {largest:g} ({largest / 12:.0f} years if months); if the times "
            "are days, say time_unit='days' (--time-unit days)"
        )
    return None


def tidy_row(test: str, stratified: bool, arm: str, unit: str, **values: float) -> dict:
    """One row of the tidy table; values not given are NaN."""
    row: dict = {"test": test, "stratified": stratified, "arm": arm}
    for column in TIDY_COLUMNS[3:-1]:
        row[column] = values.get(column, np.nan)
    row["unit"] = unit
    return row


def analyze_patients(
    data: PatientData,
    conf_level: float = 0.95,
    conf_type: str = "log",
    to_months: float = 1.0 / DAYS_PER_MONTH,
) -> pd.DataFrame:
    """The tidy final analysis (columns `TIDY_COLUMNS`), one row per analysis:

    - ``logrank``: estimate O - E of the experimental arm (`arm`), se = sqrt(variance), unit
      events; unstratified, and stratified when the data have strata;
    - ``cox_efron``, ``cox_breslow``: estimate the hazard ratio experimental / control with
      its Wald CI at `conf_level`, se of the log hazard ratio, unit ratio;
    - ``km_median``: each arm's Kaplan-Meier median with the Brookmeyer-Crowley interval
      (`conf_type` band), in months (`to_months` converts the data's time unit).

    z < 0 and a small p_one_sided favour the experimental arm; n and events count the
    patients and events the row's figure comes from (both arms; one arm for a median).
    """
    rows = []
    strata_options = [(False, None)]
    if data.stratum is not None:
        strata_options.append((True, data.stratum))
    n, events = len(data.time), int(data.event.sum())
    experimental = data.arm_labels[1]
    for stratified, stratum in strata_options:
        lr = analysis.logrank_test(data.time, data.event, data.arm, stratum)
        rows.append(
            tidy_row(
                "logrank",
                stratified,
                experimental,
                "events",
                estimate=float(lr.o1[0] - lr.e1[0]),
                se=float(np.sqrt(lr.var[0])),
                z=float(lr.z[0]),
                p_one_sided=float(lr.p_one[0]),
                p_two_sided=float(lr.p_two[0]),
                n=n,
                events=events,
            )
        )
        for ties in ("efron", "breslow"):
            cox = analysis.cox_ph(
                data.time, data.event, data.arm, stratum, ties=ties, conf_level=conf_level
            )
            rows.append(
                tidy_row(
                    f"cox_{ties}",
                    stratified,
                    experimental,
                    "ratio",
                    estimate=float(cox.hr[0]),
                    se=float(cox.se[0]),
                    z=float(cox.z[0]),
                    p_one_sided=float(cox.p_one[0]),
                    p_two_sided=float(cox.p_two[0]),
                    ci_low=float(cox.ci_low[0]),
                    ci_high=float(cox.ci_high[0]),
                    n=n,
                    events=events,
                )
            )
    for code, name in enumerate(data.arm_labels):
        mask = data.arm == code
        med = analysis.km_median_ci(data.time[mask], data.event[mask], conf_level, conf_type)
        rows.append(
            tidy_row(
                "km_median",
                False,
                name,
                "months",
                estimate=med.median * to_months,
                ci_low=med.ci_low * to_months,
                ci_high=med.ci_high * to_months,
                n=int(mask.sum()),
                events=int(data.event[mask].sum()),
            )
        )
    return tidy_frame(rows)


def tidy_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    return frame.astype({"n": "int64", "events": "int64", "stratified": bool})


def parse_tests(text: str) -> tuple[TestSpec, ...]:
    """`--tests logrank,fh:0:1,maxcombo,...` as test specs (one message for a bad one)."""
    specs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            specs.append(parse_test(part))
        except ValueError as exc:
            raise ScenarioError(f"--tests {text!r}: {exc}") from None
    if not specs:
        raise ScenarioError(f"--tests {text!r}: no test named; use e.g. logrank,fh:0:1,maxcombo")
    return tuple(specs)


def analyze_tests(
    data: PatientData, specs: tuple[TestSpec, ...], time_unit: str = "days"
) -> pd.DataFrame:
    """The tidy table (columns `TIDY_COLUMNS`) of the tests of `specs`: one row per test and
    stratification (unstratified, and stratified when the table has strata); `test` is the
    spec as written (``fh:0:1``), `unit` the estimate's (`TEST_UNITS`). Test times (tau, t,
    t*) are months; RMST estimates are in months; z < 0 favours the experimental arm;
    MaxCombo's p-values are accurate to 1e-6."""
    from sim.stats import weighted

    per_month = 1.0 / TIME_UNITS[time_unit]  # the data's units per month
    options = [(False, None)]
    if data.stratum is not None:
        options.append((True, data.stratum))
    n, events = len(data.time), int(data.event.sum())
    rows = []
    for spec in specs:
        for stratified, stratum in options:
            rs = analysis.risk_sets(data.time, data.event, data.arm, stratum)
            result = weighted.run_test(spec, rs, per_month, abs_tol=1e-6)
            rows.append(
                tidy_row(
                    spec.spec or spec.name,
                    stratified,
                    data.arm_labels[1],
                    TEST_UNITS[spec.kind],
                    estimate=float(result.estimate[0]),
                    se=float(result.se[0]),
                    z=float(result.z[0]),
                    p_one_sided=float(result.p_one[0]),
                    p_two_sided=float(result.p_two[0]),
                    n=n,
                    events=events,
                )
            )
    return tidy_frame(rows)


def row_label(row: pd.Series, conf_type: str) -> str:
    """The printed name of a tidy row: ``log-rank, stratified: O - E of experimental``."""
    strat = "stratified" if row["stratified"] else "unstratified"
    test = str(row["test"])
    if test == "logrank" and conf_type:
        return f"log-rank, {strat}: O - E of {row['arm']}"
    if test.startswith("cox_"):
        return f"Cox HR ({test[4:]}), {strat}"
    if test == "orr":
        return f"ORR, {row['arm']} (n={row['n']}, responders={row['events']}; Wilson)"
    if test == "orr_difference":
        return f"ORR difference, {row['arm']} - control (Newcombe); CMH z"
    if test == "cmh":
        return f"CMH odds ratio, {strat}"
    if test == "km_median":
        return f"KM median, {row['arm']} (n={row['n']}, events={row['events']}; {conf_type} band)"
    return f"{parse_test(test).label}, {strat}"


def printed_analysis(tidy: pd.DataFrame, conf_type: str | None) -> str:
    """The tidy table as people read it: a named row per analysis. The default analysis
    (`conf_type` given) shows estimate, unit, CI, chi-square (z squared), z and p-values; a
    `--tests` table (`conf_type` None) shows estimate, se, z and p-values."""
    labels = [row_label(row, conf_type or "") for _, row in tidy.iterrows()]
    if conf_type is None:
        shown = tidy[["estimate", "se", "z", "p_one_sided", "p_two_sided"]]
    else:
        shown = pd.DataFrame(
            {
                "unit": tidy["unit"],
                "estimate": tidy["estimate"],
                "ci_low": tidy["ci_low"],
                "ci_high": tidy["ci_high"],
                "statistic": tidy["z"] ** 2,
                "z": tidy["z"],
                "p_one_sided": tidy["p_one_sided"],
                "p_two_sided": tidy["p_two_sided"],
            }
        )
    shown = shown.copy()
    shown.insert(0, "analysis", labels)
    return shown.to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep="NA")


def km_tables(
    data: PatientData,
    conf_level: float = 0.95,
    conf_type: str = "log",
    to_months: float = 1.0 / DAYS_PER_MONTH,
) -> pd.DataFrame:
    """Kaplan-Meier tables of both arms, time in months, with the band type named."""
    frames = []
    for code, name in enumerate(data.arm_labels):
        mask = data.arm == code
        table = analysis.kaplan_meier(data.time[mask], data.event[mask], conf_level, conf_type)
        table.insert(0, "arm", name)
        table.insert(1, "time_months", table.pop("time") * to_months)
        frames.append(table.assign(band=conf_type))
    return pd.concat(frames, ignore_index=True)
