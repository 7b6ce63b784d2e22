"""ADaM through the commands: `run --adam K` writes the data sets, `analyze` and `forecast
--observed` read them back (folder or files, recognised by content, with the mapping and
value options); every bad-input case of issue 28 gets one message naming the data set, the
variable, the USUBJID and the fix, exit status 2 and nothing written; `sim.analyze` gives the
tidy table, checked against lifelines (tests/references/lifelines.json) and R's survival
(sim/qualify/references/adam_roundtrip_r.json, made by the R call quoted there)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.commands.cli import main
from sim.qualify import REFERENCES
from sim.stats.final_analysis import TIDY_COLUMNS, TimeUnitWarning
from tests.helpers import lifelines_reference
from tests.references.datasets import scan_data

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "nct07271602.yaml"
XPT = REFERENCES / "adam"  # the XPT R read (tests/test_adam_roundtrip.py says how made)
TOL = 1e-9


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's command: python -m sim run scenarios/nct07271602.yaml --reps 200
    --adam 2 --out results/adam."""
    out = tmp_path_factory.mktemp("adam") / "adam"
    argv = ["run", str(SCENARIO), "--reps", "200", "--adam", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


def test_run_adam_writes_one_folder_per_replicate_listed_in_the_manifest(adam_run: Path) -> None:
    manifest = json.loads((adam_run / "manifest.json").read_text())
    assert manifest["adam"]["folders"] == ["rep000_final", "rep001_final"]
    names = [f"{d}.{x}" for d in ("adae", "adrs", "adsl", "adtte") for x in ("parquet", "xpt")]
    for folder in manifest["adam"]["folders"]:
        found = sorted(p.name for p in (adam_run / folder).iterdir())
        assert found == sorted([*names, "define.csv"])
        for name in found:  # sim's record: a later --force replaces only what it lists
            assert f"{folder}/{name}" in manifest["files"]
    patients = pd.read_parquet(adam_run / "patients.parquet", columns=["replicate"])
    assert set(patients["replicate"]) >= {0, 1}


def test_analyze_of_a_run_adam_folder_is_the_patient_table_analysis(
    adam_run: Path, tmp_path: Path
) -> None:
    """AVAL = the simulator's time + 1 day keeps order and ties: log-rank and Cox are those
    of `analyze patients.parquet --replicate 1`, to the last bit."""
    out = tmp_path / "adam.csv"
    assert main(["analyze", str(adam_run / "rep001_final"), "--out", str(out)]) == 0
    ours = pd.read_csv(out)
    assert list(ours.columns) == list(TIDY_COLUMNS)
    own = sim.analyze(
        adam_run / "patients.parquet",
        time="pfs_days_at_cut",
        event="pfs_event_at_cut",
        replicate=1,
    )
    tests = own["test"] != "km_median"
    pd.testing.assert_frame_equal(
        ours[tests.to_numpy()].reset_index(drop=True),
        own[tests].reset_index(drop=True),
        rtol=1e-12,
    )


def test_forecast_reads_a_run_adam_folder(adam_run: Path, tmp_path: Path) -> None:
    """--as-of defaults to ADSL's DCUTDT; the observed table is the trial at its cut."""
    out = tmp_path / "fc"
    argv = ["forecast", str(SCENARIO), "--observed", str(adam_run / "rep000_final")]
    assert main([*argv, "--reps", "20", "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())["forecast"]
    adsl = pd.read_parquet(adam_run / "rep000_final" / "adsl.parquet")
    adtte = pd.read_parquet(adam_run / "rep000_final" / "adtte.parquet")
    pfs = adtte[adtte["PARAMCD"] == "PFS"]
    assert manifest["as_of"] == str(adsl["DCUTDT"].iloc[0])
    assert manifest["observed"].startswith("ADaM ")
    assert manifest["patients"] == len(adsl)
    assert manifest["events"] == int((pfs["CNSR"] == 0).sum())


def test_forecast_api_takes_the_files_and_the_mapping(adam_run: Path, tmp_path: Path) -> None:
    folder = adam_run / "rep000_final"
    adsl = pd.read_parquet(folder / "adsl.parquet")
    adsl = adsl.rename(columns={"STRATA1R": "STRAT2R"})
    adsl["TRT01P"] = adsl["TRT01P"].map({"control": "Chemo", "experimental": "Chemo + RT"})
    adsl["SITEID"] = "101"
    adtte = pd.read_parquet(folder / "adtte.parquet").drop(columns=["TRT01P", "STRATA1R"])
    adsl.to_csv(tmp_path / "s.csv", index=False)
    adtte.to_parquet(tmp_path / "t.parquet")
    results = sim.forecast(
        SCENARIO,
        [tmp_path / "t.parquet", tmp_path / "s.csv"],
        reps=20,
        progress=False,
        adam={
            "adam_map": {"STRATA1R": "STRAT2R"},
            "arm_values": {"Chemo": "control", "Chemo + RT": "experimental"},
            "site_values": {"101": "Union Hospital Wuhan"},
        },
    )
    assert results.manifest["forecast"]["patients"] == len(adsl)


# --- bad input: one message, exit 2, nothing written ------------------------------------------


def sponsor_files(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The committed replicate 0 (the XPT R read), as frames to break."""
    import pyreadstat

    adsl = pyreadstat.read_xport(str(XPT / "rep000_final" / "adsl.xpt"))[0]
    adtte = pyreadstat.read_xport(str(XPT / "rep000_final" / "adtte.xpt"))[0]
    for frame in (adsl, adtte):
        for column in frame.columns:
            if column.endswith("DT"):
                frame[column] = pd.to_datetime(frame[column]).dt.date
    return adsl, adtte


Frames = tuple[pd.DataFrame, pd.DataFrame]  # ADSL and ADTTE


def first_event(adtte: pd.DataFrame) -> int:
    return int(np.flatnonzero((adtte["PARAMCD"] == "PFS") & (adtte["CNSR"] == 0))[0])


def break_cnsr(adsl: pd.DataFrame, adtte: pd.DataFrame) -> Frames:
    adtte.loc[first_event(adtte), "CNSR"] = 2.0
    return adsl, adtte


def break_aval(adsl: pd.DataFrame, adtte: pd.DataFrame) -> Frames:
    adtte.loc[first_event(adtte), "AVAL"] += 5.0
    return adsl, adtte


def drop_subject(adsl: pd.DataFrame, adtte: pd.DataFrame) -> Frames:
    return adsl.drop(index=3), adtte


def late_randomization(adsl: pd.DataFrame, adtte: pd.DataFrame) -> Frames:
    adsl.loc[5, "RANDDT"] = adsl.loc[5, "DCUTDT"] + dt.timedelta(days=3)
    return adsl, adtte


def third_arm(adsl: pd.DataFrame, adtte: pd.DataFrame) -> Frames:
    adsl.loc[7, "TRT01P"] = "placebo"
    adtte.loc[adtte["USUBJID"] == adsl.loc[7, "USUBJID"], "TRT01P"] = "placebo"
    return adsl, adtte


def duplicate_event(adsl: pd.DataFrame, adtte: pd.DataFrame) -> Frames:
    row = adtte.iloc[[first_event(adtte)]]
    return adsl, pd.concat([adtte, row], ignore_index=True)


BAD = {
    "cnsr": (break_cnsr, "ADTTE.CNSR: 2.0 for USUBJID NCT07271602-P", "0 (event) or 1 (censored)"),
    "aval": (break_aval, "ADTTE.AVAL: does not match ADT - STARTDT + 1 for USUBJID", "fix AVAL"),
    "not-in-adsl": (drop_subject, "ADTTE.USUBJID: not in ADSL: USUBJID NCT07271602-P", "ADSL row"),
    "after-cut": (
        late_randomization,
        "ADSL.RANDDT: randomization after the data cut 2028-08-09 for USUBJID NCT07271602-P",
        "fix the date",
    ),
    "unknown-arm": (
        third_arm,
        "ADSL.TRT01P: 'placebo' for USUBJID NCT07271602-P0008",
        "--arm-values",
    ),
    "duplicate": (
        duplicate_event,
        "ADTTE: more than one row of PARAMCD PFS for USUBJID NCT07271602-P",
        "one row",
    ),
}


def write_broken(tmp_path: Path, case: str) -> Path:
    adsl, adtte = BAD[case][0](*sponsor_files(tmp_path))
    folder = tmp_path / "sponsor"
    folder.mkdir()
    adsl.to_parquet(folder / "adsl.parquet")
    adtte.to_parquet(folder / "adtte.parquet")
    return folder


CASES = {k: v[1:] for k, v in BAD.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_adam_for_analyze_exits_2_naming_dataset_variable_subject_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    folder = write_broken(tmp_path, case)
    out = tmp_path / "a.csv"
    assert main(["analyze", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("error:") == 1
    for needle in CASES[case]:
        assert needle in err, err
    assert not out.exists()


@pytest.mark.parametrize("case", ["cnsr", "after-cut", "not-in-adsl"])
def test_bad_adam_for_forecast_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    folder = write_broken(tmp_path, case)
    out = tmp_path / "fc"
    argv = ["forecast", str(SCENARIO), "--observed", str(folder), "--reps", "10"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    for needle in CASES[case]:
        assert needle in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == [folder]


def test_forecast_refuses_an_unknown_arm_site_or_cut(tmp_path: Path, capsys) -> None:
    adsl, adtte = sponsor_files(tmp_path)
    adsl["SITEID"] = np.where(adsl.index < 3, "101", adsl["SITEID"])
    adsl["TRT01P"] = np.where(adsl.index == 4, "Placebo", adsl["TRT01P"])
    adsl.to_parquet(tmp_path / "adsl.parquet")
    adtte.drop(columns="TRT01P").to_parquet(tmp_path / "adtte.parquet")
    files = [str(tmp_path / "adsl.parquet"), str(tmp_path / "adtte.parquet")]
    out = tmp_path / "fc"
    argv = ["forecast", str(SCENARIO), "--observed", *files, "--reps", "10", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ADSL.SITEID: '101' for USUBJID NCT07271602-P0001" in err
    assert "--site-values '101=Union Hospital Wuhan'" in err
    assert "ADSL.TRT01P: 'Placebo' for USUBJID NCT07271602-P0005" in err
    assert main([*argv, "--out", str(out), "--as-of", "2028-01-01"]) == 2
    assert "ADSL.DCUTDT is 2028-08-09" in capsys.readouterr().err
    assert not out.exists()


def test_analyze_mapping_and_arm_values_read_a_sponsors_names(tmp_path: Path) -> None:
    adsl, adtte = sponsor_files(tmp_path)
    standard = sim.analyze(XPT / "rep000_final", paramcd="OS")
    adsl = adsl.rename(columns={"STRATA1R": "STRAT2R", "TRT01P": "ARMP"})
    adsl["ARMP"] = adsl["ARMP"].map({"control": "Chemo", "experimental": "Chemo + RT"})
    adtte = adtte.rename(columns={"CNSR": "CENSOR"}).drop(columns=["TRT01P", "STRATA1R"])
    adsl.to_csv(tmp_path / "adsl.csv", index=False)
    adtte.to_csv(tmp_path / "adtte.csv", index=False)
    files = [tmp_path / "adtte.csv", tmp_path / "adsl.csv"]  # any order: told by content
    mapped = sim.analyze(
        files,
        paramcd="OS",
        adam_map={"TRT01P": "ARMP", "CNSR": "CENSOR"},
        strata="STRAT2R",
        arm_values={"Chemo": "control", "Chemo + RT": "experimental"},
    )
    pd.testing.assert_frame_equal(mapped, standard, rtol=1e-12)
    unstratified = sim.analyze(XPT / "rep000_final", strata=None)
    assert not unstratified["stratified"].any()


def test_adam_options_refuse_a_patient_table(tmp_path: Path) -> None:
    table = pd.DataFrame({"time": [1.0, 2, 3, 4], "event": [1, 0, 1, 1], "arm": ["a", "b"] * 2})
    with pytest.raises(sim.ScenarioError, match="not ADaM data"):
        sim.analyze(table, paramcd="OS")


# --- the tidy table: lifelines and R ---------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
def test_tidy_table_matches_lifelines(seed: int) -> None:
    """lifelines' logrank_test and CoxPHFitter (Efron), committed in
    tests/references/lifelines.json with their calls."""
    d = scan_data(seed)
    frame = pd.DataFrame(
        {
            "time": d["time"],
            "event": d["event"],
            "arm": np.where(d["arm"] == 1, "experimental", "control"),
            "s": d["stratum"],
        }
    )
    table = sim.analyze(frame, strata="s")
    assert list(table.columns) == list(TIDY_COLUMNS)
    logrank = lifelines_reference(f"logrank scan_data({seed})", *d.values())
    assert pick(table, "logrank", False)["z"] ** 2 == pytest.approx(logrank["test_statistic"])
    assert pick(table, "logrank", False)["p_two_sided"] == pytest.approx(logrank["p_value"])
    for stratified, label in ((False, "unstratified"), (True, "stratified")):
        cox = lifelines_reference(f"cox efron {label} scan_data({seed})", *d.values())
        row = pick(table, "cox_efron", stratified)
        assert np.log(row["estimate"]) == pytest.approx(cox["beta"], rel=1e-6)
        assert row["se"] == pytest.approx(cox["se"], rel=1e-6)
        assert row[["ci_low", "ci_high"]].tolist() == pytest.approx(
            [cox["ci_low"], cox["ci_high"]], rel=1e-6
        )
        assert (row["n"], row["events"], row["unit"]) == (90, int(d["event"].sum()), "ratio")


def pick(table: pd.DataFrame, test: str, stratified: bool) -> pd.Series:
    """The one row of `test` (stratified or not) of a tidy table."""
    rows = table[(table["test"] == test) & (table["stratified"] == stratified)]
    assert len(rows) == 1
    return rows.iloc[0]


def r_rows() -> list[dict]:
    return json.loads((REFERENCES / "adam_roundtrip_r.json").read_text())["results"]


@pytest.mark.parametrize("row", r_rows(), ids=lambda r: f"{r['folder']}-{r['param']}")
def test_sim_analyze_of_the_xpt_equals_r_survival_to_1e9(row: dict) -> None:
    """R: survdiff(Surv(AVAL, 1 - CNSR) ~ TRT01P [+ strata(STRATA1R)]) and coxph (Efron,
    Breslow) on haven::read_xpt of the same files (the calls are in the JSON)."""
    table = sim.analyze(XPT / row["folder"], paramcd=row["param"])
    for stratified, suffix in ((False, ""), (True, "_stratified")):
        lr, r = pick(table, "logrank", stratified), row["logrank" + suffix]
        ours = {
            "chisq": lr["z"] ** 2,
            "o_minus_e": lr["estimate"],
            "variance": lr["se"] ** 2,
        }
        for name, value in ours.items():
            assert value == pytest.approx(float(r[name]), rel=TOL, abs=TOL), name
        assert (lr["n"], lr["events"]) == (row["n"], row["events"])
        for ties in ("efron", "breslow"):
            cox, r = pick(table, f"cox_{ties}", stratified), row[f"cox_{ties}{suffix}"]
            for ours_name, r_name in (
                ("estimate", "hr"),
                ("se", "se"),
                ("z", "z"),
                ("p_two_sided", "p_two_sided"),
                ("ci_low", "ci_low"),
                ("ci_high", "ci_high"),
            ):
                assert cox[ours_name] == pytest.approx(float(r[r_name]), rel=TOL, abs=TOL)


# --- time units -------------------------------------------------------------------------------


def test_a_months_table_read_as_days_warns_naming_both(tmp_path: Path, capsys) -> None:
    d = scan_data(1)
    months = pd.DataFrame(
        {
            "time": d["time"] / 30.4375,
            "event": d["event"],
            "arm": np.where(d["arm"] == 1, "experimental", "control"),
        }
    )
    with pytest.warns(TimeUnitWarning, match="looks like months, but time_unit says days"):
        sim.analyze(months)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TimeUnitWarning)
        sim.analyze(months, time_unit="months")
        sim.analyze(months.assign(time=d["time"]))
    with pytest.warns(TimeUnitWarning, match="looks like days, but time_unit says months"):
        sim.analyze(months.assign(time=d["time"]), time_unit="months")
    path = tmp_path / "m.csv"
    months.to_csv(path, index=False)
    argv = ["analyze", str(path), "--time", "time", "--event", "event", "--arm", "arm"]
    assert main(argv) == 0
    assert "warning: the time column 'time' looks like months" in capsys.readouterr().err


def test_printed_form_is_the_commands_output(capsys) -> None:
    table = sim.analyze(XPT / "rep001_final", paramcd="OS")
    assert main(["analyze", str(XPT / "rep001_final"), "--paramcd", "OS"]) == 0
    assert capsys.readouterr().out == table.attrs["printed"] + "\n"
    assert "Cox HR (efron), stratified" in table.attrs["printed"]


def test_best_overall_response_of_adrs_matches_statsmodels(adam_run: Path) -> None:
    """`--paramcd BOR` reads ADRS: ORR per arm (statsmodels proportion_confint, wilson), the
    difference (confint_proportions_2indep, newcomb) and the CMH test and Mantel-Haenszel
    odds ratio (StratifiedTable.test_null_odds(correction=False), oddsratio_pooled)."""
    from statsmodels.stats.contingency_tables import StratifiedTable
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    folder = adam_run / "rep000_final"
    table = sim.analyze(folder, paramcd="BOR")
    adsl = pd.read_parquet(folder / "adsl.parquet").set_index("USUBJID")
    adrs = pd.read_parquet(folder / "adrs.parquet")
    responder = adrs["AVALC"].isin(["CR", "PR"]).to_numpy()
    arm = adsl.loc[adrs["USUBJID"], "TRT01P"].to_numpy() == "experimental"
    stratum = adsl.loc[adrs["USUBJID"], "STRATA1R"].to_numpy()
    x = [int((responder & (arm == k)).sum()) for k in (0, 1)]
    n = [int((arm == k).sum()) for k in (0, 1)]
    for k, name in enumerate(("control", "experimental")):
        row = table[(table["test"] == "orr") & (table["arm"] == name)].iloc[0]
        assert (row["n"], row["events"]) == (n[k], x[k])
        low, high = proportion_confint(x[k], n[k], method="wilson")
        assert [row["ci_low"], row["ci_high"]] == pytest.approx([low, high], rel=1e-12)
    diff = pick(table, "orr_difference", False)
    low, high = confint_proportions_2indep(x[1], n[1], x[0], n[0], method="newcomb")
    assert diff["estimate"] == pytest.approx(x[1] / n[1] - x[0] / n[0], rel=1e-12)
    assert [diff["ci_low"], diff["ci_high"]] == pytest.approx([low, high], rel=1e-9)
    for stratified in (False, True):
        groups = np.unique(stratum) if stratified else ["all"]
        tables = []
        for g in groups:
            keep = (stratum == g) if stratified else np.ones(len(arm), bool)
            tables.append(
                [
                    [((responder & arm) & keep).sum(), ((~responder & arm) & keep).sum()],
                    [((responder & ~arm) & keep).sum(), ((~responder & ~arm) & keep).sum()],
                ]
            )
        st = StratifiedTable(np.asarray(tables, float).transpose(1, 2, 0))
        row = pick(table, "cmh", stratified)
        ref = st.test_null_odds(correction=False)
        assert row["z"] ** 2 == pytest.approx(ref.statistic, rel=1e-10)
        assert row["p_two_sided"] == pytest.approx(ref.pvalue, rel=1e-10)
        assert row["estimate"] == pytest.approx(st.oddsratio_pooled, rel=1e-12)


def test_forecast_of_a_project_table_still_needs_as_of(tmp_path: Path, capsys) -> None:
    table = tmp_path / "observed.csv"
    table.write_text(
        "patient_id,site,stratum,randomized,event_date,event_type,dropout_date,last_assessment\n"
    )
    argv = ["forecast", str(SCENARIO), "--observed", str(table), "--reps", "10", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "fc")]) == 2
    assert "as_of (--as-of): missing" in capsys.readouterr().err
    assert not (tmp_path / "fc").exists()


def test_a_response_parameter_written_with_out_has_no_kaplan_meier(
    adam_run: Path, tmp_path: Path
) -> None:
    """`analyze --paramcd BOR --out` writes the response table (no FILE_km.csv, an empty
    kaplan_meier in JSON) instead of failing on curves a response parameter has not."""
    folder = adam_run / "rep000_final"
    table = sim.analyze(folder, paramcd="BOR")
    out = tmp_path / "bor.csv"
    assert main(["analyze", str(folder), "--paramcd", "BOR", "--out", str(out)]) == 0
    assert not (tmp_path / "bor_km.csv").exists()
    written = pd.read_csv(out)
    assert list(written["test"]) == list(table["test"])
    assert (
        main(["analyze", str(folder), "--paramcd", "BOR", "--out", str(tmp_path / "b.json")]) == 0
    )
    payload = json.loads((tmp_path / "b.json").read_text())
    assert payload["kaplan_meier"] == [] and payload["time_unit"] is None
    assert len(payload["results"]) == len(table)
