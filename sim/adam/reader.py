"""ADaM in: a sponsor's ADSL + ADTTE (+ ADRS) read, checked and turned into the project's
tables.

Each data set is a SAS transport file (v5 or v8), SAS7BDAT, Parquet or CSV, told apart by its
first bytes (the extension must agree). Variable names are matched in upper case, after the
mapping (standard name -> the sponsor's name) has renamed the sponsor's variables.

Read: ADSL USUBJID, SITEID, RANDDT, TRT01P / TRT01A, STRATA1R, DCUTDT, EOSDT, DCSREAS;
ADTTE USUBJID, PARAMCD, AVAL, AVALU (or the `unit` option), CNSR, STARTDT, ADT, EVNTDESC,
CNSDTDSC; ADRS USUBJID, PARAMCD, AVALC. CNSR = 0 is the event and 1 a censoring, as CDISC
codes it: the analysis table's ``event`` is CNSR == 0.

`analysis_table` gives the table `analyze` reads (patient_id, site, arm, stratum, time in
days, event, param); its time is AVAL in days, as a sponsor's ``Surv(AVAL, 1 - CNSR)``
takes it. `observed_table` gives the `--observed` table of the forecast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.adam import checks
from sim.adam.mapping import BEST_RESPONSE_CODES, CNSR_EVENT, check_mapping, unit_days
from sim.errors import ScenarioError

FORMATS = {".xpt": "xpt", ".sas7bdat": "sas7bdat", ".parquet": "parquet", ".pq": "parquet"}
FORMATS |= {".csv": "csv", ".txt": "csv"}
FORMAT_NAMES = {
    "xpt": "SAS transport (XPT)",
    "sas7bdat": "SAS7BDAT",
    "parquet": "Parquet",
    "csv": "CSV",
}
SAS7BDAT_MAGIC = bytes.fromhex("c2ea8160b31411cfbd92080009c7318c181f1011")  # bytes 12-31
SAS_EPOCH = np.datetime64("1960-01-01", "D")
DATES = {"ADSL": ("RANDDT", "DCUTDT", "EOSDT", "DTHDT"), "ADTTE": ("STARTDT", "ADT")}
DATES |= {"ADRS": ("ADT",)}
COPIED = ("TRT01P", "TRT01A", "STRATA1R")  # ADSL variables other data sets may repeat
HINT = "give an XPT, SAS7BDAT, Parquet or CSV file with one row per record"

DataInput = str | Path | pd.DataFrame


def detect_format(path: Path) -> str:
    """xpt, sas7bdat, parquet or csv, from the file's first bytes; ScenarioError if they
    disagree with a known extension or are none of these."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"HEADER RECORD*******LIB"):
        found = "xpt"
    elif head[12:32] == SAS7BDAT_MAGIC:
        found = "sas7bdat"
    elif head.startswith(b"PAR1"):
        found = "parquet"
    elif head and b"\x00" not in head:
        found = "csv"
    else:
        raise ScenarioError(
            f"{path}: {'empty' if not head else 'not a data set this reader knows'} ({HINT})"
        )
    claimed = FORMATS.get(path.suffix.lower())
    if claimed is not None and claimed != found:
        raise ScenarioError(
            f"{path}: named {path.suffix} but its content is {FORMAT_NAMES[found]}; rename "
            f"the file or give the {FORMAT_NAMES[claimed]} one"
        )
    return found


