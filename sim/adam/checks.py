"""The rules ADaM data must meet before the project uses them, as `check_*` functions.

Each returns a list of problems (empty: fine); a problem names the data set, the variable,
the subjects at fault (USUBJID) and the fix. `raise_problems` turns them into one
ScenarioError, so a sponsor sees every broken rule at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import numpy as np
import pandas as pd

from sim.adam.mapping import CNSR_CENSORED, CNSR_EVENT
from sim.errors import ScenarioError

SHOWN = 5  # subjects named in one problem


def subjects(ids: pd.Series | np.ndarray, mask: np.ndarray) -> str:
    """'USUBJID A-1, A-2 and 3 more' for the rows in `mask`."""
    chosen = list(dict.fromkeys(str(i) for i in np.asarray(ids)[mask]))
    more = len(chosen) - SHOWN
    head = ", ".join(chosen[:SHOWN])
    return f"USUBJID {head}" + (f" and {more} more" if more > 0 else "")


def records(frame: pd.DataFrame, mask: np.ndarray) -> str:
    """As `subjects`, with the parameter of each row where the data set has PARAMCD:
    'USUBJID A-1 (PFS), A-1 (OS)'."""
    ids = frame["USUBJID"].astype(str)
    if "PARAMCD" in frame.columns:
        ids = ids + " (" + frame["PARAMCD"].astype(str) + ")"
    return subjects(ids, mask)


def raise_problems(problems: list[str], label: str = "ADaM data") -> None:
    if problems:
        raise ScenarioError(f"{label}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))


def check_required(
    frame: pd.DataFrame, dataset: str, names: Collection[str], purpose: str
) -> list[str]:
    """Variables `names` present in the data set."""
    missing = [n for n in names if n not in frame.columns]
    if not missing:
        return []
    example = missing[0]
    return [
        f"{dataset}: no variable {', '.join(missing)} (needed {purpose}); the data set has "
        f"{', '.join(map(str, frame.columns[:20]))}{' ...' if len(frame.columns) > 20 else ''}"
        f"; if yours is called otherwise, map it: --adam-map {example}=YOURNAME (in Python "
        f"adam_map={{'{example}': 'YOURNAME'}}, read_adam's mapping)"
    ]


def check_subject_ids(adsl: pd.DataFrame) -> list[str]:
    """ADSL: one row per subject, no empty USUBJID."""
    ids = adsl["USUBJID"]
    out = []
    empty = (ids == "").to_numpy()
    if empty.any():
        out.append(
            f"ADSL.USUBJID: empty on {int(empty.sum())} row(s) (rows "
            f"{', '.join(str(i + 1) for i in np.flatnonzero(empty)[:SHOWN])}): give every "
            "subject an id"
        )
    twice = ids.duplicated(keep=False).to_numpy() & ~empty
    if twice.any():
        out.append(
            f"ADSL.USUBJID: more than one row for {subjects(ids, twice)}: ADSL has one row "
            "per subject (drop the repeated rows)"
        )
    return out


def check_unique(frame: pd.DataFrame, dataset: str) -> list[str]:
    """One row per USUBJID and PARAMCD."""
    twice = frame.duplicated(["USUBJID", "PARAMCD"], keep=False).to_numpy()
    if not twice.any():
        return []
    params = sorted(frame.loc[twice, "PARAMCD"].astype(str).unique())
    return [
        f"{dataset}: more than one row of PARAMCD {', '.join(params)} for "
        f"{records(frame, twice)}: one row per subject and parameter (filter the analysis "
        "records, e.g. on an ANL01FL flag, before reading)"
    ]


def check_in_adsl(frame: pd.DataFrame, dataset: str, adsl: pd.DataFrame) -> list[str]:
    """Every subject of `frame` has its ADSL row."""
    ids = frame["USUBJID"].drop_duplicates()
    outside = ~ids.isin(set(adsl["USUBJID"])).to_numpy()
    if not outside.any():
        return []
    return [
        f"{dataset}.USUBJID: not in ADSL: {subjects(ids, outside)}; every "
        "subject needs its ADSL row (give the matching ADSL, or drop these rows)"
    ]


def check_cnsr(frame: pd.DataFrame, dataset: str) -> list[str]:
    """CNSR is 0 (event) or 1 (censored), and does not look like an event flag."""
    cnsr = pd.to_numeric(frame["CNSR"], errors="coerce")
    bad = ~cnsr.isin([CNSR_EVENT, CNSR_CENSORED]).to_numpy()
    if bad.any():
        values = sorted(set(map(str, frame.loc[bad, "CNSR"].tolist())))[:SHOWN]
        return [
            f"{dataset}.CNSR: {', '.join(values)} for {records(frame, bad)}: CNSR "
            "must be 0 (event) or 1 (censored), as CDISC codes it; recode censoring reasons "
            "2, 3, ... to 1 (the reason stays in CNSDTDSC) and give missing ones a value"
        ]
    if "CNSDTDSC" in frame.columns:
        described = (frame["CNSDTDSC"].astype(str).str.strip() != "").to_numpy()
        event = (cnsr == CNSR_EVENT).to_numpy()
        if described.any() and event.any() and (described == event).all():
            return [
                f"{dataset}.CNSR: every row with CNSR = 0 has a censoring date description "
                "(CNSDTDSC) and no row with CNSR = 1 has one: CNSR looks like an event flag "
                "(1 = event); CDISC's CNSR is 0 for the event, 1 for a censoring (recode it "
                "as 1 - CNSR)"
            ]
    return []


def check_aval(
    aval_days: np.ndarray,
    frame: pd.DataFrame,
    dataset: str,
    origin: np.ndarray | None,
    exact_days: np.ndarray,
) -> list[str]:
    """AVAL a number >= 0, and ADT - STARTDT + 1 in days where both dates are given: AVAL in
    days may add a fraction of a day (a time of day); in other units it is within one day."""
    bad = ~np.isfinite(aval_days) | (aval_days < 0)
    if bad.any():
        values = sorted(set(map(str, frame.loc[bad, "AVAL"].tolist())))[:SHOWN]
        return [
            f"{dataset}.AVAL: {', '.join(values)} for {records(frame, bad)}: AVAL must be a "
            "time >= 0 (give the censoring time of censored subjects)"
        ]
    if origin is None or "ADT" not in frame.columns:
        return []
    adt = frame["ADT"].to_numpy("datetime64[D]")
    both = ~np.isnat(adt) & ~np.isnat(origin)
    expected = np.where(both, (adt - origin).astype("timedelta64[D]").astype(float) + 1.0, 0.0)
    off = np.where(
        exact_days,
        (aval_days < expected - 1e-6) | (aval_days >= expected + 1.0),
        np.abs(aval_days - expected) > 1.0,
    )
    off &= both
    if not off.any():
        return []
    k = int(np.flatnonzero(off)[0])
    return [
        f"{dataset}.AVAL: does not match ADT - STARTDT + 1 for {records(frame, off)} (e.g. "
        f"{frame['USUBJID'].iloc[k]}: AVAL {aval_days[k]:g} days, ADT - STARTDT + 1 = "
        f"{expected[k]:g}); CDISC counts the origin day as day 1: fix AVAL or the dates "
        "(AVAL = ADT - STARTDT, without the + 1, gives this message too)"
    ]


def check_arms(values: pd.Series, ids: pd.Series, variable: str, arms: Collection[str]) -> list:
    """Every treatment in the set of known arms."""
    unknown = ~values.isin(set(arms)).to_numpy()
    if not unknown.any():
        return []
    names = sorted(values[unknown].unique())
    return [
        f"ADSL.{variable}: {', '.join(map(repr, names))} for {subjects(ids, unknown)} is not "
        f"a known arm ({', '.join(map(repr, sorted(arms)))}): add it to the arm values "
        f"option (--arm-values '{names[0]}=control'; arm_values={{...}} in Python) or fix "
        "the value"
    ]


def check_before_cut(
    frame: pd.DataFrame, variable: str, dataset: str, cut: dt.date, what: str
) -> list[str]:
    """No date after the data cut."""
    dates = frame[variable].to_numpy("datetime64[D]")
    late = ~np.isnat(dates) & (dates > np.datetime64(cut, "D"))
    if not late.any():
        return []
    return [
        f"{dataset}.{variable}: {what} after the data cut {cut} for {records(frame, late)}: "
        "data cannot know the future (fix the date, or give the right cut date: DCUTDT or "
        "the cut option)"
    ]


def check_copies(frame: pd.DataFrame, dataset: str, adsl: pd.DataFrame, names: tuple) -> list:
    """ADSL variables copied into another data set agree with ADSL."""
    out = []
    lookup = adsl.set_index("USUBJID")
    known = frame["USUBJID"].isin(lookup.index).to_numpy()
    for name in names:
        if name not in frame.columns or name not in adsl.columns:
            continue
        theirs = frame[name].astype(str).to_numpy()
        ours = lookup[name].astype(str).reindex(frame["USUBJID"]).to_numpy()
        differ = known & (theirs != ours)
        if differ.any():
            out.append(
                f"{dataset}.{name}: differs from ADSL.{name} for "
                f"{records(frame, differ)}: copy it from ADSL (ADSL's is used)"
            )
    return out
