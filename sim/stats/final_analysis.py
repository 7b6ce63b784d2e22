"""The final analysis of a patient-level table (`sim.analyze`, ``python -m sim analyze``).

A table's columns checked and coded (`patients_from_frame`: one message naming the column and
the rows at fault), then: log-rank (unstratified and stratified, exact with ties), Cox HR with
Wald CI (Efron and Breslow, stratified and not), Kaplan-Meier median per arm with the
Brookmeyer-Crowley interval (`analyze_patients`), or the tests of a test spec
(`analyze_tests`). The same functions (`sim.stats.analysis`) analyze every simulated data cut.

Units: times are read in `--time-unit` (days, as the simulator writes them, or months) and
every time returned is in months (30.4375 days); each result row says its unit. The log-rank
estimate is O - E, observed minus expected events of the experimental arm (negative: fewer
events than expected under H0, i.e. benefit). The Kaplan-Meier band and the median's interval
use `--conf-type`: ``log`` (R survfit's default) or ``log-log``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.scenario import DAYS_PER_MONTH, ScenarioError, TestSpec, parse_test
from sim.stats import analysis

TIME_UNITS = {"days": 1.0 / DAYS_PER_MONTH, "months": 1.0}  # factor to months

SIMULATOR_COLUMNS = {
    "time": "pfs_days_at_cut",
    "event": "pfs_event_at_cut",
    "arm": "arm",
    "strata": "stratum",
}


@dataclass(frozen=True)
class PatientData:
    time: np.ndarray
    event: np.ndarray
    arm: np.ndarray  # 0 control, 1 experimental
    stratum: np.ndarray | None
    arm_labels: tuple[str, str]
    strata_labels: tuple[str, ...]


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


def analyze_patients(
    data: PatientData,
    conf_level: float = 0.95,
    conf_type: str = "log",
    to_months: float = 1.0 / DAYS_PER_MONTH,
) -> pd.DataFrame:
    """One row per analysis: estimate, its unit, CI, statistic, one- and two-sided p.

    `to_months` converts the data's time unit to months (KM medians are reported in months).
    """
    rows = []
    strata_options = [("unstratified", None)]
    if data.stratum is not None:
        strata_options.append(("stratified", data.stratum))
    for label, stratum in strata_options:
        lr = analysis.logrank_test(data.time, data.event, data.arm, stratum)
        rows.append(
            {
                "analysis": f"log-rank, {label}: O - E of {data.arm_labels[1]}",
                "unit": "events",
                "estimate": float(lr.o1[0] - lr.e1[0]),
                "ci_low": np.nan,
                "ci_high": np.nan,
                "statistic": float(lr.chi2[0]),
                "z": float(lr.z[0]),
                "p_one_sided": float(lr.p_one[0]),
                "p_two_sided": float(lr.p_two[0]),
            }
        )
        for ties in ("efron", "breslow"):
            cox = analysis.cox_ph(
                data.time, data.event, data.arm, stratum, ties=ties, conf_level=conf_level
            )
            rows.append(
                {
                    "analysis": f"Cox HR ({ties}), {label}",
                    "unit": "ratio",
                    "estimate": float(cox.hr[0]),
                    "ci_low": float(cox.ci_low[0]),
                    "ci_high": float(cox.ci_high[0]),
                    "statistic": float(cox.z[0] ** 2),
                    "z": float(cox.z[0]),
                    "p_one_sided": float(cox.p_one[0]),
                    "p_two_sided": float(cox.p_two[0]),
                }
            )
    for code, name in enumerate(data.arm_labels):
        mask = data.arm == code
        med = analysis.km_median_ci(data.time[mask], data.event[mask], conf_level, conf_type)
        rows.append(
            {
                "analysis": f"KM median, {name} (n={mask.sum()}, "
                f"events={int(data.event[mask].sum())}; {conf_type} band)",
                "unit": "months",
                "estimate": med.median * to_months,
                "ci_low": med.ci_low * to_months,
                "ci_high": med.ci_high * to_months,
                "statistic": np.nan,
                "z": np.nan,
                "p_one_sided": np.nan,
                "p_two_sided": np.nan,
            }
        )
    return pd.DataFrame(rows)


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
    """One row per test (and per stratification: unstratified, and stratified when the
    table has strata): analysis label (`FH(0,1), stratified`), estimate, se, z (< 0
    favours the experimental arm), p_one_sided, p_two_sided. Test times (tau, t, t*) are
    months; RMST estimates are in months; MaxCombo's p-values are accurate to 1e-6."""
    from sim.stats import weighted

    per_month = 1.0 / TIME_UNITS[time_unit]  # the data's units per month
    options = [("unstratified", None)]
    if data.stratum is not None:
        options.append(("stratified", data.stratum))
    rows = []
    for spec in specs:
        for label, stratum in options:
            rs = analysis.risk_sets(data.time, data.event, data.arm, stratum)
            result = weighted.run_test(spec, rs, per_month, abs_tol=1e-6)
            rows.append(
                {
                    "analysis": f"{spec.label}, {label}",
                    "estimate": float(result.estimate[0]),
                    "se": float(result.se[0]),
                    "z": float(result.z[0]),
                    "p_one_sided": float(result.p_one[0]),
                    "p_two_sided": float(result.p_two[0]),
                }
            )
    return pd.DataFrame(rows)


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