def read_dataset(source: DataInput, dataset: str) -> pd.DataFrame:
    """One data set with upper-case variable names and stripped text; ``attrs["sas"]`` says
    whether numbers in date variables are SAS dates (XPT, SAS7BDAT)."""
    if isinstance(source, pd.DataFrame):
        frame, sas, label = source.copy(), False, f"{dataset} (a data frame)"
    else:
        path = Path(source)
        label = f"{dataset} {path}"
        if not path.is_file():
            raise ScenarioError(f"{label}: no such file ({HINT})")
        kind = detect_format(path)
        frame, sas = read_file(path, kind, label), kind in ("xpt", "sas7bdat")
    upper = [str(c).strip().upper() for c in frame.columns]
    twice = sorted({c for c in upper if upper.count(c) > 1})
    if twice:
        raise ScenarioError(
            f"{label}: variables {', '.join(twice)} appear twice (names are matched in upper "
            "case); rename one"
        )
    frame.columns = upper
    if frame.empty:
        raise ScenarioError(f"{label}: no rows ({HINT})")
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: v.strip() if isinstance(v, str) else v)
    frame.attrs = {"sas": sas, "label": label}
    return frame


def read_file(path: Path, kind: str, label: str) -> pd.DataFrame:
    errors: tuple[type[BaseException], ...] = (ValueError, OSError)
    try:
        if kind in ("xpt", "sas7bdat"):
            import pyreadstat  # only here: Parquet and CSV need no SAS library

            errors += (pyreadstat.ReadstatError, pyreadstat.PyreadstatError)
            read = pyreadstat.read_xport if kind == "xpt" else pyreadstat.read_sas7bdat
            return read(str(path))[0]
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ScenarioError(f"{label}: the file is empty ({HINT})") from None
    except errors as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(
            f"{label}: not a readable {FORMAT_NAMES[kind]} file ({reason}); it may be "
            f"truncated ({HINT})"
        ) from exc


