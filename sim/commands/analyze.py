"""``python -m sim analyze PATIENTS``: the final analysis of a patient-level table.

For the simulator's ``patients.parquet`` (one replicate at a time) or any trial's CSV/Parquet
with one row per patient: the table is read here, and checked and analysed by
`sim.stats.final_analysis` (as `sim.analyze` does). A table the analysis cannot use gets one
message naming the column and the rows at fault, and exit status 2. The JSON output is strict
JSON: a missing value (a median not reached) is ``null``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario import ScenarioError
from sim.scenario.loading import why_not_a_file
from sim.stats import analysis
from sim.stats.final_analysis import (
    SIMULATOR_COLUMNS,
    TIME_UNITS,
    PatientData,
    analyze_patients,
    analyze_tests,
    km_tables,
    parse_tests,
    patients_from_frame,
)

TABLE_HINT = "give a CSV or Parquet table with one row per patient"


def read_table(path: Path) -> pd.DataFrame:
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


def load_patients(
    path: Path,
    time: str,
    event: str,
    arm: str,
    strata: str | None,
    control: str | None = None,
    replicate: int | None = None,
) -> PatientData:
    return patients_from_frame(
        read_table(path), time, event, arm, strata, control, replicate, source=str(path)
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("analyze", help="final analysis of a patient-level table")
    parser.add_argument("patients", type=Path, help="CSV or Parquet, one row per patient")
    parser.add_argument("--time", default=SIMULATOR_COLUMNS["time"], help="time column")
    parser.add_argument("--event", default=SIMULATOR_COLUMNS["event"], help="event 0/1 column")
    parser.add_argument("--arm", default=SIMULATOR_COLUMNS["arm"], help="arm column")
    parser.add_argument(
        "--strata", default=None, help="stratum column (default: 'stratum' if present)"
    )
    parser.add_argument("--control", default=None, help="label of the control arm")
    parser.add_argument(
        "--replicate",
        type=int,
        default=None,
        help="replicate to analyze in a simulator table (default: the first)",
    )
    parser.add_argument("--conf-level", type=float, default=0.95)
    parser.add_argument(
        "--conf-type",
        choices=analysis.CONF_TYPES,
        default="log",
        help="Kaplan-Meier band and median interval: log (R's default) or log-log (lifelines')",
    )
    parser.add_argument(
        "--time-unit",
        choices=tuple(TIME_UNITS),
        default="days",
        help="unit of the time column (days, as the simulator writes); results are in months",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="FILE.csv (plus FILE_km.csv) or FILE.json"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    parser.add_argument(
        "--tests",
        default=None,
        help="comma-separated tests instead of the default table, e.g. "
        "logrank,fh:0:1,fh:1:1,maxcombo,rmst:12,milestone:12 (times in "
        "months); one row per test and stratification",
    )
    parser.set_defaults(func=cmd_analyze)


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.out is not None and args.out.exists() and not args.force:
        raise ScenarioError(f"--out {args.out}: exists; add --force to replace it")
    if args.out is not None and args.out.suffix not in (".csv", ".json"):
        raise ScenarioError(f"--out {args.out}: use a .csv or .json file name")
    if not 0 < args.conf_level < 1:
        raise ScenarioError(f"--conf-level {args.conf_level}: must be in (0, 1), e.g. 0.95")
    strata = args.strata
    if strata is None:
        header = read_table(args.patients).columns
        strata = SIMULATOR_COLUMNS["strata"] if SIMULATOR_COLUMNS["strata"] in header else None
    specs = parse_tests(args.tests) if getattr(args, "tests", None) else None
    data = load_patients(
        args.patients, args.time, args.event, args.arm, strata, args.control, args.replicate
    )
    to_months = TIME_UNITS[args.time_unit]
    if specs is not None:
        results = analyze_tests(data, specs, args.time_unit)
    else:
        results = analyze_patients(data, args.conf_level, args.conf_type, to_months)
    print(
        f"{len(data.time)} patients, {int(data.event.sum())} events; control = "
        f"{data.arm_labels[0]!r}, experimental = {data.arm_labels[1]!r}"
        + (f"; strata {list(data.strata_labels)}" if data.stratum is not None else "")
        + f"; times read in {args.time_unit}, shown in months"
    )
    print(results.to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep="NA"))
    print(
        f"log-rank estimate: O - E, observed minus expected events of the experimental arm; "
        f"KM: {args.conf_type} band, {args.conf_level:g} level; NA: not reached"
    )
    if args.out is not None:
        write_results(
            args.out,
            results,
            km_tables(data, args.conf_level, args.conf_type, to_months),
            args.force,
        )
    return 0


def json_records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain JSON values: numpy scalars to Python, NaN and infinities to None."""

    def clean(value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value

    return [{k: clean(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


def write_results(out: Path, results: pd.DataFrame, km: pd.DataFrame, force: bool = False) -> None:
    """FILE.json, or FILE.csv and FILE_km.csv; an existing file is replaced (with `force`)
    only if sim's record of the files it wrote there lists it (`sim.storage.folders`)."""
    from sim.storage.folders import output_files

    if out.suffix == ".json":
        paths = [out]
    else:
        paths = [out, out.with_name(out.stem + "_km.csv")]
    with output_files(paths, force) as staging:
        if out.suffix == ".json":
            payload = {
                "time_unit": "months",
                "band": str(km["band"].iloc[0]) if len(km) else None,
                "results": json_records(results),
                "kaplan_meier": json_records(km),
            }
            (staging / out.name).write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
        else:
            results.to_csv(staging / paths[0].name, index=False)
            km.to_csv(staging / paths[1].name, index=False)
