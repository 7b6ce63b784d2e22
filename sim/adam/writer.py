"""ADaM out: one simulated trial (a replicate of ``patients.parquet``) as ADSL, ADTTE, ADRS
and ADAE at a data cut, in SAS transport v5 and Parquet, with a define-style listing.

The patient table holds each endpoint's time and event at the cut that concluded the
replicate (``data_cut_date``: the final analysis, or the interim look that stopped it) and,
with interim looks, at each look held before it (``look1_pfs_days_at_cut``, ...;
`sim.engine.patient_table.add_look_columns`). Each cut is written in a folder of its own,
``rep000_look1``, ``rep000_final`` (the replicate id as in the simulator's tables; a trial
stopped at look 1 has only ``rep000_look1``), holding ``adsl.xpt``, ``adsl.parquet``, ...,
``define.csv``. Only patients randomized by the cut are subjects.

Times: the simulator counts days from randomization and keeps a death's time of day
(103.02 days), so ``AVAL = time + 1`` and ``ADT = STARTDT + floor(time)``: AVAL is
ADT - STARTDT + 1 as CDISC counts days, plus the fraction of the day. Adding one day to every
time keeps their order and ties, so log-rank and Cox on AVAL are the simulator's own;
Kaplan-Meier medians are one day (0.033 months) later than on the simulator's time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sim.adam.define import define_table, longest_bytes
from sim.adam.mapping import (
    BEST_RESPONSE_CODES,
    DATASET_LABELS,
    MAX_CHAR,
    dataset_variables,
)
from sim.errors import ScenarioError

ARM_CODES = {"control": 0, "experimental": 1}  # as sim.conduct.randomization codes them
PARAMS = (  # PARAMCD, PARAM, PARAMN, the patient table's time and event columns
    ("PFS", "Progression-Free Survival (Days)", 1, "pfs_days_at_cut", "pfs_event_at_cut"),
    ("OS", "Overall Survival (Days)", 2, "os_days_at_cut", "os_event_at_cut"),
    (
        "LC",
        "Local Control of Irradiated Lesion (Days)",
        3,
        "local_control_days_at_cut",
        "local_progression_at_cut",
    ),
)
CUT_NAME = "final"  # the final analysis's cut; an interim look's is look1, look2, ...


def folder_name(replicate: int, cut: str = CUT_NAME) -> str:
    """``rep000_final``: where a SAS or R program finds one replicate's data sets at a cut."""
    return f"rep{replicate:03d}_{cut}"


def look_numbers(columns: pd.Index) -> list[int]:
    """The interim looks k whose cut the patient table holds (``look{k}_data_cut_date``)."""
    found = [c.removeprefix("look").removesuffix("_data_cut_date") for c in columns]
    return sorted(int(k) for k in found if k.isdigit())


def cut_names(rows: pd.DataFrame) -> list[str]:
    """The cuts of one replicate's rows, in time order: each interim look held before the
    trial concluded (``look1``, ...), then the concluding cut (``final``, or the look that
    stopped the trial)."""
    looks = look_numbers(rows.columns)
    if not looks or rows.empty:
        return [CUT_NAME]
    first = rows.iloc[0]
    held = [f"look{k}" for k in looks if pd.notna(first[f"look{k}_data_cut_date"])]
    stop = int(first["stop_look"])
    return held + [CUT_NAME if stop > looks[-1] else f"look{stop}"]


def rows_at_cut(rows: pd.DataFrame, cut: str) -> pd.DataFrame:
    """One replicate's rows with the endpoint columns as they were at `cut` (a name of
    `cut_names`): an earlier look's ``look{k}_`` columns in place of the table's own."""
    prefix = f"{cut}_"
    at_look = [c for c in rows.columns if c.startswith(prefix)]
    if not at_look or rows[f"{cut}_data_cut_date"].isna().all():
        return rows  # the concluding cut: the table's own columns
    return rows.assign(**{c.removeprefix(prefix): rows[c] for c in at_look})


