"""ADaM in: formats told apart by content, the mapping option, units, and one message (naming
the data set, variable, USUBJID and fix) for each kind of bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.adam import analysis_table, observed_table, read_adam, read_dataset
from sim.adam.mapping import VARIABLES, check_mapping
from sim.errors import ScenarioError
from sim.qualify import REFERENCES

DATA = Path(__file__).parent / "data"
FIXTURE = REFERENCES / "adam" / "rep000_final"  # the XPT the R round trip read


def small_adam() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four subjects, two arms, two strata; PFS and OS with AVAL = ADT - STARTDT + 1."""
    rand = [dt.date(2026, 3, 1), dt.date(2026, 3, 5), dt.date(2026, 4, 2), dt.date(2026, 5, 7)]
    adsl = pd.DataFrame(
        {
            "USUBJID": ["S-1", "S-2", "S-3", "S-4"],
            "SITEID": ["Site A", "Site A", "Site B", "Site B"],
            "RANDDT": rand,
            "TRT01P": ["control", "experimental", "control", "experimental"],
            "STRATA1R": ["squamous", "squamous", "non-squamous", "non-squamous"],
            "DCUTDT": dt.date(2027, 1, 31),
        }
    )
    adt = [dt.date(2026, 9, 1), dt.date(2026, 12, 20), dt.date(2026, 7, 1), dt.date(2027, 1, 10)]
    tte = pd.DataFrame(
        {
            "USUBJID": adsl["USUBJID"],
            "PARAMCD": "PFS",
            "AVAL": [float((a - r).days + 1) for a, r in zip(adt, rand, strict=True)],
            "AVALU": "DAYS",
            "STARTDT": rand,
            "ADT": adt,
            "CNSR": [0.0, 1.0, 0.0, 1.0],
            "EVNTDESC": ["DISEASE PROGRESSION", "NO EVENT", "DEATH", "NO EVENT"],
            "CNSDTDSC": ["", "LAST TUMOR ASSESSMENT", "", "LAST TUMOR ASSESSMENT"],
        }
    )
    os_rows = tte.assign(PARAMCD="OS", CNSR=[1.0, 1.0, 0.0, 1.0])
    os_rows["EVNTDESC"] = ["ALIVE", "ALIVE", "DEATH", "ALIVE"]
    os_rows["CNSDTDSC"] = ["LAST ALIVE", "LAST ALIVE", "", "LAST ALIVE"]
    return adsl, pd.concat([tte, os_rows], ignore_index=True)


def message(adsl: pd.DataFrame, adtte: pd.DataFrame, **options: object) -> str:
    with pytest.raises(ScenarioError) as caught:
        read_adam(adsl, adtte, **options)
    return str(caught.value)


def test_small_adam_reads_to_the_analysis_table() -> None:
    adsl, adtte = small_adam()
    table = analysis_table(read_adam(adsl, adtte), "PFS")
    assert table["time"].tolist() == adtte["AVAL"][:4].tolist()
    assert table["event"].tolist() == [True, False, True, False]  # CNSR 0 is the event
    assert table[["arm", "stratum", "site"]].iloc[2].tolist() == [
        "control",
        "non-squamous",
        "Site B",
    ]


def test_cnsr_other_than_0_or_1_names_subject_and_fix() -> None:
    adsl, adtte = small_adam()
    adtte.loc[1, "CNSR"] = 2.0
    text = message(adsl, adtte)
    assert "ADTTE.CNSR: 2.0 for USUBJID S-2" in text
    assert "0 (event) or 1 (censored)" in text and "recode" in text


def test_cnsr_coded_as_an_event_flag_is_caught() -> None:
    adsl, adtte = small_adam()
    adtte["CNSR"] = 1.0 - adtte["CNSR"]  # the classic trap: 1 = event
    text = message(adsl, adtte)
    assert "ADTTE.CNSR" in text and "looks like an event flag" in text and "1 - CNSR" in text


def test_aval_without_the_plus_one_does_not_match_the_dates() -> None:
    adsl, adtte = small_adam()
    adtte["AVAL"] -= 1.0  # ADT - STARTDT, as some programs count
    text = message(adsl, adtte)
    assert "ADTTE.AVAL: does not match ADT - STARTDT + 1 for USUBJID S-1 (PFS), S-2 (PFS)" in text
    assert "S-1: AVAL 184 days, ADT - STARTDT + 1 = 185" in text


