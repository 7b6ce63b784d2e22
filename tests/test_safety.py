"""The safety promises (docs/safety.md), one test each: nothing outside what a command
writes is removed or overwritten; a locked, read-only or full target fails cleanly; every
malformed input is exit status 2 with one message, no traceback, nothing written."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.commands.cli import main
from sim.engine.executors import LocalExecutor
from sim.outputs.report import page_html, write_text_atomic
from sim.scenario import MAX_YAML_BYTES
from sim.storage import folders
from tests.helpers import BASELINE, ROOT, TEXTBOOK

RUN = ["--reps", "20", "--workers", "1", "--quiet"]


def one_error(capsys) -> str:
    """The stderr of a refused command: exactly one line, starting with 'error:'."""
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("safety") / "run"
    assert main(["run", str(TEXTBOOK), *RUN, "--keep-patients", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture
def foreign(tmp_path) -> Path:
    """A user's folder: a scenario and notes, nothing sim wrote."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(TEXTBOOK, folder / "scenario.yaml")
    (folder / "notes.txt").write_text("protocol decision notes\n")
    return folder


# --- --force replaces only what sim wrote ---------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["run", str(TEXTBOOK), *RUN],
        ["sweep", str(TEXTBOOK), "--grid", "effect.hazard_ratio=0.6", *RUN],
        ["design", str(TEXTBOOK)],
    ],
    ids=["run", "sweep", "design"],
)
def test_force_refuses_a_folder_sim_did_not_write(foreign, capsys, command):
    before = snapshot(foreign)
    assert main([*command, "--out", str(foreign), "--force"]) == 2
    assert "not one this command wrote" in one_error(capsys)
    assert snapshot(foreign) == before
    assert sorted(p.name for p in foreign.parent.iterdir()) == ["mine"]  # no lock, no staging


