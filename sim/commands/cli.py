"""Command line: ``python -m sim validate|run ...``.

Bad input (a scenario, an override, an argument) prints one message naming the field, the
value, the rule and a fix, exits with status 2 and writes nothing. A command parses its
arguments, calls the API (`sim.api`) and prints; the work is the engine's.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sim.engine.limits import MAX_REPS, MAX_SEED
from sim.errors import ScenarioError

if TYPE_CHECKING:
    import pandas as pd

    from sim.scenario import Scenario

EXIT_BAD_INPUT = 2


class UsageError(ScenarioError):
    """A bad command-line argument."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: same shape, status 2
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def max_workers() -> int:
    """At most 4 workers per core: more only add memory and switching."""
    from sim.engine.executors import default_workers

    return 4 * default_workers()


def int_in_range(low: int, high: int | Callable[[], int], example: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (a callable, for the range in
    the message), e.g. ``int_in_range(1, MAX_REPS, "--reps 2000")``."""

    def parse(text: str) -> int:
        top = high() if callable(high) else high
        valid = f"a whole number from {low:,} to {top:,}"
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: must be {valid} (e.g. {example})"
            ) from None
        if not low <= value <= top:
            raise argparse.ArgumentTypeError(f"{value}: must be {valid} (e.g. {example})")
        return value

    parse.__name__ = "whole number"
    return parse


TOP_HELP = """\
Simulate how a trial runs, from its first screened patient to its final analysis,
thousands of times. A scenario YAML describes the trial (scenarios/ holds NCT07271602
and its variants); each command below does one task, and `python -m sim COMMAND --help`
gives its options."""
TOP_EPILOG = """\
start here:
  python -m sim run scenarios/nct07271602.yaml --reps 2000 --seed 1 --out results/baseline
  python -m sim report results/baseline      (results/baseline/report.html)
  python -m sim app                           (a web page, for those who do not code)
every command and its outputs: docs/commands.md"""


def build_parser(argv: Sequence[str] | None = None) -> ArgumentParser:
    """The parser; a plugin command's module is imported only when that command is named, so
    that a command (and `--help`) does not pay for the others' imports (matplotlib, pandas)."""
    parser = ArgumentParser(
        prog="python -m sim",
        description=TOP_HELP,
        epilog=TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    validate = sub.add_parser("validate", help="check a scenario and print it resolved")
    add_scenario_args(validate)

    run = sub.add_parser("run", help="Monte Carlo run of a scenario")
    add_scenario_args(run)
    add_montecarlo_args(run)
    run.add_argument(
        "--verbose",
        action="store_true",
        help="print every metric of summary.csv (default: the answers, at most about 25 lines)",
    )
    run.add_argument(
        "--adam",
        type=int_in_range(0, MAX_REPS, "--adam 2"),
        default=0,
        metavar="K",
        help="also write CDISC ADaM data sets (ADSL, ADTTE, ADRS, ADAE; XPT and Parquet) of "
        "the first K replicates, one folder each: OUT/rep000_final, ... (0)",
    )

    design = sub.add_parser("design", help="closed-form events, power and timing of a scenario")
    add_scenario_args(design)
    design.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for design.csv, expected_events.csv (and boundaries.csv with analysis.looks)",
    )
    design.add_argument(
        "--force", action="store_true", help="replace an existing --out folder that sim wrote"
    )
    named = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")][:1]
    if named and named[0] in PLUGIN_MODULES:
        import_module(PLUGIN_MODULES[named[0]]).register(sub)
    for command in PLUGIN_MODULES:
        if command not in sub.choices:
            # not the command asked for: a stub that only lists it in --help and the
            # choices, so that no command pays for the others' imports
            sub.add_parser(command, help=PLUGIN_HELP[command], add_help=False)
    return parser


def add_montecarlo_args(parser: argparse.ArgumentParser, unit: str = "") -> None:
    """--reps --seed --out --workers --keep-patients --force --quiet (run and sweep)."""
    parser.add_argument(
        "--reps",
        type=int_in_range(1, MAX_REPS, "--reps 2000"),
        default=2000,
        help=f"replicates{unit}, 1 to {MAX_REPS:,} (2000)",
    )
    parser.add_argument(
        "--seed",
        type=int_in_range(0, MAX_SEED, "--seed 1"),
        default=1,
        help="root seed, 0 to 2**63 - 1 (1)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--workers",
        type=int_in_range(1, max_workers, "--workers 2"),
        default=None,
        help="worker processes, 1 to 4 per core (default: all cores)",
    )
    parser.add_argument(
        "--keep-patients",
        type=int_in_range(0, MAX_REPS, "--keep-patients 3"),
        default=3,
        metavar="K",
        help=f"write patients.parquet for the first K replicates{unit} (3)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out folder that sim wrote (any other folder is refused)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--executor",
        choices=EXECUTOR_CHOICES,
        default=None,
        help="where chunks run: local (a process pool, the default) or dask "
        "(a LocalCluster of --workers processes, or --scheduler)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="an existing dask.distributed scheduler, e.g. "
        "tcp://10.0.0.5:8786 (implies --executor dask)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run of --out: only missing chunks are computed",
    )


EXECUTOR_CHOICES = ("local", "dask")


def executor_of(args: argparse.Namespace) -> str:
    """--executor, defaulting to dask when --scheduler is given and to local otherwise."""
    if args.executor == "local" and args.scheduler:
        raise UsageError(
            f"--scheduler {args.scheduler}: needs --executor dask (or leave out --executor local)"
        )
    return args.executor or ("dask" if args.scheduler else "local")


def add_scenario_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field, e.g. --set effect.hazard_ratio=0.79 (repeatable)",
    )


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    import yaml

    from sim.scenario import scenario_to_dict

    print(yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False), end="")
    print(f"# {args.scenario}: valid", file=sys.stderr)
    return 0