def test_aval_in_days_may_carry_the_time_of_day_and_other_units_a_day() -> None:
    adsl, adtte = small_adam()
    adtte["AVAL"] += 0.4
    read_adam(adsl, adtte)
    months = adtte.assign(AVAL=adtte["AVAL"] / 30.4375, AVALU="MONTHS")
    table = analysis_table(read_adam(adsl, months), "PFS")
    np.testing.assert_allclose(table["time"], adtte["AVAL"][:4], rtol=1e-12)
    too_far = adtte.assign(AVAL=adtte["AVAL"] / 30.4375 + 0.1, AVALU="MONTHS")
    assert "ADTTE.AVAL: does not match" in message(adsl, too_far)


def test_subject_missing_from_adsl() -> None:
    adsl, adtte = small_adam()
    text = message(adsl.iloc[1:], adtte)
    assert "ADTTE.USUBJID: not in ADSL: USUBJID S-1;" in text


def test_randomization_after_the_cut() -> None:
    adsl, adtte = small_adam()
    text = message(adsl, adtte, cut=dt.date(2026, 4, 30))
    assert "ADSL.RANDDT: randomization after the data cut 2026-04-30 for USUBJID S-4:" in text
    assert "ADTTE.ADT" in text  # dates after the cut as well


def test_arm_not_among_the_known_arms() -> None:
    adsl, adtte = small_adam()
    adsl.loc[3, "TRT01P"] = "placebo"
    text = message(adsl, adtte, arms=["control", "experimental"])
    assert "ADSL.TRT01P: 'placebo' for USUBJID S-4 is not a known arm" in text


def test_duplicated_usubjid_and_paramcd() -> None:
    adsl, adtte = small_adam()
    text = message(adsl, pd.concat([adtte, adtte.iloc[[2]]]))
    assert "ADTTE: more than one row of PARAMCD PFS for USUBJID S-3 (PFS):" in text


def test_missing_required_variable_suggests_the_mapping() -> None:
    adsl, adtte = small_adam()
    text = message(adsl, adtte.drop(columns="CNSR"))
    assert "ADTTE: no variable CNSR" in text
    # the way to name it, on the command line and in Python
    assert "--adam-map CNSR=YOURNAME" in text and "adam_map={'CNSR': 'YOURNAME'}" in text


def test_bad_dates_are_named() -> None:
    adsl, adtte = small_adam()
    adsl["RANDDT"] = adsl["RANDDT"].astype(object)
    adsl.loc[2, "RANDDT"] = "2026-13-45"
    text = message(adsl, adtte)
    assert "ADSL.RANDDT: '2026-13-45' for USUBJID S-3 is not a date: write YYYY-MM-DD" in text


def test_every_broken_rule_in_one_message() -> None:
    adsl, adtte = small_adam()
    adtte.loc[0, "CNSR"] = 5.0
    text = message(adsl.iloc[:3], adtte)
    assert text.startswith("ADaM data: 2 problem(s)")
    assert "ADTTE.CNSR" in text and "not in ADSL" in text


def test_no_unit_asks_for_one_and_the_unit_option_gives_it() -> None:
    adsl, adtte = small_adam()
    text = message(adsl, adtte.drop(columns="AVALU"))
    assert "ADTTE.AVALU: no unit" in text and "unit='days'" in text
    table = analysis_table(read_adam(adsl, adtte.drop(columns="AVALU"), unit="days"), "PFS")
    assert table["time"].tolist() == adtte["AVAL"][:4].tolist()
    assert "'FORTNIGHTS'" in message(adsl, adtte.assign(AVALU="FORTNIGHTS"))


def test_mapping_names_the_sponsors_variables() -> None:
    adsl, adtte = small_adam()
    adsl = adsl.rename(columns={"STRATA1R": "STRAT2R", "TRT01P": "ARMP"})
    adtte = adtte.rename(columns={"CNSR": "CENSOR"}).assign(PARAMCD=lambda f: f["PARAMCD"] + "INV")
    data = read_adam(
        adsl, adtte, mapping={"STRATA1R": "strat2r", "TRT01P": "ARMP", "CNSR": "CENSOR"}
    )
    table = analysis_table(data, "PFSINV")  # another PARAMCD, by option
    assert table["event"].tolist() == [True, False, True, False]
    assert table["stratum"].tolist()[0] == "squamous"


def test_mapping_errors() -> None:
    adsl, adtte = small_adam()
    with pytest.raises(ScenarioError, match="'STRATUM': not a variable the reader uses"):
        check_mapping({"STRATUM": "STRAT1"})
    with pytest.raises(ScenarioError, match="more than one standard name"):
        check_mapping({"TRT01P": "ARM", "TRT01A": "ARM"})
    assert "mapping STRATA1R -> STRAT9: no such variable" in message(
        adsl, adtte, mapping={"STRATA1R": "STRAT9"}
    )