def test_force_replaces_a_folder_sim_wrote(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(TEXTBOOK), *RUN, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", str(TEXTBOOK), *RUN, "--seed", "2", "--out", str(out)]) == 2
    assert "add --force" in one_error(capsys)
    assert main(["run", str(TEXTBOOK), *RUN, "--seed", "2", "--out", str(out), "--force"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_plot_refuses_a_foreign_folder_and_never_replaces_a_run(run_folder, foreign, capsys):
    before = snapshot(foreign)
    assert main(["plot", str(run_folder), "--out", str(foreign)]) == 2
    one_error(capsys)
    assert snapshot(foreign) == before
    other = foreign.parent / "other_run"
    shutil.copytree(run_folder, other)
    assert main(["plot", str(run_folder), "--out", str(other)]) == 2
    assert "is a run folder, not plots" in one_error(capsys)
    assert (other / "summary.csv").exists()
    png = foreign.parent / "png"
    assert main(["plot", str(run_folder), "--out", str(png)]) == 0
    with folders.output_folder(png, True, needs_force=False, kinds=["plots"]) as staging:
        (staging / "manifest.json").write_text(json.dumps({"tool": "sim", "kind": "plots"}))
    assert [p.name for p in png.iterdir()] == ["manifest.json"]  # its own: replaced


def test_report_analyze_compare_refuse_foreign_files(run_folder, tmp_path, capsys):
    user_file = tmp_path / "notes.html"
    user_file.write_text("<html>my notes</html>")
    assert main(["report", str(run_folder), "--out", str(user_file)]) == 2
    one_error(capsys)
    assert user_file.read_text() == "<html>my notes</html>"
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n")
    patients = str(run_folder / "patients.parquet")
    assert main(["analyze", patients, "--out", str(mine), "--force"]) == 2
    one_error(capsys)
    assert main(["compare", str(run_folder), str(run_folder), "--out", str(mine)]) == 2
    one_error(capsys)
    assert mine.read_text() == "a,b\n1,2\n"
    ours = tmp_path / "ours.csv"
    assert main(["analyze", patients, "--out", str(ours)]) == 0
    assert main(["analyze", patients, "--out", str(ours)]) == 2  # exists: needs --force
    one_error(capsys)
    assert main(["analyze", patients, "--out", str(ours), "--force"]) == 0
    report = tmp_path / "r.html"
    assert main(["report", str(run_folder), "--out", str(report)]) == 0
    write_text_atomic(report, page_html("again", []))  # its own: replaced
    assert "again" in report.read_text()
    # no lock files or staging left; the record of the files sim wrote there
    assert [p.name for p in tmp_path.glob(".*")] == [folders.LOOSE]


@pytest.mark.parametrize("out", [".", "..", "~"])
def test_out_may_not_be_the_current_parent_or_home_folder(tmp_path, capsys, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    assert main(["run", str(TEXTBOOK), *RUN, "--out", os.path.expanduser(out), "--force"]) == 2
    assert "current folder" in one_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# --- the lock, stale staging, permissions --------------------------------------------------


def test_a_locked_target_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    with folders.TargetLock(out):
        assert main(["run", str(TEXTBOOK), *RUN, "--out", str(out)]) == 2
        assert f"pid {os.getpid()}" in one_error(capsys)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_stale_staging_folders_are_removed_live_ones_kept(tmp_path):
    out = tmp_path / "out"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / ".out.partial-dead"
    stale.mkdir()
    dead_owner = {"tool": "sim", "target": "out", "pid": int(dead), "start": "1"}
    (stale / folders.OWNER).write_text(json.dumps(dead_owner))
    (stale / "replicates.parquet").write_bytes(b"half")
    live = tmp_path / ".out.partial-live"
    live.mkdir()
    (live / folders.OWNER).write_text(json.dumps(folders.owner_record(out)))
    legacy = tmp_path / ".out.partial-legacy"  # no owner record, an hour old: not sim's
    legacy.mkdir()
    os.utime(legacy, (0, 0))
    assert main(["run", str(TEXTBOOK), *RUN, "--out", str(out)]) == 0
    kept = [".out.partial-legacy", ".out.partial-live", "out"]
    assert sorted(p.name for p in tmp_path.iterdir()) == kept


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_and_folders_get_normal_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / "out"
        assert main(["run", str(TEXTBOOK), *RUN, "--out", str(out)]) == 0
        write_text_atomic(out / "report.html", page_html("report", []))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_read_only_target_one_message_nothing_left(tmp_path, capsys, monkeypatch):
    # root ignores permission bits, so the read-only file system is simulated at mkdir
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    def no_chunks(*args, **kwargs):
        raise AssertionError("chunks started for a target that cannot be written")

    monkeypatch.setattr(Path, "mkdir", refuse)
    monkeypatch.setattr(LocalExecutor, "map_ordered", no_chunks)
    assert main(["run", str(TEXTBOOK), *RUN, "--out", str(tmp_path / "a" / "out")]) == 2
    assert "Read-only file system" in one_error(capsys)
    monkeypatch.undo()
    assert not list(tmp_path.iterdir())


def test_full_disk_one_message_nothing_left(tmp_path, capsys, monkeypatch):
    import sim.engine.results as results

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results, "write_json", full)  # the run's manifest.json
    assert main(["run", str(TEXTBOOK), *RUN, "--out", str(tmp_path / "new" / "out")]) == 2
    assert "No space left on device" in one_error(capsys)
    assert not list(tmp_path.iterdir())  # not the staging, not the parent it created


def test_broken_pipe_exits_quietly(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "validate", str(BASELINE)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head` that has already read what it wanted
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 141 and "Traceback" not in err and "Error" not in err, err


# --- bad input ------------------------------------------------------------------------------


def bad_yaml(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


TEXT = TEXTBOOK.read_text()
TEXT_LINE = next(i + 1 for i, line in enumerate(TEXT.splitlines()) if "textbook version" in line)
LAUGHS = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcde", "bcdef", strict=True)
)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            TEXT.replace("textbook version", "textbook v\xe9rsion").encode("latin-1"),
            f"not UTF-8 text: byte 0xe9 at line {TEXT_LINE}",
        ),
        (TEXT.replace("2026-01-30", "2026-02-30"), "2026-02-30 is not a calendar date"),
        (TEXT + "effect:\n  hazard_ratio: 1.0\n", "key 'effect' is given twice"),
        (
            TEXT.replace("hazard_ratio: 0.60", "hazard_ratio: 0.6\n  hazard_ratio: 1.0"),
            "given twice",
        ),
        (LAUGHS, "anchors and aliases expand to"),
        ("a: &a [1, *a]\n", "recursive"),
        ("#" * (MAX_YAML_BYTES + 1), f"more than the {MAX_YAML_BYTES:,} a scenario file"),
        (TEXT.replace("hazard_ratio: 0.60", "hazard_ratio: .inf"), "finite number"),
        (TEXT.replace("median_months: 6.8", "median_months: .nan"), "finite number"),
        (TEXT.replace("sample_size: 104", "sample_size: true"), "a boolean where a number"),
    ],
    ids=[
        "latin-1",
        "date",
        "duplicate-block",
        "duplicate-key",
        "aliases",
        "recursive",
        "size",
        "inf",
        "nan",
        "bool",
    ],
)
def test_malformed_scenario_files_exit_2_with_one_message(tmp_path, capsys, text, needle):
    path = bad_yaml(tmp_path, text)
    assert main(["run", str(path), *RUN, "--out", str(tmp_path / "out")]) == 2
    assert needle in one_error(capsys)
    assert sorted(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("effect.hazard_ratio=.inf", "finite number"),
        ("pfs.control.median_months=.nan", "finite number"),
        ("trial.sample_size=true", "a boolean where a number"),
        ("randomization.ratio=[1, true]", "a boolean (at 1)"),
        ("trial.start_date=2026-02-30", "not a calendar date"),
        ("calendar.closed_weekdays=[Mon, Tue, Wed, Thu, Fri, Sat, Sun]", "every weekday is closed"),
        ("enrollment.screening_rate=[{months: 6, per_month: 5}]", "no site screens for as long"),
        ("enrollment.screening_slots_per_day=0", "enrollment.screening_slots_per_day = 0"),
    ],
)
def test_bad_overrides_and_impossible_scenarios_exit_2(tmp_path, capsys, override, needle):
    assert (
        main(["run", str(TEXTBOOK), "--set", override, *RUN, "--out", str(tmp_path / "out")]) == 2
    )
    assert needle in one_error(capsys)
    assert not list(tmp_path.iterdir())


def test_cross_field_errors_print_the_rule_without_the_scenario(tmp_path, capsys):
    assert main(["validate", str(TEXTBOOK), "--set", "analysis.event_target=200"]) == 2
    message = one_error(capsys)
    assert "above trial.sample_size" in message and len(message) < 300
    assert "NCT07271602" not in message  # no dump of the scenario


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--reps", "0"], "--reps: 0: must be a whole number from 1 to 10,000,000"),
        (["--reps", "-3"], "from 1 to"),
        (["--reps", "10000000000"], "from 1 to 10,000,000"),
        (
            ["--seed", "-1"],
            "--seed: -1: must be a whole number from 0 to 9,223,372,036,854,775,807",
        ),
        (["--seed", str(2**64)], "from 0 to"),
        (["--seed", "1.5"], "'1.5': must be a whole number"),
        (["--workers", "0"], "--workers: 0: must be a whole number from 1 to"),
        (["--workers", "100000"], "from 1 to"),
        (["--keep-patients", "-1"], "from 0 to"),
    ],
)
def test_argument_ranges_are_in_the_message(tmp_path, capsys, args, needle):
    assert main(["run", str(TEXTBOOK), "--out", str(tmp_path / "out"), *args]) == 2
    message = one_error(capsys)
    assert needle in message and "e.g." in message
    assert not list(tmp_path.iterdir())


def test_doubtful_design_warns_in_one_line_and_in_the_manifest(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                str(TEXTBOOK),
                "--set",
                "trial.sample_size=60",
                "--set",
                "analysis.event_target=55",
                *RUN,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "Schoenfeld" in warnings[0]
    assert json.loads((out / "manifest.json").read_text())["warnings"] == [
        warnings[0].removeprefix("warning: ")
    ]


# --- bad tables -----------------------------------------------------------------------------


def patients_csv(tmp_path: Path, **changes) -> Path:
    frame = pd.DataFrame(
        {
            "pfs_days_at_cut": [10.0, 20, 30, 40, 50, 60],
            "pfs_event_at_cut": [1, 0, 1, 1, 0, 1],
            "arm": ["control", "experimental"] * 3,
        }
    )
    for column, values in changes.items():
        frame[column] = values
    path = tmp_path / "patients.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: bad_yaml(d, b"").rename(d / "t.csv"), "the file is empty"),
        (
            lambda d: (
                (d / "t.csv").write_text("pfs_days_at_cut,pfs_event_at_cut,arm\n") and d / "t.csv"
            ),
            "no rows",
        ),
        (
            lambda d: (d / "t.parquet").write_bytes(b"PAR1\x00\x00trunc") and d / "t.parquet",
            "not a readable Parquet table",
        ),
        (
            lambda d: (d / "t.csv").write_bytes(b"\xff\xfe\x00a\x00b") and d / "t.csv",
            "not a readable CSV table",
        ),
        (
            lambda d: patients_csv(d, pfs_days_at_cut=[1.0, float("inf"), 3, 4, 5, 6]),
            "times must be finite",
        ),
        (lambda d: patients_csv(d, pfs_days_at_cut=[0.0] * 6), "every time is 0"),
        (lambda d: patients_csv(d, pfs_event_at_cut=[0] * 6), "no events"),
        (lambda d: patients_csv(d, arm=["A", "B"] * 3), "neither is called 'control'"),
        (lambda d: patients_csv(d, arm=["A"] * 6), "exactly two arms"),
    ],
    ids=[
        "empty",
        "header-only",
        "truncated-parquet",
        "binary-csv",
        "inf",
        "all-zero",
        "no-events",
        "unnamed-control",
        "one-arm",
    ],
)
def test_analyze_refuses_bad_tables(tmp_path, capsys, make, needle):
    path = make(tmp_path)
    assert main(["analyze", str(path)]) == 2
    assert needle in one_error(capsys)


def test_analyze_names_the_control_when_told(tmp_path, capsys):
    path = patients_csv(tmp_path, arm=["A", "B"] * 3)
    assert main(["analyze", str(path), "--control", "B"]) == 0
    assert "control = 'B', experimental = 'A'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda f: (f / "summary.csv").write_text(""), "summary.csv: the file is empty"),
        (lambda f: (f / "summary.csv").write_text("metric,estimate\n"), "no column mc_se"),
        (lambda f: (f / "timeline.csv").write_text("x,y\n1,2\n"), "no column milestone"),
        (
            lambda f: (f / "replicates.parquet").write_bytes(
                (f / "replicates.parquet").read_bytes()[:500]
            ),
            "replicates.parquet: not a table",
        ),
        (
            lambda f: pd.DataFrame({"a": [1]}).to_parquet(f / "replicates.parquet"),
            "no column replicate",
        ),
        (lambda f: (f / "manifest.json").write_bytes(b"\xff{"), "not valid JSON"),
    ],
    ids=[
        "empty-summary",
        "foreign-summary",
        "foreign-timeline",
        "truncated-parquet",
        "foreign-parquet",
        "binary-manifest",
    ],
)
@pytest.mark.parametrize("command", ["compare", "plot", "report"])
def test_compare_plot_report_refuse_damaged_run_folders(
    run_folder, tmp_path, capsys, damage, needle, command
):
    broken = tmp_path / "broken"
    shutil.copytree(run_folder, broken)
    damage(broken)
    args = {
        "compare": ["compare", str(run_folder), str(broken)],
        "plot": ["plot", str(broken), "--out", str(tmp_path / "png")],
        "report": ["report", str(broken), "--out", str(tmp_path / "r.html")],
    }[command]
    assert main(args) == 2
    assert needle in one_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


def test_huge_runs_say_so_with_their_estimate(tmp_path, capsys, monkeypatch):
    import sim.commands.cli as cli
    import sim.engine.executors as executors

    # thresholds lowered so that a small run counts as huge; rows flushed at once
    for name, value in (
        ("HUGE_SECONDS", 0),
        ("HUGE_BYTES", 0),
        ("SIZE_AFTER_REPS", 1),
        ("ESTIMATE_AFTER_SECONDS", 0.0),
    ):
        monkeypatch.setattr(cli, name, value)
    monkeypatch.setattr(executors, "ROW_GROUP_ROWS", 1)
    assert (
        main(
            [
                "run",
                str(TEXTBOOK),
                "--reps",
                "1000",
                "--workers",
                "1",
                "--quiet",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 2
    assert "minutes in all (estimated from the first 500 replicates)" in notes[0]
    assert "GB into" in notes[1] and "estimated from the first 500" in notes[1]