def one_replicate(
    patients: pd.DataFrame, replicate: int | None, cut: str | None = None
) -> tuple[int, pd.DataFrame, str]:
    """(replicate, rows, cut): the rows of one replicate (the first if None) randomized by
    the data cut `cut` (a name of `cut_names`; None: the concluding cut), with the endpoints
    as they were then."""
    if "replicate" in patients.columns:
        chosen = int(patients["replicate"].min()) if replicate is None else int(replicate)
        rows = patients[patients["replicate"] == chosen]
        if rows.empty:
            raise ScenarioError(
                f"replicate {replicate}: not in the patient table (it has "
                f"{sorted(patients['replicate'].unique().tolist())[:10]}); choose one of them"
            )
    else:
        chosen, rows = (0 if replicate is None else int(replicate)), patients
    needed = ("patient", "stratum", "site", "arm", "randomization_date", "data_cut_date")
    missing = [c for c in needed + PARAMS[0][3:] if c not in rows.columns]
    if missing:
        raise ScenarioError(
            f"patient table: no column(s) {', '.join(missing)}; write it with "
            "`python -m sim run ... --keep-patients K` (patients.parquet)"
        )
    names = cut_names(rows)
    if cut is not None and cut not in names:
        raise ScenarioError(
            f"cut {cut!r}: replicate {chosen} has the cuts {', '.join(names)}; choose one of them"
        )
    cut = cut or names[-1]
    rows = rows_at_cut(rows, cut)
    if "in_analysis" in rows.columns:
        rows = rows[rows["in_analysis"].astype(bool)]
    return chosen, rows.sort_values("patient").reset_index(drop=True), cut


def days(values: pd.Series) -> np.ndarray:
    return values.to_numpy("datetime64[ns]").astype("datetime64[D]")


def as_dates(values: np.ndarray) -> np.ndarray:
    """datetime64[D] -> an object array of datetime.date and None (a SAS date in XPT,
    date32 in Parquet)."""
    return np.asarray([None if np.isnat(v) else v.item() for v in values], dtype=object)


def adam_tables(
    patients: pd.DataFrame,
    replicate: int | None = None,
    *,
    start_date: dt.date,
    study_id: str = "STUDY",
    treatments: Mapping[str, str] | None = None,
    cut: str | None = None,
) -> dict[str, pd.DataFrame]:
    """ADSL, ADTTE, ADRS and ADAE of one replicate at the data cut `cut` (``look1``, ...,
    ``final``: `cut_names`; None: the cut that concluded it; see the module docstring).

    `start_date` is the trial's start (scenario.trial.start_date): the clinic counts doses and
    adverse-event onsets in days from it. `treatments` names each arm in TRT01P
    (default: control, experimental). ADRS and ADAE are left out when the table lacks their
    columns (no response block, no safety block)."""
    chosen, p, _ = one_replicate(patients, replicate, cut)
    treatments = {arm: treatments.get(arm, arm) for arm in ARM_CODES} if treatments else None
    cut = days(p["data_cut_date"])
    if len(np.unique(cut)) != 1:
        raise ScenarioError(f"replicate {chosen}: data_cut_date differs between patients")
    cut_day = cut[0]
    start = np.datetime64(start_date, "D")
    rand = days(p["randomization_date"])
    subjid = [f"P{int(i) + 1:04d}" for i in p["patient"]]
    arm = p["arm"].astype(str).to_numpy()
    unknown = sorted(set(arm) - set(ARM_CODES))
    if unknown:
        raise ScenarioError(f"patient table: arm {unknown[0]!r}: use control or experimental")
    trt = np.asarray([(treatments or {}).get(a, a) for a in arm], dtype=object)
    trtn = np.asarray([float(ARM_CODES[a]) for a in arm])
    common = {
        "STUDYID": study_id,
        "USUBJID": [f"{study_id}-{s}" for s in subjid],
        "SITEID": p["site"].astype(str).to_numpy(),
        "TRT01P": trt,
        "TRT01PN": trtn,
        "STRATA1R": p["stratum"].astype(str).to_numpy(),
    }
    adsl = subject_table(p, common, subjid, rand, cut_day, start)
    tables = {"ADSL": adsl, "ADTTE": tte_table(p, common, rand, cut_day)}
    if "best_response" in p.columns:
        tables["ADRS"] = response_table(p, common)
    if "ae_onset_days" in p.columns:
        tables["ADAE"] = event_table(p, adsl, cut_day, start)
    return {name: laid_out(name, frame) for name, frame in tables.items()}