def cmd_design(args: argparse.Namespace) -> int:
    from sim.api import boundaries, design, load_scenario
    from sim.engine.run import check_out_folder

    scenario = load_scenario(args.scenario, args.overrides)
    if args.out is not None:
        check_out_folder(args.out, args.force, "design")
    from sim.stats.design import design_warnings, scenario_events_table

    table = design(scenario)
    events = scenario_events_table(scenario)
    bounds = boundaries(scenario) if scenario.analysis.looks else None
    shown = table.assign(value=table["value"].map(format_value))
    print(shown.to_string(index=False))
    print_warnings(design_warnings(scenario))
    if bounds is not None:
        print()
        if scenario.analysis.endpoint == "os":  # boundaries.csv keeps its column names
            print("looks of the OS analysis: events are deaths, the hazard ratios OS's")
        print(
            bounds.drop(columns=["expected_date"]).to_string(
                index=False,
                float_format=lambda v: f"{v:.4g}",
                na_rep="",  # no bound there
            )
        )
    if args.out is not None:
        write_design(args, scenario, table, events, bounds)
        print(f"-> {args.out}", file=sys.stderr)
    return 0


def write_design(
    args: argparse.Namespace,
    scenario: Scenario,
    table: pd.DataFrame,
    events: pd.DataFrame,
    bounds: pd.DataFrame | None = None,
) -> None:
    """design.csv, expected_events.csv (boundaries.csv with looks) and a manifest (so --force
    knows sim wrote it)."""
    import datetime as dt

    from sim.engine.results import write_json
    from sim.engine.versions import package_versions
    from sim.scenario import scenario_to_dict
    from sim.storage.folders import output_folder

    with output_folder(args.out, args.force, kinds=["design"]) as staging:
        table.to_csv(staging / "design.csv", index=False)
        events.to_csv(staging / "expected_events.csv", index=False)
        if bounds is not None:
            bounds.to_csv(staging / "boundaries.csv", index=False)
        write_json(
            staging / "manifest.json",
            {
                "tool": "sim",
                "kind": "design",
                "command": sys.argv,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "scenario_path": str(args.scenario),
                "overrides": list(args.overrides),
                "versions": package_versions(),
                "scenario": scenario_to_dict(scenario),
            },
        )


def format_value(value: object) -> str:
    import numpy as np

    if isinstance(value, float | np.floating):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def closed_form_shown(value: float, se: object, unit: str) -> str:
    """A closed form beside its simulated estimate, in the estimate's notation: a share as
    a percentage, another value to the decimal place the estimate's MC SE supports (the two
    read digit for digit), or to 4 significant digits where there is no SE."""
    from sim.engine.metrics import format_number, format_to_place, se_place

    place = se_place(se)
    if unit == "share" or place is None or not math.isfinite(value):
        return format_number(value, "share" if unit == "share" else "")
    return format_to_place(value, place)