def renamed(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """The sponsor's variables under their standard names (a mapped variable replaces a
    standard one of the same name)."""
    present = {theirs: ours for ours, theirs in mapping.items() if theirs in frame.columns}
    if not present:
        return frame
    attrs = frame.attrs
    replaced = [ours for ours in present.values() if ours in frame.columns]
    frame = frame.drop(columns=[c for c in replaced if c not in present]).rename(columns=present)
    frame.attrs = attrs
    return frame


def parse_date(value: object, sas: bool) -> np.datetime64 | None:
    """A date from a date, datetime, ISO text, DATE9. text (02JAN2026) or, in a SAS file, a
    number of days since 1960-01-01; NaT for a missing one; None if not a date."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return np.datetime64("NaT", "D")
    if isinstance(value, (dt.date, pd.Timestamp, np.datetime64)):
        return np.datetime64(pd.Timestamp(value).date(), "D")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return SAS_EPOCH + np.timedelta64(int(np.floor(value)), "D") if sas else None
    text = str(value).strip()
    if text in ("", "."):
        return np.datetime64("NaT", "D")
    try:
        return np.datetime64(dt.date.fromisoformat(text[:10]), "D")
    except ValueError:
        pass
    try:
        return np.datetime64(dt.datetime.strptime(text, "%d%b%Y").date(), "D")
    except ValueError:
        return None


def parse_dates(frame: pd.DataFrame, dataset: str, problems: list[str]) -> pd.DataFrame:
    """The data set's date variables as datetime64[D]; a problem per variable with bad
    values."""
    for name in DATES.get(dataset, ()):
        if name not in frame.columns:
            continue
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            frame[name] = column.to_numpy("datetime64[ns]").astype("datetime64[D]")
            continue
        parsed = [parse_date(v, frame.attrs.get("sas", False)) for v in column.tolist()]
        bad = np.asarray([p is None for p in parsed])
        if bad.any():
            shown = sorted({str(v) for v in column[bad]})[: checks.SHOWN]
            problems.append(
                f"{dataset}.{name}: {', '.join(map(repr, shown))} for "
                f"{checks.records(frame, bad)} is not a date: write YYYY-MM-DD "
                "(or DATE9., e.g. 02JAN2026; a SAS date in XPT or SAS7BDAT)"
            )
        frame[name] = np.asarray(
            [np.datetime64("NaT", "D") if p is None else p for p in parsed], dtype="datetime64[D]"
        )
    return frame


@dataclass(frozen=True)
class AdamData:
    """ADSL, ADTTE and ADRS checked, under standard names, dates as datetime64[D], ADTTE's
    AVAL in days as ``time_days``; `cut` the data cut date (DCUTDT or the cut option)."""

    adsl: pd.DataFrame
    adtte: pd.DataFrame
    adrs: pd.DataFrame | None
    cut: dt.date | None
    arms: Mapping[str, str] | None  # treatment -> arm, when the arms option is a mapping


def read_adam(
    adsl: DataInput,
    adtte: DataInput,
    *,
    adrs: DataInput | None = None,
    mapping: Mapping[str, str] | None = None,
    unit: str | None = None,
    arms: Mapping[str, str] | Collection[str] | None = None,
    cut: dt.date | None = None,
    arm_variable: str | None = None,
) -> AdamData:
    """Read and check ADSL and ADTTE (and ADRS); raise one ScenarioError listing every
    broken rule, each naming the data set, variable, subjects and fix.

    `mapping`: standard name -> the sponsor's name. `unit`: AVAL's unit where AVALU is absent
    or blank (days, weeks, months, years). `arms`: the known treatments (values of
    `arm_variable`, or of both TRT01P and TRT01A when it is None), or a mapping treatment ->
    project arm (control, experimental). `cut`: the data cut date, if ADSL has no DCUTDT."""
    names = check_mapping(mapping)
    frames = {"ADSL": read_dataset(adsl, "ADSL"), "ADTTE": read_dataset(adtte, "ADTTE")}
    if adrs is not None:
        frames["ADRS"] = read_dataset(adrs, "ADRS")
    unused = [
        f"{ours} -> {theirs}"
        for ours, theirs in names.items()
        if not any(theirs in f.columns for f in frames.values())
    ]
    frames = {k: renamed(f, names) for k, f in frames.items()}
    if unused:
        raise ScenarioError(
            f"mapping {', '.join(unused)}: no such variable in {', '.join(frames)}; give the "
            "name your data set uses"
        )
    required = {"ADSL": ("USUBJID",), "ADTTE": ("USUBJID", "PARAMCD", "AVAL", "CNSR")}
    required |= {"ADRS": ("USUBJID", "PARAMCD", "AVALC")}
    problems: list[str] = []
    for name, frame in frames.items():
        problems += checks.check_required(frame, name, required[name], "to read it")
    checks.raise_problems(problems)
    for name, frame in frames.items():
        frame["USUBJID"] = frame["USUBJID"].astype(str).str.strip()
        if "PARAMCD" in frame.columns:
            frame["PARAMCD"] = frame["PARAMCD"].astype(str).str.strip()
        for copied in COPIED:
            if copied in frame.columns:
                frame[copied] = frame[copied].fillna("").astype(str)
        parse_dates(frame, name, problems)
    s, t = frames["ADSL"], frames["ADTTE"]
    problems += checks.check_subject_ids(s)
    problems += checks.check_unique(t, "ADTTE")
    problems += checks.check_in_adsl(t, "ADTTE", s)
    problems += checks.check_cnsr(t, "ADTTE")
    problems += checks.check_copies(t, "ADTTE", s, COPIED)
    time_days, exact = aval_in_days(t, unit, problems)
    if not any(p.startswith("ADTTE.CNSR") or ".AVALU" in p for p in problems):
        origin = starts(t, s)
        problems += checks.check_aval(time_days, t, "ADTTE", origin, exact)
    t["time_days"] = time_days
    if "ADRS" in frames:
        problems += checks.check_unique(frames["ADRS"], "ADRS")
        problems += checks.check_in_adsl(frames["ADRS"], "ADRS", s)
    translate = arms if isinstance(arms, Mapping) else None
    if arms is not None:
        known = set(arms)
        for variable in (arm_variable,) if arm_variable else ("TRT01P", "TRT01A"):
            if variable in s.columns:
                problems += checks.check_arms(s[variable], s["USUBJID"], variable, known)
    cut = cut if cut is not None else cut_date(s, problems)
    if cut is not None:
        for name, frame in frames.items():
            for date in DATES.get(name, ()):
                if date in frame.columns and date != "DCUTDT":
                    what = "randomization" if date == "RANDDT" else date
                    problems += checks.check_before_cut(frame, date, name, cut, what)
    checks.raise_problems(problems)
    return AdamData(s, t, frames.get("ADRS"), cut, translate)


def aval_in_days(
    tte: pd.DataFrame, unit: str | None, problems: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(AVAL in days, whether the row's unit is days) from AVALU or the `unit` option."""
    aval = pd.to_numeric(tte["AVAL"], errors="coerce").to_numpy(float)
    stated = unit_days(unit) if unit is not None else None
    if unit is not None and stated is None:
        raise ScenarioError(f"unit {unit!r}: use days, weeks, months or years")
    units = (
        tte["AVALU"].fillna("").astype(str).to_numpy()
        if "AVALU" in tte.columns
        else np.full(len(tte), "")
    )
    per = np.asarray([unit_days(u) if u else stated for u in units], dtype=object)
    blank = np.asarray([u == "" for u in units]) & (stated is None)
    unknown = np.asarray([p is None for p in per]) & ~blank
    if blank.any():
        problems.append(
            f"ADTTE.AVALU: no unit for {checks.records(tte, blank)}"
            f"{'' if 'AVALU' in tte.columns else ' (no AVALU variable)'}: state AVAL's unit "
            "with the unit option (e.g. unit='days') or give AVALU"
        )
    if unknown.any():
        values = sorted(set(units[unknown]))[: checks.SHOWN]
        problems.append(
            f"ADTTE.AVALU: {', '.join(map(repr, values))} for "
            f"{checks.records(tte, unknown)}: not a unit this reader knows; use "
            "DAYS, WEEKS, MONTHS or YEARS"
        )
    factor = np.asarray([p if p is not None else np.nan for p in per], dtype=float)
    return aval * factor, factor == 1.0


def starts(tte: pd.DataFrame, adsl: pd.DataFrame) -> np.ndarray | None:
    """Each ADTTE row's origin: STARTDT, or ADSL's RANDDT where ADTTE has no STARTDT."""
    if "STARTDT" in tte.columns:
        return tte["STARTDT"].to_numpy("datetime64[D]")
    if "RANDDT" in adsl.columns:
        lookup = adsl.drop_duplicates("USUBJID").set_index("USUBJID")["RANDDT"]
        return lookup.reindex(tte["USUBJID"]).to_numpy("datetime64[D]")
    return None


def cut_date(adsl: pd.DataFrame, problems: list[str]) -> dt.date | None:
    """ADSL's DCUTDT: one date for every subject, or None if there is none."""
    if "DCUTDT" not in adsl.columns:
        return None
    values = np.unique(adsl["DCUTDT"].dropna().to_numpy("datetime64[D]"))
    values = values[~np.isnat(values)]
    if len(values) > 1:
        problems.append(
            f"ADSL.DCUTDT: {len(values)} different data cut dates ({values[0]} ... "
            f"{values[-1]}): give the data sets of one cut, or state it with the cut option"
        )
        return None
    return values[0].item() if len(values) else None


def arm_values(data: AdamData, variable: str) -> pd.Series:
    """ADSL's treatment variable, translated by the arms mapping when there is one."""
    values = data.adsl[variable].astype(str)
    return values.map(lambda v: data.arms.get(v, v)) if data.arms else values


def analysis_table(
    data: AdamData,
    param: str = "PFS",
    *,
    arm: str = "TRT01P",
    strata: str | None = "STRATA1R",
) -> pd.DataFrame:
    """One row per subject with an ADTTE record of PARAMCD `param`: patient_id, site, arm,
    stratum (if `strata`), time (AVAL in days), event (CNSR == 0), param, time_unit.

    This is the table `analyze` reads (``--time time --event event --arm arm --strata
    stratum``)."""
    s = data.adsl
    problems = checks.check_required(
        s, "ADSL", [arm] + ([strata] if strata else []), "for the analysis"
    )
    checks.raise_problems(problems)
    rows = data.adtte[data.adtte["PARAMCD"] == param]
    if rows.empty:
        found = sorted(data.adtte["PARAMCD"].unique())
        raise ScenarioError(
            f"ADTTE.PARAMCD: no records of {param!r} (the data set has {', '.join(found)}); "
            "name the parameter to analyze"
        )
    lookup = s.set_index("USUBJID")
    ids = rows["USUBJID"]
    table = pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "site": lookup["SITEID"].reindex(ids).astype(str).to_numpy()
            if "SITEID" in s.columns
            else "",
            "arm": arm_values(data, arm).set_axis(s["USUBJID"]).reindex(ids).to_numpy(),
        }
    )
    if strata:
        table["stratum"] = lookup[strata].reindex(ids).astype(str).to_numpy()
    table["time"] = rows["time_days"].to_numpy(float)
    table["event"] = pd.to_numeric(rows["CNSR"]).to_numpy() == CNSR_EVENT
    table["param"] = param
    table["time_unit"] = "days"
    return table


