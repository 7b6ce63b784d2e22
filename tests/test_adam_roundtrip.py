"""ADaM round trip: what `sim.adam` writes it reads back to the same analysis, and a sponsor's
R program on the written SAS transport files gives the project's own log-rank and Cox figures.

Validation by an independent reference: sim/qualify/references/adam_roundtrip_r.json holds the
figures of ``Rscript sim/qualify/references/adam_roundtrip.R sim/qualify/references/adam
sim/qualify/references/adam_roundtrip_r.json`` (R 4.2.2 from Debian, haven 2.5.1, survival 3.5.3;
the calls are quoted in the file) on the XPT files in sim/qualify/references/adam/rep00?_final
(shipped with the package: `python -m sim.qualify` runs the same comparison),
which `write_adam` wrote from tests/references/adam/patients.parquet (adsl.xpt and
adtte.xpt of each folder kept, the rest left out): the first two
replicates of ``python -m sim run scenarios/nct07271602.yaml --reps 50 --seed 1
--keep-patients 2`` (commit 73464bd). And an interim look's cut: rep000_look1, written by
``write_adam(..., replicate=0, cut="look1")`` from tests/references/adam/patients_interim.parquet,
replicate 0 of ``python -m sim run scenarios/nct07271602_interim.yaml --reps 20
--keep-patients 1`` (the default seed; commit 54149d6), whose replicates.parquet recorded
look1_z_benefit = 1.9689299756743128 at 35 events.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.adam import (
    adam_tables,
    analysis_table,
    folder_name,
    observed_table,
    read_adam,
    response_table,
    write_adam,
)
from sim.adam.writer import rows_at_cut
from sim.conduct.observed import observed_from_patients
from sim.qualify import REFERENCES
from sim.stats import analysis
from sim.stats.final_analysis import analyze_patients, patients_from_frame

FIXTURE = Path(__file__).parent / "references" / "adam"  # patients.parquet
XPT = REFERENCES / "adam"  # the written XPT that R read
START = dt.date(2026, 1, 30)  # scenarios/nct07271602.yaml trial.start_date
STUDY = "NCT07271602"
TOL = 1e-9


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_parquet(FIXTURE / "patients.parquet")


@pytest.fixture(scope="module")
def interim() -> pd.DataFrame:
    return pd.read_parquet(FIXTURE / "patients_interim.parquet")


LOOK1_Z_BENEFIT = 1.9689299756743128  # the run's replicates.parquet (module docstring)


def fixture_rows(folder: str, patients: pd.DataFrame, interim: pd.DataFrame) -> pd.DataFrame:
    """The patient-table rows a committed folder was written from, at its cut."""
    replicate, cut = int(folder[3:6]), folder[7:]
    if cut == "final":
        return patients[patients["replicate"] == replicate]
    return rows_at_cut(interim[interim["replicate"] == replicate], cut)


@pytest.fixture(scope="module")
def r_figures() -> dict:
    return json.loads((REFERENCES / "adam_roundtrip_r.json").read_text())


def project_figures(
    time: np.ndarray, event: np.ndarray, arm: np.ndarray, stratum: np.ndarray | None
) -> dict:
    """The figures the R script reports, from sim.stats.analysis."""
    out = {}
    for label, s in (("", None), ("_stratified", stratum)):
        lr = analysis.logrank_test(time, event, arm, s)
        out["logrank" + label] = {
            "chisq": lr.chi2[0],
            "observed": lr.o1[0],
            "expected": lr.e1[0],
            "o_minus_e": lr.o1[0] - lr.e1[0],
            "variance": lr.var[0],
        }
        for ties in ("efron", "breslow"):
            cox = analysis.cox_ph(time, event, arm, s, ties=ties, conf_level=0.95)
            out[f"cox_{ties}{label}"] = {
                "coef": cox.beta[0],
                "se": cox.se[0],
                "hr": cox.hr[0],
                "ci_low": cox.ci_low[0],
                "ci_high": cox.ci_high[0],
                "z": cox.z[0],
                "p_two_sided": cox.p_two[0],
            }
    return out


def assert_figures_match(ours: dict, theirs: dict, where: str) -> None:
    for test, values in ours.items():
        for name, value in values.items():
            expected = float(theirs[test][name])
            assert abs(value - expected) <= TOL * max(1.0, abs(expected)), (
                f"{where} {test}.{name}: project {value!r}, R {expected!r}"
            )


def coded(table: pd.DataFrame) -> tuple:
    data = patients_from_frame(table, "time", "event", "arm", "stratum", control="control")
    return data.time, data.event, data.arm, data.stratum


def test_r_survdiff_and_coxph_on_the_xpt_match_the_project_to_1e9(r_figures: dict) -> None:
    assert len(r_figures["results"]) == 6  # two final cuts and a look's, PFS and OS
    for row in r_figures["results"]:
        folder = XPT / row["folder"]
        data = read_adam(folder / "adsl.xpt", folder / "adtte.xpt")
        table = analysis_table(data, row["param"])
        assert (len(table), int(table["event"].sum())) == (row["n"], row["events"])
        ours = project_figures(*coded(table))
        assert_figures_match(ours, row, f"{row['folder']} {row['param']}")


def test_r_log_rank_at_the_look_is_the_z_the_run_recorded(r_figures: dict) -> None:
    """R's stratified log-rank on rep000_look1's ADTTE is the look's own test: (O - E) /
    sqrt(V) of the experimental arm is minus look1_z_benefit."""
    row = next(
        r for r in r_figures["results"] if r["folder"] == "rep000_look1" and r["param"] == "PFS"
    )
    lr = row["logrank_stratified"]
    z = float(lr["o_minus_e"]) / np.sqrt(float(lr["variance"]))
    assert abs(z + LOOK1_Z_BENEFIT) <= TOL and row["events"] == 35


def test_r_figures_are_the_simulators_own_analysis_of_the_patient_table(
    patients: pd.DataFrame, interim: pd.DataFrame, r_figures: dict
) -> None:
    """AVAL = time + 1 day keeps the order and ties of the simulator's times, so log-rank and
    Cox on the patient table itself (what `analyze patients.parquet` does) are R's."""
    columns = {
        "PFS": ("pfs_days_at_cut", "pfs_event_at_cut"),
        "OS": ("os_days_at_cut", "os_event_at_cut"),
    }
    for row in r_figures["results"]:
        rows = fixture_rows(row["folder"], patients, interim)
        time, event = columns[row["param"]]
        data = patients_from_frame(rows, time, event, "arm", "stratum")
        ours = project_figures(data.time, data.event, data.arm, data.stratum)
        assert_figures_match(ours, row, f"the patient table of {row['folder']} {row['param']}")


