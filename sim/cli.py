"""Command line: ``python -m sim validate|run ...``.

Bad input (a scenario, an override, an argument) prints one message naming the field, the
value, the rule and a fix, exits with status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.scenario import ScenarioError, load_scenario

EXIT_BAD_INPUT = 2


class UsageError(ScenarioError):
    """A bad command-line argument."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: same shape, status 2
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (e.g. 2000)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0 (e.g. 2000)")
    return value


def non_negative_int(text: str) -> int:
    if text == "0":
        return 0
    return positive_int(text)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m sim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    validate = sub.add_parser("validate", help="check a scenario and print it resolved")
    add_scenario_args(validate)

    run = sub.add_parser("run", help="Monte Carlo run of a scenario")
    add_scenario_args(run)
    run.add_argument("--reps", type=positive_int, default=2000, help="replicates (2000)")
    run.add_argument("--seed", type=non_negative_int, default=1, help="root seed (1)")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--workers", type=positive_int, default=None,
                     help="worker processes (default: all cores)")
    run.add_argument("--keep-patients", type=non_negative_int, default=3, metavar="K",
                     help="write patients.parquet for the first K replicates (3)")
    run.add_argument("--force", action="store_true", help="overwrite an existing --out")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def add_scenario_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a scenario field, e.g. --set effect.hazard_ratio=0.79 (repeatable)",
    )


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, args.overrides)
    import yaml

    from sim.scenario import scenario_to_dict

    print(yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False), end="")
    print(f"# {args.scenario}: valid", file=sys.stderr)
    return 0


def check_out_folder(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise UsageError(
            f"--out {out}: the folder exists; existing results are never overwritten "
            "(choose another folder, or add --force to replace it)"
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder (choose another path)")


def cmd_run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, args.overrides)
    check_out_folder(args.out, args.force)
    from sim.montecarlo import default_workers, run_to_parquet
    from sim.results import manifest, summarize, timeline, write_json
    from sim.trial import TrialModel

    workers = args.workers or default_workers()
    model = TrialModel.from_scenario(scenario)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{args.out.name}.partial-", dir=args.out.parent))
    try:
        started = time.perf_counter()
        with progress_bar(args.reps, args.quiet) as bar:
            run_to_parquet(model, args.reps, args.seed, workers, staging, args.keep_patients,
                           on_chunk=bar.update)
        replicates = pd.read_parquet(staging / "replicates.parquet")
        summary = summarize(replicates, scenario)
        summary.to_csv(staging / "summary.csv", index=False)
        timeline(replicates, scenario).to_csv(staging / "timeline.csv", index=False)
        wall = time.perf_counter() - started
        write_json(staging / "manifest.json", manifest(
            scenario, str(args.scenario), args.overrides, args.seed, args.reps, workers,
            args.keep_patients, wall,
        ))
        publish(staging, args.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(format_summary(summary))
    print(f"{args.reps} replicates in {wall:.1f} s with {workers} worker(s) -> {args.out}",
          file=sys.stderr)
    return 0


def publish(staging: Path, out: Path) -> None:
    """Move the finished run into place; an old folder is replaced only after success."""
    if out.exists():
        trash = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(trash)
        staging.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(out)


def progress_bar(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="rep", disable=quiet or None, desc="replicates",
                file=sys.stderr, smoothing=0.1)


def format_summary(summary: pd.DataFrame) -> str:
    shown = summary.copy()
    for col in ("estimate", "mc_se", "ci_low", "ci_high"):
        shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown.to_string(index=False)


COMMANDS = {"validate": cmd_validate, "run": cmd_run}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
