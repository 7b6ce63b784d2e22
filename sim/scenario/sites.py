"""Many sites without a block each: a site table (`enrollment.sites_file`, a CSV file) or a
site generator (`enrollment.site_generator`), both turned into the rows of `enrollment.sites`
before validation, so that the rest of the model (and the resolved scenario in a run's
manifest) sees the same explicit sites a YAML list gives.

The table has one row per site. Its columns map onto a site block:

- ``name``: the site's name (unique);
- ``activation_date``: ``YYYY-MM-DD``, the site's ``activation_date``;
- ``per_month``: screened patients per month at full speed: the open-ended last row of the
  site's ``screening_rate``;
- ``ramp`` (optional): the ramp-up rows of ``screening_rate`` before full speed, as
  ``months:per_month`` pairs separated by ``;`` (``2:4;2:6`` is ``[{months: 2, per_month: 4},
  {months: 2, per_month: 6}]``); empty: full speed from activation;
- ``cap`` (optional): the site's ``cap``; empty: no cap.

A site table is a small text file: UTF-8 (an Excel export's byte-order mark is fine), at most
`MAX_SITES_BYTES` bytes and `MAX_SITES` rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.base import DAYS_PER_MONTH
from sim.scenario.loading import read_text_file

SITE_COLUMNS = ("name", "activation_date", "per_month")  # required, in this order
OPTIONAL_SITE_COLUMNS = ("ramp", "cap")
MAX_SITES = 2_000  # a trial's sites; a table longer than this is not a site list
MAX_SITES_BYTES = 1_000_000
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EXAMPLE_HEADER = "name,activation_date,per_month,ramp,cap"


def read_sites_file(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The sites of a site table as (line in the file, `enrollment.sites` row); ValueError
    naming the line, the column, the value, the rule and a fix (the caller adds the field
    and the file)."""
    try:
        text = read_text_file(path, "", limit=MAX_SITES_BYTES)
    except ScenarioError as exc:  # the reader's message after its (empty) label
        raise ValueError(str(exc).removeprefix(": ")) from None
    reader = csv.reader(io.StringIO(text))
    numbered = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    rows = [row for _, row in numbered]
    if not rows:
        raise ValueError(
            f"the file is empty: give a header line {EXAMPLE_HEADER} and one line per site"
        )
    header = [cell.strip() for cell in rows[0]]
    missing = [name for name in SITE_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"line {numbered[0][0]}: missing column {', '.join(map(repr, missing))} (the header is "
            f"{','.join(header)!r}; the columns are name, activation_date, per_month and "
            "optionally ramp, cap): add it to the header, e.g. "
            f"{EXAMPLE_HEADER}"
        )
    unknown = [name for name in header if name not in (*SITE_COLUMNS, *OPTIONAL_SITE_COLUMNS)]
    if unknown:
        raise ValueError(
            f"line 1: unknown column {unknown[0]!r}: the columns are name, activation_date, "
            "per_month, ramp, cap (check the spelling)"
        )
    if len(set(header)) != len(header):
        raise ValueError(f"line 1: a column is named twice in {','.join(header)!r}: keep one")
    if len(rows) == 1:
        raise ValueError("no sites: the file has a header but no rows; add one line per site")
    if len(rows) - 1 > MAX_SITES:
        raise ValueError(f"{len(rows) - 1:,} sites, more than {MAX_SITES:,}: is this a site table?")
    sites, seen = [], {}
    for line, row in numbered[1:]:  # blank lines skipped, lines numbered as in the file
        if len(row) != len(header):
            raise ValueError(
                f"line {line}: {len(row)} values for {len(header)} columns: give one value per "
                "column (an empty one for an empty optional value)"
            )
        cells = {key: cell.strip() for key, cell in zip(header, row, strict=True)}
        name = cells["name"]
        if not name:
            raise ValueError(f"line {line}: name is empty: give the site a name")
        if name in seen:
            raise ValueError(
                f"line {line}: name {name!r} is already the site of line {seen[name]}: give "
                "each site its own name (one line per site)"
            )
        seen[name] = line
        sites.append((line, site_row(cells, line)))
    return sites


def site_row(cells: dict[str, str], line: int) -> dict[str, Any]:
    """One table line as a site block (`name`, `activation_date`, `screening_rate`, `cap`)."""
    text = cells["activation_date"]
    try:
        if not DATE.fullmatch(text):
            raise ValueError
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"line {line}: activation_date = {text!r}: not a date: write it as YYYY-MM-DD, "
            "e.g. 2026-09-01 (a spreadsheet may need the column formatted as text)"
        ) from None
    rate = [
        *ramp_rows(cells.get("ramp", ""), line),
        {"per_month": number(cells, "per_month", line)},
    ]
    site: dict[str, Any] = {"name": cells["name"], "activation_date": date, "screening_rate": rate}
    cap = cells.get("cap", "")
    if cap:
        if not cap.isdigit() or int(cap) == 0:
            raise ValueError(
                f"line {line}: cap = {cap!r}: not a whole number > 0: write the most patients "
                "the site may randomize, e.g. 30, or leave it empty for no cap"
            )
        site["cap"] = int(cap)
    return site


def number(cells: dict[str, str], column: str, line: int) -> float:
    """A finite number >= 0 from a cell; ValueError naming it otherwise."""
    text = cells[column]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"line {line}: {column} = {text!r}: not a number >= 0: write patients screened "
            "per month as a plain number, e.g. 3.5"
        )
    return value


def ramp_rows(text: str, line: int) -> list[dict[str, float]]:
    """`2:4;2:6` as screening_rate rows [{months: 2, per_month: 4}, {months: 2, per_month: 6}]."""
    rows = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        months, sep, rate = part.partition(":")
        try:
            row = {"months": float(months), "per_month": float(rate)}
        except ValueError:
            row = {}
        if (
            not sep
            or not row
            or not all(math.isfinite(v) for v in row.values())
            or row["months"] <= 0
            or row["per_month"] < 0
        ):
            raise ValueError(
                f"line {line}: ramp = {text!r}: {part!r} is not months:per_month (months > 0, "
                "per_month >= 0): write the ramp-up periods as e.g. 2:4;2:6 (2 months at 4 a "
                "month, then 2 at 6)"
            )
        rows.append(row)
    return rows


def generate_sites(generator: dict[str, Any], start: dt.date) -> list[dict[str, Any]]:
    """`count` sites named `name_prefix` 01, 02, ...; site i (from 0) activated
    round(i x spread / (count - 1)) days after `first_activation` (the study start if not
    given), spread = activation_spread_months x 30.4375 days: evenly spread, the first on
    `first_activation` and the last `activation_spread_months` later; each with the same
    `ramp` rows then `per_month` from there on, and `cap`. Deterministic: no random draw."""
    count = generator["count"]
    first = generator.get("first_activation") or start
    spread_days = generator.get("activation_spread_months", 0.0) * DAYS_PER_MONTH
    width = len(str(count))
    sites = []
    for i in range(count):
        offset = round(i * spread_days / (count - 1)) if count > 1 else 0
        site: dict[str, Any] = {
            "name": f"{generator.get('name_prefix', 'site')} {i + 1:0{width}d}",
            "activation_date": first + dt.timedelta(days=offset),
            "screening_rate": [*generator.get("ramp", ()), {"per_month": generator["per_month"]}],
        }
        if generator.get("cap") is not None:
            site["cap"] = generator["cap"]
        sites.append(site)
    return sites
