"""``python -m sim forecast`` and ``python -m sim export-observed``: forecast a trial under way.

``forecast SCENARIO --observed FILE --as-of DATE`` fits the scenario's rates to the trial's own
data (`sim.engine.history`), runs the rest of the trial from the as-of date with the conduct
and clinic model, and writes a run folder (summary, timeline, supply, resources, replicates)
plus:

- ``fit.csv``: prior, observed and posterior of every rate;
- ``forecast.csv``: each milestone's median and 80% / 90% prediction intervals, beside the
  plan's (the same scenario, seed and replicates without data, in ``plan/``);
- ``comparison.csv``: the summary metrics of the forecast and the plan side by side;
- ``observed.csv``: the data used, as checked; ``forecast.png``: observed counts to the
  as-of date, then the forecast fan and the completion date.

``export-observed RUN --replicate K --as-of DATE`` writes the ``--observed`` table of a
simulated trial (replicate K of RUN/patients.parquet) as it stood on that date.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sim.engine.history import DEFAULT_PRIOR_EVENTS, DEFAULT_PRIOR_MONTHS, TrialHistory
from sim.engine.metric_table import plan_metrics
from sim.scenario import Scenario, ScenarioError, load_scenario

PI_LEVELS = (0.80, 0.90)
FORECAST_MILESTONES = ("randomized_100pct", "target_events", "data_cut", "final_analysis")


def date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 3)") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0 (e.g. 3)")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    from sim.commands.cli import MAX_REPS, add_montecarlo_args, add_scenario_args, int_in_range

    if "forecast" in sub.choices:  # one module, two commands: registered once
        return
    parser = sub.add_parser("forecast", help="forecast the rest of a trial from its own data")
    add_scenario_args(parser)
    parser.add_argument(
        "--observed",
        type=Path,
        required=True,
        help="one row per randomized patient (CSV or Parquet)",
    )
    parser.add_argument(
        "--as-of",
        type=date_arg,
        required=True,
        dest="as_of",
        help="date the data are current to (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--screening",
        type=Path,
        default=None,
        help="screened and failed counts by site and month (CSV or Parquet)",
    )
    parser.add_argument(
        "--prior-months",
        type=non_negative_float,
        default=None,
        help="weight of the planned site rates, in months of a site's "
        "full-speed accrual (default: the scenario's site_heterogeneity "
        f"as the prior shape when it has one, else {DEFAULT_PRIOR_MONTHS:g})",
    )
    parser.add_argument(
        "--prior-events",
        type=non_negative_float,
        default=DEFAULT_PRIOR_EVENTS,
        help=f"weight of the planned PFS and dropout hazards, in events ({DEFAULT_PRIOR_EVENTS:g})",
    )
    add_montecarlo_args(parser)
    parser.set_defaults(func=cmd_forecast, keep_patients=0)  # no patients unless asked

    export = sub.add_parser(
        "export-observed", help="write an --observed table from a simulated trial"
    )
    export.add_argument("run", type=Path, help="run folder with patients.parquet")
    export.add_argument(
        "--replicate",
        type=int_in_range(0, MAX_REPS, "--replicate 0"),
        default=0,
        help="replicate of patients.parquet (0)",
    )
    export.add_argument(
        "--as-of",
        type=date_arg,
        required=True,
        dest="as_of",
        help="date the table is current to (YYYY-MM-DD)",
    )
    export.add_argument(
        "--out", type=Path, default=None, help="CSV or Parquet file (default observed-<as-of>.csv)"
    )
    export.add_argument("--blinded", action="store_true", help="leave the arm column empty")
    export.add_argument("--force", action="store_true", help="overwrite an existing --out")
    export.set_defaults(func=cmd_export_observed)


# --- forecast ------------------------------------------------------------------------------


def check_as_of(scenario: Scenario, as_of: dt.date) -> None:
    from sim.conduct.calendar import CALENDAR_YEARS

    start = scenario.trial.start_date
    if as_of < start:
        raise ScenarioError(
            f"--as-of {as_of}: before trial.start_date {start}; give a date on or after the start"
        )
    if (as_of - start).days > CALENDAR_YEARS * 365:
        raise ScenarioError(
            f"--as-of {as_of}: more than {CALENDAR_YEARS} years after the "
            "start: beyond the study calendar"
        )


def build_forecast_model(
    scenario: Scenario,
    observed_path: Path,
    as_of: dt.date,
    screening_path: Path | None = None,
    prior_months: float | None = None,
    prior_events: float = DEFAULT_PRIOR_EVENTS,
):
    """The TrialModel of a forecast: the scenario's, with the fitted history."""
    from sim.conduct.history import read_observed, read_screening
    from sim.engine.chunk import TrialModel
    from sim.engine.history import fit_history

    check_as_of(scenario, as_of)
    for name, value in (("--prior-months", prior_months), ("--prior-events", prior_events)):
        if value is not None and not value > 0:
            raise ScenarioError(
                f"{name} {value}: must be > 0 (a prior worth no data cannot "
                "forecast a site not yet open; e.g. 3 months, 1 event)"
            )
    observed = read_observed(observed_path, scenario, as_of)
    screening = (
        read_screening(screening_path, scenario, as_of) if screening_path is not None else None
    )
    model = TrialModel.from_scenario(scenario)
    history = fit_history(
        scenario, model.calendar, model.schedule, observed, prior_months, prior_events, screening
    )
    return dataclasses.replace(model, history=history)