def iso(dates: np.ndarray) -> list[str]:
    return ["" if np.isnat(d) else str(d) for d in dates.astype("datetime64[D]")]


def observed_table(
    data: AdamData,
    pfs: str = "PFS",
    *,
    arm: str | None = "TRT01P",
    sites: Mapping[str, str] | None = None,
    strata: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The forecast's `--observed` table (strings, one row per randomized subject):
    patient_id, site, stratum, randomized, arm, event_date, event_type, dropout_date,
    last_assessment, as of the data cut.

    The PFS event (CNSR = 0) is a death when EVNTDESC says DEATH, or ADSL's DTHDT or an OS
    event falls on its date; a progression otherwise. A dropout is an EOSDT whose DCSREAS is
    not a death, for a subject without a PFS event. last_assessment is the PFS date (the
    censoring date: the last assessment; the event date for an event), or RANDDT for a
    subject without a PFS record. `arm` None (or an
    ADSL without it) writes a blinded table; arms must be control and experimental, or be
    mapped to them by the arms option. `sites` and `strata` recode SITEID and STRATA1R
    values to the scenario's site and stratum names (values not in them are kept)."""
    s = data.adsl
    need = ["SITEID", "STRATA1R", "RANDDT"]
    problems = checks.check_required(s, "ADSL", need, "for the forecast")
    problems += checks.check_required(data.adtte, "ADTTE", ["ADT"], "for the forecast")
    checks.raise_problems(problems)
    s = s[~np.isnat(s["RANDDT"].to_numpy("datetime64[D]"))]
    ids = s["USUBJID"]
    tte = data.adtte.set_index("USUBJID")
    pfs_rows = data.adtte[data.adtte["PARAMCD"] == pfs].set_index("USUBJID")
    if pfs_rows.empty:
        raise ScenarioError(
            f"ADTTE.PARAMCD: no records of {pfs!r} (the data set has "
            f"{', '.join(sorted(data.adtte['PARAMCD'].unique()))}); name the PFS parameter"
        )
    undated = np.isnat(pfs_rows["ADT"].to_numpy("datetime64[D]"))
    if undated.any():
        raise ScenarioError(
            f"ADTTE.ADT: empty for {checks.subjects(pfs_rows.index, undated)} ({pfs}): the "
            "forecast needs the date of every event and of every last assessment"
        )
    rand = s["RANDDT"].to_numpy("datetime64[D]")
    adt = pfs_rows["ADT"].reindex(ids).to_numpy("datetime64[D]")
    cnsr = pd.to_numeric(pfs_rows["CNSR"].reindex(ids)).to_numpy()
    event = (cnsr == CNSR_EVENT) & ~np.isnat(adt)  # NaT: randomized, no PFS record yet
    death = np.zeros(len(s), dtype=bool)
    if "EVNTDESC" in pfs_rows.columns:
        text = pfs_rows["EVNTDESC"].reindex(ids).fillna("").astype(str).str.upper()
        death |= text.str.contains("DEATH|DIED").to_numpy()
    if "DTHDT" in s.columns:
        death |= s["DTHDT"].to_numpy("datetime64[D]") == adt
    os_rows = tte[tte["PARAMCD"] == "OS"]
    if not os_rows.empty:
        os_event = pd.to_numeric(os_rows["CNSR"]).reindex(ids).to_numpy() == CNSR_EVENT
        death |= os_event & (os_rows["ADT"].reindex(ids).to_numpy("datetime64[D]") == adt)
    death &= event
    stop = (
        s["EOSDT"].to_numpy("datetime64[D]")
        if "EOSDT" in s.columns
        else np.full(len(s), np.datetime64("NaT"))
    )
    died = np.zeros(len(s), dtype=bool)
    if "DCSREAS" in s.columns:
        died = s["DCSREAS"].fillna("").astype(str).str.upper().str.contains("DEATH|DIED").to_numpy()
    dropout = ~np.isnat(stop) & ~died & ~event
    last = np.where(np.isnat(adt), rand, adt)
    if arm is not None and arm in s.columns:
        arms = arm_values(data, arm).to_numpy()
        unknown = sorted(set(arms) - {"control", "experimental"})
        if unknown:
            raise ScenarioError(
                f"ADSL.{arm}: {', '.join(map(repr, unknown))}: the forecast's arms are "
                f"control and experimental; map each treatment with the arms option, e.g. "
                f"arms={{{unknown[0]!r}: 'experimental', ...}}"
            )
    else:
        arms = np.full(len(s), "")
    return pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "site": s["SITEID"].astype(str).map(lambda v: (sites or {}).get(v, v)).to_numpy(),
            "stratum": s["STRATA1R"].astype(str).map(lambda v: (strata or {}).get(v, v)).to_numpy(),
            "randomized": iso(rand),
            "arm": arms,
            "event_date": iso(np.where(event, adt, np.datetime64("NaT"))),
            "event_type": np.where(event, np.where(death, "death", "progression"), ""),
            "dropout_date": iso(np.where(dropout, stop, np.datetime64("NaT"))),
            "last_assessment": iso(last),
        }
    )


