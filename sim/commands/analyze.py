"""``python -m sim analyze PATIENTS``: the final analysis of a patient-level table.

For the simulator's ``patients.parquet`` (one replicate at a time), any trial's CSV/Parquet
with one row per patient, or ADaM data sets (ADSL + ADTTE: a folder of ``run --adam`` or a
sponsor's files, recognised by content; `sim.adam.inputs`): the command calls `sim.analyze`
and prints its printed form; ``--out`` writes its tidy table. A table the analysis cannot use
gets one message naming the column (for ADaM: the data set, variable and USUBJID) and the
fix, and exit status 2. The JSON output is strict JSON: a missing value (a median not
reached) is ``null``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario import ScenarioError
from sim.stats import analysis
from sim.stats.final_analysis import SIMULATOR_COLUMNS, TIME_UNITS, ResponseData, km_tables


def add_adam_args(parser: argparse.ArgumentParser) -> None:
    """The options of ADaM input (analyze and forecast)."""
    parser.add_argument(
        "--adam-map",
        action="append",
        default=None,
        metavar="STD=YOURS,...",
        help="ADaM variables you call otherwise, standard name = yours, e.g. "
        "--adam-map TRT01P=ARM,STRATA1R=STRAT1 (repeatable)",
    )
    parser.add_argument(
        "--paramcd",
        default="PFS",
        help="ADTTE parameter (PARAMCD) to analyze or forecast: PFS (default), OS, or any",
    )
    parser.add_argument(
        "--arm-values",
        action="append",
        default=None,
        metavar="TREATMENT=ARM,...",
        help="ADaM treatments as the project's arms, e.g. "
        "--arm-values 'Chemo=control,Chemo + RT=experimental'; any other treatment is refused",
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("analyze", help="final analysis of a patient-level table")
    parser.add_argument(
        "patients",
        type=Path,
        nargs="+",
        help="CSV or Parquet, one row per patient; or ADaM data sets (ADSL + ADTTE, "
        "ADRS optional): their folder (e.g. a rep000_final folder of run --adam) or files",
    )
    parser.add_argument(
        "--time", default=None, help=f"time column ({SIMULATOR_COLUMNS['time']}; ADaM: AVAL)"
    )
    parser.add_argument(
        "--event",
        default=None,
        help=f"event 0/1 column ({SIMULATOR_COLUMNS['event']}; ADaM: CNSR = 0 is the event)",
    )
    parser.add_argument(
        "--arm", default=None, help="arm column (arm; ADaM: the ADSL variable, TRT01P)"
    )
    parser.add_argument(
        "--strata",
        default="auto",
        help="stratum column (default: 'stratum' if present; ADaM: the ADSL variable, "
        "STRATA1R if present); 'none' for no stratified rows",
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
        default=None,
        help="unit of the time column (default days, as the simulator writes; ADaM: "
        "AVALU); results are in months",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="FILE.csv (the tidy table, plus FILE_km.csv) or FILE.json",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    parser.add_argument(
        "--tests",
        default=None,
        help="comma-separated tests instead of the default table, e.g. "
        "logrank,fh:0:1,fh:1:1,maxcombo,rmst:12,milestone:12 (times in "
        "months); one row per test and stratification",
    )
    add_adam_args(parser)
    parser.set_defaults(func=cmd_analyze)


def analysis_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of `sim.analyze` from the command's arguments: the simulator's column
    names for a patient table, none for ADaM data."""
    from sim.adam.inputs import is_adam, parse_pairs

    data = args.patients[0] if len(args.patients) == 1 else list(args.patients)
    mapping = parse_pairs(args.adam_map, "--adam-map") or None
    adam = is_adam(data, mapping)
    default = (lambda name: None) if adam else SIMULATOR_COLUMNS.get
    return {
        "data": data,
        "time": args.time or default("time"),
        "event": args.event or default("event"),
        "arm": args.arm or default("arm"),
        "strata": None if str(args.strata).lower() == "none" else args.strata,
        "control": args.control,
        "replicate": args.replicate,
        "time_unit": args.time_unit,
        "paramcd": args.paramcd,
        "adam_map": mapping,
        "arm_values": parse_pairs(args.arm_values, "--arm-values") or None,
    }


def cmd_analyze(args: argparse.Namespace) -> int:
    from sim.api import analysis_input, analyze
    from sim.stats.final_analysis import TimeUnitWarning

    if args.out is not None and args.out.exists() and not args.force:
        raise ScenarioError(f"--out {args.out}: exists; add --force to replace it")
    if args.out is not None and args.out.suffix not in (".csv", ".json"):
        raise ScenarioError(f"--out {args.out}: use a .csv or .json file name")
    if not 0 < args.conf_level < 1:
        raise ScenarioError(f"--conf-level {args.conf_level}: must be in (0, 1), e.g. 0.95")
    options = analysis_options(args)
    data = options.pop("data")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TimeUnitWarning)
        results = analyze(
            data,
            conf_level=args.conf_level,
            conf_type=args.conf_type,
            tests=args.tests,
            **options,
        )
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(results.attrs["printed"])
    if args.out is not None:
        patients, unit, _ = analysis_input(data, **options)
        # a response parameter (ADRS, BOR) has no Kaplan-Meier curves
        km = (
            None
            if isinstance(patients, ResponseData)
            else km_tables(patients, args.conf_level, args.conf_type, TIME_UNITS[unit])
        )
        write_results(args.out, results, km, args.force)
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


def write_results(
    out: Path, results: pd.DataFrame, km: pd.DataFrame | None, force: bool = False
) -> None:
    """FILE.json, or FILE.csv and FILE_km.csv (no FILE_km.csv for a response parameter:
    `km` None); an existing file is replaced (with `force`) only if sim's record of the
    files it wrote there lists it (`sim.storage.folders`)."""
    from sim.storage.folders import output_files

    if out.suffix == ".json" or km is None:
        paths = [out]
    else:
        paths = [out, out.with_name(out.stem + "_km.csv")]
    with output_files(paths, force) as staging:
        if out.suffix == ".json":
            payload = {
                "time_unit": "months" if km is not None else None,
                "band": str(km["band"].iloc[0]) if km is not None and len(km) else None,
                "results": json_records(results),
                "kaplan_meier": json_records(km) if km is not None else [],
            }
            (staging / out.name).write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
        else:
            results.to_csv(staging / paths[0].name, index=False)
            if km is not None:
                km.to_csv(staging / paths[1].name, index=False)
