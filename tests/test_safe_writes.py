"""Never lose a user's files (issue 27, items 1, 2, 3 and 5), one test per case found.

The rule every write follows (`sim.storage.folders`): sim removes or replaces only what its
own records say it wrote (a manifest listing its files with their sha256, the owner record of
a staging folder, the swap record of a replacement), never anything chosen by its name.
Each test below failed on main before this rule (the case is quoted from the issue)."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sim.commands.cli import main
from sim.storage import folders
from tests.helpers import ROOT, TEXTBOOK

RUN = ["--reps", "20", "--workers", "1", "--quiet"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def run(out: Path, *extra: str) -> int:
    return main(["run", str(TEXTBOOK), *RUN, "--out", str(out), *extra])


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def users_folder(path: Path) -> dict[str, bytes]:
    path.mkdir(parents=True)
    (path / "data.txt").write_text("two weeks of work\n")
    return snapshot(path)


# --- item 1: nothing beside a target is touched by its name ---------------------------------


def test_a_users_folder_named_like_old_results_is_kept_by_a_new_run(tmp_path, capsys):
    # main moved runs/.myres.old-backup into place as "old results" and deleted it
    backup = tmp_path / "runs" / ".myres.old-backup"
    before = users_folder(backup)
    assert run(tmp_path / "runs" / "myres") == 0
    assert snapshot(backup) == before
    assert sorted(p.name for p in backup.parent.iterdir()) == [".myres.old-backup", "myres"]


def test_a_users_folder_named_like_old_results_is_kept_by_force(tmp_path, capsys):
    # main deleted .ph.old-2025 when `run --out ph --force` published
    assert run(tmp_path / "ph") == 0
    old = tmp_path / ".ph.old-2025"
    before = users_folder(old)
    assert run(tmp_path / "ph", "--seed", "2", "--force") == 0
    assert snapshot(old) == before
    assert json.loads((tmp_path / "ph" / "manifest.json").read_text())["seed"] == 2


def test_a_partial_folder_without_owner_record_is_kept_however_old(tmp_path, capsys):
    # main deleted a .NAME.partial-... folder older than an hour with no owner record
    partial = tmp_path / ".q.partial-user"
    before = users_folder(partial)
    os.utime(partial, (0, 0))
    assert run(tmp_path / "q") == 0
    assert snapshot(partial) == before


def test_a_partial_folder_of_another_target_or_tool_is_kept(tmp_path, capsys):
    dead = {"pid": 2**22 + 1, "start": "1", "host": None}
    for name, owner in (
        (".q.partial-other", {**dead, "tool": "sim", "target": "other"}),
        (".q.partial-tool", {**dead, "tool": "else", "target": "q"}),
        (".q.partial-old", dead),  # a record without tool and target: not provably sim's
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / folders.OWNER).write_text(json.dumps(owner))
    assert run(tmp_path / "q") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".q.partial-old",
        ".q.partial-other",
        ".q.partial-tool",
        "q",
    ]


def test_a_kill_between_the_renames_is_undone_by_the_swap_record(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(out) == 0
    results = snapshot(out)
    # as a kill -9 after `out` was moved aside and before the new folder took its place
    old = tmp_path / ".out.old-abcd1234"
    out.rename(old)
    swap = {**folders.owner_record(out), "old": old.name, "force": True}
    folders.swap_record(out).write_text(json.dumps(swap))
    assert run(out, "--seed", "2") == 2  # the old results are back: a new run needs --force
    assert "add --force" in error_line(capsys)
    assert snapshot(out) == results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_kill_after_the_renames_leaves_only_the_old_results_own_files_removed(tmp_path):
    out = tmp_path / "out"
    assert run(out) == 0
    old = tmp_path / ".out.old-abcd1234"
    (tmp_path / "copy").mkdir()
    for name in ("manifest.json", "summary.csv"):
        (tmp_path / "copy" / name).write_bytes((out / name).read_bytes())
    (tmp_path / "copy").rename(old)
    (old / "MEMO.txt").write_text("mine\n")
    swap = {**folders.owner_record(out), "old": old.name, "force": False}
    folders.swap_record(out).write_text(json.dumps(swap))
    assert run(out, "--seed", "2", "--force") == 0
    assert sorted(p.name for p in old.iterdir()) == ["MEMO.txt"]  # sim's files gone, yours kept
    assert not folders.swap_record(out).exists()


# --- item 2: inside a target only the listed files are replaced -----------------------------


def test_the_manifest_lists_every_file_with_its_sha256(tmp_path):
    out = tmp_path / "out"
    assert run(out, "--keep-patients", "1") == 0
    listed = json.loads((out / "manifest.json").read_text())["files"]
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, digest in listed.items():
        assert hashlib.sha256(files[name].read_bytes()).hexdigest() == digest


def test_a_users_note_in_results_refuses_force_and_is_kept(tmp_path, capsys):
    # main deleted MEMO.txt, though its message said sim "replaces only its own results"
    out = tmp_path / "out"
    assert run(out) == 0
    (out / "MEMO.txt").write_text("the DMC asked for this run\n")
    before = snapshot(out)
    assert run(out, "--seed", "2", "--force") == 2
    message = error_line(capsys)
    assert "MEMO.txt" in message and "never other files" in message
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_plot_never_deletes_a_users_png(tmp_path, capsys):
    # main deleted a user's PNG in a plots/ folder
    folder = tmp_path / "run"
    assert run(folder) == 0
    assert main(["plot", str(folder)]) == 0
    mine = folder / "plots" / "mine.png"
    mine.write_bytes(b"\x89PNG my own figure")
    assert main(["plot", str(folder), "--force"]) == 2
    assert "mine.png" in error_line(capsys)
    assert mine.read_bytes() == b"\x89PNG my own figure"


def test_an_edited_figure_or_report_is_replaced_only_with_force(tmp_path, capsys):
    folder = tmp_path / "run"
    assert run(folder) == 0
    assert main(["plot", str(folder)]) == 0
    assert main(["report", str(folder)]) == 0
    km = folder / "plots" / "km.png"
    km.write_bytes(b"edited")
    report = folder / "report.html"
    report.write_text("<html>my edits</html>")
    capsys.readouterr()
    assert main(["plot", str(folder)]) == 2
    assert "km.png" in error_line(capsys) and km.read_bytes() == b"edited"
    assert main(["report", str(folder)]) == 2
    assert "changed since" in error_line(capsys)
    assert report.read_text() == "<html>my edits</html>"
    assert main(["plot", str(folder), "--force"]) == 0
    assert main(["report", str(folder), "--force"]) == 0
    assert km.read_bytes() != b"edited" and "my edits" not in report.read_text()


def test_a_run_with_figures_and_report_is_replaced_whole_by_force(tmp_path, capsys):
    folder = tmp_path / "run"
    assert run(folder) == 0
    assert main(["plot", str(folder)]) == 0
    assert main(["report", str(folder)]) == 0
    assert run(folder, "--seed", "2", "--force") == 0  # all of it sim's, by its records
    assert not (folder / "plots").exists() and not (folder / "report.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_file_sim_did_not_record_is_never_replaced(tmp_path, capsys):
    # a file that looks like sim's (same header) is still not sim's without its record
    folder = tmp_path / "run"
    assert run(folder, "--keep-patients", "1") == 0
    out = tmp_path / "observed.csv"
    argv = ["export-observed", str(folder), "--replicate", "0", "--as-of", "2026-09-01"]
    assert main([*argv, "--out", str(out)]) == 0
    copy = tmp_path / "copy.csv"
    copy.write_bytes(out.read_bytes())
    assert main([*argv, "--out", str(copy), "--force"]) == 2
    assert "no record" in error_line(capsys)
    assert main([*argv, "--out", str(out), "--force"]) == 0  # recorded: replaced


@pytest.mark.parametrize(
    ("first", "second", "kind"),
    [
        (["run", str(TEXTBOOK), *RUN], ["design", str(TEXTBOOK)], "run folder, not design"),
        (
            ["sweep", str(TEXTBOOK), "--grid", "effect.hazard_ratio=0.6", *RUN],
            ["run", str(TEXTBOOK), *RUN],
            "sweep folder, not run",
        ),
        (["design", str(TEXTBOOK)], ["run", str(TEXTBOOK), *RUN], "design folder, not run"),
    ],
    ids=["design-over-run", "run-over-sweep", "run-over-design"],
)
def test_one_kind_of_results_never_replaces_another(tmp_path, capsys, first, second, kind):
    # main let `design --out X --force` replace a whole run folder with a design folder
    out = tmp_path / "out"
    assert main([*first, "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert main([*second, "--out", str(out), "--force"]) == 2
    assert kind in error_line(capsys)
    assert snapshot(out) == before


def test_results_of_an_earlier_version_without_a_file_list_are_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["files"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(out)
    assert run(out, "--force") == 2
    assert "earlier version of sim" in error_line(capsys)
    assert snapshot(out) == before


# --- item 3: no hang on a scheduler that is not Dask; no silent huge sweep -----------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_scheduler_address_that_is_not_dask_is_refused(tmp_path):
    pytest.importorskip("distributed")
    # main hung until killed on a web server (a Dask dashboard's port is one away)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sim", "run", str(TEXTBOOK), *RUN, "--executor", "dask"]
            + ["--scheduler", address, "--out", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,  # a guard against the hang, not a measurement
        )
    finally:
        server.shutdown()
    assert done.returncode == 2, done.stderr
    assert "does not speak Dask" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_huge_grid_is_refused_before_its_points_are_built(tmp_path, capsys):
    # main accepted a grid of 90,000 points and ran for minutes at 1.2 GB, printing nothing
    hazard = ",".join(f"{0.5 + i / 1000:.3f}" for i in range(300))
    alpha = ",".join(f"{0.01 + i / 10000:.4f}" for i in range(300))
    argv = ["sweep", str(TEXTBOOK), "--grid", f"effect.hazard_ratio={hazard}"]
    argv += ["--grid", f"analysis.alpha={alpha}", *RUN, "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    message = error_line(capsys)
    assert "90,000 points" in message and "--allow-large" in message
    assert not list(tmp_path.iterdir())


def test_a_large_sweep_runs_when_confirmed(tmp_path, capsys, monkeypatch):
    import sim.engine.limits as limits

    monkeypatch.setattr(limits, "MAX_SWEEP_POINTS", 1)  # so that two points are "large"
    argv = ["sweep", str(TEXTBOOK), "--grid", "effect.hazard_ratio=0.6,0.7", *RUN]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "2 points" in error_line(capsys)
    assert main([*argv, "--out", str(tmp_path / "b"), "--allow-large"]) == 0


def test_total_replicates_past_the_huge_run_limit_are_refused(tmp_path, capsys):
    argv = ["sweep", str(TEXTBOOK), "--grid", "effect.hazard_ratio=0.6,0.7,0.8"]
    argv += ["--reps", "5000000", "--quiet", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "15,000,000 replicates" in error_line(capsys)


# --- item 5: --resume in a fresh interpreter with another hash seed -------------------------

STOP_AFTER_FIRST_CHUNK = """
import signal, sys
import sim.storage.checkpoints as checkpoints
from sim.storage.lifetime import Interrupted
keep = checkpoints.save_chunk
def save_then_stop(*args, **kwargs):
    keep(*args, **kwargs)
    raise Interrupted(signal.SIGTERM)