def test_committed_xpt_are_what_the_writer_writes_today(
    patients: pd.DataFrame, interim: pd.DataFrame
) -> None:
    import pyreadstat

    for table, replicate, cut in (
        (patients, 0, "final"),
        (patients, 1, "final"),
        (interim, 0, "look1"),
    ):
        tables = adam_tables(table, replicate, start_date=START, study_id=STUDY, cut=cut)
        for name in ("ADSL", "ADTTE"):
            path = XPT / folder_name(replicate, cut) / f"{name.lower()}.xpt"
            committed, meta = pyreadstat.read_xport(str(path))
            assert meta.table_name == name
            fresh = tables[name]
            assert list(committed.columns) == list(fresh.columns)
            for column in fresh.columns:
                a, b = committed[column].to_numpy(), fresh[column].to_numpy()
                if fresh[column].dtype == float:
                    np.testing.assert_array_equal(a, b, err_msg=f"{name}.{column}")
                else:
                    assert [x if x == x else None for x in a] == list(b), f"{name}.{column}"


@pytest.mark.parametrize("kind", ["xpt", "parquet"])
def test_written_data_sets_read_back_to_the_same_analysis_table(
    patients: pd.DataFrame, tmp_path: Path, kind: str
) -> None:
    folder = write_adam(patients, tmp_path, replicate=1, start_date=START, study_id=STUDY)
    assert folder == tmp_path / "rep001_final"
    data = read_adam(
        folder / f"adsl.{kind}", folder / f"adtte.{kind}", adrs=folder / f"adrs.{kind}"
    )
    one = patients[patients["replicate"] == 1].sort_values("patient")
    for param, (time, event) in {
        "PFS": ("pfs_days_at_cut", "pfs_event_at_cut"),
        "OS": ("os_days_at_cut", "os_event_at_cut"),
        "LC": ("local_control_days_at_cut", "local_progression_at_cut"),
    }.items():
        table = analysis_table(data, param)
        expected = pd.DataFrame(
            {
                "patient_id": [f"{STUDY}-P{i + 1:04d}" for i in one["patient"]],
                "site": one["site"].to_numpy(),
                "arm": one["arm"].to_numpy(),
                "stratum": one["stratum"].to_numpy(),
                "time": one[time].to_numpy() + 1.0,  # AVAL: day 1 is the origin's day
                "event": one[event].to_numpy(bool),
                "param": param,
                "time_unit": "days",
            }
        )
        pd.testing.assert_frame_equal(table, expected, check_exact=True)
    responses = response_table(data)
    assert responses["best_response"].tolist() == one["best_response"].tolist()


