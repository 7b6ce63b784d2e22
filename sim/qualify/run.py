"""``python -m sim.qualify --out DIR`` (and ``python -m sim qualify``): run the reference
checks on the installed package and write qualification.html and qualification.json.

Exit status 0 if every check passes, 1 if any fails, 2 if --out cannot be used (one message
on stderr, nothing written). --out follows the folder rule of every command that writes
(`sim.storage.folders`): a manifest.json lists the files, kinds are checked, and only the
files this command wrote are ever replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


FOLDER_KIND = "qualification"  # the manifest's kind: the folder rule of every command


def qualification_manifest(data: dict) -> dict:
    """The folder's manifest.json: sim's record (tool, kind) that the folder rule reads, as
    every command's (`sim.storage.folders`); its ``files`` list is added when published."""
    return {
        "tool": "sim",
        "kind": FOLDER_KIND,
        "command": sys.argv,
        "created": data.get("run_date_utc"),
        "result": data.get("result"),
    }


def run_qualification(out: Path, references: Path | None = None, force: bool = False) -> int:
    """Run every check on the installed package and write the report into `out`.

    `references` is the folder of committed reference values (default: the package's own,
    ``sim/qualify/references``). `out` follows the rule of every command that writes
    (`sim.storage.folders`): a new folder, or one this command wrote (its manifest.json of
    kind qualification lists its files), which is replaced; a file sim did not write in it
    refuses the command, even with `force`; a report file edited since is replaced only
    with `force`. Returns the exit status: 0 all passed, 1 any failed, 2 if `out` cannot be
    used (one message on stderr, nothing written).
    """
    from sim.errors import ScenarioError
    from sim.qualify.checks import run_checks
    from sim.qualify.report import render_html, report_data
    from sim.storage.folders import check_replaceable, check_target_path, output_folder

    out = Path(out).expanduser()
    references = REFERENCES if references is None else Path(references)
    kinds = [FOLDER_KIND]
    try:  # refused before the checks run, not after
        check_target_path(out)
        check_replaceable(out, force, needs_force=False, kinds=kinds)
    except ScenarioError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_OUT
    start = time.monotonic()
    run_date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    checks, not_run = run_checks(references)
    data = report_data(checks, not_run, PACKAGE, references, run_date, time.monotonic() - start)
    try:
        with output_folder(out, force, needs_force=False, kinds=kinds) as staging:
            (staging / JSON).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            (staging / HTML).write_text(render_html(data), encoding="utf-8")
            (staging / "manifest.json").write_text(
                json.dumps(qualification_manifest(data), indent=2) + "\n", encoding="utf-8"
            )
    except ScenarioError as error:  # the target changed while the checks ran, a full disk
        print(f"error: {error}", file=sys.stderr)
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
        help=f"new folder for {HTML} and {JSON} (a folder this command wrote is replaced)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="also replace report files edited since this command wrote them "
        "(files it did not write are never replaced)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``qualify`` to ``python -m sim`` (the CLI's plugin hook)."""
    parser = subparsers.add_parser("qualify", help=HELP, description=HELP)
    add_arguments(parser)
    parser.set_defaults(func=lambda args: run_qualification(args.out, force=args.force))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.qualify", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_qualification(args.out, force=args.force)
