"""``python -m sim sweep SCENARIO --grid PATH=V1,V2 ... | --variants FILE``: a scenario run at
every point of a grid or of a list of variants, with common random numbers (`sim.sweep`;
the sweep itself is `sim.engine.sweep`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep`` to the ``python -m sim`` subcommands."""
    from sim.commands.cli import add_montecarlo_args, add_scenario_args

    sweep = subparsers.add_parser(
        "sweep",
        help="run a scenario over a grid of values (common random numbers)",
        description="Run a scenario at every point of a grid (Cartesian product of the "
        "--grid values) or of a list of variants, each point with the same seed.",
    )
    add_scenario_args(sweep)
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="a scenario field and its values, e.g. "
        "effect.hazard_ratio=0.5,0.6,0.7 (repeatable: Cartesian product)",
    )
    sweep.add_argument(
        "--variants",
        type=Path,
        default=None,
        metavar="FILE",
        help="YAML list of {name: ..., set: {PATH: VALUE, ...}}",
    )
    add_montecarlo_args(sweep, unit=" per point")
    sweep.add_argument(
        "--allow-large",
        action="store_true",
        help="run a sweep of more than 1,000 points or 10 million replicates in all "
        "(refused without it: such a sweep runs for hours)",
    )
    sweep.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.api import sweep
    from sim.commands.cli import HugeRunWatch, executor_of, progress_bar

    executor = executor_of(args)
    started = time.perf_counter()
    # the total (points x replicates) is set when the sweep starts, its points known
    with progress_bar(args.reps, args.quiet) as bar:
        results = sweep(
            args.scenario,
            args.grid,
            variants=args.variants,
            overrides=args.overrides,
            reps=args.reps,
            seed=args.seed,
            workers=args.workers,
            keep_patients=args.keep_patients,
            progress=HugeRunWatch(bar, args.reps, args.out),
            out=args.out,
            force=args.force,
            executor=executor,
            scheduler=args.scheduler,
            resume=args.resume,
            allow_large=args.allow_large,
        )
    table = results.table("sweep")
    print(format_sweep(table, args.reps))
    print(
        f"{len(table)} points x {args.reps:,} replicates in "
        f"{time.perf_counter() - started:.1f} s -> {args.out}",
        file=sys.stderr,
    )
    return 0


def format_sweep(table: pd.DataFrame, reps: int | None = None) -> str:
    """The key metrics of each point as `estimate ± se` (`format_with_se`: shares in %,
    other estimates to the digit their SE supports; a share of all or none of the `reps`
    replicates as such), one line per point."""
    from sim.engine.metric_table import describe_metric, key_metrics_of
    from sim.engine.metrics import format_with_se

    shown = table[["point", "label"]].copy()
    for metric in key_metrics_of(table.columns):
        if metric in table:
            unit = "share" if describe_metric(metric)[0] == "share" else ""
            shown[metric] = [
                format_with_se(v, s, unit, reps)
                for v, s in zip(table[metric], table[f"{metric}_mc_se"], strict=True)
            ]
    return shown.to_string(index=False)
