"""ADaM data sets given to a command: found by content, read with the user's options, and
turned into the table `analyze` reads or the `--observed` table of a forecast.

A source is a folder (every data set in it, e.g. ``results/adam/rep000_final``) or the data
set files themselves (ADSL and ADTTE, ADRS optional), in any order and any of the reader's
formats. Each file's role is told by its variables, after the mapping: ADTTE has PARAMCD and
CNSR, ADRS PARAMCD and AVALC, ADAE AESEQ, ADSL USUBJID without PARAMCD. A folder holding one
data set in several formats (the writer's ``adsl.xpt`` and ``adsl.parquet``) is read from the
first of XPT, SAS7BDAT, Parquet, CSV.

`AdamOptions` holds what the user may say about the data: the mapping (standard name -> their
name), the parameter (PARAMCD), the treatment and stratification variables, and recodes of
their values to the project's arms (control, experimental) and the scenario's site and
stratum names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.adam import checks
from sim.adam.mapping import check_mapping
from sim.adam.reader import (
    AdamData,
    analysis_table,
    detect_format,
    observed_table,
    read_adam,
    response_table,
)
from sim.errors import ScenarioError

SUFFIXES = (".xpt", ".sas7bdat", ".parquet", ".pq", ".csv")
PREFERRED = ("xpt", "sas7bdat", "parquet", "csv")  # a folder's data set in several formats
ARMS = ("control", "experimental")
AUTO = "auto"  # the stratification variable: STRATA1R when ADSL has it

SourceLike = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class AdamOptions:
    """What the user says about their ADaM data (every field optional).

    mapping: standard name -> their variable (``{"TRT01P": "ARM"}``); paramcd: the ADTTE
    parameter analysed or forecast (PFS, OS, or any PARAMCD); arm: the ADSL treatment
    variable (TRT01P, or TRT01A); strata: the ADSL stratification variable (``"auto"``:
    STRATA1R if present; None: unstratified); arm_values: treatment -> project arm
    (``{"Chemo": "control", "Chemo + RT": "experimental"}``); site_values and
    stratum_values: SITEID and stratum values -> the scenario's names (forecast); unit:
    AVAL's unit where AVALU is absent."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    paramcd: str = "PFS"
    arm: str = "TRT01P"
    strata: str | None = AUTO
    arm_values: Mapping[str, str] | None = None
    site_values: Mapping[str, str] | None = None
    stratum_values: Mapping[str, str] | None = None
    unit: str | None = None


def column_names(path: Path) -> list[str]:
    """A data set's variable names, upper case, without reading its rows."""
    kind = detect_format(path)
    try:
        if kind in ("xpt", "sas7bdat"):
            import pyreadstat

            read = pyreadstat.read_xport if kind == "xpt" else pyreadstat.read_sas7bdat
            names = read(str(path), metadataonly=True)[1].column_names
        elif kind == "parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
        else:
            names = list(pd.read_csv(path, nrows=0).columns)
    except Exception as exc:  # pyreadstat, pyarrow and pandas each have their own errors
        raise ScenarioError(
            f"{path}: not a readable data set ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); give an XPT, "
            "SAS7BDAT, Parquet or CSV file"
        ) from exc
    return [str(n).strip().upper() for n in names]


def role_of(names: list[str], mapping: Mapping[str, str]) -> str | None:
    """ADSL, ADTTE, ADRS, ADAE or None, from the variables (after the mapping)."""
    theirs = {v: k for k, v in mapping.items()}
    found = {theirs.get(n, n) for n in names}
    if "PARAMCD" in found and "CNSR" in found:
        return "ADTTE"
    if "PARAMCD" in found and "AVALC" in found:
        return "ADRS"
    if "AESEQ" in found or "AETERM" in found:
        return "ADAE"
    if "USUBJID" in found and "PARAMCD" not in found:
        return "ADSL"
    return None


def source_paths(source: SourceLike) -> list[Path]:
    if isinstance(source, str | Path):
        return [Path(source)]
    return [Path(s) for s in source]


def is_adam(source: SourceLike, mapping: Mapping[str, str] | None = None) -> bool:
    """True for a folder, several files, or one file with a USUBJID (after the mapping):
    what the commands read as ADaM rather than as the project's own table."""
    paths = source_paths(source)
    if len(paths) != 1 or paths[0].is_dir():
        return True
    path = paths[0]
    if not path.is_file():
        return False
    try:
        names = set(column_names(path))
    except ScenarioError:  # unreadable: the patient table's reader says why
        return False
    usubjid = check_mapping(mapping).get("USUBJID", "USUBJID")
    return usubjid in names