def response_table(
    data: AdamData, param: str = "BOR", *, arm: str = "TRT01P", strata: str = "STRATA1R"
) -> pd.DataFrame:
    """One row per subject with an ADRS record of PARAMCD `param`: patient_id, arm, stratum
    (ADSL's `strata`), best_response (CR, PR, SD, PD, NE), responder (CR or PR)."""
    if data.adrs is None:
        raise ScenarioError("ADRS: not given; give the ADRS data set for the response analysis")
    rows = data.adrs[data.adrs["PARAMCD"] == param]
    if rows.empty:
        raise ScenarioError(f"ADRS.PARAMCD: no records of {param!r}; name the parameter")
    best = rows["AVALC"].fillna("").astype(str).str.upper()
    bad = ~best.isin(set(BEST_RESPONSE_CODES)).to_numpy()
    if bad.any():
        raise ScenarioError(
            f"ADRS.AVALC: {', '.join(sorted(set(best[bad])))} for "
            f"{checks.subjects(rows['USUBJID'], bad)}: best overall response must be one of "
            f"{', '.join(BEST_RESPONSE_CODES)} (map NON-CR/NON-PD to SD, missing to NE)"
        )
    s = data.adsl.set_index("USUBJID")
    ids = rows["USUBJID"]
    return pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "arm": arm_values(data, arm).set_axis(data.adsl["USUBJID"]).reindex(ids).to_numpy(),
            "stratum": s[strata].reindex(ids).astype(str).to_numpy() if strata in s.columns else "",
            "best_response": best.to_numpy(),
            "responder": best.isin(["CR", "PR"]).to_numpy(),
        }
    )
