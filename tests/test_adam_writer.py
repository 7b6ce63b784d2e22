"""ADaM out: SAS transport v5 with labels, lengths and SAS dates, the define listing, one
folder per replicate and cut written whole or not at all, and the data sets' content
against the patient table they come from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.adam import adam_tables, folder_name, write_adam
from sim.adam.mapping import dataset_variables
from sim.errors import ScenarioError

FIXTURE = Path(__file__).parent / "references" / "adam" / "patients.parquet"
START = dt.date(2026, 1, 30)  # scenarios/nct07271602.yaml trial.start_date


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_parquet(FIXTURE)


@pytest.fixture(scope="module")
def tables(patients: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return adam_tables(patients, 0, start_date=START, study_id="NCT07271602")


@pytest.fixture(scope="module")
def written(patients: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adam")
    return write_adam(patients, out, replicate=0, start_date=START, study_id="NCT07271602")


def test_folder_holds_every_data_set_in_xpt_v5_and_parquet(written: Path) -> None:
    assert written.name == folder_name(0) == "rep000_final"
    names = sorted(p.name for p in written.iterdir())
    assert names == sorted(
        [f"{d}.{x}" for d in ("adsl", "adtte", "adrs", "adae") for x in ("xpt", "parquet")]
        + ["define.csv"]
    )
    for dataset in ("adsl", "adtte", "adrs", "adae"):
        head = (written / f"{dataset}.xpt").read_bytes()[:80]
        assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")  # v5


def test_xpt_carries_labels_dates_and_the_define_lengths(written: Path) -> None:
    import pyreadstat

    define = pd.read_csv(written / "define.csv", keep_default_na=False)
    for dataset in ("ADSL", "ADTTE", "ADRS", "ADAE"):
        frame, meta = pyreadstat.read_xport(str(written / f"{dataset.lower()}.xpt"))
        assert meta.table_name == dataset
        rows = define[define["dataset"] == dataset].set_index("variable")
        assert list(frame.columns) == list(rows.index)
        labels = {v.name: v.label for v in dataset_variables(dataset)}
        for name in frame.columns:
            assert meta.column_names_to_labels[name] == labels[name] == rows.loc[name, "label"]
            assert meta.variable_storage_width[name] == rows.loc[name, "length"], name
            is_date = rows.loc[name, "format"] == "DATE9."
            assert (meta.original_variable_types[name] == "DATE9.") == is_date, name
            assert rows.loc[name, "type"] == (
                "Char" if meta.readstat_variable_types[name] == "string" else "Num"
            )


def test_adsl_is_one_row_per_patient_at_the_cut(
    tables: dict[str, pd.DataFrame], patients: pd.DataFrame
) -> None:
    one = patients[patients["replicate"] == 0].sort_values("patient")
    adsl = tables["ADSL"]
    assert len(adsl) == len(one) == 104 and adsl["USUBJID"].is_unique
    assert (adsl["DCUTDT"] == dt.date(2028, 8, 9)).all()
    dead = one["os_event_at_cut"].to_numpy(bool)
    assert (adsl["DTHFL"] == "Y").to_numpy().tolist() == dead.tolist()
    assert (adsl.loc[dead, "DCSREAS"] == "DEATH").all()
    withdrew = adsl["DCSREAS"] == "WITHDRAWAL BY SUBJECT"
    assert withdrew.any()
    assert (pd.to_datetime(adsl.loc[withdrew, "EOSDT"]) <= pd.Timestamp("2028-08-09")).all()
    assert (adsl["TRTSDT"] >= adsl["RANDDT"]).all()
    assert (adsl["TRTEDT"] <= dt.date(2028, 8, 9)).all()


def test_adtte_has_pfs_os_and_local_control_with_cdisc_censoring(
    tables: dict[str, pd.DataFrame],
) -> None:
    tte = tables["ADTTE"]
    assert tte.groupby("PARAMCD").size().to_dict() == {"LC": 104, "OS": 104, "PFS": 104}
    pfs = tte[tte["PARAMCD"] == "PFS"]
    assert int((pfs["CNSR"] == 0).sum()) == 70  # the event target of the final analysis
    days = (pd.to_datetime(tte["ADT"]) - pd.to_datetime(tte["STARTDT"])).dt.days
    assert (np.floor(tte["AVAL"]) == days + 1).all()  # ADT - STARTDT + 1, and the time of day
    assert set(pfs.loc[pfs["CNSR"] == 0, "EVNTDESC"]) == {"DEATH", "DISEASE PROGRESSION"}
    assert (pfs.loc[pfs["CNSR"] == 1, "CNSDTDSC"] != "").all()
    assert (pfs.loc[pfs["CNSR"] == 0, "CNSDTDSC"] == "").all()


def test_adae_lists_every_event_with_onset_by_the_cut(
    tables: dict[str, pd.DataFrame], patients: pd.DataFrame
) -> None:
    one = patients[patients["replicate"] == 0].sort_values("patient")
    cut_clock = (dt.date(2028, 8, 9) - START).days
    expected = [
        (f"NCT07271602-P{int(p) + 1:04d}", kind, int(grade), START + dt.timedelta(days=int(day)))
        for p, kinds, grades, onsets in zip(
            one["patient"],
            one["ae_categories"],
            one["ae_grades"],
            one["ae_onset_days"],
            strict=True,
        )
        for kind, grade, day in zip(kinds, grades, onsets, strict=True)
        if day <= cut_clock
    ]
    ae = tables["ADAE"]
    got = list(zip(ae["USUBJID"], ae["AECAT"], ae["ATOXGRN"].astype(int), ae["ASTDT"], strict=True))
    assert got == expected and len(got) > 100
    assert (ae["ATOXGR"] == ae["ATOXGRN"].astype(int).astype(str)).all()
    assert (
        ae.groupby("USUBJID")["AESEQ"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))
    ).all()


def test_tables_without_safety_or_response_columns_leave_their_data_sets_out(
    patients: pd.DataFrame,
) -> None:
    bare = patients.drop(columns=["ae_onset_days", "best_response"])
    assert sorted(adam_tables(bare, 1, start_date=START)) == ["ADSL", "ADTTE"]


def test_treatment_names_and_replicate_choice(patients: pd.DataFrame) -> None:
    tables = adam_tables(
        patients, 1, start_date=START, treatments={"experimental": "QL1706 + chemo + Quad Shot RT"}
    )
    assert set(tables["ADSL"]["TRT01P"]) == {"control", "QL1706 + chemo + Quad Shot RT"}
    assert set(tables["ADSL"]["TRT01PN"]) == {0.0, 1.0}
    with pytest.raises(ScenarioError, match="replicate 7: not in the patient table"):
        adam_tables(patients, 7, start_date=START)


def test_existing_folder_needs_force_and_must_be_one_of_ours(
    patients: pd.DataFrame, tmp_path: Path
) -> None:
    folder = write_adam(patients, tmp_path, replicate=1, start_date=START)
    with pytest.raises(ScenarioError, match="exists; add force"):
        write_adam(patients, tmp_path, replicate=1, start_date=START)
    assert write_adam(patients, tmp_path, replicate=1, start_date=START, force=True) == folder
    foreign = tmp_path / "rep000_final"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ScenarioError, match="not a folder of ADaM data sets"):
        write_adam(patients, tmp_path, replicate=0, start_date=START, force=True)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_nothing_is_half_written(patients: pd.DataFrame, tmp_path: Path) -> None:
    too_long = {"control": "x" * 201}  # SAS transport v5 holds 200 bytes of text
    with pytest.raises(ScenarioError, match=r"ADSL.TRT01P: a value of 201 bytes"):
        write_adam(patients, tmp_path, replicate=0, start_date=START, treatments=too_long)
    assert list(tmp_path.iterdir()) == []
