"""`python -m sim.qualify`: the reference checks on the installed package, the report a
reviewer reads, and the exit status (0 all pass, 1 any fails, 2 unusable --out)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sim.qualify.checks as checks
import sim.qualify.simulation as simulation
from sim.qualify import REFERENCES, run_qualification
from sim.qualify.run import HTML, JSON

ROOT = Path(__file__).resolve().parents[1]
FAST = tuple(g for g in checks.GROUPS if g is not checks.check_monte_carlo)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("qualify") / "report"
    return run_qualification(out), out


def test_every_check_passes_on_this_installation(report: tuple[int, Path]) -> None:
    status, out = report
    data = json.loads((out / JSON).read_text(encoding="utf-8"))
    failed = [c["quantity"] for c in data["checks"] if not c["passed"]]
    assert status == 0 and not failed, failed
    assert data["result"] == "pass" and data["checks_total"] > 250 and not data["not_run"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", HTML, JSON]


def test_the_report_names_references_tolerances_and_versions(report: tuple[int, Path]) -> None:
    _, out = report
    page = (out / HTML).read_text(encoding="utf-8")
    data = json.loads((out / JSON).read_text(encoding="utf-8"))
    assert "PASSED: all" in page and "FAIL</td>" not in page
    for words in (
        "rpact 3.3.4",
        "R survival 3.5",
        "mvtnorm",
        "haven 2.5.1",
        "getDesignGroupSequential(kMax = 3",
        "Illness-death",
        "Monte Carlo simulation of whole trials",
        "Lachin-Foulkes",
        "Package versions",
        "numpy",
        data["run_date_utc"],
        data["environment"]["python"],
    ):
        assert words in page, words
    # every program file is listed with its SHA-256, as the reviewer can recompute it
    design = ROOT / "sim" / "stats" / "design.py"
    digest = hashlib.sha256(design.read_bytes()).hexdigest()
    assert data["package_files"]["sim/stats/design.py"] == digest and digest in page
    assert set(data["package_files"]) == {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "sim").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert "reference_group_sequential.json" in data["reference_files"]
    row = next(c for c in data["checks"] if c["quantity"] == "obf3: efficacy bound (z), look 3")
    assert row["expected"] == 1.9930474832654 and row["tolerance"] == 1e-6
    assert (
        abs(row["observed"] - row["expected"]) < 1e-7 and "getDesignGroupSequential" in row["call"]
    )


def test_a_broken_reference_value_fails_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(checks, "GROUPS", FAST)
    references = tmp_path / "references"
    shutil.copytree(REFERENCES, references)
    path = references / "reference_group_sequential.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["designs"]["obf3"]["critical"][2] += 1e-4  # rpact's 1.99305 -> 1.99315
    path.write_text(json.dumps(data), encoding="utf-8")
    assert run_qualification(tmp_path / "out", references) == 1
    assert "qualification FAILED (1 outside tolerance)" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / JSON).read_text(encoding="utf-8"))
    failed = [c["quantity"] for c in report["checks"] if not c["passed"]]
    assert report["result"] == "fail" and failed == ["obf3: efficacy bound (z), look 3"]
    page = (tmp_path / "out" / HTML).read_text(encoding="utf-8")
    assert "FAILED: 1 of" in page and page.count('<td class="bad">FAIL</td>') == 1


def test_a_check_that_cannot_run_is_a_failure_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check_broken(references: Path) -> list[checks.Check]:
        """A group whose computation raises."""
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(checks, "GROUPS", (check_broken,))
    assert run_qualification(tmp_path / "out") == 1
    report = json.loads((tmp_path / "out" / JSON).read_text(encoding="utf-8"))
    (row,) = report["checks"]
    assert row["passed"] is False and "ZeroDivisionError" in row["quantity"]
    assert row["observed"] is None  # JSON has no NaN


def test_out_is_refused_unless_new_empty_or_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(checks, "GROUPS", (checks.check_illness_death,))
    user = tmp_path / "results"
    user.mkdir()
    (user / "MEMO.txt").write_text("mine")
    assert run_qualification(user) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "never other files" in message
    assert sorted(p.name for p in user.iterdir()) == ["MEMO.txt"]
    assert run_qualification(user / "MEMO.txt") == 2
    assert "is not a folder sim wrote" in capsys.readouterr().err
    ours = tmp_path / "qualification"
    assert run_qualification(ours) == 0
    assert run_qualification(ours) == 0  # its own folder is replaced
    assert sorted(p.name for p in ours.iterdir()) == ["manifest.json", HTML, JSON]
    (ours / "notes.txt").write_text("mine")
    assert run_qualification(ours, force=True) == 2  # even with --force: not its file
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "notes.txt" in message and "never other files" in message
    assert (ours / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".*"))  # no staging folder or lock left beside it


def test_qualify_out_follows_the_folder_rule_of_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 27: `qualify --out` as every command that writes: its manifest lists its files,
    an edited report is replaced only with --force, and kinds are checked both ways."""
    from sim.commands.cli import main

    monkeypatch.setattr(checks, "GROUPS", (checks.check_illness_death,))
    ours = tmp_path / "qualification"
    assert run_qualification(ours) == 0
    manifest = json.loads((ours / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tool"] == "sim" and manifest["kind"] == "qualification"
    assert sorted(manifest["files"]) == [HTML, JSON]
    (ours / HTML).write_text("edited by hand")
    assert run_qualification(ours) == 2
    assert "add --force" in capsys.readouterr().err
    assert (ours / HTML).read_text() == "edited by hand"
    assert run_qualification(ours, force=True) == 0
    assert "edited by hand" not in (ours / HTML).read_text(encoding="utf-8")
    # a design never replaces a qualification report, and a report never replaces a design
    textbook = str(ROOT / "scenarios" / "textbook.yaml")
    assert main(["design", textbook, "--out", str(ours), "--force"]) == 2
    assert "qualification folder" in capsys.readouterr().err
    design = tmp_path / "design"
    assert main(["design", textbook, "--out", str(design)]) == 0
    capsys.readouterr()
    assert run_qualification(design, force=True) == 2
    assert "a design folder" in capsys.readouterr().err
    assert (design / "design.csv").is_file()


def test_python_m_sim_qualify_runs_and_refuses_a_bad_out(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    done = subprocess.run(
        [sys.executable, "-m", "sim.qualify", "--out", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr
        == f"error: --out {target}: exists and is not a folder sim wrote (choose another path)\n"
    )


def test_without_the_repositorys_scenario_the_simulation_group_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed wheel has no scenarios/ folder: the Monte Carlo group is listed as not
    run (neither passed nor failed), the other checks still decide the exit status."""
    monkeypatch.setattr(simulation, "TEXTBOOK_SCENARIO", tmp_path / "missing.yaml")
    monkeypatch.setattr(checks, "GROUPS", (checks.check_illness_death, checks.check_monte_carlo))
    assert run_qualification(tmp_path / "out") == 0
    report = json.loads((tmp_path / "out" / JSON).read_text(encoding="utf-8"))
    (reason,) = report["not_run"]
    assert "missing.yaml" in reason and "Monte Carlo" in reason
    assert "Not run in this installation" in (tmp_path / "out" / HTML).read_text(encoding="utf-8")
