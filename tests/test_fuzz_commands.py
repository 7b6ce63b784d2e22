"""Fuzzing every command past its YAML (issue 27): file-system states around and inside the
`--out` targets, argument combinations, and damaged folders for every command that reads one.

The rule for every case: no exit status 70 (sim's own bug) and no traceback on stderr; a
refusal is exit 2 with a message and changes nothing. Where the issue found data loss, the case
also checks that the user's files survive. A case that fails on today's code is marked
``pytest.mark.xfail(strict=True, reason="issue N: ...")`` with the issue's words, so it turns
into an XPASS (and fails the suite) the day it is fixed: then remove its mark (none is marked
now: every case of issue 27 passes). Reproduce any case with the command in its message.

Commands run in-process through `sim.commands.cli.main` (what `python -m sim` runs), with tiny
runs (--reps 20, one worker); a few run as real processes to see the real stderr. Hypothesis
examples are derandomized and few, so the suite's time stays bounded; set
SIM_FUZZ_EXAMPLES=200 to search harder with fresh random examples.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.commands.cli import EXIT_SOFTWARE, main

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"
TINY = ("--reps", "20", "--seed", "1", "--workers", "1", "--quiet")
AS_OF = "2027-06-01"
SEARCH = os.environ.get("SIM_FUZZ_EXAMPLES")


def fuzz(examples: int) -> settings:
    """Few derandomized examples in the suite; SIM_FUZZ_EXAMPLES=N for a random search."""
    return settings(
        max_examples=int(SEARCH) if SEARCH else examples,
        derandomize=not SEARCH,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# --- running a command ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    status: int
    out: str
    err: str
    warnings: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        return "python -m sim " + " ".join(shlex.quote(a) for a in self.argv)


def sim(*argv: str | Path) -> Outcome:
    """`python -m sim ARGV` in this process: exit status, stdout, stderr, and the Python
    warnings a user's terminal would show (Python's default filters, not pytest's)."""
    args = tuple(str(a) for a in argv)
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for hidden in (
            DeprecationWarning,
            PendingDeprecationWarning,
            ImportWarning,
            ResourceWarning,
        ):
            warnings.simplefilter("ignore", hidden)
        try:
            status = main(list(args))
        except SystemExit as stop:  # argparse: a usage error (2) or --help (0)
            status = stop.code if isinstance(stop.code, int) else 2
    shown = tuple(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught)
    return Outcome(args, status, out.getvalue(), err.getvalue(), shown)


def assert_handled(result: Outcome, allowed: Sequence[int] = (0, 1, 2)) -> None:
    """No internal error, no traceback, no Python warning, an expected exit status."""
    shown = f"{result.command}\n--- stderr:\n{result.err[-2000:]}"
    assert result.status != EXIT_SOFTWARE, f"exit 70 (a bug of sim): {shown}"
    assert "Traceback (most recent call last)" not in result.err + result.out, shown
    assert not result.warnings, (
        "Python warnings on stderr:\n" + "\n".join(result.warnings) + (f"\nfrom: {result.command}")
    )
    assert result.status in allowed, f"exit {result.status}: {shown}"


