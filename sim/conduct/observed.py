"""The trial's own data so far: the `--observed` table of randomized patients, read and checked.

One row per randomized patient: ``patient_id, site, stratum, randomized`` (a date), ``arm``
(optional; absent or empty everywhere = blinded), ``event_date`` (the PFS event as seen),
``event_type`` (``progression`` or ``death``), ``dropout_date`` and ``last_assessment`` (the
last tumour assessment or contact). Every row is checked against the scenario and the as-of
date; all bad rows are reported in one ScenarioError naming the row, the value and the rule.

The table becomes an `ObservedTrial`: arrays over the observed patients in randomization order,
clock days from ``trial.start_date`` (randomization) and days from randomization (event,
dropout, last assessment), as the rest of the conduct layer counts them. Data of another
shape (CDISC ADaM) come as an `ObservedSource`, which gives this table itself.

`observed_from_patients` goes the other way: it cuts a simulated trial (a replicate of
``patients.parquet``) at an as-of date into the same table, which is how a truth is built for
the calibration checks and how planners get an example file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.scenario import Scenario, ScenarioError
from sim.scenario.loading import why_not_a_file

REQUIRED = (
    "patient_id",
    "site",
    "stratum",
    "randomized",
    "event_date",
    "event_type",
    "dropout_date",
    "last_assessment",
)
COLUMNS = (
    "patient_id",
    "site",
    "stratum",
    "randomized",
    "arm",
    "event_date",
    "event_type",
    "dropout_date",
    "last_assessment",
)
DATE_COLUMNS = ("randomized", "event_date", "dropout_date", "last_assessment")
ARMS = ("control", "experimental")  # arm codes 0 and 1, as in sim.conduct.randomization
EVENT_TYPES = ("progression", "death")
BLINDED = -1  # arm code of a patient whose arm the data do not show
MAX_SHOWN = 12  # bad rows listed in one message


@dataclass(frozen=True)
class ObservedTrial:
    """Randomized patients up to `as_of_day`, in randomization order (arrays of length n).

    Days from randomization are float; inf means "none so far" (no event, no dropout).
    """

    patient_id: np.ndarray  # str
    site: np.ndarray  # int: index into scenario.enrollment.site_list
    stratum: np.ndarray  # int: index into scenario.randomization.strata
    rand_day: np.ndarray  # int: clock day of randomization
    arm: np.ndarray  # int: 0 control, 1 experimental, BLINDED (-1) if not shown
    event_day: np.ndarray  # days from randomization to the PFS event as seen (inf: none)
    is_death: np.ndarray  # bool: that event is a death
    dropout_day: np.ndarray  # days from randomization to withdrawal (inf: none)
    last_day: np.ndarray  # days from randomization to the last assessment or contact
    as_of_day: int  # clock day of the as-of date: everything up to it is known

    @property
    def n(self) -> int:
        return len(self.rand_day)

    @property
    def blinded(self) -> bool:
        return bool(self.n) and bool((self.arm == BLINDED).all())

    @property
    def at_risk(self) -> np.ndarray:
        """Patients with neither a PFS event nor a dropout by the as-of date."""
        return ~np.isfinite(self.event_day) & ~np.isfinite(self.dropout_day)


def clipped(problem: str, most: int = 300) -> str:
    """A bad row's line of at most `most` characters: a cell of megabytes is not echoed."""
    if len(problem) <= most:
        return problem
    return f"{problem[: most - 40]}... ({len(problem):,} characters in all)"


