"""Calibration of the forecast: do its prediction intervals contain the truth as often as
they say?

    python benchmarks/forecast_coverage.py                    # 4 truths x as-of 3/6/10/14 months
    python benchmarks/forecast_coverage.py --truths 50 --reps 300 --unblinded
    python benchmarks/forecast_coverage.py --truth 0.7:5.5 --as-of 6 10 14   # one truth
    python benchmarks/forecast_coverage.py --accrual-model plan auto poisson   # compare

Truths are complete simulated trials from scenarios that differ from the planning one (the
baseline NCT07271602, control median PFS 6.8 months): each `--truth [SHAPE:]A:M` changes
every site's screening rates by A and sets the control median to M months. SHAPE says how:
``scale`` (the default; every row x A: a site slower or faster from the start, the plan's
ramp shape kept), ``plateau`` (the ramp as planned, but capped at A x full speed: a rate that
never reaches full speed), ``slowramp`` (the ramp-up rows x A, full speed as planned: a slow
start that catches up). The default grid: accrual 30% slower with a shorter median
(0.7:5.5), half the accrual (0.5:6.8), the planned accrual with a much shorter median
(1.0:4.5), faster accrual with a longer median (1.3:9.0), a plateau at 60% of full speed
(plateau:0.6:6.8), a plateau at half speed with a shorter median (plateau:0.5:4.5) and a
ramp at half speed with a longer median (slowramp:0.5:8.0). `--accrual-model` scores one or
more accrual models (`sim.stats.accrual_models`) on the same truths.
Each truth is cut at each as-of date (months after the study start; 3 and 6
months leave few events) into an `--observed` table (`observed_from_patients`), the forecast
is fitted (blinded unless `--unblinded`, as `python -m sim forecast`) and run (`--reps`
replicates), and we count how often its 80% and 90% prediction intervals (equal-tailed
quantiles of the replicates) of the last-patient-randomized date and of the event-target
date contain the truth's. The plan (the scenario without data: fixed rates) and the prior
predictive (the forecast's model as of the start date, before any data) are scored the same
way, and the median interval widths are reported beside the plan's.
Nominal coverage with n truths has a binomial SE of sqrt(p (1 - p) / n): 2.8 / 2.1 points
(80% / 90%) with 200.

The clinic plays no part in the dates, so it is left out (treatment and radiotherapy null).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.conduct.observed import COLUMNS, check_observed, observed_from_patients
from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.continuation import fit_continuation
from sim.scenario import DAYS_PER_MONTH, Scenario, load_scenario
from sim.stats.accrual_models import ACCRUAL_CHOICES

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"
DATES_ONLY = ["treatment=null", "radiotherapy=null"]
MILESTONES = {
    "last patient randomized": "randomized_100pct_date",
    "event target reached": "target_events_date",
}
LEVELS = (0.80, 0.90)
# [shape:] accrual factor : control median
TRUTHS = (
    "0.7:5.5",
    "0.5:6.8",
    "1.0:4.5",
    "1.3:9.0",
    "plateau:0.6:6.8",
    "plateau:0.5:4.5",
    "slowramp:0.5:8.0",
)
SHAPES = ("scale", "plateau", "slowramp")


def shaped_rate(rows: tuple, j: int, accrual_factor: float, shape: str) -> float:
    """Row j's screening rate in the truth (module docstring: the shapes)."""
    full = rows[-1].per_month if rows[-1].months is None else max(r.per_month for r in rows)
    rate = rows[j].per_month
    if shape == "plateau":
        return min(rate, accrual_factor * full)
    if shape == "slowramp":
        return rate * accrual_factor if rows[j].months is not None else rate
    return rate * accrual_factor


def truth_overrides(
    scenario: Scenario, accrual_factor: float, control_median: float, shape: str = "scale"
) -> list[str]:
    """--set strings: every site's screening rates changed by `accrual_factor` as `shape`
    says, and the control median."""
    out = [f"pfs.control.median_months={control_median}"]
    if scenario.enrollment.sites:
        for s, site in enumerate(scenario.enrollment.sites):
            for j in range(len(site.screening_rate)):
                rate = shaped_rate(site.screening_rate, j, accrual_factor, shape)
                out.append(f"enrollment.sites.{s}.screening_rate.{j}.per_month={rate}")
    else:
        rows = scenario.enrollment.screening_rate or ()
        for j in range(len(rows)):
            rate = shaped_rate(rows, j, accrual_factor, shape)
            out.append(f"enrollment.screening_rate.{j}.per_month={rate}")
    return out