def closed_form_lines(scenario: Scenario, summary: pd.DataFrame, *, brief: bool = False) -> str:
    """Closed-form power and analysis timing beside the simulated ones, each in the
    notation of the answers table (shares as percentages, estimates to their MC SE's digit;
    `brief`: without the note on the group-sequential or assurance rows)."""
    import pandas as pd

    from sim.engine.metrics import format_number, format_with_se
    from sim.stats.design import design_scenario, power_closed_form

    design = design_scenario(scenario).set_index("quantity")["value"]
    sim = summary.set_index("metric")
    looks = bool(scenario.analysis.looks)
    # Lachin-Foulkes times solve "expected count = target": they approximate the mean time,
    # so the simulated mean stands beside them (a median would be a different quantity)
    pairs = [
        (
            "power (any look)" if looks else "power",
            "power",
            power_closed_form(design.index, looks)[0],
        ),
        ("months to event target (mean)", "target_events_months_mean", "target_events_months"),
        ("months to last randomization (mean)", "lpi_months_mean", "accrual_end_months"),
    ]
    if looks:  # the group-sequential design's figures replace Schoenfeld's
        from sim.stats.boundaries import design_rows

        rows = {q: v for q, v, _, _ in design_rows(scenario)}
        design = pd.concat([design, pd.Series(rows)])
        pairs += [
            ("early stop", "early_stop", "gs_early_stop_h1"),
            ("expected events", "expected_events", "gs_expected_events_h1"),
            (
                "expected analysis months",
                "expected_analysis_months",
                "gs_expected_analysis_months_h1",
            ),
        ]
    if scenario.prior is not None:
        from sim.stats.assurance import prior_design_rows

        design = pd.concat(
            [design, pd.Series({q: v for q, v, _, _ in prior_design_rows(scenario)})]
        )
    if scenario.analysis.endpoint == "os":  # the event target and the looks count deaths
        words = {"months to event target (mean)": "months to death target (mean)"}
        words["expected events"] = "expected deaths"
        pairs = [(words.get(label, label), *keys) for label, *keys in pairs]
    prior = "assurance" in design.index  # each replicate's HR drawn: not the power at one HR
    if prior:
        pairs = [("assurance (power over the prior)", "assurance", "assurance"), *pairs[1:3]]
    lines = ["", f"{'':40s}{'simulated':>16s}{'closed form':>14s}"]
    for label, sim_key, design_key in pairs:
        if sim_key in sim.index and design_key in design.index:
            est, se, unit = (sim.loc[sim_key, column] for column in ("estimate", "mc_se", "unit"))
            shown = format_with_se(est, se, unit) if pd.notna(est) else "never"
            closed = closed_form_shown(float(design[design_key]), se, unit)
            lines.append(f"{label:40s}{shown:>16s}{closed:>14s}")
    if prior and "power_at_prior_mean" in design.index:  # one effect: nothing simulated
        value = format_number(float(design["power_at_prior_mean"]), "share")
        lines.append(f"{'power at the prior mean of log HR':40s}{'':>16s}{value:>14s}")
    os_primary = scenario.analysis.endpoint == "os"
    crossing = "hazards_cross" in design.index
    power_words = (
        "the group-sequential design at the planned looks (power, early stop, expected "
        f"{'deaths' if os_primary else 'events'} and analysis months)"
        if looks and not prior
        else "the expected log-rank score's power (the hazards cross: approximate; the AHR's "
        "Schoenfeld power does not apply)"
        if crossing
        else "Schoenfeld power under the average hazard ratio of the illness-death OS"
        if os_primary
        else "Schoenfeld power"
    )
    note = (
        f"closed form: {power_words}, expected events on a 1-day grid"
        if crossing
        else f"closed form: {power_words}, Lachin-Foulkes timing (no scans, calendar or "
        "strata); the gap is what conduct does"
        if not os_primary
        else f"closed form (OS primary): {power_words}, expected deaths on a 1-day grid (no "
        "calendar or strata); the gap is what conduct does"
    )
    lines.append(note)
    if brief:
        pass
    elif prior:
        lines.append(
            "assurance: the design's power averaged over prior.hazard_ratio (design.csv); "
            "timing at the scenario's effect"
        )
    elif scenario.analysis.looks:
        lines.append(
            "group-sequential rows: the design's recursive integration at the planned "
            + (
                "events and the scenario's hazard ratio"
                if scenario.analysis.endpoint == "pfs"
                else "deaths and the scenario's OS average hazard ratio at each look"
            )
        )
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    executor = executor_of(args)
    from sim.api import simulate

    with progress_bar(args.reps, args.quiet) as bar:
        results = simulate(
            args.scenario,
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
            adam=args.adam,
        )
    if args.verbose:
        print(format_summary(results.summary))
        print(closed_form_lines(results.scenario, results.summary))
    else:
        print(format_answers(results.summary, results.timeline, results.scenario, args.out))
    workers = results.manifest["workers"]
    where = (
        f"with {workers} worker(s)"
        if executor == "local"
        else (f"on Dask ({args.scheduler})" if args.scheduler else f"on Dask ({workers} worker(s))")
    )
    print(
        f"{args.reps:,} replicates in {results.wall_seconds:.1f} s {where} -> {args.out}",
        file=sys.stderr,
    )
    if args.adam:
        folders = results.manifest["adam"]["folders"]
        print(
            f"ADaM data sets of {len({f.split('_')[0] for f in folders})} replicate(s), "
            "one folder per cut -> " + ", ".join(str(args.out / f) for f in folders),
            file=sys.stderr,
        )
    return 0


