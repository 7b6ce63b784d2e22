"""``python -m sim forecast`` and ``python -m sim export-observed``: a trial under way.

``forecast SCENARIO --observed FILE --as-of DATE`` forecasts the rest of the trial from its own
data (`sim.forecast`; the folder it writes is described in `sim.engine.forecast`).
``export-observed RUN --replicate K --as-of DATE`` writes the ``--observed`` table of a
simulated trial (replicate K of RUN/patients.parquet) as it stood on that date
(`sim.export_observed`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.commands.cli import executor_of, format_summary, progress_bar
from sim.engine.continuation import (
    DEFAULT_ACCRUAL_PRIOR_PATIENTS,
    DEFAULT_PRIOR_EVENTS_SHARE,
    DEFAULT_PRIOR_MONTHS,
)
from sim.errors import ScenarioError
from sim.stats.accrual_models import ACCRUAL_CHOICES

if TYPE_CHECKING:
    import pandas as pd

    from sim.api import Results


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
    from sim.commands.analyze import add_adam_args
    from sim.commands.cli import add_montecarlo_args, add_scenario_args, int_in_range
    from sim.engine.limits import MAX_REPS

    if "forecast" in sub.choices:  # one module, two commands: registered once
        return
    parser = sub.add_parser("forecast", help="forecast the rest of a trial from its own data")
    add_scenario_args(parser)
    parser.add_argument(
        "--observed",
        type=Path,
        nargs="+",
        required=True,
        help="one row per randomized patient (CSV or Parquet); or ADaM data sets (ADSL + "
        "ADTTE: their folder or files, recognised by content; docs/adam.md)",
    )
    parser.add_argument(
        "--as-of",
        type=date_arg,
        default=None,
        dest="as_of",
        help="date the data are current to (YYYY-MM-DD; ADaM: ADSL's DCUTDT, the default)",
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
        help="weight of the plan's accrual, in months of its full-speed accrual: with "
        "--accrual-model plan, each site's planned rate (default: the scenario's "
        f"site_heterogeneity as the prior shape when it has one, else {DEFAULT_PRIOR_MONTHS:g}); "
        "with time_decay, the plan's ramp-up and full speed as prior on the fitted curve "
        f"(default: {DEFAULT_ACCRUAL_PRIOR_PATIENTS:g} patients)",
    )
    parser.add_argument(
        "--prior-events",
        type=non_negative_float,
        default=None,
        help="weight of each planned PFS hazard and of the dropout hazard, in events "
        # %% : argparse formats help texts with %, so a bare one is an error
        f"(default: {DEFAULT_PRIOR_EVENTS_SHARE * 100:.0f}%% of the event target on the "
        "pooled hazard, e.g. 14 of 70; unblinded, half of it on each arm's)",
    )
    parser.add_argument(
        "--unblinded",
        action="store_true",
        help="unblinded event forecast: a PFS hazard per arm from the table's arms "
        "(default: blinded, one pooled hazard split by the scenario's HR, as while masked)",
    )
    parser.add_argument(
        "--accrual-model",
        choices=ACCRUAL_CHOICES,
        default=None,
        dest="accrual_model",
        help="accrual of the remaining patients: plan (the plan's ramp-up, site rates scaled "
        "by their posterior), or fitted to the randomization dates: plan_shape (the plan's "
        "shape, one scale), poisson (one constant rate), time_decay (a rate rising to a "
        "plateau), piecewise (constant between --accrual-knots; the last one goes on), or "
        "auto (the fitted model with the smallest AIC); default time_decay, or plan while "
        "sites are still to open (docs/forecasting.md)",
    )
    parser.add_argument(
        "--accrual-knots",
        type=float,
        nargs="+",
        default=None,
        dest="accrual_knots",
        metavar="MONTHS",
        help="knots of the piecewise model, months since the start date (default: halfway "
        "from the first possible randomization to --as-of)",
    )
    parser.add_argument(
        "--hr-threshold",
        type=float,
        default=1.0,
        dest="hr_threshold",
        metavar="C",
        help="unblinded: report the posterior probability that the hazard ratio is below C "
        "(default 1: any benefit)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print every metric of summary.csv and the plan beside each (default: the "
        "answers, at most about 25 lines)",
    )
    add_adam_args(parser)
    for option, example in (("site", "101=Union Hospital Wuhan"), ("stratum", "SQ=squamous")):
        parser.add_argument(
            f"--{option}-values",
            action="append",
            default=None,
            metavar="VALUE=NAME,...",
            help=f"ADaM {'SITEID' if option == 'site' else 'stratum'} values as the "
            f"scenario's {option} names, e.g. --{option}-values '{example}'",
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


def adam_keywords(args: argparse.Namespace) -> dict | None:
    """The `adam` options of `sim.forecast` given on the command line (None if none)."""
    from sim.adam.inputs import parse_pairs

    options: dict = {}
    for key, flag in (
        ("adam_map", "--adam-map"),
        ("arm_values", "--arm-values"),
        ("site_values", "--site-values"),
        ("stratum_values", "--stratum-values"),
    ):
        value = getattr(args, key)
        if value is not None:
            options[key] = parse_pairs(value, flag)
    if args.paramcd != "PFS":
        options["paramcd"] = args.paramcd
    return options or None


def cmd_forecast(args: argparse.Namespace) -> int:
    executor = executor_of(args)
    from sim.api import forecast

    observed = args.observed[0] if len(args.observed) == 1 else list(args.observed)
    with progress_bar(args.reps, args.quiet) as bar:
        results = forecast(
            args.scenario,
            observed,
            adam=adam_keywords(args),
            as_of=args.as_of,
            overrides=args.overrides,
            reps=args.reps,
            seed=args.seed,
            workers=args.workers,
            screening=args.screening,
            prior_months=args.prior_months,
            prior_events=args.prior_events,
            unblinded=args.unblinded,
            accrual_model=args.accrual_model,
            accrual_knots=tuple(args.accrual_knots) if args.accrual_knots else None,
            hr_threshold=args.hr_threshold,
            keep_patients=args.keep_patients,
            progress=bar,
            out=args.out,
            force=args.force,
            executor=executor,
            scheduler=args.scheduler,
            resume=args.resume,
        )
    info = results.manifest["forecast"]
    if args.verbose:
        print(format_summary(results.summary))
        print()
        print(format_forecast(results.table("forecast")))
        print()
        print(format_model(info))
        success = format_success(results.summary)
        if success:
            print()
            print(success)
        if info["maturity_note"]:
            print()
            print(format_comparison(results.table("comparison"), results.summary))
    else:
        print(format_forecast_answers(results, args.out))
    print(
        f"forecast as of {info['as_of']} from {info['patients']} "
        f"patients, {args.reps:,} replicates (and as many for the plan) in "
        f"{results.wall_seconds:.1f} s -> {args.out}",
        file=sys.stderr,
    )
    return 0


def format_forecast_answers(results: Results, out: Path) -> str:
    """What `forecast` prints without ``--verbose``: the as-of date and the data seen, the
    immature-data line, each milestone's forecast beside the plan's, what the forecast
    assumed (event model, accrual model, the priors' weights), the probability of success
    beside the plan's, and where the files are; at most about 25 lines."""
    from sim.engine.forecast import success_answer

    info = results.manifest["forecast"]
    by_arm = info["events_by_arm"]
    arms = (
        ""  # the maturity note below gives them
        if info["maturity_note"]
        else " (arms masked)"
        if by_arm is None
        else f" ({by_arm['experimental']} on the experimental arm, {by_arm['control']} on control)"
    )
    lines = [
        f"{results.scenario.trial.id}: forecast as of {info['as_of']} from {info['patients']} "
        f"patients randomized and {info['events']} PFS events{arms}; the plan beside it "
        f"(registered completion date {results.scenario.trial.completion_date:%Y-%m-%d})"
    ]
    if info["maturity_note"]:
        lines.append(info["maturity_note"])
    lines += ["", format_forecast(results.table("forecast")), "", format_model(info, note=False)]
    success = success_answer(results.summary, results.table("comparison"), info["hr_threshold"])
    if success is not None:
        beside = f"; {success.plan}" if success.plan else ""
        lines += [
            "",
            f"{success.metric} ({success.words}): {success.estimate} ({success.how_sure})" + beside,
            *success.more,
        ]
    lines += [
        "",
        f"milestones: {out / 'forecast.csv'}; forecast beside the plan: comparison.csv; all "
        f"{len(results.summary)} metrics: summary.csv (or --verbose); fits: fit.csv, "
        f"accrual.csv; figure: forecast.png; report: python -m sim report {out}",
    ]
    return "\n".join(lines)


def format_model(info: dict, *, note: bool = True) -> str:
    """What the forecast assumed: the event model, the accrual model, the prior; with `note`,
    also how the probability of success was obtained and the data-maturity note."""
    if info["event_model"] == "blinded":
        model = (
            "event forecast: blinded (one pooled PFS hazard, split between the arms by the "
            "scenario's hazard ratio; --unblinded for a hazard per arm)"
        )
    else:
        model = "event forecast: unblinded (a PFS hazard per arm, from the observed arms)"
    lines = [model, info["accrual"], info["prior"]]
    if note:  # the verbose print: how the probability of success was obtained, the note
        lines.append(info["success"])
        if info["maturity_note"]:
            lines.append(info["maturity_note"])
    return "\n".join(lines)


SUCCESS_METRICS = (
    "predictive_probability_of_success",
    "assurance",
    "conditional_power_design",
    "conditional_power_trend",
    "predictive_power_closed_form",
    "p_hr_below_threshold",
    "p_hr_below_threshold_closed_form",
    "posterior_hr_q50",
    "posterior_hr_q05",
    "posterior_hr_q95",
)


def format_success(summary: pd.DataFrame) -> str:
    """The forecast's probability-of-success rows of summary.csv (empty when it has none):
    estimate and MC SE (0 for the closed forms)."""
    from sim.engine.metrics import format_number

    rows = summary.set_index("metric")
    found = [m for m in SUCCESS_METRICS if m in rows.index]
    if not found:
        return ""
    lines = ["probability of success (summary.csv; meanings in its meaning column):"]
    for name in found:
        unit = "share" if rows.loc[name, "unit"] == "share" else ""
        estimate = format_number(rows.loc[name, "estimate"], unit)
        se = format_number(rows.loc[name, "mc_se"], unit)
        lines.append(f"  {name:40s}{estimate:>10s}  (MC SE {se})")
    return "\n".join(lines)


def format_comparison(table: pd.DataFrame, summary: pd.DataFrame) -> str:
    """comparison.csv as text: each metric's forecast beside the plan's (units from
    `summary`, the forecast's summary.csv)."""
    from sim.engine.metrics import format_number

    units = dict(zip(summary["metric"], summary["unit"], strict=True)) if "unit" in summary else {}
    lines = [
        "the plan beside the forecast (comparison.csv):",
        f"{'metric':40s}{'forecast':>14s}{'plan':>14s}",
    ]
    for row in table.itertuples():
        unit = "share" if units.get(row.metric) == "share" else ""
        lines.append(
            f"{row.metric:40s}{format_number(row.forecast, unit):>14s}"
            f"{format_number(row.plan, unit):>14s}"
        )
    return "\n".join(lines)


def format_forecast(table: pd.DataFrame) -> str:
    """Milestones: forecast and plan medians with 80% prediction intervals, and the share of
    replicates reaching each by the completion date. A bound past every date some
    replicates reach (more than 10% never get there: a trial stopped at an interim look
    randomizes and follows nobody after the stop) reads "never", and a line below says how
    many get there."""
    from sim.engine.metrics import format_number

    def dates(median: object, low: object, high: object) -> str:
        return f"{shown(median)} ({shown(low)} to {shown(high)})"

    lines = [
        f"{'milestone':20s}{'forecast (80% PI)':>40s}{'by completion':>15s}"
        f"{'plan (80% PI)':>40s}{'by completion':>15s}"
    ]
    short = []
    for row in table.itertuples():
        f = dates(row.median, row.pi80_low, row.pi80_high)
        p = dates(row.plan_median, row.plan_pi80_low, row.plan_pi80_high)
        lines.append(
            f"{row.milestone:20s}{f:>40s}{row.p_by_completion:>15.1%}"
            f"{p:>40s}{row.plan_p_by_completion:>15.1%}"
        )
        if "never" in f + p:
            reached = (
                format_number(v, "share") for v in (row.share_reached, row.plan_share_reached)
            )
            short.append(f"{row.milestone} {next(reached)} (the plan {next(reached)})")
    if short:
        lines.append(
            "never: more than 10% of the simulated trials never get there (stopped at an "
            "interim look, after which nobody is randomized or followed, or too few patients "
            "left to follow); those that do: " + ", ".join(short)
        )
    return "\n".join(lines)


def shown(date: object) -> str:
    """A date of forecast.csv; a blank one (no date: beyond every replicate that gets
    there) as "never"."""
    return "never" if date is None or date != date or date == "" else str(date)


# --- export-observed -----------------------------------------------------------------------


def cmd_export_observed(args: argparse.Namespace) -> int:
    from sim.api import export_observed
    from sim.storage.folders import output_files

    out = args.out or Path(f"observed-{args.as_of}.csv")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ScenarioError(f"--out {out}: use a .csv or .parquet file name")
    frame = export_observed(
        args.run, as_of=args.as_of, replicate=args.replicate, blinded=args.blinded
    )
    parquet = out.suffix.lower() == ".parquet"
    with output_files([out], args.force) as staging:
        if parquet:
            frame.to_parquet(staging / out.name, index=False)
        else:
            frame.to_csv(staging / out.name, index=False)
    events = int((frame["event_date"] != "").sum())
    print(f"{len(frame)} patients, {events} events as of {args.as_of} -> {out}", file=sys.stderr)
    return 0