checkpoints.save_chunk = save_then_stop
from sim.commands.cli import main
sys.exit(main(sys.argv[1:]))
"""


def sim_process(argv: list[str], hash_seed: str, stop: bool = False) -> subprocess.CompletedProcess:
    """`python -m sim ARGV` in a fresh interpreter with PYTHONHASHSEED = `hash_seed`; with
    `stop`, it stops as on SIGTERM right after its first chunk is kept."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    start = ["-c", STOP_AFTER_FIRST_CHUNK] if stop else ["-m", "sim"]
    return subprocess.run(
        [sys.executable, *start, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def observed_csv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("observed")
    assert (
        main(["run", str(TEXTBOOK), *RUN, "--keep-patients", "1", "--out", str(folder / "r")]) == 0
    )
    out = folder / "observed.csv"
    argv = ["export-observed", str(folder / "r"), "--replicate", "0", "--as-of", "2026-09-01"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("command", ["run", "sweep", "forecast"])
def test_resume_in_a_fresh_interpreter_with_another_hash_seed(tmp_path, observed_csv, command):
    # main refused every `forecast --resume`: its fingerprint hashed a pickle of the model,
    # whose bytes depend on the interpreter's hash seed
    argv = {
        "run": ["run", str(TEXTBOOK)],
        "sweep": ["sweep", str(TEXTBOOK), "--grid", "effect.hazard_ratio=0.6,0.7"],
        "forecast": ["forecast", str(TEXTBOOK), "--observed", str(observed_csv)]
        + ["--as-of", "2026-09-01"],
    }[command] + RUN
    out = tmp_path / "out"
    stopped = sim_process([*argv, "--out", str(out)], "1", stop=True)
    assert stopped.returncode == 143, stopped.stderr
    assert "--resume continues" in stopped.stderr
    resumed = sim_process([*argv, "--out", str(out), "--resume"], "2")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    fresh = sim_process([*argv, "--out", str(tmp_path / "fresh")], "3")
    assert fresh.returncode == 0, fresh.stderr
    table = "sweep.csv" if command == "sweep" else "summary.csv"
    assert (out / table).read_bytes() == (tmp_path / "fresh" / table).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "out"]


def test_every_test_the_safety_page_cites_exists():
    import re

    # the README's Safety section, now the page docs/safety.md the README links to
    section = (ROOT / "docs" / "safety.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"`(test_\w+)`", section))
    defined = {
        name
        for path in (ROOT / "tests").glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }
    assert len(cited) >= 15 and cited <= defined, sorted(cited - defined)


# --- the lock: by sim's own record, never by its name (issue 27, item 1) --------------------


@pytest.mark.parametrize(
    "content", [b"the user's file, named like sim's lock", b"", b'{"tool": "other", "pid": 1}']
)
def test_a_users_file_named_like_the_lock_is_kept_and_refuses(tmp_path, capsys, content):
    """A file `.NAME.lock` sim did not write (no lock record of sim in it) was truncated to
    sim's pid and then deleted; now it is never changed: the command is refused, naming it."""
    mine = tmp_path / ".lk.lock"
    mine.write_bytes(content)
    assert main(["design", str(TEXTBOOK), "--out", str(tmp_path / "lk")]) == 2
    line = error_line(capsys)
    assert str(mine) in line and "never changes a file it did not write" in line
    assert mine.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lk.lock"]  # nothing else made


def test_a_folder_named_like_the_lock_is_kept_and_refuses(tmp_path, capsys):
    mine = tmp_path / ".lk.lock"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["design", str(TEXTBOOK), "--out", str(tmp_path / "lk")]) == 2
    assert "is in the way" in error_line(capsys)
    assert (mine / "notes.txt").read_text() == "mine"


def test_the_lock_file_holds_sims_record_and_goes_when_done(tmp_path):
    out = tmp_path / "out"
    with folders.TargetLock(out) as lock:
        record = json.loads(folders.lock_path(out).read_text())
        assert record["tool"] == "sim" and record["kind"] == "lock"
        assert record["pid"] == os.getpid() and record["host"] and record["token"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock"]  # no private name
        assert lock.fd is not None
    assert not list(tmp_path.iterdir())


def test_a_lock_of_sim_whose_process_died_is_taken_over(tmp_path):
    """kill -9 leaves the lock file; the kernel released its flock, so the next writer
    replaces it (sim's record, current or of an earlier version: a process id alone)."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    for record in (
        json.dumps({"tool": "sim", "kind": "lock", "pid": int(dead), "token": "0"}),
        f"{dead}\n",
    ):
        folders.lock_path(tmp_path / "out").write_text(record)
        assert main(["design", str(TEXTBOOK), "--out", str(tmp_path / "out"), "--force"]) == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_lock_held_by_another_process_names_its_pid(tmp_path, capsys):
    """Another process holds the lock (flock) of the target: refused, naming its pid, and
    its lock file stays as it is."""
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from sim.storage import folders\n"
            "with folders.TargetLock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = folders.lock_path(out).read_bytes()
        assert main(["design", str(TEXTBOOK), "--out", str(out)]) == 2
        assert f"another sim process (pid {holder.pid})" in error_line(capsys)
        assert folders.lock_path(out).read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    assert main(["design", str(TEXTBOOK), "--out", str(out)]) == 0  # its lock died with it


# --- an over-long --out name (issue 27, item 6) ----------------------------------------------


@pytest.mark.parametrize("command", ["run", "design"])
@pytest.mark.parametrize("where", ["target", "parent"])
def test_an_over_long_out_name_is_one_message_exit_2(tmp_path, capsys, command, where):
    """A name past the file system's NAME_MAX (255 bytes) was exit 70 (ENAMETOOLONG); a target
    name with no room left for the staging folder's name beside it, too."""
    long = tmp_path / ("x" * 300) if where == "parent" else tmp_path / ("x" * 240)
    out = long / "run" if where == "parent" else long
    argv = [command, str(TEXTBOOK), "--out", str(out)] + (RUN if command == "run" else [])
    assert main(argv) == 2
    line = error_line(capsys)
    assert "bytes long" in line and "at most" in line, line
    assert not list(tmp_path.iterdir())


def test_the_longest_name_that_fits_is_written(tmp_path):
    out = tmp_path / ("x" * (255 - folders.SIBLING_ROOM))
    assert main(["design", str(TEXTBOOK), "--out", str(out)]) == 0
    assert (out / "design.csv").is_file()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("long-names") / "run"
    assert run(out, "--keep-patients", "1") == 0
    return out


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "{run}", "{run}", "--out", "{long}.csv"],
        ["report", "{run}", "--out", "{long}.html"],
        ["plot", "{run}", "--out", "{long}"],
        ["analyze", "{run}/patients.parquet", "--out", "{long}.csv"],
        ["export-observed", "{run}", "--as-of", "2027-06-01", "--out", "{long}.csv"],
        ["sweep", str(TEXTBOOK), "--grid", "effect.hazard_ratio=0.6,1", *RUN, "--out", "{long}"],
        ["qualify", "--out", "{long}"],
        ["validate", "{long}.yaml"],
        ["run", "{long}.yaml", "--out", "{tmp}/out"],
        ["analyze", "{long}.csv"],
        ["compare", "{long}", "{run}"],
    ],
    ids=lambda argv: " ".join(a for a in argv[:2] if not a.startswith("{run")),
)
def test_an_over_long_name_anywhere_is_one_message_exit_2(tmp_path, capsys, small_run, argv):
    """Every command, a too-long name as its output or its input: main ended some of them
    in exit 70 (OSError ENAMETOOLONG from a check before the write)."""
    long = str(tmp_path / ("y" * 300))
    filled = [a.format(run=small_run, long=long, tmp=tmp_path) for a in argv]
    assert main(filled) == 2
    line = error_line(capsys)
    assert "a bug of sim" not in line, line
    assert "longer than" in line or "bytes long" in line, line
    assert not list(tmp_path.iterdir())


def test_the_lock_works_where_the_file_system_has_no_hard_links(tmp_path, capsys, monkeypatch):
    """Some network and FAT file systems refuse link(): the lock's name is then created
    exclusively; a user's file at that name is still kept."""
    import errno

    def no_link(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(folders.os, "link", no_link)
    out = tmp_path / "out"
    with folders.TargetLock(out):
        assert json.loads(folders.lock_path(out).read_text())["tool"] == "sim"
        assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock"]
    assert not list(tmp_path.iterdir())
    assert main(["design", str(TEXTBOOK), "--out", str(out)]) == 0
    mine = tmp_path / ".lk.lock"
    mine.write_text("mine")
    assert main(["design", str(TEXTBOOK), "--out", str(tmp_path / "lk")]) == 2
    assert "is in the way" in error_line(capsys) and mine.read_text() == "mine"