def test_lower_case_names_are_matched() -> None:
    adsl, adtte = small_adam()
    data = read_adam(adsl.rename(columns=str.lower), adtte.rename(columns=str.lower))
    assert len(analysis_table(data, "OS")) == 4


def test_csv_with_date9_dates_parquet_and_xpt(tmp_path: Path) -> None:
    adsl, adtte = small_adam()
    sas_dates = adsl.assign(RANDDT=[d.strftime("%d%b%Y").upper() for d in adsl["RANDDT"]])
    sas_dates.to_csv(tmp_path / "adsl.csv", index=False)
    adtte.to_csv(tmp_path / "adtte.csv", index=False)
    adsl.to_parquet(tmp_path / "adsl.parquet")
    adtte.to_parquet(tmp_path / "adtte.parquet")
    from_csv = analysis_table(read_adam(tmp_path / "adsl.csv", tmp_path / "adtte.csv"))
    from_parquet = analysis_table(read_adam(tmp_path / "adsl.parquet", tmp_path / "adtte.parquet"))
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    pd.testing.assert_frame_equal(from_csv, analysis_table(read_adam(adsl, adtte)))


def test_sas7bdat_reads_like_the_xpt_it_came_from() -> None:
    """tests/data/adam_*.sas7bdat: the first six subjects of the committed rep000_final XPT,
    written by R haven 2.5.1 write_sas."""
    sas = analysis_table(read_adam(DATA / "adam_adsl.sas7bdat", DATA / "adam_adtte.sas7bdat"))
    xpt = analysis_table(read_adam(FIXTURE / "adsl.xpt", FIXTURE / "adtte.xpt"))
    assert len(sas) == 6
    pd.testing.assert_frame_equal(sas, xpt.iloc[:6], check_exact=True)


def test_format_is_told_by_content(tmp_path: Path) -> None:
    adsl, adtte = small_adam()
    fake = tmp_path / "adsl.xpt"
    adsl.to_csv(fake, index=False)
    with pytest.raises(ScenarioError, match=r"named \.xpt but its content is CSV"):
        read_adam(fake, adtte)
    unnamed = tmp_path / "adsl.dat"
    adsl.to_parquet(unnamed)
    assert len(read_dataset(unnamed, "ADSL")) == 4
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ScenarioError, match="empty"):
        read_adam(tmp_path / "empty.csv", adtte)
    truncated = tmp_path / "adtte.xpt"
    truncated.write_bytes((FIXTURE / "adtte.xpt").read_bytes()[:1000])
    with pytest.raises(ScenarioError, match="not a readable SAS transport"):
        read_adam(adsl, truncated)
    with pytest.raises(ScenarioError, match="no such file"):
        read_adam(tmp_path / "nothing.xpt", adtte)


def test_observed_table_needs_the_forecasts_arms_or_none() -> None:
    adsl, adtte = small_adam()
    adsl["TRT01P"] = adsl["TRT01P"].map({"control": "Chemo", "experimental": "Chemo + RT"})
    data = read_adam(adsl, adtte)
    with pytest.raises(ScenarioError, match="map each treatment with the arms option"):
        observed_table(data)
    assert (observed_table(data, arm=None)["arm"] == "").all()  # blinded
    mapped = read_adam(adsl, adtte, arms={"Chemo": "control", "Chemo + RT": "experimental"})
    table = observed_table(mapped)
    assert table["arm"].tolist() == ["control", "experimental", "control", "experimental"]
    assert table["event_type"].tolist() == ["progression", "", "death", ""]
    assert table["last_assessment"].tolist()[1] == "2026-12-20"
    recoded = observed_table(
        mapped, sites={"Site A": "Union Hospital Wuhan"}, strata={"squamous": "sq"}
    )
    assert recoded["site"].tolist()[1:3] == ["Union Hospital Wuhan", "Site B"]
    assert recoded["stratum"].tolist()[:3] == ["sq", "sq", "non-squamous"]
    adtte.loc[2, "ADT"] = None
    with pytest.raises(ScenarioError, match=r"ADTTE.ADT: empty for USUBJID S-3 \(PFS\)"):
        observed_table(read_adam(adsl, adtte, arms=mapped.arms))


def test_every_variable_fits_sas_transport_v5() -> None:
    for v in VARIABLES:
        assert len(v.name) <= 8 and v.name.isupper(), v
        assert len(v.label) <= 40, v
        assert v.kind in ("char", "num", "date"), v