def find_datasets(source: SourceLike, mapping: Mapping[str, str] | None) -> dict[str, Path]:
    """{"ADSL": path, "ADTTE": path[, "ADRS": path]} from the folder or files of `source`."""
    names = check_mapping(mapping)
    paths = source_paths(source)
    found: dict[str, list[Path]] = {}
    for path in paths:
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            for member in members:
                role = role_of(column_names(member), names)
                if role is not None:
                    found.setdefault(role, []).append(member)
        elif path.is_file():
            role = role_of(column_names(path), names)
            if role is None:
                raise ScenarioError(
                    f"{path}: not an ADSL, ADTTE or ADRS data set (ADSL has USUBJID and no "
                    "PARAMCD, ADTTE has PARAMCD and CNSR, ADRS PARAMCD and AVALC); if your "
                    "variables are called otherwise, give the mapping (--adam-map "
                    "CNSR=YOURNAME)"
                )
            found.setdefault(role, []).append(path)
        else:
            raise ScenarioError(f"{path}: no such file or folder (give ADSL and ADTTE)")
    chosen = {role: preferred(role, files) for role, files in found.items()}
    missing = [role for role in ("ADSL", "ADTTE") if role not in chosen]
    if missing:
        where = ", ".join(map(str, paths))
        own = [p / "patients.parquet" for p in paths if (p / "patients.parquet").is_file()]
        raise ScenarioError(
            f"{where}: no {' and no '.join(missing)} data set found (found "
            f"{', '.join(sorted(chosen)) or 'none'}); give ADSL and ADTTE, as files or the "
            "folder holding them"
            + (f" (for the simulator's own table, give {own[0]})" if own else "")
        )
    return {role: chosen[role] for role in ("ADSL", "ADTTE", "ADRS") if role in chosen}


def preferred(role: str, files: list[Path]) -> Path:
    """The one file of a data set: the first format of PREFERRED; two of one format is an
    error (which one is meant?)."""
    kinds = {f: detect_format(f) for f in files}
    for kind in PREFERRED:
        same = [f for f in files if kinds[f] == kind]
        if len(same) > 1:
            raise ScenarioError(
                f"{role}: {len(same)} files ({', '.join(map(str, same))}); give the one to "
                "read as a file, not the folder"
            )
        if same:
            return same[0]
    raise ScenarioError(f"{role}: no readable file among {', '.join(map(str, files))}")


def load_adam(
    source: SourceLike,
    options: AdamOptions,
    cut: dt.date | None = None,
    two_arms: bool = True,
) -> AdamData:
    """The data sets of `source`, read and checked (`read_adam`), the treatment variable's
    values too: each a known arm (the keys of `arm_values`), or, without `arm_values` and
    with `two_arms`, at most two treatments."""
    files = find_datasets(source, options.mapping)
    data = read_adam(
        files["ADSL"],
        files["ADTTE"],
        adrs=files.get("ADRS"),
        mapping=options.mapping,
        unit=options.unit,
        arms=options.arm_values,
        cut=cut,
        arm_variable=options.arm,
    )
    if two_arms and options.arm_values is None and options.arm in data.adsl.columns:
        treatments = data.adsl[options.arm].astype(str)
        counts = treatments.value_counts()
        if len(counts) > 2:
            known = [a for a in ARMS if a in counts.index]
            known = known if len(known) == 2 else list(counts.index[:2])
            others = [t for t in counts.index if t not in known]
            checks.raise_problems(
                [
                    f"ADSL.{options.arm}: {', '.join(map(repr, others))} for "
                    f"{checks.subjects(data.adsl['USUBJID'], treatments.isin(others).to_numpy())}"
                    f": a third treatment (the analysis compares two arms: "
                    f"{', '.join(map(repr, known))}); drop these subjects, or name the two "
                    "arms with the arm values option (--arm-values "
                    f"'{known[0]}=control,{known[1]}=experimental'; arm_values={{...}} in "
                    "Python), which refuses any other treatment"
                ]
            )
    return data


def strata_variable(data: AdamData, options: AdamOptions) -> str | None:
    """The ADSL stratification variable: `options.strata`, STRATA1R under ``"auto"`` when
    ADSL has it."""
    if options.strata == AUTO:
        return "STRATA1R" if "STRATA1R" in data.adsl.columns else None
    return options.strata


def is_response(data: AdamData, paramcd: str) -> bool:
    """`paramcd` is an ADRS parameter (BOR) and not an ADTTE one."""
    in_adrs = data.adrs is not None and paramcd in set(data.adrs["PARAMCD"])
    return in_adrs and paramcd not in set(data.adtte["PARAMCD"])


def adam_analysis_table(
    source: SourceLike, options: AdamOptions
) -> tuple[pd.DataFrame, str | None, str]:
    """(the `analysis_table` of `options.paramcd`, or its `response_table` for an ADRS
    parameter such as BOR; its stratum column or None; a one-line description of the source
    for the printed analysis)."""
    data = load_adam(source, options)
    strata = strata_variable(data, options)
    if is_response(data, options.paramcd):
        table = response_table(data, options.paramcd, arm=options.arm, strata=strata or "")
    else:
        table = analysis_table(data, options.paramcd, arm=options.arm, strata=strata)
    files = find_datasets(source, options.mapping)
    where = ", ".join(p.name for p in files.values())
    folders = {str(p.parent) for p in files.values()}
    described = (
        (f"ADaM {folders.pop()}: {where}" if len(folders) == 1 else f"ADaM {where}")
        + f"; PARAMCD {options.paramcd}"
        + (f", strata {strata}" if strata else ", unstratified")
    )
    return table, ("stratum" if strata else None), described