def print_warnings(found: Sequence[str], where: str = "") -> None:
    """One line each on stderr; warnings never stop a run."""
    for text in found:
        print(f"warning: {where}{text}", file=sys.stderr)


HUGE_SECONDS = 600  # a run estimated to take longer than this says so
HUGE_BYTES = 10**9  # ... or to write more than this
SIZE_AFTER_REPS = 2000  # replicates done before the size estimate (Parquet row groups)
ESTIMATE_AFTER_SECONDS = 2.0  # the time estimate once start-up is behind


class HugeRunWatch:
    """The progress bar as the API's `sim.api.Progress`, whose `update` also says once on
    stderr if the run, judged from its first chunks, will take more than HUGE_SECONDS or
    write more than HUGE_BYTES."""

    def __init__(self, bar: Progress, total: int, out: Path) -> None:
        import time

        self.bar, self.total, self.out = bar, total, out
        self.done, self.started = 0, time.perf_counter()
        self.timed = self.sized = False

    def update(self, n: int) -> None:
        import time

        self.bar.update(n)
        self.done += n
        left = self.total - self.done
        if left <= 0:
            return
        elapsed = time.perf_counter() - self.started
        if not self.timed and elapsed > ESTIMATE_AFTER_SECONDS:
            self.timed = True
            seconds = elapsed / self.done * self.total
            if seconds > HUGE_SECONDS:
                self.say(
                    f"this run will take about {seconds / 60:,.0f} minutes in all "
                    f"(estimated from the first {self.done:,} replicates); the bar shows "
                    "the time left, Ctrl-C stops it cleanly"
                )
        if not self.sized and self.done >= min(SIZE_AFTER_REPS, self.total):
            from sim.storage.folders import folder_bytes, own_staging

            written = sum(folder_bytes(f) for f in own_staging(self.out))
            if written:
                self.sized = True
                size = written / self.done * self.total
                if size > HUGE_BYTES:
                    self.say(
                        f"this run will write about {size / 1e9:,.1f} GB into "
                        f"{self.out} (estimated from the first {self.done:,} replicates); "
                        "lower --keep-patients or --reps to write less"
                    )

    def start(self, total: int, done: int) -> None:
        """`total` replicates in all, `done` of them finished before (a resumed run):
        estimate the rest."""
        self.bar.start(total, done)
        self.total = total - done

    def write(self, text: str) -> None:
        self.bar.write(text)

    def say(self, text: str) -> None:
        self.bar.write(f"note: {text}")


PROGRESS_SECONDS = 30.0  # between progress lines when stderr is not a terminal


def progress_bar(total: int, quiet: bool) -> Progress:
    """Replicates done and time left: a tqdm bar on a terminal, a line every
    PROGRESS_SECONDS otherwise (nohup, CI, a cluster job), nothing with `quiet`."""
    if quiet:
        return Progress(total)
    if sys.stderr.isatty():
        return BarProgress(total)
    return LineProgress(total)


class Progress:
    """Silent progress; `write` still prints notes (to stderr)."""

    def __init__(self, total: int) -> None:
        self.total = total

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, total: int, done: int) -> None:
        """`total` replicates in all, `done` of them finished before (a resumed run)."""
        self.total = total

    def update(self, n: int) -> None:
        pass

    def write(self, text: str, file: TextIO | None = None) -> None:
        print(text, file=file or sys.stderr)

    def close(self) -> None:
        pass


