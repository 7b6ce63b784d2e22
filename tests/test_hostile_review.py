"""Inputs a hostile review found that escaped as tracebacks (exit 70) or ran on nonsense:
each is now one message naming the field, the value and a fix, exit status 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.commands.cli import main
from tests.helpers import BASELINE


def test_numpy_numbers_are_overrides_like_pythons() -> None:
    """A notebook's np.int64 / np.float64 / np.linspace values are YAML like Python's; a
    value YAML cannot write is a ScenarioError naming the path, not a RepresenterError."""
    loaded = sim.load_scenario(
        BASELINE, {"analysis.event_target": np.int64(60), "effect.hazard_ratio": np.float64(0.7)}
    )
    assert (loaded.analysis.event_target, loaded.effect.hazard_ratio) == (60, 0.7)
    from sim.engine.sweep import yaml_text

    assert yaml_text(list(np.linspace(0.5, 0.6, 2))) == "[0.5, 0.6]"
    with pytest.raises(sim.ScenarioError, match="overrides effect.hazard_ratio: value"):
        sim.load_scenario(BASELINE, {"effect.hazard_ratio": object()})


@pytest.mark.parametrize(
    ("assignment", "words"),
    [
        ("analysis.lag_days=3000000", "analysis.lag_days = 3000000"),
        ("treatment.drugs.QL1706.dose=1.0e300", "treatment.drugs.QL1706.dose"),
        ("effect.hazard_ratio=" + "1" * 4301, "(4,301 characters)"),
    ],
)
def test_absurd_values_are_refused_when_validated(assignment, words, capsys) -> None:
    """A lag of 8,000 years (which broke the report's dates), a dose that overflows the
    supply tables, a number of 4,301 digits: refused with exit 2, the message short."""
    assert main(["validate", str(BASELINE), "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert words in err and "unexpected" not in err and len(err) < 600


def test_forecast_priors_must_be_finite(tmp_path: Path, capsys) -> None:
    run = sim.simulate(BASELINE, reps=4, seed=5, progress=False, keep_patients=1)
    observed = tmp_path / "observed.csv"
    sim.export_observed(run.folder, as_of="2026-12-01").to_csv(observed, index=False)
    for flag in ("--prior-months", "--prior-events", "--hr-threshold"):
        args = ["forecast", str(BASELINE), "--observed", str(observed), "--as-of", "2026-12-01"]
        args += [flag, "inf", "--reps", "5", "--out", str(tmp_path / "fc")]
        assert main(args) == 2, flag
        assert "finite" in capsys.readouterr().err
        assert not (tmp_path / "fc").exists()


def test_an_out_path_that_cannot_hold_files_is_the_users_to_fix(capsys) -> None:
    """/proc takes no files (ENOENT on creating the lock): one message, exit 2."""
    if not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    assert main(["run", str(BASELINE), "--reps", "5", "--out", "/proc/sim-out"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_an_arm_left_empty_is_named() -> None:
    table = pd.DataFrame(
        {"time": [100, 150, 200, 120], "event": [1, 1, 0, 1], "arm": ["control", None] * 2}
    )
    table.loc[2, "arm"] = "experimental"
    with pytest.raises(sim.ScenarioError, match="every patient needs an arm; rows"):
        sim.analyze(table, time="time", event="event")


def test_dates_are_dates_whatever_their_type() -> None:
    """as_of as a Timestamp or a datetime is its date (a notebook's usual types)."""
    from sim.api.forecasting import as_date

    assert as_date(pd.Timestamp("2027-06-01")) == dt.date(2027, 6, 1)
    assert as_date(dt.datetime(2027, 6, 1, 12)) == dt.date(2027, 6, 1)
    assert as_date("2027-06-01") == dt.date(2027, 6, 1)


def test_a_pdf_that_cannot_be_written_leaves_no_html(tmp_path: Path, capsys) -> None:
    """report --pdf with a file of the user's where the PDF goes: refused before anything
    is written (the HTML was written first, then the PDF refused), the user's file kept."""
    from sim.outputs.report import find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium: --pdf writes the HTML alone")
    run = sim.simulate(BASELINE, reps=4, seed=5, progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "r.pdf").write_text("my notes", encoding="utf-8")
    assert main(["report", str(run.folder), "--out", str(mine / "r.html"), "--pdf"]) == 2
    assert "r.pdf: the file exists and is not one this command wrote" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["r.pdf"]
    assert (mine / "r.pdf").read_text(encoding="utf-8") == "my notes"


def test_api_arguments_of_the_wrong_type_get_one_message() -> None:
    """Not Python's TypeError or AttributeError from deep inside: a ScenarioError naming
    the argument; a list of tests is taken as the --tests text."""
    table = pd.DataFrame(
        {"time": [100, 150, 200, 120, 90, 300], "event": [1, 1, 0, 1, 1, 0]}
        | {"arm": ["control", "experimental"] * 3}
    )
    listed = sim.analyze(table, time="time", event="event", tests=["logrank"])
    assert listed.equals(sim.analyze(table, time="time", event="event", tests="logrank"))
    with pytest.raises(sim.ScenarioError, match="conf_level = '0.9'"):
        sim.analyze(table, time="time", event="event", conf_level="0.9")
    with pytest.raises(sim.ScenarioError, match="out = 5"):
        sim.simulate(BASELINE, reps=5, out=5)
    with pytest.raises(sim.ScenarioError, match="progress = 'yes'"):
        sim.simulate(BASELINE, reps=5, progress="yes")


def test_the_page_on_a_port_in_use_is_one_line(capsys) -> None:
    """`sim app --port P` with P taken: one line naming --port and another port, exit 2,
    before any server starts (not exit 3 after the server's log)."""
    import socket

    from sim.app import main as app_main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert app_main(["--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --port {port}: in use by another program; e.g. --port")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("replicates", "x", "replicates = 'x' is not a whole number"),
        ("scenario", None, "scenario = None is not a scenario"),
        ("start_date", "garbage", "trial.start_date = 'garbage'"),
    ],
)
def test_a_damaged_manifest_is_named_not_a_traceback(tmp_path, field, value, words, capsys):
    """report and compare of a run folder whose manifest.json was edited by hand: one
    message saying it is damaged, exit 2 (before: exit 70 from deep in the report)."""
    import json
    import shutil

    run = sim.simulate(BASELINE, reps=4, seed=5, progress=False)
    broken = tmp_path / "broken"
    shutil.copytree(run.folder, broken)
    manifest = json.loads((broken / "manifest.json").read_text(encoding="utf-8"))
    if field == "start_date":
        manifest["scenario"]["trial"]["start_date"] = value
    else:
        manifest[field] = value
    (broken / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["report", str(broken), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "manifest.json: damaged (" in err and words in err
    assert not (tmp_path / "r.html").exists()
    assert main(["compare", str(run.folder), str(broken)]) == 2


def test_a_bad_cell_of_megabytes_is_not_echoed_whole() -> None:
    """The observed table's bad-row lines are clipped to a few hundred characters (a 2 MB
    site name was echoed whole: 20 MB of error for a 20 MB cell)."""
    from sim.conduct.observed import clipped

    line = "row 2 (patient_id P0001): site '" + "X" * 2_000_000 + "' is not a site"
    shown = clipped(line)
    assert len(shown) <= 300 and shown.endswith(f"({len(line):,} characters in all)")
    assert clipped("row 2: short") == "row 2: short"