def read_table(path: Path, label: str) -> pd.DataFrame:
    """A CSV or Parquet file as strings (dates are checked row by row afterwards)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{label} {path}: {why_not_a_file(path)}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            return frame.astype(object).where(frame.notna(), "").astype(str)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise ScenarioError(
            f"{label} {path}: cannot be read as CSV or Parquet ({exc}); "
            "write one row per patient with a header line"
        ) from exc


def parse_date(text: str) -> dt.date | None:
    """A YYYY-MM-DD date (a timestamp keeps its day); '' is None; else ValueError."""
    text = str(text).strip()
    if text in ("", "NaT", "nan", "None"):
        return None
    return dt.date.fromisoformat(text[:10])


@runtime_checkable
class ObservedSource(Protocol):
    """Observed data that are not the project's own table (e.g. CDISC ADaM data sets,
    `sim.adam.inputs.AdamObserved`): they give that table themselves, given the scenario's
    site and stratum names and the as-of date. ``str()`` names them (the manifest shows it)."""

    def observed_frame(
        self, sites: Sequence[str], strata: Sequence[str], as_of: dt.date
    ) -> pd.DataFrame: ...


def read_observed(path: Path | ObservedSource, scenario: Scenario, as_of: dt.date) -> ObservedTrial:
    """Read and check `--observed` (a CSV or Parquet file, or an `ObservedSource`); raise
    ScenarioError listing every bad row and its rule."""
    if isinstance(path, ObservedSource):
        start = scenario.trial.start_date
        sites = [s.name for s in scenario.enrollment.site_list(start)]
        frame = path.observed_frame(sites, list(scenario.strata_names), as_of)
        return check_observed(frame, scenario, as_of, f"--observed {path}")
    frame = read_table(path, "--observed")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ScenarioError(
            f"--observed {path}: missing column(s) {', '.join(missing)}; the columns are "
            f"{', '.join(COLUMNS)} (arm optional; empty cells where nothing happened)"
        )
    if "arm" not in frame.columns:
        frame["arm"] = ""
    return check_observed(frame, scenario, as_of, f"--observed {path}")


def check_observed(
    frame: pd.DataFrame, scenario: Scenario, as_of: dt.date, label: str = "--observed"
) -> ObservedTrial:
    """The checks of `read_observed` on a table of strings (see the module docstring)."""
    start = scenario.trial.start_date
    sites = {s.name: (i, s) for i, s in enumerate(scenario.enrollment.site_list(start))}
    strata = {name: i for i, name in enumerate(scenario.strata_names)}
    problems: list[str] = []
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for k, record in enumerate(frame.to_dict("records")):
        line = k + 2  # the header is line 1
        pid = str(record["patient_id"]).strip()
        where = f"row {line} (patient_id {pid or '<empty>'})"
        bad = check_row(
            record,
            pid,
            where,
            sites=sites,
            strata=strata,
            start=start,
            as_of=as_of,
            seen=seen,
            line=line,
        )
        problems += bad
        if not bad:
            rows.append(parsed_row(record, pid, sites, strata, start))
    if not problems:
        problems += check_arms(rows, label)
    if not problems and len(rows) > scenario.trial.sample_size:
        problems.append(
            f"{len(rows)} patients: more than trial.sample_size = "
            f"{scenario.trial.sample_size} (raise the sample size or check the rows)"
        )
    if problems:
        shown = [clipped(problem) for problem in problems[:MAX_SHOWN]]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise ScenarioError(f"{label}: {len(problems)} bad row(s):\n  " + "\n  ".join(shown) + tail)
    return observed_trial(rows, (as_of - start).days)


def check_row(
    record: dict,
    pid: str,
    where: str,
    *,
    sites: dict,
    strata: dict,
    start: dt.date,
    as_of: dt.date,
    seen: dict[str, int],
    line: int,
) -> list[str]:
    """The rules one row must meet; one message per broken rule."""
    out = []
    if not pid:
        out.append(f"{where}: patient_id is empty: give every patient an id")
    elif pid in seen:
        out.append(f"{where}: duplicate patient_id (also row {seen[pid]}): one row per patient")
    else:
        seen[pid] = line
    site = str(record["site"]).strip()
    if site not in sites:
        out.append(
            f"{where}: site {site!r} is not a site of the scenario: use one of "
            f"{sorted(sites)} (or add the site to enrollment.sites)"
        )
    stratum = str(record["stratum"]).strip()
    if stratum not in strata:
        out.append(
            f"{where}: stratum {stratum!r} is not a stratum of the scenario: use one "
            f"of {sorted(strata)}"
        )
    arm = str(record.get("arm", "")).strip()
    if arm and arm not in ARMS:
        out.append(
            f"{where}: arm {arm!r}: use control or experimental (or leave every arm empty: blinded)"
        )
    dates = {}
    for column in DATE_COLUMNS:
        try:
            dates[column] = parse_date(record[column])
        except ValueError:
            out.append(f"{where}: {column} {record[column]!r} is not a date: write YYYY-MM-DD")
            dates[column] = None
    rand = dates["randomized"]
    if rand is None and not any(f"{where}: randomized" in m for m in out):
        out.append(f"{where}: randomized is empty: every row is a randomized patient")
    for column, value in dates.items():
        if value is not None and value > as_of:
            out.append(
                f"{where}: {column} {value} is after --as-of {as_of}: the data cannot "
                "know the future (fix the date or move --as-of)"
            )
    if rand is not None:
        if rand < start:
            out.append(f"{where}: randomized {rand} is before trial.start_date {start}")
        if site in sites and rand < sites[site][1].activation_date:
            out.append(
                f"{where}: randomized {rand} is before the site's activation_date "
                f"{sites[site][1].activation_date} (fix the date or the scenario's "
                "activation date)"
            )
        for column in ("event_date", "dropout_date", "last_assessment"):
            value = dates[column]
            if value is not None and value < rand:
                what = "an event" if column == "event_date" else column.replace("_", " ")
                out.append(
                    f"{where}: {column} {value} is before randomized {rand}: "
                    f"{what} cannot precede randomization"
                )
    event, kind = dates["event_date"], str(record["event_type"]).strip()
    if event is not None and kind not in EVENT_TYPES:
        out.append(
            f"{where}: event_type {kind!r} with event_date {event}: use progression or death"
        )
    if event is None and kind:
        out.append(
            f"{where}: event_type {kind!r} without event_date: give the date or "
            "leave event_type empty"
        )
    drop = dates["dropout_date"]
    if event is not None and drop is not None and drop < event:
        out.append(
            f"{where}: event_date {event} is after dropout_date {drop}: an event after "
            "withdrawal is not seen (leave one of them empty)"
        )
    if event is None and dates["last_assessment"] is None:
        out.append(
            f"{where}: last_assessment is empty for a patient without an event: give "
            "the date of the last tumour assessment (or randomization if none yet)"
        )
    return out


def parsed_row(record: dict, pid: str, sites: dict, strata: dict, start: dt.date) -> dict:
    rand = parse_date(record["randomized"])
    assert rand is not None

    def rel(column: str) -> float:
        value = parse_date(record[column])
        return float((value - rand).days) if value is not None else np.inf

    arm = str(record.get("arm", "")).strip()
    event = rel("event_date")
    last = rel("last_assessment")
    return {
        "patient_id": pid,
        "site": sites[str(record["site"]).strip()][0],
        "stratum": strata[str(record["stratum"]).strip()],
        "rand_day": (rand - start).days,
        "arm": ARMS.index(arm) if arm else BLINDED,
        "event_day": event,
        "is_death": str(record["event_type"]).strip() == "death",
        "dropout_day": rel("dropout_date") if not np.isfinite(event) else np.inf,
        "last_day": last if np.isfinite(last) else event,
    }


def check_arms(rows: list[dict], label: str) -> list[str]:
    shown = [r for r in rows if r["arm"] != BLINDED]
    if shown and len(shown) < len(rows):
        hidden = next(r["patient_id"] for r in rows if r["arm"] == BLINDED)
        return [
            f"arm is given for {len(shown)} of {len(rows)} patients (empty for patient_id "
            f"{hidden}): give every arm (unblinded) or none (blinded)"
        ]
    return []


def observed_trial(rows: list[dict], as_of_day: int) -> ObservedTrial:
    rows = sorted(rows, key=lambda r: (r["rand_day"], r["patient_id"]))

    def column(name: str, dtype: npt.DTypeLike) -> np.ndarray:
        return np.asarray([r[name] for r in rows], dtype=dtype)

    return ObservedTrial(
        patient_id=column("patient_id", object).astype(str),
        site=column("site", np.int64),
        stratum=column("stratum", np.int64),
        rand_day=column("rand_day", np.int64),
        arm=column("arm", np.int64),
        event_day=column("event_day", float),
        is_death=column("is_death", bool),
        dropout_day=column("dropout_day", float),
        last_day=column("last_day", float),
        as_of_day=as_of_day,
    )


def observed_from_patients(
    patients: pd.DataFrame, as_of: dt.date, blinded: bool = False
) -> pd.DataFrame:
    """The `--observed` table of one simulated trial (one replicate of patients.parquet) as
    it stood on `as_of`: patients randomized by then, events and dropouts seen by then, the
    last scan on or before the as-of date, the event or the withdrawal.

    `last_assessment` is the randomization date while no scan has been done yet.
    """
    day = np.datetime64(as_of, "D")
    p = patients[patients["randomization_date"].to_numpy("datetime64[D]") <= day]
    rand = p["randomization_date"].to_numpy("datetime64[D]")
    seen = p["pfs_event_seen_date"].to_numpy("datetime64[D]")
    drop = p["withdrawal_date"].to_numpy("datetime64[D]")
    has_event = ~np.isnat(seen) & (seen <= day) & (np.isnat(drop) | (seen <= drop))
    has_drop = ~has_event & ~np.isnat(drop) & (drop <= day)
    horizon = np.where(has_event, seen, np.where(has_drop, drop, day))
    last = []
    for scans, r, h in zip(p["scan_dates"], rand, horizon, strict=True):
        done = [np.datetime64(s, "D") for s in (scans if scans is not None else [])]
        done = [s for s in done if s <= h]
        last.append(max(done) if done else r)
    last = np.asarray(last, dtype="datetime64[D]")
    kind = np.where(p["pfs_event_is_death"].to_numpy(bool), "death", "progression")

    def text(dates: np.ndarray, keep: np.ndarray) -> list[str]:
        return [str(d) if k else "" for d, k in zip(dates, keep, strict=True)]

    return pd.DataFrame(
        {
            "patient_id": [f"P{int(i) + 1:04d}" for i in p["patient"]],
            "site": p["site"].astype(str).to_numpy(),
            "stratum": p["stratum"].astype(str).to_numpy(),
            "randomized": [str(d) for d in rand],
            "arm": "" if blinded else p["arm"].astype(str).to_numpy(),
            "event_date": text(seen, has_event),
            "event_type": np.where(has_event, kind, ""),
            "dropout_date": text(drop, has_drop),
            "last_assessment": [str(d) for d in last],
        }
    )


SCREENING_COLUMNS = ("site", "month", "screened", "failed")


def read_screening(path: Path, scenario: Scenario, as_of: dt.date) -> pd.DataFrame:
    """`--screening`: screened and failed counts by site and month (YYYY-MM), checked.

    Returns one row per site of the scenario (index into its site list) with the totals
    up to the as-of date: columns site, screened, failed."""
    frame = read_table(path, "--screening")
    label = f"--screening {path}"
    missing = [c for c in SCREENING_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError(
            f"{label}: missing column(s) {', '.join(missing)}; the columns "
            f"are {', '.join(SCREENING_COLUMNS)} (month as YYYY-MM)"
        )
    names = [s.name for s in scenario.enrollment.site_list(scenario.trial.start_date)]
    first, last = (np.datetime64(d, "M") for d in (scenario.trial.start_date, as_of))
    problems, seen = [], {}
    totals = np.zeros((len(names), 2))
    for k, record in enumerate(frame.to_dict("records")):
        where = f"row {k + 2}"
        site, month = str(record["site"]).strip(), str(record["month"]).strip()
        bad = []
        if site not in names:
            bad.append(
                f"{where}: site {site!r} is not a site of the scenario: use one of {sorted(names)}"
            )
        try:
            m = np.datetime64(month[:7], "M")
            if m > last:
                bad.append(
                    f"{where}: month {month} is after --as-of {as_of}: the data cannot "
                    "know the future"
                )
            if m < first:
                bad.append(
                    f"{where}: month {month} is before the trial start {scenario.trial.start_date}"
                )
        except ValueError:
            bad.append(f"{where}: month {month!r} is not a month: write YYYY-MM")
        counts = []
        for column in ("screened", "failed"):
            text = str(record[column]).strip()
            if not text.isdigit():
                bad.append(f"{where}: {column} {text!r}: write a whole number >= 0")
            counts.append(int(text) if text.isdigit() else 0)
        if counts[1] > counts[0]:
            bad.append(
                f"{where}: failed {counts[1]} > screened {counts[0]}: failures are "
                "among the screened"
            )
        key = (site, month[:7])
        if key in seen:
            bad.append(
                f"{where}: site {site!r} month {month} repeats row {seen[key]}: one row "
                "per site and month"
            )
        seen[key] = k + 2
        problems += bad
        if not bad:
            totals[names.index(site)] += counts
    if problems:
        shown = [clipped(problem) for problem in problems[:MAX_SHOWN]]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > MAX_SHOWN else ""
        raise ScenarioError(f"{label}: {len(problems)} bad row(s):\n  " + "\n  ".join(shown) + more)
    return pd.DataFrame(
        {"site": np.arange(len(names)), "screened": totals[:, 0], "failed": totals[:, 1]}
    )