class BarProgress(Progress):
    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        super().__init__(total)
        self.bar = tqdm(total=total, unit="rep", desc="replicates", file=sys.stderr, smoothing=0.1)

    def start(self, total: int, done: int) -> None:
        self.total = self.bar.total = total
        self.bar.n = self.bar.last_print_n = self.bar.initial = done
        self.bar.refresh()

    def update(self, n: int) -> None:
        self.bar.update(n)

    def write(self, text: str, file: TextIO | None = None) -> None:
        self.bar.write(text, file=file or sys.stderr)

    def close(self) -> None:
        self.bar.close()


class LineProgress(Progress):
    """One line every `every` seconds: replicates done, rate, time left."""

    def __init__(
        self,
        total: int,
        every: float = PROGRESS_SECONDS,
        clock: Callable[[], float] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        import time

        super().__init__(total)
        self.every, self.clock = every, clock or time.monotonic
        self.stream = stream
        self.done = self.base = 0
        self.started = self.last = self.clock()

    def start(self, total: int, done: int) -> None:
        self.total = total
        self.done = self.base = done
        self.started = self.last = self.clock()

    def update(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.write(self.line(now))

    def line(self, now: float) -> str:
        rate = (self.done - self.base) / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"replicates {self.done:,}/{self.total:,} ({100 * self.done / self.total:.0f}%)"
            f", {rate:,.0f} reps/s, about {format_seconds(left)} left"
        )

    def write(self, text: str, file: TextIO | None = None) -> None:
        print(text, file=file or self.stream or sys.stderr, flush=True)


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 7 min``; ``?`` when unknown."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


ANSWER_MILESTONES = (  # (timeline.csv milestone, words), the dates a committee asks for first
    ("randomized_100pct", "last patient randomized"),
    ("target_events", "event target reached"),
    ("concluded", "trial concluded (final or stopping analysis)"),
)


def format_answers(
    summary: pd.DataFrame, timeline: pd.DataFrame, scenario: Scenario, out: Path
) -> str:
    """What `run` prints without ``--verbose``: the key metrics of the metric table (its
    `key` ranks; with interim looks its `looks_key` ranks), the median milestone dates (with
    the share of trials that reach one not all reach), the closed form beside the
    simulation, and where the full tables are; at most about 25 lines."""
    from sim.engine.metric_table import key_metrics_of
    from sim.engine.metrics import reached_words

    rows = summary.set_index("metric")
    key = rows.loc[[m for m in key_metrics_of(rows.index) if m in rows.index]]
    lines = [
        f"{scenario.trial.id}: the answers (registered completion date "
        f"{scenario.trial.completion_date:%Y-%m-%d})",
        format_summary(key.reset_index(), note=False),
        "",
    ]
    dates = timeline.set_index("milestone")
    for milestone, words in ANSWER_MILESTONES:
        if milestone == "target_events":
            from sim.scenario import ENDPOINT_WORDS

            words = ENDPOINT_WORDS[scenario.analysis.endpoint]["target_reached"]
        if milestone in dates.index:
            row = dates.loc[milestone]
            shown = "not reached" if pd_missing(row["q50"]) else str(row["q50"])
            spread = "" if pd_missing(row["q05"]) else f"90%: {row['q05']} to {row['q95']}"
            spread = "; ".join(filter(None, [spread, reached_words(row)]))
            spread = f" ({spread})" if spread else ""
            lines.append(f"median date, {words:46s}{shown}{spread}")
    lines.append(closed_form_lines(scenario, summary, brief=True))
    lines += [
        "",
        f"all {len(summary)} metrics: {out / 'summary.csv'} (or --verbose), milestones: "
        f"timeline.csv; report: python -m sim report {out}",
    ]
    return "\n".join(lines)


def pd_missing(value: object) -> bool:
    """A blank cell of a table read back (NaN or an empty string)."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def format_summary(summary: pd.DataFrame, *, note: bool = True) -> str:
    """summary.csv as a readable table (shares in %, no exponents); meanings are in the CSV
    and the report. Other than shares, a row's estimate and its interval stop at the digit
    its Monte Carlo SE supports, the SE given to 2 significant digits (as `format_with_se`);
    q05 and q95, the spread over replicates, to 4 significant digits."""
    import pandas as pd

    from sim.engine.metrics import format_number, format_to_place, se_place

    columns = [
        c
        for c in ("metric", "unit", "estimate", "mc_se", "ci_low", "ci_high", "q05", "q95")
        if c in summary
    ]
    shown = summary[columns].copy()
    units = summary["unit"] if "unit" in summary else pd.Series("", index=summary.index)
    places = [
        None if u == "share" else se_place(None if pd.isna(se) else se)
        for u, se in zip(units, summary.get("mc_se", pd.Series(index=summary.index)), strict=True)
    ]
    for col in columns[2:] if "unit" in summary else columns[1:]:
        to_place = col in ("estimate", "mc_se", "ci_low", "ci_high")
        shown[col] = [
            ""
            if pd.isna(v)
            else format_to_place(v, place)
            if to_place and place is not None
            else format_number(v, "share" if u == "share" else "")
            for v, u, place in zip(summary[col], units, places, strict=True)
        ]
    text = shown.to_string(index=False)
    if not note:
        return text
    return (
        text + "\nestimate with its Monte Carlo SE and 95% interval;"
        " q05-q95: 90% of replicates; what each metric means: summary.csv, `meaning`"
    )


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "design": cmd_design}
# Modules that add their own subcommand with `register(subparsers)` and set `func`.
PLUGIN_MODULES = {
    "analyze": "sim.commands.analyze",
    "sweep": "sim.commands.sweep",
    "compare": "sim.commands.compare",
    "plot": "sim.outputs.plots",
    "report": "sim.outputs.report",
    "schema": "sim.commands.schema",
    "forecast": "sim.commands.forecast",
    "export-observed": "sim.commands.forecast",
    "app": "sim.app",
    "qualify": "sim.qualify.run",
}
# Their one-line help for `python -m sim --help`; tests/test_cli_startup.py checks it is the
# help each module registers.
PLUGIN_HELP = {
    "analyze": "final analysis of a patient-level table",
    "sweep": "run a scenario over a grid of values (common random numbers)",
    "compare": "compare two or more runs, metric by metric",
    "plot": "draw the figures of a run or sweep folder (PNG)",
    "report": "one self-contained HTML report of a run or sweep",
    "schema": "JSON Schema of the scenario file (for editors)",
    "forecast": "forecast the rest of a trial from its own data",
    "export-observed": "write an --observed table from a simulated trial",
    "app": "a local web page: set up a scenario, run it, read the answers",
    "qualify": (
        "run the reference checks on the installed package; HTML report (exit 1 if any fails)"
    ),
}


EXIT_SOFTWARE = 70  # sysexits.h EX_SOFTWARE: a bug of sim, not of the input
EXIT_PIPE = 128 + 13  # SIGPIPE: the reader of our output went away (`| head`)
# A command's start-up (imports, the scenario's pydantic models) makes ~165,000 objects that
# live as long as the process; at Python's default threshold (a collection every 700 new
# objects) the cyclic collector walks them again and again: ~0.25 s of CPU of a run's
# start-up. One collection every GC_THRESHOLD new objects instead: garbage cycles are still
# freed (memory stays bounded), results are the same. Pool workers inherit it (fork).
GC_THRESHOLD = 50_000


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every outcome is an exit status and at most a few lines on stderr,
    never a traceback (set SIM_TRACEBACK=1 to see one for an unexpected error)."""
    import gc
    import os

    from sim.storage.lifetime import Interrupted, install_stop_handlers

    install_stop_handlers()
    threshold = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *threshold[1:])
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        command = COMMANDS.get(args.command) or args.func
        return command(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted as stop:
        print(
            f"\nstopped by {stop.name}: workers stopped, {stop.outcome} "
            f"(exit status {stop.exit_status})",
            file=sys.stderr,
        )
        return stop.exit_status
    except BrokenPipeError:
        # the reader closed the pipe: send the rest of stdout nowhere, exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as exc:
        import errno

        if exc.errno != errno.ENAMETOOLONG:
            return unexpected_error(exc)
        # a path given on the command line, read or checked anywhere: the user's to shorten
        print(
            f"error: {exc.filename}: a name in this path is longer than the file system "
            "allows (255 bytes a name on most): choose a shorter name",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except Exception as exc:
        return unexpected_error(exc)
    finally:
        gc.set_threshold(*threshold)


def unexpected_error(exc: Exception) -> int:
    """One line for an error sim did not expect (its own bug): exit status 70."""
    import os

    if os.environ.get("SIM_TRACEBACK"):
        raise exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    print(
        f"error: unexpected {type(exc).__name__}: {first} (a bug of sim: please report "
        "the command; SIM_TRACEBACK=1 shows the traceback)",
        file=sys.stderr,
    )
    return EXIT_SOFTWARE