class AdamObserved:
    """ADaM data as a forecast's observed trial: what `sim.conduct.observed.read_observed`
    takes in place of a path (its `observed_frame` gives the ``--observed`` table). The
    data sets are read and checked when the object is made, so bad data stop a forecast
    before anything is written."""

    def __init__(self, source: SourceLike, options: AdamOptions) -> None:
        self.options = options
        self.files = find_datasets(source, options.mapping)
        self.data = load_adam(source, options, two_arms=False)  # arms: the scenario's

    def __str__(self) -> str:
        names = ", ".join(str(p) for p in self.files.values())
        return f"ADaM {names} (PARAMCD {self.options.paramcd})"

    @property
    def cut(self) -> dt.date | None:
        """ADSL's data cut date (DCUTDT), if it has one."""
        return self.data.cut

    def observed_frame(
        self, sites: Sequence[str], strata: Sequence[str], as_of: dt.date
    ) -> pd.DataFrame:
        """The ``--observed`` table as of the data cut, after checking the cut against
        `as_of` and ADSL's sites, strata and arms against the scenario's `sites` and
        `strata`."""
        data, options = self.data, self.options
        if data.cut is not None and data.cut != as_of:
            raise ScenarioError(
                f"as of {as_of}: ADSL.DCUTDT is {data.cut}: the data sets are current to "
                f"their data cut; forecast as of it (--as-of {data.cut}, or leave --as-of "
                "out)"
            )
        if data.cut is None:  # the cut is the as-of date: nothing may come after it
            data = load_adam(list(self.files.values()), options, cut=as_of, two_arms=False)
        strata_name = strata_variable(data, options) or "STRATA1R"
        s = data.adsl
        problems = checks.check_required(
            s, "ADSL", ["SITEID", strata_name, "RANDDT"], "for the forecast"
        )
        checks.raise_problems(problems)
        if strata_name != "STRATA1R":
            s = s.assign(STRATA1R=s[strata_name].astype(str))
            data = AdamData(s, data.adtte, data.adrs, data.cut, data.arms)
        problems += known_values(s, "SITEID", options.site_values, sites, "site", "--site-values")
        problems += known_values(
            s, "STRATA1R", options.stratum_values, strata, "stratum", "--stratum-values"
        )
        arm = options.arm if options.arm in s.columns else None
        if arm is not None:
            values = s[arm].fillna("").astype(str).str.strip()
            if (values == "").all():  # no treatment shown: a blinded table
                arm = None
            else:
                problems += known_values(s, arm, options.arm_values, ARMS, "arm", "--arm-values")
        checks.raise_problems(problems)
        return observed_table(
            data,
            options.paramcd,
            arm=arm,
            sites=options.site_values,
            strata=options.stratum_values,
        )


def known_values(
    adsl: pd.DataFrame,
    variable: str,
    recode: Mapping[str, str] | None,
    known: Sequence[str],
    what: str,
    option: str,
) -> list[str]:
    """A problem if a value of ADSL's `variable` (after `recode`) is not one of `known`."""
    values = adsl[variable].astype(str).map(lambda v: (recode or {}).get(v, v))
    unknown = ~values.isin(set(known)).to_numpy()
    if not unknown.any():
        return []
    first = sorted(adsl.loc[unknown, variable].astype(str).unique())
    return [
        f"ADSL.{variable}: {', '.join(map(repr, first[: checks.SHOWN]))} for "
        f"{checks.subjects(adsl['USUBJID'], unknown)}: not a {what} of the scenario "
        f"({', '.join(map(repr, known))}); recode it with {option} "
        f"'{first[0]}={known[0]}' or fix the value"
    ]


def parse_pairs(text: str | Sequence[str] | None, option: str) -> dict[str, str]:
    """``A=B,C=D`` (or a list of such strings, as a repeated option gives) as {A: B, C: D};
    one message for a pair without '='."""
    if text is None:
        return {}
    parts = [text] if isinstance(text, str) else list(text)
    out: dict[str, str] = {}
    for part in parts:
        for pair in str(part).split(","):
            if not pair.strip():
                continue
            if "=" not in pair:
                raise ScenarioError(
                    f"{option} {part!r}: {pair.strip()!r} is not NAME=VALUE; write e.g. "
                    f"{option} TRT01P=ARM,STRATA1R=STRAT1"
                )
            key, value = pair.split("=", 1)
            out[key.strip()] = value.strip()
    return out