def laid_out(dataset: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The data set's variables in the order of `mapping.VARIABLES` (those it has)."""
    names = [v.name for v in dataset_variables(dataset) if v.name in frame.columns]
    return frame[names].reset_index(drop=True)


def dose_days(p: pd.DataFrame) -> list[np.ndarray]:
    """Each patient's whole clinic days of a chemo-immunotherapy cycle or an RT fraction."""
    out = []
    for k in range(len(p)):
        parts = []
        for column in ("cycle_days", "rt_fraction_clocks"):
            if column in p.columns and p[column].iloc[k] is not None:
                parts.append(np.floor(np.asarray(p[column].iloc[k], dtype=float)))
        out.append(np.sort(np.concatenate(parts)) if parts else np.empty(0))
    return out


def subject_table(
    p: pd.DataFrame,
    common: dict,
    subjid: list[str],
    rand: np.ndarray,
    cut: np.datetime64,
    start: np.datetime64,
) -> pd.DataFrame:
    n = len(p)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    first, last = nat.copy(), nat.copy()
    cut_clock = (cut - start).astype(int)
    for k, given in enumerate(dose_days(p)):
        given = given[given <= cut_clock]
        if len(given):
            first[k] = start + np.timedelta64(int(given[0]), "D")
            last[k] = start + np.timedelta64(int(given[-1]), "D")
    frame = {
        "STUDYID": common["STUDYID"],
        "USUBJID": common["USUBJID"],
        "SUBJID": subjid,
        "SITEID": common["SITEID"],
    }
    if "age" in p.columns:
        frame.update(
            AGE=np.floor(p["age"].to_numpy(float)),
            AGEU="YEARS",
            SEX=np.where(p["male"].to_numpy(bool), "M", "F"),
            HEIGHTBL=p["height_cm"].to_numpy(float),
            WEIGHTBL=p["weight_kg"].to_numpy(float),
        )
    frame.update(
        RANDDT=as_dates(rand),
        ITTFL="Y",
        SAFFL=np.where(np.isnat(first), "", "Y"),
        TRT01P=common["TRT01P"],
        TRT01PN=common["TRT01PN"],
        TRT01A=common["TRT01P"],
        TRT01AN=common["TRT01PN"],
        STRATA1R=common["STRATA1R"],
        TRTSDT=as_dates(first),
        TRTEDT=as_dates(last),
    )
    withdrawal = days(p["withdrawal_date"]) if "withdrawal_date" in p.columns else nat
    if "os_event_at_cut" in p.columns:
        dead = p["os_event_at_cut"].to_numpy(bool)
        death = np.where(dead, days(p["death_date"]), nat)
        alive = rand + np.floor(p["os_days_at_cut"].to_numpy(float)).astype("timedelta64[D]")
    else:  # no OS block: deaths are known only as PFS events
        dead = p["pfs_event_at_cut"].to_numpy(bool) & p["pfs_event_is_death"].to_numpy(bool)
        death = np.where(dead, days(p["pfs_event_seen_date"]), nat)
        alive = nat
    withdrew = ~dead & ~np.isnat(withdrawal) & (withdrawal <= cut)
    frame.update(
        EOSSTT=np.where(dead | withdrew, "DISCONTINUED", "ONGOING"),
        EOSDT=as_dates(np.where(dead, death, np.where(withdrew, withdrawal, nat))),
        DCSREAS=np.where(dead, "DEATH", np.where(withdrew, "WITHDRAWAL BY SUBJECT", "")),
        DTHFL=np.where(dead, "Y", ""),
        DTHDT=as_dates(death),
        LSTALVDT=as_dates(np.where(dead, death, alive)),
        DCUTDT=as_dates(np.full(len(p), cut)),
    )
    return pd.DataFrame(frame)


def tte_table(p: pd.DataFrame, common: dict, rand: np.ndarray, cut: np.datetime64) -> pd.DataFrame:
    scans = [
        {np.datetime64(s, "D") for s in (v if v is not None else [])}
        for v in p.get("scan_dates", pd.Series([None] * len(p)))
    ]
    withdrawal = days(p["withdrawal_date"]) if "withdrawal_date" in p.columns else None
    pfs_event = p["pfs_event_at_cut"].to_numpy(bool)
    is_death = p["pfs_event_is_death"].to_numpy(bool)
    frames = []
    for paramcd, param, paramn, time_column, event_column in PARAMS:
        if time_column not in p.columns:
            continue
        time = p[time_column].to_numpy(float)
        event = p[event_column].to_numpy(bool)
        adt = rand + np.floor(time).astype("timedelta64[D]")
        gone = ~event & (withdrawal <= cut) if withdrawal is not None else np.zeros(len(p), bool)
        if paramcd == "OS":
            events = np.where(event, "DEATH", "")
            censored = np.where(gone, "WITHDRAWAL BY SUBJECT", "ALIVE AT DATA CUT")
            dates = np.full(len(p), "DATE LAST KNOWN ALIVE", dtype=object)
        else:
            kind = "LOCAL PROGRESSION" if paramcd == "LC" else "DISEASE PROGRESSION"
            events = np.where(event & is_death & (paramcd == "PFS"), "DEATH", kind)
            censored = np.where(gone, "WITHDRAWAL BEFORE EVENT", "NO EVENT AT DATA CUT")
            dates = censoring_dates(adt, rand, scans, cut)
        if paramcd == "LC":  # censored at a PFS event that is not the lesion's progression
            competing = pfs_event & ~event
            censored = np.where(
                competing,
                np.where(is_death, "DEATH (COMPETING EVENT)", "PROGRESSION NOT OF THE LESION"),
                censored,
            )
            dates = np.where(
                competing, np.where(is_death, "DATE OF DEATH", "DATE OF PROGRESSION"), dates
            )
        frames.append(
            pd.DataFrame(
                {
                    **common,
                    "PARAMCD": paramcd,
                    "PARAM": param,
                    "PARAMN": float(paramn),
                    "AVAL": time + 1.0,
                    "AVALU": "DAYS",
                    "STARTDT": as_dates(rand),
                    "ADT": as_dates(adt),
                    "CNSR": np.where(event, 0.0, 1.0),
                    "EVNTDESC": np.where(event, events, censored),
                    "CNSDTDSC": np.where(event, "", dates),
                }
            )
        )
    tte = pd.concat(frames, ignore_index=True)
    order = np.lexsort((tte["PARAMN"].to_numpy(), tte["USUBJID"].to_numpy()))
    return tte.iloc[order]


def censoring_dates(
    adt: np.ndarray, rand: np.ndarray, scans: list[set], cut: np.datetime64
) -> np.ndarray:
    """What each PFS-like censoring date is: randomization (no assessment yet), the last
    tumour assessment, or (under continuous observation, without scans) the data cut or
    the withdrawal."""
    out = []
    for day, randomized, done in zip(adt, rand, scans, strict=True):
        if day == randomized:
            out.append("RANDOMIZATION (NO ASSESSMENT)")
        elif day in done:
            out.append("LAST TUMOR ASSESSMENT")
        else:
            out.append("DATA CUT" if day == cut else "WITHDRAWAL")
    return np.asarray(out, dtype=object)


def response_table(p: pd.DataFrame, common: dict) -> pd.DataFrame:
    best = p["best_response"].astype(str).to_numpy()
    when = days(p["response_date"]) if "response_date" in p.columns else None
    return pd.DataFrame(
        {
            **{k: common[k] for k in ("STUDYID", "USUBJID", "TRT01P", "TRT01PN", "STRATA1R")},
            "PARAMCD": "BOR",
            "PARAM": "Best Overall Response (RECIST 1.1)",
            "AVALC": best,
            "AVAL": [float(BEST_RESPONSE_CODES.get(b, np.nan)) for b in best],
            "ADT": as_dates(when) if when is not None else None,
        }
    )


def event_table(
    p: pd.DataFrame, adsl: pd.DataFrame, cut: np.datetime64, start: np.datetime64
) -> pd.DataFrame:
    """One row per adverse event with onset on or before the cut, in onset order."""
    cut_clock = int((cut - start).astype(int))
    rows = []
    for k in range(len(p)):
        onsets = p["ae_onset_days"].iloc[k]
        if onsets is None:
            continue
        kinds, grades, sources = (
            p[c].iloc[k] for c in ("ae_categories", "ae_grades", "ae_sources")
        )
        first = adsl["TRTSDT"].iloc[k]
        seq = 0
        for onset, kind, grade, source in zip(onsets, kinds, grades, sources, strict=True):
            if onset > cut_clock:
                continue
            seq += 1
            date = (start + np.timedelta64(int(onset), "D")).item()
            rows.append(
                {
                    "STUDYID": adsl["STUDYID"].iloc[k],
                    "USUBJID": adsl["USUBJID"].iloc[k],
                    "TRT01A": adsl["TRT01A"].iloc[k],
                    "TRT01AN": adsl["TRT01AN"].iloc[k],
                    "AESEQ": float(seq),
                    "AECAT": str(kind),
                    "ATOXGR": str(int(grade)),
                    "ATOXGRN": float(grade),
                    "ASTDT": date,
                    "ASTDY": float((date - first).days + 1) if first is not None else np.nan,
                    "TRTEMFL": "Y",
                    "ASRCTRT": str(source),
                }
            )
    columns = [v.name for v in dataset_variables("ADAE")]
    return pd.DataFrame(rows, columns=columns)


def write_adam(
    patients: pd.DataFrame,
    out: Path,
    *,
    replicate: int | None = None,
    start_date: dt.date,
    study_id: str = "STUDY",
    treatments: Mapping[str, str] | None = None,
    force: bool = False,
    cut: str | None = None,
) -> Path:
    """Write one replicate's data sets at the data cut `cut` (None: the cut that concluded
    it) into ``out/rep000_final/`` (``rep000_look1``, ...; XPT v5, Parquet, and
    ``define.csv``) and return that folder. The folder is written whole or not at all; an
    existing one is replaced only with `force` and only if it holds a ``define.csv``."""
    tables = adam_tables(
        patients,
        replicate,
        start_date=start_date,
        study_id=study_id,
        treatments=treatments,
        cut=cut,
    )
    chosen, _, cut = one_replicate(patients, replicate, cut)
    out = Path(out)
    target = out / folder_name(chosen, cut)
    if target.exists() and not (force and (target / "define.csv").is_file()):
        raise ScenarioError(
            f"{target}: exists; "
            + ("add force to replace it" if not force else "not a folder of ADaM data sets")
        )
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=out))
    try:
        for name, frame in tables.items():
            write_dataset(frame, staging / f"{name.lower()}.xpt", name)
            frame.to_parquet(staging / f"{name.lower()}.parquet", index=False)
        define_table(tables).to_csv(staging / "define.csv", index=False)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def write_dataset(frame: pd.DataFrame, path: Path, dataset: str) -> None:
    """One data set as SAS transport v5: labels, DATE9. on dates, text of <= 200 bytes."""
    import pyreadstat  # only here: reading Parquet or CSV needs no SAS library

    variables = {v.name: v for v in dataset_variables(dataset)}
    for name in frame.columns:
        if variables[name].kind == "char":
            longest = longest_bytes(frame[name])
            if len(frame) and longest > MAX_CHAR:
                raise ScenarioError(
                    f"{dataset}.{name}: a value of {longest} bytes; SAS transport v5 holds "
                    f"at most {MAX_CHAR} (shorten the text, e.g. the site or arm names)"
                )
    # a date variable with no date at all (no treatment block: no doses, no TRTSDT) would be
    # typed as text from its empty values, which SAS and pyreadstat refuse to read back under
    # DATE9.: written as numeric missing values, a SAS date's missing value
    empty = [n for n in frame.columns if variables[n].kind == "date" and frame[n].isna().all()]
    if empty:
        frame = frame.assign(**{n: np.full(len(frame), np.nan) for n in empty})
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=DATASET_LABELS[dataset],
        column_labels={name: variables[name].label for name in frame.columns},
        table_name=dataset,
        file_format_version=5,
        variable_format={n: "DATE9." for n in frame.columns if variables[n].kind == "date"},
    )


def write_replicates(
    patients: Path,
    out: Path,
    count: int,
    *,
    start_date: dt.date,
    study_id: str = "STUDY",
) -> list[Path]:
    """The data sets of the first `count` replicates of the patient table `patients` (a
    run's ``patients.parquet``), one folder per replicate and cut (``out/rep000_look1``,
    ``out/rep000_final``, ...; `cut_names`, `write_adam`); the folders written, in replicate
    and time order."""
    import pyarrow.parquet as pq

    replicates = pq.read_table(patients, columns=["replicate"]).column(0).to_numpy()
    chosen = sorted(int(r) for r in np.unique(replicates))[:count]
    if not chosen:
        return []
    table = pd.read_parquet(patients, filters=[("replicate", "in", chosen)])
    rows = {r: table[table["replicate"] == r] for r in chosen}
    return [
        write_adam(table, out, replicate=r, start_date=start_date, study_id=study_id, cut=cut)
        for r in chosen
        for cut in cut_names(rows[r])
    ]