def test_analyze_of_the_adam_table_equals_analyze_of_the_patient_table(
    patients: pd.DataFrame, tmp_path: Path
) -> None:
    """Log-rank and Cox rows identical; KM medians one day (1 / 30.4375 months) later."""
    folder = write_adam(patients, tmp_path, replicate=0, start_date=START, study_id=STUDY)
    table = analysis_table(read_adam(folder / "adsl.xpt", folder / "adtte.xpt"), "PFS")
    from_adam = analyze_patients(
        patients_from_frame(table, "time", "event", "arm", "stratum", control="control")
    )
    own = analyze_patients(
        patients_from_frame(
            patients, "pfs_days_at_cut", "pfs_event_at_cut", "arm", "stratum", replicate=0
        )
    )
    tests = own["test"] != "km_median"
    pd.testing.assert_frame_equal(from_adam[tests], own[tests], rtol=1e-12)
    medians = from_adam.loc[~tests, "estimate"].to_numpy() - own.loc[~tests, "estimate"]
    np.testing.assert_allclose(medians, 1.0 / 30.4375, rtol=1e-9)
    for bound in ("ci_low", "ci_high"):  # the same event times, a day later
        shifted = from_adam.loc[~tests, bound].to_numpy() - own.loc[~tests, bound]
        np.testing.assert_allclose(shifted, 1.0 / 30.4375, rtol=1e-9)


def test_observed_table_of_the_adam_is_the_simulated_trial_at_its_cut(
    patients: pd.DataFrame, tmp_path: Path
) -> None:
    """The forecast's table from ADaM equals `observed_from_patients` at the data cut; the
    last assessment before a death is not in ADaM, so event rows carry the event date
    (the forecast reads last_assessment only for subjects without an event)."""
    folder = write_adam(patients, tmp_path, replicate=0, start_date=START, study_id=STUDY)
    data = read_adam(folder / "adsl.xpt", folder / "adtte.xpt")
    ours = observed_table(data)
    ours["patient_id"] = ours["patient_id"].str.removeprefix(f"{STUDY}-")
    truth = observed_from_patients(patients[patients["replicate"] == 0], data.cut)
    assert data.cut == dt.date(2028, 8, 9)
    no_event = truth["event_date"] == ""
    assert no_event.sum() > 20 and (~no_event).sum() == 70
    pd.testing.assert_frame_equal(
        ours.drop(columns="last_assessment"), truth.drop(columns="last_assessment")
    )
    assert (ours["last_assessment"][no_event] == truth["last_assessment"][no_event]).all()
    assert (ours["last_assessment"][~no_event] == truth["event_date"][~no_event]).all()


def test_docs_adam_code_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/adam.md's examples, run in order with results/adam moved to a temporary folder."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "adam.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) == 3
    monkeypatch.chdir(root)
    for block in blocks:
        code = block.replace('"results/adam', f'"{tmp_path}')
        exec(compile(code, "docs/adam.md", "exec"), {})
