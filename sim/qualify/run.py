"""``python -m sim.qualify --out DIR`` (and ``python -m sim qualify``): run the reference
checks on the installed package and write qualification.html and qualification.json.

Exit status 0 if every check passes, 1 if any fails, 2 if --out cannot be used (one message
on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HTML = "qualification.html"
JSON = "qualification.json"
HELP = "run the reference checks on the installed package; HTML report (exit 1 if any fails)"
EXIT_PASS, EXIT_FAIL, EXIT_BAD_OUT = 0, 1, 2
PACKAGE = Path(__file__).resolve().parents[1]
# The committed reference values (R output with its calls) that ship with the package.
REFERENCES = Path(__file__).resolve().parent / "references"


class OutError(Exception):
    """--out cannot be used; the message names the folder, the rule and a fix."""


def check_out(out: Path) -> None:
    """Refuse a target that is not a folder, or a non-empty folder this command did not
    write (one holding only its two files, the JSON marked as ours, is replaced)."""
    if out.exists() and not out.is_dir():
        raise OutError(f"--out {out}: is a file, not a folder (name a new or empty folder)")
    if not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    ours = set(entries) <= {HTML, JSON} and JSON in entries and is_our_json(out / JSON)
    if not ours:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        noun = "entry" if len(entries) == 1 else "entries"
        raise OutError(
            f"--out {out}: not empty and not a qualification report folder (it holds "
            f"{len(entries)} {noun}: {shown}); nothing was written: name a new or empty folder"
        )


def is_our_json(path: Path) -> bool:
    from sim.qualify.report import KIND

    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename over it, so a reader never sees half a file."""
    scratch = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def run_qualification(out: Path, references: Path | None = None) -> int:
    """Run every check on the installed package and write the report into `out`.

    `references` is the folder of committed reference values (default: the package's own,
    ``sim/qualify/references``). Returns the exit status: 0 all passed, 1 any failed, 2 if
    `out` cannot be used (message on stderr, nothing written).
    """
    from sim.qualify.checks import run_checks
    from sim.qualify.report import render_html, report_data

    out = Path(out).expanduser()
    references = REFERENCES if references is None else Path(references)
    try:
        check_out(out)
    except OutError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_OUT
    start = time.monotonic()
    run_date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    checks, not_run = run_checks(references)
    data = report_data(checks, not_run, PACKAGE, references, run_date, time.monotonic() - start)
    try:
        out.mkdir(parents=True, exist_ok=True)
        check_out(out)  # again: something may have appeared while the checks ran
        write_atomically(out / JSON, json.dumps(data, indent=1) + "\n")
        write_atomically(out / HTML, render_html(data))
    except (OSError, OutError) as error:
        print(f"error: --out {out}: cannot write the report ({error})", file=sys.stderr)
        return EXIT_BAD_OUT
    failed = data["checks_failed"]
    status = "PASSED" if not failed else f"FAILED ({failed} outside tolerance)"
    skipped = f", {len(not_run)} group(s) not run" if not_run else ""
    print(
        f"qualification {status}: {data['checks_passed']} of {data['checks_total']} checks "
        f"passed{skipped} -> {out / HTML}"
    )
    return EXIT_PASS if not failed else EXIT_FAIL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help=f"new or empty folder for {HTML} and {JSON} (a folder this command wrote is replaced)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``qualify`` to ``python -m sim`` (the CLI's plugin hook)."""
    parser = subparsers.add_parser("qualify", help=HELP, description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=lambda args: run_qualification(args.out))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.qualify", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_qualification(args.out)
