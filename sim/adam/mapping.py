"""The ADaM variables the project reads and writes, and the sponsor's names for them.

One table, `VARIABLES`, holds every fact about a variable that more than one module needs:
its data set, name (at most 8 characters, as SAS transport v5 requires), label (at most 40),
kind (``char``, ``num`` or ``date``: a SAS date, a number of days since 1960-01-01 with the
DATE9. format) and origin (what the define-style listing says). The writer lays its data
sets out in this order, the define listing copies it, and the reader takes from it the names
it recognises.

A sponsor who calls a variable otherwise gives a mapping, standard name -> their name
(``{"STRATA1R": "STRAT1", "TRT01P": "ARMP"}``); `check_mapping` refuses a key the reader does
not use, so a typo is caught rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sim.errors import ScenarioError

KINDS = ("char", "num", "date")
MAX_NAME = 8  # SAS transport v5
MAX_LABEL = 40  # SAS transport v5
MAX_CHAR = 200  # SAS transport v5: longest character value


@dataclass(frozen=True)
class Variable:
    """One ADaM variable: where it lives, what it is called and where its value comes from."""

    dataset: str
    name: str
    label: str
    kind: str
    origin: str
    read: bool = False  # the reader uses it (a mapping may rename it)


def var(
    dataset: str, name: str, label: str, kind: str, origin: str, read: bool = False
) -> Variable:
    return Variable(dataset, name, label, kind, origin, read)


SUBJECT = "patients.parquet"
VARIABLES: tuple[Variable, ...] = (
    # ADSL: one row per subject randomized by the data cut
    var("ADSL", "STUDYID", "Study Identifier", "char", "Assigned: the trial id"),
    var("ADSL", "USUBJID", "Unique Subject Identifier", "char", "Derived: STUDYID-SUBJID", True),
    var("ADSL", "SUBJID", "Subject Identifier for the Study", "char", f"{SUBJECT}: patient + 1"),
    var("ADSL", "SITEID", "Study Site Identifier", "char", f"{SUBJECT}: site", True),
    var("ADSL", "AGE", "Age", "num", f"{SUBJECT}: age, whole years"),
    var("ADSL", "AGEU", "Age Units", "char", "Assigned: YEARS"),
    var("ADSL", "SEX", "Sex", "char", f"{SUBJECT}: male (M, F)"),
    var("ADSL", "HEIGHTBL", "Baseline Height (cm)", "num", f"{SUBJECT}: height_cm"),
    var("ADSL", "WEIGHTBL", "Baseline Weight (kg)", "num", f"{SUBJECT}: weight_kg"),
    var("ADSL", "RANDDT", "Date of Randomization", "date", f"{SUBJECT}: randomization_date", True),
    var("ADSL", "ITTFL", "Intent-To-Treat Population Flag", "char", "Derived: Y if randomized"),
    var("ADSL", "SAFFL", "Safety Population Flag", "char", "Derived: Y if TRTSDT is present"),
    var("ADSL", "TRT01P", "Planned Treatment for Period 01", "char", f"{SUBJECT}: arm", True),
    var("ADSL", "TRT01PN", "Planned Treatment for Period 01 (N)", "num", "Derived: 0 control"),
    var("ADSL", "TRT01A", "Actual Treatment for Period 01", "char", "Derived: TRT01P", True),
    var("ADSL", "TRT01AN", "Actual Treatment for Period 01 (N)", "num", "Derived: TRT01PN"),
    var("ADSL", "STRATA1R", "Strata 1 Used for Randomization", "char", f"{SUBJECT}: stratum", True),
    var(
        "ADSL",
        "TRTSDT",
        "Date of First Exposure to Treatment",
        "date",
        f"{SUBJECT}: first of cycle_days and rt_fraction_clocks",
    ),
    var(
        "ADSL",
        "TRTEDT",
        "Date of Last Exposure to Treatment",
        "date",
        f"{SUBJECT}: last cycle or RT fraction on or before DCUTDT",
    ),
    var("ADSL", "EOSSTT", "End of Study Status", "char", "Derived: ONGOING or DISCONTINUED"),
    var(
        "ADSL",
        "EOSDT",
        "End of Study Date",
        "date",
        f"{SUBJECT}: withdrawal_date or death_date on or before DCUTDT",
        True,
    ),
    var(
        "ADSL",
        "DCSREAS",
        "Reason for Discontinuation from Study",
        "char",
        "Derived: WITHDRAWAL BY SUBJECT or DEATH",
        True,
    ),
    var("ADSL", "DTHFL", "Subject Death Flag", "char", "Derived: Y if DTHDT is present"),
    var("ADSL", "DTHDT", "Date of Death", "date", f"{SUBJECT}: death_date if os_event_at_cut"),
    var("ADSL", "LSTALVDT", "Date Last Known Alive", "date", "Derived: DTHDT or OS censoring"),
    var("ADSL", "DCUTDT", "Date of Data Cut", "date", f"{SUBJECT}: data_cut_date", True),
    # ADTTE: one row per subject and time-to-event parameter
    var("ADTTE", "STUDYID", "Study Identifier", "char", "ADSL.STUDYID"),
    var("ADTTE", "USUBJID", "Unique Subject Identifier", "char", "ADSL.USUBJID", True),
    var("ADTTE", "SITEID", "Study Site Identifier", "char", "ADSL.SITEID"),
    var("ADTTE", "TRT01P", "Planned Treatment for Period 01", "char", "ADSL.TRT01P", True),
    var("ADTTE", "TRT01PN", "Planned Treatment for Period 01 (N)", "num", "ADSL.TRT01PN"),
    var("ADTTE", "STRATA1R", "Strata 1 Used for Randomization", "char", "ADSL.STRATA1R", True),
    var("ADTTE", "PARAMCD", "Parameter Code", "char", "Assigned: PFS, OS, LC", True),
    var("ADTTE", "PARAM", "Parameter", "char", "Assigned"),
    var("ADTTE", "PARAMN", "Parameter (N)", "num", "Assigned: 1 PFS, 2 OS, 3 LC"),
    var(
        "ADTTE",
        "AVAL",
        "Analysis Value",
        "num",
        f"{SUBJECT}: <endpoint>_days_at_cut + 1 (ADT - STARTDT + 1 and the time of day)",
        True,
    ),
    var("ADTTE", "AVALU", "Analysis Value Unit", "char", "Assigned: DAYS", True),
    var("ADTTE", "STARTDT", "Time-to-Event Origin Date for Subject", "date", "ADSL.RANDDT", True),
    var("ADTTE", "ADT", "Analysis Date", "date", "Derived: STARTDT + whole days of the time", True),
    var("ADTTE", "CNSR", "Censor", "num", f"{SUBJECT}: 1 - <endpoint>_event_at_cut", True),
    var("ADTTE", "EVNTDESC", "Event or Censoring Description", "char", "Derived", True),
    var("ADTTE", "CNSDTDSC", "Censor Date Description", "char", "Derived", True),
    # ADRS: best overall response at the data cut
    var("ADRS", "STUDYID", "Study Identifier", "char", "ADSL.STUDYID"),
    var("ADRS", "USUBJID", "Unique Subject Identifier", "char", "ADSL.USUBJID", True),
    var("ADRS", "TRT01P", "Planned Treatment for Period 01", "char", "ADSL.TRT01P"),
    var("ADRS", "TRT01PN", "Planned Treatment for Period 01 (N)", "num", "ADSL.TRT01PN"),
    var("ADRS", "STRATA1R", "Strata 1 Used for Randomization", "char", "ADSL.STRATA1R"),
    var("ADRS", "PARAMCD", "Parameter Code", "char", "Assigned: BOR", True),
    var("ADRS", "PARAM", "Parameter", "char", "Assigned"),
    var("ADRS", "AVALC", "Analysis Value (C)", "char", f"{SUBJECT}: best_response", True),
    var("ADRS", "AVAL", "Analysis Value", "num", "Derived: 1 CR, 2 PR, 3 SD, 4 PD, 5 NE"),
    var("ADRS", "ADT", "Analysis Date", "date", f"{SUBJECT}: response_date (CR, PR)"),
    # ADAE: one row per adverse event with onset on or before the data cut
    var("ADAE", "STUDYID", "Study Identifier", "char", "ADSL.STUDYID"),
    var("ADAE", "USUBJID", "Unique Subject Identifier", "char", "ADSL.USUBJID"),
    var("ADAE", "TRT01A", "Actual Treatment for Period 01", "char", "ADSL.TRT01A"),
    var("ADAE", "TRT01AN", "Actual Treatment for Period 01 (N)", "num", "ADSL.TRT01AN"),
    var("ADAE", "AESEQ", "Sequence Number", "num", "Derived: onset order within subject"),
    var("ADAE", "AECAT", "Category for Adverse Event", "char", f"{SUBJECT}: ae_categories"),
    var("ADAE", "ATOXGR", "Analysis Toxicity Grade", "char", f"{SUBJECT}: ae_grades"),
    var("ADAE", "ATOXGRN", "Analysis Toxicity Grade (N)", "num", f"{SUBJECT}: ae_grades"),
    var(
        "ADAE",
        "ASTDT",
        "Analysis Start Date",
        "date",
        f"{SUBJECT}: ae_onset_days (days from trial start)",
    ),
    var("ADAE", "ASTDY", "Analysis Start Relative Day", "num", "Derived: ASTDT - TRTSDT + 1"),
    var("ADAE", "TRTEMFL", "Treatment Emergent Analysis Flag", "char", "Assigned: Y"),
    var("ADAE", "ASRCTRT", "Treatment Given Before Onset", "char", f"{SUBJECT}: ae_sources"),
)

DATASETS = ("ADSL", "ADTTE", "ADRS", "ADAE")
DATASET_LABELS = {
    "ADSL": "Subject-Level Analysis Dataset",
    "ADTTE": "Time-to-Event Analysis Dataset",
    "ADRS": "Response Analysis Dataset",
    "ADAE": "Adverse Events Analysis Dataset",
}
READ_NAMES = tuple(dict.fromkeys(v.name for v in VARIABLES if v.read))

# CDISC's censoring convention: CNSR = 0 is the event, 1 a censoring (the opposite of an
# event flag); the reader turns it into the analysis table's event = (CNSR == 0).
CNSR_EVENT, CNSR_CENSORED = 0, 1

# AVALU (upper case, trailing S optional) -> days per unit; months are 365.25 / 12 days, as
# every month the project prints.
UNIT_DAYS = {"DAY": 1.0, "D": 1.0, "WEEK": 7.0, "MONTH": 30.4375, "YEAR": 365.25}

BEST_RESPONSE_CODES = {"CR": 1, "PR": 2, "SD": 3, "PD": 4, "NE": 5}


def dataset_variables(dataset: str) -> tuple[Variable, ...]:
    """The variables of one data set (ADSL, ADTTE, ADRS or ADAE), in writing order."""
    return tuple(v for v in VARIABLES if v.dataset == dataset)


def unit_days(text: str) -> float | None:
    """Days per unit of an AVALU value (DAYS, Months, week, ...); None if unknown."""
    key = str(text).strip().upper()
    if key.endswith("S") and key[:-1] in UNIT_DAYS:
        key = key[:-1]
    return UNIT_DAYS.get(key)


def check_mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    """The mapping as {STANDARD: SPONSOR} in upper case; ScenarioError for a name the reader
    does not use, a non-text value or two standard names given the same sponsor name."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ScenarioError(
            f"mapping {mapping!r}: must be a dict of standard name -> your name, "
            "e.g. {'STRATA1R': 'STRAT1'}"
        )
    out: dict[str, str] = {}
    for key, value in mapping.items():
        standard = str(key).strip().upper()
        if standard not in READ_NAMES:
            raise ScenarioError(
                f"mapping {key!r}: not a variable the reader uses; map one of "
                f"{', '.join(READ_NAMES)} (standard name -> your name)"
            )
        if not isinstance(value, str) or not value.strip():
            raise ScenarioError(
                f"mapping {key!r}: {value!r} must be the name of your variable, e.g. "
                f"{{'{standard}': 'MY{standard[:6]}'}}"
            )
        out[standard] = value.strip().upper()
    names = list(out.values())
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioError(
            f"mapping: {', '.join(twice)} is given for more than one standard name; one "
            "variable of yours can stand for one standard variable"
        )
    return out
