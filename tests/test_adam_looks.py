"""ADaM at every cut of a group-sequential trial (issue 28: "ADTTE with the data cut of each
analysis", "one folder per replicate and cut"): `run --adam K` on
scenarios/nct07271602_interim.yaml writes ``rep000_look1`` for each interim look held and
``rep000_final`` unless the trial stopped at the look. Checked against the run's own record:
`analyze` of a look's folder gives the look's z as replicates.parquet holds it (to 1e-9), and
the data sets are as they were at that cut (DCUTDT, dates, subjects randomized by then)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.adam import read_adam, write_adam
from sim.adam.writer import cut_names
from sim.commands.cli import main
from sim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "nct07271602_interim.yaml"
TOL = 1e-9
START = dt.date(2026, 1, 30)  # the scenario's trial.start_date
K = 4  # among the first four replicates of seed 20260130 (the default), replicate 1 stops


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adam_looks") / "run"
    argv = ["run", str(SCENARIO), "--reps", "20", "--adam", str(K), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def replicates(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "replicates.parquet").set_index("replicate")


def expected_folders(replicates: pd.DataFrame) -> list[str]:
    """From the run's record: look 1 when it was held, then the final analysis unless the
    trial stopped at look 1."""
    folders = []
    for r in range(K):
        row = replicates.loc[r]
        if pd.notna(row["look1_date"]):
            folders.append(f"rep{r:03d}_look1")
        if row["stop_look"] == 2:
            folders.append(f"rep{r:03d}_final")
    return folders


def test_one_folder_per_replicate_and_cut_held(run: Path, replicates: pd.DataFrame) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    folders = manifest["adam"]["folders"]
    assert folders == expected_folders(replicates)
    assert (replicates.loc[: K - 1, "stop_look"] == 1).any()  # a trial stopped at look 1
    assert sorted(p.name for p in run.glob("rep*") if p.is_dir()) == sorted(folders)


def test_analyze_of_each_cut_gives_the_z_the_run_recorded(
    run: Path, replicates: pd.DataFrame
) -> None:
    """The primary test (stratified log-rank) of each folder is the run's: look{k}_z_benefit
    is -z (z < 0: benefit), and the concluding cut's is the replicate's z."""
    for folder in expected_folders(replicates):
        r, cut = int(folder[3:6]), folder[7:]
        table = sim.analyze(run / folder)
        logrank = table[(table["test"] == "logrank") & table["stratified"]].iloc[0]
        row = replicates.loc[r]
        recorded = -row["look1_z_benefit"] if cut == "look1" else row["z"]
        assert abs(logrank["z"] - recorded) <= TOL, folder
        if cut == "look1":
            assert logrank["events"] == row["look1_events"]
        if row["stop_look"] == 1:
            assert abs(logrank["z"] - row["z"]) <= TOL


def test_each_cut_holds_the_data_as_they_were_then(run: Path, replicates: pd.DataFrame) -> None:
    """DCUTDT is the cut (the look's analysis date: the scenario's analysis.lag_days is 0);
    nobody randomized, no event, response, adverse event or discontinuation after it; PFS,
    OS and local control in ADTTE, best overall response in ADRS."""
    patients = pd.read_parquet(run / "patients.parquet")
    for folder in expected_folders(replicates):
        r, cut = int(folder[3:6]), folder[7:]
        row = replicates.loc[r]
        when = row["look1_date"] if cut == "look1" else row["data_cut_date"]
        day = np.datetime64(when, "D").item()
        path = run / folder
        adsl = pd.read_parquet(path / "adsl.parquet")
        adtte = pd.read_parquet(path / "adtte.parquet")
        adrs = pd.read_parquet(path / "adrs.parquet")
        adae = pd.read_parquet(path / "adae.parquet")
        assert set(adsl["DCUTDT"]) == {day}
        assert (adsl["RANDDT"] <= day).all() and (adtte["ADT"] <= day).all()
        assert adae["ASTDT"].dropna().le(day).all() and adrs["ADT"].dropna().le(day).all()
        assert adsl["EOSDT"].dropna().le(day).all()
        mine = patients[patients["replicate"] == r]
        randomized = (mine["randomization_date"].dt.date <= day).sum()
        assert len(adsl) == randomized
        assert set(adtte["PARAMCD"]) == {"PFS", "OS", "LC"} and set(adrs["PARAMCD"]) == {"BOR"}
        events = int((adtte.loc[adtte["PARAMCD"] == "PFS", "CNSR"] == 0).sum())
        assert events == (row["look1_events"] if cut == "look1" else row["events"])
        data = read_adam(path / "adsl.xpt", path / "adtte.xpt", adrs=path / "adrs.xpt")
        assert len(data.adsl) == randomized


def test_an_earlier_cut_knows_less(run: Path, replicates: pd.DataFrame) -> None:
    """Between look 1 and the final analysis of the same trial, events only accrue: a PFS
    event at look 1 is the same event at the final cut, with the same AVAL."""
    r = next(r for r in range(K) if replicates.loc[r, "stop_look"] == 2)
    early = pd.read_parquet(run / f"rep{r:03d}_look1" / "adtte.parquet")
    late = pd.read_parquet(run / f"rep{r:03d}_final" / "adtte.parquet")
    both = early.merge(late, on=["USUBJID", "PARAMCD"], suffixes=("_look", "_final"))
    assert len(both) == len(early)
    seen = both["CNSR_look"] == 0
    assert (both.loc[seen, "CNSR_final"] == 0).all()
    np.testing.assert_array_equal(both.loc[seen, "AVAL_look"], both.loc[seen, "AVAL_final"])
    assert (both["AVAL_look"] <= both["AVAL_final"]).all()


def test_cut_names_of_a_table_without_looks_is_the_final_analysis() -> None:
    patients = pd.read_parquet(ROOT / "tests" / "references" / "adam" / "patients.parquet")
    assert cut_names(patients[patients["replicate"] == 0]) == ["final"]


def test_a_cut_the_replicate_does_not_have_is_refused(run: Path, replicates: pd.DataFrame) -> None:
    patients = pd.read_parquet(run / "patients.parquet")
    r = next(r for r in range(K) if replicates.loc[r, "stop_look"] == 1)
    with pytest.raises(ScenarioError, match=r"cut 'final': replicate \d+ has the cuts look1"):
        write_adam(patients, run / "x", replicate=r, start_date=START, cut="final")


def test_an_os_primary_design_without_treatment_reads_back_at_each_look(tmp_path: Path) -> None:
    """scenarios/phase3_os.yaml: OS primary, interim looks, no treatment block (no dose, so
    TRTSDT is empty in every row, once written as text SAS refuses to read). `analyze
    --paramcd OS` of each folder gives the run's z at that cut."""
    out = tmp_path / "os"
    scenario = ROOT / "scenarios" / "phase3_os.yaml"
    argv = ["run", str(scenario), "--reps", "10", "--adam", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    replicates = pd.read_parquet(out / "replicates.parquet").set_index("replicate")
    folders = json.loads((out / "manifest.json").read_text())["adam"]["folders"]
    assert any(f.endswith("_look1") for f in folders)
    for folder in folders:
        r, cut = int(folder[3:6]), folder[7:]
        table = sim.analyze(out / folder, paramcd="OS")
        logrank = table[(table["test"] == "logrank") & table["stratified"]].iloc[0]
        row = replicates.loc[r]
        final = cut == "final" or row["stop_look"] == 1
        recorded = row["z"] if final else -row["look1_z_benefit"]
        assert abs(logrank["z"] - recorded) <= TOL, folder
