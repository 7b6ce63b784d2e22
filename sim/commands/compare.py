"""``python -m sim compare RUN_A RUN_B [...]``: the comparison of `sim.engine.compare`, printed.

Every later run is compared with the first (the reference): estimates side by side, each
difference with its Monte Carlo SE (p = paired, b = paired bootstrap, i = independent; see
`sim.engine.compare`) and a flag beyond 3 SE, the median milestone dates, and the scenario
fields that differ. `--out FILE.csv` writes the tables too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sim.engine.compare import FLAG_SE, Run, is_paired
from sim.engine.metrics import difference_with_se, format_number

SE_KINDS = {"paired": "p", "paired bootstrap": "b", "independent": "i", "n/a": "-"}


# --- printing ------------------------------------------------------------------------------


def format_difference(rec: object, share: bool) -> str:
    """`+d ± se (kind)`, the difference to the digit its SE supports (`difference_with_se`);
    a difference of shares in percentage points."""
    diff, se = difference_with_se(rec.difference, rec.se, share)
    diff += " pts" if share and diff else ""
    kind = f" ± {se} ({SE_KINDS[rec.se_kind]})" if se else ""
    return diff + kind + ("  <-- >3 SE" if rec.flag else "")


def format_metrics(table: pd.DataFrame, runs: list[Run]) -> str:
    """Wide, for reading: every run's estimate, then each later run's difference +- se
    (shares in % and their differences in percentage points)."""
    from sim.engine.metric_table import describe_metric

    rows = []
    for metric, group in table.groupby("metric", sort=False):
        share = describe_metric(str(metric))[0] == "share"
        unit = "share" if share else ""
        first = format_number(group["reference_estimate"].iloc[0], unit)
        row = {"metric": metric, runs[0].label: first}
        for rec in group.itertuples(index=False):
            row[rec.run] = format_number(rec.estimate, unit)
        for rec in group.itertuples(index=False):
            row[f"{rec.run} - {runs[0].label}"] = format_difference(rec, share)
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def run_lines(runs: list[Run]) -> list[str]:
    lines = [f"reference: {runs[0].label} ({runs[0].folder})"]
    lines += [
        f"run:       {r.label} ({r.folder}), "
        f"{'paired (same seed and replicates)' if is_paired(runs[0], r) else 'independent'}"
        for r in runs[1:]
    ]
    return lines


def format_comparison(
    runs: list[Run], table: pd.DataFrame, timeline: pd.DataFrame, fields: pd.DataFrame
) -> str:
    """Everything (``--all``): every metric, every milestone, every field that differs."""
    lines = [
        *run_lines(runs),
        "",
        "metrics (difference ± SE, shares in percentage points; p = paired, b = paired "
        "bootstrap, i = independent):",
        format_metrics(table, runs),
        "",
        "median milestone dates:",
        timeline.to_string(index=False),
        "",
    ]
    if fields.empty:
        lines.append("scenario fields that differ: none")
    else:
        lines += ["scenario fields that differ:", fields.to_string(index=False)]
    n_flags = int(table["flag"].sum())
    lines += ["", f"{n_flags} difference(s) beyond {FLAG_SE:g} SE"]
    return "\n".join(lines)


SHOWN_FLAGS = 5  # differences beyond noise listed after the key metrics; --all lists all
SHOWN_FIELDS = 6  # scenario fields that differ, named; --all gives their values
SHOWN_MILESTONES = ("randomized_100pct", "target_events", "concluded")


def format_brief(
    runs: list[Run], table: pd.DataFrame, timeline: pd.DataFrame, fields: pd.DataFrame
) -> str:
    """What `compare` prints without ``--all`` (at most about 30 lines): the key metrics of
    the metric table, the other differences beyond noise (|difference| > 3 SE), three
    milestone dates and the first scenario fields that differ."""
    from sim.engine.metric_table import key_metrics_of

    ranked = key_metrics_of(table["metric"])
    key = table[table["metric"].isin(ranked)]
    key = key.iloc[key["metric"].map(ranked.index).argsort(kind="stable")]
    flagged = table[table["flag"] & ~table["metric"].isin(ranked)]
    names = list(dict.fromkeys(flagged["metric"]))
    lines = [
        *run_lines(runs),
        "",
        "key metrics (difference ± SE, shares in percentage points; p = paired, b = paired "
        "bootstrap, i = independent):",
        format_metrics(key, runs),
        "",
    ]
    if names:
        lines.append(
            f"other differences beyond {FLAG_SE:g} SE ({len(names)} of "
            f"{table['metric'].nunique() - key['metric'].nunique()} metrics):"
        )
        shown = flagged[flagged["metric"].isin(names[:SHOWN_FLAGS])]
        lines.append(format_metrics(shown, runs))
        if len(names) > SHOWN_FLAGS:
            lines.append(f"... and {len(names) - SHOWN_FLAGS} more (--all lists them)")
    else:
        lines.append(f"no other metric differs beyond {FLAG_SE:g} SE")
    dates = timeline[timeline["milestone"].isin(SHOWN_MILESTONES)]
    lines += ["", "median milestone dates:", dates.to_string(index=False), ""]
    named = ", ".join(fields["field"].head(SHOWN_FIELDS))
    more = f", ... ({len(fields)} in all)" if len(fields) > SHOWN_FIELDS else ""
    lines.append(f"scenario fields that differ: {named or 'none'}{more}")
    n_flags = int(table["flag"].sum())
    lines.append(
        f"{n_flags} difference(s) beyond {FLAG_SE:g} SE in all; every metric, date and "
        "field with its values: --all (or --out FILE.csv)"
    )
    return "\n".join(lines)


# --- command line --------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare`` to the ``python -m sim`` subcommands."""
    compare = subparsers.add_parser(
        "compare",
        help="compare two or more runs, metric by metric",
        description="Compare runs with the first: estimates side by side, differences with "
        "their Monte Carlo SE (paired when the runs share seed and replicates), "
        "flags beyond 3 SE, and the scenario fields that differ.",
    )
    compare.add_argument(
        "runs", type=Path, nargs="+", metavar="RUN", help="run folders (the first is the reference)"
    )
    compare.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.csv",
        help="write the table (and FILE.timeline.csv, FILE.fields.csv); files compare "
        "wrote there before are replaced, any other file is refused",
    )
    compare.add_argument(
        "--force",
        action="store_true",
        help="replace those files even if they were changed since compare wrote them",
    )
    compare.add_argument(
        "--all",
        dest="show_all",
        action="store_true",
        help="print every metric, milestone and differing field (default: the key metrics "
        "and the differences beyond noise, at most about 30 lines)",
    )
    compare.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.api import compare

    result = compare(list(args.runs), out=args.out, force=args.force)
    if result.written:
        print(f"wrote {', '.join(map(str, result.written))}", file=sys.stderr)
    show = format_comparison if args.show_all else format_brief
    print(show(result.runs, result.metrics, result.timeline, result.fields))
    return 0