def prediction_intervals(dates: pd.Series, start: dt.date) -> dict:
    """Median and 80% / 90% prediction intervals of a date column (NaT: never, later)."""
    values = dates.to_numpy("datetime64[D]")
    days = np.where(
        np.isnat(values),
        np.inf,
        (values - np.datetime64(start, "D")).astype("timedelta64[D]").astype(float),
    )
    out = {}
    probs = {"median": 0.5}
    for level in PI_LEVELS:
        tail = round((1 - level) / 2 * 100)
        probs[f"pi{round(level * 100)}_low"] = tail / 100
        probs[f"pi{round(level * 100)}_high"] = 1 - tail / 100
    for name, p in probs.items():
        q = float(np.quantile(days, p, method="inverted_cdf"))
        out[name] = str(start + dt.timedelta(days=int(q))) if np.isfinite(q) else ""
    for level in PI_LEVELS:
        lo, hi = np.quantile(days, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
        out[f"pi{round(level * 100)}_width_days"] = float(hi - lo) if np.isfinite(hi) else None
    out["share_reached"] = float(np.isfinite(days).mean())
    return out


def forecast_table(forecast: pd.DataFrame, plan: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """forecast.csv: per milestone, the forecast's and the plan's median and intervals."""
    start = scenario.trial.start_date
    completion = np.datetime64(scenario.trial.completion_date, "D")
    rows = []
    for name in FORECAST_MILESTONES:
        column = f"{name}_date"
        f, p = (prediction_intervals(t[column], start) for t in (forecast, plan))
        row = {"milestone": name, **f}
        row.update({f"plan_{k}": v for k, v in p.items()})
        for source, table in (("", forecast), ("plan_", plan)):
            dates = table[column].to_numpy("datetime64[D]")
            row[f"{source}p_by_completion"] = float(
                (~np.isnat(dates) & (dates <= completion)).mean()
            )
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(forecast: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """comparison.csv: summary metrics of the forecast and the plan side by side (those the
    metric table puts there, `plan`)."""
    f, p = forecast.set_index("metric"), plan.set_index("metric")
    names = plan_metrics([m for m in f.index if m in p.index])
    return pd.DataFrame(
        {
            "metric": names,
            "forecast": f.loc[names, "estimate"].to_numpy(),
            "forecast_mc_se": f.loc[names, "mc_se"].to_numpy(),
            "plan": p.loc[names, "estimate"].to_numpy(),
            "plan_mc_se": p.loc[names, "mc_se"].to_numpy(),
        }
    )


def observed_table(history: TrialHistory, scenario: Scenario) -> pd.DataFrame:
    """The observed patients as checked (observed.csv)."""
    obs, start = history.observed, scenario.trial.start_date
    names = [s.name for s in scenario.enrollment.site_list(start)]

    def date(day: np.ndarray) -> list[str]:
        return [str(start + dt.timedelta(days=int(d))) if np.isfinite(d) else "" for d in day]

    rand = obs.rand_day.astype(float)
    return pd.DataFrame(
        {
            "patient_id": obs.patient_id,
            "site": np.asarray(names)[obs.site] if obs.n else [],
            "stratum": np.asarray(scenario.strata_names)[obs.stratum] if obs.n else [],
            "randomized": date(rand),
            "arm": [("control", "experimental")[a] if a >= 0 else "" for a in obs.arm],
            "event_date": date(rand + obs.event_day),
            "event_type": np.where(
                np.isfinite(obs.event_day), np.where(obs.is_death, "death", "progression"), ""
            ),
            "dropout_date": date(rand + obs.dropout_day),
            "last_assessment": date(rand + obs.last_day),
        }
    )


@dataclasses.dataclass(frozen=True)
class ForecastOutputs:
    run: object  # sim.commands.run.RunOutputs of the forecast
    history: object  # sim.engine.history.TrialHistory
    forecast: pd.DataFrame  # forecast.csv
    comparison: pd.DataFrame  # comparison.csv


def forecast_trial(
    scenario: Scenario,
    observed: Path,
    as_of: dt.date,
    out: Path,
    *,
    reps: int,
    seed: int,
    workers: int,
    screening: Path | None = None,
    prior_months: float | None = None,
    prior_events: float = DEFAULT_PRIOR_EVENTS,
    keep_patients: int = 0,
    force: bool = False,
    scenario_path: str = "",
    overrides: list[str] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    resume: bool = False,
) -> ForecastOutputs:
    """Fit, forecast and plan into the folder `out` (see the module docstring)."""
    from sim.commands.run import check_out_folder, run_scenario

    check_out_folder(out, force)
    model = build_forecast_model(scenario, observed, as_of, screening, prior_months, prior_events)
    history = model.history
    common = dict(
        reps=reps,
        seed=seed,
        workers=workers,
        scenario_path=scenario_path,
        overrides=list(overrides or []),
        executor=executor,
        scheduler=scheduler,
    )
    tables: dict[str, pd.DataFrame] = {}

    def add_forecast_files(staging: Path) -> None:
        history.fit_table().to_csv(staging / "fit.csv", index=False)
        observed_table(history, scenario).to_csv(staging / "observed.csv", index=False)
        plan = run_scenario(scenario, staging / "plan", keep_patients=0, **common)
        forecast_reps = pd.read_parquet(staging / "replicates.parquet")
        plan_reps = pd.read_parquet(staging / "plan" / "replicates.parquet")
        tables["forecast"] = forecast_table(forecast_reps, plan_reps, scenario)
        tables["forecast"].to_csv(staging / "forecast.csv", index=False)
        summary = pd.read_csv(staging / "summary.csv")
        tables["comparison"] = comparison_table(summary, plan.summary)
        tables["comparison"].to_csv(staging / "comparison.csv", index=False)
        from sim.outputs.forecast import save_forecast_figure

        save_forecast_figure(
            model,
            seed,
            reps,
            forecast_reps["final_analysis_date"].to_numpy("datetime64[D]"),
            staging / "forecast.png",
        )
        path = staging / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        obs = history.observed
        # still a run (compare, plot, report read it as one), with its forecast block
        manifest["forecast"] = {
            "as_of": str(as_of),
            "observed": str(observed),
            "screening": str(screening) if screening else None,
            "patients": obs.n,
            "events": int(np.isfinite(obs.event_day).sum()),
            "dropouts": int(np.isfinite(obs.dropout_day).sum()),
            "blinded": obs.blinded,
            "prior_months": prior_months,
            "site_prior": (
                "site_heterogeneity"
                if prior_months is None and scenario.enrollment.site_heterogeneity is not None
                else f"{prior_months or DEFAULT_PRIOR_MONTHS:g} months"
            ),
            "prior_events": prior_events,
            "plan": "plan/ (the same scenario, seed and replicates, without data)",
        }
        path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")

    outputs = run_scenario(
        scenario,
        out,
        keep_patients=keep_patients,
        force=force,
        on_chunk=on_chunk,
        model=model,
        before_publish=add_forecast_files,
        resume=resume,
        **common,
    )
    return ForecastOutputs(outputs, history, tables["forecast"], tables["comparison"])


def cmd_forecast(args: argparse.Namespace) -> int:
    from sim.commands.cli import executor_of, format_summary, progress_bar
    from sim.engine.executors import default_workers

    scenario = load_scenario(args.scenario, args.overrides)
    executor = executor_of(args)
    workers = args.workers or default_workers()
    with progress_bar(args.reps, args.quiet) as bar:
        result = forecast_trial(
            scenario,
            args.observed,
            args.as_of,
            args.out,
            reps=args.reps,
            seed=args.seed,
            workers=workers,
            screening=args.screening,
            prior_months=args.prior_months,
            prior_events=args.prior_events,
            keep_patients=args.keep_patients,
            force=args.force,
            scenario_path=str(args.scenario),
            overrides=args.overrides,
            on_chunk=bar.update,
            executor=executor,
            scheduler=args.scheduler,
            resume=args.resume,
        )
    print(format_summary(result.run.summary))
    print()
    print(format_forecast(result.forecast))
    print(
        f"forecast as of {args.as_of} from {result.history.observed.n} patients, "
        f"{args.reps} replicates (and as many for the plan) in "
        f"{result.run.wall_seconds:.1f} s -> {args.out}",
        file=sys.stderr,
    )
    return 0


def format_forecast(table: pd.DataFrame) -> str:
    """Milestones: forecast and plan medians with 80% prediction intervals, and the share of
    replicates reaching each by the completion date."""
    lines = [
        f"{'milestone':20s}{'forecast (80% PI)':>40s}{'by completion':>15s}"
        f"{'plan (80% PI)':>40s}{'by completion':>15s}"
    ]
    for row in table.itertuples():
        f = f"{row.median} ({row.pi80_low} to {row.pi80_high})"
        p = f"{row.plan_median} ({row.plan_pi80_low} to {row.plan_pi80_high})"
        lines.append(
            f"{row.milestone:20s}{f:>40s}{row.p_by_completion:>15.1%}"
            f"{p:>40s}{row.plan_p_by_completion:>15.1%}"
        )
    return "\n".join(lines)


# --- export-observed -----------------------------------------------------------------------


def cmd_export_observed(args: argparse.Namespace) -> int:
    from sim.conduct.history import observed_from_patients
    from sim.engine.results import read_run
    from sim.scenario import parse_scenario

    manifest = read_run(args.run)
    path = args.run / "patients.parquet"
    if not path.is_file():
        raise ScenarioError(
            f"{args.run}: no patients.parquet; run it with --keep-patients K "
            "(K > the replicate you want)"
        )
    out = args.out or Path(f"observed-{args.as_of}.csv")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ScenarioError(f"--out {out}: use a .csv or .parquet file name")
    scenario = parse_scenario(manifest["scenario"], f"{args.run}/manifest.json")
    check_as_of(scenario, args.as_of)
    import pyarrow.parquet as pq

    from sim.conduct.history import COLUMNS
    from sim.engine.folders import csv_header_is, output_files

    table = pq.read_table(path, filters=[("replicate", "=", args.replicate)]).to_pandas()
    if table.empty:
        kept = pq.read_table(path, columns=["replicate"]).to_pandas()["replicate"]
        raise ScenarioError(
            f"--replicate {args.replicate}: not in {path} (it keeps replicates "
            f"{int(kept.min())}..{int(kept.max())}); choose one of those"
        )
    frame = observed_from_patients(table, args.as_of, blinded=args.blinded)
    parquet = out.suffix.lower() == ".parquet"
    recognize = parquet_columns_are(COLUMNS) if parquet else csv_header_is(list(COLUMNS))
    with output_files([out], args.force, [recognize]) as staging:
        if parquet:
            frame.to_parquet(staging / out.name, index=False)
        else:
            frame.to_csv(staging / out.name, index=False)
    events = int((frame["event_date"] != "").sum())
    print(f"{len(frame)} patients, {events} events as of {args.as_of} -> {out}", file=sys.stderr)
    return 0


def parquet_columns_are(columns: tuple[str, ...]) -> Callable[[Path], bool]:
    """A recognizer for `output_files`: a Parquet file with exactly these columns."""

    def recognize(path: Path) -> bool:
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(path).names == list(columns)
        except (OSError, ValueError):
            return False

    return recognize