def snapshot(folder: Path, skip: Callable[[str], bool] = lambda name: False) -> dict[str, str]:
    """Every entry under `folder` (recursively) with its content (files), kind or link."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if skip(name):
            continue
        if path.is_symlink():
            found[name] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            found[name] = "folder"
        else:
            found[name] = path.read_bytes().hex()
    return found


# --- what the commands read: made once --------------------------------------------------------


@dataclass(frozen=True)
class Made:
    """Folders and files written by the commands themselves, read by the cases (copy them
    before damaging them)."""

    root: Path
    run: Path
    sweep: Path
    design: Path
    observed: Path
    forecast: Path
    patients_csv: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("fuzz-made")
    run, sweep, design = root / "run", root / "sweep", root / "design"
    observed, forecast = root / "observed.csv", root / "forecast"
    for argv in (
        ("run", TEXTBOOK, *TINY, "--keep-patients", "2", "--out", run),
        ("sweep", TEXTBOOK, "--grid", "effect.hazard_ratio=0.6,1", *TINY, "--out", sweep),
        ("design", TEXTBOOK, "--out", design),
        ("export-observed", run, "--as-of", AS_OF, "--out", observed),
        ("forecast", TEXTBOOK, "--observed", observed, "--as-of", AS_OF, *TINY, "--out", forecast),
    ):
        result = sim(*argv)
        assert result.status == 0, result.command + "\n" + result.err
    patients_csv = root / "patients.csv"
    pd.read_parquet(run / "patients.parquet").to_csv(patients_csv, index=False)
    return Made(root, run, sweep, design, observed, forecast, patients_csv)


def copy_of(folder: Path, where: Path, name: str | None = None) -> Path:
    target = where / (name or folder.name)
    shutil.copytree(folder, target)
    return target


# --- 1. file-system states around and inside the targets -------------------------------------


@dataclass(frozen=True)
class Hostile:
    """A file-system state built in `tmp`, the command to run there, the user's files that
    must come out unchanged, and the exit statuses allowed."""

    argv: list[str | Path]
    keep: list[Path]
    allowed: tuple[int, ...] = (0, 2)


def old_named_folder_beside_a_new_target(tmp: Path, made: Made) -> Hostile:
    mine = tmp / ".myres.old-backup" / "data.txt"
    mine.parent.mkdir()
    mine.write_text("the user's backup")
    return Hostile(["run", TEXTBOOK, *TINY, "--out", tmp / "myres"], [mine])


def old_named_folder_beside_a_new_design(tmp: Path, made: Made) -> Hostile:
    mine = tmp / ".plan.old-v1" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("the user's notes")
    return Hostile(["design", TEXTBOOK, "--out", tmp / "plan"], [mine])


def old_named_folder_beside_a_forced_target(tmp: Path, made: Made) -> Hostile:
    copy_of(made.run, tmp, "ph")
    mine = tmp / ".ph.old-2025" / "results.csv"
    mine.parent.mkdir()
    mine.write_text("a,b\n1,2\n")
    return Hostile(["run", TEXTBOOK, *TINY, "--out", tmp / "ph", "--force"], [mine])


def old_partial_named_folder_without_owner(tmp: Path, made: Made) -> Hostile:
    folder = tmp / ".pp.partial-user"
    mine = folder / "draft.txt"
    folder.mkdir()
    mine.write_text("the user's draft")
    two_hours_ago = time.time() - 7200
    os.utime(folder, (two_hours_ago, two_hours_ago))
    return Hostile(["run", TEXTBOOK, *TINY, "--out", tmp / "pp"], [mine])


def memo_inside_a_forced_run(tmp: Path, made: Made) -> Hostile:
    run = copy_of(made.run, tmp)
    mine = run / "MEMO.txt"
    mine.write_text("what I concluded from this run")
    return Hostile(["run", TEXTBOOK, *TINY, "--out", run, "--force"], [mine])


def memo_inside_a_forced_design(tmp: Path, made: Made) -> Hostile:
    design = copy_of(made.design, tmp)
    mine = design / "MEMO.txt"
    mine.write_text("the DMC's questions")
    return Hostile(["design", TEXTBOOK, "--out", design, "--force"], [mine])


def users_png_inside_plots(tmp: Path, made: Made) -> Hostile:
    run = copy_of(made.run, tmp)
    first = sim("plot", run)
    assert first.status == 0, first.err
    mine = run / "plots" / "my_figure.png"
    mine.write_bytes(b"\x89PNG\r\n\x1a\nthe user's figure")
    return Hostile(["plot", run], [mine])


def design_over_a_run(tmp: Path, made: Made) -> Hostile:
    run = copy_of(made.run, tmp)
    return Hostile(["design", TEXTBOOK, "--out", run, "--force"], [run / "replicates.parquet"])


def users_lock_named_file(tmp: Path, made: Made) -> Hostile:
    mine = tmp / ".lk.lock"
    mine.write_text("the user's file that happens to be named like sim's lock")
    return Hostile(["design", TEXTBOOK, "--out", tmp / "lk"], [mine])


def users_folder_as_target(tmp: Path, made: Made) -> Hostile:
    mine = tmp / "results" / "analysis.sas"
    mine.parent.mkdir()
    mine.write_text("proc lifetest;")
    return Hostile(["run", TEXTBOOK, *TINY, "--out", mine.parent, "--force"], [mine], (2,))


def users_file_as_target(tmp: Path, made: Made) -> Hostile:
    mine = tmp / "results"
    mine.write_text("not a folder")
    return Hostile(["design", TEXTBOOK, "--out", mine, "--force"], [mine], (2,))


def users_html_as_report(tmp: Path, made: Made) -> Hostile:
    mine = tmp / "report.html"
    mine.write_text("<html>the user's page</html>")
    return Hostile(["report", made.run, "--out", mine], [mine], (2,))


def users_csv_as_comparison(tmp: Path, made: Made) -> Hostile:
    mine = tmp / "compare.csv"
    mine.write_text("metric,value\npower,0.8\n")
    return Hostile(["compare", made.run, made.run, "--out", mine], [mine], (2,))


def users_csv_as_observed_export(tmp: Path, made: Made) -> Hostile:
    mine = tmp / "observed.csv"
    mine.write_text("patient_id\nP1\n")
    argv = ["export-observed", made.run, "--as-of", AS_OF, "--out", mine, "--force"]
    return Hostile(argv, [mine], (2,))


def plots_into_a_run_folder(tmp: Path, made: Made) -> Hostile:
    run = copy_of(made.run, tmp)
    keep = [run / name for name in ("manifest.json", "summary.csv", "replicates.parquet")]
    return Hostile(["plot", made.run, "--out", run], keep, (2,))


def symlink_as_target(tmp: Path, made: Made) -> Hostile:
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    mine = elsewhere / "keep.txt"
    mine.write_text("behind a link")
    (tmp / "link").symlink_to(elsewhere)
    return Hostile(["run", TEXTBOOK, *TINY, "--out", tmp / "link", "--force"], [mine], (2,))


def live_partial_beside_the_target(tmp: Path, made: Made) -> Hostile:
    """A staging folder whose owner (this test's parent process) is alive is not stale."""
    staging = tmp / ".live.partial-0badc0de"
    staging.mkdir()
    parent = os.getppid()
    start = Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[19]
    owner = {"pid": parent, "start": start, "host": socket.gethostname(), "created": 0}
    (staging / ".owner.json").write_text(json.dumps(owner))
    mine = staging / "chunk.txt"
    mine.write_text("another process is writing this")
    return Hostile(["run", TEXTBOOK, *TINY, "--out", tmp / "live"], [mine])


HOSTILE = [
    pytest.param(old_named_folder_beside_a_new_target),
    pytest.param(old_named_folder_beside_a_new_design),
    pytest.param(old_named_folder_beside_a_forced_target),
    pytest.param(old_partial_named_folder_without_owner),
    pytest.param(memo_inside_a_forced_run),
    pytest.param(memo_inside_a_forced_design),
    pytest.param(users_png_inside_plots),
    pytest.param(design_over_a_run),
    pytest.param(users_lock_named_file),
    users_folder_as_target,
    users_file_as_target,
    users_html_as_report,
    users_csv_as_comparison,
    users_csv_as_observed_export,
    plots_into_a_run_folder,
    symlink_as_target,
    live_partial_beside_the_target,
]


@pytest.mark.parametrize("state", HOSTILE)
def test_the_users_files_around_and_inside_a_target_survive(
    state: Callable[[Path, Made], Hostile], made: Made, tmp_path: Path
) -> None:
    case = state(tmp_path, made)
    before = {path: path.read_bytes() for path in case.keep}
    result = sim(*case.argv)
    assert_handled(result, case.allowed)
    for path, content in before.items():
        assert path.is_file(), f"{path.name} was removed by: {result.command}"
        assert path.read_bytes() == content, f"{path.name} was changed by: {result.command}"


def test_out_at_the_current_folder_is_refused(
    made: Made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    for argv in (
        ("run", TEXTBOOK, *TINY, "--out", ".", "--force"),
        ("design", TEXTBOOK, "--out", ".", "--force"),
        ("plot", made.run, "--out", "."),
    ):
        before = snapshot(tmp_path)
        assert_handled(sim(*argv), (2,))
        assert snapshot(tmp_path) == before


def test_a_stale_lock_of_a_dead_process_does_not_block(made: Made, tmp_path: Path) -> None:
    (tmp_path / ".stale.lock").write_text("999999999\n")  # no process holds its flock
    assert_handled(sim("design", TEXTBOOK, "--out", tmp_path / "stale"), (0,))


TARGETS = ("absent", "empty folder", "user folder", "run", "design", "file", "link", "dangling")
SIBLINGS = (
    "partial, dead owner",
    "partial, no owner, old",
    "partial, torn owner record",
    "old, empty",
    "lock, dead pid",
    "csv beside",
)


def build_target(tmp: Path, made: Made, kind: str) -> Path:
    target = tmp / "T"
    if kind == "empty folder":
        target.mkdir()
    elif kind == "user folder":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    elif kind == "run":
        copy_of(made.run, tmp, "T")
    elif kind == "design":
        copy_of(made.design, tmp, "T")
    elif kind == "file":
        target.write_text("mine")
    elif kind == "link":
        (tmp / "real").mkdir()
        target.symlink_to(tmp / "real")
    elif kind == "dangling":
        target.symlink_to(tmp / "nowhere")
    return target


def build_sibling(tmp: Path, kind: str) -> None:
    if kind.startswith("partial"):
        staging = tmp / f".T.partial-{abs(hash(kind)) % 0xFFFFFFFF:08x}"
        staging.mkdir()
        if kind == "partial, dead owner":
            owner = {"pid": 999999999, "start": "1", "host": socket.gethostname()}
            (staging / ".owner.json").write_text(json.dumps(owner))
        elif kind == "partial, torn owner record":
            (staging / ".owner.json").write_text('{"pid": ')
        else:
            os.utime(staging, (time.time() - 7200, time.time() - 7200))
    elif kind == "old, empty":
        (tmp / ".T.old-1700000000").mkdir()
    elif kind == "lock, dead pid":
        (tmp / ".T.lock").write_text("999999999\n")
    else:
        (tmp / "T.csv").write_text("a\n1\n")


def command_for(kind: str, target: Path, force: bool, made: Made) -> list[str | Path]:
    extra = ["--force"] if force else []
    return {
        "run": ["run", TEXTBOOK, *TINY, "--out", target, *extra],
        "design": ["design", TEXTBOOK, "--out", target, *extra],
        "compare": ["compare", made.run, made.run, "--out", target.with_suffix(".csv")],
        "analyze": ["analyze", made.patients_csv, "--out", target.with_suffix(".csv"), *extra],
        "export": ["export-observed", made.run, "--as-of", AS_OF, "--out", target, *extra],
    }[kind]


@fuzz(examples=20)
@given(
    target=st.sampled_from(TARGETS),
    siblings=st.sets(st.sampled_from(SIBLINGS), max_size=3),
    command=st.sampled_from(("run", "design", "compare", "analyze", "export")),
    force=st.booleans(),
)
def test_any_state_around_a_target_is_handled_and_a_refusal_changes_nothing(
    made: Made, target: str, siblings: set[str], command: str, force: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        path = build_target(tmp, made, target)
        for sibling in sorted(siblings):
            build_sibling(tmp, sibling)
        # sim's own lock file may come and go; everything else must stay if it refuses
        before = snapshot(tmp, skip=lambda name: name.endswith(".lock"))
        result = sim(*command_for(command, path, force, made))
        assert_handled(result, (0, 2))
        if result.status == 2:
            assert snapshot(tmp, skip=lambda name: name.endswith(".lock")) == before, (
                f"a refusal changed files: {result.command}"
            )


# --- 2. argument combinations of every command ------------------------------------------------

SETS = (
    "effect.hazard_ratio=1",
    "effect.hazard_ratio=1e-9",
    "effect.hazard_ratio=1e9",
    "effect.hazard_ratio=-1",
    "effect.hazard_ratio=abc",
    "analysis.looks=[]",
    "analysis.looks=[{events: 35}, {events: 35}]",
    "analysis.event_target=1",
    "analysis.event_target=104",
    "analysis.event_target=0",
    "analysis.alpha=0.5",
    "analysis.alpha=1e-12",
    "dropout.probability=0.999",
    "trial.sample_size=2",
    "trial.start_date=2090-01-01",
    "trial.start_date=2026-02-24T25:00",
    "enrollment.screening_rate=[]",
    "randomization.strata={}",
    "calendar.closed_weekdays=[0, 1, 2, 3, 4, 5, 6]",
    "pfs.control={distribution: weibull, median_months: 6.8, shape: 0.001}",
    "no.such.field=1",
    "nonsense",
)
GRIDS = (
    "effect.hazard_ratio=0.6,1",
    "analysis.event_target=30,70",
    "effect.hazard_ratio=",
    "no.such.path=1,2",
    "effect.hazard_ratio=0.6,0.6",
)
options = st.lists(st.sampled_from(SETS), max_size=2).map(
    lambda sets: [part for s in sets for part in ("--set", s)]
)


def scenario_args(tmp: Path) -> st.SearchStrategy[list[str | Path]]:
    bom = tmp / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + TEXTBOOK.read_bytes())
    return st.sampled_from([TEXTBOOK, BASELINE, bom, tmp / "missing.yaml", tmp]).map(
        lambda path: [path]
    )


@st.composite
def scenario_command(draw: st.DrawFn, tmp: Path) -> list[str | Path]:
    command = draw(st.sampled_from(("validate", "design", "run", "sweep")))
    argv: list[str | Path] = [command, *draw(scenario_args(tmp)), *draw(options)]
    out = tmp / f"out{draw(st.integers(0, 3))}"
    if command == "design" and draw(st.booleans()):
        argv += ["--out", out]
    if command in ("run", "sweep"):
        argv += ["--reps", draw(st.sampled_from(("1", "20", "0", "-3", "x")))]
        argv += ["--seed", draw(st.sampled_from(("1", "0", "-1", str(2**70))))]
        argv += ["--workers", draw(st.sampled_from(("1", "0", "x")))]
        argv += ["--keep-patients", draw(st.sampled_from(("0", "2", "-1")))]
        argv += ["--quiet", "--out", out]
        if command == "sweep":
            argv += ["--grid", draw(st.sampled_from(GRIDS))]
        if draw(st.booleans()):
            argv += ["--resume"]
    if command in ("design", "run", "sweep") and draw(st.booleans()):
        argv += ["--force"]
    return argv


@fuzz(examples=25)
@given(data=st.data())
def test_scenario_commands_with_any_arguments(made: Made, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        argv = data.draw(scenario_command(Path(folder)))
        assert_handled(sim(*argv))


@st.composite
def reading_command(draw: st.DrawFn, made: Made, tmp: Path) -> list[str | Path]:
    command = draw(st.sampled_from(("analyze", "export-observed", "compare", "schema")))
    empty = tmp / "empty.csv"
    empty.write_text("")
    bom = tmp / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + made.patients_csv.read_bytes())
    folders = [made.run, made.sweep, made.design, made.forecast, made.sweep / "01_hazard_ratio-0.6"]
    if command == "analyze":
        table = draw(
            st.sampled_from(
                [made.run / "patients.parquet", made.patients_csv, bom, empty, made.run, tmp / "x"]
            )
        )
        argv: list[str | Path] = ["analyze", table]
        for flag, values in (
            ("--time", ("pfs_days_at_cut", "nope", "arm", "replicate")),
            ("--event", ("pfs_event_at_cut", "arm", "in_analysis")),
            ("--arm", ("arm", "stratum", "site")),
            ("--strata", ("stratum", "site", "nope")),
            ("--control", ("control", "experimental", "nope")),
            ("--replicate", ("0", "1", "99", "-1")),
            ("--conf-level", ("0.9", "0", "1", "1.5", "x")),
            ("--conf-type", ("log", "log-log")),
            ("--time-unit", ("days", "months")),
            ("--tests", ("logrank", "fh:0:1,maxcombo", "rmst:12", "rmst:-1", "foo", "milestone:0")),
        ):
            if draw(st.booleans()):
                argv += [flag, draw(st.sampled_from(values))]
        if draw(st.booleans()):
            argv += ["--out", tmp / "analysis.csv"]
        return argv
    if command == "export-observed":
        argv = ["export-observed", draw(st.sampled_from([*folders, tmp / "missing"]))]
        argv += [
            "--as-of",
            draw(st.sampled_from((AS_OF, "2026-01-30", "1990-01-01", "2099-01-01"))),
        ]
        if draw(st.booleans()):
            argv += ["--replicate", draw(st.sampled_from(("0", "1", "2", "99", "-1")))]
        if draw(st.booleans()):
            argv += ["--blinded"]
        argv += ["--out", draw(st.sampled_from((tmp / "obs.csv", made.observed, tmp)))]
        return argv
    if command == "compare":
        runs = draw(st.lists(st.sampled_from([*folders, tmp / "missing"]), min_size=1, max_size=3))
        argv = ["compare", *runs]
        if draw(st.booleans()):
            argv += ["--out", tmp / "comparison.csv"]
        return argv
    return ["schema", *(["--markdown"] if draw(st.booleans()) else [])]


@fuzz(examples=30)
@given(data=st.data())
def test_reading_commands_with_any_arguments(made: Made, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        argv = data.draw(reading_command(made, Path(folder)))
        assert_handled(sim(*argv))


@fuzz(examples=4)
@given(
    observed=st.sampled_from(("observed", "missing", "folder", "patients")),
    as_of=st.sampled_from((AS_OF, "2026-01-01", "2099-01-01", "2026-02-30")),
    prior=st.sampled_from(((), ("--prior-months", "-1"), ("--prior-events", "0"))),
    resume=st.booleans(),
)
def test_forecast_with_any_arguments(
    made: Made, observed: str, as_of: str, prior: tuple[str, ...], resume: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        table = {
            "observed": made.observed,
            "missing": Path(folder) / "missing.csv",
            "folder": made.run,
            "patients": made.run / "patients.parquet",
        }[observed]
        argv = ["forecast", TEXTBOOK, "--observed", table, "--as-of", as_of, *prior, *TINY]
        argv += ["--out", Path(folder) / "fc", *(["--resume"] if resume else [])]
        assert_handled(sim(*argv))


@pytest.mark.parametrize(
    "which", ["sweep", "design", "forecast", "point", "missing", "file", "run to a file"]
)
def test_plot_and_report_of_any_folder(made: Made, tmp_path: Path, which: str) -> None:
    (tmp_path / "file").write_text("x")
    source = {
        "sweep": made.sweep,
        "design": made.design,
        "forecast": made.forecast,
        "point": made.sweep / "01_hazard_ratio-0.6",
        "missing": tmp_path / "missing",
        "file": tmp_path / "file",
        "run to a file": made.run,
    }[which]
    if which == "run to a file":  # --out naming an existing file that is not a folder
        assert_handled(sim("plot", source, "--out", tmp_path / "file"), (2,))
        assert_handled(sim("report", source, "--out", tmp_path), (2,))
        return
    assert_handled(sim("plot", source, "--out", tmp_path / "plots"))
    assert_handled(sim("report", source, "--out", tmp_path / "report.html"))


WEIBULL_1000 = "distribution: weibull, median_months: 6.8, shape: 1000"


# inputs the validation accepts that end in an internal error (or Python's warnings) today
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(
            ["run", TEXTBOOK, *TINY, "--set", "randomization.block_sizes=[]"],
            id="empty-block-sizes",
        ),
        pytest.param(
            ["sweep", TEXTBOOK, *TINY, "--grid", "analysis.looks.0.events=30,40"],
            id="look-index-without-looks",
        ),
        pytest.param(
            ["design", TEXTBOOK, "--set", f"pfs.control={{{WEIBULL_1000}}}"],
            id="weibull-shape-1000-design",
        ),
        pytest.param(
            ["run", TEXTBOOK, *TINY, "--set", f"pfs.control={{{WEIBULL_1000}}}"],
            id="weibull-shape-1000-run",
        ),
        pytest.param(["run", TEXTBOOK, *TINY, "--long-out"], id="long-run-out"),
        pytest.param(["design", TEXTBOOK, "--long-out"], id="long-design-out"),
    ],
)
def test_accepted_inputs_never_end_in_an_internal_error(
    argv: list[str | Path], tmp_path: Path
) -> None:
    if "--long-out" in argv:
        argv = [a for a in argv if a != "--long-out"] + ["--out", tmp_path / ("x" * 300)]
    else:
        argv = [*argv, "--out", tmp_path / "out"]
    assert_handled(sim(*argv), (0, 2))


@pytest.mark.parametrize(
    "kind",
    [
        "folder",
        "fifo",
    ],
)
def test_a_scenario_that_is_not_a_file_is_named_for_what_it_is(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "scenario.yaml"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    result = sim("validate", path)
    assert_handled(result, (2,))
    assert "no such file" not in result.err, result.err


# --- 3. damaged folders for every reading command ----------------------------------------------


def damage(folder: Path, kind: str) -> None:
    """Break a run or forecast folder as a full disk, a bad copy or a user would."""

    def truncate(name: str) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])

    if kind == "manifest not JSON":
        (folder / "manifest.json").write_text('{"tool": "sim", ')
    elif kind == "manifest a list":
        (folder / "manifest.json").write_text("[]")
    elif kind == "manifest removed":
        (folder / "manifest.json").unlink()
    elif kind == "manifest without scenario":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.pop("scenario", None)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    elif kind == "summary truncated":
        truncate("summary.csv")
    elif kind == "summary cut at a row":  # still a table, rows missing: only its hash tells
        lines = (folder / "summary.csv").read_bytes().splitlines(keepends=True)
        (folder / "summary.csv").write_bytes(b"".join(lines[: len(lines) - 3]))
    elif kind == "timeline cut at a row":
        lines = (folder / "timeline.csv").read_bytes().splitlines(keepends=True)
        (folder / "timeline.csv").write_bytes(b"".join(lines[:-1]))
    elif kind == "summary removed":
        (folder / "summary.csv").unlink()
    elif kind == "replicates truncated":
        truncate("replicates.parquet")
    elif kind == "replicates removed":
        (folder / "replicates.parquet").unlink()
    elif kind == "patients truncated":
        truncate("patients.parquet")
    elif kind == "timeline garbage":
        (folder / "timeline.csv").write_bytes(b"\x00\xff not,a\ntable")


DAMAGES = (
    "manifest not JSON",
    "manifest a list",
    "manifest removed",
    "manifest without scenario",
    "summary truncated",
    "summary cut at a row",
    "timeline cut at a row",
    "summary removed",
    "replicates truncated",
    "replicates removed",
    "patients truncated",
    "timeline garbage",
)
# plot and report draw every figure of a folder they accept: a few damages each keep it short
SLOW_DAMAGES = (
    "manifest not JSON",
    "replicates truncated",
    "summary truncated",
    "summary cut at a row",
    "timeline garbage",
)


def reader_argv(reader: str, broken: Path, made: Made, tmp: Path) -> list[str | Path]:
    return {
        "compare, damaged first": ["compare", broken, made.run],
        "compare, damaged second": ["compare", made.run, broken],
        "export-observed": ["export-observed", broken, "--as-of", AS_OF, "--out", tmp / "o.csv"],
        "analyze": ["analyze", broken / "patients.parquet"],
        "run --resume": ["run", TEXTBOOK, *TINY, "--out", broken, "--resume"],
        "run --force": ["run", TEXTBOOK, *TINY, "--out", broken, "--force"],
        "plot": ["plot", broken, "--out", tmp / "plots"],
        "report": ["report", broken, "--out", tmp / "report.html"],
    }[reader]


READERS = [
    *[
        (reader, kind)
        for reader in (
            "compare, damaged first",
            "compare, damaged second",
            "export-observed",
            "analyze",
            "run --resume",
            "run --force",
        )
        for kind in DAMAGES
    ],
    *[(reader, kind) for reader in ("plot", "report") for kind in SLOW_DAMAGES],
]


@pytest.mark.parametrize(("reader", "kind"), READERS)
def test_a_damaged_run_folder_is_handled_by_every_reader(
    made: Made, tmp_path: Path, reader: str, kind: str
) -> None:
    broken = copy_of(made.run, tmp_path, "broken")
    damage(broken, kind)
    assert_handled(sim(*reader_argv(reader, broken, made, tmp_path)))


@pytest.mark.parametrize("kind", ["summary truncated", "summary cut at a row"])
@pytest.mark.parametrize(
    "reader", ["compare, damaged first", "compare, damaged second", "plot", "report"]
)
def test_a_damaged_summary_is_one_refusal_never_a_silent_table(
    made: Made, tmp_path: Path, reader: str, kind: str
) -> None:
    """Issue 27: a summary.csv cut short is refused (exit 2, one line naming it), also when
    it is cut at a row boundary and still parses: its sha256 is not the manifest's."""
    broken = copy_of(made.run, tmp_path, "broken")
    damage(broken, kind)
    result = sim(*reader_argv(reader, broken, made, tmp_path))
    assert_handled(result, (2,))
    assert result.err.count("\n") == 1 and "summary.csv" in result.err, result.err


@pytest.mark.parametrize(
    "kind",
    [
        "manifest not JSON",
        "manifest a list",
        "manifest removed",
        "manifest without scenario",
        "summary truncated",
        "summary cut at a row",
        "replicates truncated",
    ],
)
def test_a_damaged_forecast_folder_is_handled(made: Made, tmp_path: Path, kind: str) -> None:
    broken = copy_of(made.forecast, tmp_path, "broken")
    damage(broken, kind)
    argv = ["forecast", TEXTBOOK, "--observed", made.observed, "--as-of", AS_OF, *TINY]
    assert_handled(sim(*argv, "--out", broken, "--resume"))
    assert_handled(sim("compare", made.forecast, broken))


# An interrupted run: its staging folder .NAME.partial-* with two finished chunks of three.
RESUME = ("--reps", "1500", "--seed", "3", "--workers", "1", "--quiet")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staging folder a real `python -m sim run` keeps when stopped by Ctrl-C after its
    second chunk (a separate process: the signal is real)."""
    root = tmp_path_factory.mktemp("fuzz-interrupted")
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(TEXTBOOK), *RESUME, "--out", str(root / "res")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            markers = list(root.glob(".res.partial-*/chunks/c*.json"))
            if len(markers) >= 2:
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    kept = list(root.glob(".res.partial-*"))
    if len(kept) != 1 or len(list(kept[0].glob("chunks/c*.json"))) != 2:
        pytest.skip("the run finished (or stopped) before exactly two chunks were kept")
    return kept[0]


def damage_checkpoint(staging: Path, kind: str) -> None:
    chunks = staging / "chunks"
    if kind == "checkpoint not JSON":
        (staging / "checkpoint.json").write_text("{")
    elif kind == "chunk file truncated":
        data_file = sorted(chunks.glob("c000001.*.arrow"))[0]
        data_file.write_bytes(data_file.read_bytes()[:100])
    elif kind == "chunk marker not JSON":
        (chunks / "c000000.json").write_text("{")
    elif kind == "chunks removed":
        shutil.rmtree(chunks)
    elif kind == "chunk copied over another":
        for source in chunks.glob("c000000.*"):
            source_bytes = source.read_bytes()
            (chunks / source.name.replace("c000000", "c000001")).write_bytes(source_bytes)
        marker = json.loads((chunks / "c000001.json").read_text())
        marker["chunk"] = 1
        (chunks / "c000001.json").write_text(json.dumps(marker))


@pytest.mark.parametrize(
    "kind",
    [
        "checkpoint not JSON",
        "chunk file truncated",
        "chunk marker not JSON",
        "chunks removed",
        "chunk copied over another",
    ],
)
def test_resume_of_a_damaged_checkpoint_recomputes_or_refuses(
    interrupted: Path, tmp_path: Path, kind: str
) -> None:
    staging = tmp_path / interrupted.name
    shutil.copytree(interrupted, staging)
    damage_checkpoint(staging, kind)
    out = tmp_path / "res"
    result = sim("run", TEXTBOOK, *RESUME, "--out", out, "--resume")
    assert_handled(result, (0, 2))
    if result.status == 0:
        replicates = pd.read_parquet(out / "replicates.parquet")
        assert len(replicates) == 1500, result.command
        assert replicates["replicate"].is_unique, f"replicates counted twice: {result.command}"


# --- 4. as real processes: what a user's terminal shows ----------------------------------------


def python_m_sim(*argv: str | Path, timeout: float = 120) -> Outcome:
    """`python -m sim ARGV` as its own process, killed (with its workers) at `timeout`."""
    args = tuple(str(a) for a in argv)
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"no answer within {timeout:g} s: python -m sim {shlex.join(args)}")
    return Outcome(args, process.returncode, out, err)


def test_real_stderr_shows_no_traceback_or_python_warning(made: Made, tmp_path: Path) -> None:
    broken = copy_of(made.run, tmp_path, "broken")
    damage(broken, "replicates truncated")
    for argv in (
        ("compare", made.run, made.run),
        ("compare", made.run, broken),
        ("run", TEXTBOOK, *TINY, "--set", "randomization.strata={}", "--out", tmp_path / "r"),
    ):
        result = python_m_sim(*argv)
        assert_handled(result)
        warnings = [line for line in result.err.splitlines() if "Warning:" in line]
        assert not warnings, f"{result.command}\n{result.err}"


class NotDask(BaseHTTPRequestHandler):
    """An HTTP server, such as the Dask dashboard one port away from the scheduler."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"dashboard")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_scheduler_that_is_not_dask_is_refused_within_seconds(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    server = HTTPServer(("127.0.0.1", 0), NotDask)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
        argv = ("run", TEXTBOOK, *TINY, "--executor", "dask", "--scheduler", address)
        result = python_m_sim(*argv, "--out", tmp_path / "r", timeout=10)
    finally:
        server.shutdown()
    assert_handled(result, (2,))


def test_a_worker_killed_from_outside_is_reported_as_such(tmp_path: Path) -> None:
    """Issue 27: a worker killed from outside (the out-of-memory killer sends SIGKILL) was
    exit 70, "unexpected BrokenProcessPool ... a bug of sim". Now exit 2 and one message
    that says what happened and what to do."""
    argv = [sys.executable, "-m", "sim", "run", str(BASELINE), "--reps", "3000", "--seed", "1"]
    process = subprocess.Popen(
        [*argv, "--workers", "2", "--quiet", "--out", str(tmp_path / "r")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        children: list[str] = []
        deadline = time.monotonic() + 60
        while len(children) < 2 and time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError):
                listed = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
                children = listed.split()
            time.sleep(0.05)
        if len(children) < 2:
            pytest.skip("the run's worker processes could not be seen in /proc")
        os.kill(int(children[-1]), signal.SIGKILL)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.returncode == 0:
        pytest.skip("the run finished before its worker was killed")
    result = Outcome(tuple(argv[2:]), process.returncode, "", err)
    assert_handled(result, (2,))
    assert "killed from outside by signal SIGKILL (9)" in err and "out-of-memory" in err, err
    assert "a bug of sim" not in err