def interval_days(dates: pd.Series, start: dt.date, level: float) -> tuple[float, float]:
    """Equal-tailed prediction interval of a date column, in clock days (NaT = never)."""
    values = dates.to_numpy("datetime64[D]")
    days = np.where(
        np.isnat(values),
        np.inf,
        (values - np.datetime64(start, "D")).astype("timedelta64[D]").astype(float),
    )
    lo, hi = np.quantile(days, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


def clock_day(value, start: dt.date) -> float:
    if pd.isna(value):
        return np.nan
    return float((pd.Timestamp(value).date() - start).days)


def simulate_truths(
    scenario: Scenario, overrides: list[str], n: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(replicates, patients) of `n` complete trials from the truth."""
    truth = load_scenario(BASELINE, [*DATES_ONLY, *overrides])
    model = TrialModel.from_scenario(truth)
    reps, patients = [], []
    for chunk, first in enumerate(range(0, n, 500)):
        size = min(500, n - first)
        out = simulate_chunk(model, seed, chunk, first, size, keep_patients=n)
        reps.append(out.replicates)
        patients.append(out.patients)
    return pd.concat(reps, ignore_index=True), pd.concat(patients, ignore_index=True)


def forecast_coverage(
    as_of_months: tuple[float, ...] = (6, 10, 14),
    *,
    truths: int = 200,
    reps: int = 500,
    accrual_factor: float = 0.7,
    control_median: float = 5.5,
    blinded: bool = False,
    unblinded: bool = False,
    prior_months: float | None = None,
    prior_events: float | None = None,
    seed: int = 2026,
    shape: str = "scale",
    accrual_models: tuple[str, ...] = ("plan",),
    per_truth: int = 0,
) -> pd.DataFrame:
    """One row per (as-of, milestone, level): coverage of the forecast and of the plan, the
    binomial SE, the shares of truths below and above the forecast interval, its median
    width (days; inf when the upper end is "never"), the plan's and the prior predictive's
    width and coverage, and how many truths were scored. `blinded` empties the tables' arm
    column; `unblinded` fits a hazard per arm (else one pooled hazard, the default);
    `prior_months`, `prior_events` None: the forecast's default weights. Each of
    `accrual_models` is scored on the same truths and forecast seeds (a column
    `accrual_model`; `chosen` counts the models "auto" chose). The first `per_truth` truths
    of each as-of date print their 90% intervals beside the truth's dates."""
    scenario = load_scenario(BASELINE, DATES_ONLY)
    start = scenario.trial.start_date
    base = TrialModel.from_scenario(scenario)
    plan = simulate_chunk(base, seed + 1, 0, 0, reps).replicates
    plan_pi = {
        (m, lvl): interval_days(plan[c], start, lvl)
        for m, c in MILESTONES.items()
        for lvl in LEVELS
    }
    # The prior predictive: the forecast's model with no data yet (as of the start date),
    # i.e. the plan with the priors' uncertainty about the rates.
    empty = check_observed(pd.DataFrame(columns=list(COLUMNS)), scenario, start)
    prior = simulate_chunk(
        dataclasses.replace(
            base,
            continuation=fit_continuation(
                scenario, base.calendar, base.schedule, empty, prior_months, prior_events
            ),
        ),
        seed + 2,
        0,
        0,
        reps,
    ).replicates
    prior_pi = {
        (m, lvl): interval_days(prior[c], start, lvl)
        for m, c in MILESTONES.items()
        for lvl in LEVELS
    }
    truth_reps, truth_patients = simulate_truths(
        scenario, truth_overrides(scenario, accrual_factor, control_median, shape), truths, seed
    )
    rows = []
    for months in as_of_months:
        as_of = start + dt.timedelta(days=int(round(months * DAYS_PER_MONTH)))
        hits: dict = {}
        events_seen = []
        chosen: dict[str, dict[str, int]] = {m: {} for m in accrual_models}
        for k in range(truths):
            table = observed_from_patients(
                truth_patients[truth_patients["replicate"] == k], as_of, blinded=blinded
            )
            observed = check_observed(table, scenario, as_of)
            events_seen.append(int(np.isfinite(observed.event_day).sum()))
            for accrual_model in accrual_models:
                history = fit_continuation(
                    scenario,
                    base.calendar,
                    base.schedule,
                    observed,
                    prior_months,
                    prior_events,
                    unblinded=unblinded,
                    accrual_model=accrual_model,
                )
                used = chosen[accrual_model]
                used[history.accrual_model] = used.get(history.accrual_model, 0) + 1
                model = dataclasses.replace(base, continuation=history)
                forecast = simulate_chunk(model, seed + 10 + k, 0, 0, reps).replicates
                if k < per_truth:
                    print_truth(forecast, truth_reps.loc[k], start, observed.n, events_seen[-1])
                    print(
                        f"    ({shape}:{accrual_factor:g}:{control_median:g} #{k}, as of "
                        f"{months:g} months, {accrual_model} -> {history.accrual_model})"
                    )
                score_forecast(
                    forecast,
                    truth_reps.loc[k],
                    history.as_of_day,
                    start,
                    accrual_model,
                    hits,
                    {"plan": plan_pi, "prior": prior_pi},
                )
        for (accrual_model, name, level), values in hits.items():
            inside, width, plan_inside, prior_inside, below = (
                np.asarray(v, dtype=float) for v in zip(*values, strict=True)
            )
            p_lo, p_hi = plan_pi[(name, level)]
            q_lo, q_hi = prior_pi[(name, level)]
            rows.append(
                {
                    "as_of_months": months,
                    "as_of": str(as_of),
                    "truth_shape": shape,
                    "accrual_factor": accrual_factor,
                    "control_median": control_median,
                    "accrual_model": accrual_model,
                    "chosen": " ".join(
                        f"{m}:{c}" for m, c in sorted(chosen[accrual_model].items())
                    ),
                    "events_at_as_of_median": float(np.median(events_seen)),
                    "milestone": name,
                    "level": level,
                    "truths": len(inside),
                    "coverage": inside.mean(),
                    "below": below.mean(),
                    "above": 1 - inside.mean() - below.mean(),
                    "binomial_se": np.sqrt(level * (1 - level) / len(inside)),
                    "width_days": np.median(width),
                    "plan_width_days": p_hi - p_lo,
                    "plan_coverage": plan_inside.mean(),
                    "prior_width_days": q_hi - q_lo,
                    "prior_coverage": prior_inside.mean(),
                }
            )
    return pd.DataFrame(rows)


def print_truth(
    forecast: pd.DataFrame, truth_row: pd.Series, start: dt.date, randomized: int, events: int
) -> None:
    """One truth: its data at the as-of date, its milestone days and the forecast's 90%
    intervals (days since the start)."""
    parts = [f"{randomized} randomized, {events} PFS events"]
    for name, column in MILESTONES.items():
        lo, hi = interval_days(forecast[column], start, 0.90)
        parts.append(
            f"{name}: truth {clock_day(truth_row[column], start):.0f}, 90% {lo:.0f}-{hi:.0f} "
            f"({hi - lo:.0f} wide)"
        )
    print("; ".join(parts))


def score_forecast(
    forecast: pd.DataFrame,
    truth_row: pd.Series,
    as_of_day: int,
    start: dt.date,
    accrual_model: str,
    hits: dict,
    reference: dict[str, dict],
) -> None:
    """Append, per milestone and level, (inside, width, plan inside, prior predictive
    inside, below) to `hits[(accrual_model, milestone, level)]`; milestones the truth never
    reaches, or reached by the as-of day, are not scored."""
    plan_pi, prior_pi = reference["plan"], reference["prior"]
    for name, column in MILESTONES.items():
        truth = clock_day(truth_row[column], start)
        if not np.isfinite(truth) or truth <= as_of_day:
            continue  # never reached, or already known at the as-of date
        for level in LEVELS:
            lo, hi = interval_days(forecast[column], start, level)
            p_lo, p_hi = plan_pi[(name, level)]
            q_lo, q_hi = prior_pi[(name, level)]
            hits.setdefault((accrual_model, name, level), []).append(
                (
                    lo <= truth <= hi,
                    hi - lo,
                    p_lo <= truth <= p_hi,
                    q_lo <= truth <= q_hi,
                    truth < lo,
                )
            )


def parse_truth(text: str) -> tuple[str, float, float]:
    """'[SHAPE:]A:M' -> (shape, accrual factor A, control median M months)."""
    parts = text.split(":")
    shape = parts.pop(0) if len(parts) == 3 else "scale"
    try:
        factor, median = (float(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--truth {text!r}: write [SHAPE:]ACCRUAL_FACTOR:CONTROL_MEDIAN, e.g. 0.7:5.5 "
            "or plateau:0.6:6.8"
        ) from None
    if shape not in SHAPES:
        raise argparse.ArgumentTypeError(f"--truth {text!r}: SHAPE is one of {', '.join(SHAPES)}")
    return shape, factor, median


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--truths", type=int, default=200, help="truths per truth scenario")
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument(
        "--as-of",
        type=float,
        nargs="+",
        default=[3, 6, 10, 14],
        help="as-of dates in months after the start",
    )
    parser.add_argument(
        "--truth",
        type=parse_truth,
        nargs="+",
        default=[parse_truth(t) for t in TRUTHS],
        help="truth scenarios ACCRUAL_FACTOR:CONTROL_MEDIAN (default: " + " ".join(TRUTHS) + ")",
    )
    parser.add_argument("--blinded", action="store_true", help="tables without arms")
    parser.add_argument(
        "--unblinded", action="store_true", help="fit a hazard per arm (default: pooled)"
    )
    parser.add_argument(
        "--prior-months", type=float, default=None, help="default: the forecast's default"
    )
    parser.add_argument(
        "--prior-events", type=float, default=None, help="default: the forecast's default"
    )
    parser.add_argument(
        "--accrual-model",
        nargs="+",
        choices=ACCRUAL_CHOICES,
        default=["plan"],
        help="accrual models to score on the same truths (default: plan)",
    )
    parser.add_argument(
        "--per-truth",
        type=int,
        default=0,
        metavar="N",
        help="print the first N truths' 90%% intervals at each as-of date (default 0)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--out", type=Path, default=None, help="CSV of the table (rewritten after each truth)"
    )
    parser.add_argument(
        "--summarize",
        type=Path,
        nargs="+",
        default=None,
        help="print the tables of saved --out CSVs (several runs' together) and stop",
    )
    args = parser.parse_args()
    if args.summarize:
        print_tables(pd.concat([pd.read_csv(f) for f in args.summarize], ignore_index=True))
        return
    started = time.perf_counter()
    parts = []
    for shape, factor, median in args.truth:
        parts.append(
            forecast_coverage(
                tuple(args.as_of),
                truths=args.truths,
                reps=args.reps,
                accrual_factor=factor,
                control_median=median,
                blinded=args.blinded,
                unblinded=args.unblinded,
                prior_months=args.prior_months,
                prior_events=args.prior_events,
                seed=args.seed,
                shape=shape,
                accrual_models=tuple(args.accrual_model),
                per_truth=args.per_truth,
            )
        )
        if args.out:  # a long run keeps what it has measured
            pd.concat(parts, ignore_index=True).to_csv(args.out, index=False)
    print_tables(pd.concat(parts, ignore_index=True))
    print(
        f"\n{args.truths} truths x {len(args.truth)} truth scenarios x {len(args.as_of)} as-of "
        f"dates, {args.reps} replicates each, "
        f"{'blinded tables' if args.blinded else 'tables with arms'}, "
        f"{'unblinded' if args.unblinded else 'blinded (pooled)'} event forecast, prior "
        f"{'default' if args.prior_months is None else f'{args.prior_months:g}'} months / "
        f"{'default' if args.prior_events is None else f'{args.prior_events:g}'} events: "
        f"{time.perf_counter() - started:.0f} s"
    )


def print_tables(table: pd.DataFrame) -> None:
    """Every row, then the coverage over the truth scenarios (mean, min, max) with the
    median widths, per accrual model, as-of date, milestone and level."""
    shown = table.assign(
        coverage=table["coverage"].map("{:.1%}".format),
        binomial_se=table["binomial_se"].map("{:.1%}".format),
        below=table["below"].map("{:.1%}".format),
        above=table["above"].map("{:.1%}".format),
        plan_coverage=table["plan_coverage"].map("{:.1%}".format),
        prior_coverage=table["prior_coverage"].map("{:.1%}".format),
        width_days=table["width_days"].round(0),
    )
    print(shown.drop(columns="as_of").to_string(index=False))
    pooled = table.groupby(["accrual_model", "as_of_months", "milestone", "level"]).agg(
        coverage=("coverage", "mean"),
        coverage_min=("coverage", "min"),
        coverage_max=("coverage", "max"),
        truths=("truths", "sum"),
        width_days=("width_days", "median"),
        plan_width_days=("plan_width_days", "median"),
        plan_coverage=("plan_coverage", "mean"),
    )
    print("\nover the truth scenarios (mean, min, max coverage; median widths):")
    print(pooled.round(3).to_string())


if __name__ == "__main__":
    main()
